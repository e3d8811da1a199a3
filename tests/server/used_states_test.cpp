// SPDX-License-Identifier: Apache-2.0
// Used-state memory: replays refused until expiry, bounded size.
#include "used_states.hpp"

#include <gtest/gtest.h>

namespace oidc::server {
namespace {
using namespace std::chrono_literals;
const std::chrono::sys_seconds t0{std::chrono::seconds(1'000'000)};

TEST(UsedStateMemory, RefusesReplayBeforeExpiry) {
  used_state_memory m;
  EXPECT_TRUE(m.try_consume("s1", t0 + 600s, t0));
  EXPECT_FALSE(m.try_consume("s1", t0 + 600s, t0 + 599s));
}

TEST(UsedStateMemory, ForgetsAfterExpiry) {
  used_state_memory m;
  EXPECT_TRUE(m.try_consume("s1", t0 + 10s, t0));
  EXPECT_TRUE(m.try_consume("s2", t0 + 20s, t0 + 10s));
  EXPECT_EQ(m.size(), 1u);
}

TEST(UsedStateMemory, StaysWithinBoundDroppingSoonestToExpire) {
  used_state_memory m(2);
  EXPECT_TRUE(m.try_consume("a", t0 + 10s, t0));
  EXPECT_TRUE(m.try_consume("b", t0 + 30s, t0));
  EXPECT_TRUE(m.try_consume("c", t0 + 20s, t0));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_FALSE(m.try_consume("b", t0 + 30s, t0));
  EXPECT_FALSE(m.try_consume("c", t0 + 20s, t0));
}

}  // namespace
}  // namespace oidc::server
