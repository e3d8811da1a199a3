// SPDX-License-Identifier: Apache-2.0
// The driver's latency histogram: bucket geometry, percentile accuracy, merging.
#include "histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace oidc::loadtest {
namespace {

TEST(LatencyHistogram, EmptyHasNoPercentiles) {
  latency_histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  latency_histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v)
    h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(95), 95u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
}

TEST(LatencyHistogram, BucketsAreContiguousAndCoverTheirValues) {
  std::uint64_t expected_low = 0;
  for (std::size_t i = 0; i < 2048; ++i) {
    ASSERT_EQ(latency_histogram::bucket_low(i), expected_low) << i;
    const auto high = latency_histogram::bucket_high(i);
    ASSERT_GE(high, expected_low);
    EXPECT_EQ(latency_histogram::bucket_of(expected_low), i);
    EXPECT_EQ(latency_histogram::bucket_of(high), i);
    // Width at most 1/64 of the bucket's values (exact below 128).
    EXPECT_LE((high - expected_low + 1) * 64, std::max<std::uint64_t>(expected_low, 64)) << i;
    expected_low = high + 1;
  }
  EXPECT_EQ(expected_low, latency_histogram::max_trackable_us + 1);
}

TEST(LatencyHistogram, PercentilesAreWithinTheRelativePrecision) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(8.0, 1.5);  // median about 3 ms
  std::vector<std::uint64_t> values;
  latency_histogram h;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 95.0, 99.0, 99.9}) {
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    const double exact = static_cast<double>(values[rank - 1]);
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_NEAR(got, exact, exact / 64.0 + 1.0) << "p" << p;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.percentile(100), values.back());
}

TEST(LatencyHistogram, HugeValuesAreClampedButMaxStaysExact) {
  latency_histogram h;
  h.record(std::uint64_t{1} << 50);
  EXPECT_EQ(h.max(), std::uint64_t{1} << 50);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.percentile(99), std::uint64_t{1} << 50);  // clamped to [min, max]
}

TEST(LatencyHistogram, MergeAddsCountsAndKeepsExtremes) {
  latency_histogram a, b;
  for (std::uint64_t v = 1; v <= 50; ++v)
    a.record(v);
  for (std::uint64_t v = 51; v <= 100; ++v)
    b.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 100u);
  EXPECT_EQ(a.percentile(50), 50u);
  latency_histogram empty;
  empty.merge(a);
  EXPECT_EQ(empty.min(), 1u);
  EXPECT_EQ(empty.count(), 100u);
}

}  // namespace
}  // namespace oidc::loadtest
