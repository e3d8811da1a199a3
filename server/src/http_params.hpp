// SPDX-License-Identifier: Apache-2.0
// Query-string and form parsing (application/x-www-form-urlencoded, WHATWG URL §5) with strict
// percent-decoding, refused duplicates and bounded size, for attacker-controlled request input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oidc/error.hpp"

namespace oidc::server {

struct param_limits {
  std::size_t max_bytes = 8 * 1024;  // the encoded text
  std::size_t max_params = 32;
};

// Decoded name/value pairs in request order; names are unique.
class param_list {
 public:
  param_list() = default;
  explicit param_list(std::vector<std::pair<std::string, std::string>> items)
      : items_(std::move(items)) {}

  // The value of `name`, or nullopt when absent.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Strict percent-decoding: every '%' must start a two-hex-digit escape; with plus_is_space a '+'
// decodes to a space (form encoding). request_invalid otherwise.
result<std::string> percent_decode(std::string_view in, bool plus_is_space);

// `a=1&b=2` (without the leading '?'). Empty pieces (`a=1&&b=2`, a trailing '&') are skipped; a
// name without '=' has an empty value. request_invalid: bad escapes, an empty name, a name given
// twice (an attacker could otherwise make two components read different values), more than
// limits.max_params parameters or more than limits.max_bytes of text.
result<param_list> parse_query(std::string_view query, const param_limits& limits = {});

// A request body of type application/x-www-form-urlencoded: the same rules.
result<param_list> parse_form(std::string_view body, const param_limits& limits = {});

// The query part of a request target (after the first '?', before any '#'); empty when none.
std::string_view query_of(std::string_view target) noexcept;
// The path part of a request target (before '?' or '#').
std::string_view path_of(std::string_view target) noexcept;

// Percent-encodes everything but RFC 3986 unreserved characters (for building URLs).
std::string url_encode(std::string_view in);

}  // namespace oidc::server
