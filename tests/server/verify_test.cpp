// SPDX-License-Identifier: Apache-2.0
// Component tests of /api/verify and the JWKS cache behind it: the real app against the mock
// Entra tenant over TLS on loopback, access tokens minted by the mock's admin API, the app's
// and the mock's clocks moved by the test.
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "login_harness.hpp"
#include "oidc/base64url.hpp"

namespace oidc::server {
namespace {

using namespace harness;
namespace json = boost::json;

class VerifyTest : public ::testing::Test, protected login_harness {
 protected:
  void start(std::string jwks = R"({"min_refresh_interval": "1s", "max_age_min": "1s",
                                     "max_age_max": "10s", "default_max_age": "10s",
                                     "stale_if_error": "60s"})",
             std::chrono::seconds signing_overlap = std::chrono::seconds(600),
             std::chrono::seconds jwks_max_age = std::chrono::seconds(30)) {
    harness_options o;
    o.organisations = [](const mock::identity_provider&, const std::string& base) {
      return acme_organisation(
          base, R"(, "access_tokens": {"audiences": [")" + std::string(kClient) + R"("]})");
    };
    o.config_extra = R"(, "jwks": )" + jwks;
    o.configure_idp = [signing_overlap, jwks_max_age](mock::mock_idp_config& mc) {
      mc.keys.signing_overlap = signing_overlap;
      mc.keys.jwks_max_age = jwks_max_age;
      mc.keys.retire_overlap = std::chrono::hours(2);
    };
    start_harness(std::move(o));
  }
  void TearDown() override { stop_harness(); }

  std::string jwks_path() const { return "/discovery/v2.0/keys"; }

  // Access tokens from the mock's admin API (RS256, current signing key).
  std::vector<std::string> mint(int count, std::string_view audience = kClient, int ttl = 3600,
                                std::optional<std::string> scp = std::nullopt) {
    json::object body{{"count", count}, {"audience", audience}, {"ttl_seconds", ttl}};
    if (scp) body["scp"] = *scp;
    net::client_request r;
    r.method = http::verb::post;
    r.url = base_ + "/admin/tokens";
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = json::serialize(body);
    auto f = asio::co_spawn(io_, client_->send(std::move(r)), asio::use_future);
    if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("mint timed out");
    auto res = f.get().value();
    EXPECT_EQ(res.status, 200u) << res.body;
    std::vector<std::string> out;
    const json::value doc = json::parse(res.body);
    for (const auto& t : doc.as_object().at("tokens").as_array())
      out.emplace_back(t.as_string());
    return out;
  }

  static net::request verify_request(std::string_view token) {
    net::request req{http::verb::get, "/api/verify", 11};
    req.set(http::field::host, "oidc-verify.internal");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
    return req;
  }

  handled_request verify(std::string_view token) { return send(verify_request(token)); }

  // Runs `n` verifications concurrently on the app and returns their results.
  std::vector<handled_request> verify_all(const std::vector<std::string>& tokens) {
    std::vector<std::future<handled_request>> futures;
    for (const auto& t : tokens) {
      net::connection_info conn;
      conn.peer = asio::ip::make_address("127.0.0.1");
      futures.push_back(
          asio::co_spawn(io_, app_->handle(verify_request(t), conn), asio::use_future));
    }
    std::vector<handled_request> out;
    for (auto& f : futures) {
      if (f.wait_for(30s) != std::future_status::ready) throw std::runtime_error("verify hung");
      out.push_back(f.get());
    }
    return out;
  }

  static json::object part(std::string_view token, int index) {
    std::string_view rest = token;
    for (int i = 0; i < index; ++i)
      rest = rest.substr(rest.find('.') + 1);
    return json::parse(base64url_decode(rest.substr(0, rest.find('.'))).value()).as_object();
  }

  // The token with its header and payload replaced (signature kept, so now wrong).
  static std::string reassembled(const json::object& header, const json::object& payload,
                                 std::string_view signature) {
    return base64url_encode(json::serialize(header)) + "." +
           base64url_encode(json::serialize(payload)) + "." + std::string(signature);
  }

