// SPDX-License-Identifier: Apache-2.0
// ES256 session tokens under the server's own key ring, and their public JWKS.
#include "oidc/session_token.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/jws.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using std::chrono::sys_seconds;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO_free>>;

constexpr std::size_t kP256CoordinateBytes = 32;
constexpr std::size_t kMaxPemBytes = 64 * 1024;
// 9999-12-31T23:59:59Z: NumericDates beyond are refused, so the sums below cannot overflow.
constexpr std::int64_t kMaxNumericDate = 253402300799;
constexpr std::chrono::seconds kMaxLifetime = std::chrono::days(366);
constexpr std::chrono::seconds kMaxLeeway = std::chrono::hours(1);

json::string_view jv(std::string_view s) noexcept {
  return {s.data(), s.size()};
}

std::int64_t seconds_of(sys_seconds t) noexcept {
  return static_cast<std::int64_t>(t.time_since_epoch().count());
}

// Encrypted PEM is refused: the default callback would prompt on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

// {"kty":"EC","crv":"P-256","x":..,"y":..}: exactly the members RFC 7638 §3.2 hashes.
result<json::object> public_jwk_of(const EVP_PKEY* pkey) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  const bool got_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
  const bool got_y = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1;
  const bignum_ptr x(x_raw), y(y_raw);
  std::array<std::uint8_t, kP256CoordinateBytes> xb{}, yb{};
  if (!got_x || !got_y || BN_bn2binpad(x.get(), xb.data(), xb.size()) != xb.size() ||
      BN_bn2binpad(y.get(), yb.data(), yb.size()) != yb.size()) {
    clear_openssl_errors();
    return auth_error::key_invalid;
  }
  json::object o;
  o.reserve(7);
  o.emplace("kty", "EC");
  o.emplace("crv", "P-256");
  o.emplace("x", base64url_encode(xb));
  o.emplace("y", base64url_encode(yb));
  return o;
}

struct loaded_key {
  evp_pkey_ptr private_key;
  json::object public_jwk;  // with kid, use and alg
  std::shared_ptr<const jwk> verifier;
};

result<loaded_key> load_key(const session_key& k) {
  auto pkey = parse_private_key_pem(k.private_key_pem);
  if (!pkey) return pkey.error();
  std::array<char, 64> group{};
  std::size_t group_len = 0;
  if (EVP_PKEY_is_a(pkey->get(), "EC") != 1 ||
      EVP_PKEY_get_group_name(pkey->get(), group.data(), group.size(), &group_len) != 1 ||
      std::string_view(group.data(), group_len) != "prime256v1") {
    clear_openssl_errors();
    return auth_error::key_unsupported;
  }
  // A SEC1 file may carry a public point that does not belong to its private scalar; every
  // token signed with it would then fail to verify everywhere.
  const evp_pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
    clear_openssl_errors();
    return auth_error::key_invalid;
  }
  auto public_jwk = public_jwk_of(pkey->get());
  if (!public_jwk) return public_jwk.error();
  const std::string kid = k.kid.empty() ? jwk_thumbprint(*public_jwk) : k.kid;
  public_jwk->emplace("kid", kid);
  public_jwk->emplace("use", "sig");
  public_jwk->emplace("alg", "ES256");
  auto verifier = parse_jwk(*public_jwk);
  if (!verifier) return verifier.error();
  return loaded_key{std::move(*pkey), std::move(*public_jwk),
                    std::make_shared<const jwk>(std::move(*verifier))};
}

// Absent: nullptr; present but not a string: claim_invalid.
result<const json::string*> optional_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(jv(key));
  if (v == nullptr) return static_cast<const json::string*>(nullptr);
  if (const json::string* s = v->if_string()) return s;
  return auth_error::claim_invalid;
}

auth_error read_string(const json::object& o, std::string_view key, std::string& out,
                       bool required) {
  auto s = optional_string(o, key);
  if (!s) return s.error();
  if (*s == nullptr) return required ? auth_error::claim_missing : auth_error::ok;
  if (required && (*s)->empty()) return auth_error::claim_missing;
  out.assign((*s)->data(), (*s)->size());
  return auth_error::ok;
}

// We issue integer NumericDates only (RFC 7519 §2 allows fractions; our own tokens never have
// them, so one here is not ours).
auth_error read_date(const json::object& o, std::string_view key, sys_seconds& out) {
  const json::value* v = o.if_contains(jv(key));
  if (v == nullptr) return auth_error::claim_missing;
  const std::int64_t* i = v->if_int64();
  if (i == nullptr || *i < 0 || *i > kMaxNumericDate) return auth_error::claim_invalid;
  out = sys_seconds(std::chrono::seconds(*i));
  return auth_error::ok;
}

// aud is one string or an array of strings (RFC 7519 §4.1.3); ours is the one string.
auth_error check_audience(const json::object& o) {
  const json::value* v = o.if_contains("aud");
  if (v == nullptr) return auth_error::claim_missing;
  if (const json::string* s = v->if_string())
    return *s == jv(kSessionAudience) ? auth_error::ok : auth_error::audience_mismatch;
  const json::array* a = v->if_array();
  if (a == nullptr) return auth_error::claim_invalid;
  bool found = false;
  for (const json::value& e : *a) {
    const json::string* s = e.if_string();
    if (s == nullptr) return auth_error::claim_invalid;
    found = found || *s == jv(kSessionAudience);
  }
  return found ? auth_error::ok : auth_error::audience_mismatch;
}
}  // namespace

