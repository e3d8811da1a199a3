// SPDX-License-Identifier: Apache-2.0
// The running server's /metrics after scripted logins (two that succeed, one failure each of
// five reasons) and verifications: exact counter values and histogram counts, organisation
// series, the admin listener keeping /metrics off the main port, and `promtool check metrics` on
// the real scrape (skipped without promtool, failed under CI=true).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aadsts.hpp"
#include "metrics_scrape.hpp"
#include "process_harness.hpp"
#include "support/testdata.hpp"

namespace {

using namespace oidc::test::process;
using oidc::test::metrics_scrape::scripted_traffic;
using oidc::test::metrics_scrape::value_of;

class MetricsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << "not built: " << kBinary;
    dir_ = std::filesystem::temp_directory_path() /
           ("oidc-metrics-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    write_dev_secrets(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

std::string get_metrics(std::uint16_t port) {
  auto r =
      round_trip(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  return r.data;
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string{} : response.substr(at + 4);
}

TEST_F(MetricsProcessTest, ScriptedLoginsAndVerificationsGiveExactCounts) {
  mock_tenant_server idp;
  server_process p;
  ASSERT_TRUE(p.start(write_dev_config(dir_, R"("shutdown_drain": "1s")", idp.base(), idp.ca_file(),
                                       R"("metrics": {"organisation_labels": true},)")));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();

  const auto traffic = scripted_traffic(port, idp);
  ASSERT_TRUE(traffic.ok) << traffic.problem << "\n" << p.output();

  const std::string response = get_metrics(port);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200")) << response.substr(0, 300);
  EXPECT_EQ(header_value(response, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string text = body_of(response);

  // Logins: 4 started (2 completed, 1 without its cookie, 1 with a refused code), 2 completed,
  // one failure of each reason.
  EXPECT_EQ(value_of(text, "oidc_logins_started_total"), 4.0);
  EXPECT_EQ(value_of(text, "oidc_log_dropped_bytes_total"), 0.0);  // the test reads stderr
  EXPECT_EQ(value_of(text, "oidc_logins_completed_total"), 2.0);
  for (const char* reason :
       {"state_mismatch", "state_missing", "state_replayed", "idp_error", "token_endpoint_error"}) {
    EXPECT_EQ(value_of(text, std::string(R"(oidc_logins_failed_total{reason=")") + reason + "\"}"),
              1.0)
        << reason;
  }
  EXPECT_EQ(value_of(text, R"(oidc_logins_failed_total{reason="nonce_mismatch"})"), 0.0);
  EXPECT_EQ(value_of(text, "oidc_login_callback_duration_seconds_count"), 2.0);
  EXPECT_EQ(value_of(text, "oidc_token_exchange_duration_seconds_count"), 3.0);
  const std::string refused_code = std::string(oidc::server::aadsts_lookup(9002313).key);
  EXPECT_EQ(value_of(text, R"(oidc_token_endpoint_errors_total{aadsts=")" + refused_code + "\"}"),
            1.0);
  EXPECT_EQ(value_of(text, R"(oidc_account_lookups_total{outcome="found"})"), 2.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_idp_requests_total{host="localhost",endpoint="token",outcome="ok"})"),
      2.0);
  EXPECT_EQ(
      value_of(
          text,
          R"(oidc_idp_requests_total{host="localhost",endpoint="token",outcome="http_error"})"),
      1.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_idp_requests_total{host="localhost",endpoint="jwks",outcome="ok"})"),
      1.0);

  // Organisation series (labels on): the same totals for "demo".
  EXPECT_EQ(
      value_of(text, R"(oidc_organisation_logins_total{organisation="demo",outcome="started"})"),
      4.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_organisation_logins_total{organisation="demo",outcome="completed"})"),
      2.0);
  EXPECT_EQ(
      value_of(
          text,
          R"(oidc_organisation_login_failures_total{organisation="demo",reason="state_replayed"})"),
      1.0);
  EXPECT_EQ(value_of(text, "oidc_organisations_labelled"), 1.0);

  // HTTP: 7 callbacks (2 redirected home, 5 refused), 4 login redirects.
  EXPECT_EQ(
      value_of(text,
               R"(oidc_http_requests_total{route="callback",method="GET",status_class="3xx"})"),
      2.0);
  EXPECT_EQ(value_of(text, R"(oidc_http_request_duration_seconds_count{route="callback"})"), 7.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_http_requests_total{route="login",method="GET",status_class="3xx"})"),
      4.0);
  // This scrape is in flight while it renders.
  EXPECT_EQ(value_of(text, "oidc_http_requests_in_flight"), 1.0);

