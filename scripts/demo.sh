#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: installs what is missing, builds, creates development keys and a dev CA under var/dev/
# if missing, starts the mock IdP (https://localhost:9443) and the server (http://localhost:8080)
# with config/demo.json, and prints the URL to open. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

server=build/bin/oidc-callback-server
idp=build/bin/oidc-mock-idp
if [ ! -x "$server" ] || [ ! -x "$idp" ]; then
  echo "demo: $server or $idp was not built; see the build output above." >&2
  exit 1
fi

dev=var/dev
mkdir -p "$dev"
chmod 700 "$dev"
[ -f "$dev/ca.pem" ] && [ -f "$dev/cert.pem" ] && [ -f "$dev/key.pem" ] || "$idp" --generate-dev-pki "$dev"
if [ ! -f "$dev/session-signing-key.pem" ]; then
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
     -out "$dev/session-signing-key.pem")
fi
if [ ! -f "$dev/cookie-key" ]; then
  (umask 077 && openssl rand -hex 32 >"$dev/cookie-key")
fi

"$server" --check-config --config config/demo.json

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$idp" --config config/mock-idp.json &
pids+=($!)
"$server" --config config/demo.json &
pids+=($!)

# Wait until both answer (bounded), then tell the person where to go.
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null --cacert "$dev/ca.pem" https://localhost:9443/healthz 2>/dev/null &&
     curl -fsS -o /dev/null http://localhost:8080/healthz 2>/dev/null; then
    break
  fi
  sleep 0.1
done

cat <<MSG

  Demo running. Open  http://localhost:8080/  and press "Sign in".

  Mock IdP: https://localhost:9443 (its certificate is issued by the dev CA $dev/ca.pem:
  trust that file in your browser, or click through the warning; curl: --cacert $dev/ca.pem).
  Scripted login: curl -sL -c /tmp/jar -b /tmp/jar --cacert $dev/ca.pem \\
                    http://localhost:8080/api/single-sign-on/login && curl -b /tmp/jar http://localhost:8080/api/session
  Ctrl-C stops both.

MSG
wait -n "${pids[@]}"
