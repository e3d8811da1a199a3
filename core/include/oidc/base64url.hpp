// SPDX-License-Identifier: Apache-2.0
// Strict base64url (RFC 4648 §5 as used by RFC 7515): no padding, no whitespace, no characters
// outside the URL-safe alphabet, and canonical trailing bits, so each byte string has exactly one
// accepted encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "oidc/error.hpp"

namespace oidc {

// Upper bound on the decoded size of `encoded_len` characters.
constexpr std::size_t base64url_decoded_max(std::size_t encoded_len) noexcept {
  return encoded_len / 4 * 3 + (encoded_len % 4 == 0 ? 0 : encoded_len % 4 - 1);
}
constexpr std::size_t base64url_encoded_size(std::size_t n) noexcept {
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

// Decodes into `out` (at least base64url_decoded_max(in.size()) bytes) and returns the length.
// Fails with base64_invalid; performs no allocation.
result<std::size_t> base64url_decode(std::string_view in, std::span<std::uint8_t> out) noexcept;

// Decodes into a new string (binary-safe).
result<std::string> base64url_decode(std::string_view in);

std::string base64url_encode(std::span<const std::uint8_t> in);
std::string base64url_encode(std::string_view in);

}  // namespace oidc
