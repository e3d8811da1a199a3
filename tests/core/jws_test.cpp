// SPDX-License-Identifier: Apache-2.0
// JWS compact verification and signing: RFC 7515 A.2-A.4 and RFC 8037 A.4 examples, sign/verify
// round trips for every algorithm, the documented order of checks, and the returned header.
#include "oidc/jws.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "support/test_keys.hpp"

namespace oidc {
namespace {
namespace json = boost::json;

// RFC 7515 A.2 (RS256): public part of the A.2.1 key and the A.2.1 token (no kid).
constexpr std::string_view kRfc7515RsaJwk =
    R"({"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"})";
constexpr std::string_view kRfc7515RsaToken =
    "eyJhbGciOiJSUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
    "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUi"
    "pUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

// RFC 7515 A.3 (ES256).
constexpr std::string_view kRfc7515EcJwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
constexpr std::string_view kRfc7515EcToken =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// RFC 7515 A.4 (ES512, payload "Payload").
constexpr std::string_view kRfc7515P521Jwk =
    R"({"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"})";
constexpr std::string_view kRfc7515P521Token =
    "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA"
    ".AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8G"
    "aSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

// RFC 8037 A.2 public key and A.4 token (EdDSA, payload "Example of Ed25519 signing").
constexpr std::string_view kRfc8037Jwk =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kRfc8037Token =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::shared_ptr<const key_set> set_from_jwk(std::string_view jwk_json) {
  auto k = parse_jwk(json::parse(jwk_json).as_object());
  EXPECT_TRUE(k) << label(k.error());
  std::vector<std::shared_ptr<const jwk>> keys;
  keys.push_back(std::make_shared<const jwk>(std::move(*k)));
  return std::make_shared<const key_set>(std::move(keys));
}

jws_verify_options allow(alg_set algs) {
  jws_verify_options o;
  o.allowed_algs = algs;
  return o;
}

template <class T>
auth_error reason(const result<T>& r) {
  return r ? auth_error::ok : r.error();
}

TEST(JwsRfcExamples, Rfc7515A2Rs256Verifies) {
  const auto keys = set_from_jwk(kRfc7515RsaJwk);
  const auto v = verify_jws(kRfc7515RsaToken, *keys, allow({jws_alg::RS256}));
  ASSERT_TRUE(v) << label(v.error());
  EXPECT_EQ(v->header.alg, jws_alg::RS256);
  EXPECT_EQ(v->header.kid, "");
  EXPECT_EQ(v->payload.at("iss").as_string(), "joe");
  EXPECT_EQ(v->payload.at("exp").as_int64(), 1300819380);
  EXPECT_TRUE(v->payload.at("http://example.com/is_root").as_bool());
  EXPECT_EQ(v->key, keys->keys()[0].get());
}

TEST(JwsRfcExamples, Rfc7515A3Es256Verifies) {
  const auto keys = set_from_jwk(kRfc7515EcJwk);
  const auto v = verify_jws(kRfc7515EcToken, *keys, allow({jws_alg::ES256}));
  ASSERT_TRUE(v) << label(v.error());
  EXPECT_EQ(v->header.alg, jws_alg::ES256);
  EXPECT_EQ(v->payload.at("iss").as_string(), "joe");
}

TEST(JwsRfcExamples, Rfc7515A4Es512Verifies) {
  const auto keys = set_from_jwk(kRfc7515P521Jwk);
  const auto v = verify_jws_bytes(kRfc7515P521Token, *keys, allow({jws_alg::ES512}));
  ASSERT_TRUE(v) << label(v.error());
  EXPECT_EQ(v->payload, "Payload");
  // The payload is not a JSON object, so the claims API refuses it after the signature.
  EXPECT_EQ(reason(verify_jws(kRfc7515P521Token, *keys, allow({jws_alg::ES512}))),
            auth_error::json_invalid);
}

TEST(JwsRfcExamples, Rfc8037A4EdDsaVerifies) {
  const auto keys = set_from_jwk(kRfc8037Jwk);
  const auto v = verify_jws_bytes(kRfc8037Token, *keys, allow({jws_alg::EdDSA}));
  ASSERT_TRUE(v) << label(v.error());
  EXPECT_EQ(v->header.alg, jws_alg::EdDSA);
  EXPECT_EQ(v->payload, "Example of Ed25519 signing");
}

TEST(JwsRfcExamples, RfcTokensFailUnderAnotherRfcKey) {
  const auto keys = set_from_jwk(kRfc7515RsaJwk);
  jws_verify_options o = allow(alg_set::all());
  EXPECT_EQ(reason(verify_jws(kRfc7515EcToken, *keys, o)), auth_error::kid_unknown);
}

TEST(JwsSignAndVerify, RoundTripsEveryAlgorithm) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(jws_alg::count_); ++i) {
    const auto alg = static_cast<jws_alg>(i);
    const auto& k = test::cached_test_key(alg);
    const auto keys = test::key_set_of({&k});
    const auto token = test::sign_test_token(k, {{"sub", "alice"}, {"n", 42}});
    ASSERT_TRUE(token) << alg_name(alg) << ": " << label(token.error());
    const auto v = verify_jws(*token, *keys, allow({alg}));
    ASSERT_TRUE(v) << alg_name(alg) << ": " << label(v.error());
    EXPECT_EQ(v->header.alg, alg);
    EXPECT_EQ(v->header.kid, k.kid);
    EXPECT_EQ(v->header.typ, "JWT");
    EXPECT_EQ(v->payload.at("sub").as_string(), "alice");
    EXPECT_EQ(v->key->kid, k.kid);
  }
}

