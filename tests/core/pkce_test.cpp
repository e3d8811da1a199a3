// SPDX-License-Identifier: Apache-2.0
// PKCE against RFC 7636 appendix B, the verifier grammar, and state/nonce generation.
#include "oidc/pkce.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "oidc/base64url.hpp"

namespace oidc {
namespace {

// Hands out the scripted bytes in order, then a counter, so outputs are reproducible.
class scripted_random final : public random_source {
 public:
  explicit scripted_random(std::vector<std::uint8_t> bytes = {}) : bytes_(std::move(bytes)) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out)
      b = pos_ < bytes_.size() ? bytes_[pos_++] : counter_++;
  }

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::uint8_t counter_ = 0;
};

// RFC 7636 appendix B.
constexpr std::string_view kRfcVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view kRfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const std::vector<std::uint8_t> kRfcOctets = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                              125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                              191, 240, 91,  88,  5,   88,  83,  132, 141, 121};

TEST(PkceS256, ChallengeOfRfc7636AppendixBVerifierMatchesTheRfc) {
  const auto challenge = pkce_s256_challenge(kRfcVerifier);
  ASSERT_TRUE(challenge.has_value());
  EXPECT_EQ(*challenge, kRfcChallenge);
}

TEST(PkceS256, MakePkceTurnsTheRfc7636OctetsIntoTheRfcVerifierAndChallenge) {
  scripted_random rng(kRfcOctets);
  const auto p = make_pkce(rng);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->verifier, kRfcVerifier);
  EXPECT_EQ(p->challenge, kRfcChallenge);
}

TEST(PkceS256, VerifierHas43CharactersFrom32RandomBytes) {
  openssl_random rng;
  const auto p = make_pkce(rng);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->verifier.size(), 43u);
  EXPECT_TRUE(is_valid_pkce_verifier(p->verifier));
  const auto decoded = base64url_decode(p->verifier);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), kPkceVerifierBytes);
}

TEST(PkceS256, MatchesAcceptsTheRfcPairAndRejectsAnyOtherChallenge) {
  EXPECT_TRUE(pkce_s256_matches(kRfcVerifier, kRfcChallenge));
  std::string wrong(kRfcChallenge);
  wrong[0] = 'F';
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, wrong));
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, kRfcChallenge.substr(1)));
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, ""));
  // The plain method is never accepted: the verifier itself is not its own challenge.
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, kRfcVerifier));
}

TEST(PkceS256, MatchesRejectsAVerifierOutsideTheGrammarEvenWithItsOwnChallenge) {
  const std::string short_verifier(42, 'a');
  const auto challenge = pkce_s256_challenge(short_verifier);
  ASSERT_TRUE(challenge.has_value());
  EXPECT_FALSE(pkce_s256_matches(short_verifier, *challenge));
}

TEST(PkceVerifierGrammar, AcceptsUnreservedCharactersFrom43To128Long) {
  EXPECT_TRUE(is_valid_pkce_verifier(kRfcVerifier));
  EXPECT_TRUE(is_valid_pkce_verifier(std::string(43, 'a')));
  EXPECT_TRUE(is_valid_pkce_verifier(std::string(128, '~')));
  EXPECT_TRUE(
      is_valid_pkce_verifier("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"));
}

TEST(PkceVerifierGrammar, RejectsWrongLengthsAndReservedCharacters) {
  EXPECT_FALSE(is_valid_pkce_verifier(""));
  EXPECT_FALSE(is_valid_pkce_verifier(std::string(42, 'a')));
  EXPECT_FALSE(is_valid_pkce_verifier(std::string(129, 'a')));
  for (const char bad : std::string_view("+/= %&\"\0\x7f\xc3", 10)) {
    std::string v(43, 'a');
    v[20] = bad;
    EXPECT_FALSE(is_valid_pkce_verifier(v)) << "character code " << int(bad);
  }
}

TEST(LoginRandomValues, StateAndNonceCarryAtLeast128BitsAndDiffer) {
  openssl_random rng;
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const std::string state = make_state(rng);
    const std::string nonce = make_nonce(rng);
    for (const auto& v : {state, nonce}) {
      const auto decoded = base64url_decode(v);
      ASSERT_TRUE(decoded.has_value());
      EXPECT_GE(decoded->size() * 8, 128u);
      EXPECT_TRUE(seen.insert(v).second) << "repeated value";
    }
  }
}

TEST(LoginRandomValues, StateAndNonceComeFromTheInjectedSource) {
  scripted_random a, b;
  EXPECT_EQ(make_state(a), make_state(b));
  EXPECT_EQ(make_nonce(a), make_nonce(b));
  scripted_random c;
  const std::string state = make_state(c);
  EXPECT_NE(make_nonce(c), state);
}

}  // namespace
}  // namespace oidc
