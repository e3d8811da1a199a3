// SPDX-License-Identifier: Apache-2.0
// Parses and validates the server configuration. Every check reports into one list so an
// operator sees all mistakes at once; no value of a secret is ever read into an error.
#include "oidc/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/throw_exception.hpp>

#include "oidc/base64url.hpp"
#include "oidc/json.hpp"

namespace oidc {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::size_t kMaxErrors = 100;
constexpr std::size_t kMaxGotChars = 80;
constexpr std::string_view kCallbackPath = "/api/single-sign-on";
constexpr std::string_view kEntraPublicAuthority = "https://login.microsoftonline.com";

// ---------------------------------------------------------------------------------------------
// Text helpers.

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = to_lower(c);
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A member name that can be written bare in a path; anything else is quoted as JSON so that
// control characters in an unknown key cannot forge log lines.
bool is_plain_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '$';
  });
}

std::string member_path(std::string_view base, std::string_view key) {
  std::string out(base);
  if (is_plain_key(key)) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += '[';
    out += json::serialize(json::string_view(key.data(), key.size()));
    out += ']';
  }
  return out;
}

std::string index_path(std::string_view base, std::size_t i) {
  return std::string(base) + '[' + std::to_string(i) + ']';
}

// Cuts at a UTF-8 character boundary.
std::string shorten(std::string s) {
  if (s.size() <= kMaxGotChars) return s;
  std::size_t cut = kMaxGotChars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;
  s.resize(cut);
  s += "...";
  return s;
}

std::string render(const json::value& v) {
  return shorten(json::serialize(v));
}
std::string render(std::string_view s) {
  return shorten(json::serialize(json::string_view(s.data(), s.size())));
}

std::string format_duration(config_duration d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  struct unit {
    std::int64_t ms;
    const char* suffix;
  };
  for (const unit u :
       {unit{86'400'000, "d"}, unit{3'600'000, "h"}, unit{60'000, "m"}, unit{1'000, "s"}}) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

// ---------------------------------------------------------------------------------------------
// Value syntax.

// RFC 1035 label as used in a Host name: lowercase letters, digits and inner hyphens.
bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (std::size_t start = 0;;) {
    const std::size_t dot = s.find('.', start);
    if (!is_dns_label(s.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

bool is_env_name(std::string_view s) {
  if (s.empty() || s.size() > 128 || is_digit(s.front())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

bool is_key_id(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.';
  });
}

// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
bool is_scope_token(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\'; });
}

// RFC 6749 Appendix A.1 client_id is VSCHAR; spaces are refused too, to keep it one token.
bool is_client_id(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// ---------------------------------------------------------------------------------------------
// Absolute http(s) URLs, strictly: ASCII only, no whitespace or backslash, valid host and port.

struct url_parts {
  std::string scheme;  // lowercase
  std::string host;    // lowercase; IPv6 literals without brackets
  bool ipv6 = false;
  std::optional<std::uint16_t> port;
  std::string path;
  bool userinfo = false;
  bool query = false;
  bool fragment = false;
};

bool is_pchar_or_slash(char c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("-._~!$&'()*+,;=:@/%").find(c) != std::string_view::npos;
}

bool valid_percent_escapes(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
  }
  return true;
}

std::optional<url_parts> parse_url(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\') return std::nullopt;
  }
  url_parts u;
  const std::size_t colon = s.find("://");
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  u.scheme = lower(s.substr(0, colon));
  if (!is_alpha(u.scheme.front())) return std::nullopt;
  std::string_view rest = s.substr(colon + 3);
  const std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    u.userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    in6_addr a6{};
    const std::string h(host);
    if (inet_pton(AF_INET6, h.c_str(), &a6) != 1) return std::nullopt;
    u.ipv6 = true;
  } else {
    const auto c = authority.find(':');
    host = authority.substr(0, c);
    if (c != std::string_view::npos) {
      port = authority.substr(c + 1);
      if (port.empty()) return std::nullopt;
    }
    const std::string h = lower(host);
    in_addr a4{};
    if (inet_pton(AF_INET, h.c_str(), &a4) != 1 && !is_dns_name(h)) return std::nullopt;
  }
  u.host = lower(host);
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return std::nullopt;
    const unsigned long p = std::stoul(std::string(port));
    if (p == 0 || p > 65535) return std::nullopt;
    u.port = static_cast<std::uint16_t>(p);
  }
  const std::size_t q = rest.find_first_of("?#");
  u.path = std::string(rest.substr(0, q));
  if (!std::all_of(u.path.begin(), u.path.end(), is_pchar_or_slash) ||
      !valid_percent_escapes(u.path))
    return std::nullopt;
  if (q != std::string_view::npos) {
    const auto hash = rest.find('#');
    u.fragment = hash != std::string_view::npos;
    u.query = rest[q] == '?';
  }
  return u;
}

std::uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

// RFC 6454 §6.2 serialisation: the default port is omitted.
std::string origin_of(const url_parts& u) {
  std::string out = u.scheme + "://" + (u.ipv6 ? '[' + u.host + ']' : u.host);
  if (u.port && *u.port != default_port(u.scheme)) out += ':' + std::to_string(*u.port);
  return out;
}

// RFC 6761 §6.3: localhost and its subdomains are loopback names.
bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || ends_with(host, ".localhost")) return true;
  const auto a = parse_ip_address(host);
  return a && is_loopback(*a);
}

// ---------------------------------------------------------------------------------------------
// Durations: a non-negative integer and one unit, e.g. "500ms", "30s", "5m", "8h", "7d".

enum class duration_fault { none, negative, malformed, too_large };

duration_fault parse_duration(std::string_view s, config_duration& out) {
  if (!s.empty() && s.front() == '-') return duration_fault::negative;
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n]))
    ++n;
  if (n == 0 || n > 12) return n == 0 ? duration_fault::malformed : duration_fault::too_large;
  const std::string_view unit = s.substr(n);
  std::int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1'000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = 86'400'000;
  else
    return duration_fault::malformed;
  const std::int64_t value = std::stoll(std::string(s.substr(0, n)));
  if (value > std::numeric_limits<std::int64_t>::max() / scale) return duration_fault::too_large;
  out = config_duration(value * scale);
  return duration_fault::none;
}

// ---------------------------------------------------------------------------------------------
// Error collection and typed access to JSON objects.

class diagnostics {
 public:
  void add(std::string path, std::string problem, std::string got = {}) {
    if (errors_.size() >= kMaxErrors) {
      overflow_ = true;
      return;
    }
    errors_.push_back({std::move(path), std::move(problem), std::move(got)});
  }
  bool empty() const noexcept { return errors_.empty(); }
  std::vector<config_error> take() {
    if (overflow_)
      errors_.push_back(
          {"",
           "more errors were found; only the first " + std::to_string(kMaxErrors) + " are listed",
           ""});
    return std::move(errors_);
  }

 private:
  std::vector<config_error> errors_;
  bool overflow_ = false;
};

struct int_range {
  std::uint64_t min;
  std::uint64_t max;
};

struct duration_range {
  config_duration min;
  config_duration max;
};

