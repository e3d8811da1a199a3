// SPDX-License-Identifier: Apache-2.0
// Strict absolute-URL parser for the upstream client and the client_errc category. No Beast here.
#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "oidc/net/http_client.hpp"

namespace oidc::net {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories are
// never deleted through the base); -Wnon-virtual-dtor does not know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class client_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "oidc.net.client"; }
  std::string message(int ev) const override {
    switch (static_cast<client_errc>(ev)) {
      case client_errc::ok:
        return "ok";
      case client_errc::bad_url:
        return "bad url";
      case client_errc::plain_http_refused:
        return "plain http refused";
      case client_errc::resolve_failed:
        return "resolve failed";
      case client_errc::connect_failed:
        return "connect failed";
      case client_errc::tls_failed:
        return "tls handshake or verification failed";
      case client_errc::timeout:
        return "timeout";
      case client_errc::connection_lost:
        return "connection lost";
      case client_errc::response_too_large:
        return "response too large";
      case client_errc::bad_response:
        return "bad response";
      case client_errc::pool_exhausted:
        return "connection pool exhausted";
      case client_errc::shutting_down:
        return "client shutting down";
    }
    return "unknown client error";
  }
};
#pragma GCC diagnostic pop

bool is_reg_name_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_';
}

// Printable ASCII only: RFC 3986 has no raw space, control or non-ASCII octets.
bool is_visible_ascii(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

bool is_ipv4_literal(std::string_view host) {
  for (char c : host) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

const boost::system::error_category& client_category() noexcept {
  static const client_category_impl category;
  return category;
}

boost::system::result<parsed_url> parse_url(std::string_view url) {
  const auto bad = make_error_code(client_errc::bad_url);
  if (url.empty() || url.size() > 8192) return bad;
  for (char c : url) {
    if (!is_visible_ascii(c) || c == '#') return bad;  // RFC 3986 section 3.5: no fragment
  }
  parsed_url out;
  auto starts_with_ci = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    }
    return true;
  };
  std::string_view rest;
  if (starts_with_ci("https://")) {
    out.https = true;
    out.port = 443;
    rest = url.substr(8);
  } else if (starts_with_ci("http://")) {
    out.https = false;
    out.port = 80;
    rest = url.substr(7);
  } else {
    return bad;
  }
  const auto end_of_authority = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end_of_authority);
  std::string_view target = end_of_authority == std::string_view::npos
                                ? std::string_view{}
                                : rest.substr(end_of_authority);
  // RFC 3986 section 3.2.1: userinfo is deprecated and would smuggle credentials; refuse it.
  if (authority.empty() || authority.find('@') != std::string_view::npos) return bad;

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      has_port = true;
      port_text = after.substr(1);
    }
    std::array<unsigned char, 16> addr{};
    const std::string host_z(host);
    if (host.empty() || ::inet_pton(AF_INET6, host_z.c_str(), addr.data()) != 1) return bad;
    out.host_is_ip = true;
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return bad;
    for (char c : host) {
      if (!is_reg_name_char(c)) return bad;
    }
    if (is_ipv4_literal(host)) {
      std::array<unsigned char, 4> addr{};
      const std::string host_z(host);
      if (::inet_pton(AF_INET, host_z.c_str(), addr.data()) != 1) return bad;
      out.host_is_ip = true;
    }
  }
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return bad;
    unsigned value = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return bad;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad;
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host.reserve(host.size());
  for (char c : host)
    out.host.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (target.empty()) {
    out.target = "/";
  } else if (target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

}  // namespace oidc::net
