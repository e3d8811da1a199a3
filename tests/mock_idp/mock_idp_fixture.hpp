// SPDX-License-Identifier: Apache-2.0
// Shared fixture of the mock IdP tests: a two-tenant configuration, a settable clock, and helpers
// that drive identity_provider::handle on an io_context as the listener would.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "form.hpp"
#include "identity_provider.hpp"
#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/jwk.hpp"
#include "oidc/pkce.hpp"
#include "oidc/random.hpp"

namespace oidc::mock::test {

namespace http = net::http;

inline constexpr std::string_view kTenant = "3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70";
inline constexpr std::string_view kOtherTenant = "11111111-2222-4333-8444-555555555555";
inline constexpr std::string_view kSpa = "b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35";
inline constexpr std::string_view kWeb = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5";
inline constexpr std::string_view kRedirect = "http://localhost:8080/api/single-sign-on";
inline constexpr std::string_view kWebRedirect = "https://app.example.com/callback";
inline constexpr std::string_view kOrigin = "http://localhost:8080";
inline constexpr std::string_view kWebSecret = "web-secret-value";
inline constexpr std::string_view kBase = "https://localhost:9443";

inline mock_idp_config test_config() {
  mock_idp_config c;
  c.base_url = std::string(kBase);
  mock_tenant t;
  t.id = std::string(kTenant);
  t.clients.push_back({std::string(kSpa), client_type::spa, {}, {std::string(kRedirect)}});
  t.clients.push_back(
      {std::string(kWeb), client_type::web, std::string(kWebSecret), {std::string(kWebRedirect)}});
  t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000a", "Ada Lovelace", "ada@demo.example",
                     "ada@demo.example", false});
  t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000b", "Bob Builder", "bob@demo.example",
                     "bob@demo.example", false});
  t.users.push_back({"9b1c5d7e-0000-4000-8000-00000000000c", "Carol Off", "carol@demo.example",
                     "carol@demo.example", true});
  t.default_user = "ada@demo.example";
  c.tenants.push_back(t);
  mock_tenant other;
  other.id = std::string(kOtherTenant);
  other.clients.push_back({std::string(kSpa), client_type::spa, {}, {std::string(kRedirect)}});
  other.users.push_back({"aaaaaaaa-0000-4000-8000-000000000001", "Eve Other", "eve@other.example",
                         "eve@other.example", false});
  c.tenants.push_back(other);
  return c;
}

struct token_reply {
  unsigned status = 0;
  boost::json::object body;
};

