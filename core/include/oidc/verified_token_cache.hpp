// SPDX-License-Identifier: Apache-2.0
// The verified-token cache of /api/verify: SHA-256 of a token → the identity its successful
// verification proved, kept until the token's exp (capped by max_ttl). Bounded in entries and
// bytes; sharded so concurrent verifications contend only when their digests share a shard
// (no global lock). Only successes go in, so a flood of garbage tokens cannot evict good ones
// faster than it could anyway, and a failure is always re-checked.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "oidc/ossl.hpp"
#include "oidc/session_token.hpp"

namespace oidc {

// What /api/verify answers for a token, and which key proved it.
struct verified_identity {
  std::string subject;
  std::string organisation;
  std::string tenant;
  std::string email;
  std::string name;
  std::string scopes;      // space separated: scp, else roles
  std::string key_set_id;  // the jwks_uri whose key verified it; empty for session tokens
  std::string kid;
  bool session = false;  // one of our own session tokens (revocation applies)
  std::string session_id;
  // Our own session tokens: all their claims, for the session API and pages (null otherwise).
  std::shared_ptr<const oidc::session_claims> claims;
  std::chrono::sys_seconds expires_at{};  // the token's exp
  // The caller's rendering of this identity (e.g. the JSON body /api/verify answers), made once
  // when the entry is created so a hit renders nothing; counted in the entry's bytes.
  std::string rendered;
};

struct verified_token_cache_options {
  bool enabled = true;
  std::size_t max_entries = 100'000;
  std::size_t max_bytes = 64u << 20;
  std::chrono::seconds max_ttl{std::chrono::minutes(5)};  // an entry never outlives exp either
  std::size_t shards = 16;                                // rounded up to a power of two
};

class verified_token_cache {
 public:
  using digest = std::array<std::uint8_t, 32>;

  explicit verified_token_cache(verified_token_cache_options options = {});
  verified_token_cache(const verified_token_cache&) = delete;
  verified_token_cache& operator=(const verified_token_cache&) = delete;

  bool enabled() const noexcept { return options_.enabled; }

  // SHA-256 of the whole compact token.
  digest digest_of(std::string_view token) const noexcept;

  // The cached identity, or nullptr. An entry whose time is up (exp or max_ttl reached at
  // `now`) is removed and is a miss.
  std::shared_ptr<const verified_identity> find(const digest& d, std::chrono::sys_seconds now);

  // Caches a successful verification until min(identity->expires_at, now + max_ttl). Oldest
  // entries of the shard go first when it is over its share of max_entries or max_bytes.
  void insert(const digest& d, std::shared_ptr<const verified_identity> identity,
              std::chrono::sys_seconds now);

  void erase(const digest& d);

  struct stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t insertions = 0;
    std::uint64_t evictions = 0;  // pushed out by the bounds
    std::uint64_t expirations = 0;
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };
  stats snapshot() const;

 private:
  struct digest_hash {
    std::size_t operator()(const digest& d) const noexcept;
  };
  struct entry {
    std::shared_ptr<const verified_identity> identity;
    std::chrono::sys_seconds until{};
    std::size_t bytes = 0;
    std::list<digest>::iterator order;
  };
  struct alignas(64) shard {
    mutable std::mutex mutex;
    std::unordered_map<digest, entry, digest_hash> entries;
    std::list<digest> order;  // insertion order, oldest first
    std::size_t bytes = 0;
  };

  shard& shard_of(const digest& d) noexcept;
  static std::size_t size_of(const verified_identity& v) noexcept;
  void remove(shard& s, std::unordered_map<digest, entry, digest_hash>::iterator it);

  verified_token_cache_options options_;
  std::size_t per_shard_entries_;
  std::size_t per_shard_bytes_;
  evp_md_ptr sha256_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> insertions_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> expirations_{0};
};

}  // namespace oidc
