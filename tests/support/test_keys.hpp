// SPDX-License-Identifier: Apache-2.0
// Test and benchmark key pairs: RSA-2048, EC P-256/P-384/P-521 and Ed25519 generated with
// EVP_PKEY_Q_keygen, with their public JWK (RFC 7517) for parse_jwk/parse_jwks and the private
// key for sign_compact. Header-only: tests/support is not a library.
//
//   const auto& k = oidc::test::cached_test_key(oidc::jws_alg::ES256);  // generated once
//   auto keys = oidc::test::key_set_of({&k});
//   auto token = oidc::test::sign_test_token(k, {{"iss", "https://issuer"}});
//   auto v = oidc::verify_jws(token.value(), *keys, opts);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/core_names.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/jwk.hpp"
#include "oidc/jws.hpp"
#include "oidc/ossl.hpp"

namespace oidc::test {

enum class key_kind : std::uint8_t { rsa2048, p256, p384, p521, ed25519 };

// The key kind that signs `alg` (RS*/PS*: RSA-2048).
inline key_kind kind_for(jws_alg alg) {
  switch (alg) {
    case jws_alg::ES256:
      return key_kind::p256;
    case jws_alg::ES384:
      return key_kind::p384;
    case jws_alg::ES512:
      return key_kind::p521;
    case jws_alg::EdDSA:
      return key_kind::ed25519;
    default:
      return key_kind::rsa2048;
  }
}

// A fresh private key; throws std::runtime_error if OpenSSL fails (tests only).
inline evp_pkey_ptr generate_key(key_kind kind) {
  EVP_PKEY* k = nullptr;
  switch (kind) {
    case key_kind::rsa2048:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
      break;
    case key_kind::p256:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case key_kind::p384:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case key_kind::p521:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case key_kind::ed25519:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (!k) throw std::runtime_error("EVP_PKEY_Q_keygen failed");
  return evp_pkey_ptr(k);
}

namespace detail {
inline std::string bn_param_b64(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(name);
  bignum_ptr owned(bn);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  return base64url_encode(out);
}

inline std::string bn_param_padded_b64(const EVP_PKEY* key, const char* name, std::size_t len) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(name);
  bignum_ptr owned(bn);
  std::vector<std::uint8_t> out(len);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(len)) < 0) throw std::runtime_error(name);
  return base64url_encode(out);
}
}  // namespace detail

// The public JWK of `key`: kty and key members, then kid/alg/use when given (non-empty).
inline boost::json::object public_jwk(const EVP_PKEY* key, std::string_view kid = {},
                                      std::optional<jws_alg> alg = std::nullopt,
                                      std::string_view use = "sig") {
  boost::json::object o;
  if (EVP_PKEY_is_a(key, "RSA")) {
    o["kty"] = "RSA";
    o["n"] = detail::bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N);
    o["e"] = detail::bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E);
  } else if (EVP_PKEY_is_a(key, "EC")) {
    const int bits = EVP_PKEY_get_bits(key);
    const std::size_t len = (static_cast<std::size_t>(bits) + 7) / 8;
    o["kty"] = "EC";
    o["crv"] = bits == 256 ? "P-256" : bits == 384 ? "P-384" : "P-521";
    o["x"] = detail::bn_param_padded_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, len);
    o["y"] = detail::bn_param_padded_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, len);
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    std::array<std::uint8_t, 32> x{};
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, x.data(), x.size(), &len) !=
            1 ||
        len != x.size()) {
      throw std::runtime_error("Ed25519 public key");
    }
    o["kty"] = "OKP";
    o["crv"] = "Ed25519";
    o["x"] = base64url_encode(x);
  } else {
    throw std::runtime_error("unsupported test key type");
  }
  if (!kid.empty()) o["kid"] = kid;
  if (alg) o["alg"] = alg_name(*alg);
  if (!use.empty()) o["use"] = use;
  return o;
}

inline std::string public_jwk_json(const EVP_PKEY* key, std::string_view kid = {},
                                   std::optional<jws_alg> alg = std::nullopt) {
  return boost::json::serialize(public_jwk(key, kid, alg));
}

struct test_key {
  jws_alg alg{};
  std::string kid;
  evp_pkey_ptr private_key;
  boost::json::object jwk;  // public: kty members, kid, alg, use=sig

  std::string jwk_json() const { return boost::json::serialize(jwk); }
};

// A fresh key pair for `alg` whose public JWK carries kid, alg and use=sig.
inline test_key make_test_key(jws_alg alg, std::string kid) {
  test_key k;
  k.alg = alg;
  k.kid = std::move(kid);
  k.private_key = generate_key(kind_for(alg));
  k.jwk = public_jwk(k.private_key.get(), k.kid, alg);
  return k;
}

// One key per alg per process (RSA generation is slow), kid "test-<alg>". Thread-safe.
inline const test_key& cached_test_key(jws_alg alg) {
  static std::mutex mutex;
  static std::array<std::unique_ptr<test_key>, static_cast<std::size_t>(jws_alg::count_)> keys;
  const std::lock_guard lock(mutex);
  auto& slot = keys[static_cast<std::size_t>(alg)];
  if (!slot) {
    slot = std::make_unique<test_key>(make_test_key(alg, "test-" + std::string(alg_name(alg))));
  }
  return *slot;
}

// {"keys":[...]} of the given keys' public JWKs.
inline std::string jwks_json(std::initializer_list<const test_key*> keys) {
  boost::json::array a;
  for (const test_key* k : keys)
    a.push_back(k->jwk);
  return boost::json::serialize(boost::json::object{{"keys", std::move(a)}});
}

// A key_set of the given keys, each through parse_jwk; throws if one is refused.
inline std::shared_ptr<const key_set> key_set_of(std::initializer_list<const test_key*> keys) {
  std::vector<std::shared_ptr<const jwk>> out;
  for (const test_key* k : keys) {
    auto parsed = parse_jwk(k->jwk);
    if (!parsed) throw std::runtime_error("parse_jwk refused a test key");
    out.push_back(std::make_shared<const jwk>(std::move(*parsed)));
  }
  return std::make_shared<const key_set>(std::move(out));
}

// A compact JWS of `payload` with header {"alg", "kid", "typ":"JWT"} plus `extra_header`.
inline result<std::string> sign_test_token(const test_key& key, const boost::json::object& payload,
                                           const boost::json::object& extra_header = {}) {
  boost::json::object header{{"alg", alg_name(key.alg)}, {"kid", key.kid}, {"typ", "JWT"}};
  for (const auto& m : extra_header)
    header[m.key()] = m.value();
  return sign_compact(header, payload, key.private_key.get(), key.alg);
}

}  // namespace oidc::test
