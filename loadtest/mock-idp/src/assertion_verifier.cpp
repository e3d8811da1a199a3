// SPDX-License-Identifier: Apache-2.0
// Client assertion checks of the mock tenant's token endpoint.
#include "assertion_verifier.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <boost/json/object.hpp>

#include "key_ring.hpp"
#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/jws.hpp"
#include "oidc/ossl.hpp"

namespace oidc::mock {
namespace {

using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO_free>>;
using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509_free>>;

constexpr std::string_view kDocs =
    " Review the documentation at "
    "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

std::optional<std::string> digest_b64(std::span<const std::uint8_t> der, const EVP_MD* md) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(der.data(), der.size(), out.data(), &len, md, nullptr) != 1) {
    clear_openssl_errors();
    return std::nullopt;
  }
  return base64url_encode(std::span<const std::uint8_t>(out.data(), len));
}

// Entra's time format in assertion errors: "2024-10-02T22:05:03.0000000Z".
std::string iso_time(std::int64_t epoch_seconds) {
  const std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
  return std::string(buf.data(), n);
}

assertion_rejection invalid_jwt(std::string_view why) {
  return {aadsts::invalid_jwt, "JWT token is invalid or malformed. " + std::string(why)};
}

std::optional<std::int64_t> int_claim(const boost::json::object& o, std::string_view name,
                                      bool& malformed) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  malformed = true;
  return std::nullopt;
}

}  // namespace

std::optional<client_certificate> load_client_certificate(std::string_view pem,
                                                          std::string& problem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  x509_ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    clear_openssl_errors();
    problem = "not a PEM certificate";
    return std::nullopt;
  }
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (pub == nullptr || !EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_get_bits(pub) < 2048) {
    clear_openssl_errors();
    problem = "the certificate must hold an RSA key of at least 2048 bits";
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) {
    clear_openssl_errors();
    problem = "the certificate cannot be encoded";
    return std::nullopt;
  }
  const std::vector<std::uint8_t> der_bytes(der, der + der_len);
  OPENSSL_free(der);
  client_certificate out;
  auto s256 = digest_b64(der_bytes, EVP_sha256());
  auto s1 = digest_b64(der_bytes, EVP_sha1());
  if (!s256 || !s1) {
    problem = "the certificate cannot be hashed";
    return std::nullopt;
  }
  out.x5t_s256 = std::move(*s256);
  out.x5t = std::move(*s1);
  try {
    auto parsed = parse_jwk(rsa_public_jwk(pub));
    if (!parsed) {
      problem = "the certificate's key is not usable: " + std::string(label(parsed.error()));
      return std::nullopt;
    }
    out.key = std::make_shared<const jwk>(std::move(*parsed));
  } catch (const std::exception&) {
    problem = "the certificate's key cannot be read";
    return std::nullopt;
  }
  return out;
}

