// SPDX-License-Identifier: Apache-2.0
// http_server over real loopback sockets: plain and TLS, keep-alive, limits (431/413), deadlines
// (slowloris, idle), connection cap, graceful drain, handler exceptions.
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"
#include "support/test_pki.hpp"

namespace {

namespace net = oidc::net;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// Counts server events; the io_context runs on the test thread only.
struct counting_observer : net::server_observer {
  std::array<std::atomic<int>, 16> events{};
  std::atomic<int> requests{0};
  void on_connection_event(net::connection_event e) noexcept override {
    events[static_cast<std::size_t>(e)].fetch_add(1);
  }
  void on_request_done(net::http::verb, unsigned, std::chrono::nanoseconds) noexcept override {
    requests.fetch_add(1);
  }
  int count(net::connection_event e) const { return events[static_cast<std::size_t>(e)].load(); }
};

// Runs `coro` on `io` and fails the test if it does not finish within `limit`.
void run_bounded(asio::io_context& io, asio::awaitable<void> coro,
                 std::chrono::milliseconds limit = 10s) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  const auto deadline = clock_type::now() + limit;
  while (!done && clock_type::now() < deadline)
    io.run_one_for(50ms);
  ASSERT_TRUE(done) << "test coroutine did not finish in time";
  if (error) std::rethrow_exception(error);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(tuple_awaitable);
}

asio::awaitable<net::response> answer_hello(net::request req, net::connection_info info) {
  net::response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = info.tls ? "hello tls" : "hello";
  co_return res;
}

asio::awaitable<net::response> answer_slowly(net::request req, net::connection_info,
                                             std::chrono::milliseconds d,
                                             std::atomic<int>* started) {
  started->fetch_add(1);
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);  // throws operation_aborted when cancelled
  net::response res{http::status::ok, req.version()};
  res.body() = "slow";
  co_return res;
}

asio::awaitable<net::response> answer_throwing(net::request, net::connection_info) {
  throw std::runtime_error("handler bug");
  co_return net::response{};
}

net::request get_request(const std::string& target) {
  net::request req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  req.keep_alive(true);
  return req;
}

// Reads everything until EOF or `limit`; returns the bytes received.
asio::awaitable<std::string> read_until_close(tcp::socket* socket,
                                              std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  std::string data;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  std::array<char, 4096> chunk{};
  for (;;) {
    auto read = socket->async_read_some(asio::buffer(chunk), tuple_awaitable);
    auto expire = timer.async_wait(tuple_awaitable);
    auto both = std::move(read) || std::move(expire);
    auto r = co_await std::move(both);
    if (r.index() == 1) co_return data;
    auto [ec, n] = std::get<0>(r);
    data.append(chunk.data(), n);
    if (ec) co_return data;
  }
}

asio::awaitable<tcp::socket> connect_to(tcp::endpoint ep) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(ep, asio::use_awaitable);
  co_return socket;
}

asio::awaitable<void> plain_get_body(tcp::endpoint ep) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(ep, asio::use_awaitable);
  auto req = get_request("/");
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  net::response res;
  co_await http::async_read(stream, buffer, res, asio::use_awaitable);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "hello");
}

TEST(HttpServer, AnswersPlainHttp) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_NE(ep->port(), 0);
  run_bounded(io, [](tcp::endpoint e, net::http_server* s) -> asio::awaitable<void> {
    co_await plain_get_body(e);
    co_await s->shutdown(1s);
  }(*ep, &server));
  EXPECT_EQ(observer.requests.load(), 1);
  EXPECT_EQ(server.open_connections(), 0u);
}

asio::awaitable<void> tls_get_body(tcp::endpoint ep, std::shared_ptr<asio::ssl::context> ctx,
                                   net::http_server* s) {
  beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, *ctx);
  co_await beast::get_lowest_layer(stream).async_connect(ep, asio::use_awaitable);
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  auto req = get_request("/");
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  net::response res;
  co_await http::async_read(stream, buffer, res, asio::use_awaitable);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "hello tls");
  co_await s->shutdown(1s);
}

