// SPDX-License-Identifier: Apache-2.0
// Turns a parsed configuration into what the server runs with: reads the configuration file,
// resolves secrets (files and environment variables), and builds the cookie key ring and the
// session signer. core never does I/O; this is where the server does it, once per snapshot.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/system/result.hpp>

#include <openssl/evp.h>

#include "oidc/config.hpp"
#include "oidc/sealed_cookie.hpp"
#include "oidc/session_token.hpp"

namespace oidc::server {

// How secrets are read; tests substitute maps.
struct secret_reader {
  std::function<std::optional<std::string>(const std::filesystem::path&)> read_file;
  std::function<std::optional<std::string>(std::string_view)> getenv;
};

// Real files (at most kMaxSecretFileBytes) and the process environment.
secret_reader system_secret_reader();

inline constexpr std::size_t kMaxSecretFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxConfigFileBytes = 4 * 1024 * 1024;

// The whole file, or nullopt when it cannot be read or exceeds max_bytes.
std::optional<std::string> read_file_bounded(const std::filesystem::path& p, std::size_t max_bytes);

// Reads and parses a configuration file: relative paths resolve against its directory, and
// environment references are checked against the process environment.
config_result load_config_file(const std::filesystem::path& file);

// How one confidential organisation authenticates at the token endpoint (RFC 6749 §2.3.1,
// RFC 7523 §2.2). Never logged.
struct client_credential {
  client_auth_method method = client_auth_method::none;
  std::string secret;             // client_secret_post
  std::shared_ptr<EVP_PKEY> key;  // private_key_jwt: RSA private key (RS256)
  std::string x5t_s256;           // private_key_jwt: base64url SHA-256 of the certificate DER
  client_credential() = default;
  client_credential(const client_credential&) = delete;
  client_credential& operator=(const client_credential&) = delete;
  ~client_credential();  // wipes the secret
};

struct runtime_secrets {
  std::shared_ptr<const cookie_key_ring> cookie_keys;
  std::shared_ptr<const session_signer> sessions;
  // Confidential organisations by name; organisations with client_auth.method none are absent.
  std::unordered_map<std::string, std::shared_ptr<const client_credential>> clients;

  const client_credential* client(const std::string& organisation) const {
    auto it = clients.find(organisation);
    return it == clients.end() ? nullptr : it->second.get();
  }
};

// The client credential of a private_key_jwt organisation from PEM texts: an RSA key of at
// least 2048 bits and the certificate holding its public key. nullopt with `problem` set
// otherwise (never containing key material).
std::shared_ptr<const client_credential> make_private_key_jwt_credential(
    std::string_view key_pem, std::string_view certificate_pem, std::string& problem);

using secrets_result = boost::system::result<runtime_secrets, std::vector<config_error>>;

// Builds the key ring (every cookies.keys entry, oldest first, decode_secret_key_32) and the
// session signer (session.signing_keys PEM files; issuer, timeouts.session_lifetime,
// session.clock_skew), and the client credentials of confidential organisations
// (organisations[i].client_auth). Every problem is reported with its field path; secret values
// never appear in errors.
secrets_result load_runtime_secrets(const server_config& config, const secret_reader& reader);

}  // namespace oidc::server
