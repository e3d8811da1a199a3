// SPDX-License-Identifier: Apache-2.0
// JWK/JWKS parsing: key types, key policy (weak keys, private members, use/key_ops/alg), RFC 7638
// thumbprints, duplicate kids and key selection.
#include "oidc/jwk.hpp"

#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "support/test_keys.hpp"

namespace oidc {
namespace {
namespace json = boost::json;

// RFC 7638 §3.1 (the RFC 7517 A.1 key) and its published thumbprint.
constexpr std::string_view kRfc7638Jwk =
    R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})";
constexpr std::string_view kRfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 8037 A.2 public key and A.3 thumbprint.
constexpr std::string_view kRfc8037Jwk =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kRfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

// RFC 7515 A.3 public key (P-256).
constexpr std::string_view kRfc7515EcJwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";

// Wycheproof json_web_key_test.json tcId 7: a 2049-bit modulus from Infineon's RSALib (ROCA).
constexpr std::string_view kRocaModulus =
    "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4"
    "r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z"
    "5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg"
    "_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE";

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

const json::object& rsa_jwk() {
  return test::cached_test_key(jws_alg::RS256).jwk;
}
const json::object& p256_jwk() {
  return test::cached_test_key(jws_alg::ES256).jwk;
}

// Replaces a base64url member with an edited copy of its octets.
template <class Edit>
json::object with_member_bytes(json::object o, std::string_view member, Edit edit) {
  std::string bytes = base64url_decode(o.at(member).as_string().c_str()).value();
  edit(bytes);
  o[member] = base64url_encode(bytes);
  return o;
}

auth_error reason(const result<jwk>& r) {
  return r ? auth_error::ok : r.error();
}

TEST(JwsAlgNames, RoundTripEveryImplementedAlgorithm) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(jws_alg::count_); ++i) {
    const auto a = static_cast<jws_alg>(i);
    ASSERT_FALSE(alg_name(a).empty());
    EXPECT_EQ(alg_from_name(alg_name(a)), a);
  }
}

TEST(JwsAlgNames, RejectNoneHmacAndCaseVariants) {
  for (std::string_view n :
       {"none", "NONE", "HS256", "HS384", "HS512", "rs256", "Ed25519", "", "ES256K", "RS256 "}) {
    EXPECT_FALSE(alg_from_name(n)) << n;
  }
}

TEST(AlgSet, IntersectsAndUnites) {
  const alg_set a{jws_alg::RS256, jws_alg::ES256};
  const alg_set b{jws_alg::ES256, jws_alg::EdDSA};
  EXPECT_EQ(a & b, alg_set{jws_alg::ES256});
  EXPECT_EQ(a | b, (alg_set{jws_alg::RS256, jws_alg::ES256, jws_alg::EdDSA}));
  EXPECT_TRUE(alg_set{}.empty());
  EXPECT_TRUE(alg_set::all().contains(jws_alg::EdDSA));
}

TEST(JwkParsing, RsaKeyWithoutAlgMayVerifyEveryRsaAlgorithm) {
  json::object o = rsa_jwk();
  o.erase("alg");
  const auto k = parse_jwk(o);
  ASSERT_TRUE(k) << label(k.error());
  EXPECT_EQ(k->kty, key_type::rsa);
  EXPECT_EQ(k->bits, 2048);
  EXPECT_EQ(k->kid, "test-RS256");
  EXPECT_EQ(k->algs, (alg_set{jws_alg::RS256, jws_alg::RS384, jws_alg::RS512, jws_alg::PS256,
                              jws_alg::PS384, jws_alg::PS512}));
  EXPECT_NE(k->pkey, nullptr);
}

TEST(JwkParsing, KeyAlgRestrictsTheKeyToThatAlgorithm) {
  const auto k = parse_jwk(rsa_jwk());
  ASSERT_TRUE(k);
  EXPECT_EQ(k->algs, alg_set{jws_alg::RS256});
}

TEST(JwkParsing, EcCurvesMapToTheirAlgorithm) {
  for (jws_alg a : {jws_alg::ES256, jws_alg::ES384, jws_alg::ES512}) {
    json::object o = test::cached_test_key(a).jwk;
    o.erase("alg");
    const auto k = parse_jwk(o);
    ASSERT_TRUE(k) << alg_name(a) << ": " << label(k.error());
    EXPECT_EQ(k->kty, key_type::ec);
    EXPECT_EQ(k->algs, alg_set{a});
  }
  EXPECT_EQ(parse_jwk(obj(kRfc7515EcJwk))->bits, 256);
}

