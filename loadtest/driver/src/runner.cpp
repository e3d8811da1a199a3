// SPDX-License-Identifier: Apache-2.0
// Virtual users doing complete logins through the pooled client of server/net, and idle
// keep-alive connections over raw Beast streams. The only translation unit of the driver that
// includes Asio and Beast (their implementation is compiled once, in oidc_net).
#include "runner.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "cookie_jar.hpp"
#include "flow.hpp"
#include "oidc/net/http_client.hpp"

namespace oidc::loadtest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = oidc::net;
using steady = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view navigation_accept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
constexpr std::string_view user_agent = "oidc-login-driver";

std::uint64_t micros(steady::duration d) noexcept {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

std::string_view reason_of(const boost::system::error_code& ec) noexcept {
  if (ec.category() != net::client_category()) return "error";
  switch (static_cast<net::client_errc>(ec.value())) {
    case net::client_errc::ok:
      return "error";
    case net::client_errc::bad_url:
      return "bad_url";
    case net::client_errc::plain_http_refused:
      return "plain_http_refused";
    case net::client_errc::resolve_failed:
      return "resolve_failed";
    case net::client_errc::connect_failed:
      return "connect_failed";
    case net::client_errc::tls_failed:
      return "tls_failed";
    case net::client_errc::timeout:
      return "timeout";
    case net::client_errc::connection_lost:
      return "connection_lost";
    case net::client_errc::response_too_large:
      return "response_too_large";
    case net::client_errc::bad_response:
      return "bad_response";
    case net::client_errc::pool_exhausted:
      return "pool_exhausted";
    case net::client_errc::shutting_down:
      return "shutting_down";
  }
  return "error";
}

// Coroutines still running; the main thread waits for none to be left.
class task_counter {
 public:
  void add() {
    std::lock_guard lock(mutex_);
    ++running_;
  }
  void done() {
    std::lock_guard lock(mutex_);
    if (--running_ == 0) idle_.notify_all();
  }
  bool wait_until(steady::time_point deadline) {
    std::unique_lock lock(mutex_);
    return idle_.wait_until(lock, deadline, [this] { return running_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t running_ = 0;
};

// io_context threads, stopped and joined on every way out.
class io_threads {
 public:
  io_threads(asio::io_context& io, unsigned n) : io_(io) {
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }
  ~io_threads() { stop(); }
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;
  void stop() {
    io_.stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  asio::io_context& io_;
  std::vector<std::thread> threads_;
};

struct virtual_user {
  cookie_jar jar;
};

// Everything the login coroutines share. Held by shared_ptr in every coroutine frame, so frames
// destroyed without running (a run that did not drain) never see it gone.
struct login_state {
  login_state(asio::any_io_executor ex, const driver_options& o, net::client_options copts)
      : executor(ex), options(o), client(std::move(ex), std::move(copts)), users(o.users) {
    free_users.reserve(users.size());
    for (auto& u : users)
      free_users.push_back(&u);
  }

  asio::any_io_executor executor;
  const driver_options& options;
  flow_settings flow;
  std::optional<target_url> session;
  net::http_client client;
  std::vector<virtual_user> users;
  steady::time_point t0, measure_from, measure_to;
  task_counter tasks;

  std::mutex mutex;  // guards stats, free_users and unexpected
  run_stats stats;
  std::vector<virtual_user*> free_users;  // open loop: users not in a login
  std::string unexpected;

  bool in_window(steady::time_point t) const noexcept {
    return t >= measure_from && t < measure_to;
  }
  void record_failure(step at, std::string_view reason, steady::time_point when) {
    if (!in_window(when)) return;
    std::lock_guard lock(mutex);
    stats.add_failure(at, reason);
  }
  void record_success(const login_record& record, std::uint64_t login_us, steady::time_point when) {
    if (!in_window(when)) return;
    std::lock_guard lock(mutex);
    record.commit_to(stats, login_us);
  }
  virtual_user* take_user() {
    std::lock_guard lock(mutex);
    if (free_users.empty()) return nullptr;
    virtual_user* u = free_users.back();
    free_users.pop_back();
    return u;
  }
  void give_back(virtual_user* u) {
    std::lock_guard lock(mutex);
    free_users.push_back(u);
  }
  void note_exception(std::exception_ptr e) {
    std::lock_guard lock(mutex);
    try {
      std::rethrow_exception(std::move(e));
    } catch (const std::exception& ex) {
      unexpected = ex.what();
    } catch (...) {
      unexpected = "unknown exception";
    }
  }
};
using state_ptr = std::shared_ptr<login_state>;

template <class Awaitable>
void spawn_task(const state_ptr& s, Awaitable&& task) {
  s->tasks.add();
  asio::co_spawn(s->executor, std::forward<Awaitable>(task), [s](std::exception_ptr e) {
    if (e) s->note_exception(std::move(e));
    s->tasks.done();
  });
}

// One GET with the user's cookies; Set-Cookie answers go into the jar. `stored` tells whether
// one of them added or replaced a cookie.
asio::awaitable<boost::system::result<net::client_response>> fetch(state_ptr s, virtual_user* vu,
                                                                   target_url url,
                                                                   std::string_view accept,
                                                                   bool* stored) {
  net::client_request request;
  request.url = url.href;
  request.total_timeout = std::chrono::milliseconds(s->options.timeout_ms);
  request.headers.emplace_back("Accept", std::string(accept));
  const cookie_site site{url.https, url.host, url.path};
  std::string cookies = vu->jar.header(site);
  if (!cookies.empty()) request.headers.emplace_back("Cookie", std::move(cookies));
  auto sending = s->client.send(std::move(request));
  auto response = co_await std::move(sending);
  *stored = false;
  if (response) {
    const auto now = std::chrono::system_clock::now();
    auto [it, end] = response->headers.equal_range(http::field::set_cookie);
    for (; it != end; ++it) {
      if (vu->jar.store(it->value(), site, now) == store_outcome::stored) *stored = true;
    }
  }
  co_return response;
}

asio::awaitable<void> run_one_login(state_ptr s, virtual_user* vu) {
  const auto started = steady::now();
  if (!s->options.keep_cookies) vu->jar.clear();
  login_flow flow(s->flow);
  login_record record;
  for (;;) {
    const step at = flow.current_step();
    bool stored = false;
    const auto sent = steady::now();
    auto fetching = fetch(s, vu, flow.url(), navigation_accept, &stored);
    auto response = co_await std::move(fetching);
    const auto answered = steady::now();
    if (!response) {
      s->record_failure(at, reason_of(response.error()), answered);
      co_return;
    }
    record.add(at, micros(answered - sent));
    hop_response hop;
    hop.status = response->status;
    hop.stored_cookie = stored;
    if (const auto it = response->headers.find(http::field::location);
        it != response->headers.end()) {
      hop.location = it->value();
    }
    const hop_verdict verdict = flow.on_response(hop);
    if (verdict.what == hop_verdict::kind::failed) {
      s->record_failure(verdict.at, verdict.reason, answered);
      co_return;
    }
    if (verdict.what == hop_verdict::kind::done) break;
  }
  if (s->session) {
    bool stored = false;
    const auto sent = steady::now();
    auto fetching = fetch(s, vu, *s->session, "application/json", &stored);
    auto response = co_await std::move(fetching);
    const auto answered = steady::now();
    if (!response) {
      s->record_failure(step::session, reason_of(response.error()), answered);
      co_return;
    }
    if (response->status != 200) {
      s->record_failure(step::session, "status_" + std::to_string(response->status), answered);
      co_return;
    }
    if (!is_json_object(response->body)) {
      s->record_failure(step::session, "bad_body", answered);
      co_return;
    }
    record.add(step::session, micros(answered - sent));
  }
  const auto finished = steady::now();
  s->record_success(record, micros(finished - started), finished);
}

asio::awaitable<void> closed_loop_user(state_ptr s, virtual_user* vu) {
  while (steady::now() < s->measure_to) {
    auto login = run_one_login(s, vu);
    co_await std::move(login);
  }
}

// Returns the user to the free list however the login coroutine ends.
class user_lease {
 public:
  user_lease(state_ptr s, virtual_user* vu) : s_(std::move(s)), vu_(vu) {}
  ~user_lease() { s_->give_back(vu_); }
  user_lease(const user_lease&) = delete;
  user_lease& operator=(const user_lease&) = delete;

 private:
  state_ptr s_;
  virtual_user* vu_;
};

asio::awaitable<void> open_loop_login(state_ptr s, virtual_user* vu) {
  const user_lease lease(s, vu);
  auto login = run_one_login(s, vu);
  co_await std::move(login);
}

// Starts a login every 1/rate seconds on a fixed schedule (no drift, no coordinated omission):
// a start that finds every user busy is a failure of step "start", reason "saturated".
asio::awaitable<void> open_loop_scheduler(state_ptr s) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  const std::chrono::duration<double> interval(1.0 / *s->options.rate);
  for (std::uint64_t k = 0;; ++k) {
    const auto at =
        s->t0 + std::chrono::duration_cast<steady::duration>(interval * static_cast<double>(k));
    if (at >= s->measure_to) break;
    timer.expires_at(at);
    auto waiting = timer.async_wait(tuple_awaitable);
    co_await std::move(waiting);
    virtual_user* vu = s->take_user();
    if (vu == nullptr) {
      s->record_failure(step::start, "saturated", steady::now());
      continue;
    }
    spawn_task(s, open_loop_login(s, vu));
  }
}

// --- idle connections ---------------------------------------------------------------------------

struct idle_state {
  std::vector<std::unique_ptr<beast::tcp_stream>> streams;  // null: not established
  std::atomic<std::size_t> next{0};
  tcp::resolver::results_type endpoints;
  std::string host_header;
  std::string target;
  std::chrono::milliseconds timeout{5'000};
  std::atomic<unsigned> closed_early{0};
  task_counter tasks;

  std::mutex mutex;  // guards failures
  reason_counts failures;
  void fail(std::string_view reason) {
    std::lock_guard lock(mutex);
    auto it = failures.find(reason);
    if (it == failures.end()) it = failures.emplace(std::string(reason), 0).first;
    ++it->second;
  }
};
using idle_ptr = std::shared_ptr<idle_state>;

std::string_view stream_reason(const boost::system::error_code& ec) noexcept {
  return ec == beast::error::timeout ? "timeout" : "connection_lost";
}

// Takes connection indices until none is left: connect, one GET, read the whole response, keep
// the socket.
asio::awaitable<void> open_idle_connections(idle_ptr s) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    const std::size_t i = s->next.fetch_add(1);
    if (i >= s->streams.size()) co_return;
    auto stream = std::make_unique<beast::tcp_stream>(executor);
    stream->expires_after(s->timeout);
    auto connecting = stream->async_connect(s->endpoints, tuple_awaitable);
    auto [cec, endpoint] = co_await std::move(connecting);
    (void)endpoint;
    if (cec) {
      s->fail(cec == beast::error::timeout ? "timeout" : "connect_failed");
      continue;
    }
    http::request<http::empty_body> request{http::verb::get, s->target, 11};
    request.set(http::field::host, s->host_header);
    request.set(http::field::user_agent, user_agent);
    request.keep_alive(true);
    auto writing = http::async_write(*stream, request, tuple_awaitable);
    auto [wec, written] = co_await std::move(writing);
    (void)written;
    if (wec) {
      s->fail(stream_reason(wec));
      continue;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    auto reading = http::async_read(*stream, buffer, parser, tuple_awaitable);
    auto [rec, read] = co_await std::move(reading);
    (void)read;
    stream->expires_never();
    if (rec) {
      s->fail(stream_reason(rec));
      continue;
    }
    const auto& response = parser.get();
    if (response.result_int() < 200 || response.result_int() > 299) {
      s->fail("status_" + std::to_string(response.result_int()));
      continue;
    }
    if (!response.keep_alive()) {
      s->fail("not_keep_alive");
      continue;
    }
    s->streams[i] = std::move(stream);
  }
}

// Waits on an established connection until `until`: anything arriving before (a close by the
// server, usually its idle timeout) means it did not stay open for the whole hold.
asio::awaitable<void> hold_idle_connection(idle_ptr s, std::size_t i, steady::time_point until) {
  beast::tcp_stream& stream = *s->streams[i];
  stream.expires_at(until);
  std::array<char, 1> byte{};
  auto reading = stream.async_read_some(asio::buffer(byte), tuple_awaitable);
  auto [ec, n] = co_await std::move(reading);
  (void)n;
  if (ec != beast::error::timeout) s->closed_early.fetch_add(1);
}

template <class Awaitable>
void spawn_idle_task(asio::any_io_executor executor, const idle_ptr& s, Awaitable&& task) {
  s->tasks.add();
  asio::co_spawn(std::move(executor), std::forward<Awaitable>(task), [s](std::exception_ptr e) {
    if (e) s->fail("exception");
    s->tasks.done();
  });
}

}  // namespace

unsigned long long raise_open_file_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<unsigned long long>(limit.rlim_cur);
}

login_run_result run_logins(const driver_options& options) {
  login_run_result out;
  const auto start = parse_target(options.start_url);
  if (!start) {
    out.error = "--start-url is not an absolute http(s) URL";
    return out;
  }
  std::optional<target_url> session;
  if (!options.session_url.empty()) {
    session = parse_target(options.session_url);
    if (!session) {
      out.error = "--session-url is not an absolute http(s) URL";
      return out;
    }
  }
  auto tls = net::make_client_tls_context(options.ca_file);
  if (!tls) {
    out.error =
        "cannot set up TLS with --ca-file " + options.ca_file + ": " + tls.error().message();
    return out;
  }
  net::client_options copts;
  copts.tls = *tls;
  copts.allow_plain_http_loopback = true;
  const std::chrono::milliseconds timeout(options.timeout_ms);
  copts.connect_timeout = timeout;
  copts.read_timeout = timeout;
  copts.total_timeout = timeout;
  // One request at a time per user: never more connections per origin than users.
  copts.max_connections_per_origin = options.users;
  copts.user_agent = std::string(user_agent);

  asio::io_context io(static_cast<int>(options.threads));
  auto work = asio::make_work_guard(io);
  auto state = std::make_shared<login_state>(io.get_executor(), options, copts);
  state->flow.start = *start;
  state->flow.callback_path = options.callback_path;
  state->flow.expect_final_status = options.expect_final_status;
  state->flow.max_hops = options.max_hops;
  state->flow.require_login = !options.keep_cookies;
  state->session = session;
  const auto warmup =
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(options.warmup_s));
  const auto duration = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(options.duration_s));
  state->t0 = steady::now();
  state->measure_from = state->t0 + warmup;
  state->measure_to = state->measure_from + duration;

  if (options.rate) {
    spawn_task(state, open_loop_scheduler(state));
  } else {
    for (auto& user : state->users)
      spawn_task(state, closed_loop_user(state, &user));
  }
  {
    io_threads threads(io, options.threads);
    // Every request is bounded by the timeout, a login by max_hops + 2 requests; the slack
    // covers a machine under load.
    const auto drain_limit =
        state->measure_to + timeout * (options.max_hops + 3) + std::chrono::seconds(5);
    const bool drained = state->tasks.wait_until(drain_limit);
    // Pooled connections are closed once no io thread runs: their handlers never race the close.
    work.reset();
    threads.stop();
    state->client.shutdown();
    std::lock_guard lock(state->mutex);
    if (!drained) {
      out.error = "logins still running after the drain deadline";
    } else if (!state->unexpected.empty()) {
      out.error = "unexpected error: " + state->unexpected;
    }
    out.stats = state->stats;
  }
  out.ok = out.error.empty();
  out.info.duration_s = options.duration_s;
  out.info.warmup_s = options.warmup_s;
  out.info.users = options.users;
  out.info.rate = options.rate;
  out.info.threads = options.threads;
  out.info.connections_opened = state->client.connections_opened();
  return out;
}