TEST(HttpServer, AnswersOverTlsWithTestCertificate) {
  const auto& files = oidc::test::cached_test_pki_files();
  auto server_ctx = net::make_server_tls_context(files.cert.string(), files.key.string());
  ASSERT_TRUE(server_ctx) << server_ctx.error().message();
  auto client_ctx = net::make_client_tls_context(files.ca.string());
  ASSERT_TRUE(client_ctx) << client_ctx.error().message();
  asio::io_context io;
  net::http_server server(io, answer_hello);
  net::listener_options opt;
  opt.address = "localhost";
  opt.tls = *server_ctx;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->address().to_string(), "127.0.0.1");
  run_bounded(io, tls_get_body(*ep, *client_ctx, &server));
}

TEST(HttpServer, RefusesServerContextWithMissingFiles) {
  auto ctx = net::make_server_tls_context("/nonexistent/cert.pem", "/nonexistent/key.pem");
  EXPECT_FALSE(ctx);
}

asio::awaitable<void> two_requests_one_connection(tcp::endpoint ep, net::http_server* s) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(ep, asio::use_awaitable);
  beast::flat_buffer buffer;
  for (int i = 0; i < 2; ++i) {
    auto req = get_request("/" + std::to_string(i));
    co_await http::async_write(stream, req, asio::use_awaitable);
    net::response res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(res.keep_alive());
  }
  co_await s->shutdown(1s);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  run_bounded(io, two_requests_one_connection(*ep, &server));
  EXPECT_EQ(observer.count(net::connection_event::opened), 1);
  EXPECT_EQ(observer.requests.load(), 2);
}

asio::awaitable<void> send_raw_expect(tcp::endpoint ep, std::string raw,
                                      std::string expected_status_line) {
  auto socket = co_await connect_to(ep);
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(raw), tuple_awaitable);
  (void)ec;
  (void)n;
  auto data = co_await read_until_close(&socket, 3s);
  EXPECT_EQ(data.substr(0, expected_status_line.size()), expected_status_line) << data;
}

TEST(HttpServer, AnswersOversizedHeadersWith431) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  std::string raw =
      "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(17 * 1024, 'a') + "\r\n\r\n";
  run_bounded(io, send_raw_expect(*ep, raw, "HTTP/1.1 431"));
  EXPECT_EQ(observer.count(net::connection_event::headers_too_large), 1);
  EXPECT_EQ(observer.requests.load(), 0);
}

TEST(HttpServer, AnswersOversizedBodyWith413) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.max_body_bytes = 1024;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::string raw =
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'b');
  run_bounded(io, send_raw_expect(*ep, raw, "HTTP/1.1 413"));
  EXPECT_EQ(observer.count(net::connection_event::body_too_large), 1);
}

asio::awaitable<net::response> answer_echo(net::request req, net::connection_info) {
  net::response res{http::status::ok, req.version()};
  res.body() = "got " + req.body();
  co_return res;
}

// Sends the head of a request that expects 100-continue, waits for the interim answer, then
// sends the body and reads the final one.
asio::awaitable<void> expect_continue_exchange(tcp::endpoint ep, std::string* interim,
                                               std::string* final_answer) {
  auto socket = co_await connect_to(ep);
  const std::string head =
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
      "Content-Length: 5\r\nConnection: close\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(head), asio::use_awaitable);
  std::string got;
  const auto n = co_await asio::async_read_until(socket, asio::dynamic_buffer(got), "\r\n\r\n",
                                                 asio::use_awaitable);
  *interim = got.substr(0, n);
  co_await asio::async_write(socket, asio::buffer(std::string_view("hello")), asio::use_awaitable);
  auto rest = co_await read_until_close(&socket, 5s);
  *final_answer = got.substr(n) + rest;
}

TEST(HttpServer, ExpectContinueGetsAnInterim100BeforeTheBodyIsRead) {
  asio::io_context io;
  net::http_server server(io, answer_echo);
  auto ep = server.listen(net::listener_options{});
  ASSERT_TRUE(ep);
  std::string interim, final_answer;
  run_bounded(io, expect_continue_exchange(*ep, &interim, &final_answer));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_TRUE(final_answer.starts_with("HTTP/1.1 200 OK\r\n")) << final_answer;
  EXPECT_TRUE(final_answer.ends_with("\r\n\r\ngot hello")) << final_answer;
}

TEST(HttpServer, ExpectContinueWithAnOversizedBodyIs413WithoutInterim) {
  asio::io_context io;
  net::http_server server(io, answer_echo);
  net::listener_options opt;
  opt.max_body_bytes = 1024;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  const std::string raw =
      "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
      "Content-Length: 4096\r\n\r\n";
  run_bounded(io, send_raw_expect(*ep, raw, "HTTP/1.1 413"));
}

