// SPDX-License-Identifier: Apache-2.0
// Key lookup on the hot path: key_cache (epoch guard, lock-free directory) against the baseline
// locked_key_store (shared_mutex + shared_ptr copy) doing the same find in the same run, on 1 and
// 2 threads, idle and while a writer publishes every 100 ms; and the cost of a publish.
// items_per_second (wall time, summed over threads) gives the 2-thread / 1-thread scaling.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "oidc/key_cache.hpp"
#include "oidc/key_store.hpp"

namespace {
using namespace oidc;
using namespace std::chrono_literals;

const sys_seconds kNow{std::chrono::seconds{1'800'000'000}};
constexpr std::size_t kOrganisations = 1000;
constexpr std::size_t kKeysPerSet = 5;

std::string jwks_uri(std::size_t org) {
  char guid[40];
  std::snprintf(guid, sizeof guid, "%08zx-6c67-4c5b-b112-36a304b66dad", org);
  return "https://login.microsoftonline.com/" + std::string(guid) + "/discovery/v2.0/keys";
}

// Entra-shaped kids (27 base64url characters, differing from the first one); key material is
// not needed for a lookup.
std::string kid(std::size_t i) {
  static const char* const kids[] = {"nOo3ZDrODXEK1jKWhXslHR_KXEg", "-KI3Q9nNR7bRofxmeZoXqbHZGew",
                                     "kWbkaa6qs8wsTnBwiiNYOhHbnAw", "XRvko8P7A3UaWSnU7bM9nT0MjhA",
                                     "lHLIu4moKqzPcokwlfCRPHyjl5g"};
  return kids[i % 5];
}

std::shared_ptr<const key_set> entra_like_set(std::size_t org, std::uint64_t generation = 0) {
  std::vector<std::shared_ptr<const jwk>> keys;
  for (std::size_t i = 0; i < kKeysPerSet; ++i) {
    auto k = std::make_shared<jwk>();
    k->kid = kid(i);
    k->kty = key_type::rsa;
    k->bits = 2048;
    k->algs = alg_set{jws_alg::RS256};
    // Shared across organisations, as Entra's common keys are.
    k->thumbprint = "thumb-" + std::to_string(i + generation);
    (void)org;
    keys.push_back(std::move(k));
  }
  return std::make_shared<const key_set>(std::move(keys));
}

struct caches {
  key_cache cache;
  locked_key_store store;
  std::string target = jwks_uri(kOrganisations / 2);
  std::string target_kid = kid(3);
  key_set_key target_key = make_key_set_key(target);
  caches() {
    for (std::size_t o = 0; o < kOrganisations; ++o) {
      const auto set = entra_like_set(o);
      cache.publish(jwks_uri(o), set, kNow, 3600s);
      store.publish(jwks_uri(o), set);
    }
  }
};

caches& shared_caches() {
  static caches c;
  return c;
}

// Publishes a new set for the looked-up organisation every 100 ms while a benchmark runs.
class background_writer {
 public:
  explicit background_writer(caches& c)
      : thread_([this, &c] {
          std::unique_lock lock(m_);
          for (std::uint64_t g = 1; !cv_.wait_for(lock, 100ms, [this] { return stop_; }); ++g) {
            lock.unlock();
            const auto set = entra_like_set(0, g % 2);
            c.cache.publish(c.target, set, kNow, 3600s);
            c.store.publish(c.target, set);
            lock.lock();
          }
        }) {}
  ~background_writer() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

template <class Lookup>
void run_lookups(benchmark::State& state, bool with_writer, Lookup lookup) {
  caches& c = shared_caches();
  std::unique_ptr<background_writer> writer;
  if (with_writer && state.thread_index() == 0) writer = std::make_unique<background_writer>(c);
  for (auto _ : state) {
    const jwk* k = lookup(c);
    if (!k) state.SkipWithError("key not found");
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(state.iterations());
}

const jwk* cache_lookup(caches& c) {
  const auto guard = c.cache.pin();
  return c.cache.lookup(guard, c.target, c.target_kid, jws_alg::RS256, kNow).key;
}

const jwk* cache_lookup_prehashed(caches& c) {
  const auto guard = c.cache.pin();
  return c.cache.lookup(guard, c.target_key, c.target_kid, jws_alg::RS256, kNow).key;
}

const jwk* store_lookup(caches& c) {
  const key_snapshot snap = c.store.read(c.target);
  return snap ? snap->find(c.target_kid, jws_alg::RS256) : nullptr;
}

void BM_KeyLookup_KeyCache(benchmark::State& s) {
  run_lookups(s, false, cache_lookup);
}
void BM_KeyLookup_KeyCache_Prehashed(benchmark::State& s) {
  run_lookups(s, false, cache_lookup_prehashed);
}
void BM_KeyLookup_LockedKeyStore(benchmark::State& s) {
  run_lookups(s, false, store_lookup);
}
void BM_KeyLookup_KeyCache_Publishing100ms(benchmark::State& s) {
  run_lookups(s, true, cache_lookup);
}
void BM_KeyLookup_LockedKeyStore_Publishing100ms(benchmark::State& s) {
  run_lookups(s, true, store_lookup);
}

// Replacing one organisation's keys among 1,000: intern, swap, retire, reclaim.
void BM_KeyPublish_KeyCache(benchmark::State& state) {
  key_cache cache;
  for (std::size_t o = 0; o < kOrganisations; ++o)
    cache.publish(jwks_uri(o), entra_like_set(o), kNow, 3600s);
  const std::string target = jwks_uri(7);
  const std::shared_ptr<const key_set> sets[2] = {entra_like_set(7, 0), entra_like_set(7, 1)};
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = cache.publish(target, sets[++i % 2], kNow, 3600s);
    benchmark::DoNotOptimize(r);
  }
}

void BM_KeyPublish_LockedKeyStore(benchmark::State& state) {
  locked_key_store store;
  for (std::size_t o = 0; o < kOrganisations; ++o)
    store.publish(jwks_uri(o), entra_like_set(o));
  const std::string target = jwks_uri(7);
  const std::shared_ptr<const key_set> sets[2] = {entra_like_set(7, 0), entra_like_set(7, 1)};
  std::size_t i = 0;
  for (auto _ : state)
    store.publish(target, sets[++i % 2]);
}

BENCHMARK(BM_KeyLookup_KeyCache)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_KeyLookup_KeyCache_Prehashed)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_KeyLookup_LockedKeyStore)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_KeyLookup_KeyCache_Publishing100ms)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_KeyLookup_LockedKeyStore_Publishing100ms)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_KeyPublish_KeyCache);
BENCHMARK(BM_KeyPublish_LockedKeyStore);

}  // namespace
