// SPDX-License-Identifier: Apache-2.0
// Claim rules for ID tokens (OIDC Core 3.1.3.7) and Entra access tokens, applied to a payload
// whose signature already verified, in a fixed order that reports exactly one reason. Time is an
// argument: nothing here reads a clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "oidc/error.hpp"
#include "oidc/jwk.hpp"
#include "oidc/jws.hpp"

namespace oidc {

// What the relying party expects of the ID token of one login (OIDC Core 3.1.3.7).
struct id_token_expectations {
  std::string issuer;                       // exact iss; a trailing-slash variant does not match
  std::string client_id;                    // must be in aud; azp, when present, must equal it
  std::optional<std::string> tenant_id;     // Entra: tid must equal it; nullopt for generic OIDC
  std::string nonce;                        // the nonce sent with this login; never empty in use
  std::chrono::seconds skew{60};            // tolerance for every time comparison; < 0 acts as 0
  std::chrono::seconds max_age{600};        // iat may be at most max_age (+ skew) in the past
  alg_set allowed_algs;                     // from configuration, never from the token
  std::size_t max_token_bytes = 16 * 1024;  // limits.max_token_bytes
};

// What a protected API expects of an access token presented to it.
struct access_token_expectations {
  // Exact iss values accepted: Entra v2 `{authority}/{tid}/v2.0`, and the v1
  // `https://sts.windows.net/{tid}/` only where configured.
  std::vector<std::string> issuers;
  // aud must contain one of these: the client ID GUID (v2 tokens) or `api://...` (v1 tokens).
  std::vector<std::string> audiences;
  std::optional<std::string> tenant_id;  // Entra: tid must equal it
  std::chrono::seconds skew{60};
  alg_set allowed_algs;
  std::size_t max_token_bytes = 16 * 1024;  // limits.max_token_bytes
  bool operator==(const access_token_expectations&) const = default;
};

// The claims a caller may rely on once the checks passed. Absent optional string claims are
// empty strings.
struct token_claims {
  std::string iss;
  std::string sub;
  std::string oid;  // Entra: the user's (or service principal's) object id, stable per tenant
  std::string tid;
  std::vector<std::string> aud;
  std::string azp;
  std::string appid;  // Entra v1 access tokens name the calling client here instead of azp
  std::string preferred_username;
  std::string upn;
  std::string email;
  std::string name;
  std::string login_hint;
  std::string nonce;
  std::string ver;
  std::vector<std::string> scopes;  // `scp` split on spaces
  std::vector<std::string> roles;
  std::chrono::sys_seconds exp{};
  std::optional<std::chrono::sys_seconds> nbf;
  std::optional<std::chrono::sys_seconds> iat;  // always set for ID tokens
  std::optional<std::chrono::sys_seconds> auth_time;
};

// Checks an ID token payload. Order (the first failing rule is the one reported):
//   iss → aud → azp → exp → nbf → iat → max age → nonce → tid → remaining typed claims.
// A required claim that is absent is claim_missing, a claim of the wrong type or out of range
// is claim_invalid, at the step that reads it. Required: iss, sub, aud, exp, iat, nonce (and
// tid when expectations.tenant_id is set). With s = max(skew, 0), boundaries are:
//   expired          iff now >= exp + s   (RFC 7519 4.1.4: valid only before exp)
//   not yet valid    iff now <  nbf - s   (RFC 7519 4.1.5: valid at or after nbf)
//   iat in future    iff now <  iat - s
//   too old          iff now >  iat + max_age + s
// NumericDates may be integers or non-integer numbers (RFC 7519 2); fractions are dropped
// (floor). Negative values, values past 9999-12-31 and non-numbers are claim_invalid.
result<token_claims> check_id_token_claims(const boost::json::object& payload,
                                           const id_token_expectations& want,
                                           std::chrono::sys_seconds now);

// Checks an access token payload. Order:
//   iss → aud → exp → nbf → tid → scp/roles → remaining typed claims.
// Required: iss, aud, exp (and tid when expectations.tenant_id is set); the time boundaries are
// those of check_id_token_claims. A token with no scope in `scp` and no entry in `roles` (an ID
// token, a session token) is not_an_access_token. azp is not checked: in an access token it
// names the calling client, not this API.
result<token_claims> check_access_token_claims(const boost::json::object& payload,
                                               const access_token_expectations& want,
                                               std::chrono::sys_seconds now);

// verify_jws with want.allowed_algs (header policy, key lookup, signature), then the ID token
// claim rules: a forged token is reported by its signature, never by its unsigned claims.
result<token_claims> verify_id_token(std::string_view jws, const key_set& keys,
                                     const id_token_expectations& want,
                                     std::chrono::sys_seconds now);

// verify_jws with want.allowed_algs, then the access token claim rules.
result<token_claims> verify_access_token(std::string_view jws, const key_set& keys,
                                         const access_token_expectations& want,
                                         std::chrono::sys_seconds now);

// The same for a caller that already holds parse_jws_payload(jws.token(), ...) (it read `iss`
// to choose the issuer) and peek_jws (its key cache picked the key set by kid):
// verify_jws_signature on the peeked token, then the claim rules on `payload`, which must come
// from this very token. The signature is still checked before any claim.
result<token_claims> verify_access_token(const peeked_jws& jws, const boost::json::object& payload,
                                         const key_set& keys, const access_token_expectations& want,
                                         std::chrono::sys_seconds now);

// Entra v2 issuer of a tenant: "{authority}/{tid}/v2.0", e.g. authority
// "https://login.microsoftonline.com". A trailing '/' on authority is not doubled.
std::string entra_v2_issuer(std::string_view authority, std::string_view tenant_id);

// Entra v1 issuer of a tenant: "https://sts.windows.net/{tid}/" (with the trailing slash).
std::string entra_v1_issuer(std::string_view tenant_id);

}  // namespace oidc
