// SPDX-License-Identifier: Apache-2.0
// Tests for the configuration parser/validator: every field read, defaults, one test per kind of
// mistake asserting its path and problem, all errors reported at once, secrets never echoed.
#include "oidc/config.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "support/testdata.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

const std::filesystem::path kSourceDir = OIDC_SOURCE_DIR;
const std::filesystem::path kTestdata = kSourceDir / "tests/core/testdata/config";

// A valid 32-byte key in each accepted encoding.
constexpr std::string_view kHexKey =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kB64Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

config_environment env_with(std::map<std::string, std::string, std::less<>> vars,
                            std::filesystem::path dir = "/etc/oidc") {
  config_environment env;
  env.config_dir = std::move(dir);
  env.getenv = [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return env;
}

config_environment full_env() {
  return env_with({{"OIDC_COOKIE_KEY_C2", std::string(kB64Key)},
                   {"OIDC_POSTGRES_DSN", "postgresql://oidc@db/oidc"},
                   {"GLOBEX_CLIENT_SECRET", "globex-secret"}});
}

json::value load_json(const std::filesystem::path& p) {
  return json::parse(test::read_file(p));
}

json::value minimal() {
  return load_json(kTestdata / "minimal.json");
}

// Walks a '/'-separated path of member names and array indices, creating objects as needed.
json::value& walk(json::value& root, std::string_view pointer) {
  json::value* v = &root;
  while (!pointer.empty()) {
    const auto slash = pointer.find('/');
    const std::string part(pointer.substr(0, slash));
    pointer = slash == std::string_view::npos ? std::string_view{} : pointer.substr(slash + 1);
    if (v->is_array()) {
      v = &v->as_array().at(std::stoul(part));
    } else {
      if (!v->is_object()) *v = json::object();
      v = &v->as_object()[part];
    }
  }
  return *v;
}

void set(json::value& root, std::string_view pointer, json::value value) {
  walk(root, pointer) = std::move(value);
}

void erase(json::value& root, std::string_view pointer) {
  const auto slash = pointer.rfind('/');
  json::value& parent =
      slash == std::string_view::npos ? root : walk(root, pointer.substr(0, slash));
  parent.as_object().erase(
      std::string(slash == std::string_view::npos ? pointer : pointer.substr(slash + 1)));
}

config_result parse(const json::value& doc, const config_environment& env = env_with({})) {
  return parse_config(json::serialize(doc), env);
}

std::string all_text(const std::vector<config_error>& errors) {
  return format_errors(errors);
}

// Expects exactly one error, at `path`, whose problem contains `problem`.
void expect_single_error(const config_result& r, std::string_view path, std::string_view problem) {
  ASSERT_FALSE(r.has_value()) << "config unexpectedly valid";
  const auto& errors = r.error();
  ASSERT_EQ(errors.size(), 1u) << all_text(errors);
  EXPECT_EQ(errors[0].path, path) << all_text(errors);
  EXPECT_NE(errors[0].problem.find(problem), std::string::npos)
      << "problem was: " << errors[0].problem;
}

const server_config& ok(const config_result& r) {
  if (!r.has_value()) {
    ADD_FAILURE() << all_text(r.error());
    static const auto empty = std::make_shared<const server_config>();
    return *empty;
  }
  return **r;
}

TEST(ConfigParsing, FullConfigReadsEveryFieldAsWritten) {
  const auto r = parse_config(test::read_file(kTestdata / "full.json"), full_env());
  const server_config& c = ok(r);
  ASSERT_TRUE(r.has_value());

  ASSERT_EQ(c.server.listen.size(), 2u);
  EXPECT_EQ(c.server.listen[0].address, "0.0.0.0");
  EXPECT_EQ(c.server.listen[0].port, 8080);
  EXPECT_FALSE(c.server.listen[0].tls);
  EXPECT_FALSE(c.server.listen[0].loopback);
  EXPECT_EQ(c.server.listen[1].address, "::");
  EXPECT_EQ(c.server.listen[1].port, 8443);
  ASSERT_TRUE(c.server.listen[1].tls);
  EXPECT_EQ(c.server.listen[1].tls->cert_file, "/etc/oidc/tls/chain.pem");
  EXPECT_EQ(c.server.listen[1].tls->key_file, "/etc/oidc/tls/key.pem");
  EXPECT_EQ(c.server.base_domain, "example.com");
  EXPECT_EQ(c.server.default_organisation, "acme");
  ASSERT_EQ(c.server.trusted_proxies.size(), 3u);
  EXPECT_EQ(c.server.trusted_proxies[0], *parse_ip_network("10.0.0.0/8"));
  EXPECT_EQ(c.server.trusted_proxies[1].prefix_length, 32u);
  EXPECT_EQ(c.server.trusted_proxies[2].prefix_length, 32u);
  EXPECT_EQ(c.server.trusted_proxies[2].base.family, ip_address::family_t::v6);
  EXPECT_EQ(c.server.io_threads, 4u);
  EXPECT_EQ(c.server.public_origin, "https://app.example.com");
  EXPECT_EQ(c.server.cookie_mode, cookie_mode_t::secure);
  EXPECT_EQ(c.server.allowed_return_origins,
            (std::vector<std::string>{"https://app.example.com", "https://docs.example.com:8443"}));

  EXPECT_EQ(c.timeouts.header_read, 5s);
  EXPECT_EQ(c.timeouts.body_read, 7s);
  EXPECT_EQ(c.timeouts.idle_keep_alive, 90s);
  EXPECT_EQ(c.timeouts.upstream_connect, 2s);
  EXPECT_EQ(c.timeouts.upstream_read, 8s);
  EXPECT_EQ(c.timeouts.upstream_total, 12s);
  EXPECT_EQ(c.timeouts.upstream_pool_idle, 25s);
  EXPECT_EQ(c.timeouts.shutdown_drain, 15s);
  EXPECT_EQ(c.timeouts.login_state_ttl, 15min);
  EXPECT_EQ(c.timeouts.session_lifetime, 12h);
  EXPECT_EQ(c.timeouts.revocation_cache_ttl, 500ms);
  EXPECT_EQ(c.timeouts.revocation_purge_interval, 90s);

  EXPECT_EQ(c.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.max_body_bytes, 32768u);
  EXPECT_EQ(c.limits.max_connections, 20000u);
  EXPECT_EQ(c.limits.max_token_bytes, 12000u);
  EXPECT_EQ(c.limits.max_upstream_response_bytes, 524288u);
  EXPECT_EQ(c.limits.max_upstream_connections_per_host, 16u);
  EXPECT_EQ(c.limits.max_pending_logins, 4u);

  EXPECT_EQ(c.session.issuer, "https://sso.example.com");
  EXPECT_EQ(c.session.clock_skew, 45s);
  ASSERT_EQ(c.session.signing_keys.size(), 2u);
  EXPECT_EQ(c.session.signing_keys[0].kid, "2025-01");
  EXPECT_EQ(c.session.signing_keys[0].private_key_file, "/etc/oidc/keys/session-2025-01.pem");
  EXPECT_EQ(c.session.signing_keys[1].kid, "2025-06");
  EXPECT_EQ(c.session.signing_keys[1].private_key_file, "/etc/oidc/keys/session-2025-06.pem");

  ASSERT_EQ(c.cookies.keys.size(), 2u);
  EXPECT_EQ(c.cookies.keys[0].id, 1);
  EXPECT_EQ(c.cookies.keys[0].secret,
            (secret_ref{secret_ref::source::file, "/etc/oidc/keys/cookie-c1.key"}));
  EXPECT_EQ(c.cookies.keys[1].id, 2);
  EXPECT_EQ(c.cookies.keys[1].secret, (secret_ref{secret_ref::source::env, "OIDC_COOKIE_KEY_C2"}));

  EXPECT_EQ(c.accounts.mode, account_mode_t::tenant);
  EXPECT_EQ(c.accounts.database, account_database_t::postgres);
  EXPECT_EQ(c.accounts.postgres_dsn_env, "OIDC_POSTGRES_DSN");
  EXPECT_TRUE(c.accounts.sqlite_path.empty());

  EXPECT_EQ(c.upstream.ca_file, std::filesystem::path("/etc/oidc/ca/test-ca.pem"));
  EXPECT_TRUE(c.upstream.allow_plain_http_loopback);

  EXPECT_EQ(c.jwks.min_refresh_interval, 1min);
  EXPECT_EQ(c.jwks.max_age_min, 2min);
  EXPECT_EQ(c.jwks.max_age_max, 12h);
  EXPECT_EQ(c.jwks.default_max_age, 30min);
  EXPECT_EQ(c.jwks.stale_if_error, 6h);
  EXPECT_EQ(c.jwks.preload_concurrency, 4u);

  ASSERT_TRUE(c.metrics.admin_listen);
  EXPECT_EQ(c.metrics.admin_listen->address, "127.0.0.1");
  EXPECT_EQ(c.metrics.admin_listen->port, 9464);
  EXPECT_TRUE(c.metrics.admin_listen->loopback);

  ASSERT_EQ(c.organisations().size(), 3u);
  const organisation_config& acme = c.organisations()[0];
  EXPECT_EQ(acme.name, "acme");
  EXPECT_EQ(acme.display_name, "ACME Corporation");
  EXPECT_EQ(acme.provider, provider_t::entra);
  EXPECT_EQ(acme.tenant_id, "0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f");  // lowercased
  EXPECT_EQ(acme.client_id, "6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f");
  EXPECT_EQ(acme.authority, "https://login.microsoftonline.com");  // trailing slash removed
  EXPECT_EQ(acme.redirect_uri, "https://login.acme.com:8443/api/single-sign-on");
  EXPECT_EQ(acme.hosts, std::vector<std::string>{"login.acme.com"});
  EXPECT_EQ(acme.scopes,
            (std::vector<std::string>{"openid", "profile", "email", "offline_access"}));
  EXPECT_EQ(acme.scope, "openid profile email offline_access");
  EXPECT_EQ(acme.allowed_algs, (alg_set{jws_alg::RS256, jws_alg::PS256}));
  EXPECT_EQ(acme.clock_skew, 30s);
  EXPECT_EQ(acme.max_token_age, 5min);
  EXPECT_EQ(acme.client_auth.method, client_auth_method::private_key_jwt);
  EXPECT_EQ(acme.client_auth.key_file, "/etc/oidc/keys/acme-client.key");
  EXPECT_EQ(acme.client_auth.certificate_file, "/etc/oidc/keys/acme-client.crt");
  EXPECT_FALSE(acme.client_auth.secret);
  EXPECT_FALSE(acme.sends_origin());
  EXPECT_TRUE(acme.checks_tenant());
  EXPECT_EQ(acme.account_mode, account_mode_t::directory);  // overrides accounts.mode
  EXPECT_EQ(acme.domains, (std::vector<std::string>{"acme.com", "acme.co.uk"}));
  EXPECT_EQ(acme.access_tokens.audiences,
            std::vector<std::string>{"api://6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f"});
  EXPECT_TRUE(acme.access_tokens.accept_v1_issuer);
  // Access tokens of acme are found by both of its issuers.
  const auto by_v2 = c.access_token_organisations(acme.expected_issuer);
  ASSERT_EQ(by_v2.size(), 1u);
  EXPECT_EQ(&c.organisations()[by_v2[0]], &acme);
  const auto by_v1 =
      c.access_token_organisations("https://sts.windows.net/0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f/");
  ASSERT_EQ(by_v1.size(), 1u);
  EXPECT_EQ(by_v1[0], by_v2[0]);
  EXPECT_TRUE(c.access_token_organisations("https://evil.example/v2.0").empty());
  EXPECT_FALSE(c.verify.cache);
  EXPECT_EQ(c.verify.cache_max_entries, 5000u);
  EXPECT_EQ(c.verify.cache_max_bytes, 1048576u);
  EXPECT_EQ(c.verify.cache_max_ttl, 90s);
  EXPECT_EQ(acme.authorize_passthrough, std::vector<std::string>{"login_hint"});
  EXPECT_TRUE(acme.passes_through("login_hint"));
  EXPECT_FALSE(acme.passes_through("prompt"));
  EXPECT_EQ(acme.discovery_url,
            "https://login.microsoftonline.com/0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f/v2.0/"
            ".well-known/openid-configuration");
  EXPECT_EQ(acme.expected_issuer,
            "https://login.microsoftonline.com/0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f/v2.0");
  EXPECT_EQ(acme.expected_v1_issuer,
            "https://sts.windows.net/0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f/");
  EXPECT_EQ(acme.redirect_origin, "https://login.acme.com:8443");
  EXPECT_EQ(acme.redirect_host, "login.acme.com");

  const organisation_config& globex = c.organisations()[1];
  EXPECT_EQ(globex.authority, "http://127.0.0.1:9443/mock");
  EXPECT_EQ(globex.expected_issuer,
            "http://127.0.0.1:9443/mock/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/v2.0");
  EXPECT_EQ(globex.discovery_url,
            "http://127.0.0.1:9443/mock/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/v2.0/"
            ".well-known/openid-configuration");
  EXPECT_EQ(globex.client_auth.method, client_auth_method::client_secret_post);
  EXPECT_EQ(globex.client_auth.secret,
            (secret_ref{secret_ref::source::env, "GLOBEX_CLIENT_SECRET"}));
  EXPECT_EQ(globex.account_mode, account_mode_t::tenant);  // inherits accounts.mode
  EXPECT_EQ(globex.redirect_uri, "https://globex.example.com/api/single-sign-on");

  const organisation_config& initech = c.organisations()[2];
  EXPECT_EQ(initech.provider, provider_t::oidc);
  EXPECT_FALSE(initech.checks_tenant());
  EXPECT_TRUE(initech.tenant_id.empty());
  EXPECT_TRUE(initech.authority.empty());
  EXPECT_EQ(initech.client_id, "0oa1b2c3d4E5F6g7H8i9");
  // OIDC Discovery §4: the trailing slash goes before .well-known; the issuer stays verbatim.
  EXPECT_EQ(initech.expected_issuer, "https://initech.okta.com/oauth2/default/");
  EXPECT_EQ(initech.discovery_url,
            "https://initech.okta.com/oauth2/default/.well-known/openid-configuration");
  EXPECT_EQ(initech.allowed_algs, (alg_set{jws_alg::RS256, jws_alg::ES256, jws_alg::EdDSA}));
  EXPECT_EQ(initech.client_auth.secret,
            (secret_ref{secret_ref::source::file, "/run/secrets/initech"}));
  EXPECT_TRUE(initech.authorize_passthrough.empty());
}

TEST(ConfigParsing, MinimalConfigGetsTheDocumentedDefaults) {
  const auto r = parse(minimal());
  const server_config& c = ok(r);
  ASSERT_TRUE(r.has_value());

  EXPECT_EQ(c.server.cookie_mode, cookie_mode_t::secure);
  EXPECT_EQ(c.server.io_threads, 0u);
  EXPECT_TRUE(c.server.default_organisation.empty());
  EXPECT_TRUE(c.server.trusted_proxies.empty());
  EXPECT_TRUE(c.server.public_origin.empty());
  EXPECT_TRUE(c.server.allowed_return_origins.empty());
  EXPECT_EQ(c.timeouts, timeouts_config{});
  EXPECT_EQ(c.verify, verify_config{});
  EXPECT_TRUE(c.verify.cache);
  EXPECT_EQ(c.timeouts.header_read, 10s);
  EXPECT_EQ(c.timeouts.login_state_ttl, 10min);
  EXPECT_EQ(c.timeouts.session_lifetime, 8h);
  EXPECT_EQ(c.limits, limits_config{});
  EXPECT_EQ(c.limits.max_header_bytes, 16384u);
  EXPECT_EQ(c.limits.max_body_bytes, 65536u);
  EXPECT_EQ(c.limits.max_pending_logins, 3u);
  EXPECT_EQ(c.jwks, jwks_config{});
  EXPECT_EQ(c.jwks.min_refresh_interval, 5min);
  EXPECT_EQ(c.accounts.mode, account_mode_t::directory);
  EXPECT_EQ(c.accounts.database, account_database_t::sqlite);
  EXPECT_EQ(c.accounts.sqlite_path, "/etc/oidc/accounts.db");
  EXPECT_FALSE(c.upstream.ca_file);
  EXPECT_FALSE(c.upstream.allow_plain_http_loopback);
  EXPECT_FALSE(c.metrics.admin_listen);
  EXPECT_TRUE(c.session.signing_keys[0].kid.empty());
  EXPECT_EQ(c.session.clock_skew, 30s);
  EXPECT_EQ(c.logging, logging_config{});
  EXPECT_TRUE(c.logging.access_log);
  EXPECT_EQ(c.logging.access_log_flush_interval, 1s);
  EXPECT_EQ(c.logging.access_log_buffer_bytes, 65536u);

  ASSERT_EQ(c.organisations().size(), 1u);
  const auto& o = c.organisations()[0];
  EXPECT_EQ(o.display_name, "acme");
  EXPECT_EQ(o.provider, provider_t::entra);
  EXPECT_EQ(o.authority, "https://login.microsoftonline.com");
  EXPECT_EQ(o.redirect_uri, "https://acme.example.com/api/single-sign-on");
  EXPECT_EQ(o.redirect_origin, "https://acme.example.com");
  EXPECT_EQ(o.scopes, (std::vector<std::string>{"openid", "profile", "email"}));
  EXPECT_EQ(o.scope, "openid profile email");
  EXPECT_EQ(o.allowed_algs, alg_set{jws_alg::RS256});
  EXPECT_EQ(o.clock_skew, 60s);
  EXPECT_EQ(o.max_token_age, 10min);
  EXPECT_EQ(o.client_auth.method, client_auth_method::none);
  EXPECT_TRUE(o.sends_origin());
  EXPECT_EQ(o.account_mode, account_mode_t::directory);
  EXPECT_TRUE(o.domains.empty());
  EXPECT_TRUE(o.access_tokens.audiences.empty());
  EXPECT_FALSE(o.access_tokens.accept_v1_issuer);
  EXPECT_TRUE(o.expected_v1_issuer.empty());
  EXPECT_EQ(o.authorize_passthrough,
            (std::vector<std::string>{"prompt", "login_hint", "domain_hint"}));
}

TEST(ConfigParsing, RelativePathsResolveAgainstTheConfigFileDirectory) {
  auto doc = minimal();
  set(doc, "upstream/ca_file", "../certs/./ca.pem");
  set(doc, "session/signing_keys/0/private_key_file", "/abs/key.pem");
  const auto r = parse(doc, env_with({}, "/srv/app/config"));
  const server_config& c = ok(r);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(c.upstream.ca_file, std::filesystem::path("/srv/app/certs/ca.pem"));
  EXPECT_EQ(c.session.signing_keys[0].private_key_file, "/abs/key.pem");
  EXPECT_EQ(c.cookies.keys[0].secret.name, "/srv/app/config/keys/cookie.key");
  EXPECT_EQ(c.accounts.sqlite_path, "/srv/app/config/accounts.db");
}

TEST(ConfigParsing, OriginOfRedirectUriOmitsTheDefaultPort) {
  auto doc = minimal();
  set(doc, "organisations/0/redirect_uri", "https://ACME.example.com:443/api/single-sign-on");
  const auto r = parse(doc);
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  EXPECT_EQ((*r)->organisations()[0].redirect_origin, "https://acme.example.com");
  EXPECT_EQ((*r)->organisations()[0].redirect_host, "acme.example.com");
}

struct mistake {
  const char* name;
  const char* pointer;  // where to write `value` in minimal.json
  const char* value;    // JSON text; "<erase>" removes the member
  const char* path;     // expected error path
  const char* problem;  // expected substring of the problem
};

void PrintTo(const mistake& m, std::ostream* os) {
  *os << m.name;
}

class ConfigMistake : public ::testing::TestWithParam<mistake> {};

TEST_P(ConfigMistake, IsReportedWithItsPathAndProblem) {
  const mistake& m = GetParam();
  auto doc = minimal();
  if (std::string_view(m.value) == "<erase>")
    erase(doc, m.pointer);
  else
    set(doc, m.pointer, json::parse(m.value));
  expect_single_error(parse(doc), m.path, m.problem);
}

const mistake kMistakes[] = {
    {"BadGuid", "organisations/0/tenant_id", R"("abc")", "organisations[0].tenant_id",
     "must be a GUID"},
    {"MultiTenantAlias", "organisations/0/tenant_id", R"("common")", "organisations[0].tenant_id",
     "not the multi-tenant alias"},
    {"TenantDomainName", "organisations/0/tenant_id", R"("contoso.onmicrosoft.com")",
     "organisations[0].tenant_id", "not a domain name"},
    {"ClientIdNotGuid", "organisations/0/client_id", R"("my-app")", "organisations[0].client_id",
     "must be a GUID"},
    {"MissingClientId", "organisations/0/client_id", "<erase>", "organisations[0].client_id",
     "is required"},
    {"MissingTenantId", "organisations/0/tenant_id", "<erase>", "organisations[0].tenant_id",
     "is required"},
    {"HttpAuthority", "organisations/0/authority", R"("http://login.microsoftonline.com")",
     "organisations[0].authority", "must use https"},
    {"HttpLoopbackAuthorityWithoutDevFlag", "organisations/0/authority",
     R"("http://localhost:9443")", "organisations[0].authority",
     "upstream.allow_plain_http_loopback"},
    {"AuthorityWithQuery", "organisations/0/authority",
     R"("https://login.microsoftonline.com/?x=1")", "organisations[0].authority",
     "must not contain user information, a query or a fragment"},
    {"AuthorityNotUrl", "organisations/0/authority", R"("login.microsoftonline.com")",
     "organisations[0].authority", "must be an absolute https URL"},
    {"UnknownOrganisationField", "organisations/0/tenant", R"("x")", "organisations[0].tenant",
     "unknown field (did you mean \"tenant_id\"?)"},
    {"UnknownTopLevelField", "organisation", "[]", "organisation",
     "unknown field (did you mean \"organisations\"?)"},
    {"UnknownNestedField", "server/listen/0/tls", R"({"cert_file":"a","key_file":"b","ca":"c"})",
     "server.listen[0].tls.ca", "unknown field"},
    {"AlgNone", "organisations/0/allowed_algs", R"(["RS256","none"])",
     "organisations[0].allowed_algs[1]", "unsigned tokens are never accepted"},
    {"AlgHs256", "organisations/0/allowed_algs", R"(["HS256"])", "organisations[0].allowed_algs[0]",
     "HMAC algorithms are never accepted"},
    {"AlgUnknown", "organisations/0/allowed_algs", R"(["RS257"])",
     "organisations[0].allowed_algs[0]", "must be one of RS256"},
    {"AlgsEmpty", "organisations/0/allowed_algs", "[]", "organisations[0].allowed_algs",
     "at least one"},
    {"NegativeDuration", "organisations/0/clock_skew", R"("-5s")", "organisations[0].clock_skew",
     "must not be negative"},
    {"GarbageDuration", "timeouts/header_read", R"("ten seconds")", "timeouts.header_read",
     "must be a duration string"},
    {"DurationWithoutUnit", "timeouts/header_read", R"("10")", "timeouts.header_read",
     "must be a duration string"},
    {"DurationAsInteger", "timeouts/header_read", "10", "timeouts.header_read",
     "must be a duration string"},
    {"DurationFraction", "timeouts/header_read", R"("1.5s")", "timeouts.header_read",
     "must be a duration string"},
    {"DurationOverflow", "timeouts/header_read", R"("999999999999999d")", "timeouts.header_read",
     "must be at most 5m"},
    {"ZeroHeaderTimeout", "timeouts/header_read", R"("0s")", "timeouts.header_read",
     "must be between 1ms and 5m"},
    {"LogFlushIntervalTooLong", "logging", R"({"access_log_flush_interval": "2m"})",
     "logging.access_log_flush_interval", "must be between 0s and 1m"},
    {"LogBufferTooLarge", "logging", R"({"access_log_buffer_bytes": 99999999})",
     "logging.access_log_buffer_bytes", "must be an integer from 0 to 16777216"},
    {"AccessLogNotBoolean", "logging", R"({"access_log": "off"})", "logging.access_log",
     "must be true or false"},
    {"UnknownLoggingField", "logging", R"({"access_logs": false})", "logging.access_logs",
     "unknown field"},
    {"SkewTooLarge", "organisations/0/clock_skew", R"("10m")", "organisations[0].clock_skew",
     "must be between 0s and 5m"},
    {"UpstreamTotalShorterThanConnect", "timeouts/upstream_total", R"("1s")",
     "timeouts.upstream_total", "must not be shorter than timeouts.upstream_connect"},
    {"JwksBoundsInverted", "jwks/min_refresh_interval", R"("10m")", "jwks.max_age_min",
     "must not be shorter than jwks.min_refresh_interval (10m)"},
    {"JwksDefaultAboveMax", "jwks/default_max_age", R"("2d")", "jwks.default_max_age",
     "must not be longer than jwks.max_age_max (1d)"},
    {"PortOutOfRange", "server/listen/0/port", "70000", "server.listen[0].port",
     "must be an integer from 0 to 65535"},
    {"PortAsString", "server/listen/0/port", R"("8080")", "server.listen[0].port",
     "must be an integer"},
    {"ListenerHostName", "server/listen/0/address", R"("example.com")", "server.listen[0].address",
     "must be an IP address or \"localhost\""},
    {"NoListener", "server/listen", "[]", "server.listen", "at least one listener"},
    {"TlsWithoutKey", "server/listen/0/tls", R"({"cert_file":"c.pem"})",
     "server.listen[0].tls.key_file", "is required"},
    {"BaseDomainWithScheme", "server/base_domain", R"("https://example.com")", "server.base_domain",
     "lowercase DNS name"},
    {"DefaultOrganisationUnknown", "server/default_organisation", R"("globex")",
     "server.default_organisation", "names no configured organisation"},
    {"TrustedProxyHostBits", "server/trusted_proxies", R"(["10.0.0.1/8"])",
     "server.trusted_proxies[0]", "no host bits set"},
    {"ReturnOriginWithPath", "server/allowed_return_origins", R"(["https://app.example.com/x"])",
     "server.allowed_return_origins[0]", "must be an origin"},
    {"ReturnOriginPlainHttp", "server/allowed_return_origins", R"(["http://app.example.com"])",
     "server.allowed_return_origins[0]", "must use https"},
    {"BadCookieMode", "server/cookie_mode", R"("insecure")", "server.cookie_mode",
     "must be \"secure\" or \"development\""},
    {"RedirectWrongPath", "organisations/0/redirect_uri", R"("https://acme.example.com/callback")",
     "organisations[0].redirect_uri", "must have the path /api/single-sign-on"},
    {"RedirectPlainHttp", "organisations/0/redirect_uri",
     R"("http://acme.example.com/api/single-sign-on")", "organisations[0].redirect_uri",
     "must use https"},
    {"RedirectFragment", "organisations/0/redirect_uri",
     R"("https://acme.example.com/api/single-sign-on#x")", "organisations[0].redirect_uri",
     "a query or a fragment"},
    {"RedirectForeignHost", "organisations/0/redirect_uri",
     R"("https://evil.example.net/api/single-sign-on")", "organisations[0].redirect_uri",
     "must have the host acme.example.com"},
    {"ScopesWithoutOpenid", "organisations/0/scopes", R"(["profile"])", "organisations[0].scopes",
     "must include \"openid\""},
    {"ScopeWithSpace", "organisations/0/scopes", R"(["openid","a b"])",
     "organisations[0].scopes[1]", "scope token"},
    {"OrganisationNameNotLabel", "organisations/0/name", R"("Acme Corp")", "organisations[0].name",
     "must be a DNS label"},
    {"BadProvider", "organisations/0/provider", R"("okta")", "organisations[0].provider",
     "must be \"entra\" or \"oidc\""},
    {"IssuerOnEntra", "organisations/0/issuer", R"("https://idp.example.com")",
     "organisations[0].issuer", "only for provider \"oidc\""},
    {"ClientSecretPostWithoutSecret", "organisations/0/client_auth",
     R"({"method":"client_secret_post"})", "organisations[0].client_auth",
     "needs secret_file or secret_env"},
    {"SecretForPublicClient", "organisations/0/client_auth", R"({"secret_file":"s"})",
     "organisations[0].client_auth.secret_file", "only for method \"client_secret_post\""},
    {"PrivateKeyJwtWithoutCertificate", "organisations/0/client_auth",
     R"({"method":"private_key_jwt","key_file":"k.pem"})",
     "organisations[0].client_auth.certificate_file", "is required"},
    {"BadClientAuthMethod", "organisations/0/client_auth", R"({"method":"client_secret_basic"})",
     "organisations[0].client_auth.method", "must be \"none\""},
    {"V1IssuerOnOtherAuthority", "organisations/0",
     R"({"name":"acme","tenant_id":"0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f",
        "client_id":"6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
        "authority":"https://login.microsoftonline.us","access_tokens":{"accept_v1_issuer":true}})",
     "organisations[0].access_tokens.accept_v1_issuer", "only for provider \"entra\""},
    {"PassthroughUnknown", "organisations/0/authorize_passthrough", R"(["redirect_uri"])",
     "organisations[0].authorize_passthrough[0]", "must be \"prompt\""},
    {"EmailDomainUppercase", "organisations/0/domains", R"(["ACME.com"])",
     "organisations[0].domains[0]", "lowercase email domain"},
    {"NoSessionKey", "session/signing_keys", "[]", "session.signing_keys", "at least one key"},
    {"NoCookieKey", "cookies/keys", "[]", "cookies.keys", "at least one key"},
    {"CookieKeyBothSources", "cookies/keys/0/secret_env", R"("K")", "cookies.keys[0].secret_env",
     "set only one of secret_file and secret_env"},
    {"CookieKeyIdOutOfRange", "cookies/keys/0/id", "256", "cookies.keys[0].id",
     "must be an integer from 0 to 255"},
    {"CookieKeyIdAsString", "cookies/keys/0/id", R"("k1")", "cookies.keys[0].id",
     "must be an integer from 0 to 255"},
    {"CookieKeyIdMissing", "cookies/keys/0/id", "<erase>", "cookies.keys[0].id", "is required"},
    {"SessionIssuerPlainHttp", "session/issuer", R"("http://sso.example.com")", "session.issuer",
     "must use https"},
    {"MissingSessionSection", "session", "<erase>", "session", "is required"},
    {"MissingOrganisations", "organisations", "<erase>", "organisations", "is required"},
    {"OrganisationsNotArray", "organisations", "{}", "organisations", "must be an array"},
    {"SectionNotObject", "limits", "[]", "limits", "must be an object"},
    {"LimitTooSmall", "limits/max_header_bytes", "100", "limits.max_header_bytes",
     "must be an integer from 1024 to 262144"},
    {"PendingLoginsZero", "limits/max_pending_logins", "0", "limits.max_pending_logins",
     "from 1 to 10"},
    {"PostgresWithoutDsn", "accounts", R"({"database":"postgres"})", "accounts.postgres_dsn_env",
     "is required for database \"postgres\""},
    {"SqliteWithoutPath", "accounts", "{}", "accounts.sqlite_path", "is required"},
    {"BadAccountMode", "accounts/mode", R"("everyone")", "accounts.mode",
     "must be \"directory\" or \"tenant\""},
    {"BoolAsString", "upstream/allow_plain_http_loopback", R"("yes")",
     "upstream.allow_plain_http_loopback", "must be true or false"},
    {"ControlCharacterInString", "organisations/0/display_name", R"("ACME\nInjected")",
     "organisations[0].display_name", "control characters"},
    {"AdminListenerCollides", "metrics/admin_listen", R"({"address":"0.0.0.0","port":8080})",
     "metrics.admin_listen", "same address and port as server.listen[0]"},
    {"AdminListenerNoTls", "metrics/admin_listen",
     R"({"address":"127.0.0.1","port":9464,"tls":{}})", "metrics.admin_listen.tls",
     "unknown field"},
};

