// SPDX-License-Identifier: Apache-2.0
// The verified-token cache: hits until exp (capped), bounds in entries and bytes, concurrency.
#include "oidc/verified_token_cache.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace oidc {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_seconds;

constexpr sys_seconds kNow{std::chrono::seconds(1'800'000'000)};

std::shared_ptr<const verified_identity> identity(std::string subject, sys_seconds exp) {
  auto v = std::make_shared<verified_identity>();
  v->subject = std::move(subject);
  v->organisation = "acme";
  v->expires_at = exp;
  return v;
}

TEST(VerifiedTokenCache, DigestIsSha256OfTheToken) {
  verified_token_cache cache;
  const auto d = cache.digest_of("abc");
  // FIPS 180-2 B.1.
  const verified_token_cache::digest expected{0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                              0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                              0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                              0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  EXPECT_EQ(d, expected);
}

TEST(VerifiedTokenCache, MissThenHitReturnsTheCachedIdentity) {
  verified_token_cache cache;
  const auto d = cache.digest_of("token-a");
  EXPECT_EQ(cache.find(d, kNow), nullptr);
  const auto v = identity("alice", kNow + 1h);
  cache.insert(d, v, kNow);
  EXPECT_EQ(cache.find(d, kNow + 1s), v);
  EXPECT_EQ(cache.find(cache.digest_of("token-b"), kNow), nullptr);
  const auto st = cache.snapshot();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 2u);
  EXPECT_EQ(st.insertions, 1u);
  EXPECT_EQ(st.entries, 1u);
  EXPECT_GT(st.bytes, 0u);
}

TEST(VerifiedTokenCache, EntryNeverOutlivesTheTokensExp) {
  verified_token_cache cache;
  const auto d = cache.digest_of("t");
  cache.insert(d, identity("alice", kNow + 10s), kNow);
  EXPECT_NE(cache.find(d, kNow + 9s), nullptr);
  EXPECT_EQ(cache.find(d, kNow + 10s), nullptr);
  EXPECT_EQ(cache.snapshot().expirations, 1u);
  EXPECT_EQ(cache.snapshot().entries, 0u);
}

TEST(VerifiedTokenCache, MaxTtlCapsALongLivedToken) {
  verified_token_cache_options o;
  o.max_ttl = 60s;
  verified_token_cache cache(o);
  const auto d = cache.digest_of("t");
  cache.insert(d, identity("alice", kNow + 24h), kNow);
  EXPECT_NE(cache.find(d, kNow + 59s), nullptr);
  EXPECT_EQ(cache.find(d, kNow + 60s), nullptr);
}

TEST(VerifiedTokenCache, ExpiredTokenIsNotCached) {
  verified_token_cache cache;
  const auto d = cache.digest_of("t");
  cache.insert(d, identity("alice", kNow), kNow);
  EXPECT_EQ(cache.snapshot().insertions, 0u);
  EXPECT_EQ(cache.find(d, kNow - 1s), nullptr);
}

TEST(VerifiedTokenCache, DisabledCacheNeverHits) {
  verified_token_cache_options o;
  o.enabled = false;
  verified_token_cache cache(o);
  const auto d = cache.digest_of("t");
  cache.insert(d, identity("alice", kNow + 1h), kNow);
  EXPECT_EQ(cache.find(d, kNow), nullptr);
  EXPECT_EQ(cache.snapshot().entries, 0u);
}

TEST(VerifiedTokenCache, OldestEntriesGoWhenOverTheEntryBound) {
  verified_token_cache_options o;
  o.shards = 1;
  o.max_entries = 3;
  verified_token_cache cache(o);
  for (int i = 0; i < 5; ++i)
    cache.insert(cache.digest_of("t" + std::to_string(i)), identity("u", kNow + 1h), kNow);
  const auto st = cache.snapshot();
  EXPECT_EQ(st.entries, 3u);
  EXPECT_EQ(st.evictions, 2u);
  EXPECT_EQ(cache.find(cache.digest_of("t0"), kNow), nullptr);
  EXPECT_EQ(cache.find(cache.digest_of("t1"), kNow), nullptr);
  EXPECT_NE(cache.find(cache.digest_of("t4"), kNow), nullptr);
}

TEST(VerifiedTokenCache, ByteBoundHoldsWithLargeIdentities) {
  verified_token_cache_options o;
  o.shards = 1;
  o.max_bytes = 8 * 1024;
  verified_token_cache cache(o);
  for (int i = 0; i < 50; ++i) {
    auto v = std::make_shared<verified_identity>();
    v->name = std::string(1000, 'n');
    v->expires_at = kNow + 1h;
    cache.insert(cache.digest_of("t" + std::to_string(i)), v, kNow);
    ASSERT_LE(cache.snapshot().bytes, o.max_bytes);
  }
  EXPECT_GT(cache.snapshot().entries, 0u);
  EXPECT_LT(cache.snapshot().entries, 8u);
  // One identity larger than the whole bound is simply not cached.
  auto huge = std::make_shared<verified_identity>();
  huge->name = std::string(16 * 1024, 'n');
  huge->expires_at = kNow + 1h;
  const auto d = cache.digest_of("huge");
  cache.insert(d, huge, kNow);
  EXPECT_EQ(cache.find(d, kNow), nullptr);
}

TEST(VerifiedTokenCache, EraseDropsOneEntry) {
  verified_token_cache cache;
  const auto d = cache.digest_of("t");
  cache.insert(d, identity("alice", kNow + 1h), kNow);
  cache.erase(d);
  EXPECT_EQ(cache.find(d, kNow), nullptr);
  EXPECT_EQ(cache.snapshot().entries, 0u);
}

// Under the tsan preset this shows the shards are race free; the bound holds throughout.
TEST(VerifiedTokenCacheConcurrency, ThreadsInsertAndFindWithinTheBound) {
  verified_token_cache_options o;
  o.max_entries = 256;
  o.shards = 4;
  verified_token_cache cache(o);
  std::atomic<long> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, &hits, t] {
      for (int i = 0; i < 3000; ++i) {
        const auto d = cache.digest_of("token-" + std::to_string((i * 7 + t) % 500));
        if (auto v = cache.find(d, kNow)) {
          ASSERT_EQ(v->organisation, "acme");
          hits.fetch_add(1);
        } else {
          cache.insert(d, identity("u" + std::to_string(i), kNow + 1h), kNow);
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  const auto st = cache.snapshot();
  EXPECT_LE(st.entries, 256u);
  EXPECT_EQ(st.hits, static_cast<std::uint64_t>(hits.load()));
  EXPECT_EQ(st.hits + st.misses, 4u * 3000u);
}

}  // namespace
}  // namespace oidc
