// SPDX-License-Identifier: Apache-2.0
// Per-thread sharded counter cells (see sharded.hpp).
#include "oidc/metrics/sharded.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <thread>

namespace oidc::metrics {
namespace {

// Process-wide thread numbering: a thread keeps its number for every sharded_cells instance.
std::atomic<std::size_t> next_thread_number{0};

std::size_t thread_number() noexcept {
  thread_local const std::size_t n = next_thread_number.fetch_add(1, std::memory_order_relaxed);
  return n;
}

}  // namespace

sharded_cells::sharded_cells(std::size_t cells, std::size_t shards) : cells_(cells) {
  if (shards == 0) {
    shards = std::clamp<std::size_t>(2 * std::max(1u, std::thread::hardware_concurrency()), 4, 64);
  }
  shards_ = std::bit_ceil(std::max<std::size_t>(shards, 1));
  lines_per_shard_ = std::max<std::size_t>((cells + kPerLine - 1) / kPerLine, 1);
  lines_ = std::make_unique<line[]>(shards_ * lines_per_shard_);
}

std::size_t sharded_cells::shard_index() const noexcept {
  return thread_number() & (shards_ - 1);
}

std::uint64_t sharded_cells::sum(std::size_t cell) const noexcept {
  std::uint64_t total = 0;
  for (std::size_t s = 0; s < shards_; ++s) {
    total += lines_[s * lines_per_shard_ + cell / kPerLine].v[cell % kPerLine].load(
        std::memory_order_relaxed);
  }
  return total;
}

void sharded_cells::sum_all(std::span<std::uint64_t> out) const noexcept {
  std::fill(out.begin(), out.end(), std::uint64_t{0});
  const std::size_t n = std::min(out.size(), cells_);
  for (std::size_t s = 0; s < shards_; ++s) {
    const line* shard = &lines_[s * lines_per_shard_];
    for (std::size_t c = 0; c < n; ++c) {
      out[c] += shard[c / kPerLine].v[c % kPerLine].load(std::memory_order_relaxed);
    }
  }
}

histogram_layout make_histogram_layout(std::span<const double> bounds_seconds) {
  histogram_layout h;
  h.bounds_ns.reserve(bounds_seconds.size());
  for (const double b : bounds_seconds) {
    h.bounds_ns.push_back(static_cast<std::uint64_t>(std::llround(b * 1e9)));
  }
  return h;
}

}  // namespace oidc::metrics
