// SPDX-License-Identifier: Apache-2.0
// Cookie jar of a virtual user (see cookie_jar.hpp).
#include "cookie_jar.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace oidc::loadtest {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

char lower(char c) noexcept {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_ip_literal(std::string_view host) noexcept {
  if (host.find(':') != std::string_view::npos) return true;  // IPv6
  return !host.empty() &&
         std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

// RFC 6265 section 5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
bool is_date_delimiter(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x09 || (u >= 0x20 && u <= 0x2F) || (u >= 0x3B && u <= 0x40) ||
         (u >= 0x5B && u <= 0x60) || (u >= 0x7B && u <= 0x7E);
}

// Leading 1..max_digits digits of `token` followed by nothing or a non-digit; -1 otherwise.
int leading_number(std::string_view token, std::size_t min_digits,
                   std::size_t max_digits) noexcept {
  std::size_t n = 0;
  while (n < token.size() && is_digit(token[n]))
    ++n;
  if (n < min_digits || n > max_digits) return -1;
  int value = 0;
  std::from_chars(token.data(), token.data() + n, value);
  return value;
}

// hms-time = time-field ":" time-field ":" time-field, each 1*2DIGIT, then non-digits.
bool parse_time(std::string_view token, int& h, int& m, int& s) noexcept {
  std::array<int, 3> parts{};
  std::size_t i = 0;
  for (std::size_t part = 0; part < 3; ++part) {
    std::size_t n = 0;
    while (i + n < token.size() && is_digit(token[i + n]))
      ++n;
    if (n < 1 || n > 2) return false;
    std::from_chars(token.data() + i, token.data() + i + n, parts[part]);
    i += n;
    if (part < 2) {
      if (i >= token.size() || token[i] != ':') return false;
      ++i;
    }
  }
  if (i < token.size() && is_digit(token[i])) return false;
  h = parts[0];
  m = parts[1];
  s = parts[2];
  return true;
}

}  // namespace

std::optional<std::chrono::sys_seconds> parse_cookie_date(std::string_view text) {
  static constexpr std::array<std::string_view, 12> months = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  bool found_time = false, found_day = false, found_month = false, found_year = false;
  int hour = 0, minute = 0, second = 0, day = 0, month = 0, year = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_date_delimiter(text[i]))
      ++i;
    std::size_t end = i;
    while (end < text.size() && !is_date_delimiter(text[end]))
      ++end;
    const std::string_view token = text.substr(i, end - i);
    i = end;
    if (token.empty()) continue;
    if (!found_time && parse_time(token, hour, minute, second)) {
      found_time = true;
      continue;
    }
    if (!found_day) {
      if (const int d = leading_number(token, 1, 2); d >= 0) {
        found_day = true;
        day = d;
        continue;
      }
    }
    if (!found_month && token.size() >= 3) {
      const std::string prefix = to_lower(token.substr(0, 3));
      const auto it = std::find(months.begin(), months.end(), prefix);
      if (it != months.end()) {
        found_month = true;
        month = static_cast<int>(it - months.begin()) + 1;
        continue;
      }
    }
    if (!found_year) {
      if (const int y = leading_number(token, 2, 4); y >= 0) {
        found_year = true;
        year = y;
        continue;
      }
    }
  }
  if (year >= 70 && year <= 99) year += 1900;
  if (year >= 0 && year <= 69) year += 2000;
  if (!found_time || !found_day || !found_month || !found_year) return std::nullopt;
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

std::string default_cookie_path(std::string_view request_path) {
  if (request_path.empty() || request_path.front() != '/') return "/";
  const auto last = request_path.rfind('/');
  if (last == 0) return "/";
  return std::string(request_path.substr(0, last));
}

bool cookie_path_matches(std::string_view request_path, std::string_view cookie_path) noexcept {
  if (request_path.empty()) request_path = "/";
  if (request_path == cookie_path) return true;
  if (!request_path.starts_with(cookie_path)) return false;
  return cookie_path.ends_with('/') || request_path[cookie_path.size()] == '/';
}

bool cookie_domain_matches(std::string_view host, std::string_view domain) noexcept {
  if (host == domain) return true;
  if (is_ip_literal(host) || host.size() <= domain.size()) return false;
  return host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.';
}