class MockIdpTest : public ::testing::Test {
 protected:
  explicit MockIdpTest(mock_idp_config config = test_config())
      : now_(std::make_shared<std::chrono::sys_seconds>(
            std::chrono::sys_seconds{std::chrono::seconds{1'800'000'000}})),
        idp_(
            std::move(config), [n = now_] { return *n; }, rng_) {}

  std::chrono::sys_seconds now() const { return *now_; }
  void advance(std::chrono::seconds s) { *now_ += s; }

  static net::connection_info loopback() {
    net::connection_info c;
    c.peer = boost::asio::ip::make_address("127.0.0.1");
    c.local = c.peer;
    c.tls = true;
    return c;
  }

  // Runs the handler to completion as the listener would; rethrows what it throws.
  net::response call(net::request req, net::connection_info conn = loopback()) {
    boost::asio::io_context io;
    std::optional<net::response> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, idp_.handle(std::move(req), conn),
                          [&](std::exception_ptr e, net::response r) {
                            failure = e;
                            if (!e) out = std::move(r);
                          });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*out);
  }

  static net::request get_request(std::string target) {
    net::request req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost:9443");
    return req;
  }

  net::response get(std::string target) { return call(get_request(std::move(target))); }

  net::response post_form(std::string target, std::string body, std::optional<std::string> origin) {
    net::request req{http::verb::post, target, 11};
    req.set(http::field::host, "localhost:9443");
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    if (origin) req.set(http::field::origin, *origin);
    req.body() = std::move(body);
    req.prepare_payload();
    return call(std::move(req));
  }

  net::response post_json(std::string target, std::string body,
                          net::connection_info conn = loopback()) {
    net::request req{http::verb::post, target, 11};
    req.set(http::field::host, "localhost:9443");
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    return call(std::move(req), conn);
  }

  static std::string tenant_path(std::string_view tenant, std::string_view rest) {
    return "/" + std::string(tenant) + std::string(rest);
  }

  static std::string authorize_target(std::string_view client, std::string_view redirect,
                                      const std::string& challenge, std::string extra = {},
                                      std::string_view tenant = kTenant) {
    std::string t =
        tenant_path(tenant, "/oauth2/v2.0/authorize") + "?client_id=" + url_encode(client) +
        "&response_type=code&redirect_uri=" + url_encode(redirect) +
        "&scope=" + url_encode("openid profile email") +
        "&state=st-123&nonce=n-456&code_challenge=" + challenge + "&code_challenge_method=S256";
    return t + extra;
  }

  // The query parameters of a 302's Location.
  static form_fields location_params(const net::response& res) {
    const std::string_view loc = res[http::field::location];
    const auto q = loc.find('?');
    if (q == std::string_view::npos) return {};
    auto p = parse_form(loc.substr(q + 1));
    return p ? *p : form_fields{};
  }

  // Signs the default user in for the SPA client and returns the code.
  std::string code_for(const pkce_pair& pkce, std::string extra = {},
                       std::string_view client = kSpa, std::string_view redirect = kRedirect) {
    auto res = get(authorize_target(client, redirect, pkce.challenge, std::move(extra)));
    EXPECT_EQ(res.result_int(), 302u);
    const auto params = location_params(res);
    const std::string* code = form_get(params, "code");
    EXPECT_NE(code, nullptr);
    return code ? *code : std::string();
  }

  static std::string redeem_body(std::string_view client, std::string_view code,
                                 std::string_view redirect, std::string_view verifier) {
    return "grant_type=authorization_code&client_id=" + url_encode(client) +
           "&code=" + url_encode(code) + "&redirect_uri=" + url_encode(redirect) +
           "&code_verifier=" + url_encode(verifier);
  }

  token_reply redeem(std::string body, std::optional<std::string> origin = std::string(kOrigin),
                     std::string_view tenant = kTenant) {
    auto res = post_form(tenant_path(tenant, "/oauth2/v2.0/token"), std::move(body), origin);
    token_reply r;
    r.status = res.result_int();
    auto parsed = parse_json_object(res.body(), kConfigJsonLimits);
    EXPECT_TRUE(parsed.has_value()) << res.body();
    if (parsed) r.body = std::move(*parsed);
    return r;
  }

  std::shared_ptr<const key_set> published_keys() {
    auto res = get(tenant_path(kTenant, "/discovery/v2.0/keys"));
    EXPECT_EQ(res.result_int(), 200u);
    auto parsed = parse_jwks(res.body());
    EXPECT_TRUE(parsed.has_value());
    return parsed ? parsed->keys : nullptr;
  }

  pkce_pair fresh_pkce() { return make_pkce(rng_).value(); }

  std::shared_ptr<std::chrono::sys_seconds> now_;
  openssl_random rng_;
  identity_provider idp_;
};

// Asserts an Entra-shaped error: status, `error`, the AADSTS code first in error_description and
// alone in error_codes.
inline void expect_entra_error(const token_reply& r, unsigned status, std::string_view error,
                               std::uint32_t code) {
  EXPECT_EQ(r.status, status);
  const auto* e = find_string(r.body, "error");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(*e, error);
  const auto* d = find_string(r.body, "error_description");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->starts_with("AADSTS" + std::to_string(code) + ": ")) << *d;
  const auto* codes = r.body.if_contains("error_codes");
  ASSERT_NE(codes, nullptr);
  ASSERT_TRUE(codes->is_array());
  ASSERT_EQ(codes->as_array().size(), 1u);
  EXPECT_EQ(codes->as_array()[0].to_number<std::int64_t>(), static_cast<std::int64_t>(code));
  EXPECT_NE(find_string(r.body, "trace_id"), nullptr);
  EXPECT_NE(find_string(r.body, "correlation_id"), nullptr);
  EXPECT_NE(find_string(r.body, "timestamp"), nullptr);
}

}  // namespace oidc::mock::test
