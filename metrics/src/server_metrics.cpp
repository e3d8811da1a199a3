// SPDX-License-Identifier: Apache-2.0
// The callback server's metric families: cell layout, labels, and scrape-time collection.
#include "oidc/metrics/server_metrics.hpp"

#include <algorithm>
#include <array>
#include <sstream>
#include <unordered_map>

#include <prometheus/text_serializer.h>

#include "families.hpp"
#include "oidc/metrics/collectors.hpp"

namespace oidc::metrics {

using prometheus::MetricType;
using namespace detail;

namespace {

// Every request, from a cached /api/verify (µs) to a callback waiting on the IdP (s).
constexpr std::array kHttpBuckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                  0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                  0.5,     1.0,    2.5,     5.0,    10.0,  30.0};
// /api/verify: a cache hit takes a few µs, an RS256 verification ~25 µs, a JWKS wait ms.
constexpr std::array kVerifyBuckets{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                    0.001,   0.0025,   0.005,   0.01,   0.025,   0.05};
// Callbacks, token exchanges and IdP calls: a round trip to Entra is tens to hundreds of ms; the
// client's total deadline is 10 s by default.
constexpr std::array kLoginBuckets{0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                   0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

constexpr std::array<std::string_view, static_cast<std::size_t>(route::count_)> kRouteLabels{
    "login",       "callback",  "session", "logout", "verify",    "jwks",
    "healthz",     "readyz",    "metrics", "demo",   "not_found", "unknown_organisation",
    "bad_cookies", "signed_out"};
constexpr std::array<std::string_view, static_cast<std::size_t>(method::count_)> kMethodLabels{
    "GET", "HEAD", "POST", "other"};
constexpr std::array<std::string_view, static_cast<std::size_t>(status_class::count_)>
    kStatusLabels{"2xx", "3xx", "4xx", "5xx"};
constexpr std::array<std::string_view, static_cast<std::size_t>(connection_event::count_)>
    kEventLabels{"opened",
                 "closed",
                 "rejected_limit",
                 "header_timeout",
                 "body_timeout",
                 "idle_timeout",
                 "headers_too_large",
                 "body_too_large",
                 "bad_request",
                 "tls_handshake_failed",
                 "handler_exception"};
constexpr std::array<std::string_view, static_cast<std::size_t>(idp_endpoint::count_)>
    kEndpointLabels{"discovery", "jwks", "token"};
constexpr std::array<std::string_view, static_cast<std::size_t>(idp_outcome::count_)>
    kOutcomeLabels{"ok", "http_error", "timeout", "connect_error", "tls_error", "bad_response"};
constexpr std::array<std::string_view, static_cast<std::size_t>(account_outcome::count_)>
    kAccountLabels{"found", "not_found", "disabled", "domain_not_allowed", "oid_mismatch", "error"};

constexpr std::size_t kEndpoints = kEndpointLabels.size();
constexpr std::size_t kOutcomes = kOutcomeLabels.size();

}  // namespace

std::string_view label(route r) noexcept {
  return kRouteLabels[static_cast<std::size_t>(r)];
}
std::string_view label(method m) noexcept {
  return kMethodLabels[static_cast<std::size_t>(m)];
}
method method_from(std::string_view name) noexcept {
  if (name == "GET") return method::get;
  if (name == "HEAD") return method::head;
  if (name == "POST") return method::post;
  return method::other;
}
status_class status_class_of(unsigned status) noexcept {
  if (status < 300) return status_class::s2xx;
  if (status < 400) return status_class::s3xx;
  if (status < 500) return status_class::s4xx;
  return status_class::s5xx;
}
std::string_view label(status_class c) noexcept {
  return kStatusLabels[static_cast<std::size_t>(c)];
}
std::string_view label(connection_event e) noexcept {
  return kEventLabels[static_cast<std::size_t>(e)];
}
std::string_view label(idp_endpoint e) noexcept {
  return kEndpointLabels[static_cast<std::size_t>(e)];
}
std::string_view label(idp_outcome o) noexcept {
  return kOutcomeLabels[static_cast<std::size_t>(o)];
}
account_outcome account_outcome_of(auth_error result) noexcept {
  switch (result) {
    case auth_error::ok:
      return account_outcome::found;
    case auth_error::account_not_found:
      return account_outcome::not_found;
    case auth_error::account_disabled:
      return account_outcome::disabled;
    case auth_error::account_domain_not_allowed:
      return account_outcome::domain_not_allowed;
    case auth_error::account_oid_mismatch:
      return account_outcome::oid_mismatch;
    default:
      return account_outcome::error;
  }
}
std::string_view label(account_outcome o) noexcept {
  return kAccountLabels[static_cast<std::size_t>(o)];
}

namespace {

// Assigns consecutive cell ranges; returns the first cell of each.
struct cell_plan {
  std::size_t next = 0;
  std::size_t take(std::size_t n) {
    const std::size_t first = next;
    next += n;
    return first;
  }
};

std::vector<std::string> with_other(std::vector<std::string> keys) {
  keys.erase(
      std::remove_if(keys.begin(), keys.end(), [](const std::string& k) { return k.empty(); }),
      keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  keys.erase(std::remove(keys.begin(), keys.end(), "other"), keys.end());
  keys.emplace_back("other");
  return keys;
}

}  // namespace

server_metrics::server_metrics(server_metrics_options options)
    : options_(std::move(options)),
      aadsts_keys_(with_other(options_.aadsts_keys)),
      http_duration_(make_histogram_layout(kHttpBuckets)),
      verify_duration_(make_histogram_layout(kVerifyBuckets)),
      login_duration_(make_histogram_layout(kLoginBuckets)),
      cells_(
          [this] {
            cell_plan p;
            http_requests_ = p.take(kRoutes * kMethods * kStatusClasses);
            http_duration_cells_ = p.take(kRoutes * http_duration_.cells_per_series());
            in_flight_ = p.take(1);
            connection_events_ = p.take(static_cast<std::size_t>(connection_event::count_));
            logins_started_ = p.take(1);
            logins_completed_ = p.take(1);
            logins_failed_ = p.take(kReasons);
            callback_duration_cells_ = p.take(login_duration_.cells_per_series());
            token_duration_cells_ = p.take(login_duration_.cells_per_series());
            token_errors_ = p.take(aadsts_keys_.size());
            account_lookups_ = p.take(static_cast<std::size_t>(account_outcome::count_));
            verifications_ = p.take(kReasons);
            verify_duration_cells_ = p.take(verify_duration_.cells_per_series());
            idp_requests_ = p.take((options_.max_idp_hosts + 1) * kEndpoints * kOutcomes);
            idp_duration_cells_ = p.take(kEndpoints * login_duration_.cells_per_series());
            return p.next;
          }(),
          options_.shards),
      hosts_(std::make_unique<std::string[]>(options_.max_idp_hosts + 1)),
      registry_(std::make_shared<prometheus::Registry>()) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
  if (options_.version.empty()) options_.version = std::string(build_version());
  if (options_.commit.empty()) options_.commit = std::string(build_commit());
  hosts_[options_.max_idp_hosts] = "other";
  collectors_.push_back(std::make_shared<process_collector>());
  collectors_.push_back(std::make_shared<build_info_collector>(options_.version, options_.commit));
}

server_metrics::~server_metrics() = default;

void server_metrics::login_started(const organisation_series* org) noexcept {
  cells_.add(logins_started_);
  if (org != nullptr) org->started_.fetch_add(1, std::memory_order_relaxed);
}

void server_metrics::login_completed(std::chrono::nanoseconds callback_duration,
                                     const organisation_series* org) noexcept {
  cells_.add(logins_completed_);
  login_duration_.observe(cells_, callback_duration_cells_, to_ns(callback_duration));
  if (org != nullptr) org->completed_.fetch_add(1, std::memory_order_relaxed);
}

void server_metrics::login_failed(auth_error reason, const organisation_series* org) noexcept {
  const auto i = static_cast<std::size_t>(reason);
  if (reason == auth_error::ok || i >= kReasons) return;
  cells_.add(logins_failed_ + i);
  if (org != nullptr) org->failed_[i].fetch_add(1, std::memory_order_relaxed);
}

void server_metrics::token_exchange(std::chrono::nanoseconds d,
                                    std::string_view aadsts_key) noexcept {
  login_duration_.observe(cells_, token_duration_cells_, to_ns(d));
  if (aadsts_key.empty()) return;
  // The key list is sorted, "other" last (not in sort order): search all but the last.
  const auto end = aadsts_keys_.end() - 1;
  const auto it = std::lower_bound(aadsts_keys_.begin(), end, aadsts_key);
  const std::size_t i = (it != end && *it == aadsts_key)
                            ? static_cast<std::size_t>(it - aadsts_keys_.begin())
                            : aadsts_keys_.size() - 1;
  cells_.add(token_errors_ + i);
}

std::size_t server_metrics::idp_host_slot(std::string_view host) noexcept {
  const std::size_t other = options_.max_idp_hosts;
  if (host.empty()) return other;
  std::size_t n = host_count_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (hosts_[i] == host) return i;
  }
  try {
    const std::lock_guard lock(hosts_mutex_);
    n = host_count_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      if (hosts_[i] == host) return i;
    }
    if (n == other) return other;
    hosts_[n] = std::string(host);
    host_count_.store(n + 1, std::memory_order_release);
    return n;
  } catch (...) {
    return other;
  }
}

