// SPDX-License-Identifier: Apache-2.0
// verify_id_token and verify_access_token on real signed tokens: signature first, then claims.
#include <chrono>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "oidc/claims.hpp"
#include "oidc/jws.hpp"
#include "support/test_keys.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::sys_seconds;
using test::cached_test_key;
using test::key_set_of;
using test::sign_test_token;

constexpr std::string_view kTenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
constexpr std::string_view kOtherTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr std::string_view kClient = "6731de76-14a6-49ae-97bc-6eba6914391e";
constexpr std::string_view kNonce = "n-0S6_WzA2Mj";
constexpr std::int64_t kNow = 1'700'000'000;
const sys_seconds now{std::chrono::seconds{kNow}};

std::string issuer() {
  return entra_v2_issuer("https://login.microsoftonline.com", kTenant);
}

id_token_expectations id_want() {
  id_token_expectations w;
  w.issuer = issuer();
  w.client_id = std::string(kClient);
  w.tenant_id = std::string(kTenant);
  w.nonce = std::string(kNonce);
  w.allowed_algs = {jws_alg::RS256};
  return w;
}

access_token_expectations access_want() {
  access_token_expectations w;
  w.issuers = {issuer()};
  w.audiences = {std::string(kClient)};
  w.tenant_id = std::string(kTenant);
  w.allowed_algs = {jws_alg::RS256};
  return w;
}

json::object id_payload() {
  return json::object{
      {"ver", "2.0"},    {"iss", issuer()},       {"sub", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy"},
      {"aud", kClient},  {"exp", kNow + 3600},    {"iat", kNow - 5},
      {"nbf", kNow - 5}, {"tid", kTenant},        {"oid", "00000000-0000-0000-66f3-3332eca7ea81"},
      {"nonce", kNonce}, {"name", "Abe Lincoln"}, {"preferred_username", "AbeLi@microsoft.com"},
  };
}

json::object access_payload() {
  auto p = id_payload();
  p.erase("nonce");
  p["azp"] = "00000003-0000-0000-c000-000000000000";
  p["scp"] = "Orders.Read Orders.Write";
  return p;
}

// A payload that breaks every claim rule at once.
json::object hostile_payload() {
  return json::object{
      {"iss", "https://evil.example/"},
      {"aud", "someone-else"},
      {"exp", kNow - 7200},
      {"iat", kNow + 7200},
      {"tid", kOtherTenant},
  };
}

std::string sign(const test::test_key& key, const json::object& payload) {
  auto token = sign_test_token(key, payload);
  EXPECT_TRUE(token) << label(token.error());
  return token ? *token : std::string();
}

// The same token with one character in the middle of its signature changed.
std::string flip_signature_char(std::string token) {
  const std::size_t sig = token.rfind('.') + 1;
  char& c = token[sig + (token.size() - sig) / 2];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

template <class R>
auth_error reason(const R& r) {
  return r ? auth_error::ok : r.error();
}

// ---- ID tokens ----

TEST(IdTokenVerification, AcceptsSignedEntraIdTokenAndReturnsItsClaims) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  auto r = verify_id_token(sign(key, id_payload()), *keys, id_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->iss, issuer());
  EXPECT_EQ(r->sub, "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy");
  EXPECT_EQ(r->tid, kTenant);
  EXPECT_EQ(r->oid, "00000000-0000-0000-66f3-3332eca7ea81");
  EXPECT_EQ(r->preferred_username, "AbeLi@microsoft.com");
  EXPECT_EQ(r->nonce, kNonce);
}

TEST(IdTokenVerification, AcceptsTokenSignedWithSignCompactDirectly) {
  const auto& key = cached_test_key(jws_alg::ES256);
  const auto keys = key_set_of({&key});
  const json::object header{{"alg", "ES256"}, {"kid", key.kid}};
  auto token = sign_compact(header, id_payload(), key.private_key.get(), jws_alg::ES256);
  ASSERT_TRUE(token) << label(token.error());
  auto want = id_want();
  want.allowed_algs = {jws_alg::ES256};
  EXPECT_EQ(reason(verify_id_token(*token, *keys, want, now)), auth_error::ok);
}

TEST(IdTokenVerification, ReportsBadSignatureEvenWhenEveryClaimIsAlsoWrong) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  const std::string forged = flip_signature_char(sign(key, hostile_payload()));
  EXPECT_EQ(reason(verify_id_token(forged, *keys, id_want(), now)), auth_error::signature_invalid);
}

