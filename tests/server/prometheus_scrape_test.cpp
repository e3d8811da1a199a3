// SPDX-License-Identifier: Apache-2.0
// A real Prometheus (Debian's, started on loopback with a temporary config and data dir and a
// 1 s scrape interval) scrapes the running oidc-callback-server after scripted logins and
// verifications against the mock IdP: exact counter values by instant queries on raw
// _total/_count series, then, under live login and verify traffic, every PromQL expression of
// the dashboard returns series, and every alert rule loads, evaluates healthy and its expression
// runs without error through the HTTP query API. Bounded in time; skipped without the binary
// (fails under CI=true).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "metrics_scrape.hpp"
#include "support/testdata.hpp"

extern char** environ;

namespace oidc::test {
namespace {

using namespace oidc::test::process;
using namespace oidc::test::metrics_scrape;

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

int listen_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// GET http://127.0.0.1:<port><target> (HTTP/1.0, read to close); the body or nullopt.
std::optional<std::string> http_get(std::uint16_t port, const std::string& target) {
  const fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return std::nullopt;
  timeval tv{5, 0};
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
  const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(s.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return std::nullopt;
  }
  std::string response;
  char buf[8192];
  for (ssize_t n; (n = ::recv(s.fd, buf, sizeof buf, 0)) > 0;) {
    response.append(buf, static_cast<std::size_t>(n));
  }
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

class prometheus_process {
 public:
  prometheus_process(const std::string& binary, const std::filesystem::path& dir,
                     std::uint16_t scrape_port, const std::filesystem::path& rules) {
    std::uint16_t port = 0;
    {
      const fd_guard probe(listen_loopback(port));  // a free port; released for Prometheus
    }
    port_ = port;
    const auto config = dir / "prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          << "rule_files:\n  - " << rules.string() << "\n"
                          << "scrape_configs:\n  - job_name: oidc-callback-server\n"
                          << "    static_configs:\n      - targets: ['127.0.0.1:" << scrape_port
                          << "']\n";
    log_ = dir / "prometheus.log";
    std::vector<std::string> args{binary, "--config.file=" + config.string(),
                                  "--storage.tsdb.path=" + (dir / "data").string(),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                  "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~prometheus_process() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = clock_type::now() + 10s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (clock_type::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  prometheus_process(const prometheus_process&) = delete;
  prometheus_process& operator=(const prometheus_process&) = delete;

  bool started() const { return pid_ > 0; }
  std::string log() const { return test::read_file(log_); }

  // An instant query: the parsed response, or null on a transport/parse failure.
  boost::json::value query(const std::string& promql) const {
    const auto body = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
    if (!body) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(*body, ec);
    return ec ? boost::json::value(nullptr) : v;
  }
  boost::json::value get(const std::string& target) const {
    const auto body = http_get(port_, target);
    if (!body) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(*body, ec);
    return ec ? boost::json::value(nullptr) : v;
  }
  // The single value of an instant query, or nullopt.
  std::optional<double> scalar(const std::string& promql) const {
    const auto v = query(promql);
    const auto* o = v.if_object();
    if (o == nullptr || o->at("status") != "success") return std::nullopt;
    const auto& result = o->at("data").at("result").as_array();
    if (result.size() != 1) return std::nullopt;
    return std::strtod(result[0].at("value").as_array()[1].as_string().c_str(), nullptr);
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path log_;
};

bool wait_until(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return done();
}

std::vector<std::string> dashboard_expressions() {
  const auto d = boost::json::parse(test::read_file(
      std::filesystem::path(OIDC_SOURCE_DIR) / "metrics/dashboards/oidc-callback-server.json"));
  std::vector<std::string> out;
  for (const auto& p : d.at("panels").as_array()) {
    if (const auto* targets = p.as_object().if_contains("targets")) {
      for (const auto& t : targets->as_array())
        out.emplace_back(t.at("expr").as_string());
    }
  }
  return out;
}

// Grafana's substitutions: $__rate_interval (4 scrape intervals at least) and the instance
// variable set to "All".
std::string substitute_grafana(std::string expr) {
  expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "15s");
  expr = std::regex_replace(expr, std::regex(R"(\$instance)"), ".*");
  return expr;
}

TEST(PrometheusServer, ScrapesQueriesDashboardAndEvaluatesAlertRules) {
  const std::string binary =
      std::getenv("OIDC_PROMETHEUS") ? std::getenv("OIDC_PROMETHEUS") : find_program("prometheus");
  if (binary.empty()) {
    if (test::running_in_ci()) FAIL() << "prometheus missing under CI=true";
    GTEST_SKIP() << "prometheus not found (Debian package prometheus; scripts/install-deps.sh "
                    "--with-prometheus): skipped";
  }
  mock_tenant_server idp;
  char tmpl[] = "/tmp/oidc-prometheus-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  struct cleanup {
    std::filesystem::path d;
    ~cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } const remove_dir{dir};
  write_dev_secrets(dir);
  server_process server;
  ASSERT_TRUE(
      server.start(write_dev_config(dir, R"("shutdown_drain": "1s")", idp.base(), idp.ca_file(),
                                    // Key sets refreshed every second, so the fault window
                                    // below shows refresh errors.
                                    R"("metrics": {"organisation_labels": true},)"
                                    R"("jwks": {"min_refresh_interval": "1s",
                                                "max_age_min": "1s", "max_age_max": "1s",
                                                "default_max_age": "1s"},)")));
  const auto port = server.wait_for_port(10s);
  ASSERT_NE(port, 0) << server.output();
  // Known totals before Prometheus starts (metrics_scrape.hpp lists them).
  const auto traffic = scripted_traffic(port, idp);
  ASSERT_TRUE(traffic.ok) << traffic.problem << "\n" << server.output();
  std::optional<prometheus_process> prom;
  prom.emplace(
      binary, dir, port,
      std::filesystem::path(OIDC_SOURCE_DIR) / "metrics/alerts/oidc-callback-server.rules.yml");
  ASSERT_TRUE(prom->started());

  // At least two scrapes stored.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto n = prom->scalar("count_over_time(up{job=\"oidc-callback-server\"}[1m])");
        return n && *n >= 2;
      },
      40s))
      << prom->log();
  EXPECT_EQ(prom->scalar("up{job=\"oidc-callback-server\"}"), 1.0);

  // Exact values: instant queries on raw counters only (rate/increase extrapolate).
  EXPECT_EQ(prom->scalar("oidc_logins_started_total"), 4.0);
  EXPECT_EQ(prom->scalar("oidc_logins_completed_total"), 2.0);
  EXPECT_EQ(prom->scalar("oidc_logins_failed_total{reason=\"state_mismatch\"}"), 1.0);
  EXPECT_EQ(prom->scalar("oidc_logins_failed_total{reason=\"state_replayed\"}"), 1.0);
  EXPECT_EQ(prom->scalar("oidc_logins_failed_total{reason=\"token_endpoint_error\"}"), 1.0);
  EXPECT_EQ(prom->scalar("oidc_logins_failed_total{reason=\"nonce_mismatch\"}"), 0.0);
  EXPECT_EQ(prom->scalar("sum(oidc_logins_failed_total)"), 5.0);
  EXPECT_EQ(prom->scalar("oidc_login_callback_duration_seconds_count"), 2.0);
  EXPECT_EQ(prom->scalar("oidc_token_exchange_duration_seconds_count"), 3.0);
  EXPECT_EQ(prom->scalar("sum(oidc_token_endpoint_errors_total)"), 1.0);
  EXPECT_EQ(prom->scalar("oidc_verify_duration_seconds_count"), 5.0);
  EXPECT_EQ(prom->scalar("sum(oidc_verifications_total{result=\"valid\"})"), 3.0);
  EXPECT_EQ(
      prom->scalar("oidc_organisation_logins_total{organisation=\"demo\",outcome=\"completed\"}"),
      2.0);

  // Live traffic so rates are non-zero, for a few more scrapes.
  // Live traffic so rates are non-zero, for a few more scrapes: logins, failing callbacks (one
  // refused by the token endpoint), verifications that pass and fail, an unparsable request;
  // and one short window where the mock IdP fails every request, so key refreshes and IdP
  // requests show errors. Steps failing in that window are expected.
  std::atomic<bool> stop{false};
  std::thread live([&] {
    std::string ignored;
    while (!stop) {
      if (auto s = start_login(port, idp, ignored)) {
        const auto r = callback(port, s->callback_target, s->state_cookie);
        const auto session = set_cookie_pair(r.data, "oidc-session");
        (void)round_trip(port, get_request("/api/verify", "Cookie: " + session + "\r\n"));
      }
      if (auto s = start_login(port, idp, ignored))
        (void)callback(port, with_code(s->callback_target, "bogus"), s->state_cookie);
      (void)callback(port, "/api/single-sign-on?state=x&code=y", {});
      (void)round_trip(port, get_request("/api/verify", "Authorization: Bearer abc\r\n"));
      (void)round_trip(port, "GARBAGE\r\n\r\n");
      std::this_thread::sleep_for(50ms);
    }
  });
  ASSERT_EQ(idp.post_json(idp.base() + "/admin/faults", R"({"error_rate": 1})"), 200u);
  std::this_thread::sleep_for(2500ms);  // at least one refresher pass fails
  ASSERT_EQ(idp.post_json(idp.base() + "/admin/faults", R"({"error_rate": 0})"), 200u);
  auto scrapes = [&prom] {
    return prom->scalar("count_over_time(up{job=\"oidc-callback-server\"}[5m])").value_or(0);
  };
  const double before = scrapes();
  const bool scraped = wait_until([&] { return scrapes() >= before + 4; }, 20s);
  std::this_thread::sleep_for(1500ms);  // the last scrape is queryable
  EXPECT_TRUE(scraped);

  const auto expressions = dashboard_expressions();
  EXPECT_GT(expressions.size(), 30u);
  for (const std::string& raw : expressions) {
    const std::string expr = substitute_grafana(raw);
    const auto v = prom->query(expr);
    ASSERT_TRUE(v.is_object()) << expr;
    EXPECT_EQ(v.at("status"), "success") << expr << "\n" << boost::json::serialize(v);
    EXPECT_FALSE(v.at("data").at("result").as_array().empty()) << "no series: " << expr;
  }

  // The rule file loaded; every rule evaluated without error; its expression runs.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto r = prom->get("/api/v1/rules");
        if (!r.is_object() || r.at("status") != "success") return false;
        for (const auto& g : r.at("data").at("groups").as_array()) {
          for (const auto& rule : g.at("rules").as_array()) {
            if (rule.at("health") != "ok") return false;
          }
        }
        return !r.at("data").at("groups").as_array().empty();
      },
      15s))
      << boost::json::serialize(prom->get("/api/v1/rules"));
  const auto rules = prom->get("/api/v1/rules");
  std::size_t n = 0;
  for (const auto& g : rules.at("data").at("groups").as_array()) {
    for (const auto& rule : g.at("rules").as_array()) {
      ++n;
      const std::string expr(rule.at("query").as_string());
      const auto v = prom->query(expr);
      ASSERT_TRUE(v.is_object()) << expr;
      EXPECT_EQ(v.at("status"), "success") << expr;
    }
  }
  EXPECT_EQ(n, 8u);

  stop = true;
  live.join();
  prom.reset();
}

}  // namespace
}  // namespace oidc::test
