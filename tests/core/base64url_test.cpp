// SPDX-License-Identifier: Apache-2.0
#include "oidc/base64url.hpp"

#include <string>

#include <gtest/gtest.h>

namespace oidc {
namespace {

TEST(Base64Url, EncodesRfc4648TestVectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(std::string_view("")), "");
  EXPECT_EQ(base64url_encode(std::string_view("f")), "Zg");
  EXPECT_EQ(base64url_encode(std::string_view("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(base64url_encode(std::string_view("foob")), "Zm9vYg");
  EXPECT_EQ(base64url_encode(std::string_view("fooba")), "Zm9vYmE");
  EXPECT_EQ(base64url_encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
  const std::string bytes{'\xfb', '\xff', '\xbf'};
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_").value(), bytes);
}

TEST(Base64Url, RoundTripsEveryByteValueAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); ++n) {
    const auto s = all.substr(0, n);
    auto decoded = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(decoded) << n;
    EXPECT_EQ(*decoded, s);
  }
}

TEST(Base64Url, RejectsPaddingWhitespaceAndForeignCharacters) {
  for (std::string_view bad :
       {"Zg==", "Zm8=", "Zm9v\n", " Zm9v", "Zm+v", "Zm/v", "Zm9v!", "Z\0g"}) {
    auto r = base64url_decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), auth_error::base64_invalid) << bad;
  }
}

TEST(Base64Url, RejectsImpossibleLength) {
  EXPECT_EQ(base64url_decode("Z").error(), auth_error::base64_invalid);
  EXPECT_EQ(base64url_decode("Zm9vY").error(), auth_error::base64_invalid);
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  // "Zg" is the only encoding of "f"; "Zh" carries bits that no byte holds.
  EXPECT_TRUE(base64url_decode("Zg"));
  EXPECT_EQ(base64url_decode("Zh").error(), auth_error::base64_invalid);
  EXPECT_TRUE(base64url_decode("Zm8"));
  EXPECT_EQ(base64url_decode("Zm9").error(), auth_error::base64_invalid);
}

TEST(Base64Url, DecodesIntoACallerBufferWithoutAllocating) {
  std::uint8_t buf[8];
  auto n = base64url_decode("Zm9vYmE", std::span<std::uint8_t>(buf, sizeof buf));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "fooba");
  EXPECT_EQ(base64url_decoded_max(7), 5u);
}

}  // namespace
}  // namespace oidc
