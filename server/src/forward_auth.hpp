// SPDX-License-Identifier: Apache-2.0
// The HTTP edges of /api/verify (forward-auth): reading the bearer token (RFC 6750 §2.1),
// checking identity values before they become headers, and the WWW-Authenticate challenge of a
// refusal (RFC 6750 §3). Pure functions, no I/O.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "oidc/error.hpp"

namespace oidc::server {

// The token of `Authorization: Bearer <token>`. `values` are all Authorization header values of
// the request: none gives nullopt (no bearer credentials); exactly one with the Bearer scheme
// (case-insensitive, RFC 9110 §11.1) and a token68 gives the token; anything else (several
// headers, another scheme, an empty or malformed token) is request_invalid.
result<std::optional<std::string_view>> bearer_token(std::span<const std::string_view> values);

// Whether `value` may travel as an X-Auth-* header value: valid UTF-8 without control
// characters (C0, DEL, C1), so a claim can neither split a header nor smuggle one.
bool header_value_safe(std::string_view value) noexcept;

// The WWW-Authenticate value of a refused /api/verify request: `Bearer` alone when the request
// carried no credentials (RFC 6750 §3.1), `error="invalid_request"` for request_invalid, and
// `error="invalid_token"` with the reason label as error_description otherwise.
std::string www_authenticate(auth_error reason);

}  // namespace oidc::server
