// SPDX-License-Identifier: Apache-2.0
// PKCE (RFC 7636) with the S256 method, and the state and nonce values of a login.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "oidc/error.hpp"
#include "oidc/random.hpp"

namespace oidc {

// RFC 7636 §7.1 recommends 32 octets, base64url-encoded into a 43-character verifier.
inline constexpr std::size_t kPkceVerifierBytes = 32;
// State and nonce carry 256 bits, twice the 128-bit floor the issue sets for them.
inline constexpr std::size_t kStateBytes = 32;
inline constexpr std::size_t kNonceBytes = 32;

struct pkce_pair {
  std::string verifier;   // kept in the sealed login-state cookie, sent to the token endpoint
  std::string challenge;  // BASE64URL(SHA256(verifier)), sent to the authorize endpoint
};

// A fresh verifier from kPkceVerifierBytes of `rng` and its S256 challenge. internal_error only
// when OpenSSL cannot compute SHA-256.
result<pkce_pair> make_pkce(random_source& rng);

// RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). The verifier is not validated
// here; callers that accept verifiers from outside check is_valid_pkce_verifier first.
result<std::string> pkce_s256_challenge(std::string_view verifier);

// RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
bool is_valid_pkce_verifier(std::string_view verifier) noexcept;

// What an authorization server (the mock IdP) checks at the token endpoint: a valid verifier
// whose S256 challenge equals `challenge`, compared in constant time.
bool pkce_s256_matches(std::string_view verifier, std::string_view challenge);

// Unguessable per-login values (RFC 6749 §10.12 for state, OIDC Core §3.1.2.1 for nonce).
std::string make_state(random_source& rng);
std::string make_nonce(random_source& rng);

}  // namespace oidc
