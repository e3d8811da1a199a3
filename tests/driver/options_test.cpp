// SPDX-License-Identifier: Apache-2.0
// The driver's command line: the contract loadtest/run is written against.
#include "options.hpp"

#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace oidc::loadtest {
namespace {

parsed_options parse(std::vector<std::string_view> args) {
  return parse_options(args);
}

TEST(DriverOptions, DefaultsFollowTheContract) {
  const auto p = parse({"--start-url", "http://127.0.0.1:8080/api/single-sign-on/login"});
  ASSERT_TRUE(p.options) << p.error;
  const auto& o = *p.options;
  EXPECT_EQ(o.mode, driver_options::run_mode::login);
  EXPECT_EQ(o.callback_path, "/api/single-sign-on");
  EXPECT_EQ(o.session_url, "");
  EXPECT_EQ(o.expect_final_status, 200u);
  EXPECT_EQ(o.users, 16u);
  EXPECT_FALSE(o.rate);
  EXPECT_EQ(o.duration_s, 10.0);
  EXPECT_EQ(o.warmup_s, 1.0);
  EXPECT_EQ(o.max_hops, 8u);
  EXPECT_EQ(o.timeout_ms, 5000u);
  EXPECT_FALSE(o.keep_cookies);
  EXPECT_EQ(o.threads, 1u);
}

TEST(DriverOptions, ParsesEveryLoginOption) {
  const auto p = parse({"--start-url",
                        "http://127.0.0.1:8081/protected/",
                        "--callback-path",
                        "/protected/redirect_uri",
                        "--session-url",
                        "http://127.0.0.1:8081/api/session",
                        "--expect-final-status",
                        "204",
                        "--users",
                        "64",
                        "--rate",
                        "250.5",
                        "--duration",
                        "20",
                        "--warmup",
                        "0",
                        "--ca-file",
                        "/tmp/ca.pem",
                        "--max-hops",
                        "4",
                        "--timeout-ms",
                        "750",
                        "--json",
                        "/tmp/out.json",
                        "--keep-cookies",
                        "--threads=2"});
  ASSERT_TRUE(p.options) << p.error;
  const auto& o = *p.options;
  EXPECT_EQ(o.callback_path, "/protected/redirect_uri");
  EXPECT_EQ(o.session_url, "http://127.0.0.1:8081/api/session");
  EXPECT_EQ(o.expect_final_status, 204u);
  EXPECT_EQ(o.users, 64u);
  ASSERT_TRUE(o.rate);
  EXPECT_DOUBLE_EQ(*o.rate, 250.5);
  EXPECT_EQ(o.duration_s, 20.0);
  EXPECT_EQ(o.warmup_s, 0.0);
  EXPECT_EQ(o.ca_file, "/tmp/ca.pem");
  EXPECT_EQ(o.max_hops, 4u);
  EXPECT_EQ(o.timeout_ms, 750u);
  EXPECT_EQ(o.json_file, "/tmp/out.json");
  EXPECT_TRUE(o.keep_cookies);
  EXPECT_EQ(o.threads, 2u);
}

TEST(DriverOptions, DurationsAcceptFractionsAndASecondsSuffix) {
  const auto p = parse({"--start-url=http://127.0.0.1/", "--duration=1.5", "--warmup", "2s"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->duration_s, 1.5);
  EXPECT_EQ(p.options->warmup_s, 2.0);
}

TEST(DriverOptions, IdleModeNeedsItsThreeOptions) {
  const auto p =
      parse({"--idle-connections", "10000", "--idle-url", "http://127.0.0.1:8080/healthz", "--hold",
             "30", "--json", "/tmp/idle.json"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->mode, driver_options::run_mode::idle);
  EXPECT_EQ(p.options->idle_connections, 10000u);
  EXPECT_EQ(p.options->hold_s, 30.0);
  EXPECT_EQ(p.options->json_file, "/tmp/idle.json");

  EXPECT_FALSE(parse({"--idle-connections", "10", "--hold", "1"}).options);
  EXPECT_FALSE(
      parse({"--idle-connections", "10", "--idle-url", "https://127.0.0.1/", "--hold", "1"})
          .options);
  EXPECT_FALSE(parse({"--idle-connections", "10", "--idle-url", "http://127.0.0.1/", "--hold", "1",
                      "--start-url", "http://127.0.0.1/"})
                   .options);
}

TEST(DriverOptions, RefusesBadInput) {
  const std::string_view url = "http://127.0.0.1/";
  EXPECT_EQ(parse({}).error, "--start-url is required");
  EXPECT_FALSE(parse({"--start-url", "127.0.0.1:8080/login"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--users", "0"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--users", "ten"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--users", "-1"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--rate", "0"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--duration", "0"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--warmup", "-1"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--callback-path", "api"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--expect-final-status", "99"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--timeout-ms"}).options);
  EXPECT_FALSE(parse({"--start-url", url, "--keep-cookies=yes"}).options);
  const auto unknown = parse({"--start-url", url, "--vus", "3"});
  EXPECT_FALSE(unknown.options);
  EXPECT_EQ(unknown.error, "unknown option --vus");
}

TEST(DriverOptions, HelpNeedsNothingElse) {
  const auto p = parse({"--help"});
  ASSERT_TRUE(p.options);
  EXPECT_TRUE(p.options->help);
  EXPECT_NE(usage_text().find("--idle-connections N --idle-url URL --hold S"), std::string::npos);
}

}  // namespace
}  // namespace oidc::loadtest
