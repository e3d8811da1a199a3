// SPDX-License-Identifier: Apache-2.0
// Revoked session ids in the SQLite account database, and the per-instance cache in front.
#include "revocations.hpp"

#include <utility>

namespace oidc::server {

sqlite_revocation_backend::sqlite_revocation_backend(std::shared_ptr<account_database> db)
    : db_(std::move(db)) {}

result<void> sqlite_revocation_backend::revoke(std::string_view session_id,
                                               std::chrono::sys_seconds expires_at) {
  try {
    auto c = db_->lock();
    auto s = c.prepare(
        "INSERT INTO revocations (session_id, expires_at) VALUES (?1, ?2) "
        "ON CONFLICT (session_id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)");
    s.bind_text(1, session_id);
    s.bind_int64(2, expires_at.time_since_epoch().count());
    s.step();
    return {};
  } catch (const database_error&) {
    return auth_error::internal_error;
  }
}

result<bool> sqlite_revocation_backend::is_revoked(std::string_view session_id,
                                                   std::chrono::sys_seconds now) {
  try {
    auto c = db_->lock();
    auto s = c.prepare("SELECT 1 FROM revocations WHERE session_id = ?1 AND expires_at > ?2");
    s.bind_text(1, session_id);
    s.bind_int64(2, now.time_since_epoch().count());
    return s.step();
  } catch (const database_error&) {
    return auth_error::internal_error;
  }
}

result<std::size_t> sqlite_revocation_backend::purge_expired(std::chrono::sys_seconds now) {
  try {
    auto c = db_->lock();
    auto s = c.prepare("DELETE FROM revocations WHERE expires_at <= ?1");
    s.bind_int64(1, now.time_since_epoch().count());
    s.step();
    return static_cast<std::size_t>(c.changes());
  } catch (const database_error&) {
    return auth_error::internal_error;
  }
}

revocation_store::revocation_store(std::shared_ptr<revocation_backend> backend,
                                   revocation_cache_options options)
    : backend_(std::move(backend)), options_(std::move(options)) {}

std::chrono::steady_clock::time_point revocation_store::now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

bool revocation_store::fresh(const entry& e,
                             std::chrono::steady_clock::time_point t) const noexcept {
  return t >= e.fetched && t - e.fetched < options_.ttl;
}

void revocation_store::remember(std::string_view session_id, bool revoked,
                                std::chrono::steady_clock::time_point t) {
  if (options_.ttl <= std::chrono::milliseconds::zero() || options_.max_entries == 0) return;
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(session_id); it != cache_.end()) {
    // A revocation is never undone before the session expires, so a lookup that raced with a
    // revoke() on this instance must not overwrite its answer.
    it->second = {it->second.revoked || revoked, t};
    return;
  }
  if (cache_.size() >= options_.max_entries) {
    std::erase_if(cache_, [&](const auto& kv) { return !fresh(kv.second, t); });
    // Still mostly full of fresh entries: start over rather than scan again on every insert.
    if (cache_.size() >= options_.max_entries - options_.max_entries / 4) cache_.clear();
  }
  cache_.emplace(std::string(session_id), entry{revoked, t});
}

result<void> revocation_store::revoke(std::string_view session_id,
                                      std::chrono::sys_seconds expires_at) {
  auto r = backend_->revoke(session_id, expires_at);
  if (!r) return r;
  remember(session_id, true, now());
  return {};
}

std::optional<bool> revocation_store::cached(std::string_view session_id) const {
  const auto t = now();
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(session_id); it != cache_.end() && fresh(it->second, t))
    return it->second.revoked;
  return std::nullopt;
}

void revocation_store::note_issued(std::string_view session_id) {
  remember(session_id, false, now());
}

result<bool> revocation_store::is_revoked(std::string_view session_id,
                                          std::chrono::sys_seconds now_wall) {
  const auto t = now();
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(session_id); it != cache_.end() && fresh(it->second, t))
      return it->second.revoked;
  }
  auto r = backend_->is_revoked(session_id, now_wall);
  if (!r) return r;
  remember(session_id, *r, t);
  return *r;
}

result<std::size_t> revocation_store::purge_expired(std::chrono::sys_seconds now_wall) {
  return backend_->purge_expired(now_wall);
}

std::size_t revocation_store::cached_entries() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

}  // namespace oidc::server
