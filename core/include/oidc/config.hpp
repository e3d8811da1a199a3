// SPDX-License-Identifier: Apache-2.0
// The server's configuration: plain structs, and a parser/validator that turns a JSON document
// into an immutable snapshot or into every mistake it found, each naming its field path.
// Secrets are referenced (file path or environment variable name), never held: core does no
// I/O, the server resolves them. docs/configuration.md is the reference for every field.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include "oidc/claims.hpp"
#include "oidc/jwk.hpp"
#include "oidc/sealed_cookie.hpp"

namespace oidc {

// One mistake in a configuration file. Rendered as `path: problem (got value)`, e.g.
// `organisations[0].tenant_id: must be a GUID (got "abc")`.
struct config_error {
  std::string path;     // "organisations[0].tenant_id"; empty for the document as a whole
  std::string problem;  // what is wrong and what would be right
  std::string got;      // the offending value as JSON text, shortened; empty for secrets
  bool operator==(const config_error&) const = default;
};

std::string to_string(const config_error& e);
// One error per line, in the order they were found.
std::string format_errors(std::span<const config_error> errors);

// Lets boost::system::result<T, std::vector<config_error>>::value() throw: a std::system_error
// carrying auth_error::config_invalid whose what() lists every error.
[[noreturn]] void throw_exception_from_error(const std::vector<config_error>& errors,
                                             const boost::source_location& loc);

// Where a secret comes from. The server reads it when it loads the snapshot.
struct secret_ref {
  enum class source : std::uint8_t { file, env };
  source kind = source::file;
  std::string name;  // absolute or config-relative-resolved path, or environment variable name
  bool operator==(const secret_ref&) const = default;
};

// Decodes an AES-256 key as stored in a secret: 64 hex digits or 43 base64url characters
// (unpadded), surrounding whitespace ignored. nullopt for anything else. The caller wipes the
// result (OPENSSL_cleanse) when done with it.
std::optional<std::array<std::uint8_t, 32>> decode_secret_key_32(std::string_view text) noexcept;

// An IPv4 or IPv6 address in network byte order (IPv4 in the first four bytes).
struct ip_address {
  enum class family_t : std::uint8_t { v4, v6 };
  family_t family = family_t::v4;
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const ip_address&) const = default;
};

// Dotted-quad IPv4 or RFC 4291 IPv6 text (no brackets, no zone id).
std::optional<ip_address> parse_ip_address(std::string_view text) noexcept;
// 127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.0.0.0/104.
bool is_loopback(const ip_address& a) noexcept;

struct ip_network {
  ip_address base;
  unsigned prefix_length = 0;
  // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, as dual-stack sockets report IPv4 peers) match
  // IPv4 networks.
  bool contains(const ip_address& a) const noexcept;
  bool operator==(const ip_network&) const = default;
};

// "10.0.0.0/8", "2001:db8::/32", or one address (a full-length prefix). Host bits beyond the
// prefix must be zero, so "10.0.0.1/8" (a likely typo) is refused.
std::optional<ip_network> parse_ip_network(std::string_view text) noexcept;

using config_duration = std::chrono::milliseconds;

struct tls_files {
  std::filesystem::path cert_file;  // PEM chain, leaf first
  std::filesystem::path key_file;   // PEM private key (a secret: the server reads it)
  bool operator==(const tls_files&) const = default;
};

struct listener_config {
  std::string address;     // an IP literal, or "localhost" (every loopback address)
  std::uint16_t port = 0;  // 0: any free port (tests)
  std::optional<tls_files> tls;
  bool loopback = false;  // derived: 127.0.0.0/8, ::1 or localhost
  bool operator==(const listener_config&) const = default;
};

enum class cookie_mode_t : std::uint8_t {
  secure,       // __Host- prefix, Secure, HttpOnly, SameSite=Lax
  development,  // no prefix, no Secure: plain-HTTP loopback demos only
};

struct server_settings {
  std::vector<listener_config> listen;
  std::string base_domain;           // "example.com": the organisation is the Host's first label
  std::string default_organisation;  // empty: none; used when the Host names no organisation
  std::vector<ip_network> trusted_proxies;  // peers whose X-Forwarded-Host/-Proto are believed
  unsigned io_threads = 0;                  // 0: one per hardware thread
  std::string public_origin;                // empty: none; else a normalised origin
  cookie_mode_t cookie_mode = cookie_mode_t::secure;
  std::vector<std::string> allowed_return_origins;  // normalised origins (scheme://host[:port])

  bool is_trusted_proxy(const ip_address& peer) const noexcept;
  bool operator==(const server_settings&) const = default;
};

struct timeouts_config {
  config_duration header_read = std::chrono::seconds(10);
  config_duration body_read = std::chrono::seconds(10);
  config_duration idle_keep_alive = std::chrono::seconds(75);
  config_duration upstream_connect = std::chrono::seconds(5);
  config_duration upstream_read = std::chrono::seconds(10);
  config_duration upstream_total = std::chrono::seconds(15);
  config_duration upstream_pool_idle = std::chrono::seconds(30);
  config_duration shutdown_drain = std::chrono::seconds(20);
  config_duration login_state_ttl = std::chrono::minutes(10);
  config_duration session_lifetime = std::chrono::hours(8);
  config_duration revocation_cache_ttl = std::chrono::seconds(30);
  config_duration revocation_purge_interval = std::chrono::minutes(10);
  bool operator==(const timeouts_config&) const = default;
};