INSTANTIATE_TEST_SUITE_P(EachKind, ConfigMistake, ::testing::ValuesIn(kMistakes),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(ConfigParsing, ErrorMessageNamesPathProblemAndValue) {
  auto doc = minimal();
  set(doc, "organisations/0/tenant_id", "abc");
  const auto r = parse(doc);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].got, "\"abc\"");
  EXPECT_EQ(to_string(r.error()[0]), R"(organisations[0].tenant_id: must be a GUID (got "abc"))");
}

TEST(ConfigParsing, DuplicateOrganisationNamesAreRefused) {
  auto doc = minimal();
  auto second = doc.at("organisations").at(0);
  second.as_object()["tenant_id"] = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
  doc.at("organisations").as_array().push_back(second);
  const auto r = parse(doc);
  expect_single_error(r, "organisations[1].name", "duplicates organisations[0].name");
  EXPECT_EQ(r.error()[0].got, "\"acme\"");
}

TEST(ConfigParsing, SameTenantAndClientInTwoOrganisationsIsAllowed) {
  auto doc = minimal();
  auto second = doc.at("organisations").at(0);
  second.as_object()["name"] = "acme-eu";
  doc.at("organisations").as_array().push_back(second);
  EXPECT_TRUE(parse(doc).has_value());
}

