// SPDX-License-Identifier: Apache-2.0
// The JWKS cache data structure: per key-set id (the jwks_uri) an immutable snapshot of the keys
// and their freshness, read without a lock or allocation under an epoch guard, replaced by one
// atomic pointer swap; plus the refresh policy as pure functions of an injected `now`. No I/O and
// no clock: the server fetches, single-flights and schedules on top of this.
//
// Reader use (per token; never hold the guard across a co_await):
//   const auto guard = cache.pin();
//   const key_lookup r = cache.lookup(guard, jwks_uri, header.kid, header.alg, now);
//   switch (r.outcome) {
//     case hit: case stale:  verify_access_token(token, *r.keys, ...)  (stale: also schedule a
//                            refresh); r.keys stays valid until `guard` is destroyed
//     case kid_unknown:      may_refresh_for_unknown_kid(jwks_uri, now) ? single-flight fetch,
//                            then look up again : fail with auth_error::kid_unknown at once
//     case key_use_mismatch: fail with key_use_mismatch (a refresh would not help)
//     case set_missing:      fetch (single-flight) or fail with jwks_unavailable
//     case too_stale:        fail closed with auth_error::jwks_stale
//   }
// Writer use (fetcher): on 200, publish(jwks_uri, parsed.keys, now,
// parse_cache_control_max_age(header)); on failure, record_refresh_failure(jwks_uri, reason, now);
// schedule the next fetch at next_refresh_at(jwks_uri); call reclaim() from a periodic timer.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "oidc/epoch.hpp"
#include "oidc/error.hpp"
#include "oidc/jwk.hpp"

