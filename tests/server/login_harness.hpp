// SPDX-License-Identifier: Apache-2.0
// The component-test harness of the login flow: the real callback-server app driven as the
// listener would drive it, against the mock Entra tenant served over real TLS on loopback, every
// upstream call through the real pooled HTTPS client. Test fixtures derive from it (next to
// ::testing::Test) and call start_harness() with the settings the test needs.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
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
#include "oidc/session_token.hpp"
#include "revocations.hpp"
#include "support/test_pki.hpp"

namespace oidc::server::harness {

namespace asio = boost::asio;
namespace http = net::http;
using namespace std::chrono_literals;

inline constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
inline constexpr std::string_view kOtherTenant = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
inline constexpr std::string_view kClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
inline constexpr std::string_view kRedirect = "https://acme.example.com/api/single-sign-on";
inline constexpr std::string_view kHost = "acme.example.com";
inline constexpr std::string_view kAdaOid = "9b1c5d7e-0000-4000-8000-00000000000a";

inline std::chrono::sys_seconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// The acme tenant: one SPA client registered for `redirect_uris`, Ada as its default user.
inline mock::mock_tenant acme_tenant(std::string_view id = kTenant,
                                     std::vector<std::string> redirect_uris = {
                                         std::string(kRedirect)}) {
  mock::mock_tenant t;
  t.id = std::string(id);
  mock::mock_client c;
  c.client_id = std::string(kClient);
  c.type = mock::client_type::spa;
  c.redirect_uris = std::move(redirect_uris);
  t.clients.push_back(std::move(c));
  t.users.push_back(
      {std::string(kAdaOid), "Ada Lovelace", "ada@acme.example", "ada@acme.example", false});
  t.default_user = "ada@acme.example";
  return t;
}

// The acme organisation's configuration object; `extra` adds members (", \"domains\": [...]").
inline std::string acme_organisation(std::string_view idp_base, std::string_view extra = {}) {
  return R"({"name": "acme", "tenant_id": ")" + std::string(kTenant) + R"(", "client_id": ")" +
         std::string(kClient) + R"(", "authority": ")" + std::string(idp_base) +
         R"(", "redirect_uri": ")" + std::string(kRedirect) + "\"" + std::string(extra) + "}";
}

struct harness_options {
  std::vector<mock::mock_tenant> tenants{acme_tenant()};
  // The "organisations" array's members, given the mock IdP's base URL.
  std::function<std::string(const mock::identity_provider&, const std::string& base)>
      organisations = [](const mock::identity_provider&, const std::string& base) {
        return acme_organisation(base);
      };
  std::string accounts_mode = "tenant";  // the configuration's accounts.mode
  std::string server_extra = R"(, "allowed_return_origins": ["https://app.example.com"])";
  std::chrono::milliseconds idp_idle_timeout{60'000};
  // Sees (and may rewrite) every request before the mock IdP does.
  std::function<void(net::request&)> idp_request_hook;
  // The acme organisation's client credential (confidential organisations).
  std::shared_ptr<const client_credential> acme_credential;
  // Extra top-level configuration members (", \"jwks\": {...}").
  std::string config_extra;
  // Adjusts the mock IdP's configuration (key rotation policy, ...).
  std::function<void(mock::mock_idp_config&)> configure_idp;
};

struct recorded_request {
  std::string target;
  std::string origin;
  std::string body;
};

class login_harness {
 protected:
  struct started_login {
    std::string authorize_url;
    std::string state_cookie;  // name=value
    std::string state;
    param_list params;  // of the authorize URL
  };

  void start_harness(harness_options o = {}) {
    options_ = std::move(o);
    const auto& pki = oidc::test::cached_test_pki_files();
    idp_server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          if (options_.idp_request_hook) options_.idp_request_hook(req);
          record(req);
          return idp_->handle(std::move(req), conn);
        });
    net::listener_options lo;
    lo.address = "127.0.0.1";
    lo.port = 0;
    lo.idle_timeout = options_.idp_idle_timeout;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    base_ = "https://localhost:" + std::to_string(idp_server_->listen(lo).value().port());

    mock::mock_idp_config mc;
    mc.base_url = base_;
    mc.tenants = options_.tenants;
    if (options_.configure_idp) options_.configure_idp(mc);
    idp_ = std::make_unique<mock::identity_provider>(
        mc, [this] { return wall_now() + std::chrono::seconds(idp_clock_offset_s_.load()); },
        idp_rng_);

