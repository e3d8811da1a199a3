// SPDX-License-Identifier: Apache-2.0
// Test helpers for the metrics suite: find samples in a text-format scrape, and run promtool
// (Debian package `prometheus`; absent: the test skips with a visible message, CI=true fails).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/testdata.hpp"

namespace oidc::test {

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Every sample line of a text-format (0.0.4) scrape. Label values are unescaped (\\, \", \n).
inline std::vector<sample> parse_samples(std::string_view text) {
  std::vector<sample> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;  // past ="
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels.emplace(key, std::move(value));
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    const std::string number = line.substr(i + 1, line.find(' ', i + 1) - (i + 1));
    if (number == "+Inf") {
      s.value = std::numeric_limits<double>::infinity();
    } else if (number == "-Inf") {
      s.value = -std::numeric_limits<double>::infinity();
    } else {
      s.value = std::strtod(number.c_str(), nullptr);
    }
    out.push_back(std::move(s));
  }
  return out;
}

using label_set = std::initializer_list<std::pair<std::string, std::string>>;

// The value of the one sample `name` whose labels are exactly `labels`; nullopt when there is
// none (and a test failure when there are several).
inline std::optional<double> find_sample(const std::vector<sample>& samples, std::string_view name,
                                         label_set labels = {}) {
  const std::map<std::string, std::string> want(labels.begin(), labels.end());
  std::optional<double> found;
  for (const sample& s : samples) {
    if (s.name != name || s.labels != want) continue;
    EXPECT_FALSE(found.has_value()) << "duplicate series " << name;
    found = s.value;
  }
  return found;
}

// Like find_sample, but a missing series is a test failure and reads as -1.
inline double value_of(const std::vector<sample>& samples, std::string_view name,
                       label_set labels = {}) {
  const auto v = find_sample(samples, name, labels);
  if (!v) {
    std::string l;
    for (const auto& [k, val] : labels)
      l += k + "=\"" + val + "\",";
    ADD_FAILURE() << "no series " << name << "{" << l << "}";
    return -1;
  }
  return *v;
}

inline bool has_family(const std::vector<sample>& samples, std::string_view name) {
  for (const sample& s : samples) {
    if (s.name == name) return true;
  }
  return false;
}

// promtool from $OIDC_PROMTOOL or the PATH; empty when not installed.
inline std::string promtool_path() {
  if (const char* p = std::getenv("OIDC_PROMTOOL")) return p;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = std::filesystem::path(dir) / "promtool";
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return {};
}

struct command_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` through the shell with stdin from `stdin_file` (may be empty).
inline command_result run_command(const std::string& command, const std::string& stdin_file = {}) {
  const auto out = std::filesystem::temp_directory_path() /
                   ("oidc-metrics-test-" + std::to_string(::getpid()) + ".out");
  std::string full = command;
  if (!stdin_file.empty()) full += " <'" + stdin_file + "'";
  full += " >'" + out.string() + "' 2>&1";
  const int status = std::system(full.c_str());
  command_result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = read_file(out);
  std::filesystem::remove(out);
  return r;
}

}  // namespace oidc::test

// Skips the test (or fails it under CI=true) when promtool is not installed.
#define OIDC_REQUIRE_PROMTOOL(out_var)                                                        \
  const std::string out_var = ::oidc::test::promtool_path();                                  \
  if (out_var.empty()) {                                                                      \
    if (::oidc::test::running_in_ci()) {                                                      \
      FAIL() << "promtool missing under CI=true (install the Debian package prometheus)";     \
    }                                                                                         \
    GTEST_SKIP() << "promtool not found (Debian package prometheus; scripts/install-deps.sh " \
                    "--with-prometheus): skipped";                                            \
  }