bool assertion_replay_cache::remember(std::string_view client_id, std::string_view jti,
                                      std::chrono::sys_seconds forget_at,
                                      std::chrono::sys_seconds now) {
  // jti is unique per issuer (RFC 7519 §4.1.7): key on both.
  std::string key;
  key.reserve(client_id.size() + 1 + jti.size());
  key.append(client_id).append(1, '\n').append(jti);
  std::lock_guard lock(mutex_);
  if (const auto it = seen_.find(key); it != seen_.end()) {
    if (it->second > now) return false;
    seen_.erase(it);
  }
  if (seen_.size() >= capacity_) {
    std::erase_if(seen_, [now](const auto& kv) { return kv.second <= now; });
    if (seen_.size() >= capacity_) {
      // Still full of live entries (a flood): forget the one closest to expiry.
      const auto oldest =
          std::min_element(seen_.begin(), seen_.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      seen_.erase(oldest);
    }
  }
  seen_.emplace(std::move(key), forget_at);
  return true;
}

std::size_t assertion_replay_cache::size() const {
  std::lock_guard lock(mutex_);
  return seen_.size();
}

std::optional<assertion_rejection> verify_client_assertion(std::string_view assertion,
                                                           const client_certificate* certificate,
                                                           std::string_view client_id,
                                                           std::string_view token_endpoint,
                                                           std::chrono::sys_seconds now,
                                                           assertion_replay_cache& replays) {
  const auto parts = split_compact(assertion, kMaxAssertionBytes);
  if (!parts) return invalid_jwt("The client assertion is not a compact JWS.");
  const auto header_text = base64url_decode(parts->header_b64);
  if (!header_text) return invalid_jwt("The JWT header is not base64url.");
  const auto header = parse_json_object(*header_text, kJoseJsonLimits);
  if (!header) return invalid_jwt("The JWT header is not a JSON object.");

  const auto* alg_name_v = find_string(*header, "alg");
  const auto alg = alg_name_v ? alg_from_name(*alg_name_v) : std::nullopt;
  // Entra's certificate credentials use PS256 (RS256 still accepted): nothing else, and never
  // none or HS* (RFC 8725 §3.1).
  if (!alg || (*alg != jws_alg::PS256 && *alg != jws_alg::RS256)) {
    return invalid_jwt("The client assertion must be signed PS256 or RS256.");
  }

  // Entra finds the uploaded certificate by the thumbprint in the header.
  const auto* s256 = find_string(*header, "x5t#S256");
  const auto* s1 = s256 ? nullptr : find_string(*header, "x5t");
  const std::string presented = s256 ? std::string(*s256) : s1 ? std::string(*s1) : std::string();
  const bool found = certificate != nullptr && !presented.empty() &&
                     presented == (s256 ? certificate->x5t_s256 : certificate->x5t);
  if (!found) {
    return assertion_rejection{
        aadsts::assertion_signature_invalid,
        "Client assertion failed signature validation. [Reason - The key was not found., "
        "Thumbprint of key used by client: '" +
            presented.substr(0, 64) +
            "', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
            "configured keys for app Id '" +
            std::string(client_id) + "'.]"};
  }
  const auto signature = base64url_decode(parts->signature_b64);
  if (!signature || !verify_signature(*certificate->key, *alg, parts->signing_input,
                                      std::span<const std::uint8_t>(
                                          reinterpret_cast<const std::uint8_t*>(signature->data()),
                                          signature->size()))) {
    return assertion_rejection{
        aadsts::assertion_signature_invalid,
        "Client assertion failed signature validation. [Reason - The provided signature value "
        "did not match the expected signature value., Thumbprint of key used by client: '" +
            presented + "']"};
  }

  const auto payload_text = base64url_decode(parts->payload_b64);
  if (!payload_text) return invalid_jwt("The JWT payload is not base64url.");
  const auto claims = parse_json_object(*payload_text, kJoseJsonLimits);
  if (!claims) return invalid_jwt("The JWT payload is not a JSON object.");

  const auto* iss = find_string(*claims, "iss");
  if (iss == nullptr || *iss != client_id) {
    return assertion_rejection{aadsts::assertion_issuer_mismatch,
                               "Client assertion application identifier doesn't match "
                               "'client_id' parameter." +
                                   std::string(kDocs)};
  }
  const auto* sub = find_string(*claims, "sub");
  if (sub == nullptr || *sub != *iss) {
    return assertion_rejection{
        aadsts::assertion_subject_mismatch,
        "Subject must match the issuer claim in the client assertion." + std::string(kDocs)};
  }
  // Entra answers an aud array with 50027, even one that contains the token endpoint.
  const auto* aud = find_string(*claims, "aud");
  if (aud == nullptr) return invalid_jwt("The 'aud' claim must be a single string.");
  if (*aud != token_endpoint) {
    return assertion_rejection{
        aadsts::assertion_audience_mismatch,
        "Client assertion audience claim does not match Realm issuer." + std::string(kDocs)};
  }

  bool malformed = false;
  const auto exp = int_claim(*claims, "exp", malformed);
  const auto nbf = int_claim(*claims, "nbf", malformed);
  const auto iat = int_claim(*claims, "iat", malformed);
  if (malformed || !exp)
    return invalid_jwt("'exp' is required; 'exp', 'nbf' and 'iat' are integers.");
  const std::int64_t t = now.time_since_epoch().count();
  const std::int64_t skew = kAssertionClockSkew.count();
  // Compared without overflow: values near INT64 limits are simply outside the window.
  const bool expired = *exp <= t - skew;
  const bool early = (nbf && *nbf > t + skew) || (iat && *iat > t + skew);
  if (expired || early) {
    return assertion_rejection{
        aadsts::assertion_time_range,
        "Client assertion is not within its valid time range. Current time: " + iso_time(t) +
            ", assertion valid from " + iso_time(nbf.value_or(0)) + ", expiry time of assertion " +
            iso_time(*exp) + "." + std::string(kDocs)};
  }

  // RFC 7523 §3 item 7: the jti lets the server refuse a replayed assertion.
  const auto* jti = find_string(*claims, "jti");
  if (jti == nullptr || jti->empty() || jti->size() > kMaxJtiBytes) {
    return invalid_jwt("The 'jti' claim is required (at most 256 characters).");
  }
  // Kept until it could no longer be accepted; an absurd exp is capped (the cache is bounded
  // anyway) so the arithmetic cannot overflow.
  constexpr std::int64_t kMaxRemember = 366LL * 86'400;
  const std::int64_t until = *exp - t > kMaxRemember ? t + kMaxRemember : *exp;
  const auto forget_at = std::chrono::sys_seconds(std::chrono::seconds(until + skew));
  if (!replays.remember(client_id, *jti, forget_at, now)) {
    return invalid_jwt("The client assertion was already used: its 'jti' must be unique.");
  }
  return std::nullopt;
}

}  // namespace oidc::mock
