// SPDX-License-Identifier: Apache-2.0
// Cookie header parsing (RFC 6265 §5.4, bounded), Set-Cookie building with the product's cookie
// policy (__Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/), and the names and capping of
// pending-login cookies (one per state id, so several tabs may log in at once).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oidc/config.hpp"
#include "oidc/error.hpp"

namespace oidc::server {

struct cookie_limits {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_cookies = 64;
};

// name=value pairs in header order; a name may repeat (RFC 6265 §5.4: the browser sends cookies
// of several paths or domains), get() returns the first.
class cookie_jar {
 public:
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }
  void add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Parses one or more Cookie header values (HTTP/2 may split them; HTTP/1.1 sends one). Pieces
// without '=' or with an empty name are ignored, as browsers do. request_invalid when the text
// exceeds limits.max_header_bytes or holds more than limits.max_cookies cookies.
result<cookie_jar> parse_cookie_header(std::string_view header, const cookie_limits& limits = {});

// The cookie policy of a snapshot: secure mode adds the __Host- prefix and Secure (RFC 6265bis
// §4.1.3.2: a __Host- cookie must be Secure, Path=/ and carry no Domain, so no sibling
// subdomain can plant or overwrite it).
class cookie_policy {
 public:
  explicit cookie_policy(cookie_mode_t mode) : mode_(mode) {}

  // "oidc-session" → "__Host-oidc-session" in secure mode.
  std::string name(std::string_view base) const;
  // name=value; Path=/; Max-Age=N; [Secure; ]HttpOnly; SameSite=Lax
  std::string set_cookie(std::string_view base, std::string_view value,
                         std::chrono::seconds max_age) const;
  // Expires the cookie at once (Max-Age=0, empty value), with the same attributes.
  std::string clear_cookie(std::string_view base) const;
  cookie_mode_t mode() const noexcept { return mode_; }

 private:
  cookie_mode_t mode_;
};

inline constexpr std::string_view kSessionCookie = "oidc-session";
inline constexpr std::string_view kLoginCookiePrefix = "oidc-login-";
// Characters of the state id that name its cookie: 16 base64url characters are 96 bits, so two
// tabs never collide, and the name stays short (the callback's headers must stay small).
inline constexpr std::size_t kLoginCookieIdChars = 16;

// Base name of the login cookie of a state id: "oidc-login-" + its first kLoginCookieIdChars
// characters. nullopt when the state id is shorter or holds characters outside base64url (a
// state parameter from a request is checked this way before it names a cookie).
std::optional<std::string> login_cookie_base(std::string_view state_id);

// A pending-login cookie found in a request, with its expiry when it could be opened.
struct pending_login {
  std::string base_name;                               // "oidc-login-XXXX"
  std::optional<std::chrono::sys_seconds> expires_at;  // nullopt: unreadable or expired
};

// The login cookies (by base name) of `jar` under `policy`, in header order.
std::vector<std::string> login_cookie_bases(const cookie_jar& jar, const cookie_policy& policy);

// Which pending logins to clear before a new one is added so that at most `max_pending` remain
// afterwards: every unreadable one, then the oldest (earliest expiry; all share one TTL).
std::vector<std::string> logins_to_drop(std::vector<pending_login> pending,
                                        std::size_t max_pending);

}  // namespace oidc::server
