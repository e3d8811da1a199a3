// SPDX-License-Identifier: Apache-2.0
// The oidc-callback-server binary: --check-config exit codes and messages (skipped when the
// binary has not been built in this build tree).
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "oidc/session_token.hpp"

namespace {

const std::filesystem::path kBinary =
    std::filesystem::path(OIDC_BINARY_DIR) / "oidc-callback-server";

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

run_result run(const std::string& args) {
  run_result r;
  const std::string cmd = kBinary.string() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    r.output.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class BinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kBinary)) GTEST_SKIP() << "not built: " << kBinary;
    dir_ = std::filesystem::temp_directory_path() / ("oidc-binary-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "session.pem") << oidc::generate_ec_p256_private_key_pem().value();
    std::ofstream(dir_ / "cookie.key")
        << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string write_config(const std::string& listen_address, const std::string& cookie_mode,
                           const std::string& tenant) {
    const auto path = dir_ / "config.json";
    std::ofstream(path) << R"({
      "server": {"listen": [{"address": ")"
                        << listen_address << R"(", "port": 0}], "base_domain": "localhost",
                 "default_organisation": "demo", "cookie_mode": ")"
                        << cookie_mode << R"("},
      "session": {"issuer": "http://localhost:8080",
                  "signing_keys": [{"private_key_file": "session.pem"}]},
      "cookies": {"keys": [{"id": 1, "secret_file": "cookie.key"}]},
      "accounts": {"mode": "tenant", "sqlite_path": "accounts.db"},
      "organisations": [{"name": "demo", "tenant_id": ")"
                        << tenant << R"(", "client_id": "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35",
                         "redirect_uri": "http://localhost:8080/api/single-sign-on"}]})";
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(BinaryTest, CheckConfigAcceptsValidConfiguration) {
  auto r = run("--check-config --config " +
               write_config("127.0.0.1", "development", "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK"), std::string::npos);
}

TEST_F(BinaryTest, CheckConfigRefusesAndListsErrors) {
  auto r = run("--check-config --config " + write_config("127.0.0.1", "development", "not-a-guid"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("organisations[0].tenant_id"), std::string::npos) << r.output;
}

TEST_F(BinaryTest, DevelopmentCookieModeRefusedOnNonLoopbackListener) {
  auto r = run("--check-config --config " +
               write_config("0.0.0.0", "development", "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cookie_mode"), std::string::npos) << r.output;
}

TEST_F(BinaryTest, MissingSecretFileIsReported) {
  std::filesystem::remove(dir_ / "cookie.key");
  auto r = run("--check-config --config " +
               write_config("127.0.0.1", "development", "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cookies.keys[0].secret_file"), std::string::npos) << r.output;
}

TEST_F(BinaryTest, UsageErrorWithoutConfig) {
  EXPECT_EQ(run("").exit_code, 2);
}

}  // namespace