    db_path_ = std::filesystem::temp_directory_path() /
               ("oidc-login-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(db_path_);
    const std::string text =
        R"({"server": {"listen": [{"address": "127.0.0.1", "port": 0}],
                       "base_domain": "example.com")" +
        options_.server_extra + R"(},
            "session": {"issuer": "https://example.com",
                        "signing_keys": [{"private_key_file": "/unused/session.pem"}]},
            "cookies": {"keys": [{"id": 1, "secret_file": "/unused/cookie.key"}]},
            "accounts": {"mode": ")" +
        options_.accounts_mode + R"(", "sqlite_path": "/unused/accounts.db"},
            "organisations": [)" +
        options_.organisations(*idp_, base_) + "]" + options_.config_extra + "}";
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
    if (options_.acme_credential) deps.secrets.clients.emplace("acme", options_.acme_credential);
    deps.client = client_;
    db_ = account_database::open(db_path_);
    deps.accounts = std::make_shared<sqlite_account_directory>(db_);
    revocation_cache_options ropts;
    ropts.ttl = 0ms;
    deps.revocations =
        std::make_shared<revocation_store>(std::make_shared<sqlite_revocation_backend>(db_), ropts);
    deps.blocking = &pool_;
    deps.clock = [this] {
      return std::chrono::system_clock::now() + std::chrono::seconds(clock_offset_s_.load());
    };
    app_ = std::make_unique<app>(std::move(deps));
    app_->set_ready(true);
    thread_ = std::thread([this] { io_.run(); });
    started_ = true;
  }

  void stop_harness() {
    if (!started_) return;
    started_ = false;
    client_->shutdown();
    auto done = asio::co_spawn(io_, idp_server_->shutdown(200ms), asio::use_future);
    done.wait_for(5s);
    work_.reset();
    io_.stop();
    thread_.join();
    app_.reset();
    pool_.join();
    db_.reset();
    std::filesystem::remove(db_path_);
  }

  ~login_harness() { stop_harness(); }

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

  // Requests the mock IdP received whose target contains `part`.
  std::size_t idp_requests(std::string_view part) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : recorded_)
      if (r.target.find(part) != std::string::npos) ++n;
    return n;
  }

  handled_request call(std::string target, std::string cookies = {},
                       std::string accept = "text/html", std::string_view host = kHost) {
    net::request req{http::verb::get, target, 11};
    req.set(http::field::host, host);
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

  static std::string code_of(const std::string& callback) {
    return std::string(params_of(callback).get("code").value());
  }

  started_login start(std::string return_to = "/reports", std::string_view host = kHost) {
    auto h =
        call("/api/single-sign-on/login?return_to=" + url_encode(return_to), {}, "text/html", host);
    EXPECT_EQ(h.response.result_int(), 302u) << h.response.body();
    started_login s;
    s.authorize_url = std::string(h.response[http::field::location]);
    s.state_cookie = cookie_pair(h.response, "__Host-oidc-login-");
    s.params = params_of(s.authorize_url);
    s.state = std::string(s.params.get("state").value_or(""));
    return s;
  }

  // Lets the mock IdP sign a user in at `authorize_url` (the default one, or `login_hint`);
  // returns the callback target (path and query) it redirects to.
  std::string authorize(const std::string& authorize_url, std::string_view login_hint = {}) {
    auto url = authorize_url;
    if (!login_hint.empty()) url += "&login_hint=" + url_encode(login_hint);
    auto res = fetch(url);
    EXPECT_EQ(res.status, 302u) << res.body;
    std::string loc(res.headers[http::field::location]);
    const auto path = loc.find("/api/single-sign-on");
    EXPECT_NE(path, std::string::npos) << loc;
    return path == std::string::npos ? loc : loc.substr(path);
  }
  std::string authorize(const started_login& s) { return authorize(s.authorize_url); }

  // The callback of a login signed in at the mock IdP as `login_hint` (default user if empty).
  handled_request log_in(std::string_view login_hint = {}) {
    auto s = start();
    return call(authorize(s.authorize_url, login_hint), s.state_cookie);
  }

  // A signed-in session cookie ("name=value").
  std::string sign_in() { return cookie_pair(log_in().response, "__Host-oidc-session="); }

  handled_request post_logout(std::string cookies, std::string site, std::string origin) {
    net::request req{http::verb::post, "/api/single-sign-on/logout", 11};
    req.set(http::field::host, kHost);
    if (!cookies.empty()) req.set(http::field::cookie, cookies);
    if (!site.empty()) req.set("Sec-Fetch-Site", site);
    if (!origin.empty()) req.set(http::field::origin, origin);
    return send(std::move(req));
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

  harness_options options_;
  asio::io_context io_;
  blocking_pool pool_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  bool started_ = false;
  openssl_random idp_rng_;
  std::unique_ptr<mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> idp_server_;
  std::shared_ptr<net::http_client> client_;
  std::filesystem::path db_path_;
  std::shared_ptr<account_database> db_;
  std::unique_ptr<app> app_;
  std::string base_;
  std::atomic<std::int64_t> clock_offset_s_{0};      // the app's clock
  std::atomic<std::int64_t> idp_clock_offset_s_{0};  // the mock IdP's clock
  std::mutex mutex_;
  std::vector<recorded_request> recorded_;
};

}  // namespace oidc::server::harness