TEST(JwsSigning, EcdsaSignaturesAreRawRAndSOfFieldSize) {
  const std::pair<jws_alg, std::size_t> cases[] = {
      {jws_alg::ES256, 64}, {jws_alg::ES384, 96}, {jws_alg::ES512, 132}};
  for (const auto& [alg, size] : cases) {
    for (int i = 0; i < 8; ++i) {  // short r or s must still be left-padded
      const auto sig =
          compute_signature(test::cached_test_key(alg).private_key.get(), alg, "input");
      ASSERT_TRUE(sig);
      EXPECT_EQ(sig->size(), size) << alg_name(alg);
    }
  }
}

TEST(JwsSigning, PssSignaturesAreRandomisedAndVerify) {
  const auto& k = test::cached_test_key(jws_alg::PS384);
  const auto a = compute_signature(k.private_key.get(), jws_alg::PS384, "x.y");
  const auto b = compute_signature(k.private_key.get(), jws_alg::PS384, "x.y");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  const auto key = parse_jwk(k.jwk).value();
  EXPECT_TRUE(verify_signature(key, jws_alg::PS384, "x.y", *a));
  EXPECT_EQ(verify_signature(key, jws_alg::PS384, "x.z", *a).error(),
            auth_error::signature_invalid);
}

TEST(JwsSigning, RefusesAKeyThatDoesNotFitTheAlgorithm) {
  const auto& ec = test::cached_test_key(jws_alg::ES256);
  const auto& rsa = test::cached_test_key(jws_alg::RS256);
  EXPECT_EQ(reason(compute_signature(ec.private_key.get(), jws_alg::RS256, "a.b")),
            auth_error::key_use_mismatch);
  EXPECT_EQ(reason(compute_signature(ec.private_key.get(), jws_alg::ES384, "a.b")),
            auth_error::key_use_mismatch);
  EXPECT_EQ(reason(compute_signature(rsa.private_key.get(), jws_alg::EdDSA, "a.b")),
            auth_error::key_use_mismatch);
  const evp_pkey_ptr small(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
  EXPECT_EQ(reason(compute_signature(small.get(), jws_alg::RS256, "a.b")),
            auth_error::key_too_weak);
}

TEST(JwsSigning, HeaderMustNameTheSigningAlgorithm) {
  const auto& k = test::cached_test_key(jws_alg::ES256);
  EXPECT_EQ(reason(sign_compact({{"alg", "ES384"}}, {}, k.private_key.get(), jws_alg::ES256)),
            auth_error::internal_error);
  EXPECT_EQ(reason(sign_compact({{"kid", "x"}}, {}, k.private_key.get(), jws_alg::ES256)),
            auth_error::internal_error);
}

TEST(JwsSigning, PreparedContextSignsEveryAlgorithmRepeatedly) {
  for (const jws_alg alg :
       {jws_alg::RS256, jws_alg::PS256, jws_alg::ES256, jws_alg::ES384, jws_alg::EdDSA}) {
    const auto& k = test::cached_test_key(alg);
    const auto prepared = make_sign_context(k.private_key.get(), alg);
    if (alg == jws_alg::EdDSA && !prepared) continue;  // a provider that cannot copy: caller signs
    ASSERT_NE(prepared, nullptr) << alg_name(alg);
    const boost::json::object header{{"alg", alg_name(alg)}, {"kid", k.kid}};
    const auto keys = test::key_set_of({&k});
    // The context is only copied: the same one signs again, and ECDSA signatures differ.
    const auto first = sign_compact_prepared(header, {{"sub", "a"}}, prepared.get(), alg);
    const auto second = sign_compact_prepared(header, {{"sub", "a"}}, prepared.get(), alg);
    ASSERT_TRUE(first && second) << alg_name(alg);
    EXPECT_TRUE(verify_jws(*first, *keys, allow({alg}))) << alg_name(alg);
    EXPECT_TRUE(verify_jws(*second, *keys, allow({alg}))) << alg_name(alg);
    if (alg == jws_alg::ES256) {
      EXPECT_NE(*first, *second);
    }
  }
}

TEST(JwsSigning, PreparedContextRefusesAKeyThatDoesNotFit) {
  const auto& rsa = test::cached_test_key(jws_alg::RS256);
  EXPECT_EQ(make_sign_context(rsa.private_key.get(), jws_alg::ES256), nullptr);
  EXPECT_EQ(make_sign_context(nullptr, jws_alg::RS256), nullptr);
  const auto& ec = test::cached_test_key(jws_alg::ES256);
  const auto prepared = make_sign_context(ec.private_key.get(), jws_alg::ES256);
  ASSERT_NE(prepared, nullptr);
  EXPECT_EQ(reason(sign_compact_prepared({{"alg", "ES384"}}, {}, prepared.get(), jws_alg::ES256)),
            auth_error::internal_error);
  EXPECT_EQ(reason(sign_compact_prepared({{"alg", "ES256"}}, {}, nullptr, jws_alg::ES256)),
            auth_error::internal_error);
}

TEST(JwsSigning, SignCompactBytesKeepsHeaderTextVerbatim) {
  const auto& k = test::cached_test_key(jws_alg::EdDSA);
  const auto token = sign_compact_bytes(R"({"alg":"EdDSA","kid":"test-EdDSA"})", "not json",
                                        k.private_key.get(), jws_alg::EdDSA);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->substr(0, token->find('.')),
            base64url_encode(std::string_view(R"({"alg":"EdDSA","kid":"test-EdDSA"})")));
  const auto v = verify_jws_bytes(*token, *test::key_set_of({&k}), allow({jws_alg::EdDSA}));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload, "not json");
}

