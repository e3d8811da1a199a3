// SPDX-License-Identifier: Apache-2.0
// Organisation resolution from Host, trusted forwarding headers and the default organisation.
#include "organisation.hpp"

#include <string>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

std::shared_ptr<const server_config> config(bool with_default) {
  std::string text = R"({
    "server": {"listen": [{"address": "0.0.0.0", "port": 8080}], "base_domain": "example.com",
               "trusted_proxies": ["10.0.0.0/8"])";
  if (with_default) text += R"(, "default_organisation": "acme")";
  text += R"(},
    "session": {"issuer": "https://example.com",
                "signing_keys": [{"private_key_file": "/k/session.pem"}]},
    "cookies": {"keys": [{"id": 1, "secret_file": "/k/cookie.key"}]},
    "accounts": {"sqlite_path": "/k/accounts.db"},
    "organisations": [
      {"name": "acme", "tenant_id": "0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f",
       "client_id": "6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f"},
      {"name": "globex", "tenant_id": "1b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f",
       "client_id": "7d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f", "hosts": ["login.globex.test"]}
    ]})";
  auto parsed = parse_config(text, config_environment{});
  if (!parsed) throw std::runtime_error(format_errors(parsed.error()));
  return *parsed;
}

ip_address ip(const char* text) {
  return *parse_ip_address(text);
}

TEST(OrganisationResolution, UsesHostSubdomain) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"acme.example.com", "", "", ip("192.0.2.1"), true});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "acme");
  EXPECT_EQ(r->scheme, "https");
  EXPECT_FALSE(r->by_default);
}

TEST(OrganisationResolution, UsesConfiguredExtraHost) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"LOGIN.globex.test:443", "", "", ip("192.0.2.1"), true});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "globex");
}

TEST(OrganisationResolution, IgnoresForwardedHeadersFromUntrustedPeers) {
  auto c = config(false);
  auto r = resolve_organisation(
      *c, {"acme.example.com", "globex.example.com", "http", ip("192.0.2.1"), true});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "acme");
  EXPECT_EQ(r->scheme, "https");
}

TEST(OrganisationResolution, BelievesForwardedHeadersFromTrustedProxies) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"internal:8080", "globex.example.com, acme.example.com",
                                     "https", ip("10.1.2.3"), false});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "globex");
  EXPECT_EQ(r->scheme, "https");
  EXPECT_EQ(r->host, "globex.example.com");
}

TEST(OrganisationResolution, TrustsMappedIpv4Proxy) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"x", "acme.example.com", "", ip("::ffff:10.0.0.5"), false});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "acme");
}

TEST(OrganisationResolution, FallsBackToDefaultOrganisation) {
  auto c = config(true);
  auto r = resolve_organisation(*c, {"localhost:8080", "", "", ip("127.0.0.1"), false});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->organisation->name, "acme");
  EXPECT_TRUE(r->by_default);
}

TEST(OrganisationResolution, UnknownHostWithoutDefaultIsUnknown) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"nobody.example.com", "", "", ip("192.0.2.1"), true});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), auth_error::organisation_unknown);
}

TEST(OrganisationResolution, GarbageHostIsNotLookedUp) {
  auto c = config(false);
  auto r = resolve_organisation(*c, {"acme.example.com\r\nX: y", "", "", std::nullopt, true});
  EXPECT_EQ(r.error(), auth_error::organisation_unknown);
}

}  // namespace
}  // namespace oidc::server
