// SPDX-License-Identifier: Apache-2.0
// parse_url: the strict absolute-URL grammar the upstream client accepts.
#include <gtest/gtest.h>

#include "oidc/net/http_client.hpp"

namespace {

using oidc::net::client_errc;
using oidc::net::parse_url;

TEST(UrlParsing, SplitsHttpsUrlWithDefaultPort) {
  auto u = parse_url("https://Login.Example.com/tenant/v2.0/.well-known/openid-configuration?x=1");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "login.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/tenant/v2.0/.well-known/openid-configuration?x=1");
  EXPECT_FALSE(u->host_is_ip);
}

TEST(UrlParsing, AcceptsExplicitPortIpv4AndIpv6) {
  auto a = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->https);
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->target, "/");
  EXPECT_TRUE(a->host_is_ip);
  auto b = parse_url("https://[::1]:8443/jwks?k=v");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 8443);
  EXPECT_TRUE(b->host_is_ip);
  auto c = parse_url("https://example.com?q");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target, "/?q");
}

TEST(UrlParsing, RejectsMalformedOrDangerousUrls) {
  for (const char* bad : {"",
                          "ftp://example.com/",
                          "https//example.com/",
                          "https://",
                          "https:///path",
                          "https://user:pw@example.com/",
                          "https://example.com/#frag",
                          "https://exa mple.com/",
                          "https://example.com/a b",
                          "https://example.com/\r\nX: y",
                          "https://example.com:0/",
                          "https://example.com:65536/",
                          "https://example.com:/",
                          "https://example.com:80a/",
                          "https://[::1/",
                          "https://[zz]/",
                          "https://999.1.1.1/",
                          "https://ex%41mple.com/",
                          "https://example.com/\x80",
                          "https://[::1]x/"}) {
    auto u = parse_url(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error(), make_error_code(client_errc::bad_url)) << bad;
  }
}

TEST(ClientErrors, HaveTheirOwnCategoryAndMessages) {
  const boost::system::error_code ec = client_errc::tls_failed;
  EXPECT_EQ(ec.category().name(), std::string("oidc.net.client"));
  EXPECT_EQ(ec.message(), "tls handshake or verification failed");
}

}  // namespace
