// SPDX-License-Identifier: Apache-2.0
// JSON Web Keys (RFC 7517/7518/8037) for signature verification, parsed into OpenSSL 3 EVP_PKEYs.
// Keys are immutable once built and shared by std::shared_ptr, so identical keys of several key
// sets (same RFC 7638 thumbprint) can live in memory once.
//
// Key policy (what parse_jwk accepts, and why):
// - kty RSA: n and e minimal big-endian octets (RFC 7518 §6.3.1: no leading zero octet, else
//   key_invalid); n odd. Modulus under jwk_policy::min_rsa_bits (2048) is key_too_weak, above
//   8192 bits key_unsupported. e must be odd and >= 3 (e = 1 makes the signature the message,
//   an even e is not a valid RSA exponent): key_too_weak otherwise; e longer than 64 bits is
//   key_unsupported. A modulus carrying the ROCA fingerprint (CVE-2017-15361, Infineon RSALib
//   primes, factorable) is key_too_weak.
// - kty EC: crv P-256, P-384, P-521; x and y exactly the field size (RFC 7518 §6.2.1.2), each
//   below the field prime, and the point on the curve and not the identity (EVP_PKEY_public_check);
//   key_invalid otherwise. Other curves are key_unsupported.
// - kty OKP: crv Ed25519 with a 32-octet x (RFC 8037 §2). Ed448, X25519, X448: key_unsupported.
// - Any private or symmetric member (d, p, q, dp, dq, qi, oth, k) is key_unsupported: a
//   verification key set never carries private keys, so such a document is a publishing mistake.
// - "use" (RFC 7517 §4.2), when present, must be "sig"; "key_ops" (§4.3), when present, must be an
//   array of distinct strings containing "verify": key_use_mismatch otherwise.
// - "alg" (§4.4), when present, is strict: the key verifies that algorithm only (a key whose alg
//   is RS256 never verifies PS256). An alg we do not implement is alg_unsupported; one that does
//   not fit the key type or curve is key_invalid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
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
  RS256,
  RS384,
  RS512,
  PS256,
  PS384,
  PS512,
  ES256,
  ES384,
  ES512,
  EdDSA,
  count_
};

// The registered name (RFC 7518 §3.1, RFC 8037 §3.1); empty for count_.
std::string_view alg_name(jws_alg a) noexcept;
// Exact, case-sensitive match of a registered name; nullopt for anything else, including
// "none" and "HS256".
std::optional<jws_alg> alg_from_name(std::string_view name) noexcept;

// A small set of algorithms: the per-issuer allow-list, or what one key may verify.
class alg_set {
 public:
  constexpr alg_set() = default;
  constexpr alg_set(std::initializer_list<jws_alg> algs) {
    for (auto a : algs)
      insert(a);
  }
  constexpr void insert(jws_alg a) noexcept { bits_ |= bit(a); }
  constexpr bool contains(jws_alg a) const noexcept { return (bits_ & bit(a)) != 0; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr alg_set operator&(alg_set o) const noexcept { return from_bits(bits_ & o.bits_); }
  constexpr alg_set operator|(alg_set o) const noexcept { return from_bits(bits_ | o.bits_); }
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
  std::string kid;  // may be empty when the JWK has none
  key_type kty{};
  int bits = 0;            // RSA modulus bits, EC field bits, 255 for Ed25519
  alg_set algs;            // what this key may verify: kty/crv ∩ "alg" ∩ "use"/"key_ops"
  std::string thumbprint;  // RFC 7638, SHA-256, base64url
  evp_pkey_ptr pkey;       // public key only
  // Per algorithm in `algs`, a context already through EVP_DigestVerifyInit (and the PSS
  // settings) that verify_signature copies: OpenSSL 3 spends about 3 us per init fetching the
  // provider algorithms, a tenth of an RSA-2048 verification. Read-only once built, so copies
  // may run on many threads. A null entry (keys built by hand) means initialise per call.
  std::array<evp_md_ctx_ptr, static_cast<std::size_t>(jws_alg::count_)> verify_contexts;
};

struct jwk_policy {
  int min_rsa_bits = 2048;
  std::size_t max_keys = 64;  // per JWKS document; keys beyond are skipped (jwks_invalid)
};

// One key from its JSON object. Fails with key_invalid (bad or missing members, point not on
// the curve), key_unsupported (kty/crv we do not implement, private keys, symmetric keys),
// key_too_weak (see the policy above), key_use_mismatch (use is not "sig", key_ops lacks
// "verify"), alg_unsupported (the key's "alg" is not one we implement).
result<jwk> parse_jwk(const boost::json::object& o, const jwk_policy& policy = {});

// An immutable set of verification keys (one issuer's JWKS).
class key_set {
 public:
  key_set() = default;
  explicit key_set(std::vector<std::shared_ptr<const jwk>> keys) : keys_(std::move(keys)) {}

  std::span<const std::shared_ptr<const jwk>> keys() const noexcept { return keys_; }
  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }

  // With a kid: the first key with exactly this kid that may verify `alg`; nullptr when none.
  // With an empty kid (a token without "kid"): the only key of the set that may verify `alg`,
  // whatever its kid; nullptr when there is none or several (ambiguous, so never guessed).
  const jwk* find(std::string_view kid, jws_alg alg) const noexcept;
  // Whether any key carries this kid (tells kid_unknown from key_use_mismatch).
  bool contains_kid(std::string_view kid) const noexcept;

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

// A whole JWKS document (RFC 7517 §5), parsed with kJwksJsonLimits. Unusable keys are skipped
// (and listed) so one odd key never takes the issuer's other keys down; fails with jwks_invalid
// when the document is not {"keys":[...]} (including malformed JSON) or when no key is usable.
//
// Duplicate kids: keys with the same non-empty kid whose alg sets are disjoint (an RSA and an EC
// key under one kid) are all kept, since (kid, alg) still names one key. When their alg sets
// overlap, an exact repeat (same thumbprint) is dropped and the first kept; different key
// material under one (kid, alg) is ambiguous, so every such key is skipped with key_invalid and
// a token naming that kid fails with kid_unknown instead of being checked against a key chosen
// by position in the document.
result<jwks_parse_result> parse_jwks(std::string_view json_text, const jwk_policy& policy = {});
result<jwks_parse_result> parse_jwks(const boost::json::object& document,
                                     const jwk_policy& policy = {});

// RFC 7638 thumbprint (SHA-256, base64url) of a JWK's required public members, taken as given;
// empty when kty is not RSA, EC, OKP or oct or a required member is missing or not a string.
std::string jwk_thumbprint(const boost::json::object& o);

}  // namespace oidc