// One JSON object being read: every member asked for is recorded as known, and finish() reports
// the rest as unknown, with the closest known name as a suggestion.
class fields {
 public:
  // `v` may be null (section absent: every member is absent).
  fields(diagnostics& d, const json::value* v, std::string path)
      : diag_(d), path_(std::move(path)) {
    if (!v) return;
    obj_ = v->if_object();
    if (!obj_) diag_.add(path_, "must be an object", render(*v));
  }

  const std::string& path() const noexcept { return path_; }
  std::string at(std::string_view key) const { return member_path(path_, key); }
  diagnostics& diag() noexcept { return diag_; }
  bool present() const noexcept { return obj_ != nullptr; }

  const json::value* get(std::string_view key) {
    known_.push_back(key);
    return obj_ ? obj_->if_contains(json::string_view(key.data(), key.size())) : nullptr;
  }

  std::optional<std::string_view> str(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    const json::string* s = v->if_string();
    if (!s) {
      diag_.add(at(key), "must be a string", render(*v));
      return std::nullopt;
    }
    const std::string_view sv(s->data(), s->size());
    if (has_control_char(sv)) {
      diag_.add(at(key), "must not contain control characters", render(sv));
      return std::nullopt;
    }
    return sv;
  }

  std::optional<std::string_view> required_str(std::string_view key) {
    const bool had = obj_ && obj_->contains(json::string_view(key.data(), key.size()));
    auto s = str(key);
    if (obj_ && !had) diag_.add(at(key), "is required");
    return s;
  }

  std::optional<bool> boolean(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (const bool* b = v->if_bool()) return *b;
    diag_.add(at(key), "must be true or false", render(*v));
    return std::nullopt;
  }

  std::optional<std::uint64_t> integer(std::string_view key, int_range r) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    std::optional<std::uint64_t> n;
    if (const auto* i = v->if_int64(); i && *i >= 0) n = static_cast<std::uint64_t>(*i);
    if (const auto* u = v->if_uint64()) n = *u;
    if (!n || *n < r.min || *n > r.max) {
      diag_.add(at(key),
                "must be an integer from " + std::to_string(r.min) + " to " + std::to_string(r.max),
                render(*v));
      return std::nullopt;
    }
    return n;
  }

  std::optional<config_duration> duration(std::string_view key, duration_range r) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    const json::string* s = v->if_string();
    config_duration d{};
    const auto fault =
        s ? parse_duration(std::string_view(s->data(), s->size()), d) : duration_fault::malformed;
    switch (fault) {
      case duration_fault::none:
        if (d < r.min || d > r.max) {
          diag_.add(at(key),
                    "must be between " + format_duration(r.min) + " and " + format_duration(r.max),
                    render(*v));
          return std::nullopt;
        }
        return d;
      case duration_fault::negative:
        diag_.add(at(key), "must not be negative", render(*v));
        return std::nullopt;
      case duration_fault::too_large:
        diag_.add(at(key), "must be at most " + format_duration(r.max), render(*v));
        return std::nullopt;
      case duration_fault::malformed:
        break;
    }
    diag_.add(at(key),
              "must be a duration string: an integer and a unit (ms, s, m, h, d), such as \"30s\"",
              render(*v));
    return std::nullopt;
  }

  const json::array* array(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return nullptr;
    if (const json::array* a = v->if_array()) return a;
    diag_.add(at(key), "must be an array", render(*v));
    return nullptr;
  }

  // Calls f(value, path) for each string element; reports the others. False when absent.
  template <class F>
  bool each_string(std::string_view key, F&& f) {
    const json::array* a = array(key);
    if (!a) return false;
    const std::string base = at(key);
    for (std::size_t i = 0; i < a->size(); ++i) {
      const json::value& e = (*a)[i];
      const json::string* s = e.if_string();
      const std::string p = index_path(base, i);
      if (!s) {
        diag_.add(p, "must be a string", render(e));
        continue;
      }
      const std::string_view sv(s->data(), s->size());
      if (has_control_char(sv)) {
        diag_.add(p, "must not contain control characters", render(sv));
        continue;
      }
      f(sv, p);
    }
    return true;
  }

  void finish() {
    if (!obj_) return;
    for (const auto& member : *obj_) {
      const std::string_view key(member.key().data(), member.key().size());
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      diag_.add(at(key), unknown_problem(key));
    }
  }

 private:
  std::string unknown_problem(std::string_view key) const {
    // A typo is a few edits away, or a known name cut short ("tenant" for "tenant_id").
    std::string_view best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const auto k : known_) {
      const std::size_t d = edit_distance(key, k);
      const bool prefix = key.size() >= 4 && (k.rfind(key, 0) == 0 || key.rfind(k, 0) == 0);
      if ((d <= 2 || prefix) && d < best_distance) {
        best_distance = d;
        best = k;
      }
    }
    if (!best.empty() && key.size() > 2)
      return "unknown field (did you mean \"" + std::string(best) + "\"?)";
    const std::string l = lower(key);
    if (l.find("secret") != std::string::npos || l.find("password") != std::string::npos ||
        l.find("dsn") != std::string::npos)
      return "unknown field; secrets are never written into the configuration: name a file "
             "(secret_file) or an environment variable (secret_env)";
    return "unknown field";
  }

  diagnostics& diag_;
  std::string path_;
  const json::object* obj_ = nullptr;
  std::vector<std::string_view> known_;
};

// Calls f(value, path) for each element of an array of objects (type errors reported by the
// element's own `fields`).
template <class F>
void each_element(fields& f, std::string_view key, F&& fn) {
  const json::array* a = f.array(key);
  if (!a) return;
  const std::string base = f.at(key);
  for (std::size_t i = 0; i < a->size(); ++i)
    fn((*a)[i], index_path(base, i), i);
}

std::filesystem::path resolve_path(const config_environment& env, std::string_view p) {
  std::filesystem::path path(p);
  if (path.is_relative()) path = env.config_dir / path;
  return path.lexically_normal();
}

// ---------------------------------------------------------------------------------------------
// The builder: reads sections in dependency order, then runs the cross-field checks.

}  // namespace

struct config_builder {
  config_builder(const config_environment& e, diagnostics& d) : env(e), diag(d) {}

  const config_environment& env;
  diagnostics& diag;
  server_config cfg;
  std::vector<std::string> org_paths;   // parallel to cfg.organisations_
  std::vector<std::string> names_seen;  // every name given, valid or not

  std::optional<std::filesystem::path> file_path(fields& f, std::string_view key, bool required) {
    auto s = required ? f.required_str(key) : f.str(key);
    if (!s) return std::nullopt;
    if (s->empty() || s->size() > 4096) {
      diag.add(f.at(key), "must be a file path of 1 to 4096 characters", render(*s));
      return std::nullopt;
    }
    return resolve_path(env, *s);
  }

  std::optional<std::string> env_name(fields& f, std::string_view key) {
    auto s = f.str(key);
    if (!s) return std::nullopt;
    if (!is_env_name(*s)) {
      diag.add(f.at(key), "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
               render(*s));
      return std::nullopt;
    }
    if (env.getenv) {
      auto value = env.getenv(*s);
      const bool set = value && !value->empty();
      if (value) std::fill(value->begin(), value->end(), '\0');
      if (!set) {
        diag.add(f.at(key), "names an environment variable that is not set", render(*s));
        return std::nullopt;
      }
    }
    return std::string(*s);
  }

