// SPDX-License-Identifier: Apache-2.0
// Configuration reload: building and reporting the next snapshot.
#include "reload.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace oidc::server {

reload_outcome build_snapshot(std::shared_ptr<const server_config> next,
                              const server_config& running, const secret_reader& reader) {
  reload_outcome out;
  if (!next) {
    out.errors.push_back({"", "no configuration", ""});
    return out;
  }
  // The development cookie mode drops Secure and __Host-: loopback listeners only. Listeners
  // are not reloaded, so the running ones are what the new mode would apply to.
  if (next->server.cookie_mode == cookie_mode_t::development) {
    for (const auto& l : running.server.listen) {
      if (!l.loopback) {
        out.errors.push_back(
            {"server.cookie_mode", "the development mode needs loopback listeners only", ""});
        break;
      }
    }
  }
  auto secrets = load_runtime_secrets(*next, reader);
  if (!secrets) {
    auto errors = secrets.error();  // error() returns a copy: take it once
    out.errors.insert(out.errors.end(), errors.begin(), errors.end());
  }
  if (!out.errors.empty()) return out;
  out.not_applied = settings_needing_restart(running, *next);
  auto snap = std::make_shared<app_snapshot>();
  snap->config = std::move(next);
  snap->secrets = std::move(*secrets);
  out.snapshot = std::move(snap);
  return out;
}

reload_outcome load_snapshot(const std::filesystem::path& config_file, const server_config& running,
                             const secret_reader& reader) {
  auto parsed = load_config_file(config_file);
  if (!parsed) {
    reload_outcome out;
    out.errors = std::move(parsed.error());
    return out;
  }
  return build_snapshot(std::move(*parsed), running, reader);
}

std::string reload_log_line(const reload_outcome& outcome) {
  boost::json::object o;
  o["event"] = "reload";
  o["outcome"] = outcome.snapshot ? "ok" : "refused";
  boost::json::array errors;
  for (const auto& e : outcome.errors)
    errors.emplace_back(e.path.empty() ? e.problem : e.path + ": " + e.problem);
  o["errors"] = std::move(errors);
  if (!outcome.not_applied.empty()) {
    boost::json::array na;
    for (const auto& s : outcome.not_applied)
      na.emplace_back(s);
    o["not_applied"] = std::move(na);
  }
  return boost::json::serialize(o);
}

}  // namespace oidc::server
