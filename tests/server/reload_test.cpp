// SPDX-License-Identifier: Apache-2.0
// Configuration reload: the app's snapshot swap (a new organisation answers, a removed one does
// not, a request in flight finishes on the snapshot it started with), building and reporting a
// snapshot, and SIGHUP on the real binary (skipped when it has not been built).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "app.hpp"
#include "blocking_pool.hpp"
#include "http_params.hpp"
#include "identity_provider.hpp"
#include "oidc/session_token.hpp"
#include "reload.hpp"
#include "support/test_pki.hpp"

namespace oidc::server {
namespace {

namespace asio = boost::asio;
namespace http = net::http;
using namespace std::chrono_literals;

constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
constexpr std::string_view kAcmeClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
constexpr std::string_view kBetaClient = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";

std::chrono::sys_seconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Holds the first token request it sees until released (to keep a callback in flight).
struct token_gate {
  explicit token_gate(asio::io_context& io) : timer(io) {
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  std::atomic<bool> armed{false};
  std::promise<void> entered;
  asio::steady_timer timer;
};

asio::awaitable<net::response> gated_idp(token_gate* gate, mock::identity_provider* idp,
                                         net::request req, net::connection_info conn) {
  if (req.target().find("/oauth2/v2.0/token") != std::string_view::npos &&
      gate->armed.exchange(false)) {
    gate->entered.set_value();
    auto wait = gate->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_await std::move(wait);
  }
  auto op = idp->handle(std::move(req), conn);
  auto res = co_await std::move(op);
  co_return res;
}

std::string org_json(std::string_view name, std::string_view client, const std::string& authority) {
  return R"({"name": ")" + std::string(name) + R"(", "tenant_id": ")" + std::string(kTenant) +
         R"(", "client_id": ")" + std::string(client) + R"(", "authority": ")" + authority +
         R"(", "redirect_uri": "https://)" + std::string(name) +
         R"(.example.com/api/single-sign-on"})";
}

std::shared_ptr<const server_config> make_config(const std::string& organisations) {
  const std::string text = R"({
    "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "example.com"},
    "session": {"issuer": "https://example.com",
                "signing_keys": [{"private_key_file": "/unused/session.pem"}]},
    "cookies": {"keys": [{"id": 1, "secret_file": "/unused/cookie.key"}]},
    "accounts": {"mode": "tenant", "sqlite_path": "/unused/accounts.db"},
    "metrics": {"organisation_labels": true},
    "organisations": [)" + organisations +
                           "]}";
  auto cfg = parse_config(text, config_environment{});
  if (!cfg) throw std::runtime_error(format_errors(cfg.error()));
  return *cfg;
}

class SnapshotSwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pki = test::cached_test_pki_files();
    idp_server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          return gated_idp(&gate_, idp_.get(), std::move(req), conn);
        });
    net::listener_options lo;
    lo.address = "127.0.0.1";
    lo.port = 0;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    base_ = "https://localhost:" + std::to_string(idp_server_->listen(lo).value().port());

    mock::mock_idp_config mc;
    mc.base_url = base_;
    mock::mock_tenant t;
    t.id = std::string(kTenant);
    t.clients.push_back({std::string(kAcmeClient),
                         mock::client_type::spa,
                         {},
                         {"https://acme.example.com/api/single-sign-on"}});
    t.clients.push_back({std::string(kBetaClient),
                         mock::client_type::spa,
                         {},
                         {"https://beta.example.com/api/single-sign-on"}});
    t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000a", "Ada Lovelace", "ada@acme.example",
                       "ada@acme.example", false});
    t.default_user = "ada@acme.example";
    mc.tenants.push_back(t);
    idp_ = std::make_unique<mock::identity_provider>(mc, wall_now, idp_rng_);

    auto ring = std::make_shared<cookie_key_ring>();
    std::array<std::uint8_t, 32> key{};
    key[0] = 7;
    ASSERT_TRUE(ring->add(1, key));
    auto pem = generate_ec_p256_private_key_pem().value();
    std::vector<session_key> keys{{pem, "s1"}};
    secrets_.cookie_keys = ring;
    secrets_.sessions = std::make_shared<const session_signer>(
        session_signer::create(keys, {"https://example.com", 8h, 30s}).value());

    net::client_options copts;
    copts.tls = net::make_client_tls_context(pki.ca.string()).value();
    copts.connect_timeout = 2s;
    copts.read_timeout = 5s;
    copts.total_timeout = 8s;
    client_ = std::make_shared<net::http_client>(io_.get_executor(), copts);

    app_dependencies deps;
    deps.config = make_config(org_json("acme", kAcmeClient, base_));
    deps.secrets = secrets_;
    deps.client = client_;
    deps.blocking = &pool_;
    app_ = std::make_unique<app>(std::move(deps));
    app_->set_ready(true);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { gate_.timer.cancel(); });
    client_->shutdown();
    auto done = asio::co_spawn(io_, idp_server_->shutdown(200ms), asio::use_future);
    done.wait_for(5s);
    work_.reset();
    io_.stop();
    thread_.join();
    app_.reset();
    pool_.join();
  }

  std::future<handled_request> start(std::string host, std::string target,
                                     std::string cookies = {}) {
    net::request req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    if (!cookies.empty()) req.set(http::field::cookie, cookies);
    req.set(http::field::accept, "text/html");
    net::connection_info conn;
    conn.peer = asio::ip::make_address("192.0.2.10");
    conn.tls = true;
    return asio::co_spawn(io_, app_->handle(std::move(req), conn), asio::use_future);
  }

  handled_request call(std::string host, std::string target, std::string cookies = {}) {
    auto f = start(std::move(host), std::move(target), std::move(cookies));
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
      std::string c(it->value());
      if (c.starts_with(prefix)) return c.substr(0, c.find(';'));
    }
    return {};
  }

  void swap_to(const std::string& organisations) {
    auto snap = std::make_shared<app_snapshot>();
    snap->config = make_config(organisations);
    snap->secrets = secrets_;
    app_->replace_snapshot(std::move(snap));
  }

  asio::io_context io_;
  blocking_pool pool_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  token_gate gate_{io_};
  openssl_random idp_rng_;
  std::unique_ptr<mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> idp_server_;
  std::shared_ptr<net::http_client> client_;
  runtime_secrets secrets_;
  std::unique_ptr<app> app_;
  std::string base_;
};