TEST(ConfigParsing, HostListedByTwoOrganisationsIsRefused) {
  auto doc = minimal();
  auto second = doc.at("organisations").at(0);
  second.as_object()["name"] = "globex";
  second.as_object()["hosts"] = json::array{"acme.example.com"};
  doc.at("organisations").as_array().push_back(second);
  expect_single_error(parse(doc), "organisations[1].hosts[0]",
                      "is already the host of organisations[0].name");
}

TEST(ConfigParsing, HostErrorNamesTheHostsOwnIndex) {
  auto doc = minimal();
  auto second = doc.at("organisations").at(0);
  second.as_object()["name"] = "globex";
  second.as_object()["hosts"] = json::array{"Not A Host", "sso.globex.com", "acme.example.com"};
  doc.at("organisations").as_array().push_back(second);
  const auto r = parse(doc);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 2u) << all_text(r.error());
  EXPECT_EQ(r.error()[0].path, "organisations[1].hosts[0]");
  EXPECT_EQ(r.error()[1].path, "organisations[1].hosts[2]");
  EXPECT_EQ(r.error()[1].problem, "is already the host of organisations[0].name");
}

TEST(ConfigParsing, DuplicateKeyIdsAreRefused) {
  auto doc = minimal();
  doc.at("cookies").at("keys").as_array().push_back(
      json::parse(R"({"id":1,"secret_file":"other.key"})"));
  expect_single_error(parse(doc), "cookies.keys[1].id", "is used by another cookie key");

  doc = minimal();
  set(doc, "session/signing_keys",
      json::parse(
          R"([{"kid":"a","private_key_file":"1.pem"},{"kid":"a","private_key_file":"2.pem"}])"));
  expect_single_error(parse(doc), "session.signing_keys[1].kid", "is used by another signing key");
}

