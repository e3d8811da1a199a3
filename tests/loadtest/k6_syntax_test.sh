#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the k6 scripts with Node 20 (k6 itself is not needed): every file under loadtest/k6/
# parses as an ES module (`node --check` on a .mjs copy), and every script runs under the k6 v0.45
# stand-ins of tests/loadtest/k6_shim/ (imports limited to k6, k6/http, k6/metrics, k6/execution
# and relative files, v0.45 names only, no syntax or globals newer than v0.45, valid options,
# scenarios and thresholds, a simulated run whose checks and thresholds all pass, handleSummary).
#
#   tests/loadtest/k6_syntax_test.sh [K6_DIR]     # K6_DIR defaults to loadtest/k6
#   tests/loadtest/k6_syntax_test.sh --live SERVER_BIN IDP_BIN
#
# --live starts the mock IdP and the server (loopback, free ports, a dev PKI and keys in a temp
# folder, configurations like the demo's) and runs, with real sockets through the stand-in's
# k6/http, each script's setup() and one iteration of its first scenario (one complete login for
# login_storm.js); every check must pass. Needs openssl.
#
# Without node: prints SKIP and exits 77 (CTest SKIP_RETURN_CODE), or fails when CI=true.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
live=0
if [ "${1:-}" = "--live" ]; then
  live=1
  server_bin=${2:?--live SERVER_BIN IDP_BIN}
  idp_bin=${3:?--live SERVER_BIN IDP_BIN}
  set -- "$repo/loadtest/k6"
fi
k6_dir=$(cd "${1:-$repo/loadtest/k6}" && pwd)
shim=$here/k6_shim

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $* (CI=true: the k6 script checks must run)" >&2
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

node=$(command -v node || true)
[ -n "$node" ] || skip "node not found; install Node.js 20 to check the k6 scripts"
version=$("$node" -p 'process.versions.node')
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
# module.register and --import: Node 20.6+, backported to 18.19 (Debian 12's nodejs).
if [ "$major" -lt 18 ] || { [ "$major" -eq 18 ] && [ "$minor" -lt 19 ]; } ||
   { [ "$major" -eq 20 ] && [ "$minor" -lt 6 ]; } || [ "$major" -eq 19 ]; then
  skip "node $version lacks module.register (needs 18.19+ or 20.6+)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/k6-syntax.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failures=0

