// SPDX-License-Identifier: Apache-2.0
// oidc-login-driver against the real processes: the mock IdP (HTTPS, its own dev PKI) and two
// callback servers, one good and one whose organisation the IdP refuses at the token endpoint.
// Checks completed logins, that failures land on the right step, the open-loop bound and the
// idle-connection mode (skipped when the binaries have not been built in this build tree).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "oidc/session_token.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

const fs::path kBin = OIDC_BINARY_DIR;
constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
constexpr std::string_view kSpaClient = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
constexpr std::string_view kWebClient = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

// A child process with stdout and stderr in a file; killed and reaped on destruction.
class child_process {
 public:
  child_process(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log_path = log.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~child_process() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGTERM);
    if (wait_exit(5s) < 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool started() const { return pid_ > 0; }

  // The exit code, or -1 when it did not exit within `limit` (or died of a signal).
  int wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = steady::now() + limit;
    while (steady::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A port free right now on 127.0.0.1 (the configurations need it before the processes start).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts_connections(std::uint16_t port, std::chrono::milliseconds limit) {
  const auto deadline = steady::now() + limit;
  while (steady::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

struct driver_run {
  int exit_code = -1;
  std::string output;
  boost::json::object report;
};

class DriverEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* name : {"oidc-login-driver", "oidc-mock-idp", "oidc-callback-server"}) {
      if (!fs::exists(kBin / name)) {
        skip_reason_ = "not built: " + (kBin / name).string();
        return;
      }
    }
    dir_ = fs::temp_directory_path() / ("oidc-driver-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    {
      child_process pki(
          {(kBin / "oidc-mock-idp").string(), "--generate-dev-pki", (dir_ / "pki").string()},
          dir_ / "pki.log");
      ASSERT_EQ(pki.wait_exit(30s), 0) << read_file(dir_ / "pki.log");
    }
    std::ofstream(dir_ / "session.pem") << oidc::generate_ec_p256_private_key_pem().value();
    std::ofstream(dir_ / "cookie.key")
        << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    std::ofstream(dir_ / "web.secret") << "web-client-secret-for-tests\n";

    idp_port_ = free_port();
    good_port_ = free_port();
    refusing_port_ = free_port();
    ASSERT_NE(idp_port_, 0);
    ASSERT_NE(good_port_, 0);
    ASSERT_NE(refusing_port_, 0);
    const std::string idp_base = "https://localhost:" + std::to_string(idp_port_);
    const std::string good_redirect = redirect_uri(good_port_);
    const std::string refusing_redirect = redirect_uri(refusing_port_);
    std::ofstream(dir_ / "idp.json")
        << R"({"base_url": ")" << idp_base << R"(",
      "listen": {"address": "127.0.0.1", "https_port": )"
        << idp_port_ << R"(, "cert_file": "pki/cert.pem",
                 "key_file": "pki/key.pem"},
      "tenants": [{"id": ")"
        << kTenant << R"(", "clients": [
        {"client_id": ")"
        << kSpaClient << R"(", "type": "spa", "redirect_uris": [")" << good_redirect << R"("]},
        {"client_id": ")"
        << kWebClient << R"(", "type": "web", "secret_file": "web.secret",
         "redirect_uris": [")"
        << refusing_redirect << R"("]}],
        "users": [{"oid": "5f0c9a3e-2b7d-4c1a-9e8f-0a1b2c3d4e01", "name": "Ada Lovelace",
                   "preferred_username": "ada@demo.example"}]}]})";
    // The refusing server presents the web client as a SPA (no secret, an Origin header): the
    // mock refuses the code redemption, as Entra would, and the server answers the callback 502.
    write_server_config("good.json", good_port_, kSpaClient, idp_base);
    write_server_config("refusing.json", refusing_port_, kWebClient, idp_base);

