// SPDX-License-Identifier: Apache-2.0
// Known attacks on JWS verification, each asserting the exact reason it is refused: alg none,
// HMAC with the public key as secret, psychic ECDSA signatures, DER signatures, key-naming
// headers, crit, sizes, non-strict base64url, hostile JSON headers, key/alg confusion, and a
// bit-flip sweep over valid RS256 and ES256 signatures.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/jws.hpp"
#include "support/test_keys.hpp"

namespace oidc {
namespace {
namespace json = boost::json;

template <class T>
auth_error reason(const result<T>& r) {
  return r ? auth_error::ok : r.error();
}

class JwsAttack : public ::testing::Test {
 protected:
  const test::test_key& rs = test::cached_test_key(jws_alg::RS256);
  const test::test_key& es = test::cached_test_key(jws_alg::ES256);
  std::shared_ptr<const key_set> keys = test::key_set_of({&rs, &es});
  jws_verify_options options = [] {
    jws_verify_options o;
    o.allowed_algs = {jws_alg::RS256, jws_alg::PS256, jws_alg::ES256};
    return o;
  }();

  auth_error verify(std::string_view token) const {
    return reason(verify_jws(token, *keys, options));
  }

  // header_b64 '.' payload_b64 '.' signature computed by `key` over exactly those two parts.
  static std::string signed_raw(const test::test_key& key, jws_alg alg, std::string_view header_b64,
                                std::string_view payload_b64) {
    std::string input = std::string(header_b64) + "." + std::string(payload_b64);
    const auto sig = compute_signature(key.private_key.get(), alg, input);
    EXPECT_TRUE(sig);
    return input + "." + base64url_encode(*sig);
  }

  static std::string b64(std::string_view s) { return base64url_encode(s); }
  std::string payload_b64() const { return b64(R"({"sub":"alice","iss":"https://issuer"})"); }

  std::string header_b64(const test::test_key& key, jws_alg alg) const {
    return b64(json::serialize(json::object{{"alg", alg_name(alg)}, {"kid", key.kid}}));
  }
  std::string valid_rs256() const {
    return signed_raw(rs, jws_alg::RS256, header_b64(rs, jws_alg::RS256), payload_b64());
  }
  std::string valid_es256() const {
    return signed_raw(es, jws_alg::ES256, header_b64(es, jws_alg::ES256), payload_b64());
  }
};

std::string with_signature(std::string_view token, const std::vector<std::uint8_t>& sig) {
  return std::string(token.substr(0, token.rfind('.') + 1)) + base64url_encode(sig);
}

std::vector<std::uint8_t> signature_of(std::string_view token) {
  const std::string s = base64url_decode(token.substr(token.rfind('.') + 1)).value();
  return {s.begin(), s.end()};
}

TEST_F(JwsAttack, ValidTokensVerify) {
  EXPECT_EQ(verify(valid_rs256()), auth_error::ok);
  EXPECT_EQ(verify(valid_es256()), auth_error::ok);
}

TEST_F(JwsAttack, RejectsAlgNone) {
  options.allowed_algs = alg_set::all();
  for (std::string_view alg : {"none", "None", "NONE", "nOnE"}) {
    const std::string h = b64(R"({"alg":")" + std::string(alg) + R"(","kid":"test-RS256"})");
    // RFC 7515 A.5 form: empty signature; and with signature bytes to reach the alg check.
    EXPECT_EQ(verify(h + "." + payload_b64() + "."), auth_error::malformed_token) << alg;
    EXPECT_EQ(verify(h + "." + payload_b64() + ".AAAA"), auth_error::alg_not_allowed) << alg;
  }
}

std::vector<std::uint8_t> hmac_sha256(std::string_view key, std::string_view data) {
  std::vector<std::uint8_t> out(32);
  std::size_t len = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
                      out.size(), &len),
            nullptr);
  out.resize(len);
  return out;
}

std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, ossl_deleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

TEST_F(JwsAttack, RejectsHs256SignedWithThePublicKeyAsSecret) {
  options.allowed_algs = alg_set::all();
  const std::string input = b64(R"({"alg":"HS256","kid":"test-RS256"})") + "." + payload_b64();
  const std::string modulus = base64url_decode(rs.jwk.at("n").as_string().c_str()).value();
  for (const std::string& secret : {rs.jwk_json(), public_pem(rs.private_key.get()), modulus}) {
    const std::string token = input + "." + base64url_encode(hmac_sha256(secret, input));
    EXPECT_EQ(verify(token), auth_error::alg_not_allowed);
  }
}

TEST_F(JwsAttack, RejectsPsychicEcdsaSignature) {
  // CVE-2022-21449: r = s = 0 satisfies a verifier that skips the range check.
  const std::string token = with_signature(valid_es256(), std::vector<std::uint8_t>(64, 0));
  EXPECT_EQ(verify(token), auth_error::signature_invalid);
  const auto key = parse_jwk(es.jwk).value();
  EXPECT_EQ(verify_signature(key, jws_alg::ES256, "a.b", std::vector<std::uint8_t>(64, 0)).error(),
            auth_error::signature_invalid);
  std::vector<std::uint8_t> r_zero = signature_of(valid_es256());
  std::fill(r_zero.begin(), r_zero.begin() + 32, 0);
  EXPECT_EQ(verify(with_signature(valid_es256(), r_zero)), auth_error::signature_invalid);
}

TEST_F(JwsAttack, RejectsDerEncodedEcdsaSignature) {
  const std::string input = header_b64(es, jws_alg::ES256) + "." + payload_b64();
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, es.private_key.get()), 1);
  std::vector<std::uint8_t> der(80);
  std::size_t len = der.size();
  ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  der.resize(len);
  ASSERT_EQ(der[0], 0x30);  // a genuine DER ECDSA-Sig-Value over the same input
  EXPECT_EQ(verify(input + "." + base64url_encode(der)), auth_error::signature_invalid);
}