  // secret_file | secret_env, exactly one. `required` reports when both are absent.
  std::optional<secret_ref> secret(fields& f, bool required, bool is_key_32) {
    const bool has_file = f.present() && f.get("secret_file") != nullptr;
    const bool has_env = f.present() && f.get("secret_env") != nullptr;
    if (has_file && has_env) {
      diag.add(f.at("secret_env"), "set only one of secret_file and secret_env");
      f.str("secret_file");
      f.str("secret_env");
      return std::nullopt;
    }
    if (has_file) {
      auto p = file_path(f, "secret_file", true);
      if (!p) return std::nullopt;
      return secret_ref{secret_ref::source::file, p->string()};
    }
    if (has_env) {
      auto n = env_name(f, "secret_env");
      if (!n) return std::nullopt;
      if (is_key_32 && env.getenv) {
        auto value = env.getenv(*n);
        const bool ok = value && decode_secret_key_32(*value).has_value();
        if (value) std::fill(value->begin(), value->end(), '\0');
        if (!ok) {
          // The value is a secret: only the variable is named.
          diag.add(f.at("secret_env"),
                   "the variable must hold a 32-byte key as 64 hex digits or 43 base64url "
                   "characters");
          return std::nullopt;
        }
      }
      return secret_ref{secret_ref::source::env, std::move(*n)};
    }
    if (required) diag.add(f.path(), "needs secret_file or secret_env");
    return std::nullopt;
  }

  // Returns the listener whenever its address is valid, so the checks that depend on the
  // address still run when the port or TLS files are wrong (those are reported here).
  std::optional<listener_config> listener(const json::value& v, const std::string& path,
                                          bool allow_tls) {
    fields f(diag, &v, path);
    if (!f.present()) return std::nullopt;
    listener_config l;
    bool address_ok = false;
    if (auto a = f.required_str("address")) {
      if (*a == "localhost") {
        l.loopback = true;
        address_ok = true;
      } else if (auto ip = parse_ip_address(*a)) {
        l.loopback = is_loopback(*ip);
        address_ok = true;
      } else {
        diag.add(f.at("address"), "must be an IP address or \"localhost\"", render(*a));
      }
      l.address = std::string(*a);
    }
    if (!f.get("port"))
      diag.add(f.at("port"), "is required");
    else if (auto p = f.integer("port", {0, 65535}))
      l.port = static_cast<std::uint16_t>(*p);
    if (allow_tls) {
      if (const json::value* t = f.get("tls")) {
        fields tf(diag, t, f.at("tls"));
        if (tf.present()) {
          auto cert = file_path(tf, "cert_file", true);
          auto key = file_path(tf, "key_file", true);
          if (cert && key) l.tls = tls_files{*cert, *key};
          tf.finish();
        }
      }
    }
    f.finish();
    return address_ok ? std::optional(std::move(l)) : std::nullopt;
  }

  // An origin: http(s), host, optional port, nothing else. http only for loopback hosts.
  std::optional<std::string> origin(std::string_view s, const std::string& path) {
    auto u = parse_url(s);
    if (!u || u->userinfo || u->query || u->fragment || !(u->path.empty() || u->path == "/") ||
        (u->scheme != "https" && u->scheme != "http")) {
      diag.add(path, "must be an origin: https://host[:port] with no path", render(s));
      return std::nullopt;
    }
    if (u->scheme == "http" && !is_loopback_host(u->host)) {
      diag.add(path, "must use https (http only for a loopback host)", render(s));
      return std::nullopt;
    }
    return origin_of(*u);
  }

  void parse_server(const json::value* v) {
    fields f(diag, v, "server");
    if (!v) diag.add("server", "is required");
    auto& s = cfg.server;

    if (f.present() && !f.get("listen")) diag.add(f.at("listen"), "is required");
    if (const json::array* a = f.array("listen")) {
      if (a->empty()) diag.add(f.at("listen"), "must list at least one listener");
      for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string p = index_path(f.at("listen"), i);
        auto l = listener((*a)[i], p, true);
        if (!l) continue;
        for (std::size_t j = 0; j < s.listen.size(); ++j) {
          if (l->port != 0 && s.listen[j].address == l->address && s.listen[j].port == l->port)
            diag.add(p, "duplicates another listener on the same address and port",
                     render(l->address + ":" + std::to_string(l->port)));
        }
        s.listen.push_back(std::move(*l));
        listen_paths.push_back(p);
      }
    }

    if (auto b = f.required_str("base_domain")) {
      if (!is_dns_name(*b))
        diag.add(f.at("base_domain"),
                 "must be a lowercase DNS name such as \"example.com\" (no scheme, port or "
                 "trailing dot)",
                 render(*b));
      else
        s.base_domain = std::string(*b);
    }
    if (auto d = f.str("default_organisation")) {
      s.default_organisation = std::string(*d);
      if (d->empty()) diag.add(f.at("default_organisation"), "must not be empty", render(*d));
    }
    f.each_string("trusted_proxies", [&](std::string_view t, const std::string& p) {
      if (auto n = parse_ip_network(t))
        s.trusted_proxies.push_back(*n);
      else
        diag.add(p,
                 "must be an IP address or a CIDR network with no host bits set, such as "
                 "\"10.0.0.0/8\"",
                 render(t));
    });
    if (auto n = f.integer("io_threads", {0, 1024})) s.io_threads = static_cast<unsigned>(*n);
    if (auto o = f.str("public_origin")) {
      if (auto norm = origin(*o, f.at("public_origin"))) s.public_origin = *norm;
    }
    if (auto m = f.str("cookie_mode")) {
      if (*m == "secure")
        s.cookie_mode = cookie_mode_t::secure;
      else if (*m == "development")
        s.cookie_mode = cookie_mode_t::development;
      else
        diag.add(f.at("cookie_mode"), "must be \"secure\" or \"development\"", render(*m));
    }
    f.each_string("allowed_return_origins", [&](std::string_view o, const std::string& p) {
      auto norm = origin(o, p);
      if (!norm) return;
      if (std::find(s.allowed_return_origins.begin(), s.allowed_return_origins.end(), *norm) !=
          s.allowed_return_origins.end())
        diag.add(p, "is listed twice", render(o));
      else
        s.allowed_return_origins.push_back(std::move(*norm));
    });
    f.finish();

