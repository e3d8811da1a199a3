// SPDX-License-Identifier: Apache-2.0
// JWKS cache: epoch-protected directory and snapshots, thumbprint interning, refresh policy.
#include "oidc/key_cache.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace oidc {

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();
constexpr std::size_t kErrors = static_cast<std::size_t>(auth_error::count_);

std::size_t hash_id(std::string_view id) noexcept {
  return std::hash<std::string_view>{}(id);
}

std::int64_t to_count(sys_seconds t) noexcept {
  return static_cast<std::int64_t>(t.time_since_epoch().count());
}

std::optional<sys_seconds> from_count(std::int64_t v) noexcept {
  if (v == kNever) return std::nullopt;
  return sys_seconds{std::chrono::seconds{v}};
}

// --- Cache-Control (RFC 9111 §5.2, list syntax RFC 9110 §5.6) ---

bool is_tchar(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// qdtext and the octets a quoted-pair may escape (RFC 9110 §5.6.4), obs-text included.
bool is_qdtext(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
         (c >= 0x5D && c <= 0x7E) || c >= 0x80;
}
bool is_quotable(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7E) || c >= 0x80;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// delta-seconds (RFC 9111 §1.2.2): 1*DIGIT, capped at 2^31 instead of overflowing.
std::optional<std::int64_t> parse_delta_seconds(std::string_view v) noexcept {
  constexpr std::int64_t kCap = std::int64_t{1} << 31;
  if (v.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    if (n < kCap) n = n * 10 + (c - '0');
  }
  return std::min(n, kCap);
}

}  // namespace

std::optional<std::chrono::seconds> parse_cache_control_max_age(std::string_view h) noexcept {
  bool no_cache = false;
  bool max_age_invalid = false;
  bool max_age_conflict = false;
  std::optional<std::int64_t> max_age;
  std::size_t i = 0;
  const std::size_t n = h.size();
  while (true) {
    // Empty list elements and surrounding whitespace are allowed (RFC 9110 §5.6.1.2).
    while (i < n && (is_ows(h[i]) || h[i] == ','))
      ++i;
    if (i == n) break;
    const std::size_t name_begin = i;
    while (i < n && is_tchar(h[i]))
      ++i;
    if (i == name_begin) return std::nullopt;
    const std::string_view name = h.substr(name_begin, i - name_begin);
    std::optional<std::string_view> value;
    bool value_escaped = false;
    if (i < n && h[i] == '=') {
      ++i;
      if (i < n && h[i] == '"') {
        const std::size_t value_begin = ++i;
        while (true) {
          if (i == n) return std::nullopt;  // unterminated quoted-string
          const auto c = static_cast<unsigned char>(h[i]);
          if (c == '"') break;
          if (c == '\\') {
            if (i + 1 == n || !is_quotable(static_cast<unsigned char>(h[i + 1])))
              return std::nullopt;
            value_escaped = true;
            i += 2;
            continue;
          }
          if (!is_qdtext(c)) return std::nullopt;
          ++i;
        }
        value = h.substr(value_begin, i - value_begin);
        ++i;  // closing quote
      } else {
        const std::size_t value_begin = i;
        while (i < n && is_tchar(h[i]))
          ++i;
        if (i == value_begin) return std::nullopt;
        value = h.substr(value_begin, i - value_begin);
      }
    }
    while (i < n && is_ows(h[i]))
      ++i;
    if (i < n && h[i] != ',') return std::nullopt;

    if (iequals(name, "no-store") || iequals(name, "no-cache")) {
      no_cache = true;
    } else if (iequals(name, "max-age")) {
      // Digits never need escaping, so an escaped value is not delta-seconds.
      const auto v = value && !value_escaped ? parse_delta_seconds(*value) : std::nullopt;
      if (!v)
        max_age_invalid = true;
      else if (max_age && *max_age != *v)
        max_age_conflict = true;
      else
        max_age = v;
    }
  }
  if (no_cache || max_age_conflict) return std::chrono::seconds{0};
  if (max_age_invalid || !max_age) return std::nullopt;
  return std::chrono::seconds{*max_age};
}

std::chrono::seconds clamp_max_age(std::optional<std::chrono::seconds> max_age,
                                   const key_cache_policy& policy) noexcept {
  const auto v = max_age.value_or(policy.default_max_age);
  const auto lo = policy.min_max_age;
  const auto hi = std::max(policy.max_max_age, lo);
  return std::clamp(v, lo, hi);
}

