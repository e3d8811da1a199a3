// SPDX-License-Identifier: Apache-2.0
// The mock IdP's building blocks: strict form parsing, configuration loading (including the
// shipped config/mock-idp.json against config/demo.json) and the development PKI.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dev_pki.hpp"
#include "form.hpp"
#include "mock_config.hpp"
#include "oidc/json.hpp"

namespace oidc::mock {
namespace {

TEST(MockForm, DecodesPercentAndPlus) {
  auto f = parse_form("a=x%2By+z&b=&c");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*form_get(*f, "a"), "x+y z");
  EXPECT_EQ(*form_get(*f, "b"), "");
  EXPECT_EQ(*form_get(*f, "c"), "");
}

TEST(MockForm, RefusesDuplicatesBadEscapesAndEmptySegments) {
  EXPECT_FALSE(parse_form("a=1&a=2"));
  EXPECT_FALSE(parse_form("a=%4"));
  EXPECT_FALSE(parse_form("a=%zz"));
  EXPECT_FALSE(parse_form("a=1&&b=2"));
  EXPECT_FALSE(parse_form("a=1&"));
  EXPECT_FALSE(parse_form("=1"));
  EXPECT_TRUE(parse_form("")->empty());
}

TEST(MockForm, EncodesForRoundTrip) {
  const std::string s = "https://x.example/a b?c=d&e";
  auto f = parse_form("v=" + url_encode(s));
  EXPECT_EQ(*form_get(*f, "v"), s);
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(MockConfig, ShippedConfigMatchesTheDemoOrganisation) {
  const std::filesystem::path dir = std::filesystem::path(OIDC_SOURCE_DIR) / "config";
  auto loaded = load_mock_config(dir / "mock-idp.json");
  ASSERT_TRUE(loaded.config.has_value()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  const auto& c = *loaded.config;
  auto demo = parse_json_object(read_file(dir / "demo.json"), kConfigJsonLimits).value();
  const auto& org = demo.at("organisations").as_array()[0].as_object();
  EXPECT_EQ(c.base_url, std::string(org.at("authority").as_string()));
  const mock_tenant* tenant = nullptr;
  for (const auto& t : c.tenants) {
    if (t.id == org.at("tenant_id").as_string()) tenant = &t;
  }
  ASSERT_NE(tenant, nullptr);
  const mock_client* client = nullptr;
  for (const auto& cl : tenant->clients) {
    if (cl.client_id == org.at("client_id").as_string()) client = &cl;
  }
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->type, client_type::spa);
  EXPECT_NE(std::find(client->redirect_uris.begin(), client->redirect_uris.end(),
                      std::string(org.at("redirect_uri").as_string())),
            client->redirect_uris.end());
  EXPECT_TRUE(c.auto_approve);
  EXPECT_EQ(c.https_port, 9443);
  EXPECT_EQ(c.cert_file, (dir / "../var/dev/cert.pem").lexically_normal());
  // The demo's JWKS refresh ceiling sits below the mock's JWKS max-age... and both below the
  // signing overlap, so a rotation never fails a login.
  EXPECT_LT(c.keys.jwks_max_age, c.keys.signing_overlap);
  EXPECT_GE(c.keys.retire_overlap, c.token_ttl);
}

TEST(MockConfig, ReportsEveryMistake) {
  auto r = parse_mock_config(R"({
    "listen": {"https_port": 70000},
    "keys": {"signing_overlap_seconds": 10, "jwks_max_age_seconds": 30},
    "tenants": [{"id": "t", "clients": [{"client_id": "c", "type": "desktop", "redirect_uris": []}],
                 "users": []}]
  })",
                             "/tmp");
  EXPECT_FALSE(r.config.has_value());
  const auto has = [&](std::string_view needle) {
    for (const auto& e : r.errors) {
      if (e.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("listen.https_port")) << r.errors.size();
  EXPECT_TRUE(has("listen.cert_file"));
  EXPECT_TRUE(has("clients[0].type"));
}

TEST(MockConfig, JwksMaxAgeMustBeBelowTheSigningOverlap) {
  mock_idp_config c;
  c.tenants.push_back(
      {"t", {{"c", client_type::spa, {}, {"https://x/cb"}}}, {{"o", "n", "u", "e", false}}, {}});
  EXPECT_TRUE(validate_mock_config(c).empty());
  c.keys.jwks_max_age = c.keys.signing_overlap;
  EXPECT_EQ(validate_mock_config(c).size(), 1u);
}

TEST(MockDevPki, LeafIsSignedByTheCaForLocalhost) {
  const auto pki = generate_dev_pki();
  auto read_cert = [](const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return x;
  };
  X509* ca = read_cert(pki.ca_cert_pem);
  X509* leaf = read_cert(pki.leaf_cert_pem);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
  EXPECT_EQ(X509_check_host(leaf, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  X509_free(ca);
  X509_free(leaf);
  EXPECT_NE(pki.leaf_key_pem.find("PRIVATE KEY"), std::string::npos);
}

TEST(MockDevPki, EnsureWritesOnceAndKeepsExistingFiles) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mock-idp-pki-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(ensure_dev_pki(dir));
  const std::string first = read_file(dir / "ca.pem");
  EXPECT_FALSE(ensure_dev_pki(dir));
  EXPECT_EQ(read_file(dir / "ca.pem"), first);
  const auto perms = std::filesystem::status(dir / "key.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace oidc::mock
