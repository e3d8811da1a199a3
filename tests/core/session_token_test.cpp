// SPDX-License-Identifier: Apache-2.0
// Session tokens: round trip, claim checks with exact reasons, tokens of other keys and other
// shapes, key rotation, and the public JWKS document.
#include "oidc/session_token.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/jwk.hpp"
#include "oidc/jws.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::sys_seconds;

const sys_seconds kNow{1'700'000'000s};
constexpr std::string_view kIssuer = "https://login.example.com";

// Generated once per process: ECDSA keys are cheap, and fresh keys keep secrets out of the tree.
const std::string& pem(int which) {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 3; ++i)
      v.push_back(generate_ec_p256_private_key_pem().value());
    return v;
  }();
  return keys.at(static_cast<std::size_t>(which));
}

session_signer_options options(std::string_view issuer = kIssuer,
                               std::chrono::seconds lifetime = 8h) {
  return {std::string(issuer), lifetime, 30s};
}

session_signer signer_of(std::vector<session_key> keys, session_signer_options opts = options()) {
  auto s = session_signer::create(keys, std::move(opts));
  EXPECT_TRUE(s.has_value()) << (s ? "" : label(s.error()));
  return std::move(s).value();
}

session_claims alice() {
  session_claims c;
  c.sid = "c2Vzc2lvbi1pZC0xMjM0NTY";
  c.sub = "account-42";
  c.org = "contoso";
  c.tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  c.oid = "00000000-0000-0000-66f3-3332eca7ea81";
  c.email = "alice@contoso.example";
  c.name = "Alice \"Al\" Example";
  c.login_hint = "Ty4wMDAwMDAwMC0wMDAwLTAwMDAtNjZmMy0zMzMyZWNhN2VhODE";
  return c;
}

std::string issue_ok(const session_signer& s, session_claims c = alice(), sys_seconds now = kNow) {
  auto issued = s.issue(c, now);
  EXPECT_TRUE(issued.has_value()) << (issued ? "" : label(issued.error()));
  return issued ? issued->token : std::string();
}

json::object decode_part(std::string_view token, std::size_t index) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < index; ++i)
    start = token.find('.', start) + 1;
  const auto part = token.substr(start, token.find('.', start) - start);
  return parse_json_object(base64url_decode(part).value(), kJoseJsonLimits).value();
}

// The payload every valid session token carries, for tests that change one member.
json::object session_payload(sys_seconds iat = kNow) {
  json::object p;
  p["iss"] = kIssuer;
  p["aud"] = kSessionAudience;
  p["sub"] = "account-42";
  p["sid"] = "c2Vzc2lvbi1pZC0xMjM0NTY";
  p["iat"] = iat.time_since_epoch().count();
  p["exp"] = (iat + 1h).time_since_epoch().count();
  return p;
}

json::object session_header(std::string_view kid) {
  json::object h;
  h["alg"] = "ES256";
  h["typ"] = kSessionTokenType;
  h["kid"] = kid;
  return h;
}

std::string craft(const std::string& private_pem, const json::object& header,
                  const json::object& payload) {
  const auto key = parse_private_key_pem(private_pem);
  EXPECT_TRUE(key.has_value());
  auto token = sign_compact(header, payload, key->get(), jws_alg::ES256);
  EXPECT_TRUE(token.has_value());
  return token ? *token : std::string();
}

TEST(SessionToken, RoundTripCarriesEveryClaimWithAbsoluteExpiry) {
  const auto signer = signer_of({{pem(0), ""}});
  const auto issued = signer.issue(alice(), kNow);
  ASSERT_TRUE(issued.has_value());
  EXPECT_EQ(issued->claims.iss, kIssuer);
  EXPECT_EQ(issued->claims.iat, kNow);
  EXPECT_EQ(issued->claims.exp, kNow + 8h);
  const auto verified = signer.verify(issued->token, kNow + 8h - 1s);
  ASSERT_TRUE(verified.has_value()) << label(verified.error());
  EXPECT_EQ(*verified, issued->claims);
  auto expected = alice();
  expected.iss = kIssuer;
  expected.iat = kNow;
  expected.exp = kNow + 8h;
  EXPECT_EQ(*verified, expected);
}

