// SPDX-License-Identifier: Apache-2.0
// Confidential organisations (client_auth): client_secret_post and private_key_jwt logins
// against the mock Entra tenant's web client over TLS (the mock checks the client assertion as
// Entra does), credential loading, and the client assertion itself (header, claims, signature).
#include <string>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "aadsts.hpp"
#include "client_assertion.hpp"
#include "error_page.hpp"
#include "login_harness.hpp"
#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "runtime_secrets.hpp"

namespace oidc::server {
namespace {

using namespace harness;

constexpr std::string_view kSecret = "web-client-secret~value";

std::shared_ptr<const client_credential> secret_credential(std::string_view secret) {
  auto c = std::make_shared<client_credential>();
  c->method = client_auth_method::client_secret_post;
  c->secret = std::string(secret);
  return c;
}

struct rsa_identity {
  std::string key_pem;
  std::string cert_pem;
  test::pki_detail::x509_ptr cert;
};

rsa_identity make_rsa_identity(std::size_t bits = 2048) {
  rsa_identity id;
  evp_pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  if (!key) throw std::runtime_error("RSA keygen");
  id.cert = test::pki_detail::new_cert(key.get(), "client-assertion", nullptr, 30);
  test::pki_detail::sign(id.cert.get(), key.get());
  id.key_pem = test::pki_detail::key_pem(key.get());
  id.cert_pem = test::pki_detail::cert_pem(id.cert.get());
  return id;
}

std::string sha256_b64(const std::string& der) {
  std::uint8_t d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(der.data(), der.size(), d, &n, EVP_sha256(), nullptr);
  return base64url_encode(std::span<const std::uint8_t>(d, n));
}

std::string der_of(X509* cert) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

// The certificate registered for the mock's web client, and one it does not know.
const rsa_identity& registered_identity() {
  static const rsa_identity id = make_rsa_identity();
  return id;
}

const rsa_identity& unknown_identity() {
  static const rsa_identity id = make_rsa_identity();
  return id;
}

std::shared_ptr<const client_credential> jwt_credential(const rsa_identity& id) {
  std::string problem;
  auto c = make_private_key_jwt_credential(id.key_pem, id.cert_pem, problem);
  if (!c) throw std::runtime_error(problem);
  return c;
}

class ConfidentialLoginTest : public ::testing::Test, protected login_harness {
 protected:
  // The organisation in the mode of `credential` (client_secret_post without one).
  void make_app(std::shared_ptr<const client_credential> credential) {
    harness_options o;
    auto tenant = acme_tenant();
    // The registration has a secret and a certificate, as an Entra app may during a move from
    // one credential to the other.
    auto& web = tenant.clients.front();
    web.type = mock::client_type::web;
    web.secret = std::string(kSecret);
    web.certificate_pem = registered_identity().cert_pem;
    o.tenants = {tenant};
    const bool jwt = credential && credential->method == client_auth_method::private_key_jwt;
    const std::string client_auth =
        jwt ? R"({"method": "private_key_jwt", "key_file": "/unused/client.key",
                  "certificate_file": "/unused/client.crt"})"
            : R"({"method": "client_secret_post", "secret_file": "/unused/client.secret"})";
    o.organisations = [client_auth](const mock::identity_provider&, const std::string& base) {
      return acme_organisation(base, R"(, "client_auth": )" + client_auth);
    };
    o.server_extra.clear();
    o.acme_credential = std::move(credential);
    start_harness(std::move(o));
  }

  void TearDown() override { stop_harness(); }
};

TEST_F(ConfidentialLoginTest, ClientSecretPostSignsInWithoutOrigin) {
  make_app(secret_credential(kSecret));
  auto h = log_in();
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.response[http::field::location], "/reports");
  EXPECT_FALSE(cookie_pair(h.response, "__Host-oidc-session=").empty());

  const auto tokens = token_requests();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_TRUE(tokens[0].origin.empty());
  auto form = parse_form(tokens[0].body).value();
  EXPECT_EQ(form.get("client_id"), kClient);
  EXPECT_EQ(form.get("client_secret"), kSecret);
  EXPECT_EQ(form.get("code_verifier")->size(), 43u);
  EXPECT_FALSE(form.contains("client_assertion"));
}

TEST_F(ConfidentialLoginTest, WrongClientSecretIsTokenEndpointError) {
  make_app(secret_credential("not-the-secret"));
  auto h = log_in();
  EXPECT_EQ(h.reason, auth_error::token_endpoint_error);
  EXPECT_NE(h.response.body().find("invalid_client"), std::string::npos) << h.response.body();
  EXPECT_NE(h.response.body().find("AADSTS7000215"), std::string::npos) << h.response.body();
}

