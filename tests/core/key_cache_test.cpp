// SPDX-License-Identifier: Apache-2.0
// JWKS cache: lookup outcomes, freshness, Cache-Control, refresh policy, unknown-kid rate limit,
// thumbprint sharing, reclamation, a writer paused mid-publish, and a TSan stress run.
#include "oidc/key_cache.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/gate.hpp"

namespace oidc {
namespace {

using namespace std::chrono_literals;

const sys_seconds t0{std::chrono::seconds{1'800'000'000}};

using test::gate;

std::shared_ptr<const jwk> make_key(std::string kid, std::string thumbprint = {},
                                    alg_set algs = {jws_alg::RS256}) {
  auto k = std::make_shared<jwk>();
  k->kid = std::move(kid);
  k->kty = key_type::rsa;
  k->bits = 2048;
  k->algs = algs;
  k->thumbprint = std::move(thumbprint);
  return k;
}

std::shared_ptr<const key_set> set_of(std::vector<std::shared_ptr<const jwk>> keys) {
  return std::make_shared<const key_set>(std::move(keys));
}

key_cache_policy test_policy() {
  key_cache_policy p;
  p.min_max_age = 5min;
  p.max_max_age = 24h;
  p.default_max_age = 1h;
  p.stale_if_error = 2h;
  p.min_unknown_kid_refresh_interval = 5min;
  return p;
}

key_cache_options test_options() {
  key_cache_options o;
  o.policy = test_policy();
  return o;
}

constexpr std::string_view kUri = "https://login.microsoftonline.com/tid/discovery/v2.0/keys";

// --- lookups ---

TEST(KeyCacheLookup, FindsAPublishedKeyAsAHit) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1"), make_key("k2")}), t0, 600s);
  const auto g = cache.pin();
  const auto r = cache.lookup(g, kUri, "k2", jws_alg::RS256, t0 + 10s);
  EXPECT_EQ(r.outcome, lookup_outcome::hit);
  ASSERT_NE(r.key, nullptr);
  EXPECT_EQ(r.key->kid, "k2");
  ASSERT_NE(r.snapshot, nullptr);
  EXPECT_EQ(r.keys, r.snapshot->keys.get());
  EXPECT_EQ(cache.snapshot(g, kUri), r.snapshot);
  const std::string id(kUri);
  const auto pre = cache.lookup(g, make_key_set_key(id), "k2", jws_alg::RS256, t0 + 10s);
  EXPECT_EQ(pre.outcome, lookup_outcome::hit);
  EXPECT_EQ(pre.key, r.key);
  EXPECT_EQ(to_auth_error(r.outcome), auth_error::ok);
}

TEST(KeyCacheLookup, UnknownKidInAPresentSetIsKidUnknown) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  const auto g = cache.pin();
  const auto r = cache.lookup(g, kUri, "other", jws_alg::RS256, t0);
  EXPECT_EQ(r.outcome, lookup_outcome::kid_unknown);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_NE(r.keys, nullptr);
  EXPECT_EQ(to_auth_error(r.outcome), auth_error::kid_unknown);
}

TEST(KeyCacheLookup, KnownKidThatMayNotVerifyTheAlgIsKeyUseMismatch) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1", {}, {jws_alg::RS256})}), t0, 600s);
  const auto g = cache.pin();
  const auto r = cache.lookup(g, kUri, "k1", jws_alg::PS256, t0);
  EXPECT_EQ(r.outcome, lookup_outcome::key_use_mismatch);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_EQ(to_auth_error(r.outcome), auth_error::key_use_mismatch);
}

TEST(KeyCacheLookup, EmptyKidSelectsTheOnlyKeyForTheAlg) {
  key_cache cache(test_options());
  cache.publish(
      kUri, set_of({make_key("k1", {}, {jws_alg::RS256}), make_key("e1", {}, {jws_alg::ES256})}),
      t0, 600s);
  const auto g = cache.pin();
  const auto r = cache.lookup(g, kUri, "", jws_alg::ES256, t0);
  EXPECT_EQ(r.outcome, lookup_outcome::hit);
  ASSERT_NE(r.key, nullptr);
  EXPECT_EQ(r.key->kid, "e1");
}

TEST(KeyCacheLookup, UnregisteredOrUnpublishedSetIsSetMissing) {
  key_cache cache(test_options());
  EXPECT_TRUE(cache.add("registered"));
  EXPECT_FALSE(cache.add("registered"));
  const auto g = cache.pin();
  for (std::string_view id : {"nope", "registered"}) {
    const auto r = cache.lookup(g, id, "k1", jws_alg::RS256, t0);
    EXPECT_EQ(r.outcome, lookup_outcome::set_missing) << id;
    EXPECT_EQ(r.keys, nullptr);
    EXPECT_EQ(r.snapshot, nullptr);
    EXPECT_EQ(to_auth_error(r.outcome), auth_error::jwks_unavailable);
  }
}

TEST(KeyCacheDirectory, FindsEveryOneOfThousandsOfIdsAndNoOther) {
  key_cache cache(test_options());
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i)
    ids.push_back("https://login.microsoftonline.com/" + std::to_string(i) +
                  "/discovery/v2.0/keys");
  EXPECT_EQ(cache.add(ids), ids.size());
  EXPECT_EQ(cache.add(ids), 0u);
  const std::vector<std::string> repeated{"dup", "dup", ids[5]};
  EXPECT_EQ(cache.add(repeated), 1u);
  ids.push_back("dup");
  cache.publish(ids[1234], set_of({make_key("k1")}), t0, 600s);
  const auto g = cache.pin();
  for (const auto& id : ids)
    ASSERT_NE(cache.lookup(g, id, "k1", jws_alg::RS256, t0).outcome == lookup_outcome::hit,
              id != ids[1234])
        << id;
  EXPECT_EQ(cache.lookup(g, ids[0] + "x", "k1", jws_alg::RS256, t0).outcome,
            lookup_outcome::set_missing);
  EXPECT_EQ(cache.lookup(g, "", "k1", jws_alg::RS256, t0).outcome, lookup_outcome::set_missing);
  EXPECT_EQ(cache.ids().size(), ids.size());
}

