// SPDX-License-Identifier: Apache-2.0
// Error pages: an HTML page or a JSON document (by the Accept header) naming the reason label,
// its message and, for AADSTS errors, what the Entra admin must change. Everything is escaped;
// nothing from the request except closed-set values reaches the page.
#pragma once

#include <string>
#include <string_view>

#include "aadsts.hpp"
#include "oidc/error.hpp"

namespace oidc::server {

struct error_view {
  auth_error reason = auth_error::internal_error;
  const aadsts_info* aadsts = nullptr;  // set for IdP and token-endpoint errors with an AADSTS code
  std::string idp_error;   // the IdP's `error` value when it is a short snake_case token
  std::string request_id;  // for support
  std::string retry_url;   // where "try again" goes; empty: no link
};

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string html_escape(std::string_view s);

// True when the Accept header prefers application/json over text/html (a JSON client, fetch()
// with Accept: application/json); browsers send text/html first.
bool wants_json(std::string_view accept) noexcept;

// The IdP's `error` parameter if it is a plausible OAuth error code (RFC 6749 §4.1.2.1:
// [a-z_]{1,64}), else empty: anything else is attacker text and is not echoed.
std::string sanitize_idp_error(std::string_view error);

std::string render_error_html(const error_view& e);
std::string render_error_json(const error_view& e);

}  // namespace oidc::server