TEST(SessionToken, IssueIgnoresCallerSuppliedIssuerAndTimes) {
  const auto signer = signer_of({{pem(0), ""}});
  auto c = alice();
  c.iss = "https://evil.example";
  c.iat = kNow - 100h;
  c.exp = kNow + 1000h;
  const auto issued = signer.issue(c, kNow);
  ASSERT_TRUE(issued.has_value());
  EXPECT_EQ(issued->claims.iss, kIssuer);
  EXPECT_EQ(issued->claims.exp, kNow + 8h);
  EXPECT_EQ(signer.verify(issued->token, kNow + 9h).error(), auth_error::token_expired);
}

TEST(SessionToken, OptionalProfileClaimsMayBeAbsent) {
  const auto signer = signer_of({{pem(0), ""}});
  session_claims c;
  c.sid = "sid";
  c.sub = "account-1";
  const auto token = issue_ok(signer, c);
  const auto payload = decode_part(token, 1);
  EXPECT_FALSE(payload.contains("email"));
  EXPECT_FALSE(payload.contains("login_hint"));
  const auto verified = signer.verify(token, kNow);
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->email.empty());
  EXPECT_EQ(verified->sub, "account-1");
}

TEST(SessionToken, HeaderNamesEs256TheSessionTypeAndTheSigningKid) {
  const auto signer = signer_of({{pem(0), "k1"}});
  const auto header = decode_part(issue_ok(signer), 0);
  EXPECT_EQ(header.size(), 3u);
  EXPECT_EQ(*find_string(header, "alg"), "ES256");
  EXPECT_EQ(*find_string(header, "typ"), kSessionTokenType);
  EXPECT_EQ(*find_string(header, "kid"), "k1");
  const auto payload = decode_part(issue_ok(signer), 1);
  EXPECT_EQ(*find_string(payload, "aud"), kSessionAudience);
}

TEST(SessionToken, IssueRequiresSidAndSub) {
  const auto signer = signer_of({{pem(0), ""}});
  auto no_sid = alice();
  no_sid.sid.clear();
  EXPECT_EQ(signer.issue(no_sid, kNow).error(), auth_error::claim_missing);
  auto no_sub = alice();
  no_sub.sub.clear();
  EXPECT_EQ(signer.issue(no_sub, kNow).error(), auth_error::claim_missing);
}

TEST(SessionTokenExpiry, ExpiresAtExpPlusLeeway) {
  const auto signer = signer_of({{pem(0), ""}});
  const auto token = issue_ok(signer);
  const auto exp = kNow + 8h;
  EXPECT_TRUE(signer.verify(token, exp + 29s).has_value());
  EXPECT_EQ(signer.verify(token, exp + 30s).error(), auth_error::token_expired);
  EXPECT_EQ(signer.verify(token, exp + 24h).error(), auth_error::token_expired);
}

TEST(SessionTokenExpiry, IssuedInTheFutureBeyondLeewayIsRefused) {
  const auto signer = signer_of({{pem(0), ""}});
  const auto token = issue_ok(signer);
  EXPECT_TRUE(signer.verify(token, kNow - 30s).has_value());
  EXPECT_EQ(signer.verify(token, kNow - 31s).error(), auth_error::iat_in_future);
}

TEST(SessionTokenExpiry, ShorterConfiguredLifetimeAppliesToSessionsAlreadyIssued) {
  const auto long_lived = signer_of({{pem(0), "k"}}, options(kIssuer, 8h));
  const auto token = issue_ok(long_lived);
  const auto short_lived = signer_of({{pem(0), "k"}}, options(kIssuer, 1h));
  EXPECT_TRUE(short_lived.verify(token, kNow + 1h).has_value());
  EXPECT_EQ(short_lived.verify(token, kNow + 1h + 31s).error(), auth_error::token_too_old);
}