    // The development mode drops Secure and __Host-: acceptable only where no network peer
    // can see the cookies (issue 3: refused unless every listener is on loopback).
    if (s.cookie_mode == cookie_mode_t::development) {
      for (std::size_t i = 0; i < s.listen.size(); ++i) {
        if (s.listen[i].loopback) continue;
        diag.add(listen_paths[i] + ".address",
                 "must be a loopback address (127.0.0.0/8, ::1 or localhost) while "
                 "server.cookie_mode is \"development\"",
                 render(s.listen[i].address));
      }
    }
  }

  void parse_timeouts(const json::value* v) {
    fields f(diag, v, "timeouts");
    auto& t = cfg.timeouts;
    const duration_range positive{1ms, 1h};
    const auto read = [&](std::string_view key, config_duration& out, duration_range r) {
      if (auto d = f.duration(key, r)) out = *d;
    };
    read("header_read", t.header_read, {1ms, 5min});
    read("body_read", t.body_read, {1ms, 5min});
    read("idle_keep_alive", t.idle_keep_alive, positive);
    read("upstream_connect", t.upstream_connect, {1ms, 1min});
    read("upstream_read", t.upstream_read, {1ms, 5min});
    read("upstream_total", t.upstream_total, {1ms, 5min});
    read("upstream_pool_idle", t.upstream_pool_idle, {1ms, 10min});
    read("shutdown_drain", t.shutdown_drain, {0ms, 10min});
    read("login_state_ttl", t.login_state_ttl, {1s, 1h});
    read("session_lifetime", t.session_lifetime, {1s, 24h * 30});
    read("revocation_cache_ttl", t.revocation_cache_ttl, {0ms, 10min});
    read("revocation_purge_interval", t.revocation_purge_interval, {1s, 24h});
    f.finish();
    if (t.upstream_total < t.upstream_connect)
      diag.add("timeouts.upstream_total",
               "must not be shorter than timeouts.upstream_connect (" +
                   format_duration(t.upstream_connect) + ")",
               render(format_duration(t.upstream_total)));
  }

  void parse_limits(const json::value* v) {
    fields f(diag, v, "limits");
    auto& l = cfg.limits;
    const auto read = [&](std::string_view key, auto& out, int_range r) {
      if (auto n = f.integer(key, r)) out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
    };
    read("max_header_bytes", l.max_header_bytes, {1024, 256 * 1024});
    read("max_body_bytes", l.max_body_bytes, {1024, 16 * 1024 * 1024});
    read("max_connections", l.max_connections, {1, 1'000'000});
    read("max_token_bytes", l.max_token_bytes, {1024, 1024 * 1024});
    read("max_upstream_response_bytes", l.max_upstream_response_bytes, {4096, 16 * 1024 * 1024});
    read("max_upstream_connections_per_host", l.max_upstream_connections_per_host, {1, 1024});
    read("max_pending_logins", l.max_pending_logins, {1, 10});
    f.finish();
  }

  // An absolute https URL naming an identity; http only for loopback hosts when `http_ok`.
  std::optional<url_parts> https_url(std::string_view s, const std::string& path, bool http_ok,
                                     std::string_view http_hint) {
    auto u = parse_url(s);
    if (!u || (u->scheme != "https" && u->scheme != "http")) {
      diag.add(path, "must be an absolute https URL", render(s));
      return std::nullopt;
    }
    if (u->userinfo || u->query || u->fragment) {
      diag.add(path, "must not contain user information, a query or a fragment", render(s));
      return std::nullopt;
    }
    if (u->scheme == "http" && !(http_ok && is_loopback_host(u->host))) {
      diag.add(path, "must use https" + std::string(http_hint), render(s));
      return std::nullopt;
    }
    return u;
  }

  void parse_session(const json::value* v) {
    fields f(diag, v, "session");
    if (!v) diag.add("session", "is required");
    auto& s = cfg.session;
    if (auto i = f.required_str("issuer")) {
      if (https_url(*i, f.at("issuer"), true, " (http only for a loopback host)"))
        s.issuer = std::string(*i);
    }
    if (auto d = f.duration("clock_skew", {0ms, 1h})) s.clock_skew = *d;
    if (f.present() && !f.get("signing_keys")) diag.add(f.at("signing_keys"), "is required");
    if (const json::array* a = f.array("signing_keys"); a && a->empty())
      diag.add(f.at("signing_keys"), "must list at least one key");
    each_element(f, "signing_keys", [&](const json::value& e, const std::string& p, std::size_t) {
      fields k(diag, &e, p);
      if (!k.present()) return;
      session_signing_key key;
      if (auto kid = k.str("kid")) {
        if (!is_key_id(*kid, 64))
          diag.add(k.at("kid"), "must be 1 to 64 characters of A-Z a-z 0-9 - _ .", render(*kid));
        else if (std::any_of(s.signing_keys.begin(), s.signing_keys.end(),
                             [&](const auto& o) { return o.kid == *kid; }))
          diag.add(k.at("kid"), "is used by another signing key", render(*kid));
        else
          key.kid = std::string(*kid);
      }
      if (auto file = file_path(k, "private_key_file", true)) key.private_key_file = *file;
      k.finish();
      s.signing_keys.push_back(std::move(key));
    });
    f.finish();
  }

  void parse_cookies(const json::value* v) {
    fields f(diag, v, "cookies");
    if (!v) diag.add("cookies", "is required");
    auto& c = cfg.cookies;
    if (f.present() && !f.get("keys")) diag.add(f.at("keys"), "is required");
    if (const json::array* a = f.array("keys"); a && a->empty())
      diag.add(f.at("keys"), "must list at least one key");
    each_element(f, "keys", [&](const json::value& e, const std::string& p, std::size_t) {
      fields k(diag, &e, p);
      if (!k.present()) return;
      cookie_key_config key;
      if (!k.get("id")) {
        diag.add(k.at("id"), "is required");
      } else if (auto id = k.integer("id", {0, 255})) {
        key.id = static_cast<cookie_key_id>(*id);
        if (std::any_of(c.keys.begin(), c.keys.end(), [&](const auto& o) { return o.id == *id; }))
          diag.add(k.at("id"), "is used by another cookie key", std::to_string(*id));
      }
      if (auto s = secret(k, true, true)) key.secret = std::move(*s);
      k.finish();
      c.keys.push_back(std::move(key));
    });
    f.finish();
  }

  void parse_accounts(const json::value* v) {
    fields f(diag, v, "accounts");
    if (!v) diag.add("accounts", "is required");
    auto& a = cfg.accounts;
    if (auto m = f.str("mode")) {
      if (auto mode = account_mode(*m))
        a.mode = *mode;
      else
        diag.add(f.at("mode"), "must be \"directory\" or \"tenant\"", render(*m));
    }
    if (auto d = f.str("database")) {
      if (*d == "sqlite")
        a.database = account_database_t::sqlite;
      else if (*d == "postgres")
        a.database = account_database_t::postgres;
      else
        diag.add(f.at("database"), "must be \"sqlite\" or \"postgres\"", render(*d));
    }
    if (a.database == account_database_t::sqlite) {
      if (f.present()) {
        if (auto p = file_path(f, "sqlite_path", true)) a.sqlite_path = *p;
      }
      if (f.get("postgres_dsn_env"))
        diag.add(f.at("postgres_dsn_env"), "is only for database \"postgres\"");
    } else {
      if (f.present() && !f.get("postgres_dsn_env"))
        diag.add(f.at("postgres_dsn_env"), "is required for database \"postgres\"");
      else if (auto n = env_name(f, "postgres_dsn_env"))
        a.postgres_dsn_env = *n;
      if (f.get("sqlite_path")) diag.add(f.at("sqlite_path"), "is only for database \"sqlite\"");
    }
    f.finish();
  }

  static std::optional<account_mode_t> account_mode(std::string_view s) {
    if (s == "directory") return account_mode_t::directory;
    if (s == "tenant") return account_mode_t::tenant;
    return std::nullopt;
  }

  void parse_upstream(const json::value* v) {
    fields f(diag, v, "upstream");
    if (auto p = file_path(f, "ca_file", false)) cfg.upstream.ca_file = *p;
    if (auto b = f.boolean("allow_plain_http_loopback"))
      cfg.upstream.allow_plain_http_loopback = *b;
    f.finish();
  }

  void parse_jwks(const json::value* v) {
    fields f(diag, v, "jwks");
    auto& j = cfg.jwks;
    if (auto d = f.duration("min_refresh_interval", {1ms, 1h})) j.min_refresh_interval = *d;
    if (auto d = f.duration("max_age_min", {1s, 24h})) j.max_age_min = *d;
    if (auto d = f.duration("max_age_max", {1s, 24h * 7})) j.max_age_max = *d;
    if (auto d = f.duration("default_max_age", {1s, 24h * 7})) j.default_max_age = *d;
    if (auto d = f.duration("stale_if_error", {0ms, 24h * 7})) j.stale_if_error = *d;
    if (auto n = f.integer("preload_concurrency", {1, 256}))
      j.preload_concurrency = static_cast<unsigned>(*n);
    f.finish();
    const auto order = [&](std::string_view later, config_duration b, std::string_view earlier,
                           config_duration a) {
      if (b < a)
        diag.add("jwks." + std::string(later),
                 "must not be shorter than jwks." + std::string(earlier) + " (" +
                     format_duration(a) + ")",
                 render(format_duration(b)));
    };
    order("max_age_min", j.max_age_min, "min_refresh_interval", j.min_refresh_interval);
    order("max_age_max", j.max_age_max, "max_age_min", j.max_age_min);
    order("default_max_age", j.default_max_age, "max_age_min", j.max_age_min);
    if (j.default_max_age > j.max_age_max)
      diag.add("jwks.default_max_age",
               "must not be longer than jwks.max_age_max (" + format_duration(j.max_age_max) + ")",
               render(format_duration(j.default_max_age)));
  }

  void parse_verify(const json::value* v) {
    fields f(diag, v, "verify");
    auto& c = cfg.verify;
    if (auto b = f.boolean("cache")) c.cache = *b;
    if (auto n = f.integer("cache_max_entries", {0, 10'000'000}))
      c.cache_max_entries = static_cast<std::size_t>(*n);
    if (auto n = f.integer("cache_max_bytes", {0, std::uint64_t{4} << 30}))
      c.cache_max_bytes = static_cast<std::size_t>(*n);
    if (auto d = f.duration("cache_max_ttl", {1s, 1h})) c.cache_max_ttl = *d;
    f.finish();
  }

  void parse_metrics(const json::value* v) {
    fields f(diag, v, "metrics");
    if (const json::value* l = f.get("admin_listen")) {
      auto lc = listener(*l, f.at("admin_listen"), false);
      if (lc) {
        for (std::size_t i = 0; i < cfg.server.listen.size(); ++i) {
          if (lc->port != 0 && cfg.server.listen[i].address == lc->address &&
              cfg.server.listen[i].port == lc->port)
            diag.add(f.at("admin_listen"), "uses the same address and port as " + listen_paths[i],
                     render(lc->address + ":" + std::to_string(lc->port)));
        }
        cfg.metrics.admin_listen = std::move(lc);
      }
    }
    if (auto b = f.boolean("main_listener")) cfg.metrics.main_listener = *b;
    if (auto b = f.boolean("organisation_labels")) cfg.metrics.organisation_labels = *b;
    if (auto n = f.integer("organisation_cap", {0, 1000}))
      cfg.metrics.organisation_cap = static_cast<std::size_t>(*n);
    f.finish();
  }

  void parse_logging(const json::value* v) {
    fields f(diag, v, "logging");
    auto& l = cfg.logging;
    if (auto b = f.boolean("access_log")) l.access_log = *b;
    if (auto d = f.duration("access_log_flush_interval", {0ms, 1min}))
      l.access_log_flush_interval = *d;
    if (auto n = f.integer("access_log_buffer_bytes", {0, 16 << 20}))
      l.access_log_buffer_bytes = static_cast<std::size_t>(*n);
    f.finish();
  }

  void parse_client_auth(fields& org, organisation_config& o) {
    const json::value* v = org.get("client_auth");
    if (!v) return;
    fields f(diag, v, org.at("client_auth"));
    if (!f.present()) return;
    auto& c = o.client_auth;
    if (auto m = f.str("method")) {
      if (*m == "none")
        c.method = client_auth_method::none;
      else if (*m == "client_secret_post")
        c.method = client_auth_method::client_secret_post;
      else if (*m == "private_key_jwt")
        c.method = client_auth_method::private_key_jwt;
      else
        diag.add(f.at("method"), "must be \"none\", \"client_secret_post\" or \"private_key_jwt\"",
                 render(*m));
    }
    const auto only_for = [&](std::string_view key, std::string_view method) {
      if (f.get(key)) diag.add(f.at(key), "is only for method \"" + std::string(method) + "\"");
    };
    if (c.method == client_auth_method::client_secret_post) {
      c.secret = secret(f, true, false);
    } else {
      only_for("secret_file", "client_secret_post");
      only_for("secret_env", "client_secret_post");
    }
    if (c.method == client_auth_method::private_key_jwt) {
      if (auto p = file_path(f, "key_file", true)) c.key_file = *p;
      if (auto p = file_path(f, "certificate_file", true)) c.certificate_file = *p;
    } else {
      only_for("key_file", "private_key_jwt");
      only_for("certificate_file", "private_key_jwt");
    }
    f.finish();
  }

  void parse_access_tokens(fields& org, organisation_config& o) {
    const json::value* v = org.get("access_tokens");
    if (!v) return;
    fields f(diag, v, org.at("access_tokens"));
    auto& a = o.access_tokens;
    f.each_string("audiences", [&](std::string_view aud, const std::string& p) {
      if (aud.empty() || aud.size() > 512)
        diag.add(p, "must be 1 to 512 characters", render(aud));
      else if (std::find(a.audiences.begin(), a.audiences.end(), aud) != a.audiences.end())
        diag.add(p, "is listed twice", render(aud));
      else
        a.audiences.emplace_back(aud);
    });
    if (auto b = f.boolean("accept_v1_issuer")) {
      a.accept_v1_issuer = *b;
      // v1 access tokens name https://sts.windows.net/{tid}/ only in the public cloud.
      if (*b && (o.provider != provider_t::entra || o.authority != kEntraPublicAuthority))
        diag.add(f.at("accept_v1_issuer"),
                 "is only for provider \"entra\" with authority "
                 "https://login.microsoftonline.com");
    }
    f.finish();
  }

  void parse_organisation(const json::value& v, const std::string& path) {
    fields f(diag, &v, path);
    if (!f.present()) return;
    organisation_config o;
    o.account_mode = cfg.accounts.mode;

    if (auto n = f.required_str("name")) {
      names_seen.emplace_back(*n);
      if (!is_dns_label(*n))
        diag.add(f.at("name"),
                 "must be a DNS label: 1 to 63 lowercase letters, digits and inner hyphens",
                 render(*n));
      else
        o.name = std::string(*n);
    }
    o.display_name = o.name;
    if (auto d = f.str("display_name")) {
      if (d->empty() || d->size() > 200)
        diag.add(f.at("display_name"), "must be 1 to 200 characters", render(*d));
      else
        o.display_name = std::string(*d);
    }
    if (auto p = f.str("provider")) {
      if (*p == "entra")
        o.provider = provider_t::entra;
      else if (*p == "oidc")
        o.provider = provider_t::oidc;
      else
        diag.add(f.at("provider"), "must be \"entra\" or \"oidc\"", render(*p));
    }
    std::vector<std::string> paths_of_hosts;  // parallel to o.hosts
    const bool entra = o.provider == provider_t::entra;
    const bool plain_http_ok = cfg.upstream.allow_plain_http_loopback;
    const std::string_view upstream_hint =
        " (http only for a loopback host with upstream.allow_plain_http_loopback)";

    if (entra) {
      if (auto t = f.required_str("tenant_id")) {
        const std::string l = lower(*t);
        if (l == "common" || l == "organizations" || l == "consumers")
          diag.add(f.at("tenant_id"),
                   "must be the tenant's GUID (Directory ID), not the multi-tenant alias",
                   render(*t));
        else if (t->find('.') != std::string_view::npos)
          diag.add(f.at("tenant_id"), "must be the tenant's GUID (Directory ID), not a domain name",
                   render(*t));
        else if (!is_guid(*t))
          diag.add(f.at("tenant_id"), "must be a GUID", render(*t));
        else
          o.tenant_id = l;
      }
      if (auto c = f.required_str("client_id")) {
        if (!is_guid(*c))
          diag.add(f.at("client_id"), "must be a GUID", render(*c));
        else
          o.client_id = lower(*c);
      }
      o.authority = std::string(kEntraPublicAuthority);
      if (auto a = f.str("authority")) {
        if (auto u = https_url(*a, f.at("authority"), plain_http_ok, upstream_hint)) {
          std::string s(*a);
          while (!s.empty() && s.back() == '/')
            s.pop_back();
          o.authority = std::move(s);
        }
      }
      if (f.get("issuer"))
        diag.add(f.at("issuer"),
                 "is only for provider \"oidc\"; Entra issuers derive from authority and "
                 "tenant_id");
    } else {
      if (f.get("tenant_id")) diag.add(f.at("tenant_id"), "is only for provider \"entra\"");
      if (f.get("authority"))
        diag.add(f.at("authority"), "is only for provider \"entra\"; name the issuer instead");
      if (auto c = f.required_str("client_id")) {
        if (!is_client_id(*c))
          diag.add(f.at("client_id"), "must be 1 to 256 printable characters without spaces",
                   render(*c));
        else
          o.client_id = std::string(*c);
      }
      if (auto i = f.required_str("issuer")) {
        if (https_url(*i, f.at("issuer"), plain_http_ok, upstream_hint)) o.issuer = std::string(*i);
      }
    }

    f.each_string("hosts", [&](std::string_view h, const std::string& p) {
      if (!is_dns_name(h))
        diag.add(p, "must be a lowercase DNS name (no scheme or port)", render(h));
      else if (std::find(o.hosts.begin(), o.hosts.end(), h) != o.hosts.end())
        diag.add(p, "is listed twice", render(h));
      else {
        o.hosts.emplace_back(h);
        paths_of_hosts.push_back(p);
      }
    });

    parse_redirect_uri(f, o);

    if (f.each_string("scopes", [&](std::string_view s, const std::string& p) {
          if (!is_scope_token(s))
            diag.add(p, "must be a scope token (printable, no spaces, quotes or backslashes)",
                     render(s));
          else if (std::find(o.scopes.begin(), o.scopes.end(), s) != o.scopes.end())
            diag.add(p, "is listed twice", render(s));
          else
            o.scopes.emplace_back(s);
        })) {
      // OIDC Core §3.1.2.1: without openid the request is plain OAuth and no ID token comes.
      if (std::find(o.scopes.begin(), o.scopes.end(), "openid") == o.scopes.end())
        diag.add(f.at("scopes"), "must include \"openid\"");
    } else {
      o.scopes = {"openid", "profile", "email"};
    }

    if (f.each_string("allowed_algs", [&](std::string_view a, const std::string& p) {
          parse_alg(a, p, o.allowed_algs);
        })) {
      if (const json::array* a = f.get("allowed_algs")->if_array(); a && a->empty())
        diag.add(f.at("allowed_algs"), "must list at least one algorithm");
    } else {
      o.allowed_algs = alg_set{jws_alg::RS256};
    }

    if (auto d = f.duration("clock_skew", {0ms, 5min})) o.clock_skew = *d;
    if (auto d = f.duration("max_token_age", {1s, 24h})) o.max_token_age = *d;
    parse_client_auth(f, o);
    if (auto m = f.str("account_mode")) {
      if (auto mode = account_mode(*m))
        o.account_mode = *mode;
      else
        diag.add(f.at("account_mode"), "must be \"directory\" or \"tenant\"", render(*m));
    }
    f.each_string("domains", [&](std::string_view d, const std::string& p) {
      if (!is_dns_name(d))
        diag.add(p, "must be a lowercase email domain such as \"acme.com\"", render(d));
      else if (std::find(o.domains.begin(), o.domains.end(), d) != o.domains.end())
        diag.add(p, "is listed twice", render(d));
      else
        o.domains.emplace_back(d);
    });
    parse_access_tokens(f, o);
    if (!f.each_string("authorize_passthrough", [&](std::string_view s, const std::string& p) {
          if (s != "prompt" && s != "login_hint" && s != "domain_hint")
            diag.add(p, "must be \"prompt\", \"login_hint\" or \"domain_hint\"", render(s));
          else if (std::find(o.authorize_passthrough.begin(), o.authorize_passthrough.end(), s) !=
                   o.authorize_passthrough.end())
            diag.add(p, "is listed twice", render(s));
          else
            o.authorize_passthrough.emplace_back(s);
        }))
      o.authorize_passthrough = {"prompt", "login_hint", "domain_hint"};
    f.finish();

    derive(o);
    host_paths.push_back(std::move(paths_of_hosts));
    org_paths.push_back(path);
    cfg.organisations_.push_back(std::move(o));
  }

  void parse_alg(std::string_view a, const std::string& p, alg_set& out) {
    const std::string l = lower(a);
    if (l == "none") {
      // RFC 8725 §3.1: an unsigned token is never acceptable from an IdP.
      diag.add(p, "is not allowed: unsigned tokens are never accepted", render(a));
    } else if (l.rfind("hs", 0) == 0) {
      // RFC 8725 §3.1: an HMAC key would be the IdP's public key material; refused.
      diag.add(p, "is not allowed: HMAC algorithms are never accepted for IdP tokens", render(a));
    } else if (auto alg = alg_from_name(a)) {
      if (out.contains(*alg))
        diag.add(p, "is listed twice", render(a));
      else
        out.insert(*alg);
    } else {
      diag.add(p,
               "must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, "
               "EdDSA",
               render(a));
    }
  }

  void parse_redirect_uri(fields& f, organisation_config& o) {
    const bool dev = cfg.server.cookie_mode == cookie_mode_t::development;
    const std::string path = f.at("redirect_uri");
    std::optional<std::string_view> given = f.str("redirect_uri");
    if (!given) {
      if (f.get("redirect_uri")) return;  // wrong type, reported
      if (o.name.empty() || cfg.server.base_domain.empty()) return;
      o.redirect_uri =
          "https://" + o.name + "." + cfg.server.base_domain + std::string(kCallbackPath);
      o.redirect_host = o.name + "." + cfg.server.base_domain;
      o.redirect_origin = "https://" + o.redirect_host;
      return;
    }
    auto u = parse_url(*given);
    if (!u || (u->scheme != "https" && u->scheme != "http")) {
      diag.add(path, "must be an absolute https URL", render(*given));
      return;
    }
    // RFC 6749 §3.1.2: no fragment; a query would have to match the registration byte for byte.
    if (u->userinfo || u->query || u->fragment) {
      diag.add(path, "must not contain user information, a query or a fragment", render(*given));
      return;
    }
    if (u->scheme == "http" && !(dev && is_loopback_host(u->host))) {
      diag.add(path,
               "must use https (http only for a loopback host with server.cookie_mode "
               "\"development\")",
               render(*given));
      return;
    }
    if (u->path != kCallbackPath) {
      diag.add(path, "must have the path " + std::string(kCallbackPath), render(*given));
      return;
    }
    o.redirect_uri = std::string(*given);
    o.redirect_host = u->host;
    o.redirect_origin = origin_of(*u);
    redirect_explicit.insert(cfg.organisations_.size());
  }

  void derive(organisation_config& o) {
    if (o.provider == provider_t::entra) {
      if (!o.tenant_id.empty()) {
        o.expected_issuer = o.authority + "/" + o.tenant_id + "/v2.0";
        o.discovery_url = o.expected_issuer + "/.well-known/openid-configuration";
        if (o.access_tokens.accept_v1_issuer)
          o.expected_v1_issuer = "https://sts.windows.net/" + o.tenant_id + "/";
      }
    } else if (!o.issuer.empty()) {
      // OpenID Connect Discovery 1.0 §4: a terminating "/" is removed before appending.
      std::string base = o.issuer;
      while (!base.empty() && base.back() == '/')
        base.pop_back();
      o.expected_issuer = o.issuer;
      o.discovery_url = base + "/.well-known/openid-configuration";
    }
    for (std::size_t i = 0; i < o.scopes.size(); ++i) {
      if (i) o.scope += ' ';
      o.scope += o.scopes[i];
    }
  }

  void parse_organisations(const json::value* v) {
    if (!v) {
      diag.add("organisations", "is required");
      return;
    }
    const json::array* a = v->if_array();
    if (!a) {
      diag.add("organisations", "must be an array", render(*v));
      return;
    }
    if (a->empty()) diag.add("organisations", "must list at least one organisation");
    for (std::size_t i = 0; i < a->size(); ++i)
      parse_organisation((*a)[i], index_path("organisations", i));
  }

  void index_access_token_issuers() {
    for (std::size_t i = 0; i < cfg.organisations_.size(); ++i) {
      auto& o = cfg.organisations_[i];
      if (o.access_tokens.audiences.empty()) continue;
      access_token_expectations& want = o.access_token_rules;
      want.issuers = {o.expected_issuer};
      if (!o.expected_v1_issuer.empty()) want.issuers.push_back(o.expected_v1_issuer);
      want.audiences = o.access_tokens.audiences;
      if (o.checks_tenant()) want.tenant_id = o.tenant_id;
      want.skew = std::chrono::duration_cast<std::chrono::seconds>(o.clock_skew);
      want.allowed_algs = o.allowed_algs;
      want.max_token_bytes = cfg.limits.max_token_bytes;
      cfg.by_access_token_issuer_[o.expected_issuer].push_back(i);
      if (!o.expected_v1_issuer.empty() && o.expected_v1_issuer != o.expected_issuer)
        cfg.by_access_token_issuer_[o.expected_v1_issuer].push_back(i);
    }
  }

  void cross_check() {
    auto& orgs = cfg.organisations_;
    auto& s = cfg.server;
    for (std::size_t i = 0; i < orgs.size(); ++i) {
      const auto& o = orgs[i];
      if (o.name.empty()) continue;
      if (auto [it, fresh] = cfg.by_name_.emplace(o.name, i); !fresh)
        diag.add(org_paths[i] + ".name", "duplicates " + org_paths[it->second] + ".name",
                 render(o.name));
    }
    if (!s.default_organisation.empty() &&
        std::find(names_seen.begin(), names_seen.end(), s.default_organisation) == names_seen.end())
      diag.add("server.default_organisation", "names no configured organisation",
               render(s.default_organisation));

    // Hosts select organisations, so each may select only one.
    struct owner {
      std::string path;
      std::size_t org;
    };
    std::unordered_map<std::string, owner> host_owner;
    for (std::size_t i = 0; i < orgs.size(); ++i) {
      const auto& o = orgs[i];
      if (!o.name.empty() && !s.base_domain.empty())
        host_owner.emplace(o.name + "." + s.base_domain, owner{org_paths[i] + ".name", i});
    }
    for (std::size_t i = 0; i < orgs.size(); ++i) {
      const auto& o = orgs[i];
      for (std::size_t h = 0; h < o.hosts.size(); ++h) {
        const std::string& p = host_paths[i][h];
        if (auto [it, fresh] = host_owner.emplace(o.hosts[h], owner{p, i}); fresh)
          cfg.by_host_.emplace(o.hosts[h], i);
        else if (it->second.org != i)
          diag.add(p, "is already the host of " + it->second.path, render(o.hosts[h]));
      }
      if (!o.name.empty() && !s.base_domain.empty() && cfg.by_name_.at(o.name) == i)
        cfg.by_host_.emplace(o.name + "." + s.base_domain, i);
    }

    // The callback must land on a host that selects this organisation, or the login-state
    // cookie set at login time is not sent back with it.
    for (std::size_t i = 0; i < orgs.size(); ++i) {
      const auto& o = orgs[i];
      if (!redirect_explicit.count(i) || o.name.empty() || o.redirect_host.empty()) continue;
      const std::string own = s.base_domain.empty() ? "" : o.name + "." + s.base_domain;
      const bool ok = o.redirect_host == own ||
                      std::find(o.hosts.begin(), o.hosts.end(), o.redirect_host) != o.hosts.end() ||
                      (o.name == s.default_organisation && is_loopback_host(o.redirect_host));
      if (!ok)
        diag.add(org_paths[i] + ".redirect_uri",
                 "must have the host " + (own.empty() ? std::string("{name}.{base_domain}") : own) +
                     " or one listed in " + org_paths[i] +
                     ".hosts (a loopback host only for the default organisation)",
                 render(o.redirect_uri));
    }
  }

  std::vector<std::string> listen_paths;
  std::vector<std::vector<std::string>> host_paths;  // parallel to organisations
  std::unordered_set<std::size_t> redirect_explicit;
};

