// SPDX-License-Identifier: Apache-2.0
// The login flow without sockets: URL resolution, step classification and the verdict on every
// kind of broken chain.
#include "flow.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace oidc::loadtest {
namespace {

constexpr std::string_view kStart = "http://127.0.0.1:8080/api/single-sign-on/login";
constexpr std::string_view kAuthorize =
    "https://localhost:9443/tenant/oauth2/v2.0/authorize?client_id=c&state=s";
constexpr std::string_view kCallback = "http://127.0.0.1:8080/api/single-sign-on?code=c&state=s";

flow_settings settings() {
  flow_settings s;
  s.start = *parse_target(kStart);
  return s;
}

hop_response redirect(std::string_view location, bool stored_cookie = false) {
  hop_response r;
  r.status = 302;
  r.location = location;
  r.stored_cookie = stored_cookie;
  return r;
}

hop_response page(unsigned status, bool stored_cookie = false) {
  hop_response r;
  r.status = status;
  r.stored_cookie = stored_cookie;
  return r;
}

TEST(TargetUrl, SplitsAnAbsoluteUrl) {
  const auto t = parse_target("HTTPS://LocalHost:9443/a/b?x=1#frag");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->https);
  EXPECT_EQ(t->host, "localhost");
  EXPECT_EQ(t->port, 9443);
  EXPECT_EQ(t->path, "/a/b");
  EXPECT_EQ(t->href, "https://localhost:9443/a/b?x=1");  // the fragment never goes out
  const auto d = parse_target("http://127.0.0.1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->path, "/");
  EXPECT_EQ(d->href, "http://127.0.0.1/");
  const auto v6 = parse_target("http://[::1]:8080/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->href, "http://[::1]:8080/x");
}

TEST(TargetUrl, RefusesWhatABrowserWouldNotFetchHere) {
  EXPECT_FALSE(parse_target("ftp://example.com/"));
  EXPECT_FALSE(parse_target("/relative"));
  EXPECT_FALSE(parse_target("http://user:pw@example.com/"));
  EXPECT_FALSE(parse_target("http:///path"));
  EXPECT_FALSE(parse_target("http://example.com:99999/"));
  EXPECT_FALSE(parse_target("not a url"));
}

TEST(LocationResolution, ResolvesAbsoluteAndRelativeReferences) {
  const auto base = *parse_target("http://127.0.0.1:8080/api/single-sign-on?code=c");
  EXPECT_EQ(resolve_location(base, "/")->href, "http://127.0.0.1:8080/");
  EXPECT_EQ(resolve_location(base, "home?x=1")->href, "http://127.0.0.1:8080/api/home?x=1");
  EXPECT_EQ(resolve_location(base, "../up")->href, "http://127.0.0.1:8080/up");
  EXPECT_EQ(resolve_location(base, "//localhost:9443/t")->href, "http://localhost:9443/t");
  EXPECT_EQ(resolve_location(base, "https://idp.example/t/authorize?a=b")->href,
            "https://idp.example/t/authorize?a=b");
  EXPECT_EQ(resolve_location(base, " /trimmed ")->href, "http://127.0.0.1:8080/trimmed");
  EXPECT_FALSE(resolve_location(base, ""));
  EXPECT_FALSE(resolve_location(base, "javascript:alert(1)"));
  EXPECT_FALSE(resolve_location(base, "http://exa mple.com/"));
}

TEST(LoginFlow, AFullLoginFollowsEveryStep) {
  const auto s = settings();
  login_flow flow(s);
  EXPECT_EQ(flow.current_step(), step::start);
  EXPECT_EQ(flow.url().href, kStart);

  auto v = flow.on_response(redirect(kAuthorize, true));
  ASSERT_EQ(v.what, hop_verdict::kind::follow);
  EXPECT_EQ(flow.current_step(), step::authorize);
  EXPECT_EQ(flow.url().href, kAuthorize);

  v = flow.on_response(redirect(kCallback));
  ASSERT_EQ(v.what, hop_verdict::kind::follow);
  EXPECT_EQ(flow.current_step(), step::callback);

  v = flow.on_response(redirect("/", true));
  ASSERT_EQ(v.what, hop_verdict::kind::follow);
  EXPECT_EQ(flow.current_step(), step::home);
  EXPECT_EQ(flow.url().href, "http://127.0.0.1:8080/");

  v = flow.on_response(page(200));
  EXPECT_EQ(v.what, hop_verdict::kind::done);
  EXPECT_EQ(flow.hop(), 3u);
}

TEST(LoginFlow, ACallbackAnsweringThePageItselfCompletes) {
  const auto s = settings();
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  flow.on_response(redirect(kCallback));
  EXPECT_EQ(flow.on_response(page(200, true)).what, hop_verdict::kind::done);
}

TEST(LoginFlow, ARefusedCallbackFailsTheCallbackStepWithItsStatus) {
  const auto s = settings();
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  flow.on_response(redirect(kCallback));
  const auto v = flow.on_response(page(502));
  EXPECT_EQ(v.what, hop_verdict::kind::failed);
  EXPECT_EQ(v.at, step::callback);
  EXPECT_EQ(v.reason, "status_502");
}

TEST(LoginFlow, AnIdpPageInsteadOfARedirectFailsAuthorize) {
  const auto s = settings();
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  const auto v = flow.on_response(page(200));
  EXPECT_EQ(v.at, step::authorize);
  EXPECT_EQ(v.reason, "status_200");
}

TEST(LoginFlow, AStartWithoutLoginCookieFailsWithMissingCookie) {
  const auto s = settings();
  login_flow flow(s);
  const auto v = flow.on_response(redirect(kAuthorize, false));
  EXPECT_EQ(v.what, hop_verdict::kind::failed);
  EXPECT_EQ(v.at, step::start);
  EXPECT_EQ(v.reason, "missing_cookie");
}

TEST(LoginFlow, ACallbackWithoutSessionCookieFailsWithMissingCookie) {
  const auto s = settings();
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  flow.on_response(redirect(kCallback));
  const auto v = flow.on_response(redirect("/", false));
  EXPECT_EQ(v.at, step::callback);
  EXPECT_EQ(v.reason, "missing_cookie");
}

TEST(LoginFlow, AWrongCallbackPathFailsTheCallbackStep) {
  auto s = settings();
  s.callback_path = "/oauth2/callback";
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  const auto v = flow.on_response(redirect(kCallback));
  EXPECT_EQ(v.what, hop_verdict::kind::failed);
  EXPECT_EQ(v.at, step::callback);
  EXPECT_EQ(v.reason, "missing_callback");
}

TEST(LoginFlow, AChainEndingWithoutTheIdpFailsStart) {
  const auto s = settings();
  login_flow flow(s);
  const auto v = flow.on_response(page(200));
  EXPECT_EQ(v.at, step::start);
  EXPECT_EQ(v.reason, "no_redirect");
}

TEST(LoginFlow, KeptCookiesMayBeAnsweredAtOnce) {
  auto s = settings();
  s.require_login = false;
  login_flow flow(s);
  EXPECT_EQ(flow.on_response(page(200)).what, hop_verdict::kind::done);
}

TEST(LoginFlow, TheFinalStatusMustBeTheExpectedOne) {
  auto s = settings();
  s.expect_final_status = 204;
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  flow.on_response(redirect(kCallback));
  flow.on_response(redirect("/", true));
  const auto v = flow.on_response(page(200));
  EXPECT_EQ(v.at, step::home);
  EXPECT_EQ(v.reason, "status_200");
}

TEST(LoginFlow, ARedirectWithoutUsableLocationIsABadRedirect) {
  const auto s = settings();
  login_flow flow(s);
  hop_response r;
  r.status = 302;
  auto v = flow.on_response(r);
  EXPECT_EQ(v.at, step::start);
  EXPECT_EQ(v.reason, "bad_redirect");
  login_flow other(s);
  v = other.on_response(redirect("mailto:x@example.com", true));
  EXPECT_EQ(v.reason, "bad_redirect");
}

TEST(LoginFlow, ARedirectLoopStopsAtMaxHops) {
  auto s = settings();
  s.max_hops = 3;
  login_flow flow(s);
  flow.on_response(redirect(kAuthorize, true));
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(flow.on_response(redirect(kAuthorize)).what, hop_verdict::kind::follow);
  const auto v = flow.on_response(redirect(kAuthorize));
  EXPECT_EQ(v.what, hop_verdict::kind::failed);
  EXPECT_EQ(v.at, step::authorize);
  EXPECT_EQ(v.reason, "too_many_hops");
}

TEST(LoginFlow, AHopOnTheStartOriginBeforeTheIdpIsHome) {
  auto s = settings();
  s.start = *parse_target("http://127.0.0.1:8080/protected");
  s.callback_path = "/protected/redirect_uri";
  login_flow flow(s);
  ASSERT_EQ(flow.on_response(redirect("/protected/")).what, hop_verdict::kind::follow);
  EXPECT_EQ(flow.current_step(), step::home);
  ASSERT_EQ(flow.on_response(redirect(kAuthorize, true)).what, hop_verdict::kind::follow);
  ASSERT_EQ(flow.on_response(redirect("http://127.0.0.1:8080/protected/redirect_uri?code=c")).what,
            hop_verdict::kind::follow);
  EXPECT_EQ(flow.current_step(), step::callback);
}

TEST(LoginFlow, AnotherPortOfTheSameHostIsAnotherOrigin) {
  const auto s = settings();
  login_flow flow(s);
  flow.on_response(redirect("http://127.0.0.1:9090/api/single-sign-on", true));
  EXPECT_EQ(flow.current_step(), step::authorize);
}

TEST(StepNames, AreTheReportKeys) {
  std::vector<std::string> names;
  for (step s : all_steps)
    names.emplace_back(step_name(s));
  EXPECT_EQ(names, (std::vector<std::string>{"start", "authorize", "callback", "home", "session"}));
}

TEST(SessionBody, MustBeAJsonObject) {
  EXPECT_TRUE(is_json_object(R"({"sub":"x","org":"demo"})"));
  EXPECT_FALSE(is_json_object("[1,2]"));
  EXPECT_FALSE(is_json_object("<html>"));
  EXPECT_FALSE(is_json_object(""));
}

}  // namespace
}  // namespace oidc::loadtest
