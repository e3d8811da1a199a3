// SPDX-License-Identifier: Apache-2.0
// JWS compact serialisation (RFC 7515) verification with caller-chosen algorithms, and signing.
//
// verify_jws checks in this fixed order and reports the first failure:
//   1. size: token_too_large beyond options.max_token_bytes;
//   2. split: exactly three parts, header and signature non-empty (malformed_token);
//   3. header: strict base64url (base64_invalid), then strict JSON object (json_invalid,
//      json_duplicate_member, json_too_deep, json_too_large);
//   4. header policy: jku, x5u, jwk or x5c present (header_forbidden: keys come only from the
//      issuer's JWKS, RFC 8725 §3.10); any crit (crit_unsupported: we understand no extension,
//      RFC 7515 §4.1.11); alg missing or not a string, kid or typ not a string (malformed_token);
//   5. alg: "none" and HS* (any case) are alg_not_allowed whatever the configuration; other
//      unknown names alg_unsupported; an implemented alg outside options.allowed_algs
//      alg_not_allowed. The token's alg only selects among what the caller allowed;
//   6. key: key_set::find(kid, alg); none with that kid is kid_unknown, a key with that kid that
//      may not verify alg (its own "alg", "use" or type differs) is key_use_mismatch;
//   7. signature: strict base64url (base64_invalid), then verify_signature (signature_invalid);
//   8. payload: strict base64url (base64_invalid), then (verify_jws only) a strict JSON object.
// Nothing from the payload is looked at before the signature verifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// empty header or signature, JSON serialisation) after checking its size (token_too_large). An
// empty payload is allowed (RFC 7515 §7.1).
result<jws_parts> split_compact(std::string_view token, std::size_t max_bytes) noexcept;

struct jose_header {
  jws_alg alg{};
  std::string kid;  // empty when absent
  std::string typ;  // empty when absent; checked by the caller's token rules, not here
};

// The protected header of a compact JWS, read without verifying anything else: what a key cache
// needs to pick the key (alg, kid) before verify_jws checks the whole token. Fails as verify_jws
// would on the same header: malformed_token, token_too_large, json_*, header_forbidden,
// crit_unsupported, alg_not_allowed (none, HS*), alg_unsupported (other unknown names).
result<jose_header> peek_jose_header(std::string_view token, std::size_t max_token_bytes) noexcept;

// A compact JWS whose protected header peek_jws decoded and checked. The key cache picks the
// key by header(); verify_jws_signature takes the whole object, so the header is decoded once
// per token and can only ever be the header of the token it carries (there is no other way to
// make one). Views the token: keep the token alive.
class peeked_jws {
 public:
  std::string_view token() const noexcept { return token_; }
  const jose_header& header() const noexcept { return header_; }

 private:
  friend result<peeked_jws> peek_jws(std::string_view token, std::size_t max_token_bytes) noexcept;
  peeked_jws(std::string_view token, jose_header header) noexcept
      : token_(token), header_(std::move(header)) {}
  std::string_view token_;
  jose_header header_;
};

// peek_jose_header, keeping the token with its header (same checks, same errors).
result<peeked_jws> peek_jws(std::string_view token, std::size_t max_token_bytes) noexcept;

struct jws_verify_options {
  alg_set allowed_algs;  // from configuration, per issuer; never from the token. Empty: nothing
  std::size_t max_token_bytes = 16 * 1024;
  json_limits header_limits = kJoseJsonLimits;
  json_limits payload_limits = kJoseJsonLimits;
};

struct verified_jws {
  jose_header header;
  boost::json::object payload;  // claims; checked by the claim rules, not here
  const jwk* key = nullptr;     // the key that verified it (owned by the key_set: keep it alive)
};

// As verified_jws with the payload octets unparsed (RFC 7515 allows any payload).
struct verified_jws_bytes {
  jose_header header;
  std::string payload;
  const jwk* key = nullptr;
};

// Verifies header policy and signature, then parses the payload as a JSON object (with
// options.payload_limits). Errors, in checking order: see the top of this file.
result<verified_jws> verify_jws(std::string_view token, const key_set& keys,
                                const jws_verify_options& options);

