// SPDX-License-Identifier: Apache-2.0
// Revoked sessions: the SQLite table (expiry, purge, later expiry wins) and the per-instance
// cache in front of it (a logout elsewhere is seen within the TTL at the latest, the cache is
// bounded, failures are not cached), with an injected monotonic clock.
#include "revocations.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace oidc::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::sys_seconds;

const sys_seconds kNow{1'700'000'000s};

class temp_db {
 public:
  temp_db() {
    static std::atomic<unsigned> counter{0};
    dir_ = fs::temp_directory_path() / ("oidc-revocations-test-" + std::to_string(::getpid()) +
                                        "-" + std::to_string(++counter));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~temp_db() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path path() const { return dir_ / "accounts.db"; }

 private:
  fs::path dir_;
};

// A steady clock the test moves by hand.
struct manual_clock {
  std::chrono::steady_clock::time_point now{std::chrono::steady_clock::time_point{} + 1h};
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return now; };
  }
};

// Counts calls and can be told to fail.
class fake_backend final : public revocation_backend {
 public:
  result<void> revoke(std::string_view, sys_seconds) override {
    ++revokes;
    if (failing) return auth_error::internal_error;
    revoked = true;
    return {};
  }
  result<bool> is_revoked(std::string_view, sys_seconds) override {
    ++lookups;
    if (failing) return auth_error::internal_error;
    return revoked.load();
  }
  result<std::size_t> purge_expired(sys_seconds) override { return std::size_t{0}; }

  std::atomic<int> revokes{0};
  std::atomic<int> lookups{0};
  std::atomic<bool> failing{false};
  std::atomic<bool> revoked{false};
};

class RevocationsTest : public ::testing::Test {
 protected:
  revocation_store instance(std::chrono::milliseconds ttl, std::size_t max_entries = 1000) {
    revocation_cache_options o;
    o.ttl = ttl;
    o.max_entries = max_entries;
    o.clock = clock_.fn();
    // Each instance has its own connection, as separate processes would.
    return revocation_store(
        std::make_shared<sqlite_revocation_backend>(account_database::open(db_.path())), o);
  }

  temp_db db_;
  manual_clock clock_;
};

TEST_F(RevocationsTest, RevokedSessionIsRefusedAtOnceOnTheSameInstance) {
  auto store = instance(30s);
  ASSERT_EQ(store.is_revoked("sid-1", kNow).value(), false);  // now cached as "not revoked"
  ASSERT_TRUE(store.revoke("sid-1", kNow + 8h).has_value());
  EXPECT_EQ(store.is_revoked("sid-1", kNow).value(), true);
  EXPECT_EQ(store.is_revoked("sid-2", kNow).value(), false);
}

TEST_F(RevocationsTest, LogoutOnAnotherInstanceIsSeenWithinTheCacheTtl) {
  auto a = instance(30s);
  auto b = instance(30s);
  ASSERT_EQ(b.is_revoked("sid-1", kNow).value(), false);
  ASSERT_TRUE(a.revoke("sid-1", kNow + 8h).has_value());

  clock_.now += 29'999ms;  // b still answers from its cache: the documented delay
  EXPECT_EQ(b.is_revoked("sid-1", kNow + 29s).value(), false);
  clock_.now += 1ms;  // the TTL has passed: b asks the database again
  EXPECT_EQ(b.is_revoked("sid-1", kNow + 30s).value(), true);
}

TEST_F(RevocationsTest, ZeroTtlDisablesTheCache) {
  auto a = instance(0ms);
  auto b = instance(0ms);
  ASSERT_EQ(b.is_revoked("sid-1", kNow).value(), false);
  ASSERT_TRUE(a.revoke("sid-1", kNow + 8h).has_value());
  EXPECT_EQ(b.is_revoked("sid-1", kNow).value(), true);
  EXPECT_EQ(b.cached_entries(), 0u);
}

TEST_F(RevocationsTest, RevocationLastsUntilTheSessionWouldHaveExpired) {
  auto store = instance(0ms);
  ASSERT_TRUE(store.revoke("sid-1", kNow + 1h).has_value());
  EXPECT_EQ(store.is_revoked("sid-1", kNow + 1h - 1s).value(), true);
  EXPECT_EQ(store.is_revoked("sid-1", kNow + 1h).value(), false);
}

TEST_F(RevocationsTest, RevokingAgainKeepsTheLaterExpiry) {
  auto store = instance(0ms);
  ASSERT_TRUE(store.revoke("sid-1", kNow + 2h).has_value());
  ASSERT_TRUE(store.revoke("sid-1", kNow + 1h).has_value());
  EXPECT_EQ(store.is_revoked("sid-1", kNow + 90min).value(), true);
}

