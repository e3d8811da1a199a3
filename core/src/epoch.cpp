// SPDX-License-Identifier: Apache-2.0
// Epoch-based reclamation: reader slots, thread-local slot ownership, epoch advance and freeing.
#include "oidc/epoch.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <utility>

namespace oidc {
namespace detail {

// One cache line per reader so announcements of different threads never share a line.
struct alignas(64) epoch_reader_slot {
  // 0: quiescent; (e << 1) | 1: pinned, having read epoch e.
  std::atomic<std::uint64_t> state{0};
  std::atomic<bool> owned{false};
};

// Outlives its domain while any thread still owns a slot in it (shared_ptr held by that thread),
// so a thread exiting after the domain died releases its slot into valid memory.
struct epoch_slot_table {
  explicit epoch_slot_table(std::size_t n)
      : slots(std::make_unique<epoch_reader_slot[]>(n)), count(n) {}
  std::unique_ptr<epoch_reader_slot[]> slots;
  std::size_t count;
  // Slots at or above this index were never claimed: scans stop here.
  alignas(64) std::atomic<std::size_t> high_water{0};
  std::atomic<bool> domain_alive{true};
  alignas(64) std::atomic<std::uint64_t> overflow_active{0};
  std::atomic<std::uint64_t> overflow_total{0};
};

// Trivially destructible so the hot path reads it without a TLS init guard.
struct epoch_tls_entry {
  epoch_slot_table* table;
  std::uint32_t slot;
  std::uint32_t depth;
};

}  // namespace detail

namespace {

using detail::epoch_slot_table;
using detail::epoch_tls_entry;
constexpr std::size_t kEntries = epoch_domain::kMaxDomainsPerThread;

thread_local std::array<epoch_tls_entry, kEntries> t_entries{};
// Set once this thread's owner below has been destroyed: later pins (from other thread_local
// destructors) must not touch released slots, so they take the overflow path.
thread_local bool t_exiting = false;
// A distinct address per thread, to stripe overflow pins.
thread_local char t_stripe_anchor = 0;

void release_slot(epoch_tls_entry& e) noexcept {
  auto& slot = e.table->slots[e.slot];
  slot.state.store(0, std::memory_order_release);
  slot.owned.store(false, std::memory_order_release);
  e = epoch_tls_entry{};
}

// Keeps the slot tables of this thread alive and releases their slots at thread exit. Touched
// only on the slow path, so the hot path never pays for its dynamic initialisation.
struct tls_owner {
  std::array<std::shared_ptr<epoch_slot_table>, kEntries> tables;
  ~tls_owner() {
    for (std::size_t i = 0; i < kEntries; ++i)
      if (t_entries[i].table) release_slot(t_entries[i]);
    t_exiting = true;
  }
};
thread_local tls_owner t_owner;

epoch_tls_entry* find_entry(const epoch_slot_table* table) noexcept {
  for (auto& e : t_entries)
    if (e.table == table) return &e;
  return nullptr;
}

// Claims a slot of `table` for this thread; null when the table or this thread's entries are
// full (the caller then uses the overflow counter).
epoch_tls_entry* claim_entry(const std::shared_ptr<epoch_slot_table>& table) noexcept {
  epoch_tls_entry* free_entry = nullptr;
  std::size_t free_index = 0;
  for (std::size_t i = 0; i < kEntries && !free_entry; ++i) {
    auto& e = t_entries[i];
    if (e.table && e.depth == 0 && !e.table->domain_alive.load(std::memory_order_acquire)) {
      release_slot(e);
      t_owner.tables[i].reset();  // may free a dead domain's table: slow path only
    }
    if (!e.table) {
      free_entry = &e;
      free_index = i;
    }
  }
  if (!free_entry) return nullptr;
  for (std::size_t s = 0; s < table->count; ++s) {
    auto& slot = table->slots[s];
    bool expected = false;
    if (slot.owned.load(std::memory_order_relaxed) ||
        !slot.owned.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
      continue;
    // Publish the claim to scanners before the first announcement (both sc, see epoch.hpp):
    // only ever raised, so at most table->count failed attempts in total.
    std::size_t hw = table->high_water.load(std::memory_order_seq_cst);
    while (hw < s + 1 &&
           !table->high_water.compare_exchange_weak(hw, s + 1, std::memory_order_seq_cst)) {
    }
    t_owner.tables[free_index] = table;
    *free_entry = epoch_tls_entry{table.get(), static_cast<std::uint32_t>(s), 0};
    return free_entry;
  }
  return nullptr;
}

}  // namespace

epoch_domain::epoch_domain(epoch_options options)
    : table_(std::make_shared<epoch_slot_table>(std::max<std::size_t>(1, options.reader_slots))) {}

epoch_domain::~epoch_domain() {
  table_->domain_alive.store(false, std::memory_order_release);
  for (const auto& r : retired_)
    r.deleter(r.p);
}

epoch_guard epoch_domain::pin() const noexcept {
  if (!t_exiting) {
    epoch_tls_entry* e = find_entry(table_.get());
    if (!e) e = claim_entry(table_);
    if (e) {
      if (e->depth++ == 0) {
        const std::uint64_t now = epoch_.load(std::memory_order_seq_cst);
        table_->slots[e->slot].state.store((now << 1) | 1u, std::memory_order_seq_cst);
      }
      return epoch_guard(*this, e, e->slot);
    }
  }
  table_->overflow_active.fetch_add(1, std::memory_order_seq_cst);
  table_->overflow_total.fetch_add(1, std::memory_order_relaxed);
  const auto anchor = reinterpret_cast<std::uintptr_t>(&t_stripe_anchor);
  return epoch_guard(*this, nullptr, static_cast<std::uint32_t>(anchor >> 6));
}

void epoch_domain::unpin(epoch_tls_entry* e) const noexcept {
  if (!e) {
    table_->overflow_active.fetch_sub(1, std::memory_order_release);
    return;
  }
  assert(e->table == table_.get() && e->depth > 0);
  if (--e->depth == 0) table_->slots[e->slot].state.store(0, std::memory_order_release);
}

epoch_guard::~epoch_guard() {
  domain_->unpin(entry_);
}

void epoch_domain::retire(void* p, void (*deleter)(void*) noexcept) noexcept {
  if (!p) return;
  std::lock_guard lock(mutex_);
  // The stamp is read after the caller's unlink (program order, both sc): see epoch.hpp.
  const std::uint64_t stamp = epoch_.load(std::memory_order_seq_cst);
  try {
    retired_.push_back({p, deleter, stamp});
  } catch (...) {
    return;  // leaked on purpose (see the header)
  }
  retired_count_.fetch_add(1, std::memory_order_relaxed);
}

bool epoch_domain::try_advance_locked() noexcept {
  const std::uint64_t now = epoch_.load(std::memory_order_seq_cst);
  if (table_->overflow_active.load(std::memory_order_seq_cst) != 0) return false;
  const std::size_t n = std::min(table_->high_water.load(std::memory_order_seq_cst), table_->count);
  const std::uint64_t current = (now << 1) | 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t s = table_->slots[i].state.load(std::memory_order_seq_cst);
    if ((s & 1u) != 0 && s != current) return false;
  }
  epoch_.store(now + 1, std::memory_order_seq_cst);
  return true;
}

std::size_t epoch_domain::reclaim() {
  std::vector<retired> ready;
  {
    std::lock_guard lock(mutex_);
    if (retired_.empty()) return 0;
    // Two advances make everything retired before this call safe when no reader is pinned.
    if (try_advance_locked()) try_advance_locked();
    const std::uint64_t now = epoch_.load(std::memory_order_seq_cst);
    const auto keep = std::stable_partition(retired_.begin(), retired_.end(),
                                            [now](const retired& r) { return r.epoch + 2 > now; });
    ready.assign(std::make_move_iterator(keep), std::make_move_iterator(retired_.end()));
    retired_.erase(keep, retired_.end());
    retired_count_.fetch_sub(ready.size(), std::memory_order_relaxed);
  }
  for (const auto& r : ready)
    r.deleter(r.p);
  return ready.size();
}

std::size_t epoch_domain::reader_slots() const noexcept {
  return table_->count;
}

std::size_t epoch_domain::slots_in_use() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < table_->count; ++i)
    n += table_->slots[i].owned.load(std::memory_order_acquire) ? 1 : 0;
  return n;
}

std::uint64_t epoch_domain::overflow_pins_total() const noexcept {
  return table_->overflow_total.load(std::memory_order_relaxed);
}

}  // namespace oidc
