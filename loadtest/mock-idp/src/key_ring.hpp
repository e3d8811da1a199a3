// SPDX-License-Identifier: Apache-2.0
// The mock IdP's RS256 signing keys and their rotation timeline, as Entra rotates: a new key is
// published first and signs only after signing_overlap; the key it replaces stays published for
// retire_overlap after it stopped signing, so every token it signed can still be verified.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "mock_config.hpp"
#include "oidc/ossl.hpp"

namespace oidc::mock {

struct signing_key {
  std::string kid;                 // RFC 7638 thumbprint of the public JWK
  evp_pkey_ptr private_key;        // RSA-2048
  boost::json::object public_jwk;  // kty, use, kid, n, e
  std::chrono::sys_seconds published_at{};
  std::chrono::sys_seconds signs_from{};
  std::optional<std::chrono::sys_seconds> retire_at;  // set once a successor is scheduled
};

struct rotation_schedule {
  std::string new_kid;
  std::chrono::sys_seconds signs_from{};
  std::string replaced_kid;
  std::chrono::sys_seconds replaced_retires_at{};
};

// Produces a fresh RSA-2048 key; null on failure.
using key_generator = std::function<evp_pkey_ptr()>;
evp_pkey_ptr generate_rsa_2048();

// The public JWK of an RSA key with its RFC 7638 thumbprint as kid.
boost::json::object rsa_public_jwk(const EVP_PKEY* key);

// Thread-safe. Throws std::runtime_error when key generation fails (start-up, admin rotation).
class key_ring {
 public:
  key_ring(key_rotation_policy policy, std::chrono::sys_seconds now,
           key_generator generate = generate_rsa_2048);

  // The key that signs at `now`: the newest key whose signs_from has come.
  std::shared_ptr<const signing_key> signer(std::chrono::sys_seconds now);

  // {"keys":[...]} of every key published at `now` and not retired.
  std::string jwks_json(std::chrono::sys_seconds now);
  std::vector<std::string> published_kids(std::chrono::sys_seconds now);

  // Publishes a new key now; it signs after signing_overlap, and the newest existing key retires
  // retire_overlap after that.
  rotation_schedule rotate(std::chrono::sys_seconds now);

  const key_rotation_policy& policy() const noexcept { return policy_; }

 private:
  std::shared_ptr<signing_key> make_key(std::chrono::sys_seconds now);
  void prune(std::chrono::sys_seconds now);

  key_rotation_policy policy_;
  key_generator generate_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<signing_key>> keys_;  // in publication order
};

}  // namespace oidc::mock
