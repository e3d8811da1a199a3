// SPDX-License-Identifier: Apache-2.0
// Every case of the Wycheproof signature and JOSE vector files, run through our API: keys through
// parse_jwk/parse_jwks, raw signatures through verify_signature, tokens through verify_jws_bytes.
// Valid cases must verify, invalid ones must be rejected with a reason, acceptable ones may go
// either way. A case that is neither passed nor in a printed skip category or exception list
// fails the test. Per file, the counts are printed.
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "oidc/base64url.hpp"
#include "oidc/jwk.hpp"
#include "oidc/jws.hpp"
#include "support/testdata.hpp"

namespace oidc {
namespace {
namespace json = boost::json;

std::vector<std::uint8_t> hex(std::string_view s) {
  std::vector<std::uint8_t> out;
  const auto nib = [](char c) {
    return static_cast<std::uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nib(s[i]) << 4 | nib(s[i + 1])));
  }
  return out;
}

std::string_view str(const json::value& v) {
  const auto& s = v.as_string();
  return {s.data(), s.size()};
}

struct stats {
  std::string file;
  std::size_t run = 0;
  std::size_t passed = 0;
  std::size_t acceptable_accepted = 0;
  std::size_t acceptable_rejected = 0;
  std::map<std::string, std::size_t> skipped;   // category -> count
  std::map<std::string, std::size_t> rejected;  // reason label -> count, for invalid cases
  std::vector<std::string> exceptions;          // printed with their reason
  std::vector<std::string> failures;

  void reject(auth_error e) { ++rejected[std::string(label(e))]; }

  void print_and_check() const {
    std::size_t skipped_total = 0;
    for (const auto& [k, n] : skipped)
      skipped_total += n;
    std::ostringstream out;
    out << "[wycheproof] " << file << ": run " << run << ", passed " << passed << ", acceptable "
        << acceptable_accepted + acceptable_rejected << " (accepted " << acceptable_accepted
        << ", rejected " << acceptable_rejected << "), skipped " << skipped_total << ", exceptions "
        << exceptions.size() << ", failed " << failures.size() << "\n";
    for (const auto& [k, n] : skipped)
      out << "    skipped " << n << ": " << k << "\n";
    out << "    invalid cases rejected by reason:";
    for (const auto& [k, n] : rejected)
      out << " " << k << "=" << n;
    out << "\n";
    for (const auto& e : exceptions)
      out << "    exception " << e << "\n";
    std::cout << out.str() << std::flush;
    EXPECT_EQ(run, passed + acceptable_accepted + acceptable_rejected + skipped_total +
                       exceptions.size() + failures.size());
    for (const auto& f : failures)
      ADD_FAILURE() << file << ": " << f;
    EXPECT_GT(run, 0u);
  }
};

// --- signature primitive files -------------------------------------------------------------------

