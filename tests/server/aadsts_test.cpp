// SPDX-License-Identifier: Apache-2.0
// The AADSTS table: every code the mock IdP emits has its own row and admin fix.
#include "aadsts.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace oidc::server {
namespace {

TEST(AadstsTable, MapsEachKnownCodeToItsKey) {
  const std::pair<std::uint32_t, std::string_view> expected[] = {
      {50011, "redirect_uri_not_registered"},
      {700025, "secret_from_public_client"},
      {9002327, "origin_missing"},
      {9002326, "origin_on_web_client"},
      {7000218, "web_client_without_secret"},
      {54005, "code_reused"},
      {70008, "code_expired"},
      {501481, "pkce_verifier_mismatch"},
      {500112, "token_redirect_uri_mismatch"},
      {700016, "application_not_found"},
      {65001, "consent_required"},
      {50105, "user_not_assigned"},
  };
  for (const auto& [code, key] : expected) {
    EXPECT_EQ(aadsts_lookup(code).key, key) << code;
    EXPECT_EQ(aadsts_lookup(code).code, code);
    EXPECT_FALSE(aadsts_lookup(code).admin_fix.empty());
  }
}

TEST(AadstsTable, UnknownCodesAreOther) {
  EXPECT_EQ(aadsts_lookup(12345).key, "other");
  EXPECT_EQ(aadsts_lookup(0).key, "other");
}

TEST(AadstsTable, KeysAreUniqueSnakeCase) {
  std::set<std::string_view> keys;
  for (const auto& row : aadsts_table()) {
    EXPECT_TRUE(keys.insert(row.key).second) << row.key;
    for (char c : row.key)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << row.key;
  }
}

TEST(AadstsCodeExtraction, FindsCodeInDescription) {
  EXPECT_EQ(find_aadsts_code("AADSTS9002327: Tokens issued for the 'Single-Page Application'..."),
            9002327u);
  EXPECT_EQ(find_aadsts_code("error AADSTS54005 code redeemed"), 54005u);
  EXPECT_FALSE(find_aadsts_code("no code here"));
  EXPECT_FALSE(find_aadsts_code("AADSTS: none"));
}

}  // namespace
}  // namespace oidc::server