result<session_signer> session_signer::create(std::span<const session_key> keys,
                                              session_signer_options options) {
  // The upper bounds keep every time sum in verify() far from overflow.
  if (keys.empty() || options.issuer.empty() || options.lifetime <= std::chrono::seconds(0) ||
      options.lifetime > kMaxLifetime || options.leeway < std::chrono::seconds(0) ||
      options.leeway > kMaxLeeway)
    return auth_error::config_invalid;

  session_signer s;
  std::vector<std::shared_ptr<const jwk>> verifiers;
  json::array published;
  // Newest first, so the signing key is also the first one listed.
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    auto loaded = load_key(*it);
    if (!loaded) return loaded.error();
    const std::string& kid = loaded->verifier->kid;
    if (std::any_of(verifiers.begin(), verifiers.end(),
                    [&](const auto& v) { return v->kid == kid; }))
      return auth_error::config_invalid;
    if (it == keys.rbegin()) {
      s.signing_key_ = std::move(loaded->private_key);
      s.sign_context_ = make_sign_context(s.signing_key_.get(), jws_alg::ES256);
      s.signing_kid_ = kid;
    }
    verifiers.push_back(std::move(loaded->verifier));
    published.emplace_back(std::move(loaded->public_jwk));
  }
  json::object doc;
  doc.emplace("keys", std::move(published));
  s.jwks_json_ = json::serialize(doc);
  s.keys_ = std::make_shared<const key_set>(std::move(verifiers));
  s.options_ = std::move(options);
  return s;
}

result<issued_session> session_signer::issue(const session_claims& claims, sys_seconds now) const {
  if (claims.sid.empty() || claims.sub.empty()) return auth_error::claim_missing;
  issued_session out;
  out.claims = claims;
  out.claims.iss = options_.issuer;
  out.claims.iat = now;
  out.claims.exp = now + options_.lifetime;

  json::object header;
  header.reserve(3);
  header.emplace("alg", "ES256");
  header.emplace("typ", jv(kSessionTokenType));
  header.emplace("kid", signing_kid_);

  const session_claims& c = out.claims;
  json::object payload;
  payload.reserve(12);
  payload.emplace("iss", c.iss);
  payload.emplace("aud", jv(kSessionAudience));
  payload.emplace("sub", c.sub);
  payload.emplace("sid", c.sid);
  for (const auto& [key, value] : {std::pair<std::string_view, const std::string&>{"org", c.org},
                                   {"tid", c.tid},
                                   {"oid", c.oid},
                                   {"email", c.email},
                                   {"name", c.name},
                                   {"login_hint", c.login_hint}})
    if (!value.empty()) payload.emplace(jv(key), value);
  payload.emplace("iat", seconds_of(c.iat));
  payload.emplace("exp", seconds_of(c.exp));

  auto token = sign_context_
                   ? sign_compact_prepared(header, payload, sign_context_.get(), jws_alg::ES256)
                   : sign_compact(header, payload, signing_key_.get(), jws_alg::ES256);
  if (!token) return token.error();
  out.token = std::move(*token);
  return out;
}

result<session_claims> session_signer::verify(std::string_view token, sys_seconds now) const {
  jws_verify_options opts;
  opts.allowed_algs = {jws_alg::ES256};
  opts.max_token_bytes = kMaxSessionTokenBytes;
  auto v = verify_jws(token, *keys_, opts);
  if (!v) return v.error();
  if (v->header.typ != kSessionTokenType) return auth_error::typ_mismatch;

  const json::object& p = v->payload;
  session_claims c;
  if (auto e = read_string(p, "iss", c.iss, true); e != auth_error::ok) return e;
  if (c.iss != options_.issuer) return auth_error::issuer_mismatch;
  if (auto e = check_audience(p); e != auth_error::ok) return e;

  const std::int64_t t = seconds_of(now);
  const std::int64_t leeway = options_.leeway.count();
  if (auto e = read_date(p, "exp", c.exp); e != auth_error::ok) return e;
  if (t >= seconds_of(c.exp) + leeway) return auth_error::token_expired;
  if (auto e = read_date(p, "iat", c.iat); e != auth_error::ok) return e;
  if (t < seconds_of(c.iat) - leeway) return auth_error::iat_in_future;
  if (t > seconds_of(c.iat) + options_.lifetime.count() + leeway) return auth_error::token_too_old;

  if (auto e = read_string(p, "sid", c.sid, true); e != auth_error::ok) return e;
  if (auto e = read_string(p, "sub", c.sub, true); e != auth_error::ok) return e;
  for (const auto& [key, out] : {std::pair<std::string_view, std::string*>{"org", &c.org},
                                 {"tid", &c.tid},
                                 {"oid", &c.oid},
                                 {"email", &c.email},
                                 {"name", &c.name},
                                 {"login_hint", &c.login_hint}})
    if (auto e = read_string(p, key, *out, false); e != auth_error::ok) return e;
  return c;
}

std::string new_session_id(random_source& rng) {
  return random_token(rng, kSessionIdBytes);
}

result<evp_pkey_ptr> parse_private_key_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxPemBytes) return auth_error::key_invalid;
  const bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  evp_pkey_ptr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                        : nullptr);
  if (!pkey) {
    clear_openssl_errors();
    return auth_error::key_invalid;
  }
  return pkey;
}

result<std::string> generate_ec_p256_private_key_pem() {
  const evp_pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!pkey || !bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    clear_openssl_errors();
    return auth_error::internal_error;
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) {
    clear_openssl_errors();
    return auth_error::internal_error;
  }
  std::string pem(data, static_cast<std::size_t>(len));
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return pem;
}

}  // namespace oidc
