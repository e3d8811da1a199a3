// SPDX-License-Identifier: Apache-2.0
// server_metrics: exact counter values and histogram counts in the rendered exposition after
// scripted logins, verifications, requests and upstream calls; label sets bound up front;
// organisation series capped and removed on reload; the text passes promtool.
#include "oidc/metrics/server_metrics.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include "metrics/exposition.hpp"

namespace oidc::metrics {
namespace {

using namespace std::chrono_literals;
using test::find_sample;
using test::value_of;

std::vector<test::sample> scrape(const server_metrics& m) {
  return test::parse_samples(m.render_metrics());
}

server_metrics_options with_aadsts() {
  server_metrics_options o;
  o.aadsts_keys = {"redirect_uri_not_registered", "code_reused", "consent_required", "other"};
  return o;
}

TEST(ServerMetrics, EveryFailureReasonSeriesExistsAtZeroBeforeAnyFailure) {
  const server_metrics m;
  const auto s = scrape(m);
  for (std::size_t i = 1; i < server_metrics::kReasons; ++i) {
    const std::string reason(label(static_cast<auth_error>(i)));
    EXPECT_EQ(value_of(s, "oidc_logins_failed_total", {{"reason", reason}}), 0) << reason;
    EXPECT_EQ(value_of(s, "oidc_verifications_total", {{"result", "invalid"}, {"reason", reason}}),
              0)
        << reason;
  }
  EXPECT_FALSE(find_sample(s, "oidc_logins_failed_total", {{"reason", "ok"}}));
  EXPECT_EQ(value_of(s, "oidc_verifications_total", {{"result", "valid"}, {"reason", "ok"}}), 0);
}

TEST(ServerMetrics, EveryRouteMethodAndStatusClassIsBoundUpFront) {
  const server_metrics m;
  const auto s = scrape(m);
  for (std::size_t r = 0; r < server_metrics::kRoutes; ++r) {
    const std::string rl(label(static_cast<route>(r)));
    for (const char* meth : {"GET", "HEAD", "POST", "other"}) {
      for (const char* cls : {"2xx", "3xx", "4xx", "5xx"}) {
        EXPECT_EQ(value_of(s, "oidc_http_requests_total",
                           {{"route", rl}, {"method", meth}, {"status_class", cls}}),
                  0);
      }
    }
    EXPECT_EQ(value_of(s, "oidc_http_request_duration_seconds_count", {{"route", rl}}), 0);
  }
  for (std::size_t e = 0; e < static_cast<std::size_t>(connection_event::count_); ++e) {
    EXPECT_EQ(value_of(s, "oidc_http_connection_events_total",
                       {{"event", std::string(label(static_cast<connection_event>(e)))}}),
              0);
  }
}

TEST(ServerMetrics, ScriptedLoginsGiveExactCountsAndHistograms) {
  server_metrics m(with_aadsts());
  for (int i = 0; i < 4; ++i)
    m.login_started();
  m.token_exchange(80ms);
  m.account_lookup(auth_error::ok);
  m.login_completed(120ms);
  m.token_exchange(40ms);
  m.account_lookup(auth_error::account_not_found);
  m.login_failed(auth_error::account_not_found);
  m.token_exchange(30ms, "code_reused");
  m.login_failed(auth_error::token_endpoint_error);
  m.login_failed(auth_error::state_mismatch);
  m.login_failed(auth_error::ok);  // ignored
  m.token_exchange(20ms, "AADSTS_not_in_the_list");

  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_logins_started_total"), 4);
  EXPECT_EQ(value_of(s, "oidc_logins_completed_total"), 1);
  EXPECT_EQ(value_of(s, "oidc_logins_failed_total", {{"reason", "account_not_found"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_logins_failed_total", {{"reason", "token_endpoint_error"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_logins_failed_total", {{"reason", "state_mismatch"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_logins_failed_total", {{"reason", "nonce_mismatch"}}), 0);

  EXPECT_EQ(value_of(s, "oidc_login_callback_duration_seconds_count"), 1);
  EXPECT_DOUBLE_EQ(value_of(s, "oidc_login_callback_duration_seconds_sum"), 0.12);
  EXPECT_EQ(value_of(s, "oidc_login_callback_duration_seconds_bucket", {{"le", "0.1"}}), 0);
  EXPECT_EQ(value_of(s, "oidc_login_callback_duration_seconds_bucket", {{"le", "0.25"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_login_callback_duration_seconds_bucket", {{"le", "+Inf"}}), 1);

  EXPECT_EQ(value_of(s, "oidc_token_exchange_duration_seconds_count"), 4);
  EXPECT_DOUBLE_EQ(value_of(s, "oidc_token_exchange_duration_seconds_sum"), 0.17);
  EXPECT_EQ(value_of(s, "oidc_token_exchange_duration_seconds_bucket", {{"le", "0.025"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_token_exchange_duration_seconds_bucket", {{"le", "0.05"}}), 3);
  EXPECT_EQ(value_of(s, "oidc_token_exchange_duration_seconds_bucket", {{"le", "0.1"}}), 4);

  EXPECT_EQ(value_of(s, "oidc_token_endpoint_errors_total", {{"aadsts", "code_reused"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_token_endpoint_errors_total", {{"aadsts", "other"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_token_endpoint_errors_total", {{"aadsts", "consent_required"}}), 0);
  EXPECT_EQ(
      value_of(s, "oidc_token_endpoint_errors_total", {{"aadsts", "redirect_uri_not_registered"}}),
      0);

  EXPECT_EQ(value_of(s, "oidc_account_lookups_total", {{"outcome", "found"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_account_lookups_total", {{"outcome", "not_found"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_account_lookups_total", {{"outcome", "disabled"}}), 0);
}

TEST(ServerMetrics, AadstsKeysAreDeduplicatedWithOtherOnce) {
  server_metrics_options o;
  o.aadsts_keys = {"b", "a", "other", "a", ""};
  const server_metrics m(o);
  const auto s = scrape(m);
  int series = 0;
  for (const auto& x : s)
    series += x.name == "oidc_token_endpoint_errors_total";
  EXPECT_EQ(series, 3);
}

TEST(ServerMetrics, AccountOutcomesMapFromTheDirectoryReason) {
  EXPECT_EQ(account_outcome_of(auth_error::ok), account_outcome::found);
  EXPECT_EQ(account_outcome_of(auth_error::account_disabled), account_outcome::disabled);
  EXPECT_EQ(account_outcome_of(auth_error::account_domain_not_allowed),
            account_outcome::domain_not_allowed);
  EXPECT_EQ(account_outcome_of(auth_error::account_oid_mismatch), account_outcome::oid_mismatch);
  EXPECT_EQ(account_outcome_of(auth_error::internal_error), account_outcome::error);
}

TEST(ServerMetrics, VerificationsCountByResultAndReasonWithDurations) {
  server_metrics m;
  for (int i = 0; i < 5; ++i)
    m.verification(auth_error::ok, 20us);
  m.verification(auth_error::token_expired, 30us);
  m.verification(auth_error::signature_invalid, 2ms);
  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_verifications_total", {{"result", "valid"}, {"reason", "ok"}}), 5);
  EXPECT_EQ(
      value_of(s, "oidc_verifications_total", {{"result", "invalid"}, {"reason", "token_expired"}}),
      1);
  EXPECT_EQ(value_of(s, "oidc_verifications_total",
                     {{"result", "invalid"}, {"reason", "signature_invalid"}}),
            1);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_count"), 7);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_bucket", {{"le", "1e-05"}}), 0);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_bucket", {{"le", "2.5e-05"}}), 5);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_bucket", {{"le", "5e-05"}}), 6);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_bucket", {{"le", "0.0025"}}), 7);
  EXPECT_NEAR(value_of(s, "oidc_verify_duration_seconds_sum"), 0.00213, 1e-12);
}

TEST(ServerMetrics, HttpRequestsByRouteMethodAndStatusClass) {
  server_metrics m;
  m.http_request(route::callback, method::get, 302, 150ms);
  m.http_request(route::callback, method::get, 400, 1ms);
  m.http_request(route::verify, method::get, 200, 40us);
  m.http_request(route::verify, method::get, 401, 40us);
  m.http_request(route::logout, method::post, 503, 1ms);
  m.http_request(route::not_found, method_from("PATCH"), 404, 1ms);
  m.connection(connection_event::opened);
  m.connection(connection_event::opened);
  m.connection(connection_event::headers_too_large);
  m.connection(connection_event::rejected_limit);
  const auto s = scrape(m);
  const auto req = [&](const char* r, const char* meth, const char* cls) {
    return value_of(s, "oidc_http_requests_total",
                    {{"route", r}, {"method", meth}, {"status_class", cls}});
  };
  EXPECT_EQ(req("callback", "GET", "3xx"), 1);
  EXPECT_EQ(req("callback", "GET", "4xx"), 1);
  EXPECT_EQ(req("verify", "GET", "2xx"), 1);
  EXPECT_EQ(req("verify", "GET", "4xx"), 1);
  EXPECT_EQ(req("logout", "POST", "5xx"), 1);
  EXPECT_EQ(req("not_found", "other", "4xx"), 1);
  EXPECT_EQ(value_of(s, "oidc_http_request_duration_seconds_count", {{"route", "callback"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_http_request_duration_seconds_bucket",
                     {{"route", "callback"}, {"le", "0.1"}}),
            1);
  EXPECT_EQ(value_of(s, "oidc_http_request_duration_seconds_count", {{"route", "verify"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_http_connection_events_total", {{"event", "opened"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_http_connection_events_total", {{"event", "headers_too_large"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_http_connection_events_total", {{"event", "rejected_limit"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_http_connection_events_total", {{"event", "closed"}}), 0);
}

TEST(ServerMetrics, StatusClassesCoverEveryFinalStatus) {
  EXPECT_EQ(status_class_of(200), status_class::s2xx);
  EXPECT_EQ(status_class_of(101), status_class::s2xx);
  EXPECT_EQ(status_class_of(399), status_class::s3xx);
  EXPECT_EQ(status_class_of(431), status_class::s4xx);
  EXPECT_EQ(status_class_of(500), status_class::s5xx);
  EXPECT_EQ(status_class_of(999), status_class::s5xx);
  EXPECT_EQ(method_from("HEAD"), method::head);
  EXPECT_EQ(method_from("get"), method::other);  // methods are case-sensitive (RFC 9110 §9.1)
}

TEST(ServerMetrics, InFlightAndOpenConnectionsAreGauges) {
  server_metrics m;
  std::size_t open = 7;
  m.add_open_connections_source([&] { return open; });
  m.add_open_connections_source([] { return std::size_t{3}; });
  {
    const in_flight_scope a(m);
    const in_flight_scope b(m);
    m.in_flight_add(1);
    m.in_flight_add(-1);
    const auto s = scrape(m);
    EXPECT_EQ(value_of(s, "oidc_http_requests_in_flight"), 2);
    EXPECT_EQ(value_of(s, "oidc_http_connections_open"), 10);
  }
  open = 1;
  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_http_requests_in_flight"), 0);
  EXPECT_EQ(value_of(s, "oidc_http_connections_open"), 4);
}

TEST(ServerMetrics, IdpHostsBeyondTheCapAreOther) {
  server_metrics_options o;
  o.max_idp_hosts = 2;
  server_metrics m(o);
  m.idp_request(idp_endpoint::token, "login.microsoftonline.com", idp_outcome::ok, 50ms);
  m.idp_request(idp_endpoint::token, "login.microsoftonline.com", idp_outcome::timeout, 10s);
  m.idp_request(idp_endpoint::jwks, "idp-b.example", idp_outcome::ok, 5ms);
  m.idp_request(idp_endpoint::discovery, "idp-c.example", idp_outcome::tls_error, 5ms);
  m.idp_request(idp_endpoint::discovery, "idp-d.example", idp_outcome::tls_error, 5ms);
  m.idp_request(idp_endpoint::discovery, "", idp_outcome::connect_error, 5ms);
  m.set_idp_pool_source([] { return idp_pool_stats{3, 2, 11}; });
  const auto s = scrape(m);
  const auto req = [&](const char* host, const char* e, const char* out) {
    return value_of(s, "oidc_idp_requests_total",
                    {{"host", host}, {"endpoint", e}, {"outcome", out}});
  };
  EXPECT_EQ(req("login.microsoftonline.com", "token", "ok"), 1);
  EXPECT_EQ(req("login.microsoftonline.com", "token", "timeout"), 1);
  EXPECT_EQ(req("idp-b.example", "jwks", "ok"), 1);
  EXPECT_EQ(req("other", "discovery", "tls_error"), 2);
  EXPECT_EQ(req("other", "discovery", "connect_error"), 1);
  EXPECT_FALSE(
      find_sample(s, "oidc_idp_requests_total",
                  {{"host", "idp-c.example"}, {"endpoint", "discovery"}, {"outcome", "ok"}}));
  EXPECT_EQ(value_of(s, "oidc_idp_request_duration_seconds_count", {{"endpoint", "token"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_idp_request_duration_seconds_bucket",
                     {{"endpoint", "token"}, {"le", "10"}}),
            2);
  EXPECT_EQ(
      value_of(s, "oidc_idp_request_duration_seconds_bucket", {{"endpoint", "token"}, {"le", "5"}}),
      1);
  EXPECT_EQ(value_of(s, "oidc_idp_pool_idle_connections"), 3);
  EXPECT_EQ(value_of(s, "oidc_idp_pool_connections_in_use"), 2);
  EXPECT_EQ(value_of(s, "oidc_idp_pool_connections_opened_total"), 11);
}

TEST(ServerMetrics, ConcurrentRecordingLosesNoIncrement) {
  server_metrics m;
  constexpr int kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        m.http_request(route::verify, method::get, 200, 30us);
        m.verification(auth_error::ok, 30us);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_http_requests_total",
                     {{"route", "verify"}, {"method", "GET"}, {"status_class", "2xx"}}),
            4 * kPerThread);
  EXPECT_EQ(value_of(s, "oidc_verify_duration_seconds_count"), 4 * kPerThread);
  EXPECT_NEAR(value_of(s, "oidc_verify_duration_seconds_sum"), 4 * kPerThread * 30e-6, 1e-6);
}

TEST(ServerMetrics, OrganisationLabelsAreOffByDefault) {
  server_metrics m;
  const std::vector<std::string> orgs{"contoso", "fabrikam"};
  m.set_organisations(orgs);
  EXPECT_EQ(m.organisation("contoso"), nullptr);
  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_organisations_configured"), 2);
  EXPECT_EQ(value_of(s, "oidc_organisations_labelled"), 0);
  EXPECT_FALSE(test::has_family(s, "oidc_organisation_logins_total"));
}

TEST(ServerMetrics, OrganisationSeriesAreCappedAndFollowReloads) {
  server_metrics_options o;
  o.organisation_labels = true;
  o.organisation_label_cap = 2;
  server_metrics m(o);
  const std::vector<std::string> first{"contoso", "fabrikam", "northwind"};
  m.set_organisations(first);
  const organisation_handle contoso = m.organisation("contoso");
  const organisation_handle fabrikam = m.organisation("fabrikam");
  ASSERT_NE(contoso, nullptr);
  ASSERT_NE(fabrikam, nullptr);
  EXPECT_EQ(m.organisation("northwind"), nullptr);  // beyond the cap

  m.login_started(contoso.get());
  m.login_started(contoso.get());
  m.login_completed(100ms, contoso.get());
  m.login_failed(auth_error::nonce_mismatch, contoso.get());
  m.login_started(fabrikam.get());
  m.login_failed(auth_error::idp_timeout, fabrikam.get());
  auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_logins_started_total"), 3);
  EXPECT_EQ(value_of(s, "oidc_organisation_logins_total",
                     {{"organisation", "contoso"}, {"outcome", "started"}}),
            2);
  EXPECT_EQ(value_of(s, "oidc_organisation_logins_total",
                     {{"organisation", "contoso"}, {"outcome", "completed"}}),
            1);
  EXPECT_EQ(value_of(s, "oidc_organisation_logins_total",
                     {{"organisation", "contoso"}, {"outcome", "failed"}}),
            1);
  EXPECT_EQ(value_of(s, "oidc_organisation_login_failures_total",
                     {{"organisation", "fabrikam"}, {"reason", "idp_timeout"}}),
            1);
  EXPECT_FALSE(find_sample(s, "oidc_organisation_logins_total",
                           {{"organisation", "northwind"}, {"outcome", "started"}}));
  EXPECT_EQ(value_of(s, "oidc_organisations_labelled"), 2);

  // Reload: contoso removed, fabrikam kept (its counts continue), woodgrove added.
  const std::vector<std::string> second{"fabrikam", "woodgrove"};
  m.set_organisations(second);
  EXPECT_EQ(m.organisation("contoso"), nullptr);
  EXPECT_EQ(m.organisation("fabrikam"), fabrikam);
  m.login_started(contoso.get());  // a request still holding the old handle: no crash, not exported
  m.login_started(fabrikam.get());
  s = scrape(m);
  EXPECT_FALSE(find_sample(s, "oidc_organisation_logins_total",
                           {{"organisation", "contoso"}, {"outcome", "started"}}));
  EXPECT_FALSE(find_sample(s, "oidc_organisation_login_failures_total",
                           {{"organisation", "contoso"}, {"reason", "nonce_mismatch"}}));
  EXPECT_EQ(value_of(s, "oidc_organisation_logins_total",
                     {{"organisation", "fabrikam"}, {"outcome", "started"}}),
            2);
  EXPECT_EQ(value_of(s, "oidc_organisation_logins_total",
                     {{"organisation", "woodgrove"}, {"outcome", "started"}}),
            0);
  EXPECT_EQ(value_of(s, "oidc_logins_started_total"), 5);
}

TEST(ServerMetrics, ExtraRegistryFamiliesAreRendered) {
  server_metrics m;
  auto& c = prometheus::BuildCounter()
                .Name("oidc_test_extra_total")
                .Help("test")
                .Register(m.registry())
                .Add({{"k", "v"}});
  c.Increment(3);
  const auto s = scrape(m);
  EXPECT_EQ(value_of(s, "oidc_test_extra_total", {{"k", "v"}}), 3);
}

TEST(ServerMetrics, BuildInfoCarriesVersionAndCommit) {
  server_metrics_options o;
  o.version = "1.2.3";
  o.commit = "abc1234";
  const auto s = scrape(server_metrics(o));
  EXPECT_EQ(value_of(s, "oidc_build_info", {{"version", "1.2.3"}, {"commit", "abc1234"}}), 1);
  const auto d = scrape(server_metrics{});
  EXPECT_EQ(value_of(d, "oidc_build_info",
                     {{"version", std::string(build_version())},
                      {"commit", std::string(build_commit())}}),
            1);
  EXPECT_FALSE(build_version().empty());
  EXPECT_FALSE(build_commit().empty());
}

TEST(ServerMetrics, ProcessMetricsArePresentAndPlausible) {
  // Burn a few clock ticks of CPU: a fresh test process may have used less than one tick.
  volatile std::uint64_t spin = 0;
  while (std::clock() < CLOCKS_PER_SEC / 20)
    spin = spin + 1;
  const auto s = scrape(server_metrics{});
  rusage usage{};
  ASSERT_EQ(::getrusage(RUSAGE_SELF, &usage), 0);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  EXPECT_GT(value_of(s, "process_cpu_seconds_total"), 0);
  EXPECT_NEAR(value_of(s, "process_cpu_seconds_total"), cpu, 0.1);
  EXPECT_GT(value_of(s, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value_of(s, "process_virtual_memory_bytes"),
            value_of(s, "process_resident_memory_bytes"));
  const double fds = value_of(s, "process_open_fds");
  EXPECT_GE(fds, 3);
  const double max_fds = value_of(s, "process_max_fds");
  EXPECT_TRUE(max_fds == -1 || max_fds >= fds);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = value_of(s, "process_start_time_seconds");
  EXPECT_LE(start, now + 2);
  EXPECT_GT(start, now - 24 * 3600);  // a test binary started within the day
}

TEST(ServerMetrics, RenderPassesPromtoolCheckMetrics) {
  OIDC_REQUIRE_PROMTOOL(promtool);
  server_metrics_options o = with_aadsts();
  o.organisation_labels = true;
  server_metrics m(o);
  const std::vector<std::string> orgs{"contoso"};
  m.set_organisations(orgs);
  m.login_failed(auth_error::state_expired, m.organisation("contoso").get());
  m.idp_request(idp_endpoint::jwks, "login.microsoftonline.com", idp_outcome::ok, 5ms);
  m.set_idp_pool_source([] { return idp_pool_stats{}; });
  const auto file = std::filesystem::temp_directory_path() /
                    ("oidc-metrics-" + std::to_string(::getpid()) + ".prom");
  std::ofstream(file) << m.render_metrics();
  const auto r = test::run_command("'" + promtool + "' check metrics", file.string());
  std::filesystem::remove(file);
  // promtool's lint exits 1 for problems and 3 for lint warnings; both are failures here.
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace oidc::metrics
