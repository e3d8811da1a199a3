// SPDX-License-Identifier: Apache-2.0
// PKCE S256 verifiers and challenges (RFC 7636), state and nonce generation.
#include "oidc/pkce.hpp"

#include <array>
#include <cstdint>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "oidc/base64url.hpp"
#include "oidc/ossl.hpp"

namespace oidc {

result<pkce_pair> make_pkce(random_source& rng) {
  std::array<std::uint8_t, kPkceVerifierBytes> octets{};
  rng.fill(octets);
  pkce_pair p;
  p.verifier = base64url_encode(octets);
  OPENSSL_cleanse(octets.data(), octets.size());
  auto challenge = pkce_s256_challenge(p.verifier);
  if (!challenge) return challenge.error();
  p.challenge = std::move(*challenge);
  return p;
}

result<std::string> pkce_s256_challenge(std::string_view verifier) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(verifier.data(), verifier.size(), digest.data(), &len, EVP_sha256(), nullptr) !=
          1 ||
      len != 32) {
    clear_openssl_errors();
    return auth_error::internal_error;
  }
  return base64url_encode(std::span<const std::uint8_t>(digest.data(), len));
}

bool is_valid_pkce_verifier(std::string_view verifier) noexcept {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  for (const char c : verifier) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (!unreserved) return false;
  }
  return true;
}

bool pkce_s256_matches(std::string_view verifier, std::string_view challenge) {
  if (!is_valid_pkce_verifier(verifier)) return false;
  const auto expected = pkce_s256_challenge(verifier);
  if (!expected || expected->size() != challenge.size()) return false;
  return CRYPTO_memcmp(expected->data(), challenge.data(), challenge.size()) == 0;
}

std::string make_state(random_source& rng) {
  return random_token(rng, kStateBytes);
}
std::string make_nonce(random_source& rng) {
  return random_token(rng, kNonceBytes);
}

}  // namespace oidc