  static std::string_view signature_of(std::string_view token) {
    return token.substr(token.rfind('.') + 1);
  }

  static void expect_refused(const handled_request& h, auth_error reason) {
    EXPECT_EQ(h.response.result_int(), 401u) << h.response.body();
    EXPECT_EQ(h.reason, reason) << label(h.reason);
    EXPECT_EQ(
        h.response[http::field::www_authenticate],
        R"(Bearer error="invalid_token", error_description=")" + std::string(label(reason)) + "\"");
    for (const char* name : {"X-Auth-Subject", "X-Auth-Org", "X-Auth-Tenant", "X-Auth-Email",
                             "X-Auth-Name", "X-Auth-Scopes"})
      EXPECT_EQ(h.response.find(name), h.response.end()) << name;
  }
};

TEST_F(VerifyTest, AccessTokenOfTheOrganisationIsAcceptedWithIdentityHeaders) {
  start();
  const auto token = mint(1).front();
  auto h = verify(token);
  ASSERT_EQ(h.response.result_int(), 200u) << h.response.body();
  EXPECT_EQ(h.route, metrics::route::verify);
  EXPECT_EQ(h.response["X-Auth-Subject"], kAdaOid);
  EXPECT_EQ(h.response["X-Auth-Org"], "acme");
  EXPECT_EQ(h.response["X-Auth-Tenant"], kTenant);
  EXPECT_EQ(h.response["X-Auth-Email"], "ada@acme.example");
  EXPECT_EQ(h.response["X-Auth-Name"], "Ada Lovelace");
  EXPECT_EQ(h.response["X-Auth-Scopes"], "access_as_user");
  EXPECT_EQ(h.response[http::field::cache_control], "no-store");
  // The body carries the same identity, member for member (rendered by hand, so checked whole).
  const auto body = json::parse(h.response.body()).as_object();
  EXPECT_EQ(body.size(), 8u) << h.response.body();
  EXPECT_EQ(body.at("sub").as_string(), kAdaOid);
  EXPECT_EQ(body.at("org").as_string(), "acme");
  EXPECT_EQ(body.at("tid").as_string(), kTenant);
  EXPECT_EQ(body.at("email").as_string(), "ada@acme.example");
  EXPECT_EQ(body.at("name").as_string(), "Ada Lovelace");
  EXPECT_EQ(body.at("scopes").as_string(), "access_as_user");
  EXPECT_EQ(body.at("kind").as_string(), "access_token");
  EXPECT_EQ(body.at("exp").as_int64(), part(token, 1).at("exp").as_int64());
}

TEST_F(VerifyTest, AnyMethodAndSubPathIsVerifiedForEnvoy) {
  start();
  const auto token = mint(1).front();
  net::request req{http::verb::delete_, "/api/verify/orders/7?x=1", 11};
  req.set(http::field::authorization, "Bearer " + token);
  auto h = send(std::move(req));
  EXPECT_EQ(h.response.result_int(), 200u) << h.response.body();
  EXPECT_EQ(h.route, metrics::route::verify);
}

TEST_F(VerifyTest, SessionCookieAndSessionBearerAreAcceptedUntilLogout) {
  start();
  const auto session = sign_in();
  ASSERT_FALSE(session.empty());
  net::request by_cookie{http::verb::get, "/api/verify", 11};
  by_cookie.set(http::field::cookie, session);
  auto h = send(by_cookie);
  ASSERT_EQ(h.response.result_int(), 200u) << h.response.body();
  EXPECT_EQ(json::parse(h.response.body()).as_object().at("kind").as_string(), "session");
  EXPECT_EQ(h.response["X-Auth-Org"], "acme");
  EXPECT_EQ(h.response["X-Auth-Email"], "ada@acme.example");
  const std::string token = session.substr(session.find('=') + 1);
  EXPECT_EQ(verify(token).response.result_int(), 200u);

  ASSERT_EQ(post_logout(session, "same-origin", {}).response.result_int(), 302u);
  // Cached as verified, yet refused: revocation is checked on every request.
  expect_refused(send(by_cookie), auth_error::session_revoked);
  expect_refused(verify(token), auth_error::session_revoked);
}

