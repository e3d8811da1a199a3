// SPDX-License-Identifier: Apache-2.0
// The driver's report: the JSON the runner reads and the text a person reads.
#include "report.hpp"

#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace oidc::loadtest {
namespace {

run_stats sample_stats() {
  run_stats stats;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    login_record record;
    record.add(step::start, 500);
    record.add(step::authorize, 1500);
    record.add(step::callback, i * 100);  // 0.1 .. 10 ms
    record.add(step::home, 300);
    record.commit_to(stats, 3000 + i * 100);
  }
  stats.add_failure(step::callback, "status_502");
  stats.add_failure(step::callback, "status_502");
  stats.add_failure(step::start, "saturated");
  return stats;
}

TEST(DriverReport, JsonHasTheContractShape) {
  run_info info;
  info.duration_s = 10;
  info.warmup_s = 1;
  info.users = 16;
  const auto doc = boost::json::parse(format_json(info, sample_stats())).as_object();
  EXPECT_EQ(doc.at("mode").as_string(), "login");
  EXPECT_EQ(doc.at("duration_s").to_number<double>(), 10.0);
  EXPECT_EQ(doc.at("users").to_number<int>(), 16);
  EXPECT_TRUE(doc.at("rate").is_null());
  EXPECT_EQ(doc.at("completed").to_number<int>(), 100);
  EXPECT_EQ(doc.at("failed").to_number<int>(), 3);
  EXPECT_DOUBLE_EQ(doc.at("logins_per_s").to_number<double>(), 10.0);

  const auto& latency = doc.at("latency_ms").as_object();
  for (const char* key : {"login", "start", "authorize", "callback", "home", "session"})
    ASSERT_TRUE(latency.contains(key)) << key;
  const auto& callback = latency.at("callback").as_object();
  EXPECT_EQ(callback.at("count").to_number<int>(), 100);
  EXPECT_NEAR(callback.at("p50").to_number<double>(), 5.0, 0.1);
  EXPECT_NEAR(callback.at("p99").to_number<double>(), 9.9, 0.2);
  EXPECT_DOUBLE_EQ(callback.at("max").to_number<double>(), 10.0);
  // No session step in this run: counted zero, percentiles null rather than a made-up 0.
  const auto& session = latency.at("session").as_object();
  EXPECT_EQ(session.at("count").to_number<int>(), 0);
  EXPECT_TRUE(session.at("p99").is_null());

  const auto& failures = doc.at("failures").as_object();
  EXPECT_EQ(failures.at("callback").at("status_502").to_number<int>(), 2);
  EXPECT_EQ(failures.at("start").at("saturated").to_number<int>(), 1);
  EXPECT_FALSE(failures.contains("home"));
}

TEST(DriverReport, OpenLoopRateIsANumber) {
  run_info info;
  info.duration_s = 2;
  info.rate = 250;
  const auto doc = boost::json::parse(format_json(info, run_stats{})).as_object();
  EXPECT_EQ(doc.at("rate").to_number<double>(), 250.0);
  EXPECT_TRUE(doc.at("failures").as_object().empty());
}

TEST(DriverReport, TextNamesRatesPercentilesAndFailuresByStep) {
  run_info info;
  info.duration_s = 10;
  info.users = 16;
  const std::string text = format_text(info, sample_stats());
  EXPECT_NE(text.find("completed 100  failed 3  logins/s 10.0"), std::string::npos) << text;
  EXPECT_NE(text.find("p50       p95       p99       max"), std::string::npos) << text;
  EXPECT_NE(text.find("callback  status_502"), std::string::npos) << text;
  EXPECT_NE(text.find("start     saturated"), std::string::npos) << text;
  EXPECT_NE(format_text(info, run_stats{}).find("failures: none"), std::string::npos);
}

TEST(DriverReport, MergeAddsEverything) {
  run_stats a = sample_stats();
  a.merge(sample_stats());
  EXPECT_EQ(a.completed, 200u);
  EXPECT_EQ(a.failed, 6u);
  EXPECT_EQ(a.steps[static_cast<std::size_t>(step::callback)].count(), 200u);
  EXPECT_EQ(a.failures[static_cast<std::size_t>(step::callback)].at("status_502"), 4u);
}

TEST(DriverReport, IdleJsonCarriesTheEstablishedCount) {
  idle_result r;
  r.requested = 10000;
  r.established = 9998;
  r.closed_early = 1;
  r.hold_s = 30;
  r.failures["connect_failed"] = 2;
  const auto doc = boost::json::parse(format_idle_json(r)).as_object();
  EXPECT_EQ(doc.at("mode").as_string(), "idle");
  EXPECT_EQ(doc.at("established").to_number<int>(), 9998);
  EXPECT_EQ(doc.at("requested").to_number<int>(), 10000);
  EXPECT_EQ(doc.at("closed_early").to_number<int>(), 1);
  EXPECT_EQ(doc.at("failures").at("connect_failed").to_number<int>(), 2);
  EXPECT_NE(format_idle_text(r).find("established 9998"), std::string::npos);
}

}  // namespace
}  // namespace oidc::loadtest
