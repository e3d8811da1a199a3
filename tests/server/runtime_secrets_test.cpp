// SPDX-License-Identifier: Apache-2.0
// Secret resolution: cookie key ring and session signer from files and environment variables,
// every problem reported with its path and never with the secret's value.
#include "runtime_secrets.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

constexpr std::string_view kHexKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

class RuntimeSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("oidc-secrets-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    write("session.pem", generate_ec_p256_private_key_pem().value());
    write("cookie.key", std::string(kHexKey) + "\n");
    write("bad.key", "not-a-key-SECRETVALUE");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  std::shared_ptr<const server_config> config(const std::string& cookie_keys) {
    const std::string text = R"({
      "server": {"listen": [{"address": "127.0.0.1", "port": 0}], "base_domain": "example.com"},
      "session": {"issuer": "https://example.com",
                  "signing_keys": [{"kid": "k1", "private_key_file": ")" +
                             (dir_ / "session.pem").string() + R"("}]},
      "cookies": {"keys": )" +
                             cookie_keys + R"(},
      "accounts": {"mode": "tenant", "sqlite_path": "/unused/accounts.db"},
      "organisations": [{"name": "acme", "tenant_id": "0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f",
                         "client_id": "6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f"}]})";
    auto parsed = parse_config(text, config_environment{});
    if (!parsed) throw std::runtime_error(format_errors(parsed.error()));
    return *parsed;
  }

  std::string file(const char* name) { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

secret_reader with_env(std::map<std::string, std::string, std::less<>> vars) {
  auto r = system_secret_reader();
  r.getenv = [vars = std::move(vars)](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return r;
}

TEST_F(RuntimeSecretsTest, BuildsKeyRingAndSignerFromFiles) {
  auto cfg = config(R"([{"id": 1, "secret_file": ")" + file("cookie.key") + R"("}])");
  auto s = load_runtime_secrets(*cfg, system_secret_reader());
  ASSERT_TRUE(s) << format_errors(s.error());
  EXPECT_EQ(s->cookie_keys->size(), 1u);
  EXPECT_EQ(s->cookie_keys->sealing_key_id(), 1);
  EXPECT_EQ(s->sessions->signing_kid(), "k1");
  EXPECT_EQ(s->sessions->options().issuer, "https://example.com");
}

TEST_F(RuntimeSecretsTest, ReadsCookieKeyFromEnvironment) {
  auto cfg = config(R"([{"id": 1, "secret_file": ")" + file("cookie.key") +
                    R"("}, {"id": 2, "secret_env": "OIDC_TEST_COOKIE_KEY"}])");
  auto s = load_runtime_secrets(*cfg, with_env({{"OIDC_TEST_COOKIE_KEY", std::string(kHexKey)}}));
  ASSERT_TRUE(s) << format_errors(s.error());
  EXPECT_EQ(s->cookie_keys->sealing_key_id(), 2);
}

TEST_F(RuntimeSecretsTest, ReportsEveryProblemWithoutSecretValues) {
  auto cfg = config(R"([{"id": 1, "secret_file": ")" + file("missing.key") +
                    R"("}, {"id": 2, "secret_file": ")" + file("bad.key") +
                    R"("}, {"id": 3, "secret_env": "OIDC_TEST_UNSET"}])");
  auto s = load_runtime_secrets(*cfg, with_env({}));
  ASSERT_FALSE(s);
  ASSERT_EQ(s.error().size(), 3u);
  EXPECT_EQ(s.error()[0].path, "cookies.keys[0].secret_file");
  EXPECT_EQ(s.error()[1].path, "cookies.keys[1]");
  EXPECT_EQ(s.error()[2].path, "cookies.keys[2].secret_env");
  EXPECT_EQ(format_errors(s.error()).find("SECRETVALUE"), std::string::npos);
}

TEST_F(RuntimeSecretsTest, RefusesUnreadableSigningKey) {
  write("session.pem", "garbage");
  auto cfg = config(R"([{"id": 1, "secret_file": ")" + file("cookie.key") + R"("}])");
  auto s = load_runtime_secrets(*cfg, system_secret_reader());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error()[0].path, "session.signing_keys");
}

TEST(ConfigFileLoading, ReportsUnreadableFile) {
  auto r = load_config_file("/nonexistent/oidc/config.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().size(), 1u);
}

}  // namespace
}  // namespace oidc::server