TEST_F(VerifyTest, NoCredentialsIsABareBearerChallenge) {
  start();
  auto h = verify({});
  EXPECT_EQ(h.response.result_int(), 401u);
  EXPECT_EQ(h.reason, auth_error::credentials_missing);
  EXPECT_EQ(h.response[http::field::www_authenticate], "Bearer");
}

TEST_F(VerifyTest, MalformedAuthorizationIsInvalidRequestNot400) {
  start();
  for (const std::string value :
       {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer a b", "Bearer tok\"en"}) {
    net::request req{http::verb::get, "/api/verify", 11};
    req.set(http::field::authorization, value);
    auto h = send(std::move(req));
    EXPECT_EQ(h.response.result_int(), 401u) << value;
    EXPECT_EQ(h.reason, auth_error::request_invalid) << value;
    EXPECT_EQ(h.response[http::field::www_authenticate],
              R"(Bearer error="invalid_request", error_description="request_invalid")");
  }
  net::request twice{http::verb::get, "/api/verify", 11};
  twice.insert(http::field::authorization, "Bearer a");
  twice.insert(http::field::authorization, "Bearer b");
  EXPECT_EQ(send(std::move(twice)).reason, auth_error::request_invalid);
}

TEST_F(VerifyTest, TokenWithoutScopesOrRolesIsNotAnAccessToken) {
  start();
  expect_refused(verify(mint(1, kClient, 3600, std::string()).front()),
                 auth_error::not_an_access_token);
}

TEST_F(VerifyTest, TokenForAnotherAudienceIsRefused) {
  start();
  expect_refused(verify(mint(1, "api://someone-else").front()), auth_error::audience_mismatch);
}