namespace {

std::string_view json_problem(auth_error e) {
  switch (e) {
    case auth_error::json_duplicate_member:
      return "repeats a member name in one object (json_duplicate_member)";
    case auth_error::json_too_deep:
      return "is nested too deeply (json_too_deep)";
    case auth_error::json_too_large:
      return "is too large (json_too_large)";
    default:
      return "is not valid JSON (json_invalid)";
  }
}

// IPv4 as the IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
ip_address as_v6(const ip_address& a) {
  if (a.family == ip_address::family_t::v6) return a;
  ip_address m;
  m.family = ip_address::family_t::v6;
  m.bytes[10] = 0xff;
  m.bytes[11] = 0xff;
  std::copy_n(a.bytes.begin(), 4, m.bytes.begin() + 12);
  return m;
}

std::optional<ip_address> unmap_v4(const ip_address& a) {
  if (a.family == ip_address::family_t::v4) return a;
  static constexpr std::array<std::uint8_t, 12> prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!std::equal(prefix.begin(), prefix.end(), a.bytes.begin())) return std::nullopt;
  ip_address v4;
  std::copy_n(a.bytes.begin() + 12, 4, v4.bytes.begin());
  return v4;
}

bool prefix_equal(const ip_address& a, const ip_address& b, unsigned bits) {
  const unsigned full = bits / 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + full, b.bytes.begin())) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