TEST(SessionTokenClaims, TokenOfAnotherIssuerIsIssuerMismatch) {
  const auto ours = signer_of({{pem(0), "k"}});
  const auto theirs = signer_of({{pem(0), "k"}}, options("https://other.example.com"));
  EXPECT_EQ(ours.verify(issue_ok(theirs), kNow).error(), auth_error::issuer_mismatch);
  // A trailing slash is another issuer.
  const auto slash = signer_of({{pem(0), "k"}}, options("https://login.example.com/"));
  EXPECT_EQ(ours.verify(issue_ok(slash), kNow).error(), auth_error::issuer_mismatch);
}

TEST(SessionTokenClaims, WrongAudienceIsAudienceMismatch) {
  const auto signer = signer_of({{pem(0), "k"}});
  auto p = session_payload();
  p["aud"] = "00000000-aaaa-bbbb-cccc-000000000000";
  EXPECT_EQ(signer.verify(craft(pem(0), session_header("k"), p), kNow).error(),
            auth_error::audience_mismatch);
  p["aud"] = json::array{"api://other", "oidc-callback-server/session2"};
  EXPECT_EQ(signer.verify(craft(pem(0), session_header("k"), p), kNow).error(),
            auth_error::audience_mismatch);
  p["aud"] = json::array{"api://other", kSessionAudience};
  EXPECT_TRUE(signer.verify(craft(pem(0), session_header("k"), p), kNow).has_value());
  p.erase("aud");
  EXPECT_EQ(signer.verify(craft(pem(0), session_header("k"), p), kNow).error(),
            auth_error::claim_missing);
}

TEST(SessionTokenClaims, IdpShapedTokenSignedWithOurKeyIsTypMismatch) {
  const auto signer = signer_of({{pem(0), "k"}});
  auto header = session_header("k");
  header["typ"] = "JWT";
  EXPECT_EQ(signer.verify(craft(pem(0), header, session_payload()), kNow).error(),
            auth_error::typ_mismatch);
  header.erase("typ");
  EXPECT_EQ(signer.verify(craft(pem(0), header, session_payload()), kNow).error(),
            auth_error::typ_mismatch);
}

TEST(SessionTokenClaims, MissingOrMistypedRequiredClaimsAreReportedExactly) {
  const auto signer = signer_of({{pem(0), "k"}});
  const auto h = session_header("k");
  struct change {
    std::string_view key;
    json::value value;  // null: remove the member
    auth_error want;
  };
  const change changes[] = {
      {"sid", nullptr, auth_error::claim_missing},
      {"sid", "", auth_error::claim_missing},
      {"sid", 42, auth_error::claim_invalid},
      {"sub", nullptr, auth_error::claim_missing},
      {"iss", nullptr, auth_error::claim_missing},
      {"exp", nullptr, auth_error::claim_missing},
      {"exp", "1700003600", auth_error::claim_invalid},
      {"exp", 1700003600.5, auth_error::claim_invalid},
      {"exp", -1, auth_error::claim_invalid},
      {"iat", nullptr, auth_error::claim_missing},
      {"email", 7, auth_error::claim_invalid},
      {"aud", 7, auth_error::claim_invalid},
  };
  for (const auto& c : changes) {
    auto p = session_payload();
    if (c.value.is_null())
      p.erase(json::string_view(c.key.data(), c.key.size()));
    else
      p[json::string_view(c.key.data(), c.key.size())] = c.value;
    const auto r = signer.verify(craft(pem(0), h, p), kNow);
    ASSERT_FALSE(r.has_value()) << c.key;
    EXPECT_EQ(r.error(), c.want) << c.key << " " << label(r.error());
  }
}

