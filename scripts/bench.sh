#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Google Benchmark programs and runs the core benchmarks, printing the machine and the
# API-vs-bare-OpenSSL ratios measured in the same process. Benchmarks are not tests: nothing here
# passes or fails on a figure. Extra arguments go to core_bench (e.g. --benchmark_filter=RS256).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset bench >/dev/null
cmake --build --preset bench -j "$(nproc)" --target core_bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "$(uname -sr), $(openssl version)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exec build-bench/bin/core_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 "$@"
