// SPDX-License-Identifier: Apache-2.0
// private_key_jwt at the mock token endpoint: a web client registered with a certificate redeems
// codes with a client assertion checked as Entra checks it, and every refusal is asserted by
// HTTP status, error and AADSTS code.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <boost/json/array.hpp>

#include "mock_idp/mock_idp_fixture.hpp"
#include "oidc/claims.hpp"
#include "oidc/jws.hpp"
#include "support/test_pki.hpp"

namespace oidc::mock::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

inline constexpr std::string_view kCertWeb = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b";
inline constexpr std::string_view kJwtBearer =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// An RSA key with a self-signed certificate, as an app owner uploads to its registration.
struct rsa_identity {
  evp_pkey_ptr key;
  std::string cert_pem;
  std::string x5t_s256;
  std::string x5t;
};

std::string thumbprint(X509* cert, const EVP_MD* md) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  std::uint8_t d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(der, static_cast<std::size_t>(n), d, &len, md, nullptr);
  OPENSSL_free(der);
  return base64url_encode(std::span<const std::uint8_t>(d, len));
}

rsa_identity make_identity(std::size_t bits = 2048) {
  rsa_identity id;
  id.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  if (!id.key) throw std::runtime_error("RSA keygen");
  auto cert = oidc::test::pki_detail::new_cert(id.key.get(), "app-credential", nullptr, 365);
  oidc::test::pki_detail::sign(cert.get(), id.key.get());
  id.cert_pem = oidc::test::pki_detail::cert_pem(cert.get());
  id.x5t_s256 = thumbprint(cert.get(), EVP_sha256());
  id.x5t = thumbprint(cert.get(), EVP_sha1());
  return id;
}

const rsa_identity& registered() {
  static const rsa_identity id = make_identity();
  return id;
}

const rsa_identity& stranger() {
  static const rsa_identity id = make_identity();
  return id;
}

mock_idp_config certificate_config() {
  auto c = test_config();
  mock_client web{std::string(kCertWeb), client_type::web, {}, {std::string(kWebRedirect)}};
  web.certificate_pem = registered().cert_pem;
  c.tenants[0].clients.push_back(std::move(web));
  return c;
}

std::string token_endpoint(std::string_view tenant = kTenant) {
  return std::string(kBase) + "/" + std::string(tenant) + "/oauth2/v2.0/token";
}

class ClientAssertionTest : public MockIdpTest {
 protected:
  ClientAssertionTest() : MockIdpTest(certificate_config()) {}

  struct parts {
    json::object header;
    json::object claims;
    jws_alg alg = jws_alg::PS256;
    const rsa_identity* signer = &registered();
  };

  // What a conforming client sends (Entra's certificate-credentials format).
  parts good_parts(std::string_view client = kCertWeb) {
    parts p;
    p.header["alg"] = "PS256";
    p.header["typ"] = "JWT";
    p.header["x5t#S256"] = registered().x5t_s256;
    const std::int64_t t = now().time_since_epoch().count();
    p.claims["aud"] = token_endpoint();
    p.claims["iss"] = client;
    p.claims["sub"] = client;
    p.claims["jti"] = random_token(rng_, 16);
    p.claims["iat"] = t;
    p.claims["nbf"] = t;
    p.claims["exp"] = t + 300;
    return p;
  }

  static std::string sign(const parts& p) {
    auto jwt = sign_compact(p.header, p.claims, p.signer->key.get(), p.alg);
    EXPECT_TRUE(jwt.has_value());
    return jwt ? *jwt : std::string();
  }

  std::string assertion(const std::function<void(parts&)>& edit = {}) {
    auto p = good_parts();
    if (edit) edit(p);
    return sign(p);
  }

  // Signs the default user in for `client` and redeems the code with `credential` appended.
  token_reply redeem_with(std::string_view credential, std::string_view client = kCertWeb) {
    const auto pkce = fresh_pkce();
    const std::string code = code_for(pkce, {}, client, kWebRedirect);
    return redeem(redeem_body(client, code, kWebRedirect, pkce.verifier) + std::string(credential),
                  std::nullopt);
  }

