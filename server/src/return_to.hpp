// SPDX-License-Identifier: Apache-2.0
// Validation of the return_to parameter of a login: a same-site relative path or a URL on an
// allowed origin, never an open redirect (OWASP Unvalidated Redirects; RFC 6749 §10.15).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "oidc/error.hpp"

namespace oidc::server {

inline constexpr std::size_t kMaxReturnToBytes = 2048;

struct return_to_policy {
  // Normalised origins (scheme://host[:port], default port omitted, lowercase) that an absolute
  // return_to may name: allowed_return_origins, public_origin and the organisation's own origin.
  std::span<const std::string> allowed_origins;
};

// The return_to value (already percent-decoded once from the query string) if it is safe,
// redirect_not_allowed otherwise. Accepted:
// - a path starting with exactly one '/' ("/reports?id=1#top"), or
// - an absolute http(s) URL without userinfo whose origin is in policy.allowed_origins.
// Refused, also when hidden behind up to three layers of percent-encoding: "//host" and "/\host"
// (browsers read both as a network-path reference), backslashes, whitespace, CR/LF, tabs and
// other control characters, non-ASCII bytes, bad escapes, and anything over kMaxReturnToBytes.
result<std::string> validate_return_to(std::string_view return_to, const return_to_policy& policy);

// validate_return_to, with "/" for an empty or refused value.
std::string safe_return_to(std::string_view return_to, const return_to_policy& policy);

// The normalised origin of an absolute http(s) URL (scheme and host lowercase, default port
// omitted); empty when the URL is not absolute http(s), has userinfo or an encoded host.
std::string origin_of(std::string_view url);

}  // namespace oidc::server
