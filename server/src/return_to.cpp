// SPDX-License-Identifier: Apache-2.0
// return_to validation: same-site paths and allowed origins only.
#include "return_to.hpp"

#include <algorithm>
#include <cctype>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "http_params.hpp"

namespace oidc::server {
namespace {

bool has_forbidden_char(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7f || c == '\\';
  });
}

bool is_network_path(std::string_view s) noexcept {
  return s.size() >= 2 && s[0] == '/' && (s[1] == '/' || s[1] == '\\');
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// In a decoded layer a space or a UTF-8 byte is ordinary path text; control characters and
// backslashes are what browsers and proxies reinterpret.
bool has_forbidden_decoded_char(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == '\\';
  });
}

// Refuses a value whose decoded forms (up to three layers deep) hide a forbidden character or
// a network-path prefix: some proxies and frameworks decode once more before redirecting.
bool survives_decoding(std::string_view value, bool relative) {
  std::string current(value);
  for (int layer = 0; layer < 3; ++layer) {
    if (current.find('%') == std::string::npos) return true;
    auto decoded = percent_decode(current, false);
    if (!decoded) return false;
    if (has_forbidden_decoded_char(*decoded)) return false;
    if (relative && is_network_path(*decoded)) return false;
    current = std::move(*decoded);
  }
  return current.find('%') == std::string::npos;
}

}  // namespace

std::string origin_of(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return {};
  const boost::urls::url_view& u = *parsed;
  const std::string scheme = lower(u.scheme());
  if (scheme != "https" && scheme != "http") return {};
  if (!u.has_authority() || u.has_userinfo()) return {};
  const std::string_view host = u.encoded_host();
  if (host.empty() || host.find('%') != std::string_view::npos) return {};
  std::string origin = scheme + "://" + lower(host);
  if (u.has_port()) {
    const std::string_view port = u.port();
    if (port.empty()) return {};
    const bool default_port =
        (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
    if (!default_port) {
      origin += ':';
      origin += port;
    }
  }
  return origin;
}

result<std::string> validate_return_to(std::string_view value, const return_to_policy& policy) {
  if (value.empty() || value.size() > kMaxReturnToBytes) return auth_error::redirect_not_allowed;
  if (has_forbidden_char(value)) return auth_error::redirect_not_allowed;
  if (value.front() == '/') {
    if (is_network_path(value)) return auth_error::redirect_not_allowed;
    if (!survives_decoding(value, true)) return auth_error::redirect_not_allowed;
    return std::string(value);
  }
  const std::string origin = origin_of(value);
  if (origin.empty()) return auth_error::redirect_not_allowed;
  if (std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), origin) ==
      policy.allowed_origins.end())
    return auth_error::redirect_not_allowed;
  if (!survives_decoding(value, false)) return auth_error::redirect_not_allowed;
  return std::string(value);
}

std::string safe_return_to(std::string_view value, const return_to_policy& policy) {
  auto r = validate_return_to(value, policy);
  return r ? std::move(*r) : std::string("/");
}

}  // namespace oidc::server
