// SPDX-License-Identifier: Apache-2.0
// Scripted traffic against a running server with known totals (logins that succeed, one failure
// of each of five reasons, verifications), and helpers to read a Prometheus text scrape. Shared
// by the /metrics test and the real-Prometheus test.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "process_harness.hpp"

namespace oidc::test::metrics_scrape {

using namespace oidc::test::process;

// The value of one exact series ("name" or "name{label=\"v\",...}") in a text scrape.
inline std::optional<double> value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nullopt;
}

inline std::string find_program(const char* name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

// Runs a shell command; its exit code, with stdout+stderr in `out`.
inline int run_capture(const std::string& command, std::string& out) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    out.append(buf, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The value of the cookie `name` among all Set-Cookie headers of a raw response.
inline std::string set_cookie_pair(const std::string& response, std::string_view name) {
  const auto at = response.find("\r\nSet-Cookie: " + std::string(name) + "=");
  if (at == std::string::npos) return {};
  const auto start = at + 14;
  return response.substr(start, response.find_first_of(";\r", start) - start);
}

struct started_login {
  std::string state_cookie;     // name=value
  std::string callback_target;  // path and query of the IdP's redirect to us
};

inline std::string get_request(const std::string& target, const std::string& extra_headers = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n" + extra_headers +
         "Connection: close\r\n\r\n";
}

// Login start and the mock IdP's authorize step, up to the callback the browser would send.
inline std::optional<started_login> start_login(std::uint16_t port, mock_tenant_server& idp,
                                                std::string& problem) {
  const auto login = round_trip(port, get_request("/api/single-sign-on/login"));
  if (!login.data.starts_with("HTTP/1.1 302")) {
    problem = "login: " + login.data.substr(0, 300);
    return std::nullopt;
  }
  const std::string authorize_url = header_value(login.data, "Location");
  const auto cookie = header_value(login.data, "Set-Cookie");
  if (!authorize_url.starts_with(idp.base()) || cookie.find("oidc-login") == std::string::npos) {
    problem = "login answer: " + login.data.substr(0, 400);
    return std::nullopt;
  }
  auto authorized = idp.get(authorize_url);
  if (!authorized || authorized->status != 302) {
    problem = "authorize failed";
    return std::nullopt;
  }
  const std::string callback_url(authorized->headers[http::field::location]);
  if (!callback_url.starts_with(kRedirect)) {
    problem = "authorize redirect: " + callback_url;
    return std::nullopt;
  }
  started_login s;
  s.state_cookie = cookie.substr(0, cookie.find(';'));
  s.callback_target = callback_url.substr(std::string_view("http://localhost:8080").size());
  return s;
}

inline read_result callback(std::uint16_t port, const std::string& target,
                            const std::string& cookie) {
  return round_trip(port, get_request(target, cookie.empty() ? "" : "Cookie: " + cookie + "\r\n"));
}

// `target` with its `code` parameter replaced.
inline std::string with_code(std::string target, std::string_view code) {
  auto at = target.find("?code=");
  if (at == std::string::npos) at = target.find("&code=");
  if (at == std::string::npos) return target;
  const auto value = at + 6;
  const auto end = target.find('&', value);
  target.replace(value, (end == std::string::npos ? target.size() : end) - value, code);
  return target;
}

struct traffic_result {
  bool ok = false;
  std::string problem;
};

// 4 logins started, 2 completed; callbacks failing once each with state_replayed,
// state_mismatch, state_missing, idp_error and token_endpoint_error (the mock refuses an unknown
// code with AADSTS9002313); 3 valid session verifications, 1 without credentials, 1 malformed.
inline traffic_result scripted_traffic(std::uint16_t port, mock_tenant_server& idp) {
  traffic_result t;
  auto expect = [&t](const read_result& r, std::string_view status, const char* step) {
    if (r.data.starts_with(std::string("HTTP/1.1 ") + std::string(status))) return true;
    t.problem = std::string(step) + ": " + r.data.substr(0, 400);
    return false;
  };
  std::string session;
  std::optional<started_login> first;
  for (int i = 0; i < 2; ++i) {
    auto s = start_login(port, idp, t.problem);
    if (!s) return t;
    const auto r = callback(port, s->callback_target, s->state_cookie);
    if (!expect(r, "302", "callback")) return t;
    session = set_cookie_pair(r.data, "oidc-session");
    if (session.empty()) {
      t.problem = "no session cookie: " + r.data.substr(0, 400);
      return t;
    }
    if (!first) first = std::move(s);
  }
  if (!expect(callback(port, first->callback_target, first->state_cookie), "400", "replay"))
    return t;
  if (!expect(callback(port, "/api/single-sign-on?state=x&code=y", {}), "400", "mismatch"))
    return t;
  auto no_cookie = start_login(port, idp, t.problem);
  if (!no_cookie) return t;
  if (!expect(callback(port, no_cookie->callback_target, {}), "400", "no cookie")) return t;
  if (!expect(callback(port,
                       "/api/single-sign-on?error=access_denied&error_description="
                       "AADSTS65004%3A%20User%20declined%20to%20consent",
                       {}),
              "502", "idp error"))
    return t;
  auto refused = start_login(port, idp, t.problem);
  if (!refused) return t;
  if (!expect(callback(port, with_code(refused->callback_target, "bogus"), refused->state_cookie),
              "502", "refused code"))
    return t;

  for (int i = 0; i < 3; ++i) {
    if (!expect(round_trip(port, get_request("/api/verify", "Cookie: " + session + "\r\n")), "200",
                "verify session"))
      return t;
  }
  if (!expect(round_trip(port, get_request("/api/verify")), "401", "verify without credentials"))
    return t;
  if (!expect(round_trip(port, get_request("/api/verify", "Authorization: Bearer abc\r\n")), "401",
              "verify malformed"))
    return t;
  t.ok = true;
  return t;
}

}  // namespace oidc::test::metrics_scrape