std::string normalise_host(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    host = close == std::string_view::npos ? std::string_view{} : host.substr(1, close - 1);
  } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return lower(host);
}

}  // namespace

std::string to_string(const config_error& e) {
  std::string out = e.path;
  if (!out.empty()) out += ": ";
  out += e.problem;
  if (!e.got.empty()) out += " (got " + e.got + ")";
  return out;
}

std::string format_errors(std::span<const config_error> errors) {
  std::string out;
  for (const auto& e : errors) {
    out += to_string(e);
    out += '\n';
  }
  return out;
}

void throw_exception_from_error(const std::vector<config_error>& errors,
                                const boost::source_location& loc) {
  boost::throw_exception(
      std::system_error(make_error_code(auth_error::config_invalid), format_errors(errors)), loc);
}

std::optional<std::array<std::uint8_t, 32>> decode_secret_key_32(std::string_view text) noexcept {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);
  std::array<std::uint8_t, 32> key{};
  if (text.size() == 64) {
    const auto nibble = [](char c) -> int {
      if (is_digit(c)) return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    for (std::size_t i = 0; i < 32; ++i) {
      const int hi = nibble(text[2 * i]);
      const int lo = nibble(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return key;
  }
  if (text.size() == base64url_encoded_size(32)) {
    auto n = base64url_decode(text, key);
    if (n && *n == key.size()) return key;
  }
  return std::nullopt;
}

std::optional<ip_address> parse_ip_address(std::string_view text) noexcept {
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  char buf[46] = {};
  std::copy(text.begin(), text.end(), buf);
  ip_address a;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    a.family = ip_address::family_t::v4;
  } else {
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
    a.family = ip_address::family_t::v6;
  }
  return a;
}

bool is_loopback(const ip_address& a) noexcept {
  if (const auto v4 = unmap_v4(a)) return v4->bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a.bytes == one;
}

bool ip_network::contains(const ip_address& a) const noexcept {
  if (base.family == ip_address::family_t::v4) {
    const auto v4 = unmap_v4(a);
    return v4 && prefix_equal(base, *v4, prefix_length);
  }
  return prefix_equal(base, as_v6(a), prefix_length);
}

std::optional<ip_network> parse_ip_network(std::string_view text) noexcept {
  const auto slash = text.find('/');
  auto base = parse_ip_address(text.substr(0, slash));
  if (!base) return std::nullopt;
  const unsigned max_bits = base->family == ip_address::family_t::v4 ? 32 : 128;
  ip_network n{*base, max_bits};
  if (slash == std::string_view::npos) return n;
  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits.front() == '0') ||
      !std::all_of(digits.begin(), digits.end(), is_digit))
    return std::nullopt;
  unsigned bits = 0;
  for (char c : digits)
    bits = bits * 10 + static_cast<unsigned>(c - '0');
  if (bits > max_bits) return std::nullopt;
  n.prefix_length = bits;
  // Host bits set beyond the prefix usually mean a typo in the address or the length.
  for (unsigned i = bits; i < max_bits; ++i) {
    if (base->bytes[i / 8] & (0x80 >> (i % 8))) return std::nullopt;
  }
  return n;
}

