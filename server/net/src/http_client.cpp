// SPDX-License-Identifier: Apache-2.0
// Pooled HTTP(S) client: per-origin keep-alive pool with a stale check before reuse, TLS with SNI
// and host-name verification, connect/read/total deadlines, bounded responses, a retry rule that
// never resends a non-idempotent request.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "oidc/net/http_client.hpp"

namespace oidc::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using wake_channel = asio::experimental::concurrent_channel<void(error_code)>;

constexpr std::uint32_t response_header_limit = 64 * 1024;
constexpr std::size_t kResponseReadBytes = 16 * 1024;

struct connection {
  explicit connection(asio::any_io_executor s) : strand(std::move(s)) {}
  asio::any_io_executor strand;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  clock::time_point last_used{};

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  bool has_socket() const { return plain || tls; }
  void close() {
    if (!has_socket()) return;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }
};
using connection_ptr = std::unique_ptr<connection>;

struct origin_pool {
  std::list<connection_ptr> idle;  // most recently used at the back
  std::size_t open = 0;            // idle + in use
  std::list<std::shared_ptr<wake_channel>> waiters;
};

// A pooled socket is reusable only if the peer has neither closed it (readable EOF) nor sent
// anything unsolicited; a non-blocking MSG_PEEK tells without consuming.
bool looks_alive(connection& c) {
  if (!c.has_socket() || !c.lowest().socket().is_open()) return false;
  char byte = 0;
  const auto n = ::recv(c.lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return false;  // 0: EOF; >0: unexpected bytes (e.g. a TLS close_notify)
}

struct exchange_result {
  std::optional<client_response> response;
  error_code error;
  bool retryable = false;  // failed before any byte of a response on a reused connection
  bool keep = false;       // connection may go back to the pool
};

std::chrono::milliseconds remaining(clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
}

bool is_lost(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == http::error::partial_message;
}

// The pool and settings shared by every send(); http_client::impl is this type.
struct client_state {
  client_state(asio::any_io_executor ex, client_options o)
      : executor(std::move(ex)), options(std::move(o)) {
    if (options.tls) {
      tls = options.tls;
    } else if (auto ctx = make_client_tls_context(); ctx) {
      tls = *ctx;
    }
  }

  asio::any_io_executor executor;
  client_options options;
  std::shared_ptr<asio::ssl::context> tls;
  mutable std::mutex mutex;
  std::map<std::string, origin_pool> pools;
  std::atomic<std::size_t> opened{0};
  std::atomic<bool> stopped{false};

  enum class acquire_status { reused, reserved, full, stopped };

  // Takes a live idle connection or reserves a slot for a new one. Stale ones are discarded.
  acquire_status acquire(const std::string& origin, bool fresh_only, connection_ptr& out,
                         std::shared_ptr<wake_channel>* waiter) {
    std::list<connection_ptr> stale;
    acquire_status status = acquire_status::full;
    {
      std::lock_guard lock(mutex);
      if (stopped.load()) return acquire_status::stopped;
      auto& pool = pools[origin];
      const auto now = clock::now();
      while (!fresh_only && !pool.idle.empty()) {
        connection_ptr c = std::move(pool.idle.back());
        pool.idle.pop_back();
        if (now - c->last_used < options.max_idle_age && looks_alive(*c)) {
          out = std::move(c);
          status = acquire_status::reused;
          break;
        }
        --pool.open;
        stale.push_back(std::move(c));
      }
      if (status != acquire_status::reused) {
        if (fresh_only && !pool.idle.empty() && pool.open >= options.max_connections_per_origin) {
          // Make room for the fresh connection by dropping the oldest idle one.
          stale.push_back(std::move(pool.idle.front()));
          pool.idle.pop_front();
          --pool.open;
        }
        if (pool.open < options.max_connections_per_origin) {
          ++pool.open;
          status = acquire_status::reserved;
        } else if (waiter != nullptr) {
          *waiter = std::make_shared<wake_channel>(executor, 1);
          pool.waiters.push_back(*waiter);
        }
      }
    }
    for (auto& c : stale)
      c->close();
    return status;
  }

  void wake_one(origin_pool& pool) {
    if (pool.waiters.empty()) return;
    auto w = std::move(pool.waiters.front());
    pool.waiters.pop_front();
    w->try_send(error_code{});
  }

  void release(const std::string& origin, connection_ptr c, bool keep) {
    connection_ptr dropped;
    {
      std::lock_guard lock(mutex);
      auto& pool = pools[origin];
      if (keep && !stopped.load() && c && c->has_socket()) {
        c->last_used = clock::now();
        pool.idle.push_back(std::move(c));
      } else {
        --pool.open;
        dropped = std::move(c);
      }
      wake_one(pool);
    }
    if (dropped) dropped->close();
  }

  void forget_waiter(const std::string& origin, const std::shared_ptr<wake_channel>& w) {
    std::lock_guard lock(mutex);
    pools[origin].waiters.remove(w);
  }
};

}  // namespace