void server_metrics::idp_request(idp_endpoint e, std::string_view host, idp_outcome o,
                                 std::chrono::nanoseconds d) noexcept {
  const std::size_t slot = idp_host_slot(host);
  const auto ei = static_cast<std::size_t>(e);
  cells_.add(idp_requests_ + (slot * kEndpoints + ei) * kOutcomes + static_cast<std::size_t>(o));
  login_duration_.observe(cells_, idp_duration_cells_ + ei * login_duration_.cells_per_series(),
                          to_ns(d));
}

void server_metrics::set_organisations(std::span<const std::string> names) {
  const std::lock_guard lock(mutex_);
  organisations_configured_ = names.size();
  if (!options_.organisation_labels) return;
  std::unordered_map<std::string_view, organisation_handle> existing;
  for (const auto& h : organisations_)
    existing.emplace(h->name(), h);
  std::vector<organisation_handle> next;
  const std::size_t n = std::min(names.size(), options_.organisation_label_cap);
  next.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (const auto it = existing.find(names[i]); it != existing.end()) {
      next.push_back(it->second);
      existing.erase(it);  // a duplicate name gets one series
    } else if (std::none_of(next.begin(), next.end(),
                            [&](const organisation_handle& h) { return h->name() == names[i]; })) {
      next.push_back(std::make_shared<organisation_series>(names[i]));
    }
  }
  organisations_ = std::move(next);
}