TEST(KeyCacheLookup, PastMaxAgeTheKeyIsStillServedAsStale) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  const auto g = cache.pin();
  EXPECT_EQ(cache.lookup(g, kUri, "k1", jws_alg::RS256, t0 + 599s).outcome, lookup_outcome::hit);
  const auto r = cache.lookup(g, kUri, "k1", jws_alg::RS256, t0 + 600s);
  EXPECT_EQ(r.outcome, lookup_outcome::stale);
  EXPECT_NE(r.key, nullptr);
  EXPECT_EQ(to_auth_error(r.outcome), auth_error::ok);
}

TEST(KeyCacheLookup, PastStaleIfErrorTheLookupFailsClosed) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  const auto g = cache.pin();
  const sys_seconds bound = t0 + 600s + 2h;
  EXPECT_EQ(cache.lookup(g, kUri, "k1", jws_alg::RS256, bound - 1s).outcome, lookup_outcome::stale);
  const auto r = cache.lookup(g, kUri, "k1", jws_alg::RS256, bound);
  EXPECT_EQ(r.outcome, lookup_outcome::too_stale);
  EXPECT_EQ(r.key, nullptr);
  EXPECT_EQ(r.keys, nullptr);
  EXPECT_EQ(to_auth_error(r.outcome), auth_error::jwks_stale);
  // A successful refresh recovers.
  cache.publish(kUri, set_of({make_key("k1")}), bound, 600s);
  const auto g2 = cache.pin();
  EXPECT_EQ(cache.lookup(g2, kUri, "k1", jws_alg::RS256, bound).outcome, lookup_outcome::hit);
}

TEST(KeyCacheLookup, MaxAgeIsClampedToThePolicyBounds) {
  key_cache cache(test_options());
  EXPECT_EQ(cache.publish("low", set_of({}), t0, 10s).expires_at, t0 + 5min);
  EXPECT_EQ(
      cache.publish("high", set_of({}), t0, std::chrono::seconds{std::int64_t{1} << 31}).expires_at,
      t0 + 24h);
  EXPECT_EQ(cache.publish("absent", set_of({}), t0, std::nullopt).expires_at, t0 + 1h);
  EXPECT_EQ(cache.publish("ok", set_of({}), t0, 3600s * 3).expires_at, t0 + 3h);
}

