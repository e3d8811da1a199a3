// SPDX-License-Identifier: Apache-2.0
// Discovery document parsing: issuer equality, endpoint schemes, the plain-http loopback flag.
#include "discovery.hpp"

#include <string>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

constexpr std::string_view kIssuer = "https://login.example/tenant/v2.0";

std::string doc(std::string_view issuer, std::string_view base) {
  std::string b(base);
  return R"({"issuer":")" + std::string(issuer) + R"(","authorization_endpoint":")" + b +
         R"(/authorize","token_endpoint":")" + b + R"(/token","jwks_uri":")" + b +
         R"(/keys","end_session_endpoint":")" + b +
         R"(/logout","response_types_supported":["code"]})";
}

TEST(DiscoveryParsing, ReadsEndpoints) {
  auto d = parse_discovery(doc(kIssuer, "https://login.example/tenant"), kIssuer, false);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->authorization_endpoint, "https://login.example/tenant/authorize");
  EXPECT_EQ(d->token_endpoint, "https://login.example/tenant/token");
  EXPECT_EQ(d->jwks_uri, "https://login.example/tenant/keys");
  EXPECT_EQ(d->end_session_endpoint, "https://login.example/tenant/logout");
}

TEST(DiscoveryParsing, RefusesAnotherIssuer) {
  auto d = parse_discovery(doc("https://evil.example/tenant/v2.0", "https://login.example"),
                           kIssuer, false);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), auth_error::discovery_failed);
}

TEST(DiscoveryParsing, RefusesTrailingSlashIssuerVariant) {
  auto d =
      parse_discovery(doc(std::string(kIssuer) + "/", "https://login.example"), kIssuer, false);
  EXPECT_EQ(d.error(), auth_error::discovery_failed);
}

TEST(DiscoveryParsing, RefusesPlainHttpEndpointsWithoutFlag) {
  auto d = parse_discovery(doc(kIssuer, "http://127.0.0.1:9000"), kIssuer, false);
  EXPECT_EQ(d.error(), auth_error::discovery_failed);
}

TEST(DiscoveryParsing, AcceptsLoopbackHttpWithFlagOnly) {
  EXPECT_TRUE(parse_discovery(doc(kIssuer, "http://127.0.0.1:9000"), kIssuer, true));
  EXPECT_TRUE(parse_discovery(doc(kIssuer, "http://localhost:9000"), kIssuer, true));
  EXPECT_TRUE(parse_discovery(doc(kIssuer, "http://[::1]:9000"), kIssuer, true));
  EXPECT_FALSE(parse_discovery(doc(kIssuer, "http://login.example"), kIssuer, true));
}

TEST(DiscoveryParsing, RefusesMissingEndpointsAndGarbage) {
  EXPECT_EQ(
      parse_discovery(R"({"issuer":"https://login.example/tenant/v2.0"})", kIssuer, false).error(),
      auth_error::discovery_failed);
  EXPECT_EQ(parse_discovery("not json", kIssuer, false).error(), auth_error::discovery_failed);
  EXPECT_EQ(parse_discovery("[]", kIssuer, false).error(), auth_error::discovery_failed);
}

TEST(EndpointCheck, RefusesUserinfoAndFragments) {
  EXPECT_FALSE(is_acceptable_endpoint("https://user@login.example/token", false));
  EXPECT_FALSE(is_acceptable_endpoint("https://login.example/token#x", false));
  EXPECT_FALSE(is_acceptable_endpoint("ftp://login.example/token", false));
  EXPECT_TRUE(is_acceptable_endpoint("https://login.example:8443/token?x=1", false));
}

}  // namespace
}  // namespace oidc::server
