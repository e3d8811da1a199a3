// SPDX-License-Identifier: Apache-2.0
// http_client against real loopback servers: TLS verification (trusted CA, host name), plain-HTTP
// policy, deadlines, response bound, pooling, stale pooled connections and the retry rule.
#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

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
using client_result = boost::system::result<net::client_response>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

struct counting_observer : net::server_observer {
  std::atomic<int> opened{0};
  void on_connection_event(net::connection_event e) noexcept override {
    if (e == net::connection_event::opened) opened.fetch_add(1);
  }
};

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

// Handler: counts requests; /slow never answers in time; /big answers 10 KiB.
asio::awaitable<net::response> answer(net::request req, net::connection_info,
                                      std::atomic<int>* seen) {
  seen->fetch_add(1);
  if (req.target() == "/slow") {
    asio::steady_timer timer(co_await asio::this_coro::executor, 30s);
    co_await timer.async_wait(asio::use_awaitable);
  }
  net::response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain");
  res.body() = req.target() == "/big" ? std::string(10 * 1024, 'x')
                                      : std::string("ok ") + std::string(req.target());
  co_return res;
}

// A test server with its own counters, plain or TLS.
struct test_server {
  explicit test_server(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls = nullptr,
                       std::chrono::milliseconds idle_timeout = 60s)
      : server(
            io,
            [this](net::request r, net::connection_info i) {
              return answer(std::move(r), i, &seen);
            },
            &observer) {
    net::listener_options opt;
    opt.tls = std::move(tls);
    opt.idle_timeout = idle_timeout;
    auto ep = server.listen(opt);
    if (!ep) throw std::runtime_error("listen failed");
    port = ep->port();
  }
  std::string url(const std::string& scheme, const std::string& host,
                  const std::string& path) const {
    return scheme + "://" + host + ":" + std::to_string(port) + path;
  }
  std::atomic<int> seen{0};
  counting_observer observer;
  net::http_server server;
  std::uint16_t port = 0;
};

std::shared_ptr<asio::ssl::context> server_tls(const oidc::test::pem_cert_key& leaf,
                                               const std::string& tag) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("oidc-net-test-" + tag + "-" + std::to_string(clock_type::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cert.pem") << leaf.cert_pem;
  std::ofstream(dir / "key.pem") << leaf.key_pem;
  auto ctx = net::make_server_tls_context((dir / "cert.pem").string(), (dir / "key.pem").string());
  std::filesystem::remove_all(dir);
  if (!ctx) throw std::runtime_error("server tls context");
  return *ctx;
}

std::shared_ptr<asio::ssl::context> trusting_test_ca() {
  auto ctx = net::make_client_tls_context(oidc::test::cached_test_pki_files().ca.string());
  if (!ctx) throw std::runtime_error("client tls context");
  return *ctx;
}

net::client_request get(std::string url) {
  net::client_request r;
  r.url = std::move(url);
  return r;
}

net::client_request post(std::string url) {
  net::client_request r;
  r.method = http::verb::post;
  r.url = std::move(url);
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  r.body = "grant_type=authorization_code&code=abc";
  r.idempotent = false;
  return r;
}

asio::awaitable<void> send_into(net::http_client* client, net::client_request request,
                                client_result* out) {
  auto call = client->send(std::move(request));
  *out = co_await std::move(call);
}

// Sends one request and returns its result, bounded by run_bounded.
client_result send_one(asio::io_context& io, net::http_client& client,
                       net::client_request request) {
  client_result out = make_error_code(net::client_errc::ok);
  run_bounded(io, send_into(&client, std::move(request), &out));
  return out;
}

void stop(asio::io_context& io, net::http_server& server) {
  run_bounded(io, server.shutdown(0ms));
}

TEST(HttpClient, GetsOverTlsWithTrustedTestCa) {
  asio::io_context io;
  test_server srv(io, server_tls(oidc::test::cached_test_pki().leaf, "ok"));
  net::client_options opt;
  opt.tls = trusting_test_ca();
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get(srv.url("https", "localhost", "/jwks")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "ok /jwks");
  EXPECT_EQ(r->headers[http::field::content_type], "text/plain");
  auto by_ip = send_one(io, client, get(srv.url("https", "127.0.0.1", "/ip")));
  ASSERT_TRUE(by_ip) << by_ip.error().message();
  EXPECT_EQ(by_ip->body, "ok /ip");
  stop(io, srv.server);
}

TEST(HttpClient, RefusesCertificateForAnotherHostName) {
  asio::io_context io;
  auto other = oidc::test::issue_leaf(oidc::test::cached_test_pki(), {"other.test"}, {});
  test_server srv(io, server_tls(other, "other"));
  net::client_options opt;
  opt.tls = trusting_test_ca();
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get(srv.url("https", "localhost", "/")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::tls_failed));
  EXPECT_EQ(srv.seen.load(), 0);
  stop(io, srv.server);
}

