// SPDX-License-Identifier: Apache-2.0
// Results of a run (counts, latency histograms per step, failures by step and reason) and their
// text and JSON renderings.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "flow.hpp"
#include "histogram.hpp"

namespace oidc::loadtest {

using reason_counts = std::map<std::string, std::uint64_t, std::less<>>;

struct run_stats {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  latency_histogram login;                          // whole login, completed ones
  std::array<latency_histogram, step_count> steps;  // per request, completed logins
  std::array<reason_counts, step_count> failures;   // by the step that failed

  void add_failure(step at, std::string_view reason);
  void merge(const run_stats& other);
};

// The latencies of one login's requests, kept until the login's outcome is known: only
// completed logins contribute to the latency table (failures are counted by step and reason).
class login_record {
 public:
  void add(step s, std::uint64_t us) noexcept;
  void commit_to(run_stats& stats, std::uint64_t login_us) const;
  void clear() noexcept { size_ = 0; }

 private:
  static constexpr std::size_t capacity = 80;  // max hops (64) + start + session, with room
  std::array<std::pair<step, std::uint64_t>, capacity> samples_{};
  std::size_t size_ = 0;
};

struct run_info {
  double duration_s = 0;
  double warmup_s = 0;
  unsigned users = 0;
  std::optional<double> rate;
  unsigned threads = 1;
  std::uint64_t connections_opened = 0;
};

std::string format_text(const run_info& info, const run_stats& stats);
std::string format_json(const run_info& info, const run_stats& stats);

struct idle_result {
  unsigned requested = 0;
  unsigned established = 0;
  unsigned closed_early = 0;  // established, then closed by the peer during the hold
  double hold_s = 0;
  reason_counts failures;  // of connections that never got established
};

std::string format_idle_text(const idle_result& r);
std::string format_idle_json(const idle_result& r);

}  // namespace oidc::loadtest
