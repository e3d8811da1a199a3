// SPDX-License-Identifier: Apache-2.0
// AES-256-GCM sealed cookies under a key ring, and the login-state record sealed in one.
#include "oidc/sealed_cookie.hpp"

#include <algorithm>
#include <array>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/json.hpp"
#include "oidc/ossl.hpp"

namespace oidc {
namespace {

// OpenSSL 3 resolves EVP_aes_256_gcm() through the provider on every init; fetch it once. The
// fetched cipher is immutable and shared by all threads for the process's lifetime.
const EVP_CIPHER* aes_256_gcm() noexcept {
  static const std::unique_ptr<EVP_CIPHER, ossl_deleter<EVP_CIPHER_free>> cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher ? cipher.get() : EVP_aes_256_gcm();
}
using std::chrono::sys_seconds;

constexpr std::size_t kNonceBytes = 12;  // GCM's native IV size (SP 800-38D §8.2)
constexpr std::size_t kTagBytes = 16;    // full tag; truncated tags weaken GCM (SP 800-38D App. C)
constexpr std::size_t kExpiryBytes = 8;
constexpr std::size_t kHeaderBytes = 2;  // version, key id
constexpr std::size_t kOverheadBytes = kHeaderBytes + kNonceBytes + kExpiryBytes + kTagBytes;
constexpr std::size_t kMaxRawBytes = base64url_decoded_max(kMaxSealedCookieChars);

std::array<std::uint8_t, kExpiryBytes> encode_expiry(sys_seconds t) noexcept {
  auto v = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.time_since_epoch().count()));
  std::array<std::uint8_t, kExpiryBytes> out{};
  for (std::size_t i = kExpiryBytes; i-- > 0; v >>= 8)
    out[i] = static_cast<std::uint8_t>(v);
  return out;
}

sys_seconds decode_expiry(std::span<const std::uint8_t, kExpiryBytes> b) noexcept {
  std::uint64_t v = 0;
  for (const auto byte : b)
    v = v << 8 | byte;
  return sys_seconds(std::chrono::seconds(static_cast<std::int64_t>(v)));
}

const std::uint8_t* bytes_of(std::string_view s) noexcept {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

// AAD = version || key id || purpose. The header has a fixed size, so the purpose needs no
// length prefix to be unambiguous.
bool add_aad(EVP_CIPHER_CTX* ctx, std::span<const std::uint8_t, kHeaderBytes> header,
             std::string_view purpose, bool encrypt) noexcept {
  const auto update = encrypt ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  int n = 0;
  if (update(ctx, nullptr, &n, header.data(), static_cast<int>(header.size())) != 1) return false;
  return purpose.empty() ||
         update(ctx, nullptr, &n, bytes_of(purpose), static_cast<int>(purpose.size())) == 1;
}
}  // namespace

struct cookie_key_ring::key {
  cookie_key_id id{};
  std::array<std::uint8_t, kCookieKeyBytes> bytes{};
  key() = default;
  key(const key&) = delete;
  key& operator=(const key&) = delete;
  ~key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

cookie_key_ring::cookie_key_ring() = default;
cookie_key_ring::~cookie_key_ring() = default;
cookie_key_ring::cookie_key_ring(cookie_key_ring&&) noexcept = default;
cookie_key_ring& cookie_key_ring::operator=(cookie_key_ring&&) noexcept = default;

result<void> cookie_key_ring::add(cookie_key_id id, std::span<const std::uint8_t> key_bytes) {
  if (key_bytes.size() != kCookieKeyBytes) return auth_error::config_invalid;
  if (std::any_of(keys_.begin(), keys_.end(), [id](const auto& k) { return k->id == id; }))
    return auth_error::config_invalid;
  auto k = std::make_unique<key>();
  k->id = id;
  std::copy(key_bytes.begin(), key_bytes.end(), k->bytes.begin());
  keys_.push_back(std::move(k));
  return {};
}

std::optional<cookie_key_id> cookie_key_ring::sealing_key_id() const noexcept {
  if (keys_.empty()) return std::nullopt;
  return keys_.back()->id;
}

result<std::string> cookie_key_ring::seal(std::string_view purpose, std::string_view plaintext,
                                          sys_seconds expires_at, random_source& rng) const {
  if (keys_.empty()) return auth_error::config_invalid;
  if (plaintext.size() > kMaxRawBytes - kOverheadBytes) return auth_error::request_invalid;
  const key& k = *keys_.back();

  std::string raw(kOverheadBytes + plaintext.size(), '\0');
  auto* out = reinterpret_cast<std::uint8_t*>(raw.data());
  const std::array<std::uint8_t, kHeaderBytes> header{kSealedCookieVersion, k.id};
  std::copy(header.begin(), header.end(), out);
  std::uint8_t* nonce = out + kHeaderBytes;
  std::uint8_t* ciphertext = nonce + kNonceBytes;
  std::uint8_t* tag = ciphertext + kExpiryBytes + plaintext.size();
  // A GCM nonce must never repeat under one key: a repeat reveals the XOR of two plaintexts and
  // lets an attacker recover the authentication key and forge cookies. Random 96-bit nonces are
  // safe up to 2^32 seals per key (SP 800-38D §8.3); logins stay orders of magnitude below that
  // between key rotations, so no counter (and no shared state across instances) is needed.
  rng.fill(std::span<std::uint8_t>(nonce, kNonceBytes));

  const auto expiry = encode_expiry(expires_at);
  evp_cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  int n = 0, m = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), aes_256_gcm(), nullptr, k.bytes.data(), nonce) == 1 &&
      add_aad(ctx.get(), header, purpose, true) &&
      EVP_EncryptUpdate(ctx.get(), ciphertext, &n, expiry.data(), kExpiryBytes) == 1 &&
      EVP_EncryptUpdate(ctx.get(), ciphertext + n, &m, bytes_of(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + n + m, &n) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagBytes, tag) == 1;
  if (!ok) {
    clear_openssl_errors();
    return auth_error::internal_error;
  }
  return base64url_encode(raw);
}

