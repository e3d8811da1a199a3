// SPDX-License-Identifier: Apache-2.0
// Component tests: the real callback-server app against the mock Entra tenant served over TLS on
// loopback with a test CA. The app's handler is driven directly (as the listener would), every
// upstream call goes through the real pooled HTTPS client.
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "login_harness.hpp"
#include "oidc/base64url.hpp"
#include "oidc/json.hpp"

namespace oidc::server {
namespace {

using namespace harness;

class LoginFlowTest : public ::testing::Test, protected login_harness {
 protected:
  void SetUp() override { start_harness(); }
  void TearDown() override { stop_harness(); }
};

TEST_F(LoginFlowTest, HappyPathSignsInAndRedirectsToReturnTo) {
  auto s = start("/reports?id=7");
  ASSERT_TRUE(
      s.authorize_url.starts_with(base_ + "/" + std::string(kTenant) + "/oauth2/v2.0/authorize?"));
  EXPECT_EQ(s.params.get("client_id"), kClient);
  EXPECT_EQ(s.params.get("response_type"), "code");
  EXPECT_EQ(s.params.get("redirect_uri"), kRedirect);
  EXPECT_EQ(s.params.get("scope"), "openid profile email");
  EXPECT_EQ(s.params.get("code_challenge_method"), "S256");
  EXPECT_EQ(s.params.get("response_mode"), "query");
  EXPECT_EQ(s.params.get("code_challenge")->size(), 43u);
  EXPECT_GE(s.params.get("state")->size(), 43u);
  EXPECT_GE(s.params.get("nonce")->size(), 43u);
  ASSERT_FALSE(s.state_cookie.empty());

  const auto callback = authorize(s);
  auto h = call(callback, s.state_cookie);
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.response[http::field::location], "/reports?id=7");
  EXPECT_EQ(h.response[http::field::cache_control], "no-store");
  EXPECT_EQ(h.response["Referrer-Policy"], "no-referrer");

  const auto cookies = set_cookies(h.response);
  std::string session;
  bool state_cleared = false;
  for (const auto& c : cookies) {
    if (c.starts_with("__Host-oidc-session=")) session = c;
    if (c.starts_with(s.state_cookie.substr(0, s.state_cookie.find('=') + 1)) &&
        c.find("Max-Age=0") != std::string::npos)
      state_cleared = true;
  }
  ASSERT_FALSE(session.empty());
  EXPECT_NE(session.find("; Path=/"), std::string::npos);
  EXPECT_NE(session.find("; Secure"), std::string::npos);
  EXPECT_NE(session.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(session.find("; SameSite=Lax"), std::string::npos);
  EXPECT_EQ(session.find("Domain"), std::string::npos);
  EXPECT_TRUE(state_cleared);

  const auto tokens = token_requests();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].origin, "https://acme.example.com");
  auto form = parse_form(tokens[0].body).value();
  EXPECT_EQ(form.get("grant_type"), "authorization_code");
  EXPECT_EQ(form.get("client_id"), kClient);
  EXPECT_EQ(form.get("redirect_uri"), kRedirect);
  EXPECT_EQ(form.get("code_verifier")->size(), 43u);
  EXPECT_FALSE(form.contains("client_secret"));
  EXPECT_FALSE(form.contains("client_assertion"));

  auto who = call("/api/session", session.substr(0, session.find(';')), "application/json");
  ASSERT_EQ(who.response.result_int(), 200u) << who.response.body();
  auto o = parse_json_object(who.response.body(), json_limits{}).value();
  EXPECT_EQ(*find_string(o, "org"), "acme");
  EXPECT_EQ(*find_string(o, "tid"), kTenant);
  EXPECT_EQ(*find_string(o, "email"), "ada@acme.example");
}

TEST_F(LoginFlowTest, IssuedSessionIsServedFromTheVerifiedTokenCache) {
  const auto session = sign_in();
  ASSERT_FALSE(session.empty());
  const auto before = app_->verified_tokens().snapshot();
  EXPECT_EQ(before.entries, 1u);
  EXPECT_EQ(before.insertions, 1u);
  // Neither the session API nor forward-auth verifies the fresh session again.
  ASSERT_EQ(call("/api/session", session).response.result_int(), 200u);
  ASSERT_EQ(call("/api/verify", session).response.result_int(), 200u);
  const auto after = app_->verified_tokens().snapshot();
  EXPECT_EQ(after.hits, before.hits + 2);
  EXPECT_EQ(after.misses, before.misses);
}

