// SPDX-License-Identifier: Apache-2.0
// Epoch-based reclamation: what is freed when, slot ownership, overflow fallback, TSan stress.
#include "oidc/epoch.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/gate.hpp"

namespace oidc {
namespace {

// A one-shot signal between threads (mutex + condition variable: bounded, no sleeps).
using test::gate;

struct counted {
  explicit counted(std::atomic<int>& d, int v = 0) : deleted(&d), value(v) {}
  ~counted() { deleted->fetch_add(1); }
  std::atomic<int>* deleted;
  int value;
};

TEST(EpochReclamation, FreesRetiredObjectOnReclaimWhenNoReaderIsPinned) {
  std::atomic<int> deleted{0};
  epoch_domain d;
  d.retire(std::make_unique<counted>(deleted));
  EXPECT_EQ(d.retired_count(), 1u);
  EXPECT_EQ(d.reclaim(), 1u);
  EXPECT_EQ(deleted.load(), 1);
  EXPECT_EQ(d.retired_count(), 0u);
}

TEST(EpochReclamation, DestroyingTheDomainFreesWhatIsStillRetired) {
  std::atomic<int> deleted{0};
  {
    epoch_domain d;
    const auto g = d.pin();
    d.retire(std::make_unique<counted>(deleted));
    EXPECT_EQ(d.reclaim(), 0u);
  }
  EXPECT_EQ(deleted.load(), 1);
}

TEST(EpochReclamation, KeepsAnObjectAReaderLoadedUntilItsGuardIsGone) {
  std::atomic<int> deleted{0};
  epoch_domain d;
  std::atomic<counted*> ptr{new counted(deleted, 7)};
  gate loaded, retired, done;
  std::atomic<int> seen{0};
  std::thread reader([&] {
    const auto g = d.pin();
    counted* p = ptr.load(std::memory_order_seq_cst);
    loaded.open();
    retired.wait();
    seen = p->value;  // still valid: the guard is held
    done.open();
  });
  loaded.wait();
  std::unique_ptr<counted> old(ptr.exchange(new counted(deleted, 8)));
  d.retire(std::move(old));
  EXPECT_EQ(d.reclaim(), 0u);
  EXPECT_EQ(d.reclaim(), 0u);
  EXPECT_EQ(deleted.load(), 0);
  retired.open();
  done.wait();
  reader.join();
  EXPECT_EQ(seen.load(), 7);
  EXPECT_EQ(d.reclaim(), 1u);
  EXPECT_EQ(deleted.load(), 1);
  delete ptr.load();
}

TEST(EpochReclamation, AnIdleThreadThatPinnedOnceHoldsNothingBack) {
  std::atomic<int> deleted{0};
  epoch_domain d;
  gate pinned_once, finish;
  std::thread idle([&] {
    { const auto g = d.pin(); }
    pinned_once.open();
    finish.wait();  // alive, owns a slot, not pinned
  });
  pinned_once.wait();
  EXPECT_EQ(d.slots_in_use(), 1u);
  d.retire(std::make_unique<counted>(deleted));
  EXPECT_EQ(d.reclaim(), 1u);
  EXPECT_EQ(deleted.load(), 1);
  finish.open();
  idle.join();
}

TEST(EpochReclamation, NestedPinsKeepTheOuterCriticalSection) {
  std::atomic<int> deleted{0};
  epoch_domain d;
  {
    const auto outer = d.pin();
    { const auto inner = d.pin(); }
    d.retire(std::make_unique<counted>(deleted));
    EXPECT_EQ(d.reclaim(), 0u);
    EXPECT_EQ(deleted.load(), 0);
  }
  EXPECT_EQ(d.reclaim(), 1u);
  EXPECT_EQ(deleted.load(), 1);
}

TEST(EpochReclamation, AReaderPinnedAtAnOldEpochBlocksTheSecondAdvance) {
  std::atomic<int> deleted{0};
  epoch_domain d;
  const auto before = d.epoch();
  const auto g = d.pin();
  d.retire(std::make_unique<counted>(deleted));
  d.reclaim();
  // The reader announced `before`: one advance is allowed, the next must wait for it.
  EXPECT_EQ(d.epoch(), before + 1);
  EXPECT_EQ(deleted.load(), 0);
}

TEST(EpochSlots, OverflowPinsAreCorrectWhenSlotsRunOut) {
  std::atomic<int> deleted{0};
  epoch_domain d(epoch_options{.reader_slots = 1});
  const auto mine = d.pin();  // takes the only slot
  EXPECT_FALSE(mine.overflow());
  gate pinned, release;
  std::atomic<bool> was_overflow{false};
  std::thread other([&] {
    const auto g = d.pin();
    was_overflow = g.overflow();
    pinned.open();
    release.wait();
  });
  pinned.wait();
  EXPECT_TRUE(was_overflow.load());
  EXPECT_EQ(d.overflow_pins_total(), 1u);
  // Both readers pinned: nothing retired now may be freed.
  d.retire(std::make_unique<counted>(deleted));
  EXPECT_EQ(d.reclaim(), 0u);
  release.open();
  other.join();
  EXPECT_EQ(d.reclaim(), 0u);  // this thread is still pinned
  EXPECT_EQ(deleted.load(), 0);
}

TEST(EpochSlots, OverflowReaderAloneBlocksReclamationUntilItLeaves) {
  std::atomic<int> deleted{0};
  epoch_domain d(epoch_options{.reader_slots = 1});
  gate slot_taken, release_slot;
  std::thread owner([&] {
    { const auto g = d.pin(); }  // owns the only slot, then idles unpinned
    slot_taken.open();
    release_slot.wait();
  });
  slot_taken.wait();
  {
    const auto g = d.pin();
    ASSERT_TRUE(g.overflow());
    d.retire(std::make_unique<counted>(deleted));
    EXPECT_EQ(d.reclaim(), 0u);
  }
  EXPECT_EQ(d.reclaim(), 1u);
  EXPECT_EQ(deleted.load(), 1);
  release_slot.open();
  owner.join();
}

TEST(EpochSlots, ThreadExitReleasesItsSlot) {
  epoch_domain d(epoch_options{.reader_slots = 1});
  std::thread([&] { const auto g = d.pin(); }).join();
  EXPECT_EQ(d.slots_in_use(), 0u);
  bool overflow = true;
  std::thread([&] {
    const auto g = d.pin();
    overflow = g.overflow();
  }).join();
  EXPECT_FALSE(overflow);
  EXPECT_EQ(d.overflow_pins_total(), 0u);
}

TEST(EpochSlots, AThreadOutlivingTheDomainReleasesItsSlotSafely) {
  auto d = std::make_unique<epoch_domain>();
  gate pinned, destroyed;
  std::thread t([&] {
    { const auto g = d->pin(); }
    pinned.open();
    destroyed.wait();
  });  // exits after the domain is gone; its thread-local owner keeps the slot table alive
  pinned.wait();
  d.reset();
  destroyed.open();
  t.join();
}

TEST(EpochSlots, OneThreadCanUseManyShortLivedDomainsWithoutOverflow) {
  for (int i = 0; i < 3 * static_cast<int>(epoch_domain::kMaxDomainsPerThread); ++i) {
    epoch_domain d;
    const auto g = d.pin();
    EXPECT_FALSE(g.overflow()) << i;
  }
}

// Readers check that every snapshot they reach is whole and alive while a writer replaces and
// frees snapshots as fast as it can. A freed snapshot read by a reader is a data race on `alive`
// (TSan) or a failed expectation.
TEST(EpochStress, ReadersNeverSeeAFreedOrTornSnapshot) {
  struct node {
    std::uint64_t a;
    std::uint64_t b;  // always ~a
    bool alive = true;
    ~node() { alive = false; }
  };
  epoch_domain d(epoch_options{.reader_slots = 4});  // 3 readers + writer fit; more overflow
  std::atomic<node*> current{new node{0, ~std::uint64_t{0}}};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<int> started{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 5; ++t) {
    readers.emplace_back([&] {
      bool first = true;
      do {
        const auto g = d.pin();
        if (std::exchange(first, false)) started.fetch_add(1);
        const node* n = current.load(std::memory_order_seq_cst);
        if (!n->alive || n->b != ~n->a) bad.fetch_add(1, std::memory_order_relaxed);
        reads.fetch_add(1, std::memory_order_relaxed);
      } while (!stop.load(std::memory_order_relaxed));
    });
  }
  std::uint64_t i = 1;
  // Until all five pinned while all are alive, so the fifth surely took the overflow path.
  for (; i < 2000 || reads.load() < 20000 || started.load() < 5; ++i) {
    node* old = current.exchange(new node{i, ~i}, std::memory_order_seq_cst);
    d.retire(std::unique_ptr<node>(old));
    d.reclaim();
  }
  stop = true;
  for (auto& r : readers)
    r.join();
  d.reclaim();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(d.retired_count(), 0u);
  EXPECT_GT(d.overflow_pins_total(), 0u);  // the overflow path ran under the race too
  delete current.load();
}

}  // namespace
}  // namespace oidc