TEST(JwkParsing, Ed25519KeyVerifiesEdDsa) {
  const auto k = parse_jwk(obj(kRfc8037Jwk));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kty, key_type::okp);
  EXPECT_EQ(k->algs, alg_set{jws_alg::EdDSA});
}

TEST(JwkThumbprint, MatchesRfc7638AndRfc8037Examples) {
  EXPECT_EQ(jwk_thumbprint(obj(kRfc7638Jwk)), kRfc7638Thumbprint);
  EXPECT_EQ(jwk_thumbprint(obj(kRfc8037Jwk)), kRfc8037Thumbprint);
  EXPECT_EQ(parse_jwk(obj(kRfc7638Jwk))->thumbprint, kRfc7638Thumbprint);
  EXPECT_EQ(parse_jwk(obj(kRfc8037Jwk))->thumbprint, kRfc8037Thumbprint);
}

TEST(JwkThumbprint, IgnoresOptionalMembersAndNeedsRequiredOnes) {
  json::object o = obj(kRfc7638Jwk);
  o["use"] = "sig";
  o["x5t"] = "whatever";
  EXPECT_EQ(jwk_thumbprint(o), kRfc7638Thumbprint);
  o.erase("e");
  EXPECT_EQ(jwk_thumbprint(o), "");
  EXPECT_EQ(jwk_thumbprint(obj(R"({"kty":"XYZ","x":"AA"})")), "");
}

