// SPDX-License-Identifier: Apache-2.0
// The two load modes of oidc-login-driver over real sockets: complete logins by virtual users
// (closed loop, or open loop at a fixed arrival rate) and idle keep-alive connections. This
// header is free of Asio; runner.cpp is the one translation unit of the driver that uses it.
#pragma once

#include <ostream>
#include <string>

#include "options.hpp"
#include "report.hpp"

namespace oidc::loadtest {

struct login_run_result {
  bool ok = false;
  std::string error;  // setup failure (TLS context, bad URL), when !ok
  run_info info;
  run_stats stats;
};

login_run_result run_logins(const driver_options& options);

struct idle_run_result {
  bool ok = false;
  std::string error;
  idle_result result;
};

// Prints "established N" on `progress` once every connection has been tried, then holds them.
idle_run_result run_idle(const driver_options& options, std::ostream& progress);

// Raises RLIMIT_NOFILE to its hard limit; returns the soft limit now in force.
unsigned long long raise_open_file_limit() noexcept;

}  // namespace oidc::loadtest
