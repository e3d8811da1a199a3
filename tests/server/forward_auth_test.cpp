// SPDX-License-Identifier: Apache-2.0
// The HTTP edges of /api/verify: bearer token parsing, header value checks, challenges.
#include "forward_auth.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

result<std::optional<std::string_view>> parse(std::vector<std::string_view> values) {
  return bearer_token(values);
}

TEST(BearerToken, NoAuthorizationHeaderIsNoCredentials) {
  auto r = parse({});
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
}

TEST(BearerToken, ReadsTheTokenWithAnyCaseOfTheScheme) {
  for (std::string_view v : {"Bearer abc.def-_~+/==", "bearer abc.def-_~+/==",
                             "BEARER   abc.def-_~+/==", " Bearer abc.def-_~+/== "}) {
    auto r = parse({v});
    ASSERT_TRUE(r.has_value()) << v;
    ASSERT_TRUE(r->has_value()) << v;
    EXPECT_EQ(**r, "abc.def-_~+/==") << v;
  }
}

TEST(BearerToken, AnythingElseIsAnInvalidRequest) {
  for (std::string_view v :
       {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer ", "Bearer a b", "Bearer a\"b",
        "Bearer =abc", "Bearer abc=def", "Bearerabc", "Token abc", "Bearer a,b"}) {
    auto r = parse({v});
    ASSERT_FALSE(r.has_value()) << v;
    EXPECT_EQ(r.error(), auth_error::request_invalid) << v;
  }
  EXPECT_EQ(parse({"Bearer a", "Bearer b"}).error(), auth_error::request_invalid);
}

TEST(HeaderValueSafe, AcceptsUtf8Text) {
  EXPECT_TRUE(header_value_safe(""));
  EXPECT_TRUE(header_value_safe("Ada Lovelace"));
  EXPECT_TRUE(header_value_safe("Zoë Ångström 山田太郎 🙂"));
}

TEST(HeaderValueSafe, RefusesControlCharactersAndBrokenUtf8) {
  for (std::string_view v :
       {std::string_view("a\r\nX-Auth-Org: evil"), std::string_view("a\nb"),
        std::string_view("tab\there"), std::string_view("nul\0x", 5), std::string_view("del\x7f"),
        std::string_view("c1 \xc2\x85"),       // U+0085 NEL
        std::string_view("\xc0\xaf"),          // overlong '/'
        std::string_view("\xed\xa0\x80"),      // surrogate
        std::string_view("\xf4\x90\x80\x80"),  // above U+10FFFF
        std::string_view("\xe2\x82"),          // truncated
        std::string_view("\xff")})
    EXPECT_FALSE(header_value_safe(v)) << v;
}

TEST(WwwAuthenticate, FollowsRfc6750) {
  EXPECT_EQ(www_authenticate(auth_error::credentials_missing), "Bearer");
  EXPECT_EQ(www_authenticate(auth_error::request_invalid),
            R"(Bearer error="invalid_request", error_description="request_invalid")");
  EXPECT_EQ(www_authenticate(auth_error::token_expired),
            R"(Bearer error="invalid_token", error_description="token_expired")");
}

}  // namespace
}  // namespace oidc::server