struct limits_config {
  std::size_t max_header_bytes = 16 * 1024;  // request line and headers together (431 beyond)
  std::size_t max_body_bytes = 64 * 1024;    // 413 beyond
  std::size_t max_connections = 10000;
  std::size_t max_token_bytes = 16 * 1024;
  std::size_t max_upstream_response_bytes = 1024 * 1024;
  std::size_t max_upstream_connections_per_host = 32;
  unsigned max_pending_logins = 3;  // login-state cookies per browser; the oldest is dropped
  bool operator==(const limits_config&) const = default;
};

struct session_signing_key {
  std::string kid;  // empty: the server uses the key's RFC 7638 thumbprint
  std::filesystem::path private_key_file;
  bool operator==(const session_signing_key&) const = default;
};

struct session_config {
  std::string issuer;                                     // the iss of session tokens
  config_duration clock_skew = std::chrono::seconds(30);  // between instances (session_signer)
  // Oldest first, as session_signer takes them: the last signs; all verify and are published.
  std::vector<session_signing_key> signing_keys;
  bool operator==(const session_config&) const = default;
};

struct cookie_key_config {
  cookie_key_id id = 0;  // the byte written into each sealed cookie to pick the key that opens it
  secret_ref secret;     // 32 bytes: see decode_secret_key_32
  bool operator==(const cookie_key_config&) const = default;
};

struct cookies_config {
  // Oldest first, as cookie_key_ring::add takes them: the last seals; all open.
  std::vector<cookie_key_config> keys;
  bool operator==(const cookies_config&) const = default;
};

enum class account_mode_t : std::uint8_t {
  directory,  // the user needs an account of the organisation in the account database
  tenant,     // any user the organisation's tenant signs in
};
enum class account_database_t : std::uint8_t { sqlite, postgres };

struct accounts_config {
  account_mode_t mode = account_mode_t::directory;           // default for organisations
  account_database_t database = account_database_t::sqlite;  // accounts and revoked sessions
  std::filesystem::path sqlite_path;  // sqlite only; default var/accounts.db (config-relative)
  std::string postgres_dsn_env;       // postgres only: variable holding the connection string
  bool operator==(const accounts_config&) const = default;
};

struct upstream_config {
  std::optional<std::filesystem::path> ca_file;  // absent: the system trust store
  bool allow_plain_http_loopback = false;        // development: http:// IdPs on loopback only
  bool operator==(const upstream_config&) const = default;
};

struct jwks_config {
  config_duration min_refresh_interval = std::chrono::minutes(5);  // unknown-kid refresh limit
  config_duration max_age_min = std::chrono::minutes(5);           // Cache-Control max-age bounds
  config_duration max_age_max = std::chrono::hours(24);
  config_duration default_max_age = std::chrono::hours(1);  // without Cache-Control
  config_duration stale_if_error = std::chrono::hours(24);  // last good keys serve this long
  unsigned preload_concurrency = 8;
  bool operator==(const jwks_config&) const = default;
};

// The verified-token cache of /api/verify (docs/forward-auth.md).
struct verify_config {
  bool cache = true;
  std::size_t cache_max_entries = 100'000;
  std::size_t cache_max_bytes = std::size_t{64} << 20;
  config_duration cache_max_ttl = std::chrono::minutes(5);  // an entry never outlives exp either
  bool operator==(const verify_config&) const = default;
};

struct metrics_config {
  std::optional<listener_config> admin_listen;  // absent: no admin listener; never TLS
  bool main_listener = true;  // GET /metrics on the main listeners too (reloadable)
  // Per-organisation login series (restart-only): off by default; the first `organisation_cap`
  // organisations of the file get them, so thousands of tenants cannot explode cardinality.
  bool organisation_labels = false;
  std::size_t organisation_cap = 50;
  bool operator==(const metrics_config&) const = default;
};

// The server's log lines on stderr (restart-only).
struct logging_config {
  bool access_log = true;  // one JSON line per request
  // Access-log lines are gathered and written this often, or when the buffer fills; events are
  // written at once. 0 writes every line at once.
  config_duration access_log_flush_interval = std::chrono::seconds(1);
  std::size_t access_log_buffer_bytes = 64 * 1024;
  bool operator==(const logging_config&) const = default;
};

enum class provider_t : std::uint8_t { entra, oidc };
enum class client_auth_method : std::uint8_t { none, client_secret_post, private_key_jwt };

struct client_auth_config {
  client_auth_method method = client_auth_method::none;
  std::optional<secret_ref> secret;        // client_secret_post
  std::filesystem::path key_file;          // private_key_jwt
  std::filesystem::path certificate_file;  // private_key_jwt (x5t#S256)
  bool operator==(const client_auth_config&) const = default;
};