void run_signature_file(const std::filesystem::path& path, jws_alg alg) {
  const json::value doc = json::parse(test::read_file(path));
  stats s;
  s.file = path.filename().string() + " (" + std::string(alg_name(alg)) + ")";
  for (const auto& g : doc.at("testGroups").as_array()) {
    const auto& group = g.as_object();
    const json::value* jwk_json = group.if_contains("publicKeyJwk");
    if (!jwk_json) jwk_json = group.if_contains("keyJwk");
    ASSERT_NE(jwk_json, nullptr) << "group without a JWK in " << s.file;
    const auto key = parse_jwk(jwk_json->as_object());
    for (const auto& t : group.at("tests").as_array()) {
      const auto& tc = t.as_object();
      ++s.run;
      const auto id = tc.at("tcId").as_int64();
      const std::string_view expected = str(tc.at("result"));
      if (!key) {
        s.failures.push_back("tcId " + std::to_string(id) +
                             ": group key refused: " + std::string(label(key.error())));
        continue;
      }
      const auto msg = hex(str(tc.at("msg")));
      const auto sig = hex(str(tc.at("sig")));
      const auto r = verify_signature(
          *key, alg, std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()), sig);
      const std::string what =
          "tcId " + std::to_string(id) + " (" + std::string(str(tc.at("comment"))) + ")";
      if (expected == "valid") {
        if (r) {
          ++s.passed;
        } else {
          s.failures.push_back(what +
                               ": valid signature refused: " + std::string(label(r.error())));
        }
      } else if (expected == "invalid") {
        if (r) {
          s.failures.push_back(what + ": invalid signature ACCEPTED");
        } else if (r.error() != auth_error::signature_invalid) {
          s.failures.push_back(what + ": rejected with " + std::string(label(r.error())) +
                               " instead of signature_invalid");
        } else {
          ++s.passed;
          s.reject(r.error());
        }
      } else {  // acceptable: either way, but a rejection is still signature_invalid
        if (r) {
          ++s.acceptable_accepted;
        } else if (r.error() == auth_error::signature_invalid) {
          ++s.acceptable_rejected;
        } else {
          s.failures.push_back(what + ": acceptable case rejected with " +
                               std::string(label(r.error())));
        }
      }
    }
  }
  s.print_and_check();
}

#define OIDC_WYCHEPROOF_SIGNATURE_TEST(test_name, file, alg) \
  TEST(Wycheproof, test_name) {                              \
    OIDC_REQUIRE_TESTDATA("wycheproof/" file, path);         \
    run_signature_file(path, alg);                           \
  }

OIDC_WYCHEPROOF_SIGNATURE_TEST(RsaPkcs1Sha256, "rsa_signature_2048_sha256_test.json",
                               jws_alg::RS256)
OIDC_WYCHEPROOF_SIGNATURE_TEST(RsaPkcs1Sha384, "rsa_signature_2048_sha384_test.json",
                               jws_alg::RS384)
OIDC_WYCHEPROOF_SIGNATURE_TEST(RsaPkcs1Sha512, "rsa_signature_2048_sha512_test.json",
                               jws_alg::RS512)
OIDC_WYCHEPROOF_SIGNATURE_TEST(RsaPssSha256, "rsa_pss_2048_sha256_mgf1_32_test.json",
                               jws_alg::PS256)
OIDC_WYCHEPROOF_SIGNATURE_TEST(RsaPssSha384, "rsa_pss_2048_sha384_mgf1_48_test.json",
                               jws_alg::PS384)
OIDC_WYCHEPROOF_SIGNATURE_TEST(EcdsaP256, "ecdsa_secp256r1_sha256_p1363_test.json", jws_alg::ES256)
OIDC_WYCHEPROOF_SIGNATURE_TEST(EcdsaP384, "ecdsa_secp384r1_sha384_p1363_test.json", jws_alg::ES384)
OIDC_WYCHEPROOF_SIGNATURE_TEST(EcdsaP521, "ecdsa_secp521r1_sha512_p1363_test.json", jws_alg::ES512)
OIDC_WYCHEPROOF_SIGNATURE_TEST(Ed25519, "ed25519_test.json", jws_alg::EdDSA)

// --- JOSE files
// -----------------------------------------------------------------------------------

constexpr std::string_view kSkipHmac = "HMAC (HS*) token: no HMAC for IdP tokens, alg_not_allowed";
constexpr std::string_view kSkipJsonSerialization =
    "JWS JSON serialization: only compact is implemented, malformed_token";

// A vector we knowingly decide differently, with the reason we expect and why.
struct known_exception {
  auth_error expected;
  std::string_view why;
};

struct group_keys {
  key_set keys;
  std::vector<std::string> refused;  // "kid: reason" per key parse_jwk refused
  std::optional<auth_error> first_refusal;
};

