// SPDX-License-Identifier: Apache-2.0
// oidc-login-driver: complete logins by N virtual users (logins/s, latency per step, failures by
// step) or N idle keep-alive connections, for the load-test runner (loadtest/run). Exit status:
// 0 when the run was measured (failures are in the report), 1 on a setup or I/O error, 2 on a
// usage error.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace oidc::loadtest;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const parsed_options parsed = parse_options(args);
  if (!parsed.options) {
    std::cerr << "oidc-login-driver: " << parsed.error << '\n' << usage_text();
    return 2;
  }
  const driver_options& options = *parsed.options;
  if (options.help) {
    std::cout << usage_text();
    return 0;
  }
  try {
    const auto open_files = raise_open_file_limit();
    if (options.mode == driver_options::run_mode::idle &&
        open_files < options.idle_connections + 64ull) {
      std::cerr << "oidc-login-driver: warning: the open-file limit (" << open_files
                << ") is below --idle-connections; raise the hard limit (ulimit -Hn)\n";
    }
    std::string text;
    std::string json;
    if (options.mode == driver_options::run_mode::idle) {
      const idle_run_result r = run_idle(options, std::cout);
      if (!r.ok) {
        std::cerr << "oidc-login-driver: " << r.error << '\n';
        return 1;
      }
      text = format_idle_text(r.result);
      json = format_idle_json(r.result);
    } else {
      const login_run_result r = run_logins(options);
      if (!r.ok) {
        std::cerr << "oidc-login-driver: " << r.error << '\n';
        return 1;
      }
      text = format_text(r.info, r.stats);
      json = format_json(r.info, r.stats);
    }
    std::cout << text << std::flush;
    if (!options.json_file.empty() && !write_file(options.json_file, json)) {
      std::cerr << "oidc-login-driver: cannot write " << options.json_file << '\n';
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "oidc-login-driver: " << e.what() << '\n';
    return 1;
  }
}
