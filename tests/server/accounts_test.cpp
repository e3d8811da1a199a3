// SPDX-License-Identifier: Apache-2.0
// Accounts: every matching rule of the SQLite directory with its exact reason, tenant mode,
// concurrent first logins, opening bad database paths, the CSV import, and directory lookups run
// on the blocking pool from a coroutine.
#include "accounts.hpp"

#include <atomic>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "blocking_pool.hpp"

namespace oidc::server {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<unsigned> counter{0};
    path_ = fs::temp_directory_path() /
            ("oidc-accounts-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const std::vector<std::string> kAcmeDomains{"acme.com"};

class AccountsTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "accounts.db"; }

  std::int64_t add_account(const std::string& org, const std::string& email,
                           const std::string& oid = "", bool disabled = false,
                           const std::string& display_name = "") {
    auto c = db_->lock();
    auto s = c.prepare(
        "INSERT INTO accounts (organisation, email, display_name, oid, disabled) "
        "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
    s.bind_text(1, org);
    s.bind_text(2, email);
    s.bind_text(3, display_name);
    if (oid.empty())
      s.bind_null(4);
    else
      s.bind_text(4, oid);
    s.bind_int64(5, disabled ? 1 : 0);
    EXPECT_TRUE(s.step());
    return s.column_int64(0);
  }

  std::optional<std::string> bound_oid(std::int64_t id) {
    auto c = db_->lock();
    auto s = c.prepare("SELECT oid FROM accounts WHERE id = ?1");
    s.bind_int64(1, id);
    if (!s.step() || s.column_is_null(0)) return std::nullopt;
    return s.column_text(0);
  }

  std::int64_t count_accounts() {
    auto c = db_->lock();
    auto s = c.prepare("SELECT count(*) FROM accounts");
    EXPECT_TRUE(s.step());
    return s.column_int64(0);
  }

  static login_identity user(std::string oid, std::string email,
                             std::string preferred_username = "", std::string org = "acme") {
    login_identity who;
    who.organisation = std::move(org);
    who.tid = "11111111-2222-3333-4444-555555555555";
    who.oid = std::move(oid);
    who.email = std::move(email);
    who.preferred_username = std::move(preferred_username);
    who.name = "From Token";
    return who;
  }

  temp_dir dir_;
  std::shared_ptr<account_database> db_ = account_database::open(db_path());
  sqlite_account_directory directory_{db_};
};

// ----------------------------------------------------------------------------------------------
// Matching rules

TEST_F(AccountsTest, MatchesAccountBoundToTheOid) {
  const auto id = add_account("acme", "alice@acme.com", "oid-alice", false, "Alice");
  auto r = directory_.resolve(user("oid-alice", "someone-else@elsewhere.org"), kAcmeDomains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(r->account_id, std::to_string(id));
  EXPECT_EQ(r->organisation, "acme");
  EXPECT_EQ(r->email, "alice@acme.com");
  EXPECT_EQ(r->display_name, "Alice");
  EXPECT_EQ(r->oid, "oid-alice");
}

TEST_F(AccountsTest, OidMatchNeedsNoAllowedDomains) {
  add_account("acme", "alice@acme.com", "oid-alice");
  auto r = directory_.resolve(user("oid-alice", ""), {});
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->oid, "oid-alice");
}

TEST_F(AccountsTest, EmailMatchBindsTheOidOnFirstLogin) {
  const auto id = add_account("acme", "alice@acme.com");
  auto first = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_TRUE(first.has_value()) << label(first.error());
  EXPECT_EQ(first->id, id);
  EXPECT_EQ(first->oid, "oid-alice");
  EXPECT_EQ(first->display_name, "From Token");  // the row has none
  EXPECT_EQ(bound_oid(id), "oid-alice");

  // Later logins match on the oid, whatever the token's address says now.
  auto later = directory_.resolve(user("oid-alice", "renamed@acme.com"), kAcmeDomains);
  ASSERT_TRUE(later.has_value()) << label(later.error());
  EXPECT_EQ(later->id, id);
}

TEST_F(AccountsTest, LaterLoginWithAnotherOidIsRefused) {
  const auto id = add_account("acme", "alice@acme.com");
  ASSERT_TRUE(directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains).has_value());
  auto r = directory_.resolve(user("oid-impostor", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_oid_mismatch);
  EXPECT_EQ(bound_oid(id), "oid-alice");
}

TEST_F(AccountsTest, MatchesEmailCaseInsensitively) {
  const auto id = add_account("acme", "Alice.Smith@Acme.COM");
  auto r = directory_.resolve(user("oid-alice", "ALICE.smith@acme.com"), kAcmeDomains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, id);
}

TEST_F(AccountsTest, AllowedDomainsCompareCaseInsensitively) {
  const std::vector<std::string> domains{"Acme.Com"};
  const auto id = add_account("acme", "alice@acme.com");
  auto r = directory_.resolve(user("oid-alice", "alice@ACME.com"), domains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, id);
}

TEST_F(AccountsTest, MatchesPreferredUsernameWhenEmailIsAbsent) {
  const auto id = add_account("acme", "alice@acme.com");
  auto r = directory_.resolve(user("oid-alice", "", "Alice@acme.com"), kAcmeDomains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(bound_oid(id), "oid-alice");
}

TEST_F(AccountsTest, EmailIsTriedBeforePreferredUsername) {
  const auto by_email = add_account("acme", "alice@acme.com");
  add_account("acme", "alice.upn@acme.com");
  auto r =
      directory_.resolve(user("oid-alice", "alice@acme.com", "alice.upn@acme.com"), kAcmeDomains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, by_email);
}

TEST_F(AccountsTest, PreferredUsernameMatchesWhenEmailHasNoAccount) {
  const auto by_upn = add_account("acme", "alice.upn@acme.com");
  auto r =
      directory_.resolve(user("oid-alice", "alice@acme.com", "alice.upn@acme.com"), kAcmeDomains);
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->id, by_upn);
}

TEST_F(AccountsTest, AddressOutsideTheDomainsIsRefusedAndNotBound) {
  const auto id = add_account("acme", "alice@partner.com");
  auto r = directory_.resolve(user("oid-alice", "alice@partner.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_domain_not_allowed);
  EXPECT_EQ(bound_oid(id), std::nullopt);
}

// A guest's address is controlled by the guest's home tenant: even if an administrator imported
// it, it never matches, and the guest's #EXT# UPN is in the tenant's onmicrosoft domain.
TEST_F(AccountsTest, GuestAddressOfAnotherTenantDoesNotMatch) {
  const auto id = add_account("acme", "bob@contoso.com");
  auto r = directory_.resolve(
      user("oid-guest", "bob@contoso.com", "bob_contoso.com#EXT#@acme.onmicrosoft.com"),
      kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_domain_not_allowed);
  EXPECT_EQ(bound_oid(id), std::nullopt);
}

TEST_F(AccountsTest, DomainMustMatchExactly) {
  add_account("acme", "alice@sub.acme.com");
  add_account("acme", "alice@evilacme.com");
  for (const char* address : {"alice@sub.acme.com", "alice@evilacme.com", "acme.com@evil.org"}) {
    auto r = directory_.resolve(user("oid-x", address), kAcmeDomains);
    ASSERT_FALSE(r.has_value()) << address;
    EXPECT_EQ(r.error(), auth_error::account_domain_not_allowed) << address;
  }
}

TEST_F(AccountsTest, DisabledAccountIsRefusedWhenMatchedByOid) {
  add_account("acme", "alice@acme.com", "oid-alice", true);
  auto r = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_disabled);
}

TEST_F(AccountsTest, DisabledAccountIsRefusedAndNotBoundWhenMatchedByAddress) {
  const auto id = add_account("acme", "alice@acme.com", "", true);
  auto r = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_disabled);
  EXPECT_EQ(bound_oid(id), std::nullopt);
}

TEST_F(AccountsTest, UnknownUserIsRefused) {
  add_account("acme", "alice@acme.com");
  auto r = directory_.resolve(user("oid-carol", "carol@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_not_found);
}

TEST_F(AccountsTest, UserWithoutAnyAddressIsNotFound) {
  auto r = directory_.resolve(user("oid-carol", "", "carol"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_not_found);
}

TEST_F(AccountsTest, NoAllowedDomainsMeansNoAddressMatching) {
  const auto id = add_account("acme", "alice@acme.com");
  auto r = directory_.resolve(user("oid-alice", "alice@acme.com"), {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::account_not_found);
  EXPECT_EQ(bound_oid(id), std::nullopt);
}

TEST_F(AccountsTest, AccountsOfAnotherOrganisationNeverMatch) {
  add_account("globex", "alice@acme.com");
  add_account("globex", "bob@acme.com", "oid-bob");
  auto by_address = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(by_address.has_value());
  EXPECT_EQ(by_address.error(), auth_error::account_not_found);
  auto by_oid = directory_.resolve(user("oid-bob", ""), kAcmeDomains);
  ASSERT_FALSE(by_oid.has_value());
  EXPECT_EQ(by_oid.error(), auth_error::account_not_found);
}

TEST_F(AccountsTest, IdentityWithoutOidIsRefused) {
  add_account("acme", "alice@acme.com");
  auto r = directory_.resolve(user("", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::claim_missing);
}

TEST_F(AccountsTest, DatabaseFailureIsAnInternalError) {
  db_->lock().exec("DROP TABLE accounts");
  auto r = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::internal_error);
}

TEST(TenantAccounts, AnyUserOfTheTenantGetsAnAccountNamedAfterTheOid) {
  tenant_account_directory directory;
  login_identity who;
  who.organisation = "acme";
  who.oid = "0000-oid";
  who.preferred_username = "dave@anything.example";
  who.name = "Dave";
  auto r = directory.resolve(who, {});
  ASSERT_TRUE(r.has_value()) << label(r.error());
  EXPECT_EQ(r->account_id, "oid:0000-oid");
  EXPECT_EQ(r->organisation, "acme");
  EXPECT_EQ(r->email, "dave@anything.example");
  EXPECT_EQ(r->display_name, "Dave");
  EXPECT_FALSE(r->disabled);

  who.oid.clear();
  auto missing = directory.resolve(who, {});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), auth_error::claim_missing);
}

// Two instances (two connections) resolve the same unbound accounts at the same time.
TEST_F(AccountsTest, ConcurrentFirstLoginsWithTheSameOidBindOnce) {
  constexpr int kAccounts = 40;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kAccounts; ++i)
    ids.push_back(add_account("acme", "user" + std::to_string(i) + "@acme.com"));
  sqlite_account_directory a(account_database::open(db_path()));
  sqlite_account_directory b(account_database::open(db_path()));
  std::barrier start(2);
  std::vector<std::int64_t> got_a(kAccounts), got_b(kAccounts);
  const auto run = [&](sqlite_account_directory& d, std::vector<std::int64_t>& got) {
    for (int i = 0; i < kAccounts; ++i) {
      start.arrive_and_wait();
      const auto n = std::to_string(i);
      auto r = d.resolve(user("oid-" + n, "user" + n + "@acme.com"), kAcmeDomains);
      got[static_cast<std::size_t>(i)] = r.has_value() ? r->id : -1;
    }
  };
  std::thread ta([&] { run(a, got_a); });
  std::thread tb([&] { run(b, got_b); });
  ta.join();
  tb.join();
  for (int i = 0; i < kAccounts; ++i) {
    const auto k = static_cast<std::size_t>(i);
    EXPECT_EQ(got_a[k], ids[k]);
    EXPECT_EQ(got_b[k], ids[k]);
    EXPECT_EQ(bound_oid(ids[k]), "oid-" + std::to_string(i));
  }
}

TEST_F(AccountsTest, ConcurrentFirstLoginsWithDifferentOidsBindExactlyOne) {
  constexpr int kAccounts = 40;
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kAccounts; ++i)
    ids.push_back(add_account("acme", "user" + std::to_string(i) + "@acme.com"));
  sqlite_account_directory a(account_database::open(db_path()));
  sqlite_account_directory b(account_database::open(db_path()));
  std::barrier start(2);
  std::vector<result<account>> got_a(kAccounts, auth_error::internal_error);
  std::vector<result<account>> got_b(kAccounts, auth_error::internal_error);
  const auto run = [&](sqlite_account_directory& d, std::string side,
                       std::vector<result<account>>& got) {
    for (int i = 0; i < kAccounts; ++i) {
      start.arrive_and_wait();
      const auto n = std::to_string(i);
      got[static_cast<std::size_t>(i)] =
          d.resolve(user("oid-" + side + n, "user" + n + "@acme.com"), kAcmeDomains);
    }
  };
  std::thread ta([&] { run(a, "a", got_a); });
  std::thread tb([&] { run(b, "b", got_b); });
  ta.join();
  tb.join();
  for (int i = 0; i < kAccounts; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const auto& ra = got_a[k];
    const auto& rb = got_b[k];
    ASSERT_NE(ra.has_value(), rb.has_value()) << "account " << i;
    const auto& winner = ra.has_value() ? ra : rb;
    const auto& loser = ra.has_value() ? rb : ra;
    EXPECT_EQ(loser.error(), auth_error::account_oid_mismatch);
    EXPECT_EQ(bound_oid(ids[k]), winner->oid);
  }
}

// ----------------------------------------------------------------------------------------------
// Opening the database

std::string open_error(const fs::path& p) {
  try {
    account_database::open(p);
  } catch (const database_error& e) {
    return e.what();
  }
  return "(opened)";
}

TEST(AccountDatabase, MissingDirectoryIsAClearError) {
  temp_dir dir;
  const auto p = dir.path() / "no-such-dir" / "accounts.db";
  const auto msg = open_error(p);
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(AccountDatabase, DirectoryInsteadOfFileIsAClearError) {
  temp_dir dir;
  const auto msg = open_error(dir.path());
  EXPECT_NE(msg.find("is a directory"), std::string::npos) << msg;
}

TEST(AccountDatabase, FileThatIsNotADatabaseIsAClearError) {
  temp_dir dir;
  const auto p = dir.path() / "accounts.db";
  std::ofstream(p) << std::string(4096, 'x');
  const auto msg = open_error(p);
  EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;
}

TEST(AccountDatabase, EmptyPathIsRefused) {
  EXPECT_NE(open_error("").find("empty"), std::string::npos);
}

TEST(AccountDatabase, NewerSchemaIsRefused) {
  temp_dir dir;
  const auto p = dir.path() / "accounts.db";
  account_database::open(p)->lock().exec("PRAGMA user_version = 99");
  const auto msg = open_error(p);
  EXPECT_NE(msg.find("schema version 99"), std::string::npos) << msg;
}

TEST(AccountDatabase, ReopeningKeepsAccountsAndUsesWal) {
  temp_dir dir;
  const auto p = dir.path() / "accounts.db";
  {
    auto db = account_database::open(p);
    db->lock().exec("INSERT INTO accounts (organisation, email) VALUES ('acme', 'a@acme.com')");
  }
  auto db = account_database::open(p);
  auto c = db->lock();
  auto count = c.prepare("SELECT count(*) FROM accounts");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int64(0), 1);
  auto mode = c.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
}

// ----------------------------------------------------------------------------------------------
// CSV import

class CsvImportTest : public AccountsTest {
 protected:
  import_result import(const std::string& text, std::span<const std::string> orgs = {}) {
    std::istringstream in(text);
    return import_accounts_csv(*db_, in, orgs);
  }
  std::optional<account> row(const std::string& org, const std::string& email) {
    auto c = db_->lock();
    auto s = c.prepare(
        "SELECT id, display_name, disabled, oid FROM accounts WHERE organisation = ?1 AND "
        "email = ?2");
    s.bind_text(1, org);
    s.bind_text(2, email);
    if (!s.step()) return std::nullopt;
    account a;
    a.id = s.column_int64(0);
    a.display_name = s.column_text(1);
    a.disabled = s.column_int64(2) != 0;
    a.oid = s.column_text(3);
    return a;
  }
  static bool has_error_starting(const import_result& r, const std::string& prefix) {
    for (const auto& e : r.errors)
      if (e.rfind(prefix, 0) == 0) return true;
    return false;
  }
};

TEST_F(CsvImportTest, ImportsQuotedFieldsAsRfc4180Says) {
  const auto r = import(
      "\xEF\xBB\xBF"
      "organisation,email,display_name,disabled\r\n"
      "acme,Alice@Acme.com,\"Smith, Alice \"\"Al\"\"\",0\r\n"
      "\"acme\",\"bob@acme.com\",,true\r\n"
      "globex,carol@globex.com,Carol,\n");
  ASSERT_TRUE(r.ok) << format_import_report(r);
  EXPECT_EQ(r.rows, 3u);
  EXPECT_EQ(r.inserted, 3u);
  const auto alice = row("acme", "alice@acme.com");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->display_name, "Smith, Alice \"Al\"");
  EXPECT_FALSE(alice->disabled);
  const auto bob = row("acme", "bob@acme.com");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->display_name, "");
  EXPECT_TRUE(bob->disabled);
  EXPECT_TRUE(row("globex", "carol@globex.com"));
  EXPECT_EQ(format_import_report(r), "imported 3 accounts: 3 new, 0 updated, 0 unchanged\n");
}