  token_reply redeem_assertion(const std::string& jwt, std::string_view client = kCertWeb) {
    return redeem_with(
        "&client_assertion_type=" + url_encode(kJwtBearer) + "&client_assertion=" + url_encode(jwt),
        client);
  }
};

void expect_description_contains(const token_reply& r, std::string_view needle) {
  const auto* d = find_string(r.body, "error_description");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(std::string_view(*d).find(needle), std::string_view::npos) << *d;
}

// --- success ---------------------------------------------------------------------------------

TEST_F(ClientAssertionTest, DiscoveryAdvertisesPrivateKeyJwt) {
  auto res = get(tenant_path(kTenant, "/v2.0/.well-known/openid-configuration"));
  ASSERT_EQ(res.result_int(), 200u);
  auto doc = parse_json_object(res.body(), kJwksJsonLimits).value();
  const auto* methods = doc.if_contains("token_endpoint_auth_methods_supported");
  ASSERT_NE(methods, nullptr);
  ASSERT_TRUE(methods->is_array());
  bool secret = false, jwt = false;
  for (const auto& m : methods->as_array()) {
    ASSERT_TRUE(m.is_string());
    secret = secret || m.get_string() == "client_secret_post";
    jwt = jwt || m.get_string() == "private_key_jwt";
  }
  EXPECT_TRUE(secret);
  EXPECT_TRUE(jwt);
  EXPECT_EQ(*find_string(doc, "token_endpoint"), token_endpoint());
}

TEST_F(ClientAssertionTest, Ps256AssertionWithX5tS256RedeemsTheCode) {
  auto r = redeem_assertion(assertion());
  ASSERT_EQ(r.status, 200u) << json::serialize(r.body);
  const auto keys = published_keys();
  ASSERT_TRUE(keys);
  id_token_expectations want;
  want.issuer = std::string(kBase) + "/" + std::string(kTenant) + "/v2.0";
  want.client_id = std::string(kCertWeb);
  want.tenant_id = std::string(kTenant);
  want.nonce = "n-456";
  want.allowed_algs = {jws_alg::RS256};
  auto claims = verify_id_token(*find_string(r.body, "id_token"), *keys, want, now());
  ASSERT_TRUE(claims.has_value()) << label(claims.error());
  EXPECT_EQ(claims->preferred_username, "ada@demo.example");
}

TEST_F(ClientAssertionTest, Rs256AssertionIsAccepted) {
  auto r = redeem_assertion(assertion([](parts& p) {
    p.header["alg"] = "RS256";
    p.alg = jws_alg::RS256;
  }));
  EXPECT_EQ(r.status, 200u) << json::serialize(r.body);
}

TEST_F(ClientAssertionTest, LegacySha1X5tIsAccepted) {
  auto r = redeem_assertion(assertion([](parts& p) {
    p.header.erase("x5t#S256");
    p.header["x5t"] = registered().x5t;
  }));
  EXPECT_EQ(r.status, 200u) << json::serialize(r.body);
}

TEST_F(ClientAssertionTest, ExpiryWithinTheClockSkewIsAccepted) {
  auto r = redeem_assertion(assertion([this](parts& p) {
    const std::int64_t t = now().time_since_epoch().count();
    p.claims["iat"] = t - 600;
    p.claims["nbf"] = t - 600;
    p.claims["exp"] = t - kAssertionClockSkew.count() + 1;
  }));
  EXPECT_EQ(r.status, 200u) << json::serialize(r.body);
}

// --- 700027: certificate not found, or signature invalid ---------------------------------------

TEST_F(ClientAssertionTest, UnknownCertificateIs700027) {
  auto r = redeem_assertion(assertion([](parts& p) {
    p.header["x5t#S256"] = stranger().x5t_s256;
    p.signer = &stranger();
  }));
  expect_entra_error(r, 401, "invalid_client", 700027);
  expect_description_contains(r, "The key was not found");
  expect_description_contains(r, stranger().x5t_s256);
}

TEST_F(ClientAssertionTest, MissingThumbprintIs700027) {
  auto r = redeem_assertion(assertion([](parts& p) { p.header.erase("x5t#S256"); }));
  expect_entra_error(r, 401, "invalid_client", 700027);
  expect_description_contains(r, "The key was not found");
}

