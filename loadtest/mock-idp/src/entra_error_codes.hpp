// SPDX-License-Identifier: Apache-2.0
// The AADSTS codes the mock Entra tenant answers with, in a header without Beast so the pure
// checks (client assertions) can name them.
#pragma once

#include <cstdint>

namespace oidc::mock {

// The first ten are the ones a relying party must explain to an Entra admin for an SPA login;
// the client-assertion codes explain a confidential (private_key_jwt) login; the rest answer
// malformed requests and injected faults. The server's aadsts table has a row for every one.
enum class aadsts : std::uint32_t {
  spa_origin_missing = 9002327,
  origin_on_web_client = 9002326,
  secret_from_public_client = 700025,
  web_client_without_secret = 7000218,
  code_redeemed = 54005,
  code_expired = 70008,
  verifier_mismatch = 501481,
  redirect_uri_differs = 500112,
  unknown_client = 700016,
  redirect_uri_not_registered = 50011,
  // Confidential clients.
  invalid_client_secret = 7000215,
  // Client assertions (private_key_jwt). Codes and messages as Entra answers them:
  // https://learn.microsoft.com/azure/developer/java/sdk/troubleshooting-authentication-service-principal
  // (700027, 700021, 700023), AADSTS700024 as quoted in
  // https://github.com/AzureAD/microsoft-authentication-library-for-dotnet/issues/4951,
  // AADSTS50027 for a malformed assertion (https://github.com/panva/openid-client/issues/348),
  // AADSTS50048 (https://github.com/AzureAD/microsoft-authentication-library-for-java/issues/430).
  assertion_signature_invalid = 700027,  // certificate not found by thumbprint, or bad signature
  assertion_time_range = 700024,         // exp passed, or nbf/iat in the future
  assertion_issuer_mismatch = 700021,    // iss is not the client_id parameter
  assertion_audience_mismatch = 700023,  // aud is not this token endpoint
  assertion_subject_mismatch = 50048,    // sub differs from iss
  invalid_jwt = 50027,                   // not a JWT, bad header/claims, missing or reused jti
  // Malformed requests and faults.
  missing_parameter = 900144,
  malformed_request = 9002313,
  unsupported_grant_type = 70003,
  unsupported_response_type = 700054,
  pkce_required = 9002325,
  post_required = 900561,
  tenant_not_found = 90002,
  user_not_found = 50034,
  user_disabled = 50057,
  transient_error = 90033,
};

}  // namespace oidc::mock