TEST(HttpServer, AnswersOversizedChunkedBodyWith413) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.max_body_bytes = 1024;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::string raw = "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i)
    raw += "400\r\n" + std::string(1024, 'c') + "\r\n";
  raw += "0\r\n\r\n";
  run_bounded(io, send_raw_expect(*ep, raw, "HTTP/1.1 413"));
  EXPECT_EQ(observer.count(net::connection_event::body_too_large), 1);
  EXPECT_EQ(observer.requests.load(), 0);
}

TEST(HttpServer, AnswersGarbageWith400) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  run_bounded(io, send_raw_expect(*ep, "NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400"));
  EXPECT_EQ(observer.count(net::connection_event::bad_request), 1);
}

asio::awaitable<void> trickle(tcp::socket* socket, std::string data,
                              std::chrono::milliseconds gap) {
  for (char c : data) {
    auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(&c, 1), tuple_awaitable);
    (void)n;
    if (ec) co_return;
    co_await sleep_for(gap);
  }
  co_await sleep_for(10s);
}

asio::awaitable<void> slowloris(tcp::endpoint ep, std::chrono::milliseconds* elapsed,
                                std::string* received) {
  using namespace asio::experimental::awaitable_operators;
  auto socket = co_await connect_to(ep);
  const auto start = clock_type::now();
  std::string headers =
      "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + std::string(200, 'z') + "\r\n\r\n";
  auto reader = read_until_close(&socket, 5s);
  auto writer = trickle(&socket, headers, 40ms);
  auto both = std::move(reader) || std::move(writer);
  auto r = co_await std::move(both);
  *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  if (r.index() == 0) *received = std::get<0>(r);
}

TEST(HttpServer, CutsOffSlowlorisAtHeaderDeadline) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.header_read_timeout = 200ms;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::chrono::milliseconds elapsed{};
  std::string received;
  run_bounded(io, slowloris(*ep, &elapsed, &received));
  EXPECT_GE(elapsed.count(), 190);
  EXPECT_LT(elapsed.count(), 1500);
  EXPECT_EQ(received.substr(0, 12), "HTTP/1.1 408") << received;
  EXPECT_EQ(observer.count(net::connection_event::header_timeout), 1);
  EXPECT_EQ(observer.requests.load(), 0);
}

asio::awaitable<void> idle_after_one_request(tcp::endpoint ep,
                                             std::chrono::milliseconds* closed_after) {
  auto socket = co_await connect_to(ep);
  const std::string raw = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  const auto start = clock_type::now();
  auto data = co_await read_until_close(&socket, 5s);
  *closed_after = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  EXPECT_EQ(data.substr(0, 12), "HTTP/1.1 200");
}

TEST(HttpServer, ClosesIdleKeepAliveConnection) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.idle_timeout = 150ms;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::chrono::milliseconds closed_after{};
  run_bounded(io, idle_after_one_request(*ep, &closed_after));
  EXPECT_GE(closed_after.count(), 140);
  EXPECT_LT(closed_after.count(), 2000);
  EXPECT_EQ(observer.count(net::connection_event::idle_timeout), 1);
}

// Deadlines are lazy (one watchdog per connection, ticking at the shortest timeout): an idle
// wait several header timeouts long must not be mistaken for a slow header.
asio::awaitable<void> second_request_after_pause(tcp::endpoint ep, std::chrono::milliseconds pause,
                                                 net::http_server* s) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(ep, asio::use_awaitable);
  beast::flat_buffer buffer;
  for (int i = 0; i < 2; ++i) {
    if (i == 1) co_await sleep_for(pause);
    auto req = get_request("/");
    co_await http::async_write(stream, req, asio::use_awaitable);
    net::response res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    EXPECT_EQ(res.result(), http::status::ok);
    EXPECT_EQ(res.body(), "hello");
  }
  co_await s->shutdown(1s);
}

TEST(HttpServer, IdleWaitLongerThanTheHeaderTimeoutIsNotAHeaderTimeout) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.header_read_timeout = 60ms;
  opt.idle_timeout = 5s;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  run_bounded(io, second_request_after_pause(*ep, 400ms, &server));
  EXPECT_EQ(observer.requests.load(), 2);
  EXPECT_EQ(observer.count(net::connection_event::header_timeout), 0);
  EXPECT_EQ(observer.count(net::connection_event::idle_timeout), 0);
}

