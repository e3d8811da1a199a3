// SPDX-License-Identifier: Apache-2.0
// The simple key store: one immutable key_set per key-set id (the jwks_uri) behind a
// reader/writer lock, readers copying a shared_ptr. The server uses key_cache.hpp (lock-free
// reads, refresh policy); this one stays as the baseline bench/key_cache_bench.cpp measures it
// against, and as the reference behaviour its tests pin down.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "oidc/jwk.hpp"

namespace oidc {

// A read-side handle on one published key set; valid until destroyed.
class key_snapshot {
 public:
  key_snapshot() = default;
  explicit key_snapshot(std::shared_ptr<const key_set> keys) noexcept : keys_(std::move(keys)) {}

  const key_set* get() const noexcept { return keys_.get(); }
  const key_set& operator*() const noexcept { return *keys_; }
  const key_set* operator->() const noexcept { return keys_.get(); }
  explicit operator bool() const noexcept { return keys_ != nullptr; }

 private:
  std::shared_ptr<const key_set> keys_;
};

class key_store {
 public:
  virtual ~key_store() = default;
  // The current keys of `key_set_id`, or an empty snapshot when none were ever published.
  virtual key_snapshot read(std::string_view key_set_id) const = 0;
  // Replaces the keys of `key_set_id`; readers holding the old snapshot keep it.
  virtual void publish(std::string_view key_set_id, std::shared_ptr<const key_set> keys) = 0;
};

// Simple and correct: a reader/writer lock around a map of shared_ptrs.
class locked_key_store final : public key_store {
 public:
  key_snapshot read(std::string_view key_set_id) const override;
  void publish(std::string_view key_set_id, std::shared_ptr<const key_set> keys) override;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const key_set>, string_hash, std::equal_to<>>
      sets_;
};

}  // namespace oidc
