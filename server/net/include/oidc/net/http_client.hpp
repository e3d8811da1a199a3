// SPDX-License-Identifier: Apache-2.0
// Pooled HTTP(S) client for upstream calls (discovery, JWKS, token endpoint): a keep-alive pool
// per origin, TLS 1.2+ with certificate and host-name verification and SNI, connect/read/total
// deadlines, bounded responses. A request that may have reached the server is never retried
// unless it is idempotent, so a single-use authorization code is never sent twice; pooled
// connections have a maximum idle age and are checked for a peer close before reuse so a stale
// socket never costs a login. Plain http:// is refused unless explicitly allowed and the address
// is loopback (benchmarks and tests).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace oidc::net {

namespace asio = boost::asio;

// Client failures, classified so the server can map them to a reason (idp_timeout,
// idp_unreachable, idp_bad_response).
enum class client_errc {
  ok = 0,
  bad_url = 1,         // not http(s)://host[:port]/path, or userinfo present
  plain_http_refused,  // http:// without the development flag, or not loopback
  resolve_failed,
  connect_failed,
  tls_failed,       // handshake or certificate/host-name verification
  timeout,          // connect, read or total deadline
  connection_lost,  // peer closed mid-exchange
  response_too_large,
  bad_response,    // unparsable HTTP
  pool_exhausted,  // no connection available within the deadline
  shutting_down,
};
const boost::system::error_category& client_category() noexcept;
inline boost::system::error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

struct client_options {
  std::shared_ptr<asio::ssl::context> tls;  // null: system trust store, verify peer
  bool allow_plain_http_loopback = false;
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds total_timeout{10'000};
  std::chrono::milliseconds max_idle_age{30'000};  // below the IdP's keep-alive timeout
  std::size_t max_response_bytes = 1024 * 1024;
  std::size_t max_connections_per_origin = 16;
  std::string user_agent = "oidc-callback-server";
};

struct client_request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string url;                                           // absolute http(s) URL
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Origin, Content-Type
  std::string body;
  // GET of discovery/JWKS: may be retried (once, on a fresh connection) when a reused connection
  // turns out dead. A token POST is not idempotent and is never retried once it may have been sent.
  bool idempotent = true;
  // Deadline of this call; zero means client_options::total_timeout.
  std::chrono::milliseconds total_timeout{0};
};

struct client_response {
  unsigned status = 0;
  boost::beast::http::fields headers;
  std::string body;
};

class http_client {
 public:
  http_client(asio::any_io_executor executor, client_options options);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Thread-safe: may be called from coroutines on any thread.
  asio::awaitable<boost::system::result<client_response>> send(client_request request);

  // Pool introspection for tests and metrics.
  std::size_t idle_connections() const noexcept;
  std::size_t connections_in_use() const noexcept;  // open (or being opened) and not idle
  std::size_t connections_opened() const noexcept;  // total ever opened

  // Closes idle connections; later sends fail with shutting_down.
  void shutdown() noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// An absolute http(s) URL split for a request. Strict: scheme http or https, host a reg-name
// (letters, digits, '-', '.', '_'; lower-cased), a dotted IPv4 address or a bracketed IPv6
// address, optional port 1-65535, then path and query; userinfo, fragments, whitespace, control
// and non-ASCII characters are refused (client_errc::bad_url).
struct parsed_url {
  bool https = true;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 443;
  std::string target = "/";  // path + query, never empty
  bool host_is_ip = false;
};
boost::system::result<parsed_url> parse_url(std::string_view url);

// Client TLS context: TLS 1.2+, verify peer, system default paths plus `extra_ca_file` if set.
boost::system::result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(
    const std::string& extra_ca_file = {});

}  // namespace oidc::net

template <>
struct boost::system::is_error_code_enum<oidc::net::client_errc> : std::true_type {};
