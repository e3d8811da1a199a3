// SPDX-License-Identifier: Apache-2.0
// JWK/JWKS documents from an IdP: any input yields a key set or one reason.
#include <string_view>

#include "oidc/jwk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = oidc::parse_jwks(text);
  if (r && r->keys) {
    for (const auto& k : r->keys->keys())
      (void)r->keys->find(k->kid, oidc::jws_alg::RS256);
  }
  return 0;
}
