// SPDX-License-Identifier: Apache-2.0
// Epoch-based reclamation (EBR): readers pin an epoch and read immutable snapshots without a
// lock; writers unlink a snapshot, retire it, and free it once no reader can still hold it.
//
// Why EBR, not hazard pointers or std::atomic<std::shared_ptr>:
// - std::atomic<std::shared_ptr> in libstdc++ 12 is not lock-free (a spin lock per object), and
//   copying a shared_ptr on every read bounces its reference count between cores.
// - Hazard pointers need one published hazard per pointer a reader holds and a re-validation loop
//   per load (load, publish hazard, reload until equal), which is lock-free but not wait-free, and
//   a lookup here walks two levels (directory, then key-set snapshot). EBR protects any number of
//   pointers with one announcement per critical section, and both pin and unpin are wait-free.
// - liburcu is not instrumented for ThreadSanitizer; this file uses std::atomic operations only
//   (no std::atomic_thread_fence, which GCC 12 refuses under -fsanitize=thread), so TSan checks
//   every ordering claim below.
// The known weakness of EBR is that one reader stuck inside a critical section stalls all
// reclamation; a guard is therefore held for microseconds (one lookup and one signature check),
// never across a co_await or any other suspension point, and an unpinned thread holds nothing.
//
// Protocol (every access named "sc" is memory_order_seq_cst, so all of them lie in one total
// order S and the store-then-load pairs below cannot be reordered):
//   reader pin:    e = epoch.load(sc); slot.store(e << 1 | 1, sc); then load pointers (sc)
//   reader unpin:  slot.store(0, release)
//   writer:        old = ptr.exchange(new, sc); retire(old) stamps it with r = epoch.load(sc)
//   reclaim:       under a mutex, epoch may go from e to e+1 only when every announced slot says
//                  e (or is quiescent) and no overflow reader is active; an object stamped r is
//                  freed once epoch >= r + 2.
// Why an object stamped r is never freed under a reader R that can reach it:
//   R reached it only if R's pointer load precedes the unlink in S. The unlink precedes the stamp
//   load (r), which precedes the scan of the advance to r+1. Case 1: R's slot store precedes that
//   scan in S, so the scan sees R's announcement a <= r (R loaded the epoch before the unlink, and
//   the epoch was at most r then); the epoch then cannot pass a + 1 <= r + 1 while R stays pinned,
//   so the object survives. Case 2: R's slot store follows the scan; then R's pointer load follows
//   the unlink and R cannot see the object at all. The writer's sc load of R's slot reads either
//   R's unpin (release) or a later pin store of the same thread, so everything R did inside the
//   critical section happens-before the free (which is also what TSan checks).
// Wait-freedom: pin is one epoch load and one store after finding this thread's slot in a
// thread-local array of at most kMaxDomainsPerThread entries; unpin is one store. The first pin of
// a thread on a domain claims a slot with at most reader_slots CAS attempts. Nothing on the read
// path allocates or takes a lock.
//
// Slot exhaustion (more threads than reader_slots, or one thread using more than
// kMaxDomainsPerThread live domains): the pin falls back to a shared counter (fetch_add, still
// wait-free and correct) and reclamation simply waits until that counter is zero. It costs
// cross-core traffic and can delay reclamation under continuous overflow load, never safety;
// overflow_pins_total() counts such pins so a metric can show the slot count is too small.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

namespace oidc {

class epoch_domain;

namespace detail {
struct epoch_slot_table;
struct epoch_tls_entry;
}  // namespace detail

// One pinned critical section. Non-copyable and non-movable: it must be destroyed on the thread
// that created it, and it must never be held across a co_await or any other suspension point
// (the coroutine may resume on another thread, and a suspended reader would stall reclamation).
// Pointers loaded while it lives stay valid until it is destroyed. Nesting on one thread is fine.
class [[nodiscard]] epoch_guard {
 public:
  epoch_guard(const epoch_guard&) = delete;
  epoch_guard& operator=(const epoch_guard&) = delete;
  ~epoch_guard();