TEST(JwkParsing, RefusesPrivateAndSymmetricKeys) {
  json::object rsa_private = rsa_jwk();
  rsa_private["d"] = "AQAB";
  EXPECT_EQ(reason(parse_jwk(rsa_private)), auth_error::key_unsupported);
  json::object ec_private = obj(kRfc7515EcJwk);
  ec_private["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  EXPECT_EQ(reason(parse_jwk(ec_private)), auth_error::key_unsupported);
  EXPECT_EQ(reason(parse_jwk(obj(R"({"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODw","alg":"HS256"})"))),
            auth_error::key_unsupported);
}

TEST(JwkParsing, RefusesUnknownKeyTypesAndCurves) {
  EXPECT_EQ(reason(parse_jwk(obj(R"({"kty":"XYZ"})"))), auth_error::key_unsupported);
  EXPECT_EQ(reason(parse_jwk(obj(R"({"n":"AQAB","e":"AQAB"})"))), auth_error::key_invalid);
  EXPECT_EQ(reason(parse_jwk(obj(R"({"kty":7})"))), auth_error::key_invalid);
  json::object k1 = p256_jwk();
  k1["crv"] = "secp256k1";
  k1.erase("alg");
  EXPECT_EQ(reason(parse_jwk(k1)), auth_error::key_unsupported);
  for (std::string_view crv : {"Ed448", "X25519", "X448"}) {
    json::object o = obj(kRfc8037Jwk);
    o["crv"] = crv;
    EXPECT_EQ(reason(parse_jwk(o)), auth_error::key_unsupported) << crv;
  }
}

TEST(JwkParsing, RefusesKeysNotMeantForSignatures) {
  json::object enc = rsa_jwk();
  enc["use"] = "enc";
  EXPECT_EQ(reason(parse_jwk(enc)), auth_error::key_use_mismatch);
  json::object encrypt_ops = rsa_jwk();
  encrypt_ops["key_ops"] = json::array{"encrypt", "wrapKey"};
  EXPECT_EQ(reason(parse_jwk(encrypt_ops)), auth_error::key_use_mismatch);
  json::object sign_only = rsa_jwk();
  sign_only["key_ops"] = json::array{"sign"};
  EXPECT_EQ(reason(parse_jwk(sign_only)), auth_error::key_use_mismatch);
  json::object verify_ops = rsa_jwk();
  verify_ops["key_ops"] = json::array{"verify"};
  EXPECT_TRUE(parse_jwk(verify_ops));
}

TEST(JwkParsing, RefusesMalformedUseAndKeyOps) {
  json::object dup = rsa_jwk();
  dup["key_ops"] = json::array{"verify", "verify"};
  EXPECT_EQ(reason(parse_jwk(dup)), auth_error::key_invalid);
  json::object not_array = rsa_jwk();
  not_array["key_ops"] = "verify";
  EXPECT_EQ(reason(parse_jwk(not_array)), auth_error::key_invalid);
  json::object use_number = rsa_jwk();
  use_number["use"] = 1;
  EXPECT_EQ(reason(parse_jwk(use_number)), auth_error::key_invalid);
  json::object kid_number = rsa_jwk();
  kid_number["kid"] = 1;
  EXPECT_EQ(reason(parse_jwk(kid_number)), auth_error::key_invalid);
}

TEST(JwkParsing, KeyAlgMustBeImplementedAndFitTheKey) {
  for (std::string_view alg : {"ES521", "ES224", "RSA1_5", "HS256", "none"}) {
    json::object o = p256_jwk();
    o["alg"] = alg;
    EXPECT_EQ(reason(parse_jwk(o)), auth_error::alg_unsupported) << alg;
  }
  json::object rsa_as_ec = rsa_jwk();
  rsa_as_ec["alg"] = "ES256";
  EXPECT_EQ(reason(parse_jwk(rsa_as_ec)), auth_error::key_invalid);
  json::object p256_as_es384 = p256_jwk();
  p256_as_es384["alg"] = "ES384";
  EXPECT_EQ(reason(parse_jwk(p256_as_es384)), auth_error::key_invalid);
  json::object alg_number = p256_jwk();
  alg_number["alg"] = 256;
  EXPECT_EQ(reason(parse_jwk(alg_number)), auth_error::key_invalid);
}

TEST(JwkWeakKeys, RefusesRsaModulusUnder2048Bits) {
  const evp_pkey_ptr small(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reason(parse_jwk(test::public_jwk(small.get(), "small"))), auth_error::key_too_weak);
  EXPECT_TRUE(parse_jwk(test::public_jwk(small.get(), "small"), jwk_policy{1024, 64}));
}

TEST(JwkWeakKeys, RefusesPublicExponentOneOrEven) {
  for (std::string_view e : {"AQ", "Ag", "AQAA", "AAE"}) {
    json::object o = rsa_jwk();
    o["e"] = e;
    const auto r = reason(parse_jwk(o));
    // "AAE" has a leading zero octet: not minimal, so malformed rather than weak.
    EXPECT_EQ(r, e == "AAE" ? auth_error::key_invalid : auth_error::key_too_weak) << e;
  }
  json::object three = rsa_jwk();
  three["e"] = "Aw";
  EXPECT_TRUE(parse_jwk(three));
  json::object huge = rsa_jwk();
  huge["e"] = base64url_encode(std::string(9, '\x01'));
  EXPECT_EQ(reason(parse_jwk(huge)), auth_error::key_unsupported);
}

TEST(JwkWeakKeys, RefusesModulusWithRocaFingerprint) {
  json::object o = rsa_jwk();
  o["n"] = kRocaModulus;
  EXPECT_EQ(reason(parse_jwk(o)), auth_error::key_too_weak);
  // Clearing the fingerprint (a different, non-RSALib modulus of the same size) loads.
  json::object other = with_member_bytes(o, "n", [](std::string& n) { n[100] ^= 0x10; });
  EXPECT_TRUE(parse_jwk(other));
}

TEST(JwkParsing, RefusesNonMinimalOrEvenRsaModulus) {
  EXPECT_EQ(reason(parse_jwk(
                with_member_bytes(rsa_jwk(), "n", [](std::string& n) { n.insert(0, 1, '\0'); }))),
            auth_error::key_invalid);
  EXPECT_EQ(
      reason(parse_jwk(with_member_bytes(rsa_jwk(), "n", [](std::string& n) { n.back() ^= 1; }))),
      auth_error::key_invalid);
  json::object huge = rsa_jwk();
  huge["n"] = base64url_encode(std::string(1025, '\xff'));
  EXPECT_EQ(reason(parse_jwk(huge)), auth_error::key_unsupported);
  json::object padded = rsa_jwk();
  padded["e"] = "AQAB=";
  EXPECT_EQ(reason(parse_jwk(padded)), auth_error::key_invalid);
}

TEST(JwkParsing, RefusesEcPointOffTheCurve) {
  EXPECT_EQ(
      reason(parse_jwk(with_member_bytes(p256_jwk(), "y", [](std::string& y) { y.back() ^= 1; }))),
      auth_error::key_invalid);
}

TEST(JwkParsing, RefusesEcCoordinatesOfTheWrongSize) {
  EXPECT_EQ(
      reason(parse_jwk(with_member_bytes(p256_jwk(), "x", [](std::string& x) { x.erase(0, 1); }))),
      auth_error::key_invalid);
  EXPECT_EQ(reason(parse_jwk(
                with_member_bytes(p256_jwk(), "x", [](std::string& x) { x.insert(0, 1, '\0'); }))),
            auth_error::key_invalid);
  // Wycheproof json_web_key_test tcId 23: P-256 coordinates labelled P-384.
  json::object wrong_curve = p256_jwk();
  wrong_curve["crv"] = "P-384";
  wrong_curve.erase("alg");
  EXPECT_EQ(reason(parse_jwk(wrong_curve)), auth_error::key_invalid);
}

TEST(JwkParsing, RefusesEcCoordinateNotBelowTheFieldPrime) {
  // p of P-256 itself: reduced mod p it would be 0, a second encoding of another point.
  const std::string p256_prime =
      base64url_decode("_____wAAAAEAAAAAAAAAAAAAAAD___________________8").value();
  json::object o = p256_jwk();
  o["x"] = base64url_encode(p256_prime);
  EXPECT_EQ(reason(parse_jwk(o)), auth_error::key_invalid);
}

TEST(JwkParsing, RefusesEd25519KeyOfTheWrongSize) {
  json::object o = obj(kRfc8037Jwk);
  o["x"] = base64url_encode(std::string(31, 'a'));
  EXPECT_EQ(reason(parse_jwk(o)), auth_error::key_invalid);
  o.erase("x");
  EXPECT_EQ(reason(parse_jwk(o)), auth_error::key_invalid);
}

TEST(JwkParsing, ParsesEveryTestKeyKind) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(jws_alg::count_); ++i) {
    const auto a = static_cast<jws_alg>(i);
    const auto k = parse_jwk(test::cached_test_key(a).jwk);
    ASSERT_TRUE(k) << alg_name(a) << ": " << label(k.error());
    EXPECT_EQ(k->algs, alg_set{a});
    EXPECT_EQ(k->thumbprint.size(), 43u);
  }
}

