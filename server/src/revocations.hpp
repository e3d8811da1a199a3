// SPDX-License-Identifier: Apache-2.0
// Revoked session ids: logout records a session id as revoked until the session would have
// expired; every request with a session checks it through a short-lived per-instance cache, so a
// logout on one instance takes effect on the others within the cache TTL
// (timeouts.revocation_cache_ttl, docs/accounts.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "accounts.hpp"
#include "oidc/error.hpp"

namespace oidc::server {

// Where revocations are stored (shared by every instance). Calls may block.
class revocation_backend {
 public:
  virtual ~revocation_backend() = default;
  // Records `session_id` as revoked until `expires_at` (the session's exp). Revoking again keeps
  // the later expiry.
  virtual result<void> revoke(std::string_view session_id, std::chrono::sys_seconds expires_at) = 0;
  // Revoked and not yet expired at `now`.
  virtual result<bool> is_revoked(std::string_view session_id, std::chrono::sys_seconds now) = 0;
  // Deletes revocations whose session has expired by `now`; returns how many.
  virtual result<std::size_t> purge_expired(std::chrono::sys_seconds now) = 0;
};

// The `revocations` table of the SQLite account database.
class sqlite_revocation_backend final : public revocation_backend {
 public:
  explicit sqlite_revocation_backend(std::shared_ptr<account_database> db);
  result<void> revoke(std::string_view session_id, std::chrono::sys_seconds expires_at) override;
  result<bool> is_revoked(std::string_view session_id, std::chrono::sys_seconds now) override;
  result<std::size_t> purge_expired(std::chrono::sys_seconds now) override;

 private:
  std::shared_ptr<account_database> db_;
};

struct revocation_cache_options {
  // How long an answer (revoked or not) is reused: the longest a logout on another instance
  // takes to be seen here. 0 disables the cache.
  std::chrono::milliseconds ttl{std::chrono::seconds(30)};
  // Entries kept at most; when full, stale entries go, and everything goes if that is not enough.
  std::size_t max_entries = 100'000;
  // Monotonic time for cache ages (tests inject their own). Default: steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// Revocation checks through a cache in front of a backend. Thread-safe: the cache is guarded by a
// mutex held only for map operations, never during a backend call. Backend failures are returned
// (internal_error) and not cached: callers fail closed.
class revocation_store {
 public:
  revocation_store(std::shared_ptr<revocation_backend> backend, revocation_cache_options options);

  // Writes through to the backend; this instance sees the revocation at once.
  result<void> revoke(std::string_view session_id, std::chrono::sys_seconds expires_at);
  // `now` is wall-clock time, compared with the stored expiry.
  result<bool> is_revoked(std::string_view session_id, std::chrono::sys_seconds now);
  // The cached answer while it is fresh, without touching the backend (callable on an I/O
  // thread); nullopt: ask is_revoked, which may block.
  std::optional<bool> cached(std::string_view session_id) const;
  // A session this instance has just issued cannot have been revoked yet: remembered as not
  // revoked (for the cache TTL, like any answer), so its first uses need no backend query.
  void note_issued(std::string_view session_id);
  // Deletes expired revocations from the backend (call it periodically, e.g. hourly).
  result<std::size_t> purge_expired(std::chrono::sys_seconds now);

  std::size_t cached_entries() const;

 private:
  struct entry {
    bool revoked = false;
    std::chrono::steady_clock::time_point fetched;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  std::chrono::steady_clock::time_point now() const;
  bool fresh(const entry& e, std::chrono::steady_clock::time_point t) const noexcept;
  void remember(std::string_view session_id, bool revoked, std::chrono::steady_clock::time_point t);

  std::shared_ptr<revocation_backend> backend_;
  revocation_cache_options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry, string_hash, std::equal_to<>> cache_;  // guarded
};

}  // namespace oidc::server
