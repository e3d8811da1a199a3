// SPDX-License-Identifier: Apache-2.0
#include "oidc/error.hpp"

#include <string>
#include <system_error>

namespace oidc {
namespace {
using E = auth_error;
constexpr std::array<auth_error_info, static_cast<std::size_t>(auth_error::count_)> kTable{{
    {E::ok, "ok", 200, "Success."},
    {E::malformed_token, "malformed_token", 401,
     "The token is not a compact JWS with three base64url parts."},
    {E::token_too_large, "token_too_large", 401, "The token exceeds the configured size limit."},
    {E::base64_invalid, "base64_invalid", 401,
     "A part is not strict base64url (no padding, no foreign characters)."},
    {E::json_invalid, "json_invalid", 401, "A JSON document could not be parsed."},
    {E::json_too_large, "json_too_large", 401, "A JSON document exceeds the size limit."},
    {E::json_too_deep, "json_too_deep", 401, "A JSON document is nested too deeply."},
    {E::json_duplicate_member, "json_duplicate_member", 401,
     "A JSON object repeats a member name, which JOSE forbids."},
    {E::header_forbidden, "header_forbidden", 401,
     "The token header names its own key (jku, x5u, jwk or x5c); keys come only from the "
     "issuer's JWKS."},
    {E::crit_unsupported, "crit_unsupported", 401,
     "The token header lists critical extensions this server does not implement."},
    {E::alg_not_allowed, "alg_not_allowed", 401,
     "The token's algorithm is not in the issuer's configured allow-list."},
    {E::alg_unsupported, "alg_unsupported", 401, "The algorithm is not supported."},
    {E::typ_mismatch, "typ_mismatch", 401, "The token type (typ header) is not the one expected."},
    {E::kid_unknown, "kid_unknown", 401,
     "No key of the issuer's key set matches the token's kid and algorithm."},
    {E::key_invalid, "key_invalid", 401, "A key is malformed or its parameters are invalid."},
    {E::key_unsupported, "key_unsupported", 401, "The key type or curve is not supported."},
    {E::key_too_weak, "key_too_weak", 401, "The key is too weak (RSA keys need 2048 bits)."},
    {E::key_use_mismatch, "key_use_mismatch", 401,
     "The key's use, key_ops or alg does not allow verifying this signature."},
    {E::jwks_invalid, "jwks_invalid", 502, "The issuer's JWKS document holds no usable key."},
    {E::jwks_unavailable, "jwks_unavailable", 503,
     "The issuer's signing keys could not be loaded yet; retry shortly."},
    {E::jwks_stale, "jwks_stale", 503,
     "The issuer's signing keys are older than the stale-if-error bound; the IdP must be "
     "reachable again."},
    {E::signature_invalid, "signature_invalid", 401, "The signature does not verify."},
    {E::issuer_mismatch, "issuer_mismatch", 401,
     "The token's issuer (iss) is not the expected one."},
    {E::audience_mismatch, "audience_mismatch", 401,
     "The token's audience (aud) does not include this application."},
    {E::azp_mismatch, "azp_mismatch", 401,
     "The token's authorized party (azp) is not this application."},
    {E::token_expired, "token_expired", 401, "The token has expired; sign in again."},
    {E::token_not_yet_valid, "token_not_yet_valid", 401,
     "The token is not valid yet (nbf beyond the allowed clock skew); check clocks."},
    {E::iat_in_future, "iat_in_future", 401,
     "The token was issued in the future (iat beyond the allowed clock skew); check clocks."},
    {E::token_too_old, "token_too_old", 401, "The token was issued too long ago; sign in again."},
    {E::nonce_missing, "nonce_missing", 401, "The ID token carries no nonce."},
    {E::nonce_mismatch, "nonce_mismatch", 401,
     "The ID token's nonce does not match the login that was started."},
    {E::tenant_mismatch, "tenant_mismatch", 401,
     "The token was issued for another Entra tenant (tid)."},
    {E::claim_missing, "claim_missing", 401, "A required claim is missing."},
    {E::claim_invalid, "claim_invalid", 401, "A claim has the wrong type or an invalid value."},
    {E::not_an_access_token, "not_an_access_token", 401,
     "The token carries neither scp nor roles, so it is not an access token."},
    {E::session_revoked, "session_revoked", 401, "The session was signed out; sign in again."},
    {E::credentials_missing, "credentials_missing", 401,
     "The request carries no session cookie and no bearer token; sign in."},
    {E::cookie_malformed, "cookie_malformed", 400, "A cookie is malformed."},
    {E::cookie_tampered, "cookie_tampered", 400,
     "A sealed cookie failed authentication (tampered or sealed for another purpose)."},
    {E::cookie_key_unknown, "cookie_key_unknown", 400,
     "A sealed cookie names a key that is no longer configured; sign in again."},
    {E::cookie_expired, "cookie_expired", 400, "A sealed cookie has expired; sign in again."},
    {E::state_missing, "state_missing", 400,
     "The login state is missing (cookie blocked or login started elsewhere); start the login "
     "again."},
    {E::state_mismatch, "state_mismatch", 400,
     "The state parameter does not match the login in progress; start the login again."},
    {E::state_expired, "state_expired", 400,
     "The login took too long and its state expired; start the login again."},
    {E::state_replayed, "state_replayed", 400,
     "This login response was already used; start the login again."},
    {E::organisation_mismatch, "organisation_mismatch", 400,
     "The login was started for another organisation."},
    {E::idp_error, "idp_error", 502,
     "The identity provider answered with an error; see the reason shown for the fix."},
    {E::idp_unreachable, "idp_unreachable", 502, "The identity provider could not be reached."},
    {E::idp_timeout, "idp_timeout", 504, "The identity provider did not answer in time."},
    {E::idp_bad_response, "idp_bad_response", 502,
     "The identity provider's response was malformed or oversized."},
    {E::token_endpoint_error, "token_endpoint_error", 502,
     "The identity provider refused to redeem the authorization code."},
    {E::discovery_failed, "discovery_failed", 502,
     "The identity provider's OpenID configuration could not be loaded."},
    {E::account_not_found, "account_not_found", 403,
     "No account of this organisation belongs to this user; ask an administrator."},
    {E::account_disabled, "account_disabled", 403, "The account is disabled."},
    {E::account_domain_not_allowed, "account_domain_not_allowed", 403,
     "The user's address is outside the organisation's configured domains."},
    {E::account_oid_mismatch, "account_oid_mismatch", 403,
     "The account is bound to another directory user (oid)."},
    {E::organisation_unknown, "organisation_unknown", 404, "No such organisation."},
    {E::request_invalid, "request_invalid", 400, "The request is malformed."},
    {E::redirect_not_allowed, "redirect_not_allowed", 400,
     "The return address is not a same-site path or an allowed origin."},
    {E::cross_site_request, "cross_site_request", 403,
     "The request came from another site and was refused."},
    {E::headers_too_large, "headers_too_large", 431, "The request headers are too large."},
    {E::body_too_large, "body_too_large", 413, "The request body is too large."},
    {E::request_timeout, "request_timeout", 408, "The request was not received in time."},
    {E::config_invalid, "config_invalid", 500, "The configuration is invalid."},
    {E::internal_error, "internal_error", 500, "An internal error occurred."},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable[i].code) != i) return false;
    if (kTable[i].label.empty() || kTable[i].message.empty()) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "auth_error_table rows must follow the enum order");

class auth_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "oidc.auth"; }
  std::string message(int ev) const override {
    if (ev < 0 || ev >= static_cast<int>(auth_error::count_)) return "unknown auth_error";
    return std::string(kTable[static_cast<std::size_t>(ev)].message);
  }
};
}  // namespace

const std::array<auth_error_info, static_cast<std::size_t>(auth_error::count_)> auth_error_table =
    kTable;

const auth_error_info& info(auth_error e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < kTable.size() ? kTable[i]
                           : kTable[static_cast<std::size_t>(auth_error::internal_error)];
}

auth_error from_label(std::string_view l) noexcept {
  for (const auto& row : kTable)
    if (row.label == l) return row.code;
  return auth_error::count_;
}

const std::error_category& auth_category() noexcept {
  static const auth_category_impl category;
  return category;
}

void throw_exception_from_error(auth_error e, const boost::source_location& loc) {
  boost::throw_exception(std::system_error(make_error_code(e)), loc);
}

}  // namespace oidc