TEST_F(LoginFlowTest, ReplayedCallbackIsRefusedBeforeAnyIdpCall) {
  auto s = start();
  const auto callback = authorize(s);
  ASSERT_EQ(call(callback, s.state_cookie).response.result_int(), 302u);
  auto again = call(callback, s.state_cookie);
  EXPECT_EQ(again.reason, auth_error::state_replayed);
  EXPECT_EQ(again.response.result_int(), 400u);
  EXPECT_EQ(token_requests().size(), 1u);
}

TEST_F(LoginFlowTest, MissingStateCookieIsStateMissing) {
  auto s = start();
  const auto callback = authorize(s);
  auto h = call(callback);
  EXPECT_EQ(h.reason, auth_error::state_missing);
  EXPECT_EQ(h.response.result_int(), 400u);
  EXPECT_TRUE(token_requests().empty());
}

TEST_F(LoginFlowTest, TamperedStateCookieIsRefused) {
  auto s = start();
  const auto callback = authorize(s);
  std::string tampered = s.state_cookie;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  auto h = call(callback, tampered);
  EXPECT_EQ(h.reason, auth_error::state_mismatch);
  EXPECT_TRUE(token_requests().empty());
}

TEST_F(LoginFlowTest, StateOfAnotherLoginIsRefused) {
  auto first = start();
  auto second = start();
  const auto callback = authorize(first);
  // The cookie of the second login under the name of the first.
  const std::string name = first.state_cookie.substr(0, first.state_cookie.find('='));
  const std::string value = second.state_cookie.substr(second.state_cookie.find('=') + 1);
  auto h = call(callback, name + "=" + value);
  EXPECT_EQ(h.reason, auth_error::state_mismatch);
}

TEST_F(LoginFlowTest, TwoTabsLogInAtOnce) {
  auto a = start("/a");
  auto b = start("/b");
  const auto cb_a = authorize(a);
  const auto cb_b = authorize(b);
  const std::string jar = a.state_cookie + "; " + b.state_cookie;
  auto hb = call(cb_b, jar);
  auto ha = call(cb_a, jar);
  EXPECT_EQ(hb.response[http::field::location], "/b");
  EXPECT_EQ(ha.response[http::field::location], "/a");
}

TEST_F(LoginFlowTest, OpenRedirectAttemptsLandHome) {
  for (std::string bad : {"//evil.com", "/\\evil.com", "https://evil.com/", "/%2F%2Fevil.com",
                          "https://good@evil.com", "/%0d%0aLocation:%20https://evil.com"}) {
    auto s = start(bad);
    const auto callback = authorize(s);
    auto h = call(callback, s.state_cookie);
    ASSERT_EQ(h.response.result_int(), 302u) << bad;
    EXPECT_EQ(h.response[http::field::location], "/") << bad;
  }
}

TEST_F(LoginFlowTest, AllowedOriginIsAReturnTarget) {
  auto s = start("https://app.example.com/home");
  auto h = call(authorize(s), s.state_cookie);
  EXPECT_EQ(h.response[http::field::location], "https://app.example.com/home");
}

TEST_F(LoginFlowTest, IdpErrorIsShownWithReason) {
  auto s = start();
  const std::string state(*s.params.get("state"));
  auto h = call("/api/single-sign-on?error=access_denied&error_description=" +
                    url_encode("AADSTS65001: The user or administrator has not consented") +
                    "&state=" + state,
                s.state_cookie);
  EXPECT_EQ(h.reason, auth_error::idp_error);
  EXPECT_EQ(h.response.result_int(), 502u);
  EXPECT_NE(h.response.body().find("access_denied"), std::string::npos);
  EXPECT_NE(h.response.body().find("AADSTS65001"), std::string::npos);
  EXPECT_TRUE(token_requests().empty());
}