struct access_tokens_config {
  std::vector<std::string> audiences;  // empty: /api/verify accepts no token of this organisation
  bool accept_v1_issuer = false;       // also https://sts.windows.net/{tenant}/ (public cloud)
  bool operator==(const access_tokens_config&) const = default;
};

struct organisation_config {
  std::string name;  // DNS label, unique
  std::string display_name;
  provider_t provider = provider_t::entra;
  std::string tenant_id;  // entra: lowercase GUID; empty for oidc
  std::string client_id;  // entra: lowercase GUID
  std::string authority;  // entra: no trailing slash; empty for oidc
  std::string issuer;     // oidc: exactly as configured (compared byte for byte)
  std::string redirect_uri;
  std::vector<std::string> hosts;  // extra Host names that select this organisation
  std::vector<std::string> scopes;
  alg_set allowed_algs;
  config_duration clock_skew = std::chrono::seconds(60);
  config_duration max_token_age = std::chrono::minutes(10);
  client_auth_config client_auth;
  account_mode_t account_mode = account_mode_t::directory;
  std::vector<std::string> domains;  // lowercase email domains matched to accounts by address
  access_tokens_config access_tokens;
  std::vector<std::string> authorize_passthrough;  // subset of prompt, login_hint, domain_hint

  // Derived once at parse time.
  std::string discovery_url;    // entra: {authority}/{tenant}/v2.0/.well-known/openid-configuration
  std::string expected_issuer;  // entra: {authority}/{tenant}/v2.0; oidc: issuer
  std::string expected_v1_issuer;  // empty unless access_tokens.accept_v1_issuer
  std::string redirect_origin;     // scheme://host[:port] of redirect_uri, default port omitted
  std::string redirect_host;       // lowercase host of redirect_uri
  std::string scope;               // scopes joined by spaces (the authorize `scope` parameter)
  // What /api/verify requires of this organisation's access tokens (empty issuers when it
  // accepts none): built once here, not per verification.
  access_token_expectations access_token_rules;

  // Entra redeems SPA codes only with an Origin (AADSTS9002327) and refuses one for web
  // (confidential) registrations (AADSTS9002326).
  bool sends_origin() const noexcept { return client_auth.method == client_auth_method::none; }
  bool checks_tenant() const noexcept { return provider == provider_t::entra; }
  bool passes_through(std::string_view parameter) const noexcept;
  bool operator==(const organisation_config&) const = default;
};

// An immutable snapshot: build it with parse_config, share it as shared_ptr<const>, swap the
// pointer on reload. A request keeps the snapshot it started with.
class server_config {
 public:
  server_settings server;
  timeouts_config timeouts;
  limits_config limits;
  session_config session;
  cookies_config cookies;
  accounts_config accounts;
  upstream_config upstream;
  jwks_config jwks;
  verify_config verify;
  metrics_config metrics;
  logging_config logging;

  std::span<const organisation_config> organisations() const noexcept { return organisations_; }
  const organisation_config* find_organisation(std::string_view name) const noexcept;
  // The organisation a Host header names: one of its `hosts`, or {name}.{base_domain}. Accepts
  // any case, a port and a trailing dot. nullptr otherwise; then see default_organisation().
  const organisation_config* find_organisation_for_host(std::string_view host) const noexcept;
  const organisation_config* default_organisation() const noexcept;
  // Indices into organisations() of those whose access tokens carry this exact `iss`
  // (expected_issuer, or expected_v1_issuer where accepted) and that accept access tokens at
  // all (audiences set), in configuration order; several organisations may share a tenant.
  std::span<const std::size_t> access_token_organisations(std::string_view issuer) const noexcept;

 private:
  friend struct config_builder;
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using index_map = std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>>;
  std::vector<organisation_config> organisations_;
  index_map by_name_;
  index_map by_host_;
  std::unordered_map<std::string, std::vector<std::size_t>, string_hash, std::equal_to<>>
      by_access_token_issuer_;
};

struct config_environment {
  // Directory of the configuration file: relative paths in the file resolve against it. The
  // server passes an absolute path; empty leaves relative paths relative to the working dir.
  std::filesystem::path config_dir;
  // getenv-like lookup. When set, every referenced variable must be set and non-empty (and
  // cookie keys well-formed); when empty, references are checked for syntax only.
  std::function<std::optional<std::string>(std::string_view)> getenv;
};

using config_result =
    boost::system::result<std::shared_ptr<const server_config>, std::vector<config_error>>;

// Parses and validates the whole document (oidc::parse_json with kConfigJsonLimits). Unknown
// fields are errors. Every mistake is reported, up to 100; the values of secrets never appear.
config_result parse_config(std::string_view json_text, const config_environment& env);

// Dotted paths of settings that differ between two snapshots but only take effect on restart
// (listeners, threads, the metrics listener, the account database); empty when a reload
// applies everything.
std::vector<std::string> settings_needing_restart(const server_config& running,
                                                  const server_config& next);

}  // namespace oidc
