// SPDX-License-Identifier: Apache-2.0
// Bounded, strict JSON parsing for untrusted input. Boost 1.81's parser silently keeps the last of
// duplicate member names and has no size option, so a validating basic_parser pass rejects
// duplicates (RFC 7515 §4 requires it for JOSE headers) before the document is built in a memory
// resource whose total allocation is capped.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include "oidc/error.hpp"

namespace oidc {

struct json_limits {
  std::size_t max_bytes = 16 * 1024;  // input size
  std::size_t max_depth = 16;         // nesting of arrays and objects
  // Memory the parsed document may use; 0 means 8 x max_bytes + 4 KiB.
  std::size_t max_memory = 0;

  friend constexpr bool operator==(const json_limits&, const json_limits&) = default;
};

// Token headers and payloads; JWKS documents; configuration files.
inline constexpr json_limits kJoseJsonLimits{8 * 1024, 8, 0};
inline constexpr json_limits kJwksJsonLimits{512 * 1024, 8, 0};
inline constexpr json_limits kConfigJsonLimits{4 * 1024 * 1024, 32, 0};

// Parses `text` strictly: one value, no comments or trailing commas, no duplicate member names
// (json_duplicate_member), at most limits.max_depth deep (json_too_deep), at most
// limits.max_bytes long (json_too_large). The document owns a memory resource capped at
// limits.max_memory; the overload taking `storage` builds it there instead (e.g. a
// monotonic_resource over a stack buffer on the hot path).
result<boost::json::value> parse_json(std::string_view text, const json_limits& limits);
result<boost::json::value> parse_json(std::string_view text, const json_limits& limits,
                                      boost::json::storage_ptr storage);

// As parse_json, and the top level must be an object (else json_invalid).
result<boost::json::object> parse_json_object(std::string_view text, const json_limits& limits);
result<boost::json::object> parse_json_object(std::string_view text, const json_limits& limits,
                                              boost::json::storage_ptr storage);

// Typed member access without exceptions or copies.
const boost::json::string* find_string(const boost::json::object& o, std::string_view key) noexcept;
std::optional<std::int64_t> find_int64(const boost::json::object& o, std::string_view key) noexcept;

// Appends `text` as the content of a JSON string (no quotes): '"' and '\\' escaped, control
// characters as \u00XX; other bytes verbatim (UTF-8 stays UTF-8). For JSON lines written by hand
// (the access log, the load driver's report) where a serializer per line costs too much.
void append_json_string_content(std::string& out, std::string_view text);

}  // namespace oidc
