// SPDX-License-Identifier: Apache-2.0
// Configuration reload (SIGHUP): the next snapshot of configuration and secrets, read from the
// same files as at start and validated as a whole, and the one log line that reports it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "oidc/config.hpp"
#include "runtime_secrets.hpp"

namespace oidc::server {

// What a reload replaces as a whole; requests keep the snapshot they started with.
struct app_snapshot {
  std::shared_ptr<const server_config> config;
  runtime_secrets secrets;
};

struct reload_outcome {
  std::shared_ptr<const app_snapshot> snapshot;  // null when refused
  std::vector<config_error> errors;              // why it was refused (never secret values)
  std::vector<std::string> not_applied;          // settings_needing_restart(running, next)
};

// Validates a parsed configuration and loads its secrets into a snapshot. `running` is the
// configuration the process started with (listeners, threads and the account database stay
// as they were until a restart).
reload_outcome build_snapshot(std::shared_ptr<const server_config> next,
                              const server_config& running, const secret_reader& reader);

// Reads `config_file` and the secrets it names, as build_snapshot.
reload_outcome load_snapshot(const std::filesystem::path& config_file, const server_config& running,
                             const secret_reader& reader);

// {"event":"reload","outcome":"ok"|"refused","errors":["path: problem",...],
//  "not_applied":[...]} without a trailing newline.
std::string reload_log_line(const reload_outcome& outcome);

}  // namespace oidc::server