bool server_settings::is_trusted_proxy(const ip_address& peer) const noexcept {
  return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                     [&](const ip_network& n) { return n.contains(peer); });
}

bool organisation_config::passes_through(std::string_view parameter) const noexcept {
  return std::find(authorize_passthrough.begin(), authorize_passthrough.end(), parameter) !=
         authorize_passthrough.end();
}

std::span<const std::size_t> server_config::access_token_organisations(
    std::string_view issuer) const noexcept {
  const auto it = by_access_token_issuer_.find(issuer);
  if (it == by_access_token_issuer_.end()) return {};
  return it->second;
}

const organisation_config* server_config::find_organisation(std::string_view name) const noexcept {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &organisations_[it->second];
}

const organisation_config* server_config::find_organisation_for_host(
    std::string_view host) const noexcept {
  if (host.size() > 260) return nullptr;
  const std::string h = normalise_host(host);
  const auto it = by_host_.find(h);
  return it == by_host_.end() ? nullptr : &organisations_[it->second];
}

const organisation_config* server_config::default_organisation() const noexcept {
  return server.default_organisation.empty() ? nullptr
                                             : find_organisation(server.default_organisation);
}

std::vector<std::string> settings_needing_restart(const server_config& running,
                                                  const server_config& next) {
  std::vector<std::string> out;
  if (running.server.listen != next.server.listen) out.emplace_back("server.listen");
  if (running.server.io_threads != next.server.io_threads) out.emplace_back("server.io_threads");
  if (running.limits.max_connections != next.limits.max_connections)
    out.emplace_back("limits.max_connections");
  if (running.metrics.admin_listen != next.metrics.admin_listen)
    out.emplace_back("metrics.admin_listen");
  if (running.metrics.organisation_labels != next.metrics.organisation_labels ||
      running.metrics.organisation_cap != next.metrics.organisation_cap)
    out.emplace_back("metrics.organisation_labels");
  if (running.logging != next.logging) out.emplace_back("logging");
  if (running.accounts.database != next.accounts.database) out.emplace_back("accounts.database");
  if (running.accounts.sqlite_path != next.accounts.sqlite_path)
    out.emplace_back("accounts.sqlite_path");
  if (running.accounts.postgres_dsn_env != next.accounts.postgres_dsn_env)
    out.emplace_back("accounts.postgres_dsn_env");
  return out;
}