TEST_F(JwsAttack, RejectsUnknownKid) {
  const std::string h = b64(R"({"alg":"RS256","kid":"someone-else"})");
  EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, h, payload_b64())), auth_error::kid_unknown);
}

TEST_F(JwsAttack, RejectsHeadersThatNameTheirOwnKey) {
  for (std::string_view member : {"jku", "x5u", "jwk", "x5c"}) {
    json::object header{{"alg", "RS256"}, {"kid", rs.kid}};
    if (member == "jwk") {
      header["jwk"] = rs.jwk;
    } else if (member == "x5c") {
      header["x5c"] = json::array{"MIIB"};
    } else {
      header[member] = "https://attacker.example/keys";
    }
    const std::string token =
        signed_raw(rs, jws_alg::RS256, b64(json::serialize(header)), payload_b64());
    EXPECT_EQ(verify(token), auth_error::header_forbidden) << member;
  }
}

TEST_F(JwsAttack, RejectsAnyCritHeader) {
  for (std::string_view header :
       {R"({"alg":"RS256","kid":"test-RS256","crit":["exp"],"exp":1})",
        R"({"alg":"RS256","kid":"test-RS256","crit":["b64"],"b64":false})",
        R"({"alg":"RS256","kid":"test-RS256","crit":[]})"}) {
    EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, b64(header), payload_b64())),
              auth_error::crit_unsupported)
        << header;
  }
}

TEST_F(JwsAttack, RejectsOversizedToken) {
  const std::string token = valid_rs256();
  options.max_token_bytes = token.size();
  EXPECT_EQ(verify(token), auth_error::ok);
  options.max_token_bytes = token.size() - 1;
  EXPECT_EQ(verify(token), auth_error::token_too_large);
  options.max_token_bytes = 16 * 1024;
  const std::string huge = header_b64(rs, jws_alg::RS256) + "." + std::string(16 * 1024, 'A') +
                           "." + std::string(342, 'A');
  EXPECT_EQ(verify(huge), auth_error::token_too_large);
}

TEST_F(JwsAttack, RejectsOversizedHeaderAndSignatureBeforeDecoding) {
  const std::string big_header = b64(R"({"alg":"RS256","x":")" + std::string(9000, 'a') + "\"}");
  EXPECT_EQ(verify(big_header + "." + payload_b64() + ".AAAA"), auth_error::json_too_large);
  const std::string long_sig =
      header_b64(rs, jws_alg::RS256) + "." + payload_b64() + "." + std::string(2000, 'A');
  EXPECT_EQ(verify(long_sig), auth_error::signature_invalid);
}

