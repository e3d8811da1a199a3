// SPDX-License-Identifier: Apache-2.0
// JSON Web Keys (RFC 7517/7518/8037) for signature verification, parsed into OpenSSL 3 EVP_PKEYs.
// Keys are immutable once built and shared by std::shared_ptr, so identical keys of several key
// sets (same RFC 7638 thumbprint) can live in memory once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "oidc/error.hpp"
#include "oidc/ossl.hpp"

namespace oidc {

// The asymmetric JWS algorithms we implement. `none` and HS* are deliberately absent: they can
// never be named by configuration, let alone by a token.
enum class jws_alg : std::uint8_t {
  RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, count_
};

std::string_view alg_name(jws_alg a) noexcept;
// nullopt for anything else, including "none" and "HS256".
std::optional<jws_alg> alg_from_name(std::string_view name) noexcept;

// A small set of algorithms: the per-issuer allow-list, or what one key may verify.
class alg_set {
 public:
  constexpr alg_set() = default;
  constexpr alg_set(std::initializer_list<jws_alg> algs) {
    for (auto a : algs) insert(a);
  }
  constexpr void insert(jws_alg a) noexcept { bits_ |= bit(a); }
  constexpr bool contains(jws_alg a) const noexcept { return (bits_ & bit(a)) != 0; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr alg_set operator&(alg_set o) const noexcept { return from_bits(bits_ & o.bits_); }
  constexpr bool operator==(const alg_set&) const = default;
  static constexpr alg_set all() noexcept {
    return from_bits((1u << static_cast<unsigned>(jws_alg::count_)) - 1u);
  }

 private:
  static constexpr std::uint16_t bit(jws_alg a) noexcept {
    return static_cast<std::uint16_t>(1u << static_cast<unsigned>(a));
  }
  static constexpr alg_set from_bits(unsigned b) noexcept {
    alg_set s;
    s.bits_ = static_cast<std::uint16_t>(b);
    return s;
  }
  std::uint16_t bits_ = 0;
};

enum class key_type : std::uint8_t { rsa, ec, okp };

struct jwk {
  std::string kid;        // may be empty when the JWK has none
  key_type kty{};
  int bits = 0;           // RSA modulus bits, EC field bits, 255 for Ed25519
  alg_set algs;           // what this key may verify: kty/crv ∩ "alg" ∩ "use"/"key_ops"
  std::string thumbprint; // RFC 7638, SHA-256, base64url
  evp_pkey_ptr pkey;
};

struct jwk_policy {
  int min_rsa_bits = 2048;
};

// One key from its JSON object. Fails with key_invalid (bad or missing members, point not on
// the curve), key_unsupported (kty/crv we do not implement, private keys, symmetric keys),
// key_too_weak (RSA under policy.min_rsa_bits, exponent 1 or even), key_use_mismatch (use is
// not "sig", key_ops lacks "verify"), alg_unsupported (the key's "alg" is not one we implement).
result<jwk> parse_jwk(const boost::json::object& o, const jwk_policy& policy = {});

// An immutable set of verification keys (one issuer's JWKS).
class key_set {
 public:
  key_set() = default;
  explicit key_set(std::vector<std::shared_ptr<const jwk>> keys) : keys_(std::move(keys)) {}

  std::span<const std::shared_ptr<const jwk>> keys() const noexcept { return keys_; }
  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }

  // The key with this kid that may verify `alg`; nullptr when none. With an empty kid, the
  // only key that may verify `alg` (nullptr when there are several: ambiguous).
  const jwk* find(std::string_view kid, jws_alg alg) const noexcept;

 private:
  std::vector<std::shared_ptr<const jwk>> keys_;
};

struct skipped_key {
  std::string kid;  // as given (may be empty)
  auth_error reason;
};

struct jwks_parse_result {
  std::shared_ptr<const key_set> keys;
  std::vector<skipped_key> skipped;  // unsupported or invalid keys, reported, not fatal
};

// A whole JWKS document. Unusable keys are skipped (and listed); fails with jwks_invalid when
// the document is not {"keys":[...]} or when no key is usable. Duplicate kids: the first usable
// key with a given (kid, kty) wins and the others are skipped with key_invalid.
result<jwks_parse_result> parse_jwks(std::string_view json_text, const jwk_policy& policy = {});

// RFC 7638 thumbprint of a parsed key's public parameters.
std::string jwk_thumbprint(const boost::json::object& o);

}  // namespace oidc