TEST(JwksParsing, LoadsUsableKeysAndReportsTheRest) {
  const auto& rs = test::cached_test_key(jws_alg::RS256);
  const auto& es = test::cached_test_key(jws_alg::ES256);
  const evp_pkey_ptr small(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
  json::object private_ec = obj(kRfc7515EcJwk);
  private_ec["kid"] = "private";
  private_ec["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  json::object odd_curve = obj(kRfc8037Jwk);
  odd_curve["crv"] = "Ed448";
  odd_curve["kid"] = "ed448";
  const json::object doc{
      {"keys", json::array{rs.jwk, json::object{{"kty", "oct"}, {"kid", "hmac"}, {"k", "AAAA"}},
                           test::public_jwk(small.get(), "rsa1024"), es.jwk, private_ec, odd_curve,
                           "not a key"}}};

  const auto r = parse_jwks(json::serialize(doc));
  ASSERT_TRUE(r) << label(r.error());
  ASSERT_EQ(r->keys->size(), 2u);
  EXPECT_EQ(r->keys->keys()[0]->kid, rs.kid);
  EXPECT_EQ(r->keys->keys()[1]->kid, es.kid);
  ASSERT_EQ(r->skipped.size(), 5u);
  EXPECT_EQ(r->skipped[0].kid, "hmac");
  EXPECT_EQ(r->skipped[0].reason, auth_error::key_unsupported);
  EXPECT_EQ(r->skipped[1].kid, "rsa1024");
  EXPECT_EQ(r->skipped[1].reason, auth_error::key_too_weak);
  EXPECT_EQ(r->skipped[2].kid, "private");
  EXPECT_EQ(r->skipped[2].reason, auth_error::key_unsupported);
  EXPECT_EQ(r->skipped[3].kid, "ed448");
  EXPECT_EQ(r->skipped[3].reason, auth_error::key_unsupported);
  EXPECT_EQ(r->skipped[4].reason, auth_error::key_invalid);
}

TEST(JwksParsing, RefusesDocumentsWithoutUsableKeys) {
  for (std::string_view text :
       {R"({"keys":[]})", R"({"keys":{}})", R"({"kty":"RSA"})", R"([])",
        R"({"keys":[{"kty":"oct","k":"AAAA"}]})", "{", "", R"({"keys":[],"keys":[]})"}) {
    const auto r = parse_jwks(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), auth_error::jwks_invalid) << text;
  }
}

TEST(JwksParsing, CapsTheNumberOfKeys) {
  const auto& es = test::cached_test_key(jws_alg::ES256);
  json::array keys;
  for (int i = 0; i < 5; ++i) {
    json::object k = es.jwk;
    k["kid"] = "k" + std::to_string(i);
    keys.push_back(k);
  }
  const auto r = parse_jwks(json::object{{"keys", keys}}, jwk_policy{2048, 3});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->keys->size(), 3u);
  ASSERT_EQ(r->skipped.size(), 2u);
  EXPECT_EQ(r->skipped[1].kid, "k4");
  EXPECT_EQ(r->skipped[1].reason, auth_error::jwks_invalid);
}