TEST(JwsSplit, AcceptsEmptyPayloadOnly) {
  const auto p = split_compact("aGVhZGVy..c2ln", 100);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header_b64, "aGVhZGVy");
  EXPECT_EQ(p->payload_b64, "");
  EXPECT_EQ(p->signature_b64, "c2ln");
  EXPECT_EQ(p->signing_input, "aGVhZGVy.");
  for (std::string_view bad : {"", ".", "..", "a.b", ".b.c", "a.b.", "a.b.c.d", "a.b.c.d.e",
                               R"({"payload":"Zm9v","signatures":[]})"}) {
    EXPECT_EQ(reason(split_compact(bad, 100)), auth_error::malformed_token) << bad;
  }
  EXPECT_EQ(reason(split_compact("a.b.c", 4)), auth_error::token_too_large);
}

TEST(JwsVerification, AlgorithmOutsideTheAllowListIsRefused) {
  const auto& k = test::cached_test_key(jws_alg::ES256);
  const auto token = test::sign_test_token(k, {{"sub", "a"}}).value();
  const auto keys = test::key_set_of({&k});
  EXPECT_EQ(reason(verify_jws(token, *keys, allow({jws_alg::RS256, jws_alg::ES384}))),
            auth_error::alg_not_allowed);
  EXPECT_EQ(reason(verify_jws(token, *keys, jws_verify_options{})), auth_error::alg_not_allowed);
}

