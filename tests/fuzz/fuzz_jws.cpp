// SPDX-License-Identifier: Apache-2.0
// JOSE header and payload parsing through the whole verifier: any token yields claims or one
// reason. Keys of every supported kind are present so key selection and each signature path run.
// Differential: a peeked token (header decoded once, as /api/verify does) must verify exactly as
// the token itself.
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "oidc/claims.hpp"
#include "oidc/jws.hpp"
#include "support/test_keys.hpp"

namespace {
const oidc::key_set& keys() {
  using oidc::jws_alg;
  static const auto set = oidc::test::key_set_of(
      {&oidc::test::cached_test_key(jws_alg::RS256), &oidc::test::cached_test_key(jws_alg::PS256),
       &oidc::test::cached_test_key(jws_alg::ES256), &oidc::test::cached_test_key(jws_alg::EdDSA)});
  return *set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  oidc::jws_verify_options opt;
  opt.allowed_algs = oidc::alg_set::all();
  (void)oidc::verify_jws(token, keys(), opt);
  const auto direct = oidc::verify_jws_signature(token, keys(), opt);
  if (const auto peeked = oidc::peek_jws(token, opt.max_token_bytes)) {
    const auto via_peek = oidc::verify_jws_signature(*peeked, keys(), opt);
    if (direct.has_value() != via_peek.has_value()) std::abort();
    if (!direct && direct.error() != via_peek.error()) std::abort();
    if (direct && (direct->alg != via_peek->alg || direct->kid != via_peek->kid)) std::abort();
  }
  oidc::access_token_expectations want;
  want.issuers = {"https://login.microsoftonline.com/t/v2.0"};
  want.audiences = {"c"};
  want.allowed_algs = oidc::alg_set::all();
  (void)oidc::verify_access_token(token, keys(), want,
                                  std::chrono::sys_seconds{std::chrono::seconds{1'800'000'000}});
  return 0;
}