TEST(HttpClient, RefusesCertificateFromUntrustedCa) {
  asio::io_context io;
  const auto rogue = oidc::test::make_test_pki();
  test_server srv(io, server_tls(rogue.leaf, "rogue"));
  net::client_options opt;
  opt.tls = trusting_test_ca();
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get(srv.url("https", "localhost", "/")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::tls_failed));
  EXPECT_EQ(srv.seen.load(), 0);
  stop(io, srv.server);
}

TEST(HttpClient, RefusesPlainHttpByDefault) {
  asio::io_context io;
  test_server srv(io);
  net::http_client client(io.get_executor(), {});
  auto r = send_one(io, client, get(srv.url("http", "127.0.0.1", "/")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::plain_http_refused));
  EXPECT_EQ(srv.seen.load(), 0);
  stop(io, srv.server);
}

TEST(HttpClient, AllowsPlainHttpToLoopbackWithFlag) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get(srv.url("http", "localhost", "/plain")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "ok /plain");
  stop(io, srv.server);
}

TEST(HttpClient, RejectsBadUrl) {
  asio::io_context io;
  net::http_client client(io.get_executor(), {});
  auto r = send_one(io, client, get("https://user@example.com/"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::bad_url));
}

TEST(HttpClient, TimesOutWhenServerNeverAnswers) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  opt.read_timeout = 200ms;
  net::http_client client(io.get_executor(), opt);
  const auto start = clock_type::now();
  auto r = send_one(io, client, get(srv.url("http", "127.0.0.1", "/slow")));
  const auto took = clock_type::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::timeout));
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  stop(io, srv.server);
}

TEST(HttpClient, TotalTimeoutBoundsTheWholeCall) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  opt.total_timeout = 150ms;
  net::http_client client(io.get_executor(), opt);
  const auto start = clock_type::now();
  auto r = send_one(io, client, get(srv.url("http", "127.0.0.1", "/slow")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::timeout));
  EXPECT_LT(clock_type::now() - start, 2s);
  stop(io, srv.server);
}

TEST(HttpClient, RefusesResponseLargerThanLimit) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  opt.max_response_bytes = 1024;
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get(srv.url("http", "127.0.0.1", "/big")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::response_too_large));
  stop(io, srv.server);
}

TEST(HttpClient, ReusesPooledConnection) {
  asio::io_context io;
  test_server srv(io, server_tls(oidc::test::cached_test_pki().leaf, "pool"));
  net::client_options opt;
  opt.tls = trusting_test_ca();
  net::http_client client(io.get_executor(), opt);
  for (int i = 0; i < 3; ++i) {
    auto r = send_one(io, client, get(srv.url("https", "localhost", "/" + std::to_string(i))));
    ASSERT_TRUE(r) << r.error().message();
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(client.idle_connections(), 1u);
  EXPECT_EQ(client.connections_in_use(), 0u);
  EXPECT_EQ(srv.observer.opened.load(), 1);
  EXPECT_EQ(srv.seen.load(), 3);
  stop(io, srv.server);
}

asio::awaitable<void> wait_until_no_connections(net::http_server* server) {
  const auto deadline = clock_type::now() + 3s;
  while (server->open_connections() != 0 && clock_type::now() < deadline)
    co_await sleep_for(10ms);
}

void expect_fresh_connection_after_server_idle_close(net::client_request second) {
  asio::io_context io;
  test_server srv(io, server_tls(oidc::test::cached_test_pki().leaf, "idle"), 100ms);
  net::client_options opt;
  opt.tls = trusting_test_ca();
  opt.max_idle_age = 30s;
  net::http_client client(io.get_executor(), opt);
  auto first = send_one(io, client, get(srv.url("https", "localhost", "/first")));
  ASSERT_TRUE(first) << first.error().message();
  run_bounded(io, wait_until_no_connections(&srv.server));
  ASSERT_EQ(srv.server.open_connections(), 0u);
  second.url = srv.url("https", "localhost", "/second");
  auto r = send_one(io, client, second);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "ok /second");
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(srv.seen.load(), 2);
  stop(io, srv.server);
}