    idp_ = std::make_unique<child_process>(
        std::vector<std::string>{(kBin / "oidc-mock-idp").string(), "--config",
                                 (dir_ / "idp.json").string()},
        dir_ / "idp.log");
    good_ = std::make_unique<child_process>(
        std::vector<std::string>{(kBin / "oidc-callback-server").string(), "--config",
                                 (dir_ / "good.json").string()},
        dir_ / "good.log");
    refusing_ = std::make_unique<child_process>(
        std::vector<std::string>{(kBin / "oidc-callback-server").string(), "--config",
                                 (dir_ / "refusing.json").string()},
        dir_ / "refusing.log");
    ASSERT_TRUE(accepts_connections(idp_port_, 15s)) << read_file(dir_ / "idp.log");
    ASSERT_TRUE(accepts_connections(good_port_, 15s)) << read_file(dir_ / "good.log");
    ASSERT_TRUE(accepts_connections(refusing_port_, 15s)) << read_file(dir_ / "refusing.log");
  }

  static void TearDownTestSuite() {
    refusing_.reset();
    good_.reset();
    idp_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(idp_ && good_ && refusing_) << "the processes did not start";
  }

  static std::string redirect_uri(std::uint16_t port) {
    return "http://127.0.0.1:" + std::to_string(port) + "/api/single-sign-on";
  }

  static void write_server_config(const std::string& name, std::uint16_t port,
                                  std::string_view client, const std::string& idp_base) {
    std::ofstream(dir_ / name) << R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": )"
                               << port << R"(}], "base_domain": "localhost",
                 "default_organisation": "demo", "cookie_mode": "development", "io_threads": 1},
      "session": {"issuer": "http://127.0.0.1:)"
                               << port
                               << R"(", "signing_keys": [{"private_key_file": "session.pem"}]},
      "cookies": {"keys": [{"id": 1, "secret_file": "cookie.key"}]},
      "accounts": {"mode": "tenant", "sqlite_path": ")"
                               << name << R"(.db"},
      "upstream": {"ca_file": "pki/ca.pem"},
      "organisations": [{"name": "demo", "tenant_id": ")"
                               << kTenant << R"(", "client_id": ")" << client
                               << R"(", "authority": ")" << idp_base << R"(",
                         "redirect_uri": ")"
                               << redirect_uri(port) << R"("}]})";
  }

  static std::string url(std::uint16_t port, std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
  }

  // Runs the driver with `args` (plus --json) and parses its report.
  driver_run run_driver(std::vector<std::string> args) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    const fs::path json = dir_ / (std::string(test->name()) + ".json");
    const fs::path log = dir_ / (std::string(test->name()) + ".log");
    args.insert(args.begin(), (kBin / "oidc-login-driver").string());
    args.push_back("--json");
    args.push_back(json.string());
    driver_run r;
    {
      child_process driver(args, log);
      r.exit_code = driver.wait_exit(60s);
    }
    r.output = read_file(log);
    if (r.exit_code == 0) r.report = boost::json::parse(read_file(json)).as_object();
    return r;
  }

  std::vector<std::string> login_args(std::uint16_t port) {
    return {"--start-url",   url(port, "/api/single-sign-on/login"),
            "--session-url", url(port, "/api/session"),
            "--ca-file",     (dir_ / "pki" / "ca.pem").string(),
            "--users",       "2",
            "--warmup",      "0.2",
            "--duration",    "1",
            "--timeout-ms",  "3000"};
  }

  static std::int64_t number(const boost::json::object& o, std::string_view key) {
    return o.at(key).to_number<std::int64_t>();
  }

  inline static std::string skip_reason_;
  inline static fs::path dir_;
  inline static std::uint16_t idp_port_ = 0;
  inline static std::uint16_t good_port_ = 0;
  inline static std::uint16_t refusing_port_ = 0;
  inline static std::unique_ptr<child_process> idp_;
  inline static std::unique_ptr<child_process> good_;
  inline static std::unique_ptr<child_process> refusing_;
};

