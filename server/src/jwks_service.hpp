// SPDX-License-Identifier: Apache-2.0
// The server half of the key cache: fetches JWKS documents into core's key_cache (one HTTP GET
// per key set at a time, however many requests wait for it), and verifies tokens against the
// cached keys with the refresh policy of docs/forward-auth.md: a fresh or stale-but-allowed key
// verifies at once; an unknown kid triggers at most one refresh per interval; a key set past its
// stale-if-error bound fails closed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "oidc/claims.hpp"
#include "oidc/jws.hpp"
#include "oidc/key_cache.hpp"
#include "oidc/metrics/server_metrics.hpp"
#include "oidc/net/http_client.hpp"

namespace oidc::server {

using wall_clock_fn = std::function<std::chrono::system_clock::time_point()>;

// Verifies a token against one key set (verify_id_token or verify_access_token with the
// caller's expectations). Runs under an epoch guard: it must not block or suspend.
using key_set_check = std::function<result<token_claims>(const key_set&)>;

struct jwks_service_options {
  // How long a request waits for a fetch started by another one before giving up with
  // idp_timeout; a little above the upstream total timeout.
  std::chrono::milliseconds wait_limit{std::chrono::seconds(20)};
  // Each JWKS download is counted here (oidc_idp_requests_total{endpoint="jwks"}); may be null.
  std::shared_ptr<metrics::server_metrics> metrics;
};

// Runs body(0) … body(count - 1) on at most `workers` coroutines at a time on the caller's
// executor and returns when all have finished: bounded concurrency without a queue.
boost::asio::awaitable<void> bounded_for_each(
    std::size_t count, unsigned workers,
    std::function<boost::asio::awaitable<void>(std::size_t)> body);

class jwks_service : public std::enable_shared_from_this<jwks_service> {
 public:
  jwks_service(std::shared_ptr<key_cache> cache, std::shared_ptr<net::http_client> client,
               wall_clock_fn clock, jwks_service_options options = {});

  key_cache& cache() noexcept { return *cache_; }
  const std::shared_ptr<key_cache>& shared_cache() const noexcept { return cache_; }

  enum class join : std::uint8_t { start_or_join, join_only };
  // Fetches `jwks_uri` and publishes it (or records the failure). Concurrent callers share one
  // HTTP GET: the first starts it (detached from any request, so a caller going away never
  // strands the others), everyone waits for it at most options.wait_limit. join_only returns
  // nullopt at once when no fetch is in flight. The result is ok or the fetch's reason
  // (jwks_unavailable, jwks_invalid, idp_timeout).
  boost::asio::awaitable<std::optional<auth_error>> fetch(std::string jwks_uri, join mode);

  // Verifies a token with `check` against the keys of `jwks_uri`, fetching them when missing,
  // and refreshing once (per jwks.min_refresh_interval) for an unknown kid. `header` is the
  // token's peek_jose_header (it picks the key); `allowed` is the issuer's algorithm
  // allow-list: a token outside it fails before any key lookup or fetch. `jwks_uri` and
  // `header` are referenced, not copied: co_await the result at once, while they live.
  boost::asio::awaitable<result<token_claims>> verify(const std::string& jwks_uri,
                                                      const jose_header& header, alg_set allowed,
                                                      key_set_check check);

  // Starts refreshes of the key sets that are due (next_refresh_at <= now), at most
  // `concurrency` at a time, and waits for them. Returns how many were fetched.
  boost::asio::awaitable<std::size_t> refresh_due(unsigned concurrency);

  // HTTP GETs started (not requests that joined one): what a single-flight test counts.
  std::uint64_t fetches_started() const noexcept { return fetches_started_.load(); }

 private:
  struct flight;
  static boost::asio::awaitable<void> run_flight(std::shared_ptr<jwks_service> self,
                                                 std::string jwks_uri, std::shared_ptr<flight> f);
  boost::asio::awaitable<auth_error> download(std::string jwks_uri);
  sys_seconds now() const;
  void record(std::string_view jwks_uri, metrics::idp_outcome outcome,
              std::chrono::steady_clock::time_point started) const noexcept;

  std::shared_ptr<key_cache> cache_;
  std::shared_ptr<net::http_client> client_;
  wall_clock_fn clock_;
  jwks_service_options options_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<flight>> flights_;  // guarded by mutex_
  std::atomic<std::uint64_t> fetches_started_{0};
};

}  // namespace oidc::server