TEST_F(LoginFlowTest, TokenEndpointAadstsErrorIsMappedAsJson) {
  auto s = start();
  const std::string state(*s.params.get("state"));
  auto h = call("/api/single-sign-on?code=not-a-real-code&state=" + state, s.state_cookie,
                "application/json");
  EXPECT_EQ(h.reason, auth_error::token_endpoint_error);
  EXPECT_EQ(h.response.result_int(), 502u);
  auto o = parse_json_object(h.response.body(), json_limits{}).value();
  EXPECT_EQ(*find_string(o, "error"), "token_endpoint_error");
  EXPECT_TRUE(o.contains("aadsts_reason"));
  EXPECT_EQ(token_requests().size(), 1u);
}

TEST_F(LoginFlowTest, SessionEndpointWithoutCookieIs401) {
  auto h = call("/api/session", {}, "application/json");
  EXPECT_EQ(h.response.result_int(), 401u);
  EXPECT_EQ(h.reason, auth_error::credentials_missing);
  EXPECT_NE(h.response.body().find("\"credentials_missing\""), std::string::npos)
      << h.response.body();
}

TEST_F(LoginFlowTest, UnknownOrganisationIs404) {
  net::request req{http::verb::get, "/api/single-sign-on/login", 11};
  req.set(http::field::host, "nobody.example.com");
  auto f =
      asio::co_spawn(io_, app_->handle(std::move(req), net::connection_info{}), asio::use_future);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto h = f.get();
  EXPECT_EQ(h.response.result_int(), 404u);
  EXPECT_EQ(h.reason, auth_error::organisation_unknown);
}

TEST_F(LoginFlowTest, JwksAndHealthEndpointsAnswer) {
  auto jwks = call("/.well-known/jwks.json");
  EXPECT_EQ(jwks.response.result_int(), 200u);
  EXPECT_NE(jwks.response.body().find("\"kid\":\"s1\""), std::string::npos);
  EXPECT_EQ(call("/healthz").response.result_int(), 200u);
  EXPECT_EQ(call("/readyz").response.result_int(), 200u);
}

TEST_F(LoginFlowTest, FixedEndpointsAnswerOnlyGetAndHead) {
  for (const char* path : {"/healthz", "/readyz", "/.well-known/jwks.json", "/metrics"}) {
    net::request head{http::verb::head, path, 11};
    head.set(http::field::host, kHost);
    EXPECT_EQ(send(std::move(head)).response.result_int(), 200u) << path;
    for (const auto verb : {http::verb::post, http::verb::delete_, http::verb::put}) {
      net::request req{verb, path, 11};
      req.set(http::field::host, kHost);
      const auto h = send(std::move(req));
      EXPECT_EQ(h.response.result_int(), 405u) << path << " " << http::to_string(verb);
      EXPECT_EQ(h.response[http::field::allow], "GET, HEAD") << path;
      EXPECT_EQ(h.response.body(), "method not allowed\n") << path;
    }
  }
}

TEST_F(LoginFlowTest, LogoutGetShowsConfirmationPage) {
  auto h = call("/api/single-sign-on/logout");
  EXPECT_EQ(h.response.result_int(), 200u);
  EXPECT_EQ(h.response["Referrer-Policy"], "same-origin");
  EXPECT_NE(h.response.body().find("method=\"post\""), std::string::npos);
}

TEST_F(LoginFlowTest, LogoutRevokesSessionAndRedirectsToEndSession) {
  const auto session = sign_in();
  ASSERT_FALSE(session.empty());
  ASSERT_EQ(call("/api/session", session).response.result_int(), 200u);
  // Origin: null (a no-referrer page) is unknown, and Sec-Fetch-Site decides first anyway.
  auto h = post_logout(session, "same-origin", "null");
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  const std::string loc(h.response[http::field::location]);
  EXPECT_TRUE(loc.starts_with(base_ + "/" + std::string(kTenant) + "/oauth2/v2.0/logout?")) << loc;
  EXPECT_EQ(params_of(loc).get("post_logout_redirect_uri"), kRedirect);
  // The ID token's login_hint claim (the mock emits Entra's shape) names the account to sign out.
  EXPECT_EQ(params_of(loc).get("logout_hint"),
            base64url_encode("O." + std::string(kAdaOid) + "." + std::string(kTenant)));
  EXPECT_NE(cookie_pair(h.response, "__Host-oidc-session=").size(), 0u);
  auto after = call("/api/session", session, "application/json");
  EXPECT_EQ(after.response.result_int(), 401u);
  EXPECT_EQ(after.reason, auth_error::session_revoked);
}

