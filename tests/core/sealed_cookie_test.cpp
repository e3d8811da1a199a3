// SPDX-License-Identifier: Apache-2.0
// Sealed cookies: round trip, exact rejection reasons for every kind of damage, key rotation, and
// the login-state codec sealed in them.
#include "oidc/sealed_cookie.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "oidc/base64url.hpp"

namespace oidc {
namespace {
using namespace std::chrono_literals;
using std::chrono::sys_seconds;

// Hands out the scripted bytes in order, then a counter, so sealed output is reproducible.
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

std::array<std::uint8_t, kCookieKeyBytes> key_bytes(std::uint8_t first) {
  std::array<std::uint8_t, kCookieKeyBytes> k{};
  for (std::size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<std::uint8_t>(first + i);
  return k;
}

cookie_key_ring ring_of(std::initializer_list<cookie_key_id> ids) {
  cookie_key_ring ring;
  for (const auto id : ids)
    EXPECT_TRUE(ring.add(id, key_bytes(static_cast<std::uint8_t>(id * 32))));
  return ring;
}

const sys_seconds kNow{1'700'000'000s};
const sys_seconds kExpiry = kNow + 600s;
constexpr std::string_view kPurpose = "login-state";
constexpr std::string_view kPlaintext = R"({"state":"abc","return_to":"/home"})";

std::string seal_ok(const cookie_key_ring& ring, std::string_view plaintext = kPlaintext,
                    std::string_view purpose = kPurpose, sys_seconds expiry = kExpiry) {
  openssl_random rng;
  auto sealed = ring.seal(purpose, plaintext, expiry, rng);
  EXPECT_TRUE(sealed.has_value());
  return sealed ? *sealed : std::string();
}

std::string raw_of(std::string_view sealed) {
  auto raw = base64url_decode(sealed);
  EXPECT_TRUE(raw.has_value());
  return raw ? *raw : std::string();
}

TEST(SealedCookie, OpensWhatWasSealedForTheSamePurpose) {
  const auto ring = ring_of({1});
  const auto opened = ring.open(kPurpose, seal_ok(ring), kNow);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, kPlaintext);
}

TEST(SealedCookie, RoundTripsEmptyAndBinaryPlaintext) {
  const auto ring = ring_of({1});
  const std::string binary("\0\xff\x01 ;,\"\\", 8);
  for (const std::string& p : {std::string(), binary}) {
    const auto opened = ring.open(kPurpose, seal_ok(ring, p), kNow);
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(*opened, p);
  }
}

TEST(SealedCookie, MatchesTheDocumentedWireFormat) {
  // Computed independently with Python's cryptography AESGCM: key 00..1f, key id 7, nonce
  // a0..ab, AAD 01 07 "test", plaintext = int64be(1700000000) || "hello".
  cookie_key_ring ring;
  ASSERT_TRUE(ring.add(7, key_bytes(0)));
  std::vector<std::uint8_t> nonce;
  for (std::uint8_t b = 0xa0; b <= 0xab; ++b)
    nonce.push_back(b);
  scripted_random rng(nonce);
  const auto sealed = ring.seal("test", "hello", sys_seconds{1'700'000'000s}, rng);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(*sealed, "AQegoaKjpKWmp6ipqqvmGHwtIJjzvwoA679o3UXRmAjgv5BBT4KSRNwykA");
  const auto opened = ring.open("test", *sealed, sys_seconds{1'699'999'999s});
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, "hello");
}

TEST(SealedCookie, SealedTextIsCookieSafeBase64url) {
  const auto sealed = seal_ok(ring_of({1}));
  for (const char c : sealed)
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_')
        << c;
}

TEST(SealedCookie, EachSealUsesAFreshNonceFromTheInjectedSource) {
  const auto ring = ring_of({1});
  openssl_random rng;
  const auto a = ring.seal(kPurpose, kPlaintext, kExpiry, rng);
  const auto b = ring.seal(kPurpose, kPlaintext, kExpiry, rng);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  scripted_random r1, r2;
  EXPECT_EQ(ring.seal(kPurpose, kPlaintext, kExpiry, r1).value(),
            ring.seal(kPurpose, kPlaintext, kExpiry, r2).value());
}

TEST(SealedCookie, EveryFlippedByteIsRejectedWithThePreciseReason) {
  const auto ring = ring_of({1});
  const std::string raw = raw_of(seal_ok(ring));
  ASSERT_EQ(raw[0], static_cast<char>(kSealedCookieVersion));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (const int mask : {0x01, 0x80}) {
      std::string damaged = raw;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      const auto opened = ring.open(kPurpose, base64url_encode(damaged), kNow);
      ASSERT_FALSE(opened.has_value()) << "byte " << i;
      const auto want = i == 0   ? auth_error::cookie_malformed    // unknown version
                        : i == 1 ? auth_error::cookie_key_unknown  // no such key id
                                 : auth_error::cookie_tampered;    // nonce, body, tag
      EXPECT_EQ(opened.error(), want) << "byte " << i << " mask " << mask;
    }
  }
}

TEST(SealedCookie, KeyIdRewrittenToAnotherConfiguredKeyIsTampered) {
  const auto ring = ring_of({1, 2});
  std::string raw = raw_of(seal_ok(ring));
  ASSERT_EQ(raw[1], 2);
  raw[1] = 1;
  EXPECT_EQ(ring.open(kPurpose, base64url_encode(raw), kNow).error(), auth_error::cookie_tampered);
}

TEST(SealedCookie, CookieSealedForAnotherPurposeIsTampered) {
  const auto ring = ring_of({1});
  const auto sealed = seal_ok(ring, kPlaintext, "session-hint");
  EXPECT_EQ(ring.open(kPurpose, sealed, kNow).error(), auth_error::cookie_tampered);
  EXPECT_EQ(ring.open("login-stat", sealed, kNow).error(), auth_error::cookie_tampered);
  EXPECT_EQ(ring.open("", sealed, kNow).error(), auth_error::cookie_tampered);
  EXPECT_TRUE(ring.open("session-hint", sealed, kNow).has_value());
}

TEST(SealedCookie, ExpiresAtItsExpiryInstant) {
  const auto ring = ring_of({1});
  const auto sealed = seal_ok(ring);
  EXPECT_TRUE(ring.open(kPurpose, sealed, kExpiry - 1s).has_value());
  EXPECT_EQ(ring.open(kPurpose, sealed, kExpiry).error(), auth_error::cookie_expired);
  EXPECT_EQ(ring.open(kPurpose, sealed, kExpiry + 24h).error(), auth_error::cookie_expired);
}

TEST(SealedCookie, ForgeryOfAnExpiredCookieReportsTamperedNotExpired) {
  const auto ring = ring_of({1});
  std::string raw = raw_of(seal_ok(ring));
  raw.back() = static_cast<char>(raw.back() ^ 1);
  EXPECT_EQ(ring.open(kPurpose, base64url_encode(raw), kExpiry + 1h).error(),
            auth_error::cookie_tampered);
}

TEST(SealedCookieRotation, NewestKeySealsAndOlderKeysStillOpen) {
  const auto before = ring_of({1});
  const auto old_cookie = seal_ok(before);

  const auto rotated = ring_of({1, 2});
  EXPECT_EQ(rotated.sealing_key_id(), cookie_key_id{2});
  const auto new_cookie = seal_ok(rotated);
  EXPECT_EQ(raw_of(new_cookie)[1], 2);
  EXPECT_EQ(rotated.open(kPurpose, old_cookie, kNow).value(), kPlaintext);
  EXPECT_EQ(rotated.open(kPurpose, new_cookie, kNow).value(), kPlaintext);
  // The ring from before the rotation has never seen key 2.
  EXPECT_EQ(before.open(kPurpose, new_cookie, kNow).error(), auth_error::cookie_key_unknown);
}

TEST(SealedCookieRotation, CookieSealedUnderARemovedKeyIsKeyUnknown) {
  const auto old_cookie = seal_ok(ring_of({1, 2}));  // sealed by key 2
  const auto after_removal = ring_of({1, 3});
  EXPECT_EQ(after_removal.open(kPurpose, old_cookie, kNow).error(), auth_error::cookie_key_unknown);
}

TEST(SealedCookieRotation, SameIdWithDifferentKeyBytesIsTampered) {
  const auto sealed = seal_ok(ring_of({1}));
  cookie_key_ring other;
  ASSERT_TRUE(other.add(1, key_bytes(99)));
  EXPECT_EQ(other.open(kPurpose, sealed, kNow).error(), auth_error::cookie_tampered);
}

TEST(SealedCookieInput, TruncationBelowTheMinimumIsMalformedAndAboveItTampered) {
  const auto ring = ring_of({1});
  const std::string raw = raw_of(seal_ok(ring));
  constexpr std::size_t overhead = 2 + 12 + 8 + 16;
  for (std::size_t len = 0; len < raw.size(); ++len) {
    const auto opened = ring.open(kPurpose, base64url_encode(raw.substr(0, len)), kNow);
    ASSERT_FALSE(opened.has_value()) << len;
    // Without a length field a shorter body is just a wrong tag: authentication catches it.
    EXPECT_EQ(opened.error(),
              len < overhead ? auth_error::cookie_malformed : auth_error::cookie_tampered)
        << len;
  }
}

TEST(SealedCookieInput, TruncatedTextThatIsNotBase64urlIsMalformed) {
  const auto ring = ring_of({1});
  std::string sealed = seal_ok(ring);
  while (sealed.size() % 4 != 1)
    sealed.pop_back();  // 4n+1 characters never decode
  EXPECT_EQ(ring.open(kPurpose, sealed, kNow).error(), auth_error::cookie_malformed);
}

TEST(SealedCookieInput, OversizedInputIsMalformedBeforeDecoding) {
  const auto ring = ring_of({1});
  EXPECT_EQ(ring.open(kPurpose, std::string(kMaxSealedCookieChars + 1, 'A'), kNow).error(),
            auth_error::cookie_malformed);
  const std::string valid = seal_ok(ring);
  EXPECT_EQ(ring.open(kPurpose, valid + std::string(kMaxSealedCookieChars, 'A'), kNow).error(),
            auth_error::cookie_malformed);
}

TEST(SealedCookieInput, NonBase64urlTextIsMalformed) {
  const auto ring = ring_of({1});
  const std::string valid = seal_ok(ring);
  EXPECT_EQ(ring.open(kPurpose, "", kNow).error(), auth_error::cookie_malformed);
  for (const char bad : {'+', '/', '=', ' ', '.', '%', '\0'}) {
    std::string s = valid;
    s[s.size() / 2] = bad;
    EXPECT_EQ(ring.open(kPurpose, s, kNow).error(), auth_error::cookie_malformed) << int(bad);
  }
  EXPECT_EQ(ring.open(kPurpose, valid + "==", kNow).error(), auth_error::cookie_malformed);
}

TEST(SealedCookieInput, LargestPlaintextThatFitsSealsAndOneMoreByteIsRefused) {
  const auto ring = ring_of({1});
  constexpr std::size_t max_plaintext = kMaxSealedCookieChars / 4 * 3 - (2 + 12 + 8 + 16);
  const std::string largest(max_plaintext, 'x');
  const std::string sealed = seal_ok(ring, largest);
  EXPECT_LE(sealed.size(), kMaxSealedCookieChars);
  EXPECT_EQ(ring.open(kPurpose, sealed, kNow).value(), largest);
  openssl_random rng;
  EXPECT_EQ(ring.seal(kPurpose, largest + "x", kExpiry, rng).error(), auth_error::request_invalid);
}

TEST(CookieKeyRing, RefusesKeysOfTheWrongLengthAndDuplicateIds) {
  cookie_key_ring ring;
  const std::array<std::uint8_t, 16> aes128{};
  EXPECT_EQ(ring.add(1, aes128).error(), auth_error::config_invalid);
  EXPECT_TRUE(ring.empty());
  ASSERT_TRUE(ring.add(1, key_bytes(0)));
  EXPECT_EQ(ring.add(1, key_bytes(1)).error(), auth_error::config_invalid);
  EXPECT_EQ(ring.size(), 1u);
}

TEST(CookieKeyRing, EmptyRingCannotSeal) {
  const cookie_key_ring ring;
  openssl_random rng;
  EXPECT_EQ(ring.seal(kPurpose, kPlaintext, kExpiry, rng).error(), auth_error::config_invalid);
  EXPECT_FALSE(ring.sealing_key_id().has_value());
}

TEST(CookieKeyRing, MovedRingKeepsItsKeys) {
  auto ring = ring_of({1});
  const auto sealed = seal_ok(ring);
  cookie_key_ring moved = std::move(ring);
  EXPECT_EQ(moved.open(kPurpose, sealed, kNow).value(), kPlaintext);
}

login_state sample_state() {
  return {"state-id-0123456789",
          "nonce-abcdef",
          "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
          "contoso",
          "/reports?q=\"a b\"&x=\\",
          kExpiry};
}

TEST(LoginStateCodec, RoundTripsThroughJson) {
  const auto s = sample_state();
  const auto decoded = decode_login_state(encode_login_state(s));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, s);
}

TEST(LoginStateCodec, RejectsMissingExtraAndWrongTypedMembers) {
  const std::string good =
      R"({"state":"s","nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1})";
  ASSERT_TRUE(decode_login_state(good).has_value());
  for (const std::string_view bad : {
           R"({"nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1})",
           R"({"state":"s","nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1,"x":1})",
           R"({"state":"s","nonce":"n","verifier":"v","org":"o","return_to":"/","exp":"1"})",
           R"({"state":"s","nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1.5})",
           R"({"state":1,"nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1})",
           R"({"state":"","nonce":"n","verifier":"v","org":"o","return_to":"/","exp":1})",
           R"({"state":"s","nonce":"","verifier":"v","org":"o","return_to":"/","exp":1})",
           R"({"state":"s","nonce":"n","verifier":"","org":"o","return_to":"/","exp":1})",
           R"({"state":"s","nonce":"n","verifier":"v","org":{},"return_to":"/","exp":1})",
           R"({"state":"s","state":"s","verifier":"v","org":"o","return_to":"/","exp":1})",
           R"(["s","n","v","o","/",1])",
           "",
       }) {
    EXPECT_EQ(decode_login_state(bad).error(), auth_error::cookie_malformed) << bad;
  }
}

TEST(LoginStateCookie, SealsWithLoginStatePurposeAndItsOwnExpiry) {
  const auto ring = ring_of({1});
  openssl_random rng;
  const auto s = sample_state();
  const auto sealed = seal_login_state(ring, s, rng);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(open_login_state(ring, *sealed, kNow).value(), s);
  EXPECT_EQ(open_login_state(ring, *sealed, s.expires_at).error(), auth_error::cookie_expired);
  EXPECT_TRUE(ring.open(kLoginStatePurpose, *sealed, kNow).has_value());
}

TEST(LoginStateCookie, CookieSealedForAnotherPurposeDoesNotOpenAsLoginState) {
  const auto ring = ring_of({1});
  const auto other = seal_ok(ring, encode_login_state(sample_state()), "return-hint");
  EXPECT_EQ(open_login_state(ring, other, kNow).error(), auth_error::cookie_tampered);
}

}  // namespace
}  // namespace oidc
