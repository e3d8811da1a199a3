// SPDX-License-Identifier: Apache-2.0
// Parsing and validation of the mock IdP's JSON configuration.
#include "mock_config.hpp"

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "assertion_verifier.hpp"
#include "oidc/json.hpp"

namespace oidc::mock {
namespace {

namespace json = boost::json;

class reader {
 public:
  explicit reader(std::vector<std::string>& errors) : errors_(errors) {}

  void fail(const std::string& path, const std::string& problem) {
    errors_.push_back(path + ": " + problem);
  }

  std::string str(const json::object& o, std::string_view key, const std::string& path,
                  bool required, std::string fallback = {}) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) {
      if (required) fail(path + std::string(key), "is required");
      return fallback;
    }
    const json::string* s = v->if_string();
    if (s == nullptr || s->empty()) {
      fail(path + std::string(key), "must be a non-empty string");
      return fallback;
    }
    return std::string(*s);
  }

  std::int64_t integer(const json::object& o, std::string_view key, const std::string& path,
                       std::int64_t fallback, std::int64_t min, std::int64_t max) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return fallback;
    const std::int64_t* i = v->if_int64();
    if (i == nullptr || *i < min || *i > max) {
      fail(path + std::string(key),
           "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return fallback;
    }
    return *i;
  }

  double rate(const json::object& o, std::string_view key, const std::string& path) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return 0;
    double d = -1;
    if (const auto* i = v->if_int64()) d = static_cast<double>(*i);
    if (const auto* f = v->if_double()) d = *f;
    if (d < 0 || d > 1) {
      fail(path + std::string(key), "must be a number from 0 to 1");
      return 0;
    }
    return d;
  }

  bool boolean(const json::object& o, std::string_view key, const std::string& path,
               bool fallback) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return fallback;
    const bool* b = v->if_bool();
    if (b == nullptr) {
      fail(path + std::string(key), "must be true or false");
      return fallback;
    }
    return *b;
  }

  const json::object* object(const json::object& o, std::string_view key, const std::string& path) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) fail(path + std::string(key), "must be an object");
    return v->if_object();
  }

  const json::array* array(const json::object& o, std::string_view key, const std::string& path) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) fail(path + std::string(key), "must be an array");
    return v->if_array();
  }

 private:
  std::vector<std::string>& errors_;
};

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return {};
  const std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

std::optional<std::string> read_secret(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  if (s.empty()) return std::nullopt;
  return s;
}

// A whole small text file (a PEM certificate), unmodified.
std::optional<std::string> read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (s.empty() || s.size() > 1024 * 1024) return std::nullopt;
  return s;
}

