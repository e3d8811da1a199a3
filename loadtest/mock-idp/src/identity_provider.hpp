// SPDX-License-Identifier: Apache-2.0
// The mock Entra tenant as a request handler: discovery, JWKS, authorize, token and logout under
// Entra's URL layout, Entra-shaped errors and tokens, a loopback-only admin API, and faults.
// Time and randomness are injected so tests drive expiry and rotation without waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "assertion_verifier.hpp"
#include "entra_error_codes.hpp"
#include "form.hpp"
#include "key_ring.hpp"
#include "mock_config.hpp"
#include "oidc/net/http_server.hpp"
#include "oidc/random.hpp"

namespace oidc::mock {

using clock_fn = std::function<std::chrono::sys_seconds()>;

// Thrown by the handler when the drop fault fires: oidc::net's listener ends the connection
// without writing a response (the client sees connection_lost).
struct drop_connection : net::close_connection {
  const char* what() const noexcept override { return "mock IdP fault: drop the connection"; }
};

class identity_provider {
 public:
  // Generates the first signing key (throws std::runtime_error if OpenSSL cannot). `rng` must
  // outlive the provider and be thread-safe if several threads run the handler.
  identity_provider(mock_idp_config config, clock_fn clock, random_source& rng);

  // The HTTP handler (oidc::net::request_handler). Waits the injected latency, then answers.
  boost::asio::awaitable<net::response> handle(net::request req, net::connection_info conn);

  // Everything handle() does except the latency wait.
  net::response respond(const net::request& req, const net::connection_info& conn);

  std::string issuer(std::string_view tenant) const;
  std::string token_endpoint(std::string_view tenant) const;
  fault_settings faults() const noexcept;
  void set_faults(const fault_settings& f) noexcept;
  rotation_schedule rotate_keys();
  key_ring& keys() noexcept { return keys_; }
  const mock_idp_config& config() const noexcept { return config_; }
  std::size_t stored_codes() const;

 private:
  struct code_entry {
    std::string tenant;
    std::string client_id;
    std::string redirect_uri;
    std::string challenge;  // empty: no PKCE (web clients only)
    std::string nonce;
    std::string scope;
    std::string user_oid;
    std::chrono::sys_seconds expires_at{};
    bool used = false;
  };

  net::response route(const net::request& req, const net::connection_info& conn);
  net::response discovery(const net::request& req, const mock_tenant& t);
  net::response jwks(const net::request& req);
  net::response authorize(const net::request& req, const mock_tenant& t, std::string_view query);
  net::response token(const net::request& req, const mock_tenant& t);
  // Client authentication of a web client (RFC 6749 §2.3): nullopt when it passes.
  std::optional<net::response> authenticate_web_client(const net::request& req,
                                                       const mock_tenant& t,
                                                       const mock_client& client,
                                                       const form_fields& params);
  net::response logout(const net::request& req, const mock_tenant& t, std::string_view query);
  net::response admin(const net::request& req, const net::connection_info& conn,
                      std::string_view path);
  net::response admin_tokens(const net::request& req);
  net::response entra_error(const net::request& req, unsigned status, std::string_view error,
                            aadsts code, std::string_view description);
  net::response error_page(const net::request& req, unsigned status, aadsts code,
                           std::string_view description);
  std::string sign(const boost::json::object& payload, std::chrono::sys_seconds now);
  bool draw(std::uint32_t parts_per_million);
  std::string guid();

  mock_idp_config config_;
  clock_fn clock_;
  random_source& rng_;
  key_ring keys_;
  std::atomic<std::int64_t> latency_ms_{0};
  std::atomic<std::uint32_t> error_ppm_{0};
  std::atomic<std::uint32_t> drop_ppm_{0};
  mutable std::mutex codes_mutex_;
  std::unordered_map<std::string, code_entry> codes_;
  std::size_t inserts_since_prune_ = 0;
  // Certificates of web clients by "{tenant}/{client_id}", parsed once at construction.
  std::unordered_map<std::string, client_certificate> certificates_;
  assertion_replay_cache assertion_replays_;
};

}  // namespace oidc::mock
