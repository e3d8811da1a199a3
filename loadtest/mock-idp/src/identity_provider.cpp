// SPDX-License-Identifier: Apache-2.0
// Request handling of the mock Entra tenant. Nothing here logs: codes and tokens never leave
// through anything but the HTTP response they belong to.
#include "identity_provider.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <stdexcept>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "form.hpp"
#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/jws.hpp"
#include "oidc/pkce.hpp"

namespace oidc::mock {
namespace {

namespace http = net::http;
namespace json = boost::json;

constexpr std::size_t kMaxAdminTokens = 10'000;
constexpr std::size_t kPruneEvery = 1024;

std::int64_t epoch(std::chrono::sys_seconds t) noexcept {
  return t.time_since_epoch().count();
}

// 0 and 1 as integers: Boost.JSON prints doubles in exponent form ("1E0").
json::value rate_value(double rate) {
  if (rate == 0.0 || rate == 1.0) return static_cast<std::int64_t>(rate);
  return rate;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Entra's error timestamp format: "2024-05-01 12:34:56Z".
std::string entra_timestamp(std::chrono::sys_seconds now) {
  const std::time_t t = static_cast<std::time_t>(epoch(now));
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%SZ", &tm);
  return std::string(buf.data(), n);
}

net::response make_response(const net::request& req, unsigned status, std::string_view type,
                            std::string body) {
  net::response res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "oidc-mock-idp");
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

net::response json_response(const net::request& req, unsigned status, const json::object& o) {
  auto res = make_response(req, status, "application/json; charset=utf-8", json::serialize(o));
  res.set(http::field::cache_control, "no-store, no-cache");
  res.set(http::field::pragma, "no-cache");
  return res;
}

net::response admin_error(const net::request& req, unsigned status, std::string_view message) {
  json::object o;
  o["error"] = status == 403 ? "forbidden" : status == 404 ? "not_found" : "invalid_request";
  o["error_description"] = message;
  return json_response(req, status, o);
}

std::string html_page(std::string_view title, std::string_view body_html) {
  std::string page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>";
  page += html_escape(title);
  page += "</title></head><body><h1>";
  page += html_escape(title);
  page += "</h1>";
  page += body_html;
  page += "</body></html>";
  return page;
}

net::response redirect(const net::request& req, std::string location) {
  auto res = make_response(req, 302, "text/html; charset=utf-8", {});
  res.set(http::field::location, location);
  res.set(http::field::cache_control, "no-store, no-cache");
  return res;
}

std::string append_query(std::string_view uri, std::string_view params) {
  std::string out(uri);
  out += uri.find('?') == std::string_view::npos ? '?' : '&';
  out += params;
  return out;
}

bool has_scope(std::string_view scope, std::string_view want) {
  std::size_t i = 0;
  while (i <= scope.size()) {
    const std::size_t sp = std::min(scope.find(' ', i), scope.size());
    if (scope.substr(i, sp - i) == want) return true;
    i = sp + 1;
  }
  return false;
}

// The scopes an access token carries: the requested ones minus the OIDC scopes, or a default
// delegated scope so the token always has `scp` (what makes it an access token).
std::string access_scopes(std::string_view scope) {
  std::string out;
  std::size_t i = 0;
  while (i < scope.size()) {
    const std::size_t sp = std::min(scope.find(' ', i), scope.size());
    const std::string_view s = scope.substr(i, sp - i);
    if (!s.empty() && s != "openid" && s != "profile" && s != "email" && s != "offline_access") {
      // api://client/scope names the scope by its last path segment in scp.
      const std::size_t slash = s.rfind('/');
      if (!out.empty()) out += ' ';
      out += slash == std::string_view::npos ? s : s.substr(slash + 1);
    }
    i = sp + 1;
  }
  return out.empty() ? "access_as_user" : out;
}

const mock_client* find_client(const mock_tenant& t, std::string_view id) {
  for (const auto& c : t.clients) {
    if (c.client_id == id) return &c;
  }
  return nullptr;
}

const mock_user* find_user(const mock_tenant& t, std::string_view hint) {
  for (const auto& u : t.users) {
    if (u.oid == hint || iequals(u.preferred_username, hint) || iequals(u.email, hint)) return &u;
  }
  return nullptr;
}

const mock_user* default_user(const mock_tenant& t) {
  if (!t.default_user.empty()) {
    if (const auto* u = find_user(t, t.default_user)) return u;
  }
  return t.users.empty() ? nullptr : &t.users.front();
}

bool redirect_registered(const mock_client& c, std::string_view uri) {
  return std::find(c.redirect_uris.begin(), c.redirect_uris.end(), uri) != c.redirect_uris.end();
}

// Entra's sub is pairwise: stable per user and application, different across applications.
std::string pairwise_sub(std::string_view tenant, std::string_view client, std::string_view oid) {
  const std::string input =
      std::string(tenant) + '|' + std::string(client) + '|' + std::string(oid);
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    clear_openssl_errors();
    return std::string(oid);
  }
  return base64url_encode(std::span<const std::uint8_t>(md.data(), len));
}

struct split_target {
  std::string_view path;
  std::string_view query;
};

split_target split(std::string_view target) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace

identity_provider::identity_provider(mock_idp_config config, clock_fn clock, random_source& rng)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      rng_(rng),
      keys_(config_.keys, clock_()) {
  set_faults(config_.faults);
  for (const auto& t : config_.tenants) {
    for (const auto& c : t.clients) {
      if (c.certificate_pem.empty()) continue;
      std::string problem;
      auto cert = load_client_certificate(c.certificate_pem, problem);
      if (!cert) throw std::runtime_error("client " + c.client_id + " certificate: " + problem);
      certificates_.emplace(t.id + '/' + c.client_id, std::move(*cert));
    }
  }
}

std::string identity_provider::issuer(std::string_view tenant) const {
  return config_.base_url + '/' + std::string(tenant) + "/v2.0";
}

std::string identity_provider::token_endpoint(std::string_view tenant) const {
  return config_.base_url + '/' + std::string(tenant) + "/oauth2/v2.0/token";
}

fault_settings identity_provider::faults() const noexcept {
  fault_settings f;
  f.latency = std::chrono::milliseconds(latency_ms_.load());
  f.error_rate = static_cast<double>(error_ppm_.load()) / 1e6;
  f.drop_rate = static_cast<double>(drop_ppm_.load()) / 1e6;
  return f;
}

void identity_provider::set_faults(const fault_settings& f) noexcept {
  latency_ms_.store(std::max<std::int64_t>(0, f.latency.count()));
  error_ppm_.store(static_cast<std::uint32_t>(std::clamp(f.error_rate, 0.0, 1.0) * 1e6));
  drop_ppm_.store(static_cast<std::uint32_t>(std::clamp(f.drop_rate, 0.0, 1.0) * 1e6));
}

rotation_schedule identity_provider::rotate_keys() {
  return keys_.rotate(clock_());
}

std::size_t identity_provider::stored_codes() const {
  std::lock_guard lock(codes_mutex_);
  return codes_.size();
}

bool identity_provider::draw(std::uint32_t ppm) {
  if (ppm == 0) return false;
  if (ppm >= 1'000'000) return true;
  std::array<std::uint8_t, 4> b{};
  rng_.fill(b);
  const std::uint32_t v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                          (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
  return v % 1'000'000u < ppm;
}

std::string identity_provider::guid() {
  std::array<std::uint8_t, 16> b{};
  rng_.fill(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // RFC 9562 version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0xF];
  }
  return out;
}

std::string identity_provider::sign(const json::object& payload, std::chrono::sys_seconds now) {
  const auto key = keys_.signer(now);
  json::object header;
  header["typ"] = "JWT";
  header["alg"] = "RS256";
  header["kid"] = key->kid;
  auto token = sign_compact(header, payload, key->private_key.get(), jws_alg::RS256);
  if (!token) throw std::runtime_error("signing failed");
  return std::move(*token);
}

boost::asio::awaitable<net::response> identity_provider::handle(net::request req,
                                                                net::connection_info conn) {
  const std::chrono::milliseconds latency(latency_ms_.load());
  const bool is_admin = req.target().starts_with("/admin/");
  if (latency.count() > 0 && !is_admin) {
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor);
    timer.expires_after(latency);
    auto wait = timer.async_wait(boost::asio::use_awaitable);  // named: GCC 12 coroutine bug
    co_await std::move(wait);
  }
  net::response res = respond(req, conn);
  co_return res;
}

net::response identity_provider::respond(const net::request& req,
                                         const net::connection_info& conn) {
  return route(req, conn);
}

net::response identity_provider::route(const net::request& req, const net::connection_info& conn) {
  const auto [path, query] = split(req.target());
  if (path.starts_with("/admin/")) return admin(req, conn, path);
  // Readiness for scripts (demo, load runners); never subject to faults.
  if (path == "/healthz") return make_response(req, 200, "text/plain; charset=utf-8", "ok\n");

  // /{tenant}/...
  if (path.size() < 2 || path[0] != '/') {
    return make_response(req, 404, "text/plain; charset=utf-8", "not found\n");
  }
  const std::size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos) {
    return make_response(req, 404, "text/plain; charset=utf-8", "not found\n");
  }
  const std::string_view tenant_id = path.substr(1, slash - 1);
  const std::string_view rest = path.substr(slash);
  enum class endpoint { none, discovery, keys, authorize, token, logout } ep = endpoint::none;
  if (rest == "/v2.0/.well-known/openid-configuration")
    ep = endpoint::discovery;
  else if (rest == "/discovery/v2.0/keys")
    ep = endpoint::keys;
  else if (rest == "/oauth2/v2.0/authorize")
    ep = endpoint::authorize;
  else if (rest == "/oauth2/v2.0/token")
    ep = endpoint::token;
  else if (rest == "/oauth2/v2.0/logout")
    ep = endpoint::logout;
  if (ep == endpoint::none) {
    return make_response(req, 404, "text/plain; charset=utf-8", "not found\n");
  }

