// SPDX-License-Identifier: Apache-2.0
// Command-line parsing of oidc-login-driver (see options.hpp).
#include "options.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "flow.hpp"

namespace oidc::loadtest {
namespace {

bool to_unsigned(std::string_view text, unsigned min, unsigned max, unsigned& out) {
  unsigned long long v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v < min || v > max) return false;
  out = static_cast<unsigned>(v);
  return true;
}

// A finite number above `min` (or equal, when `min_inclusive`), at most a day's worth of seconds.
bool to_number(std::string_view text, double min, bool min_inclusive, double& out) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(v)) return false;
  if (min_inclusive ? v < min : v <= min) return false;
  if (v > 86'400) return false;
  out = v;
  return true;
}

// Seconds: "10", "2.5" or "10s".
bool to_seconds(std::string_view text, double min, bool min_inclusive, double& out) {
  if (text.ends_with('s')) text.remove_suffix(1);
  return to_number(text, min, min_inclusive, out);
}

}  // namespace

std::string usage_text() {
  return "usage: oidc-login-driver --start-url URL [--callback-path PATH] [--session-url URL]\n"
         "                         [--expect-final-status N] [--users N] [--rate R] [--duration "
         "S]\n"
         "                         [--warmup S] [--ca-file FILE] [--max-hops N] [--timeout-ms MS]\n"
         "                         [--json FILE] [--keep-cookies] [--threads T]\n"
         "       oidc-login-driver --idle-connections N --idle-url URL --hold S [--json FILE]\n"
         "                         [--connect-concurrency N] [--threads T]\n"
         "Runs complete logins (start -> IdP authorize -> callback -> home [-> session]) with N\n"
         "virtual users, each with its own cookie jar, and prints logins/s, latency percentiles\n"
         "per step and failures by step; or holds N idle keep-alive connections open.\n";
}

parsed_options parse_options(std::span<const std::string_view> args) {
  driver_options o;
  bool saw_start = false, saw_idle = false, saw_idle_url = false, saw_hold = false;
  auto bad = [](std::string message) { return parsed_options{std::nullopt, std::move(message)}; };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string_view> inline_value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "--help" || name == "-h") {
      o.help = true;
      return parsed_options{o, {}};
    }
    if (name == "--keep-cookies") {
      if (inline_value) return bad("--keep-cookies takes no value");
      o.keep_cookies = true;
      continue;
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return bad(std::string(name) + " needs a value");
    }
    const std::string invalid =
        "invalid value for " + std::string(name) + ": " + std::string(value);

    if (name == "--start-url") {
      if (!parse_target(value)) return bad(invalid + " (an absolute http(s) URL)");
      o.start_url = value;
      saw_start = true;
    } else if (name == "--callback-path") {
      if (!value.starts_with('/')) return bad(invalid + " (a path starting with /)");
      o.callback_path = value;
    } else if (name == "--session-url") {
      if (!parse_target(value)) return bad(invalid + " (an absolute http(s) URL)");
      o.session_url = value;
    } else if (name == "--expect-final-status") {
      if (!to_unsigned(value, 100, 599, o.expect_final_status)) return bad(invalid);
    } else if (name == "--users") {
      if (!to_unsigned(value, 1, 100'000, o.users)) return bad(invalid);
    } else if (name == "--rate") {
      double r = 0;
      if (!to_number(value, 0, false, r)) return bad(invalid);
      o.rate = r;
    } else if (name == "--duration") {
      if (!to_seconds(value, 0, false, o.duration_s)) return bad(invalid);
    } else if (name == "--warmup") {
      if (!to_seconds(value, 0, true, o.warmup_s)) return bad(invalid);
    } else if (name == "--ca-file") {
      if (value.empty()) return bad(invalid);
      o.ca_file = value;
    } else if (name == "--max-hops") {
      if (!to_unsigned(value, 1, 64, o.max_hops)) return bad(invalid);
    } else if (name == "--timeout-ms") {
      if (!to_unsigned(value, 1, 600'000, o.timeout_ms)) return bad(invalid);
    } else if (name == "--json") {
      if (value.empty()) return bad(invalid);
      o.json_file = value;
    } else if (name == "--threads") {
      if (!to_unsigned(value, 1, 256, o.threads)) return bad(invalid);
    } else if (name == "--idle-connections") {
      if (!to_unsigned(value, 1, 1'000'000, o.idle_connections)) return bad(invalid);
      saw_idle = true;
    } else if (name == "--idle-url") {
      const auto t = parse_target(value);
      if (!t || t->https) return bad(invalid + " (an absolute http:// URL)");
      o.idle_url = value;
      saw_idle_url = true;
    } else if (name == "--hold") {
      if (!to_seconds(value, 0, true, o.hold_s)) return bad(invalid);
      saw_hold = true;
    } else if (name == "--connect-concurrency") {
      if (!to_unsigned(value, 1, 65'536, o.connect_concurrency)) return bad(invalid);
    } else {
      return bad("unknown option " + std::string(name));
    }
  }

  if (saw_idle || saw_idle_url || saw_hold) {
    if (saw_start) return bad("--start-url and --idle-connections are different modes");
    if (!saw_idle || !saw_idle_url || !saw_hold) {
      return bad("idle mode needs --idle-connections, --idle-url and --hold");
    }
    o.mode = driver_options::run_mode::idle;
    return parsed_options{o, {}};
  }
  if (!saw_start) return bad("--start-url is required");
  return parsed_options{o, {}};
}

}  // namespace oidc::loadtest