TEST(HttpClient, GetAfterServerClosedIdleConnectionUsesFreshConnection) {
  expect_fresh_connection_after_server_idle_close(get(""));
}

TEST(HttpClient, PostAfterServerClosedIdleConnectionIsCaughtBeforeSending) {
  expect_fresh_connection_after_server_idle_close(post(""));
}

TEST(HttpClient, DiscardsPooledConnectionOlderThanMaxIdleAge) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  opt.max_idle_age = 50ms;
  net::http_client client(io.get_executor(), opt);
  ASSERT_TRUE(send_one(io, client, get(srv.url("http", "127.0.0.1", "/a"))));
  run_bounded(io, sleep_for(80ms));
  ASSERT_TRUE(send_one(io, client, get(srv.url("http", "127.0.0.1", "/b"))));
  EXPECT_EQ(client.connections_opened(), 2u);
  stop(io, srv.server);
}

// A hand-written server that answers GET /ok and drops the connection, without answering, on the
// first request to /drop (any method). Counts what it saw.
struct dropping_server_state {
  std::atomic<int> posts{0};
  std::atomic<int> requests{0};
  std::atomic<int> drops_left{1};
  std::atomic<int> accepted{0};
};

asio::awaitable<void> dropping_connection(tcp::socket socket,
                                          std::shared_ptr<dropping_server_state> st) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, tuple_awaitable);
    (void)n;
    if (ec) co_return;
    st->requests.fetch_add(1);
    if (req.method() == http::verb::post) st->posts.fetch_add(1);
    if (req.target() == "/drop" && st->drops_left.fetch_sub(1) > 0) {
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
      co_return;
    }
    const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    auto [wec, wn] =
        co_await asio::async_write(stream.socket(), asio::buffer(raw), tuple_awaitable);
    (void)wn;
    if (wec) co_return;
  }
}

asio::awaitable<void> dropping_accept_loop(std::shared_ptr<tcp::acceptor> acceptor,
                                           std::shared_ptr<dropping_server_state> st) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(tuple_awaitable);
    if (ec) co_return;
    st->accepted.fetch_add(1);
    asio::co_spawn(acceptor->get_executor(), dropping_connection(std::move(socket), st),
                   asio::detached);
  }
}

struct dropping_server {
  explicit dropping_server(asio::io_context& io)
      : acceptor(std::make_shared<tcp::acceptor>(
            io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))),
        state(std::make_shared<dropping_server_state>()) {
    asio::co_spawn(io, dropping_accept_loop(acceptor, state), asio::detached);
  }
  ~dropping_server() {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor->local_endpoint().port()) + path;
  }
  std::shared_ptr<tcp::acceptor> acceptor;
  std::shared_ptr<dropping_server_state> state;
};

TEST(HttpClient, NeverRetriesPostWhenServerDropsAfterReadingIt) {
  asio::io_context io;
  dropping_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  net::http_client client(io.get_executor(), opt);
  ASSERT_TRUE(send_one(io, client, get(srv.url("/ok"))));  // leaves a pooled connection
  auto r = send_one(io, client, post(srv.url("/drop")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::connection_lost));
  EXPECT_EQ(srv.state->posts.load(), 1);
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST(HttpClient, NeverRetriesPostOnFreshConnection) {
  asio::io_context io;
  dropping_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, post(srv.url("/drop")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::connection_lost));
  EXPECT_EQ(srv.state->posts.load(), 1);
}

