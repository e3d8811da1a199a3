// SPDX-License-Identifier: Apache-2.0
// JWS compact serialisation (RFC 7515) verification with caller-chosen algorithms. Order is fixed
// and documented: size → split → header decode/parse → header policy (jku/x5u/jwk/x5c, crit) →
// alg allow-list → key by kid and alg → signature → payload parse. Unsigned content is never
// trusted before the signature verifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "oidc/error.hpp"
#include "oidc/json.hpp"
#include "oidc/jwk.hpp"

namespace oidc {

struct jws_parts {
  std::string_view header_b64;
  std::string_view payload_b64;
  std::string_view signature_b64;
  std::string_view signing_input;  // header_b64 '.' payload_b64
};

// Splits a compact JWS into exactly three parts (malformed_token otherwise: wrong count of dots,
// empty header or signature, JSON serialisation) after checking its size (token_too_large).
result<jws_parts> split_compact(std::string_view token, std::size_t max_bytes) noexcept;

struct jose_header {
  jws_alg alg{};
  std::string kid;
  std::string typ;
};

struct jws_verify_options {
  alg_set allowed_algs;                 // from configuration, per issuer; never from the token
  std::size_t max_token_bytes = 16 * 1024;
  json_limits header_limits = kJoseJsonLimits;
  json_limits payload_limits = kJoseJsonLimits;
};

struct verified_jws {
  jose_header header;
  boost::json::object payload;  // claims; checked by the claim rules, not here
  const jwk* key = nullptr;     // the key that verified it (owned by the key_set)
};

// Verifies signature and header policy. Errors: token_too_large, malformed_token,
// base64_invalid, json_* (header or payload), header_forbidden, crit_unsupported,
// alg_not_allowed ("none", HS*, or an implemented alg missing from allowed_algs),
// alg_unsupported, kid_unknown, key_use_mismatch, signature_invalid.
result<verified_jws> verify_jws(std::string_view token, const key_set& keys,
                                const jws_verify_options& options);

// Checks one signature over `signing_input` with `key` under `alg`: RSASSA-PKCS1-v1_5, RSASSA-PSS
// (salt = hash length, MGF1 with the same hash), ECDSA with raw r||s of exactly twice the field
// size (DER is refused), Ed25519. Returns signature_invalid or key_use_mismatch.
result<void> verify_signature(const jwk& key, jws_alg alg, std::string_view signing_input,
                              std::span<const std::uint8_t> signature) noexcept;

// Produces a compact JWS with a private key (session tokens; the mock IdP; tests and
// benchmarks). ECDSA signatures are emitted as raw r||s. `header` must already hold "alg".
result<std::string> sign_compact(const boost::json::object& header,
                                 const boost::json::object& payload, EVP_PKEY* private_key,
                                 jws_alg alg);

}  // namespace oidc