TEST(KeyCacheLookup, OutcomesAreCountedPerSetAndInTotal) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  {
    const auto g = cache.pin();
    (void)cache.lookup(g, kUri, "k1", jws_alg::RS256, t0);
    (void)cache.lookup(g, kUri, "k1", jws_alg::RS256, t0);
    (void)cache.lookup(g, kUri, "zz", jws_alg::RS256, t0);
    (void)cache.lookup(g, kUri, "k1", jws_alg::RS256, t0 + 700s);
    (void)cache.lookup(g, kUri, "k1", jws_alg::RS256, t0 + 700s + 2h);
    (void)cache.lookup(g, "unregistered", "k1", jws_alg::RS256, t0);
  }
  const auto st = cache.stats();
  ASSERT_EQ(st.sets.size(), 1u);
  const auto& s = st.sets[0];
  EXPECT_EQ(s.id, kUri);
  auto at = [](const auto& a, lookup_outcome o) { return a[static_cast<std::size_t>(o)]; };
  EXPECT_EQ(at(s.lookups, lookup_outcome::hit), 2u);
  EXPECT_EQ(at(s.lookups, lookup_outcome::kid_unknown), 1u);
  EXPECT_EQ(at(s.lookups, lookup_outcome::stale), 1u);
  EXPECT_EQ(at(s.lookups, lookup_outcome::too_stale), 1u);
  EXPECT_EQ(at(s.lookups, lookup_outcome::set_missing), 0u);
  EXPECT_EQ(at(st.lookups, lookup_outcome::hit), 2u);
  EXPECT_EQ(at(st.lookups, lookup_outcome::set_missing), 1u);
  EXPECT_EQ(s.key_count, 1u);
  EXPECT_EQ(s.refreshes_ok, 1u);
  EXPECT_EQ(s.generation, 1u);
  EXPECT_EQ(s.last_success, t0);
  EXPECT_EQ(s.expires_at, t0 + 600s);
  EXPECT_EQ(label(lookup_outcome::too_stale), "too_stale");
}

TEST(KeyCacheLookup, RefreshFailuresAreCountedByReasonAndSurviveRemoval) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  EXPECT_TRUE(cache.record_refresh_failure(kUri, auth_error::idp_timeout, t0 + 1s));
  EXPECT_TRUE(cache.record_refresh_failure(kUri, auth_error::idp_timeout, t0 + 2s));
  EXPECT_TRUE(cache.record_refresh_failure(kUri, auth_error::jwks_invalid, t0 + 3s));
  EXPECT_FALSE(cache.record_refresh_failure("unregistered", auth_error::idp_timeout, t0));
  auto st = cache.stats();
  ASSERT_EQ(st.sets.size(), 1u);
  EXPECT_EQ(st.sets[0].refresh_errors[index(auth_error::idp_timeout)], 2u);
  EXPECT_EQ(st.sets[0].refresh_errors[index(auth_error::jwks_invalid)], 1u);
  EXPECT_EQ(st.sets[0].consecutive_failures, 3u);
  EXPECT_EQ(st.sets[0].last_failure, t0 + 3s);
  // Still serving the last good keys.
  {
    const auto g = cache.pin();
    EXPECT_EQ(cache.lookup(g, kUri, "k1", jws_alg::RS256, t0 + 3s).outcome, lookup_outcome::hit);
  }
  EXPECT_TRUE(cache.remove(kUri));
  EXPECT_FALSE(cache.remove(kUri));
  st = cache.stats();
  EXPECT_TRUE(st.sets.empty());
  EXPECT_EQ(st.refresh_errors[index(auth_error::idp_timeout)], 2u);
  EXPECT_EQ(st.refreshes_ok, 1u);
}

// --- Cache-Control ---

std::optional<long long> max_age_of(std::string_view h) {
  const auto v = parse_cache_control_max_age(h);
  if (!v) return std::nullopt;
  return static_cast<long long>(v->count());
}

