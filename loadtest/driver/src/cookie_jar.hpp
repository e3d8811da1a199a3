// SPDX-License-Identifier: Apache-2.0
// A browser-like cookie jar for one virtual user (RFC 6265 section 5): Set-Cookie parsing with
// Path, Domain, Max-Age, Expires and Secure, and the Cookie header for a request. A load run is
// short, so a cookie with a future expiry is kept for the whole run; only an expiry in the past
// (or Max-Age <= 0) matters, and it deletes the cookie, as servers use it to clear one.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oidc::loadtest {

struct cookie {
  std::string name;
  std::string value;
  std::string domain;  // lower-case host (host-only) or Domain attribute without leading dot
  std::string path;
  bool host_only = true;
  bool secure = false;
};

// Where a Set-Cookie came from, or where a request goes.
struct cookie_site {
  bool https = false;
  std::string_view host;  // lower-case, no port, no brackets
  std::string_view path;  // request path without query, "/" when empty
};

enum class store_outcome {
  stored,   // a cookie was added or replaced
  deleted,  // an expiry in the past removed a cookie (or would have)
  ignored,  // malformed, too large, or a Domain the request host does not belong to
};

class cookie_jar {
 public:
  static constexpr std::size_t max_cookies = 64;
  static constexpr std::size_t max_cookie_bytes = 4096;  // name + value (RFC 6265 section 6.1)

  store_outcome store(std::string_view set_cookie, const cookie_site& from,
                      std::chrono::system_clock::time_point now);

  // The Cookie header value for a request to `to`: "a=1; b=2", longest paths first; empty when
  // no cookie matches.
  std::string header(const cookie_site& to) const;

  void clear() noexcept { cookies_.clear(); }
  std::size_t size() const noexcept { return cookies_.size(); }
  const cookie* find(std::string_view name) const noexcept;

 private:
  std::vector<cookie> cookies_;  // in creation order
};

// RFC 6265 section 5.1.1 cookie-date ("Wed, 21 Oct 2015 07:28:00 GMT" and the legacy forms);
// nullopt when it is not a valid date.
std::optional<std::chrono::sys_seconds> parse_cookie_date(std::string_view text);

// RFC 6265 section 5.1.4.
std::string default_cookie_path(std::string_view request_path);
bool cookie_path_matches(std::string_view request_path, std::string_view cookie_path) noexcept;
bool cookie_domain_matches(std::string_view host, std::string_view domain) noexcept;

}  // namespace oidc::loadtest
