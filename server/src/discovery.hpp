// SPDX-License-Identifier: Apache-2.0
// The OpenID Provider metadata a login needs (OpenID Connect Discovery 1.0 §3), parsed strictly:
// the issuer must be the one the organisation expects (§4.3), and every endpoint https, or plain
// http on a loopback host when the development flag allows it.
#pragma once

#include <string>
#include <string_view>

#include "oidc/error.hpp"

namespace oidc::server {

inline constexpr std::size_t kMaxDiscoveryBytes = 64 * 1024;

struct discovery_document {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string end_session_endpoint;  // optional: empty when the provider has none
};

// An absolute https URL without userinfo or fragment, or http on localhost/127.0.0.0/8/[::1]
// when allow_plain_http_loopback.
bool is_acceptable_endpoint(std::string_view url, bool allow_plain_http_loopback);

// discovery_failed: not a JSON object, issuer absent or different from expected_issuer (byte
// for byte), a required endpoint absent or unacceptable. An unacceptable optional
// end_session_endpoint is dropped, not fatal.
result<discovery_document> parse_discovery(std::string_view body, std::string_view expected_issuer,
                                           bool allow_plain_http_loopback);

}  // namespace oidc::server
