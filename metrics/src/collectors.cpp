// SPDX-License-Identifier: Apache-2.0
// Scrape-time collectors for core's key cache and verified-token cache, and the build.
#include "oidc/metrics/collectors.hpp"

#include <algorithm>
#include <array>

#include "families.hpp"
#include "oidc/key_cache.hpp"
#include "oidc/verified_token_cache.hpp"

namespace oidc::metrics {

using prometheus::MetricType;
using namespace detail;

namespace {

// Refresh failures the fetcher reports (jwks_service): always exported, so rate() sees the first
// one; any other reason appears once it is non-zero.
constexpr std::array kRefreshReasons{auth_error::jwks_invalid,     auth_error::jwks_unavailable,
                                     auth_error::idp_unreachable,  auth_error::idp_timeout,
                                     auth_error::idp_bad_response, auth_error::idp_error};

double seconds_between(std::chrono::system_clock::time_point now, sys_seconds then) {
  return std::chrono::duration<double>(now - then).count();
}

}  // namespace

key_cache_collector::key_cache_collector(const key_cache& cache, clock_fn clock,
                                         std::size_t max_key_set_series)
    : cache_(cache), clock_(std::move(clock)), max_series_(max_key_set_series) {
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

std::vector<prometheus::MetricFamily> key_cache_collector::Collect() const {
  const key_cache_stats s = cache_.stats();
  const auto now = clock_();
  const auto stale_if_error = cache_.policy().stale_if_error;

  std::vector<prometheus::MetricFamily> out;
  auto lookups = make_family("oidc_jwks_lookups_total",
                             "Key lookups of token verifications by outcome (stale: served past "
                             "expiry under stale-if-error).",
                             MetricType::Counter);
  for (std::size_t o = 0; o < kLookupOutcomes; ++o) {
    add_sample(lookups, {{"outcome", label(static_cast<lookup_outcome>(o))}},
               static_cast<double>(s.lookups[o]));
  }
  out.push_back(std::move(lookups));

  auto refreshes =
      make_family("oidc_jwks_refreshes_total",
                  "Successful JWKS fetches published to the key cache.", MetricType::Counter);
  add_sample(refreshes, {}, static_cast<double>(s.refreshes_ok));
  out.push_back(std::move(refreshes));

  auto errors = make_family("oidc_jwks_refresh_errors_total", "Failed JWKS refreshes by reason.",
                            MetricType::Counter);
  for (std::size_t r = 1; r < s.refresh_errors.size(); ++r) {
    const auto reason = static_cast<auth_error>(r);
    const bool listed =
        std::find(kRefreshReasons.begin(), kRefreshReasons.end(), reason) != kRefreshReasons.end();
    if (listed || s.refresh_errors[r] != 0) {
      add_sample(errors, {{"reason", label(reason)}}, static_cast<double>(s.refresh_errors[r]));
    }
  }
  out.push_back(std::move(errors));

  std::size_t stale = 0;
  std::size_t failing = 0;
  double oldest = 0;
  for (const key_set_stats& k : s.sets) {
    if (k.expires_at && now >= *k.expires_at) ++stale;
    if (k.consecutive_failures > 0) ++failing;
    if (k.last_success) oldest = std::max(oldest, seconds_between(now, *k.last_success));
  }
  auto sets = make_family("oidc_jwks_key_sets", "Key sets (jwks_uri) registered in the key cache.",
                          MetricType::Gauge);
  add_sample(sets, {}, static_cast<double>(s.sets.size()));
  out.push_back(std::move(sets));
  auto stale_sets = make_family("oidc_jwks_key_sets_stale",
                                "Key sets past their max-age (served stale or failing closed).",
                                MetricType::Gauge);
  add_sample(stale_sets, {}, static_cast<double>(stale));
  out.push_back(std::move(stale_sets));
  auto failing_sets = make_family("oidc_jwks_key_sets_failing",
                                  "Key sets whose last refresh failed.", MetricType::Gauge);
  add_sample(failing_sets, {}, static_cast<double>(failing));
  out.push_back(std::move(failing_sets));
  auto oldest_f = make_family("oidc_jwks_oldest_age_seconds",
                              "Seconds since the last successful refresh of the least recently "
                              "refreshed key set.",
                              MetricType::Gauge);
  add_sample(oldest_f, {}, oldest);
  out.push_back(std::move(oldest_f));
  auto sie = make_family("oidc_jwks_stale_if_error_seconds",
                         "How long past max-age a key set keeps verifying while refreshes fail.",
                         MetricType::Gauge);
  add_sample(sie, {}, static_cast<double>(stale_if_error.count()));
  out.push_back(std::move(sie));

  auto keys = make_family("oidc_jwks_keys", "Keys in the current snapshot of a key set.",
                          MetricType::Gauge);
  auto age =
      make_family("oidc_jwks_age_seconds",
                  "Seconds since the last successful refresh of a key set.", MetricType::Gauge);
  auto lifetime = make_family("oidc_jwks_lifetime_seconds",
                              "Clamped max-age of a key set's current snapshot: fresh while "
                              "oidc_jwks_age_seconds is below it.",
                              MetricType::Gauge);
  auto fails =
      make_family("oidc_jwks_consecutive_failures",
                  "Failed refreshes of a key set since its last success.", MetricType::Gauge);
  const std::size_t n = std::min(max_series_, s.sets.size());
  for (std::size_t i = 0; i < n; ++i) {
    const key_set_stats& k = s.sets[i];
    add_sample(keys, {{"key_set", k.id}}, static_cast<double>(k.key_count));
    add_sample(fails, {{"key_set", k.id}}, static_cast<double>(k.consecutive_failures));
    if (k.last_success) {
      add_sample(age, {{"key_set", k.id}}, seconds_between(now, *k.last_success));
      if (k.expires_at) {
        add_sample(lifetime, {{"key_set", k.id}},
                   static_cast<double>((*k.expires_at - *k.last_success).count()));
      }
    }
  }
  out.push_back(std::move(keys));
  out.push_back(std::move(age));
  out.push_back(std::move(lifetime));
  out.push_back(std::move(fails));
  return out;
}

std::vector<prometheus::MetricFamily> verified_token_cache_collector::Collect() const {
  const verified_token_cache::stats s = cache_.snapshot();
  std::vector<prometheus::MetricFamily> out;
  auto lookups = make_family("oidc_verify_cache_lookups_total",
                             "Verified-token cache lookups by result.", MetricType::Counter);
  add_sample(lookups, {{"result", "hit"}}, static_cast<double>(s.hits));
  add_sample(lookups, {{"result", "miss"}}, static_cast<double>(s.misses));
  out.push_back(std::move(lookups));
  const auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    auto f = make_family(name, help, MetricType::Counter);
    add_sample(f, {}, static_cast<double>(v));
    out.push_back(std::move(f));
  };
  counter("oidc_verify_cache_insertions_total", "Verifications cached.", s.insertions);
  counter("oidc_verify_cache_evictions_total", "Entries pushed out by the entry or byte bound.",
          s.evictions);
  counter("oidc_verify_cache_expirations_total", "Entries dropped at their token's expiry.",
          s.expirations);
  const auto gauge = [&](const char* name, const char* help, std::size_t v) {
    auto f = make_family(name, help, MetricType::Gauge);
    add_sample(f, {}, static_cast<double>(v));
    out.push_back(std::move(f));
  };
  gauge("oidc_verify_cache_entries", "Entries in the verified-token cache.", s.entries);
  gauge("oidc_verify_cache_bytes", "Approximate octets held by the verified-token cache.", s.bytes);
  return out;
}

std::vector<prometheus::MetricFamily> build_info_collector::Collect() const {
  auto f = make_family("oidc_build_info", "Version and git commit of this build; always 1.",
                       MetricType::Gauge);
  add_sample(f, {{"version", version_}, {"commit", commit_}}, 1);
  std::vector<prometheus::MetricFamily> out;
  out.push_back(std::move(f));
  return out;
}

}  // namespace oidc::metrics
