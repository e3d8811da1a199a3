// SPDX-License-Identifier: Apache-2.0
#include "oidc/verified_token_cache.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace oidc {

verified_token_cache::verified_token_cache(verified_token_cache_options options)
    : options_(options), sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {
  const std::size_t n = std::bit_ceil(std::max<std::size_t>(options_.shards, 1));
  per_shard_entries_ = std::max<std::size_t>(options_.max_entries / n, 1);
  per_shard_bytes_ = std::max<std::size_t>(options_.max_bytes / n, 1);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    shards_.push_back(std::make_unique<shard>());
}

std::size_t verified_token_cache::digest_hash::operator()(const digest& d) const noexcept {
  // The digest is already uniform: its first bytes are a fine hash.
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

verified_token_cache::digest verified_token_cache::digest_of(
    std::string_view token) const noexcept {
  digest d{};
  unsigned int len = 0;
  // A fetched EVP_MD skips OpenSSL 3's per-call implicit fetch on this hot path.
  if (!sha256_ ||
      EVP_Digest(token.data(), token.size(), d.data(), &len, sha256_.get(), nullptr) != 1 ||
      len != d.size()) {
    ERR_clear_error();
    // Never reached with a working OpenSSL; an all-zero digest is never inserted (see insert).
    d.fill(0);
  }
  return d;
}

verified_token_cache::shard& verified_token_cache::shard_of(const digest& d) noexcept {
  // Bytes 8.. are independent of the ones digest_hash uses for the bucket.
  return *shards_[d[8] & (shards_.size() - 1)];
}

std::size_t verified_token_cache::size_of(const verified_identity& v) noexcept {
  return sizeof(entry) + sizeof(verified_identity) + sizeof(digest) * 2 + 64 + v.subject.size() +
         v.organisation.size() + v.tenant.size() + v.email.size() + v.name.size() +
         v.scopes.size() + v.key_set_id.size() + v.kid.size() + v.session_id.size() +
         v.rendered.size() +
         (v.claims ? sizeof(session_claims) + v.claims->sid.size() + v.claims->sub.size() +
                         v.claims->org.size() + v.claims->tid.size() + v.claims->oid.size() +
                         v.claims->email.size() + v.claims->name.size() +
                         v.claims->login_hint.size() + v.claims->iss.size()
                   : 0);
}

void verified_token_cache::remove(shard& s,
                                  std::unordered_map<digest, entry, digest_hash>::iterator it) {
  s.bytes -= it->second.bytes;
  s.order.erase(it->second.order);
  s.entries.erase(it);
}

std::shared_ptr<const verified_identity> verified_token_cache::find(const digest& d,
                                                                    std::chrono::sys_seconds now) {
  if (!options_.enabled) return nullptr;
  shard& s = shard_of(d);
  {
    std::lock_guard lock(s.mutex);
    auto it = s.entries.find(d);
    if (it != s.entries.end()) {
      if (now < it->second.until) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second.identity;
      }
      remove(s, it);
      expirations_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void verified_token_cache::insert(const digest& d,
                                  std::shared_ptr<const verified_identity> identity,
                                  std::chrono::sys_seconds now) {
  if (!options_.enabled || !identity) return;
  if (std::all_of(d.begin(), d.end(), [](std::uint8_t b) { return b == 0; })) return;
  const auto until = std::min(identity->expires_at, now + options_.max_ttl);
  if (until <= now) return;
  const std::size_t bytes = size_of(*identity);
  if (bytes > per_shard_bytes_) return;
  shard& s = shard_of(d);
  std::lock_guard lock(s.mutex);
  if (auto it = s.entries.find(d); it != s.entries.end()) remove(s, it);
  while (!s.order.empty() &&
         (s.entries.size() >= per_shard_entries_ || s.bytes + bytes > per_shard_bytes_)) {
    remove(s, s.entries.find(s.order.front()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  s.order.push_back(d);
  entry e{std::move(identity), until, bytes, std::prev(s.order.end())};
  s.entries.emplace(d, std::move(e));
  s.bytes += bytes;
  insertions_.fetch_add(1, std::memory_order_relaxed);
}

void verified_token_cache::erase(const digest& d) {
  shard& s = shard_of(d);
  std::lock_guard lock(s.mutex);
  if (auto it = s.entries.find(d); it != s.entries.end()) remove(s, it);
}

verified_token_cache::stats verified_token_cache::snapshot() const {
  stats out;
  out.hits = hits_.load(std::memory_order_relaxed);
  out.misses = misses_.load(std::memory_order_relaxed);
  out.insertions = insertions_.load(std::memory_order_relaxed);
  out.evictions = evictions_.load(std::memory_order_relaxed);
  out.expirations = expirations_.load(std::memory_order_relaxed);
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    out.entries += s->entries.size();
    out.bytes += s->bytes;
  }
  return out;
}

}  // namespace oidc