TEST_F(RevocationsTest, PurgeDeletesOnlyExpiredRevocations) {
  auto store = instance(0ms);
  ASSERT_TRUE(store.revoke("old-1", kNow - 1s).has_value());
  ASSERT_TRUE(store.revoke("old-2", kNow).has_value());
  ASSERT_TRUE(store.revoke("live", kNow + 1s).has_value());
  auto purged = store.purge_expired(kNow);
  ASSERT_TRUE(purged.has_value());
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(store.is_revoked("live", kNow).value(), true);
  EXPECT_EQ(store.purge_expired(kNow).value(), 0u);

  auto db = account_database::open(db_.path());
  auto c = db->lock();
  auto s = c.prepare("SELECT count(*) FROM revocations");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_int64(0), 1);
}

TEST_F(RevocationsTest, DatabaseFailureIsAnInternalError) {
  auto db = account_database::open(db_.path());
  sqlite_revocation_backend backend(db);
  db->lock().exec("DROP TABLE revocations");
  EXPECT_EQ(backend.is_revoked("sid", kNow).error(), auth_error::internal_error);
  EXPECT_EQ(backend.revoke("sid", kNow).error(), auth_error::internal_error);
  EXPECT_EQ(backend.purge_expired(kNow).error(), auth_error::internal_error);
}

TEST(RevocationCache, AnswersFromTheCacheUntilTheTtlHasPassed) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {10s, 1000, clock.fn()});
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), false);
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), false);
  EXPECT_EQ(backend->lookups, 1);
  clock.now += 10s;
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), false);
  EXPECT_EQ(backend->lookups, 2);
}

TEST(RevocationCache, IssuedSessionsAreKnownNotRevokedWithoutABackendQuery) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {10s, 1000, clock.fn()});
  EXPECT_EQ(store.cached("sid"), std::nullopt);
  store.note_issued("sid");
  EXPECT_EQ(store.cached("sid"), false);
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), false);
  EXPECT_EQ(backend->lookups, 0);
  // A revocation wins over the note, and the note ages out like any answer.
  ASSERT_TRUE(store.revoke("sid", kNow + 1h));
  EXPECT_EQ(store.cached("sid"), true);
  store.note_issued("other");
  clock.now += 10s;
  EXPECT_EQ(store.cached("other"), std::nullopt);
}

TEST(RevocationCache, PositiveAnswersAreCachedToo) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  backend->revoked = true;
  revocation_store store(backend, {10s, 1000, clock.fn()});
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), true);
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), true);
  EXPECT_EQ(backend->lookups, 1);
}

TEST(RevocationCache, ClockGoingBackwardsDoesNotExtendAnEntry) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {10s, 1000, clock.fn()});
  ASSERT_TRUE(store.is_revoked("sid", kNow).has_value());
  clock.now -= 1s;
  ASSERT_TRUE(store.is_revoked("sid", kNow).has_value());
  EXPECT_EQ(backend->lookups, 2);
}

TEST(RevocationCache, FailuresAreReturnedAndNotCached) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {10s, 1000, clock.fn()});
  backend->failing = true;
  auto r = store.is_revoked("sid", kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), auth_error::internal_error);
  EXPECT_EQ(store.revoke("sid", kNow + 1h).error(), auth_error::internal_error);
  EXPECT_EQ(store.cached_entries(), 0u);
  backend->failing = false;
  backend->revoked = true;
  EXPECT_EQ(store.is_revoked("sid", kNow).value(), true);
}

TEST(RevocationCache, StaysWithinItsSizeBound) {
  manual_clock clock;
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {10s, 8, clock.fn()});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(store.is_revoked("sid-" + std::to_string(i), kNow).has_value());
    ASSERT_LE(store.cached_entries(), 8u);
  }
  EXPECT_GT(store.cached_entries(), 0u);
}

TEST(RevocationCache, ConcurrentLookupsAndRevokesAreSafe) {
  auto backend = std::make_shared<fake_backend>();
  revocation_store store(backend, {1ms, 64, {}});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto sid = "sid-" + std::to_string((i * 7 + t) % 200);
        if (i % 50 == 0 && !store.revoke(sid, kNow + 1h)) ++failures;
        if (!store.is_revoked(sid, kNow)) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_LE(store.cached_entries(), 64u);
}

}  // namespace
}  // namespace oidc::server
