// SPDX-License-Identifier: Apache-2.0
// Claim rules over arbitrary (already "verified") payload JSON: typed extraction never crashes,
// overflows or throws, whatever the types and values.
#include <chrono>
#include <string_view>

#include "oidc/claims.hpp"
#include "oidc/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto payload = oidc::parse_json_object(text, oidc::kJoseJsonLimits);
  if (!payload) return 0;
  const std::chrono::sys_seconds now{std::chrono::seconds{1'800'000'000}};
  oidc::id_token_expectations id;
  id.issuer = "https://login.microsoftonline.com/t/v2.0";
  id.client_id = "c";
  id.tenant_id = "t";
  id.nonce = "n";
  (void)oidc::check_id_token_claims(*payload, id, now);
  oidc::access_token_expectations at;
  at.issuers = {id.issuer};
  at.audiences = {"c"};
  (void)oidc::check_access_token_claims(*payload, at, now);
  return 0;
}
