// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 listener: an accept coroutine per listener, one coroutine per connection on its own
// strand or single-threaded context (plain and TLS share one templated body), lazy per-phase
// deadlines, limits, graceful drain.
#include <algorithm>
#include <atomic>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "oidc/net/http_server.hpp"

namespace oidc::net {
namespace {

using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using done_channel = asio::experimental::concurrent_channel<void(error_code)>;

// State of one connection shared with the server (drain) and the deadline watchdog. Touched only
// on the connection's executor (a strand, or a single-threaded context).
//
// Deadlines are lazy. Starting a phase (idle wait, header read, body read, write) stores a time
// point; one timer wait per connection checks it. Arming and cancelling a timer per phase cost a
// timer-queue update and an aborted handler several times per request (docs/benchmarks.md). The
// watchdog never sleeps longer than the listener's shortest timeout, so a deadline stored later is
// never earlier than its expiry and the wait never has to be moved: it only re-arms when it fires.
struct connection_state : std::enable_shared_from_this<connection_state> {
  connection_state(const asio::any_io_executor& serial, std::chrono::milliseconds tick)
      : executor(serial), watchdog(serial), watchdog_tick(tick) {}

  asio::any_io_executor executor;
  asio::steady_timer watchdog;
  std::chrono::milliseconds watchdog_tick;
  asio::cancellation_signal cancel;
  tcp::socket* socket = nullptr;  // set while a connection coroutine owns the socket
  clock::time_point deadline = clock::time_point::max();  // of the current phase; max: none
  std::uint64_t watchdog_generation = 0;
  bool watchdog_running = false;
  bool in_request = false;  // headers read, response not yet written
  bool draining = false;    // finish the current response, then close
  bool timed_out = false;   // the watchdog cancelled the socket's operation

  // The current phase must end within `d`; past it the socket's operations are cancelled (not
  // the socket closed), so a 408 can still be written.
  void expire_after(std::chrono::milliseconds d) {
    timed_out = false;
    const auto now = clock::now();
    deadline = now + d;
    if (!watchdog_running) start_watchdog(std::min(deadline, now + watchdog_tick));
  }
  void clear_deadline() noexcept { deadline = clock::time_point::max(); }

  void stop_watchdog() {
    ++watchdog_generation;
    watchdog_running = false;
    watchdog.cancel();
  }

 private:
  void start_watchdog(clock::time_point at) {
    watchdog_running = true;
    const auto generation = ++watchdog_generation;
    watchdog.expires_at(at);
    watchdog.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || self->watchdog_generation != generation) return;
      self->on_watchdog();
    });
  }

  void on_watchdog() {
    watchdog_running = false;
    if (deadline == clock::time_point::max()) return;  // between phases: sleep until the next
    const auto now = clock::now();
    if (now < deadline) {
      start_watchdog(std::min(deadline, now + watchdog_tick));
      return;
    }
    deadline = clock::time_point::max();
    timed_out = true;
    if (socket != nullptr) {
      error_code ignored;
      socket->cancel(ignored);
    }
  }
};

struct listener_state {
  listener_options options;
  tcp::acceptor acceptor;
  std::chrono::milliseconds watchdog_tick;  // the shortest of the options' timeouts
  listener_state(listener_options o, asio::io_context& io)
      : options(std::move(o)),
        acceptor(io),
        watchdog_tick(std::max(
            std::chrono::milliseconds(1),
            std::min({options.header_read_timeout, options.body_read_timeout, options.idle_timeout,
                      options.write_timeout, options.tls_handshake_timeout}))) {}
};

bool is_normal_close(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::ssl::error::stream_truncated || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor;
}

// Listeners and live connections; http_server::impl is this type.
struct server_state {
  server_state(asio::io_context& io_context, request_handler h, server_observer* o)
      : io(io_context), handler(std::move(h)), observer(o) {}

  asio::io_context& io;
  request_handler handler;
  server_observer* observer;

