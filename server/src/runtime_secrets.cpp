// SPDX-License-Identifier: Apache-2.0
// Secret resolution and runtime key material.
#include "runtime_secrets.hpp"

#include <cstdlib>
#include <fstream>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "oidc/base64url.hpp"

namespace oidc::server {
namespace {

// Wipes a string holding secret material when it goes out of scope.
struct wipe_on_exit {
  std::string& s;
  ~wipe_on_exit() {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  }
};

std::optional<std::string> system_getenv(std::string_view name) {
  const std::string n(name);
  const char* v = std::getenv(n.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

struct bio_free_t {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct x509_free_t {
  void operator()(X509* x) const noexcept { X509_free(x); }
};

// A secret from its file or variable, trailing whitespace and newlines removed.
std::optional<std::string> read_secret(const secret_ref& ref, const secret_reader& reader) {
  std::optional<std::string> text =
      ref.kind == secret_ref::source::file ? reader.read_file(ref.name) : reader.getenv(ref.name);
  if (!text) return std::nullopt;
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r' || text->back() == ' ' ||
                            text->back() == '\t'))
    text->pop_back();
  if (text->empty()) return std::nullopt;
  return text;
}

}  // namespace

client_credential::~client_credential() {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

std::shared_ptr<const client_credential> make_private_key_jwt_credential(
    std::string_view key_pem, std::string_view certificate_pem, std::string& problem) {
  std::unique_ptr<BIO, bio_free_t> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  EVP_PKEY* raw_key =
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!raw_key) {
    ERR_clear_error();
    problem = "key_file: not an unencrypted PEM private key";
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key(raw_key, EVP_PKEY_free);
  // RS256 only (RFC 7523 §3; Entra accepts RS256 or PS256 client assertions).
  if (!EVP_PKEY_is_a(key.get(), "RSA") || EVP_PKEY_get_bits(key.get()) < 2048) {
    problem = "key_file: must be an RSA key of at least 2048 bits";
    return nullptr;
  }
  std::unique_ptr<BIO, bio_free_t> cert_bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  std::unique_ptr<X509, x509_free_t> cert(
      cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    problem = "certificate_file: not a PEM certificate";
    return nullptr;
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    ERR_clear_error();
    problem = "certificate_file: does not hold the public key of key_file";
    return nullptr;
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    problem = "certificate_file: cannot be encoded";
    return nullptr;
  }
  std::uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(der_len), digest, &digest_len,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) {
    ERR_clear_error();
    problem = "certificate_file: cannot be hashed";
    return nullptr;
  }
  auto cred = std::make_shared<client_credential>();
  cred->method = client_auth_method::private_key_jwt;
  cred->key = std::move(key);
  // RFC 7515 §4.1.8: x5t#S256 is the base64url SHA-256 thumbprint of the DER certificate.
  cred->x5t_s256 = base64url_encode(std::span<const std::uint8_t>(digest, digest_len));
  return cred;
}

std::optional<std::string> read_file_bounded(const std::filesystem::path& p,
                                             std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec || size > max_bytes) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out(static_cast<std::size_t>(size), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  if (in.gcount() != static_cast<std::streamsize>(out.size())) return std::nullopt;
  return out;
}

secret_reader system_secret_reader() {
  secret_reader r;
  r.read_file = [](const std::filesystem::path& p) {
    return read_file_bounded(p, kMaxSecretFileBytes);
  };
  r.getenv = system_getenv;
  return r;
}

config_result load_config_file(const std::filesystem::path& file) {
  auto text = read_file_bounded(file, kMaxConfigFileBytes);
  if (!text) {
    return std::vector<config_error>{
        {"", "cannot read the configuration file (missing, unreadable or over 4 MiB)",
         file.string()}};
  }
  config_environment env;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(file, ec);
  env.config_dir = ec ? file.parent_path() : absolute.parent_path();
  env.getenv = system_getenv;
  return parse_config(*text, env);
}

secrets_result load_runtime_secrets(const server_config& config, const secret_reader& reader) {
  std::vector<config_error> errors;
  auto ring = std::make_shared<cookie_key_ring>();
  for (std::size_t i = 0; i < config.cookies.keys.size(); ++i) {
    const auto& k = config.cookies.keys[i];
    const std::string path = "cookies.keys[" + std::to_string(i) + "]";
    std::optional<std::string> text;
    if (k.secret.kind == secret_ref::source::file) {
      text = reader.read_file(k.secret.name);
      if (!text) {
        errors.push_back({path + ".secret_file", "cannot read the file", k.secret.name});
        continue;
      }
    } else {
      text = reader.getenv(k.secret.name);
      if (!text || text->empty()) {
        errors.push_back({path + ".secret_env", "the variable is not set", k.secret.name});
        continue;
      }
    }
    wipe_on_exit wipe{*text};
    auto key = decode_secret_key_32(*text);
    if (!key) {
      errors.push_back(
          {path, "must hold 32 bytes as 64 hex digits or 43 base64url characters", ""});
      continue;
    }
    auto added = ring->add(k.id, *key);
    OPENSSL_cleanse(key->data(), key->size());
    if (!added) errors.push_back({path + ".id", "duplicate cookie key id", std::to_string(k.id)});
  }

  std::vector<session_key> keys;
  for (std::size_t i = 0; i < config.session.signing_keys.size(); ++i) {
    const auto& k = config.session.signing_keys[i];
    auto pem = reader.read_file(k.private_key_file);
    if (!pem) {
      errors.push_back({"session.signing_keys[" + std::to_string(i) + "].private_key_file",
                        "cannot read the file", k.private_key_file.string()});
      continue;
    }
    keys.push_back({std::move(*pem), k.kid});
  }
  std::shared_ptr<const session_signer> signer;
  if (errors.empty()) {
    session_signer_options opts;
    opts.issuer = config.session.issuer;
    opts.lifetime =
        std::chrono::duration_cast<std::chrono::seconds>(config.timeouts.session_lifetime);
    opts.leeway = std::chrono::duration_cast<std::chrono::seconds>(config.session.clock_skew);
    auto created = session_signer::create(keys, opts);
    if (created) {
      signer = std::make_shared<const session_signer>(std::move(*created));
    } else {
      errors.push_back({"session.signing_keys",
                        "cannot build the session signer: " + std::string(label(created.error())) +
                            " (keys must be unencrypted EC P-256 PEM)",
                        ""});
    }
  }
  for (auto& k : keys)
    OPENSSL_cleanse(k.private_key_pem.data(), k.private_key_pem.size());

  std::unordered_map<std::string, std::shared_ptr<const client_credential>> clients;
  const auto& orgs = config.organisations();
  for (std::size_t i = 0; i < orgs.size(); ++i) {
    const auto& org = orgs[i];
    const auto& ca = org.client_auth;
    const std::string path = "organisations[" + std::to_string(i) + "].client_auth";
    if (ca.method == client_auth_method::client_secret_post) {
      if (!ca.secret) {
        errors.push_back({path, "client_secret_post needs secret_file or secret_env", ""});
        continue;
      }
      auto secret = read_secret(*ca.secret, reader);
      if (!secret) {
        errors.push_back(
            {path + (ca.secret->kind == secret_ref::source::file ? ".secret_file" : ".secret_env"),
             "cannot be read or is empty", ca.secret->name});
        continue;
      }
      auto cred = std::make_shared<client_credential>();
      cred->method = ca.method;
      cred->secret = std::move(*secret);
      clients.emplace(org.name, std::move(cred));
    } else if (ca.method == client_auth_method::private_key_jwt) {
      auto key_pem = reader.read_file(ca.key_file);
      if (!key_pem) {
        errors.push_back({path + ".key_file", "cannot read the file", ca.key_file.string()});
        continue;
      }
      wipe_on_exit wipe{*key_pem};
      auto cert_pem = reader.read_file(ca.certificate_file);
      if (!cert_pem) {
        errors.push_back(
            {path + ".certificate_file", "cannot read the file", ca.certificate_file.string()});
        continue;
      }
      std::string problem;
      auto cred = make_private_key_jwt_credential(*key_pem, *cert_pem, problem);
      if (!cred) {
        errors.push_back({path, problem, ""});
        continue;
      }
      clients.emplace(org.name, std::move(cred));
    }
  }
  if (!errors.empty()) return errors;
  runtime_secrets out;
  out.cookie_keys = std::move(ring);
  out.sessions = std::move(signer);
  out.clients = std::move(clients);
  return out;
}

}  // namespace oidc::server
