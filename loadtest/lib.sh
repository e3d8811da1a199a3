# SPDX-License-Identifier: Apache-2.0
# Shell functions shared by the load-test runners (loadtest/run; loadtest/bench-verify keeps its
# own copies for now): logging, the processes a runner starts and their cleanup, free loopback
# ports, bounded waits, template rendering, the quiet-machine wait, /proc CPU accounting and the
# number formatting of the reports. Source it from bash with `set -euo pipefail`, after setting
# LOG_PREFIX (the runner's name) and KEEP_WORK; then call lt_install_traps.
# shellcheck shell=bash

LOG_PREFIX=${LOG_PREFIX:-loadtest}
KEEP_WORK=${KEEP_WORK:-0}
# shellcheck disable=SC2034  # used by the scripts that source this file
hz=$(getconf CLK_TCK)

log() { echo "$LOG_PREFIX: $*" >&2; }
die() {
  log "$*"
  exit 1
}

seconds_of() {  # wrk duration (10, 10s, 2m, 1h) -> seconds
  local d=$1
  case "$d" in
    *s) echo "${d%s}" ;;
    *m) echo $((${d%m} * 60)) ;;
    *h) echo $((${d%h} * 3600)) ;;
    *) echo "$d" ;;
  esac
}

# --- processes: every one started here is remembered and stopped on exit -----------------------
pids=()
work=""
forget_pid() {  # PID: no longer stopped on exit (it ended)
  local q keep=()
  for q in "${pids[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
  pids=("${keep[@]}")
}
run_bounded() {  # SECONDS CMD...: CMD in the background under timeout (a TERM reaches it), waited for
  local s=$1 p rc=0
  shift
  timeout --kill-after=5 "$s" "$@" &
  p=$!
  pids+=("$p")
  wait "$p" || rc=$?
  forget_pid "$p"
  return "$rc"
}
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ "$KEEP_WORK" = 1 ]; then log "work folder kept: $work"; else rm -rf "$work"; fi
  fi
  exit "$rc"
}
lt_install_traps() {
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Free loopback ports, picked upwards from BASE_PORT.
next_port=${BASE_PORT:-18700}
pick_port() {  # sets REPLY
  while [ -n "$(ss -Htln "sport = :$next_port" 2>/dev/null)" ]; do next_port=$((next_port + 1)); done
  REPLY=$next_port
  next_port=$((next_port + 1))
}

wait_for() {  # URL [curl args...]: bounded wait (10 s) for a 2xx answer
  local url=$1
  shift
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

render() {  # TEMPLATE OUT NAME=VALUE...: copies TEMPLATE with every @NAME@ replaced
  local tmpl=$1 out=$2 kv
  shift 2
  cp "$tmpl" "$out"
  for kv in "$@"; do sed -i "s#@${kv%%=*}@#${kv#*=}#g" "$out"; done
}

# --- the machine ---------------------------------------------------------------------------------
others_busy() {  # compilers, linkers and test runs of other people
  ps -eo comm= | grep -cE '^(cc1plus|ld|ld\.gold|ctest|.*_tests)$' || true
}
load1() { cut -d' ' -f1 /proc/loadavg; }

wait_quiet() {  # MAX_SECONDS LOAD: polls every 30 s until no compile/test runs and load1 < LOAD
  local max=$1 quiet=$2 waited=0 busy l
  [ "$max" -gt 0 ] || return 0
  while :; do
    busy=$(others_busy)
    l=$(load1)
    if [ "$busy" -eq 0 ] && awk -v l="$l" -v q="$quiet" 'BEGIN { exit !(l < q) }'; then
      return 0
    fi
    if [ "$waited" -ge "$max" ]; then
      log "machine still busy after ${waited}s (load $l, $busy compile/test processes): measuring anyway"
      return 0
    fi
    log "waiting for a quiet machine: load $l, $busy compile/test processes (${waited}s of ${max}s)"
    sleep 30
    waited=$((waited + 30))
  done
}

cpu_ticks() {  # PID... -> utime+stime (+ reaped children) of the processes, in clock ticks
  local total=0 p t
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
proc_tree() {  # PID -> PID and its direct children (Apache's and nginx's workers)
  local p=$1
  # shellcheck disable=SC2046
  echo "$p" $(pgrep -P "$p" || true)
}
rss_kib() {  # PID [FIELD] -> VmRSS (or FIELD, e.g. VmHWM) in KiB
  awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

machine_description() {  # one line: cores, CPU model, kernel, OpenSSL
  local cpu_model
  cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
  echo "$(nproc) cores, $cpu_model, $(uname -sr), $(free -m | awk '/^Mem:/ { printf "%d MiB RAM", $2 }'), $(openssl version | cut -d' ' -f1-2)"
}

# --- numbers -------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
percentile() {  # P: the P-th percentile (nearest rank) of the numbers on stdin, empty if none
  sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) print ""; else { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] } }'
}
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "") print "n/a"; else printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.3f", a / b }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f ms", v / 1000 }'; }
yes_no() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "") print "not measured"; else if (op == "ge" ? v >= t : (op == "le" ? v <= t : v < t)) print "met"; else print "**not met**" }'; }
