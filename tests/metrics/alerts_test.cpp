// SPDX-License-Identifier: Apache-2.0
// The alert rules pass `promtool check rules` and their `promtool test rules` unit tests
// (metrics/alerts/oidc-callback-server.rules.test.yml).
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "metrics/exposition.hpp"

namespace oidc::metrics {
namespace {

const std::filesystem::path kAlerts = std::filesystem::path(OIDC_SOURCE_DIR) / "metrics/alerts";

TEST(AlertRules, PassPromtoolCheckRules) {
  OIDC_REQUIRE_PROMTOOL(promtool);
  const auto r = test::run_command("'" + promtool + "' check rules '" +
                                   (kAlerts / "oidc-callback-server.rules.yml").string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

TEST(AlertRules, PassTheirPromtoolUnitTests) {
  OIDC_REQUIRE_PROMTOOL(promtool);
  // promtool resolves rule_files relative to the test file's directory.
  const auto r =
      test::run_command("'" + promtool + "' test rules '" +
                        (kAlerts / "oidc-callback-server.rules.test.yml").string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace oidc::metrics
