// SPDX-License-Identifier: Apache-2.0
// Behaviour tests of the ID token and access token claim rules, one rule (and its boundary) each.
#include "oidc/claims.hpp"

#include <chrono>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace oidc {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::sys_seconds;

constexpr std::string_view kTenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
constexpr std::string_view kOtherTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr std::string_view kClient = "6731de76-14a6-49ae-97bc-6eba6914391e";
constexpr std::string_view kOtherClient = "00000003-0000-0000-c000-000000000000";
constexpr std::string_view kAuthority = "https://login.microsoftonline.com";
constexpr std::string_view kNonce = "n-0S6_WzA2Mj";
constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kIat = kNow - 10;

const sys_seconds now{std::chrono::seconds{kNow}};

std::string v2_issuer() {
  return entra_v2_issuer(kAuthority, kTenant);
}

id_token_expectations id_want() {
  id_token_expectations w;
  w.issuer = v2_issuer();
  w.client_id = std::string(kClient);
  w.tenant_id = std::string(kTenant);
  w.nonce = std::string(kNonce);
  w.skew = 60s;
  w.max_age = 600s;
  w.allowed_algs = {jws_alg::RS256};
  return w;
}

// An Entra v2 ID token payload as the token endpoint returns it.
json::object id_payload() {
  return json::object{
      {"ver", "2.0"},
      {"iss", v2_issuer()},
      {"sub", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"},
      {"aud", kClient},
      {"exp", kIat + 3600},
      {"iat", kIat},
      {"nbf", kIat},
      {"name", "Abe Lincoln"},
      {"preferred_username", "AbeLi@microsoft.com"},
      {"email", "abeli@microsoft.com"},
      {"login_hint", "O.CiQ3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDcSJDAw"},
      {"oid", "00000000-0000-0000-66f3-3332eca7ea81"},
      {"tid", kTenant},
      {"nonce", kNonce},
  };
}

access_token_expectations access_want() {
  access_token_expectations w;
  w.issuers = {v2_issuer()};
  w.audiences = {std::string(kClient)};
  w.tenant_id = std::string(kTenant);
  w.skew = 60s;
  w.allowed_algs = {jws_alg::RS256};
  return w;
}

// An Entra v2 access token payload for our API, with delegated scopes.
json::object access_payload() {
  return json::object{
      {"ver", "2.0"},
      {"iss", v2_issuer()},
      {"sub", "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA"},
      {"aud", kClient},
      {"azp", kOtherClient},
      {"exp", kIat + 3600},
      {"iat", kIat},
      {"nbf", kIat},
      {"oid", "00000000-0000-0000-66f3-3332eca7ea81"},
      {"tid", kTenant},
      {"scp", "User.Read Files.Read"},
  };
}

auth_error id_error(const json::object& p, const id_token_expectations& w = id_want(),
                    sys_seconds at = now) {
  auto r = check_id_token_claims(p, w, at);
  return r ? auth_error::ok : r.error();
}

auth_error access_error(const json::object& p, const access_token_expectations& w = access_want(),
                        sys_seconds at = now) {
  auto r = check_access_token_claims(p, w, at);
  return r ? auth_error::ok : r.error();
}

// ---- ID token: acceptance and typed output ----

TEST(IdTokenClaims, AcceptsEntraV2IdTokenAndReturnsTypedClaims) {
  auto r = check_id_token_claims(id_payload(), id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->iss, v2_issuer());
  EXPECT_EQ(r->sub, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ");
  EXPECT_EQ(r->aud, std::vector<std::string>{std::string(kClient)});
  EXPECT_EQ(r->oid, "00000000-0000-0000-66f3-3332eca7ea81");
  EXPECT_EQ(r->tid, kTenant);
  EXPECT_EQ(r->preferred_username, "AbeLi@microsoft.com");
  EXPECT_EQ(r->email, "abeli@microsoft.com");
  EXPECT_EQ(r->name, "Abe Lincoln");
  EXPECT_EQ(r->login_hint, "O.CiQ3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDcSJDAw");
  EXPECT_EQ(r->nonce, kNonce);
  EXPECT_EQ(r->ver, "2.0");
  EXPECT_EQ(r->exp, sys_seconds{std::chrono::seconds{kIat + 3600}});
  ASSERT_TRUE(r->iat.has_value());
  EXPECT_EQ(*r->iat, sys_seconds{std::chrono::seconds{kIat}});
  ASSERT_TRUE(r->nbf.has_value());
  EXPECT_EQ(*r->nbf, sys_seconds{std::chrono::seconds{kIat}});
  EXPECT_FALSE(r->auth_time.has_value());
  EXPECT_TRUE(r->azp.empty());
  EXPECT_TRUE(r->scopes.empty());
  EXPECT_TRUE(r->roles.empty());
}

TEST(IdTokenClaims, AcceptsGenericProviderTokenWithoutTidWhenNoTenantIsConfigured) {
  auto w = id_want();
  w.issuer = "https://accounts.example.com";
  w.tenant_id.reset();
  auto p = id_payload();
  p["iss"] = "https://accounts.example.com";
  p.erase("tid");
  p.erase("nbf");
  auto r = check_id_token_claims(p, w, now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_TRUE(r->tid.empty());
  EXPECT_FALSE(r->nbf.has_value());
}

TEST(IdTokenClaims, ReturnsAuthTimeWhenPresent) {
  auto p = id_payload();
  p["auth_time"] = kIat - 100;
  auto r = check_id_token_claims(p, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  ASSERT_TRUE(r->auth_time.has_value());
  EXPECT_EQ(*r->auth_time, sys_seconds{std::chrono::seconds{kIat - 100}});
}

// ---- iss ----

TEST(IdTokenClaims, RejectsIssuerOfAnotherTenant) {
  auto p = id_payload();
  p["iss"] = entra_v2_issuer(kAuthority, kOtherTenant);
  EXPECT_EQ(id_error(p), auth_error::issuer_mismatch);
}

TEST(IdTokenClaims, RejectsIssuerWithTrailingSlash) {
  auto p = id_payload();
  p["iss"] = v2_issuer() + "/";
  EXPECT_EQ(id_error(p), auth_error::issuer_mismatch);
}

TEST(IdTokenClaims, RejectsIssuerDifferingOnlyInCase) {
  auto p = id_payload();
  p["iss"] = "https://LOGIN.microsoftonline.com/" + std::string(kTenant) + "/v2.0";
  EXPECT_EQ(id_error(p), auth_error::issuer_mismatch);
}

TEST(IdTokenClaims, RejectsEmptyIssuerEvenWhenNoneIsConfigured) {
  auto w = id_want();
  w.issuer.clear();
  auto p = id_payload();
  p["iss"] = "";
  EXPECT_EQ(id_error(p, w), auth_error::issuer_mismatch);
}

TEST(IdTokenClaims, RejectsMissingIssuer) {
  auto p = id_payload();
  p.erase("iss");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

TEST(IdTokenClaims, RejectsIssuerThatIsNotAString) {
  auto p = id_payload();
  p["iss"] = json::array{v2_issuer()};
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- aud ----

TEST(IdTokenClaims, RejectsAudienceOfAnotherClient) {
  auto p = id_payload();
  p["aud"] = kOtherClient;
  EXPECT_EQ(id_error(p), auth_error::audience_mismatch);
}

TEST(IdTokenClaims, RejectsAudienceArrayWithoutOurClient) {
  auto p = id_payload();
  p["aud"] = json::array{kOtherClient, "api://something"};
  p["azp"] = kClient;
  EXPECT_EQ(id_error(p), auth_error::audience_mismatch);
}

TEST(IdTokenClaims, RejectsEmptyAudienceArray) {
  auto p = id_payload();
  p["aud"] = json::array{};
  EXPECT_EQ(id_error(p), auth_error::audience_mismatch);
}

TEST(IdTokenClaims, AcceptsAudienceArrayHoldingOnlyOurClientWithoutAzp) {
  auto p = id_payload();
  p["aud"] = json::array{kClient};
  auto r = check_id_token_claims(p, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->aud, std::vector<std::string>{std::string(kClient)});
}

TEST(IdTokenClaims, RejectsAudienceThatIsANumber) {
  auto p = id_payload();
  p["aud"] = 42;
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

TEST(IdTokenClaims, RejectsAudienceArrayHoldingANonString) {
  auto p = id_payload();
  p["aud"] = json::array{kClient, 7};
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

TEST(IdTokenClaims, RejectsMissingAudience) {
  auto p = id_payload();
  p.erase("aud");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

// ---- azp ----

TEST(IdTokenClaims, RejectsSeveralAudiencesWithoutAzp) {
  auto p = id_payload();
  p["aud"] = json::array{kClient, kOtherClient};
  EXPECT_EQ(id_error(p), auth_error::azp_mismatch);
}

TEST(IdTokenClaims, AcceptsSeveralAudiencesWhenAzpIsOurClient) {
  auto p = id_payload();
  p["aud"] = json::array{kOtherClient, kClient};
  p["azp"] = kClient;
  auto r = check_id_token_claims(p, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->aud.size(), 2u);
  EXPECT_EQ(r->azp, kClient);
}

TEST(IdTokenClaims, RejectsAzpOfAnotherClient) {
  auto p = id_payload();
  p["azp"] = kOtherClient;
  EXPECT_EQ(id_error(p), auth_error::azp_mismatch);
}

TEST(IdTokenClaims, RejectsAzpThatIsNotAString) {
  auto p = id_payload();
  p["azp"] = json::array{kClient};
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- exp ----

TEST(IdTokenClaims, RejectsTokenExactlyAtExpPlusSkew) {
  const auto w = id_want();
  const std::int64_t exp = kIat + 3600;
  EXPECT_EQ(id_error(id_payload(), w, sys_seconds{std::chrono::seconds{exp + 60}}),
            auth_error::token_expired);
}

TEST(IdTokenClaims, AcceptsTokenOneSecondBeforeExpPlusSkew) {
  auto w = id_want();
  w.max_age = 7200s;
  const std::int64_t exp = kIat + 3600;
  EXPECT_EQ(id_error(id_payload(), w, sys_seconds{std::chrono::seconds{exp + 59}}), auth_error::ok);
}

TEST(IdTokenClaims, TreatsNegativeSkewAsZero) {
  auto w = id_want();
  w.skew = -3600s;
  w.max_age = 7200s;
  const std::int64_t exp = kIat + 3600;
  EXPECT_EQ(id_error(id_payload(), w, sys_seconds{std::chrono::seconds{exp - 1}}), auth_error::ok);
  EXPECT_EQ(id_error(id_payload(), w, sys_seconds{std::chrono::seconds{exp}}),
            auth_error::token_expired);
}

TEST(IdTokenClaims, RejectsExpThatIsAString) {
  auto p = id_payload();
  p["exp"] = std::to_string(kIat + 3600);
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

TEST(IdTokenClaims, RejectsMissingExp) {
  auto p = id_payload();
  p.erase("exp");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

TEST(IdTokenClaims, AcceptsNonIntegerNumericDatesAndDropsTheFraction) {
  auto p = id_payload();
  p["exp"] = static_cast<double>(kIat + 3600) + 0.75;
  p["iat"] = static_cast<double>(kIat) + 0.5;
  auto r = check_id_token_claims(p, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->exp, sys_seconds{std::chrono::seconds{kIat + 3600}});
  EXPECT_EQ(*r->iat, sys_seconds{std::chrono::seconds{kIat}});
}

TEST(IdTokenClaims, AcceptsNumericDateHeldAsUnsignedInteger) {
  auto p = id_payload();
  p["exp"] = static_cast<std::uint64_t>(kIat + 3600);
  auto r = check_id_token_claims(p, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->exp, sys_seconds{std::chrono::seconds{kIat + 3600}});
}

TEST(IdTokenClaims, FractionalExpIsExpiredFromItsWholeSecond) {
  auto p = id_payload();
  p["exp"] = static_cast<double>(kNow - 60) + 0.9;  // floor(exp) + skew == now
  EXPECT_EQ(id_error(p), auth_error::token_expired);
}

TEST(IdTokenClaims, RejectsNumericDatesOutOfRangeOrOfWrongKind) {
  const json::value bad[] = {
      json::value(-1),
      json::value(-0.5),
      json::value(std::int64_t{253402300800}),  // 10000-01-01T00:00:00Z
      json::value(std::numeric_limits<std::int64_t>::max()),
      json::value(std::numeric_limits<std::uint64_t>::max()),
      json::value(1e300),
      json::value(std::numeric_limits<double>::infinity()),
      json::value(std::numeric_limits<double>::quiet_NaN()),
      json::value(true),
      json::value(nullptr),
      json::value(json::array{kIat + 3600}),
  };
  for (const auto& v : bad) {
    auto p = id_payload();
    p["exp"] = v;
    EXPECT_EQ(id_error(p), auth_error::claim_invalid) << json::serialize(v);
  }
}

TEST(IdTokenClaims, ReportsFarFutureNowAsExpiredWithoutOverflow) {
  EXPECT_EQ(id_error(id_payload(), id_want(), sys_seconds::max()), auth_error::token_expired);
}

TEST(IdTokenClaims, HugeConfiguredSkewAndMaxAgeDoNotOverflow) {
  auto w = id_want();
  w.skew = std::chrono::seconds::max();
  w.max_age = std::chrono::seconds::max();
  EXPECT_EQ(id_error(id_payload(), w), auth_error::ok);
}

// ---- nbf ----

TEST(IdTokenClaims, RejectsNbfBeyondSkew) {
  auto p = id_payload();
  p["nbf"] = kNow + 61;
  EXPECT_EQ(id_error(p), auth_error::token_not_yet_valid);
}

TEST(IdTokenClaims, AcceptsNbfWithinSkew) {
  auto p = id_payload();
  p["nbf"] = kNow + 60;
  EXPECT_EQ(id_error(p), auth_error::ok);
}

TEST(IdTokenClaims, RejectsNbfThatIsAString) {
  auto p = id_payload();
  p["nbf"] = "1700000000";
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- iat and maximum age ----

TEST(IdTokenClaims, RejectsIatBeyondSkewInTheFuture) {
  auto p = id_payload();
  p["iat"] = kNow + 61;
  p["nbf"] = kNow;
  EXPECT_EQ(id_error(p), auth_error::iat_in_future);
}

TEST(IdTokenClaims, AcceptsIatWithinSkewInTheFuture) {
  auto p = id_payload();
  p["iat"] = kNow + 60;
  EXPECT_EQ(id_error(p), auth_error::ok);
}

TEST(IdTokenClaims, RejectsTokenIssuedLongerAgoThanMaxAgePlusSkew) {
  auto p = id_payload();
  p["iat"] = kNow - 600 - 60 - 1;
  p["nbf"] = kNow - 600 - 60 - 1;
  EXPECT_EQ(id_error(p), auth_error::token_too_old);
}

TEST(IdTokenClaims, AcceptsTokenExactlyMaxAgePlusSkewOld) {
  auto p = id_payload();
  p["iat"] = kNow - 600 - 60;
  EXPECT_EQ(id_error(p), auth_error::ok);
}

TEST(IdTokenClaims, RejectsMissingIat) {
  auto p = id_payload();
  p.erase("iat");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

// ---- nonce ----

TEST(IdTokenClaims, RejectsMissingNonce) {
  auto p = id_payload();
  p.erase("nonce");
  EXPECT_EQ(id_error(p), auth_error::nonce_missing);
}

TEST(IdTokenClaims, RejectsNonceOfAnotherLogin) {
  auto p = id_payload();
  p["nonce"] = "n-0S6_WzA2Mk";
  EXPECT_EQ(id_error(p), auth_error::nonce_mismatch);
}

TEST(IdTokenClaims, RejectsNonceThatIsAPrefixOfTheExpectedOne) {
  auto p = id_payload();
  p["nonce"] = kNonce.substr(0, 4);
  EXPECT_EQ(id_error(p), auth_error::nonce_mismatch);
}

TEST(IdTokenClaims, RejectsEmptyNonceEvenWhenNoneIsExpected) {
  auto w = id_want();
  w.nonce.clear();
  auto p = id_payload();
  p["nonce"] = "";
  EXPECT_EQ(id_error(p, w), auth_error::nonce_mismatch);
}

TEST(IdTokenClaims, RejectsNonceThatIsNotAString) {
  auto p = id_payload();
  p["nonce"] = 12345;
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- tid ----

TEST(IdTokenClaims, RejectsTidOfAnotherTenant) {
  auto p = id_payload();
  p["tid"] = kOtherTenant;
  EXPECT_EQ(id_error(p), auth_error::tenant_mismatch);
}

TEST(IdTokenClaims, RejectsMissingTidWhenATenantIsConfigured) {
  auto p = id_payload();
  p.erase("tid");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

TEST(IdTokenClaims, RejectsTidThatIsNotAString) {
  auto p = id_payload();
  p["tid"] = 1;
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- remaining typed claims ----

TEST(IdTokenClaims, RejectsMissingSub) {
  auto p = id_payload();
  p.erase("sub");
  EXPECT_EQ(id_error(p), auth_error::claim_missing);
}

TEST(IdTokenClaims, RejectsProfileClaimOfWrongType) {
  for (const char* key :
       {"sub", "oid", "preferred_username", "email", "name", "login_hint", "ver", "upn", "appid"}) {
    auto p = id_payload();
    p[key] = json::array{"x"};
    EXPECT_EQ(id_error(p), auth_error::claim_invalid) << key;
  }
  auto p = id_payload();
  p["auth_time"] = "yesterday";
  EXPECT_EQ(id_error(p), auth_error::claim_invalid);
}

// ---- order: exactly one reason, the first failing rule ----

TEST(IdTokenClaimOrder, ReportsTheFirstFailingRuleOfTheDocumentedOrder) {
  // Every rule broken at once; repairing them one by one walks the documented order.
  auto p = id_payload();
  p["iss"] = v2_issuer() + "/";
  p["aud"] = json::array{kClient, kOtherClient};  // several audiences, no azp
  p["exp"] = kNow - 3600;
  p["nbf"] = kNow + 3600;
  p["iat"] = kNow + 3600;
  p["nonce"] = "wrong";
  p["tid"] = kOtherTenant;
  p.erase("sub");
  const auto at = [&] { return id_error(p); };

  EXPECT_EQ(at(), auth_error::issuer_mismatch);
  p["iss"] = v2_issuer();
  EXPECT_EQ(at(), auth_error::azp_mismatch);
  p["azp"] = kClient;
  EXPECT_EQ(at(), auth_error::token_expired);
  p["exp"] = kNow + 3600;
  EXPECT_EQ(at(), auth_error::token_not_yet_valid);
  p["nbf"] = kNow;
  EXPECT_EQ(at(), auth_error::iat_in_future);
  p["iat"] = kNow - 7200;
  EXPECT_EQ(at(), auth_error::token_too_old);
  p["iat"] = kNow;
  EXPECT_EQ(at(), auth_error::nonce_mismatch);
  p["nonce"] = kNonce;
  EXPECT_EQ(at(), auth_error::tenant_mismatch);
  p["tid"] = kTenant;
  EXPECT_EQ(at(), auth_error::claim_missing);
  p["sub"] = "subject";
  EXPECT_EQ(at(), auth_error::ok);
}

TEST(IdTokenClaimOrder, ReportsAudienceBeforeExpiry) {
  auto p = id_payload();
  p["aud"] = kOtherClient;
  p["exp"] = kNow - 3600;
  EXPECT_EQ(id_error(p), auth_error::audience_mismatch);
}

// ---- access tokens ----

TEST(AccessTokenClaims, AcceptsV2TokenWithScopesAndSplitsThem) {
  auto p = access_payload();
  p["scp"] = "User.Read  Files.Read ";
  auto r = check_access_token_claims(p, access_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"User.Read", "Files.Read"}));
  EXPECT_TRUE(r->roles.empty());
  EXPECT_EQ(r->azp, kOtherClient);
  EXPECT_EQ(r->tid, kTenant);
  EXPECT_EQ(r->oid, "00000000-0000-0000-66f3-3332eca7ea81");
  EXPECT_EQ(r->sub, "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA");
  EXPECT_EQ(r->exp, sys_seconds{std::chrono::seconds{kIat + 3600}});
}

TEST(AccessTokenClaims, AcceptsRolesOnlyApplicationToken) {
  auto p = access_payload();
  p.erase("scp");
  p["roles"] = json::array{"Reports.Read.All", "Tasks.Write"};
  auto r = check_access_token_claims(p, access_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_TRUE(r->scopes.empty());
  EXPECT_EQ(r->roles, (std::vector<std::string>{"Reports.Read.All", "Tasks.Write"}));
}

TEST(AccessTokenClaims, RefusesAnIdTokenAsAnAccessToken) {
  // Same issuer, audience (our client ID), tenant and lifetime: only scp/roles tell them apart.
  EXPECT_EQ(access_error(id_payload()), auth_error::not_an_access_token);
}

TEST(AccessTokenClaims, RefusesTokenWithEmptyScpAndEmptyRoles) {
  auto p = access_payload();
  p["scp"] = "  ";
  p["roles"] = json::array{};
  EXPECT_EQ(access_error(p), auth_error::not_an_access_token);
}

TEST(AccessTokenClaims, RejectsScpThatIsNotAString) {
  auto p = access_payload();
  p["scp"] = json::array{"User.Read"};
  EXPECT_EQ(access_error(p), auth_error::claim_invalid);
}

TEST(AccessTokenClaims, RejectsRolesThatAreNotAnArrayOfStrings) {
  auto p = access_payload();
  p["roles"] = "Tasks.Write";
  EXPECT_EQ(access_error(p), auth_error::claim_invalid);
  p["roles"] = json::array{"Tasks.Write", 3};
  EXPECT_EQ(access_error(p), auth_error::claim_invalid);
}

TEST(AccessTokenClaims, RefusesV1IssuerUnlessConfigured) {
  auto p = access_payload();
  p["ver"] = "1.0";
  p["iss"] = entra_v1_issuer(kTenant);
  p["aud"] = "api://orders";
  auto w = access_want();
  w.audiences.push_back("api://orders");
  EXPECT_EQ(access_error(p, w), auth_error::issuer_mismatch);

  w.issuers.push_back(entra_v1_issuer(kTenant));
  auto r = check_access_token_claims(p, w, now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->iss, "https://sts.windows.net/" + std::string(kTenant) + "/");
  EXPECT_EQ(r->ver, "1.0");
}

TEST(AccessTokenClaims, RejectsIssuerOutsideTheConfiguredList) {
  auto p = access_payload();
  p["iss"] = entra_v2_issuer(kAuthority, kOtherTenant);
  EXPECT_EQ(access_error(p), auth_error::issuer_mismatch);
  auto w = access_want();
  w.issuers.clear();
  EXPECT_EQ(access_error(access_payload(), w), auth_error::issuer_mismatch);
}

TEST(AccessTokenClaims, RejectsAudienceOutsideTheConfiguredList) {
  auto p = access_payload();
  p["aud"] = "00000003-0000-0000-c000-000000000000";  // a Microsoft Graph token
  EXPECT_EQ(access_error(p), auth_error::audience_mismatch);
}

TEST(AccessTokenClaims, AcceptsAnyOfSeveralConfiguredAudiences) {
  auto p = access_payload();
  p["aud"] = json::array{"api://orders"};
  auto w = access_want();
  w.audiences = {std::string(kClient), "api://orders"};
  EXPECT_EQ(access_error(p, w), auth_error::ok);
}

TEST(AccessTokenClaims, RejectsAudienceThatIsANumber) {
  auto p = access_payload();
  p["aud"] = 6731;
  EXPECT_EQ(access_error(p), auth_error::claim_invalid);
}

TEST(AccessTokenClaims, RejectsTokenExactlyAtExpPlusSkew) {
  EXPECT_EQ(access_error(access_payload(), access_want(),
                         sys_seconds{std::chrono::seconds{kIat + 3600 + 60}}),
            auth_error::token_expired);
  EXPECT_EQ(access_error(access_payload(), access_want(),
                         sys_seconds{std::chrono::seconds{kIat + 3600 + 59}}),
            auth_error::ok);
}

TEST(AccessTokenClaims, RejectsExpThatIsAString) {
  auto p = access_payload();
  p["exp"] = "tomorrow";
  EXPECT_EQ(access_error(p), auth_error::claim_invalid);
}

TEST(AccessTokenClaims, RejectsNbfBeyondSkewAndAcceptsItWithin) {
  auto p = access_payload();
  p["nbf"] = kNow + 61;
  EXPECT_EQ(access_error(p), auth_error::token_not_yet_valid);
  p["nbf"] = kNow + 60;
  EXPECT_EQ(access_error(p), auth_error::ok);
}

TEST(AccessTokenClaims, RejectsTidOfAnotherTenant) {
  auto p = access_payload();
  p["tid"] = kOtherTenant;
  EXPECT_EQ(access_error(p), auth_error::tenant_mismatch);
}

TEST(AccessTokenClaimOrder, ReportsTheFirstFailingRuleOfTheDocumentedOrder) {
  auto p = access_payload();
  p["iss"] = entra_v1_issuer(kTenant);
  p["aud"] = "api://other";
  p["exp"] = kNow - 3600;
  p["nbf"] = kNow + 3600;
  p["tid"] = kOtherTenant;
  p.erase("scp");
  const auto at = [&] { return access_error(p); };

  EXPECT_EQ(at(), auth_error::issuer_mismatch);
  p["iss"] = v2_issuer();
  EXPECT_EQ(at(), auth_error::audience_mismatch);
  p["aud"] = kClient;
  EXPECT_EQ(at(), auth_error::token_expired);
  p["exp"] = kNow + 3600;
  EXPECT_EQ(at(), auth_error::token_not_yet_valid);
  p["nbf"] = kNow;
  EXPECT_EQ(at(), auth_error::tenant_mismatch);
  p["tid"] = kTenant;
  EXPECT_EQ(at(), auth_error::not_an_access_token);
  p["roles"] = json::array{"Tasks.Write"};
  EXPECT_EQ(at(), auth_error::ok);
}

// ---- issuer helpers ----

TEST(EntraIssuer, BuildsV2IssuerFromAuthorityAndTenant) {
  EXPECT_EQ(entra_v2_issuer("https://login.microsoftonline.com", kTenant),
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0");
  EXPECT_EQ(entra_v2_issuer("https://login.microsoftonline.com/", kTenant),
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0");
}

TEST(EntraIssuer, BuildsV1IssuerWithTrailingSlash) {
  EXPECT_EQ(entra_v1_issuer(kTenant),
            "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/");
}

}  // namespace
}  // namespace oidc
