// SPDX-License-Identifier: Apache-2.0
#include "oidc/random.hpp"

#include <climits>
#include <cstdlib>
#include <vector>

#include <openssl/rand.h>

#include "oidc/base64url.hpp"

namespace oidc {

void openssl_random::fill(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    const std::size_t n = std::min<std::size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) std::abort();
    out = out.subspan(n);
  }
}

std::string random_token(random_source& rng, std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes < 16 ? 16 : bytes);
  rng.fill(buf);
  return base64url_encode(buf);
}

}  // namespace oidc