TEST(CacheControl, ReadsMaxAge) {
  EXPECT_EQ(max_age_of("max-age=300"), 300);
  EXPECT_EQ(max_age_of("public, max-age=86400"), 86400);
  EXPECT_EQ(max_age_of("Max-Age=60"), 60);
  EXPECT_EQ(max_age_of(" max-age=30 , public "), 30);
  EXPECT_EQ(max_age_of("max-age=0"), 0);
  EXPECT_EQ(max_age_of(",,max-age=5,,"), 5);
  EXPECT_EQ(max_age_of("s-maxage=10, max-age=20"), 20);  // s-maxage is for shared caches
}

TEST(CacheControl, AcceptsTheQuotedFormAndSkipsQuotedCommas) {
  EXPECT_EQ(max_age_of("max-age=\"300\""), 300);
  EXPECT_EQ(max_age_of("private=\"a, b\", max-age=10"), 10);
  EXPECT_EQ(max_age_of("ext=\"x\\\"y, max-age=99\", max-age=10"), 10);
  EXPECT_EQ(max_age_of("max-age=\"30\\0\""), std::nullopt);
}

TEST(CacheControl, AbsentMaxAgeIsNullopt) {
  EXPECT_EQ(max_age_of(""), std::nullopt);
  EXPECT_EQ(max_age_of("public"), std::nullopt);
  EXPECT_EQ(max_age_of("public, must-revalidate"), std::nullopt);
}

TEST(CacheControl, MalformedHeadersAreNullopt) {
  for (std::string_view h :
       {"max-age", "max-age=", "max-age=abc", "max-age=300junk", "max-age=-5", "max-age=+5",
        "max-age=3.5", "max-age = 30", "max-age=\"300", "=300", "max-age=30 40",
        "max-age=30; public", "public max-age=30", "max-age=30\x01", "\xff", "max-age=\"\x01\""}) {
    EXPECT_EQ(max_age_of(h), std::nullopt) << h;
  }
}

TEST(CacheControl, OverflowingValuesAreTwoToThe31) {
  EXPECT_EQ(max_age_of("max-age=2147483648"), 2147483648LL);
  EXPECT_EQ(max_age_of("max-age=99999999999999999999999999999999"), 2147483648LL);
  EXPECT_EQ(max_age_of("max-age=2147483647"), 2147483647LL);
}

TEST(CacheControl, DuplicateDirectives) {
  EXPECT_EQ(max_age_of("max-age=60, max-age=60"), 60);
  EXPECT_EQ(max_age_of("max-age=60, max-age=120"), 0);  // conflicting: treated as stale
  EXPECT_EQ(max_age_of("max-age=60, max-age=abc"), std::nullopt);
}

TEST(CacheControl, NoStoreAndNoCacheMeanRevalidateSoonest) {
  EXPECT_EQ(max_age_of("no-store"), 0);
  EXPECT_EQ(max_age_of("no-cache, max-age=600"), 0);
  EXPECT_EQ(max_age_of("NO-CACHE=\"Set-Cookie\", max-age=600"), 0);
  const auto p = test_policy();
  EXPECT_EQ(clamp_max_age(parse_cache_control_max_age("no-store"), p), p.min_max_age);
}

TEST(CacheControl, ClampAppliesPolicyBounds) {
  const auto p = test_policy();
  EXPECT_EQ(clamp_max_age(std::nullopt, p), 1h);
  EXPECT_EQ(clamp_max_age(1s, p), 5min);
  EXPECT_EQ(clamp_max_age(std::chrono::seconds{std::int64_t{1} << 31}, p), 24h);
  EXPECT_EQ(clamp_max_age(2h, p), 2h);
}

TEST(CacheControl, RandomInputNeverCrashes) {
  std::mt19937 rng(4711);
  const std::string alphabet = "max-ge=0123456789\",\\ \t;npublicsor\x01\xff";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1), len(0, 40);
  for (int i = 0; i < 20000; ++i) {
    std::string h;
    for (std::size_t n = len(rng); n > 0; --n)
      h += alphabet[pick(rng)];
    const auto v = parse_cache_control_max_age(h);
    if (v) {
      EXPECT_GE(v->count(), 0) << h;
      EXPECT_LE(v->count(), std::int64_t{1} << 31) << h;
    }
  }
}

