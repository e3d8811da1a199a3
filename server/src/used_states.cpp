// SPDX-License-Identifier: Apache-2.0
// Bounded used-state memory.
#include "used_states.hpp"

namespace oidc::server {

void used_state_memory::purge_locked(std::chrono::sys_seconds now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    by_id_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

bool used_state_memory::try_consume(std::string_view state_id, std::chrono::sys_seconds expires_at,
                                    std::chrono::sys_seconds now) {
  std::lock_guard lock(mutex_);
  purge_locked(now);
  std::string id(state_id);
  if (by_id_.contains(id)) return false;
  if (max_entries_ == 0) return true;
  while (by_id_.size() >= max_entries_) {
    by_id_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
  by_id_.emplace(id, expires_at);
  by_expiry_.emplace(expires_at, std::move(id));
  return true;
}

std::size_t used_state_memory::size() const {
  std::lock_guard lock(mutex_);
  return by_id_.size();
}

}  // namespace oidc::server
