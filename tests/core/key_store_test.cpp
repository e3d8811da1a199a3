// SPDX-License-Identifier: Apache-2.0
#include "oidc/key_store.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace oidc {
namespace {

std::shared_ptr<const key_set> set_of(std::size_t n) {
  std::vector<std::shared_ptr<const jwk>> keys;
  for (std::size_t i = 0; i < n; ++i) {
    auto k = std::make_shared<jwk>();
    k->kid = "k" + std::to_string(i);
    keys.push_back(std::move(k));
  }
  return std::make_shared<const key_set>(std::move(keys));
}

TEST(LockedKeyStore, ReadOfAnUnknownSetIsEmpty) {
  locked_key_store store;
  EXPECT_FALSE(store.read("https://idp/jwks"));
}

TEST(LockedKeyStore, PublishReplacesTheSetWhileOldSnapshotsStayValid) {
  locked_key_store store;
  store.publish("a", set_of(1));
  const key_snapshot old = store.read("a");
  ASSERT_TRUE(old);
  store.publish("a", set_of(3));
  EXPECT_EQ(old->size(), 1u);
  EXPECT_EQ(store.read("a")->size(), 3u);
  EXPECT_FALSE(store.read("b"));
}

// Readers and a publisher race; under the tsan preset this proves the store is data-race free.
TEST(LockedKeyStoreConcurrency, ReadersSeeWholeSetsWhilePublisherSwaps) {
  locked_key_store store;
  store.publish("a", set_of(1));
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const auto snap = store.read("a");
        ASSERT_TRUE(snap);
        const auto n = snap->size();
        ASSERT_GE(n, 1u);
        ASSERT_EQ(snap->keys()[n - 1]->kid, "k" + std::to_string(n - 1));
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Keep publishing until the readers demonstrably overlapped with it, however slow the machine.
  for (std::size_t i = 0; i < 500 || reads.load() < 1000; ++i)
    store.publish("a", set_of(1 + i % 4));
  stop = true;
  for (auto& r : readers)
    r.join();
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace oidc