struct http_client::impl : client_state {
  using client_state::client_state;
};

namespace {

using impl_ptr = std::shared_ptr<client_state>;

template <class Stream>
asio::awaitable<exchange_result> write_and_read(impl_ptr self, Stream& stream,
                                                beast::tcp_stream& lowest,
                                                std::shared_ptr<const client_request> request,
                                                std::shared_ptr<const parsed_url> url,
                                                clock::time_point deadline, bool reused) {
  exchange_result out;
  http::request<http::string_body> req{request->method, url->target, 11};
  const bool default_port = url->port == (url->https ? 443 : 80);
  std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  if (!default_port) host += ":" + std::to_string(url->port);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, self->options.user_agent);
  for (const auto& [name, value] : request->headers)
    req.set(name, value);
  req.body() = request->body;
  req.keep_alive(true);
  if (!request->body.empty() || request->method == http::verb::post ||
      request->method == http::verb::put) {
    req.prepare_payload();
  }

  auto left = remaining(deadline);
  if (left.count() <= 0) {
    out.error = make_error_code(client_errc::timeout);
    co_return out;
  }
  lowest.expires_after(std::min(self->options.read_timeout, left));
  auto [wec, wn] = co_await http::async_write(stream, req, tuple_awaitable);
  (void)wn;
  if (wec) {
    lowest.expires_never();
    out.error = wec == beast::error::timeout ? make_error_code(client_errc::timeout)
                                             : make_error_code(client_errc::connection_lost);
    out.retryable = reused && wec != beast::error::timeout;
    co_return out;
  }

  // Reads of 16 KiB from the first: an unreserved flat_buffer starts at 512 bytes and grows, one
  // recv per step (8 for a token response over plain HTTP).
  beast::flat_buffer buffer;
  buffer.reserve(kResponseReadBytes);
  http::response_parser<http::string_body> parser;
  parser.header_limit(response_header_limit);
  parser.body_limit(self->options.max_response_bytes);
  left = remaining(deadline);
  lowest.expires_after(
      std::min(self->options.read_timeout, std::max(left, std::chrono::milliseconds(1))));
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
  (void)rn;
  lowest.expires_never();
  if (rec) {
    if (rec == beast::error::timeout) {
      out.error = make_error_code(client_errc::timeout);
    } else if (rec == http::error::body_limit || rec == http::error::header_limit ||
               rec == http::error::buffer_overflow) {
      out.error = make_error_code(client_errc::response_too_large);
    } else if (is_lost(rec)) {
      out.error = make_error_code(client_errc::connection_lost);
      out.retryable = reused && !parser.got_some() && buffer.size() == 0;
    } else {
      out.error = make_error_code(client_errc::bad_response);
    }
    co_return out;
  }
  auto msg = parser.release();
  client_response res;
  res.status = msg.result_int();
  res.body = std::move(msg.body());
  out.keep = msg.keep_alive() && buffer.size() == 0;
  res.headers = std::move(static_cast<http::fields&>(msg.base()));
  out.response = std::move(res);
  co_return out;
}

