// SPDX-License-Identifier: Apache-2.0
// JWS compact verification and signing (RFC 7515, RFC 7518 §3, RFC 8037 §3.1). The verify path
// decodes the header and signature into stack buffers and builds the header JSON in a monotonic
// arena on the stack, so a verification allocates little beyond what OpenSSL and the returned
// payload need.
#include "oidc/jws.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"

namespace oidc {
namespace {
namespace json = boost::json;

constexpr std::size_t kMaxSignatureBytes = 1024;  // RSA-8192, the largest modulus parse_jwk takes
constexpr std::size_t kHeaderStackBytes = 1024;
constexpr std::size_t kHeaderArenaBytes = 4096;

auth_error fail(auth_error e) noexcept {
  clear_openssl_errors();
  return e;
}

bool is_rsa(jws_alg a) noexcept {
  return a <= jws_alg::PS512;
}
bool is_pss(jws_alg a) noexcept {
  return a >= jws_alg::PS256 && a <= jws_alg::PS512;
}
bool is_ecdsa(jws_alg a) noexcept {
  return a >= jws_alg::ES256 && a <= jws_alg::ES512;
}

const EVP_MD* digest_for(jws_alg a) noexcept {
  switch (a) {
    case jws_alg::RS256:
    case jws_alg::PS256:
    case jws_alg::ES256:
      return EVP_sha256();
    case jws_alg::RS384:
    case jws_alg::PS384:
    case jws_alg::ES384:
      return EVP_sha384();
    case jws_alg::RS512:
    case jws_alg::PS512:
    case jws_alg::ES512:
      return EVP_sha512();
    default:
      return nullptr;  // EdDSA hashes internally (RFC 8032): EVP_DigestVerify with no md
  }
}

// RFC 7518 §3.4: R and S each as many octets as the curve order.
std::size_t ecdsa_half(jws_alg a) noexcept {
  return a == jws_alg::ES256 ? 32 : a == jws_alg::ES384 ? 48 : 66;
}

int ecdsa_nid(jws_alg a) noexcept {
  return a == jws_alg::ES256   ? NID_X9_62_prime256v1
         : a == jws_alg::ES384 ? NID_secp384r1
                               : NID_secp521r1;
}

std::size_t signature_size(const jwk& key, jws_alg alg) noexcept {
  if (is_rsa(alg)) return (static_cast<std::size_t>(key.bits) + 7) / 8;
  if (is_ecdsa(alg)) return 2 * ecdsa_half(alg);
  return 64;
}

// RFC 7518 §3.5: PSS with MGF1 over the same hash and a salt as long as the hash.
bool set_pss(EVP_PKEY_CTX* pctx, const EVP_MD* md) noexcept {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
}

evp_md_ctx_ptr init_verify_context(EVP_PKEY* key, jws_alg alg) noexcept {
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = digest_for(alg);
  if (!ctx || !key || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1 ||
      (is_pss(alg) && !set_pss(pctx, md))) {
    clear_openssl_errors();
    return nullptr;
  }
  return ctx;
}

bool all_zero(std::span<const std::uint8_t> s) noexcept {
  return std::all_of(s.begin(), s.end(), [](std::uint8_t b) { return b == 0; });
}

// Raw r||s to the DER ECDSA-Sig-Value OpenSSL verifies (RFC 3279 §2.2.3), encoded by hand: two
// unsigned big-endian INTEGERs in a SEQUENCE. No BIGNUMs and no allocation on the hot path.
// Returns the DER length, 0 when `der` is too small.
std::size_t ecdsa_raw_to_der(std::span<const std::uint8_t> raw, std::span<std::uint8_t> der) {
  const std::size_t half = raw.size() / 2;
  struct integer {
    std::span<const std::uint8_t> bytes;  // minimal, non-empty
    bool pad;                             // a 0x00 keeps the value positive
    std::size_t content() const noexcept { return bytes.size() + (pad ? 1 : 0); }
  };
  auto minimal = [](std::span<const std::uint8_t> v) {
    std::size_t i = 0;
    while (i + 1 < v.size() && v[i] == 0)
      ++i;
    const auto b = v.subspan(i);
    return integer{b, (b[0] & 0x80u) != 0};
  };
  const integer ints[2] = {minimal(raw.first(half)), minimal(raw.subspan(half, half))};
  auto length_size = [](std::size_t n) -> std::size_t { return n < 0x80 ? 1 : n < 0x100 ? 2 : 3; };
  std::size_t body = 0;
  for (const auto& i : ints)
    body += 1 + length_size(i.content()) + i.content();
  const std::size_t total = 1 + length_size(body) + body;
  if (total > der.size()) return 0;
  std::size_t o = 0;
  auto put_length = [&](std::size_t n) {
    if (n >= 0x100)
      der[o++] = 0x82, der[o++] = static_cast<std::uint8_t>(n >> 8);
    else if (n >= 0x80)
      der[o++] = 0x81;
    der[o++] = static_cast<std::uint8_t>(n);
  };
  der[o++] = 0x30;
  put_length(body);
  for (const auto& i : ints) {
    der[o++] = 0x02;
    put_length(i.content());
    if (i.pad) der[o++] = 0x00;
    std::copy(i.bytes.begin(), i.bytes.end(), der.begin() + static_cast<std::ptrdiff_t>(o));
    o += i.bytes.size();
  }
  return o;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// RFC 8725 §3.1-3.2: "none" and MAC algorithms are never acceptable for these tokens; other
// names are simply ones we do not implement.
auth_error unknown_alg_reason(std::string_view name) noexcept {
  if (iequals(name, "none")) return auth_error::alg_not_allowed;
  if (name.size() >= 2 && (name[0] | 0x20) == 'h' && (name[1] | 0x20) == 's') {
    return auth_error::alg_not_allowed;
  }
  return auth_error::alg_unsupported;
}

std::string_view view(const json::string& s) noexcept {
  return {s.data(), s.size()};
}

// Bytes on the stack up to N, on the heap beyond.
template <std::size_t N>
class scratch {
 public:
  explicit scratch(std::size_t n) : size_(n) {
    if (n > N) heap_.resize(n);
  }
  std::span<std::uint8_t> span() noexcept {
    return {size_ > N ? heap_.data() : stack_.data(), size_};
  }

 private:
  std::array<std::uint8_t, N> stack_;
  std::vector<std::uint8_t> heap_;
  std::size_t size_;
};

struct checked_jws {
  jws_parts parts;
  const jwk* key = nullptr;
};

// The header checks shared by check_jws and peek_jose_header. `kid`/`typ` view into `hdr`.
auth_error read_header(const json::object& hdr, jws_alg& alg, std::string_view& kid,
                       std::string_view& typ) noexcept {
  for (std::string_view forbidden : {"jku", "x5u", "jwk", "x5c"}) {
    if (hdr.contains(json::string_view(forbidden.data(), forbidden.size()))) {
      return auth_error::header_forbidden;
    }
  }
  if (hdr.contains("crit")) return auth_error::crit_unsupported;
  const json::value* alg_member = hdr.if_contains("alg");
  const json::string* alg_name_str = alg_member ? alg_member->if_string() : nullptr;
  if (!alg_name_str) return auth_error::malformed_token;
  if (const json::value* v = hdr.if_contains("kid")) {
    const json::string* s = v->if_string();
    if (!s) return auth_error::malformed_token;
    kid = view(*s);
  }
  if (const json::value* v = hdr.if_contains("typ")) {
    const json::string* s = v->if_string();
    if (!s) return auth_error::malformed_token;
    typ = view(*s);
  }
  const auto a = alg_from_name(view(*alg_name_str));
  if (!a) return unknown_alg_reason(view(*alg_name_str));
  alg = *a;
  return auth_error::ok;
}

// Decodes the protected header (its bytes into `scratch_bytes`, the object into `mr`).
result<json::object> decode_header(std::string_view header_b64, const json_limits& limits,
                                   std::span<std::uint8_t> scratch_bytes,
                                   json::monotonic_resource& mr) {
  auto header_len = base64url_decode(header_b64, scratch_bytes);
  if (!header_len) return header_len.error();
  const std::string_view header_text(reinterpret_cast<const char*>(scratch_bytes.data()),
                                     *header_len);
  return parse_json_object(header_text, limits, json::storage_ptr(&mr));
}

// Steps 1-7 of the order in jws.hpp; fills `header` only once the signature verified. `peeked`,
// when given, is this token's header as peek_jws read it (steps 3-4 already done, with
// kJoseJsonLimits).
result<checked_jws> check_jws(std::string_view token, const key_set& keys,
                              const jws_verify_options& options, jose_header& header,
                              const jose_header* peeked = nullptr) {
  auto parts = split_compact(token, options.max_token_bytes);
  if (!parts) return parts.error();

  jws_alg alg{};
  std::string_view kid, typ;
  const bool decode = peeked == nullptr || options.header_limits != kJoseJsonLimits;
  const std::size_t header_max = base64url_decoded_max(parts->header_b64.size());
  if (decode && header_max > options.header_limits.max_bytes) return auth_error::json_too_large;
  scratch<kHeaderStackBytes> header_bytes(decode ? header_max : 0);
  alignas(std::max_align_t) unsigned char arena[kHeaderArenaBytes];
  json::monotonic_resource mr(arena, sizeof arena);
  json::object hdr(&mr);  // kid and typ view into it
  if (decode) {
    auto decoded = decode_header(parts->header_b64, options.header_limits, header_bytes.span(), mr);
    if (!decoded) return decoded.error();
    hdr = std::move(*decoded);
    if (auto e = read_header(hdr, alg, kid, typ); e != auth_error::ok) return e;
  } else {
    alg = peeked->alg;
    kid = peeked->kid;
    typ = peeked->typ;
  }
  if (!options.allowed_algs.contains(alg)) return auth_error::alg_not_allowed;

  const jwk* key = keys.find(kid, alg);
  if (!key) {
    return !kid.empty() && keys.contains_kid(kid) ? auth_error::key_use_mismatch
                                                  : auth_error::kid_unknown;
  }

  if (parts->signature_b64.size() > base64url_encoded_size(kMaxSignatureBytes)) {
    return auth_error::signature_invalid;
  }
  std::array<std::uint8_t, base64url_decoded_max(base64url_encoded_size(kMaxSignatureBytes))>
      sig_bytes;
  auto sig_len = base64url_decode(parts->signature_b64, sig_bytes);
  if (!sig_len) return sig_len.error();
  if (auto v = verify_signature(*key, alg, parts->signing_input,
                                std::span<const std::uint8_t>(sig_bytes.data(), *sig_len));
      !v) {
    return v.error();
  }

  header.alg = alg;
  header.kid.assign(kid);
  header.typ.assign(typ);
  return checked_jws{*parts, key};
}

std::string encode_signing_input(std::string_view header_json, std::string_view payload) {
  std::string out = base64url_encode(header_json);
  out += '.';
  out += base64url_encode(payload);
  return out;
}

result<std::string> finish_compact(std::string signing_input, EVP_PKEY* key, jws_alg alg) {
  auto sig = compute_signature(key, alg, signing_input);
  if (!sig) return sig.error();
  signing_input += '.';
  signing_input += base64url_encode(*sig);
  return signing_input;
}

// Whether a private key can produce `alg` signatures (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
auth_error check_signing_key(EVP_PKEY* key, jws_alg alg) {
  if (is_rsa(alg)) {
    if (!EVP_PKEY_is_a(key, "RSA")) return auth_error::key_use_mismatch;
    return EVP_PKEY_get_bits(key) < 2048 ? auth_error::key_too_weak : auth_error::ok;
  }
  if (is_ecdsa(alg)) {
    if (!EVP_PKEY_is_a(key, "EC")) return auth_error::key_use_mismatch;
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      return fail(auth_error::key_use_mismatch);
    }
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    return nid == ecdsa_nid(alg) ? auth_error::ok : fail(auth_error::key_use_mismatch);
  }
  return EVP_PKEY_is_a(key, "ED25519") ? auth_error::ok : auth_error::key_use_mismatch;
}
}  // namespace

result<jws_parts> split_compact(std::string_view token, std::size_t max_bytes) noexcept {
  if (token.size() > max_bytes) return auth_error::token_too_large;
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return auth_error::malformed_token;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return auth_error::malformed_token;
  if (token.find('.', second + 1) != std::string_view::npos) return auth_error::malformed_token;
  jws_parts p;
  p.header_b64 = token.substr(0, first);
  p.payload_b64 = token.substr(first + 1, second - first - 1);
  p.signature_b64 = token.substr(second + 1);
  p.signing_input = token.substr(0, second);
  if (p.header_b64.empty() || p.signature_b64.empty()) return auth_error::malformed_token;
  return p;
}

result<peeked_jws> peek_jws(std::string_view token, std::size_t max_token_bytes) noexcept {
  auto header = peek_jose_header(token, max_token_bytes);
  if (!header) return header.error();
  return peeked_jws(token, std::move(*header));
}

result<jose_header> peek_jose_header(std::string_view token, std::size_t max_token_bytes) noexcept {
  auto parts = split_compact(token, max_token_bytes);
  if (!parts) return parts.error();
  const json_limits& limits = kJoseJsonLimits;
  const std::size_t header_max = base64url_decoded_max(parts->header_b64.size());
  if (header_max > limits.max_bytes) return auth_error::json_too_large;
  try {
    scratch<kHeaderStackBytes> header_bytes(header_max);
    alignas(std::max_align_t) unsigned char arena[kHeaderArenaBytes];
    json::monotonic_resource mr(arena, sizeof arena);
    auto hdr = decode_header(parts->header_b64, limits, header_bytes.span(), mr);
    if (!hdr) return hdr.error();
    jose_header out;
    std::string_view kid, typ;
    if (auto e = read_header(*hdr, out.alg, kid, typ); e != auth_error::ok) return e;
    out.kid.assign(kid);
    out.typ.assign(typ);
    return out;
  } catch (const std::bad_alloc&) {
    return auth_error::internal_error;
  }
}

result<void> verify_signature(const jwk& key, jws_alg alg, std::string_view signing_input,
                              std::span<const std::uint8_t> signature) noexcept {
  if (!key.algs.contains(alg) || !key.pkey) return auth_error::key_use_mismatch;
  if (signature.size() != signature_size(key, alg)) return auth_error::signature_invalid;

  std::array<std::uint8_t, 160> der{};  // DER of a P-521 signature is at most 139 octets
  const unsigned char* sig = signature.data();
  std::size_t sig_len = signature.size();
  if (is_ecdsa(alg)) {
    const std::size_t half = signature.size() / 2;
    // r = 0 or s = 0 can never verify; refuse before any arithmetic (CVE-2022-21449 class).
    if (all_zero(signature.first(half)) || all_zero(signature.last(half))) {
      return auth_error::signature_invalid;
    }
    sig_len = ecdsa_raw_to_der(signature, der);
    if (sig_len == 0) return fail(auth_error::internal_error);
    sig = der.data();
  }

  evp_md_ctx_ptr ctx;
  if (const EVP_MD_CTX* prepared = key.verify_contexts[static_cast<std::size_t>(alg)].get()) {
    ctx.reset(EVP_MD_CTX_new());
    if (ctx && EVP_MD_CTX_copy_ex(ctx.get(), prepared) != 1) {
      ctx.reset();
      clear_openssl_errors();
    }
  }
  if (!ctx) ctx = init_verify_context(key.pkey.get(), alg);
  if (!ctx) return fail(auth_error::internal_error);
  // This context verifies once: without the flag EVP_DigestVerifyFinal duplicates the signature
  // context again to keep this one reusable (an allocation-heavy copy per verification).
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  if (EVP_DigestVerify(ctx.get(), sig, sig_len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return fail(auth_error::signature_invalid);
  }
  return {};
}

evp_md_ctx_ptr make_verify_context(EVP_PKEY* key, jws_alg alg) noexcept {
  evp_md_ctx_ptr ctx = init_verify_context(key, alg);
  // Only worth keeping if this provider can duplicate it (verify_signature copies it).
  evp_md_ctx_ptr probe(EVP_MD_CTX_new());
  if (!ctx || !probe || EVP_MD_CTX_copy_ex(probe.get(), ctx.get()) != 1) {
    clear_openssl_errors();
    return nullptr;
  }
  return ctx;
}

result<verified_jws_bytes> verify_jws_bytes(std::string_view token, const key_set& keys,
                                            const jws_verify_options& options) {
  verified_jws_bytes out;
  auto checked = check_jws(token, keys, options, out.header);
  if (!checked) return checked.error();
  auto payload = base64url_decode(checked->parts.payload_b64);
  if (!payload) return payload.error();
  out.payload = std::move(*payload);
  out.key = checked->key;
  return out;
}

namespace {

result<json::object> decode_payload(std::string_view b64, const json_limits& limits) {
  const std::size_t max = base64url_decoded_max(b64.size());
  if (max > limits.max_bytes) return auth_error::json_too_large;
  scratch<4096> bytes(max);
  auto len = base64url_decode(b64, bytes.span());
  if (!len) return len.error();
  return parse_json_object(
      std::string_view(reinterpret_cast<const char*>(bytes.span().data()), *len), limits);
}

}  // namespace

result<verified_jws> verify_jws(std::string_view token, const key_set& keys,
                                const jws_verify_options& options) {
  verified_jws out;
  auto checked = check_jws(token, keys, options, out.header);
  if (!checked) return checked.error();
  auto payload = decode_payload(checked->parts.payload_b64, options.payload_limits);
  if (!payload) return payload.error();
  out.payload = std::move(*payload);
  out.key = checked->key;
  return out;
}

result<json::object> parse_jws_payload(std::string_view token, std::size_t max_token_bytes,
                                       const json_limits& limits) {
  auto parts = split_compact(token, max_token_bytes);
  if (!parts) return parts.error();
  return decode_payload(parts->payload_b64, limits);
}

result<jose_header> verify_jws_signature(std::string_view token, const key_set& keys,
                                         const jws_verify_options& options) {
  jose_header header;
  auto checked = check_jws(token, keys, options, header);
  if (!checked) return checked.error();
  return header;
}

result<jose_header> verify_jws_signature(const peeked_jws& jws, const key_set& keys,
                                         const jws_verify_options& options) {
  jose_header header;
  auto checked = check_jws(jws.token(), keys, options, header, &jws.header());
  if (!checked) return checked.error();
  return header;
}

namespace {

evp_md_ctx_ptr init_sign_context(EVP_PKEY* key, jws_alg alg) noexcept {
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = digest_for(alg);
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1 ||
      (is_pss(alg) && !set_pss(pctx, md))) {
    clear_openssl_errors();
    return nullptr;
  }
  return ctx;
}

// One signature with an initialised context (used up: callers pass a fresh or copied one).
result<std::vector<std::uint8_t>> sign_with(EVP_MD_CTX* ctx, EVP_PKEY* private_key, jws_alg alg,
                                            std::string_view signing_input);

}  // namespace

evp_md_ctx_ptr make_sign_context(EVP_PKEY* private_key, jws_alg alg) noexcept {
  if (!private_key || alg >= jws_alg::count_ ||
      check_signing_key(private_key, alg) != auth_error::ok) {
    clear_openssl_errors();
    return nullptr;
  }
  evp_md_ctx_ptr ctx = init_sign_context(private_key, alg);
  evp_md_ctx_ptr probe(EVP_MD_CTX_new());
  if (!ctx || !probe || EVP_MD_CTX_copy_ex(probe.get(), ctx.get()) != 1) {
    clear_openssl_errors();
    return nullptr;
  }
  return ctx;
}

result<std::string> sign_compact_prepared(const json::object& header, const json::object& payload,
                                          const EVP_MD_CTX* prepared, jws_alg alg) {
  const json::string* name = find_string(header, "alg");
  if (!prepared || !name || view(*name) != alg_name(alg)) return auth_error::internal_error;
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), prepared) != 1) return fail(auth_error::internal_error);
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);  // signs once (see verify_signature)
  EVP_PKEY* key = EVP_PKEY_CTX_get0_pkey(EVP_MD_CTX_get_pkey_ctx(ctx.get()));
  if (!key) return fail(auth_error::internal_error);
  std::string signing_input =
      encode_signing_input(json::serialize(header), json::serialize(payload));
  auto sig = sign_with(ctx.get(), key, alg, signing_input);
  if (!sig) return sig.error();
  signing_input += '.';
  signing_input += base64url_encode(*sig);
  return signing_input;
}

