// SPDX-License-Identifier: Apache-2.0
// Log-linear latency histogram (see histogram.hpp).
#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace oidc::loadtest {

std::size_t latency_histogram::bucket_of(std::uint64_t us) noexcept {
  us = std::min(us, max_trackable_us);
  constexpr std::uint64_t linear_end = std::uint64_t{1} << linear_bits;
  if (us < linear_end) return static_cast<std::size_t>(us);
  const unsigned msb = static_cast<unsigned>(std::bit_width(us)) - 1;  // >= linear_bits
  const unsigned shift = msb - sub_bits;
  const std::uint64_t sub = (us >> shift) - (std::uint64_t{1} << sub_bits);
  return static_cast<std::size_t>(linear_end +
                                  (msb - linear_bits) * (std::uint64_t{1} << sub_bits) + sub);
}

std::uint64_t latency_histogram::bucket_low(std::size_t index) noexcept {
  constexpr std::size_t linear_end = std::size_t{1} << linear_bits;
  if (index < linear_end) return index;
  const std::size_t octave = (index - linear_end) >> sub_bits;  // 0 for [128, 256)
  const std::size_t sub = (index - linear_end) & ((std::size_t{1} << sub_bits) - 1);
  const unsigned shift = static_cast<unsigned>(octave) + 1;
  return (std::uint64_t{(std::size_t{1} << sub_bits) + sub}) << shift;
}

std::uint64_t latency_histogram::bucket_high(std::size_t index) noexcept {
  constexpr std::size_t linear_end = std::size_t{1} << linear_bits;
  if (index < linear_end) return index;
  const std::size_t octave = (index - linear_end) >> sub_bits;
  const unsigned shift = static_cast<unsigned>(octave) + 1;
  return bucket_low(index) + (std::uint64_t{1} << shift) - 1;
}

void latency_histogram::record(std::uint64_t us) noexcept {
  ++buckets_[bucket_of(us)];
  min_ = count_ == 0 ? us : std::min(min_, us);
  max_ = std::max(max_, us);
  ++count_;
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i)
    buckets_[i] += other.buckets_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
}

std::uint64_t latency_histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const std::uint64_t mid = bucket_low(i) + (bucket_high(i) - bucket_low(i)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace oidc::loadtest