TEST_F(ClientAssertionTest, SignatureByAnotherKeyIs700027) {
  auto r = redeem_assertion(assertion([](parts& p) { p.signer = &stranger(); }));
  expect_entra_error(r, 401, "invalid_client", 700027);
  expect_description_contains(r, "did not match the expected signature value");
}

TEST_F(ClientAssertionTest, TamperedClaimsFailTheSignatureWith700027) {
  std::string jwt = assertion();
  const auto dot1 = jwt.find('.');
  const auto dot2 = jwt.find('.', dot1 + 1);
  auto p = good_parts();
  p.claims["exp"] = now().time_since_epoch().count() + 86'400;
  const std::string forged_payload = base64url_encode(json::serialize(p.claims));
  jwt = jwt.substr(0, dot1 + 1) + forged_payload + jwt.substr(dot2);
  auto r = redeem_assertion(jwt);
  expect_entra_error(r, 401, "invalid_client", 700027);
}

TEST_F(ClientAssertionTest, ClientWithoutCertificateIs700027) {
  // kWeb is registered with a secret only.
  auto r = redeem_assertion(
      [this] {
        auto p = good_parts(kWeb);
        return sign(p);
      }(),
      kWeb);
  expect_entra_error(r, 401, "invalid_client", 700027);
}

// --- 700024: time range --------------------------------------------------------------------------

TEST_F(ClientAssertionTest, ExpiredAssertionIs700024) {
  auto r = redeem_assertion(assertion([this](parts& p) {
    const std::int64_t t = now().time_since_epoch().count();
    p.claims["iat"] = t - 900;
    p.claims["nbf"] = t - 900;
    p.claims["exp"] = t - kAssertionClockSkew.count();
  }));
  expect_entra_error(r, 401, "invalid_client", 700024);
  expect_description_contains(r, "not within its valid time range");
}

TEST_F(ClientAssertionTest, NotYetValidAssertionIs700024) {
  auto r = redeem_assertion(assertion([this](parts& p) {
    const std::int64_t t = now().time_since_epoch().count();
    p.claims["nbf"] = t + kAssertionClockSkew.count() + 1;
    p.claims["exp"] = t + 3600;
  }));
  expect_entra_error(r, 401, "invalid_client", 700024);
}

TEST_F(ClientAssertionTest, IssuedInTheFutureIs700024) {
  auto r = redeem_assertion(assertion([this](parts& p) {
    const std::int64_t t = now().time_since_epoch().count();
    p.claims["iat"] = t + kAssertionClockSkew.count() + 1;
    p.claims["exp"] = t + 3600;
  }));
  expect_entra_error(r, 401, "invalid_client", 700024);
}

// --- 700021, 50048, 700023: who and for whom ----------------------------------------------------

TEST_F(ClientAssertionTest, IssuerOtherThanClientIdIs700021) {
  auto r = redeem_assertion(assertion([](parts& p) {
    p.claims["iss"] = std::string(kWeb);
    p.claims["sub"] = std::string(kWeb);
  }));
  expect_entra_error(r, 401, "invalid_client", 700021);
}

TEST_F(ClientAssertionTest, SubjectOtherThanIssuerIs50048) {
  auto r = redeem_assertion(assertion([](parts& p) { p.claims["sub"] = "someone-else"; }));
  expect_entra_error(r, 401, "invalid_client", 50048);
}

TEST_F(ClientAssertionTest, AudienceOfAnotherTokenEndpointIs700023) {
  auto r =
      redeem_assertion(assertion([](parts& p) { p.claims["aud"] = token_endpoint(kOtherTenant); }));
  expect_entra_error(r, 401, "invalid_client", 700023);
}

TEST_F(ClientAssertionTest, IssuerAsAudienceIs700023) {
  auto r = redeem_assertion(assertion([](parts& p) {
    p.claims["aud"] = std::string(kBase) + "/" + std::string(kTenant) + "/v2.0";
  }));
  expect_entra_error(r, 401, "invalid_client", 700023);
}

// --- 50027: malformed assertions and replays
// ------------------------------------------------------

TEST_F(ClientAssertionTest, AudienceArrayIs50027) {
  auto r = redeem_assertion(
      assertion([](parts& p) { p.claims["aud"] = json::array{token_endpoint()}; }));
  expect_entra_error(r, 401, "invalid_client", 50027);
}