idle_run_result run_idle(const driver_options& options, std::ostream& progress) {
  idle_run_result out;
  out.result.requested = options.idle_connections;
  out.result.hold_s = options.hold_s;
  const auto url = parse_target(options.idle_url);
  if (!url || url->https) {
    out.error = "--idle-url is not an absolute http:// URL";
    return out;
  }
  asio::io_context io(static_cast<int>(options.threads));
  auto work = asio::make_work_guard(io);
  auto state = std::make_shared<idle_state>();
  state->streams.resize(options.idle_connections);
  state->timeout = std::chrono::milliseconds(options.timeout_ms);
  state->target = url->path;
  if (const auto q = url->href.find('?'); q != std::string::npos)
    state->target += url->href.substr(q);
  state->host_header = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  if (url->port != 80) state->host_header += ":" + std::to_string(url->port);
  {
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    state->endpoints = resolver.resolve(url->host, std::to_string(url->port), ec);
    if (ec || state->endpoints.empty()) {
      out.error = "cannot resolve " + url->host + ": " + ec.message();
      return out;
    }
  }

  const unsigned openers = std::min(options.connect_concurrency, options.idle_connections);
  // A tcp_stream's timer and I/O handlers must not run concurrently (--threads > 1): each opener
  // and the streams it opens live on one strand.
  for (unsigned i = 0; i < openers; ++i)
    spawn_idle_task(asio::make_strand(io), state, open_idle_connections(state));
  io_threads threads(io, options.threads);
  const std::chrono::milliseconds timeout(options.timeout_ms);
  const auto rounds = (options.idle_connections + openers - 1) / openers;
  const auto open_limit = steady::now() + timeout * 3 * (rounds + 1) + std::chrono::seconds(10);
  if (!state->tasks.wait_until(open_limit)) {
    threads.stop();
    out.error = "connections still opening after the deadline";
    return out;
  }
  unsigned established = 0;
  for (const auto& stream : state->streams)
    if (stream) ++established;
  out.result.established = established;
  progress << "established " << established << std::endl;

  const auto hold =
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(options.hold_s));
  const auto until = steady::now() + hold;
  for (std::size_t i = 0; i < state->streams.size(); ++i)
    if (state->streams[i]) {
      spawn_idle_task(state->streams[i]->get_executor(), state,
                      hold_idle_connection(state, i, until));
    }
  const bool held = state->tasks.wait_until(until + timeout + std::chrono::seconds(10));
  work.reset();
  threads.stop();
  if (!held) out.error = "the hold did not end in time";
  out.result.closed_early = state->closed_early.load();
  {
    std::lock_guard lock(state->mutex);
    out.result.failures = state->failures;
  }
  out.ok = out.error.empty();
  return out;
}

}  // namespace oidc::loadtest