// Headers complete, then the body stops coming: 408 at the body deadline.
asio::awaitable<void> stalled_body(tcp::endpoint ep, std::chrono::milliseconds* elapsed,
                                   std::string* received) {
  auto socket = co_await connect_to(ep);
  const std::string raw =
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nonly-part";
  const auto start = clock_type::now();
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  *received = co_await read_until_close(&socket, 5s);
  *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

TEST(HttpServer, StalledBodyGets408AtTheBodyDeadline) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.body_read_timeout = 200ms;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::chrono::milliseconds elapsed{};
  std::string received;
  run_bounded(io, stalled_body(*ep, &elapsed, &received));
  EXPECT_GE(elapsed.count(), 190);
  EXPECT_LT(elapsed.count(), 1500);
  EXPECT_EQ(received.substr(0, 12), "HTTP/1.1 408") << received;
  EXPECT_EQ(observer.count(net::connection_event::body_timeout), 1);
  EXPECT_EQ(observer.requests.load(), 0);
}

asio::awaitable<net::response> answer_huge(net::request req, net::connection_info) {
  net::response res{http::status::ok, req.version()};
  res.body() = std::string(std::size_t{48} << 20, 'x');  // far beyond loopback socket buffers
  co_return res;
}

// A client that asks and never reads: the server gives up at the write deadline and closes.
asio::awaitable<void> never_reading_client(tcp::endpoint ep, net::http_server* s,
                                           std::chrono::milliseconds* closed_after) {
  auto socket = co_await connect_to(ep);
  const std::string raw = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  const auto start = clock_type::now();
  while (s->open_connections() != 0 && clock_type::now() - start < 5s)
    co_await sleep_for(10ms);
  *closed_after = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

TEST(HttpServer, ClientThatNeverReadsIsCutOffAtTheWriteDeadline) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_huge, &observer);
  net::listener_options opt;
  opt.write_timeout = 200ms;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::chrono::milliseconds closed_after{};
  run_bounded(io, never_reading_client(*ep, &server, &closed_after));
  EXPECT_GE(closed_after.count(), 190);
  EXPECT_LT(closed_after.count(), 2000);
  EXPECT_EQ(server.open_connections(), 0u);
  EXPECT_EQ(observer.count(net::connection_event::closed), 1);
}

// A TLS client that connects and never says hello.
asio::awaitable<void> silent_tls_client(tcp::endpoint ep, std::chrono::milliseconds* elapsed) {
  auto socket = co_await connect_to(ep);
  const auto start = clock_type::now();
  auto data = co_await read_until_close(&socket, 5s);
  *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  EXPECT_EQ(data, "");
}

TEST(HttpServer, TlsHandshakeNotCompletedInTimeIsDropped) {
  const auto& files = oidc::test::cached_test_pki_files();
  auto server_ctx = net::make_server_tls_context(files.cert.string(), files.key.string());
  ASSERT_TRUE(server_ctx) << server_ctx.error().message();
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.tls = *server_ctx;
  opt.tls_handshake_timeout = 200ms;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  std::chrono::milliseconds elapsed{};
  run_bounded(io, silent_tls_client(*ep, &elapsed));
  EXPECT_GE(elapsed.count(), 190);
  EXPECT_LT(elapsed.count(), 1500);
  EXPECT_EQ(observer.count(net::connection_event::tls_handshake_failed), 1);
}

// Connections spread over single-threaded contexts: each connection is served on the thread of
// the context it went to, in turn, and shutdown still drains them all.
struct thread_recorder {
  std::mutex mutex;
  std::set<std::thread::id> seen;
};

asio::awaitable<net::response> answer_with_thread(net::request req, net::connection_info,
                                                  thread_recorder* recorder) {
  {
    std::lock_guard lock(recorder->mutex);
    recorder->seen.insert(std::this_thread::get_id());
  }
  net::response res{http::status::ok, req.version()};
  res.body() = "spread";
  co_return res;
}

asio::awaitable<void> requests_on_connections(tcp::endpoint ep, int connections,
                                              net::http_server* s) {
  for (int c = 0; c < connections; ++c) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    co_await stream.async_connect(ep, asio::use_awaitable);
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i) {
      auto req = get_request("/");
      co_await http::async_write(stream, req, asio::use_awaitable);
      net::response res;
      co_await http::async_read(stream, buffer, res, asio::use_awaitable);
      EXPECT_EQ(res.result(), http::status::ok);
      EXPECT_EQ(res.body(), "spread");
    }
  }
  co_await s->shutdown(1s);
}