config_result parse_config(std::string_view json_text, const config_environment& env) {
  auto doc = parse_json(json_text, kConfigJsonLimits);
  if (!doc) return std::vector<config_error>{{"", std::string(json_problem(doc.error())), ""}};
  const json::object* root = doc->if_object();
  if (!root) return std::vector<config_error>{{"", "must be a JSON object", render(*doc)}};

  diagnostics diag;
  config_builder b(env, diag);
  fields top(diag, &*doc, "");
  // Order matters: organisations depend on server (base domain, cookie mode), upstream (plain
  // http flag) and accounts (default account mode).
  b.parse_server(top.get("server"));
  b.parse_timeouts(top.get("timeouts"));
  b.parse_limits(top.get("limits"));
  b.parse_session(top.get("session"));
  b.parse_cookies(top.get("cookies"));
  b.parse_accounts(top.get("accounts"));
  b.parse_upstream(top.get("upstream"));
  b.parse_jwks(top.get("jwks"));
  b.parse_verify(top.get("verify"));
  b.parse_metrics(top.get("metrics"));
  b.parse_logging(top.get("logging"));
  b.parse_organisations(top.get("organisations"));
  top.finish();
  b.cross_check();
  if (!diag.empty()) return diag.take();
  b.index_access_token_issuers();
  return std::make_shared<const server_config>(std::move(b.cfg));
}

}  // namespace oidc
