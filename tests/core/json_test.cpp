// SPDX-License-Identifier: Apache-2.0
#include "oidc/json.hpp"

#include <string>

#include <gtest/gtest.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

namespace oidc {
namespace {

TEST(BoundedJson, ParsesAStrictObject) {
  auto o = parse_json_object(R"({"alg":"RS256","n":1,"nested":{"a":[1,2]}})", kJoseJsonLimits);
  ASSERT_TRUE(o);
  ASSERT_NE(find_string(*o, "alg"), nullptr);
  EXPECT_EQ(*find_string(*o, "alg"), "RS256");
  EXPECT_EQ(find_int64(*o, "n"), 1);
  EXPECT_EQ(find_string(*o, "n"), nullptr);
  EXPECT_EQ(find_int64(*o, "alg"), std::nullopt);
}

// The document is built in the same pass as the strictness checks: it must be exactly what
// Boost.JSON's own parser builds, for every kind of value.
TEST(BoundedJson, BuildsTheSameDocumentAsBoostJson) {
  const std::string long_string(5000, 'x');
  const std::string documents[] = {
      R"({})",
      R"([])",
      R"("just a string")",
      R"(-12.5e3)",
      R"({"a":1,"b":-2,"c":18446744073709551615,"d":1.5,"e":true,"f":false,"g":null})",
      R"({"esc\u00e9":"line\nbreak \"quoted\" \u263a \ud83d\ude00","k\\ey":"\/"})",
      R"({"outer":{"inner":{"deep":[1,[2,[3,{"x":[]}]],{}]},"list":["a","b"]},"n":[]})",
      R"([{"a":1},{"a":2},{"b":[true,false,null]}])",
      "{\"long\":\"" + long_string + "\",\"" + long_string + "\":1}",
  };
  for (const auto& text : documents) {
    auto ours = parse_json(text, json_limits{1 << 20, 16, 0});
    ASSERT_TRUE(ours) << text;
    EXPECT_EQ(*ours, boost::json::parse(text)) << text;
  }
}

TEST(BoundedJson, RejectsDuplicateMemberNames) {
  EXPECT_EQ(parse_json(R"({"alg":"RS256","alg":"none"})", kJoseJsonLimits).error(),
            auth_error::json_duplicate_member);
  // Escapes decode to the same name.
  EXPECT_EQ(parse_json(R"({"alg":"RS256","\u0061lg":"none"})", kJoseJsonLimits).error(),
            auth_error::json_duplicate_member);
  EXPECT_EQ(parse_json(R"({"x":{"k":1,"k":2}})", kJoseJsonLimits).error(),
            auth_error::json_duplicate_member);
  // The same name in sibling objects is fine.
  EXPECT_TRUE(parse_json(R"([{"k":1},{"k":2}])", kJoseJsonLimits));
}

TEST(BoundedJson, RejectsDocumentsNestedBeyondTheLimit) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(parse_json(deep, kJoseJsonLimits).error(), auth_error::json_too_deep);
  const std::string ok = std::string(8, '[') + std::string(8, ']');
  EXPECT_TRUE(parse_json(ok, kJoseJsonLimits));
}

TEST(BoundedJson, RejectsInputBeyondTheSizeLimit) {
  const std::string big = "\"" + std::string(kJoseJsonLimits.max_bytes, 'a') + "\"";
  EXPECT_EQ(parse_json(big, kJoseJsonLimits).error(), auth_error::json_too_large);
}

TEST(BoundedJson, RejectsDocumentsThatNeedMoreMemoryThanAllowed) {
  std::string many = "[";
  for (int i = 0; i < 2000; ++i)
    many += "[],";
  many += "[]]";
  EXPECT_EQ(parse_json(many, json_limits{1 << 20, 4, 4096}).error(), auth_error::json_too_large);
  EXPECT_TRUE(parse_json(many, json_limits{1 << 20, 4, 1 << 20}));
}

TEST(BoundedJson, RejectsSyntaxErrorsTrailingDataAndComments) {
  for (std::string_view bad : {"", "{", R"({"a":1,})", R"({"a":1} x)", R"({"a":1}{})", "/*c*/{}",
                               "{'a':1}", "NaN", R"({"a":01})"}) {
    auto r = parse_json(bad, kJoseJsonLimits);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), auth_error::json_invalid) << bad;
  }
  EXPECT_EQ(parse_json_object("[1]", kJoseJsonLimits).error(), auth_error::json_invalid);
}

TEST(BoundedJson, BuildsIntoACallerSuppliedResource) {
  unsigned char buffer[4096];
  boost::json::monotonic_resource mr(buffer, sizeof buffer);
  auto o = parse_json_object(R"({"kid":"abc"})", kJoseJsonLimits, &mr);
  ASSERT_TRUE(o);
  EXPECT_EQ(*find_string(*o, "kid"), "abc");
}

// Hand-written JSON lines (access log, driver report) stay valid JSON whatever the text holds.
TEST(JsonStringContent, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string_view text("a\"b\\c\n\x01\x1f\x7f \xc3\xa9", 12);
  std::string out = "\"";
  append_json_string_content(out, text);
  out += '"';
  EXPECT_EQ(out, std::string_view("\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f \xc3\xa9\"", 31));
  EXPECT_EQ(boost::json::parse(out).as_string(), text);
}

TEST(JsonStringContent, EveryAsciiByteRoundTripsThroughAParser) {
  std::string text;
  for (int c = 1; c < 0x80; ++c)
    text += static_cast<char>(c);
  std::string out = "\"";
  append_json_string_content(out, text);
  out += '"';
  EXPECT_EQ(boost::json::parse(out).as_string(), text);
}

}  // namespace
}  // namespace oidc