TEST_F(DriverEndToEnd, CompletesLoginsWithoutFailures) {
  const auto r = run_driver(login_args(good_port_));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto& report = r.report;
  const auto completed = number(report, "completed");
  EXPECT_GT(completed, 0) << r.output;
  EXPECT_EQ(number(report, "failed"), 0) << r.output;
  EXPECT_EQ(number(report, "users"), 2);
  EXPECT_GT(report.at("logins_per_s").to_number<double>(), 0.0);
  const auto& latency = report.at("latency_ms").as_object();
  // Every completed login went through every step exactly once (one home hop: "/").
  for (const char* step : {"login", "start", "authorize", "callback", "home", "session"}) {
    EXPECT_EQ(number(latency.at(step).as_object(), "count"), completed) << step;
    EXPECT_GT(latency.at(step).at("p99").to_number<double>(), 0.0) << step;
  }
  EXPECT_TRUE(report.at("failures").as_object().empty());
  EXPECT_NE(r.output.find("failures: none"), std::string::npos) << r.output;
}

TEST_F(DriverEndToEnd, AWrongCallbackPathFailsTheCallbackStep) {
  auto args = login_args(good_port_);
  args.insert(args.end(), {"--callback-path", "/oauth2/callback"});
  const auto r = run_driver(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number(r.report, "completed"), 0);
  const auto failed = number(r.report, "failed");
  EXPECT_GT(failed, 0);
  const auto& failures = r.report.at("failures").as_object();
  ASSERT_EQ(failures.size(), 1u) << r.output;
  EXPECT_EQ(number(failures.at("callback").as_object(), "missing_callback"), failed) << r.output;
}

TEST_F(DriverEndToEnd, AServerRefusingTheLoginFailsTheCallbackWithItsStatus) {
  const auto r = run_driver(login_args(refusing_port_));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number(r.report, "completed"), 0);
  const auto failed = number(r.report, "failed");
  EXPECT_GT(failed, 0);
  const auto& failures = r.report.at("failures").as_object();
  ASSERT_EQ(failures.size(), 1u) << r.output;
  EXPECT_EQ(number(failures.at("callback").as_object(), "status_502"), failed) << r.output;
  // Failed logins leave the latency table empty.
  EXPECT_EQ(number(r.report.at("latency_ms").at("callback").as_object(), "count"), 0);
}

TEST_F(DriverEndToEnd, AnUnreachableServerFailsTheStartStep) {
  auto args = login_args(free_port());
  const auto r = run_driver(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number(r.report, "completed"), 0);
  EXPECT_GT(number(r.report.at("failures").at("start").as_object(), "connect_failed"), 0)
      << r.output;
}

TEST_F(DriverEndToEnd, OpenLoopNeverStartsMoreThanTheRate) {
  auto args = login_args(good_port_);
  args.insert(args.end(), {"--rate", "20"});
  const auto r = run_driver(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto completed = number(r.report, "completed");
  // 20 starts per second for 1 s measured (+1 for a login started in the warm-up).
  EXPECT_GT(completed, 0) << r.output;
  EXPECT_LE(completed, 21) << r.output;
  EXPECT_EQ(r.report.at("rate").to_number<double>(), 20.0);
  // Only starts refused for lack of a free user may fail on a busy machine.
  for (const auto& [step, reasons] : r.report.at("failures").as_object()) {
    EXPECT_EQ(step, "start") << r.output;
    for (const auto& [reason, n] : reasons.as_object())
      EXPECT_EQ(reason, "saturated") << r.output;
  }
}

TEST_F(DriverEndToEnd, IdleModeHoldsKeepAliveConnections) {
  const auto r = run_driver(
      {"--idle-connections", "50", "--idle-url", url(good_port_, "/healthz"), "--hold", "0.3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("established 50\n"), std::string::npos) << r.output;
  EXPECT_EQ(number(r.report, "established"), 50);
  EXPECT_EQ(number(r.report, "closed_early"), 0);
  EXPECT_TRUE(r.report.at("failures").as_object().empty());
}

}  // namespace