TEST(HttpClient, RetriesIdempotentGetOnceWhenReusedConnectionDies) {
  asio::io_context io;
  dropping_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  net::http_client client(io.get_executor(), opt);
  ASSERT_TRUE(send_one(io, client, get(srv.url("/ok"))));
  auto r = send_one(io, client, get(srv.url("/drop")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(srv.state->requests.load(), 3);
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST(HttpClient, FailsAfterShutdown) {
  asio::io_context io;
  net::http_client client(io.get_executor(), {});
  client.shutdown();
  auto r = send_one(io, client, get("https://localhost:1/"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::shutting_down));
}

TEST(HttpClient, ReportsConnectFailure) {
  asio::io_context io;
  // Bind a port and close it again, so nothing listens there.
  std::uint16_t port = 0;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  net::http_client client(io.get_executor(), opt);
  auto r = send_one(io, client, get("http://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(net::client_errc::connect_failed));
}

asio::awaitable<void> slow_and_queued(net::http_client* client, std::string slow_url,
                                      std::string fast_url, client_result* slow,
                                      client_result* queued) {
  using namespace asio::experimental::awaitable_operators;
  auto slow_request = get(std::move(slow_url));
  slow_request.total_timeout = 1s;
  auto queued_request = get(std::move(fast_url));
  queued_request.total_timeout = 200ms;
  auto first = send_into(client, std::move(slow_request), slow);
  auto second = send_into(client, std::move(queued_request), queued);
  auto both = std::move(first) && std::move(second);
  co_await std::move(both);
}

TEST(HttpClient, ReportsPoolExhaustedWhenNoConnectionFreesInTime) {
  asio::io_context io;
  test_server srv(io);
  net::client_options opt;
  opt.allow_plain_http_loopback = true;
  opt.max_connections_per_origin = 1;
  net::http_client client(io.get_executor(), opt);
  client_result slow = make_error_code(net::client_errc::ok);
  client_result queued = make_error_code(net::client_errc::ok);
  run_bounded(io, slow_and_queued(&client, srv.url("http", "127.0.0.1", "/slow"),
                                  srv.url("http", "127.0.0.1", "/fast"), &slow, &queued));
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error(), make_error_code(net::client_errc::timeout));
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error(), make_error_code(net::client_errc::pool_exhausted));
  EXPECT_EQ(client.connections_opened(), 1u);
  stop(io, srv.server);
}

asio::awaitable<void> counted_get(net::http_client* client, std::string url, std::atomic<int>* ok,
                                  std::atomic<int>* finished) {
  auto call = client->send(get(std::move(url)));
  auto r = co_await std::move(call);
  if (r && r->status == 200) ok->fetch_add(1);
  finished->fetch_add(1);
}

TEST(HttpClient, SharesBoundedPoolAcrossThreads) {
  asio::io_context io;
  test_server srv(io, server_tls(oidc::test::cached_test_pki().leaf, "threads"));
  net::client_options opt;
  opt.tls = trusting_test_ca();
  opt.max_connections_per_origin = 4;
  net::http_client client(io.get_executor(), opt);
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&io] { io.run(); });
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  constexpr int total = 60;
  for (int i = 0; i < total; ++i) {
    asio::co_spawn(io,
                   counted_get(&client, srv.url("https", "localhost", "/" + std::to_string(i)), &ok,
                               &finished),
                   asio::detached);
  }
  const auto deadline = clock_type::now() + 20s;
  while (finished.load() < total && clock_type::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(finished.load(), total);
  EXPECT_EQ(ok.load(), total);
  EXPECT_LE(client.connections_opened(), 4u);
  EXPECT_EQ(srv.seen.load(), total);
  bool stopped = false;
  asio::co_spawn(io, srv.server.shutdown(1s), [&stopped](std::exception_ptr) { stopped = true; });
  client.shutdown();
  guard.reset();
  for (auto& t : threads)
    t.join();
  EXPECT_TRUE(stopped);
  EXPECT_EQ(srv.server.open_connections(), 0u);
}

}  // namespace