TEST(HttpServer, SpreadsConnectionsOverSingleThreadedContexts) {
  asio::io_context io;
  asio::io_context first(1);
  asio::io_context second(1);
  auto keep_first = asio::make_work_guard(first);
  auto keep_second = asio::make_work_guard(second);
  std::thread first_thread([&first] { first.run(); });
  std::thread second_thread([&second] { second.run(); });
  thread_recorder recorder;
  counting_observer observer;
  {
    net::http_server server(
        io,
        [r = &recorder](net::request req, net::connection_info info) {
          return answer_with_thread(std::move(req), info, r);
        },
        &observer);
    server.spread_connections({first.get_executor(), second.get_executor()});
    auto ep = server.listen({});
    ASSERT_TRUE(ep);
    run_bounded(io, requests_on_connections(*ep, 4, &server));
    EXPECT_EQ(server.open_connections(), 0u);
  }
  keep_first.reset();
  keep_second.reset();
  first_thread.join();
  second_thread.join();
  EXPECT_EQ(observer.requests.load(), 8);
  EXPECT_EQ(observer.count(net::connection_event::opened), 4);
  std::lock_guard lock(recorder.mutex);
  EXPECT_EQ(recorder.seen.size(), 2u);
  EXPECT_EQ(recorder.seen.count(std::this_thread::get_id()), 0u);
}

asio::awaitable<void> second_connection_rejected(tcp::endpoint ep, net::http_server* s) {
  // The first connection completes a request, so it is certainly counted, and stays open.
  beast::tcp_stream first(co_await asio::this_coro::executor);
  co_await first.async_connect(ep, asio::use_awaitable);
  auto req = get_request("/");
  co_await http::async_write(first, req, asio::use_awaitable);
  beast::flat_buffer buffer;
  net::response res;
  co_await http::async_read(first, buffer, res, asio::use_awaitable);
  EXPECT_EQ(s->open_connections(), 1u);
  auto second = co_await connect_to(ep);
  const std::string raw = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(second, asio::buffer(raw), tuple_awaitable);
  (void)wec;
  (void)wn;
  auto data = co_await read_until_close(&second, 3s);
  EXPECT_EQ(data, "");
  co_await s->shutdown(1s);
}

TEST(HttpServer, RejectsConnectionsBeyondTheLimit) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_hello, &observer);
  net::listener_options opt;
  opt.max_connections = 1;
  auto ep = server.listen(opt);
  ASSERT_TRUE(ep);
  run_bounded(io, second_connection_rejected(*ep, &server));
  EXPECT_EQ(observer.count(net::connection_event::rejected_limit), 1);
  EXPECT_EQ(observer.requests.load(), 1);
}

asio::awaitable<void> shutdown_during_request(tcp::endpoint ep, net::http_server* s,
                                              std::atomic<int>* started,
                                              std::chrono::milliseconds* shutdown_took) {
  using namespace asio::experimental::awaitable_operators;
  // An idle keep-alive connection that drain must close at once.
  auto idle = co_await connect_to(ep);
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(ep, asio::use_awaitable);
  auto req = get_request("/slow");
  co_await http::async_write(stream, req, asio::use_awaitable);
  while (started->load() == 0)
    co_await sleep_for(5ms);
  const auto start = clock_type::now();
  auto drain = s->shutdown(2s);
  co_await std::move(drain);
  *shutdown_took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
  beast::flat_buffer buffer;
  net::response res;
  co_await http::async_read(stream, buffer, res, asio::use_awaitable);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "slow");
  EXPECT_FALSE(res.keep_alive());
  auto idle_data = co_await read_until_close(&idle, 1s);
  EXPECT_EQ(idle_data, "");
}