  mutable std::mutex mutex;
  std::vector<std::shared_ptr<listener_state>> listeners;
  std::list<std::shared_ptr<connection_state>> connections;
  std::shared_ptr<done_channel> all_closed;   // set by shutdown(): signalled when none is left
  std::vector<asio::any_io_executor> spread;  // single-threaded contexts for connections, or none
  std::atomic<std::size_t> next_spread{0};
  std::atomic<std::size_t> open{0};
  std::atomic<bool> stopping{false};

  void notify(connection_event e) const noexcept {
    if (observer != nullptr) observer->on_connection_event(e);
  }

  std::list<std::shared_ptr<connection_state>>::iterator track(
      std::shared_ptr<connection_state> c) {
    std::lock_guard lock(mutex);
    open.fetch_add(1);
    return connections.insert(connections.end(), std::move(c));
  }

  void untrack(std::list<std::shared_ptr<connection_state>>::iterator it) {
    std::shared_ptr<done_channel> waiter;
    {
      std::lock_guard lock(mutex);
      connections.erase(it);
      if (open.fetch_sub(1) == 1) waiter = all_closed;
    }
    if (waiter) waiter->try_send(error_code{});
  }

  // Runs `f(state)` on each connection's executor.
  template <class F>
  void for_each_connection(F f) {
    std::lock_guard lock(mutex);
    for (const auto& c : connections) {
      asio::post(c->executor, [c, f] { f(*c); });
    }
  }

  void close_acceptors() {
    std::lock_guard lock(mutex);
    for (const auto& l : listeners) {
      asio::post(l->acceptor.get_executor(), [l] {
        error_code ignored;
        l->acceptor.close(ignored);
      });
    }
  }
};

}  // namespace

struct http_server::impl : server_state {
  using server_state::server_state;
};

