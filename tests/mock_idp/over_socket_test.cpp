// SPDX-License-Identifier: Apache-2.0
// The mock IdP behind the real listener (server/net) over TLS on loopback, with its own dev PKI:
// a login as the callback server performs it through the pooled client, and the admin API.
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "dev_pki.hpp"
#include "mock_idp/mock_idp_fixture.hpp"
#include "oidc/claims.hpp"
#include "oidc/net/http_client.hpp"
#include "oidc/net/http_server.hpp"

namespace oidc::mock::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct exchange {
  unsigned status = 0;
  std::string location;
  std::string body;
  std::string cache_control;
};

struct login_outcome {
  std::vector<exchange> steps;
  bool ok = true;
};

asio::awaitable<std::optional<exchange>> send(net::http_client* client, net::client_request req) {
  auto call = client->send(std::move(req));
  auto r = co_await std::move(call);
  if (!r) co_return std::nullopt;
  exchange e;
  e.status = r->status;
  e.body = r->body;
  if (auto it = r->headers.find(http::field::location); it != r->headers.end()) {
    e.location = std::string(it->value());
  }
  if (auto it = r->headers.find(http::field::cache_control); it != r->headers.end()) {
    e.cache_control = std::string(it->value());
  }
  co_return e;
}

// Discovery, JWKS, authorize, token (as the callback server does: Origin, verifier, no
// secret), then the admin API; ends by shutting the listener and the client down.
asio::awaitable<void> login(net::http_client* client, net::http_server* server, std::string base,
                            pkce_pair pkce, login_outcome* out) {
  const std::string t = base + "/" + std::string(kTenant);
  std::vector<net::client_request> plan;
  net::client_request discovery;
  discovery.url = t + "/v2.0/.well-known/openid-configuration";
  plan.push_back(discovery);
  net::client_request keys;
  keys.url = t + "/discovery/v2.0/keys";
  plan.push_back(keys);
  net::client_request authorize;
  authorize.url = t + "/oauth2/v2.0/authorize?client_id=" + std::string(kSpa) +
                  "&response_type=code&redirect_uri=" + url_encode(kRedirect) +
                  "&scope=openid&state=s&nonce=n&code_challenge=" + pkce.challenge +
                  "&code_challenge_method=S256";
  plan.push_back(authorize);
  for (auto& req : plan) {
    auto call = send(client, req);
    auto e = co_await std::move(call);
    if (!e) {
      out->ok = false;
      break;
    }
    out->steps.push_back(std::move(*e));
  }
  if (out->ok && out->steps.size() == 3) {
    const std::string& loc = out->steps[2].location;
    const auto params = parse_form(loc.substr(std::min(loc.find('?') + 1, loc.size())));
    const std::string* code = params ? form_get(*params, "code") : nullptr;
    if (code != nullptr) {
      net::client_request token;
      token.method = http::verb::post;
      token.url = t + "/oauth2/v2.0/token";
      token.idempotent = false;
      token.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Origin", std::string(kOrigin)}};
      token.body = "grant_type=authorization_code&client_id=" + std::string(kSpa) +
                   "&code=" + url_encode(*code) + "&redirect_uri=" + url_encode(kRedirect) +
                   "&code_verifier=" + pkce.verifier;
      auto token_call = send(client, token);
      auto e = co_await std::move(token_call);
      if (e) out->steps.push_back(std::move(*e));
      net::client_request admin;
      admin.method = http::verb::post;
      admin.url = base + "/admin/tokens";
      admin.idempotent = false;
      admin.headers = {{"Content-Type", "application/json"}};
      admin.body = R"({"count": 2, "audience": "api://load"})";
      auto admin_call = send(client, admin);
      auto a = co_await std::move(admin_call);
      if (a) out->steps.push_back(std::move(*a));
    }
  }
  client->shutdown();
  auto stopped = server->shutdown(1s);
  co_await std::move(stopped);
}

