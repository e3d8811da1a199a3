// SPDX-License-Identifier: Apache-2.0
// Accounts: who may log in after the IdP has verified them. An account directory turns a
// verified ID token's identity into one of our accounts (tenant mode: anyone of the tenant;
// SQLite: a table of accounts per organisation matched on the Entra oid, else on an address in
// the organisation's domains), plus the SQLite account database and the CSV import behind the
// `import-accounts` subcommand. docs/accounts.md describes the rules and the schema.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "oidc/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace oidc::server {

struct account {
  std::int64_t id = 0;       // row id in the account database; 0 for tenant-mode accounts
  std::string organisation;  // organisation name from configuration
  std::string account_id;    // our product's user id: the `sub` of sessions
  std::string email;
  std::string display_name;
  std::string oid;  // Entra object id the account is bound to; empty until the first login
  bool disabled = false;
  bool operator==(const account&) const = default;
};

// What a verified ID token says about the user (only ever filled from a verified token).
struct login_identity {
  std::string organisation;  // the organisation the login was for
  std::string tid;           // Entra tenant id (empty for generic OIDC providers)
  std::string oid;           // Entra object id; for generic OIDC providers the caller passes `sub`
  std::string email;
  std::string preferred_username;
  std::string name;
};

class account_directory {
 public:
  virtual ~account_directory() = default;
  // The account this user logs in as, or exactly one reason: account_not_found,
  // account_disabled, account_domain_not_allowed, account_oid_mismatch, claim_missing (no oid),
  // internal_error (database failure; details never reach the client). `allowed_domains` are
  // the organisation's configured lowercase email domains. May block: call it on the blocking
  // pool (blocking_pool.hpp), never on an I/O thread.
  virtual result<account> resolve(const login_identity& who,
                                  std::span<const std::string> allowed_domains) = 0;
};

// `tenant` mode: the IdP already checked that the user belongs to the organisation's tenant
// (iss and tid rules of the token verification), so every such user has a synthetic account
// whose id is "oid:<oid>". Never blocks.
class tenant_account_directory final : public account_directory {
 public:
  result<account> resolve(const login_identity& who,
                          std::span<const std::string> allowed_domains) override;
};

// A failure of the account database. what() names the file and SQLite's message: for operators
// and logs only, never for clients.
class database_error : public std::runtime_error {
 public:
  database_error(const std::string& what, int sqlite_code)
      : std::runtime_error(what), sqlite_code_(sqlite_code) {}
  int sqlite_code() const noexcept { return sqlite_code_; }  // extended result code, 0 if none

 private:
  int sqlite_code_;
};

struct account_database_options {
  // How long a statement waits for another connection's (or process's) write lock, e.g. while
  // `import-accounts` runs next to the server.
  std::chrono::milliseconds busy_timeout{5000};
};

// The SQLite account database: accounts and revoked session ids. One connection guarded by a
// mutex (SQLite is opened in multi-thread mode, so the mutex is what serialises access);
// prepared statements are cached per SQL text. WAL journal mode lets other processes read while
// one writes. Calls block: run them on the blocking pool.
class account_database {
 public:
  class statement;
  class connection;

  // Opens (creating the file and the schema if missing) the database at `path`. Throws
  // database_error with a message naming the path when it cannot be opened or is not an
  // account database (missing directory, a directory, not a SQLite file, newer schema).
  static std::shared_ptr<account_database> open(const std::filesystem::path& path,
                                                account_database_options options = {});
  ~account_database();
  account_database(const account_database&) = delete;
  account_database& operator=(const account_database&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  // Exclusive use of the connection until the returned object goes away.
  connection lock();

 private:
  account_database(sqlite3* db, std::filesystem::path path);

  sqlite3* db_;
  std::filesystem::path path_;
  std::mutex mutex_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;  // guarded by mutex_
};

// A cached prepared statement, in use until this object goes away (then reset and unbound).
// Parameters are bound, never spliced into SQL. Failures throw database_error.
class account_database::statement {
 public:
  statement(statement&& other) noexcept;
  statement& operator=(statement&&) = delete;
  ~statement();

  void bind_text(int index, std::string_view text);
  void bind_int64(int index, std::int64_t value);
  void bind_null(int index);
  // true: a row is available; false: done.
  bool step();
  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;  // "" for NULL
  bool column_is_null(int column) const;

 private:
  friend class account_database::connection;
  statement(sqlite3_stmt* stmt, sqlite3* db, const std::filesystem::path* path) noexcept
      : stmt_(stmt), db_(db), path_(path) {}
  [[noreturn]] void fail(int rc) const;

  sqlite3_stmt* stmt_;
  sqlite3* db_;
  const std::filesystem::path* path_;
};

class account_database::connection {
 public:
  statement prepare(std::string_view sql);
  // Runs SQL without parameters or results (BEGIN, COMMIT, DDL).
  void exec(const char* sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const noexcept;

 private:
  friend class account_database;
  explicit connection(account_database& db) : lock_(db.mutex_), db_(&db) {}
  std::unique_lock<std::mutex> lock_;
  account_database* db_;
};

// Directory mode on SQLite. Rules, in order:
//  1. an account of the organisation bound to the identity's oid: it (account_disabled if so);
//  2. else the email, then the preferred_username, lower-cased, each only when its domain is
//     one of `allowed_domains` (an address of any other domain is controlled by another tenant,
//     e.g. a guest's): the first account found with that address. Bound to another oid:
//     account_oid_mismatch; disabled: account_disabled; unbound: bound to this oid now
//     (atomically, so concurrent first logins bind it once) and returned;
//  3. else account_not_found, or account_domain_not_allowed when the identity had addresses
//     but none in the allowed domains. No allowed domains: no address matching at all.
// The account id is the row id in decimal; rows are never renumbered (AUTOINCREMENT).
class sqlite_account_directory final : public account_directory {
 public:
  explicit sqlite_account_directory(std::shared_ptr<account_database> db);
  result<account> resolve(const login_identity& who,
                          std::span<const std::string> allowed_domains) override;
  account_database& database() noexcept { return *db_; }

 private:
  std::shared_ptr<account_database> db_;
};

// Outcome of a CSV import. Either every row was applied in one transaction (ok) or nothing was.
struct import_result {
  bool ok = false;
  std::size_t rows = 0;  // data rows read
  std::size_t inserted = 0;
  std::size_t updated = 0;  // display_name or disabled changed
  std::size_t unchanged = 0;
  std::vector<std::string> errors;  // "line N: problem", in file order
};

// Imports accounts from CSV (RFC 4180: comma separated, fields optionally in double quotes with
// "" for a quote, CRLF or LF line ends, UTF-8 with an optional BOM). The first line must be
// exactly `organisation,email,display_name,disabled`; `disabled` is one of empty, 0, 1, false,
// true. Rows upsert by (organisation, email): new accounts are created unbound, existing ones
// get the new display_name and disabled flag and keep their id and bound oid; accounts absent
// from the file are left alone. Any bad row (each reported with its line number) means nothing
// is imported. When `known_organisations` is not empty, rows of any other organisation are
// errors (a typo would otherwise create accounts nobody can use).
import_result import_accounts_csv(account_database& db, std::istream& csv,
                                  std::span<const std::string> known_organisations = {});
// The same from a file (at most 64 MiB); an unreadable file is reported as an error.
import_result import_accounts_csv_file(account_database& db, const std::filesystem::path& file,
                                       std::span<const std::string> known_organisations = {});
// Text for the CLI: one summary line, then one line per error.
std::string format_import_report(const import_result& r);

}  // namespace oidc::server