TEST(IdTokenVerification, ReportsTokenSignedByAnAttackerKeyUnderOurKidAsSignatureInvalid) {
  const auto& ours = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&ours});
  const auto attacker = test::make_test_key(jws_alg::RS256, ours.kid);
  auto p = id_payload();
  p["exp"] = kNow - 7200;  // expired too: the signature must still be what is reported
  EXPECT_EQ(reason(verify_id_token(sign(attacker, p), *keys, id_want(), now)),
            auth_error::signature_invalid);
}

TEST(IdTokenVerification, ReportsPayloadSwappedAfterSigningAsSignatureInvalid) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  const std::string good = sign(key, id_payload());
  const std::string other = sign(key, hostile_payload());
  const auto first_dot = [](const std::string& t) { return t.find('.'); };
  const auto last_dot = [](const std::string& t) { return t.rfind('.'); };
  // Header of `good`, payload of `other`, signature of `good`.
  const std::string spliced = good.substr(0, first_dot(good)) +
                              other.substr(first_dot(other), last_dot(other) - first_dot(other)) +
                              good.substr(last_dot(good));
  EXPECT_EQ(reason(verify_id_token(spliced, *keys, id_want(), now)), auth_error::signature_invalid);
}

TEST(IdTokenVerification, UsesTheExpectationsAlgorithmAllowList) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  auto want = id_want();
  want.allowed_algs = {jws_alg::ES256};
  EXPECT_EQ(reason(verify_id_token(sign(key, id_payload()), *keys, want, now)),
            auth_error::alg_not_allowed);
}

TEST(IdTokenVerification, ReportsUnknownKidBeforeClaims) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  auto token = sign_test_token(key, hostile_payload(), {{"kid", "rotated-away"}});
  ASSERT_TRUE(token) << label(token.error());
  EXPECT_EQ(reason(verify_id_token(*token, *keys, id_want(), now)), auth_error::kid_unknown);
}

TEST(IdTokenVerification, ChecksClaimsOnceTheSignatureVerifies) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  EXPECT_EQ(reason(verify_id_token(sign(key, hostile_payload()), *keys, id_want(), now)),
            auth_error::issuer_mismatch);

  auto p = id_payload();
  p["exp"] = kNow - 7200;
  EXPECT_EQ(reason(verify_id_token(sign(key, p), *keys, id_want(), now)),
            auth_error::token_expired);

  p = id_payload();
  p["nonce"] = "replayed-from-another-login";
  EXPECT_EQ(reason(verify_id_token(sign(key, p), *keys, id_want(), now)),
            auth_error::nonce_mismatch);
}

// ---- access tokens ----

TEST(AccessTokenVerification, AcceptsSignedAccessTokenAndParsesScopes) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  auto r = verify_access_token(sign(key, access_payload()), *keys, access_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"Orders.Read", "Orders.Write"}));
  EXPECT_EQ(r->azp, "00000003-0000-0000-c000-000000000000");
}

TEST(AccessTokenVerification, RefusesAValidlySignedIdTokenAsAnAccessToken) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  EXPECT_EQ(reason(verify_access_token(sign(key, id_payload()), *keys, access_want(), now)),
            auth_error::not_an_access_token);
}

