#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, as the README tells a newcomer and as CI runs it: installs what is missing,
# builds with warnings as errors, runs the suite in release and under ASan+UBSan, the core
# concurrency tests under TSan, and every libFuzzer target for a bounded time.
#   FUZZ_SECONDS   seconds per fuzz target (default 60)
#   JOBS           parallel build jobs (default: cores)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}
export CTEST_PARALLEL_LEVEL=$JOBS
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

stage() { printf '\n==== %s ====\n' "$*"; }
summary_file=$(mktemp)
trap 'rm -f "$summary_file"' EXIT

# Runs ctest for a build directory and records its pass/fail counts.
run_ctest() {
  local dir=$1 log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  sed -nE 's/^[0-9]+% tests passed, ([0-9]+) tests failed out of ([0-9]+)$/\1 \2/p' "$log" \
    >>"$summary_file"
  rm -f "$log"
  return "$rc"
}

stage "dependencies"
# promtool and prometheus for the metrics tests, node for the k6 script checks
scripts/install-deps.sh --with-prometheus --with-node

stage "formatting (.clang-format)"
git ls-files -z '*.cpp' '*.hpp' | xargs -0 -r clang-format --dry-run --Werror

stage "release build (warnings are errors)"
cmake --preset release -DOIDC_WERROR=ON >/dev/null
cmake --build --preset release -j "$JOBS"
stage "release tests"
run_ctest build

stage "asan+ubsan build"
cmake --preset asan -DOIDC_WERROR=ON >/dev/null
cmake --build --preset asan -j "$JOBS"
stage "asan+ubsan tests"
run_ctest build-asan

stage "tsan build (core only)"
cmake --preset tsan -DOIDC_WERROR=ON >/dev/null
cmake --build --preset tsan -j "$JOBS"
stage "tsan tests"
run_ctest build-tsan

stage "fuzz targets (clang-14 libFuzzer, ${FUZZ_SECONDS}s each)"
cmake --preset fuzz -DOIDC_WERROR=ON >/dev/null
cmake --build --preset fuzz -j "$JOBS"
fuzz_failed=0
fuzz_passed=0
for target in build-fuzz/bin/fuzz_*; do
  name=$(basename "$target")
  seeds=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  echo "-- $name"
  if "$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$work/" "$work" "$seeds" >"$work/log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
    fuzz_passed=$((fuzz_passed + 1))
    rm -rf "$work"
  else
    tail -n 60 "$work/log"
    echo "FUZZ FAILURE in $name (artifacts in $work)"
    fuzz_failed=$((fuzz_failed + 1))
  fi
done
echo "$fuzz_failed $((fuzz_passed + fuzz_failed))" >>"$summary_file"

stage "summary"
awk '{failed += $1; total += $2} END {printf "tests: %d passed, %d failed\n", total - failed, failed}' \
  "$summary_file"
[ "$fuzz_failed" -eq 0 ]