namespace {

using impl_ptr = std::shared_ptr<server_state>;

response make_error_response(http::status status, unsigned version, std::string_view body) {
  response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::string(body);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

template <class Stream>
asio::awaitable<void> write_and_close(connection_state& state, Stream& stream, response res,
                                      std::chrono::milliseconds timeout) {
  state.expire_after(timeout);
  auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
  state.clear_deadline();
  (void)ec;
  (void)n;
}

// The whole response in one contiguous buffer, written with one gather-free write: Beast's
// serializer walks a chain of buffer views per write, which profiling showed as the largest cost
// of small responses (docs/benchmarks.md). `res` has been through prepare_payload.
std::string flatten(const response& res) {
  std::string out;
  std::size_t size = 32 + res.body().size();
  for (const auto& f : res)
    size += f.name_string().size() + f.value().size() + 4;
  out.reserve(size);
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.result_int());
  out += ' ';
  const auto reason = res.reason();
  if (reason.empty()) {
    const auto standard = http::obsolete_reason(res.result());
    out.append(standard.data(), standard.size());
  } else {
    out.append(reason.data(), reason.size());
  }
  out += "\r\n";
  for (const auto& f : res) {
    out.append(f.name_string().data(), f.name_string().size());
    out += ": ";
    out.append(f.value().data(), f.value().size());
    out += "\r\n";
  }
  out += "\r\n";
  out += res.body();
  return out;
}

void close_socket(tcp::socket& socket) {
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// A keep-alive TLS connection's next request is awaited with a read of this size (TLS may hold
// decrypted bytes no socket wait would see); a plain one reads nothing until the socket is
// readable.
constexpr std::size_t kIdleReadBytes = 1024;
// The request buffer of a plain connection, allocated once the next request's bytes are there:
// most requests (a bearer token, a few cookies) arrive in one read of this size.
constexpr std::size_t kRequestReadBytes = 4096;

// The error answer for a request refused before the handler, then the end of the connection.
template <class Stream>
asio::awaitable<void> refuse(server_state& self, connection_state& state, Stream& stream,
                             const listener_options& opt, connection_event event,
                             http::status status, unsigned version, std::string_view reason) {
  self.notify(event);
  auto send = write_and_close(state, stream, make_error_response(status, version, reason),
                              opt.write_timeout);
  co_await std::move(send);
}

// One request: reads it (its first bytes may already be in `buffer`), runs the handler and
// writes the response. Returns whether the connection stays open for another request. The
// parser, request and response live in this frame, which exists only while a request is in
// progress: an idle keep-alive connection holds none of it.
template <class Stream>
asio::awaitable<bool> serve_one(server_state& self, connection_state& state, Stream& stream,
                                beast::flat_buffer& buffer, const listener_options& opt,
                                const connection_info& info, clock::time_point started) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(opt.max_header_bytes, UINT32_MAX)));
  parser.body_limit(opt.max_body_bytes);
  state.expire_after(opt.header_read_timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
  (void)hn;
  state.clear_deadline();
  if (hec) {
    if (state.timed_out) {
      auto r = refuse(self, state, stream, opt, connection_event::header_timeout,
                      http::status::request_timeout, 11, "request_timeout");
      co_await std::move(r);
    } else if (hec == http::error::header_limit) {
      auto r = refuse(self, state, stream, opt, connection_event::headers_too_large,
                      http::status::request_header_fields_too_large, 11, "headers_too_large");
      co_await std::move(r);
    } else if (hec == http::error::body_limit) {
      // A declared Content-Length beyond the limit is refused before any body byte is read.
      auto r = refuse(self, state, stream, opt, connection_event::body_too_large,
                      http::status::payload_too_large, 11, "body_too_large");
      co_await std::move(r);
    } else if (is_normal_close(hec)) {
      self.notify(connection_event::closed);
    } else {
      auto r = refuse(self, state, stream, opt, connection_event::bad_request,
                      http::status::bad_request, 11, "bad_request");
      co_await std::move(r);
    }
    co_return false;
  }
  state.in_request = true;
  const unsigned version = parser.get().version();

  if (!parser.is_done()) {
    // RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" waits for an interim 100
    // before the body (curl for a second, others longer). The declared length already passed
    // the body limit, else the header read above failed with body_limit.
    if (version >= 11 && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      state.expire_after(opt.write_timeout);
      auto [cec, cn] = co_await http::async_write(stream, go_on, tuple_awaitable);
      (void)cn;
      state.clear_deadline();
      if (cec) {
        self.notify(connection_event::closed);
        co_return false;
      }
    }
    state.expire_after(opt.body_read_timeout);
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
    (void)bn;
    state.clear_deadline();
    if (bec) {
      if (state.timed_out) {
        auto r = refuse(self, state, stream, opt, connection_event::body_timeout,
                        http::status::request_timeout, version, "request_timeout");
        co_await std::move(r);
      } else if (bec == http::error::body_limit) {
        auto r = refuse(self, state, stream, opt, connection_event::body_too_large,
                        http::status::payload_too_large, version, "body_too_large");
        co_await std::move(r);
      } else if (is_normal_close(bec) || bec == http::error::partial_message) {
        self.notify(connection_event::closed);
      } else {
        auto r = refuse(self, state, stream, opt, connection_event::bad_request,
                        http::status::bad_request, version, "bad_request");
        co_await std::move(r);
      }
      co_return false;
    }
  }

  request req = parser.release();
  const bool keep_alive = req.keep_alive();
  const http::verb method = req.method();
  std::optional<response> handled;
  bool close_silently = false;
  try {
    auto call = self.handler(std::move(req), info);
    handled.emplace(co_await std::move(call));
  } catch (const close_connection&) {
    handled.reset();
    close_silently = true;
  } catch (...) {
    handled.reset();
  }
  if (close_silently) {
    // The caller closes the socket without a TLS close_notify: an abrupt end, as asked.
    self.notify(connection_event::closed);
    co_return false;
  }
  if (!handled) {
    self.notify(connection_event::handler_exception);
    handled.emplace(
        make_error_response(http::status::internal_server_error, version, "internal_error"));
  }
  response& res = *handled;
  res.version(version);
  const bool keep = keep_alive && res.keep_alive() && !state.draining && !self.stopping.load();
  res.keep_alive(keep);
  res.prepare_payload();
  const std::string wire = flatten(res);
  state.expire_after(opt.write_timeout);
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire), tuple_awaitable);
  (void)wn;
  state.clear_deadline();
  state.in_request = false;
  if (self.observer != nullptr) {
    self.observer->on_request_done(
        method, res.result_int(),
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - started));
  }
  if (wec || !keep) {
    self.notify(connection_event::closed);
    co_return false;
  }
  co_return true;
}