TEST_F(CsvImportTest, BadRowsAreReportedByLineAndNothingIsImported) {
  const auto r = import(
      "organisation,email,display_name,disabled\n"
      "acme,alice@acme.com,Alice,0\n"
      "acme,not-an-address,Bob,0\n"
      "acme,carol@acme.com,Carol,maybe\n"
      "acme,dave@acme.com,Dave\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.errors.size(), 3u) << format_import_report(r);
  EXPECT_TRUE(has_error_starting(r, "line 3: email")) << format_import_report(r);
  EXPECT_TRUE(has_error_starting(r, "line 4: disabled")) << format_import_report(r);
  EXPECT_TRUE(has_error_starting(r, "line 5: expected 4 fields")) << format_import_report(r);
  EXPECT_EQ(count_accounts(), 0);
  EXPECT_NE(format_import_report(r).find("nothing imported"), std::string::npos);
}

TEST_F(CsvImportTest, LineNumbersCountLinesInsideQuotedFields) {
  const auto r = import(
      "organisation,email,display_name,disabled\n"
      "acme,alice@acme.com,\"two\nlines\",0\n"
      "acme,bad address,Bob,0\n");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(has_error_starting(r, "line 2: display_name")) << format_import_report(r);
  EXPECT_TRUE(has_error_starting(r, "line 4: email")) << format_import_report(r);
  EXPECT_EQ(count_accounts(), 0);
}

TEST_F(CsvImportTest, SyntaxErrorsAreReportedWithTheirLine) {
  struct {
    std::string body;
    std::string want;
  } cases[] = {
      {"acme,a@acme.com,Al\"ice,0\n", "line 2: quote inside an unquoted field"},
      {"acme,a@acme.com,\"Alice\"x,0\n", "line 2: unexpected character after a closing quote"},
      {"acme,a@acme.com,Alice,0\nacme,b@acme.com,\"Bob,0\n", "line 3: unterminated quoted field"},
      {"acme,a@acme.com,Alice,0\racme,b@acme.com,Bob,0\n", "line 2: carriage return"},
  };
  for (const auto& c : cases) {
    const auto r = import("organisation,email,display_name,disabled\n" + c.body);
    EXPECT_FALSE(r.ok) << c.body;
    EXPECT_TRUE(has_error_starting(r, c.want)) << c.body << "\n" << format_import_report(r);
  }
  EXPECT_EQ(count_accounts(), 0);
}

TEST_F(CsvImportTest, HeaderMustBeExact) {
  for (const char* text : {"", "email,organisation,display_name,disabled\nacme,a@acme.com,A,0\n",
                           "organisation,email,display_name\n"}) {
    const auto r = import(text);
    EXPECT_FALSE(r.ok) << text;
    EXPECT_TRUE(has_error_starting(r, "line 1: ")) << format_import_report(r);
  }
}

TEST_F(CsvImportTest, DuplicateAddressesInOneFileAreRefused) {
  const auto r = import(
      "organisation,email,display_name,disabled\n"
      "acme,alice@acme.com,Alice,0\n"
      "acme,ALICE@acme.com,Alice again,0\n");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(has_error_starting(r, "line 3: duplicate of line 2")) << format_import_report(r);
  EXPECT_EQ(count_accounts(), 0);
}

TEST_F(CsvImportTest, UnconfiguredOrganisationIsRefused) {
  const std::vector<std::string> orgs{"acme", "globex"};
  const auto r = import(
      "organisation,email,display_name,disabled\n"
      "acme,alice@acme.com,Alice,0\n"
      "acmee,bob@acme.com,Bob,0\n",
      orgs);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(has_error_starting(r, "line 3: organisation \"acmee\" is not configured"))
      << format_import_report(r);
  EXPECT_EQ(count_accounts(), 0);
}

TEST_F(CsvImportTest, ReimportUpdatesInPlaceAndKeepsTheBoundOid) {
  ASSERT_TRUE(import("organisation,email,display_name,disabled\n"
                     "acme,alice@acme.com,Alice,0\n"
                     "acme,bob@acme.com,Bob,0\n")
                  .ok);
  const auto before = row("acme", "alice@acme.com");
  ASSERT_TRUE(before);
  ASSERT_TRUE(directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains).has_value());

  const auto r = import(
      "organisation,email,display_name,disabled\n"
      "acme,Alice@acme.com,Alice Smith,1\n"
      "acme,bob@acme.com,Bob,0\n"
      "acme,carol@acme.com,Carol,0\n");
  ASSERT_TRUE(r.ok) << format_import_report(r);
  EXPECT_EQ(r.inserted, 1u);
  EXPECT_EQ(r.updated, 1u);
  EXPECT_EQ(r.unchanged, 1u);
  const auto after = row("acme", "alice@acme.com");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->id, before->id);
  EXPECT_EQ(after->display_name, "Alice Smith");
  EXPECT_EQ(after->oid, "oid-alice");
  EXPECT_TRUE(after->disabled);
  EXPECT_EQ(count_accounts(), 3);

  auto login = directory_.resolve(user("oid-alice", "alice@acme.com"), kAcmeDomains);
  ASSERT_FALSE(login.has_value());
  EXPECT_EQ(login.error(), auth_error::account_disabled);
}