TEST(ConfigParsing, DevelopmentCookieModeIsRefusedOnANonLoopbackListener) {
  auto doc = minimal();
  set(doc, "server/cookie_mode", "development");
  set(doc, "server/listen", json::parse(R"([{"address":"127.0.0.1","port":8080},
                                           {"address":"0.0.0.0","port":8081}])"));
  expect_single_error(parse(doc), "server.listen[1].address",
                      "must be a loopback address (127.0.0.0/8, ::1 or localhost) while "
                      "server.cookie_mode is \"development\"");
}

TEST(ConfigParsing, DevelopmentCookieModeIsAcceptedWhenEveryListenerIsLoopback) {
  auto doc = minimal();
  set(doc, "server/cookie_mode", "development");
  set(doc, "server/listen", json::parse(R"([{"address":"localhost","port":8080},
                                           {"address":"::1","port":8080},
                                           {"address":"127.0.0.2","port":8081}])"));
  set(doc, "server/default_organisation", "acme");
  set(doc, "organisations/0/redirect_uri", "http://localhost:8080/api/single-sign-on");
  const auto r = parse(doc);
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  const auto& c = **r;
  EXPECT_EQ(c.server.cookie_mode, cookie_mode_t::development);
  EXPECT_TRUE(std::all_of(c.server.listen.begin(), c.server.listen.end(),
                          [](const auto& l) { return l.loopback; }));
  EXPECT_EQ(c.organisations()[0].redirect_origin, "http://localhost:8080");
}