store_outcome cookie_jar::store(std::string_view set_cookie, const cookie_site& from,
                                std::chrono::system_clock::time_point now) {
  const std::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
  const auto eq = pair.find('=');
  if (eq == std::string_view::npos) return store_outcome::ignored;
  cookie c;
  c.name = trim(pair.substr(0, eq));
  c.value = trim(pair.substr(eq + 1));
  if (c.name.empty() || c.name.size() + c.value.size() > max_cookie_bytes) {
    return store_outcome::ignored;
  }

  std::optional<std::int64_t> max_age;
  std::optional<std::chrono::sys_seconds> expires;
  std::optional<std::string> domain_attribute;
  std::optional<std::string> path_attribute;
  std::string_view rest =
      pair.size() < set_cookie.size() ? set_cookie.substr(pair.size() + 1) : std::string_view{};
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    const std::string_view av = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    const auto av_eq = av.find('=');
    const std::string_view name = trim(av.substr(0, av_eq));
    const std::string_view value =
        av_eq == std::string_view::npos ? std::string_view{} : trim(av.substr(av_eq + 1));
    if (iequals(name, "max-age")) {
      // RFC 6265 section 5.2.2: an optional '-' then digits; anything else is ignored.
      const bool negative = value.starts_with('-');
      const std::string_view digits = negative ? value.substr(1) : value;
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) continue;
      std::int64_t seconds = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
      (void)ptr;
      if (ec == std::errc::result_out_of_range) seconds = INT64_MAX;
      max_age = negative ? -seconds : seconds;
    } else if (iequals(name, "expires")) {
      if (auto t = parse_cookie_date(value)) expires = *t;
    } else if (iequals(name, "domain")) {
      std::string_view d = value;
      if (d.starts_with('.')) d.remove_prefix(1);
      if (!d.empty()) domain_attribute = to_lower(d);
    } else if (iequals(name, "path")) {
      // RFC 6265 section 5.2.4: a value not starting with '/' means the default path.
      path_attribute = value.starts_with('/') ? std::string(value) : default_cookie_path(from.path);
    } else if (iequals(name, "secure")) {
      c.secure = true;
    }
  }

  if (domain_attribute) {
    // RFC 6265 section 5.3 step 6: the request host must domain-match the Domain attribute.
    if (!cookie_domain_matches(from.host, *domain_attribute)) return store_outcome::ignored;
    c.host_only = false;
    c.domain = *domain_attribute;
  } else {
    c.domain = std::string(from.host);
  }
  c.path = path_attribute ? *path_attribute : default_cookie_path(from.path);

  // Max-Age wins over Expires (RFC 6265 section 5.3 step 3).
  const bool expired = max_age ? *max_age <= 0 : (expires && *expires <= now);
  const auto same = std::find_if(cookies_.begin(), cookies_.end(), [&](const cookie& k) {
    return k.name == c.name && k.domain == c.domain && k.path == c.path;
  });
  if (expired) {
    if (same != cookies_.end()) cookies_.erase(same);
    return store_outcome::deleted;
  }
  if (same != cookies_.end()) {
    *same = std::move(c);
    return store_outcome::stored;
  }
  if (cookies_.size() >= max_cookies) cookies_.erase(cookies_.begin());
  cookies_.push_back(std::move(c));
  return store_outcome::stored;
}

std::string cookie_jar::header(const cookie_site& to) const {
  std::vector<const cookie*> matching;
  for (const auto& c : cookies_) {
    if (c.secure && !to.https) continue;
    const bool domain_ok =
        c.host_only ? to.host == c.domain : cookie_domain_matches(to.host, c.domain);
    if (domain_ok && cookie_path_matches(to.path, c.path)) matching.push_back(&c);
  }
  // RFC 6265 section 5.4 step 2: longer paths first, then earlier creation (stable order).
  std::stable_sort(matching.begin(), matching.end(), [](const cookie* a, const cookie* b) {
    return a->path.size() > b->path.size();
  });
  std::string out;
  for (const cookie* c : matching) {
    if (!out.empty()) out += "; ";
    out += c->name;
    out += '=';
    out += c->value;
  }
  return out;
}

const cookie* cookie_jar::find(std::string_view name) const noexcept {
  const auto it = std::find_if(cookies_.begin(), cookies_.end(),
                               [&](const cookie& c) { return c.name == name; });
  return it == cookies_.end() ? nullptr : &*it;
}

}  // namespace oidc::loadtest
