// SPDX-License-Identifier: Apache-2.0
// ID token and access token claim rules, in the documented order of claims.hpp.
#include "oidc/claims.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <openssl/crypto.h>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "oidc/jws.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using std::chrono::sys_seconds;

// 9999-12-31T23:59:59Z. Bounding NumericDates keeps every sum below far from overflow and
// rejects values no issuer produces.
constexpr std::int64_t kMaxNumericDate = 253402300799;

constexpr auth_error ok = auth_error::ok;

std::string_view view(const json::string& s) noexcept {
  return {s.data(), s.size()};
}

const json::value* member(const json::object& o, std::string_view key) noexcept {
  return o.if_contains(json::string_view(key.data(), key.size()));
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  return r;
}

std::int64_t non_negative(std::chrono::seconds d) noexcept {
  return std::max<std::int64_t>(d.count(), 0);
}

// A NumericDate (RFC 7519 2): integer or non-integer JSON number of seconds since the epoch.
// Absent: nullopt. Fractions are dropped; negative, too large or non-numeric: claim_invalid.
result<std::optional<std::int64_t>> numeric_date(const json::object& o, std::string_view key) {
  const json::value* v = member(o, key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (const std::int64_t* i = v->if_int64()) {
    if (*i < 0 || *i > kMaxNumericDate) return auth_error::claim_invalid;
    return std::optional<std::int64_t>{*i};
  }
  if (const std::uint64_t* u = v->if_uint64()) {
    if (*u > static_cast<std::uint64_t>(kMaxNumericDate)) return auth_error::claim_invalid;
    return std::optional<std::int64_t>{static_cast<std::int64_t>(*u)};
  }
  if (const double* d = v->if_double()) {
    // The negated range test is also false for NaN.
    if (!(*d >= 0.0 && *d <= static_cast<double>(kMaxNumericDate)))
      return auth_error::claim_invalid;
    return std::optional<std::int64_t>{static_cast<std::int64_t>(std::floor(*d))};
  }
  return auth_error::claim_invalid;  // string, bool, null, array, object
}

sys_seconds to_time(std::int64_t t) noexcept {
  return sys_seconds{std::chrono::seconds{t}};
}

// Absent: nullptr. Present and not a string: claim_invalid.
result<const json::string*> optional_string(const json::object& o, std::string_view key) {
  const json::value* v = member(o, key);
  if (v == nullptr) return static_cast<const json::string*>(nullptr);
  if (const json::string* s = v->if_string()) return s;
  return auth_error::claim_invalid;
}

auth_error read_optional_string(const json::object& o, std::string_view key, std::string& out) {
  auto s = optional_string(o, key);
  if (!s) return s.error();
  if (*s != nullptr) out.assign((*s)->data(), (*s)->size());
  return ok;
}

auth_error read_required_string(const json::object& o, std::string_view key, std::string& out) {
  auto s = optional_string(o, key);
  if (!s) return s.error();
  if (*s == nullptr) return auth_error::claim_missing;
  out.assign((*s)->data(), (*s)->size());
  return ok;
}

// aud is one string or an array of strings (RFC 7519 4.1.3).
auth_error read_audience(const json::object& o, std::vector<std::string>& out) {
  const json::value* v = member(o, "aud");
  if (v == nullptr) return auth_error::claim_missing;
  if (const json::string* s = v->if_string()) {
    out.emplace_back(view(*s));
    return ok;
  }
  const json::array* a = v->if_array();
  if (a == nullptr) return auth_error::claim_invalid;
  out.reserve(a->size());
  for (const json::value& e : *a) {
    const json::string* s = e.if_string();
    if (s == nullptr) return auth_error::claim_invalid;
    out.emplace_back(view(*s));
  }
  return ok;
}

// An empty expected value never matches, so a missing configuration value fails closed.
bool contains(const std::vector<std::string>& have, std::string_view want) {
  return !want.empty() && std::find(have.begin(), have.end(), want) != have.end();
}

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// exp then nbf, with the boundaries documented in claims.hpp.
auth_error check_validity_window(const json::object& p, std::int64_t now, std::int64_t skew,
                                 token_claims& c) {
  auto exp = numeric_date(p, "exp");
  if (!exp) return exp.error();
  if (!*exp) return auth_error::claim_missing;
  c.exp = to_time(**exp);
  if (now >= saturating_add(**exp, skew)) return auth_error::token_expired;

  auto nbf = numeric_date(p, "nbf");
  if (!nbf) return nbf.error();
  if (*nbf) {
    c.nbf = to_time(**nbf);
    if (saturating_add(now, skew) < **nbf) return auth_error::token_not_yet_valid;
  }
  return ok;
}

auth_error check_tenant(const json::object& p, const std::optional<std::string>& want,
                        token_claims& c) {
  auto tid = optional_string(p, "tid");
  if (!tid) return tid.error();
  if (*tid != nullptr) c.tid.assign((*tid)->data(), (*tid)->size());
  if (!want) return ok;
  if (*tid == nullptr) return auth_error::claim_missing;
  if (want->empty() || c.tid != *want) return auth_error::tenant_mismatch;
  return ok;
}

// Claims that only describe the subject: type-checked, never compared.
auth_error read_profile(const json::object& p, token_claims& c) {
  struct field {
    std::string_view key;
    std::string token_claims::*out;
  };
  static constexpr field kFields[] = {
      {"oid", &token_claims::oid},
      {"appid", &token_claims::appid},
      {"preferred_username", &token_claims::preferred_username},
      {"upn", &token_claims::upn},
      {"email", &token_claims::email},
      {"name", &token_claims::name},
      {"login_hint", &token_claims::login_hint},
      {"ver", &token_claims::ver},
  };
  for (const field& f : kFields)
    if (auto e = read_optional_string(p, f.key, c.*f.out); e != ok) return e;
  auto auth_time = numeric_date(p, "auth_time");
  if (!auth_time) return auth_time.error();
  if (*auth_time) c.auth_time = to_time(**auth_time);
  return ok;
}

// `scp` is one space-delimited string (RFC 6749 3.3); `roles` an array of strings.
auth_error read_scopes_and_roles(const json::object& p, token_claims& c) {
  auto scp = optional_string(p, "scp");
  if (!scp) return scp.error();
  if (*scp != nullptr) {
    std::string_view rest = view(**scp);
    while (!rest.empty()) {
      const std::size_t end = std::min(rest.find(' '), rest.size());
      if (end > 0) c.scopes.emplace_back(rest.substr(0, end));
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
  }
  if (const json::value* v = member(p, "roles")) {
    const json::array* a = v->if_array();
    if (a == nullptr) return auth_error::claim_invalid;
    c.roles.reserve(a->size());
    for (const json::value& e : *a) {
      const json::string* s = e.if_string();
      if (s == nullptr) return auth_error::claim_invalid;
      c.roles.emplace_back(view(*s));
    }
  }
  return ok;
}

}  // namespace

result<token_claims> check_id_token_claims(const json::object& p, const id_token_expectations& want,
                                           sys_seconds now) {
  token_claims c;
  const std::int64_t t = now.time_since_epoch().count();
  const std::int64_t skew = non_negative(want.skew);

  // OIDC Core 3.1.3.7 item 2: exact match, no normalisation.
  if (auto e = read_required_string(p, "iss", c.iss); e != ok) return e;
  if (want.issuer.empty() || c.iss != want.issuer) return auth_error::issuer_mismatch;

  // Item 3: aud contains our client_id (other audiences are tolerated only with azp, item 4).
  if (auto e = read_audience(p, c.aud); e != ok) return e;
  if (!contains(c.aud, want.client_id)) return auth_error::audience_mismatch;

  // Items 4 and 5: azp required with several audiences, and when present it must be us.
  auto azp = optional_string(p, "azp");
  if (!azp) return azp.error();
  if (*azp != nullptr) {
    c.azp.assign((*azp)->data(), (*azp)->size());
    if (c.azp != want.client_id) return auth_error::azp_mismatch;
  } else if (c.aud.size() > 1) {
    return auth_error::azp_mismatch;
  }

  // Items 9 and 10, with nbf (RFC 7519 4.1.5) between exp and iat.
  if (auto e = check_validity_window(p, t, skew, c); e != ok) return e;
  auto iat = numeric_date(p, "iat");
  if (!iat) return iat.error();
  if (!*iat) return auth_error::claim_missing;
  c.iat = to_time(**iat);
  if (saturating_add(t, skew) < **iat) return auth_error::iat_in_future;
  if (t > saturating_add(saturating_add(**iat, non_negative(want.max_age)), skew))
    return auth_error::token_too_old;

  // Item 11: the nonce binds the token to the login this browser started.
  const json::value* nonce = member(p, "nonce");
  if (nonce == nullptr) return auth_error::nonce_missing;
  const json::string* nonce_s = nonce->if_string();
  if (nonce_s == nullptr) return auth_error::claim_invalid;
  if (want.nonce.empty() || !equal_constant_time(view(*nonce_s), want.nonce))
    return auth_error::nonce_mismatch;
  c.nonce = want.nonce;

  // Entra: the issuer already names the tenant; tid is checked too so a misconfigured
  // multi-tenant issuer can never admit another organisation's users.
  if (auto e = check_tenant(p, want.tenant_id, c); e != ok) return e;

  if (auto e = read_required_string(p, "sub", c.sub); e != ok) return e;
  if (auto e = read_profile(p, c); e != ok) return e;
  return c;
}

result<token_claims> check_access_token_claims(const json::object& p,
                                               const access_token_expectations& want,
                                               sys_seconds now) {
  token_claims c;
  const std::int64_t t = now.time_since_epoch().count();
  const std::int64_t skew = non_negative(want.skew);

  if (auto e = read_required_string(p, "iss", c.iss); e != ok) return e;
  if (!contains(want.issuers, c.iss)) return auth_error::issuer_mismatch;

  if (auto e = read_audience(p, c.aud); e != ok) return e;
  const bool ours = std::any_of(want.audiences.begin(), want.audiences.end(),
                                [&](const std::string& a) { return contains(c.aud, a); });
  if (!ours) return auth_error::audience_mismatch;

  if (auto e = check_validity_window(p, t, skew, c); e != ok) return e;
  if (auto e = check_tenant(p, want.tenant_id, c); e != ok) return e;

  // An access token grants delegated scopes or application roles; ID tokens and session tokens
  // carry neither, so they can never pass here even when iss and aud happen to match.
  if (auto e = read_scopes_and_roles(p, c); e != ok) return e;
  if (c.scopes.empty() && c.roles.empty()) return auth_error::not_an_access_token;

  if (auto e = read_optional_string(p, "sub", c.sub); e != ok) return e;
  if (auto e = read_optional_string(p, "azp", c.azp); e != ok) return e;
  auto iat = numeric_date(p, "iat");
  if (!iat) return iat.error();
  if (*iat) c.iat = to_time(**iat);
  if (auto e = read_profile(p, c); e != ok) return e;
  return c;
}

result<token_claims> verify_id_token(std::string_view jws, const key_set& keys,
                                     const id_token_expectations& want, sys_seconds now) {
  jws_verify_options options;
  options.allowed_algs = want.allowed_algs;
  options.max_token_bytes = want.max_token_bytes;
  auto verified = verify_jws(jws, keys, options);
  if (!verified) return verified.error();
  return check_id_token_claims(verified->payload, want, now);
}

result<token_claims> verify_access_token(std::string_view jws, const key_set& keys,
                                         const access_token_expectations& want, sys_seconds now) {
  jws_verify_options options;
  options.allowed_algs = want.allowed_algs;
  options.max_token_bytes = want.max_token_bytes;
  auto verified = verify_jws(jws, keys, options);
  if (!verified) return verified.error();
  return check_access_token_claims(verified->payload, want, now);
}

result<token_claims> verify_access_token(const peeked_jws& jws, const json::object& payload,
                                         const key_set& keys, const access_token_expectations& want,
                                         sys_seconds now) {
  jws_verify_options options;
  options.allowed_algs = want.allowed_algs;
  options.max_token_bytes = want.max_token_bytes;
  auto verified = verify_jws_signature(jws, keys, options);
  if (!verified) return verified.error();
  return check_access_token_claims(payload, want, now);
}

std::string entra_v2_issuer(std::string_view authority, std::string_view tenant_id) {
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  std::string s;
  s.reserve(authority.size() + tenant_id.size() + 6);
  s.append(authority).append("/").append(tenant_id).append("/v2.0");
  return s;
}

std::string entra_v1_issuer(std::string_view tenant_id) {
  std::string s = "https://sts.windows.net/";
  s.append(tenant_id).append("/");
  return s;
}

}  // namespace oidc
