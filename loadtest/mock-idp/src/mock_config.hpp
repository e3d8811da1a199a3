// SPDX-License-Identifier: Apache-2.0
// Configuration of the mock Entra tenant(s): listeners, tenants with their app registrations and
// test users, code and token lifetimes, key rotation overlaps and initial faults. Relative file
// paths are resolved against the directory of the configuration file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidc::mock {

// Entra's platform of a redirect URI: `spa` redeems codes cross-origin without a credential,
// `web` redeems them server-side with a secret or a certificate-signed client assertion.
enum class client_type : std::uint8_t { spa, web };

struct mock_client {
  std::string client_id;
  client_type type = client_type::spa;
  std::string secret;  // web clients: read from secret_file; never logged
  std::vector<std::string> redirect_uris;
  // Web clients: the PEM certificate (read from certificate_file) whose key signs
  // private_key_jwt client assertions. A web client needs a secret, a certificate, or both.
  std::string certificate_pem = {};
};

struct mock_user {
  std::string oid;
  std::string name;
  std::string preferred_username;
  std::string email;
  bool disabled = false;
};

struct mock_tenant {
  std::string id;
  std::vector<mock_client> clients;
  std::vector<mock_user> users;
  std::string default_user;  // oid or preferred_username of a user above
};

struct fault_settings {
  std::chrono::milliseconds latency{0};
  double error_rate = 0;  // 0..1: share of IdP requests answered with a transient error
  double drop_rate = 0;   // 0..1: share of IdP requests whose connection is dropped
};

struct key_rotation_policy {
  // A new key is in the JWKS this long before it signs; JWKS max-age stays below it so every
  // relying party has fetched the key before the first token it signs (Entra's practice).
  std::chrono::seconds signing_overlap{600};
  // The key it replaces stays published this long after it stopped signing: at least the
  // lifetime of the tokens it signed.
  std::chrono::seconds retire_overlap{3900};
  std::chrono::seconds jwks_max_age{30};
  std::chrono::seconds rotate_every{0};  // 0: only on POST /admin/rotate-keys
};

struct mock_idp_config {
  std::string base_url = "https://localhost:9443";  // issuer = base_url/{tenant}/v2.0
  std::string listen_address = "127.0.0.1";
  std::uint16_t https_port = 9443;
  std::optional<std::uint16_t> http_port;  // optional plain-HTTP listener
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive connections idle longer are closed
  bool auto_approve = true;                        // false: a user picker page
  std::chrono::seconds code_ttl{120};
  std::chrono::seconds token_ttl{3600};
  key_rotation_policy keys;
  fault_settings faults;
  std::vector<mock_tenant> tenants;
};

struct config_load_result {
  std::optional<mock_idp_config> config;
  std::vector<std::string> errors;  // "path: problem"; secrets never echoed
};

// Parses and validates a configuration document; relative paths resolve against `base_dir`,
// secret files are read here.
config_load_result parse_mock_config(std::string_view json_text,
                                     const std::filesystem::path& base_dir);
config_load_result load_mock_config(const std::filesystem::path& file);

// Semantic checks shared by the parser and programmatic configurations (tests).
std::vector<std::string> validate_mock_config(const mock_idp_config& config);

}  // namespace oidc::mock