  const epoch_domain& domain() const noexcept { return *domain_; }
  // A small per-thread number (the reader slot) for striping counters without sharing a cache
  // line between threads; any value is correct, only contention depends on it.
  std::uint32_t stripe() const noexcept { return stripe_; }
  // Whether this pin went through the overflow counter (no reader slot was available).
  bool overflow() const noexcept { return entry_ == nullptr; }

 private:
  friend class epoch_domain;
  epoch_guard(const epoch_domain& d, detail::epoch_tls_entry* e, std::uint32_t stripe) noexcept
      : domain_(&d), entry_(e), stripe_(stripe) {}

  const epoch_domain* domain_;
  detail::epoch_tls_entry* entry_;  // null: an overflow pin
  std::uint32_t stripe_;
};

struct epoch_options {
  // Reader slots (one per thread that ever pins, until it exits); each takes one cache line.
  std::size_t reader_slots = 256;
};

class epoch_domain {
 public:
  // How many live domains one thread can hold a slot in at once; further ones use the overflow
  // counter (a key cache and a discovery cache need two).
  static constexpr std::size_t kMaxDomainsPerThread = 8;

  explicit epoch_domain(epoch_options options = {});
  // Frees everything still retired. Precondition: no guard of this domain is alive. Threads that
  // still own a slot release it when they exit or when they next claim a slot elsewhere.
  ~epoch_domain();
  epoch_domain(const epoch_domain&) = delete;
  epoch_domain& operator=(const epoch_domain&) = delete;

  // Wait-free, no allocation, no lock (see the top of this file). The first pin of a thread on
  // this domain claims a reader slot and may release the slot of a dead domain (freeing its
  // table): that is the only slow path.
  epoch_guard pin() const noexcept;

  // Hands `p` to the domain, which calls deleter(p) once no reader can reach it. Call after `p`
  // was unlinked (no longer reachable from any shared pointer). Takes the writer mutex. The
  // deleter runs outside the mutex and may call retire() again. If the retire list cannot grow
  // (out of memory) the object is leaked: freeing it early could hand a reader freed memory.
  void retire(void* p, void (*deleter)(void*) noexcept) noexcept;
  template <class T>
  void retire(std::unique_ptr<T> p) noexcept {
    if (!p) return;
    retire(static_cast<void*>(const_cast<std::remove_const_t<T>*>(p.release())),
           [](void* q) noexcept { delete static_cast<T*>(q); });
  }

  // Advances the epoch as far as readers allow (at most twice) and frees what became safe;
  // returns how many objects were freed. Called by writers after a publish and by a periodic
  // timer, so retired objects are freed within one timer period once readers have left their
  // guards, with or without further publishes. Never blocks readers.
  std::size_t reclaim();

  // Objects retired and not yet freed.
  std::size_t retired_count() const noexcept {
    return retired_count_.load(std::memory_order_relaxed);
  }
  std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_seq_cst); }
  std::size_t reader_slots() const noexcept;
  // Reader slots currently owned by threads (for tests and metrics).
  std::size_t slots_in_use() const noexcept;
  std::uint64_t overflow_pins_total() const noexcept;

 private:
  friend class epoch_guard;
  struct retired {
    void* p;
    void (*deleter)(void*) noexcept;
    std::uint64_t epoch;
  };
  bool try_advance_locked() noexcept;
  void unpin(detail::epoch_tls_entry* e) const noexcept;

  std::shared_ptr<detail::epoch_slot_table> table_;  // shared with threads that hold a slot
  alignas(64) std::atomic<std::uint64_t> epoch_{1};
  alignas(64) std::atomic<std::size_t> retired_count_{0};
  std::mutex mutex_;  // writers only: retire, reclaim
  std::vector<retired> retired_;
};

}  // namespace oidc