TEST(HttpServer, ShutdownWaitsForInFlightRequest) {
  asio::io_context io;
  counting_observer observer;
  std::atomic<int> started{0};
  net::http_server server(
      io,
      [&started](net::request r, net::connection_info i) {
        return answer_slowly(std::move(r), i, 200ms, &started);
      },
      &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  std::chrono::milliseconds took{};
  run_bounded(io, shutdown_during_request(*ep, &server, &started, &took));
  EXPECT_GE(took.count(), 100);
  EXPECT_LT(took.count(), 1500);
  EXPECT_EQ(observer.requests.load(), 1);
  EXPECT_EQ(server.open_connections(), 0u);
}

asio::awaitable<void> shutdown_cancels_stuck_handler(tcp::endpoint ep, net::http_server* s,
                                                     std::atomic<int>* started,
                                                     std::chrono::milliseconds* took) {
  auto socket = co_await connect_to(ep);
  const std::string raw = "GET /stuck HTTP/1.1\r\nHost: localhost\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  while (started->load() == 0)
    co_await sleep_for(5ms);
  const auto start = clock_type::now();
  co_await s->shutdown(100ms);
  *took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

TEST(HttpServer, ShutdownCancelsHandlersStillRunningAfterDrain) {
  asio::io_context io;
  std::atomic<int> started{0};
  net::http_server server(io, [&started](net::request r, net::connection_info i) {
    return answer_slowly(std::move(r), i, 30s, &started);
  });
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  std::chrono::milliseconds took{};
  run_bounded(io, shutdown_cancels_stuck_handler(*ep, &server, &started, &took));
  EXPECT_GE(took.count(), 90);
  EXPECT_LT(took.count(), 2000);
  EXPECT_EQ(server.open_connections(), 0u);
}

TEST(HttpServer, HandlerExceptionBecomes500) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_throwing, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  run_bounded(io, [](tcp::endpoint e, net::http_server* s) -> asio::awaitable<void> {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    co_await stream.async_connect(e, asio::use_awaitable);
    auto req = get_request("/");
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    net::response res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    EXPECT_EQ(res.result(), http::status::internal_server_error);
    EXPECT_EQ(res.body(), "internal_error");
    co_await s->shutdown(1s);
  }(*ep, &server));
  EXPECT_EQ(observer.count(net::connection_event::handler_exception), 1);
}

asio::awaitable<net::response> answer_close_connection(net::request, net::connection_info) {
  throw net::close_connection();
  co_return net::response{};
}

TEST(HttpServer, CloseConnectionFromHandlerEndsConnectionWithoutResponse) {
  asio::io_context io;
  counting_observer observer;
  net::http_server server(io, answer_close_connection, &observer);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  std::string received = "not run";
  run_bounded(io,
              [](tcp::endpoint e, net::http_server* s, std::string* out) -> asio::awaitable<void> {
                auto socket = co_await connect_to(e);
                const std::string raw = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
                co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
                const auto start = clock_type::now();
                *out = co_await read_until_close(&socket, 5s);
                // Closed by the server, not cut off by the 5 s read limit.
                EXPECT_LT(clock_type::now() - start, 4s);
                co_await s->shutdown(1s);
              }(*ep, &server, &received));
  EXPECT_EQ(received, "");
  EXPECT_EQ(observer.count(net::connection_event::handler_exception), 0);
  EXPECT_EQ(observer.count(net::connection_event::closed), 1);
  EXPECT_EQ(observer.requests.load(), 0);
  EXPECT_EQ(server.open_connections(), 0u);
}

TEST(HttpServer, CloseConnectionIsSeenByTheClientAsConnectionLost) {
  asio::io_context io;
  net::http_server server(io, answer_close_connection);
  auto ep = server.listen({});
  ASSERT_TRUE(ep);
  net::client_options copts;
  copts.allow_plain_http_loopback = true;
  auto client = std::make_shared<net::http_client>(io.get_executor(), copts);
  boost::system::error_code seen;
  run_bounded(io,
              [](tcp::endpoint e, net::http_server* s, std::shared_ptr<net::http_client> c,
                 boost::system::error_code* out) -> asio::awaitable<void> {
                net::client_request r;
                r.method = http::verb::post;
                r.url = "http://127.0.0.1:" + std::to_string(e.port()) + "/token";
                r.idempotent = false;
                r.body = "a=b";
                auto send = c->send(std::move(r));
                auto res = co_await std::move(send);
                if (!res) *out = res.error();
                c->shutdown();
                co_await s->shutdown(1s);
              }(*ep, &server, client, &seen));
  EXPECT_EQ(seen, make_error_code(net::client_errc::connection_lost));
}

TEST(HttpServer, ListenRejectsUnparsableAddress) {
  asio::io_context io;
  net::http_server server(io, answer_hello);
  net::listener_options opt;
  opt.address = "not-an-address";
  EXPECT_FALSE(server.listen(opt));
}

}  // namespace
