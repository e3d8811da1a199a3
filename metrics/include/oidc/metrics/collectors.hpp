// SPDX-License-Identifier: Apache-2.0
// prometheus::Collectable implementations that read state owned elsewhere at scrape time: core's
// key cache and verified-token cache (plain atomics there, exported here), the process (/proc,
// the standard process_* names) and the build. server_metrics attaches them; they are public so
// tests and other programs (the mock IdP) can use them alone.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace oidc {
class key_cache;
class verified_token_cache;
}  // namespace oidc

namespace oidc::metrics {

using clock_fn = std::function<std::chrono::system_clock::time_point()>;

// oidc_jwks_lookups_total{outcome}, oidc_jwks_refreshes_total, oidc_jwks_refresh_errors_total
// {reason}, oidc_jwks_key_sets, oidc_jwks_key_sets_stale, oidc_jwks_key_sets_failing,
// oidc_jwks_oldest_age_seconds, oidc_jwks_stale_if_error_seconds, and per key set (the first
// `max_key_set_series` ids in id order) oidc_jwks_keys{key_set}, oidc_jwks_age_seconds{key_set},
// oidc_jwks_lifetime_seconds{key_set}, oidc_jwks_consecutive_failures{key_set}.
class key_cache_collector final : public prometheus::Collectable {
 public:
  key_cache_collector(const key_cache& cache, clock_fn clock, std::size_t max_key_set_series = 20);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const key_cache& cache_;
  clock_fn clock_;
  std::size_t max_series_;
};

// oidc_verify_cache_lookups_total{result="hit"|"miss"}, oidc_verify_cache_insertions_total,
// oidc_verify_cache_evictions_total, oidc_verify_cache_expirations_total,
// oidc_verify_cache_entries, oidc_verify_cache_bytes.
class verified_token_cache_collector final : public prometheus::Collectable {
 public:
  explicit verified_token_cache_collector(const verified_token_cache& cache) : cache_(cache) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const verified_token_cache& cache_;
};

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds (Unix time), from /proc/self
// as the Prometheus client libraries define them. Families whose source cannot be read are
// left out.
class process_collector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// oidc_build_info{version,commit} 1.
class build_info_collector final : public prometheus::Collectable {
 public:
  build_info_collector(std::string version, std::string commit)
      : version_(std::move(version)), commit_(std::move(commit)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string version_;
  std::string commit_;
};

}  // namespace oidc::metrics