TEST(ConfigParsing, PlainHttpRedirectNeedsDevelopmentModeEvenOnLoopback) {
  auto doc = minimal();
  set(doc, "server/default_organisation", "acme");
  set(doc, "organisations/0/redirect_uri", "http://localhost:8080/api/single-sign-on");
  expect_single_error(parse(doc), "organisations[0].redirect_uri", "must use https");
}

TEST(ConfigParsing, LoopbackRedirectHostIsOnlyForTheDefaultOrganisation) {
  auto doc = minimal();
  set(doc, "organisations/0/redirect_uri", "https://localhost:8443/api/single-sign-on");
  expect_single_error(parse(doc), "organisations[0].redirect_uri",
                      "a loopback host only for the default organisation");
  set(doc, "server/default_organisation", "acme");
  EXPECT_TRUE(parse(doc).has_value());
}

TEST(ConfigParsing, PlainHttpAuthorityIsAcceptedOnLoopbackWithTheUpstreamDevFlag) {
  auto doc = minimal();
  set(doc, "upstream/allow_plain_http_loopback", true);
  set(doc, "organisations/0/authority", "http://localhost:9443");
  const auto r = parse(doc);
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  EXPECT_EQ((*r)->organisations()[0].expected_issuer,
            "http://localhost:9443/0b3c5f1e-4a2d-4c6b-9e8f-1a2b3c4d5e6f/v2.0");

  set(doc, "organisations/0/authority", "http://idp.example.com");
  expect_single_error(parse(doc), "organisations[0].authority", "must use https");
}

