// SPDX-License-Identifier: Apache-2.0
// Organisation resolution from Host and trusted forwarding headers.
#include "organisation.hpp"

#include <algorithm>
#include <cctype>

namespace oidc::server {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The first element of a comma-separated forwarding header: the proxy nearest the client
// appends, so the first value is what the browser sent to the edge.
std::string_view first_value(std::string_view s) noexcept {
  return trim(s.substr(0, s.find(',')));
}

bool plausible_host(std::string_view h) noexcept {
  if (h.empty() || h.size() > 255) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
  });
}

}  // namespace

result<resolved_organisation> resolve_organisation(const server_config& config,
                                                   const request_origin_headers& headers) {
  resolved_organisation out;
  std::string_view host = trim(headers.host);
  out.scheme = headers.tls ? "https" : "http";
  const bool trusted = headers.peer && config.server.is_trusted_proxy(*headers.peer);
  if (trusted) {
    if (auto fh = first_value(headers.forwarded_host); !fh.empty()) host = fh;
    const auto proto = first_value(headers.forwarded_proto);
    if (proto == "https" || proto == "http") out.scheme = std::string(proto);
  }
  if (plausible_host(host)) {
    out.host = std::string(host);
    out.organisation = config.find_organisation_for_host(host);
  }
  if (!out.organisation) {
    out.organisation = config.default_organisation();
    out.by_default = out.organisation != nullptr;
  }
  if (!out.organisation) return auth_error::organisation_unknown;
  return out;
}

}  // namespace oidc::server
