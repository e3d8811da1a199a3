// SPDX-License-Identifier: Apache-2.0
// Component tests of failing and edge-case logins: the real callback-server app against the mock
// Entra tenant(s) over TLS on loopback (expired state, PKCE and nonce mismatches, a token of
// another tenant, the IdP closing pooled connections, a generic OIDC organisation).
#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "login_harness.hpp"
#include "oidc/json.hpp"

namespace oidc::server {
namespace {

using namespace harness;

constexpr std::string_view kGenericRedirect = "https://generic.example.com/api/single-sign-on";
constexpr std::string_view kGenericHost = "generic.example.com";

// Replaces the first occurrence of `from` in `s` (which must contain it).
std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << s;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

struct fixture_options {
  std::chrono::milliseconds idp_idle_timeout{60'000};
};

// Two tenants (acme's and another) and two organisations: acme on Entra and a generic OIDC one.
class LoginFailuresTest : public ::testing::Test, protected login_harness {
 protected:
  void start_fixture(const fixture_options& fo = {}) {
    harness_options o;
    o.idp_idle_timeout = fo.idp_idle_timeout;
    const std::vector<std::string> redirects{std::string(kRedirect), std::string(kGenericRedirect)};
    o.tenants = {acme_tenant(kTenant, redirects), acme_tenant(kOtherTenant, redirects)};
    o.server_extra.clear();
    o.organisations = [](const mock::identity_provider& idp, const std::string& base) {
      return acme_organisation(base) + R"(, {"name": "generic", "provider": "oidc", "issuer": ")" +
             idp.issuer(kTenant) + R"(", "client_id": ")" + std::string(kClient) +
             R"(", "redirect_uri": ")" + std::string(kGenericRedirect) + R"("})";
    };
    // The token request of the acme tenant redeemed at the other tenant instead (the "token of
    // another tenant" case): the app still believes it talks to its tenant.
    o.idp_request_hook = [this](net::request& req) {
      if (token_to_other_tenant_.load() &&
          req.target().find("/oauth2/v2.0/token") != std::string_view::npos)
        req.target(replace_once(std::string(req.target()), kTenant, kOtherTenant));
    };
    start_harness(std::move(o));
  }

  void TearDown() override { stop_harness(); }

  std::atomic<bool> token_to_other_tenant_{false};
};

TEST_F(LoginFailuresTest, CallbackAfterLoginStateTtlIsStateExpired) {
  start_fixture();
  auto s = start();
  const auto callback = authorize(s.authorize_url);
  // The default login_state_ttl is 10 minutes.
  clock_offset_s_.store(std::chrono::seconds(10min + 1s).count());
  auto h = call(callback, s.state_cookie);
  EXPECT_EQ(h.reason, auth_error::state_expired);
  EXPECT_EQ(h.response.result_int(), 400u);
  EXPECT_NE(h.response.body().find("state_expired"), std::string::npos) << h.response.body();
}

TEST_F(LoginFailuresTest, CallbackJustBeforeLoginStateTtlSucceeds) {
  start_fixture();
  auto s = start();
  const auto callback = authorize(s.authorize_url);
  clock_offset_s_.store(std::chrono::seconds(9min).count());
  auto h = call(callback, s.state_cookie);
  EXPECT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.reason, auth_error::ok);
}

TEST_F(LoginFailuresTest, CodeRedeemedWithAnotherLoginsVerifierIsMappedPkceError) {
  start_fixture();
  auto first = start();
  auto second = start();
  // The first login's code, delivered with the second login's state: the app sends the
  // second login's code_verifier, which does not match the first login's code_challenge.
  const auto code = code_of(authorize(first.authorize_url));
  auto h = call("/api/single-sign-on?code=" + url_encode(code) + "&state=" + second.state,
                second.state_cookie, "application/json");
  EXPECT_EQ(h.reason, auth_error::token_endpoint_error);
  EXPECT_EQ(h.response.result_int(), 502u);
  auto o = parse_json_object(h.response.body(), json_limits{}).value();
  EXPECT_EQ(*find_string(o, "error"), "token_endpoint_error");
  EXPECT_EQ(*find_string(o, "aadsts_reason"), "pkce_verifier_mismatch");
  ASSERT_NE(o.if_contains("aadsts"), nullptr);
  EXPECT_EQ(o.at("aadsts").as_int64(), 501481);
}

