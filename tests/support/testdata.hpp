// SPDX-License-Identifier: Apache-2.0
// Locates the public test vectors in ../shared/testdata (never committed). A user's clone has no
// ../shared: tests skip with a visible message there, and fail when CI=true.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace oidc::test {

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

inline std::filesystem::path shared_testdata_dir() {
  if (const char* d = std::getenv("OIDC_SHARED_TESTDATA")) return d;
  return OIDC_SHARED_TESTDATA;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace oidc::test

// Use at the top of a test body: skips (or fails under CI=true) when the vector file is absent.
#define OIDC_REQUIRE_TESTDATA(relative_path, out_path_var)                                   \
  const std::filesystem::path out_path_var =                                                 \
      ::oidc::test::shared_testdata_dir() / (relative_path);                                 \
  if (!std::filesystem::exists(out_path_var)) {                                              \
    if (::oidc::test::running_in_ci()) {                                                     \
      FAIL() << "test vectors missing under CI=true: " << out_path_var;                      \
    }                                                                                        \
    GTEST_SKIP() << "test vectors not found (" << out_path_var                               \
                 << "); they live in ../shared/testdata and are not part of the repository"; \
  }
