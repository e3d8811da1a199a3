// SPDX-License-Identifier: Apache-2.0
// The mock tenant's check of a private_key_jwt client assertion (RFC 7523 §3, OpenID Connect
// Core §9) as Entra makes it: the certificate named by the header's x5t#S256 (or legacy x5t)
// must be the client's, the signature RS256 or PS256 with its key, iss = sub = client_id,
// aud = this token endpoint, the time window open, and the jti not seen before. Pure logic:
// time comes in as an argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "entra_error_codes.hpp"
#include "oidc/jwk.hpp"

namespace oidc::mock {

// A certificate uploaded to an app registration, as the token endpoint looks it up.
struct client_certificate {
  std::string x5t_s256;            // base64url SHA-256 of the DER certificate (RFC 7515 §4.1.8)
  std::string x5t;                 // base64url SHA-1 of the DER certificate (RFC 7515 §4.1.7)
  std::shared_ptr<const jwk> key;  // the certificate's RSA public key
};

// A PEM certificate holding an RSA public key of at least 2048 bits; nullopt with `problem`
// set otherwise.
std::optional<client_certificate> load_client_certificate(std::string_view pem,
                                                          std::string& problem);

// Clock skew allowed on exp, nbf and iat (Entra tolerates a few minutes).
inline constexpr std::chrono::seconds kAssertionClockSkew{300};
inline constexpr std::size_t kMaxAssertionBytes = 16 * 1024;
inline constexpr std::size_t kMaxJtiBytes = 256;
inline constexpr std::size_t kMaxRememberedAssertions = 100'000;

// The (client, jti) pairs already used, each kept until its assertion would expire. Bounded:
// when full, expired entries go first, then the one closest to expiry. Thread-safe.
class assertion_replay_cache {
 public:
  explicit assertion_replay_cache(std::size_t capacity = kMaxRememberedAssertions)
      : capacity_(capacity == 0 ? 1 : capacity) {}

  // True when the pair is new (and is now remembered until `forget_at`); false for a replay.
  bool remember(std::string_view client_id, std::string_view jti,
                std::chrono::sys_seconds forget_at, std::chrono::sys_seconds now);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::chrono::sys_seconds> seen_;
};

struct assertion_rejection {
  aadsts code;
  std::string description;  // Entra's message; never contains the assertion
};

// Checks `assertion` for `client_id` whose registered certificate is `certificate` (null: the
// client has none) at `token_endpoint`, in this order, the first failure answered:
//   1. a compact JWS within kMaxAssertionBytes, header a JSON object (50027);
//   2. alg RS256 or PS256 (50027);
//   3. x5t#S256, else x5t, names the client's certificate (700027, "key was not found");
//   4. the signature verifies with its key (700027);
//   5. payload a JSON object (50027); iss = client_id (700021); sub = iss (50048);
//      aud a string (50027) equal to token_endpoint (700023);
//   6. exp present (50027) and exp + skew > now, nbf and iat (when present) <= now + skew
//      (700024);
//   7. jti present and at most kMaxJtiBytes (50027), and not used before (50027).
// nullopt: accepted, and its jti is remembered until exp + skew.
std::optional<assertion_rejection> verify_client_assertion(
    std::string_view assertion, const client_certificate* certificate, std::string_view client_id,
    std::string_view token_endpoint, std::chrono::sys_seconds now, assertion_replay_cache& replays);

}  // namespace oidc::mock
