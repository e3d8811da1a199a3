// SPDX-License-Identifier: Apache-2.0
// The AADSTS table: every code the mock IdP emits has its own row and admin fix.
#include "aadsts.hpp"

#include <fstream>
#include <iterator>
#include <regex>
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
      {7000215, "client_secret_invalid"},
      {700027, "client_assertion_signature_invalid"},
      {700024, "client_assertion_time_range"},
      {700021, "client_assertion_issuer_mismatch"},
      {700023, "client_assertion_audience_mismatch"},
      {50048, "client_assertion_subject_mismatch"},
      {50027, "invalid_jwt"},
      {900144, "missing_parameter"},
      {9002313, "malformed_request"},
      {70003, "unsupported_grant_type"},
      {700054, "unsupported_response_type"},
      {9002325, "pkce_required"},
      {900561, "post_required"},
      {90002, "tenant_not_found"},
      {50034, "user_not_found"},
      {50057, "user_disabled"},
      {90033, "transient_error"},
  };
  for (const auto& [code, key] : expected) {
    EXPECT_EQ(aadsts_lookup(code).key, key) << code;
    EXPECT_EQ(aadsts_lookup(code).code, code);
    EXPECT_FALSE(aadsts_lookup(code).admin_fix.empty());
  }
}

// The mock's codes are read from its source, so a code added there without a row here fails.
TEST(AadstsTable, EveryCodeTheMockIdpEmitsHasItsOwnRow) {
  std::ifstream in(std::string(OIDC_SOURCE_DIR) + "/loadtest/mock-idp/src/entra_error_codes.hpp");
  ASSERT_TRUE(in) << "cannot read the mock's code list";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::regex enumerator(R"(\b[a-z_0-9]+ = ([0-9]+),)");
  std::size_t found = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), enumerator);
       it != std::sregex_iterator(); ++it) {
    const auto code = static_cast<std::uint32_t>(std::stoul((*it)[1].str()));
    ++found;
    const auto& row = aadsts_lookup(code);
    EXPECT_EQ(row.code, code) << "AADSTS" << code << " has no row in server/src/aadsts.cpp";
    EXPECT_FALSE(row.summary.empty()) << code;
    EXPECT_GE(row.admin_fix.size(), 40u) << code;
  }
  EXPECT_GE(found, 27u);
}

TEST(AadstsTable, CodesAreUniqueAndEveryRowExplains) {
  std::set<std::uint32_t> codes;
  for (const auto& row : aadsts_table()) {
    EXPECT_TRUE(codes.insert(row.code).second) << row.code;
    EXPECT_FALSE(row.summary.empty()) << row.key;
    EXPECT_FALSE(row.admin_fix.empty()) << row.key;
  }
  EXPECT_EQ(aadsts_table().back().key, "other");
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