sys_seconds next_refresh_at(const refresh_state& s, const key_cache_policy& policy) noexcept {
  std::optional<sys_seconds> retry;
  if (s.consecutive_failures > 0 && s.last_failure_at) {
    const std::uint32_t doublings = std::min<std::uint32_t>(s.consecutive_failures - 1, 30);
    const auto lo = std::max(policy.failure_retry_min, std::chrono::seconds{1});
    const auto hi = std::max(policy.failure_retry_max, lo);
    const auto backoff = doublings >= 20 ? hi : std::min(hi, lo * (std::int64_t{1} << doublings));
    retry = *s.last_failure_at + backoff;
  }
  if (!s.fetched_at || !s.expires_at) return retry.value_or(sys_seconds{});
  double fraction = policy.refresh_ahead_fraction;
  if (!(fraction >= 0.0)) fraction = 0.0;  // also NaN
  fraction = std::min(fraction, 0.9);
  const auto lifetime = std::max(*s.expires_at - *s.fetched_at, std::chrono::seconds{0});
  const auto ahead = *s.fetched_at + std::chrono::seconds{static_cast<std::int64_t>(
                                         static_cast<double>(lifetime.count()) * (1.0 - fraction))};
  return retry ? std::max(ahead, *retry) : ahead;
}

std::string_view label(lookup_outcome o) noexcept {
  switch (o) {
    case lookup_outcome::hit:
      return "hit";
    case lookup_outcome::stale:
      return "stale";
    case lookup_outcome::kid_unknown:
      return "kid_unknown";
    case lookup_outcome::key_use_mismatch:
      return "key_use_mismatch";
    case lookup_outcome::set_missing:
      return "set_missing";
    case lookup_outcome::too_stale:
      return "too_stale";
    case lookup_outcome::count_:
      break;
  }
  return {};
}

auth_error to_auth_error(lookup_outcome o) noexcept {
  switch (o) {
    case lookup_outcome::hit:
    case lookup_outcome::stale:
      return auth_error::ok;
    case lookup_outcome::kid_unknown:
      return auth_error::kid_unknown;
    case lookup_outcome::key_use_mismatch:
      return auth_error::key_use_mismatch;
    case lookup_outcome::set_missing:
      return auth_error::jwks_unavailable;
    case lookup_outcome::too_stale:
      return auth_error::jwks_stale;
    case lookup_outcome::count_:
      break;
  }
  return auth_error::internal_error;
}

// --- the cache ---

// Lives while its id is registered; freed through the epoch domain after remove(), together with
// its current snapshot. Everything readers or failure reporters touch is atomic.
struct key_cache::entry {
  explicit entry(std::string_view key_set_id) : id(key_set_id), hash(hash_id(key_set_id)) {}
  ~entry() { delete current.load(std::memory_order_relaxed); }
  entry(const entry&) = delete;
  entry& operator=(const entry&) = delete;

  const std::string id;
  const std::size_t hash;
  std::atomic<const key_set_snapshot*> current{nullptr};
  std::atomic<std::int64_t> last_forced_refresh{kNever};
  std::atomic<std::int64_t> last_failure_at{kNever};
  std::atomic<std::uint32_t> consecutive_failures{0};
  std::atomic<std::uint64_t> refreshes_ok{0};
  std::array<std::atomic<std::uint64_t>, kErrors> refresh_errors{};
  std::array<lookup_stripe, kStripes> lookups{};
};

// Immutable once published: an open-addressing table (linear probing, at most half full) so a
// lookup hashes the id once, probes a few slots and allocates nothing.
struct key_cache::directory {
  struct slot {
    std::size_t hash = 0;
    entry* e = nullptr;
  };
  std::vector<slot> slots;      // size a power of two, or empty
  std::vector<entry*> entries;  // sorted by id

  explicit directory(std::vector<entry*> sorted) : entries(std::move(sorted)) {
    if (entries.empty()) return;
    std::size_t size = 4;
    while (size < entries.size() * 2)
      size *= 2;
    slots.resize(size);
    for (entry* e : entries) {
      std::size_t i = e->hash & (size - 1);
      while (slots[i].e)
        i = (i + 1) & (size - 1);
      slots[i] = {e->hash, e};
    }
  }

  entry* find(std::string_view id, std::size_t h) const noexcept {
    if (slots.empty()) return nullptr;
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const slot& s = slots[i];
      if (!s.e) return nullptr;
      if (s.hash == h && s.e->id == id) return s.e;
    }
  }
};

