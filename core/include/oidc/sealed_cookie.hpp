// SPDX-License-Identifier: Apache-2.0
// Sealed cookies: AES-256-GCM under a rotating key ring, bound to a purpose and an expiry, and the
// login-state record the server keeps in one between the login redirect and the callback.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oidc/error.hpp"
#include "oidc/random.hpp"

namespace oidc {

using cookie_key_id = std::uint8_t;

inline constexpr std::size_t kCookieKeyBytes = 32;          // AES-256
inline constexpr std::size_t kMaxSealedCookieChars = 4096;  // RFC 6265 §6.1 minimum per cookie
inline constexpr std::uint8_t kSealedCookieVersion = 1;

// Keys that seal and open cookies. The most recently added key seals; every key opens, so a
// rotation adds the new key first and removes the old one once cookies sealed under it have
// expired. Key bytes are wiped when the ring is destroyed. Immutable after configuration:
// seal and open are const and safe to call from many threads.
//
// Sealed text is base64url (cookie-octet safe, RFC 6265 §4.1.1) of
//   version (1) || key id (1) || nonce (12) || AES-256-GCM(expiry (8, big-endian) || plaintext)
//   || tag (16)
// with AAD = version || key id || purpose, so a cookie sealed for one purpose never opens as
// another, and the key id and version cannot be swapped without failing the tag.
class cookie_key_ring {
 public:
  cookie_key_ring();
  ~cookie_key_ring();
  cookie_key_ring(cookie_key_ring&&) noexcept;
  cookie_key_ring& operator=(cookie_key_ring&&) noexcept;
  cookie_key_ring(const cookie_key_ring&) = delete;
  cookie_key_ring& operator=(const cookie_key_ring&) = delete;

  // Adds a key that becomes the sealing key. config_invalid when `key` is not kCookieKeyBytes
  // long or `id` is already in the ring. The caller should wipe its own copy afterwards.
  result<void> add(cookie_key_id id, std::span<const std::uint8_t> key);

  bool empty() const noexcept { return keys_.empty(); }
  std::size_t size() const noexcept { return keys_.size(); }
  std::optional<cookie_key_id> sealing_key_id() const noexcept;

  // Seals `plaintext` for `purpose` until `expires_at`, with a fresh nonce from `rng`. Fails with
  // config_invalid (empty ring), request_invalid (the result would exceed
  // kMaxSealedCookieChars), internal_error (OpenSSL).
  result<std::string> seal(std::string_view purpose, std::string_view plaintext,
                           std::chrono::sys_seconds expires_at, random_source& rng) const;

  // Opens a cookie sealed for `purpose`. Checks, in order: size, base64url, length and version
  // (cookie_malformed), key id (cookie_key_unknown), tag under the AAD (cookie_tampered: any
  // changed byte, another purpose, another configured key), then expiry (cookie_expired when
  // now >= expiry). The expiry is read only after authentication, so a forgery never reports
  // "expired".
  result<std::string> open(std::string_view purpose, std::string_view sealed,
                           std::chrono::sys_seconds now) const;

 private:
  struct key;
  std::vector<std::unique_ptr<key>> keys_;  // oldest first; back() seals
};

// State of one login between the redirect to the IdP and the callback; travels sealed with
// purpose kLoginStatePurpose so any number of tabs can log in at once without server state.
struct login_state {
  std::string state_id;
  std::string nonce;
  std::string code_verifier;
  std::string organisation;
  std::string return_to;
  std::chrono::sys_seconds expires_at{};
  bool operator==(const login_state&) const = default;
};

inline constexpr std::string_view kLoginStatePurpose = "login-state";

// Compact JSON: {"state":..,"nonce":..,"verifier":..,"org":..,"return_to":..,"exp":<seconds>}.
std::string encode_login_state(const login_state& s);
// Strict inverse of encode_login_state: exactly those members with those types, state, nonce
// and verifier non-empty; cookie_malformed otherwise.
result<login_state> decode_login_state(std::string_view json);

// seal/open with purpose kLoginStatePurpose and the state's own expiry.
result<std::string> seal_login_state(const cookie_key_ring& ring, const login_state& s,
                                     random_source& rng);
result<login_state> open_login_state(const cookie_key_ring& ring, std::string_view sealed,
                                     std::chrono::sys_seconds now);

}  // namespace oidc
