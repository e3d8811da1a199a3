// SPDX-License-Identifier: Apache-2.0
// oidc-mock-idp: a mock Entra tenant for development, tests and load tests.
//   oidc-mock-idp --config config/mock-idp.json
//   oidc-mock-idp --generate-dev-pki var/dev
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "dev_pki.hpp"
#include "identity_provider.hpp"
#include "mock_config.hpp"
#include "oidc/net/http_server.hpp"
#include "oidc/random.hpp"

namespace {

namespace asio = boost::asio;
using oidc::mock::identity_provider;

constexpr std::chrono::milliseconds kShutdownDrain{5'000};

asio::awaitable<void> stop_servers(oidc::net::http_server* https, oidc::net::http_server* plain,
                                   asio::steady_timer* rotation) {
  rotation->cancel();
  // Named awaitables: GCC 12 miscompiles temporaries inside co_await expressions.
  auto https_done = https->shutdown(kShutdownDrain);
  co_await std::move(https_done);
  if (plain != nullptr) {
    auto plain_done = plain->shutdown(kShutdownDrain);
    co_await std::move(plain_done);
  }
}

// Periodic rotation (keys.rotate_every_seconds); POST /admin/rotate-keys rotates on demand.
asio::awaitable<void> rotation_loop(identity_provider* idp, asio::steady_timer* timer,
                                    std::chrono::seconds every) {
  for (;;) {
    timer->expires_after(every);
    auto wait = timer->async_wait(asio::as_tuple(asio::use_awaitable));
    auto [ec] = co_await std::move(wait);
    if (ec) co_return;
    const auto s = idp->rotate_keys();
    std::cout << "oidc-mock-idp: published key " << s.new_kid << "; it signs from "
              << s.signs_from.time_since_epoch().count() << std::endl;
  }
}

int usage(int code) {
  std::cerr << "usage: oidc-mock-idp --config FILE\n"
               "       oidc-mock-idp --generate-dev-pki DIR   (writes ca.pem, cert.pem, key.pem "
               "if missing)\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::string> config_path;
  std::optional<std::string> pki_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--generate-dev-pki" && i + 1 < argc) {
      pki_dir = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      return usage(0);
    } else {
      return usage(2);
    }
  }
  try {
    if (pki_dir) {
      const bool wrote = oidc::mock::ensure_dev_pki(*pki_dir);
      std::cout << "oidc-mock-idp: " << (wrote ? "wrote" : "kept existing") << " dev PKI in "
                << *pki_dir << " (trust " << *pki_dir << "/ca.pem)" << std::endl;
      if (!config_path) return 0;
    }
    if (!config_path) return usage(2);

    auto loaded = oidc::mock::load_mock_config(*config_path);
    if (!loaded.config) {
      for (const auto& e : loaded.errors)
        std::cerr << "oidc-mock-idp: config: " << e << '\n';
      return 2;
    }
    const oidc::mock::mock_idp_config& cfg = *loaded.config;

    asio::io_context io;
    oidc::openssl_random rng;
    identity_provider idp(
        cfg,
        [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); },
        rng);
    oidc::net::request_handler handler = [&idp](oidc::net::request req,
                                                oidc::net::connection_info conn) {
      return idp.handle(std::move(req), conn);
    };

    auto tls = oidc::net::make_server_tls_context(cfg.cert_file.string(), cfg.key_file.string());
    if (!tls) {
      std::cerr << "oidc-mock-idp: cannot load " << cfg.cert_file << " / " << cfg.key_file << " ("
                << tls.error().message() << "); create them with --generate-dev-pki DIR\n";
      return 1;
    }
    oidc::net::http_server https(io, handler);
    oidc::net::listener_options options;
    options.address = cfg.listen_address;
    options.port = cfg.https_port;
    options.tls = *tls;
    options.idle_timeout = cfg.idle_timeout;
    auto bound = https.listen(options);
    if (!bound) {
      std::cerr << "oidc-mock-idp: cannot listen on " << cfg.listen_address << ':' << cfg.https_port
                << " (" << bound.error().message() << ")\n";
      return 1;
    }
    std::unique_ptr<oidc::net::http_server> plain;
    if (cfg.http_port) {
      plain = std::make_unique<oidc::net::http_server>(io, handler);
      oidc::net::listener_options plain_options = options;
      plain_options.tls.reset();
      plain_options.port = *cfg.http_port;
      auto plain_bound = plain->listen(plain_options);
      if (!plain_bound) {
        std::cerr << "oidc-mock-idp: cannot listen on " << cfg.listen_address << ':'
                  << *cfg.http_port << " (" << plain_bound.error().message() << ")\n";
        return 1;
      }
      std::cout << "oidc-mock-idp: plain HTTP on http://" << plain_bound->address().to_string()
                << ':' << plain_bound->port() << std::endl;
    }
    std::cout << "oidc-mock-idp: listening on https://" << bound->address().to_string() << ':'
              << bound->port() << std::endl;
    for (const auto& t : cfg.tenants) {
      std::cout << "oidc-mock-idp: tenant " << t.id << ": " << cfg.base_url << '/' << t.id
                << "/v2.0/.well-known/openid-configuration" << std::endl;
    }

    asio::steady_timer rotation(io);
    if (cfg.keys.rotate_every.count() > 0) {
      asio::co_spawn(io, rotation_loop(&idp, &rotation, cfg.keys.rotate_every), asio::detached);
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      std::cout << "oidc-mock-idp: stopping" << std::endl;
      asio::co_spawn(io, stop_servers(&https, plain.get(), &rotation), asio::detached);
    });

    const unsigned n = std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i)
      threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : threads)
      t.join();
    std::cout << "oidc-mock-idp: stopped" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "oidc-mock-idp: " << e.what() << '\n';
    return 1;
  }
}
