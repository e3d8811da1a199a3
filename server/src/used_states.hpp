// SPDX-License-Identifier: Apache-2.0
// The instance's memory of state ids already used by a callback, kept until each state would
// have expired, so a replayed callback is refused before any IdP call. Bounded: when full, the
// entries closest to expiry are forgotten first (across instances the IdP's single-use code is
// the backstop). Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace oidc::server {

class used_state_memory {
 public:
  explicit used_state_memory(std::size_t max_entries = 100'000) : max_entries_(max_entries) {}

  // Records `state_id` as used until `expires_at`. False when it was already recorded and has
  // not expired (a replay); expired entries are purged first.
  bool try_consume(std::string_view state_id, std::chrono::sys_seconds expires_at,
                   std::chrono::sys_seconds now);

  std::size_t size() const;

 private:
  void purge_locked(std::chrono::sys_seconds now);

  mutable std::mutex mutex_;
  std::size_t max_entries_;
  std::unordered_map<std::string, std::chrono::sys_seconds> by_id_;
  std::multimap<std::chrono::sys_seconds, std::string> by_expiry_;
};

}  // namespace oidc::server