TEST_F(SnapshotSwapTest, AddedOrganisationAnswersAfterSwap) {
  auto before = call("beta.example.com", "/api/single-sign-on/login");
  EXPECT_EQ(before.reason, auth_error::organisation_unknown);
  EXPECT_EQ(before.response.result_int(), 404u);

  swap_to(org_json("acme", kAcmeClient, base_) + "," + org_json("beta", kBetaClient, base_));
  auto after = call("beta.example.com", "/api/single-sign-on/login");
  ASSERT_EQ(after.response.result_int(), 302u) << after.response.body();
  EXPECT_EQ(after.organisation, "beta");
  auto params = parse_query(query_of(after.response[http::field::location])).value();
  EXPECT_EQ(params.get("client_id"), kBetaClient);
  EXPECT_EQ(call("acme.example.com", "/api/single-sign-on/login").response.result_int(), 302u);
}

TEST_F(SnapshotSwapTest, OrganisationSeriesFollowTheSwap) {
  const std::string acme_started =
      R"(oidc_organisation_logins_total{organisation="acme",outcome="started"})";
  const std::string beta_started =
      R"(oidc_organisation_logins_total{organisation="beta",outcome="started"})";
  ASSERT_EQ(call("acme.example.com", "/api/single-sign-on/login").response.result_int(), 302u);
  auto text = app_->metrics().render_metrics();
  EXPECT_NE(text.find(acme_started + " 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(organisation="beta")"), std::string::npos);

  swap_to(org_json("acme", kAcmeClient, base_) + "," + org_json("beta", kBetaClient, base_));
  ASSERT_EQ(call("beta.example.com", "/api/single-sign-on/login").response.result_int(), 302u);
  text = app_->metrics().render_metrics();
  EXPECT_NE(text.find(acme_started + " 1\n"), std::string::npos);
  EXPECT_NE(text.find(beta_started + " 1\n"), std::string::npos) << text;

  swap_to(org_json("beta", kBetaClient, base_));
  text = app_->metrics().render_metrics();
  EXPECT_EQ(text.find(R"(organisation="acme")"), std::string::npos);
  EXPECT_NE(text.find(beta_started + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("oidc_logins_started_total 2\n"), std::string::npos);
}

TEST_F(SnapshotSwapTest, RequestInFlightFinishesOnItsSnapshot) {
  auto login = call("acme.example.com", "/api/single-sign-on/login?return_to=%2Freports");
  ASSERT_EQ(login.response.result_int(), 302u) << login.response.body();
  const auto state_cookie = cookie_pair(login.response, "__Host-oidc-login-");
  auto authorized = fetch(std::string(login.response[http::field::location]));
  ASSERT_EQ(authorized.status, 302u) << authorized.body;
  std::string callback(authorized.headers[http::field::location]);
  callback = callback.substr(std::string_view("https://acme.example.com").size());

  gate_.armed = true;
  auto entered = gate_.entered.get_future();
  auto in_flight = start("acme.example.com", callback, state_cookie);
  ASSERT_EQ(entered.wait_for(10s), std::future_status::ready);

  // acme leaves the configuration while its callback waits for the token endpoint.
  swap_to(org_json("beta", kBetaClient, base_));
  EXPECT_EQ(call("acme.example.com", "/api/single-sign-on/login").reason,
            auth_error::organisation_unknown);
  asio::post(io_, [this] { gate_.timer.cancel(); });

  ASSERT_EQ(in_flight.wait_for(10s), std::future_status::ready);
  auto done = in_flight.get();
  ASSERT_EQ(done.response.result_int(), 302u) << done.response.body();
  EXPECT_EQ(done.response[http::field::location], "/reports");
  EXPECT_FALSE(cookie_pair(done.response, "__Host-oidc-session=").empty());
}

TEST_F(SnapshotSwapTest, IncompleteSnapshotIsIgnored) {
  app_->replace_snapshot(std::make_shared<app_snapshot>());
  EXPECT_EQ(call("acme.example.com", "/api/single-sign-on/login").response.result_int(), 302u);
}

// --- building and reporting a snapshot ----------------------------------------------------

secret_reader map_reader(std::map<std::string, std::string> files) {
  secret_reader r;
  r.read_file = [files](const std::filesystem::path& p) -> std::optional<std::string> {
    auto it = files.find(p.string());
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  r.getenv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  return r;
}

TEST(ReloadSnapshot, MissingSecretRefusesWithFieldPathAndNoValue) {
  auto running = make_config(org_json("acme", kAcmeClient, "https://login.example"));
  auto next = make_config(org_json("acme", kAcmeClient, "https://login.example"));
  auto out = build_snapshot(
      next, *running,
      map_reader({{"/unused/session.pem", generate_ec_p256_private_key_pem().value()}}));
  EXPECT_EQ(out.snapshot, nullptr);
  ASSERT_FALSE(out.errors.empty());
  EXPECT_EQ(out.errors[0].path, "cookies.keys[0].secret_file");
  const auto line = reload_log_line(out);
  EXPECT_NE(line.find(R"("event":"reload")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("outcome":"refused")"), std::string::npos) << line;
  EXPECT_NE(line.find("cookies.keys[0].secret_file"), std::string::npos) << line;
}

TEST(ReloadSnapshot, ValidSnapshotIsOkAndReportsRestartOnlySettings) {
  const std::string cookie_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  auto running = make_config(org_json("acme", kAcmeClient, "https://login.example"));
  std::string text = R"({
    "server": {"listen": [{"address": "127.0.0.1", "port": 8081}], "base_domain": "example.com"},
    "session": {"issuer": "https://example.com",
                "signing_keys": [{"private_key_file": "/unused/session.pem"}]},
    "cookies": {"keys": [{"id": 1, "secret_file": "/unused/cookie.key"}]},
    "accounts": {"mode": "tenant", "sqlite_path": "/unused/accounts.db"},
    "organisations": [)" +
                     org_json("acme", kAcmeClient, "https://login.example") + "]}";
  auto next = parse_config(text, config_environment{}).value();
  auto out = build_snapshot(
      next, *running,
      map_reader({{"/unused/session.pem", generate_ec_p256_private_key_pem().value()},
                  {"/unused/cookie.key", cookie_key}}));
  ASSERT_NE(out.snapshot, nullptr);
  EXPECT_TRUE(out.errors.empty());
  // The running configuration has organisation labels on (make_config), this one not.
  ASSERT_EQ(out.not_applied,
            (std::vector<std::string>{"server.listen", "metrics.organisation_labels"}));
  const auto line = reload_log_line(out);
  EXPECT_EQ(line, R"({"event":"reload","outcome":"ok","errors":[],)"
                  R"("not_applied":["server.listen","metrics.organisation_labels"]})");
  EXPECT_EQ(line.find(cookie_key), std::string::npos);
}

// --- SIGHUP on the real binary ------------------------------------------------------------

const std::filesystem::path kBinary =
    std::filesystem::path(OIDC_BINARY_DIR) / "oidc-callback-server";

// The status code of GET `target` with Host `host` on 127.0.0.1:port (0 when unreachable).
unsigned http_get_status(unsigned short port, const std::string& host, const std::string& target) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return 0;
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req), ec);
  if (ec) return 0;
  std::string res;
  std::array<char, 4096> buf{};
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    res.append(buf.data(), n);
    if (ec) break;
  }
  if (!res.starts_with("HTTP/1.1 ") || res.size() < 12) return 0;
  return static_cast<unsigned>(std::stoi(res.substr(9, 3)));
}

class ReloadProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << "not built: " << kBinary;
    dir_ = std::filesystem::temp_directory_path() /
           ("oidc-reload-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "session.pem") << generate_ec_p256_private_key_pem().value();
    std::ofstream(dir_ / "cookie.key")
        << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

    const auto& pki = test::cached_test_pki_files();
    ca_file_ = pki.ca.string();
    idp_server_ = std::make_unique<net::http_server>(
        io_, [this](net::request req, net::connection_info conn) {
          return idp_->handle(std::move(req), conn);
        });
    net::listener_options lo;
    lo.address = "127.0.0.1";
    lo.port = 0;
    lo.tls = net::make_server_tls_context(pki.cert.string(), pki.key.string()).value();
    base_ = "https://localhost:" + std::to_string(idp_server_->listen(lo).value().port());
    mock::mock_idp_config mc;
    mc.base_url = base_;
    mock::mock_tenant t;
    t.id = std::string(kTenant);
    t.clients.push_back({std::string(kAcmeClient), mock::client_type::spa, {}, {}});
    t.clients.push_back({std::string(kBetaClient), mock::client_type::spa, {}, {}});
    mc.tenants.push_back(t);
    idp_ = std::make_unique<mock::identity_provider>(mc, wall_now, idp_rng_);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 100 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(50ms);
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    if (idp_server_) {
      auto done = asio::co_spawn(io_, idp_server_->shutdown(200ms), asio::use_future);
      done.wait_for(5s);
      work_.reset();
      io_.stop();
      thread_.join();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string org(std::string_view name, std::string_view client) const {
    return R"({"name": ")" + std::string(name) + R"(", "tenant_id": ")" + std::string(kTenant) +
           R"(", "client_id": ")" + std::string(client) + R"(", "authority": ")" + base_ +
           R"(", "redirect_uri": "http://)" + std::string(name) +
           R"(.localhost:8080/api/single-sign-on"})";
  }

  void write_config(const std::string& organisations) {
    const auto tmp = dir_ / "config.json.tmp";
    std::ofstream(tmp) << R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "localhost",
                 "cookie_mode": "development", "io_threads": 1},
      "session": {"issuer": "http://localhost:8080",
                  "signing_keys": [{"private_key_file": "session.pem"}]},
      "cookies": {"keys": [{"id": 1, "secret_file": "cookie.key"}]},
      "accounts": {"mode": "tenant", "sqlite_path": "accounts.db"},
      "upstream": {"ca_file": ")" +
                              ca_file_ +
                              R"("},
      "organisations": [)" + organisations +
                              "]}";
    std::filesystem::rename(tmp, dir_ / "config.json");  // readers never see half a file
  }

  void start_binary() {
    log_ = dir_ / "server.log";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      const std::string bin = kBinary.string();
      const std::string cfg = (dir_ / "config.json").string();
      ::execl(bin.c_str(), bin.c_str(), "--config", cfg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto line = wait_for_log(R"("event":"listening")", 1);
    ASSERT_FALSE(line.empty()) << read_log();
    const auto p = line.find(R"("port":)");
    port_ = static_cast<unsigned short>(std::stoi(line.substr(p + 7)));
  }

  std::string read_log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // The `nth` log line containing `needle`, waiting up to 10 s; empty when it never came.
  std::string wait_for_log(std::string_view needle, int nth) const {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::istringstream lines(read_log());
      int seen = 0;
      for (std::string l; std::getline(lines, l);)
        if (l.find(needle) != std::string::npos && ++seen == nth) return l;
      std::this_thread::sleep_for(20ms);
    }
    return {};
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  openssl_random idp_rng_;
  std::unique_ptr<mock::identity_provider> idp_;
  std::unique_ptr<net::http_server> idp_server_;
  std::string base_;
  std::string ca_file_;
  std::filesystem::path dir_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

TEST_F(ReloadProcessTest, SighupAddsOrganisationAndRefusesBrokenConfig) {
  write_config(org("acme", kAcmeClient));
  start_binary();
  ASSERT_NE(port_, 0);
  EXPECT_EQ(http_get_status(port_, "acme.localhost", "/api/single-sign-on/login"), 302u);
  EXPECT_EQ(http_get_status(port_, "beta.localhost", "/api/single-sign-on/login"), 404u);

  write_config(org("acme", kAcmeClient) + "," + org("beta", kBetaClient));
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  const auto ok = wait_for_log(R"("event":"reload")", 1);
  EXPECT_NE(ok.find(R"("outcome":"ok")"), std::string::npos) << read_log();
  EXPECT_EQ(http_get_status(port_, "beta.localhost", "/api/single-sign-on/login"), 302u);

  std::ofstream(dir_ / "config.json") << R"({"server": {"listen": "nope"}})";
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  const auto refused = wait_for_log(R"("event":"reload")", 2);
  EXPECT_NE(refused.find(R"("outcome":"refused")"), std::string::npos) << read_log();
  EXPECT_EQ(http_get_status(port_, "acme.localhost", "/api/single-sign-on/login"), 302u);
  EXPECT_EQ(http_get_status(port_, "beta.localhost", "/api/single-sign-on/login"), 302u);
  EXPECT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0);  // still running
}

}  // namespace
}  // namespace oidc::server