// Loads a group's key(s) the way the server would: a JWKS through parse_jwks, a single JWK
// through parse_jwk. Refused keys are recorded with parse_jwk's reason.
group_keys load_group_keys(const json::object& group) {
  group_keys out;
  const json::value* v = group.if_contains("public");
  if (!v) v = group.if_contains("private");
  if (!v) return out;
  const json::object& o = v->as_object();
  std::vector<const json::object*> members;
  if (const json::value* ks = o.if_contains("keys")) {
    for (const auto& k : ks->as_array())
      members.push_back(&k.as_object());
  } else {
    members.push_back(&o);
  }
  for (const json::object* m : members) {
    const auto k = parse_jwk(*m);
    if (!k) {
      const json::string* kid = find_string(*m, "kid");
      out.refused.push_back((kid ? std::string(kid->c_str()) : std::string("(no kid)")) + ": " +
                            std::string(label(k.error())));
      if (!out.first_refusal) out.first_refusal = k.error();
    }
  }
  if (o.contains("keys")) {
    if (auto parsed = parse_jwks(json::serialize(o))) out.keys = *parsed->keys;
  } else if (auto k = parse_jwk(o)) {
    std::vector<std::shared_ptr<const jwk>> one{std::make_shared<const jwk>(std::move(*k))};
    out.keys = key_set(std::move(one));
  }
  return out;
}

std::string header_alg(std::string_view token) {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return {};
  const auto h = base64url_decode(token.substr(0, dot));
  if (!h) return {};
  json::error_code ec;
  const json::value v = json::parse(*h, ec);
  if (ec || !v.is_object()) return {};
  const json::string* alg = find_string(v.as_object(), "alg");
  return alg ? std::string(alg->c_str()) : std::string();
}

void run_jose_file(const std::filesystem::path& path,
                   const std::map<std::int64_t, known_exception>& exceptions,
                   const std::map<std::int64_t, auth_error>& expected_key_refusals) {
  const json::value doc = json::parse(test::read_file(path));
  stats s;
  s.file = path.filename().string();
  jws_verify_options options;
  options.allowed_algs = alg_set::all();
  std::set<std::int64_t> seen_exceptions;
  for (const auto& g : doc.at("testGroups").as_array()) {
    const auto& group = g.as_object();
    const group_keys keys = load_group_keys(group);
    for (const auto& t : group.at("tests").as_array()) {
      const auto& tc = t.as_object();
      ++s.run;
      const auto id = tc.at("tcId").as_int64();
      const std::string what =
          "tcId " + std::to_string(id) + " (" + std::string(str(tc.at("comment"))) + ")";
      const std::string token =
          tc.at("jws").is_string() ? std::string(str(tc.at("jws"))) : json::serialize(tc.at("jws"));
      const std::string_view expected = str(tc.at("result"));
      bool json_serialization = !token.empty() && token.front() == '{';
      for (const auto& f : tc.at("flags").as_array()) {
        json_serialization = json_serialization || str(f) == "JsonSerialization";
      }
      const bool hmac = header_alg(token).rfind("HS", 0) == 0;

      if (const auto k = expected_key_refusals.find(id); k != expected_key_refusals.end()) {
        if (keys.first_refusal != k->second) {
          s.failures.push_back(what + ": expected the group key to be refused with " +
                               std::string(label(k->second)));
          continue;
        }
        std::cout << "[wycheproof] " << s.file << " " << what << ": key refused ("
                  << keys.refused.front() << ")\n";
      }

      const auto r = verify_jws_bytes(token, keys.keys, options);
      const auth_error got = r ? auth_error::ok : r.error();
      if (const auto e = exceptions.find(id); e != exceptions.end()) {
        seen_exceptions.insert(id);
        if (got != e->second.expected) {
          s.failures.push_back(what + ": listed exception expected " +
                               std::string(label(e->second.expected)) + ", got " +
                               std::string(label(got)));
        } else {
          s.exceptions.push_back(what + ", Wycheproof says " + std::string(expected) + ", we say " +
                                 std::string(label(got)) + ": " + std::string(e->second.why));
        }
        continue;
      }
      if (json_serialization && got == auth_error::malformed_token) {
        ++s.skipped[std::string(kSkipJsonSerialization)];
      } else if (hmac && got == auth_error::alg_not_allowed) {
        ++s.skipped[std::string(kSkipHmac)];
      } else if (expected == "valid") {
        if (got == auth_error::ok) {
          ++s.passed;
        } else {
          s.failures.push_back(what + ": valid token refused: " + std::string(label(got)));
        }
      } else if (expected == "invalid") {
        if (got == auth_error::ok) {
          s.failures.push_back(what + ": invalid token ACCEPTED");
        } else if (got == auth_error::internal_error) {
          s.failures.push_back(what + ": internal_error is not a rejection reason");
        } else {
          ++s.passed;
          s.reject(got);
        }
      } else if (got == auth_error::ok) {
        ++s.acceptable_accepted;
      } else {
        ++s.acceptable_rejected;
      }
    }
  }
  for (const auto& [id, e] : exceptions) {
    EXPECT_TRUE(seen_exceptions.count(id)) << s.file << ": exception for absent tcId " << id;
  }
  s.print_and_check();
}

