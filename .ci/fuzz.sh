#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a bounded time; fails on
# any crash (a panic, or a differential mismatch, which the targets report as
# a panic).
#
#   bash .ci/fuzz.sh          build, then run every target
#   bash .ci/fuzz.sh build    only build (CI starts this early, in the background)
#   bash .ci/fuzz.sh run      only run (after a build)
#
# FUZZ_SECONDS (default 60) per target; FUZZ_TARGETS to choose (default:
# every target of fuzz/Cargo.toml, checked below); FUZZ_PARALLEL targets at
# a time (default 1; each libFuzzer process uses one core).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-all}"
SECS="${FUZZ_SECONDS:-60}"
PAR="${FUZZ_PARALLEL:-1}"
ALL="binary_forward backward multiclass multiclass_backward streaming config"
TARGETS="${FUZZ_TARGETS:-$ALL}"
# The default list must name every target (a new [[bin]] must be added here).
listed="$(grep -A1 '^\[\[bin\]\]' fuzz/Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p' | sort | tr '\n' ' ')"
if [ "$listed" != "$(printf '%s\n' $ALL | sort | tr '\n' ' ')" ]; then
  echo "fuzz.sh: ALL ($ALL) differs from fuzz/Cargo.toml's targets ($listed)" >&2
  exit 1
fi
# No sanitizer: segloss is `#![forbid(unsafe_code)]` and the fuzz crate has no `unsafe`,
# so AddressSanitizer has nothing to find; without it the build is much faster
# and each target runs more executions in its time. SANITIZER=address to override.
SAN="${SANITIZER:-none}"

if [ "$MODE" = all ] || [ "$MODE" = build ]; then
  rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
  # fuzz/Cargo.toml builds at opt-level 1: a third less build time, and a
  # short run still executes thousands of inputs per second.
  cargo +nightly fuzz build --sanitizer "$SAN"
fi

# One target for SECS from a scratch copy of its committed seeds
# (fuzz/corpus/$t stays unchanged); its output goes to $2.
run_one() {
  local t="$1" log="$2" work
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$t/." "$work/"
  local rc=0
  cargo +nightly fuzz run --sanitizer "$SAN" "$t" "$work" -- \
    -max_total_time="$SECS" -rss_limit_mb=2048 >"$log" 2>&1 || rc=$?
  rm -rf "$work"
  return "$rc"
}

if [ "$MODE" = all ] || [ "$MODE" = run ]; then
  logs="$(mktemp -d)"
  failed=""
  set -- $TARGETS
  while [ $# -gt 0 ]; do
    batch=""
    for _ in $(seq "$PAR"); do
      [ $# -gt 0 ] || break
      batch="$batch $1"
      shift
    done
    pids=""
    for t in $batch; do
      run_one "$t" "$logs/$t.log" &
      pids="$pids $!"
    done
    i=0
    for t in $batch; do
      i=$((i + 1))
      pid="$(echo $pids | cut -d' ' -f$i)"
      if wait "$pid"; then
        echo "== fuzz $t: ${SECS}s, $(grep -o 'Done [0-9]* runs' "$logs/$t.log" | tail -1)"
      else
        echo "== fuzz $t FAILED:"
        grep -v '^INFO\|^#[0-9]' "$logs/$t.log" | tail -40
        failed="$failed $t"
      fi
    done
  done
  rm -rf "$logs"
  if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (the input is in fuzz/artifacts/<target>/)" >&2
    exit 1
  fi
  echo "fuzz: all targets ran ${SECS}s without a crash"
fi