TEST(AccessTokenVerification, ReportsBadSignatureEvenWhenClaimsAreAlsoWrong) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  const std::string forged = flip_signature_char(sign(key, hostile_payload()));
  EXPECT_EQ(reason(verify_access_token(forged, *keys, access_want(), now)),
            auth_error::signature_invalid);
}

TEST(AccessTokenVerification, PreParsedPayloadGivesTheSameClaimsAsTheToken) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  const std::string token = sign(key, access_payload());
  auto payload = parse_jws_payload(token, 16 * 1024);
  ASSERT_TRUE(payload) << label(payload.error());
  const auto peeked = peek_jws(token, 16 * 1024);
  ASSERT_TRUE(peeked) << label(peeked.error());
  auto r = verify_access_token(*peeked, *payload, *keys, access_want(), now);
  ASSERT_TRUE(r) << label(r.error());
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"Orders.Read", "Orders.Write"}));
  EXPECT_EQ(r->azp, "00000003-0000-0000-c000-000000000000");
}

TEST(AccessTokenVerification, PreParsedPayloadStillNeedsTheSignatureFirst) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  const std::string forged = flip_signature_char(sign(key, hostile_payload()));
  auto payload = parse_jws_payload(forged, 16 * 1024);
  ASSERT_TRUE(payload);
  const auto peeked_forged = peek_jws(forged, 16 * 1024);
  ASSERT_TRUE(peeked_forged);
  EXPECT_EQ(reason(verify_access_token(*peeked_forged, *payload, *keys, access_want(), now)),
            auth_error::signature_invalid);
  // Claims are those of the object given: an ID token's claims are refused as such.
  const std::string id_token = sign(key, id_payload());
  auto id_claims = parse_jws_payload(id_token, 16 * 1024);
  ASSERT_TRUE(id_claims);
  const auto peeked_id = peek_jws(id_token, 16 * 1024);
  ASSERT_TRUE(peeked_id);
  EXPECT_EQ(reason(verify_access_token(*peeked_id, *id_claims, *keys, access_want(), now)),
            auth_error::not_an_access_token);
}

TEST(AccessTokenVerification, ParseJwsPayloadRefusesWhatVerifyJwsWould) {
  EXPECT_EQ(reason(parse_jws_payload("a.b", 16 * 1024)), auth_error::malformed_token);
  EXPECT_EQ(reason(parse_jws_payload(std::string(20'000, 'a'), 16 * 1024)),
            auth_error::token_too_large);
  // "W10" is the base64url of "[]": JSON, but not an object.
  EXPECT_NE(reason(parse_jws_payload("eyJhbGciOiJSUzI1NiJ9.W10.c2ln", 16 * 1024)), auth_error::ok);
  EXPECT_EQ(reason(parse_jws_payload("eyJhbGciOiJSUzI1NiJ9.!!!.c2ln", 16 * 1024)),
            auth_error::base64_invalid);
}

TEST(AccessTokenVerification, UsesTheExpectationsAlgorithmAllowList) {
  const auto& key = cached_test_key(jws_alg::ES256);
  const auto keys = key_set_of({&key});
  EXPECT_EQ(reason(verify_access_token(sign(key, access_payload()), *keys, access_want(), now)),
            auth_error::alg_not_allowed);
  auto want = access_want();
  want.allowed_algs = {jws_alg::ES256};
  EXPECT_EQ(reason(verify_access_token(sign(key, access_payload()), *keys, want, now)),
            auth_error::ok);
}

TEST(AccessTokenVerification, ChecksClaimsOnceTheSignatureVerifies) {
  const auto& key = cached_test_key(jws_alg::RS256);
  const auto keys = key_set_of({&key});
  auto p = access_payload();
  p["tid"] = kOtherTenant;
  EXPECT_EQ(reason(verify_access_token(sign(key, p), *keys, access_want(), now)),
            auth_error::tenant_mismatch);
}

}  // namespace
}  // namespace oidc
