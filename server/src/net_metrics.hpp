// SPDX-License-Identifier: Apache-2.0
// Translation of oidc::net's events and upstream results into the metrics library's enums
// (metrics/ knows no networking): listener events, the outcome of an IdP call and the host label
// of its URL.
#pragma once

#include <string_view>

#include <boost/system/result.hpp>

#include "oidc/metrics/server_metrics.hpp"
#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"

namespace oidc::server {

constexpr metrics::connection_event to_metrics(net::connection_event e) noexcept {
  using in = net::connection_event;
  using out = metrics::connection_event;
  switch (e) {
    case in::opened:
      return out::opened;
    case in::closed:
      return out::closed;
    case in::rejected_limit:
      return out::rejected_limit;
    case in::header_timeout:
      return out::header_timeout;
    case in::body_timeout:
      return out::body_timeout;
    case in::idle_timeout:
      return out::idle_timeout;
    case in::headers_too_large:
      return out::headers_too_large;
    case in::body_too_large:
      return out::body_too_large;
    case in::bad_request:
      return out::bad_request;
    case in::tls_handshake_failed:
      return out::tls_handshake_failed;
    case in::handler_exception:
      return out::handler_exception;
  }
  return out::handler_exception;
}

// Listener events → oidc_http_connection_events_total. Requests are counted by app::handle,
// which knows the route.
class listener_metrics final : public net::server_observer {
 public:
  explicit listener_metrics(metrics::server_metrics& m) noexcept : metrics_(&m) {}
  void on_connection_event(net::connection_event e) noexcept override {
    metrics_->connection(to_metrics(e));
  }

 private:
  metrics::server_metrics* metrics_;
};

// How an IdP call ended, before its body is parsed (a 2xx whose body is refused is reported by
// the caller as bad_response).
inline metrics::idp_outcome idp_outcome_of(
    const boost::system::result<net::client_response>& r) noexcept {
  using o = metrics::idp_outcome;
  if (r) return r->status >= 200 && r->status < 300 ? o::ok : o::http_error;
  const auto& ec = r.error();
  if (ec == net::client_errc::timeout) return o::timeout;
  if (ec == net::client_errc::tls_failed) return o::tls_error;
  if (ec == net::client_errc::bad_response || ec == net::client_errc::response_too_large)
    return o::bad_response;
  return o::connect_error;
}

// The host of an absolute http(s) URL, without port, userinfo or path (label `host`); the URLs
// come from configuration and discovery documents we already checked.
constexpr std::string_view url_host(std::string_view url) noexcept {
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos)
    url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (url.starts_with('[')) return url.substr(0, url.find(']') + 1);
  return url.substr(0, url.find(':'));
}

}  // namespace oidc::server