key_cache::key_cache(key_cache_options options)
    : options_(std::move(options)),
      domain_(options_.epoch),
      directory_(new directory(std::vector<entry*>{})) {}

key_cache::~key_cache() {
  const directory* d = directory_.load(std::memory_order_relaxed);
  for (entry* e : d->entries)
    delete e;
  delete d;
}

key_set_key make_key_set_key(std::string_view key_set_id) noexcept {
  return {key_set_id, hash_id(key_set_id)};
}

key_cache::entry* key_cache::find(key_set_key key) const noexcept {
  return directory_.load(std::memory_order_seq_cst)->find(key.id, key.hash);
}

void key_cache::count(entry* e, std::uint32_t stripe, lookup_outcome o) const noexcept {
  const auto s = stripe % kStripes;
  const auto k = static_cast<std::size_t>(o);
  if (e) e->lookups[s].by_outcome[k].fetch_add(1, std::memory_order_relaxed);
  total_lookups_[s].by_outcome[k].fetch_add(1, std::memory_order_relaxed);
}

key_lookup key_cache::lookup(const epoch_guard& guard, std::string_view key_set_id,
                             std::string_view kid, jws_alg alg, sys_seconds now) const noexcept {
  return lookup(guard, make_key_set_key(key_set_id), kid, alg, now);
}

key_lookup key_cache::lookup(const epoch_guard& guard, key_set_key key_set, std::string_view kid,
                             jws_alg alg, sys_seconds now) const noexcept {
  assert(&guard.domain() == &domain_);
  key_lookup r;
  entry* e = find(key_set);
  const key_set_snapshot* s = e ? e->current.load(std::memory_order_seq_cst) : nullptr;
  r.snapshot = s;
  if (!s) {
    r.outcome = lookup_outcome::set_missing;
  } else if (now >= s->stale_until) {
    r.outcome = lookup_outcome::too_stale;
  } else {
    r.keys = s->keys.get();
    r.key = r.keys->find(kid, alg);
    if (r.key)
      r.outcome = now < s->expires_at ? lookup_outcome::hit : lookup_outcome::stale;
    else if (!kid.empty() && r.keys->contains_kid(kid))
      r.outcome = lookup_outcome::key_use_mismatch;
    else
      r.outcome = lookup_outcome::kid_unknown;
  }
  count(e, guard.stripe(), r.outcome);
  return r;
}

const key_set_snapshot* key_cache::snapshot(const epoch_guard& guard,
                                            std::string_view key_set_id) const noexcept {
  assert(&guard.domain() == &domain_);
  (void)guard;
  const entry* e = find(make_key_set_key(key_set_id));
  return e ? e->current.load(std::memory_order_seq_cst) : nullptr;
}

bool key_cache::may_refresh_for_unknown_kid(std::string_view key_set_id, sys_seconds now) noexcept {
  const auto guard = pin();
  entry* e = find(make_key_set_key(key_set_id));
  if (!e) return false;
  const std::int64_t t = to_count(now);
  const std::int64_t interval =
      std::max<std::int64_t>(options_.policy.min_unknown_kid_refresh_interval.count(), 0);
  std::int64_t last = e->last_forced_refresh.load(std::memory_order_acquire);
  // Symmetric, so a clock stepped backwards cannot lock forced refreshes out for long.
  if (last != kNever && t > last - interval && t < last + interval) return false;
  // Strong CAS: a failure means another caller claimed this interval, never a spurious loss.
  return e->last_forced_refresh.compare_exchange_strong(last, t, std::memory_order_acq_rel);
}