TEST(JwsVerification, TokenWithoutKidIsAmbiguousAmongSeveralKeys) {
  const auto a = test::make_test_key(jws_alg::ES256, "a");
  const auto b = test::make_test_key(jws_alg::ES256, "b");
  const auto token =
      sign_compact({{"alg", "ES256"}}, {{"sub", "x"}}, a.private_key.get(), jws_alg::ES256).value();
  EXPECT_EQ(reason(verify_jws(token, *test::key_set_of({&a, &b}), allow({jws_alg::ES256}))),
            auth_error::kid_unknown);
  EXPECT_TRUE(verify_jws(token, *test::key_set_of({&a}), allow({jws_alg::ES256})));
}

TEST(JwsVerification, PayloadMustBeAJsonObjectWithinLimits) {
  const auto& k = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&k});
  const std::string header = R"({"alg":"ES256","kid":"test-ES256"})";
  const auto array_payload =
      sign_compact_bytes(header, "[1,2]", k.private_key.get(), jws_alg::ES256).value();
  EXPECT_EQ(reason(verify_jws(array_payload, *keys, allow({jws_alg::ES256}))),
            auth_error::json_invalid);
  const auto dup_payload =
      sign_compact_bytes(header, R"({"sub":"a","sub":"b"})", k.private_key.get(), jws_alg::ES256)
          .value();
  EXPECT_EQ(reason(verify_jws(dup_payload, *keys, allow({jws_alg::ES256}))),
            auth_error::json_duplicate_member);
  const auto big = sign_compact_bytes(header, R"({"x":")" + std::string(9000, 'a') + R"("})",
                                      k.private_key.get(), jws_alg::ES256)
                       .value();
  EXPECT_EQ(reason(verify_jws(big, *keys, allow({jws_alg::ES256}))), auth_error::json_too_large);
}

TEST(JwsVerification, ReportsKeyUseMismatchForAKidWhoseKeyCannotVerifyTheAlg) {
  const auto& rs = test::cached_test_key(jws_alg::RS256);
  const auto token =
      sign_compact({{"alg", "RS384"}, {"kid", rs.kid}}, {}, rs.private_key.get(), jws_alg::RS384)
          .value();
  EXPECT_EQ(reason(verify_jws(token, *test::key_set_of({&rs}), allow(alg_set::all()))),
            auth_error::key_use_mismatch);
}

TEST(JwsVerification, HeaderMembersMustHaveTheirTypes) {
  const auto& k = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&k});
  for (std::string_view header :
       {R"({"kid":"test-ES256"})", R"({"alg":1,"kid":"test-ES256"})", R"({"alg":"ES256","kid":7})",
        R"({"alg":"ES256","kid":"test-ES256","typ":["JWT"]})"}) {
    const std::string token =
        base64url_encode(header) + ".e30." + base64url_encode(std::string(64, '\x01'));
    EXPECT_EQ(reason(verify_jws(token, *keys, allow(alg_set::all()))), auth_error::malformed_token)
        << header;
  }
  const std::string not_object = base64url_encode(std::string_view("[]")) + ".e30.AAAA";
  EXPECT_EQ(reason(verify_jws(not_object, *keys, allow(alg_set::all()))), auth_error::json_invalid);
}

TEST(JwsVerification, UnknownAlgorithmIsUnsupportedButNoneAndHmacAreNotAllowed) {
  const auto keys = test::key_set_of({&test::cached_test_key(jws_alg::ES256)});
  const auto token_with = [](std::string_view alg) {
    return base64url_encode(R"({"alg":")" + std::string(alg) + R"("})") + ".e30.AAAA";
  };
  for (std::string_view alg : {"ES256K", "RS1", "Ed25519", "PS256 "}) {
    EXPECT_EQ(reason(verify_jws(token_with(alg), *keys, allow(alg_set::all()))),
              auth_error::alg_unsupported)
        << alg;
  }
  for (std::string_view alg : {"none", "None", "NONE", "HS256", "HS384", "HS512", "hs256"}) {
    EXPECT_EQ(reason(verify_jws(token_with(alg), *keys, allow(alg_set::all()))),
              auth_error::alg_not_allowed)
        << alg;
  }
}

TEST(JwsVerification, VerifySignatureRefusesAlgorithmsTheKeyMayNotVerify) {
  const auto key = parse_jwk(test::cached_test_key(jws_alg::RS256).jwk).value();
  const std::vector<std::uint8_t> sig(256, 1);
  EXPECT_EQ(verify_signature(key, jws_alg::PS256, "a.b", sig).error(),
            auth_error::key_use_mismatch);
  EXPECT_EQ(verify_signature(key, jws_alg::RS256, "a.b", sig).error(),
            auth_error::signature_invalid);
  jwk empty;
  EXPECT_EQ(verify_signature(empty, jws_alg::RS256, "a.b", sig).error(),
            auth_error::key_use_mismatch);
}