TEST(SessionTokenKeys, TokenOfAnotherP256KeyWithItsOwnKidIsKidUnknown) {
  const auto ours = signer_of({{pem(0), ""}});
  const auto theirs = signer_of({{pem(1), ""}});
  EXPECT_NE(ours.signing_kid(), theirs.signing_kid());
  EXPECT_EQ(ours.verify(issue_ok(theirs), kNow).error(), auth_error::kid_unknown);
}

TEST(SessionTokenKeys, TokenOfAnotherP256KeyClaimingOurKidIsSignatureInvalid) {
  const auto ours = signer_of({{pem(0), "k"}});
  const auto forger = signer_of({{pem(1), "k"}});
  EXPECT_EQ(ours.verify(issue_ok(forger), kNow).error(), auth_error::signature_invalid);
}

TEST(SessionTokenKeys, AlteredPayloadIsSignatureInvalid) {
  const auto signer = signer_of({{pem(0), "k"}});
  const std::string token = issue_ok(signer);
  const auto first_dot = token.find('.');
  const auto second_dot = token.find('.', first_dot + 1);
  auto payload = decode_part(token, 1);
  payload["sub"] = "account-1";
  const std::string forged = token.substr(0, first_dot + 1) +
                             base64url_encode(json::serialize(payload)) + token.substr(second_dot);
  EXPECT_EQ(signer.verify(forged, kNow).error(), auth_error::signature_invalid);
}

TEST(SessionTokenRotation, OldTokensVerifyUntilTheOldKeyIsRemoved) {
  const auto before = signer_of({{pem(0), ""}});
  const auto old_token = issue_ok(before);

  const auto rotated = signer_of({{pem(0), ""}, {pem(1), ""}});
  EXPECT_NE(rotated.signing_kid(), before.signing_kid());
  const auto new_token = issue_ok(rotated);
  EXPECT_EQ(*find_string(decode_part(new_token, 0), "kid"), rotated.signing_kid());
  EXPECT_TRUE(rotated.verify(old_token, kNow).has_value());
  EXPECT_TRUE(rotated.verify(new_token, kNow).has_value());
  // An instance still on the old configuration does not know the new key yet.
  EXPECT_EQ(before.verify(new_token, kNow).error(), auth_error::kid_unknown);

  const auto after = signer_of({{pem(1), ""}});
  EXPECT_EQ(after.verify(old_token, kNow).error(), auth_error::kid_unknown);
  EXPECT_TRUE(after.verify(new_token, kNow).has_value());
}

TEST(SessionTokenJwks, ParsesWithParseJwksAndHoldsNoPrivateMember) {
  const auto signer = signer_of({{pem(0), "old"}, {pem(1), ""}});
  const auto parsed = parse_jwks(signer.jwks_json());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->skipped.empty());
  ASSERT_EQ(parsed->keys->size(), 2u);
  EXPECT_EQ(parsed->keys->keys()[0]->kid, signer.signing_kid());
  EXPECT_EQ(parsed->keys->keys()[1]->kid, "old");

  const auto doc = parse_json_object(signer.jwks_json(), kJwksJsonLimits).value();
  const auto& keys = doc.at("keys").as_array();
  for (const auto& k : keys) {
    const auto& o = k.as_object();
    EXPECT_FALSE(o.contains("d"));
    EXPECT_EQ(*find_string(o, "kty"), "EC");
    EXPECT_EQ(*find_string(o, "crv"), "P-256");
    EXPECT_EQ(*find_string(o, "use"), "sig");
    EXPECT_EQ(*find_string(o, "alg"), "ES256");
    EXPECT_NE(find_string(o, "kid"), nullptr);
  }
}