TEST_F(JwsAttack, RejectsNonStrictBase64InEveryPart) {
  const std::string token = valid_rs256();  // 342-char signature: remainder 2
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = token.find('.', d1 + 1);
  const std::string h = token.substr(0, d1);
  const std::string p = token.substr(d1 + 1, d2 - d1 - 1);
  const std::string s = token.substr(d2 + 1);
  ASSERT_EQ(s.size() % 4, 2u);

  const auto at_sig = [&](std::string sig) { return h + "." + p + "." + sig; };
  EXPECT_EQ(verify(at_sig(s + "==")), auth_error::base64_invalid);  // standard padding
  for (char c : {'-', '_'}) {
    const std::size_t i = s.find(c);
    ASSERT_NE(i, std::string::npos);
    std::string alt = s;
    alt[i] = c == '-' ? '+' : '/';  // standard alphabet
    EXPECT_EQ(verify(at_sig(alt)), auth_error::base64_invalid) << c;
  }
  for (std::string_view ws : {" ", "\n", "\t", "\r\n"}) {
    std::string spaced = s;
    spaced.insert(100, ws);
    EXPECT_EQ(verify(at_sig(spaced)), auth_error::base64_invalid);
    std::string spaced_header = h;
    spaced_header.insert(4, ws);
    EXPECT_EQ(verify(spaced_header + "." + p + "." + s), auth_error::base64_invalid);
  }
  // Non-canonical trailing bits: the last character of a 2-remainder part carries 4 unused bits.
  std::string trailing = s;
  trailing.back() = static_cast<char>(trailing.back() == 'A' ? 'B' : trailing.back() + 1);
  EXPECT_EQ(verify(at_sig(trailing)), auth_error::base64_invalid);
  EXPECT_EQ(verify(at_sig(s.substr(0, s.size() - 1))), auth_error::base64_invalid);  // length%4==1

  // Header: standard base64 would pad it to a multiple of 4.
  ASSERT_NE(h.size() % 4, 0u);
  EXPECT_EQ(verify(h + std::string(4 - h.size() % 4, '=') + "." + p + "." + s),
            auth_error::base64_invalid);
  std::string header_bits = h;
  header_bits.back() = static_cast<char>(header_bits.back() + 1);
  EXPECT_EQ(verify(header_bits + "." + p + "." + s), auth_error::base64_invalid);

  // Payload: decoded only after the signature, so sign the broken encoding itself.
  const std::string header = header_b64(rs, jws_alg::RS256);
  const std::string payload = b64(R"({"sub":"alice!"})");  // remainder 2
  ASSERT_EQ(payload.size() % 4, 2u);
  std::string payload_bits = payload;
  payload_bits.back() = static_cast<char>(payload_bits.back() + 1);
  for (const std::string& broken : {payload + "==", payload_bits, "+" + payload.substr(1),
                                    payload.substr(0, 5) + " " + payload.substr(5)}) {
    EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, header, broken)), auth_error::base64_invalid)
        << broken;
  }
  EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, header, payload)), auth_error::ok);
}

TEST_F(JwsAttack, RejectsDeeplyNestedHeader) {
  const std::string deep = R"({"alg":"RS256","kid":"test-RS256","x":)" + std::string(40, '[') +
                           std::string(40, ']') + "}";
  EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, b64(deep), payload_b64())),
            auth_error::json_too_deep);
}

TEST_F(JwsAttack, RejectsDuplicateHeaderMembers) {
  for (std::string_view header : {R"({"alg":"RS256","alg":"none","kid":"test-RS256"})",
                                  R"({"alg":"none","alg":"RS256","kid":"test-RS256"})",
                                  R"({"alg":"RS256","kid":"test-RS256","kid":"other"})"}) {
    EXPECT_EQ(verify(signed_raw(rs, jws_alg::RS256, b64(header), payload_b64())),
              auth_error::json_duplicate_member)
        << header;
  }
}

TEST_F(JwsAttack, RejectsWrongNumberOfParts) {
  const std::string t = valid_rs256();
  const std::string h = t.substr(0, t.find('.'));
  EXPECT_EQ(verify(h), auth_error::malformed_token);
  EXPECT_EQ(verify(t.substr(0, t.rfind('.'))), auth_error::malformed_token);
  EXPECT_EQ(verify(t + ".AAAA"), auth_error::malformed_token);
  EXPECT_EQ(verify(h + ".AAAA.AAAA.AAAA.AAAA"), auth_error::malformed_token);  // JWE shape
  EXPECT_EQ(verify(""), auth_error::malformed_token);
}

