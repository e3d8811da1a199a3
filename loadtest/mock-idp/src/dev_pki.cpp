// SPDX-License-Identifier: Apache-2.0
// Development CA and localhost certificate generation with OpenSSL 3's X509 APIs.
#include "dev_pki.hpp"

#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "oidc/ossl.hpp"

namespace oidc::mock {
namespace {

using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509_free>>;
using x509_ext_ptr = std::unique_ptr<X509_EXTENSION, ossl_deleter<X509_EXTENSION_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO_free_all>>;

[[noreturn]] void fail(const char* what) {
  clear_openssl_errors();
  throw std::runtime_error(std::string("dev PKI: ") + what);
}

evp_pkey_ptr new_p256_key() {
  evp_pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EC key generation");
  return key;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string cert_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM_write_bio_X509");
  return bio_string(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey");
  }
  return bio_string(bio.get());
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("X509 extension");
}

// Serial numbers are 16 random octets (CA/Browser Forum asks for at least 64 random bits).
x509_ptr new_cert(EVP_PKEY* key, const char* common_name, X509* issuer, long days) {
  x509_ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("X509_new");
  bignum_ptr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("serial");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600) == nullptr) {
    fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1) fail("CN");
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    fail("issuer or key");
  }
  return cert;
}

void write_file(const std::filesystem::path& path, const std::string& data, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("dev PKI: cannot write " + path.string());
  if (secret) {
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  out << data;
  if (!out.flush()) throw std::runtime_error("dev PKI: cannot write " + path.string());
}

}  // namespace

dev_pki generate_dev_pki() {
  auto ca_key = new_p256_key();
  auto ca = new_cert(ca_key.get(), "oidc-callback-server development CA", nullptr, 3650);
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(ca.get(), ca_key.get(), EVP_sha256()) <= 0) fail("X509_sign CA");

  auto leaf_key = new_p256_key();
  // 397 days: below the 398-day ceiling browsers apply to server certificates.
  auto leaf = new_cert(leaf_key.get(), "localhost", ca.get(), 397);
  add_ext(leaf.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(leaf.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(leaf.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(leaf.get(), ca.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  add_ext(leaf.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) <= 0) fail("X509_sign leaf");

  dev_pki pki;
  pki.ca_cert_pem = cert_pem(ca.get());
  pki.leaf_cert_pem = cert_pem(leaf.get());
  pki.leaf_key_pem = key_pem(leaf_key.get());
  return pki;
}

bool ensure_dev_pki(const std::filesystem::path& dir) {
  const auto ca = dir / "ca.pem";
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  if (std::filesystem::exists(ca) && std::filesystem::exists(cert) &&
      std::filesystem::exists(key)) {
    return false;
  }
  std::filesystem::create_directories(dir);
  const dev_pki pki = generate_dev_pki();
  write_file(key, pki.leaf_key_pem, true);
  write_file(cert, pki.leaf_cert_pem, false);
  write_file(ca, pki.ca_cert_pem, false);
  return true;
}

}  // namespace oidc::mock
