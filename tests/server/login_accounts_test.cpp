// SPDX-License-Identifier: Apache-2.0
// Component tests of account resolution through the whole login: a directory-mode organisation
// backed by the SQLite account database, users signed in at the mock Entra tenant over TLS.
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include "login_harness.hpp"

namespace oidc::server {
namespace {

using namespace harness;

constexpr std::string_view kGraceOid = "9b1c5d7e-0000-4000-8000-00000000000b";
constexpr std::string_view kDoraOid = "9b1c5d7e-0000-4000-8000-00000000000c";
constexpr std::string_view kGuestOid = "9b1c5d7e-0000-4000-8000-00000000000d";
constexpr std::string_view kImpostorOid = "9b1c5d7e-0000-4000-8000-00000000000e";
constexpr std::string_view kNobodyOid = "9b1c5d7e-0000-4000-8000-00000000000f";

class LoginAccountsTest : public ::testing::Test, protected login_harness {
 protected:
  void SetUp() override {
    harness_options o;
    auto tenant = acme_tenant();
    // Users of the tenant as the IdP knows them; which of them have accounts is ours to say.
    // Grace's token carries no email, and her preferred_username in another case.
    tenant.users.push_back(
        {std::string(kGraceOid), "Grace Hopper", "Grace@Acme.Example", "", false});
    tenant.users.push_back(
        {std::string(kDoraOid), "Dora", "dora@acme.example", "dora@acme.example", false});
    // A guest: their address belongs to another organisation's domain.
    tenant.users.push_back(
        {std::string(kGuestOid), "Guest", "ada@partner.example", "ada@partner.example", false});
    // Another user of the tenant who now carries Ada's address (e.g. after a rename).
    tenant.users.push_back({std::string(kImpostorOid), "Impostor", "impostor@acme.example",
                            "ada@acme.example", false});
    tenant.users.push_back(
        {std::string(kNobodyOid), "Nobody", "nobody@acme.example", "nobody@acme.example", false});
    o.tenants = {tenant};
    o.accounts_mode = "directory";
    o.organisations = [](const mock::identity_provider&, const std::string& base) {
      return acme_organisation(base, R"(, "domains": ["acme.example"])");
    };
    start_harness(std::move(o));

    std::istringstream csv(
        "organisation,email,display_name,disabled\n"
        "acme,ada@acme.example,Ada,0\n"
        "acme,grace@acme.example,Grace,false\n"
        "acme,dora@acme.example,Dora,1\n"
        "other,nobody@acme.example,Nobody elsewhere,0\n");
    const auto imported = import_accounts_csv(*db_, csv);
    ASSERT_TRUE(imported.ok) << format_import_report(imported);
    ASSERT_EQ(imported.inserted, 4u);
  }
  void TearDown() override { stop_harness(); }

  // The signed-in account as /api/session reports it.
  boost::json::value who_am_i(const handled_request& callback) {
    const auto session = cookie_pair(callback.response, "__Host-oidc-session=");
    EXPECT_FALSE(session.empty());
    auto who = call("/api/session", session, "application/json");
    EXPECT_EQ(who.response.result_int(), 200u) << who.response.body();
    return boost::json::parse(who.response.body());
  }
};

TEST_F(LoginAccountsTest, AddressMatchSignsInAndBindsTheOid) {
  auto h = log_in("ada@acme.example");
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(h.reason, auth_error::ok);
  const auto who = who_am_i(h);
  const auto& o = who.as_object();
  EXPECT_EQ(o.at("email").as_string(), "ada@acme.example");
  EXPECT_EQ(o.at("org").as_string(), "acme");

  // The account now belongs to Ada's oid.
  auto c = db_->lock();
  auto st = c.prepare("SELECT oid FROM accounts WHERE email = 'ada@acme.example'");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_text(0), kAdaOid);
}

TEST_F(LoginAccountsTest, PreferredUsernameMatchesCaseInsensitively) {
  auto h = log_in("Grace@Acme.Example");
  ASSERT_EQ(h.response.result_int(), 302u) << h.response.body();
  EXPECT_EQ(who_am_i(h).as_object().at("email").as_string(), "grace@acme.example");
}

TEST_F(LoginAccountsTest, UserWithoutAnAccountGetsAForbiddenPageThatSaysSo) {
  // Nobody has an account, but only in another organisation.
  auto h = log_in("nobody@acme.example");
  EXPECT_EQ(h.reason, auth_error::account_not_found);
  EXPECT_EQ(h.response.result_int(), 403u);
  EXPECT_NE(h.response.body().find("account_not_found"), std::string::npos) << h.response.body();
  EXPECT_TRUE(cookie_pair(h.response, "__Host-oidc-session=").empty());
  // A JSON client learns the same reason.
  auto s = start();
  auto j =
      call(authorize(s.authorize_url, "nobody@acme.example"), s.state_cookie, "application/json");
  EXPECT_EQ(j.response.result_int(), 403u);
  EXPECT_EQ(boost::json::parse(j.response.body()).as_object().at("error").as_string(),
            "account_not_found")
      << j.response.body();
}

TEST_F(LoginAccountsTest, DisabledAccountIsRefused) {
  auto h = log_in("dora@acme.example");
  EXPECT_EQ(h.reason, auth_error::account_disabled);
  EXPECT_EQ(h.response.result_int(), 403u);
  EXPECT_TRUE(cookie_pair(h.response, "__Host-oidc-session=").empty());
  // Refused without binding: the row stays unbound.
  auto c = db_->lock();
  auto st = c.prepare("SELECT oid FROM accounts WHERE email = 'dora@acme.example'");
  ASSERT_TRUE(st.step());
  EXPECT_TRUE(st.column_text(0).empty());
}

TEST_F(LoginAccountsTest, AddressOutsideTheOrganisationsDomainsIsRefused) {
  auto h = log_in("ada@partner.example");
  EXPECT_EQ(h.reason, auth_error::account_domain_not_allowed);
  EXPECT_EQ(h.response.result_int(), 403u);
  EXPECT_TRUE(cookie_pair(h.response, "__Host-oidc-session=").empty());
}

TEST_F(LoginAccountsTest, AddressMatchFollowedByAnotherOidIsRefused) {
  // Ada signs in first: her account is bound to her oid.
  auto first = log_in("ada@acme.example");
  ASSERT_EQ(first.response.result_int(), 302u) << first.response.body();
  // Another user of the tenant presenting Ada's address cannot take the account over.
  auto second = log_in("impostor@acme.example");
  EXPECT_EQ(second.reason, auth_error::account_oid_mismatch);
  EXPECT_EQ(second.response.result_int(), 403u);
  EXPECT_TRUE(cookie_pair(second.response, "__Host-oidc-session=").empty());
  // Ada still signs in.
  EXPECT_EQ(log_in("ada@acme.example").response.result_int(), 302u);
}

}  // namespace
}  // namespace oidc::server