// One attempt on the connection's strand: connect (if new), then write and read.
asio::awaitable<exchange_result> run_exchange(impl_ptr self, connection* conn,
                                              std::shared_ptr<const client_request> request,
                                              std::shared_ptr<const parsed_url> url,
                                              clock::time_point deadline, bool reused) {
  exchange_result out;
  if (!reused) {
    tcp::resolver resolver(conn->strand);
    const std::string port = std::to_string(url->port);
    auto [rec, results] = co_await resolver.async_resolve(url->host, port, tuple_awaitable);
    if (rec || results.empty()) {
      out.error = make_error_code(client_errc::resolve_failed);
      co_return out;
    }
    if (!url->https) {
      // Plain HTTP only to this machine: nothing crosses a network in clear text.
      for (const auto& entry : results) {
        if (!entry.endpoint().address().is_loopback()) {
          out.error = make_error_code(client_errc::plain_http_refused);
          co_return out;
        }
      }
    }
    const auto left = remaining(deadline);
    if (left.count() <= 0) {
      out.error = make_error_code(client_errc::timeout);
      co_return out;
    }
    if (url->https) {
      conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(conn->strand, *self->tls);
    } else {
      conn->plain = std::make_unique<beast::tcp_stream>(conn->strand);
    }
    beast::tcp_stream& lowest = conn->lowest();
    lowest.expires_after(std::min(self->options.connect_timeout, left));
    auto [cec, ep] = co_await lowest.async_connect(results, tuple_awaitable);
    (void)ep;
    if (cec) {
      lowest.expires_never();
      out.error = cec == beast::error::timeout ? make_error_code(client_errc::timeout)
                                               : make_error_code(client_errc::connect_failed);
      co_return out;
    }
    self->opened.fetch_add(1);
    error_code nodelay_ec;
    lowest.socket().set_option(tcp::no_delay(true), nodelay_ec);
    if (url->https) {
      auto& stream = *conn->tls;
      // RFC 6066 section 3: SNI carries host names only, never IP literals.
      if (!url->host_is_ip &&
          SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str()) != 1) {
        ERR_clear_error();
        out.error = make_error_code(client_errc::tls_failed);
        co_return out;
      }
      error_code vec;
      stream.set_verify_mode(asio::ssl::verify_peer, vec);
      if (!vec) stream.set_verify_callback(asio::ssl::host_name_verification(url->host), vec);
      if (vec) {
        out.error = make_error_code(client_errc::tls_failed);
        co_return out;
      }
      const auto hs_left = remaining(deadline);
      lowest.expires_after(
          std::min(self->options.connect_timeout, std::max(hs_left, std::chrono::milliseconds(1))));
      auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
      lowest.expires_never();
      if (hec) {
        ERR_clear_error();
        out.error = hec == beast::error::timeout ? make_error_code(client_errc::timeout)
                                                 : make_error_code(client_errc::tls_failed);
        co_return out;
      }
    }
  }
  if (conn->tls) {
    auto exchange =
        write_and_read(self, *conn->tls, conn->lowest(), request, url, deadline, reused);
    out = co_await std::move(exchange);
  } else {
    auto exchange =
        write_and_read(self, *conn->plain, conn->lowest(), request, url, deadline, reused);
    out = co_await std::move(exchange);
  }
  co_return out;
}

asio::awaitable<bool> wait_for_slot(std::shared_ptr<wake_channel> channel,
                                    std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, limit);
  auto receive = channel->async_receive(tuple_awaitable);
  auto expire = timer.async_wait(tuple_awaitable);
  auto both = std::move(receive) || std::move(expire);
  auto r = co_await std::move(both);
  co_return r.index() == 0;
}

