// SPDX-License-Identifier: Apache-2.0
// Router and handlers of the callback server (the Beast-facing part; pure helpers live in their
// own files).
#include "app.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <span>

#include <openssl/crypto.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "aadsts.hpp"
#include "client_assertion.hpp"
#include "cookies.hpp"
#include "error_page.hpp"
#include "forward_auth.hpp"
#include "http_params.hpp"
#include "log_writer.hpp"
#include "net_metrics.hpp"
#include "oidc/base64url.hpp"
#include "oidc/claims.hpp"
#include "oidc/json.hpp"
#include "oidc/jws.hpp"
#include "oidc/pkce.hpp"
#include "oidc/sealed_cookie.hpp"
#include "oidc/session_token.hpp"
#include "organisation.hpp"
#include "return_to.hpp"

namespace oidc::server {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using std::chrono::seconds;

constexpr std::string_view kLoginPath = "/api/single-sign-on/login";
constexpr std::string_view kCallbackPath = "/api/single-sign-on";
constexpr std::string_view kLogoutPath = "/api/single-sign-on/logout";
constexpr std::string_view kSessionPath = "/api/session";
constexpr std::string_view kVerifyPath = "/api/verify";
constexpr std::size_t kMaxCodeBytes = 4096;
constexpr std::size_t kMaxHintBytes = 256;

std::string_view header(const net::request& req, http::field f) {
  auto it = req.find(f);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

std::string_view header(const net::request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

std::optional<ip_address> to_ip(const boost::asio::ip::address& a) {
  ip_address out;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else if (a.is_v6()) {
    out.family = ip_address::family_t::v6;
    const auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
  } else {
    return std::nullopt;
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// 16 lowercase hex digits (a request id per request: no printf machinery).
std::string hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

// All Cookie headers of a request as one jar (HTTP/2 proxies may split them, RFC 9113 §8.2.3).
result<cookie_jar> request_cookies(const net::request& req) {
  std::string text;
  const auto range = req.equal_range(http::field::cookie);
  for (auto it = range.first; it != range.second; ++it) {
    if (!text.empty()) text += "; ";
    text += it->value();
  }
  return parse_cookie_header(text);
}

auth_error classify_client_error(const boost::system::error_code& ec) {
  if (ec == net::client_errc::timeout) return auth_error::idp_timeout;
  if (ec == net::client_errc::response_too_large || ec == net::client_errc::bad_response)
    return auth_error::idp_bad_response;
  return auth_error::idp_unreachable;
}

verified_identity identity_of(session_claims claims) {
  verified_identity v;
  v.subject = claims.sub;
  v.organisation = claims.org;
  v.tenant = claims.tid;
  v.email = claims.email;
  v.name = claims.name;
  v.session = true;
  v.session_id = claims.sid;
  v.expires_at = claims.exp;
  v.claims = std::make_shared<const session_claims>(std::move(claims));
  return v;
}

result<std::shared_ptr<const verified_identity>> checked(verified_identity v) {
  for (const std::string* f :
       {&v.subject, &v.organisation, &v.tenant, &v.email, &v.name, &v.scopes})
    if (!header_value_safe(*f)) return auth_error::claim_invalid;
  // The body of every 200 for this identity, rendered once (a cache hit reuses it). Written by
  // hand: a json::object and its serializer were a tenth of the non-crypto work of a verify.
  std::string& out = v.rendered;
  out.reserve(128 + v.subject.size() + v.organisation.size() + v.tenant.size() + v.email.size() +
              v.name.size() + v.scopes.size());
  const auto member = [&out](std::string_view name, std::string_view value) {
    out += out.empty() ? "{\"" : ",\"";
    out += name;
    out += "\":\"";
    append_json_string_content(out, value);
    out += '"';
  };
  member("sub", v.subject);
  member("org", v.organisation);
  member("tid", v.tenant);
  member("email", v.email);
  member("name", v.name);
  member("scopes", v.scopes);
  member("kind", v.session ? "session" : "access_token");
  out += ",\"exp\":";
  out += std::to_string(v.expires_at.time_since_epoch().count());
  out += '}';
  return std::make_shared<const verified_identity>(std::move(v));
}

// Per-organisation series follow the organisations of the configuration (file order, capped by
// the metrics library).
void set_organisation_series(metrics::server_metrics& m, const server_config& cfg) {
  std::vector<std::string> names;
  names.reserve(cfg.organisations().size());
  for (const auto& o : cfg.organisations())
    names.push_back(o.name);
  m.set_organisations(names);
}

}  // namespace

struct app::request_context {
  std::shared_ptr<const app_snapshot> snap;  // one per request, kept until it is answered
  net::request req;
  net::connection_info conn;
  handled_request out;
  std::string_view path;
  std::string_view query;
  bool json = false;
  const organisation_config* org = nullptr;
  resolved_organisation where;
  cookie_jar cookies;

  void respond(unsigned status, std::string_view content_type, std::string body) {
    auto& res = out.response;
    res.result(status);
    res.version(req.version());
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Request-Id", out.request_id);
    if (content_type.starts_with("text/html")) {
      res.set("Content-Security-Policy",
              "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
              "frame-ancestors 'none'");
    }
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
  }

  void redirect(std::string_view location) {
    respond(302, "text/plain; charset=utf-8", {});
    out.response.set(http::field::location, location);
  }

  void fail(auth_error reason, const aadsts_info* aadsts = nullptr, std::string idp_error = {},
            unsigned status_override = 0) {
    out.reason = reason;
    error_view v;
    v.reason = reason;
    v.aadsts = aadsts;
    v.idp_error = std::move(idp_error);
    v.request_id = out.request_id;
    if (org) v.retry_url = std::string(kLoginPath);
    const unsigned status = status_override ? status_override : http_status(reason);
    if (json)
      respond(status, "application/json", render_error_json(v));
    else
      respond(status, "text/html; charset=utf-8", render_error_html(v));
  }
};

app::app(app_dependencies deps) : deps_(std::move(deps)) {
  auto first = std::make_shared<app_snapshot>();
  first->config = std::move(deps_.config);
  first->secrets = std::move(deps_.secrets);
  snapshot_ = std::move(first);
  deps_.config.reset();
  deps_.secrets = {};
  if (!deps_.rng) deps_.rng = std::make_shared<openssl_random>();
  if (!deps_.clock) deps_.clock = [] { return std::chrono::system_clock::now(); };
  const server_config& cfg = *snapshot_->config;
  if (!deps_.keys) {
    key_cache_options ko;
    const auto secs = [](config_duration d) { return std::chrono::duration_cast<seconds>(d); };
    ko.policy.min_max_age = secs(cfg.jwks.max_age_min);
    ko.policy.max_max_age = secs(cfg.jwks.max_age_max);
    ko.policy.default_max_age = secs(cfg.jwks.default_max_age);
    ko.policy.min_unknown_kid_refresh_interval = secs(cfg.jwks.min_refresh_interval);
    ko.policy.stale_if_error = secs(cfg.jwks.stale_if_error);
    deps_.keys = std::make_shared<key_cache>(std::move(ko));
  }
  metrics::server_metrics_options mo;
  for (const auto& row : aadsts_table())
    mo.aadsts_keys.emplace_back(row.key);
  mo.organisation_labels = cfg.metrics.organisation_labels;
  mo.organisation_label_cap = cfg.metrics.organisation_cap;
  metrics_ = std::make_shared<metrics::server_metrics>(std::move(mo));
  jwks_service_options jo;
  jo.metrics = metrics_;
  // Waiters give up a little after the fetch itself must have ended.
  jo.wait_limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.timeouts.upstream_total) +
      std::chrono::seconds(1);
  jwks_ = std::make_shared<jwks_service>(deps_.keys, deps_.client, deps_.clock, jo);
  verified_token_cache_options vo;
  vo.enabled =
      cfg.verify.cache && cfg.verify.cache_max_entries > 0 && cfg.verify.cache_max_bytes > 0;
  vo.max_entries = cfg.verify.cache_max_entries;
  vo.max_bytes = cfg.verify.cache_max_bytes;
  vo.max_ttl = std::chrono::duration_cast<seconds>(cfg.verify.cache_max_ttl);
  verified_tokens_ = std::make_unique<verified_token_cache>(vo);
  metrics_->attach_key_cache(*deps_.keys);
  metrics_->attach_verified_token_cache(*verified_tokens_);
  metrics_->set_idp_pool_source([client = deps_.client] {
    metrics::idp_pool_stats s;
    s.idle_connections = client->idle_connections();
    s.in_use_connections = client->connections_in_use();
    s.connections_opened = client->connections_opened();
    return s;
  });
  set_organisation_series(*metrics_, cfg);
}

net::response app::metrics_response(unsigned http_version, bool keep_alive) const {
  net::response res;
  res.result(200);
  res.version(http_version);
  res.set(http::field::content_type, metrics::kTextContentType);
  res.set(http::field::cache_control, "no-store");
  res.body() = metrics_->render_metrics();
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

std::shared_ptr<const app_snapshot> app::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

void app::replace_snapshot(std::shared_ptr<const app_snapshot> next) {
  if (!next || !next->config || !next->secrets.cookie_keys || !next->secrets.sessions) return;
  set_organisation_series(*metrics_, *next->config);
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.swap(next);
  // `next` (the old snapshot) is released outside the lock when the last request using it ends.
}

std::chrono::sys_seconds app::now() const {
  return std::chrono::floor<seconds>(deps_.clock());
}

boost::asio::awaitable<handled_request> app::handle(net::request req, net::connection_info conn) {
  const auto started = std::chrono::steady_clock::now();
  metrics::in_flight_scope in_flight(*metrics_);
  request_context ctx;
  ctx.snap = snapshot();
  ctx.req = std::move(req);
  ctx.conn = conn;
  ctx.out.request_id = hex(request_counter_.fetch_add(1) + 1);
  ctx.path = path_of(ctx.req.target());
  ctx.query = query_of(ctx.req.target());
  ctx.json = wants_json(header(ctx.req, http::field::accept));
  auto routed = route(ctx);
  co_await std::move(routed);
  count(ctx, std::chrono::steady_clock::now() - started);
  co_return std::move(ctx.out);
}

// Every request once, from what the handler decided: the HTTP families, and the login and
// verify outcomes (a login start is a 302 to the IdP; a callback succeeds only with a session).
void app::count(const request_context& ctx, std::chrono::nanoseconds took) noexcept {
  const unsigned status = ctx.out.response.result_int();
  const std::string_view method_name(ctx.req.method_string().data(),
                                     ctx.req.method_string().size());
  metrics_->http_request(ctx.out.route, metrics::method_from(method_name), status, took);
  const auto r = ctx.out.route;
  if (r == metrics::route::verify) {
    metrics_->verification(ctx.out.reason, took);
    return;
  }
  if (r != metrics::route::login && r != metrics::route::callback) return;
  const metrics::organisation_handle org =
      ctx.org ? metrics_->organisation(ctx.org->name) : nullptr;
  if (ctx.out.reason != auth_error::ok)
    metrics_->login_failed(ctx.out.reason, org.get());
  else if (r == metrics::route::login)
    metrics_->login_started(org.get());
  else
    metrics_->login_completed(took, org.get());
}

boost::asio::awaitable<void> app::route(request_context& ctx) {
  const auto method = ctx.req.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  // The fixed endpoints read and change nothing: GET and HEAD only (RFC 9110 §15.5.6).
  const std::optional<metrics::route> fixed =
      ctx.path == "/healthz"                 ? std::optional(metrics::route::healthz)
      : ctx.path == "/readyz"                ? std::optional(metrics::route::readyz)
      : ctx.path == "/.well-known/jwks.json" ? std::optional(metrics::route::jwks)
      : ctx.path == "/metrics" && ctx.snap->config->metrics.main_listener
          ? std::optional(metrics::route::metrics)
          : std::nullopt;
  if (fixed) {
    ctx.out.route = *fixed;
    if (!get) {
      ctx.respond(405, "text/plain; charset=utf-8", "method not allowed\n");
      ctx.out.response.set(http::field::allow, "GET, HEAD");
      co_return;
    }
    switch (*fixed) {
      case metrics::route::healthz:
        ctx.respond(200, "text/plain; charset=utf-8", "ok\n");
        break;
      case metrics::route::readyz:
        if (ready_.load())
          ctx.respond(200, "text/plain; charset=utf-8", "ready\n");
        else
          ctx.respond(503, "text/plain; charset=utf-8", "starting\n");
        break;
      case metrics::route::metrics:
        ctx.out.response = metrics_response(ctx.req.version(), ctx.req.keep_alive());
        break;
      case metrics::route::jwks:
        ctx.respond(200, "application/jwk-set+json", ctx.snap->secrets.sessions->jwks_json());
        ctx.out.response.set(http::field::cache_control, "public, max-age=300");
        break;
      default:  // `fixed` holds only the four above
        break;
    }
    co_return;
  }

  if (ctx.path == kVerifyPath ||
      (ctx.path.starts_with(kVerifyPath) && ctx.path[kVerifyPath.size()] == '/')) {
    // Forward-auth: the organisation comes from the credential, not from Host. Any method and
    // any sub-path: Envoy's ext_authz HTTP service sends the client's method and appends the
    // client's path to its path_prefix.
    ctx.out.route = metrics::route::verify;
    ctx.json = true;
    auto op = verify(ctx);
    co_await std::move(op);
    co_return;
  }

  request_origin_headers h;
  h.host = header(ctx.req, http::field::host);
  h.forwarded_host = header(ctx.req, "X-Forwarded-Host");
  h.forwarded_proto = header(ctx.req, "X-Forwarded-Proto");
  h.peer = to_ip(ctx.conn.peer);
  h.tls = ctx.conn.tls;
  auto where = resolve_organisation(*ctx.snap->config, h);
  if (!where) {
    ctx.out.route = metrics::route::unknown_organisation;
    ctx.fail(where.error());
    co_return;
  }
  ctx.where = std::move(*where);
  ctx.org = ctx.where.organisation;
  ctx.out.organisation = ctx.org->name;

  auto jar = request_cookies(ctx.req);
  if (!jar) {
    ctx.out.route = metrics::route::bad_cookies;
    ctx.fail(jar.error());
    co_return;
  }
  ctx.cookies = std::move(*jar);

  if (ctx.path == kLoginPath && get) {
    ctx.out.route = metrics::route::login;
    auto op = login(ctx);
    co_await std::move(op);
  } else if (ctx.path == kCallbackPath && get) {
    ctx.out.route = metrics::route::callback;
    auto op = callback(ctx);
    co_await std::move(op);
  } else if (ctx.path == kSessionPath && get) {
    ctx.out.route = metrics::route::session;
    ctx.json = true;
    auto op = session(ctx);
    co_await std::move(op);
  } else if (ctx.path == kLogoutPath && (get || method == http::verb::post)) {
    ctx.out.route = metrics::route::logout;
    auto op = logout(ctx);
    co_await std::move(op);
  } else if (ctx.path == "/" && get && deps_.demo_page) {
    ctx.out.route = metrics::route::demo;
    auto op = demo(ctx);
    co_await std::move(op);
  } else {
    ctx.out.route = metrics::route::not_found;
    ctx.fail(auth_error::request_invalid, nullptr, {}, 404);
  }
}

boost::asio::awaitable<result<std::shared_ptr<const discovery_document>>> app::discovery(
    std::string organisation) {
  auto snap = snapshot();
  auto op = discovery_for(std::move(snap), std::move(organisation));
  auto r = co_await std::move(op);
  co_return r;
}

boost::asio::awaitable<result<std::shared_ptr<const discovery_document>>> app::discovery_for(
    std::shared_ptr<const app_snapshot> snap, std::string organisation) {
  const organisation_config* org = snap->config->find_organisation(organisation);
  if (!org) co_return auth_error::organisation_unknown;
  // Kept for jwks.max_age_max; a failed refetch keeps serving the document we have.
  const auto t = now();
  std::shared_ptr<const discovery_document> cached;
  {
    std::lock_guard lock(discovery_mutex_);
    if (auto it = discovery_.find(org->discovery_url); it != discovery_.end()) {
      cached = it->second.document;
      if (t < it->second.fetched_at +
                  std::chrono::duration_cast<seconds>(snap->config->jwks.max_age_max))
        co_return cached;
    }
  }
  net::client_request req;
  req.url = org->discovery_url;
  req.headers.emplace_back("Accept", "application/json");
  const auto started = std::chrono::steady_clock::now();
  auto op = deps_.client->send(std::move(req));
  auto res = co_await std::move(op);
  auto outcome = idp_outcome_of(res);
  auth_error failure = auth_error::ok;
  if (!res)
    failure = res.error() == net::client_errc::timeout ? auth_error::idp_timeout
                                                       : auth_error::discovery_failed;
  else if (res->status != 200)
    failure = auth_error::discovery_failed;
  if (failure != auth_error::ok) {
    metrics_->idp_request(metrics::idp_endpoint::discovery, url_host(org->discovery_url), outcome,
                          std::chrono::steady_clock::now() - started);
    if (cached) co_return cached;
    co_return failure;
  }
  auto doc = parse_discovery(res->body, org->expected_issuer,
                             snap->config->upstream.allow_plain_http_loopback);
  if (!doc) outcome = metrics::idp_outcome::bad_response;
  metrics_->idp_request(metrics::idp_endpoint::discovery, url_host(org->discovery_url), outcome,
                        std::chrono::steady_clock::now() - started);
  if (!doc) {
    if (cached) co_return cached;
    co_return doc.error();
  }
  auto shared = std::make_shared<const discovery_document>(std::move(*doc));
  std::lock_guard lock(discovery_mutex_);
  discovery_.insert_or_assign(org->discovery_url, cached_discovery{shared, t});
  co_return shared;
}

boost::asio::awaitable<void> app::login(request_context& ctx) {
  const auto& cfg = *ctx.snap->config;
  const auto& org = *ctx.org;
  if (org.client_auth.method != client_auth_method::none && !ctx.snap->secrets.client(org.name)) {
    // A confidential organisation without its credential could never redeem the code: refuse
    // before the user meets the IdP rather than fail after sign-in.
    ctx.fail(auth_error::config_invalid);
    co_return;
  }
  auto params = parse_query(ctx.query);
  if (!params) {
    ctx.fail(params.error());
    co_return;
  }
  std::vector<std::string> origins = cfg.server.allowed_return_origins;
  if (!cfg.server.public_origin.empty()) origins.push_back(cfg.server.public_origin);
  origins.push_back(org.redirect_origin);
  std::string return_to;
  if (auto rt = params->get("return_to"); rt && !rt->empty())
    return_to = safe_return_to(*rt, return_to_policy{origins});
  else
    return_to = cfg.server.public_origin.empty() ? "/" : cfg.server.public_origin + "/";

  const auto disc_started = std::chrono::steady_clock::now();
  auto disc_op = discovery_for(ctx.snap, org.name);
  auto disc = co_await std::move(disc_op);
  ctx.out.upstream += std::chrono::steady_clock::now() - disc_started;
  if (!disc) {
    ctx.fail(disc.error());
    co_return;
  }

  auto& rng = *deps_.rng;
  login_state s;
  s.state_id = make_state(rng);
  s.nonce = make_nonce(rng);
  auto pkce = make_pkce(rng);
  if (!pkce) {
    ctx.fail(pkce.error());
    co_return;
  }
  s.code_verifier = pkce->verifier;
  s.organisation = org.name;
  s.return_to = return_to;
  const auto t = now();
  s.expires_at = t + std::chrono::duration_cast<seconds>(cfg.timeouts.login_state_ttl);
  auto sealed = seal_login_state(*ctx.snap->secrets.cookie_keys, s, rng);
  auto base = login_cookie_base(s.state_id);
  if (!sealed || !base) {
    ctx.fail(sealed ? auth_error::internal_error : sealed.error());
    co_return;
  }

  const cookie_policy policy(cfg.server.cookie_mode);
  std::vector<pending_login> pending;
  for (auto& existing : login_cookie_bases(ctx.cookies, policy)) {
    pending_login p;
    if (auto v = ctx.cookies.get(policy.name(existing))) {
      if (auto opened = open_login_state(*ctx.snap->secrets.cookie_keys, *v, t))
        p.expires_at = opened->expires_at;
    }
    p.base_name = std::move(existing);
    pending.push_back(std::move(p));
  }
  const auto drop = logins_to_drop(std::move(pending), cfg.limits.max_pending_logins);

  std::string url = disc.value()->authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  const std::pair<std::string_view, std::string_view> fixed[] = {
      {"client_id", org.client_id},
      {"response_type", "code"},
      {"redirect_uri", org.redirect_uri},
      {"scope", org.scope},
      {"state", s.state_id},
      {"nonce", s.nonce},
      {"code_challenge", pkce->challenge},
      {"code_challenge_method", "S256"},
      {"response_mode", "query"},
  };
  bool first = true;
  auto append = [&url, &first](std::string_view name, std::string_view value) {
    if (!first) url += '&';
    first = false;
    url += name;
    url += '=';
    url += url_encode(value);
  };
  for (const auto& [n, v] : fixed)
    append(n, v);
  for (std::string_view hint : {"prompt", "login_hint", "domain_hint"}) {
    auto v = params->get(hint);
    if (v && !v->empty() && v->size() <= kMaxHintBytes && org.passes_through(hint))
      append(hint, *v);
  }

  ctx.redirect(url);
  for (const auto& d : drop)
    ctx.out.response.insert(http::field::set_cookie, policy.clear_cookie(d));
  ctx.out.response.insert(
      http::field::set_cookie,
      policy.set_cookie(*base, *sealed,
                        std::chrono::duration_cast<seconds>(cfg.timeouts.login_state_ttl)));
}

boost::asio::awaitable<void> app::callback(request_context& ctx) {
  const auto& cfg = *ctx.snap->config;
  const auto& org = *ctx.org;
  const cookie_policy policy(cfg.server.cookie_mode);
  auto params = parse_query(ctx.query);
  if (!params) {
    ctx.fail(params.error());
    co_return;
  }
  const auto state_param = params->get("state");
  const auto code = params->get("code");
  const auto error = params->get("error");
  std::optional<std::string> base;
  if (state_param) base = login_cookie_base(*state_param);
  bool cleared = false;
  auto clear_state = [&ctx, &policy, &base, &cleared] {
    if (base && !cleared)
      ctx.out.response.insert(http::field::set_cookie, policy.clear_cookie(*base));
    cleared = true;
  };

  if (error) {
    // RFC 6749 §4.1.2.1 error response; Entra puts "AADSTSnnnn: ..." in error_description.
    const aadsts_info* a = nullptr;
    if (auto code_no = find_aadsts_code(params->get("error_description").value_or("")))
      a = &aadsts_lookup(*code_no);
    ctx.fail(auth_error::idp_error, a, sanitize_idp_error(*error));
    clear_state();
    co_return;
  }
  if (!state_param && !code) {
    // The post-logout landing: Entra returns to a registered redirect URI without parameters.
    ctx.out.route = metrics::route::signed_out;
    ctx.respond(200, "text/html; charset=utf-8",
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Signed out</title></head><body><h1>You are signed out</h1>"
                "<p><a href=\"/api/single-sign-on/login\">Sign in again</a></p></body></html>\n");
    co_return;
  }
  if (!state_param) {
    ctx.fail(auth_error::state_missing);
    co_return;
  }
  if (!base) {
    ctx.fail(auth_error::state_mismatch);
    co_return;
  }
  const auto sealed = ctx.cookies.get(policy.name(*base));
  if (!sealed) {
    ctx.fail(auth_error::state_missing);
    co_return;
  }
  const auto t = now();
  auto opened = open_login_state(*ctx.snap->secrets.cookie_keys, *sealed, t);
  if (!opened) {
    ctx.fail(opened.error() == auth_error::cookie_expired ? auth_error::state_expired
                                                          : auth_error::state_mismatch);
    clear_state();
    co_return;
  }
  const login_state s = std::move(*opened);
  if (!constant_time_equal(*state_param, s.state_id)) {
    ctx.fail(auth_error::state_mismatch);
    co_return;
  }
  if (s.organisation != org.name) {
    ctx.fail(auth_error::organisation_mismatch);
    co_return;
  }
  // Single use, checked before any IdP call (RFC 6749 §10.12); across instances the IdP's
  // single-use code is the backstop.
  if (!used_states_.try_consume(s.state_id, s.expires_at, t)) {
    ctx.fail(auth_error::state_replayed);
    clear_state();
    co_return;
  }
  if (!code || code->empty() || code->size() > kMaxCodeBytes) {
    ctx.fail(auth_error::request_invalid);
    clear_state();
    co_return;
  }

  const auto disc_started = std::chrono::steady_clock::now();
  auto disc_op = discovery_for(ctx.snap, org.name);
  auto disc = co_await std::move(disc_op);
  ctx.out.upstream += std::chrono::steady_clock::now() - disc_started;
  if (!disc) {
    ctx.fail(disc.error());
    clear_state();
    co_return;
  }

  net::client_request token_req;
  token_req.method = http::verb::post;
  token_req.url = disc.value()->token_endpoint;
  token_req.idempotent = false;
  token_req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  token_req.headers.emplace_back("Accept", "application/json");
  // Entra redeems a SPA code only cross-origin (AADSTS9002327) and refuses an Origin for a web
  // registration (AADSTS9002326).
  if (org.sends_origin()) token_req.headers.emplace_back("Origin", org.redirect_origin);
  token_req.body = "grant_type=authorization_code&client_id=" + url_encode(org.client_id) +
                   "&code=" + url_encode(*code) + "&redirect_uri=" + url_encode(org.redirect_uri) +
                   "&code_verifier=" + url_encode(s.code_verifier);
  if (!org.sends_origin()) {
    // Confidential redemption: RFC 6749 §2.3.1 client_secret_post, or RFC 7523 §2.2
    // private_key_jwt with an assertion addressed to this token endpoint.
    const client_credential* cred = ctx.snap->secrets.client(org.name);
    if (!cred) {
      ctx.fail(auth_error::config_invalid);
      clear_state();
      co_return;
    }
    if (cred->method == client_auth_method::client_secret_post) {
      token_req.body += "&client_secret=" + url_encode(cred->secret);
    } else {
      auto assertion = make_client_assertion(*cred, org.client_id, disc.value()->token_endpoint,
                                             now(), *deps_.rng);
      if (!assertion) {
        ctx.fail(assertion.error());
        clear_state();
        co_return;
      }
      token_req.body += "&client_assertion_type=" + url_encode(kClientAssertionType) +
                        "&client_assertion=" + url_encode(*assertion);
    }
  }
  const std::string token_host(url_host(disc.value()->token_endpoint));
  const auto token_started = std::chrono::steady_clock::now();
  auto send_op = deps_.client->send(std::move(token_req));
  auto res = co_await std::move(send_op);
  const auto token_took = std::chrono::steady_clock::now() - token_started;
  ctx.out.upstream += token_took;
  auto token_outcome = idp_outcome_of(res);
  if (!res) {
    metrics_->idp_request(metrics::idp_endpoint::token, token_host, token_outcome, token_took);
    ctx.fail(classify_client_error(res.error()));
    clear_state();
    co_return;
  }
  auto body =
      parse_json_object(res->body, json_limits{cfg.limits.max_upstream_response_bytes, 16, 0});
  if (res->status == 200 && !body) token_outcome = metrics::idp_outcome::bad_response;
  metrics_->idp_request(metrics::idp_endpoint::token, token_host, token_outcome, token_took);
  if (res->status != 200) {
    const aadsts_info* a = nullptr;
    std::string idp_error;
    if (body) {
      if (const auto* d = find_string(*body, "error_description"))
        if (auto n = find_aadsts_code(*d)) a = &aadsts_lookup(*n);
      if (!a) {
        if (const auto* codes = body->if_contains("error_codes"); codes && codes->is_array()) {
          const auto& arr = codes->get_array();
          if (!arr.empty() && arr[0].is_int64() && arr[0].get_int64() > 0 &&
              arr[0].get_int64() < 1'000'000'000)
            a = &aadsts_lookup(static_cast<std::uint32_t>(arr[0].get_int64()));
        }
      }
      if (const auto* e = find_string(*body, "error")) idp_error = sanitize_idp_error(*e);
    }
    metrics_->token_exchange(token_took, a ? a->key : aadsts_lookup(0).key);
    ctx.fail(auth_error::token_endpoint_error, a, std::move(idp_error));
    clear_state();
    co_return;
  }
  metrics_->token_exchange(token_took);
  const json::string* id_token = body ? find_string(*body, "id_token") : nullptr;
  if (!id_token) {
    ctx.fail(auth_error::idp_bad_response);
    clear_state();
    co_return;
  }
  if (id_token->size() > cfg.limits.max_token_bytes) {
    ctx.fail(auth_error::token_too_large);
    clear_state();
    co_return;
  }

  id_token_expectations want;
  want.issuer = org.expected_issuer;
  want.client_id = org.client_id;
  if (org.checks_tenant()) want.tenant_id = org.tenant_id;
  want.nonce = s.nonce;
  want.skew = std::chrono::duration_cast<seconds>(org.clock_skew);
  want.max_age = std::chrono::duration_cast<seconds>(org.max_token_age);
  want.allowed_algs = org.allowed_algs;
  want.max_token_bytes = cfg.limits.max_token_bytes;

  const std::string token_text(*id_token);
  const auto verified_at = now();
  key_set_check check = [&token_text, &want, verified_at](const key_set& keys) {
    return verify_id_token(token_text, keys, want, verified_at);
  };
  auto header = peek_jose_header(token_text, cfg.limits.max_token_bytes);
  if (!header) {
    ctx.fail(header.error());
    clear_state();
    co_return;
  }
  auto verify_op =
      jwks_->verify(disc.value()->jwks_uri, std::move(*header), org.allowed_algs, std::move(check));
  auto claims = co_await std::move(verify_op);
  if (!claims) {
    ctx.fail(claims.error());
    clear_state();
    co_return;
  }

  login_identity who;
  who.organisation = org.name;
  who.tid = claims->tid;
  who.oid = claims->oid.empty() ? claims->sub : claims->oid;
  who.email = claims->email;
  who.preferred_username = claims->preferred_username;
  who.name = claims->name;
  result<account> acct = auth_error::account_not_found;
  if (org.account_mode == account_mode_t::tenant) {
    tenant_account_directory tenant;
    acct = tenant.resolve(who, org.domains);
  } else if (deps_.accounts && deps_.blocking) {
    auto dir = deps_.accounts;
    std::vector<std::string> domains = org.domains;
    auto resolve_op = run_blocking(*deps_.blocking, [dir, who, domains] {
      try {
        return dir->resolve(who, domains);
      } catch (const std::exception&) {
        return result<account>(auth_error::internal_error);
      }
    });
    acct = co_await std::move(resolve_op);
  }
  metrics_->account_lookup(acct ? auth_error::ok : acct.error());
  if (!acct) {
    ctx.fail(acct.error());
    clear_state();
    co_return;
  }

  session_claims sc;
  sc.sid = new_session_id(*deps_.rng);
  sc.sub = acct->account_id;
  sc.org = org.name;
  sc.tid = claims->tid;
  sc.oid = who.oid;
  sc.email = !acct->email.empty() ? acct->email : claims->email;
  sc.name = !acct->display_name.empty() ? acct->display_name : claims->name;
  sc.login_hint = claims->login_hint;
  auto issued = ctx.snap->secrets.sessions->issue(sc, now());
  if (!issued) {
    ctx.fail(issued.error());
    clear_state();
    co_return;
  }
  // The session's first uses (the home page, /api/session, /api/verify) find it verified and
  // not revoked without an ES256 verification or a revocation query.
  if (deps_.revocations) deps_.revocations->note_issued(issued->claims.sid);
  if (verified_tokens_->enabled()) {
    if (auto identity = checked(identity_of(issued->claims)))
      verified_tokens_->insert(verified_tokens_->digest_of(issued->token), *identity, now());
  }
  ctx.redirect(s.return_to);
  ctx.out.response.insert(
      http::field::set_cookie,
      policy.set_cookie(kSessionCookie, issued->token,
                        std::chrono::duration_cast<seconds>(cfg.timeouts.session_lifetime)));
  clear_state();
}

result<std::shared_ptr<const verified_identity>> app::session_identity(const app_snapshot& snap,
                                                                       std::string_view token) {
  // The verified-token cache first: the callback put the session it issued there, so a fresh
  // session is not verified again (an ES256 verification costs about 75 µs here).
  const auto t = now();
  const bool cached = verified_tokens_->enabled();
  const auto digest = cached ? verified_tokens_->digest_of(token) : verified_token_cache::digest{};
  if (cached) {
    if (auto hit = verified_tokens_->find(digest, t); hit && hit->claims) return hit;
  }
  auto claims = snap.secrets.sessions->verify(token, t);
  if (!claims) return claims.error();
  auto identity = checked(identity_of(std::move(*claims)));
  if (identity && cached) verified_tokens_->insert(digest, *identity, t);
  return identity;
}

boost::asio::awaitable<result<bool>> app::is_revoked(std::string sid) {
  if (!deps_.revocations || !deps_.blocking) co_return false;
  // A fresh cached answer needs no trip to the blocking pool.
  if (const auto known = deps_.revocations->cached(sid)) co_return *known;
  auto store = deps_.revocations;
  const auto t = now();
  auto op = run_blocking(*deps_.blocking, [store, sid, t] {
    try {
      return store->is_revoked(sid, t);
    } catch (const std::exception&) {
      return result<bool>(auth_error::internal_error);
    }
  });
  auto r = co_await std::move(op);
  co_return r;
}

boost::asio::awaitable<result<std::size_t>> app::purge_expired_revocations() {
  if (!deps_.revocations || !deps_.blocking) co_return std::size_t{0};
  auto store = deps_.revocations;
  const auto t = now();
  auto op = run_blocking(*deps_.blocking, [store, t] {
    try {
      return store->purge_expired(t);
    } catch (const std::exception&) {
      return result<std::size_t>(auth_error::internal_error);
    }
  });
  auto r = co_await std::move(op);
  co_return r;
}

boost::asio::awaitable<void> run_housekeeping(app* application, housekeeping_control* control,
                                              std::chrono::milliseconds interval, log_writer* log) {
  while (!control->stopped.load()) {
    control->timer().expires_after(interval);
    auto wait = control->timer().async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec] = co_await std::move(wait);
    if (ec || control->stopped.load()) co_return;
    auto op = application->purge_expired_revocations();
    auto purged = co_await std::move(op);
    std::string line =
        purged ? R"({"event":"revocations_purged","rows":)" + std::to_string(*purged) + "}\n"
               : R"({"event":"revocations_purge_failed","reason":")" +
                     std::string(label(purged.error())) + "\"}\n";
    // Quiet when there was nothing to do.
    if (log && (!purged || *purged != 0)) log->write_now(line);
  }
}

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

// The identity /api/verify answers with, or claim_invalid when a value cannot be a header.

}  // namespace

boost::asio::awaitable<result<std::shared_ptr<const verified_identity>>> app::verify_bearer(
    std::shared_ptr<const app_snapshot> snap, std::string_view token) {
  const server_config& cfg = *snap->config;
  // The issuer picks the verifier: read it from the unverified payload, then verify everything
  // with that issuer's keys and rules.
  // Parsed once: the same object serves the claim checks after the signature (below).
  auto payload = parse_jws_payload(token, cfg.limits.max_token_bytes);
  if (!payload) co_return payload.error();
  const json::string* iss = find_string(*payload, "iss");
  if (!iss) co_return auth_error::claim_missing;
  const std::string_view issuer(iss->data(), iss->size());

  if (issuer == cfg.session.issuer) {
    auto claims = snap->secrets.sessions->verify(token, now());
    if (!claims) co_return claims.error();
    co_return checked(identity_of(std::move(*claims)));
  }

  const auto candidates = cfg.access_token_organisations(issuer);
  if (candidates.empty()) co_return auth_error::issuer_mismatch;
  // The header is decoded here once: the key lookup and the signature check both use it.
  auto peeked = peek_jws(token, cfg.limits.max_token_bytes);
  if (!peeked) co_return peeked.error();
  result<token_claims> claims = auth_error::issuer_mismatch;
  const organisation_config* matched = nullptr;
  std::string jwks_uri;
  for (const std::size_t index : candidates) {
    const organisation_config& org = cfg.organisations()[index];
    auto disc_op = discovery_for(snap, org.name);
    auto disc = co_await std::move(disc_op);
    if (!disc) co_return disc.error();
    // Everything the check needs lives in this frame, which outlives the awaited verify: the
    // check holds one pointer, so std::function stores it without an allocation.
    struct bound_check {
      const peeked_jws* token;
      const json::object* claims;
      const access_token_expectations* want;
      std::chrono::sys_seconds at;
    } bound{&*peeked, &*payload, &org.access_token_rules, now()};
    key_set_check check = [b = &bound](const key_set& keys) {
      return verify_access_token(*b->token, *b->claims, keys, *b->want, b->at);
    };
    jwks_uri = disc.value()->jwks_uri;
    auto op = jwks_->verify(jwks_uri, peeked->header(), org.allowed_algs, std::move(check));
    claims = co_await std::move(op);
    if (claims) {
      matched = &org;
      break;
    }
    // Organisations sharing a tenant differ by audience: try the next one.
    if (claims.error() != auth_error::audience_mismatch) break;
  }
  if (!claims) co_return claims.error();
  verified_identity v;
  v.subject = claims->oid.empty() ? claims->sub : claims->oid;
  v.organisation = matched->name;
  v.tenant = claims->tid;
  v.email = !claims->email.empty()
                ? claims->email
                : (!claims->preferred_username.empty() ? claims->preferred_username : claims->upn);
  v.name = claims->name;
  v.scopes = !claims->scopes.empty() ? joined(claims->scopes) : joined(claims->roles);
  v.key_set_id = std::move(jwks_uri);
  v.kid = peeked->header().kid;
  v.expires_at = claims->exp;
  co_return checked(std::move(v));
}

boost::asio::awaitable<void> app::verify(request_context& ctx) {
  const auto refuse = [&ctx](auth_error reason) {
    // Always 401: nginx auth_request turns anything but 2xx/401/403 into a 500.
    ctx.fail(reason, nullptr, {}, 401);
    ctx.out.response.set(http::field::www_authenticate, www_authenticate(reason));
  };
  // Two are enough to tell "one" from "several" (several is refused).
  std::array<std::string_view, 2> authorization;
  std::size_t authorizations = 0;
  const auto range = ctx.req.equal_range(http::field::authorization);
  for (auto it = range.first; it != range.second && authorizations < 2; ++it)
    authorization[authorizations++] = it->value();
  auto bearer = bearer_token(std::span(authorization.data(), authorizations));
  if (!bearer) {
    refuse(bearer.error());
    co_return;
  }
  std::string_view token;  // into the request, which outlives this handler
  std::string cookie_token;
  bool from_cookie = false;
  if (*bearer) {
    token = **bearer;
  } else {
    auto jar = request_cookies(ctx.req);
    if (!jar) {
      refuse(auth_error::request_invalid);
      co_return;
    }
    const cookie_policy policy(ctx.snap->config->server.cookie_mode);
    if (const auto c = jar->get(policy.name(kSessionCookie))) {
      cookie_token.assign(*c);
      token = cookie_token;
      from_cookie = true;
    }
  }
  if (token.empty()) {
    refuse(auth_error::credentials_missing);
    co_return;
  }

  const auto t = now();
  // No hashing at all when the cache is off.
  const bool cached = verified_tokens_->enabled();
  const auto digest = cached ? verified_tokens_->digest_of(token) : verified_token_cache::digest{};
  auto identity = cached ? verified_tokens_->find(digest, t) : nullptr;
  if (identity && !identity->key_set_id.empty()) {
    // A key that has left the key set takes the tokens it signed with it.
    bool still_published = false;
    {
      const auto guard = jwks_->cache().pin();
      const key_set_snapshot* snap = jwks_->cache().snapshot(guard, identity->key_set_id);
      still_published = snap != nullptr && snap->keys->contains_kid(identity->kid);
    }
    if (!still_published) {
      verified_tokens_->erase(digest);
      identity.reset();
    }
  }
  if (!identity) {
    auto op = verify_bearer(ctx.snap, token);
    auto r = co_await std::move(op);
    if (!r) {
      refuse(r.error());
      co_return;
    }
    identity = std::move(*r);
    if (cached) verified_tokens_->insert(digest, identity, t);
  }
  if (from_cookie && !identity->session) {
    refuse(auth_error::typ_mismatch);
    co_return;
  }
  if (identity->session) {
    auto revoked_op = is_revoked(identity->session_id);
    auto revoked = co_await std::move(revoked_op);
    if (!revoked || *revoked) {
      refuse(revoked ? auth_error::session_revoked : revoked.error());
      co_return;
    }
  }
  ctx.out.organisation = identity->organisation;
  ctx.respond(200, "application/json", identity->rendered);
  auto& res = ctx.out.response;
  res.set("X-Auth-Subject", identity->subject);
  res.set("X-Auth-Org", identity->organisation);
  res.set("X-Auth-Tenant", identity->tenant);
  res.set("X-Auth-Email", identity->email);
  res.set("X-Auth-Name", identity->name);
  res.set("X-Auth-Scopes", identity->scopes);
}

boost::asio::awaitable<void> app::refresh_keys() {
  auto snap = snapshot();
  const server_config& cfg = *snap->config;
  // Discovery first (cached after the first success), so every organisation's key set is known
  // to the cache; then fetch whatever is due, never more than preload_concurrency at once.
  const auto orgs = cfg.organisations();
  auto found = std::make_shared<std::vector<std::string>>(orgs.size());
  std::function<boost::asio::awaitable<void>(std::size_t)> body = [this, snap,
                                                                   found](std::size_t i) {
    return [](app* self, std::shared_ptr<const app_snapshot> s,
              std::shared_ptr<std::vector<std::string>> out,
              std::size_t index) -> boost::asio::awaitable<void> {
      const organisation_config& org = s->config->organisations()[index];
      const auto t = self->now();
      {
        // A tenant whose discovery failed is tried again only after min_refresh_interval, so
        // one dead tenant cannot make us call its IdP every tick.
        std::lock_guard lock(self->discovery_mutex_);
        auto it = self->discovery_failed_at_.find(org.discovery_url);
        if (it != self->discovery_failed_at_.end() &&
            t < it->second +
                    std::chrono::duration_cast<seconds>(s->config->jwks.min_refresh_interval))
          co_return;
      }
      auto op = self->discovery_for(s, org.name);
      auto disc = co_await std::move(op);
      std::lock_guard lock(self->discovery_mutex_);
      if (disc) {
        (*out)[index] = disc.value()->jwks_uri;
        self->discovery_failed_at_.erase(org.discovery_url);
      } else {
        self->discovery_failed_at_.insert_or_assign(org.discovery_url, t);
      }
    }(this, snap, found, i);
  };
  auto discover = bounded_for_each(orgs.size(), cfg.jwks.preload_concurrency, std::move(body));
  co_await std::move(discover);
  std::vector<std::string> in_use;
  bool all_known = true;
  for (auto& uri : *found) {
    if (uri.empty())
      all_known = false;
    else
      in_use.push_back(std::move(uri));
  }
  jwks_->cache().add(in_use);
  if (all_known) {
    // Key sets of organisations removed by a reload.
    for (const auto& id : jwks_->cache().ids())
      if (std::find(in_use.begin(), in_use.end(), id) == in_use.end()) jwks_->cache().remove(id);
  }
  auto op = jwks_->refresh_due(cfg.jwks.preload_concurrency);
  co_await std::move(op);
  jwks_->cache().reclaim();
}

boost::asio::awaitable<void> run_key_refresher(app* application, housekeeping_control* control,
                                               std::chrono::milliseconds tick) {
  while (!control->stopped.load()) {
    try {
      auto op = application->refresh_keys();
      co_await std::move(op);
    } catch (const std::exception&) {
      // A failed pass is retried at the next tick; failures are counted by the key cache.
    }
    control->timer().expires_after(tick);
    auto wait = control->timer().async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    auto [ec] = co_await std::move(wait);
    if (ec || control->stopped.load()) co_return;
  }
}

boost::asio::awaitable<void> app::session(request_context& ctx) {
  const cookie_policy policy(ctx.snap->config->server.cookie_mode);
  const auto token = ctx.cookies.get(policy.name(kSessionCookie));
  if (!token) {
    ctx.fail(auth_error::credentials_missing, nullptr, {}, 401);
    co_return;
  }
  auto identity = session_identity(*ctx.snap, *token);
  if (!identity) {
    ctx.fail(identity.error(), nullptr, {}, 401);
    co_return;
  }
  const session_claims* claims = (*identity)->claims.get();
  if (claims->org != ctx.org->name) {
    ctx.fail(auth_error::organisation_mismatch, nullptr, {}, 401);
    co_return;
  }
  auto revoked_op = is_revoked(claims->sid);
  auto revoked = co_await std::move(revoked_op);
  if (!revoked) {
    ctx.fail(revoked.error());
    co_return;
  }
  if (*revoked) {
    ctx.fail(auth_error::session_revoked, nullptr, {}, 401);
    co_return;
  }
  json::object o;
  o["sub"] = claims->sub;
  o["org"] = claims->org;
  o["tid"] = claims->tid;
  o["oid"] = claims->oid;
  o["email"] = claims->email;
  o["name"] = claims->name;
  o["iss"] = claims->iss;
  o["iat"] = claims->iat.time_since_epoch().count();
  o["exp"] = claims->exp.time_since_epoch().count();
  ctx.respond(200, "application/json", json::serialize(o));
}

boost::asio::awaitable<void> app::logout(request_context& ctx) {
  const auto& cfg = *ctx.snap->config;
  const cookie_policy policy(cfg.server.cookie_mode);
  if (ctx.req.method() != http::verb::post) {
    ctx.respond(200, "text/html; charset=utf-8",
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Sign out</title></head><body><h1>Sign out?</h1>"
                "<form method=\"post\" action=\"/api/single-sign-on/logout\">"
                "<button type=\"submit\">Sign out</button></form></body></html>\n");
    // The confirmation page posts to ourselves; same-origin keeps the Origin header useful.
    ctx.out.response.set("Referrer-Policy", "same-origin");
    co_return;
  }
  // Same-origin only: Sec-Fetch-Site decides when present; else Origin, where "null" (sent
  // from no-referrer pages) is unknown rather than cross-site.
  const auto site = header(ctx.req, "Sec-Fetch-Site");
  const auto origin = header(ctx.req, http::field::origin);
  bool allowed = true;
  if (!site.empty()) {
    allowed = site == "same-origin" || site == "none";
  } else if (!origin.empty() && origin != "null") {
    const std::string own = ctx.where.scheme + "://" + ctx.where.host;
    allowed = origin_of(std::string(origin) + "/") == origin_of(own + "/") ||
              origin == ctx.org->redirect_origin;
  }
  if (!allowed) {
    ctx.fail(auth_error::cross_site_request);
    co_return;
  }
  std::string logout_hint;
  if (const auto token = ctx.cookies.get(policy.name(kSessionCookie))) {
    auto claims = ctx.snap->secrets.sessions->verify(*token, now());
    if (claims && claims->org == ctx.org->name) logout_hint = claims->login_hint;
    if (claims && deps_.revocations && deps_.blocking) {
      auto store = deps_.revocations;
      const std::string sid = claims->sid;
      const auto exp = claims->exp + std::chrono::duration_cast<seconds>(cfg.session.clock_skew);
      auto op = run_blocking(*deps_.blocking, [store, sid, exp] {
        try {
          return store->revoke(sid, exp);
        } catch (const std::exception&) {
          return result<void>(auth_error::internal_error);
        }
      });
      auto revoked = co_await std::move(op);
      if (!revoked) {
        ctx.fail(revoked.error());
        co_return;
      }
    }
  }
  std::string location = "/";
  auto disc_op = discovery_for(ctx.snap, ctx.org->name);
  auto disc = co_await std::move(disc_op);
  if (disc && !disc.value()->end_session_endpoint.empty()) {
    location = disc.value()->end_session_endpoint;
    location += location.find('?') == std::string::npos ? '?' : '&';
    location += "post_logout_redirect_uri=" + url_encode(ctx.org->redirect_uri);
    // Names the account to sign out, so Entra skips its account picker.
    if (!logout_hint.empty()) location += "&logout_hint=" + url_encode(logout_hint);
  }
  ctx.redirect(location);
  ctx.out.response.insert(http::field::set_cookie, policy.clear_cookie(kSessionCookie));
}

boost::asio::awaitable<void> app::demo(request_context& ctx) {
  const cookie_policy policy(ctx.snap->config->server.cookie_mode);
  std::string h =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>oidc-callback-server demo</title><style>body{font-family:system-ui,sans-serif;"
      "max-width:40rem;margin:3rem auto;padding:0 1rem}td{padding:.2rem .6rem}"
      "</style></head><body>\n<h1>";
  h += html_escape(ctx.org->display_name.empty() ? ctx.org->name : ctx.org->display_name);
  h += "</h1>\n";
  std::shared_ptr<const session_claims> claims;
  if (const auto token = ctx.cookies.get(policy.name(kSessionCookie))) {
    if (auto identity = session_identity(*ctx.snap, *token)) {
      auto revoked_op = is_revoked((*identity)->session_id);
      auto revoked = co_await std::move(revoked_op);
      if (revoked && !*revoked) claims = (*identity)->claims;
    }
  }
  if (claims) {
    h += "<p>Signed in. Verified session claims:</p><table>\n";
    const std::pair<std::string_view, std::string> rows[] = {
        {"sub", claims->sub},
        {"org", claims->org},
        {"tid", claims->tid},
        {"oid", claims->oid},
        {"email", claims->email},
        {"name", claims->name},
        {"iss", claims->iss},
        {"iat", std::to_string(claims->iat.time_since_epoch().count())},
        {"exp", std::to_string(claims->exp.time_since_epoch().count())},
    };
    for (const auto& [k, v] : rows) {
      h += "<tr><td>";
      h += k;
      h += "</td><td><code>";
      h += html_escape(v);
      h += "</code></td></tr>\n";
    }
    h += "</table>\n<form method=\"post\" action=\"/api/single-sign-on/logout\">"
         "<button type=\"submit\">Sign out</button></form>\n";
  } else {
    h += "<p>You are not signed in.</p>\n<p><a href=\"/api/single-sign-on/login?return_to=/\">"
         "<button type=\"button\">Sign in</button></a></p>\n";
  }
  h += "</body></html>\n";
  ctx.respond(200, "text/html; charset=utf-8", std::move(h));
}

}  // namespace oidc::server