TEST_F(VerifyTest, AttackTokensAreRefusedWithTheirReason) {
  start();
  const auto good = mint(1).front();
  ASSERT_EQ(verify(good).response.result_int(), 200u);
  const auto header = part(good, 0);
  const auto payload = part(good, 1);
  const auto sig = signature_of(good);

  auto with_header = [&](std::initializer_list<std::pair<std::string_view, json::value>> set) {
    auto h = header;
    for (const auto& [k, v] : set)
      h[k] = v;
    return reassembled(h, payload, sig);
  };
  auto with_claim = [&](std::string_view k, json::value v) {
    auto p = payload;
    p[k] = std::move(v);
    return reassembled(header, p, sig);
  };
  // alg none with the signature dropped.
  auto none = header;
  none["alg"] = "none";
  expect_refused(verify(base64url_encode(json::serialize(none)) + "." +
                        base64url_encode(json::serialize(payload)) + "."),
                 auth_error::malformed_token);
  expect_refused(verify(with_header({{"alg", "none"}})), auth_error::alg_not_allowed);
  expect_refused(verify(with_header({{"alg", "HS256"}})), auth_error::alg_not_allowed);
  expect_refused(verify(with_header({{"jku", "https://evil.example/keys"}})),
                 auth_error::header_forbidden);
  expect_refused(verify(with_header({{"crit", json::array{"exp"}}})), auth_error::crit_unsupported);
  expect_refused(verify(with_claim("scp", "admin")), auth_error::signature_invalid);
  expect_refused(verify(with_claim("iss", "https://evil.example/v2.0")),
                 auth_error::issuer_mismatch);
  // A character well inside the signature (the last one also carries padding bits).
  std::string flipped = good;
  char& c = flipped[flipped.size() - 10];
  c = c == 'A' ? 'B' : 'A';
  expect_refused(verify(flipped), auth_error::signature_invalid);
  expect_refused(verify("not.a-jwt"), auth_error::malformed_token);
  expect_refused(verify(std::string(20'000, 'a') + ".b.c"), auth_error::token_too_large);
}

TEST_F(VerifyTest, CachedResultsExpireAtTheTokensExp) {
  start();
  const auto token = mint(1, kClient, 60).front();
  ASSERT_EQ(verify(token).response.result_int(), 200u);
  ASSERT_EQ(verify(token).response.result_int(), 200u);
  EXPECT_EQ(app_->verified_tokens().snapshot().hits, 1u);
  // The default clock skew is 60 s: at exp + 60 s the token is expired, cache or not.
  clock_offset_s_.store(121);
  expect_refused(verify(token), auth_error::token_expired);
}

TEST_F(VerifyTest, ConcurrentRequestsWithAnUnknownKidCauseExactlyOneJwksFetch) {
  // A new key signs at once (no overlap): tokens arrive with a kid the cache has never seen.
  start(R"({"min_refresh_interval": "1s", "max_age_min": "1s", "max_age_max": "10s",
            "default_max_age": "10s", "stale_if_error": "60s"})",
        std::chrono::seconds(0));
  const auto first = mint(1).front();
  ASSERT_EQ(verify(first).response.result_int(), 200u);
  const auto fetches_before = idp_requests(jwks_path());
  ASSERT_EQ(fetches_before, 1u);
  idp_->rotate_keys();
  std::vector<std::string> tokens;
  for (int batch = 0; batch < 5; ++batch) {
    auto some = mint(200);
    tokens.insert(tokens.end(), some.begin(), some.end());
  }
  ASSERT_NE(part(tokens.front(), 0).at("kid"), part(first, 0).at("kid"));
  const auto results = verify_all(tokens);
  std::size_t ok = 0;
  for (const auto& r : results)
    ok += r.response.result_int() == 200u ? 1 : 0;
  EXPECT_EQ(ok, 1000u);
  EXPECT_EQ(idp_requests(jwks_path()), fetches_before + 1);
}

TEST_F(VerifyTest, RandomKidFloodIsBoundedToOneFetchPerInterval) {
  start(R"({"min_refresh_interval": "30s", "max_age_min": "1m", "max_age_max": "10m",
            "default_max_age": "10m", "stale_if_error": "1h"})");
  const auto good = mint(1).front();
  ASSERT_EQ(verify(good).response.result_int(), 200u);
  ASSERT_EQ(idp_requests(jwks_path()), 1u);
  auto header = part(good, 0);
  for (int i = 0; i < 50; ++i) {
    header["kid"] = "attacker-" + std::to_string(i);
    expect_refused(verify(reassembled(header, part(good, 1), signature_of(good))),
                   auth_error::kid_unknown);
  }
  EXPECT_EQ(idp_requests(jwks_path()), 2u);  // the first unknown kid's refresh only
  clock_offset_s_.store(31);
  for (int i = 50; i < 60; ++i) {
    header["kid"] = "attacker-" + std::to_string(i);
    expect_refused(verify(reassembled(header, part(good, 1), signature_of(good))),
                   auth_error::kid_unknown);
  }
  EXPECT_EQ(idp_requests(jwks_path()), 3u);
}

TEST_F(VerifyTest, IdpDownServesStaleKeysThenFailsClosedThenRecovers) {
  start();
  const auto tokens = mint(4);
  ASSERT_EQ(verify(tokens[0]).response.result_int(), 200u);
  mock::fault_settings down;
  down.drop_rate = 1.0;
  idp_->set_faults(down);
  // Past max-age (10 s): the last good keys still verify.
  clock_offset_s_.store(11);
  EXPECT_EQ(verify(tokens[1]).response.result_int(), 200u);
  // Past max-age + stale_if_error (60 s): closed, with its reason.
  clock_offset_s_.store(75);
  expect_refused(verify(tokens[2]), auth_error::jwks_stale);
  // The IdP answers again: once the failure backoff has passed, keys load and tokens verify.
  idp_->set_faults({});
  clock_offset_s_.store(75 + 600);
  auto h = verify(tokens[3]);
  EXPECT_EQ(h.response.result_int(), 200u) << h.response.body();
}

