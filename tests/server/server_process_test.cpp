// SPDX-License-Identifier: Apache-2.0
// The running oidc-callback-server process: request limits and deadlines from its configuration
// (431, slowloris 408) and a SIGTERM that lets an in-flight callback finish (skipped when the
// binary has not been built in this build tree).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "metrics_scrape.hpp"
#include "oidc/session_token.hpp"
#include "process_harness.hpp"

namespace {

using namespace oidc::test::process;

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << "not built: " << kBinary;
    dir_ = std::filesystem::temp_directory_path() /
           ("oidc-process-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    write_dev_secrets(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // A development-mode server on a plain loopback listener; `timeouts` is a JSON object body.
  std::string write_config(const std::string& timeouts, const std::string& authority = {},
                           const std::string& ca_file = {}) {
    return write_dev_config(dir_, timeouts, authority, ca_file);
  }

  std::filesystem::path dir_;
};

TEST_F(ServerProcessTest, OversizedHeadersAre431) {
  server_process p;
  ASSERT_TRUE(p.start(write_config(R"("shutdown_drain": "1s")")));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();

  const std::string big(17 * 1024, 'a');
  auto r = round_trip(port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + big +
                                "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.data.starts_with("HTTP/1.1 431")) << r.data.substr(0, 200);
  EXPECT_TRUE(r.closed);

  // The listener still serves a normal request afterwards.
  auto ok =
      round_trip(port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(ok.data.starts_with("HTTP/1.1 200")) << ok.data.substr(0, 200);

  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
}

// Finds the access-log line of `route` in the server's stderr and parses it.
boost::json::object access_line(const std::string& output, std::string_view route) {
  const std::string key = R"("route":")" + std::string(route) + "\"";
  std::size_t start = 0;
  while (start < output.size()) {
    const auto end = output.find('\n', start);
    const std::string line = output.substr(start, end == std::string::npos ? end : end - start);
    if (line.find(key) != std::string::npos) return boost::json::parse(line).as_object();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  ADD_FAILURE() << "no access-log line for " << route << " in:\n" << output;
  return {};
}

TEST_F(ServerProcessTest, AccessLogHasOneJsonLinePerRequestAndNoSecrets) {
  server_process p;
  ASSERT_TRUE(p.start(write_config(R"("shutdown_drain": "1s")")));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();
  auto callback = round_trip(port,
                             "GET /api/single-sign-on?code=CODE-SECRET-1&state=STATE-SECRET-2 "
                             "HTTP/1.1\r\nHost: localhost\r\nCookie: oidc-session=COOKIE-SECRET-3"
                             "\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(callback.data.starts_with("HTTP/1.1 400")) << callback.data.substr(0, 200);
  auto verify = round_trip(port,
                           "POST /api/verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
                           "Bearer BEARER-SECRET-4\r\nContent-Length: 0\r\nConnection: close"
                           "\r\n\r\n");
  EXPECT_TRUE(verify.data.starts_with("HTTP/1.1 401")) << verify.data.substr(0, 200);
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
  const std::string out = p.output();

  const auto c = access_line(out, "callback");
  EXPECT_EQ(c.at("method").as_string(), "GET");
  EXPECT_EQ(c.at("status").as_int64(), 400);
  EXPECT_EQ(c.at("org").as_string(), "demo");
  EXPECT_EQ(c.at("reason").as_string(), "state_mismatch");
  EXPECT_FALSE(c.at("request_id").as_string().empty());
  EXPECT_GE(c.at("duration_us").as_int64(), 0);
  EXPECT_GT(c.at("ts").as_int64(), 1'700'000'000'000);
  const auto v = access_line(out, "verify");
  EXPECT_EQ(v.at("method").as_string(), "POST");
  EXPECT_EQ(v.at("status").as_int64(), 401);
  EXPECT_EQ(v.at("reason").as_string(), "malformed_token");
  EXPECT_NE(c.at("request_id").as_string(), v.at("request_id").as_string());
  for (const char* secret : {"CODE-SECRET", "STATE-SECRET", "COOKIE-SECRET", "BEARER-SECRET"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " leaked into:\n" << out;
}

// The logging tests: a server with `logging` settings, on its port; one GET /healthz answered.
class LoggingProcessTest : public ServerProcessTest {
 protected:
  std::uint16_t start(server_process& p, const std::string& logging) {
    if (!p.start(write_dev_config(dir_, R"("shutdown_drain": "1s")", {}, {},
                                  R"("logging": )" + logging + ",")))
      return 0;
    return p.wait_for_port(10s);
  }
  static void expect_healthz(std::uint16_t port) {
    auto r =
        round_trip(port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(r.data.starts_with("HTTP/1.1 200")) << r.data.substr(0, 200);
  }
};

// Access-log lines reach stderr within logging.access_log_flush_interval while the server runs
// (no shutdown needed), after the events written before them.
TEST_F(LoggingProcessTest, AccessLogIsWrittenWithinTheFlushInterval) {
  server_process p;
  const auto port = start(p, R"({"access_log_flush_interval": "20ms"})");
  ASSERT_NE(port, 0) << p.output();
  expect_healthz(port);
  EXPECT_TRUE(p.wait_for_output(R"("route":"healthz")", 10s)) << p.output();
  const std::string out = p.output();
  EXPECT_LT(out.find(R"({"event":"listening")"), out.find(R"("route":"healthz")"));
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
}

// logging.access_log false: events only.
TEST_F(LoggingProcessTest, AccessLogCanBeSwitchedOff) {
  server_process p;
  const auto port = start(p, R"({"access_log": false})");
  ASSERT_NE(port, 0) << p.output();
  expect_healthz(port);
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
  const std::string out = p.output();
  EXPECT_NE(out.find(R"({"event":"stopped"})"), std::string::npos) << out;
  EXPECT_EQ(out.find(R"("route":)"), std::string::npos) << out;
}

// The process reading the server's stderr goes away (a crashed log shipper): log writes fail
// with EPIPE and are dropped; SIGPIPE must not kill the server.
TEST_F(LoggingProcessTest, KeepsServingWhenItsLogReaderIsGone) {
  server_process p;
  p.close_output_after(R"({"event":"listening")");
  const auto port = start(p, R"({"access_log_flush_interval": "0s"})");
  ASSERT_NE(port, 0) << p.output();
  for (int i = 0; i < 3; ++i)
    expect_healthz(port);
  // The three access lines went nowhere, and the scrape says so.
  const auto scrape =
      round_trip(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(scrape.data.starts_with("HTTP/1.1 200")) << scrape.data.substr(0, 200);
  const auto dropped =
      oidc::test::metrics_scrape::value_of(scrape.data, "oidc_log_dropped_bytes_total");
  ASSERT_TRUE(dropped.has_value()) << scrape.data;
  EXPECT_GE(*dropped, 3 * 100.0);  // an access line is a few hundred bytes
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0);
}

// A method Beast does not know (verb::unknown) is routed like any other and logged by its
// token; the access log once rebuilt a request from the verb, which threw and answered 500.
TEST_F(LoggingProcessTest, UnknownMethodIsAnsweredAndLoggedByName) {
  server_process p;
  const auto port = start(p, R"({"access_log_flush_interval": "1s"})");
  ASSERT_NE(port, 0) << p.output();
  auto r =
      round_trip(port, "FOO /api/verify HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.data.starts_with("HTTP/1.1 401")) << r.data.substr(0, 200);
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
  const auto v = access_line(p.output(), "verify");
  EXPECT_EQ(v.at("method").as_string(), "FOO");
  EXPECT_EQ(v.at("status").as_int64(), 401);
}

// The longest flush interval loses nothing at a clean shutdown.
TEST_F(LoggingProcessTest, AccessLogHeldForALongIntervalIsWrittenAtShutdown) {
  server_process p;
  const auto port = start(p, R"({"access_log_flush_interval": "1m"})");
  ASSERT_NE(port, 0) << p.output();
  expect_healthz(port);
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
  const std::string out = p.output();
  EXPECT_NE(out.find(R"("route":"healthz")"), std::string::npos) << out;
}

TEST_F(ServerProcessTest, SlowlorisIsCutOffAtTheConfiguredHeaderDeadline) {
  server_process p;
  ASSERT_TRUE(p.start(write_config(R"("header_read": "300ms", "shutdown_drain": "1s")")));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();

  const int fd = connect_loopback(port);
  ASSERT_GE(fd, 0);
  const auto started = steady::now();
  // The request line and one header, then nothing more: the headers never complete.
  ASSERT_TRUE(send_all(fd, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"));
  auto r = read_until_close(fd, 5s);
  const auto took = steady::now() - started;
  ::close(fd);
  EXPECT_TRUE(r.closed) << "the connection stayed open";
  if (!r.data.empty()) {
    EXPECT_TRUE(r.data.starts_with("HTTP/1.1 408")) << r.data.substr(0, 200);
  }
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);

  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
}

TEST_F(ServerProcessTest, SigtermLetsAnInFlightCallbackFinish) {
  mock_tenant_server idp;
  server_process p;
  ASSERT_TRUE(p.start(write_config(R"("shutdown_drain": "10s")", idp.base(), idp.ca_file())));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();

  auto login = round_trip(port,
                          "GET /api/single-sign-on/login HTTP/1.1\r\nHost: localhost\r\n"
                          "Accept: text/html\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(login.data.starts_with("HTTP/1.1 302")) << login.data.substr(0, 400);
  const std::string authorize_url = header_value(login.data, "Location");
  const std::string set_cookie = header_value(login.data, "Set-Cookie");
  ASSERT_TRUE(authorize_url.starts_with(idp.base())) << authorize_url;
  ASSERT_NE(set_cookie.find("oidc-login"), std::string::npos) << set_cookie;
  const std::string state_cookie = set_cookie.substr(0, set_cookie.find(';'));

  auto authorized = idp.get(authorize_url);
  ASSERT_TRUE(authorized);
  ASSERT_EQ(authorized->status, 302u) << authorized->body;
  const std::string callback_url(authorized->headers[http::field::location]);
  ASSERT_TRUE(callback_url.starts_with(kRedirect)) << callback_url;
  const std::string callback =
      callback_url.substr(std::string_view("http://localhost:8080").size());

  ASSERT_EQ(idp.post_json(idp.base() + "/admin/faults", R"({"latency_ms": 500})"), 200u);
  ASSERT_EQ(idp.idp().faults().latency, 500ms);

  const int fd = connect_loopback(port);
  ASSERT_GE(fd, 0);
  const auto sent = steady::now();
  ASSERT_TRUE(send_all(fd, "GET " + callback +
                               " HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n"
                               "Cookie: " +
                               state_cookie + "\r\nConnection: close\r\n\r\n"));
  // SIGTERM once the server is waiting on the (slow) token endpoint.
  const auto deadline = steady::now() + 5s;
  while (idp.token_requests() == 0 && steady::now() < deadline)
    std::this_thread::sleep_for(2ms);
  ASSERT_EQ(idp.token_requests(), 1);
  p.send_signal(SIGTERM);

  auto r = read_until_close(fd, 10s);
  ::close(fd);
  // The answer came after the token endpoint's latency, i.e. after the SIGTERM.
  EXPECT_GE(steady::now() - sent, 450ms);
  EXPECT_TRUE(r.data.starts_with("HTTP/1.1 302")) << r.data.substr(0, 400);
  EXPECT_EQ(header_value(r.data, "Location"), "/");
  EXPECT_NE(r.data.find("oidc-session="), std::string::npos);
  EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
  const auto out = p.output();
  EXPECT_NE(out.find(R"({"event":"shutting_down"})"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"event":"stopped"})"), std::string::npos) << out;
}

}  // namespace