organisation_handle server_metrics::organisation(std::string_view name) const {
  const std::lock_guard lock(mutex_);
  for (const auto& h : organisations_) {
    if (h->name() == name) return h;
  }
  return nullptr;
}

void server_metrics::attach_key_cache(const key_cache& cache) {
  auto c =
      std::make_shared<key_cache_collector>(cache, options_.clock, options_.max_key_set_series);
  const std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(c));
}

void server_metrics::attach_verified_token_cache(const verified_token_cache& cache) {
  auto c = std::make_shared<verified_token_cache_collector>(cache);
  const std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(c));
}

void server_metrics::add_open_connections_source(std::function<std::size_t()> source) {
  const std::lock_guard lock(mutex_);
  open_connection_sources_.push_back(std::move(source));
}

void server_metrics::set_idp_pool_source(std::function<idp_pool_stats()> source) {
  const std::lock_guard lock(mutex_);
  pool_source_ = std::move(source);
}

void server_metrics::set_log_dropped_source(std::function<std::uint64_t()> source) {
  const std::lock_guard lock(mutex_);
  log_dropped_source_ = std::move(source);
}

void server_metrics::collect_own(std::vector<prometheus::MetricFamily>& out) const {
  std::vector<std::uint64_t> c(cells_.cells());
  cells_.sum_all(c);
  const auto at = [&](std::size_t first, std::size_t n) {
    return std::span<const std::uint64_t>(c).subspan(first, n);
  };

  auto requests =
      make_family("oidc_http_requests_total", "HTTP requests by route, method and status class.",
                  MetricType::Counter);
  for (std::size_t r = 0; r < kRoutes; ++r) {
    for (std::size_t m = 0; m < kMethods; ++m) {
      for (std::size_t s = 0; s < kStatusClasses; ++s) {
        add_sample(
            requests,
            {{"route", kRouteLabels[r]},
             {"method", kMethodLabels[m]},
             {"status_class", kStatusLabels[s]}},
            static_cast<double>(c[http_requests_ + (r * kMethods + m) * kStatusClasses + s]));
      }
    }
  }
  out.push_back(std::move(requests));

  auto duration = make_family("oidc_http_request_duration_seconds",
                              "Time from a request's first byte to its response written, by route.",
                              MetricType::Histogram);
  for (std::size_t r = 0; r < kRoutes; ++r) {
    const std::size_t n = http_duration_.cells_per_series();
    add_histogram(duration, {{"route", kRouteLabels[r]}}, http_duration_,
                  at(http_duration_cells_ + r * n, n));
  }
  out.push_back(std::move(duration));

  auto in_flight = make_family("oidc_http_requests_in_flight", "Requests being handled right now.",
                               MetricType::Gauge);
  add_sample(in_flight, {}, static_cast<double>(static_cast<std::int64_t>(c[in_flight_])));
  out.push_back(std::move(in_flight));

  std::size_t open = 0;
  for (const auto& source : open_connection_sources_)
    open += source();
  auto open_f = make_family("oidc_http_connections_open", "Client connections open right now.",
                            MetricType::Gauge);
  add_sample(open_f, {}, static_cast<double>(open));
  out.push_back(std::move(open_f));

  auto events = make_family("oidc_http_connection_events_total",
                            "Connection events: opened, closed, and why a connection or request "
                            "was refused before reaching a handler (limits, timeouts, TLS).",
                            MetricType::Counter);
  for (std::size_t e = 0; e < kEventLabels.size(); ++e) {
    add_sample(events, {{"event", kEventLabels[e]}},
               static_cast<double>(c[connection_events_ + e]));
  }
  out.push_back(std::move(events));

  auto started = make_family("oidc_logins_started_total",
                             "Logins redirected to the identity provider.", MetricType::Counter);
  add_sample(started, {}, static_cast<double>(c[logins_started_]));
  out.push_back(std::move(started));
  auto completed = make_family("oidc_logins_completed_total", "Logins that ended with a session.",
                               MetricType::Counter);
  add_sample(completed, {}, static_cast<double>(c[logins_completed_]));
  out.push_back(std::move(completed));
  auto failed = make_family("oidc_logins_failed_total",
                            "Failed logins by reason (docs/errors.md lists every reason).",
                            MetricType::Counter);
  for (std::size_t i = 1; i < kReasons; ++i) {
    add_sample(failed, {{"reason", label(static_cast<auth_error>(i))}},
               static_cast<double>(c[logins_failed_ + i]));
  }
  out.push_back(std::move(failed));

  const std::size_t ln = login_duration_.cells_per_series();
  auto callback =
      make_family("oidc_login_callback_duration_seconds",
                  "Duration of callbacks that ended with a session.", MetricType::Histogram);
  add_histogram(callback, {}, login_duration_, at(callback_duration_cells_, ln));
  out.push_back(std::move(callback));
  auto token =
      make_family("oidc_token_exchange_duration_seconds",
                  "Duration of token-endpoint calls that got an answer.", MetricType::Histogram);
  add_histogram(token, {}, login_duration_, at(token_duration_cells_, ln));
  out.push_back(std::move(token));
  auto aadsts =
      make_family("oidc_token_endpoint_errors_total",
                  "Token-endpoint error answers by AADSTS reason key.", MetricType::Counter);
  for (std::size_t i = 0; i < aadsts_keys_.size(); ++i) {
    add_sample(aadsts, {{"aadsts", aadsts_keys_[i]}}, static_cast<double>(c[token_errors_ + i]));
  }
  out.push_back(std::move(aadsts));
  auto accounts = make_family("oidc_account_lookups_total",
                              "Account directory lookups after a valid ID token, by outcome.",
                              MetricType::Counter);
  for (std::size_t i = 0; i < kAccountLabels.size(); ++i) {
    add_sample(accounts, {{"outcome", kAccountLabels[i]}},
               static_cast<double>(c[account_lookups_ + i]));
  }
  out.push_back(std::move(accounts));

  auto verifications =
      make_family("oidc_verifications_total", "/api/verify decisions by result and reason.",
                  MetricType::Counter);
  for (std::size_t i = 0; i < kReasons; ++i) {
    add_sample(
        verifications,
        {{"result", i == 0 ? "valid" : "invalid"}, {"reason", label(static_cast<auth_error>(i))}},
        static_cast<double>(c[verifications_ + i]));
  }
  out.push_back(std::move(verifications));
  auto verify =
      make_family("oidc_verify_duration_seconds",
                  "Duration of /api/verify decisions, cache hits included.", MetricType::Histogram);
  add_histogram(verify, {}, verify_duration_,
                at(verify_duration_cells_, verify_duration_.cells_per_series()));
  out.push_back(std::move(verify));

  auto idp = make_family("oidc_idp_requests_total",
                         "HTTP calls to the identity provider by host, endpoint and outcome.",
                         MetricType::Counter);
  const std::size_t hosts = host_count_.load(std::memory_order_acquire);
  const auto add_host = [&](std::size_t slot) {
    for (std::size_t e = 0; e < kEndpoints; ++e) {
      for (std::size_t o = 0; o < kOutcomes; ++o) {
        add_sample(idp,
                   {{"host", hosts_[slot]},
                    {"endpoint", kEndpointLabels[e]},
                    {"outcome", kOutcomeLabels[o]}},
                   static_cast<double>(c[idp_requests_ + (slot * kEndpoints + e) * kOutcomes + o]));
      }
    }
  };
  for (std::size_t h = 0; h < hosts; ++h)
    add_host(h);
  add_host(options_.max_idp_hosts);
  out.push_back(std::move(idp));
  auto idp_duration =
      make_family("oidc_idp_request_duration_seconds",
                  "Duration of calls to the identity provider by endpoint.", MetricType::Histogram);
  for (std::size_t e = 0; e < kEndpoints; ++e) {
    add_histogram(idp_duration, {{"endpoint", kEndpointLabels[e]}}, login_duration_,
                  at(idp_duration_cells_ + e * ln, ln));
  }
  out.push_back(std::move(idp_duration));

  if (pool_source_) {
    const idp_pool_stats p = pool_source_();
    auto idle =
        make_family("oidc_idp_pool_idle_connections",
                    "Idle keep-alive connections to the identity provider.", MetricType::Gauge);
    add_sample(idle, {}, static_cast<double>(p.idle_connections));
    out.push_back(std::move(idle));
    auto in_use = make_family("oidc_idp_pool_connections_in_use",
                              "Connections to the identity provider carrying a request now.",
                              MetricType::Gauge);
    add_sample(in_use, {}, static_cast<double>(p.in_use_connections));
    out.push_back(std::move(in_use));
    auto opened = make_family("oidc_idp_pool_connections_opened_total",
                              "Connections opened to the identity provider.", MetricType::Counter);
    add_sample(opened, {}, static_cast<double>(p.connections_opened));
    out.push_back(std::move(opened));
  }

  if (log_dropped_source_) {
    auto dropped = make_family("oidc_log_dropped_bytes_total",
                               "Bytes of log lines the log output refused (closed pipe, full "
                               "disk): lost, never retried.",
                               MetricType::Counter);
    add_sample(dropped, {}, static_cast<double>(log_dropped_source_()));
    out.push_back(std::move(dropped));
  }
}

