// SPDX-License-Identifier: Apache-2.0
// Cookie parsing and Set-Cookie building.
#include "cookies.hpp"

#include <algorithm>

namespace oidc::server {
namespace {

constexpr std::string_view kHostPrefix = "__Host-";

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool is_base64url_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::optional<std::string_view> cookie_jar::get(std::string_view name) const noexcept {
  for (const auto& [n, v] : items_)
    if (n == name) return std::string_view(v);
  return std::nullopt;
}

result<cookie_jar> parse_cookie_header(std::string_view header, const cookie_limits& limits) {
  if (header.size() > limits.max_header_bytes) return auth_error::request_invalid;
  cookie_jar jar;
  std::size_t count = 0;
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view piece = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto eq = piece.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = trim(piece.substr(0, eq));
    auto value = trim(piece.substr(eq + 1));
    if (name.empty()) continue;
    // RFC 6265 §4.1.1 allows a DQUOTE-wrapped value; the quotes are not part of it.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (++count > limits.max_cookies) return auth_error::request_invalid;
    jar.add(std::string(name), std::string(value));
  }
  return jar;
}

std::string cookie_policy::name(std::string_view base) const {
  std::string n;
  if (mode_ == cookie_mode_t::secure) n = kHostPrefix;
  n += base;
  return n;
}

std::string cookie_policy::set_cookie(std::string_view base, std::string_view value,
                                      std::chrono::seconds max_age) const {
  std::string s = name(base);
  s += '=';
  s += value;
  s += "; Path=/; Max-Age=";
  s += std::to_string(std::max<std::chrono::seconds::rep>(max_age.count(), 0));
  if (mode_ == cookie_mode_t::secure) s += "; Secure";
  s += "; HttpOnly; SameSite=Lax";
  return s;
}

std::string cookie_policy::clear_cookie(std::string_view base) const {
  return set_cookie(base, "", std::chrono::seconds(0));
}

std::optional<std::string> login_cookie_base(std::string_view state_id) {
  if (state_id.size() < kLoginCookieIdChars) return std::nullopt;
  if (!std::all_of(state_id.begin(), state_id.end(), is_base64url_char)) return std::nullopt;
  std::string base(kLoginCookiePrefix);
  base += state_id.substr(0, kLoginCookieIdChars);
  return base;
}

std::vector<std::string> login_cookie_bases(const cookie_jar& jar, const cookie_policy& policy) {
  const std::string prefix = policy.name(kLoginCookiePrefix);
  std::vector<std::string> out;
  for (const auto& [n, v] : jar.items()) {
    if (n.size() != prefix.size() + kLoginCookieIdChars || n.compare(0, prefix.size(), prefix) != 0)
      continue;
    std::string base = n.substr(policy.mode() == cookie_mode_t::secure ? kHostPrefix.size() : 0);
    if (std::find(out.begin(), out.end(), base) == out.end()) out.push_back(std::move(base));
  }
  return out;
}

std::vector<std::string> logins_to_drop(std::vector<pending_login> pending,
                                        std::size_t max_pending) {
  std::vector<std::string> drop;
  std::vector<pending_login> live;
  for (auto& p : pending) {
    if (p.expires_at)
      live.push_back(std::move(p));
    else
      drop.push_back(std::move(p.base_name));
  }
  // Room for the login about to be added.
  const std::size_t keep = max_pending == 0 ? 0 : max_pending - 1;
  if (live.size() > keep) {
    std::stable_sort(live.begin(), live.end(), [](const pending_login& a, const pending_login& b) {
      return *a.expires_at < *b.expires_at;
    });
    for (std::size_t i = 0; i < live.size() - keep; ++i)
      drop.push_back(std::move(live[i].base_name));
  }
  return drop;
}

}  // namespace oidc::server
