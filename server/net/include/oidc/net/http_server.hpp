// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 server plumbing on Boost.Beast and C++20 coroutines: listeners (plain or TLS), one
// coroutine per connection, keep-alive, request limits and deadlines, graceful drain. Nothing
// here knows OIDC: the application supplies a handler coroutine. Used by the callback server,
// the mock IdP and test servers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/result.hpp>

namespace oidc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// What the handler may know about the connection a request arrived on.
struct connection_info {
  asio::ip::address peer;
  std::uint16_t peer_port = 0;
  asio::ip::address local;
  std::uint16_t local_port = 0;
  bool tls = false;
};

// The application: a request in, a response out. It may co_await upstream calls; it must not
// block. Exceptions escaping it become a 500 and are reported through server_observer, except
// close_connection.
using request_handler = std::function<asio::awaitable<response>(request, connection_info)>;

// Thrown by a handler to end the connection without writing any response: the client sees the
// connection lost mid-exchange. Meant for fault injection (the mock IdP's drop fault); reported
// as connection_event::closed, not handler_exception.
struct close_connection : std::exception {
  const char* what() const noexcept override { return "handler asked to close the connection"; }
};

// Why a connection ended or a request was refused before reaching the handler; for metrics.
enum class connection_event : std::uint8_t {
  opened,
  closed,             // normal close (end of stream, keep-alive off, drain)
  rejected_limit,     // max_connections reached: accepted and closed at once
  header_timeout,     // request line + headers not complete in time (slowloris): 408
  body_timeout,       // body not complete in time: 408
  idle_timeout,       // keep-alive connection idle too long: closed silently
  headers_too_large,  // 431
  body_too_large,     // 413
  bad_request,        // unparsable request: 400
  tls_handshake_failed,
  handler_exception,  // the handler threw: 500
};

struct server_observer {
  virtual ~server_observer() = default;
  virtual void on_connection_event(connection_event) noexcept {}
  // One completed request: its method, status and the time from first byte to response written.
  // (The method, not the request: handing over the request would cost a copy of it per request.)
  virtual void on_request_done(http::verb /*method*/, unsigned /*status*/,
                               std::chrono::nanoseconds /*duration*/) noexcept {}
};

struct listener_options {
  std::string address = "127.0.0.1";         // numeric address or "localhost"
  std::uint16_t port = 0;                    // 0 picks a free port (tests)
  std::shared_ptr<asio::ssl::context> tls;   // null: plain HTTP
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers, else 431
  std::size_t max_body_bytes = 64 * 1024;    // else 413
  std::size_t max_connections = 10'000;      // beyond: accept and close
  std::chrono::milliseconds header_read_timeout{10'000};
  std::chrono::milliseconds body_read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds tls_handshake_timeout{10'000};
};

class http_server {
 public:
  // `io` runs the connections (any number of threads may run it); `observer` may be null and
  // must outlive the server.
  http_server(asio::io_context& io, request_handler handler, server_observer* observer = nullptr);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Connections run on `io`, each on its own strand, unless spread: then each accepted
  // connection goes, in turn, to one of `single_threaded`, executors of io_contexts that exactly
  // one thread runs each, and needs no strand there. One context per thread spares every
  // completion a strand hop and the threads each other's wake-ups (docs/benchmarks.md). Call
  // before listen().
  void spread_connections(std::vector<asio::any_io_executor> single_threaded);

  // Binds and starts accepting. Returns the bound endpoint (the real port when port was 0).
  boost::system::result<asio::ip::tcp::endpoint> listen(const listener_options& options);

  // Stops accepting, lets in-flight requests finish (keep-alive connections close after their
  // current response) and waits up to `drain`; then closes whatever is left. Completes when
  // every connection coroutine has ended.
  asio::awaitable<void> shutdown(std::chrono::milliseconds drain);

  std::size_t open_connections() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// A TLS server context from PEM files (certificate chain, private key); TLS 1.2+.
boost::system::result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(
    const std::string& cert_chain_file, const std::string& private_key_file);

}  // namespace oidc::net