// --- refresh policy ---

TEST(RefreshPolicy, FetchAtOnceWithoutKeysAndAheadOfExpiryWithThem) {
  const auto p = test_policy();
  EXPECT_EQ(next_refresh_at(refresh_state{}, p), sys_seconds{});
  refresh_state s;
  s.fetched_at = t0;
  s.expires_at = t0 + 1h;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 45min);  // refresh_ahead_fraction 0.25
}

TEST(RefreshPolicy, FailuresBackOffExponentiallyUpToTheCap) {
  const auto p = test_policy();  // 30 s .. 5 min
  refresh_state s;
  s.fetched_at = t0;
  s.expires_at = t0 + 1h;
  s.last_failure_at = t0 + 50min;
  s.consecutive_failures = 1;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 50min + 30s);
  s.consecutive_failures = 2;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 50min + 60s);
  s.consecutive_failures = 4;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 50min + 240s);
  s.consecutive_failures = 5;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 50min + 5min);
  s.consecutive_failures = 4000000000u;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 50min + 5min);
  // A failure long before the planned refresh does not bring it forward.
  s.last_failure_at = t0 + 1min;
  s.consecutive_failures = 1;
  EXPECT_EQ(next_refresh_at(s, p), t0 + 45min);
  // Without keys, failures alone decide.
  EXPECT_EQ(next_refresh_at(refresh_state{std::nullopt, std::nullopt, t0, 1}, p), t0 + 30s);
}

TEST(RefreshPolicy, CacheTracksFailuresAndAPublishResetsThem) {
  key_cache cache(test_options());
  EXPECT_EQ(cache.next_refresh_at("unregistered"), std::nullopt);
  cache.publish(kUri, set_of({make_key("k1")}), t0, 3600s);
  EXPECT_EQ(cache.next_refresh_at(kUri), t0 + 45min);
  cache.record_refresh_failure(kUri, auth_error::idp_unreachable, t0 + 46min);
  cache.record_refresh_failure(kUri, auth_error::idp_unreachable, t0 + 47min);
  EXPECT_EQ(cache.next_refresh_at(kUri), t0 + 47min + 60s);
  cache.publish(kUri, set_of({make_key("k1")}), t0 + 48min, 3600s);
  EXPECT_EQ(cache.refresh_state_of(kUri)->consecutive_failures, 0u);
  EXPECT_EQ(cache.next_refresh_at(kUri), t0 + 48min + 45min);
}

// --- unknown-kid rate limit ---

TEST(UnknownKidRefresh, OneForcedRefreshPerInterval) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  EXPECT_TRUE(cache.may_refresh_for_unknown_kid(kUri, t0));
  EXPECT_FALSE(cache.may_refresh_for_unknown_kid(kUri, t0 + 1s));
  EXPECT_FALSE(cache.may_refresh_for_unknown_kid(kUri, t0 + 5min - 1s));
  EXPECT_TRUE(cache.may_refresh_for_unknown_kid(kUri, t0 + 5min));
  EXPECT_FALSE(cache.may_refresh_for_unknown_kid(kUri, t0 + 5min));
  EXPECT_FALSE(cache.may_refresh_for_unknown_kid("unregistered", t0));
}

TEST(UnknownKidRefresh, IsPerKeySet) {
  key_cache cache(test_options());
  cache.add("a");
  cache.add("b");
  EXPECT_TRUE(cache.may_refresh_for_unknown_kid("a", t0));
  EXPECT_TRUE(cache.may_refresh_for_unknown_kid("b", t0));
  EXPECT_FALSE(cache.may_refresh_for_unknown_kid("a", t0));
}

