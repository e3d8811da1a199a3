// SPDX-License-Identifier: Apache-2.0
// The callback server's metrics: every family and label combination is bound once in the
// constructor (label values come from fixed enums, core's auth_error table and a caller-supplied
// AADSTS key list), the hot path is an array index plus a relaxed add on a per-thread shard, and
// render_metrics() produces the Prometheus text format 0.0.4 for the server's own GET /metrics.
// Knows no HTTP: the server translates its events into the enums below (docs/operations.md,
// "Wiring" lists the mapping).
//
// Thread safety: every recording method may be called from any thread at any time.
// set_organisations, attach_* and add_* may run concurrently with recording and scraping.
//
// Wiring (the server's side; docs/operations.md has the same table):
//   app::handle answered → http_request(route chosen by the router,
//       method_from(req.method_string()), status, handler duration)
//   server_observer::on_connection_event(net::connection_event e) → connection(the
//       metrics::connection_event of the same name)
//   handler entry/exit → in_flight_scope; each listener → add_open_connections_source
//   /login redirect → login_started(org); session issued → login_completed(d, org);
//   any login/callback failure → login_failed(reason, org)
//   token endpoint answered → token_exchange(d, 200 ? "" : aadsts_lookup(code).key)
//   account directory → account_lookup(result); /api/verify → verification(reason or ok, d)
//   discovery/JWKS/token call ended → idp_request(endpoint, url host, outcome, d)
//   start-up and reload → set_organisations(names), then organisation(name) per organisation
//   start-up → attach_key_cache, attach_verified_token_cache, set_idp_pool_source
//   GET /metrics → render_metrics() with Content-Type kTextContentType
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "oidc/error.hpp"
#include "oidc/metrics/sharded.hpp"

namespace oidc {
class key_cache;
class verified_token_cache;
}  // namespace oidc

namespace oidc::metrics {

// Which handler answered (label `route`). A fixed set: never a path from the request.
enum class route : std::uint8_t {
  login,
  callback,
  session,
  logout,
  verify,
  jwks,
  healthz,
  readyz,
  metrics,
  demo,
  not_found,
  unknown_organisation,
  bad_cookies,
  signed_out,  // the callback URL without parameters: Entra's post-logout landing
  count_
};
std::string_view label(route r) noexcept;

// Label `method`: GET, HEAD, POST, other.
enum class method : std::uint8_t { get, head, post, other, count_ };
std::string_view label(method m) noexcept;
// From the request's method string ("GET" → get; anything unlisted → other).
method method_from(std::string_view name) noexcept;

// Label `status_class` of a final status: 2xx (also anything below 300), 3xx, 4xx, 5xx (also
// anything above 599).
enum class status_class : std::uint8_t { s2xx, s3xx, s4xx, s5xx, count_ };
status_class status_class_of(unsigned status) noexcept;
std::string_view label(status_class c) noexcept;

// Mirrors oidc::net::connection_event one to one, same names (metrics/ does not see server/net):
// the server maps each net value to the value of the same name (label `event`).
enum class connection_event : std::uint8_t {
  opened,
  closed,
  rejected_limit,
  header_timeout,
  body_timeout,
  idle_timeout,
  headers_too_large,
  body_too_large,
  bad_request,
  tls_handshake_failed,
  handler_exception,
  count_
};
std::string_view label(connection_event e) noexcept;

// Upstream calls to the identity provider (label `endpoint`).
enum class idp_endpoint : std::uint8_t { discovery, jwks, token, count_ };
std::string_view label(idp_endpoint e) noexcept;

// How an upstream call ended (label `outcome`). From net::client_errc: ok with a 2xx → ok; a
// non-2xx response → http_error; timeout → timeout; resolve_failed, connect_failed,
// connection_lost, pool_exhausted, shutting_down → connect_error; tls_failed → tls_error;
// bad_response, response_too_large, or a 2xx body that does not parse → bad_response.
enum class idp_outcome : std::uint8_t {
  ok,
  http_error,
  timeout,
  connect_error,
  tls_error,
  bad_response,
  count_
};
std::string_view label(idp_outcome o) noexcept;

// Account resolution (label `outcome`), derived from the auth_error the directory returned:
// ok → found, account_not_found → not_found, account_disabled → disabled,
// account_domain_not_allowed → domain_not_allowed, account_oid_mismatch → oid_mismatch,
// anything else → error.
enum class account_outcome : std::uint8_t {
  found,
  not_found,
  disabled,
  domain_not_allowed,
  oid_mismatch,
  error,
  count_
};
account_outcome account_outcome_of(auth_error result) noexcept;
std::string_view label(account_outcome o) noexcept;

// Per-organisation login counters (only with organisation labels on; see set_organisations).
// The server keeps the handle in its per-organisation state and passes the raw pointer to the
// login methods; the object stays valid while a handle is held, even after a reload removed the
// organisation (its series are then no longer exported).
class organisation_series {
 public:
  explicit organisation_series(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  friend class server_metrics;
  std::string name_;
  // Mutable: counting through a const pointer is the intended use.
  mutable std::atomic<std::uint64_t> started_{0};
  mutable std::atomic<std::uint64_t> completed_{0};
  mutable std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(auth_error::count_)>
      failed_{};
};
using organisation_handle = std::shared_ptr<organisation_series>;

struct server_metrics_options {
  // Bounded AADSTS reason keys (the server passes every key of aadsts_table(); "other" is added
  // when absent). token_exchange() maps any key not in this list to "other".
  std::vector<std::string> aadsts_keys;
  // Distinct IdP hosts that get their own `host` label; later hosts are counted as "other".
  std::size_t max_idp_hosts = 16;
  // Per-organisation login series: off by default; when on, only the first
  // `organisation_label_cap` organisations (in the order given to set_organisations) get series.
  bool organisation_labels = false;
  std::size_t organisation_label_cap = 50;
  // Key sets (jwks_uri) with their own `key_set` label in the key-cache gauges; the aggregate
  // gauges cover every key set.
  std::size_t max_key_set_series = 20;
  // oidc_build_info{version,commit}; empty → build_version()/build_commit().
  std::string version;
  std::string commit;
  // Shards of the hot-path cells (0: twice the hardware threads, 4..64).
  std::size_t shards = 0;
  // Clock for the key-set ages of the key-cache collector; null → std::chrono::system_clock.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Pool figures of the upstream HTTP client (net::http_client::idle_connections(),
// connections_in_use() and connections_opened()).
struct idp_pool_stats {
  std::size_t idle_connections = 0;
  std::size_t in_use_connections = 0;
  std::size_t connections_opened = 0;  // total ever opened (a counter)
};

class server_metrics {
 public:
  explicit server_metrics(server_metrics_options options = {});
  ~server_metrics();
  server_metrics(const server_metrics&) = delete;
  server_metrics& operator=(const server_metrics&) = delete;