TEST_F(CsvImportTest, UnreadableFileIsReported) {
  const auto r = import_accounts_csv_file(*db_, dir_.path() / "missing.csv");
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("cannot open"), std::string::npos);
}

TEST_F(CsvImportTest, ImportsFromAFile) {
  const auto file = dir_.path() / "accounts.csv";
  std::ofstream(file) << "organisation,email,display_name,disabled\nacme,alice@acme.com,A,0\n";
  const auto r = import_accounts_csv_file(*db_, file);
  ASSERT_TRUE(r.ok) << format_import_report(r);
  EXPECT_EQ(r.inserted, 1u);
}

// ----------------------------------------------------------------------------------------------
// Directory lookups from a coroutine, on the blocking pool

struct pool_probe {
  std::thread::id caller;
  std::thread::id job;
  std::thread::id resumed;
  bool job_on_io_thread = true;
  bool resumed_on_io_executor = false;
  std::optional<result<account>> resolved;
  std::string exception;
  bool done = false;
};

asio::awaitable<void> resolve_on_pool(blocking_pool* pool, asio::io_context* io,
                                      account_directory* directory, login_identity who,
                                      pool_probe* probe) {
  probe->caller = std::this_thread::get_id();
  auto job = [pool, io, directory, who, probe] {
    probe->job = std::this_thread::get_id();
    probe->job_on_io_thread = io->get_executor().running_in_this_thread();
    EXPECT_TRUE(pool->get_executor().running_in_this_thread());
    return directory->resolve(who, kAcmeDomains);
  };
  auto op = run_blocking(*pool, std::move(job));
  auto r = co_await std::move(op);
  probe->resumed = std::this_thread::get_id();
  probe->resumed_on_io_executor = io->get_executor().running_in_this_thread();
  probe->resolved = r;
  probe->done = true;
}