asio::awaitable<boost::system::result<client_response>> send_request(impl_ptr self,
                                                                     client_request request) {
  if (self->stopped.load()) co_return make_error_code(client_errc::shutting_down);
  auto parsed = parse_url(request.url);
  if (!parsed) co_return parsed.error();
  if (!parsed->https && !self->options.allow_plain_http_loopback) {
    co_return make_error_code(client_errc::plain_http_refused);
  }
  if (parsed->https && !self->tls) co_return make_error_code(client_errc::tls_failed);
  const auto budget =
      request.total_timeout.count() > 0 ? request.total_timeout : self->options.total_timeout;
  const auto deadline = clock::now() + budget;
  auto url = std::make_shared<const parsed_url>(std::move(*parsed));
  auto shared_request = std::make_shared<const client_request>(std::move(request));
  const std::string origin = std::string(url->https ? "https://" : "http://") + url->host + ":" +
                             std::to_string(url->port);

  bool fresh_only = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    connection_ptr conn;
    bool reused = false;
    for (;;) {
      std::shared_ptr<wake_channel> waiter;
      const auto status = self->acquire(origin, fresh_only, conn, &waiter);
      if (status == client_state::acquire_status::stopped) {
        co_return make_error_code(client_errc::shutting_down);
      }
      if (status == client_state::acquire_status::reused) {
        reused = true;
        break;
      }
      if (status == client_state::acquire_status::reserved) break;
      const auto left = remaining(deadline);
      bool woken = false;
      if (left.count() > 0) {
        auto wait = wait_for_slot(waiter, left);
        woken = co_await std::move(wait);
      }
      if (!woken) {
        self->forget_waiter(origin, waiter);
        co_return make_error_code(client_errc::pool_exhausted);
      }
    }
    if (!conn) conn = std::make_unique<connection>(asio::make_strand(self->executor));
    const auto strand = conn->strand;
    auto exchange = run_exchange(self, conn.get(), shared_request, url, deadline, reused);
    auto spawned = asio::co_spawn(strand, std::move(exchange), asio::use_awaitable);
    exchange_result result;
    try {
      result = co_await std::move(spawned);
    } catch (const std::exception&) {
      // Only allocation failures or an invalid caller-supplied header field get here.
      result = exchange_result{};
      result.error = make_error_code(client_errc::bad_response);
    }
    self->release(origin, std::move(conn), result.keep);
    if (result.response) co_return std::move(*result.response);
    if (result.retryable && shared_request->idempotent && attempt == 0 &&
        remaining(deadline).count() > 0) {
      fresh_only = true;  // the reused socket was dead: one more try on a new connection
      continue;
    }
    co_return result.error;
  }
  co_return make_error_code(client_errc::connection_lost);
}

}  // namespace

http_client::http_client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {}

http_client::~http_client() {
  shutdown();
}

asio::awaitable<boost::system::result<client_response>> http_client::send(client_request request) {
  auto self = impl_;
  auto call = send_request(self, std::move(request));
  co_return co_await std::move(call);
}

std::size_t http_client::idle_connections() const noexcept {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [origin, pool] : impl_->pools)
    n += pool.idle.size();
  return n;
}

std::size_t http_client::connections_in_use() const noexcept {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [origin, pool] : impl_->pools)
    n += pool.open - pool.idle.size();
  return n;
}

std::size_t http_client::connections_opened() const noexcept {
  return impl_->opened.load();
}

void http_client::shutdown() noexcept {
  std::list<connection_ptr> idle;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopped.store(true);
    for (auto& [origin, pool] : impl_->pools) {
      pool.open -= pool.idle.size();
      idle.splice(idle.end(), pool.idle);
      while (!pool.waiters.empty())
        impl_->wake_one(pool);
    }
  }
  for (auto& c : idle)
    c->close();
}

}  // namespace oidc::net