  // --- HTTP (hot path). ---

  // One completed request (app::handle, with the route the router chose):
  // oidc_http_requests_total{route,method,status_class}, oidc_http_request_duration_seconds{route}.
  void http_request(route r, method m, unsigned status, std::chrono::nanoseconds d) noexcept {
    const std::size_t series =
        (static_cast<std::size_t>(r) * kMethods + static_cast<std::size_t>(m)) * kStatusClasses +
        static_cast<std::size_t>(status_class_of(status));
    cells_.add(http_requests_ + series);
    http_duration_.observe(
        cells_,
        http_duration_cells_ + static_cast<std::size_t>(r) * http_duration_.cells_per_series(),
        to_ns(d));
  }
  // oidc_http_requests_in_flight: +1 when the handler starts, -1 when it returns.
  void in_flight_add(int delta) noexcept {
    cells_.add(in_flight_, static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)));
  }
  // oidc_http_connection_events_total{event} (server_observer::on_connection_event). Open
  // connections come from add_open_connections_source(): net does not emit exactly one terminal
  // event per connection.
  void connection(connection_event e) noexcept {
    cells_.add(connection_events_ + static_cast<std::size_t>(e));
  }

  // --- Login. `org` is the organisation's handle (or null: organisation labels off, unknown
  // organisation, or beyond the cap). ---

  // GET /login redirected to the IdP: oidc_logins_started_total.
  void login_started(const organisation_series* org = nullptr) noexcept;
  // Callback ended with a session: oidc_logins_completed_total and the callback's duration
  // (from the callback request's first byte to the response) in
  // oidc_login_callback_duration_seconds.
  void login_completed(std::chrono::nanoseconds callback_duration,
                       const organisation_series* org = nullptr) noexcept;
  // Callback (or login start) failed: oidc_logins_failed_total{reason=label(reason)}.
  // auth_error::ok is ignored.
  void login_failed(auth_error reason, const organisation_series* org = nullptr) noexcept;
  // The token endpoint answered (any HTTP status): its duration in
  // oidc_token_exchange_duration_seconds, and unless `aadsts_key` is empty (a 200)
  // oidc_token_endpoint_errors_total{aadsts=key or "other"}. Transport failures are
  // idp_request(token, ...) only.
  void token_exchange(std::chrono::nanoseconds d, std::string_view aadsts_key = {}) noexcept;
  // The account directory's answer: oidc_account_lookups_total{outcome}.
  void account_lookup(auth_error result) noexcept {
    cells_.add(account_lookups_ + static_cast<std::size_t>(account_outcome_of(result)));
  }

  // --- Verify (hot path): every /api/verify decision, cache hits included.
  // oidc_verifications_total{result="valid"|"invalid",reason}, oidc_verify_duration_seconds. ---
  void verification(auth_error result, std::chrono::nanoseconds d) noexcept {
    const auto i = static_cast<std::size_t>(result);
    if (i < kReasons) cells_.add(verifications_ + i);
    verify_duration_.observe(cells_, verify_duration_cells_, to_ns(d));
  }

  // --- Upstream. ---

  // One HTTP call to the IdP: oidc_idp_requests_total{host,endpoint,outcome} and
  // oidc_idp_request_duration_seconds{endpoint}. `host` is the URL's host (never a path); the
  // first max_idp_hosts distinct hosts get their own label (binding a new host takes a mutex
  // once), later ones are "other". Lock-free for hosts already seen.
  void idp_request(idp_endpoint e, std::string_view host, idp_outcome o,
                   std::chrono::nanoseconds d) noexcept;

