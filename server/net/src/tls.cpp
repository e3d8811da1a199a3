// SPDX-License-Identifier: Apache-2.0
// TLS contexts for the listener and the upstream client: TLS 1.2 or later only.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"

namespace oidc::net {
namespace {

boost::system::result<std::shared_ptr<asio::ssl::context>> new_context(
    asio::ssl::context::method method) {
  auto ctx = std::make_shared<asio::ssl::context>(method);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  // RFC 8996 deprecates TLS 1.0 and 1.1; pin the floor explicitly as well as via the options.
  if (ec || SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    ERR_clear_error();
    return ec ? ec : make_error_code(boost::system::errc::protocol_not_supported);
  }
  return ctx;
}

}  // namespace

boost::system::result<std::shared_ptr<asio::ssl::context>> make_server_tls_context(
    const std::string& cert_chain_file, const std::string& private_key_file) {
  auto ctx = new_context(asio::ssl::context::tls_server);
  if (!ctx) return ctx;
  boost::system::error_code ec;
  (*ctx)->use_certificate_chain_file(cert_chain_file, ec);
  if (!ec) (*ctx)->use_private_key_file(private_key_file, asio::ssl::context::pem, ec);
  if (!ec && SSL_CTX_check_private_key((*ctx)->native_handle()) != 1) {
    ec = make_error_code(boost::system::errc::invalid_argument);
  }
  if (ec) {
    ERR_clear_error();
    return ec;
  }
  return ctx;
}

boost::system::result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(
    const std::string& extra_ca_file) {
  auto ctx = new_context(asio::ssl::context::tls_client);
  if (!ctx) return ctx;
  boost::system::error_code ec;
  (*ctx)->set_default_verify_paths(ec);
  if (!ec && !extra_ca_file.empty()) (*ctx)->load_verify_file(extra_ca_file, ec);
  if (!ec) (*ctx)->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) {
    ERR_clear_error();
    return ec;
  }
  return ctx;
}

}  // namespace oidc::net