TEST(MockIdpOverTls, ALoginThroughTheListenerAndPooledClientVerifies) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mock-idp-socket-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ensure_dev_pki(dir);

  asio::io_context io;
  std::unique_ptr<identity_provider> idp;
  net::request_handler handler = [&idp](net::request req, net::connection_info conn) {
    return idp->handle(std::move(req), conn);
  };
  net::http_server server(io, handler);
  net::listener_options options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.tls =
      net::make_server_tls_context((dir / "cert.pem").string(), (dir / "key.pem").string()).value();
  options.idle_timeout = 2s;
  const auto endpoint = server.listen(options).value();
  const std::string base = "https://localhost:" + std::to_string(endpoint.port());

  auto config = test_config();
  config.base_url = base;
  openssl_random rng;
  const auto start = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  idp = std::make_unique<identity_provider>(
      config, [start] { return start; }, rng);

  net::client_options client_options;
  client_options.tls = net::make_client_tls_context((dir / "ca.pem").string()).value();
  client_options.total_timeout = 5s;
  net::http_client client(io.get_executor(), client_options);

  login_outcome outcome;
  const auto pkce = make_pkce(rng).value();
  asio::co_spawn(io, login(&client, &server, base, pkce, &outcome), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run_for(20s);
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(outcome.ok);
  ASSERT_EQ(outcome.steps.size(), 5u);
  EXPECT_EQ(outcome.steps[0].status, 200u);
  EXPECT_EQ(outcome.steps[1].status, 200u);
  EXPECT_EQ(outcome.steps[1].cache_control, "max-age=30, private");
  EXPECT_EQ(outcome.steps[2].status, 302u);
  ASSERT_EQ(outcome.steps[3].status, 200u) << outcome.steps[3].body;
  EXPECT_EQ(outcome.steps[4].status, 200u) << outcome.steps[4].body;

  auto keys = parse_jwks(outcome.steps[1].body).value().keys;
  auto tokens = parse_json_object(outcome.steps[3].body, kJwksJsonLimits).value();
  id_token_expectations want;
  want.issuer = base + "/" + std::string(kTenant) + "/v2.0";
  want.client_id = std::string(kSpa);
  want.tenant_id = std::string(kTenant);
  want.nonce = "n";
  want.allowed_algs = {jws_alg::RS256};
  auto claims = verify_id_token(*find_string(tokens, "id_token"), *keys, want, start);
  ASSERT_TRUE(claims.has_value()) << label(claims.error());
  EXPECT_EQ(claims->preferred_username, "ada@demo.example");
}

// A token POST while the drop fault is certain; records the client's error.
asio::awaitable<void> token_post_dropped(net::http_client* client, net::http_server* server,
                                         std::string base, boost::system::error_code* seen,
                                         unsigned* status) {
  net::client_request token;
  token.method = http::verb::post;
  token.url = base + "/" + std::string(kTenant) + "/oauth2/v2.0/token";
  token.idempotent = false;
  token.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Origin", std::string(kOrigin)}};
  token.body = "grant_type=authorization_code&client_id=" + std::string(kSpa) +
               "&code=c&redirect_uri=" + url_encode(kRedirect) + "&code_verifier=v";
  auto call = client->send(std::move(token));
  auto r = co_await std::move(call);
  if (r)
    *status = r->status;
  else
    *seen = r.error();
  client->shutdown();
  auto stopped = server->shutdown(1s);
  co_await std::move(stopped);
}

TEST(MockIdpOverTls, DropFaultEndsTheConnectionWithoutAResponse) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("mock-idp-drop-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ensure_dev_pki(dir);

  asio::io_context io;
  std::unique_ptr<identity_provider> idp;
  net::request_handler handler = [&idp](net::request req, net::connection_info conn) {
    return idp->handle(std::move(req), conn);
  };
  net::http_server server(io, handler);
  net::listener_options options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.tls =
      net::make_server_tls_context((dir / "cert.pem").string(), (dir / "key.pem").string()).value();
  const auto endpoint = server.listen(options).value();
  const std::string base = "https://localhost:" + std::to_string(endpoint.port());

  auto config = test_config();
  config.base_url = base;
  openssl_random rng;
  idp = std::make_unique<identity_provider>(
      config,
      [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); },
      rng);
  fault_settings faults;
  faults.drop_rate = 1.0;
  idp->set_faults(faults);

  net::client_options client_options;
  client_options.tls = net::make_client_tls_context((dir / "ca.pem").string()).value();
  client_options.total_timeout = 5s;
  net::http_client client(io.get_executor(), client_options);

  boost::system::error_code seen;
  unsigned status = 0;
  bool done = false;
  asio::co_spawn(io, token_post_dropped(&client, &server, base, &seen, &status),
                 [&done](std::exception_ptr e) {
                   done = true;
                   if (e) std::rethrow_exception(e);
                 });
  io.run_for(10s);
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(done);
  EXPECT_EQ(status, 0u) << "a response was written";
  EXPECT_EQ(seen, make_error_code(net::client_errc::connection_lost)) << seen.message();
}

}  // namespace
}  // namespace oidc::mock::test