bool key_cache::record_refresh_failure(std::string_view key_set_id, auth_error reason,
                                       sys_seconds now) noexcept {
  const auto guard = pin();
  entry* e = find(make_key_set_key(key_set_id));
  if (!e) return false;
  if (reason == auth_error::ok || reason >= auth_error::count_) return true;
  const auto r = static_cast<std::size_t>(reason);
  e->refresh_errors[r].fetch_add(1, std::memory_order_relaxed);
  total_refresh_errors_[r].fetch_add(1, std::memory_order_relaxed);
  e->last_failure_at.store(to_count(now), std::memory_order_relaxed);
  e->consecutive_failures.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::optional<refresh_state> key_cache::refresh_state_of(
    std::string_view key_set_id) const noexcept {
  const auto guard = pin();
  const entry* e = find(make_key_set_key(key_set_id));
  if (!e) return std::nullopt;
  refresh_state st;
  if (const key_set_snapshot* s = e->current.load(std::memory_order_seq_cst)) {
    st.fetched_at = s->fetched_at;
    st.expires_at = s->expires_at;
  }
  st.last_failure_at = from_count(e->last_failure_at.load(std::memory_order_relaxed));
  st.consecutive_failures = e->consecutive_failures.load(std::memory_order_relaxed);
  return st;
}

std::optional<sys_seconds> key_cache::next_refresh_at(std::string_view key_set_id) const noexcept {
  const auto st = refresh_state_of(key_set_id);
  if (!st) return std::nullopt;
  return oidc::next_refresh_at(*st, options_.policy);
}

void key_cache::step(publish_step s) const {
  if (options_.on_publish_step) options_.on_publish_step(s);
}

void key_cache::republish_directory(std::vector<entry*> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const entry* a, const entry* b) { return a->id < b->id; });
  auto next = std::make_unique<const directory>(std::move(entries));
  const directory* old = directory_.exchange(next.release(), std::memory_order_seq_cst);
  step(publish_step::directory_swapped);
  domain_.retire(std::unique_ptr<const directory>(old));
}

bool key_cache::add(std::string_view key_set_id) {
  const std::string id(key_set_id);
  return add(std::span<const std::string>(&id, 1)) == 1;
}