result<std::string> cookie_key_ring::open(std::string_view purpose, std::string_view sealed,
                                          sys_seconds now) const {
  if (sealed.size() > kMaxSealedCookieChars) return auth_error::cookie_malformed;
  std::array<std::uint8_t, kMaxRawBytes> buf;
  const auto decoded = base64url_decode(sealed, buf);
  if (!decoded || *decoded < kOverheadBytes) return auth_error::cookie_malformed;
  const std::span<const std::uint8_t> raw(buf.data(), *decoded);
  if (raw[0] != kSealedCookieVersion) return auth_error::cookie_malformed;

  const auto it = std::find_if(keys_.begin(), keys_.end(),
                               [id = raw[1]](const auto& k) { return k->id == id; });
  if (it == keys_.end()) return auth_error::cookie_key_unknown;
  const key& k = **it;

  const auto header = raw.first<kHeaderBytes>();
  const std::uint8_t* nonce = raw.data() + kHeaderBytes;
  const std::uint8_t* ciphertext = nonce + kNonceBytes;
  const std::size_t plaintext_size = raw.size() - kOverheadBytes;
  std::array<std::uint8_t, kTagBytes> tag{};
  std::copy_n(ciphertext + kExpiryBytes + plaintext_size, kTagBytes, tag.begin());

  std::array<std::uint8_t, kExpiryBytes> expiry{};
  std::string plaintext(plaintext_size, '\0');
  evp_cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), aes_256_gcm(), nullptr, k.bytes.data(), nonce) != 1 ||
      !add_aad(ctx.get(), header, purpose, false) ||
      EVP_DecryptUpdate(ctx.get(), expiry.data(), &n, ciphertext, kExpiryBytes) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<std::uint8_t*>(plaintext.data()), &n,
                        ciphertext + kExpiryBytes, static_cast<int>(plaintext_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag.data()) != 1) {
    clear_openssl_errors();
    return auth_error::internal_error;
  }
  // EVP_DecryptFinal_ex compares the tag in constant time; on failure the bytes already written
  // are unauthenticated and must not escape.
  if (EVP_DecryptFinal_ex(ctx.get(), nullptr, &n) != 1) {
    clear_openssl_errors();
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return auth_error::cookie_tampered;
  }
  if (now >= decode_expiry(expiry)) return auth_error::cookie_expired;
  return plaintext;
}

std::string encode_login_state(const login_state& s) {
  boost::json::object o;
  o.reserve(6);
  o.emplace("state", s.state_id);
  o.emplace("nonce", s.nonce);
  o.emplace("verifier", s.code_verifier);
  o.emplace("org", s.organisation);
  o.emplace("return_to", s.return_to);
  o.emplace("exp", static_cast<std::int64_t>(s.expires_at.time_since_epoch().count()));
  return boost::json::serialize(o);
}

result<login_state> decode_login_state(std::string_view json) {
  constexpr json_limits limits{kMaxRawBytes, 1, 0};
  const auto o = parse_json_object(json, limits);
  if (!o || o->size() != 6) return auth_error::cookie_malformed;
  const auto* state = find_string(*o, "state");
  const auto* nonce = find_string(*o, "nonce");
  const auto* verifier = find_string(*o, "verifier");
  const auto* org = find_string(*o, "org");
  const auto* return_to = find_string(*o, "return_to");
  const auto* exp = o->if_contains("exp");
  if (!state || !nonce || !verifier || !org || !return_to || !exp || !exp->is_int64() ||
      state->empty() || nonce->empty() || verifier->empty())
    return auth_error::cookie_malformed;
  login_state s;
  s.state_id.assign(state->data(), state->size());
  s.nonce.assign(nonce->data(), nonce->size());
  s.code_verifier.assign(verifier->data(), verifier->size());
  s.organisation.assign(org->data(), org->size());
  s.return_to.assign(return_to->data(), return_to->size());
  s.expires_at = sys_seconds(std::chrono::seconds(exp->get_int64()));
  return s;
}

result<std::string> seal_login_state(const cookie_key_ring& ring, const login_state& s,
                                     random_source& rng) {
  std::string json = encode_login_state(s);
  auto sealed = ring.seal(kLoginStatePurpose, json, s.expires_at, rng);
  OPENSSL_cleanse(json.data(), json.size());
  return sealed;
}

result<login_state> open_login_state(const cookie_key_ring& ring, std::string_view sealed,
                                     sys_seconds now) {
  auto json = ring.open(kLoginStatePurpose, sealed, now);
  if (!json) return json.error();
  auto s = decode_login_state(*json);
  OPENSSL_cleanse(json->data(), json->size());
  return s;
}

}  // namespace oidc