TEST(JwsVerification, PreparedContextsAndPerCallInitialisationAgree) {
  for (jws_alg alg : {jws_alg::RS256, jws_alg::PS512, jws_alg::ES384, jws_alg::EdDSA}) {
    const auto& k = test::cached_test_key(alg);
    auto key = parse_jwk(k.jwk).value();
    EXPECT_NE(key.verify_contexts[static_cast<std::size_t>(alg)], nullptr) << alg_name(alg);
    const auto sig = compute_signature(k.private_key.get(), alg, "h.p").value();
    EXPECT_TRUE(verify_signature(key, alg, "h.p", sig)) << alg_name(alg);
    EXPECT_EQ(verify_signature(key, alg, "h.q", sig).error(), auth_error::signature_invalid);
    for (auto& c : key.verify_contexts)
      c.reset();  // as for a jwk built by hand
    EXPECT_TRUE(verify_signature(key, alg, "h.p", sig)) << alg_name(alg);
    EXPECT_EQ(verify_signature(key, alg, "h.q", sig).error(), auth_error::signature_invalid);
  }
}

TEST(JwsVerification, PreparedContextIsReusedAcrossVerificationsAndThreads) {
  const auto& k = test::cached_test_key(jws_alg::PS256);
  const auto keys = test::key_set_of({&k});
  const auto good = test::sign_test_token(k, {{"sub", "a"}}).value();
  const std::string bad = good.substr(0, good.size() - 2) + (good.back() == 'A' ? "BA" : "AA");
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        ok += verify_jws(good, *keys, allow({jws_alg::PS256})) ? 1 : 0;
        refused +=
            reason(verify_jws(bad, *keys, allow({jws_alg::PS256}))) == auth_error::signature_invalid
                ? 1
                : 0;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(refused.load(), 100);
}

}  // namespace
}  // namespace oidc

