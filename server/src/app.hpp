// SPDX-License-Identifier: Apache-2.0
// The callback server's application: the router and handlers over oidc::net requests (login,
// callback, session, logout, JWKS, health), discovery and JWKS fetching on first use, and the
// access-log fields of each request. Configuration and secrets form one immutable snapshot that
// a reload swaps; each request copies the snapshot pointer once and finishes on it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "accounts.hpp"
#include "blocking_pool.hpp"
#include "discovery.hpp"
#include "jwks_service.hpp"
#include "oidc/config.hpp"
#include "oidc/key_cache.hpp"
#include "oidc/metrics/server_metrics.hpp"
#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"
#include "oidc/random.hpp"
#include "oidc/verified_token_cache.hpp"
#include "reload.hpp"
#include "revocations.hpp"
#include "runtime_secrets.hpp"
#include "used_states.hpp"

namespace oidc::server {

using wall_clock_fn = std::function<std::chrono::system_clock::time_point()>;

struct app_dependencies {
  std::shared_ptr<const server_config> config;  // the first snapshot
  runtime_secrets secrets;
  std::shared_ptr<net::http_client> client;  // upstream calls (required)
  // Directory-mode organisations resolve accounts here on `blocking`; null: directory-mode
  // logins fail with account_not_found. Tenant-mode organisations need neither.
  std::shared_ptr<account_directory> accounts;
  std::shared_ptr<revocation_store> revocations;  // null: no revocation (logout only clears)
  blocking_pool* blocking = nullptr;              // required with accounts or revocations
  std::shared_ptr<key_cache> keys;     // null: one with the policy of the configuration's jwks
  std::shared_ptr<random_source> rng;  // null: openssl_random
  wall_clock_fn clock;                 // null: system_clock::now
  bool demo_page = false;              // serve the demo page at "/"
};

// A response and what the access log records about it (never codes, tokens or cookies).
struct handled_request {
  net::response response;
  metrics::route route = metrics::route::not_found;  // the handler that answered
  std::string organisation;
  auth_error reason = auth_error::ok;
  std::string request_id;
  // Time spent awaiting the IdP (discovery and token endpoint) while answering: the access log
  // separates our latency from the IdP's.
  std::chrono::nanoseconds upstream{0};
};

class app {
 public:
  explicit app(app_dependencies deps);

  // The handler: never throws for bad input; answers every request, and counts it (requests,
  // in-flight, logins, verifications) in metrics().
  boost::asio::awaitable<handled_request> handle(net::request req, net::connection_info conn);

  // The metric families, bound at construction from the configuration's `metrics` section, with
  // the key cache, the verified-token cache and the upstream pool attached.
  metrics::server_metrics& metrics() noexcept { return *metrics_; }
  // GET /metrics (main listener when metrics.main_listener, and the admin listener).
  net::response metrics_response(unsigned http_version, bool keep_alive) const;

  void set_ready(bool ready) noexcept { ready_.store(ready); }
  bool ready() const noexcept { return ready_.load(); }

  // The snapshot new requests start with.
  std::shared_ptr<const app_snapshot> snapshot() const;
  // Publishes `next` for requests that start from now on; requests in flight keep theirs. The
  // caller has validated it (configuration parsed, secrets loaded).
  void replace_snapshot(std::shared_ptr<const app_snapshot> next);

  // The organisation's discovery document (by discovery URL), fetched on first use and kept.
  boost::asio::awaitable<result<std::shared_ptr<const discovery_document>>> discovery(
      std::string organisation);
  boost::asio::awaitable<result<std::shared_ptr<const discovery_document>>> discovery_for(
      std::shared_ptr<const app_snapshot> snap, std::string organisation);
  // The JWKS cache and its fetcher (key sets by jwks_uri).
  jwks_service& jwks() noexcept { return *jwks_; }
  verified_token_cache& verified_tokens() noexcept { return *verified_tokens_; }