TEST_F(LoginFailuresTest, PkceErrorPageNamesTheAadstsCode) {
  start_fixture();
  auto first = start();
  auto second = start();
  const auto code = code_of(authorize(first.authorize_url));
  auto h = call("/api/single-sign-on?code=" + url_encode(code) + "&state=" + second.state,
                second.state_cookie);
  EXPECT_EQ(h.reason, auth_error::token_endpoint_error);
  EXPECT_EQ(h.response.result_int(), 502u);
  EXPECT_NE(h.response.body().find("501481"), std::string::npos) << h.response.body();
  EXPECT_NE(h.response.body().find("token_endpoint_error"), std::string::npos);
}

TEST_F(LoginFailuresTest, IdTokenWithAnotherLoginsNonceIsNonceMismatch) {
  start_fixture();
  auto first = start();
  auto second = start();
  // The second login's authorize request carrying the first login's nonce: the code (and PKCE)
  // belong to the second login, the ID token's nonce to the first.
  const auto first_nonce =
      std::string(parse_query(query_of(first.authorize_url)).value().get("nonce").value());
  const auto second_nonce =
      std::string(parse_query(query_of(second.authorize_url)).value().get("nonce").value());
  ASSERT_NE(first_nonce, second_nonce);
  const auto swapped =
      replace_once(second.authorize_url, "nonce=" + second_nonce, "nonce=" + first_nonce);
  auto h = call(authorize(swapped), second.state_cookie);
  EXPECT_EQ(h.reason, auth_error::nonce_mismatch);
  EXPECT_EQ(h.response.result_int(), 401u);
  EXPECT_NE(h.response.body().find("nonce_mismatch"), std::string::npos) << h.response.body();
  EXPECT_EQ(cookie_pair(h.response, "__Host-oidc-session="), "");
}

TEST_F(LoginFailuresTest, IdTokenOfAnotherTenantIsRefused) {
  start_fixture();
  auto s = start();
  // The user signs in at the other tenant, whose token endpoint then redeems the code (the
  // listener sends the app's token request there): a valid token signed by the same keys, but
  // issued by and for the other tenant. The issuer names the tenant and is checked first.
  const auto other = replace_once(s.authorize_url, kTenant, kOtherTenant);
  const auto callback = authorize(other);
  token_to_other_tenant_.store(true);
  auto h = call(callback, s.state_cookie, "application/json");
  EXPECT_EQ(h.reason, auth_error::issuer_mismatch);
  EXPECT_EQ(h.response.result_int(), 401u);
  auto o = parse_json_object(h.response.body(), json_limits{}).value();
  EXPECT_EQ(*find_string(o, "error"), "issuer_mismatch");
}

TEST_F(LoginFailuresTest, LoginsSucceedWhenTheIdpClosesIdlePooledConnections) {
  fixture_options fo;
  fo.idp_idle_timeout = 100ms;  // far below the client's max_idle_age (30 s)
  start_fixture(fo);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    auto s = start();
    const auto callback = authorize(s.authorize_url);
    // The pooled connection of the authorize step is closed by the IdP before the token POST
    // (not retried once sent) needs one.
    ASSERT_TRUE(idp_connections_closed(5s));
    // The client still pools the connection the IdP has closed.
    EXPECT_GE(client_->idle_connections(), 1u);
    auto h = call(callback, s.state_cookie);
    ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
    EXPECT_EQ(h.reason, auth_error::ok);
    EXPECT_EQ(h.response[http::field::location], "/reports");
    EXPECT_NE(cookie_pair(h.response, "__Host-oidc-session="), "");
    ASSERT_TRUE(idp_connections_closed(5s));
  }
  EXPECT_GE(client_->connections_opened(), 3u);
}

TEST_F(LoginFailuresTest, GenericOidcOrganisationCompletesALogin) {
  start_fixture();
  auto s = start("/reports", kGenericHost);
  ASSERT_TRUE(
      s.authorize_url.starts_with(base_ + "/" + std::string(kTenant) + "/oauth2/v2.0/authorize?"))
      << s.authorize_url;
  const auto callback = authorize(s.authorize_url);
  auto h = call(callback, s.state_cookie, "text/html", kGenericHost);
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.reason, auth_error::ok);
  EXPECT_EQ(h.organisation, "generic");
  EXPECT_EQ(h.response[http::field::location], "/reports");
  const auto session = cookie_pair(h.response, "__Host-oidc-session=");
  ASSERT_NE(session, "");
  auto who = call("/api/session", session, "application/json", kGenericHost);
  ASSERT_EQ(who.response.result_int(), 200u) << who.response.body();
  auto o = parse_json_object(who.response.body(), json_limits{}).value();
  EXPECT_EQ(*find_string(o, "org"), "generic");
  EXPECT_EQ(*find_string(o, "email"), "ada@acme.example");
}

}  // namespace
}  // namespace oidc::server
