// SPDX-License-Identifier: Apache-2.0
// Cookie header parsing, Set-Cookie attributes per cookie mode, pending-login naming and capping.
#include "cookies.hpp"

#include <string>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {
using namespace std::chrono_literals;

TEST(CookieHeaderParsing, ParsesPairsAndTrimsSpaces) {
  auto jar = parse_cookie_header("a=1; b = two ;c=\"q\"");
  ASSERT_TRUE(jar);
  EXPECT_EQ(jar->get("a"), "1");
  EXPECT_EQ(jar->get("b"), "two");
  EXPECT_EQ(jar->get("c"), "q");
  EXPECT_FALSE(jar->get("d"));
}

TEST(CookieHeaderParsing, IgnoresPiecesWithoutNameOrEquals) {
  auto jar = parse_cookie_header("junk; =x; ok=1");
  ASSERT_TRUE(jar);
  EXPECT_EQ(jar->items().size(), 1u);
  EXPECT_EQ(jar->get("ok"), "1");
}

TEST(CookieHeaderParsing, FirstOfRepeatedNamesWins) {
  auto jar = parse_cookie_header("s=first; s=second");
  ASSERT_TRUE(jar);
  EXPECT_EQ(jar->get("s"), "first");
}

TEST(CookieHeaderParsing, RefusesTooManyCookies) {
  std::string h;
  for (int i = 0; i < 65; ++i)
    h += "c" + std::to_string(i) + "=1; ";
  EXPECT_EQ(parse_cookie_header(h).error(), auth_error::request_invalid);
}

TEST(CookieHeaderParsing, RefusesOversizedHeader) {
  EXPECT_EQ(parse_cookie_header("a=" + std::string(9000, 'x')).error(),
            auth_error::request_invalid);
}

TEST(SetCookie, SecureModeUsesHostPrefixAndSecure) {
  const cookie_policy p(cookie_mode_t::secure);
  EXPECT_EQ(p.set_cookie(kSessionCookie, "tok", 3600s),
            "__Host-oidc-session=tok; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax");
}

TEST(SetCookie, DevelopmentModeDropsPrefixAndSecure) {
  const cookie_policy p(cookie_mode_t::development);
  EXPECT_EQ(p.set_cookie(kSessionCookie, "tok", 60s),
            "oidc-session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
}

TEST(SetCookie, ClearExpiresAtOnce) {
  const cookie_policy p(cookie_mode_t::secure);
  EXPECT_EQ(p.clear_cookie("oidc-login-abc"),
            "__Host-oidc-login-abc=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
}

TEST(LoginCookieNaming, NamesCookieAfterStatePrefix) {
  EXPECT_EQ(login_cookie_base("ABCDEFGHIJKLMNOP_rest-of-state"), "oidc-login-ABCDEFGHIJKLMNOP");
}

TEST(LoginCookieNaming, RefusesShortOrForeignStateIds) {
  EXPECT_FALSE(login_cookie_base("short"));
  EXPECT_FALSE(login_cookie_base("ABCDEFGHIJKLMNO;="));
  EXPECT_FALSE(login_cookie_base("ABCDEFGHIJKLMNOP\r\nX"));
}

TEST(LoginCookieNaming, FindsLoginCookiesOfTheMode) {
  auto jar = parse_cookie_header(
      "__Host-oidc-login-AAAAAAAAAAAAAAAA=x; oidc-login-BBBBBBBBBBBBBBBB=y; "
      "__Host-oidc-session=z; __Host-oidc-login-short=q");
  ASSERT_TRUE(jar);
  auto secure = login_cookie_bases(*jar, cookie_policy(cookie_mode_t::secure));
  ASSERT_EQ(secure.size(), 1u);
  EXPECT_EQ(secure[0], "oidc-login-AAAAAAAAAAAAAAAA");
  auto dev = login_cookie_bases(*jar, cookie_policy(cookie_mode_t::development));
  ASSERT_EQ(dev.size(), 1u);
  EXPECT_EQ(dev[0], "oidc-login-BBBBBBBBBBBBBBBB");
}

TEST(PendingLoginCap, DropsOldestToMakeRoom) {
  const std::chrono::sys_seconds t{std::chrono::seconds(1000)};
  auto drop = logins_to_drop({{"new", t + 30s}, {"old", t}, {"mid", t + 10s}}, 3);
  ASSERT_EQ(drop.size(), 1u);
  EXPECT_EQ(drop[0], "old");
}

TEST(PendingLoginCap, DropsUnreadableFirstAndKeepsBelowCap) {
  const std::chrono::sys_seconds t{std::chrono::seconds(1000)};
  auto drop = logins_to_drop({{"a", t}, {"bad", std::nullopt}, {"b", t + 5s}}, 3);
  ASSERT_EQ(drop.size(), 1u);
  EXPECT_EQ(drop[0], "bad");
}

TEST(PendingLoginCap, NothingDroppedBelowCap) {
  const std::chrono::sys_seconds t{std::chrono::seconds(1000)};
  EXPECT_TRUE(logins_to_drop({{"a", t}}, 3).empty());
}

}  // namespace
}  // namespace oidc::server