TEST_F(VerifyTest, CacheControlMaxAgeIsHonouredWithinTheBounds) {
  // The mock says max-age=30; bounds [1 s, 10 s] clamp it to 10 s.
  start();
  ASSERT_EQ(verify(mint(1).front()).response.result_int(), 200u);
  auto stats = app_->jwks().cache().stats();
  ASSERT_EQ(stats.sets.size(), 1u);
  ASSERT_TRUE(stats.sets[0].expires_at && stats.sets[0].last_success);
  EXPECT_EQ(*stats.sets[0].expires_at - *stats.sets[0].last_success, std::chrono::seconds(10));
}

TEST_F(VerifyTest, CacheControlMaxAgeInsideTheBoundsIsTakenAsIs) {
  start(R"({"min_refresh_interval": "1s", "max_age_min": "1s", "max_age_max": "1h",
            "default_max_age": "1h", "stale_if_error": "60s"})");
  ASSERT_EQ(verify(mint(1).front()).response.result_int(), 200u);
  auto stats = app_->jwks().cache().stats();
  ASSERT_EQ(stats.sets.size(), 1u);
  EXPECT_EQ(*stats.sets[0].expires_at - *stats.sets[0].last_success, std::chrono::seconds(30));
}

TEST_F(VerifyTest, KeyRotationAsEntraDoesItCostsNoFailedVerification) {
  // Entra's timeline, compressed: JWKS max-age 1 h, a new key published 2 h before it signs.
  start(R"({"min_refresh_interval": "1s", "max_age_min": "1s", "max_age_max": "24h",
            "default_max_age": "24h", "stale_if_error": "24h"})",
        std::chrono::seconds(7200), std::chrono::seconds(3600));
  const auto before = mint(20, kClient, 86400);
  for (const auto& t : before)
    ASSERT_EQ(verify(t).response.result_int(), 200u);
  idp_->rotate_keys();
  // The background refresh runs once the key set is due (max-age 1 h, refreshed ahead).
  clock_offset_s_.store(3600);
  {
    auto f = asio::co_spawn(io_, app_->refresh_keys(), asio::use_future);
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  }
  const auto fetches = idp_requests(jwks_path());
  ASSERT_EQ(fetches, 2u);
  // The new key signs; both clocks have moved on (within the 60 s skew of each other).
  idp_clock_offset_s_.store(7201);
  clock_offset_s_.store(7190);
  const auto after = mint(20, kClient, 86400);
  EXPECT_NE(part(after.front(), 0).at("kid"), part(before.front(), 0).at("kid"));
  std::vector<std::string> mixed = before;
  mixed.insert(mixed.end(), after.begin(), after.end());
  for (const auto& r : verify_all(mixed))
    EXPECT_EQ(r.response.result_int(), 200u) << r.response.body();
  // The new kid was known before it signed: no lookup missed it, no refresh was forced.
  const auto stats = app_->jwks().cache().stats();
  EXPECT_EQ(stats.lookups[static_cast<std::size_t>(lookup_outcome::kid_unknown)], 0u);
  EXPECT_EQ(idp_requests(jwks_path()), fetches);
}

