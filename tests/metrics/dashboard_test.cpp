// SPDX-License-Identifier: Apache-2.0
// The Grafana dashboard is importable (schema, datasource variable) and every PromQL expression
// in it, and every metric name in the alert rules, names a metric the library really exports.
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "metrics/full_scrape.hpp"

namespace oidc::metrics {
namespace {

const std::filesystem::path kDashboard =
    std::filesystem::path(OIDC_SOURCE_DIR) / "metrics/dashboards/oidc-callback-server.json";
const std::filesystem::path kRules =
    std::filesystem::path(OIDC_SOURCE_DIR) / "metrics/alerts/oidc-callback-server.rules.yml";

boost::json::value load_dashboard() {
  boost::system::error_code ec;
  auto v = boost::json::parse(test::read_file(kDashboard), ec);
  EXPECT_FALSE(ec) << kDashboard << ": " << ec.message();
  return v;
}

// Every panel, rows' nested panels included.
void panels_of(const boost::json::value& v, std::vector<const boost::json::object*>& out) {
  const auto* o = v.if_object();
  if (o == nullptr) return;
  if (const auto* ps = o->if_contains("panels"); ps != nullptr && ps->is_array()) {
    for (const auto& p : ps->get_array()) {
      if (p.is_object()) {
        out.push_back(&p.get_object());
        panels_of(p, out);
      }
    }
  }
}

std::vector<std::string> metric_names_in(const std::string& text) {
  static const std::regex name(R"((oidc|process)_[a-z_]+)");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    out.push_back(it->str());
  }
  return out;
}

TEST(Dashboard, IsImportableWithADatasourceVariable) {
  const auto d = load_dashboard();
  ASSERT_TRUE(d.is_object());
  const auto& o = d.get_object();
  ASSERT_TRUE(o.if_contains("schemaVersion"));
  EXPECT_GE(o.at("schemaVersion").to_number<int>(), 36);
  EXPECT_TRUE(o.at("title").is_string());
  bool datasource_var = false;
  for (const auto& var : o.at("templating").at("list").as_array()) {
    const auto& v = var.as_object();
    if (v.at("name") == "datasource") {
      EXPECT_EQ(v.at("type"), "datasource");
      EXPECT_EQ(v.at("query"), "prometheus");
      datasource_var = true;
    }
  }
  EXPECT_TRUE(datasource_var);
  std::vector<const boost::json::object*> panels;
  panels_of(d, panels);
  std::size_t targets = 0;
  for (const auto* p : panels) {
    if (p->at("type") == "row") continue;
    EXPECT_EQ(p->at("datasource").at("uid"), "${datasource}") << p->at("title");
    for (const auto& t : p->at("targets").as_array()) {
      ++targets;
      EXPECT_EQ(t.at("datasource").at("uid"), "${datasource}") << p->at("title");
    }
  }
  EXPECT_GE(targets, 20u);
}

TEST(Dashboard, EveryExpressionNamesExportedMetrics) {
  const test::full_metrics full;
  const std::set<std::string> exported = full.names();
  const auto d = load_dashboard();
  std::vector<const boost::json::object*> panels;
  panels_of(d, panels);
  std::size_t checked = 0;
  for (const auto* p : panels) {
    const auto* targets = p->if_contains("targets");
    if (targets == nullptr) continue;
    for (const auto& t : targets->as_array()) {
      const std::string expr(t.at("expr").as_string());
      const auto names = metric_names_in(expr);
      EXPECT_FALSE(names.empty()) << expr;
      for (const auto& n : names) {
        ++checked;
        EXPECT_TRUE(exported.contains(n)) << n << " in panel " << p->at("title") << ": " << expr;
      }
    }
  }
  EXPECT_GT(checked, 30u);
}

TEST(AlertRules, NameOnlyExportedMetrics) {
  const test::full_metrics full;
  const std::set<std::string> exported = full.names();
  const auto names = metric_names_in(test::read_file(kRules));
  EXPECT_GT(names.size(), 10u);
  for (const auto& n : names)
    EXPECT_TRUE(exported.contains(n)) << n;
}

TEST(Dashboard, MetricNamesOfTheTestFixtureCoverTheWholeLibrary) {
  // A family missing from full_metrics would let a dashboard typo pass as "not exported".
  const test::full_metrics full;
  const auto names = full.names();
  for (const char* n :
       {"oidc_jwks_age_seconds", "oidc_verify_cache_entries", "oidc_organisation_logins_total",
        "oidc_idp_pool_idle_connections", "process_open_fds", "oidc_build_info"}) {
    EXPECT_TRUE(names.contains(n)) << n;
  }
}

}  // namespace
}  // namespace oidc::metrics