asio::awaitable<void> throw_on_pool(blocking_pool* pool, pool_probe* probe) {
  try {
    auto job = []() -> int { throw std::runtime_error("database on fire"); };
    auto op = run_blocking(*pool, job);
    co_await std::move(op);
  } catch (const std::runtime_error& e) {
    probe->exception = e.what();
  }
  probe->resumed = std::this_thread::get_id();
  probe->done = true;
}

TEST_F(AccountsTest, ResolveRunsOnThePoolAndResumesOnTheCallersExecutor) {
  add_account("acme", "alice@acme.com", "oid-alice");
  blocking_pool pool(2);
  asio::io_context io;
  pool_probe probe;
  asio::co_spawn(io, resolve_on_pool(&pool, &io, &directory_, user("oid-alice", ""), &probe),
                 asio::detached);
  io.run();  // returns only once the coroutine is done: the pending job keeps `io` busy
  ASSERT_TRUE(probe.done);
  ASSERT_TRUE(probe.resolved.has_value());
  ASSERT_TRUE(probe.resolved->has_value()) << label(probe.resolved->error());
  EXPECT_EQ((*probe.resolved)->oid, "oid-alice");
  EXPECT_NE(probe.job, probe.caller);
  EXPECT_FALSE(probe.job_on_io_thread);
  EXPECT_EQ(probe.resumed, probe.caller);
  EXPECT_TRUE(probe.resumed_on_io_executor);
}

TEST(BlockingPool, ExceptionIsRethrownInTheAwaitingCoroutine) {
  blocking_pool pool;
  asio::io_context io;
  pool_probe probe;
  asio::co_spawn(io, throw_on_pool(&pool, &probe), asio::detached);
  io.run();
  ASSERT_TRUE(probe.done);
  EXPECT_EQ(probe.exception, "database on fire");
  EXPECT_EQ(probe.resumed, std::this_thread::get_id());
}

}  // namespace
}  // namespace oidc::server