// The request loop shared by plain and TLS connections. Between keep-alive requests it holds
// only the connection: 10,000 idle connections must fit in tens of MiB (docs/benchmarks.md).
template <class Stream>
asio::awaitable<void> serve_requests(impl_ptr self, std::shared_ptr<connection_state> state,
                                     Stream& stream, std::shared_ptr<listener_state> listener,
                                     connection_info info) {
  constexpr bool plain = std::is_same_v<Stream, tcp::socket>;
  const listener_options& opt = listener->options;
  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    if (state->draining || self->stopping.load()) {
      self->notify(connection_event::closed);
      co_return;
    }
    auto started = clock::now();
    if (!first && buffer.size() == 0) {
      // Wait for the first byte of the next request under idle_timeout, holding no buffer.
      buffer.clear();
      buffer.shrink_to_fit();
      state->expire_after(opt.idle_timeout);
      error_code ec;
      if constexpr (plain) {
        auto [wec] = co_await stream.async_wait(tcp::socket::wait_read, tuple_awaitable);
        ec = wec;
        if (!ec) buffer.reserve(kRequestReadBytes);
      } else {
        auto [rec, n] =
            co_await stream.async_read_some(buffer.prepare(kIdleReadBytes), tuple_awaitable);
        ec = rec;
        if (!ec) buffer.commit(n);
      }
      state->clear_deadline();
      if (ec) {
        self->notify(state->timed_out ? connection_event::idle_timeout : connection_event::closed);
        co_return;
      }
      started = clock::now();
    } else if (first && plain) {
      buffer.reserve(kRequestReadBytes);
    }
    first = false;
    auto one = serve_one(*self, *state, stream, buffer, opt, info, started);
    if (!co_await std::move(one)) co_return;
  }
}

asio::awaitable<void> run_connection(impl_ptr self, std::shared_ptr<connection_state> state,
                                     std::list<std::shared_ptr<connection_state>>::iterator tracked,
                                     tcp::socket socket, std::shared_ptr<listener_state> listener) {
  connection_info info;
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (!ec) {
    info.peer = remote.address();
    info.peer_port = remote.port();
  }
  const auto local = socket.local_endpoint(ec);
  if (!ec) {
    info.local = local.address();
    info.local_port = local.port();
  }
  self->notify(connection_event::opened);
  try {
    if (!listener->options.tls) {
      state->socket = &socket;
      auto serve = serve_requests(self, state, socket, listener, info);
      co_await std::move(serve);
      state->socket = nullptr;
      close_socket(socket);
    } else {
      info.tls = true;
      beast::ssl_stream<tcp::socket> stream(std::move(socket), *listener->options.tls);
      tcp::socket& lowest = beast::get_lowest_layer(stream);
      state->socket = &lowest;
      state->expire_after(listener->options.tls_handshake_timeout);
      auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
      state->clear_deadline();
      if (hec) {
        self->notify(connection_event::tls_handshake_failed);
      } else {
        auto serve = serve_requests(self, state, stream, listener, info);
        co_await std::move(serve);
      }
      state->socket = nullptr;
      // No close_notify round trip: the peer would make the close wait on its answer.
      close_socket(lowest);
    }
  } catch (...) {
    state->socket = nullptr;
  }
  state->stop_watchdog();
  self->untrack(tracked);
}

