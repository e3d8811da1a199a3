// SPDX-License-Identifier: Apache-2.0
// A key set is shared by every I/O thread: verification through the same jwk (and its prepared
// OpenSSL verify contexts, copied per call) must give the same answer from many threads at once.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "oidc/jws.hpp"
#include "support/test_keys.hpp"

namespace oidc {
namespace {

TEST(JwsConcurrency, ManyThreadsVerifyThroughTheSameKeysAndAgree) {
  const auto& rsa = test::cached_test_key(jws_alg::RS256);
  const auto& ec = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&rsa, &ec});
  const boost::json::object payload{{"sub", "x"}};
  const std::string good_rsa = test::sign_test_token(rsa, payload).value();
  const std::string good_ec = test::sign_test_token(ec, payload).value();
  std::string bad_rsa = good_rsa;
  bad_rsa[bad_rsa.size() - 3] = bad_rsa[bad_rsa.size() - 3] == 'A' ? 'B' : 'A';
  jws_verify_options opt;
  opt.allowed_algs = alg_set{jws_alg::RS256, jws_alg::ES256};

  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!verify_jws(good_rsa, *keys, opt)) ++wrong;
        if (!verify_jws(good_ec, *keys, opt)) ++wrong;
        auto r = verify_jws(bad_rsa, *keys, opt);
        if (r || r.error() != auth_error::signature_invalid) ++wrong;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace oidc
