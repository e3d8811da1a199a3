// SPDX-License-Identifier: Apache-2.0
// oidc-callback-server: `--config FILE` runs the server, `--check-config` validates and exits,
// `import-accounts --config FILE CSV` loads accounts into the SQLite account database.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "accounts.hpp"
#include "app.hpp"
#include "blocking_pool.hpp"
#include "log_writer.hpp"
#include "net_metrics.hpp"
#include "oidc/config.hpp"
#include "oidc/json.hpp"
#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"
#include "reload.hpp"
#include "revocations.hpp"
#include "runtime_secrets.hpp"

namespace {

namespace asio = boost::asio;
namespace net = oidc::net;
using oidc::server::app;
using oidc::server::log_writer;

int usage() {
  std::cerr << "usage: oidc-callback-server --config FILE [--check-config]\n"
               "       oidc-callback-server import-accounts --config FILE ACCOUNTS.csv\n";
  return 2;
}

// One JSON line per request (what operators need, never codes, tokens, verifiers or cookies),
// built by hand: a json::object and its serializer per request showed
// up in the /api/verify profile (docs/benchmarks.md).
void access_log(log_writer& log, const oidc::server::handled_request& h, std::string_view method,
                std::chrono::nanoseconds duration) {
  std::string line;
  line.reserve(192);
  line += R"({"ts":)";
  line += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
  line += R"(,"request_id":")";
  oidc::append_json_string_content(line, h.request_id);
  line += R"(","method":")";
  oidc::append_json_string_content(line, method);
  line += R"(","route":")";
  oidc::append_json_string_content(line, oidc::metrics::label(h.route));
  line += R"(","status":)";
  line += std::to_string(h.response.result_int());
  line += R"(,"duration_us":)";
  line += std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(duration).count());
  if (h.upstream.count() > 0) {
    line += R"(,"upstream_us":)";
    line +=
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(h.upstream).count());
  }
  if (!h.organisation.empty()) {
    line += R"(,"org":")";
    oidc::append_json_string_content(line, h.organisation);
    line += '"';
  }
  if (h.reason != oidc::auth_error::ok) {
    line += R"(,"reason":")";
    oidc::append_json_string_content(line, oidc::label(h.reason));
    line += '"';
  }
  line += "}\n";
  log.append(line);
}

// A free coroutine taking its arguments by value (GCC 12: no capturing coroutine lambdas).
// `log` is null when logging.access_log is off.
asio::awaitable<net::response> serve(app* a, log_writer* log, net::request req,
                                     net::connection_info conn) {
  const auto start = std::chrono::steady_clock::now();
  // Only the method of the request reaches the log: a static name, or a copy of an unknown
  // method's token (a request of its own would throw on verb::unknown).
  const auto verb = req.method();
  const std::string unknown_method =
      verb == boost::beast::http::verb::unknown ? std::string(req.method_string()) : std::string();
  auto op = a->handle(std::move(req), conn);
  auto handled = co_await std::move(op);
  if (log) {
    const std::string_view method = verb == boost::beast::http::verb::unknown
                                        ? std::string_view(unknown_method)
                                        : std::string_view(boost::beast::http::to_string(verb));
    access_log(*log, handled, method, std::chrono::steady_clock::now() - start);
  }
  co_return std::move(handled.response);
}