result<std::vector<std::uint8_t>> compute_signature(EVP_PKEY* private_key, jws_alg alg,
                                                    std::string_view signing_input) {
  if (!private_key || alg >= jws_alg::count_) return auth_error::internal_error;
  if (auto e = check_signing_key(private_key, alg); e != auth_error::ok) return e;
  evp_md_ctx_ptr ctx = init_sign_context(private_key, alg);
  if (!ctx) return fail(auth_error::internal_error);
  return sign_with(ctx.get(), private_key, alg, signing_input);
}

namespace {

result<std::vector<std::uint8_t>> sign_with(EVP_MD_CTX* ctx, EVP_PKEY* private_key, jws_alg alg,
                                            std::string_view signing_input) {
  std::vector<std::uint8_t> sig(static_cast<std::size_t>(EVP_PKEY_get_size(private_key)));
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx, sig.data(), &len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return fail(auth_error::internal_error);
  }
  sig.resize(len);
  if (!is_ecdsa(alg)) return sig;

  // OpenSSL emits DER; JWS wants fixed-width r||s (RFC 7518 §3.4).
  const unsigned char* p = sig.data();
  ecdsa_sig_ptr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!parsed) return fail(auth_error::internal_error);
  const std::size_t half = ecdsa_half(alg);
  std::vector<std::uint8_t> raw(2 * half);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), raw.data(), static_cast<int>(half)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), raw.data() + half, static_cast<int>(half)) < 0) {
    return fail(auth_error::internal_error);
  }
  return raw;
}

}  // namespace

result<std::string> sign_compact(const json::object& header, const json::object& payload,
                                 EVP_PKEY* private_key, jws_alg alg) {
  const json::string* name = find_string(header, "alg");
  if (!name || view(*name) != alg_name(alg)) return auth_error::internal_error;
  return finish_compact(encode_signing_input(json::serialize(header), json::serialize(payload)),
                        private_key, alg);
}

result<std::string> sign_compact_bytes(std::string_view header_json, std::string_view payload,
                                       EVP_PKEY* private_key, jws_alg alg) {
  return finish_compact(encode_signing_input(header_json, payload), private_key, alg);
}

}  // namespace oidc
