// SPDX-License-Identifier: Apache-2.0
// Per-thread sharded counter cells: the hot path adds to a cell in its own cache-line-padded
// shard (an uncontended relaxed fetch_add), a scrape sums the shards. Replaces prometheus-cpp's
// Counter (a CAS loop on one shared double) and Histogram (a mutex per Observe) where requests
// are counted; bench/metrics_bench.cpp measures both.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace oidc::metrics {

class sharded_cells {
 public:
  // `cells` counters per shard; `shards` is rounded up to a power of two (0: twice the hardware
  // threads, at least 4, at most 64). Threads are assigned shards round-robin on first use, so
  // with no more threads than shards no two threads share a cache line.
  explicit sharded_cells(std::size_t cells, std::size_t shards = 0);
  sharded_cells(const sharded_cells&) = delete;
  sharded_cells& operator=(const sharded_cells&) = delete;

  std::size_t cells() const noexcept { return cells_; }
  std::size_t shards() const noexcept { return shards_; }

  // Adds to this thread's copy of `cell`. Wait-free, no allocation. Gauges that go down add
  // the two's complement (static_cast<std::uint64_t>(-1)); sums wrap back to the right value.
  void add(std::size_t cell, std::uint64_t v = 1) noexcept {
    line& l = lines_[shard_index() * lines_per_shard_ + cell / kPerLine];
    l.v[cell % kPerLine].fetch_add(v, std::memory_order_relaxed);
  }

  // The sum over shards of one cell, or of every cell into `out` (out.size() == cells()).
  std::uint64_t sum(std::size_t cell) const noexcept;
  void sum_all(std::span<std::uint64_t> out) const noexcept;

 private:
  static constexpr std::size_t kPerLine = 8;  // 8 × 8 octets = one 64-octet cache line
  struct alignas(64) line {
    std::atomic<std::uint64_t> v[kPerLine]{};
  };

  std::size_t shard_index() const noexcept;

  std::size_t cells_;
  std::size_t shards_;
  std::size_t lines_per_shard_;
  std::unique_ptr<line[]> lines_;
};

// Bucket search and cell layout of one sharded histogram series: cells [first, first +
// bounds.size()] are the per-bucket (non-cumulative) counts, the last one +Inf; the next cell is
// the sum of the observed values in nanoseconds (integral, so no CAS on a double).
struct histogram_layout {
  std::vector<std::uint64_t> bounds_ns;  // upper bounds (inclusive, Prometheus `le`), ascending

  std::size_t cells_per_series() const noexcept { return bounds_ns.size() + 2; }
  std::size_t bucket_of(std::uint64_t ns) const noexcept {
    std::size_t i = 0;
    while (i < bounds_ns.size() && ns > bounds_ns[i])
      ++i;
    return i;
  }
  void observe(sharded_cells& cells, std::size_t first, std::uint64_t ns) const noexcept {
    cells.add(first + bucket_of(ns));
    cells.add(first + bounds_ns.size() + 1, ns);
  }
};

// Bucket bounds in seconds → the layout.
histogram_layout make_histogram_layout(std::span<const double> bounds_seconds);

}  // namespace oidc::metrics