TEST_F(VerifyTest, CachedResultOfAKeyThatLeftTheSetIsDropped) {
  start(R"({"min_refresh_interval": "1s", "max_age_min": "1s", "max_age_max": "10s",
            "default_max_age": "10s", "stale_if_error": "60s"})",
        std::chrono::seconds(0));
  const auto token = mint(1).front();
  ASSERT_EQ(verify(token).response.result_int(), 200u);
  // Two rotations retire the first key once its retire overlap (2 h here) has passed.
  idp_->rotate_keys();
  idp_clock_offset_s_.store(3 * 3600);
  idp_->rotate_keys();
  idp_clock_offset_s_.store(6 * 3600);
  clock_offset_s_.store(11);
  {
    auto f = asio::co_spawn(io_, app_->refresh_keys(), asio::use_future);
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  }
  const auto kid = std::string(part(token, 0).at("kid").as_string());
  {
    const auto guard = app_->jwks().cache().pin();
    const auto ids = app_->jwks().cache().ids();
    ASSERT_EQ(ids.size(), 1u);
    const auto* snap = app_->jwks().cache().snapshot(guard, ids.front());
    ASSERT_NE(snap, nullptr);
    ASSERT_FALSE(snap->keys->contains_kid(kid)) << "the first key should be retired";
  }
  expect_refused(verify(token), auth_error::kid_unknown);
}

}  // namespace
}  // namespace oidc::server

namespace oidc::server {
namespace {

constexpr std::string_view kDeadTenant = "0d0d0d0d-dead-4ead-8ead-0d0d0d0d0d0d";

class KeyPreloadTest : public ::testing::Test, protected login_harness {
 protected:
  void SetUp() override {
    harness_options o;
    o.tenants = {acme_tenant(kTenant, {"https://acme.example.com/api/single-sign-on"}),
                 acme_tenant(kOtherTenant, {"https://beta.example.com/api/single-sign-on"})};
    o.organisations = [](const mock::identity_provider&, const std::string& base) {
      auto org = [&base](std::string_view name, std::string_view tenant) {
        return R"({"name": ")" + std::string(name) + R"(", "tenant_id": ")" + std::string(tenant) +
               R"(", "client_id": ")" + std::string(kClient) + R"(", "authority": ")" + base +
               R"(", "redirect_uri": "https://)" + std::string(name) +
               R"(.example.com/api/single-sign-on"})";
      };
      // A tenant the IdP does not know: its discovery fails for as long as the test runs.
      return org("acme", kTenant) + ", " + org("beta", kOtherTenant) + ", " +
             org("dead", kDeadTenant);
    };
    o.config_extra = R"(, "jwks": {"min_refresh_interval": "1m", "max_age_min": "1m",
                                    "max_age_max": "1h", "default_max_age": "1h",
                                    "preload_concurrency": 2})";
    start_harness(std::move(o));
  }
  void TearDown() override { stop_harness(); }

  void refresh() {
    auto f = asio::co_spawn(io_, app_->refresh_keys(), asio::use_future);
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    f.get();
  }
};

TEST_F(KeyPreloadTest, PreloadLoadsEveryLiveTenantsKeysAndOneDeadTenantBlocksNothing) {
  EXPECT_TRUE(app_->jwks().cache().ids().empty());
  // Ready before any key set is loaded: keys load in the background.
  EXPECT_EQ(call("/readyz").response.result_int(), 200u);
  refresh();
  const auto stats = app_->jwks().cache().stats();
  ASSERT_EQ(stats.sets.size(), 2u);
  for (const auto& set : stats.sets) {
    EXPECT_GT(set.key_count, 0u) << set.id;
    EXPECT_TRUE(set.last_success.has_value()) << set.id;
  }
  const auto dead_discovery = idp_requests(std::string(kDeadTenant) + "/v2.0/.well-known");
  EXPECT_EQ(dead_discovery, 1u);
  // Later passes neither refetch the fresh key sets nor call the dead tenant again before
  // min_refresh_interval has passed.
  const auto jwks_fetches = idp_requests("/discovery/v2.0/keys");
  refresh();
  refresh();
  EXPECT_EQ(idp_requests("/discovery/v2.0/keys"), jwks_fetches);
  EXPECT_EQ(idp_requests(std::string(kDeadTenant) + "/v2.0/.well-known"), 1u);
  clock_offset_s_.store(61);
  refresh();
  EXPECT_EQ(idp_requests(std::string(kDeadTenant) + "/v2.0/.well-known"), 2u);
  // The live organisations sign in meanwhile.
  EXPECT_EQ(log_in().response.result_int(), 302u);
}

}  // namespace
}  // namespace oidc::server