TEST(SessionTokenJwks, OtherServicesVerifySessionsWithThePublishedKeysAlone) {
  const auto signer = signer_of({{pem(0), ""}});
  const auto published = parse_jwks(signer.jwks_json());
  ASSERT_TRUE(published.has_value());
  jws_verify_options opts;
  opts.allowed_algs = {jws_alg::ES256};
  const auto v = verify_jws(issue_ok(signer), *published->keys, opts);
  ASSERT_TRUE(v.has_value()) << label(v.error());
  EXPECT_EQ(v->header.typ, kSessionTokenType);
}

TEST(SessionTokenJwks, DerivedKidIsTheRfc7638Thumbprint) {
  const auto signer = signer_of({{pem(0), ""}});
  const auto parsed = parse_jwks(signer.jwks_json()).value();
  ASSERT_EQ(parsed.keys->size(), 1u);
  const auto& key = *parsed.keys->keys()[0];
  EXPECT_EQ(key.kid, key.thumbprint);
  EXPECT_EQ(signer.signing_kid(), key.thumbprint);
  EXPECT_EQ(key.kid.size(), 43u);  // base64url of a SHA-256 digest
  // The same key always gets the same kid, so every instance publishes and signs alike.
  EXPECT_EQ(signer_of({{pem(0), ""}}).signing_kid(), signer.signing_kid());
}

// A fixed SEC1 test key (openssl ecparam -genkey -name prime256v1 -noout); its RFC 7638
// thumbprint was computed independently with Python over
// {"crv":"P-256","kty":"EC","x":"EdXw...","y":"KFtt..."}.
constexpr std::string_view kSec1Pem = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIC4Jr+9F30d3zryoz0bs4ntNHicW295cT4JTSLDqlRMJoAoGCCqGSM49
AwEHoUQDQgAEEdXwewDNAVjRm2Lm5ow3OZlFV/PrzhC8Azn6ExIPrgIoW20QRG0v
TosjMCEujGrWTO7ol8iaPztG4yvjCYsLVQ==
-----END EC PRIVATE KEY-----
)";
constexpr std::string_view kSec1Thumbprint = "QEnm-qjWDSYSxxDazhC4CGfbF17hZ9lsyl7kc4hgj-g";
// The same private scalar with another key's public point spliced into the SEC1 structure.
constexpr std::string_view kSec1MismatchedPem = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIC4Jr+9F30d3zryoz0bs4ntNHicW295cT4JTSLDqlRMJoAoGCCqGSM49
AwEHoUQDQgAENH2p83PWTXeFHpxpmGZ76tzsnB7N47X3riXRFiozARBlSJ16jG4i
P4nwrmxiBNd3FpXONlcZjOTjxDf46kbwaQ==
-----END EC PRIVATE KEY-----
)";

TEST(SessionTokenJwks, Sec1KeyIsPublishedWithItsIndependentlyComputedThumbprint) {
  const auto signer = signer_of({{std::string(kSec1Pem), ""}});
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue must be drained";
  EXPECT_EQ(signer.signing_kid(), kSec1Thumbprint);
  const auto doc = parse_json_object(signer.jwks_json(), kJwksJsonLimits).value();
  const auto& key = doc.at("keys").as_array().at(0).as_object();
  EXPECT_EQ(*find_string(key, "x"), "EdXwewDNAVjRm2Lm5ow3OZlFV_PrzhC8Azn6ExIPrgI");
  EXPECT_EQ(*find_string(key, "y"), "KFttEERtL06LIzAhLoxq1kzu6JfImj87RuMr4wmLC1U");
  EXPECT_EQ(*find_string(key, "kid"), kSec1Thumbprint);
  EXPECT_TRUE(signer.verify(issue_ok(signer), kNow).has_value());
}