// The admin listener (metrics.admin_listen): metrics and health only, never the login routes.
asio::awaitable<net::response> serve_admin(app* a, net::request req, net::connection_info) {
  const auto start = std::chrono::steady_clock::now();
  const auto target = std::string_view(req.target());
  const auto path = target.substr(0, target.find('?'));
  const bool get = req.method() == boost::beast::http::verb::get ||
                   req.method() == boost::beast::http::verb::head;
  net::response res;
  auto route = oidc::metrics::route::not_found;
  if (get && path == "/metrics") {
    route = oidc::metrics::route::metrics;
    res = a->metrics_response(req.version(), req.keep_alive());
  } else {
    const bool healthz = path == "/healthz";
    const bool readyz = path == "/readyz";
    route = healthz              ? oidc::metrics::route::healthz
            : readyz             ? oidc::metrics::route::readyz
            : path == "/metrics" ? oidc::metrics::route::metrics
                                 : oidc::metrics::route::not_found;
    res.version(req.version());
    res.set(boost::beast::http::field::content_type, "text/plain; charset=utf-8");
    res.set(boost::beast::http::field::cache_control, "no-store");
    if (route != oidc::metrics::route::not_found && !get) {
      // As on the main listener: GET and HEAD only.
      res.result(405);
      res.set(boost::beast::http::field::allow, "GET, HEAD");
      res.body() = "method not allowed\n";
    } else if (healthz) {
      res.result(200);
      res.body() = "ok\n";
    } else if (readyz) {
      res.result(a->ready() ? 200 : 503);
      res.body() = a->ready() ? "ready\n" : "starting\n";
    } else {
      res.result(404);
      res.body() = "not found\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
  }
  const std::string_view method(req.method_string().data(), req.method_string().size());
  a->metrics().http_request(route, oidc::metrics::method_from(method), res.result_int(),
                            std::chrono::steady_clock::now() - start);
  co_return res;
}

void raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

asio::awaitable<void> shut_down(net::http_server* server, net::http_server* admin,
                                std::chrono::milliseconds drain, net::http_client* client,
                                asio::io_context* io) {
  auto op = server->shutdown(drain);
  co_await std::move(op);
  if (admin) {
    auto admin_op = admin->shutdown(std::chrono::milliseconds(0));
    co_await std::move(admin_op);
  }
  client->shutdown();
  io->stop();
}

// SIGHUP: re-reads the configuration file and its secrets on the blocking pool (never an I/O
// thread), validates them as a whole, and swaps the app's snapshot; a refused configuration
// leaves the running one serving.
struct reloader {
  log_writer* log;
  asio::signal_set* signals;
  oidc::server::blocking_pool* pool;
  app* application;
  std::string config_path;
  std::shared_ptr<const oidc::server_config> startup;  // restart-only settings stay as these
  std::mutex mutex;                                    // one reload at a time

  void arm() {
    signals->async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      asio::post(pool->get_executor(), [this] { reload(); });
      arm();
    });
  }

  void reload() {
    std::lock_guard lock(mutex);
    auto outcome =
        oidc::server::load_snapshot(config_path, *startup, oidc::server::system_secret_reader());
    if (outcome.snapshot) application->replace_snapshot(outcome.snapshot);
    std::string line = oidc::server::reload_log_line(outcome);
    line += '\n';
    log->write_now(line);
  }
};

