// SPDX-License-Identifier: Apache-2.0
// Collectors of core state: a real key_cache after publishes, lookups and refresh failures, and
// a real verified_token_cache after hits and misses, as they appear in a scrape.
#include "oidc/metrics/collectors.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "metrics/exposition.hpp"
#include "oidc/key_cache.hpp"
#include "oidc/metrics/server_metrics.hpp"
#include "oidc/verified_token_cache.hpp"
#include "support/test_keys.hpp"

namespace oidc::metrics {
namespace {

using namespace std::chrono_literals;
using test::find_sample;
using test::value_of;

const sys_seconds t0{std::chrono::seconds{1'800'000'000}};
constexpr std::string_view kUriA = "https://login.microsoftonline.com/tenant-a/discovery/v2.0/keys";
constexpr std::string_view kUriB = "https://login.microsoftonline.com/tenant-b/discovery/v2.0/keys";

struct fixed_clock {
  std::chrono::system_clock::time_point now{t0};
  clock_fn fn() {
    return [this] { return now; };
  }
};

key_cache_options policy_options() {
  key_cache_options o;
  o.policy.stale_if_error = 2h;
  return o;
}

TEST(KeyCacheCollector, ExportsLookupsRefreshesAndPerSetFreshness) {
  key_cache cache(policy_options());
  const auto& k = test::cached_test_key(jws_alg::ES256);
  cache.publish(kUriA, test::key_set_of({&k}), t0, 600s);
  cache.add(kUriB);
  {
    const auto g = cache.pin();
    EXPECT_EQ(cache.lookup(g, kUriA, k.kid, jws_alg::ES256, t0 + 1s).outcome, lookup_outcome::hit);
    EXPECT_EQ(cache.lookup(g, kUriA, k.kid, jws_alg::ES256, t0 + 2s).outcome, lookup_outcome::hit);
    EXPECT_EQ(cache.lookup(g, kUriA, "nope", jws_alg::ES256, t0 + 3s).outcome,
              lookup_outcome::kid_unknown);
    EXPECT_EQ(cache.lookup(g, kUriA, k.kid, jws_alg::ES256, t0 + 700s).outcome,
              lookup_outcome::stale);
    EXPECT_EQ(cache.lookup(g, kUriB, k.kid, jws_alg::ES256, t0).outcome,
              lookup_outcome::set_missing);
  }
  EXPECT_TRUE(cache.record_refresh_failure(kUriA, auth_error::idp_timeout, t0 + 650s));
  EXPECT_TRUE(cache.record_refresh_failure(kUriA, auth_error::idp_timeout, t0 + 680s));
  EXPECT_TRUE(cache.record_refresh_failure(kUriB, auth_error::key_invalid, t0 + 680s));

  fixed_clock clock;
  clock.now = t0 + 700s;
  const key_cache_collector collector(cache, clock.fn());
  const auto s = test::parse_samples(render_text(collector.Collect()));

  EXPECT_EQ(value_of(s, "oidc_jwks_lookups_total", {{"outcome", "hit"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_jwks_lookups_total", {{"outcome", "stale"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_lookups_total", {{"outcome", "kid_unknown"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_lookups_total", {{"outcome", "set_missing"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_lookups_total", {{"outcome", "too_stale"}}), 0);
  EXPECT_EQ(value_of(s, "oidc_jwks_refreshes_total"), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_refresh_errors_total", {{"reason", "idp_timeout"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_jwks_refresh_errors_total", {{"reason", "key_invalid"}}), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_refresh_errors_total", {{"reason", "jwks_unavailable"}}), 0);
  EXPECT_FALSE(find_sample(s, "oidc_jwks_refresh_errors_total", {{"reason", "nonce_mismatch"}}));

  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets"), 2);
  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets_stale"), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets_failing"), 2);
  EXPECT_EQ(value_of(s, "oidc_jwks_oldest_age_seconds"), 700);
  EXPECT_EQ(value_of(s, "oidc_jwks_stale_if_error_seconds"), 7200);
  const std::string a(kUriA);
  EXPECT_EQ(value_of(s, "oidc_jwks_keys", {{"key_set", a}}), 1);
  EXPECT_EQ(value_of(s, "oidc_jwks_age_seconds", {{"key_set", a}}), 700);
  EXPECT_EQ(value_of(s, "oidc_jwks_lifetime_seconds", {{"key_set", a}}), 600);
  EXPECT_EQ(value_of(s, "oidc_jwks_consecutive_failures", {{"key_set", a}}), 2);
  const std::string b(kUriB);
  EXPECT_EQ(value_of(s, "oidc_jwks_keys", {{"key_set", b}}), 0);
  EXPECT_FALSE(find_sample(s, "oidc_jwks_age_seconds", {{"key_set", b}}));  // never fetched
}

TEST(KeyCacheCollector, CapsPerKeySetSeriesButNotTheAggregates) {
  key_cache cache(policy_options());
  const auto& k = test::cached_test_key(jws_alg::ES256);
  for (int i = 0; i < 5; ++i) {
    cache.publish("https://idp.example/" + std::to_string(i) + "/keys", test::key_set_of({&k}), t0,
                  600s);
  }
  fixed_clock clock;
  const key_cache_collector collector(cache, clock.fn(), 2);
  const auto s = test::parse_samples(render_text(collector.Collect()));
  int per_set = 0;
  for (const auto& x : s)
    per_set += x.name == "oidc_jwks_keys";
  EXPECT_EQ(per_set, 2);
  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets"), 5);
  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets_stale"), 0);
}

TEST(KeyCacheCollector, IsPartOfServerMetricsWhenAttached) {
  key_cache cache(policy_options());
  server_metrics m;
  EXPECT_FALSE(test::has_family(test::parse_samples(m.render_metrics()), "oidc_jwks_key_sets"));
  m.attach_key_cache(cache);
  cache.add(kUriA);
  const auto s = test::parse_samples(m.render_metrics());
  EXPECT_EQ(value_of(s, "oidc_jwks_key_sets"), 1);
}

std::shared_ptr<const verified_identity> identity(sys_seconds exp) {
  auto v = std::make_shared<verified_identity>();
  v->subject = "alice";
  v->expires_at = exp;
  return v;
}

TEST(VerifiedTokenCacheCollector, ExportsHitsMissesAndSize) {
  verified_token_cache cache;
  server_metrics m;
  m.attach_verified_token_cache(cache);
  const auto a = cache.digest_of("token-a");
  const auto b = cache.digest_of("token-b");
  EXPECT_EQ(cache.find(a, t0), nullptr);
  cache.insert(a, identity(t0 + 60s), t0);
  EXPECT_NE(cache.find(a, t0 + 1s), nullptr);
  EXPECT_NE(cache.find(a, t0 + 2s), nullptr);
  EXPECT_EQ(cache.find(b, t0), nullptr);
  const auto s = test::parse_samples(m.render_metrics());
  EXPECT_EQ(value_of(s, "oidc_verify_cache_lookups_total", {{"result", "hit"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_verify_cache_lookups_total", {{"result", "miss"}}), 2);
  EXPECT_EQ(value_of(s, "oidc_verify_cache_insertions_total"), 1);
  EXPECT_EQ(value_of(s, "oidc_verify_cache_evictions_total"), 0);
  EXPECT_EQ(value_of(s, "oidc_verify_cache_expirations_total"), 0);
  EXPECT_EQ(value_of(s, "oidc_verify_cache_entries"), 1);
  EXPECT_GT(value_of(s, "oidc_verify_cache_bytes"), 0);
}

}  // namespace
}  // namespace oidc::metrics
