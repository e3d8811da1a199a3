// SPDX-License-Identifier: Apache-2.0
// Secret resolution and runtime key material.
#include "runtime_secrets.hpp"

#include <cstdlib>
#include <fstream>
#include <system_error>

#include <openssl/crypto.h>

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

}  // namespace

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
  if (!errors.empty()) return errors;
  return runtime_secrets{std::move(ring), std::move(signer)};
}

}  // namespace oidc::server
