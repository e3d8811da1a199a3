// SPDX-License-Identifier: Apache-2.0
// Component tests: the real callback-server app against the mock Entra tenant served over TLS on
// loopback with a test CA. The app's handler is driven directly (as the listener would), every
// upstream call goes through the real pooled HTTPS client.
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "accounts.hpp"
#include "app.hpp"
#include "blocking_pool.hpp"
#include "cookies.hpp"
#include "http_params.hpp"
#include "identity_provider.hpp"
#include "oidc/json.hpp"
#include "oidc/session_token.hpp"
#include "revocations.hpp"
#include "support/test_pki.hpp"

namespace oidc::server {
namespace {

namespace asio = boost::asio;
namespace http = net::http;
using namespace std::chrono_literals;

constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
constexpr std::string_view kClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
constexpr std::string_view kRedirect = "https://acme.example.com/api/single-sign-on";
constexpr std::string_view kHost = "acme.example.com";

std::chrono::sys_seconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

struct recorded_request {
  std::string target;
  std::string origin;
  std::string body;
};

class LoginFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pki = test::cached_test_pki_files();
    idp_server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          record(req);
          return idp_->handle(std::move(req), conn);
        });
    net::listener_options lo;
    lo.address = "127.0.0.1";
    lo.port = 0;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    const auto ep = idp_server_->listen(lo).value();
    base_ = "https://localhost:" + std::to_string(ep.port());

    mock::mock_idp_config mc;
    mc.base_url = base_;
    mock::mock_tenant t;
    t.id = std::string(kTenant);
    t.clients.push_back(
        {std::string(kClient), mock::client_type::spa, {}, {std::string(kRedirect)}});
    t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000a", "Ada Lovelace", "ada@acme.example",
                       "ada@acme.example", false});
    t.default_user = "ada@acme.example";
    mc.tenants.push_back(t);
    idp_ = std::make_unique<mock::identity_provider>(mc, wall_now, idp_rng_);

    const std::string text = R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "example.com",
                 "allowed_return_origins": ["https://app.example.com"]},
      "session": {"issuer": "https://example.com",
                  "signing_keys": [{"private_key_file": "/unused/session.pem"}]},
      "cookies": {"keys": [{"id": 1, "secret_file": "/unused/cookie.key"}]},
      "accounts": {"mode": "tenant", "sqlite_path": "/unused/accounts.db"},
      "organisations": [{"name": "acme", "tenant_id": ")" +
                             std::string(kTenant) + R"(", "client_id": ")" + std::string(kClient) +
                             R"(", "authority": ")" + base_ + R"(",
                         "redirect_uri": ")" +
                             std::string(kRedirect) + R"("}]})";
    auto cfg = parse_config(text, config_environment{});
    ASSERT_TRUE(cfg) << format_errors(cfg.error());

    auto ring = std::make_shared<cookie_key_ring>();
    std::array<std::uint8_t, 32> key{};
    key[0] = 7;
    ASSERT_TRUE(ring->add(1, key));
    auto pem = generate_ec_p256_private_key_pem().value();
    std::vector<session_key> keys{{pem, "s1"}};
    auto signer = session_signer::create(keys, {"https://example.com", 8h, 30s}).value();

    net::client_options copts;
    copts.tls = net::make_client_tls_context(pki.ca.string()).value();
    copts.connect_timeout = 2s;
    copts.read_timeout = 3s;
    copts.total_timeout = 5s;
    client_ = std::make_shared<net::http_client>(io_.get_executor(), copts);

    app_dependencies deps;
    deps.config = *cfg;
    deps.secrets.cookie_keys = ring;
    deps.secrets.sessions = std::make_shared<const session_signer>(std::move(signer));
    deps.client = client_;
    db_path_ = std::filesystem::temp_directory_path() /
               ("oidc-login-flow-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(db_path_);
    auto db = account_database::open(db_path_);
    revocation_cache_options ropts;
    ropts.ttl = 0ms;
    deps.revocations =
        std::make_shared<revocation_store>(std::make_shared<sqlite_revocation_backend>(db), ropts);
    deps.blocking = &pool_;
    app_ = std::make_unique<app>(std::move(deps));
    app_->set_ready(true);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    client_->shutdown();
    auto done = asio::co_spawn(io_, idp_server_->shutdown(200ms), asio::use_future);
    done.wait_for(5s);
    work_.reset();
    io_.stop();
    thread_.join();
    app_.reset();
    pool_.join();
    std::filesystem::remove(db_path_);
  }

  void record(const net::request& req) {
    std::lock_guard lock(mutex_);
    recorded_.push_back(
        {std::string(req.target()), std::string(req[http::field::origin]), req.body()});
  }

  std::vector<recorded_request> token_requests() {
    std::lock_guard lock(mutex_);
    std::vector<recorded_request> out;
    for (const auto& r : recorded_)
      if (r.target.find("/oauth2/v2.0/token") != std::string::npos) out.push_back(r);
    return out;
  }

  handled_request call(std::string target, std::string cookies = {},
                       std::string accept = "text/html") {
    net::request req{http::verb::get, target, 11};
    req.set(http::field::host, kHost);
    if (!cookies.empty()) req.set(http::field::cookie, cookies);
    req.set(http::field::accept, accept);
    return send(std::move(req));
  }

  handled_request send(net::request req) {
    net::connection_info conn;
    conn.peer = asio::ip::make_address("192.0.2.10");
    conn.tls = true;
    auto f = asio::co_spawn(io_, app_->handle(std::move(req), conn), asio::use_future);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("app timed out");
    return f.get();
  }

  net::client_response fetch(std::string url) {
    net::client_request r;
    r.url = std::move(url);
    auto f = asio::co_spawn(io_, client_->send(std::move(r)), asio::use_future);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("fetch timed out");
    return f.get().value();
  }

  static std::vector<std::string> set_cookies(const net::response& res) {
    std::vector<std::string> out;
    const auto range = res.equal_range(http::field::set_cookie);
    for (auto it = range.first; it != range.second; ++it)
      out.emplace_back(it->value());
    return out;
  }

  // "name=value" of the first Set-Cookie whose name starts with `prefix`.
  static std::string cookie_pair(const net::response& res, std::string_view prefix) {
    for (const auto& c : set_cookies(res))
      if (c.starts_with(prefix)) return c.substr(0, c.find(';'));
    return {};
  }

  static param_list params_of(std::string_view url) { return parse_query(query_of(url)).value(); }

  struct started_login {
    std::string authorize_url;
    std::string state_cookie;  // name=value
    param_list params;
  };

  started_login start(std::string return_to = "/reports") {
    auto h = call("/api/single-sign-on/login?return_to=" + url_encode(return_to));
    EXPECT_EQ(h.response.result_int(), 302u) << h.response.body();
    started_login s;
    s.authorize_url = std::string(h.response[http::field::location]);
    s.state_cookie = cookie_pair(h.response, "__Host-oidc-login-");
    s.params = params_of(s.authorize_url);
    return s;
  }

  // Lets the mock IdP sign the default user in; returns the callback target it redirects to.
  std::string authorize(const started_login& s) {
    auto res = fetch(s.authorize_url);
    EXPECT_EQ(res.status, 302u) << res.body;
    std::string loc(res.headers[http::field::location]);
    EXPECT_TRUE(loc.starts_with(kRedirect)) << loc;
    return loc.substr(std::string_view("https://acme.example.com").size());
  }

  // A signed-in session cookie ("name=value").
  std::string sign_in() {
    auto s = start();
    auto h = call(authorize(s), s.state_cookie);
    return cookie_pair(h.response, "__Host-oidc-session=");
  }

  handled_request post_logout(std::string cookies, std::string site, std::string origin) {
    net::request req{http::verb::post, "/api/single-sign-on/logout", 11};
    req.set(http::field::host, kHost);
    if (!cookies.empty()) req.set(http::field::cookie, cookies);
    if (!site.empty()) req.set("Sec-Fetch-Site", site);
    if (!origin.empty()) req.set(http::field::origin, origin);
    return send(std::move(req));
  }

  asio::io_context io_;
  blocking_pool pool_{1};
  std::filesystem::path db_path_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  openssl_random idp_rng_;
  std::unique_ptr<mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> idp_server_;
  std::shared_ptr<net::http_client> client_;
  std::unique_ptr<app> app_;
  std::string base_;
  std::mutex mutex_;
  std::vector<recorded_request> recorded_;
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
  EXPECT_NE(cookie_pair(h.response, "__Host-oidc-session=").size(), 0u);
  auto after = call("/api/session", session, "application/json");
  EXPECT_EQ(after.response.result_int(), 401u);
  EXPECT_EQ(after.reason, auth_error::session_revoked);
}

TEST_F(LoginFlowTest, LogoutWithNullOriginAndNoFetchMetadataIsAccepted) {
  auto h = post_logout({}, {}, "null");
  EXPECT_EQ(h.response.result_int(), 302u);
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
  EXPECT_EQ(h.route, "signed_out");
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