TEST(Wycheproof, JsonWebSignature) {
  OIDC_REQUIRE_TESTDATA("wycheproof/json_web_signature_test.json", path);
  // RFC 7520 §4.2-4.3 examples, whose published keys carry an "alg" other than the token's.
  const std::map<std::int64_t, known_exception> exceptions{
      {346,
       {auth_error::key_use_mismatch,
        "key alg PS256, token alg PS384; RFC 7517 §4.4 binds the key to PS256 (strict by design)"}},
      {350,
       {auth_error::key_use_mismatch,
        "key alg PS256 (with key_ops verify), token alg PS384; strict RFC 7517 §4.4"}},
      {347,
       {auth_error::kid_unknown,
        "key alg \"ES521\" is not a JWA name (RFC 7518 §3.1: ES512), so the key is refused "
        "(alg_unsupported) and the kid is unknown"}},
      {351,
       {auth_error::kid_unknown,
        "key alg \"ES521\" (with key_ops verify) is not a JWA name; key refused, kid unknown"}},
      // An HS256 token (never accepted anyway) with '?' inside the header part.
      {372,
       {auth_error::base64_invalid,
        "'?' inside the base64url header: strict base64url (RFC 7515 §2) refuses the part "
        "before alg is read; Wycheproof accepts decoders that skip the character"}},
  };
  run_jose_file(path, exceptions,
                {{353, auth_error::key_use_mismatch},
                 {354, auth_error::key_use_mismatch},
                 {355, auth_error::key_use_mismatch},
                 {356, auth_error::key_use_mismatch}});
}

TEST(Wycheproof, JsonWebKey) {
  OIDC_REQUIRE_TESTDATA("wycheproof/json_web_key_test.json", path);
  // Each invalid case whose key our policy refuses, with the reason it must be refused for.
  run_jose_file(path, {},
                {{6, auth_error::key_use_mismatch},
                 {7, auth_error::key_too_weak},  // ROCA fingerprint (CVE-2017-15361)
                 {8, auth_error::key_too_weak},  // RSA-1024
                 {9, auth_error::key_too_weak},  // e = 1
                 {19, auth_error::alg_unsupported},
                 {20, auth_error::alg_unsupported},
                 {21, auth_error::key_use_mismatch},
                 {22, auth_error::key_invalid},  // point not on the curve
                 {23, auth_error::key_invalid},  // P-256 coordinates as P-384
                 {24, auth_error::key_invalid},  // EC members under kty RSA
                 {25, auth_error::key_unsupported},
                 {26, auth_error::key_unsupported}});
}

}  // namespace
}  // namespace oidc
