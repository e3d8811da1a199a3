// SPDX-License-Identifier: Apache-2.0
// Account directories (tenant mode, SQLite), the SQLite account database and its schema, and the
// strict CSV import of accounts.
#include "accounts.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <istream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include <sqlite3.h>

namespace oidc::server {
namespace {

constexpr int kSchemaVersion = 1;

// AUTOINCREMENT: a deleted account's id is never handed to a new account, so a session still
// carrying the old id as `sub` can never name somebody else.
// UNIQUE(organisation, oid): an oid belongs to at most one account per organisation (several
// NULLs are allowed).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  organisation TEXT NOT NULL,
  email TEXT COLLATE NOCASE,
  display_name TEXT NOT NULL DEFAULT '',
  oid TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
  UNIQUE (organisation, email)
);
CREATE UNIQUE INDEX IF NOT EXISTS accounts_organisation_oid ON accounts (organisation, oid);
CREATE TABLE IF NOT EXISTS revocations (
  session_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revocations_expires_at ON revocations (expires_at);
)sql";

std::string quoted(const std::filesystem::path& p) {
  return "\"" + p.string() + "\"";
}

[[noreturn]] void throw_sqlite(sqlite3* db, const std::filesystem::path& path, int rc,
                               std::string_view doing) {
  std::string msg = "account database " + quoted(path) + ": " + std::string(doing) + ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw database_error(msg, rc);
}

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// "local@domain" with both parts non-empty and no spaces or control characters; the domain is
// what follows the last '@'.
std::optional<std::string_view> address_domain(std::string_view address) noexcept {
  if (address.size() > 320) return std::nullopt;
  for (char c : address)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  const auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return std::nullopt;
  return address.substr(at + 1);
}

const char* kAccountColumns = "SELECT id, organisation, email, display_name, oid, disabled ";

account read_account(const account_database::statement& s) {
  account a;
  a.id = s.column_int64(0);
  a.organisation = s.column_text(1);
  a.account_id = std::to_string(a.id);
  a.email = s.column_text(2);
  a.display_name = s.column_text(3);
  a.oid = s.column_text(4);
  a.disabled = s.column_int64(5) != 0;
  return a;
}

std::optional<account> find_by_oid(account_database::connection& c, std::string_view org,
                                   std::string_view oid) {
  auto s = c.prepare(std::string(kAccountColumns) +
                     "FROM accounts WHERE organisation = ?1 AND oid = ?2");
  s.bind_text(1, org);
  s.bind_text(2, oid);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::optional<account> find_by_email(account_database::connection& c, std::string_view org,
                                     std::string_view email) {
  // email is COLLATE NOCASE, so this compares ASCII letters case-insensitively.
  auto s = c.prepare(std::string(kAccountColumns) +
                     "FROM accounts WHERE organisation = ?1 AND email = ?2");
  s.bind_text(1, org);
  s.bind_text(2, email);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::optional<account> find_by_id(account_database::connection& c, std::int64_t id) {
  auto s = c.prepare(std::string(kAccountColumns) + "FROM accounts WHERE id = ?1");
  s.bind_int64(1, id);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

account with_display_name(account a, const login_identity& who) {
  if (a.display_name.empty()) a.display_name = who.name;
  return a;
}

// An account found by address. The UPDATE only binds a still-unbound row, so of two concurrent
// first logins (threads or processes) exactly one binds; the other re-reads the row.
result<account> accept_address_match(account_database::connection& c, account a,
                                     const login_identity& who) {
  if (!a.oid.empty() && a.oid != who.oid) return auth_error::account_oid_mismatch;
  if (a.disabled) return auth_error::account_disabled;
  if (a.oid == who.oid) return with_display_name(std::move(a), who);
  try {
    auto s = c.prepare("UPDATE accounts SET oid = ?1 WHERE id = ?2 AND oid IS NULL");
    s.bind_text(1, who.oid);
    s.bind_int64(2, a.id);
    s.step();
  } catch (const database_error& e) {
    // Another process bound this oid to another account of the organisation meanwhile.
    if ((e.sqlite_code() & 0xff) != SQLITE_CONSTRAINT) throw;
    auto bound = find_by_oid(c, a.organisation, who.oid);
    if (!bound) throw;
    if (bound->disabled) return auth_error::account_disabled;
    return with_display_name(std::move(*bound), who);
  }
  if (c.changes() == 1) {
    a.oid = who.oid;
    return with_display_name(std::move(a), who);
  }
  auto now = find_by_id(c, a.id);
  if (!now) return auth_error::account_not_found;  // deleted meanwhile
  if (now->oid != who.oid) return auth_error::account_oid_mismatch;
  if (now->disabled) return auth_error::account_disabled;
  return with_display_name(std::move(*now), who);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// tenant mode

result<account> tenant_account_directory::resolve(const login_identity& who,
                                                  std::span<const std::string>) {
  if (who.oid.empty() || who.organisation.empty()) return auth_error::claim_missing;
  account a;
  a.organisation = who.organisation;
  a.account_id = "oid:" + who.oid;
  a.email = !who.email.empty() ? who.email : who.preferred_username;
  a.display_name = who.name;
  a.oid = who.oid;
  return a;
}

// ---------------------------------------------------------------------------------------------
// account_database

account_database::account_database(sqlite3* db, std::filesystem::path path)
    : db_(db), path_(std::move(path)) {}

account_database::~account_database() {
  for (auto& [sql, stmt] : statements_)
    sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

std::shared_ptr<account_database> account_database::open(const std::filesystem::path& path,
                                                         account_database_options options) {
  if (path.empty()) throw database_error("account database path is empty", 0);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw database_error("account database " + quoted(path) + " is a directory, not a file", 0);
  const auto parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw database_error(
        "account database " + quoted(path) + ": directory " + quoted(parent) + " does not exist",
        0);

  sqlite3* raw = nullptr;
  // No SQLITE_OPEN_URI: the path is a file name, never a "file:" URI with options.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open account database " + quoted(path) + ": " +
                      (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close(raw);
    throw database_error(msg, rc);
  }
  std::shared_ptr<account_database> db(new account_database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  const auto busy =
      std::clamp<std::chrono::milliseconds::rep>(options.busy_timeout.count(), 0, INT_MAX);
  sqlite3_busy_timeout(raw, static_cast<int>(busy));

  auto c = db->lock();
  // WAL: readers (other instances on this host, the CLI) do not block the writer. It is a
  // property of the file, so the first opener sets it; "memory" databases keep their mode.
  c.exec("PRAGMA journal_mode = WAL");
  c.exec("BEGIN IMMEDIATE");
  try {
    std::int64_t version = 0;
    {
      auto s = c.prepare("PRAGMA user_version");
      if (s.step()) version = s.column_int64(0);
    }
    if (version > kSchemaVersion)
      throw database_error("account database " + quoted(path) + " has schema version " +
                               std::to_string(version) + ", newer than this server's " +
                               std::to_string(kSchemaVersion),
                           0);
    c.exec(kSchema);
    if (version < kSchemaVersion) c.exec("PRAGMA user_version = 1");
    c.exec("COMMIT");
  } catch (...) {
    sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return db;
}

account_database::connection account_database::lock() {
  return connection(*this);
}

account_database::statement account_database::connection::prepare(std::string_view sql) {
  auto& cache = db_->statements_;
  std::string key(sql);
  auto it = cache.find(key);
  if (it == cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_->db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db_->db_, db_->path_, rc, "prepare");
    it = cache.emplace(std::move(key), stmt).first;
  }
  return statement(it->second, db_->db_, &db_->path_);
}

void account_database::connection::exec(const char* sql) {
  const int rc = sqlite3_exec(db_->db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_sqlite(db_->db_, db_->path_, rc, "exec");
}

std::int64_t account_database::connection::changes() const noexcept {
  return sqlite3_changes64(db_->db_);
}

account_database::statement::statement(statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_), path_(other.path_) {}

account_database::statement::~statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void account_database::statement::fail(int rc) const {
  throw_sqlite(db_, *path_, rc, "statement");
}

void account_database::statement::bind_text(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(INT_MAX)) fail(SQLITE_TOOBIG);
  const int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(rc);
}

void account_database::statement::bind_int64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail(rc);
}

void account_database::statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(rc);
}

bool account_database::statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc);
}

std::int64_t account_database::statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string account_database::statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  const int n = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
}

bool account_database::statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ---------------------------------------------------------------------------------------------
// directory mode

sqlite_account_directory::sqlite_account_directory(std::shared_ptr<account_database> db)
    : db_(std::move(db)) {}

result<account> sqlite_account_directory::resolve(const login_identity& who,
                                                  std::span<const std::string> allowed_domains) {
  if (who.oid.empty() || who.organisation.empty()) return auth_error::claim_missing;
  try {
    auto c = db_->lock();
    if (auto bound = find_by_oid(c, who.organisation, who.oid)) {
      if (bound->disabled) return auth_error::account_disabled;
      return with_display_name(std::move(*bound), who);
    }
    if (allowed_domains.empty()) return auth_error::account_not_found;

    bool looked_up = false;
    bool outside_domains = false;
    std::string previous;
    for (std::string_view candidate :
         {std::string_view(who.email), std::string_view(who.preferred_username)}) {
      const std::string address = ascii_lowercase(candidate);
      const auto domain = address_domain(address);
      if (!domain || address == previous) continue;
      previous = address;
      const bool allowed = std::any_of(allowed_domains.begin(), allowed_domains.end(),
                                       [&](const std::string& d) { return iequals(d, *domain); });
      if (!allowed) {
        outside_domains = true;
        continue;
      }
      looked_up = true;
      if (auto a = find_by_email(c, who.organisation, address))
        return accept_address_match(c, std::move(*a), who);
    }
    if (outside_domains && !looked_up) return auth_error::account_domain_not_allowed;
    return auth_error::account_not_found;
  } catch (const database_error&) {
    return auth_error::internal_error;
  }
}

// ---------------------------------------------------------------------------------------------
// CSV import

namespace {

constexpr std::size_t kMaxCsvBytes = 64 * 1024 * 1024;
constexpr std::size_t kMaxFieldBytes = 1024;
constexpr std::size_t kMaxReportedErrors = 100;
constexpr std::string_view kCsvHeader = "organisation,email,display_name,disabled";

struct csv_record {
  std::size_t line = 0;  // physical line where the record starts
  std::vector<std::string> fields;
};

// RFC 4180 §2, strictly: a quote may only open a field or, doubled, stand for itself inside a
// quoted field; after a closing quote comes a comma or the end of the line. Line ends are CRLF
// or LF. Empty lines are skipped. Stops at the first syntax error.
bool parse_csv(std::string_view text, std::vector<csv_record>& out, std::string& error) {
  std::size_t line = 1;
  std::size_t i = 0;
  const auto fail = [&](std::size_t at_line, std::string_view what) {
    error = "line " + std::to_string(at_line) + ": " + std::string(what);
    return false;
  };
  while (i < text.size()) {
    csv_record rec;
    rec.line = line;
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    for (;;) {
      std::string field;
      bool end_of_record = false;
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size()) return fail(rec.line, "unterminated quoted field");
          const char ch = text[i];
          if (ch == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (ch == '\n') ++line;
          field += ch;
          ++i;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          return fail(line, "unexpected character after a closing quote");
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"')
            return fail(line, "quote inside an unquoted field (quote the whole field)");
          field += text[i];
          ++i;
        }
      }
      if (field.find('\0') != std::string::npos) return fail(line, "NUL character in a field");
      if (field.size() > kMaxFieldBytes)
        return fail(rec.line, "field longer than " + std::to_string(kMaxFieldBytes) + " bytes");
      rec.fields.push_back(std::move(field));
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else if (text[i] == '\n') {
        ++i;
        ++line;
        end_of_record = true;
      } else {  // '\r'
        if (i + 1 >= text.size() || text[i + 1] != '\n')
          return fail(line, "carriage return not followed by a line feed");
        i += 2;
        ++line;
        end_of_record = true;
      }
      if (end_of_record) break;
    }
    out.push_back(std::move(rec));
  }
  return true;
}

std::optional<bool> parse_disabled(std::string_view v) {
  if (v.empty() || v == "0" || iequals(v, "false")) return false;
  if (v == "1" || iequals(v, "true")) return true;
  return std::nullopt;
}

struct account_row {
  std::size_t line = 0;
  std::string organisation;
  std::string email;
  std::string display_name;
  bool disabled = false;
};

void add_error(import_result& r, std::string message) {
  r.errors.push_back(std::move(message));
}

std::string line_prefix(std::size_t line) {
  return "line " + std::to_string(line) + ": ";
}

std::vector<account_row> validate_rows(const std::vector<csv_record>& records,
                                       std::span<const std::string> known_organisations,
                                       import_result& r) {
  std::vector<account_row> rows;
  if (records.empty()) {
    add_error(r, "line 1: missing header line \"" + std::string(kCsvHeader) + "\"");
    return rows;
  }
  const auto& header = records.front();
  const bool header_ok = header.fields.size() == 4 && header.fields[0] == "organisation" &&
                         header.fields[1] == "email" && header.fields[2] == "display_name" &&
                         header.fields[3] == "disabled";
  if (!header_ok) {
    add_error(r, line_prefix(header.line) + "the header must be exactly \"" +
                     std::string(kCsvHeader) + "\"");
    return rows;
  }
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  for (std::size_t k = 1; k < records.size(); ++k) {
    const auto& rec = records[k];
    ++r.rows;
    const auto at = line_prefix(rec.line);
    if (rec.fields.size() != 4) {
      add_error(r, at + "expected 4 fields, found " + std::to_string(rec.fields.size()));
      continue;
    }
    account_row row;
    row.line = rec.line;
    row.organisation = rec.fields[0];
    row.email = ascii_lowercase(rec.fields[1]);
    row.display_name = rec.fields[2];
    bool ok = true;
    if (row.organisation.empty()) {
      add_error(r, at + "organisation is empty");
      ok = false;
    } else if (!known_organisations.empty() &&
               std::find(known_organisations.begin(), known_organisations.end(),
                         row.organisation) == known_organisations.end()) {
      add_error(r, at + "organisation \"" + row.organisation + "\" is not configured");
      ok = false;
    }
    if (!address_domain(row.email) || row.email.size() > 254) {
      add_error(r, at + "email \"" + rec.fields[1] + "\" is not an address like name@domain");
      ok = false;
    }
    if (std::any_of(row.display_name.begin(), row.display_name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      add_error(r, at + "display_name contains a control character or line break");
      ok = false;
    }
    const auto disabled = parse_disabled(rec.fields[3]);
    if (!disabled) {
      add_error(r,
                at + "disabled must be empty, 0, 1, false or true (got \"" + rec.fields[3] + "\")");
      ok = false;
    } else {
      row.disabled = *disabled;
    }
    if (!ok) continue;
    const auto [it, inserted] = seen.emplace(std::pair(row.organisation, row.email), rec.line);
    if (!inserted) {
      add_error(r, at + "duplicate of line " + std::to_string(it->second) + " (" +
                       row.organisation + ", " + row.email + ")");
      continue;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void apply_rows(account_database& db, const std::vector<account_row>& rows, import_result& r) {
  auto c = db.lock();
  c.exec("BEGIN IMMEDIATE");
  try {
    for (const auto& row : rows) {
      std::optional<std::pair<std::string, bool>> existing;
      {
        auto s = c.prepare(
            "SELECT display_name, disabled FROM accounts WHERE organisation = ?1 AND email = ?2");
        s.bind_text(1, row.organisation);
        s.bind_text(2, row.email);
        if (s.step()) existing.emplace(s.column_text(0), s.column_int64(1) != 0);
      }
      if (existing && existing->first == row.display_name && existing->second == row.disabled) {
        ++r.unchanged;
        continue;
      }
      auto s = c.prepare(
          "INSERT INTO accounts (organisation, email, display_name, disabled) "
          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (organisation, email) DO UPDATE SET "
          "display_name = excluded.display_name, disabled = excluded.disabled");
      s.bind_text(1, row.organisation);
      s.bind_text(2, row.email);
      s.bind_text(3, row.display_name);
      s.bind_int64(4, row.disabled ? 1 : 0);
      s.step();
      ++(existing ? r.updated : r.inserted);
    }
    c.exec("COMMIT");
  } catch (...) {
    try {
      c.exec("ROLLBACK");
    } catch (const database_error&) {
      // The transaction is gone already (SQLite rolls back on some errors by itself).
    }
    throw;
  }
}

import_result import_text(account_database& db, std::string_view text,
                          std::span<const std::string> known_organisations) {
  import_result r;
  if (text.size() > kMaxCsvBytes) {
    add_error(r, "the file is larger than 64 MiB");
    return r;
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<csv_record> records;
  std::string syntax_error;
  const bool parsed = parse_csv(text, records, syntax_error);
  auto rows = validate_rows(records, known_organisations, r);
  if (!parsed) add_error(r, syntax_error);
  if (!r.errors.empty()) {
    if (r.errors.size() > kMaxReportedErrors) {
      const auto more = r.errors.size() - kMaxReportedErrors;
      r.errors.resize(kMaxReportedErrors);
      r.errors.push_back("... and " + std::to_string(more) + " more errors");
    }
    return r;
  }
  try {
    apply_rows(db, rows, r);
    r.ok = true;
  } catch (const database_error& e) {
    r.inserted = r.updated = r.unchanged = 0;
    add_error(r, e.what());
  }
  return r;
}

}  // namespace

import_result import_accounts_csv(account_database& db, std::istream& csv,
                                  std::span<const std::string> known_organisations) {
  std::string text;
  char buffer[65536];
  while (csv.read(buffer, sizeof buffer) || csv.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(csv.gcount()));
    if (text.size() > kMaxCsvBytes) break;
  }
  if (csv.bad()) {
    import_result r;
    add_error(r, "cannot read the CSV input");
    return r;
  }
  return import_text(db, text, known_organisations);
}

import_result import_accounts_csv_file(account_database& db, const std::filesystem::path& file,
                                       std::span<const std::string> known_organisations) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    import_result r;
    add_error(r, "cannot open " + quoted(file));
    return r;
  }
  return import_accounts_csv(db, in, known_organisations);
}

std::string format_import_report(const import_result& r) {
  std::ostringstream out;
  if (r.ok) {
    out << "imported " << r.rows << (r.rows == 1 ? " account" : " accounts") << ": " << r.inserted
        << " new, " << r.updated << " updated, " << r.unchanged << " unchanged\n";
  } else {
    out << "nothing imported; fix these and run the import again:\n";
    for (const auto& e : r.errors)
      out << "  " << e << "\n";
  }
  return out.str();
}

}  // namespace oidc::server
