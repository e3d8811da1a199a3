// SPDX-License-Identifier: Apache-2.0
// Randomness is injected so the server's state, nonce and PKCE values are deterministic in tests;
// production uses OpenSSL's CSPRNG.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace oidc {

class random_source {
 public:
  virtual ~random_source() = default;
  // Fills `out` with unpredictable bytes; aborts the process if the CSPRNG fails (a server
  // must not continue with predictable state values).
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

// RAND_bytes; thread-safe.
class openssl_random final : public random_source {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

// `bytes` random bytes as base64url (state ids, nonces: at least 16 bytes = 128 bits).
std::string random_token(random_source& rng, std::size_t bytes = 32);

}  // namespace oidc
