// SPDX-License-Identifier: Apache-2.0
// Core hot-path benchmarks. Whole compact-JWS verification through our API is measured against a
// bare EVP_DigestVerify over the same key, message and signature in the same run, and the ratio
// (bare time / our time; 1.0 = no overhead) is printed at the end. Target: >= 0.90.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include "oidc/base64url.hpp"
#include "oidc/claims.hpp"
#include "oidc/jws.hpp"
#include "oidc/random.hpp"
#include "oidc/sealed_cookie.hpp"
#include "support/test_keys.hpp"

namespace {
using namespace oidc;
using std::chrono::sys_seconds;

constexpr std::string_view kTenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
constexpr std::string_view kClient = "6731de76-14a6-49ae-97bc-6eba6914391e";
const sys_seconds kNow{std::chrono::seconds{1'800'000'000}};

boost::json::object id_token_payload() {
  const std::int64_t now = kNow.time_since_epoch().count();
  return {{"iss", entra_v2_issuer("https://login.microsoftonline.com", kTenant)},
          {"aud", kClient},
          {"sub", "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"},
          {"oid", "00000000-0000-0000-66f3-3332eca7ea81"},
          {"tid", kTenant},
          {"nonce", "n-0S6_WzA2Mj"},
          {"name", "Megan Bowen"},
          {"preferred_username", "megan@contoso.example"},
          {"email", "megan@contoso.example"},
          {"iat", now - 10},
          {"nbf", now - 10},
          {"exp", now + 3600},
          {"ver", "2.0"}};
}

id_token_expectations expectations(jws_alg alg) {
  id_token_expectations want;
  want.issuer = entra_v2_issuer("https://login.microsoftonline.com", kTenant);
  want.client_id = kClient;
  want.tenant_id = std::string(kTenant);
  want.nonce = "n-0S6_WzA2Mj";
  want.allowed_algs = alg_set{alg};
  return want;
}

// A realistic Entra-sized key set: the signing key among four others of the same kind.
struct fixture {
  std::vector<test::test_key> keys;
  std::shared_ptr<const key_set> set;
  std::string token;
  // Bare-EVP inputs, prepared outside the timed loop.
  std::string signing_input;
  std::vector<unsigned char> der_or_raw_signature;

  explicit fixture(jws_alg alg) {
    for (int i = 0; i < 5; ++i)
      keys.push_back(test::make_test_key(alg, "kid-" + std::to_string(i)));
    std::vector<std::shared_ptr<const jwk>> parsed;
    for (const auto& k : keys)
      parsed.push_back(std::make_shared<const jwk>(parse_jwk(k.jwk).value()));
    set = std::make_shared<const key_set>(std::move(parsed));
    token = test::sign_test_token(keys[3], id_token_payload()).value();
    const auto parts = split_compact(token, 16384).value();
    signing_input = std::string(parts.signing_input);
    const auto sig = base64url_decode(parts.signature_b64).value();
    der_or_raw_signature.assign(sig.begin(), sig.end());
    if (alg == jws_alg::ES256) {  // OpenSSL wants DER; the conversion is not part of the baseline
      ecdsa_sig_ptr s(ECDSA_SIG_new());
      ECDSA_SIG_set0(s.get(), BN_bin2bn(der_or_raw_signature.data(), 32, nullptr),
                     BN_bin2bn(der_or_raw_signature.data() + 32, 32, nullptr));
      unsigned char* der = nullptr;
      const int n = i2d_ECDSA_SIG(s.get(), &der);
      der_or_raw_signature.assign(der, der + n);
      OPENSSL_free(der);
    }
  }
};

const fixture& rs256() {
  static const fixture f(jws_alg::RS256);
  return f;
}
const fixture& es256() {
  static const fixture f(jws_alg::ES256);
  return f;
}

void bare_evp_verify(benchmark::State& state, const fixture& f, const EVP_MD* md) {
  // The same public key object verify_jws uses (parsed from the JWK), not the private key.
  EVP_PKEY* pkey = f.set->keys()[3]->pkey.get();
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  for (auto _ : state) {
    EVP_MD_CTX_reset(ctx.get());
    int ok = EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey);
    ok &= EVP_DigestVerify(ctx.get(), f.der_or_raw_signature.data(), f.der_or_raw_signature.size(),
                           reinterpret_cast<const unsigned char*>(f.signing_input.data()),
                           f.signing_input.size());
    if (ok != 1) state.SkipWithError("bare verify failed");
    benchmark::DoNotOptimize(ok);
  }
}

// The floor: what verify_jws does per call for the signature alone (copy a context prepared once
// for the key, then verify), without parsing, key lookup or base64url.
void bare_prepared_verify(benchmark::State& state, const fixture& f, jws_alg alg) {
  const evp_md_ctx_ptr prepared = make_verify_context(f.set->keys()[3]->pkey.get(), alg);
  evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  for (auto _ : state) {
    int ok = EVP_MD_CTX_copy_ex(ctx.get(), prepared.get());
    ok &= EVP_DigestVerify(ctx.get(), f.der_or_raw_signature.data(), f.der_or_raw_signature.size(),
                           reinterpret_cast<const unsigned char*>(f.signing_input.data()),
                           f.signing_input.size());
    if (ok != 1) state.SkipWithError("bare prepared verify failed");
    benchmark::DoNotOptimize(ok);
  }
}

void api_verify(benchmark::State& state, const fixture& f, jws_alg alg) {
  jws_verify_options opt;
  opt.allowed_algs = alg_set{alg};
  for (auto _ : state) {
    auto r = verify_jws(f.token, *f.set, opt);
    if (!r) state.SkipWithError("verify_jws failed");
    benchmark::DoNotOptimize(r);
  }
}

void BM_RS256_BareEvpDigestVerify(benchmark::State& s) {
  bare_evp_verify(s, rs256(), EVP_sha256());
}
void BM_RS256_BarePreparedContext(benchmark::State& s) {
  bare_prepared_verify(s, rs256(), jws_alg::RS256);
}
void BM_RS256_VerifyJws(benchmark::State& s) {
  api_verify(s, rs256(), jws_alg::RS256);
}
void BM_ES256_BareEvpDigestVerify(benchmark::State& s) {
  bare_evp_verify(s, es256(), EVP_sha256());
}
void BM_ES256_BarePreparedContext(benchmark::State& s) {
  bare_prepared_verify(s, es256(), jws_alg::ES256);
}
void BM_ES256_VerifyJws(benchmark::State& s) {
  api_verify(s, es256(), jws_alg::ES256);
}

void BM_RS256_VerifyIdTokenWithClaims(benchmark::State& state) {
  const auto want = expectations(jws_alg::RS256);
  for (auto _ : state) {
    auto r = verify_id_token(rs256().token, *rs256().set, want, kNow);
    if (!r) state.SkipWithError("verify_id_token failed");
    benchmark::DoNotOptimize(r);
  }
}

// Everything but the signature: split, base64url, header and payload parse, claim rules.
void BM_ParseAndCheckClaimsWithoutSignature(benchmark::State& state) {
  const auto want = expectations(jws_alg::RS256);
  const std::string& token = rs256().token;
  for (auto _ : state) {
    auto parts = split_compact(token, 16384);
    auto header = parse_json_object(base64url_decode(parts->header_b64).value(), kJoseJsonLimits);
    auto payload = parse_json_object(base64url_decode(parts->payload_b64).value(), kJoseJsonLimits);
    auto claims = check_id_token_claims(*payload, want, kNow);
    if (!header || !claims) state.SkipWithError("claims failed");
    benchmark::DoNotOptimize(claims);
  }
}

void BM_Base64UrlDecode(benchmark::State& state) {
  std::string raw(static_cast<std::size_t>(state.range(0)), '\0');
  for (std::size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<char>(i * 131u);
  const std::string encoded = base64url_encode(raw);
  std::vector<std::uint8_t> out(base64url_decoded_max(encoded.size()));
  for (auto _ : state) {
    auto n = base64url_decode(encoded, out);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * encoded.size()));
}

void BM_SealedCookieOpen(benchmark::State& state) {
  cookie_key_ring ring;
  std::vector<std::uint8_t> key(kCookieKeyBytes, 7);
  (void)ring.add(1, key);
  openssl_random rng;
  login_state ls{"Zq3bYcYw5uSxP3TfNfr2Lw",
                 "n-0S6_WzA2Mj",
                 "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                 "acme",
                 "/dashboard",
                 kNow + std::chrono::minutes(10)};
  const std::string sealed = seal_login_state(ring, ls, rng).value();
  for (auto _ : state) {
    auto r = open_login_state(ring, sealed, kNow);
    if (!r) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(r);
  }
}

// Session-token signing (ES256, once per login): our path (a context prepared once per key and
// copied per signature, JSON serialised, base64url) against the floor of one EVP_PKEY_CTX reused
// for EVP_PKEY_sign over a ready SHA-256 digest (what `openssl speed ecdsap256` times).
void BM_ES256_SignCompactPrepared(benchmark::State& state) {
  const auto& key = es256().keys[3];
  const evp_md_ctx_ptr prepared = make_sign_context(key.private_key.get(), jws_alg::ES256);
  const boost::json::object header{{"alg", "ES256"}, {"kid", key.kid}, {"typ", "JWT"}};
  const boost::json::object payload = id_token_payload();
  for (auto _ : state) {
    auto r = sign_compact_prepared(header, payload, prepared.get(), jws_alg::ES256);
    if (!r) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(r);
  }
}

void BM_ES256_BarePkeySignReusedContext(benchmark::State& state) {
  EVP_PKEY* pkey = es256().keys[3].private_key.get();
  evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) state.SkipWithError("sign init failed");
  unsigned char digest[32];
  unsigned int digest_len = 0;
  const std::string& input = es256().signing_input;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha256(), nullptr);
  unsigned char sig[128];
  for (auto _ : state) {
    std::size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx.get(), sig, &len, digest, digest_len) != 1)
      state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig);
  }
}

