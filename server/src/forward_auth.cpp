// SPDX-License-Identifier: Apache-2.0
#include "forward_auth.hpp"

#include <array>
#include <cstdint>

namespace oidc::server {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// token68 (RFC 9110 §11.2): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// A table: this runs over every bearer token /api/verify sees.
constexpr std::array<bool, 256> kToken68 = [] {
  std::array<bool, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (const char c : std::string_view("-._~+/"))
    t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token68(std::string_view t) noexcept {
  std::size_t i = 0;
  while (i < t.size() && kToken68[static_cast<unsigned char>(t[i])])
    ++i;
  if (i == 0) return false;
  for (; i < t.size(); ++i)
    if (t[i] != '=') return false;
  return true;
}

}  // namespace

result<std::optional<std::string_view>> bearer_token(std::span<const std::string_view> values) {
  if (values.empty()) return std::optional<std::string_view>{};
  if (values.size() != 1) return auth_error::request_invalid;
  std::string_view v = values.front();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  const auto space = v.find(' ');
  if (space == std::string_view::npos || !iequals(v.substr(0, space), "bearer"))
    return auth_error::request_invalid;
  std::string_view token = v.substr(space + 1);
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  if (!is_token68(token)) return auth_error::request_invalid;
  return std::optional<std::string_view>{token};
}

bool header_value_safe(std::string_view value) noexcept {
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const std::size_t n = value.size();
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    // UTF-8 (RFC 3629 §4): no overlongs, no surrogates, nothing above U+10FFFF.
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = p[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls
    i += len;
  }
  return true;
}

std::string www_authenticate(auth_error reason) {
  if (reason == auth_error::credentials_missing) return "Bearer";
  if (reason == auth_error::request_invalid)
    return R"(Bearer error="invalid_request", error_description="request_invalid")";
  // Labels are snake_case ASCII: safe inside a quoted-string.
  return R"(Bearer error="invalid_token", error_description=")" + std::string(label(reason)) + "\"";
}

}  // namespace oidc::server
