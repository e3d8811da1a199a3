// SPDX-License-Identifier: Apache-2.0
#include "oidc/base64url.hpp"

#include <array>

namespace oidc {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::uint8_t, 256> make_reverse() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t)
    v = 0xff;
  for (std::uint8_t i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}
constexpr auto kReverse = make_reverse();
}  // namespace

result<std::size_t> base64url_decode(std::string_view in, std::span<std::uint8_t> out) noexcept {
  const std::size_t rem = in.size() % 4;
  if (rem == 1) return auth_error::base64_invalid;
  if (out.size() < base64url_decoded_max(in.size())) return auth_error::internal_error;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t full = in.size() - rem;
  std::size_t o = 0;
  for (std::size_t i = 0; i < full; i += 4) {
    const std::uint32_t a = kReverse[s[i]], b = kReverse[s[i + 1]], c = kReverse[s[i + 2]],
                        d = kReverse[s[i + 3]];
    if ((a | b | c | d) & 0x80u) return auth_error::base64_invalid;
    const std::uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out[o++] = static_cast<std::uint8_t>(v >> 16);
    out[o++] = static_cast<std::uint8_t>(v >> 8);
    out[o++] = static_cast<std::uint8_t>(v);
  }
  if (rem != 0) {
    const std::uint32_t a = kReverse[s[full]], b = kReverse[s[full + 1]];
    const std::uint32_t c = rem == 3 ? kReverse[s[full + 2]] : 0;
    if ((a | b | c) & 0x80u) return auth_error::base64_invalid;
    // Non-canonical encodings set bits that the decoded bytes do not carry.
    if (rem == 2 && (b & 0x0fu) != 0) return auth_error::base64_invalid;
    if (rem == 3 && (c & 0x03u) != 0) return auth_error::base64_invalid;
    const std::uint32_t v = a << 18 | b << 12 | c << 6;
    out[o++] = static_cast<std::uint8_t>(v >> 16);
    if (rem == 3) out[o++] = static_cast<std::uint8_t>(v >> 8);
  }
  return o;
}

result<std::string> base64url_decode(std::string_view in) {
  std::string out(base64url_decoded_max(in.size()), '\0');
  auto n = base64url_decode(
      in, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
  if (!n) return n.error();
  out.resize(*n);
  return out;
}

std::string base64url_encode(std::span<const std::uint8_t> in) {
  // Sized once and written through a pointer: push_back's capacity check per character showed
  // in the login profile (session tokens, sealed cookies, signatures).
  std::string out(base64url_encoded_size(in.size()), '\0');
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    o[0] = kAlphabet[v >> 18 & 63];
    o[1] = kAlphabet[v >> 12 & 63];
    o[2] = kAlphabet[v >> 6 & 63];
    o[3] = kAlphabet[v & 63];
    o += 4;
  }
  if (const std::size_t rem = in.size() - i; rem != 0) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    if (rem == 2) v |= std::uint32_t{in[i + 1]} << 8;
    *o++ = kAlphabet[v >> 18 & 63];
    *o++ = kAlphabet[v >> 12 & 63];
    if (rem == 2) *o++ = kAlphabet[v >> 6 & 63];
  }
  return out;
}

std::string base64url_encode(std::string_view in) {
  return base64url_encode(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(in.data()), in.size()));
}

}  // namespace oidc
