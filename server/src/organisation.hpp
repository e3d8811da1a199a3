// SPDX-License-Identifier: Apache-2.0
// Which organisation a request is for: the Host header (or X-Forwarded-Host/-Proto when the peer
// is a configured trusted proxy), else the configured default organisation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "oidc/config.hpp"
#include "oidc/error.hpp"

namespace oidc::server {

struct request_origin_headers {
  std::string_view host;             // Host
  std::string_view forwarded_host;   // X-Forwarded-Host (may list several, the first wins)
  std::string_view forwarded_proto;  // X-Forwarded-Proto
  std::optional<ip_address> peer;    // the TCP peer
  bool tls = false;                  // the connection itself is TLS
};

struct resolved_organisation {
  const organisation_config* organisation = nullptr;
  std::string host;         // the effective host as the browser sent it (port kept)
  std::string scheme;       // "https" or "http", as the browser sees it
  bool by_default = false;  // selected through default_organisation
};

// organisation_unknown when neither the host nor the default names one.
result<resolved_organisation> resolve_organisation(const server_config& config,
                                                   const request_origin_headers& headers);

}  // namespace oidc::server
