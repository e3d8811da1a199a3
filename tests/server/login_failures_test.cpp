// SPDX-License-Identifier: Apache-2.0
// Component tests of failing and edge-case logins: the real callback-server app against the mock
// Entra tenant(s) over TLS on loopback (expired state, PKCE and nonce mismatches, a token of
// another tenant, the IdP closing pooled connections, a generic OIDC organisation).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
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
#include "support/test_pki.hpp"

namespace oidc::server {
namespace {

namespace asio = boost::asio;
namespace http = net::http;
using namespace std::chrono_literals;

constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
constexpr std::string_view kOtherTenant = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
constexpr std::string_view kClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
constexpr std::string_view kRedirect = "https://acme.example.com/api/single-sign-on";
constexpr std::string_view kGenericRedirect = "https://generic.example.com/api/single-sign-on";
constexpr std::string_view kHost = "acme.example.com";
constexpr std::string_view kGenericHost = "generic.example.com";

std::chrono::sys_seconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

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

class LoginFailuresTest : public ::testing::Test {
 protected:
  // Each test starts the fixture itself, with its own listener settings.
  void start_fixture(const fixture_options& fo = {}) {
    const auto& pki = test::cached_test_pki_files();
    idp_server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          // The token request of the acme tenant redeemed at the other tenant instead (the
          // "token of another tenant" case): the app still believes it talks to its tenant.
          if (token_to_other_tenant_.load() &&
              req.target().find("/oauth2/v2.0/token") != std::string_view::npos) {
            req.target(replace_once(std::string(req.target()), kTenant, kOtherTenant));
          }
          return idp_->handle(std::move(req), conn);
        });
    net::listener_options lo;
    lo.address = "127.0.0.1";
    lo.port = 0;
    lo.idle_timeout = fo.idp_idle_timeout;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    const auto ep = idp_server_->listen(lo).value();
    base_ = "https://localhost:" + std::to_string(ep.port());

    mock::mock_idp_config mc;
    mc.base_url = base_;
    for (auto tenant : {kTenant, kOtherTenant}) {
      mock::mock_tenant t;
      t.id = std::string(tenant);
      t.clients.push_back({std::string(kClient),
                           mock::client_type::spa,
                           {},
                           {std::string(kRedirect), std::string(kGenericRedirect)}});
      t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000a", "Ada Lovelace", "ada@acme.example",
                         "ada@acme.example", false});
      t.default_user = "ada@acme.example";
      mc.tenants.push_back(t);
    }
    idp_ = std::make_unique<mock::identity_provider>(mc, wall_now, idp_rng_);

    const std::string text = R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "example.com"},
      "session": {"issuer": "https://example.com",
                  "signing_keys": [{"private_key_file": "/unused/session.pem"}]},
      "cookies": {"keys": [{"id": 1, "secret_file": "/unused/cookie.key"}]},
      "accounts": {"mode": "tenant", "sqlite_path": "/unused/accounts.db"},
      "organisations": [
        {"name": "acme", "tenant_id": ")" +
                             std::string(kTenant) + R"(", "client_id": ")" + std::string(kClient) +
                             R"(", "authority": ")" + base_ + R"(", "redirect_uri": ")" +
                             std::string(kRedirect) + R"("},
        {"name": "generic", "provider": "oidc", "issuer": ")" +
                             idp_->issuer(kTenant) + R"(", "client_id": ")" + std::string(kClient) +
                             R"(", "redirect_uri": ")" + std::string(kGenericRedirect) + R"("}]})";
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
    deps.blocking = &pool_;
    deps.clock = [this] {
      return std::chrono::system_clock::now() + std::chrono::seconds(clock_offset_s_.load());
    };
    app_ = std::make_unique<app>(std::move(deps));
    app_->set_ready(true);
    thread_ = std::thread([this] { io_.run(); });
    started_ = true;
  }

  void TearDown() override {
    if (!started_) return;
    client_->shutdown();
    auto done = asio::co_spawn(io_, idp_server_->shutdown(200ms), asio::use_future);
    done.wait_for(5s);
    work_.reset();
    io_.stop();
    thread_.join();
    app_.reset();
    pool_.join();
  }

  handled_request call(std::string target, std::string cookies = {},
                       std::string accept = "text/html", std::string_view host = kHost) {
    net::request req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    if (!cookies.empty()) req.set(http::field::cookie, cookies);
    req.set(http::field::accept, accept);
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

  static std::string cookie_pair(const net::response& res, std::string_view prefix) {
    const auto range = res.equal_range(http::field::set_cookie);
    for (auto it = range.first; it != range.second; ++it) {
      const std::string c(it->value());
      if (c.starts_with(prefix)) return c.substr(0, c.find(';'));
    }
    return {};
  }

  struct started_login {
    std::string authorize_url;
    std::string state_cookie;  // name=value
    std::string state;
  };

  started_login start(std::string_view host = kHost) {
    auto h = call("/api/single-sign-on/login?return_to=%2Freports", {}, "text/html", host);
    EXPECT_EQ(h.response.result_int(), 302u) << h.response.body();
    started_login s;
    s.authorize_url = std::string(h.response[http::field::location]);
    s.state_cookie = cookie_pair(h.response, "__Host-oidc-login-");
    s.state = std::string(parse_query(query_of(s.authorize_url)).value().get("state").value());
    return s;
  }

  // Lets the mock IdP sign the default user in at `authorize_url`; returns the callback target.
  std::string authorize(const std::string& authorize_url) {
    auto res = fetch(authorize_url);
    EXPECT_EQ(res.status, 302u) << res.body;
    std::string loc(res.headers[http::field::location]);
    const auto path = loc.find("/api/single-sign-on");
    EXPECT_NE(path, std::string::npos) << loc;
    return path == std::string::npos ? loc : loc.substr(path);
  }

  static std::string code_of(const std::string& callback) {
    return std::string(parse_query(query_of(callback)).value().get("code").value());
  }

  // Waits (bounded) until the IdP listener has closed every connection.
  bool idp_connections_closed(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (idp_server_->open_connections() != 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  asio::io_context io_;
  blocking_pool pool_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  bool started_ = false;
  openssl_random idp_rng_;
  std::unique_ptr<mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> idp_server_;
  std::shared_ptr<net::http_client> client_;
  std::unique_ptr<app> app_;
  std::string base_;
  std::atomic<std::int64_t> clock_offset_s_{0};
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
  auto s = start(kGenericHost);
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
