// SPDX-License-Identifier: Apache-2.0
// return_to validation: open-redirect attempts go home.
#include "return_to.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

const std::vector<std::string> kAllowed{"https://app.example.com", "https://acme.example.com",
                                        "http://localhost:8080"};
const return_to_policy kPolicy{kAllowed};

TEST(ReturnTo, AcceptsSameSitePaths) {
  for (const char* ok : {"/", "/reports", "/reports?id=1&x=%20y#top", "/a/b/../c"}) {
    auto r = validate_return_to(ok, kPolicy);
    ASSERT_TRUE(r) << ok;
    EXPECT_EQ(*r, ok);
  }
}

TEST(ReturnTo, AcceptsAllowedOrigins) {
  for (const char* ok : {"https://app.example.com/x", "https://APP.example.com:443/",
                         "https://acme.example.com", "http://localhost:8080/done"}) {
    EXPECT_TRUE(validate_return_to(ok, kPolicy)) << ok;
  }
}

TEST(ReturnTo, RefusesOpenRedirectAttempts) {
  for (const char* bad : {
           "//evil.com",
           "///evil.com",
           "/\\evil.com",
           "\\\\evil.com",
           "https://evil.com",
           "https://evil.com/https://app.example.com",
           "https://app.example.com.evil.com/",
           "https://app.example.com:8443/",
           "http://app.example.com/",
           "https://good@evil.com",
           "https://app.example.com@evil.com/",
           "https://evil.com#@app.example.com",
           "/%2F%2Fevil.com",
           "/%2f/evil.com",
           "/%5Cevil.com",
           "/%5cevil.com",
           "/%252F%252Fevil.com",
           "/x%5Cy",
           "/%0d%0aSet-Cookie:x=1",
           "/\r\nLocation: https://evil.com",
           "/\tevil",
           "/ evil",
           "/%09/evil.com",
           "/%zz",
           "javascript:alert(1)",
           "data:text/html,x",
           "evil.com",
           "https:evil.com",
           "https:/evil.com",
           "/\x7f",
           "/caf\xc3\xa9",
           "https://app%2Eexample.com/",
       }) {
    auto r = validate_return_to(bad, kPolicy);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), auth_error::redirect_not_allowed) << bad;
  }
}

TEST(ReturnTo, RefusesOverlongValues) {
  EXPECT_FALSE(validate_return_to("/" + std::string(kMaxReturnToBytes, 'a'), kPolicy));
}

TEST(ReturnTo, RefusedAndEmptyValuesGoHome) {
  EXPECT_EQ(safe_return_to("//evil.com", kPolicy), "/");
  EXPECT_EQ(safe_return_to("", kPolicy), "/");
  EXPECT_EQ(safe_return_to("/ok", kPolicy), "/ok");
}

TEST(OriginOf, NormalisesSchemeHostAndDefaultPort) {
  EXPECT_EQ(origin_of("HTTPS://Acme.Example.com:443/x"), "https://acme.example.com");
  EXPECT_EQ(origin_of("http://localhost:8080/api"), "http://localhost:8080");
  EXPECT_EQ(origin_of("https://u@host/"), "");
  EXPECT_EQ(origin_of("/relative"), "");
}

}  // namespace
}  // namespace oidc::server