std::size_t key_cache::add(std::span<const std::string> key_set_ids) {
  std::lock_guard lock(writer_);
  const directory* d = directory_.load(std::memory_order_relaxed);
  std::vector<std::string_view> wanted(key_set_ids.begin(), key_set_ids.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::unique_ptr<entry>> fresh;
  for (const std::string_view id : wanted)
    if (!d->find(id, hash_id(id))) fresh.push_back(std::make_unique<entry>(id));
  if (fresh.empty()) return 0;
  std::vector<entry*> entries = d->entries;
  for (const auto& e : fresh)
    entries.push_back(e.get());
  step(publish_step::snapshot_built);
  republish_directory(std::move(entries));
  for (auto& e : fresh)
    e.release();  // owned by the directory now
  step(publish_step::old_retired);
  domain_.reclaim();
  step(publish_step::reclaimed);
  return fresh.size();
}

bool key_cache::remove(std::string_view key_set_id) {
  std::lock_guard lock(writer_);
  const directory* d = directory_.load(std::memory_order_relaxed);
  entry* e = d->find(key_set_id, hash_id(key_set_id));
  if (!e) return false;
  std::vector<entry*> entries;
  entries.reserve(d->entries.size());
  for (entry* x : d->entries)
    if (x != e) entries.push_back(x);
  step(publish_step::snapshot_built);
  republish_directory(std::move(entries));
  // Retired after the directory that pointed to it, so it outlives every reader that found it.
  domain_.retire(std::unique_ptr<entry>(e));
  step(publish_step::old_retired);
  domain_.reclaim();
  step(publish_step::reclaimed);
  return true;
}

std::shared_ptr<const key_set> key_cache::intern(const std::shared_ptr<const key_set>& keys,
                                                 std::size_t& shared) {
  std::vector<std::shared_ptr<const jwk>> out;
  out.reserve(keys->size());
  bool changed = false;
  for (const auto& k : keys->keys()) {
    if (!k || k->thumbprint.empty()) {
      out.push_back(k);
      continue;
    }
    // The thumbprint covers the key material only (RFC 7638 §3.2); kid and "alg"/"use" limits
    // are part of what find() matches on, so they must be equal too before two sets share a key.
    std::string name = k->thumbprint;
    name += '|';
    name += k->kid;
    name += '|';
    name += static_cast<char>('0' + static_cast<int>(k->kty));
    for (std::size_t a = 0; a < static_cast<std::size_t>(jws_alg::count_); ++a)
      name += k->algs.contains(static_cast<jws_alg>(a)) ? '1' : '0';
    auto [it, inserted] = interned_.try_emplace(std::move(name));
    if (!inserted) {
      if (auto existing = it->second.lock()) {
        if (existing != k) {
          out.push_back(std::move(existing));
          ++shared;
          changed = true;
        } else {
          out.push_back(k);
        }
        continue;
      }
    }
    it->second = k;
    out.push_back(k);
  }
  if (interned_.size() >= interned_prune_at_) {
    std::erase_if(interned_, [](const auto& kv) { return kv.second.expired(); });
    interned_prune_at_ = std::max<std::size_t>(64, interned_.size() * 2);
  }
  return changed ? std::make_shared<const key_set>(std::move(out)) : keys;
}

publish_result key_cache::publish(std::string_view key_set_id, std::shared_ptr<const key_set> keys,
                                  sys_seconds now, std::optional<std::chrono::seconds> max_age) {
  if (!keys) keys = std::make_shared<const key_set>();
  std::lock_guard lock(writer_);
  publish_result result;
  auto snap = std::make_unique<key_set_snapshot>();
  snap->keys = intern(keys, result.shared_keys);
  snap->fetched_at = now;
  snap->expires_at = now + clamp_max_age(max_age, options_.policy);
  snap->stale_until =
      snap->expires_at + std::max(options_.policy.stale_if_error, std::chrono::seconds{0});
  const directory* d = directory_.load(std::memory_order_relaxed);
  entry* e = d->find(key_set_id, hash_id(key_set_id));
  const key_set_snapshot* current = e ? e->current.load(std::memory_order_relaxed) : nullptr;
  snap->generation = current ? current->generation + 1 : 1;
  result.generation = snap->generation;
  result.keys = snap->keys->size();
  result.expires_at = snap->expires_at;
  step(publish_step::snapshot_built);

  const key_set_snapshot* old = nullptr;
  if (!e) {
    // A new id gets its snapshot before it becomes visible, so no reader sees it without keys.
    auto fresh = std::make_unique<entry>(key_set_id);
    fresh->current.store(snap.release(), std::memory_order_relaxed);
    std::vector<entry*> entries = d->entries;
    entries.push_back(fresh.get());
    e = fresh.get();
    republish_directory(std::move(entries));
    fresh.release();  // owned by the directory now
  } else {
    old = e->current.exchange(snap.release(), std::memory_order_seq_cst);
  }
  e->consecutive_failures.store(0, std::memory_order_relaxed);
  e->refreshes_ok.fetch_add(1, std::memory_order_relaxed);
  total_refreshes_ok_.fetch_add(1, std::memory_order_relaxed);
  step(publish_step::snapshot_swapped);
  domain_.retire(std::unique_ptr<const key_set_snapshot>(old));
  step(publish_step::old_retired);
  domain_.reclaim();
  step(publish_step::reclaimed);
  return result;
}

key_cache_stats key_cache::stats() const {
  key_cache_stats out;
  {
    const auto guard = pin();
    const directory* d = directory_.load(std::memory_order_seq_cst);
    out.sets.reserve(d->entries.size());
    for (const entry* e : d->entries) {
      key_set_stats s;
      s.id = e->id;
      for (const auto& stripe : e->lookups)
        for (std::size_t o = 0; o < kLookupOutcomes; ++o)
          s.lookups[o] += stripe.by_outcome[o].load(std::memory_order_relaxed);
      s.refreshes_ok = e->refreshes_ok.load(std::memory_order_relaxed);
      for (std::size_t r = 0; r < kErrors; ++r)
        s.refresh_errors[r] = e->refresh_errors[r].load(std::memory_order_relaxed);
      if (const key_set_snapshot* snap = e->current.load(std::memory_order_seq_cst)) {
        s.key_count = snap->keys->size();
        s.generation = snap->generation;
        s.last_success = snap->fetched_at;
        s.expires_at = snap->expires_at;
      }
      s.last_failure = from_count(e->last_failure_at.load(std::memory_order_relaxed));
      s.consecutive_failures = e->consecutive_failures.load(std::memory_order_relaxed);
      out.sets.push_back(std::move(s));
    }
  }
  for (const auto& stripe : total_lookups_)
    for (std::size_t o = 0; o < kLookupOutcomes; ++o)
      out.lookups[o] += stripe.by_outcome[o].load(std::memory_order_relaxed);
  out.refreshes_ok = total_refreshes_ok_.load(std::memory_order_relaxed);
  for (std::size_t r = 0; r < kErrors; ++r)
    out.refresh_errors[r] = total_refresh_errors_[r].load(std::memory_order_relaxed);
  {
    std::lock_guard lock(writer_);
    out.interned_keys = static_cast<std::size_t>(std::count_if(
        interned_.begin(), interned_.end(), [](const auto& kv) { return !kv.second.expired(); }));
  }
  out.retired = domain_.retired_count();
  out.overflow_pins = domain_.overflow_pins_total();
  return out;
}

std::vector<std::string> key_cache::ids() const {
  const auto guard = pin();
  const directory* d = directory_.load(std::memory_order_seq_cst);
  std::vector<std::string> out;
  out.reserve(d->entries.size());
  for (const entry* e : d->entries)
    out.push_back(e->id);
  return out;
}

}  // namespace oidc
