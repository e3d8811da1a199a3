// SPDX-License-Identifier: Apache-2.0
// Command line of oidc-login-driver (login load or idle connections), parsed and checked without
// side effects.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace oidc::loadtest {

struct driver_options {
  enum class run_mode { login, idle };
  run_mode mode = run_mode::login;

  // Login load.
  std::string start_url;
  std::string callback_path = "/api/single-sign-on";
  std::string session_url;  // empty: no session step
  unsigned expect_final_status = 200;
  unsigned users = 16;
  std::optional<double> rate;  // logins started per second (open loop); absent: closed loop
  double duration_s = 10;
  double warmup_s = 1;
  std::string ca_file;
  unsigned max_hops = 8;
  unsigned timeout_ms = 5000;
  bool keep_cookies = false;

  // Idle connections (memory scenario).
  unsigned idle_connections = 0;
  std::string idle_url;
  double hold_s = 0;
  unsigned connect_concurrency = 256;  // connections being opened at once

  std::string json_file;
  unsigned threads = 1;
  bool help = false;
};

struct parsed_options {
  std::optional<driver_options> options;
  std::string error;  // set when options is empty
};

// `args` without the program name. "--name value" and "--name=value" are both accepted.
parsed_options parse_options(std::span<const std::string_view> args);

std::string usage_text();

}  // namespace oidc::loadtest
