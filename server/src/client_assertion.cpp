// SPDX-License-Identifier: Apache-2.0
// The private_key_jwt client assertion.
#include "client_assertion.hpp"

#include <boost/json/object.hpp>

#include "oidc/jws.hpp"

namespace oidc::server {

result<std::string> make_client_assertion(const client_credential& credential,
                                          std::string_view client_id,
                                          std::string_view token_endpoint,
                                          std::chrono::sys_seconds now, random_source& rng) {
  if (credential.method != client_auth_method::private_key_jwt || !credential.key)
    return auth_error::internal_error;
  boost::json::object header;
  header["alg"] = "RS256";
  header["typ"] = "JWT";
  header["x5t#S256"] = credential.x5t_s256;
  const auto t = now.time_since_epoch().count();
  boost::json::object claims;
  claims["aud"] = token_endpoint;
  claims["iss"] = client_id;
  claims["sub"] = client_id;
  // RFC 7523 §3: the jti lets the token endpoint refuse a replayed assertion.
  claims["jti"] = random_token(rng, 32);
  claims["iat"] = t;
  claims["nbf"] = t;
  claims["exp"] = t + kClientAssertionLifetime.count();
  return sign_compact(header, claims, credential.key.get(), jws_alg::RS256);
}

}  // namespace oidc::server
