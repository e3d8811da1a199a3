// SPDX-License-Identifier: Apache-2.0
// A server_metrics with every optional source attached (key cache, verified-token cache, pool,
// open connections, a labelled organisation with a failure), so its scrape lists every family
// the library can export: what dashboards and alert rules may reference.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"
#include "oidc/key_cache.hpp"
#include "oidc/metrics/server_metrics.hpp"
#include "oidc/verified_token_cache.hpp"

namespace oidc::test {

struct full_metrics {
  key_cache keys;
  verified_token_cache tokens;
  std::unique_ptr<metrics::server_metrics> m;

  full_metrics() {
    metrics::server_metrics_options o;
    o.aadsts_keys = {"code_reused", "consent_required"};
    o.organisation_labels = true;
    m = std::make_unique<metrics::server_metrics>(o);
    m->attach_key_cache(keys);
    m->attach_verified_token_cache(tokens);
    m->add_open_connections_source([] { return std::size_t{1}; });
    m->set_idp_pool_source([] { return metrics::idp_pool_stats{1, 1, 2}; });
    const std::vector<std::string> orgs{"contoso"};
    m->set_organisations(orgs);
    m->login_failed(auth_error::state_expired, m->organisation("contoso").get());
    keys.publish(
        "https://login.microsoftonline.com/t/discovery/v2.0/keys",
        std::make_shared<const key_set>(),
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()),
        std::nullopt);
  }

  // Every sample name of a scrape (histograms: _bucket, _sum, _count) and every family name.
  std::set<std::string> names() const {
    std::set<std::string> out;
    const std::string text = m->render_metrics();
    for (const sample& s : parse_samples(text))
      out.insert(s.name);
    for (const auto& f : m->collect())
      out.insert(f.name);
    return out;
  }
};

}  // namespace oidc::test