TEST(ConfigParsing, GenericProviderNeedsAnIssuerAndRefusesEntraFields) {
  auto doc = minimal();
  set(doc, "organisations/0/provider", "oidc");
  const auto r = parse(doc);
  ASSERT_FALSE(r.has_value());
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& e : r.error())
    got.emplace(e.path, e.problem);
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{
                     {"organisations[0].tenant_id", "is only for provider \"entra\""},
                     {"organisations[0].issuer", "is required"},
                 }));
}

TEST(ConfigParsing, JsonSyntaxErrorIsOneErrorNamingTheReason) {
  const auto r = parse_config(R"({"server": {"listen": [}})", env_with({}));
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].path, "");
  EXPECT_NE(r.error()[0].problem.find("json_invalid"), std::string::npos);
}

TEST(ConfigParsing, DuplicateJsonMemberIsRefused) {
  std::string text = test::read_file(kTestdata / "minimal.json");
  const auto pos = text.find("\"base_domain\"");
  ASSERT_NE(pos, std::string::npos);
  text.insert(pos, R"("base_domain": "evil.example", )");
  const auto r = parse_config(text, env_with({}));
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].path, "");
  EXPECT_NE(r.error()[0].problem.find("json_duplicate_member"), std::string::npos);
}

TEST(ConfigParsing, DeeplyNestedJsonIsRefused) {
  const std::string text = "{\"x\":" + std::string(200, '[') + std::string(200, ']') + "}";
  const auto r = parse_config(text, env_with({}));
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_NE(r.error()[0].problem.find("json_too_deep"), std::string::npos);
}

TEST(ConfigParsing, TopLevelMustBeAnObject) {
  const auto r = parse_config("[1, 2]", env_with({}));
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].problem, "must be a JSON object");
}

TEST(ConfigParsing, EveryMistakeInOneFileIsReportedAtOnce) {
  const auto r = parse_config(test::read_file(kTestdata / "many_mistakes.json"), env_with({}));
  ASSERT_FALSE(r.has_value());
  // (path, start of problem), in the order the validator reports them.
  const std::vector<std::pair<std::string, std::string>> want{
      {"server.listen[0].port", "must be an integer from 0 to 65535"},
      {"server.base_domain", "must be a lowercase DNS name"},
      {"server.listen[0].address", "must be a loopback address"},
      {"timeouts.header_read", "must not be negative"},
      {"timeouts.login_state_ttl", "must be a duration string"},
      {"session.issuer", "must use https"},
      {"session.signing_keys", "must list at least one key"},
      {"cookies.keys[0]", "needs secret_file or secret_env"},
      {"organisations[0].tenant_id", "must be a GUID"},
      {"organisations[0].authority", "must use https"},
      {"organisations[0].allowed_algs[0]", "is not allowed: unsigned"},
      {"organisations[0].allowed_algs[1]", "is not allowed: HMAC"},
      {"organisations[0].tenant", "unknown field (did you mean \"tenant_id\"?)"},
      {"organisations[1].client_id", "is required"},
      {"organisations[1].name", "duplicates organisations[0].name"},
      {"server.default_organisation", "names no configured organisation"},
  };
  const auto& errors = r.error();
  ASSERT_EQ(errors.size(), want.size()) << all_text(errors);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(errors[i].path, want[i].first) << all_text(errors);
    EXPECT_EQ(errors[i].problem.rfind(want[i].second, 0), 0u) << to_string(errors[i]);
  }
}

