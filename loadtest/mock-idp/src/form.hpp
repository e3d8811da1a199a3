// SPDX-License-Identifier: Apache-2.0
// Strict application/x-www-form-urlencoded parsing (query strings and token request bodies) and
// the encoders the mock needs to build redirects and pages.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oidc::mock {

using form_fields = std::vector<std::pair<std::string, std::string>>;

// Parses `name=value&...`: '+' is a space, %XX must be two hex digits, empty segments and empty
// names are refused, and a repeated name is refused (RFC 6749 §3.1: "Request and response
// parameters MUST NOT be included more than once"). nullopt when malformed or when there are more
// than max_fields pairs. The empty string is an empty form.
std::optional<form_fields> parse_form(std::string_view text, std::size_t max_fields = 64);

// The value of `name`, or null.
const std::string* form_get(const form_fields& fields, std::string_view name) noexcept;

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);

// `&`, `<`, `>`, `"` and `'` as character references.
std::string html_escape(std::string_view text);

}  // namespace oidc::mock
