// SPDX-License-Identifier: Apache-2.0
// Discovery document parsing.
#include "discovery.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "oidc/config.hpp"
#include "oidc/json.hpp"

namespace oidc::server {
namespace {

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto ip = parse_ip_address(host);
  return ip && is_loopback(*ip);
}

}  // namespace

bool is_acceptable_endpoint(std::string_view url, bool allow_plain_http_loopback) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return false;
  const auto& u = *parsed;
  if (!u.has_authority() || u.has_userinfo() || u.has_fragment()) return false;
  if (u.encoded_host().empty()) return false;
  if (u.scheme() == "https") return true;
  return u.scheme() == "http" && allow_plain_http_loopback && is_loopback_host(u.encoded_host());
}

result<discovery_document> parse_discovery(std::string_view body, std::string_view expected_issuer,
                                           bool allow_plain_http_loopback) {
  auto doc = parse_json_object(body, json_limits{kMaxDiscoveryBytes, 8, 0});
  if (!doc) return auth_error::discovery_failed;
  discovery_document d;
  const auto* issuer = find_string(*doc, "issuer");
  // OpenID Connect Discovery §4.3: the issuer returned must be identical to the one used to
  // build the discovery URL, or an attacker's metadata could impersonate another issuer.
  if (!issuer || *issuer != expected_issuer) return auth_error::discovery_failed;
  d.issuer = std::string(*issuer);
  const std::pair<const char*, std::string*> required[] = {
      {"authorization_endpoint", &d.authorization_endpoint},
      {"token_endpoint", &d.token_endpoint},
      {"jwks_uri", &d.jwks_uri},
  };
  for (const auto& [name, out] : required) {
    const auto* v = find_string(*doc, name);
    if (!v || !is_acceptable_endpoint(*v, allow_plain_http_loopback))
      return auth_error::discovery_failed;
    *out = std::string(*v);
  }
  if (const auto* v = find_string(*doc, "end_session_endpoint");
      v && is_acceptable_endpoint(*v, allow_plain_http_loopback))
    d.end_session_endpoint = std::string(*v);
  return d;
}

}  // namespace oidc::server
