// SPDX-License-Identifier: Apache-2.0
// Query-string and form parsing: strict decoding, refused duplicates, bounds.
#include "http_params.hpp"

#include <string>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

TEST(QueryParsing, DecodesPercentEscapesAndPlus) {
  auto p = parse_query("return_to=%2Freports%3Fa%3D1&name=a+b");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("return_to"), "/reports?a=1");
  EXPECT_EQ(p->get("name"), "a b");
  EXPECT_FALSE(p->get("missing"));
}

TEST(QueryParsing, RefusesDuplicateNames) {
  auto p = parse_query("state=a&code=x&state=b");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), auth_error::request_invalid);
}

TEST(QueryParsing, RefusesDuplicateNamesHiddenByEncoding) {
  EXPECT_EQ(parse_query("state=a&st%61te=b").error(), auth_error::request_invalid);
}

TEST(QueryParsing, RefusesBadEscapes) {
  for (const char* q : {"a=%", "a=%2", "a=%zz", "a=%2g", "a%=1"}) {
    auto p = parse_query(q);
    ASSERT_FALSE(p) << q;
    EXPECT_EQ(p.error(), auth_error::request_invalid) << q;
  }
}

TEST(QueryParsing, RefusesEmptyName) {
  EXPECT_EQ(parse_query("=x").error(), auth_error::request_invalid);
}

TEST(QueryParsing, SkipsEmptyPiecesAndKeepsValuelessNames) {
  auto p = parse_query("&a=1&&flag&");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size(), 2u);
  EXPECT_EQ(p->get("flag"), "");
}

TEST(QueryParsing, RefusesTooManyParameters) {
  std::string q;
  for (int i = 0; i < 33; ++i)
    q += "p" + std::to_string(i) + "=1&";
  EXPECT_EQ(parse_query(q).error(), auth_error::request_invalid);
  EXPECT_TRUE(parse_query(q, {8 * 1024, 64}));
}

TEST(QueryParsing, RefusesOversizedText) {
  const std::string q = "a=" + std::string(9000, 'x');
  EXPECT_EQ(parse_query(q).error(), auth_error::request_invalid);
}

TEST(FormParsing, ParsesUrlEncodedBody) {
  auto p = parse_form("grant_type=authorization_code&code=abc%2Bdef");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("code"), "abc+def");
}

TEST(RequestTarget, SplitsPathAndQuery) {
  EXPECT_EQ(path_of("/api/single-sign-on?code=1#x"), "/api/single-sign-on");
  EXPECT_EQ(query_of("/api/single-sign-on?code=1#x"), "code=1");
  EXPECT_EQ(query_of("/healthz"), "");
}

TEST(UrlEncoding, EncodesAllButUnreserved) {
  EXPECT_EQ(url_encode("a b/c?d=e&f~_.-"), "a%20b%2Fc%3Fd%3De%26f~_.-");
  EXPECT_EQ(percent_decode(url_encode("https://x/y?z=1 2"), false).value(), "https://x/y?z=1 2");
}

}  // namespace
}  // namespace oidc::server