void server_metrics::collect_organisations(std::vector<prometheus::MetricFamily>& out) const {
  auto configured = make_family("oidc_organisations_configured",
                                "Organisations in the loaded configuration.", MetricType::Gauge);
  add_sample(configured, {}, static_cast<double>(organisations_configured_));
  out.push_back(std::move(configured));
  auto labelled = make_family("oidc_organisations_labelled",
                              "Organisations with their own series (organisation labels on, "
                              "capped).",
                              MetricType::Gauge);
  add_sample(labelled, {}, static_cast<double>(organisations_.size()));
  out.push_back(std::move(labelled));
  if (!options_.organisation_labels) return;

  auto logins = make_family("oidc_organisation_logins_total",
                            "Logins of one organisation by outcome (started, completed, failed).",
                            MetricType::Counter);
  auto failures = make_family("oidc_organisation_login_failures_total",
                              "Failed logins of one organisation by reason; a reason appears at "
                              "its first failure.",
                              MetricType::Counter);
  for (const auto& h : organisations_) {
    std::uint64_t failed = 0;
    for (std::size_t i = 1; i < kReasons; ++i) {
      const std::uint64_t v = h->failed_[i].load(std::memory_order_relaxed);
      failed += v;
      if (v != 0) {
        add_sample(failures,
                   {{"organisation", h->name()}, {"reason", label(static_cast<auth_error>(i))}},
                   static_cast<double>(v));
      }
    }
    add_sample(logins, {{"organisation", h->name()}, {"outcome", "started"}},
               static_cast<double>(h->started_.load(std::memory_order_relaxed)));
    add_sample(logins, {{"organisation", h->name()}, {"outcome", "completed"}},
               static_cast<double>(h->completed_.load(std::memory_order_relaxed)));
    add_sample(logins, {{"organisation", h->name()}, {"outcome", "failed"}},
               static_cast<double>(failed));
  }
  out.push_back(std::move(logins));
  out.push_back(std::move(failures));
}

std::vector<prometheus::MetricFamily> server_metrics::collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectors;
  {
    const std::lock_guard lock(mutex_);
    collect_own(out);
    collect_organisations(out);
    collectors = collectors_;
  }
  for (const auto& c : collectors) {
    auto families = c->Collect();
    std::move(families.begin(), families.end(), std::back_inserter(out));
  }
  auto extra = registry_->Collect();
  std::move(extra.begin(), extra.end(), std::back_inserter(out));
  return out;
}

std::string server_metrics::render_metrics() const {
  return render_text(collect());
}

std::string render_text(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, families);
  return out.str();
}

}  // namespace oidc::metrics
