// SPDX-License-Identifier: Apache-2.0
// Sealed cookies from the browser: any value opens or fails with one reason; the login-state
// decoder also takes arbitrary JSON.
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "oidc/sealed_cookie.hpp"

namespace {
const oidc::cookie_key_ring& ring() {
  static const oidc::cookie_key_ring r = [] {
    oidc::cookie_key_ring k;
    std::vector<std::uint8_t> key1(oidc::kCookieKeyBytes, 1), key2(oidc::kCookieKeyBytes, 2);
    (void)k.add(1, key1);
    (void)k.add(2, key2);
    return k;
  }();
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::chrono::sys_seconds now{std::chrono::seconds{1'800'000'000}};
  (void)ring().open(oidc::kLoginStatePurpose, text, now);
  (void)oidc::open_login_state(ring(), text, now);
  (void)oidc::decode_login_state(text);
  return 0;
}