void parse_tenant(reader& r, const json::object& t, const std::string& path,
                  const std::filesystem::path& base, mock_tenant& out) {
  out.id = r.str(t, "id", path, true);
  if (const json::array* clients = r.array(t, "clients", path)) {
    for (std::size_t i = 0; i < clients->size(); ++i) {
      const std::string cp = path + "clients[" + std::to_string(i) + "].";
      const json::object* c = (*clients)[i].if_object();
      if (c == nullptr) {
        r.fail(cp, "must be an object");
        continue;
      }
      mock_client client;
      client.client_id = r.str(*c, "client_id", cp, true);
      const std::string type = r.str(*c, "type", cp, false, "spa");
      if (type == "web") {
        client.type = client_type::web;
      } else if (type != "spa") {
        r.fail(cp + "type", "must be \"spa\" or \"web\"");
      }
      const std::string secret_file = r.str(*c, "secret_file", cp, false);
      if (!secret_file.empty()) {
        auto secret = read_secret(resolve(base, secret_file));
        if (!secret)
          r.fail(cp + "secret_file", "cannot be read or is empty");
        else
          client.secret = std::move(*secret);
      }
      const std::string certificate_file = r.str(*c, "certificate_file", cp, false);
      if (!certificate_file.empty()) {
        auto pem = read_text(resolve(base, certificate_file));
        std::string problem;
        if (!pem)
          r.fail(cp + "certificate_file", "cannot be read or is empty");
        else if (!load_client_certificate(*pem, problem))
          r.fail(cp + "certificate_file", problem);
        else
          client.certificate_pem = std::move(*pem);
      }
      if (client.type == client_type::web && secret_file.empty() && certificate_file.empty()) {
        r.fail(cp + "secret_file", "a web client needs secret_file or certificate_file");
      }
      if (client.type == client_type::spa && !certificate_file.empty()) {
        r.fail(cp + "certificate_file", "only a web client has a certificate");
      }
      if (const json::array* uris = r.array(*c, "redirect_uris", cp)) {
        for (const auto& u : *uris) {
          if (const auto* s = u.if_string())
            client.redirect_uris.emplace_back(*s);
          else
            r.fail(cp + "redirect_uris", "must hold strings");
        }
      }
      out.clients.push_back(std::move(client));
    }
  }
  if (const json::array* users = r.array(t, "users", path)) {
    for (std::size_t i = 0; i < users->size(); ++i) {
      const std::string up = path + "users[" + std::to_string(i) + "].";
      const json::object* u = (*users)[i].if_object();
      if (u == nullptr) {
        r.fail(up, "must be an object");
        continue;
      }
      mock_user user;
      user.oid = r.str(*u, "oid", up, true);
      user.name = r.str(*u, "name", up, true);
      user.preferred_username = r.str(*u, "preferred_username", up, true);
      user.email = r.str(*u, "email", up, false, user.preferred_username);
      user.disabled = r.boolean(*u, "disabled", up, false);
      out.users.push_back(std::move(user));
    }
  }
  out.default_user = r.str(t, "default_user", path, false);
}

}  // namespace

std::vector<std::string> validate_mock_config(const mock_idp_config& c) {
  std::vector<std::string> errors;
  if (c.base_url.empty() || c.base_url.back() == '/' ||
      (c.base_url.rfind("https://", 0) != 0 && c.base_url.rfind("http://", 0) != 0)) {
    errors.emplace_back("base_url: must be an http(s) URL without a trailing slash");
  }
  if (c.tenants.empty()) errors.emplace_back("tenants: at least one tenant is required");
  std::set<std::string> tenant_ids;
  for (std::size_t i = 0; i < c.tenants.size(); ++i) {
    const auto& t = c.tenants[i];
    const std::string p = "tenants[" + std::to_string(i) + "].";
    if (!tenant_ids.insert(t.id).second) errors.push_back(p + "id: duplicate tenant");
    if (t.users.empty()) errors.push_back(p + "users: at least one user is required");
    std::set<std::string> ids;
    for (const auto& cl : t.clients) {
      if (!ids.insert(cl.client_id).second) errors.push_back(p + "clients: duplicate client_id");
      if (cl.redirect_uris.empty()) errors.push_back(p + "clients: a client needs redirect_uris");
      if (cl.type == client_type::web && cl.secret.empty() && cl.certificate_pem.empty()) {
        errors.push_back(p + "clients: a web client needs a secret or a certificate");
      }
      if (!cl.certificate_pem.empty()) {
        std::string problem;
        if (cl.type != client_type::web) {
          errors.push_back(p + "clients: only a web client has a certificate");
        } else if (!load_client_certificate(cl.certificate_pem, problem)) {
          errors.push_back(p + "clients: certificate: " + problem);
        }
      }
    }
    if (!t.default_user.empty()) {
      bool found = false;
      for (const auto& u : t.users) {
        found = found || u.oid == t.default_user || u.preferred_username == t.default_user;
      }
      if (!found) errors.push_back(p + "default_user: names no user of the tenant");
    }
  }
  if (c.keys.jwks_max_age >= c.keys.signing_overlap) {
    errors.emplace_back(
        "keys.jwks_max_age_seconds: must be shorter than keys.signing_overlap_seconds, or a "
        "relying party could miss a new key before it signs");
  }
  if (c.keys.retire_overlap < c.token_ttl) {
    errors.emplace_back(
        "keys.retire_overlap_seconds: must be at least token_ttl_seconds, or tokens signed by a "
        "retired key would outlive it");
  }
  return errors;
}

