// SPDX-License-Identifier: Apache-2.0
// The private_key_jwt client assertion (RFC 7523 §2.2, §3; OpenID Connect Core §9) that a
// confidential organisation sends to the token endpoint instead of a client secret.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "oidc/error.hpp"
#include "oidc/random.hpp"
#include "runtime_secrets.hpp"

namespace oidc::server {

inline constexpr std::chrono::seconds kClientAssertionLifetime{300};
inline constexpr std::string_view kClientAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// A JWT signed RS256 with the credential's key; header {alg, typ, x5t#S256} (Entra finds the
// certificate by its thumbprint), claims aud = token_endpoint, iss = sub = client_id, a random
// jti, iat = nbf = now, exp = now + kClientAssertionLifetime. internal_error when the credential
// is not private_key_jwt; signing errors as sign_compact.
result<std::string> make_client_assertion(const client_credential& credential,
                                          std::string_view client_id,
                                          std::string_view token_endpoint,
                                          std::chrono::sys_seconds now, random_source& rng);

}  // namespace oidc::server
