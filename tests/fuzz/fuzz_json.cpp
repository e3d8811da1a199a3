// SPDX-License-Identifier: Apache-2.0
// Bounded strict JSON: any input yields a document or one reason, within the limits.
#include <string_view>

#include "oidc/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)oidc::parse_json(in, oidc::kJoseJsonLimits);
  (void)oidc::parse_json_object(in, oidc::json_limits{4096, 4, 16384});
  return 0;
}
