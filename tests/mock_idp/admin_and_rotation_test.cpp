// SPDX-License-Identifier: Apache-2.0
// The mock IdP's admin API (tokens, key rotation, faults), its loopback-only rule, and the key
// rotation timeline driven by the injected clock.
#include <algorithm>
#include <chrono>

#include <gtest/gtest.h>
#include <boost/json/array.hpp>

#include "mock_idp/mock_idp_fixture.hpp"
#include "oidc/claims.hpp"
#include "oidc/jws.hpp"

namespace oidc::mock::test {
namespace {

using namespace std::chrono_literals;

std::string kid_of(std::string_view token) {
  auto parts = split_compact(token, 16 * 1024).value();
  auto header = parse_json_object(base64url_decode(parts.header_b64).value(), kJoseJsonLimits);
  return std::string(*find_string(header.value(), "kid"));
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_F(MockIdpTest, AdminTokensAreAccessTokensOfTheCurrentKeyWithScp) {
  auto res = post_json("/admin/tokens",
                       R"({"count": 3, "audience": "api://verify-load", "ttl_seconds": 600})");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  auto body = parse_json_object(res.body(), kJwksJsonLimits).value();
  const auto& tokens = body.at("tokens").as_array();
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_NE(tokens[0].as_string(), tokens[1].as_string());
  const auto keys = published_keys();
  access_token_expectations want;
  want.issuers = {std::string(kBase) + "/" + std::string(kTenant) + "/v2.0"};
  want.audiences = {"api://verify-load"};
  want.tenant_id = std::string(kTenant);
  want.allowed_algs = {jws_alg::RS256};
  for (const auto& t : tokens) {
    auto claims = verify_access_token(t.as_string(), *keys, want, now());
    ASSERT_TRUE(claims.has_value()) << label(claims.error());
    EXPECT_EQ(claims->scopes, std::vector<std::string>{"access_as_user"});
    EXPECT_EQ(claims->exp, now() + 600s);
    EXPECT_EQ(kid_of(t.as_string()), idp_.keys().signer(now())->kid);
  }
  advance(600s);
  EXPECT_EQ(verify_access_token(tokens[0].as_string(), *keys, want, now() + 60s).error(),
            auth_error::token_expired);
}

TEST_F(MockIdpTest, AdminTokensRefuseBadRequests) {
  EXPECT_EQ(post_json("/admin/tokens", R"({"count": 3})").result_int(), 400u);
  EXPECT_EQ(post_json("/admin/tokens", R"({"count": 0, "audience": "a"})").result_int(), 400u);
  EXPECT_EQ(post_json("/admin/tokens", R"({"count": 10001, "audience": "a"})").result_int(), 400u);
  EXPECT_EQ(post_json("/admin/tokens", "not json").result_int(), 400u);
}

TEST_F(MockIdpTest, AdminApiRefusesANonLoopbackPeer) {
  auto remote = loopback();
  remote.peer = boost::asio::ip::make_address("192.0.2.10");
  for (const char* path : {"/admin/tokens", "/admin/rotate-keys", "/admin/faults"}) {
    auto res = post_json(path, R"({"count": 1, "audience": "a", "error_rate": 1})", remote);
    EXPECT_EQ(res.result_int(), 403u) << path;
  }
  EXPECT_EQ(idp_.faults().error_rate, 0.0);
  EXPECT_EQ(idp_.keys().published_kids(now()).size(), 1u);
}

TEST_F(MockIdpTest, AdminApiAcceptsIpv6AndV4MappedLoopback) {
  auto v6 = loopback();
  v6.peer = boost::asio::ip::make_address("::1");
  EXPECT_EQ(post_json("/admin/tokens", R"({"audience": "a"})", v6).result_int(), 200u);
  v6.peer = boost::asio::ip::make_address("::ffff:127.0.0.1");
  EXPECT_EQ(post_json("/admin/tokens", R"({"audience": "a"})", v6).result_int(), 200u);
}

TEST_F(MockIdpTest, RotationPublishesTheNewKeyBeforeItSigns) {
  const std::string old_kid = idp_.keys().signer(now())->kid;
  auto res = post_json("/admin/rotate-keys", "");
  ASSERT_EQ(res.result_int(), 200u);
  auto body = parse_json_object(res.body(), kJoseJsonLimits).value();
  const std::string new_kid(*find_string(body, "new_kid"));
  EXPECT_NE(new_kid, old_kid);
  EXPECT_EQ(*find_string(body, "replaced_kid"), old_kid);
  EXPECT_EQ(find_int64(body, "signs_from"), (now() + 600s).time_since_epoch().count());

  // Published at once, but the old key keeps signing for the whole overlap.
  auto kids = idp_.keys().published_kids(now());
  EXPECT_TRUE(contains(kids, new_kid));
  EXPECT_TRUE(contains(kids, old_kid));
  EXPECT_EQ(published_keys()->size(), 2u);
  advance(599s);
  EXPECT_EQ(idp_.keys().signer(now())->kid, old_kid);
  auto last_old = post_json("/admin/tokens", R"({"audience": "a", "ttl_seconds": 3600})");
  const std::string old_token(parse_json_object(last_old.body(), kJwksJsonLimits)
                                  .value()
                                  .at("tokens")
                                  .as_array()[0]
                                  .as_string());
  EXPECT_EQ(kid_of(old_token), old_kid);

  advance(1s);
  EXPECT_EQ(idp_.keys().signer(now())->kid, new_kid);

  // The old key stays published while the tokens it signed live (retire overlap 3900 s).
  advance(3600s);
  EXPECT_TRUE(contains(idp_.keys().published_kids(now()), old_kid));
  access_token_expectations want;
  want.issuers = {std::string(kBase) + "/" + std::string(kTenant) + "/v2.0"};
  want.audiences = {"a"};
  want.allowed_algs = {jws_alg::RS256};
  EXPECT_TRUE(verify_access_token(old_token, *published_keys(), want, now() - 1s).has_value());
  advance(300s);
  EXPECT_FALSE(contains(idp_.keys().published_kids(now()), old_kid));
  EXPECT_EQ(published_keys()->size(), 1u);
}

TEST_F(MockIdpTest, JwksMaxAgeIsShorterThanTheSigningOverlap) {
  auto res = get(tenant_path(kTenant, "/discovery/v2.0/keys"));
  const std::string_view cc = res[http::field::cache_control];
  ASSERT_TRUE(cc.starts_with("max-age=")) << cc;
  const int max_age = std::stoi(std::string(cc.substr(8)));
  EXPECT_GT(max_age, 0);
  EXPECT_LT(std::chrono::seconds(max_age), idp_.config().keys.signing_overlap);
}

TEST_F(MockIdpTest, ErrorRateOneAnswersTransientErrors) {
  auto set = post_json("/admin/faults", R"({"error_rate": 1})");
  ASSERT_EQ(set.result_int(), 200u);
  EXPECT_EQ(idp_.faults().error_rate, 1.0);
  for (int i = 0; i < 5; ++i) {
    auto res = get(tenant_path(kTenant, "/discovery/v2.0/keys"));
    token_reply r{res.result_int(), parse_json_object(res.body(), kJoseJsonLimits).value()};
    expect_entra_error(r, 503, "temporarily_unavailable", 90033);
  }
  // The admin API is never subject to faults; 0 turns the fault off.
  ASSERT_EQ(post_json("/admin/faults", R"({"error_rate": 0})").result_int(), 200u);
  EXPECT_EQ(get(tenant_path(kTenant, "/discovery/v2.0/keys")).result_int(), 200u);
}

TEST_F(MockIdpTest, HealthzAnswersEvenWhenEveryIdpRequestFails) {
  EXPECT_EQ(get("/healthz").result_int(), 200u);
  ASSERT_EQ(post_json("/admin/faults", R"({"error_rate": 1, "drop_rate": 1})").result_int(), 200u);
  const auto res = get("/healthz");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(get("/nothing-here").result_int(), 404u);
}

TEST_F(MockIdpTest, DropRateOneDropsEveryIdpRequest) {
  ASSERT_EQ(post_json("/admin/faults", R"({"drop_rate": 1})").result_int(), 200u);
  EXPECT_THROW(get(tenant_path(kTenant, "/discovery/v2.0/keys")), drop_connection);
  ASSERT_EQ(post_json("/admin/faults", R"({"drop_rate": 0})").result_int(), 200u);
  EXPECT_EQ(get(tenant_path(kTenant, "/discovery/v2.0/keys")).result_int(), 200u);
}

TEST_F(MockIdpTest, LatencyDelaysIdpResponses) {
  ASSERT_EQ(post_json("/admin/faults", R"({"latency_ms": 50})").result_int(), 200u);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(get(tenant_path(kTenant, "/discovery/v2.0/keys")).result_int(), 200u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
}

TEST_F(MockIdpTest, FaultSettingsAreValidated) {
  EXPECT_EQ(post_json("/admin/faults", R"({"error_rate": 1.5})").result_int(), 400u);
  EXPECT_EQ(post_json("/admin/faults", R"({"latency_ms": -1})").result_int(), 400u);
  EXPECT_EQ(idp_.faults().error_rate, 0.0);
}

}  // namespace
}  // namespace oidc::mock::test
