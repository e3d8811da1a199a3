// SPDX-License-Identifier: Apache-2.0
// The virtual user's cookie jar (RFC 6265 section 5): storing, deleting, and which cookies a
// request carries.
#include "cookie_jar.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace oidc::loadtest {
namespace {
using namespace std::chrono_literals;

// 2026-11-26 12:00:00 UTC.
const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + 12h;

cookie_site http_site(std::string_view host, std::string_view path) {
  return cookie_site{false, host, path};
}
cookie_site https_site(std::string_view host, std::string_view path) {
  return cookie_site{true, host, path};
}

TEST(CookieJar, SendsAStoredCookieBackToTheSameHost) {
  cookie_jar jar;
  EXPECT_EQ(jar.store("oidc-login-abc=sealed; Path=/; Max-Age=600; HttpOnly; SameSite=Lax",
                      http_site("127.0.0.1", "/api/single-sign-on/login"), kNow),
            store_outcome::stored);
  EXPECT_EQ(jar.header(http_site("127.0.0.1", "/api/single-sign-on")), "oidc-login-abc=sealed");
  EXPECT_EQ(jar.header(http_site("127.0.0.1", "/")), "oidc-login-abc=sealed");
}

TEST(CookieJar, HostOnlyCookiesStayOnTheirHostWhateverThePort) {
  cookie_jar jar;
  jar.store("s=1; Path=/", http_site("127.0.0.1", "/"), kNow);
  // The site carries no port: 127.0.0.1:8080 and 127.0.0.1:9443 share cookies, as in browsers.
  EXPECT_EQ(jar.header(https_site("127.0.0.1", "/x")), "s=1");
  EXPECT_EQ(jar.header(http_site("localhost", "/")), "");
  EXPECT_EQ(jar.header(http_site("sub.127.0.0.1", "/")), "");
}

TEST(CookieJar, DomainAttributeCoversSubdomainsAndForeignDomainsAreRefused) {
  cookie_jar jar;
  EXPECT_EQ(
      jar.store("d=1; Domain=.Example.com; Path=/", http_site("login.example.com", "/"), kNow),
      store_outcome::stored);
  EXPECT_EQ(jar.header(http_site("example.com", "/")), "d=1");
  EXPECT_EQ(jar.header(http_site("app.example.com", "/")), "d=1");
  EXPECT_EQ(jar.header(http_site("badexample.com", "/")), "");
  EXPECT_EQ(jar.store("e=1; Domain=other.com", http_site("login.example.com", "/"), kNow),
            store_outcome::ignored);
  // An IP address only domain-matches itself.
  EXPECT_EQ(jar.store("f=1; Domain=0.0.1", http_site("127.0.0.1", "/"), kNow),
            store_outcome::ignored);
  EXPECT_EQ(jar.size(), 1u);
}

TEST(CookieJar, SecureCookiesAreOnlySentOverHttps) {
  cookie_jar jar;
  jar.store("__Host-oidc-session=jws; Path=/; Secure; HttpOnly", https_site("localhost", "/"),
            kNow);
  EXPECT_EQ(jar.header(http_site("localhost", "/")), "");
  EXPECT_EQ(jar.header(https_site("localhost", "/")), "__Host-oidc-session=jws");
}

TEST(CookieJar, MaxAgeZeroOrNegativeDeletes) {
  cookie_jar jar;
  jar.store("a=1; Path=/", http_site("h", "/"), kNow);
  jar.store("b=2; Path=/", http_site("h", "/"), kNow);
  EXPECT_EQ(jar.store("a=; Path=/; Max-Age=0", http_site("h", "/"), kNow), store_outcome::deleted);
  EXPECT_EQ(jar.store("b=; Path=/; Max-Age=-1", http_site("h", "/"), kNow), store_outcome::deleted);
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_EQ(jar.header(http_site("h", "/")), "");
}

TEST(CookieJar, PastExpiresDeletesAndFutureExpiresKeeps) {
  cookie_jar jar;
  jar.store("a=1; Path=/", http_site("h", "/"), kNow);
  EXPECT_EQ(
      jar.store("a=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", http_site("h", "/"), kNow),
      store_outcome::deleted);
  EXPECT_EQ(jar.find("a"), nullptr);
  EXPECT_EQ(
      jar.store("b=2; Path=/; Expires=Fri, 27 Nov 2026 12:00:00 GMT", http_site("h", "/"), kNow),
      store_outcome::stored);
  EXPECT_EQ(jar.header(http_site("h", "/")), "b=2");
}

TEST(CookieJar, MaxAgeWinsOverExpires) {
  cookie_jar jar;
  EXPECT_EQ(jar.store("a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60", http_site("h", "/"),
                      kNow),
            store_outcome::stored);
  EXPECT_EQ(
      jar.store("a=1; Max-Age=0; Expires=Fri, 27 Nov 2026 12:00:00 GMT", http_site("h", "/"), kNow),
      store_outcome::deleted);
}

TEST(CookieJar, DeletionOnlyRemovesTheCookieWithTheSamePath) {
  cookie_jar jar;
  jar.store("a=root; Path=/", http_site("h", "/"), kNow);
  jar.store("a=api; Path=/api", http_site("h", "/"), kNow);
  jar.store("a=; Path=/api; Max-Age=0", http_site("h", "/"), kNow);
  EXPECT_EQ(jar.header(http_site("h", "/api/x")), "a=root");
}

TEST(CookieJar, SameNameDomainAndPathReplaces) {
  cookie_jar jar;
  jar.store("a=1; Path=/", http_site("h", "/"), kNow);
  jar.store("a=2; Path=/", http_site("h", "/"), kNow);
  EXPECT_EQ(jar.size(), 1u);
  EXPECT_EQ(jar.header(http_site("h", "/")), "a=2");
}

TEST(CookieJar, DefaultPathIsTheRequestDirectory) {
  cookie_jar jar;
  jar.store("a=1", http_site("h", "/api/single-sign-on/login"), kNow);
  ASSERT_NE(jar.find("a"), nullptr);
  EXPECT_EQ(jar.find("a")->path, "/api/single-sign-on");
  EXPECT_EQ(jar.header(http_site("h", "/api/single-sign-on")), "a=1");
  EXPECT_EQ(jar.header(http_site("h", "/api/single-sign-on/x")), "a=1");
  EXPECT_EQ(jar.header(http_site("h", "/api/single-sign-onx")), "");
  EXPECT_EQ(jar.header(http_site("h", "/")), "");
  // A Path not starting with '/' means the default path too.
  jar.store("b=1; Path=relative", http_site("h", "/protected/index.html"), kNow);
  EXPECT_EQ(jar.find("b")->path, "/protected");
}

TEST(CookieJar, LongerPathsComeFirst) {
  cookie_jar jar;
  jar.store("root=1; Path=/", http_site("h", "/"), kNow);
  jar.store("deep=2; Path=/a/b", http_site("h", "/"), kNow);
  jar.store("mid=3; Path=/a", http_site("h", "/"), kNow);
  EXPECT_EQ(jar.header(http_site("h", "/a/b/c")), "deep=2; mid=3; root=1");
}

TEST(CookieJar, MalformedSetCookieIsIgnored) {
  cookie_jar jar;
  EXPECT_EQ(jar.store("no-equals-sign; Path=/", http_site("h", "/"), kNow), store_outcome::ignored);
  EXPECT_EQ(jar.store(" =value", http_site("h", "/"), kNow), store_outcome::ignored);
  EXPECT_EQ(jar.store("big=" + std::string(5000, 'x'), http_site("h", "/"), kNow),
            store_outcome::ignored);
  EXPECT_EQ(jar.size(), 0u);
  // Unknown attributes and a bad Max-Age are ignored, the cookie is kept.
  EXPECT_EQ(jar.store(" x = y ; Max-Age=soon; Priority=High", http_site("h", "/"), kNow),
            store_outcome::stored);
  EXPECT_EQ(jar.header(http_site("h", "/")), "x=y");
}

TEST(CookieJar, ClearEmptiesTheJar) {
  cookie_jar jar;
  jar.store("a=1", http_site("h", "/"), kNow);
  jar.clear();
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_EQ(jar.header(http_site("h", "/")), "");
}

TEST(CookieJar, HoldsABoundedNumberOfCookies) {
  cookie_jar jar;
  for (std::size_t i = 0; i < cookie_jar::max_cookies + 10; ++i)
    jar.store("c" + std::to_string(i) + "=1; Path=/", http_site("h", "/"), kNow);
  EXPECT_EQ(jar.size(), cookie_jar::max_cookies);
  EXPECT_EQ(jar.find("c0"), nullptr);  // the oldest went first
  EXPECT_NE(jar.find("c73"), nullptr);
}

TEST(CookieDate, ParsesTheUsualForms) {
  const auto expected = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21} + 7h + 28min;
  EXPECT_EQ(parse_cookie_date("Wed, 21 Oct 2015 07:28:00 GMT"), expected);
  EXPECT_EQ(parse_cookie_date("Wednesday, 21-Oct-15 07:28:00 GMT"), expected);  // RFC 850
  EXPECT_EQ(parse_cookie_date("Wed Oct 21 07:28:00 2015"), expected);           // asctime
  EXPECT_EQ(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            std::chrono::sys_seconds{std::chrono::seconds{0}});
}

