// SPDX-License-Identifier: Apache-2.0
// Latency histogram in microseconds with bounded memory: log-linear buckets (exact below 128 µs,
// then 64 buckets per power of two, so any recorded value is known within 1/64 of itself).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace oidc::loadtest {

class latency_histogram {
 public:
  // Values above this (about 38 hours) are clamped into the last bucket; max() stays exact.
  static constexpr std::uint64_t max_trackable_us = (std::uint64_t{1} << 37) - 1;

  void record(std::uint64_t us) noexcept;
  void merge(const latency_histogram& other) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }

  // The value at percentile p (0 < p <= 100) in µs: the middle of the bucket holding the sample of
  // rank ceil(p/100 * count), never above max(); 0 when empty.
  std::uint64_t percentile(double p) const noexcept;

  // Bucket geometry, public for the tests.
  static std::size_t bucket_of(std::uint64_t us) noexcept;
  static std::uint64_t bucket_low(std::size_t index) noexcept;
  static std::uint64_t bucket_high(std::size_t index) noexcept;  // inclusive

 private:
  static constexpr unsigned linear_bits = 7;  // values below 128 µs have their own bucket
  static constexpr unsigned sub_bits = linear_bits - 1;
  static constexpr std::size_t bucket_count =
      (std::size_t{1} << linear_bits) + (37 - linear_bits) * (std::size_t{1} << sub_bits);

  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = 0;
};

}  // namespace oidc::loadtest