// private_key_jwt end to end: the mock checks the assertion as Entra does (certificate by
// x5t#S256, signature, iss = sub = client_id, aud = its token endpoint, time window, single-use
// jti), so a login that completes proves the server's assertion right.
TEST_F(ConfidentialLoginTest, PrivateKeyJwtSignsInWithAnAssertionTheIdpAccepts) {
  make_app(jwt_credential(registered_identity()));
  auto h = log_in();
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.response[http::field::location], "/reports");
  EXPECT_FALSE(cookie_pair(h.response, "__Host-oidc-session=").empty());

  const auto tokens = token_requests();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_TRUE(tokens[0].origin.empty());
  auto form = parse_form(tokens[0].body).value();
  EXPECT_EQ(form.get("client_id"), kClient);
  EXPECT_FALSE(form.contains("client_secret"));
  EXPECT_EQ(form.get("client_assertion_type"), kClientAssertionType);
  EXPECT_EQ(form.get("code_verifier")->size(), 43u);
  const std::string jwt(form.get("client_assertion").value());
  const auto dot1 = jwt.find('.');
  const auto dot2 = jwt.find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  auto header =
      parse_json_object(base64url_decode(jwt.substr(0, dot1)).value(), json_limits{}).value();
  auto claims = parse_json_object(base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)).value(),
                                  json_limits{})
                    .value();
  EXPECT_EQ(*find_string(header, "x5t#S256"), sha256_b64(der_of(registered_identity().cert.get())));
  EXPECT_EQ(*find_string(claims, "aud"), base_ + "/" + std::string(kTenant) + "/oauth2/v2.0/token");
  EXPECT_EQ(*find_string(claims, "iss"), kClient);
  EXPECT_EQ(*find_string(claims, "sub"), kClient);
}

TEST_F(ConfidentialLoginTest, TwoPrivateKeyJwtLoginsUseDistinctAssertions) {
  make_app(jwt_credential(registered_identity()));
  ASSERT_EQ(log_in().response.result_int(), 302u);
  // A reused jti would be refused by the mock (AADSTS50027): the second login proves it is not.
  auto second = log_in();
  ASSERT_EQ(second.response.result_int(), 302u) << second.response.body();
  EXPECT_EQ(token_requests().size(), 2u);
}

TEST_F(ConfidentialLoginTest, CertificateUnknownToTheIdpIsAadsts700027) {
  make_app(jwt_credential(unknown_identity()));
  auto h = log_in();
  EXPECT_EQ(h.reason, auth_error::token_endpoint_error);
  const std::string& body = h.response.body();
  EXPECT_NE(body.find("AADSTS700027"), std::string::npos) << body;
  EXPECT_NE(body.find("invalid_client"), std::string::npos) << body;
  EXPECT_NE(body.find(html_escape(aadsts_lookup(700027).admin_fix)), std::string::npos) << body;
  ASSERT_EQ(token_requests().size(), 1u);
  EXPECT_TRUE(token_requests()[0].origin.empty());
}

TEST_F(ConfidentialLoginTest, ConfidentialOrganisationWithoutCredentialRefusesLogin) {
  make_app(nullptr);
  auto h = call("/api/single-sign-on/login");
  EXPECT_EQ(h.reason, auth_error::config_invalid);
  EXPECT_TRUE(token_requests().empty());
}

// --- credential loading ---------------------------------------------------------------------