TEST(CookieDate, RefusesInvalidDates) {
  EXPECT_FALSE(parse_cookie_date(""));
  EXPECT_FALSE(parse_cookie_date("tomorrow"));
  EXPECT_FALSE(parse_cookie_date("Wed, 31 Feb 2015 07:28:00 GMT"));
  EXPECT_FALSE(parse_cookie_date("Wed, 21 Oct 2015 25:28:00 GMT"));
  EXPECT_FALSE(parse_cookie_date("Wed, 21 Oct 1500 07:28:00 GMT"));
  EXPECT_FALSE(parse_cookie_date("Wed, 21 Oct 2015"));
}

TEST(CookiePath, MatchesPerRfc6265) {
  EXPECT_TRUE(cookie_path_matches("/", "/"));
  EXPECT_TRUE(cookie_path_matches("/a/b", "/a"));
  EXPECT_TRUE(cookie_path_matches("/a/b", "/a/"));
  EXPECT_FALSE(cookie_path_matches("/ab", "/a"));
  EXPECT_FALSE(cookie_path_matches("/", "/a"));
  EXPECT_EQ(default_cookie_path(""), "/");
  EXPECT_EQ(default_cookie_path("/login"), "/");
  EXPECT_EQ(default_cookie_path("/a/b/c"), "/a/b");
}

}  // namespace
}  // namespace oidc::loadtest