TEST(UnknownKidRefresh, ExactlyOneOfManyConcurrentCallersWins) {
  key_cache cache(test_options());
  cache.publish(kUri, set_of({make_key("k1")}), t0, 600s);
  constexpr int kThreads = 8;
  for (int round = 0; round < 5; ++round) {
    const sys_seconds now = t0 + round * 5min;
    std::atomic<int> ready{0};
    std::atomic<int> winners{0};
    gate go;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        ready.fetch_add(1);
        go.wait();
        if (cache.may_refresh_for_unknown_kid(kUri, now)) winners.fetch_add(1);
      });
    }
    while (ready.load() < kThreads)
      std::this_thread::yield();
    go.open();
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(winners.load(), 1) << "round " << round;
  }
}

// --- sharing identical keys ---

TEST(KeyCacheSharing, IdenticalKeysInTwoSetsAreOneObject) {
  key_cache cache(test_options());
  const auto a = make_key("common", "thumb-1");
  const auto b = make_key("common", "thumb-1");  // parsed separately from another tenant's JWKS
  ASSERT_NE(a.get(), b.get());
  EXPECT_EQ(
      cache.publish("tenant-a", set_of({a, make_key("only-a", "thumb-2")}), t0, 600s).shared_keys,
      0u);
  const auto r = cache.publish("tenant-b", set_of({make_key("only-b", "thumb-3"), b}), t0, 600s);
  EXPECT_EQ(r.shared_keys, 1u);
  const auto g = cache.pin();
  const auto* ka = cache.lookup(g, "tenant-a", "common", jws_alg::RS256, t0).key;
  const auto* kb = cache.lookup(g, "tenant-b", "common", jws_alg::RS256, t0).key;
  EXPECT_EQ(ka, a.get());
  EXPECT_EQ(kb, a.get());
  EXPECT_EQ(cache.lookup(g, "tenant-b", "only-b", jws_alg::RS256, t0).outcome, lookup_outcome::hit);
}

TEST(KeyCacheSharing, SameMaterialUnderAnotherKidOrAlgIsNotShared) {
  key_cache cache(test_options());
  const auto a = make_key("kid-a", "thumb-1", {jws_alg::RS256});
  cache.publish("tenant-a", set_of({a}), t0, 600s);
  EXPECT_EQ(cache.publish("tenant-b", set_of({make_key("kid-b", "thumb-1")}), t0, 600s).shared_keys,
            0u);
  EXPECT_EQ(
      cache.publish("tenant-c", set_of({make_key("kid-a", "thumb-1", {jws_alg::PS256})}), t0, 600s)
          .shared_keys,
      0u);
  const auto g = cache.pin();
  EXPECT_EQ(cache.lookup(g, "tenant-b", "kid-b", jws_alg::RS256, t0).outcome, lookup_outcome::hit);
  EXPECT_EQ(cache.lookup(g, "tenant-c", "kid-a", jws_alg::RS256, t0).outcome,
            lookup_outcome::key_use_mismatch);
}

TEST(KeyCacheSharing, KeysNoSetHoldsAnyMoreAreNotKeptAlive) {
  key_cache cache(test_options());
  std::weak_ptr<const jwk> weak;
  {
    auto k = make_key("k", "thumb-1");
    weak = k;
    cache.publish("a", set_of({k}), t0, 600s);
  }
  EXPECT_EQ(cache.stats().interned_keys, 1u);
  cache.publish("a", set_of({make_key("k2", "thumb-2")}), t0, 600s);
  cache.reclaim();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(cache.stats().interned_keys, 1u);
}

// --- reclamation ---

TEST(KeyCacheReclamation, ReplacedSnapshotIsFreedByThePublishWithoutReaders) {
  key_cache cache(test_options());
  std::weak_ptr<const key_set> old;
  {
    auto s = set_of({make_key("old")});
    old = s;
    cache.publish(kUri, std::move(s), t0, 600s);
  }
  cache.publish(kUri, set_of({make_key("new")}), t0, 600s);
  EXPECT_TRUE(old.expired());
  EXPECT_EQ(cache.stats().retired, 0u);
}

