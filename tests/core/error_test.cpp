// SPDX-License-Identifier: Apache-2.0
#include "oidc/error.hpp"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace oidc {
namespace {

TEST(AuthErrorTable, EveryReasonHasUniqueSnakeCaseLabelStatusAndMessage) {
  std::set<std::string_view> labels;
  for (std::size_t i = 0; i < auth_error_table.size(); ++i) {
    const auto& row = auth_error_table[i];
    EXPECT_EQ(index(row.code), i);
    EXPECT_TRUE(labels.insert(row.label).second) << "duplicate label " << row.label;
    for (char c : row.label)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << row.label;
    EXPECT_GE(row.http_status, 200u);
    EXPECT_LT(row.http_status, 600u);
    EXPECT_FALSE(row.message.empty());
    EXPECT_EQ(from_label(row.label), row.code);
  }
  EXPECT_EQ(from_label("no_such_reason"), auth_error::count_);
}

TEST(AuthErrorTable, RoundTripsThroughStdErrorCode) {
  for (const auto& row : auth_error_table) {
    std::error_code ec = row.code;
    EXPECT_EQ(ec.category().name(), std::string("oidc.auth"));
    EXPECT_EQ(ec.message(), std::string(row.message));
    EXPECT_EQ(ec, row.code);
  }
}

TEST(AuthErrorTable, MapsReasonsToTheStatusAClientShouldSee) {
  EXPECT_EQ(http_status(auth_error::signature_invalid), 401u);
  EXPECT_EQ(http_status(auth_error::state_mismatch), 400u);
  EXPECT_EQ(http_status(auth_error::account_not_found), 403u);
  EXPECT_EQ(http_status(auth_error::organisation_unknown), 404u);
  EXPECT_EQ(http_status(auth_error::idp_timeout), 504u);
  EXPECT_EQ(http_status(auth_error::headers_too_large), 431u);
  EXPECT_EQ(label(auth_error::kid_unknown), "kid_unknown");
}

TEST(AuthErrorResult, ValueOfAnErrorResultThrowsSystemErrorWithTheReason) {
  result<int> r = auth_error::token_expired;
  try {
    (void)r.value();
    FAIL() << "expected a throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), auth_error::token_expired);
  }
}

}  // namespace
}  // namespace oidc

namespace oidc {
namespace {

TEST(AuthErrorDocs, DocsListEveryCanonicalLabelWithItsStatus) {
  std::ifstream in(std::string(OIDC_SOURCE_DIR) + "/docs/errors.md");
  ASSERT_TRUE(in) << "docs/errors.md missing";
  std::stringstream s;
  s << in.rdbuf();
  const std::string doc = s.str();
  for (const auto& row : auth_error_table) {
    const std::string cell =
        "| `" + std::string(row.label) + "` | " + std::to_string(row.http_status) + " |";
    EXPECT_NE(doc.find(cell), std::string::npos) << "docs/errors.md lacks " << cell;
  }
}

}  // namespace
}  // namespace oidc