TEST(JwksDuplicateKids, DifferentKeysUnderOneKidAndAlgAreAllDropped) {
  const auto a = test::make_test_key(jws_alg::ES256, "same");
  const auto b = test::make_test_key(jws_alg::ES256, "same");
  const auto& other = test::cached_test_key(jws_alg::ES384);
  const auto r = parse_jwks(test::jwks_json({&a, &b, &other}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->keys->size(), 1u);
  EXPECT_EQ(r->keys->keys()[0]->kid, other.kid);
  ASSERT_EQ(r->skipped.size(), 2u);
  EXPECT_EQ(r->skipped[0].reason, auth_error::key_invalid);
  EXPECT_EQ(r->keys->find("same", jws_alg::ES256), nullptr);
}

TEST(JwksDuplicateKids, ExactRepeatKeepsOneKey) {
  const auto& a = test::cached_test_key(jws_alg::ES256);
  const auto r = parse_jwks(test::jwks_json({&a, &a}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->keys->size(), 1u);
  EXPECT_NE(r->keys->find(a.kid, jws_alg::ES256), nullptr);
}

TEST(JwksDuplicateKids, KeysOfDisjointAlgorithmsShareAKid) {
  const auto rs = test::make_test_key(jws_alg::RS256, "shared");
  const auto es = test::make_test_key(jws_alg::ES256, "shared");
  const auto r = parse_jwks(test::jwks_json({&rs, &es}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->keys->size(), 2u);
  EXPECT_EQ(r->keys->find("shared", jws_alg::RS256)->kty, key_type::rsa);
  EXPECT_EQ(r->keys->find("shared", jws_alg::ES256)->kty, key_type::ec);
}

TEST(KeySetFind, MatchesKidAndAlgorithm) {
  const auto& rs = test::cached_test_key(jws_alg::RS256);
  const auto& es = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&rs, &es});
  EXPECT_EQ(keys->find(rs.kid, jws_alg::RS256)->kid, rs.kid);
  EXPECT_EQ(keys->find(rs.kid, jws_alg::PS256), nullptr);  // the key's alg is RS256 only
  EXPECT_EQ(keys->find("nope", jws_alg::RS256), nullptr);
  EXPECT_TRUE(keys->contains_kid(rs.kid));
  EXPECT_FALSE(keys->contains_kid("nope"));
}

TEST(KeySetFind, TokenWithoutKidNeedsExactlyOneCandidate) {
  const auto& rs = test::cached_test_key(jws_alg::RS256);
  const auto& es = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&rs, &es});
  EXPECT_EQ(keys->find("", jws_alg::ES256)->kid, es.kid);
  const auto es2 = test::make_test_key(jws_alg::ES256, "second");
  const auto two = test::key_set_of({&rs, &es, &es2});
  EXPECT_EQ(two->find("", jws_alg::ES256), nullptr);
  EXPECT_EQ(two->find("", jws_alg::RS256)->kid, rs.kid);
}

}  // namespace
}  // namespace oidc