TEST(KeyCacheReclamation, SnapshotAReaderHoldsSurvivesUntilItLeavesThenReclaimFreesIt) {
  key_cache cache(test_options());
  std::weak_ptr<const key_set> old;
  {
    auto s = set_of({make_key("old")});
    old = s;
    cache.publish(kUri, std::move(s), t0, 600s);
  }
  gate got, published, finished;
  std::string read_kid;
  std::thread reader([&] {
    const auto g = cache.pin();
    const auto r = cache.lookup(g, kUri, "old", jws_alg::RS256, t0);
    got.open();
    published.wait();
    read_kid = r.keys->keys()[0]->kid;  // the old keys are still readable under the guard
    finished.open();
  });
  got.wait();
  cache.publish(kUri, set_of({make_key("new")}), t0, 600s);
  cache.reclaim();
  EXPECT_FALSE(old.expired());
  EXPECT_EQ(cache.stats().retired, 1u);
  published.open();
  finished.wait();
  reader.join();
  EXPECT_EQ(read_kid, "old");
  EXPECT_EQ(cache.reclaim(), 1u);
  EXPECT_TRUE(old.expired());
}

TEST(KeyCacheReclamation, AnIdleReaderThreadDoesNotPinOldKeys) {
  key_cache cache(test_options());
  std::weak_ptr<const key_set> old;
  {
    auto s = set_of({make_key("old")});
    old = s;
    cache.publish(kUri, std::move(s), t0, 600s);
  }
  gate looked_up, finish;
  std::thread idle([&] {
    {
      const auto g = cache.pin();
      (void)cache.lookup(g, kUri, "old", jws_alg::RS256, t0);
    }
    looked_up.open();
    finish.wait();
  });
  looked_up.wait();
  cache.publish(kUri, set_of({make_key("new")}), t0, 600s);
  EXPECT_TRUE(old.expired());
  finish.open();
  idle.join();
}

TEST(KeyCacheReclamation, RemovedSetIsFreedAndNoLongerFound) {
  key_cache cache(test_options());
  std::weak_ptr<const key_set> keys;
  {
    auto s = set_of({make_key("k")});
    keys = s;
    cache.publish("a", std::move(s), t0, 600s);
  }
  cache.publish("b", set_of({make_key("k")}), t0, 600s);
  EXPECT_TRUE(cache.remove("a"));
  EXPECT_TRUE(keys.expired());
  const auto g = cache.pin();
  EXPECT_EQ(cache.lookup(g, "a", "k", jws_alg::RS256, t0).outcome, lookup_outcome::set_missing);
  EXPECT_EQ(cache.lookup(g, "b", "k", jws_alg::RS256, t0).outcome, lookup_outcome::hit);
  EXPECT_EQ(cache.ids(), std::vector<std::string>{"b"});
}

// --- a writer paused halfway ---

// Keys of generation g carry kids "g<g>-<i>", and a set of generation g has g + 1 keys: a reader
// can tell a whole snapshot from a torn one.
std::shared_ptr<const key_set> generation_set(std::uint64_t g) {
  std::vector<std::shared_ptr<const jwk>> keys;
  for (std::uint64_t i = 0; i <= g % 4; ++i)
    keys.push_back(make_key("g" + std::to_string(g) + "-" + std::to_string(i)));
  return set_of(std::move(keys));
}

bool whole(const key_set_snapshot& s) {
  const std::string prefix = "g" + std::to_string(s.generation) + "-";
  if (s.keys->size() != s.generation % 4 + 1) return false;
  for (std::size_t i = 0; i < s.keys->size(); ++i)
    if (s.keys->keys()[i]->kid != prefix + std::to_string(i)) return false;
  return true;
}

class PausedWriter : public ::testing::TestWithParam<publish_step> {};