TEST_F(ClientAssertionTest, NotAJwtIs50027) {
  auto r = redeem_assertion("not-a-jwt");
  expect_entra_error(r, 401, "invalid_client", 50027);
}

TEST_F(ClientAssertionTest, HmacAlgorithmIs50027) {
  auto p = good_parts();
  p.header["alg"] = "HS256";
  const std::string jwt = base64url_encode(json::serialize(p.header)) + "." +
                          base64url_encode(json::serialize(p.claims)) + ".c2lnbmF0dXJl";
  auto r = redeem_assertion(jwt);
  expect_entra_error(r, 401, "invalid_client", 50027);
}

TEST_F(ClientAssertionTest, MissingExpIs50027) {
  auto r = redeem_assertion(assertion([](parts& p) { p.claims.erase("exp"); }));
  expect_entra_error(r, 401, "invalid_client", 50027);
}

TEST_F(ClientAssertionTest, MissingJtiIs50027) {
  auto r = redeem_assertion(assertion([](parts& p) { p.claims.erase("jti"); }));
  expect_entra_error(r, 401, "invalid_client", 50027);
}

TEST_F(ClientAssertionTest, ReplayedAssertionIs50027) {
  const std::string jwt = assertion();
  ASSERT_EQ(redeem_assertion(jwt).status, 200u);
  auto r = redeem_assertion(jwt);
  expect_entra_error(r, 401, "invalid_client", 50027);
  expect_description_contains(r, "already used");
}

// --- the request around the assertion -----------------------------------------------------------

TEST_F(ClientAssertionTest, AssertionWithoutTypeIs900144) {
  auto r = redeem_with("&client_assertion=" + url_encode(assertion()));
  expect_entra_error(r, 400, "invalid_request", 900144);
  expect_description_contains(r, "client_assertion_type");
}

TEST_F(ClientAssertionTest, UnexpectedAssertionTypeIs9002313) {
  auto r = redeem_with("&client_assertion_type=" +
                       url_encode("urn:ietf:params:oauth:client-assertion-type:saml2-bearer") +
                       "&client_assertion=" + url_encode(assertion()));
  expect_entra_error(r, 400, "invalid_request", 9002313);
}

TEST_F(ClientAssertionTest, SecretAndAssertionTogetherAre9002313) {
  auto r = redeem_with("&client_secret=x&client_assertion_type=" + url_encode(kJwtBearer) +
                       "&client_assertion=" + url_encode(assertion()));
  expect_entra_error(r, 400, "invalid_request", 9002313);
}

TEST_F(ClientAssertionTest, SecretForACertificateOnlyClientIs7000215) {
  auto r = redeem_with("&client_secret=" + url_encode(kWebSecret));
  expect_entra_error(r, 401, "invalid_client", 7000215);
}

TEST_F(ClientAssertionTest, NoCredentialIs7000218) {
  auto r = redeem_with("");
  expect_entra_error(r, 401, "invalid_client", 7000218);
}

TEST_F(ClientAssertionTest, OriginWithAValidAssertionIs9002326) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce, {}, kCertWeb, kWebRedirect);
  auto r = redeem(redeem_body(kCertWeb, code, kWebRedirect, pkce.verifier) +
                      "&client_assertion_type=" + url_encode(kJwtBearer) +
                      "&client_assertion=" + url_encode(assertion()),
                  std::string(kOrigin));
  expect_entra_error(r, 400, "invalid_request", 9002326);
}

TEST_F(ClientAssertionTest, AssertionFromASpaClientIs700025) {
  const auto pkce = fresh_pkce();
  const std::string code = code_for(pkce);
  auto r = redeem(redeem_body(kSpa, code, kRedirect, pkce.verifier) + "&client_assertion_type=" +
                  url_encode(kJwtBearer) + "&client_assertion=" + url_encode(assertion()));
  expect_entra_error(r, 401, "invalid_client", 700025);
}

// --- the replay memory and the certificate ------------------------------------------------------