std::int64_t revocation_rows(account_database& db) {
  auto c = db.lock();
  auto st = c.prepare("SELECT COUNT(*) FROM revocations");
  EXPECT_TRUE(st.step());
  return st.column_int64(0);
}

TEST_F(LoginFlowTest, RevocationsArePurgedOnceTheSessionWouldHaveExpired) {
  const auto session = sign_in();
  ASSERT_EQ(post_logout(session, "same-origin", {}).response.result_int(), 302u);
  ASSERT_EQ(revocation_rows(*db_), 1);
  auto purge = [this] {
    auto f = asio::co_spawn(io_, app_->purge_expired_revocations(), asio::use_future);
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  };
  // Still needed while the session could be presented.
  EXPECT_EQ(purge().value(), 0u);
  EXPECT_EQ(revocation_rows(*db_), 1);
  // Sessions live 8 h here, plus the session clock skew (30 s by default).
  clock_offset_s_.store(std::chrono::seconds(8h + 61s).count());
  EXPECT_EQ(purge().value(), 1u);
  EXPECT_EQ(revocation_rows(*db_), 0);
}

TEST_F(LoginFlowTest, HousekeepingPurgesPeriodicallyUntilCancelled) {
  const auto session = sign_in();
  ASSERT_EQ(post_logout(session, "same-origin", {}).response.result_int(), 302u);
  clock_offset_s_.store(std::chrono::seconds(9h).count());
  housekeeping_control control(io_.get_executor());
  auto done = asio::co_spawn(control.strand, run_housekeeping(app_.get(), &control, 5ms, nullptr),
                             asio::use_future);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (revocation_rows(*db_) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(revocation_rows(*db_), 0);
  control.stop();
  EXPECT_EQ(done.wait_for(10s), std::future_status::ready);
}

TEST_F(LoginFlowTest, LogoutWithNullOriginAndNoFetchMetadataIsAccepted) {
  auto h = post_logout({}, {}, "null");
  EXPECT_EQ(h.response.result_int(), 302u);
  // Without a session there is no account to name.
  const std::string loc(h.response[http::field::location]);
  EXPECT_TRUE(params_of(loc).get("post_logout_redirect_uri").has_value()) << loc;
  EXPECT_FALSE(params_of(loc).get("logout_hint").has_value()) << loc;
}

TEST_F(LoginFlowTest, CrossSiteLogoutIsRefused) {
  const auto session = sign_in();
  auto h = post_logout(session, "cross-site", "https://evil.example");
  EXPECT_EQ(h.response.result_int(), 403u);
  EXPECT_EQ(h.reason, auth_error::cross_site_request);
  EXPECT_EQ(call("/api/session", session).response.result_int(), 200u);
  auto by_origin = post_logout(session, {}, "https://evil.example");
  EXPECT_EQ(by_origin.reason, auth_error::cross_site_request);
}

TEST_F(LoginFlowTest, PostLogoutLandingShowsSignedOutPage) {
  auto h = call("/api/single-sign-on");
  EXPECT_EQ(h.response.result_int(), 200u);
  EXPECT_EQ(h.route, metrics::route::signed_out);
}

TEST_F(LoginFlowTest, SlowIdpIsAGatewayTimeoutNotAHang) {
  mock::fault_settings f;
  f.latency = 10s;  // beyond the client's 3 s read deadline
  idp_->set_faults(f);
  const auto started = std::chrono::steady_clock::now();
  auto h = call("/api/single-sign-on/login");
  EXPECT_EQ(h.reason, auth_error::idp_timeout);
  EXPECT_EQ(h.response.result_int(), 504u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
}

TEST_F(LoginFlowTest, DroppedIdpConnectionIsAClearError) {
  mock::fault_settings f;
  f.drop_rate = 1.0;
  idp_->set_faults(f);
  auto h = call("/api/single-sign-on/login", {}, "application/json");
  EXPECT_EQ(h.reason, auth_error::discovery_failed);
  EXPECT_EQ(h.response.result_int(), 502u);
}

}  // namespace
}  // namespace oidc::server