TEST_P(PausedWriter, ReadersProgressAndSeeOldOrNewNeverTorn) {
  const publish_step pause_at = GetParam();
  std::atomic<bool> armed{false};
  gate paused, resume;
  auto options = test_options();
  options.on_publish_step = [&](publish_step s) {
    if (s == pause_at && armed.exchange(false)) {
      paused.open();
      resume.wait();
    }
  };
  key_cache cache(options);
  cache.publish(kUri, generation_set(1), t0, 600s);
  armed = true;
  std::thread writer([&] { cache.publish(kUri, generation_set(2), t0, 600s); });
  paused.wait();

  const std::uint64_t expected = pause_at == publish_step::snapshot_built ? 1 : 2;
  constexpr int kLookups = 10000;
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < kLookups; ++i) {
        const auto g = cache.pin();
        const auto r =
            cache.lookup(g, kUri, "g" + std::to_string(expected) + "-0", jws_alg::RS256, t0);
        if (r.outcome != lookup_outcome::hit || !whole(*r.snapshot) ||
            r.snapshot->generation != expected)
          bad.fetch_add(1);
      }
    });
  }
  for (auto& r : readers)
    r.join();  // finished while the writer is still held inside publish()
  EXPECT_EQ(bad.load(), 0);
  resume.open();
  writer.join();
  const auto g = cache.pin();
  EXPECT_EQ(cache.snapshot(g, kUri)->generation, 2u);
}

INSTANTIATE_TEST_SUITE_P(EachStep, PausedWriter,
                         ::testing::Values(publish_step::snapshot_built,
                                           publish_step::snapshot_swapped,
                                           publish_step::old_retired, publish_step::reclaimed));

TEST(PausedWriterNewId, ANewIdIsVisibleWithItsKeysOnceTheDirectoryIsSwapped) {
  std::atomic<bool> armed{true};
  gate paused, resume;
  auto options = test_options();
  options.on_publish_step = [&](publish_step s) {
    if (s == publish_step::directory_swapped && armed.exchange(false)) {
      paused.open();
      resume.wait();
    }
  };
  key_cache cache(options);
  std::thread writer([&] { cache.publish(kUri, generation_set(1), t0, 600s); });
  paused.wait();
  std::atomic<int> bad{0};
  std::thread reader([&] {
    for (int i = 0; i < 10000; ++i) {
      const auto g = cache.pin();
      const auto r = cache.lookup(g, kUri, "g1-1", jws_alg::RS256, t0);
      if (r.outcome != lookup_outcome::hit || !whole(*r.snapshot)) bad.fetch_add(1);
    }
  });
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  resume.open();
  writer.join();
}

// --- TSan stress ---

// Readers look up and check whole snapshots while one writer publishes and reclaims without pause
// and another thread adds and removes ids. Under the tsan preset this is the proof that the read
// path is race-free and never touches freed memory.
TEST(KeyCacheStress, ReadersSeeWholeSnapshotsWhileWritersChurn) {
  key_cache cache(test_options());
  cache.publish(kUri, generation_set(1), t0, 600s);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      const std::string churn_id = "churn-" + std::to_string(t % 2);
      do {
        const auto g = cache.pin();
        const key_set_snapshot* s = cache.snapshot(g, kUri);
        if (!s || !whole(*s)) {
          bad.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        const std::string kid = "g" + std::to_string(s->generation) + "-0";
        const auto r = cache.lookup(g, kUri, kid, jws_alg::RS256, t0);
        // A newer generation may have been published in between: then kid_unknown is right.
        if (r.outcome == lookup_outcome::hit ? !whole(*r.snapshot)
                                             : r.outcome != lookup_outcome::kid_unknown ||
                                                   r.snapshot->generation <= s->generation)
          bad.fetch_add(1, std::memory_order_relaxed);
        const auto c = cache.lookup(g, churn_id, "k", jws_alg::RS256, t0);
        if (c.outcome != lookup_outcome::set_missing && c.outcome != lookup_outcome::hit)
          bad.fetch_add(1, std::memory_order_relaxed);
        reads.fetch_add(1, std::memory_order_relaxed);
      } while (!stop.load(std::memory_order_relaxed));
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const std::string id = "churn-" + std::to_string(i % 2);
      if (i % 3 == 0)
        cache.publish(id, set_of({make_key("k", "tp-shared")}), t0, 600s);
      else
        cache.remove(id);
    }
  });
  std::uint64_t g = 2;
  for (; g < 2000 || reads.load() < 20000; ++g) {
    cache.publish(kUri, generation_set(g), t0, 600s);
    if (g % 8 == 0) cache.reclaim();
  }
  stop = true;
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0u);
  cache.reclaim();
  EXPECT_EQ(cache.stats().retired, 0u);
}

}  // namespace
}  // namespace oidc