TEST_F(JwsAttack, RejectsAlgAllowedForIssuerThatTheKeyDoesNotDeclare) {
  // The RSA key's JWK says alg RS256; PS256 is allowed for the issuer, and the PSS signature is
  // genuine, but RFC 7517 §4.4 binds the key to RS256.
  const std::string h = b64(R"({"alg":"PS256","kid":"test-RS256"})");
  const std::string token = signed_raw(rs, jws_alg::PS256, h, payload_b64());
  EXPECT_EQ(verify(token), auth_error::key_use_mismatch);
  json::object any_rsa_alg = rs.jwk;
  any_rsa_alg.erase("alg");
  auto k = parse_jwk(any_rsa_alg).value();
  std::vector<std::shared_ptr<const jwk>> v{std::make_shared<const jwk>(std::move(k))};
  EXPECT_EQ(reason(verify_jws(token, key_set(std::move(v)), options)), auth_error::ok);
}

TEST_F(JwsAttack, RejectsTokenWhoseKidNamesAKeyOfAnotherType) {
  // ES256 header pointing at the RSA key's kid.
  const std::string h = b64(R"({"alg":"ES256","kid":"test-RS256"})");
  EXPECT_EQ(verify(signed_raw(es, jws_alg::ES256, h, payload_b64())), auth_error::key_use_mismatch);
}

TEST_F(JwsAttack, RejectsKeyPublishedForEncryption) {
  json::object enc = rs.jwk;
  enc["use"] = "enc";
  EXPECT_EQ(parse_jwk(enc).error(), auth_error::key_use_mismatch);
  const auto r = parse_jwks(json::serialize(json::object{{"keys", json::array{enc, es.jwk}}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].reason, auth_error::key_use_mismatch);
  EXPECT_EQ(reason(verify_jws(valid_rs256(), *r->keys, options)), auth_error::kid_unknown);
}

TEST_F(JwsAttack, EveryBitFlipOfAnRs256SignatureIsInvalid) {
  const std::string token = valid_rs256();
  const std::vector<std::uint8_t> sig = signature_of(token);
  ASSERT_EQ(sig.size(), 256u);
  std::size_t rejected = 0;
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    std::vector<std::uint8_t> flipped = sig;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const auto r = verify(with_signature(token, flipped));
    EXPECT_EQ(r, auth_error::signature_invalid) << "bit " << bit;
    rejected += r == auth_error::signature_invalid;
  }
  EXPECT_EQ(rejected, 2048u);
}

TEST_F(JwsAttack, EveryBitFlipOfAnEs256SignatureIsInvalid) {
  const std::string token = valid_es256();
  const std::vector<std::uint8_t> sig = signature_of(token);
  ASSERT_EQ(sig.size(), 64u);
  std::size_t rejected = 0;
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    std::vector<std::uint8_t> flipped = sig;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const auto r = verify(with_signature(token, flipped));
    EXPECT_EQ(r, auth_error::signature_invalid) << "bit " << bit;
    rejected += r == auth_error::signature_invalid;
  }
  EXPECT_EQ(rejected, 512u);
}

TEST_F(JwsAttack, RejectsSignatureOfTheWrongLength) {
  for (const std::string& token : {valid_rs256(), valid_es256()}) {
    std::vector<std::uint8_t> sig = signature_of(token);
    std::vector<std::uint8_t> longer = sig;
    longer.push_back(0);
    std::vector<std::uint8_t> prefixed = sig;
    prefixed.insert(prefixed.begin(), 0);
    std::vector<std::uint8_t> shorter(sig.begin(), sig.end() - 1);
    EXPECT_EQ(verify(with_signature(token, longer)), auth_error::signature_invalid);
    EXPECT_EQ(verify(with_signature(token, prefixed)), auth_error::signature_invalid);
    EXPECT_EQ(verify(with_signature(token, shorter)), auth_error::signature_invalid);
  }
}

TEST_F(JwsAttack, RejectsSignatureMovedToAnotherPayload) {
  const std::string token = valid_rs256();
  const std::string other = header_b64(rs, jws_alg::RS256) + "." +
                            b64(R"({"sub":"mallory","iss":"https://issuer"})") +
                            token.substr(token.rfind('.'));
  EXPECT_EQ(verify(other), auth_error::signature_invalid);
}

TEST_F(JwsAttack, RejectsSignatureByAnotherKeyUnderTheSameKid) {
  const auto impostor = test::make_test_key(jws_alg::ES256, es.kid);
  EXPECT_EQ(
      verify(signed_raw(impostor, jws_alg::ES256, header_b64(es, jws_alg::ES256), payload_b64())),
      auth_error::signature_invalid);
}

}  // namespace
}  // namespace oidc
