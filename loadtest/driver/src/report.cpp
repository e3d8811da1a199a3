// SPDX-License-Identifier: Apache-2.0
// Rendering of run results as text and JSON (see report.hpp).
#include "report.hpp"

#include <cstdio>

#include "oidc/json.hpp"

namespace oidc::loadtest {
namespace {

double ms(std::uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pad_left(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

std::string pad_right(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

// A JSON string literal; reasons and step names are plain identifiers, but escape anyway.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  oidc::append_json_string_content(out, text);
  return out + "\"";
}

// Milliseconds with microsecond resolution, as a plain JSON number.
std::string ms_json(std::uint64_t us) {
  return fixed(ms(us), 3);
}

// {"p50":..,"p95":..,"p99":..,"max":..,"count":..}; percentiles are null when there is no sample.
std::string latency_json(const latency_histogram& h) {
  auto value = [&](std::uint64_t us) { return h.count() == 0 ? std::string("null") : ms_json(us); };
  return "{\"p50\":" + value(h.percentile(50)) + ",\"p95\":" + value(h.percentile(95)) +
         ",\"p99\":" + value(h.percentile(99)) + ",\"max\":" + value(h.max()) +
         ",\"count\":" + std::to_string(h.count()) + "}";
}

std::string counts_json(const reason_counts& counts) {
  std::string out = "{";
  for (const auto& [reason, n] : counts) {
    if (out.size() > 1) out += ',';
    out += quoted(reason) + ":" + std::to_string(n);
  }
  return out + "}";
}

void latency_row(std::string& out, std::string_view name, const latency_histogram& h) {
  out += pad_right(std::string(name), 10);
  if (h.count() == 0) {
    out += pad_left("-", 10) + pad_left("-", 10) + pad_left("-", 10) + pad_left("-", 10) +
           pad_left("0", 10) + "\n";
    return;
  }
  for (double p : {50.0, 95.0, 99.0})
    out += pad_left(fixed(ms(h.percentile(p)), 3), 10);
  out += pad_left(fixed(ms(h.max()), 3), 10);
  out += pad_left(std::to_string(h.count()), 10) + "\n";
}

}  // namespace

void run_stats::add_failure(step at, std::string_view reason) {
  ++failed;
  auto& counts = failures[static_cast<std::size_t>(at)];
  auto it = counts.find(reason);
  if (it == counts.end()) it = counts.emplace(std::string(reason), 0).first;
  ++it->second;
}

void run_stats::merge(const run_stats& other) {
  completed += other.completed;
  failed += other.failed;
  login.merge(other.login);
  for (std::size_t i = 0; i < step_count; ++i) {
    steps[i].merge(other.steps[i]);
    for (const auto& [reason, n] : other.failures[i])
      failures[i][reason] += n;
  }
}

void login_record::add(step s, std::uint64_t us) noexcept {
  if (size_ < capacity) samples_[size_++] = {s, us};
}

void login_record::commit_to(run_stats& stats, std::uint64_t login_us) const {
  ++stats.completed;
  stats.login.record(login_us);
  for (std::size_t i = 0; i < size_; ++i)
    stats.steps[static_cast<std::size_t>(samples_[i].first)].record(samples_[i].second);
}

std::string format_text(const run_info& info, const run_stats& stats) {
  std::string out;
  out += "oidc-login-driver: " + std::to_string(info.users) + " users, ";
  out +=
      info.rate ? "open loop at " + fixed(*info.rate, 1) + " logins/s" : std::string("closed loop");
  out += ", " + fixed(info.duration_s, 1) + " s measured after " + fixed(info.warmup_s, 1) +
         " s warm-up, " + std::to_string(info.threads) + " thread(s)\n";
  out += "completed " + std::to_string(stats.completed) + "  failed " +
         std::to_string(stats.failed) + "  logins/s " +
         fixed(per_second(stats.completed, info.duration_s), 1) + "  connections opened " +
         std::to_string(info.connections_opened) + "\n";
  out += "latency ms       p50       p95       p99       max     count\n";
  latency_row(out, "login", stats.login);
  for (step s : all_steps)
    latency_row(out, step_name(s), stats.steps[static_cast<std::size_t>(s)]);
  if (stats.failed == 0) {
    out += "failures: none\n";
    return out;
  }
  out += "failures:\n";
  for (step s : all_steps) {
    for (const auto& [reason, n] : stats.failures[static_cast<std::size_t>(s)])
      out += "  " + pad_right(std::string(step_name(s)), 10) + pad_right(reason, 24) +
             std::to_string(n) + "\n";
  }
  return out;
}

std::string format_json(const run_info& info, const run_stats& stats) {
  std::string out = "{\"mode\":\"login\"";
  out += ",\"duration_s\":" + fixed(info.duration_s, 3);
  out += ",\"warmup_s\":" + fixed(info.warmup_s, 3);
  out += ",\"users\":" + std::to_string(info.users);
  out += ",\"rate\":" + (info.rate ? fixed(*info.rate, 3) : std::string("null"));
  out += ",\"threads\":" + std::to_string(info.threads);
  out += ",\"completed\":" + std::to_string(stats.completed);
  out += ",\"failed\":" + std::to_string(stats.failed);
  out += ",\"logins_per_s\":" + fixed(per_second(stats.completed, info.duration_s), 3);
  out += ",\"connections_opened\":" + std::to_string(info.connections_opened);
  out += ",\"latency_ms\":{\"login\":" + latency_json(stats.login);
  for (step s : all_steps)
    out +=
        "," + quoted(step_name(s)) + ":" + latency_json(stats.steps[static_cast<std::size_t>(s)]);
  out += "},\"failures\":{";
  bool first = true;
  for (step s : all_steps) {
    const auto& counts = stats.failures[static_cast<std::size_t>(s)];
    if (counts.empty()) continue;
    if (!first) out += ',';
    first = false;
    out += quoted(step_name(s)) + ":" + counts_json(counts);
  }
  return out + "}}\n";
}

std::string format_idle_text(const idle_result& r) {
  std::string out = "idle connections: requested " + std::to_string(r.requested) +
                    "  established " + std::to_string(r.established) + "  closed early " +
                    std::to_string(r.closed_early) + "  held " + fixed(r.hold_s, 1) + " s\n";
  for (const auto& [reason, n] : r.failures)
    out += "  failed " + pad_right(reason, 24) + std::to_string(n) + "\n";
  return out;
}

std::string format_idle_json(const idle_result& r) {
  return "{\"mode\":\"idle\",\"requested\":" + std::to_string(r.requested) +
         ",\"established\":" + std::to_string(r.established) +
         ",\"closed_early\":" + std::to_string(r.closed_early) +
         ",\"hold_s\":" + fixed(r.hold_s, 3) + ",\"failures\":" + counts_json(r.failures) + "}\n";
}

}  // namespace oidc::loadtest
