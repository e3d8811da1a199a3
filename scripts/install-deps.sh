#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs exactly what the build, the tests and the demo need on Debian 12, and nothing when all
# of it is already there. Safe to run repeatedly. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates ccache curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl prometheus-cpp-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
)
# Extra groups: `install-deps.sh --with metrics` etc. as later features need them.
for arg in "$@"; do
  case "$arg" in
    --with-prometheus) packages+=(prometheus) ;;
    # Node.js for the k6 script checks; an existing node (e.g. NodeSource's) is kept.
    --with-node) command -v node >/dev/null || packages+=(nodejs) ;;
    --with-loadtest) packages+=(wrk nghttp2-client nginx-light apache2 libapache2-mod-auth-openidc jq) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi

echo "install-deps: installing ${missing[*]}"
# Debian starts daemons (nginx, prometheus) on install; a policy-rc.d that answers 101 keeps them
# from running or holding ports. Restored afterwards.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Belt and braces for daemons started anyway (e.g. by a previous install without the policy).
for svc in nginx apache2 prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    "${sudo[@]}" systemctl stop "$svc" || true
    "${sudo[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
  if pgrep -x "$svc" >/dev/null 2>&1; then "${sudo[@]}" pkill -x "$svc" || true; fi
done