  // Verify: 3 valid sessions, 1 without credentials, 1 malformed bearer.
  EXPECT_EQ(value_of(text, R"(oidc_verifications_total{result="valid",reason="ok"})"), 3.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_verifications_total{result="invalid",reason="credentials_missing"})"),
      1.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_verifications_total{result="invalid",reason="malformed_token"})"),
      1.0);
  EXPECT_EQ(value_of(text, "oidc_verify_duration_seconds_count"), 5.0);
  EXPECT_EQ(
      value_of(text, R"(oidc_http_requests_total{route="verify",method="GET",status_class="4xx"})"),
      2.0);

  // The IdP pool: every connection back in the pool once the traffic is over.
  EXPECT_EQ(value_of(text, "oidc_idp_pool_connections_in_use"), 0.0);
  EXPECT_GE(value_of(text, "oidc_idp_pool_idle_connections").value_or(0), 1.0);

  // Key cache and process families are there too.
  EXPECT_EQ(value_of(text, "oidc_jwks_key_sets"), 1.0);
  EXPECT_GT(value_of(text, "process_resident_memory_bytes").value_or(0), 1e6);
  EXPECT_GT(value_of(text, "process_open_fds").value_or(0), 3.0);
  EXPECT_NE(text.find("oidc_build_info{"), std::string::npos);

  // The same scrape passes promtool's linter.
  const auto promtool = oidc::test::metrics_scrape::find_program("promtool");
  if (promtool.empty()) {
    if (oidc::test::running_in_ci()) FAIL() << "promtool missing under CI=true";
    GTEST_SKIP() << "promtool not found (Debian package prometheus): lint skipped";
  }
  const auto file = dir_ / "scrape.txt";
  std::ofstream(file) << text;
  const std::string cmd = promtool + " check metrics < " + file.string() + " 2>&1";
  std::string out;
  const int rc = oidc::test::metrics_scrape::run_capture(cmd, out);
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(MetricsProcessTest, AdminListenerServesMetricsAndTheMainPortCanRefuseThem) {
  server_process p;
  ASSERT_TRUE(p.start(write_dev_config(
      dir_, R"("shutdown_drain": "1s")", {}, {},
      R"("metrics": {"admin_listen": {"address": "127.0.0.1", "port": 0}, "main_listener": false},)")));
  const auto port = p.wait_for_port(10s);
  ASSERT_NE(port, 0) << p.output();
  const auto admin = p.wait_for_admin_port(10s);
  ASSERT_NE(admin, 0) << p.output();
  ASSERT_NE(admin, port);

  const auto main_answer = get_metrics(port);
  EXPECT_TRUE(main_answer.starts_with("HTTP/1.1 404")) << main_answer.substr(0, 200);

  const auto answer = get_metrics(admin);
  ASSERT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer.substr(0, 200);
  EXPECT_EQ(header_value(answer, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string text = body_of(answer);
  // The refused main-port scrape counted as not_found; the admin scrape is counted after its
  // own render.
  EXPECT_EQ(
      value_of(text,
               R"(oidc_http_requests_total{route="not_found",method="GET",status_class="4xx"})"),
      1.0);
  EXPECT_EQ(
      value_of(text,
               R"(oidc_http_requests_total{route="metrics",method="GET",status_class="2xx"})"),
      0.0);
  const auto again = body_of(get_metrics(admin));
  EXPECT_EQ(
      value_of(again,
               R"(oidc_http_requests_total{route="metrics",method="GET",status_class="2xx"})"),
      1.0);

  const auto health =
      round_trip(admin, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(health.data.starts_with("HTTP/1.1 200")) << health.data.substr(0, 200);
  const auto login = round_trip(
      admin, "GET /api/single-sign-on/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(login.data.starts_with("HTTP/1.1 404")) << login.data.substr(0, 200);
  for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
    const auto post = round_trip(admin, std::string("POST ") + path +
                                            " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                            "Connection: close\r\n\r\n");
    EXPECT_TRUE(post.data.starts_with("HTTP/1.1 405")) << path << post.data.substr(0, 200);
    EXPECT_EQ(header_value(post.data, "Allow"), "GET, HEAD") << path;
  }
}

}  // namespace