namespace oidc {
namespace {

std::string token_with_header(std::string_view header_json) {
  return base64url_encode(header_json) + ".e30.c2ln";
}

// A peeked token verifies exactly as the token itself: same result, same reason, same header.
TEST(PeekedJws, VerifiesWithTheSameResultsAsTheToken) {
  const auto& es = test::cached_test_key(jws_alg::ES256);
  const auto& rs = test::cached_test_key(jws_alg::RS256);
  const auto keys = test::key_set_of({&es, &rs});
  const auto es_token = test::sign_test_token(es, {{"sub", "a"}}).value();
  const auto rs_token = test::sign_test_token(rs, {{"sub", "b"}}).value();
  std::string tampered = rs_token;
  tampered[tampered.size() - 10] = tampered[tampered.size() - 10] == 'A' ? 'B' : 'A';
  const auto stranger = test::make_test_key(jws_alg::ES256, "stranger");
  const auto unknown_kid = test::sign_test_token(stranger, {{"sub", "c"}}).value();
  const auto both = allow({jws_alg::ES256, jws_alg::RS256});
  const auto rs_only = allow({jws_alg::RS256});
  auto small = both;
  small.max_token_bytes = 64;
  struct row {
    const std::string* token;
    const jws_verify_options* options;
  };
  for (const row r : {row{&es_token, &both}, row{&rs_token, &both}, row{&tampered, &both},
                      row{&unknown_kid, &both}, row{&es_token, &rs_only}, row{&rs_token, &small}}) {
    const auto peeked = peek_jws(*r.token, 16 * 1024);
    ASSERT_TRUE(peeked) << label(peeked.error());
    EXPECT_EQ(peeked->token().data(), r.token->data());
    const auto direct = verify_jws_signature(*r.token, *keys, *r.options);
    const auto via_peek = verify_jws_signature(*peeked, *keys, *r.options);
    ASSERT_EQ(direct.has_value(), via_peek.has_value()) << *r.token;
    if (direct) {
      EXPECT_EQ(via_peek->alg, direct->alg);
      EXPECT_EQ(via_peek->kid, direct->kid);
      EXPECT_EQ(via_peek->typ, direct->typ);
    } else {
      EXPECT_EQ(via_peek.error(), direct.error()) << label(direct.error());
    }
  }
  EXPECT_TRUE(verify_jws_signature(*peek_jws(rs_token, 16 * 1024), *keys, both));
  EXPECT_EQ(reason(verify_jws_signature(*peek_jws(tampered, 16 * 1024), *keys, both)),
            auth_error::signature_invalid);
  EXPECT_EQ(reason(verify_jws_signature(*peek_jws(unknown_kid, 16 * 1024), *keys, both)),
            auth_error::kid_unknown);
  EXPECT_EQ(reason(verify_jws_signature(*peek_jws(es_token, 16 * 1024), *keys, rs_only)),
            auth_error::alg_not_allowed);
  EXPECT_EQ(reason(verify_jws_signature(*peek_jws(rs_token, 16 * 1024), *keys, small)),
            auth_error::token_too_large);
}

// The peeked header was read under kJoseJsonLimits; stricter header limits are applied anyway.
TEST(PeekedJws, StricterHeaderLimitsReadTheHeaderAgain) {
  const auto& k = test::cached_test_key(jws_alg::ES256);
  const auto keys = test::key_set_of({&k});
  const auto token = test::sign_test_token(k, {{"sub", "a"}}).value();
  auto strict = allow({jws_alg::ES256});
  strict.header_limits = json_limits{8, 8, 0};
  EXPECT_EQ(reason(verify_jws_signature(token, *keys, strict)), auth_error::json_too_large);
  EXPECT_EQ(reason(verify_jws_signature(*peek_jws(token, 16 * 1024), *keys, strict)),
            auth_error::json_too_large);
}

TEST(PeekedJws, RefusesWhatPeekJoseHeaderRefuses) {
  for (const std::string& t :
       {token_with_header(R"({"alg":"none"})"), token_with_header(R"({"alg":"XY999"})"),
        token_with_header(R"({"alg":"RS256","jku":"https://x"})"), std::string("only.two")}) {
    EXPECT_EQ(reason(peek_jws(t, 16 * 1024)), reason(peek_jose_header(t, 16 * 1024))) << t;
    EXPECT_NE(reason(peek_jws(t, 16 * 1024)), auth_error::ok) << t;
  }
  const auto ok = peek_jws(token_with_header(R"({"alg":"RS256","kid":"k1","typ":"JWT"})"), 1024);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->header().kid, "k1");
  EXPECT_EQ(ok->header().typ, "JWT");
}

TEST(PeekJoseHeader, ReadsAlgKidAndTypWithoutVerifying) {
  const auto h =
      peek_jose_header(token_with_header(R"({"alg":"RS256","kid":"k1","typ":"JWT"})"), 16 * 1024);
  ASSERT_TRUE(h.has_value()) << label(h.error());
  EXPECT_EQ(h->alg, jws_alg::RS256);
  EXPECT_EQ(h->kid, "k1");
  EXPECT_EQ(h->typ, "JWT");
}

TEST(PeekJoseHeader, RefusesWhatVerificationWouldRefuseInTheHeader) {
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"none"})"), 16 * 1024).error(),
            auth_error::alg_not_allowed);
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"HS256"})"), 16 * 1024).error(),
            auth_error::alg_not_allowed);
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"XY999"})"), 16 * 1024).error(),
            auth_error::alg_unsupported);
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"RS256","jku":"https://x"})"), 16 * 1024)
                .error(),
            auth_error::header_forbidden);
  EXPECT_EQ(
      peek_jose_header(token_with_header(R"({"alg":"RS256","crit":["b64"]})"), 16 * 1024).error(),
      auth_error::crit_unsupported);
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"RS256","kid":7})"), 16 * 1024).error(),
            auth_error::malformed_token);
  EXPECT_EQ(peek_jose_header("only.two", 16 * 1024).error(), auth_error::malformed_token);
  EXPECT_EQ(peek_jose_header(token_with_header(R"({"alg":"RS256"})"), 8).error(),
            auth_error::token_too_large);
  EXPECT_EQ(
      peek_jose_header(token_with_header(R"({"alg":"RS256","alg":"ES256"})"), 16 * 1024).error(),
      auth_error::json_duplicate_member);
}

}  // namespace
}  // namespace oidc