int import_accounts(const oidc::server_config& config, const std::string& csv) {
  if (config.accounts.database != oidc::account_database_t::sqlite) {
    std::cerr << "import-accounts: the configured account database is not SQLite\n";
    return 1;
  }
  try {
    auto db = oidc::server::account_database::open(config.accounts.sqlite_path);
    std::vector<std::string> orgs;
    for (const auto& o : config.organisations())
      orgs.push_back(o.name);
    auto r = oidc::server::import_accounts_csv_file(*db, csv, orgs);
    std::cout << oidc::server::format_import_report(r);
    return r.ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "import-accounts: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  bool import = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "import-accounts" && i == 1) {
      import = true;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else if (!arg.starts_with("-")) {
      positional.emplace_back(arg);
    } else {
      return usage();
    }
  }
  if (config_path.empty() || (import && positional.size() != 1) || (!import && !positional.empty()))
    return usage();

  auto loaded = oidc::server::load_config_file(config_path);
  if (!loaded) {
    std::cerr << config_path << ": configuration refused:\n" << oidc::format_errors(loaded.error());
    return 1;
  }
  std::shared_ptr<const oidc::server_config> config = *loaded;
  if (import) return import_accounts(*config, positional[0]);

  auto secrets = oidc::server::load_runtime_secrets(*config, oidc::server::system_secret_reader());
  if (!secrets) {
    std::cerr << config_path << ": secrets refused:\n" << oidc::format_errors(secrets.error());
    return 1;
  }
  // The development cookie mode drops Secure and __Host-: loopback listeners only (checked by
  // the parser, checked again here before anything binds).
  if (config->server.cookie_mode == oidc::cookie_mode_t::development) {
    for (const auto& l : config->server.listen) {
      if (!l.loopback) {
        std::cerr << "refusing the development cookie mode on non-loopback listener " << l.address
                  << "\n";
        return 1;
      }
    }
  }
  if (check_only) {
    std::cout << config_path << ": configuration OK (" << config->organisations().size()
              << " organisations)\n";
    return 0;
  }

  raise_nofile_limit();
  // A log reader that went away (a crashed shipper on the other end of stderr) must not kill the
  // server: writes then fail with EPIPE and log_writer drops them. Sockets send with MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  const unsigned threads = config->server.io_threads != 0
                               ? config->server.io_threads
                               : std::max(1u, std::thread::hardware_concurrency());
  // One io_context per thread: `io` (the listeners, upstream calls, timers and the first share
  // of the connections) on this thread, and one more per further thread for its share of the
  // connections, which then need no strand (docs/benchmarks.md).
  asio::io_context io(1);
  std::vector<std::unique_ptr<asio::io_context>> connection_contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  std::vector<asio::any_io_executor> connection_executors{io.get_executor()};
  for (unsigned i = 1; i < threads; ++i) {
    connection_contexts.push_back(std::make_unique<asio::io_context>(1));
    keep_running.push_back(asio::make_work_guard(*connection_contexts.back()));
    connection_executors.push_back(connection_contexts.back()->get_executor());
  }

  std::string ca_file = config->upstream.ca_file ? config->upstream.ca_file->string() : "";
  auto client_tls = net::make_client_tls_context(ca_file);
  if (!client_tls) {
    std::cerr << "cannot build the upstream TLS context (upstream.ca_file)\n";
    return 1;
  }
  net::client_options copts;
  copts.tls = *client_tls;
  copts.allow_plain_http_loopback = config->upstream.allow_plain_http_loopback;
  copts.connect_timeout = config->timeouts.upstream_connect;
  copts.read_timeout = config->timeouts.upstream_read;
  copts.total_timeout = config->timeouts.upstream_total;
  copts.max_idle_age = config->timeouts.upstream_pool_idle;
  copts.max_response_bytes = config->limits.max_upstream_response_bytes;
  copts.max_connections_per_origin = config->limits.max_upstream_connections_per_host;
  auto client = std::make_shared<net::http_client>(io.get_executor(), copts);

  oidc::server::blocking_pool pool(2);
  oidc::server::app_dependencies deps;
  deps.config = config;
  deps.secrets = std::move(*secrets);
  deps.client = client;
  deps.blocking = &pool;
  deps.demo_page = config->server.cookie_mode == oidc::cookie_mode_t::development;
  if (config->accounts.database == oidc::account_database_t::sqlite) {
    try {
      auto db = oidc::server::account_database::open(config->accounts.sqlite_path);
      deps.accounts = std::make_shared<oidc::server::sqlite_account_directory>(db);
      oidc::server::revocation_cache_options ropts;
      ropts.ttl = config->timeouts.revocation_cache_ttl;
      deps.revocations = std::make_shared<oidc::server::revocation_store>(
          std::make_shared<oidc::server::sqlite_revocation_backend>(db), ropts);
    } catch (const std::exception& e) {
      std::cerr << "account database: " << e.what() << "\n";
      return 1;
    }
  } else {
    std::cerr << "accounts.database \"postgres\" is not supported by this build yet\n";
    return 1;
  }
  app application(std::move(deps));
  log_writer log(STDERR_FILENO, config->logging.access_log_flush_interval.count() == 0
                                    ? 0
                                    : config->logging.access_log_buffer_bytes);
  log_writer* access = config->logging.access_log ? &log : nullptr;
  application.metrics().set_log_dropped_source([&log] { return log.dropped_bytes(); });
  // Installed before any listener reports itself, so a SIGHUP after "listening" is handled.
  asio::signal_set hangup(io, SIGHUP);
  reloader reload{&log, &hangup, &pool, &application, config_path, config, {}};
  reload.arm();

  app* a = &application;
  oidc::server::listener_metrics connection_events(application.metrics());
  net::http_server server(
      io,
      [a, access](net::request req, net::connection_info conn) {
        return serve(a, access, std::move(req), conn);
      },
      &connection_events);
  server.spread_connections(connection_executors);
  application.metrics().add_open_connections_source(
      [&server] { return server.open_connections(); });
  for (const auto& l : config->server.listen) {
    net::listener_options lo;
    lo.address = l.address;
    lo.port = l.port;
    lo.max_header_bytes = config->limits.max_header_bytes;
    lo.max_body_bytes = config->limits.max_body_bytes;
    lo.max_connections = config->limits.max_connections;
    lo.header_read_timeout = config->timeouts.header_read;
    lo.body_read_timeout = config->timeouts.body_read;
    lo.idle_timeout = config->timeouts.idle_keep_alive;
    if (l.tls) {
      auto tls = net::make_server_tls_context(l.tls->cert_file.string(), l.tls->key_file.string());
      if (!tls) {
        std::cerr << "cannot load TLS files for listener " << l.address << ":" << l.port << "\n";
        return 1;
      }
      lo.tls = *tls;
    }
    auto bound = server.listen(lo);
    if (!bound) {
      std::cerr << "cannot listen on " << l.address << ":" << l.port << ": "
                << bound.error().message() << "\n";
      return 1;
    }
    if (config->server.cookie_mode == oidc::cookie_mode_t::development &&
        !bound->address().is_loopback()) {
      std::cerr << "refusing the development cookie mode on non-loopback " << bound->address()
                << "\n";
      return 1;
    }
    // One write per line: readers of the log never see a line in pieces.
    const std::string line = R"({"event":"listening","address":")" + bound->address().to_string() +
                             R"(","port":)" + std::to_string(bound->port()) +
                             (l.tls ? R"(,"tls":true})" : "}") + "\n";
    log.write_now(line);
  }
  std::unique_ptr<net::http_server> admin;
  if (const auto& al = config->metrics.admin_listen) {
    admin = std::make_unique<net::http_server>(
        io,
        [a](net::request req, net::connection_info conn) {
          return serve_admin(a, std::move(req), conn);
        },
        &connection_events);
    net::listener_options lo;
    lo.address = al->address;
    lo.port = al->port;
    lo.max_header_bytes = config->limits.max_header_bytes;
    lo.max_body_bytes = config->limits.max_body_bytes;
    lo.max_connections = 64;  // scrapers, not users
    lo.header_read_timeout = config->timeouts.header_read;
    lo.body_read_timeout = config->timeouts.body_read;
    lo.idle_timeout = config->timeouts.idle_keep_alive;
    auto bound = admin->listen(lo);
    if (!bound) {
      std::cerr << "cannot listen on " << al->address << ":" << al->port
                << " (metrics.admin_listen): " << bound.error().message() << "\n";
      return 1;
    }
    const std::string line = R"({"event":"listening","address":")" + bound->address().to_string() +
                             R"(","port":)" + std::to_string(bound->port()) + R"(,"admin":true})" +
                             "\n";
    log.write_now(line);
  }
  application.set_ready(true);
  oidc::server::housekeeping_control housekeeping(io.get_executor());
  asio::co_spawn(housekeeping.strand,
                 oidc::server::run_housekeeping(&application, &housekeeping,
                                                config->timeouts.revocation_purge_interval, &log),
                 asio::detached);
  // Key sets load in the background (an organisation whose keys are not loaded yet fetches
  // them on first use), then refresh before they expire.
  oidc::server::housekeeping_control key_refresh(io.get_executor());
  asio::co_spawn(
      key_refresh.strand,
      oidc::server::run_key_refresher(&application, &key_refresh, std::chrono::seconds(1)),
      asio::detached);

  oidc::server::housekeeping_control log_flusher(io.get_executor());
  if (access && config->logging.access_log_flush_interval.count() != 0) {
    asio::co_spawn(
        log_flusher.strand,
        oidc::server::run_log_flusher(&log, &log_flusher,
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          config->logging.access_log_flush_interval)),
        asio::detached);
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  const auto drain = config->timeouts.shutdown_drain;
  net::http_server* srv = &server;
  net::http_server* admin_srv = admin.get();
  net::http_client* cli = client.get();
  asio::io_context* iop = &io;
  asio::signal_set* hup = &hangup;
  oidc::server::housekeeping_control* chores = &housekeeping;
  oidc::server::housekeeping_control* refresher = &key_refresh;
  oidc::server::housekeeping_control* flusher = &log_flusher;
  log_writer* logp = &log;
  signals.async_wait([&application, srv, admin_srv, drain, cli, iop, hup, chores, refresher,
                      flusher, logp](const boost::system::error_code& ec, int) {
    if (ec) return;
    hup->cancel();
    chores->stop();
    refresher->stop();
    flusher->stop();
    application.set_ready(false);
    logp->write_now(R"({"event":"shutting_down"})"
                    "\n");
    asio::co_spawn(*iop, shut_down(srv, admin_srv, drain, cli, iop), asio::detached);
  });

  std::vector<std::thread> workers;
  for (auto& context : connection_contexts)
    workers.emplace_back([c = context.get()] { c->run(); });
  io.run();
  // shut_down stopped `io` once every connection had ended: the other contexts are idle.
  keep_running.clear();
  for (auto& context : connection_contexts)
    context->stop();
  for (auto& w : workers)
    w.join();
  pool.join();
  log.write_now(R"({"event":"stopped"})"
                "\n");
  return 0;
}
