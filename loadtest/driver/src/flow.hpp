// SPDX-License-Identifier: Apache-2.0
// The login flow as a browser sees it, without I/O: URLs of the redirect chain (Boost.URL), which
// step a hop belongs to (start, authorize at the IdP, callback, home), and the checks that decide
// whether a chain is a complete login or a failure of one step with a reason.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oidc::loadtest {

enum class step : std::uint8_t { start, authorize, callback, home, session };
inline constexpr std::size_t step_count = 5;
inline constexpr std::array<step, step_count> all_steps = {
    step::start, step::authorize, step::callback, step::home, step::session};
std::string_view step_name(step s) noexcept;

// An absolute http(s) URL to request: no user info, fragment dropped.
struct target_url {
  std::string href;  // what is sent (scheme://authority/path?query)
  bool https = false;
  std::string host;  // lower-case, without brackets
  std::uint16_t port = 80;
  std::string path;  // "/" when empty; without the query
};

std::optional<target_url> parse_target(std::string_view absolute_url);
// A Location value (absolute or relative, RFC 3986 section 5) resolved against `base`.
std::optional<target_url> resolve_location(const target_url& base, std::string_view location);
bool same_origin(const target_url& a, const target_url& b) noexcept;

bool is_redirect_status(unsigned status) noexcept;  // 301, 302, 303, 307, 308

// True when `body` is a JSON object (what /api/session answers).
bool is_json_object(std::string_view body);

struct flow_settings {
  target_url start;
  std::string callback_path = "/api/single-sign-on";
  unsigned expect_final_status = 200;
  unsigned max_hops = 8;  // redirects followed at most
  // A fresh jar must go through the IdP and the callback; with kept cookies a signed-in user
  // may be answered at once.
  bool require_login = true;
};

// What the browser got for the current hop.
struct hop_response {
  unsigned status = 0;
  std::optional<std::string_view> location;
  bool stored_cookie = false;  // some Set-Cookie of this response added or replaced a cookie
};

struct hop_verdict {
  enum class kind { follow, done, failed };
  kind what = kind::follow;
  step at = step::start;  // the step that failed
  std::string reason;     // status_502, bad_redirect, missing_cookie, missing_callback, ...
};

// One redirect chain. Hop 0 is the start URL ("start"); a hop to another origin is "authorize";
// a hop to the start origin with the callback path is "callback"; other hops on the start origin
// are "home".
class login_flow {
 public:
  explicit login_flow(const flow_settings& settings);

  const target_url& url() const noexcept { return url_; }
  step current_step() const noexcept { return step_; }
  unsigned hop() const noexcept { return hop_; }

  // Feeds the response to url(); on `follow`, url() and current_step() are the next hop.
  hop_verdict on_response(const hop_response& response);

 private:
  hop_verdict fail(step at, std::string reason) const;
  step classify(const target_url& next) const;

  const flow_settings* settings_;
  target_url url_;
  step step_ = step::start;
  unsigned hop_ = 0;
  bool saw_authorize_ = false;
  bool saw_callback_ = false;
};

}  // namespace oidc::loadtest