void BM_RandomToken32(benchmark::State& state) {
  openssl_random rng;
  for (auto _ : state) {
    auto t = random_token(rng, 32);
    benchmark::DoNotOptimize(t);
  }
}

BENCHMARK(BM_RS256_BareEvpDigestVerify);
BENCHMARK(BM_RS256_BarePreparedContext);
BENCHMARK(BM_RS256_VerifyJws);
BENCHMARK(BM_ES256_BareEvpDigestVerify);
BENCHMARK(BM_ES256_BarePreparedContext);
BENCHMARK(BM_ES256_VerifyJws);
BENCHMARK(BM_RS256_VerifyIdTokenWithClaims);
BENCHMARK(BM_ParseAndCheckClaimsWithoutSignature);
BENCHMARK(BM_Base64UrlDecode)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_SealedCookieOpen);
BENCHMARK(BM_ES256_SignCompactPrepared);
BENCHMARK(BM_ES256_BarePkeySignReusedContext);
BENCHMARK(BM_RandomToken32);

// Prints the runs as usual, then the API/bare ratios from the same process.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Iteration) cpu_ns_[r.benchmark_name()] = r.GetAdjustedCPUTime();
      // With --benchmark_repetitions the median is the figure we compare.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median")
        cpu_ns_[r.run_name.str()] = r.GetAdjustedCPUTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    print_ratio("RS256", "BM_RS256_BareEvpDigestVerify", "BM_RS256_VerifyJws");
    print_ratio("ES256", "BM_ES256_BareEvpDigestVerify", "BM_ES256_VerifyJws");
    print_ratio("RS256 vs prepared-context floor", "BM_RS256_BarePreparedContext",
                "BM_RS256_VerifyJws");
    print_ratio("ES256 vs prepared-context floor", "BM_ES256_BarePreparedContext",
                "BM_ES256_VerifyJws");
    print_ratio("ES256 session signing vs reused-context EVP_PKEY_sign",
                "BM_ES256_BarePkeySignReusedContext", "BM_ES256_SignCompactPrepared",
                "sign_compact_prepared");
  }

 private:
  void print_ratio(const char* what, const std::string& bare, const std::string& api,
                   const char* ours = "verify_jws") {
    if (!cpu_ns_.count(bare) || !cpu_ns_.count(api)) return;
    std::printf("ratio %s: %s throughput / bare = %.3f (%.0f ns vs %.0f ns CPU)\n", what, ours,
                cpu_ns_[bare] / cpu_ns_[api], cpu_ns_[api], cpu_ns_[bare]);
  }
  std::map<std::string, double> cpu_ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