// The payload of a compact JWS decoded and parsed as verify_jws would, verifying nothing: for a
// caller that must read `iss` to choose the issuer's keys and rules before verifying. Pair it
// with verify_jws_signature on the same token so the payload is parsed once.
result<boost::json::object> parse_jws_payload(std::string_view token, std::size_t max_token_bytes,
                                              const json_limits& limits = kJoseJsonLimits);

// verify_jws's header, key and signature checks (same errors, same order) without the payload.
result<jose_header> verify_jws_signature(std::string_view token, const key_set& keys,
                                         const jws_verify_options& options);

// The same on a peeked token: the same checks in the same order, with the header peek_jws read
// instead of decoding it again. Decodes it anyway when options.header_limits are not
// kJoseJsonLimits (the limits peek_jws reads with).
result<jose_header> verify_jws_signature(const peeked_jws& jws, const key_set& keys,
                                         const jws_verify_options& options);

// The same checks, returning the payload octets without parsing them.
result<verified_jws_bytes> verify_jws_bytes(std::string_view token, const key_set& keys,
                                            const jws_verify_options& options);

// Checks one signature over `signing_input` with `key` under `alg`: RSASSA-PKCS1-v1_5, RSASSA-PSS
// (salt = hash length, MGF1 with the same hash; RFC 7518 §3.5), ECDSA with raw r||s of exactly
// twice the field size (RFC 7518 §3.4; DER is refused), Ed25519 (RFC 8037 §3.1). A signature
// whose length is not exactly the key's (RSA modulus octets, 2 x field octets, 64) is
// signature_invalid. Returns signature_invalid, or key_use_mismatch when key.algs lacks alg.
result<void> verify_signature(const jwk& key, jws_alg alg, std::string_view signing_input,
                              std::span<const std::uint8_t> signature) noexcept;

// An EVP_MD_CTX through EVP_DigestVerifyInit for `alg` with `key` (hash; PSS padding, salt and
// MGF1 for PS*), ready for EVP_DigestVerify or to be copied with EVP_MD_CTX_copy_ex; null when
// OpenSSL refuses either. parse_jwk stores one per algorithm in jwk::verify_contexts.
evp_md_ctx_ptr make_verify_context(EVP_PKEY* key, jws_alg alg) noexcept;

// The JWS Signature of `signing_input` with a private key: ECDSA as raw r||s, PSS with salt =
// hash length. Fails with key_use_mismatch when the key's type or curve does not fit alg,
// key_too_weak for RSA under 2048 bits, internal_error when OpenSSL fails.
result<std::vector<std::uint8_t>> compute_signature(EVP_PKEY* private_key, jws_alg alg,
                                                    std::string_view signing_input);

// Produces a compact JWS with a private key (session tokens; the mock IdP; tests and
// benchmarks). `header` must hold "alg" equal to alg_name(alg) (internal_error otherwise: a
// caller bug, never input-dependent). Errors as compute_signature.
result<std::string> sign_compact(const boost::json::object& header,
                                 const boost::json::object& payload, EVP_PKEY* private_key,
                                 jws_alg alg);

// As sign_compact with the protected header's JSON text and the payload octets taken verbatim
// (fixed header bytes for benchmarks; non-JSON payloads). The header text is not checked.
// A signing context for `private_key` under `alg`, with the key checks of compute_signature and
// EVP_DigestSignInit done once; null when the key does not fit `alg` or OpenSSL refuses. Keep
// it with the key: sign_compact_prepared copies it per signature, skipping the per-call
// algorithm fetch and key checks (a measurable share of issuing a session token).
evp_md_ctx_ptr make_sign_context(EVP_PKEY* private_key, jws_alg alg) noexcept;

// sign_compact with a context from make_sign_context (not modified; safe to share between
// threads).
result<std::string> sign_compact_prepared(const boost::json::object& header,
                                          const boost::json::object& payload,
                                          const EVP_MD_CTX* prepared, jws_alg alg);

result<std::string> sign_compact_bytes(std::string_view header_json, std::string_view payload,
                                       EVP_PKEY* private_key, jws_alg alg);

}  // namespace oidc
