// SPDX-License-Identifier: Apache-2.0
// Helpers that build prometheus::MetricFamily values at scrape time (not on a request path).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <prometheus/metric_family.h>

#include "oidc/metrics/sharded.hpp"

namespace oidc::metrics::detail {

using label_list = std::initializer_list<std::pair<std::string_view, std::string_view>>;

inline prometheus::MetricFamily make_family(std::string name, std::string help,
                                            prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

inline std::vector<prometheus::ClientMetric::Label> to_labels(label_list labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(labels.size());
  for (const auto& [n, v] : labels)
    out.push_back({std::string(n), std::string(v)});
  return out;
}

// A counter or gauge sample (by the family's type).
inline void add_sample(prometheus::MetricFamily& f, label_list labels, double value) {
  prometheus::ClientMetric m;
  m.label = to_labels(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

// A histogram sample from its cells (per-bucket counts, +Inf, sum in ns), see histogram_layout.
inline void add_histogram(prometheus::MetricFamily& f, label_list labels, const histogram_layout& h,
                          std::span<const std::uint64_t> cells) {
  prometheus::ClientMetric m;
  m.label = to_labels(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds_ns.size(); ++i) {
    cumulative += cells[i];
    m.histogram.bucket.push_back({cumulative, static_cast<double>(h.bounds_ns[i]) / 1e9});
  }
  cumulative += cells[h.bounds_ns.size()];
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(cells[h.bounds_ns.size() + 1]) / 1e9;
  f.metric.push_back(std::move(m));
}

}  // namespace oidc::metrics::detail
