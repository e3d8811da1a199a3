// SPDX-License-Identifier: Apache-2.0
// The one enum of failure reasons for the whole product, and the table that maps each reason to
// an HTTP status, a stable snake_case label (metrics, logs, dashboards, alerts) and a message a
// person can act on. Labels are the canonical list documented in docs/errors.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace oidc {

enum class auth_error : std::uint8_t {
  ok = 0,
  // Token shape and encoding.
  malformed_token,
  token_too_large,
  base64_invalid,
  json_invalid,
  json_too_large,
  json_too_deep,
  json_duplicate_member,
  // JOSE header policy.
  header_forbidden,
  crit_unsupported,
  alg_not_allowed,
  alg_unsupported,
  typ_mismatch,
  // Keys.
  kid_unknown,
  key_invalid,
  key_unsupported,
  key_too_weak,
  key_use_mismatch,
  jwks_invalid,
  jwks_unavailable,
  jwks_stale,
  // Signature and claims, in the order they are checked.
  signature_invalid,
  issuer_mismatch,
  audience_mismatch,
  azp_mismatch,
  token_expired,
  token_not_yet_valid,
  iat_in_future,
  token_too_old,
  nonce_missing,
  nonce_mismatch,
  tenant_mismatch,
  claim_missing,
  claim_invalid,
  not_an_access_token,
  session_revoked,
  credentials_missing,
  // Sealed cookies and login state.
  cookie_malformed,
  cookie_tampered,
  cookie_key_unknown,
  cookie_expired,
  state_missing,
  state_mismatch,
  state_expired,
  state_replayed,
  organisation_mismatch,
  // Identity provider.
  idp_error,
  idp_unreachable,
  idp_timeout,
  idp_bad_response,
  token_endpoint_error,
  discovery_failed,
  // Accounts and organisations.
  account_not_found,
  account_disabled,
  account_domain_not_allowed,
  account_oid_mismatch,
  organisation_unknown,
  // Requests.
  request_invalid,
  redirect_not_allowed,
  cross_site_request,
  headers_too_large,
  body_too_large,
  request_timeout,
  // Configuration and internals.
  config_invalid,
  internal_error,
  count_  // not a reason: the number of values, pinned against the table below
};

struct auth_error_info {
  auth_error code;
  std::string_view label;    // stable snake_case metric label and log value
  unsigned http_status;      // status a client sees for this reason
  std::string_view message;  // what a person can do about it; never contains request data
};

// One row per enumerator, in enumerator order (checked at compile time in error.cpp).
extern const std::array<auth_error_info, static_cast<std::size_t>(auth_error::count_)>
    auth_error_table;

const auth_error_info& info(auth_error e) noexcept;
inline std::string_view label(auth_error e) noexcept {
  return info(e).label;
}
inline unsigned http_status(auth_error e) noexcept {
  return info(e).http_status;
}
inline std::string_view message(auth_error e) noexcept {
  return info(e).message;
}
inline constexpr std::size_t index(auth_error e) noexcept {
  return static_cast<std::size_t>(e);
}

// Looks a reason up by its label (for tests, tools and config); count_ when unknown.
auth_error from_label(std::string_view label) noexcept;

const std::error_category& auth_category() noexcept;
inline std::error_code make_error_code(auth_error e) noexcept {
  return {static_cast<int>(e), auth_category()};
}

// boost::system::result<T, auth_error>: a value or exactly one reason, no strings.
template <class T>
using result = boost::system::result<T, auth_error>;

// Found by ADL when .value() is called on an error result.
[[noreturn]] void throw_exception_from_error(auth_error e, const boost::source_location& loc);

}  // namespace oidc

template <>
struct std::is_error_code_enum<oidc::auth_error> : std::true_type {};