  // Injected faults apply to the IdP endpoints only, never to the admin API that sets them.
  if (draw(drop_ppm_.load())) {
    // The handler cannot reach the socket: the listener is asked to drop the connection.
    throw drop_connection();
  }
  if (draw(error_ppm_.load())) {
    if (ep == endpoint::authorize || ep == endpoint::logout) {
      return error_page(req, 503, aadsts::transient_error,
                        "A transient error has occurred. Please try again.");
    }
    auto res = entra_error(req, 503, "temporarily_unavailable", aadsts::transient_error,
                           "A transient error has occurred. Please try again.");
    res.set(http::field::retry_after, "1");
    return res;
  }

  const mock_tenant* tenant = nullptr;
  for (const auto& t : config_.tenants) {
    if (t.id == tenant_id) tenant = &t;
  }
  if (tenant == nullptr) {
    const std::string d = "Tenant '" + std::string(tenant_id) +
                          "' not found. Check to make sure you have the correct tenant ID.";
    if (ep == endpoint::authorize || ep == endpoint::logout) {
      return error_page(req, 400, aadsts::tenant_not_found, d);
    }
    return entra_error(req, 400, "invalid_tenant", aadsts::tenant_not_found, d);
  }

  switch (ep) {
    case endpoint::discovery:
      return discovery(req, *tenant);
    case endpoint::keys:
      return jwks(req);
    case endpoint::authorize:
      return authorize(req, *tenant, query);
    case endpoint::token:
      return token(req, *tenant);
    case endpoint::logout:
      return logout(req, *tenant, query);
    case endpoint::none:
      break;
  }
  return make_response(req, 404, "text/plain; charset=utf-8", "not found\n");
}

net::response identity_provider::entra_error(const net::request& req, unsigned status,
                                             std::string_view error, aadsts code,
                                             std::string_view description) {
  const auto now = clock_();
  const std::string ts = entra_timestamp(now);
  const std::string trace = guid();
  // MSAL sends client-request-id; Entra echoes it as the correlation id.
  const auto client_request_id = req.find("client-request-id");
  const std::string correlation =
      client_request_id != req.end() && client_request_id->value().size() <= 64
          ? std::string(client_request_id->value())
          : guid();
  const auto n = static_cast<std::uint32_t>(code);
  json::object o;
  o["error"] = error;
  o["error_description"] = "AADSTS" + std::to_string(n) + ": " + std::string(description) +
                           " Trace ID: " + trace + " Correlation ID: " + correlation +
                           " Timestamp: " + ts;
  json::array codes;
  codes.push_back(n);
  o["error_codes"] = std::move(codes);
  o["timestamp"] = ts;
  o["trace_id"] = trace;
  o["correlation_id"] = correlation;
  o["error_uri"] = config_.base_url + "/error?code=" + std::to_string(n);
  auto res = json_response(req, status, o);
  return res;
}

net::response identity_provider::error_page(const net::request& req, unsigned status, aadsts code,
                                            std::string_view description) {
  const std::string text =
      "AADSTS" + std::to_string(static_cast<std::uint32_t>(code)) + ": " + std::string(description);
  std::string body = "<p id=\"error\">" + html_escape(text) +
                     "</p><p>Timestamp: " + html_escape(entra_timestamp(clock_())) + "</p>";
  auto res = make_response(req, status, "text/html; charset=utf-8",
                           html_page("Sign in to your account", body));
  res.set(http::field::cache_control, "no-store, no-cache");
  return res;
}

net::response identity_provider::discovery(const net::request& req, const mock_tenant& t) {
  const std::string base = config_.base_url + '/' + t.id;
  json::object o;
  o["token_endpoint"] = token_endpoint(t.id);
  o["token_endpoint_auth_methods_supported"] = json::array{"client_secret_post", "private_key_jwt"};
  o["jwks_uri"] = base + "/discovery/v2.0/keys";
  o["response_modes_supported"] = json::array{"query"};
  o["subject_types_supported"] = json::array{"pairwise"};
  o["id_token_signing_alg_values_supported"] = json::array{"RS256"};
  o["response_types_supported"] = json::array{"code"};
  o["scopes_supported"] = json::array{"openid", "profile", "email", "offline_access"};
  o["issuer"] = issuer(t.id);
  o["request_uri_parameter_supported"] = false;
  o["userinfo_endpoint"] = base + "/oidc/userinfo";
  o["authorization_endpoint"] = base + "/oauth2/v2.0/authorize";
  o["http_logout_supported"] = true;
  o["frontchannel_logout_supported"] = true;
  o["end_session_endpoint"] = base + "/oauth2/v2.0/logout";
  o["claims_supported"] = json::array{"sub",   "iss",       "aud",   "exp",  "iat",
                                      "nbf",   "auth_time", "nonce", "name", "preferred_username",
                                      "email", "oid",       "tid",   "ver",  "login_hint"};
  o["code_challenge_methods_supported"] = json::array{"S256"};
  o["tenant_region_scope"] = "EU";
  o["cloud_instance_name"] = "localhost";
  auto res = make_response(req, 200, "application/json; charset=utf-8", json::serialize(o));
  res.set(http::field::cache_control, "max-age=86400, private");
  res.set(http::field::access_control_allow_origin, "*");
  return res;
}

net::response identity_provider::jwks(const net::request& req) {
  auto res = make_response(req, 200, "application/json; charset=utf-8", keys_.jwks_json(clock_()));
  // Below the signing overlap: a relying party that honours it has the next key before it signs.
  res.set(http::field::cache_control,
          "max-age=" + std::to_string(config_.keys.jwks_max_age.count()) + ", private");
  res.set(http::field::access_control_allow_origin, "*");
  return res;
}

net::response identity_provider::authorize(const net::request& req, const mock_tenant& t,
                                           std::string_view query) {
  if (req.method() != http::verb::get) {
    return error_page(req, 400, aadsts::malformed_request, "Invalid request. Use GET.");
  }
  const auto params = parse_form(query);
  if (!params) {
    return error_page(req, 400, aadsts::malformed_request,
                      "Invalid request. Request is malformed or invalid.");
  }
  const std::string* client_id = form_get(*params, "client_id");
  if (client_id == nullptr || client_id->empty()) {
    return error_page(req, 400, aadsts::missing_parameter,
                      "The request body must contain the following parameter: 'client_id'.");
  }
  const mock_client* client = find_client(t, *client_id);
  if (client == nullptr) {
    return error_page(req, 400, aadsts::unknown_client,
                      "Application with identifier '" + *client_id +
                          "' was not found in the directory '" + t.id + "'.");
  }
  const std::string* redirect_uri = form_get(*params, "redirect_uri");
  if (redirect_uri == nullptr || !redirect_registered(*client, *redirect_uri)) {
    // Entra never redirects to an unregistered URI: the error stays on its own page.
    const std::string uri = redirect_uri ? *redirect_uri : std::string();
    return error_page(req, 400, aadsts::redirect_uri_not_registered,
                      "The redirect URI '" + uri +
                          "' specified in the request does not match the redirect URIs "
                          "configured for the application '" +
                          client->client_id + "'.");
  }
  const std::string* state = form_get(*params, "state");
  const std::string state_param = state ? "&state=" + url_encode(*state) : std::string();
  auto fail_back = [&](std::string_view error, aadsts code, std::string_view description) {
    const std::string d = "AADSTS" + std::to_string(static_cast<std::uint32_t>(code)) + ": " +
                          std::string(description);
    return redirect(
        req, append_query(*redirect_uri, "error=" + url_encode(error) +
                                             "&error_description=" + url_encode(d) + state_param));
  };
  const std::string* response_type = form_get(*params, "response_type");
  if (response_type == nullptr) {
    return fail_back("invalid_request", aadsts::missing_parameter,
                     "The request body must contain the following parameter: 'response_type'.");
  }
  if (*response_type != "code") {
    return fail_back("unsupported_response_type", aadsts::unsupported_response_type,
                     "The provided value for the input parameter 'response_type' is not allowed "
                     "for this request. Expected value: 'code'.");
  }
  const std::string* scope = form_get(*params, "scope");
  if (scope == nullptr || !has_scope(*scope, "openid")) {
    return fail_back("invalid_request", aadsts::missing_parameter,
                     "The request body must contain the following parameter: 'scope' with "
                     "'openid'.");
  }
  const std::string* challenge = form_get(*params, "code_challenge");
  const std::string* method = form_get(*params, "code_challenge_method");
  if (challenge != nullptr || client->type == client_type::spa) {
    if (challenge == nullptr || challenge->size() != 43 || method == nullptr || *method != "S256") {
      return fail_back("invalid_request", aadsts::pkce_required,
                       "Proof Key for Code Exchange is required for cross-origin authorization "
                       "code redemption (the mock accepts code_challenge_method=S256 only).");
    }
  }
  const std::string* response_mode = form_get(*params, "response_mode");
  if (response_mode != nullptr && *response_mode != "query") {
    return fail_back("invalid_request", aadsts::malformed_request,
                     "The mock supports response_mode=query only.");
  }

  const mock_user* user = nullptr;
  const std::string* hint = form_get(*params, "login_hint");
  if (hint != nullptr && !hint->empty()) {
    user = find_user(t, *hint);
    if (user == nullptr) {
      return error_page(req, 400, aadsts::user_not_found,
                        "User account '" + *hint + "' does not exist in tenant '" + t.id + "'.");
    }
  } else if (config_.auto_approve) {
    user = default_user(t);
  } else {
    // The user picker: each link is this request with login_hint naming one user.
    std::string list = "<ul>";
    for (const auto& u : t.users) {
      const std::string href = config_.base_url + '/' + t.id + "/oauth2/v2.0/authorize?" +
                               std::string(query) +
                               "&login_hint=" + url_encode(u.preferred_username);
      list += "<li><a href=\"" + html_escape(href) + "\">" + html_escape(u.name) + " (" +
              html_escape(u.preferred_username) + ")</a></li>";
    }
    list += "</ul>";
    auto res =
        make_response(req, 200, "text/html; charset=utf-8", html_page("Pick an account", list));
    res.set(http::field::cache_control, "no-store, no-cache");
    return res;
  }
  if (user == nullptr) {
    return error_page(req, 400, aadsts::user_not_found, "The tenant has no users.");
  }
  if (user->disabled) {
    return error_page(req, 400, aadsts::user_disabled,
                      "The user account is disabled. The account has been disabled by an "
                      "administrator.");
  }

  const auto now = clock_();
  std::string code = random_token(rng_, 48);
  code_entry entry;
  entry.tenant = t.id;
  entry.client_id = client->client_id;
  entry.redirect_uri = *redirect_uri;
  entry.challenge = challenge ? *challenge : std::string();
  const std::string* nonce = form_get(*params, "nonce");
  entry.nonce = nonce ? *nonce : std::string();
  entry.scope = *scope;
  entry.user_oid = user->oid;
  entry.expires_at = now + config_.code_ttl;
  {
    std::lock_guard lock(codes_mutex_);
    if (++inserts_since_prune_ >= kPruneEvery) {
      inserts_since_prune_ = 0;
      // Used and expired codes are kept one more lifetime so replays still get 54005/70008.
      std::erase_if(codes_,
                    [&](const auto& kv) { return kv.second.expires_at + config_.code_ttl <= now; });
    }
    codes_.insert_or_assign(code, std::move(entry));
  }
  return redirect(req, append_query(*redirect_uri, "code=" + url_encode(code) + state_param));
}

net::response identity_provider::token(const net::request& req, const mock_tenant& t) {
  if (req.method() != http::verb::post) {
    return entra_error(req, 400, "invalid_request", aadsts::post_required,
                       "The endpoint only accepts POST requests.");
  }
  const std::string_view content_type = req[http::field::content_type];
  const std::string_view form_type = "application/x-www-form-urlencoded";
  if (content_type.size() < form_type.size() ||
      !iequals(content_type.substr(0, form_type.size()), form_type)) {
    return entra_error(req, 400, "invalid_request", aadsts::malformed_request,
                       "Invalid request. Request is malformed or invalid.");
  }
  const auto params = parse_form(req.body());
  if (!params) {
    return entra_error(req, 400, "invalid_request", aadsts::malformed_request,
                       "Invalid request. Request is malformed or invalid.");
  }
  auto missing = [&](std::string_view name) {
    return entra_error(
        req, 400, "invalid_request", aadsts::missing_parameter,
        "The request body must contain the following parameter: '" + std::string(name) + "'.");
  };
  const std::string* grant_type = form_get(*params, "grant_type");
  if (grant_type == nullptr) return missing("grant_type");
  if (*grant_type != "authorization_code") {
    return entra_error(req, 400, "unsupported_grant_type", aadsts::unsupported_grant_type,
                       "The app requested an unsupported grant type '" + *grant_type + "'.");
  }
  const std::string* client_id = form_get(*params, "client_id");
  if (client_id == nullptr) return missing("client_id");
  const mock_client* client = find_client(t, *client_id);
  if (client == nullptr) {
    return entra_error(req, 400, "unauthorized_client", aadsts::unknown_client,
                       "Application with identifier '" + *client_id +
                           "' was not found in the directory '" + t.id + "'.");
  }

  // Client authentication (RFC 6749 §2.3), then the cross-origin rule of the redirect platform.
  const std::string* secret = form_get(*params, "client_secret");
  const bool has_credential = secret != nullptr || form_get(*params, "client_assertion") ||
                              req.find(http::field::authorization) != req.end();
  if (client->type == client_type::spa) {
    if (has_credential) {
      return entra_error(req, 401, "invalid_client", aadsts::secret_from_public_client,
                         "Client is public so neither 'client_assertion' nor 'client_secret' "
                         "should be presented.");
    }
  } else if (auto refused = authenticate_web_client(req, t, *client, *params)) {
    return std::move(*refused);
  }
  const auto origin = req.find(http::field::origin);
  if (client->type == client_type::spa && origin == req.end()) {
    return entra_error(req, 400, "invalid_request", aadsts::spa_origin_missing,
                       "Tokens issued for the 'Single-Page Application' client-type may only be "
                       "redeemed via cross-origin requests.");
  }
  if (client->type == client_type::web && origin != req.end()) {
    return entra_error(req, 400, "invalid_request", aadsts::origin_on_web_client,
                       "Cross-origin token redemption is permitted only for the 'Single-Page "
                       "Application' client-type. Request origin: '" +
                           std::string(origin->value()) + "'.");
  }

  const std::string* code = form_get(*params, "code");
  if (code == nullptr) return missing("code");
  const std::string* redirect_uri = form_get(*params, "redirect_uri");
  const std::string* verifier = form_get(*params, "code_verifier");
  const auto now = clock_();

  code_entry entry;
  {
    std::lock_guard lock(codes_mutex_);
    const auto it = codes_.find(*code);
    if (it == codes_.end() || it->second.tenant != t.id ||
        it->second.client_id != client->client_id) {
      return entra_error(req, 400, "invalid_grant", aadsts::malformed_request,
                         "Invalid request. Request is malformed or invalid. The provided "
                         "authorization code is not valid for this application.");
    }
    if (it->second.used) {
      return entra_error(req, 400, "invalid_grant", aadsts::code_redeemed,
                         "The code was already redeemed. Please retry with a new valid code or "
                         "use an existing refresh token.");
    }
    // Any redemption attempt spends the code, as a single-use code must (RFC 6749 §4.1.2).
    it->second.used = true;
    entry = it->second;
    // A spent code is kept only to answer replays: drop what it no longer needs.
    it->second.redirect_uri = std::string();
    it->second.challenge = std::string();
    it->second.nonce = std::string();
    it->second.scope = std::string();
    it->second.user_oid = std::string();
  }
  if (now >= entry.expires_at) {
    return entra_error(req, 400, "invalid_grant", aadsts::code_expired,
                       "The provided authorization code or refresh token has expired due to "
                       "inactivity. Send a new interactive authorization request for this user "
                       "and resource.");
  }
  if (redirect_uri == nullptr || *redirect_uri != entry.redirect_uri) {
    return entra_error(req, 400, "invalid_grant", aadsts::redirect_uri_differs,
                       "The reply address '" + (redirect_uri ? *redirect_uri : std::string()) +
                           "' does not match the reply address '" + entry.redirect_uri +
                           "' provided when requesting Authorization code.");
  }
  if (!entry.challenge.empty() &&
      (verifier == nullptr || !pkce_s256_matches(*verifier, entry.challenge))) {
    return entra_error(req, 400, "invalid_grant", aadsts::verifier_mismatch,
                       "The Code_Verifier does not match the code_challenge supplied in the "
                       "authorization request.");
  }

  const mock_user* user = find_user(t, entry.user_oid);
  if (user == nullptr) {
    return entra_error(req, 400, "invalid_grant", aadsts::user_not_found,
                       "The user account no longer exists in the tenant.");
  }
  const auto exp = now + config_.token_ttl;
  json::object id;
  id["aud"] = client->client_id;
  id["iss"] = issuer(t.id);
  id["iat"] = epoch(now);
  id["nbf"] = epoch(now);
  id["exp"] = epoch(exp);
  id["email"] = user->email;
  id["login_hint"] = base64url_encode("O." + user->oid + "." + t.id);
  id["name"] = user->name;
  if (!entry.nonce.empty()) id["nonce"] = entry.nonce;
  id["oid"] = user->oid;
  id["preferred_username"] = user->preferred_username;
  id["sub"] = pairwise_sub(t.id, client->client_id, user->oid);
  id["tid"] = t.id;
  id["uti"] = random_token(rng_, 16);
  id["ver"] = "2.0";

  const std::string scp = access_scopes(entry.scope);
  json::object at;
  at["aud"] = client->client_id;
  at["iss"] = issuer(t.id);
  at["iat"] = epoch(now);
  at["nbf"] = epoch(now);
  at["exp"] = epoch(exp);
  at["azp"] = client->client_id;
  at["azpacr"] = client->type == client_type::spa ? "0" : "1";
  at["name"] = user->name;
  at["oid"] = user->oid;
  at["preferred_username"] = user->preferred_username;
  at["scp"] = scp;
  at["sub"] = pairwise_sub(t.id, client->client_id, user->oid);
  at["tid"] = t.id;
  at["uti"] = random_token(rng_, 16);
  at["ver"] = "2.0";

  json::object o;
  o["token_type"] = "Bearer";
  o["scope"] = entry.scope;
  o["expires_in"] = config_.token_ttl.count();
  o["ext_expires_in"] = config_.token_ttl.count();
  o["access_token"] = sign(at, now);
  o["id_token"] = sign(id, now);
  auto res = json_response(req, 200, o);
  if (origin != req.end()) res.set(http::field::access_control_allow_origin, "*");
  return res;
}

std::optional<net::response> identity_provider::authenticate_web_client(const net::request& req,
                                                                        const mock_tenant& t,
                                                                        const mock_client& client,
                                                                        const form_fields& params) {
  const std::string* secret = form_get(params, "client_secret");
  const std::string* assertion = form_get(params, "client_assertion");
  if (secret != nullptr && assertion != nullptr) {
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
    return entra_error(req, 400, "invalid_request", aadsts::malformed_request,
                       "Invalid request. Request is malformed or invalid: both 'client_secret' "
                       "and 'client_assertion' were presented.");
  }
  if (assertion != nullptr) {
    const std::string* type = form_get(params, "client_assertion_type");
    if (type == nullptr) {
      return entra_error(req, 400, "invalid_request", aadsts::missing_parameter,
                         "The request body must contain the following parameter: "
                         "'client_assertion_type'.");
    }
    // RFC 7523 §2.2: the only assertion type Entra accepts for a certificate credential.
    if (*type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      return entra_error(req, 400, "invalid_request", aadsts::malformed_request,
                         "Invalid request. Request is malformed or invalid: unexpected "
                         "'client_assertion_type'.");
    }
    const auto cert = certificates_.find(t.id + '/' + client.client_id);
    auto rejected = verify_client_assertion(
        *assertion, cert == certificates_.end() ? nullptr : &cert->second, client.client_id,
        token_endpoint(t.id), clock_(), assertion_replays_);
    if (rejected) {
      return entra_error(req, 401, "invalid_client", rejected->code, rejected->description);
    }
    return std::nullopt;
  }
  if (secret == nullptr || secret->empty()) {
    return entra_error(req, 401, "invalid_client", aadsts::web_client_without_secret,
                       "The request body must contain the following parameter: "
                       "'client_assertion' or 'client_secret'.");
  }
  if (client.secret.empty() || !constant_time_equal(*secret, client.secret)) {
    return entra_error(req, 401, "invalid_client", aadsts::invalid_client_secret,
                       "Invalid client secret provided. Ensure the secret being sent in the "
                       "request is the client secret value, not the client secret ID.");
  }
  return std::nullopt;
}

net::response identity_provider::logout(const net::request& req, const mock_tenant& t,
                                        std::string_view query) {
  const auto params = parse_form(query);
  if (!params) {
    return error_page(req, 400, aadsts::malformed_request,
                      "Invalid request. Request is malformed or invalid.");
  }
  const std::string* post_logout = form_get(*params, "post_logout_redirect_uri");
  if (post_logout != nullptr) {
    // Entra returns only to a redirect URI registered for an application of the tenant.
    for (const auto& c : t.clients) {
      if (redirect_registered(c, *post_logout)) {
        const std::string* state = form_get(*params, "state");
        return redirect(
            req, state ? append_query(*post_logout, "state=" + url_encode(*state)) : *post_logout);
      }
    }
  }
  auto res = make_response(req, 200, "text/html; charset=utf-8",
                           html_page("You signed out of your account",
                                     "<p>It's a good idea to close all browser windows.</p>"));
  res.set(http::field::cache_control, "no-store, no-cache");
  return res;
}

net::response identity_provider::admin(const net::request& req, const net::connection_info& conn,
                                       std::string_view path) {
  // The admin API mints tokens and changes behaviour: loopback peers only, whatever the listener.
  const auto peer = conn.peer.is_v6() && conn.peer.to_v6().is_v4_mapped()
                        ? boost::asio::ip::address(boost::asio::ip::make_address_v4(
                              boost::asio::ip::v4_mapped, conn.peer.to_v6()))
                        : conn.peer;
  if (!peer.is_loopback()) {
    return admin_error(req, 403, "the admin API answers loopback peers only");
  }
  if (path == "/admin/faults" && req.method() == http::verb::get) {
    const auto f = faults();
    json::object o;
    o["latency_ms"] = f.latency.count();
    o["error_rate"] = rate_value(f.error_rate);
    o["drop_rate"] = rate_value(f.drop_rate);
    return json_response(req, 200, o);
  }
  if (req.method() != http::verb::post) {
    return admin_error(req, 404, "unknown admin endpoint or method");
  }
  if (path == "/admin/tokens") return admin_tokens(req);
  if (path == "/admin/rotate-keys") {
    const auto s = rotate_keys();
    json::object o;
    o["new_kid"] = s.new_kid;
    o["signs_from"] = epoch(s.signs_from);
    o["replaced_kid"] = s.replaced_kid;
    o["replaced_retires_at"] = epoch(s.replaced_retires_at);
    return json_response(req, 200, o);
  }
  if (path == "/admin/faults") {
    auto body = parse_json_object(req.body(), kJoseJsonLimits);
    if (!body) return admin_error(req, 400, "the body must be a JSON object");
    fault_settings f = faults();
    if (const auto* v = body->if_contains("latency_ms")) {
      const auto* i = v->if_int64();
      if (i == nullptr || *i < 0 || *i > 60'000) {
        return admin_error(req, 400, "latency_ms must be an integer from 0 to 60000");
      }
      f.latency = std::chrono::milliseconds(*i);
    }
    for (const auto* name : {"error_rate", "drop_rate"}) {
      if (const auto* v = body->if_contains(name)) {
        double d = -1;
        if (const auto* i = v->if_int64()) d = static_cast<double>(*i);
        if (const auto* x = v->if_double()) d = *x;
        if (d < 0 || d > 1) {
          return admin_error(req, 400, std::string(name) + " must be a number from 0 to 1");
        }
        (std::string_view(name) == "error_rate" ? f.error_rate : f.drop_rate) = d;
      }
    }
    set_faults(f);
    const auto now_f = faults();
    json::object o;
    o["latency_ms"] = now_f.latency.count();
    o["error_rate"] = rate_value(now_f.error_rate);
    o["drop_rate"] = rate_value(now_f.drop_rate);
    return json_response(req, 200, o);
  }
  return admin_error(req, 404, "unknown admin endpoint or method");
}

net::response identity_provider::admin_tokens(const net::request& req) {
  auto body = parse_json_object(req.body(), kJoseJsonLimits);
  if (!body) return admin_error(req, 400, "the body must be a JSON object");
  std::int64_t count = 1;
  if (const auto* v = body->if_contains("count")) {
    const auto* i = v->if_int64();
    if (i == nullptr || *i < 1 || *i > static_cast<std::int64_t>(kMaxAdminTokens)) {
      return admin_error(req, 400, "count must be an integer from 1 to 10000");
    }
    count = *i;
  }
  const boost::json::string* audience = find_string(*body, "audience");
  if (audience == nullptr || audience->empty()) {
    return admin_error(req, 400, "audience (a non-empty string) is required");
  }
  std::int64_t ttl = 3600;
  if (const auto* v = body->if_contains("ttl_seconds")) {
    const auto* i = v->if_int64();
    if (i == nullptr || *i < 1 || *i > 86'400) {
      return admin_error(req, 400, "ttl_seconds must be an integer from 1 to 86400");
    }
    ttl = *i;
  }
  const mock_tenant* tenant = &config_.tenants.front();
  if (const auto* tid = find_string(*body, "tenant")) {
    tenant = nullptr;
    for (const auto& t : config_.tenants) {
      if (t.id == *tid) tenant = &t;
    }
    if (tenant == nullptr) return admin_error(req, 400, "tenant names no configured tenant");
  }
  std::string scp = "access_as_user";
  if (const auto* s = find_string(*body, "scp")) scp = std::string(*s);
  const mock_user* user = default_user(*tenant);
  const std::string azp = tenant->clients.empty() ? std::string() : tenant->clients[0].client_id;

  const auto now = clock_();
  json::array tokens;
  tokens.reserve(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) {
    json::object at;
    at["aud"] = *audience;
    at["iss"] = issuer(tenant->id);
    at["iat"] = epoch(now);
    at["nbf"] = epoch(now);
    at["exp"] = epoch(now) + ttl;
    if (!azp.empty()) at["azp"] = azp;
    at["azpacr"] = "0";
    if (user != nullptr) {
      at["name"] = user->name;
      at["oid"] = user->oid;
      at["preferred_username"] = user->preferred_username;
      at["sub"] = pairwise_sub(tenant->id, azp, user->oid);
    }
    at["scp"] = scp;
    at["tid"] = tenant->id;
    at["uti"] = random_token(rng_, 16);  // every token distinct, so caches cannot short-cut
    at["ver"] = "2.0";
    tokens.push_back(json::string(sign(at, now)));
  }
  json::object o;
  o["tokens"] = std::move(tokens);
  o["issuer"] = issuer(tenant->id);
  o["kid"] = keys_.signer(now)->kid;
  o["expires_at"] = epoch(now) + ttl;
  return json_response(req, 200, o);
}

}  // namespace oidc::mock
