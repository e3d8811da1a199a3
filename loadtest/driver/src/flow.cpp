// SPDX-License-Identifier: Apache-2.0
// Redirect-chain logic of one login (see flow.hpp).
#include "flow.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace oidc::loadtest {
namespace {

namespace urls = boost::urls;

std::optional<target_url> from_view(const urls::url_view_base& u) {
  if (u.scheme_id() != urls::scheme::http && u.scheme_id() != urls::scheme::https) {
    return std::nullopt;
  }
  if (!u.has_authority() || u.has_userinfo()) return std::nullopt;
  target_url t;
  t.https = u.scheme_id() == urls::scheme::https;
  switch (u.host_type()) {
    case urls::host_type::name:
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
      t.host = u.host_address();
      break;
    default:
      return std::nullopt;
  }
  if (t.host.empty()) return std::nullopt;
  std::transform(t.host.begin(), t.host.end(), t.host.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  const std::uint16_t default_port = t.https ? 443 : 80;
  t.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    // Parsed here: Boost.URL 1.81's port_number() wraps values above 65535.
    const auto digits = u.port();
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || ptr != digits.data() + digits.size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    t.port = static_cast<std::uint16_t>(value);
  }
  t.path = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  t.href = t.https ? "https://" : "http://";
  t.href += u.host_type() == urls::host_type::ipv6 ? "[" + t.host + "]" : t.host;
  if (t.port != default_port) t.href += ":" + std::to_string(t.port);
  t.href += t.path;
  if (u.has_query()) {
    t.href += '?';
    t.href += u.encoded_query();
  }
  return t;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view step_name(step s) noexcept {
  switch (s) {
    case step::start:
      return "start";
    case step::authorize:
      return "authorize";
    case step::callback:
      return "callback";
    case step::home:
      return "home";
    case step::session:
      return "session";
  }
  return "unknown";
}

std::optional<target_url> parse_target(std::string_view absolute_url) {
  auto parsed = urls::parse_uri(absolute_url);
  if (!parsed) return std::nullopt;
  return from_view(*parsed);
}

std::optional<target_url> resolve_location(const target_url& base, std::string_view location) {
  location = trim(location);
  if (location.empty()) return std::nullopt;
  auto ref = urls::parse_uri_reference(location);
  if (!ref) return std::nullopt;
  auto base_view = urls::parse_uri(base.href);
  if (!base_view) return std::nullopt;
  urls::url resolved(*base_view);
  if (!resolved.resolve(*ref)) return std::nullopt;
  return from_view(resolved);
}

bool same_origin(const target_url& a, const target_url& b) noexcept {
  return a.https == b.https && a.host == b.host && a.port == b.port;
}

bool is_redirect_status(unsigned status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool is_json_object(std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  return !ec && v.is_object();
}

login_flow::login_flow(const flow_settings& settings)
    : settings_(&settings), url_(settings.start) {}

hop_verdict login_flow::fail(step at, std::string reason) const {
  return hop_verdict{hop_verdict::kind::failed, at, std::move(reason)};
}

step login_flow::classify(const target_url& next) const {
  if (!same_origin(next, settings_->start)) return step::authorize;
  return next.path == settings_->callback_path ? step::callback : step::home;
}

hop_verdict login_flow::on_response(const hop_response& r) {
  const std::string status = "status_" + std::to_string(r.status);
  if (!is_redirect_status(r.status)) {
    // The IdP must send the browser back; a page there (an error, a picker) ends the login.
    if (step_ == step::authorize) return fail(step_, status);
    if (r.status != settings_->expect_final_status) return fail(step_, status);
    if (settings_->require_login) {
      if (!saw_authorize_) return fail(step::start, "no_redirect");
      if (!saw_callback_) return fail(step::callback, "missing_callback");
    }
    if (step_ == step::callback && !r.stored_cookie) return fail(step_, "missing_cookie");
    return hop_verdict{hop_verdict::kind::done, step_, {}};
  }

  if (!r.location) return fail(step_, "bad_redirect");
  auto next = resolve_location(url_, *r.location);
  if (!next) return fail(step_, "bad_redirect");
  const step next_step = classify(*next);
  // The login-state cookie goes out with the redirect to the IdP, the session with the callback's.
  if (step_ == step::start && next_step == step::authorize && !r.stored_cookie) {
    return fail(step_, "missing_cookie");
  }
  if (step_ == step::callback && !r.stored_cookie) return fail(step_, "missing_cookie");
  if (hop_ >= settings_->max_hops) return fail(step_, "too_many_hops");
  // Back from the IdP anywhere but the callback path: the callback never happened.
  if (next_step == step::home && saw_authorize_ && !saw_callback_) {
    return fail(step::callback, "missing_callback");
  }
  if (next_step == step::authorize) saw_authorize_ = true;
  if (next_step == step::callback) saw_callback_ = true;
  url_ = std::move(*next);
  step_ = next_step;
  ++hop_;
  return hop_verdict{hop_verdict::kind::follow, step_, {}};
}

}  // namespace oidc::loadtest
