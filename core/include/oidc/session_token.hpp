// SPDX-License-Identifier: Apache-2.0
// Session tokens: ES256 compact JWS issued and verified with the server's own key ring, and the
// public JWKS document served at /.well-known/jwks.json so other services verify them offline.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "oidc/error.hpp"
#include "oidc/jwk.hpp"
#include "oidc/ossl.hpp"
#include "oidc/random.hpp"

namespace oidc {

// A fixed audience and type, so neither an ID token nor an access token of the IdP (whose aud is
// a client id and whose typ is "JWT" or absent) ever passes as a session (RFC 8725 §3.11, §3.12).
inline constexpr std::string_view kSessionAudience = "oidc-callback-server/session";
inline constexpr std::string_view kSessionTokenType = "session+jwt";
inline constexpr std::size_t kSessionIdBytes = 16;  // 128 bits
inline constexpr std::size_t kMaxSessionTokenBytes = 8 * 1024;

struct session_claims {
  std::string sid;  // random, new_session_id(); the handle logout revokes
  std::string sub;  // the account
  std::string org;
  std::string tid;  // Entra tenant and object id of the user who logged in
  std::string oid;
  std::string email;
  std::string name;
  // Entra's optional login_hint claim of the ID token, kept so logout can name the account to
  // sign out (logout_hint at the end_session_endpoint); opaque, empty when the IdP sent none.
  std::string login_hint;
  std::string iss;  // set by issue() from the configured issuer
  std::chrono::sys_seconds iat{};
  std::chrono::sys_seconds exp{};  // absolute: iat + lifetime, never extended by use
  bool operator==(const session_claims&) const = default;
};

// One signing key from configuration. An empty kid becomes the key's RFC 7638 thumbprint.
struct session_key {
  std::string private_key_pem;  // EC P-256, PKCS#8 or SEC1, unencrypted
  std::string kid;
};

struct session_signer_options {
  std::string issuer;                                    // the server's own URL
  std::chrono::seconds lifetime{std::chrono::hours(8)};  // absolute session length
  std::chrono::seconds leeway{30};                       // clock skew between instances
};

struct issued_session {
  std::string token;
  session_claims claims;  // as signed: iss, iat and exp filled in
};

// Issues and verifies session tokens. Keys are given oldest first: the last one signs, all of
// them verify and are published, so a rotation appends a key, waits until every instance has it,
// and drops the old key once the last session signed by it has expired (lifetime + leeway).
// Immutable after create(); issue and verify are const and thread-safe.
class session_signer {
 public:
  // config_invalid: no keys, duplicate kids, empty issuer, lifetime outside (0, 366 days],
  // leeway outside [0, 1 hour].
  // key_invalid: PEM unreadable, encrypted or inconsistent. key_unsupported: not EC P-256.
  static result<session_signer> create(std::span<const session_key> keys,
                                       session_signer_options options);

  // Signs `claims` (sid and sub required: claim_missing) with iss = options.issuer,
  // aud = kSessionAudience, iat = now and exp = now + options.lifetime; the iss, iat and exp
  // passed in are not read. internal_error when signing fails.
  result<issued_session> issue(const session_claims& claims, std::chrono::sys_seconds now) const;

  // verify_jws with {ES256} against this signer's public keys (kid_unknown, signature_invalid,
  // ...), then in order: typ (typ_mismatch), iss (issuer_mismatch), aud (audience_mismatch),
  // exp (token_expired iff now >= exp + leeway), iat (iat_in_future iff now < iat - leeway;
  // token_too_old iff now > iat + lifetime + leeway, so shortening the lifetime applies to
  // sessions already issued), sid and sub. Absent required claims are claim_missing, wrongly
  // typed ones claim_invalid. Revocation is the caller's next step.
  result<session_claims> verify(std::string_view token, std::chrono::sys_seconds now) const;

  // {"keys":[...]} with the public JWK (kid, use "sig", alg "ES256") of every key, newest first.
  const std::string& jwks_json() const noexcept { return jwks_json_; }
  const std::shared_ptr<const key_set>& public_keys() const noexcept { return keys_; }
  const std::string& signing_kid() const noexcept { return signing_kid_; }
  const session_signer_options& options() const noexcept { return options_; }

 private:
  session_signer() = default;

  session_signer_options options_;
  evp_pkey_ptr signing_key_;
  evp_md_ctx_ptr sign_context_;  // make_sign_context(signing_key_, ES256); null: sign directly
  std::string signing_kid_;
  std::shared_ptr<const key_set> keys_;
  std::string jwks_json_;
};

// kSessionIdBytes from `rng`, base64url.
std::string new_session_id(random_source& rng);

// Any private key from PEM text in memory (PKCS#8, SEC1 or PKCS#1). Encrypted PEM is refused
// rather than prompting for a pass phrase. key_invalid when unreadable.
result<evp_pkey_ptr> parse_private_key_pem(std::string_view pem);

// A fresh EC P-256 private key as unencrypted PKCS#8 PEM, from OpenSSL's CSPRNG (development
// and demo key creation; production keys come from files). internal_error on failure.
result<std::string> generate_ec_p256_private_key_pem();

}  // namespace oidc