namespace oidc {

using std::chrono::sys_seconds;

// What a lookup found. Ordered by how the server reacts, see the top of this file.
enum class lookup_outcome : std::uint8_t {
  hit,               // key found, snapshot fresh (now < expires_at)
  stale,             // key found, past expires_at but within stale_if_error: still usable
  kid_unknown,       // set present and usable, no key with that kid
  key_use_mismatch,  // a key has that kid but may not verify the token's alg
  set_missing,       // no keys were ever published for this id (or the id is not registered)
  too_stale,         // past expires_at + stale_if_error: fail closed with jwks_stale
  count_
};
inline constexpr std::size_t kLookupOutcomes = static_cast<std::size_t>(lookup_outcome::count_);

// Stable snake_case metric label.
std::string_view label(lookup_outcome o) noexcept;
// The reason to fail with: ok for hit and stale; kid_unknown, key_use_mismatch, jwks_unavailable
// (set_missing) and jwks_stale (too_stale) otherwise.
auth_error to_auth_error(lookup_outcome o) noexcept;

struct key_cache_policy {
  // Cache-Control max-age is clamped to [min_max_age, max_max_age]: an IdP saying max-age=0 or
  // no-store must not make us fetch per token, one saying a year must not pin retired keys.
  std::chrono::seconds min_max_age{std::chrono::minutes{5}};
  std::chrono::seconds max_max_age{std::chrono::hours{24}};
  std::chrono::seconds default_max_age{std::chrono::hours{1}};  // no usable max-age
  // Refresh when this fraction of the lifetime is left, so keys rarely expire while a refresh is
  // in flight. In [0, 1); out-of-range values are clamped.
  double refresh_ahead_fraction = 0.25;
  // Forced refreshes for an unknown kid, per key set (Microsoft suggests at most every 5 min).
  std::chrono::seconds min_unknown_kid_refresh_interval{std::chrono::minutes{5}};
  // How long past expires_at the last good keys keep verifying while refreshes fail.
  std::chrono::seconds stale_if_error{std::chrono::hours{24}};
  // Backoff after failed refreshes: retry_min * 2^(failures-1), at most retry_max.
  std::chrono::seconds failure_retry_min{std::chrono::seconds{30}};
  std::chrono::seconds failure_retry_max{std::chrono::minutes{5}};
};

// The max-age of a Cache-Control header value (RFC 9111 §5.2): comma-separated directives,
// case-insensitive names, token or quoted-string arguments (both accepted, §5.2), unknown
// directives ignored. no-store and no-cache (with or without an argument) yield 0 s: the keys may
// not be reused without revalidation, which clamp_max_age turns into min_max_age. max-age values
// too large to represent are 2^31 s (§1.2.2). Two max-age directives with different values yield
// 0 s (§4.2.1 allows treating the response as stale). nullopt when there is no usable max-age:
// absent, empty or non-digit value (negative included), or a syntax error anywhere in the header.
// Never throws and never allocates.
std::optional<std::chrono::seconds> parse_cache_control_max_age(std::string_view header) noexcept;

// The lifetime to use: default_max_age when nullopt, clamped to [min_max_age, max_max_age].
std::chrono::seconds clamp_max_age(std::optional<std::chrono::seconds> max_age,
                                   const key_cache_policy& policy) noexcept;

// What next_refresh_at decides from.
struct refresh_state {
  std::optional<sys_seconds> fetched_at;  // current snapshot; nullopt when none
  std::optional<sys_seconds> expires_at;
  std::optional<sys_seconds> last_failure_at;  // most recent failed refresh
  std::uint32_t consecutive_failures = 0;      // since the last successful publish
};

// When the background refresher should fetch next: sys_seconds{} (i.e. now) with no snapshot and
// no failure; fetched_at + (1 - refresh_ahead_fraction) * lifetime otherwise; and after failures
// not before last_failure_at + backoff.
sys_seconds next_refresh_at(const refresh_state& s, const key_cache_policy& policy) noexcept;

// One published key set. Immutable; valid while the guard it was read under lives.
struct key_set_snapshot {
  std::shared_ptr<const key_set> keys;  // never null; readers use keys.get(), never copy it
  sys_seconds fetched_at;               // the successful fetch (the "age" of the set)
  sys_seconds expires_at;               // fetched_at + clamped max-age
  sys_seconds stale_until;              // expires_at + stale_if_error
  std::uint64_t generation = 0;         // 1 for the first publish of this id, then +1 each
};

struct key_lookup {
  const jwk* key = nullptr;                    // hit, stale
  const key_set* keys = nullptr;               // hit, stale, kid_unknown, key_use_mismatch
  const key_set_snapshot* snapshot = nullptr;  // everything but set_missing
  lookup_outcome outcome = lookup_outcome::set_missing;
};

// Points in publish() (and add/remove) at which the test hook runs, in this order.
enum class publish_step : std::uint8_t {
  snapshot_built,     // publish: keys interned, snapshot allocated; add/remove: about to build
                      // the new directory. Nothing visible yet
  directory_swapped,  // publish of a new id, add, remove: the new directory is visible
  snapshot_swapped,   // readers now see the new snapshot
  old_retired,        // the previous snapshot (or directory) is handed to the epoch domain
  reclaimed,          // reclaim() ran
};

struct key_cache_options {
  key_cache_policy policy;
  epoch_options epoch;
  // Tests only: called under the writer mutex at each publish_step, so a test can hold the
  // writer there and show readers still progress. Must not call back into the cache's writers.
  std::function<void(publish_step)> on_publish_step;
};

struct publish_result {
  std::uint64_t generation = 0;
  std::size_t keys = 0;
  std::size_t shared_keys = 0;  // keys replaced by an identical one already held (thumbprint)
  sys_seconds expires_at{};
};

// Copied out for a metrics collector; copying here is fine, it is not the hot path.
struct key_set_stats {
  std::string id;
  std::array<std::uint64_t, kLookupOutcomes> lookups{};  // by lookup_outcome
  std::uint64_t refreshes_ok = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(auth_error::count_)> refresh_errors{};
  std::size_t key_count = 0;
  std::uint64_t generation = 0;
  std::optional<sys_seconds> last_success;  // fetched_at of the current snapshot: age = now - it
  std::optional<sys_seconds> expires_at;
  std::optional<sys_seconds> last_failure;
  std::uint32_t consecutive_failures = 0;
};

struct key_cache_stats {
  std::vector<key_set_stats> sets;  // in id order
  // Totals survive remove(): monotonic, as a Prometheus counter needs. Lookups of ids that are
  // not registered count here (as set_missing) only.
  std::array<std::uint64_t, kLookupOutcomes> lookups{};
  std::uint64_t refreshes_ok = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(auth_error::count_)> refresh_errors{};
  std::size_t interned_keys = 0;  // distinct keys shared by thumbprint (live ones)
  std::size_t retired = 0;        // snapshots and directories waiting to be freed
  std::uint64_t overflow_pins = 0;
};

// A key-set id with its hash computed once, e.g. per organisation when the configuration is
// loaded: hashing a 90-octet jwks_uri is about a fifth of a lookup. `id` must outlive the key;
// build it with make_key_set_key (a key with any other hash finds nothing, safely).
struct key_set_key {
  std::string_view id;
  std::size_t hash = 0;
};
key_set_key make_key_set_key(std::string_view key_set_id) noexcept;

class key_cache {
 public:
  explicit key_cache(key_cache_options options = {});
  // Precondition: no guard of this cache is alive and no call is running.
  ~key_cache();
  key_cache(const key_cache&) = delete;
  key_cache& operator=(const key_cache&) = delete;

  // --- Readers: no mutex, no allocation, wait-free (see epoch.hpp). ---

  epoch_guard pin() const noexcept { return domain_.pin(); }

