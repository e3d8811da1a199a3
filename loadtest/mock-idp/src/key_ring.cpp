// SPDX-License-Identifier: Apache-2.0
// Signing-key generation, JWKS rendering and the rotation timeline of the mock IdP.
#include "key_ring.hpp"

#include <algorithm>
#include <stdexcept>

#include <openssl/core_names.h>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/jwk.hpp"

namespace oidc::mock {
namespace {

std::string bn_b64(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    clear_openssl_errors();
    throw std::runtime_error("cannot read RSA key parameter");
  }
  bignum_ptr owned(bn);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  return base64url_encode(out);
}

}  // namespace

evp_pkey_ptr generate_rsa_2048() {
  evp_pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048)));
  if (!key) clear_openssl_errors();
  return key;
}

boost::json::object rsa_public_jwk(const EVP_PKEY* key) {
  boost::json::object thumb_input;
  thumb_input["kty"] = "RSA";
  thumb_input["n"] = bn_b64(key, OSSL_PKEY_PARAM_RSA_N);
  thumb_input["e"] = bn_b64(key, OSSL_PKEY_PARAM_RSA_E);
  const std::string kid = jwk_thumbprint(thumb_input);
  if (kid.empty()) throw std::runtime_error("cannot compute the JWK thumbprint");
  // Entra's key members: kty, use, kid, n, e (no alg).
  boost::json::object jwk;
  jwk["kty"] = "RSA";
  jwk["use"] = "sig";
  jwk["kid"] = kid;
  jwk["n"] = thumb_input["n"];
  jwk["e"] = thumb_input["e"];
  return jwk;
}

key_ring::key_ring(key_rotation_policy policy, std::chrono::sys_seconds now, key_generator generate)
    : policy_(policy), generate_(std::move(generate)) {
  keys_.push_back(make_key(now));
}

std::shared_ptr<signing_key> key_ring::make_key(std::chrono::sys_seconds now) {
  auto pkey = generate_();
  if (!pkey) throw std::runtime_error("RSA key generation failed");
  auto k = std::make_shared<signing_key>();
  k->public_jwk = rsa_public_jwk(pkey.get());
  k->kid = std::string(k->public_jwk["kid"].as_string());
  k->private_key = std::move(pkey);
  k->published_at = now;
  k->signs_from = now;
  return k;
}

void key_ring::prune(std::chrono::sys_seconds now) {
  std::erase_if(keys_, [now](const auto& k) { return k->retire_at && *k->retire_at <= now; });
}

std::shared_ptr<const signing_key> key_ring::signer(std::chrono::sys_seconds now) {
  std::lock_guard lock(mutex_);
  prune(now);
  std::shared_ptr<const signing_key> best;
  for (const auto& k : keys_) {
    if (k->signs_from <= now && (!best || k->signs_from >= best->signs_from)) best = k;
  }
  // A clock that went backwards past every key: sign with the oldest rather than fail.
  if (!best && !keys_.empty()) best = keys_.front();
  return best;
}

std::vector<std::string> key_ring::published_kids(std::chrono::sys_seconds now) {
  std::lock_guard lock(mutex_);
  prune(now);
  std::vector<std::string> kids;
  for (const auto& k : keys_) {
    if (k->published_at <= now) kids.push_back(k->kid);
  }
  return kids;
}

std::string key_ring::jwks_json(std::chrono::sys_seconds now) {
  boost::json::array keys;
  {
    std::lock_guard lock(mutex_);
    prune(now);
    for (const auto& k : keys_) {
      if (k->published_at <= now) keys.push_back(k->public_jwk);
    }
  }
  boost::json::object doc;
  doc["keys"] = std::move(keys);
  return boost::json::serialize(doc);
}

rotation_schedule key_ring::rotate(std::chrono::sys_seconds now) {
  auto next = make_key(now);  // outside the lock: RSA generation takes tens of milliseconds
  next->signs_from = now + policy_.signing_overlap;
  std::lock_guard lock(mutex_);
  prune(now);
  rotation_schedule s;
  s.new_kid = next->kid;
  s.signs_from = next->signs_from;
  if (!keys_.empty()) {
    auto& newest = keys_.back();
    newest->retire_at = next->signs_from + policy_.retire_overlap;
    s.replaced_kid = newest->kid;
    s.replaced_retires_at = *newest->retire_at;
  }
  keys_.push_back(std::move(next));
  return s;
}

}  // namespace oidc::mock
