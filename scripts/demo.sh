#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: installs what is missing, builds, and runs the server with the mock IdP on loopback.
# The server and the mock IdP arrive with the server milestone (issue #3); until then this script
# installs and builds the core library and says plainly that there is nothing to run yet.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
if [ ! -x build/bin/oidc-callback-server ] || [ ! -x build/bin/oidc-mock-idp ]; then
  echo
  echo "demo: not available yet. This checkout builds the core library (token, key, cookie and"
  echo "config logic) and its tests; the server and the mock IdP that the demo runs land next."
  echo "Run scripts/test.sh to build and run the test suite."
  exit 1
fi