TEST(AssertionReplayCache, ForgetsAJtiOnlyAfterItsAssertionExpired) {
  assertion_replay_cache cache;
  const std::chrono::sys_seconds t0{std::chrono::seconds{1'800'000'000}};
  EXPECT_TRUE(cache.remember("c", "j1", t0 + 600s, t0));
  EXPECT_FALSE(cache.remember("c", "j1", t0 + 600s, t0 + 599s));
  EXPECT_TRUE(cache.remember("other-client", "j1", t0 + 600s, t0));
  EXPECT_TRUE(cache.remember("c", "j1", t0 + 1200s, t0 + 600s));
}

TEST(AssertionReplayCache, StaysWithinItsCapacity) {
  assertion_replay_cache cache(4);
  const std::chrono::sys_seconds t0{std::chrono::seconds{1'800'000'000}};
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(
        cache.remember("c", "j" + std::to_string(i), t0 + std::chrono::seconds(100 + i), t0));
  }
  EXPECT_EQ(cache.size(), 4u);
  // The newest are the ones kept.
  EXPECT_FALSE(cache.remember("c", "j9", t0 + 109s, t0));
}

TEST(ClientCertificate, ThumbprintsAreOfTheDerCertificate) {
  std::string problem;
  auto cert = load_client_certificate(registered().cert_pem, problem);
  ASSERT_TRUE(cert.has_value()) << problem;
  EXPECT_EQ(cert->x5t_s256, registered().x5t_s256);
  EXPECT_EQ(cert->x5t, registered().x5t);
  ASSERT_TRUE(cert->key);
  EXPECT_TRUE(cert->key->algs.contains(jws_alg::PS256));
}

TEST(ClientCertificate, ShortRsaKeyAndNonRsaKeysAreRefused) {
  std::string problem;
  EXPECT_FALSE(load_client_certificate(make_identity(1024).cert_pem, problem));
  EXPECT_NE(problem.find("2048"), std::string::npos) << problem;
  auto ec = oidc::test::pki_detail::new_p256_key();
  auto cert = oidc::test::pki_detail::new_cert(ec.get(), "ec", nullptr, 30);
  oidc::test::pki_detail::sign(cert.get(), ec.get());
  problem.clear();
  EXPECT_FALSE(load_client_certificate(oidc::test::pki_detail::cert_pem(cert.get()), problem));
  EXPECT_FALSE(load_client_certificate("not a pem", problem));
}

TEST(MockConfig, WebClientMayHaveACertificateInsteadOfASecret) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mock-idp-cert-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "app.crt") << registered().cert_pem;
  const std::string doc = R"({
    "listen": {"cert_file": "tls.pem", "key_file": "tls.key"},
    "tenants": [{"id": "t", "users": [{"oid": "o", "name": "n", "preferred_username": "u"}],
                 "clients": [{"client_id": "w", "type": "web", "certificate_file": "app.crt",
                              "redirect_uris": ["https://app/cb"]},
                             {"client_id": "x", "type": "web", "certificate_file": "missing.crt",
                              "redirect_uris": ["https://app/cb"]},
                             {"client_id": "y", "type": "web",
                              "redirect_uris": ["https://app/cb"]}]}]})";
  auto bad = parse_mock_config(doc, dir);
  EXPECT_FALSE(bad.config.has_value());
  ASSERT_EQ(bad.errors.size(), 2u);
  EXPECT_NE(bad.errors[0].find("clients[1].certificate_file"), std::string::npos) << bad.errors[0];
  EXPECT_NE(bad.errors[1].find("clients[2].secret_file"), std::string::npos) << bad.errors[1];

  auto good = parse_mock_config(R"({
    "listen": {"cert_file": "tls.pem", "key_file": "tls.key"},
    "tenants": [{"id": "t", "users": [{"oid": "o", "name": "n", "preferred_username": "u"}],
                 "clients": [{"client_id": "w", "type": "web", "certificate_file": "app.crt",
                              "redirect_uris": ["https://app/cb"]}]}]})",
                                dir);
  ASSERT_TRUE(good.config.has_value()) << (good.errors.empty() ? "" : good.errors[0]);
  const auto& client = good.config->tenants[0].clients[0];
  EXPECT_TRUE(client.secret.empty());
  EXPECT_EQ(client.certificate_pem, registered().cert_pem);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oidc::mock::test