config_load_result parse_mock_config(std::string_view json_text,
                                     const std::filesystem::path& base_dir) {
  config_load_result result;
  auto doc = parse_json_object(json_text, kConfigJsonLimits);
  if (!doc) {
    result.errors.emplace_back(": not a JSON object (" + std::string(label(doc.error())) + ")");
    return result;
  }
  const json::object& o = *doc;
  reader r(result.errors);
  mock_idp_config c;
  if (const json::object* listen = r.object(o, "listen", "")) {
    c.listen_address = r.str(*listen, "address", "listen.", false, c.listen_address);
    c.https_port =
        static_cast<std::uint16_t>(r.integer(*listen, "https_port", "listen.", 9443, 0, 65535));
    if (listen->contains("http_port")) {
      c.http_port =
          static_cast<std::uint16_t>(r.integer(*listen, "http_port", "listen.", 0, 0, 65535));
    }
    c.cert_file = resolve(base_dir, r.str(*listen, "cert_file", "listen.", true));
    c.key_file = resolve(base_dir, r.str(*listen, "key_file", "listen.", true));
    c.idle_timeout = std::chrono::milliseconds(
        r.integer(*listen, "idle_timeout_ms", "listen.", 60'000, 1, 3'600'000));
  } else {
    result.errors.emplace_back("listen: is required");
  }
  c.base_url = r.str(o, "base_url", "", false, "https://localhost:" + std::to_string(c.https_port));
  c.auto_approve = r.boolean(o, "auto_approve", "", true);
  c.code_ttl = std::chrono::seconds(r.integer(o, "code_ttl_seconds", "", 120, 1, 3600));
  c.token_ttl = std::chrono::seconds(r.integer(o, "token_ttl_seconds", "", 3600, 60, 86400));
  if (const json::object* k = r.object(o, "keys", "")) {
    c.keys.signing_overlap =
        std::chrono::seconds(r.integer(*k, "signing_overlap_seconds", "keys.", 600, 1, 30 * 86400));
    c.keys.retire_overlap =
        std::chrono::seconds(r.integer(*k, "retire_overlap_seconds", "keys.", 3900, 1, 30 * 86400));
    c.keys.jwks_max_age =
        std::chrono::seconds(r.integer(*k, "jwks_max_age_seconds", "keys.", 30, 0, 86400));
    c.keys.rotate_every =
        std::chrono::seconds(r.integer(*k, "rotate_every_seconds", "keys.", 0, 0, 365 * 86400));
  }
  if (const json::object* f = r.object(o, "faults", "")) {
    c.faults.latency =
        std::chrono::milliseconds(r.integer(*f, "latency_ms", "faults.", 0, 0, 60'000));
    c.faults.error_rate = r.rate(*f, "error_rate", "faults.");
    c.faults.drop_rate = r.rate(*f, "drop_rate", "faults.");
  }
  if (const json::array* tenants = r.array(o, "tenants", "")) {
    for (std::size_t i = 0; i < tenants->size(); ++i) {
      const std::string tp = "tenants[" + std::to_string(i) + "].";
      const json::object* t = (*tenants)[i].if_object();
      if (t == nullptr) {
        r.fail(tp, "must be an object");
        continue;
      }
      mock_tenant tenant;
      parse_tenant(r, *t, tp, base_dir, tenant);
      c.tenants.push_back(std::move(tenant));
    }
  }
  if (!result.errors.empty()) return result;
  result.errors = validate_mock_config(c);
  if (result.errors.empty()) result.config = std::move(c);
  return result;
}

config_load_result load_mock_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    config_load_result r;
    r.errors.push_back(file.string() + ": cannot be read");
    return r;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_mock_config(ss.str(), std::filesystem::absolute(file).parent_path());
}

}  // namespace oidc::mock