  // Finds the key for (kid, alg) in the set `key_set_id` (key_set::find semantics: an empty kid
  // selects the only key that may verify alg) and classifies the snapshot's freshness at `now`.
  // Freshness is checked first, so too_stale wins over everything else. Counts the outcome.
  key_lookup lookup(const epoch_guard& guard, std::string_view key_set_id, std::string_view kid,
                    jws_alg alg, sys_seconds now) const noexcept;
  // The same without hashing the id (see key_set_key).
  key_lookup lookup(const epoch_guard& guard, key_set_key key_set, std::string_view kid,
                    jws_alg alg, sys_seconds now) const noexcept;

  // The current snapshot, uncounted and unclassified; null when none. For verify_* calls that take
  // a const key_set&: `*snapshot(guard, id)->keys`.
  const key_set_snapshot* snapshot(const epoch_guard& guard,
                                   std::string_view key_set_id) const noexcept;

  // Rate limit of forced refreshes on an unknown kid: true for exactly one caller per
  // min_unknown_kid_refresh_interval per key set (a CAS on the last forced refresh time), who
  // must then fetch; false for everyone else in the interval (wait on that fetch, or fail at once
  // with kid_unknown) and for an id that is not registered. Lock-free, no allocation.
  bool may_refresh_for_unknown_kid(std::string_view key_set_id, sys_seconds now) noexcept;

  // Counts a failed refresh (by reason; auth_error::ok is ignored) and starts the backoff. The
  // current snapshot stays and keeps serving until stale_until. Lock-free, no allocation; false
  // when the id is not registered.
  bool record_refresh_failure(std::string_view key_set_id, auth_error reason,
                              sys_seconds now) noexcept;

  // The inputs of next_refresh_at for one id; nullopt when the id is not registered.
  std::optional<refresh_state> refresh_state_of(std::string_view key_set_id) const noexcept;
  std::optional<sys_seconds> next_refresh_at(std::string_view key_set_id) const noexcept;

  // --- Writers: serialised by one mutex that readers never touch. ---

  // Registers an id without keys (lookups say set_missing until the first publish); false when
  // it was already registered. Republishes the directory.
  bool add(std::string_view key_set_id);
  // Registers many ids with one directory republish (start-up with thousands of organisations);
  // returns how many were new.
  std::size_t add(std::span<const std::string> key_set_ids);
  // Unregisters an id; its entry and snapshot are freed once readers have moved on. False when
  // it was not registered.
  bool remove(std::string_view key_set_id);

  // Publishes a successful fetch: keys identical to one already held by any set (same RFC 7638
  // thumbprint, kid, algorithms and type) are replaced by that shared jwk, the snapshot is
  // swapped in with one atomic exchange, the old one retired, and reclaim() runs. Registers the
  // id when new. `max_age` is parse_cache_control_max_age of the response (clamped here).
  // Resets the failure backoff. A null `keys` is published as an empty set. A fetch that
  // completes after remove() re-registers the id, so drop such results before publishing.
  publish_result publish(std::string_view key_set_id, std::shared_ptr<const key_set> keys,
                         sys_seconds now, std::optional<std::chrono::seconds> max_age);

  // Frees snapshots that no reader can hold any more; call periodically (e.g. every second).
  std::size_t reclaim() { return domain_.reclaim(); }

  // --- Observation (copies; for collectors and tests). stats() takes the writer mutex briefly
  // (for the intern table), so call it from a collector, not from a request path. ---

  key_cache_stats stats() const;
  std::vector<std::string> ids() const;
  const key_cache_policy& policy() const noexcept { return options_.policy; }
  const epoch_domain& domain() const noexcept { return domain_; }

 private:
  struct entry;      // defined in key_cache.cpp
  struct directory;  // defined in key_cache.cpp

  entry* find(key_set_key key) const noexcept;
  std::shared_ptr<const key_set> intern(const std::shared_ptr<const key_set>& keys,
                                        std::size_t& shared);
  void republish_directory(std::vector<entry*> entries);
  void count(entry* e, std::uint32_t stripe, lookup_outcome o) const noexcept;
  void step(publish_step s) const;

  static constexpr std::size_t kStripes = 8;
  struct alignas(64) lookup_stripe {
    std::array<std::atomic<std::uint64_t>, kLookupOutcomes> by_outcome{};
  };

  key_cache_options options_;
  mutable epoch_domain domain_;
  std::atomic<const directory*> directory_;
  mutable std::array<lookup_stripe, kStripes> total_lookups_{};
  std::atomic<std::uint64_t> total_refreshes_ok_{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(auth_error::count_)>
      total_refresh_errors_{};

  mutable std::mutex writer_;
  // Writer side only: thumbprint|kid|algs|kty -> a key held by some published set.
  std::unordered_map<std::string, std::weak_ptr<const jwk>> interned_;
  std::size_t interned_prune_at_ = 64;
};

}  // namespace oidc
