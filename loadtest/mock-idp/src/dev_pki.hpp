// SPDX-License-Identifier: Apache-2.0
// A development PKI for the mock IdP's HTTPS listener: an EC P-256 CA and a leaf certificate for
// localhost, 127.0.0.1 and ::1 that it signs. The demo trusts ca.pem (curl --cacert, k6, the
// callback server's upstream.ca_file).
#pragma once

#include <filesystem>
#include <string>

namespace oidc::mock {

struct dev_pki {
  std::string ca_cert_pem;
  std::string leaf_cert_pem;
  std::string leaf_key_pem;  // PKCS#8
};

// A fresh CA and localhost leaf. Throws std::runtime_error when OpenSSL fails.
dev_pki generate_dev_pki();

// Writes ca.pem, cert.pem and key.pem (mode 0600) into `dir` (created if needed) unless all three
// exist already. Returns true when it wrote them. Throws std::runtime_error on failure.
bool ensure_dev_pki(const std::filesystem::path& dir);

}  // namespace oidc::mock