secret_reader map_reader(std::map<std::string, std::string> files,
                         std::map<std::string, std::string> env = {}) {
  secret_reader r;
  r.read_file = [files](const std::filesystem::path& p) -> std::optional<std::string> {
    auto it = files.find(p.string());
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  r.getenv = [env](std::string_view n) -> std::optional<std::string> {
    auto it = env.find(std::string(n));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return r;
}

std::shared_ptr<const server_config> config_with_client_auth(const std::string& client_auth) {
  const std::string text = R"({
    "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "example.com"},
    "session": {"issuer": "https://example.com",
                "signing_keys": [{"private_key_file": "/k/session.pem"}]},
    "cookies": {"keys": [{"id": 1, "secret_file": "/k/cookie.key"}]},
    "accounts": {"mode": "tenant", "sqlite_path": "/k/accounts.db"},
    "organisations": [{"name": "acme", "tenant_id": "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70",
                       "client_id": "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                       "redirect_uri": "https://acme.example.com/api/single-sign-on",
                       "client_auth": )" +
                           client_auth + "}]}";
  auto cfg = parse_config(text, config_environment{});
  if (!cfg) throw std::runtime_error(format_errors(cfg.error()));
  return *cfg;
}

std::map<std::string, std::string> base_files() {
  return {{"/k/session.pem", generate_ec_p256_private_key_pem().value()},
          {"/k/cookie.key", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}};
}

TEST(ClientCredentialLoading, ClientSecretFileIsReadWithoutTrailingNewline) {
  auto files = base_files();
  files["/k/client.secret"] = "s3cret\n";
  auto cfg = config_with_client_auth(
      R"({"method": "client_secret_post", "secret_file": "/k/client.secret"})");
  auto s = load_runtime_secrets(*cfg, map_reader(files));
  ASSERT_TRUE(s) << format_errors(s.error());
  ASSERT_NE(s->client("acme"), nullptr);
  EXPECT_EQ(s->client("acme")->method, client_auth_method::client_secret_post);
  EXPECT_EQ(s->client("acme")->secret, "s3cret");
}

TEST(ClientCredentialLoading, MissingClientSecretIsReportedWithoutValue) {
  auto cfg = config_with_client_auth(
      R"({"method": "client_secret_post", "secret_file": "/k/client.secret"})");
  auto s = load_runtime_secrets(*cfg, map_reader(base_files()));
  ASSERT_FALSE(s);
  ASSERT_EQ(s.error().size(), 1u);
  EXPECT_EQ(s.error()[0].path, "organisations[0].client_auth.secret_file");
}

TEST(ClientCredentialLoading, PrivateKeyJwtLoadsKeyAndThumbprint) {
  auto id = make_rsa_identity();
  auto files = base_files();
  files["/k/client.key"] = id.key_pem;
  files["/k/client.crt"] = id.cert_pem;
  auto cfg = config_with_client_auth(
      R"({"method": "private_key_jwt", "key_file": "/k/client.key",
          "certificate_file": "/k/client.crt"})");
  auto s = load_runtime_secrets(*cfg, map_reader(files));
  ASSERT_TRUE(s) << format_errors(s.error());
  const auto* c = s->client("acme");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->method, client_auth_method::private_key_jwt);
  EXPECT_EQ(c->x5t_s256, sha256_b64(der_of(id.cert.get())));
}

TEST(ClientCredentialLoading, CertificateOfAnotherKeyIsRefused) {
  auto id = make_rsa_identity();
  auto other = make_rsa_identity();
  std::string problem;
  EXPECT_EQ(make_private_key_jwt_credential(id.key_pem, other.cert_pem, problem), nullptr);
  EXPECT_NE(problem.find("does not hold the public key"), std::string::npos) << problem;
}

TEST(ClientCredentialLoading, ShortRsaKeyIsRefused) {
  auto id = make_rsa_identity(1024);
  std::string problem;
  EXPECT_EQ(make_private_key_jwt_credential(id.key_pem, id.cert_pem, problem), nullptr);
  EXPECT_NE(problem.find("2048"), std::string::npos) << problem;
}

// --- the client assertion -------------------------------------------------------------------

TEST(ClientAssertion, HeaderClaimsAndSignatureVerifyWithTheCertificate) {
  auto id = make_rsa_identity();
  std::string problem;
  auto cred = make_private_key_jwt_credential(id.key_pem, id.cert_pem, problem);
  ASSERT_NE(cred, nullptr) << problem;
  openssl_random rng;
  const auto now = std::chrono::sys_seconds(std::chrono::seconds(1'800'000'000));
  const std::string endpoint = "https://login.example/tenant/oauth2/v2.0/token";
  auto jwt = make_client_assertion(*cred, kClient, endpoint, now, rng);
  ASSERT_TRUE(jwt);

  const auto dot1 = jwt->find('.');
  const auto dot2 = jwt->find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  auto header_text = base64url_decode(std::string_view(*jwt).substr(0, dot1)).value();
  auto payload_text =
      base64url_decode(std::string_view(*jwt).substr(dot1 + 1, dot2 - dot1 - 1)).value();
  auto header = parse_json_object(header_text, json_limits{}).value();
  auto claims = parse_json_object(payload_text, json_limits{}).value();

  EXPECT_EQ(*find_string(header, "alg"), "RS256");
  EXPECT_EQ(*find_string(header, "typ"), "JWT");
  EXPECT_EQ(*find_string(header, "x5t#S256"), sha256_b64(der_of(id.cert.get())));
  EXPECT_EQ(*find_string(claims, "aud"), endpoint);
  EXPECT_EQ(*find_string(claims, "iss"), kClient);
  EXPECT_EQ(*find_string(claims, "sub"), kClient);
  EXPECT_GE(find_string(claims, "jti")->size(), 43u);
  EXPECT_EQ(claims.at("iat").as_int64(), 1'800'000'000);
  EXPECT_EQ(claims.at("nbf").as_int64(), 1'800'000'000);
  EXPECT_EQ(claims.at("exp").as_int64(), 1'800'000'000 + kClientAssertionLifetime.count());

  // RS256 = RSASSA-PKCS1-v1_5 with SHA-256, checked with the certificate's public key.
  auto sig = base64url_decode(std::string_view(*jwt).substr(dot2 + 1)).value();
  const std::string_view signing_input = std::string_view(*jwt).substr(0, dot2);
  evp_md_ctx_ptr md(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr,
                                 X509_get0_pubkey(id.cert.get())),
            1);
  EXPECT_EQ(EVP_DigestVerify(
                md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()),
            1);

  auto again = make_client_assertion(*cred, kClient, endpoint, now, rng);
  ASSERT_TRUE(again);
  auto claims2 =
      parse_json_object(
          base64url_decode(std::string_view(*again).substr(
                               again->find('.') + 1, again->rfind('.') - again->find('.') - 1))
              .value(),
          json_limits{})
          .value();
  EXPECT_NE(*find_string(claims2, "jti"), *find_string(claims, "jti"));
}

TEST(ClientAssertion, RefusesASecretCredential) {
  openssl_random rng;
  auto cred = secret_credential("x");
  auto jwt = make_client_assertion(*cred, kClient, "https://t/token", wall_now(), rng);
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error(), auth_error::internal_error);
}

}  // namespace
}  // namespace oidc::server