TEST(SessionSignerConfig, RefusesSec1KeyWhosePublicPointIsNotItsOwn) {
  const std::vector<session_key> keys{{std::string(kSec1MismatchedPem), ""}};
  EXPECT_EQ(session_signer::create(keys, options()).error(), auth_error::key_invalid);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

std::string pem_of(EVP_PKEY* pkey, const EVP_CIPHER* cipher = nullptr, const char* pass = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = cipher
                     ? PEM_write_bio_PrivateKey(bio, pkey, cipher, nullptr, 0, nullptr,
                                                const_cast<char*>(pass))
                     : PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(ok, 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string public_pem_of(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, pkey), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

TEST(SessionSignerConfig, RefusesMissingKeysIssuerAndOutOfRangeLifetimeOrLeeway) {
  EXPECT_EQ(session_signer::create({}, options()).error(), auth_error::config_invalid);
  const std::vector<session_key> one{{pem(0), ""}};
  EXPECT_EQ(session_signer::create(one, options("")).error(), auth_error::config_invalid);
  EXPECT_EQ(session_signer::create(one, options(kIssuer, 0s)).error(), auth_error::config_invalid);
  EXPECT_EQ(session_signer::create(one, {std::string(kIssuer), 1h, -1s}).error(),
            auth_error::config_invalid);
  EXPECT_EQ(session_signer::create(one, {std::string(kIssuer), 1h, 1h + 1s}).error(),
            auth_error::config_invalid);
  EXPECT_EQ(session_signer::create(one, options(kIssuer, std::chrono::days(367))).error(),
            auth_error::config_invalid);
  EXPECT_TRUE(session_signer::create(one, {std::string(kIssuer), std::chrono::days(366), 1h}));
}

TEST(SessionSignerConfig, RefusesDuplicateKids) {
  const std::vector<session_key> same_kid{{pem(0), "k"}, {pem(1), "k"}};
  EXPECT_EQ(session_signer::create(same_kid, options()).error(), auth_error::config_invalid);
  const std::vector<session_key> same_key{{pem(0), ""}, {pem(0), ""}};
  EXPECT_EQ(session_signer::create(same_key, options()).error(), auth_error::config_invalid);
}

TEST(SessionSignerConfig, RefusesUnreadableEncryptedAndPublicOnlyPem) {
  const auto create = [](std::string text) {
    const std::vector<session_key> keys{{std::move(text), ""}};
    return session_signer::create(keys, options());
  };
  EXPECT_EQ(create("").error(), auth_error::key_invalid);
  EXPECT_EQ(create("not a pem").error(), auth_error::key_invalid);
  std::string truncated = pem(0);
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(create(truncated).error(), auth_error::key_invalid);

  const auto key = parse_private_key_pem(pem(0)).value();
  EXPECT_EQ(create(public_pem_of(key.get())).error(), auth_error::key_invalid);
  EXPECT_EQ(create(pem_of(key.get(), EVP_aes_256_cbc(), "secret")).error(),
            auth_error::key_invalid);
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue must be drained";
}

TEST(SessionSignerConfig, RefusesKeysOtherThanP256) {
  const auto create = [](std::string text) {
    const std::vector<session_key> keys{{std::move(text), ""}};
    return session_signer::create(keys, options());
  };
  const evp_pkey_ptr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_TRUE(p384);
  EXPECT_EQ(create(pem_of(p384.get())).error(), auth_error::key_unsupported);
  const evp_pkey_ptr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed25519);
  EXPECT_EQ(create(pem_of(ed25519.get())).error(), auth_error::key_unsupported);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(SessionSignerConfig, GeneratedKeysAreDistinctP256Pkcs8) {
  const auto a = generate_ec_p256_private_key_pem();
  const auto b = generate_ec_p256_private_key_pem();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_TRUE(parse_private_key_pem(*a).has_value());
}

TEST(SessionId, CarriesAtLeast128BitsAndDiffers) {
  openssl_random rng;
  const auto a = new_session_id(rng);
  const auto b = new_session_id(rng);
  EXPECT_NE(a, b);
  EXPECT_GE(base64url_decode(a).value().size() * 8, 128u);
}

}  // namespace
}  // namespace oidc