  // --- Organisations (start-up and each reload). ---

  // With organisation labels on: keeps series for the first organisation_label_cap names (in
  // order), creates them for new names, drops the series of names no longer present (handles
  // already held keep counting into a detached object). No-op when off.
  void set_organisations(std::span<const std::string> names);
  // The handle of a labelled organisation; null when labels are off or it is not labelled.
  organisation_handle organisation(std::string_view name) const;

  // --- Collected at scrape time. Call at start-up; the objects must outlive this one. ---

  // Key cache: oidc_jwks_* families (lookups, refreshes, keys, ages, staleness).
  void attach_key_cache(const key_cache& cache);
  // Verified-token cache: oidc_verify_cache_* families.
  void attach_verified_token_cache(const verified_token_cache& cache);
  // oidc_http_connections_open = the sum of these (e.g. each listener's open_connections()).
  void add_open_connections_source(std::function<std::size_t()> source);
  // oidc_idp_pool_* from the upstream client.
  void set_idp_pool_source(std::function<idp_pool_stats()> source);
  // oidc_log_dropped_bytes_total: log bytes the output refused (closed pipe, full disk).
  void set_log_dropped_source(std::function<std::uint64_t()> source);

  // Extra families the server may register itself (prometheus-cpp's own types, pre-bound).
  prometheus::Registry& registry() noexcept { return *registry_; }

  // Every family above plus process_* and oidc_build_info, text format 0.0.4 (Content-Type
  // "text/plain; version=0.0.4; charset=utf-8"). Takes a few locks; never on a request path.
  std::string render_metrics() const;
  // The same as prometheus-cpp structures (tests, other serialisers).
  std::vector<prometheus::MetricFamily> collect() const;

  static constexpr std::size_t kRoutes = static_cast<std::size_t>(route::count_);
  static constexpr std::size_t kMethods = static_cast<std::size_t>(method::count_);
  static constexpr std::size_t kStatusClasses = static_cast<std::size_t>(status_class::count_);
  static constexpr std::size_t kReasons = static_cast<std::size_t>(auth_error::count_);

 private:
  static std::uint64_t to_ns(std::chrono::nanoseconds d) noexcept {
    return d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
  }
  std::size_t idp_host_slot(std::string_view host) noexcept;
  void collect_own(std::vector<prometheus::MetricFamily>& out) const;
  void collect_organisations(std::vector<prometheus::MetricFamily>& out) const;

  server_metrics_options options_;
  std::vector<std::string> aadsts_keys_;  // options' keys + "other" last
  histogram_layout http_duration_;
  histogram_layout verify_duration_;
  histogram_layout login_duration_;  // callback and token exchange and IdP requests

  // First cell of each family in cells_.
  std::size_t http_requests_ = 0;
  std::size_t http_duration_cells_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t connection_events_ = 0;
  std::size_t logins_started_ = 0;
  std::size_t logins_completed_ = 0;
  std::size_t logins_failed_ = 0;
  std::size_t callback_duration_cells_ = 0;
  std::size_t token_duration_cells_ = 0;
  std::size_t token_errors_ = 0;
  std::size_t account_lookups_ = 0;
  std::size_t verifications_ = 0;
  std::size_t verify_duration_cells_ = 0;
  std::size_t idp_requests_ = 0;        // [host slot][endpoint][outcome]
  std::size_t idp_duration_cells_ = 0;  // [endpoint]
  sharded_cells cells_;

  // IdP host slots: written once under hosts_mutex_, published by host_count_ (release).
  std::unique_ptr<std::string[]> hosts_;
  std::atomic<std::size_t> host_count_{0};
  std::mutex hosts_mutex_;

  mutable std::mutex mutex_;  // everything below
  std::vector<organisation_handle> organisations_;
  std::size_t organisations_configured_ = 0;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectors_;
  std::vector<std::function<std::size_t()>> open_connection_sources_;
  std::function<idp_pool_stats()> pool_source_;
  std::function<std::uint64_t()> log_dropped_source_;

  std::shared_ptr<prometheus::Registry> registry_;
};

// RAII for in_flight_add: +1 now, -1 at scope exit.
class in_flight_scope {
 public:
  explicit in_flight_scope(server_metrics& m) noexcept : m_(&m) { m_->in_flight_add(1); }
  ~in_flight_scope() { m_->in_flight_add(-1); }
  in_flight_scope(const in_flight_scope&) = delete;
  in_flight_scope& operator=(const in_flight_scope&) = delete;

 private:
  server_metrics* m_;
};

// The project version and the git commit CMake configured (OIDC_VERSION, OIDC_GIT_COMMIT;
// "unknown" outside a git checkout).
std::string_view build_version() noexcept;
std::string_view build_commit() noexcept;

// Content-Type of a render_metrics() response.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// Serialises families in the text format 0.0.4.
std::string render_text(const std::vector<prometheus::MetricFamily>& families);

}  // namespace oidc::metrics
