// SPDX-License-Identifier: Apache-2.0
#include "oidc/key_store.hpp"

#include <mutex>

namespace oidc {

key_snapshot locked_key_store::read(std::string_view key_set_id) const {
  std::shared_lock lock(mutex_);
  const auto it = sets_.find(key_set_id);
  return it == sets_.end() ? key_snapshot{} : key_snapshot{it->second};
}

void locked_key_store::publish(std::string_view key_set_id, std::shared_ptr<const key_set> keys) {
  std::shared_ptr<const key_set> old;  // released outside the lock
  std::unique_lock lock(mutex_);
  auto [it, inserted] = sets_.try_emplace(std::string(key_set_id), keys);
  if (!inserted) old = std::exchange(it->second, std::move(keys));
}

}  // namespace oidc
