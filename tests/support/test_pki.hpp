// SPDX-License-Identifier: Apache-2.0
// Test PKI for TLS tests: an EC P-256 CA and leaf certificates it signs (OpenSSL 3 X509 APIs), as
// PEM strings and as files in a fresh temporary directory. Header-only: tests/support is not a
// library.
//
//   const auto& pki = oidc::test::cached_test_pki();          // CA + leaf for localhost, once
//   const auto& files = oidc::test::cached_test_pki_files();  // ca.pem / cert.pem / key.pem
//   auto other = oidc::test::issue_leaf(pki, {"other.test"}, {});  // another leaf, same CA
//   auto rogue = oidc::test::make_test_pki();                 // an unrelated CA (untrusted)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "oidc/ossl.hpp"

namespace oidc::test {

struct pem_cert_key {
  std::string cert_pem;
  std::string key_pem;
};

// A CA (self-signed) and a leaf it signed for DNS:localhost, IP:127.0.0.1 and IP:::1.
struct test_pki {
  pem_cert_key ca;
  pem_cert_key leaf;
};

// Paths of the PEM files of a test_pki written to a fresh temporary directory.
struct pki_files {
  std::filesystem::path dir;
  std::filesystem::path ca;    // ca.pem: the CA certificate (trust anchor)
  std::filesystem::path cert;  // cert.pem: the leaf certificate
  std::filesystem::path key;   // key.pem: the leaf private key
};

namespace pki_detail {

using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509_free>>;
using x509_ext_ptr = std::unique_ptr<X509_EXTENSION, ossl_deleter<X509_EXTENSION_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO_free_all>>;

[[noreturn]] inline void fail(const char* what) {
  clear_openssl_errors();
  throw std::runtime_error(std::string("test_pki: ") + what);
}

inline evp_pkey_ptr new_p256_key() {
  evp_pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EC key generation");
  return key;
}

inline std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline std::string cert_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM_write_bio_X509");
  return bio_string(bio.get());
}

inline std::string key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey");
  }
  return bio_string(bio.get());
}

inline x509_ptr parse_cert(const std::string& pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  x509_ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) fail("PEM_read_bio_X509");
  return cert;
}

inline evp_pkey_ptr parse_key(const std::string& pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  evp_pkey_ptr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) fail("PEM_read_bio_PrivateKey");
  return key;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("X509 extension");
}

// A certificate for `key` named `common_name`, valid from an hour ago for `days`, signed by
// sign() (self-signed when issuer is null).
inline x509_ptr new_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, long days) {
  x509_ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("X509_new");
  static std::atomic<long> serial{static_cast<long>(std::random_device{}() & 0xffffff)};
  if (ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial) != 1) fail("serial");
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600) == nullptr) {
    fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1) fail("CN");
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    fail("issuer/pubkey");
  }
  return cert;
}

inline void sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) fail("X509_sign");
}

}  // namespace pki_detail

// A leaf signed by `pki.ca` for the given DNS names and IP addresses (text form, e.g. "::1").
inline pem_cert_key issue_leaf(const test_pki& pki, const std::vector<std::string>& dns_names,
                               const std::vector<std::string>& ip_addresses) {
  using namespace pki_detail;
  auto ca_cert = parse_cert(pki.ca.cert_pem);
  auto ca_key = parse_key(pki.ca.key_pem);
  auto key = new_p256_key();
  const std::string cn = dns_names.empty() ? std::string("test leaf") : dns_names.front();
  auto cert = new_cert(key.get(), cn, ca_cert.get(), 30);
  std::string san;
  for (const auto& d : dns_names)
    san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : ip_addresses)
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_ext(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!san.empty()) add_ext(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
  sign(cert.get(), ca_key.get());
  return {cert_pem(cert.get()), key_pem(key.get())};
}

// A fresh CA and a leaf for localhost (not cached: use it for an "untrusted CA").
inline test_pki make_test_pki() {
  using namespace pki_detail;
  auto ca_key = new_p256_key();
  auto ca = new_cert(ca_key.get(), "oidc test CA", nullptr, 365);
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  sign(ca.get(), ca_key.get());
  test_pki pki;
  pki.ca = {cert_pem(ca.get()), key_pem(ca_key.get())};
  pki.leaf = issue_leaf(pki, {"localhost"}, {"127.0.0.1", "::1"});
  return pki;
}

// The process-wide test PKI, generated once.
inline const test_pki& cached_test_pki() {
  static const test_pki pki = make_test_pki();
  return pki;
}

// Writes ca.pem, cert.pem (leaf) and key.pem (leaf key) into a new unique temporary directory.
inline pki_files write_pki_files(const test_pki& pki) {
  namespace fs = std::filesystem;
  static std::atomic<unsigned> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  pki_files files;
  files.dir = fs::temp_directory_path() / ("oidc-test-pki-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(stamp) + "-" + std::to_string(counter++));
  fs::create_directories(files.dir);
  files.ca = files.dir / "ca.pem";
  files.cert = files.dir / "cert.pem";
  files.key = files.dir / "key.pem";
  auto write = [](const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("test_pki: cannot write " + path.string());
  };
  write(files.ca, pki.ca.cert_pem);
  write(files.cert, pki.leaf.cert_pem);
  write(files.key, pki.leaf.key_pem);
  fs::permissions(files.key, fs::perms::owner_read | fs::perms::owner_write);
  return files;
}

// The files of cached_test_pki(), written once per process and removed at exit.
inline const pki_files& cached_test_pki_files() {
  struct owned_files {
    pki_files files = write_pki_files(cached_test_pki());
    owned_files() = default;
    owned_files(const owned_files&) = delete;
    owned_files& operator=(const owned_files&) = delete;
    ~owned_files() {
      std::error_code ignored;
      std::filesystem::remove_all(files.dir, ignored);
    }
  };
  static const owned_files owned;
  return owned.files;
}

}  // namespace oidc::test