TEST(ConfigParsing, ErrorsAreCappedWithANoteThatMoreExist) {
  auto doc = minimal();
  json::array orgs;
  for (int i = 0; i < 150; ++i)
    orgs.push_back(json::object{{"name", "org" + std::to_string(i)},
                                {"tenant_id", "bad"},
                                {"client_id", "6d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e0f"}});
  set(doc, "organisations", std::move(orgs));
  const auto r = parse(doc);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 101u);
  EXPECT_EQ(r.error().back().path, "");
  EXPECT_NE(r.error().back().problem.find("only the first 100"), std::string::npos);
}

TEST(ConfigSecrets, InlineSecretIsRefusedWithoutEchoingIt) {
  auto doc = minimal();
  set(doc, "organisations/0/client_secret", "Sup3r-S3cret-Value");
  set(doc, "accounts/postgres_dsn", "postgresql://user:Hunter2-Pa55@db/x");
  const auto r = parse(doc);
  ASSERT_FALSE(r.has_value());
  const std::string text = all_text(r.error());
  EXPECT_EQ(text.find("Sup3r-S3cret-Value"), std::string::npos) << text;
  EXPECT_EQ(text.find("Hunter2-Pa55"), std::string::npos) << text;
  ASSERT_EQ(r.error().size(), 2u) << text;
  EXPECT_EQ(r.error()[0].path, "accounts.postgres_dsn");
  EXPECT_EQ(r.error()[1].path, "organisations[0].client_secret");
  EXPECT_NE(r.error()[1].problem.find("secrets are never written into the configuration"),
            std::string::npos);
  EXPECT_TRUE(r.error()[1].got.empty());
}

TEST(ConfigSecrets, MalformedCookieKeyInEnvironmentIsReportedWithoutItsValue) {
  auto doc = minimal();
  set(doc, "cookies/keys/0", json::parse(R"({"id":1,"secret_env":"COOKIE_KEY"})"));
  const std::string leaked = "not-a-key-Zq9xW7vT";
  const auto r = parse(doc, env_with({{"COOKIE_KEY", leaked}}));
  expect_single_error(r, "cookies.keys[0].secret_env", "32-byte key");
  EXPECT_TRUE(r.error()[0].got.empty());
  EXPECT_EQ(all_text(r.error()).find(leaked), std::string::npos);
}

TEST(ConfigEnvironment, UnsetVariableIsNamedAndSetVariableIsAccepted) {
  auto doc = minimal();
  set(doc, "cookies/keys/0", json::parse(R"({"id":1,"secret_env":"OIDC_COOKIE_KEY"})"));
  const auto unset = parse(doc, env_with({}));
  expect_single_error(unset, "cookies.keys[0].secret_env",
                      "names an environment variable that is not set");
  EXPECT_EQ(unset.error()[0].got, "\"OIDC_COOKIE_KEY\"");

  EXPECT_EQ(parse(doc, env_with({{"OIDC_COOKIE_KEY", ""}})).error()[0].problem,
            "names an environment variable that is not set");

  const auto hex = parse(doc, env_with({{"OIDC_COOKIE_KEY", std::string(kHexKey) + "\n"}}));
  ASSERT_TRUE(hex.has_value()) << all_text(hex.error());
  EXPECT_EQ((*hex)->cookies.keys[0].secret,
            (secret_ref{secret_ref::source::env, "OIDC_COOKIE_KEY"}));
  EXPECT_TRUE(parse(doc, env_with({{"OIDC_COOKIE_KEY", std::string(kB64Key)}})).has_value());
}

TEST(ConfigEnvironment, WithoutALookupOnlyTheNameIsChecked) {
  auto doc = minimal();
  set(doc, "cookies/keys/0", json::parse(R"({"id":1,"secret_env":"OIDC_COOKIE_KEY"})"));
  config_environment no_lookup;
  no_lookup.config_dir = "/etc/oidc";
  EXPECT_TRUE(parse(doc, no_lookup).has_value());

  set(doc, "cookies/keys/0/secret_env", "1-BAD NAME");
  expect_single_error(parse(doc, no_lookup), "cookies.keys[0].secret_env",
                      "must be an environment variable name");
}