asio::awaitable<void> accept_loop(impl_ptr self, std::shared_ptr<listener_state> listener) {
  for (;;) {
    const asio::any_io_executor executor =
        self->spread.empty() ? asio::any_io_executor(asio::make_strand(self->io))
                             : self->spread[self->next_spread.fetch_add(1) % self->spread.size()];
    auto [ec, socket] = co_await listener->acceptor.async_accept(executor, tuple_awaitable);
    if (ec) {
      if (ec == asio::error::operation_aborted || self->stopping.load() ||
          !listener->acceptor.is_open()) {
        co_return;
      }
      // Out of descriptors or similar: back off briefly instead of spinning.
      asio::steady_timer pause(self->io, std::chrono::milliseconds(10));
      co_await pause.async_wait(tuple_awaitable);
      continue;
    }
    if (self->stopping.load() || self->open.load() >= listener->options.max_connections) {
      self->notify(connection_event::rejected_limit);
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto state = std::make_shared<connection_state>(executor, listener->watchdog_tick);
    // Counted at accept time, so max_connections and shutdown never miss a connection whose
    // coroutine has not started yet.
    const auto tracked = self->track(state);
    auto slot = state->cancel.slot();
    asio::co_spawn(executor, run_connection(self, state, tracked, std::move(socket), listener),
                   asio::bind_cancellation_slot(slot, asio::detached));
  }
}

asio::awaitable<void> wait_closed(std::shared_ptr<done_channel> channel,
                                  std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, limit);
  auto receive = channel->async_receive(tuple_awaitable);
  auto expire = timer.async_wait(tuple_awaitable);
  auto both = std::move(receive) || std::move(expire);
  auto r = co_await std::move(both);
  (void)r;
}

}  // namespace

http_server::http_server(asio::io_context& io, request_handler handler, server_observer* observer)
    : impl_(std::make_shared<impl>(io, std::move(handler), observer)) {}

http_server::~http_server() {
  impl_->stopping.store(true);
  impl_->close_acceptors();
  impl_->for_each_connection([](connection_state& c) {
    c.cancel.emit(asio::cancellation_type::terminal);
    if (c.socket != nullptr) close_socket(*c.socket);
  });
}

void http_server::spread_connections(std::vector<asio::any_io_executor> single_threaded) {
  impl_->spread = std::move(single_threaded);
}

boost::system::result<asio::ip::tcp::endpoint> http_server::listen(
    const listener_options& options) {
  error_code ec;
  const std::string host =
      options.address == "localhost" ? std::string("127.0.0.1") : options.address;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return ec;
  auto listener = std::make_shared<listener_state>(options, impl_->io);
  const tcp::endpoint endpoint(address, options.port);
  auto& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  const auto bound = acceptor.local_endpoint(ec);
  if (ec) return ec;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->listeners.push_back(listener);
  }
  asio::co_spawn(impl_->io, accept_loop(impl_, listener), asio::detached);
  return bound;
}

asio::awaitable<void> http_server::shutdown(std::chrono::milliseconds drain) {
  auto self = impl_;
  self->stopping.store(true);
  self->close_acceptors();
  auto channel = std::make_shared<done_channel>(co_await asio::this_coro::executor, 1);
  {
    std::lock_guard lock(self->mutex);
    self->all_closed = channel;
    if (self->open.load() == 0) channel->try_send(error_code{});
  }
  // Idle connections (waiting for a request) close now; busy ones close after their response.
  self->for_each_connection([](connection_state& c) {
    c.draining = true;
    if (!c.in_request && c.socket != nullptr) {
      error_code ignored;
      c.socket->cancel(ignored);
    }
  });
  auto drained = wait_closed(channel, drain);
  co_await std::move(drained);
  if (self->open.load() == 0) co_return;
  // Drain expired: cancel handlers and close sockets, then wait for the coroutines to unwind.
  self->for_each_connection([](connection_state& c) {
    c.cancel.emit(asio::cancellation_type::terminal);
    if (c.socket != nullptr) close_socket(*c.socket);
  });
  while (self->open.load() != 0) {
    auto closed = wait_closed(channel, std::chrono::milliseconds(1000));
    co_await std::move(closed);
  }
}

std::size_t http_server::open_connections() const noexcept {
  return impl_->open.load();
}

}  // namespace oidc::net
