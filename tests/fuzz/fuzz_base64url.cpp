// SPDX-License-Identifier: Apache-2.0
// base64url: decoding never crashes, and whatever decodes re-encodes to the same text (strictness:
// exactly one accepted encoding per byte string).
#include <cstdlib>
#include <string_view>

#include "oidc/base64url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = oidc::base64url_decode(in);
  if (decoded && oidc::base64url_encode(*decoded) != in) std::abort();
  const std::string round = oidc::base64url_encode(in);
  auto back = oidc::base64url_decode(round);
  if (!back || *back != in) std::abort();
  return 0;
}