TEST(ConfigEnvironment, PostgresDsnVariableMustBeSet) {
  auto doc = minimal();
  set(doc, "accounts", json::parse(R"({"database":"postgres","postgres_dsn_env":"PG_DSN"})"));
  expect_single_error(parse(doc, env_with({})), "accounts.postgres_dsn_env", "not set");
  const auto r = parse(doc, env_with({{"PG_DSN", "postgresql://db/x"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)->accounts.postgres_dsn_env, "PG_DSN");
}

TEST(ConfigLookup, FindsOrganisationsByNameAndByHost) {
  const auto r = parse_config(test::read_file(kTestdata / "full.json"), full_env());
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  const server_config& c = **r;
  ASSERT_NE(c.find_organisation("globex"), nullptr);
  EXPECT_EQ(c.find_organisation("globex")->name, "globex");
  EXPECT_EQ(c.find_organisation("nobody"), nullptr);
  EXPECT_EQ(c.find_organisation("GLOBEX"), nullptr);

  EXPECT_EQ(c.find_organisation_for_host("globex.example.com"), c.find_organisation("globex"));
  EXPECT_EQ(c.find_organisation_for_host("Globex.Example.COM:443"), c.find_organisation("globex"));
  EXPECT_EQ(c.find_organisation_for_host("initech.example.com."), c.find_organisation("initech"));
  EXPECT_EQ(c.find_organisation_for_host("login.acme.com:8443"), c.find_organisation("acme"));
  EXPECT_EQ(c.find_organisation_for_host("example.com"), nullptr);
  EXPECT_EQ(c.find_organisation_for_host("x.globex.example.com"), nullptr);
  EXPECT_EQ(c.find_organisation_for_host("[::1]:8080"), nullptr);
  EXPECT_EQ(c.default_organisation(), c.find_organisation("acme"));
}

TEST(ConfigLookup, ValueThrowsConfigInvalidListingEveryError) {
  auto doc = minimal();
  set(doc, "organisations/0/tenant_id", "abc");
  set(doc, "server/io_threads", -1);
  const auto r = parse(doc);
  try {
    (void)r.value();
    FAIL() << "value() did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), auth_error::config_invalid);
    const std::string what = e.what();
    EXPECT_NE(what.find("server.io_threads: must be an integer from 0 to 1024 (got -1)"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(R"(organisations[0].tenant_id: must be a GUID (got "abc"))"),
              std::string::npos)
        << what;
  }
}

TEST(ConfigReload, ReportsSettingsThatNeedARestart) {
  const auto a = parse(minimal());
  auto doc = minimal();
  set(doc, "server/listen/0/port", 9090);
  set(doc, "server/io_threads", 2);
  set(doc, "timeouts/header_read", "3s");  // applies on reload
  set(doc, "organisations/0/name", "globex");
  const auto b = parse(doc);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(settings_needing_restart(**a, **b),
            (std::vector<std::string>{"server.listen", "server.io_threads"}));
  EXPECT_TRUE(settings_needing_restart(**a, **a).empty());
}

TEST(ConfigParsing, LoggingSettingsAreReadAndNeedARestart) {
  auto doc = minimal();
  set(doc, "logging", json::parse(R"({"access_log": false, "access_log_flush_interval": "0s",
                      "access_log_buffer_bytes": 4096})"));
  const auto r = parse(doc);
  const server_config& c = ok(r);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(c.logging.access_log);
  EXPECT_EQ(c.logging.access_log_flush_interval, 0s);
  EXPECT_EQ(c.logging.access_log_buffer_bytes, 4096u);
  const auto defaults = parse(minimal());
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(settings_needing_restart(**defaults, c), (std::vector<std::string>{"logging"}));
}

TEST(ConfigIpNetworks, MatchAddressesIncludingIpv4MappedPeers) {
  const auto net = parse_ip_network("10.0.0.0/8");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*parse_ip_address("10.1.2.3")));
  EXPECT_TRUE(net->contains(*parse_ip_address("::ffff:10.1.2.3")));
  EXPECT_FALSE(net->contains(*parse_ip_address("11.0.0.1")));
  EXPECT_FALSE(net->contains(*parse_ip_address("::1")));

  const auto v6 = parse_ip_network("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*parse_ip_address("2001:db8:1::5")));
  EXPECT_FALSE(v6->contains(*parse_ip_address("2001:db9::5")));
  EXPECT_FALSE(v6->contains(*parse_ip_address("10.1.2.3")));

  const auto odd = parse_ip_network("192.168.0.0/23");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(*parse_ip_address("192.168.1.255")));
  EXPECT_FALSE(odd->contains(*parse_ip_address("192.168.2.0")));

  EXPECT_TRUE(parse_ip_network("0.0.0.0/0")->contains(*parse_ip_address("8.8.8.8")));
  EXPECT_FALSE(parse_ip_network("10.0.0.1/8"));
  EXPECT_FALSE(parse_ip_network("10.0.0.0/33"));
  EXPECT_FALSE(parse_ip_network("10.0.0.0/08"));
  EXPECT_FALSE(parse_ip_network("10.0.0.0/"));
  EXPECT_FALSE(parse_ip_address("010.0.0.1"));
  EXPECT_FALSE(parse_ip_address("fe80::1%eth0"));
  EXPECT_FALSE(parse_ip_address("localhost"));

  EXPECT_TRUE(is_loopback(*parse_ip_address("127.8.9.10")));
  EXPECT_TRUE(is_loopback(*parse_ip_address("::1")));
  EXPECT_TRUE(is_loopback(*parse_ip_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(is_loopback(*parse_ip_address("0.0.0.0")));
  EXPECT_FALSE(is_loopback(*parse_ip_address("::")));

  server_settings s;
  s.trusted_proxies = {*net};
  EXPECT_TRUE(s.is_trusted_proxy(*parse_ip_address("10.9.9.9")));
  EXPECT_FALSE(s.is_trusted_proxy(*parse_ip_address("192.0.2.1")));
}

TEST(ConfigSecrets, DecodesThirtyTwoByteKeysInHexOrBase64url) {
  const auto hex = decode_secret_key_32(kHexKey);
  ASSERT_TRUE(hex);
  for (std::size_t i = 0; i < 32; ++i)
    EXPECT_EQ((*hex)[i], i);
  EXPECT_EQ(decode_secret_key_32(std::string(" \t") + std::string(kB64Key) + "\r\n"), hex);
  EXPECT_FALSE(decode_secret_key_32(kHexKey.substr(2)));
  EXPECT_FALSE(decode_secret_key_32(std::string(kB64Key) + "="));
  EXPECT_FALSE(decode_secret_key_32("zz" + std::string(kHexKey.substr(2))));
  EXPECT_FALSE(decode_secret_key_32(""));
}

// The shipped configurations must stay valid as the schema evolves.
TEST(ShippedConfigs, ExampleJsonParses) {
  const std::filesystem::path p = kSourceDir / "config/example.json";
  const auto r = parse_config(
      test::read_file(p), env_with({{"OIDC_COOKIE_KEY_2", std::string(kB64Key)}}, p.parent_path()));
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  const server_config& c = **r;
  EXPECT_EQ(c.server.cookie_mode, cookie_mode_t::secure);
  ASSERT_EQ(c.organisations().size(), 3u);
  EXPECT_EQ(c.organisations()[0].provider, provider_t::entra);
  EXPECT_EQ(c.organisations()[1].provider, provider_t::entra);
  EXPECT_EQ(c.organisations()[2].provider, provider_t::oidc);
}

TEST(ShippedConfigs, DemoJsonParsesForThePlainHttpLoopbackDemo) {
  const std::filesystem::path p = kSourceDir / "config/demo.json";
  const auto r = parse_config(test::read_file(p), env_with({}, p.parent_path()));
  ASSERT_TRUE(r.has_value()) << all_text(r.error());
  const server_config& c = **r;
  EXPECT_EQ(c.server.cookie_mode, cookie_mode_t::development);
  ASSERT_EQ(c.server.listen.size(), 1u);
  EXPECT_TRUE(c.server.listen[0].loopback);
  EXPECT_EQ(c.server.listen[0].port, 8080);
  EXPECT_FALSE(c.server.listen[0].tls);
  const organisation_config* demo = c.default_organisation();
  ASSERT_NE(demo, nullptr);
  EXPECT_EQ(demo->name, "demo");
  EXPECT_EQ(demo->authority, "https://localhost:9443");
  EXPECT_EQ(demo->redirect_uri, "http://localhost:8080/api/single-sign-on");
  EXPECT_EQ(demo->redirect_origin, "http://localhost:8080");
  EXPECT_EQ(demo->discovery_url, demo->expected_issuer + "/.well-known/openid-configuration");
  EXPECT_EQ(c.session.signing_keys[0].private_key_file,
            (kSourceDir / "var/dev/session-signing-key.pem").lexically_normal());
  ASSERT_TRUE(c.upstream.ca_file);
  EXPECT_EQ(*c.upstream.ca_file, (kSourceDir / "var/dev/ca.pem").lexically_normal());
}

}  // namespace
}  // namespace oidc