  // One pass of the key refresher: loads the discovery documents and key sets of organisations
  // that have none yet and refreshes the key sets that are due, `jwks.preload_concurrency` at a
  // time, forgets key sets no organisation uses any more, and frees retired key snapshots.
  boost::asio::awaitable<void> refresh_keys();

  // One housekeeping pass: deletes the revocations of sessions that have expired anyway, so
  // the table stays as small as the set of live sessions. Returns how many rows went (0
  // without a revocation store).
  boost::asio::awaitable<result<std::size_t>> purge_expired_revocations();

 private:
  struct request_context;

  boost::asio::awaitable<void> route(request_context& ctx);
  boost::asio::awaitable<void> login(request_context& ctx);
  boost::asio::awaitable<void> callback(request_context& ctx);
  boost::asio::awaitable<void> session(request_context& ctx);
  boost::asio::awaitable<void> logout(request_context& ctx);
  boost::asio::awaitable<void> demo(request_context& ctx);
  boost::asio::awaitable<result<bool>> is_revoked(std::string sid);
  // Our own session token, verified (from the verified-token cache when it is on); the caller
  // checks organisation and revocation.
  result<std::shared_ptr<const verified_identity>> session_identity(const app_snapshot& snap,
                                                                    std::string_view token);
  boost::asio::awaitable<void> verify(request_context& ctx);
  boost::asio::awaitable<result<std::shared_ptr<const verified_identity>>> verify_bearer(
      std::shared_ptr<const app_snapshot> snap, std::string_view token);

  std::chrono::sys_seconds now() const;
  void count(const request_context& ctx, std::chrono::nanoseconds took) noexcept;

  app_dependencies deps_;  // config and secrets moved into snapshot_
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const app_snapshot> snapshot_;
  std::atomic<bool> ready_{false};
  used_state_memory used_states_;
  std::shared_ptr<jwks_service> jwks_;
  std::unique_ptr<verified_token_cache> verified_tokens_;
  struct cached_discovery {
    std::shared_ptr<const discovery_document> document;
    std::chrono::sys_seconds fetched_at;
  };
  std::mutex discovery_mutex_;
  std::unordered_map<std::string, cached_discovery> discovery_;  // by discovery URL
  std::unordered_map<std::string, std::chrono::sys_seconds> discovery_failed_at_;
  std::atomic<std::uint64_t> request_counter_{0};
  // Last: its collectors read the caches above when scraped. Shared with jwks_service, whose
  // detached fetches may end after the app.
  std::shared_ptr<metrics::server_metrics> metrics_;
};

// Start and stop of the periodic housekeeping: run_housekeeping is spawned on `strand`, and
// stop() (callable from any thread) ends it at its next step, also mid-pass. The timer is shared
// with the cancellation stop() posts, which may run after the loop has ended and this object is
// gone.
struct housekeeping_control {
  explicit housekeeping_control(boost::asio::any_io_executor ex)
      : strand(boost::asio::make_strand(ex)),
        timer_(std::make_shared<boost::asio::steady_timer>(strand)) {}
  void stop() {
    stopped.store(true);
    boost::asio::post(strand, [t = timer_] { t->cancel(); });
  }
  boost::asio::steady_timer& timer() { return *timer_; }  // used on `strand` only

  boost::asio::strand<boost::asio::any_io_executor> strand;
  std::atomic<bool> stopped{false};

 private:
  std::shared_ptr<boost::asio::steady_timer> timer_;
};

class log_writer;

// Runs the app's housekeeping every `interval` (timeouts.revocation_purge_interval) until
// control->stop(); failures are logged to `log` (when not null) and retried at the next interval.
boost::asio::awaitable<void> run_housekeeping(app* application, housekeeping_control* control,
                                              std::chrono::milliseconds interval, log_writer* log);

// Runs app::refresh_keys at once (the background preload) and then every `tick` until
// control->stop().
boost::asio::awaitable<void> run_key_refresher(app* application, housekeeping_control* control,
                                               std::chrono::milliseconds tick);

}  // namespace oidc::server