if [ "$live" = 1 ]; then
  [ -x "$server_bin" ] && [ -x "$idp_bin" ] || { echo "FAIL: $server_bin or $idp_bin is not executable" >&2; exit 1; }
  command -v openssl >/dev/null || skip "openssl not found (the live run makes development keys)"
  tenant=3f2a9c4e-7b1d-4e8a-9c6f-2d5b8e1a4c70
  client=b7e4d2a1-5c3f-4a9e-8d6b-1f0e9c2a7d35
  free_port() { "$node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
  idp_port=$(free_port)
  port=$(free_port)
  while [ "$port" = "$idp_port" ]; do port=$(free_port); done
  mkdir -p "$work/keys" && chmod 700 "$work/keys"
  "$idp_bin" --generate-dev-pki "$work/keys" >/dev/null
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/keys/session-signing-key.pem" 2>/dev/null)
  (umask 077 && openssl rand -hex 32 >"$work/keys/cookie-key")
  cat >"$work/mock-idp.json" <<JSON
{
  "base_url": "https://localhost:$idp_port",
  "listen": {"address": "127.0.0.1", "https_port": $idp_port, "cert_file": "keys/cert.pem", "key_file": "keys/key.pem"},
  "tenants": [{
    "id": "$tenant",
    "clients": [{"client_id": "$client", "type": "spa", "redirect_uris": ["http://localhost:$port/api/single-sign-on"]}],
    "users": [{"oid": "5f0c9a3e-2b7d-4c1a-9e8f-0a1b2c3d4e01", "name": "Ada Lovelace", "preferred_username": "ada@demo.example", "email": "ada@demo.example"}]
  }]
}
JSON
  cat >"$work/server.json" <<JSON
{
  "server": {"listen": [{"address": "127.0.0.1", "port": $port}], "base_domain": "localhost", "default_organisation": "demo",
             "cookie_mode": "development", "public_origin": "http://localhost:$port", "io_threads": 1},
  "session": {"issuer": "http://localhost:$port", "signing_keys": [{"kid": "k6-1", "private_key_file": "keys/session-signing-key.pem"}]},
  "cookies": {"keys": [{"id": 1, "secret_file": "keys/cookie-key"}]},
  "accounts": {"mode": "tenant", "database": "sqlite", "sqlite_path": "accounts.db"},
  "upstream": {"ca_file": "keys/ca.pem"},
  "organisations": [{"name": "demo", "tenant_id": "$tenant", "client_id": "$client", "authority": "https://localhost:$idp_port",
                     "redirect_uri": "http://localhost:$port/api/single-sign-on", "access_tokens": {"audiences": ["$client"]}}]
}
JSON
  "$server_bin" --check-config --config "$work/server.json" >/dev/null
  "$idp_bin" --config "$work/mock-idp.json" >"$work/mock-idp.log" 2>&1 &
  pids+=($!)
  "$server_bin" --config "$work/server.json" >/dev/null 2>"$work/server.log" &
  pids+=($!)
  export BASE_URL=http://localhost:$port IDP_URL=https://localhost:$idp_port SSL_CERT_FILE=$work/keys/ca.pem
  up=0
  for _ in $(seq 1 100); do
    if "$node" -e 'const u=process.argv[1];require("http").get(u,r=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))' "http://127.0.0.1:$port/readyz" &&
       "$node" -e 'require("https").get(process.argv[1],{ca:require("fs").readFileSync(process.env.SSL_CERT_FILE)},r=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))' "https://localhost:$idp_port/$tenant/v2.0/.well-known/openid-configuration"; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    echo "FAIL: the server or the mock IdP did not start" >&2
    tail -n 5 "$work/server.log" "$work/mock-idp.log" >&2
    exit 1
  fi
  for s in "$k6_dir"/*.js; do
    if ! K6_SHIM_SUMMARY_DIR="$work/summary" TOKENS=5 QUIET=0 timeout 120 "$node" --import "$shim/register.mjs" "$shim/run.mjs" --live "$s"; then
      failures=$((failures + 1))
    fi
  done
  if [ "$failures" -gt 0 ]; then
    echo "k6 live checks: $failures failure(s)" >&2
    tail -n 20 "$work/server.log" >&2
    exit 1
  fi
  echo "k6 live checks: every script's setup() and first scenario iteration pass against the real servers"
  exit 0
fi

# TypeScript is not run by k6 v0.45.
while IFS= read -r -d '' f; do
  echo "FAIL ${f#"$k6_dir"/}: TypeScript files are not run by k6 v0.45" >&2
  failures=$((failures + 1))
done < <(find "$k6_dir" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.tsx' \) -print0)

# 1. Every .js file parses as an ES module.
count=0
while IFS= read -r -d '' f; do
  rel=${f#"$k6_dir"/}
  mkdir -p "$work/syntax/$(dirname "$rel")"
  cp "$f" "$work/syntax/${rel%.js}.mjs"
  if out=$("$node" --check "$work/syntax/${rel%.js}.mjs" 2>&1); then
    echo "ok   syntax $rel"
  else
    echo "FAIL syntax $rel" >&2
    printf '%s\n' "$out" | sed "s|$work/syntax/||g" | head -n 8 >&2
    failures=$((failures + 1))
  fi
  count=$((count + 1))
done < <(find "$k6_dir" -type f -name '*.js' -print0 | sort -z)
[ "$count" -gt 0 ] || { echo "FAIL: no .js files under $k6_dir" >&2; exit 1; }

# 2. Every script (the top-level .js files) under the k6 v0.45 stand-ins.
scripts=0
for s in "$k6_dir"/*.js; do
  [ -e "$s" ] || continue
  scripts=$((scripts + 1))
  if ! K6_SHIM_SUMMARY_DIR="$work/summary" timeout 120 "$node" --import "$shim/register.mjs" "$shim/run.mjs" "$s"; then
    failures=$((failures + 1))
  fi
done
[ "$scripts" -gt 0 ] || { echo "FAIL: no scripts in $k6_dir" >&2; exit 1; }

if [ "$failures" -gt 0 ]; then
  echo "k6 script checks: $failures failure(s)" >&2
  exit 1
fi
echo "k6 script checks: $count files parse, $scripts scripts pass under the k6 v0.45 stand-ins (node $version)"
