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
#
# FUZZ_DETERMINISTIC=1 (what CI uses) runs each target a fixed number of
# inputs (`-runs`, the table below: 10–20 s each here) from a fixed
# `-seed`: the same inputs on every machine, so a CI run passes or fails
# reproducibly instead of depending on how far a timed run gets. FUZZ_SECONDS
# is then only a cap.
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
# 16 codegen units (cargo-fuzz's default is 1): the build uses both cores
# (~3 min instead of ~4.5); `run` must pass the same flags or it rebuilds.
FLAGS=(--sanitizer "$SAN" --codegen-units 16)
# Deterministic runs are built without `-sanitizer-coverage-trace-compares`:
# its table of compared values also records pointers, which differ from run
# to run (ASLR), so the mutations did too (a CI dry run found an input the
# same seed and count had not found here). Edge coverage alone is the same on
# every run. Set FUZZ_DETERMINISTIC for `build` and `run` alike.
# The checkout's path is remapped in the binary's strings (panic locations);
# cargo's crate hashes still depend on it, so a clone at another path can
# build a slightly different binary: the session-6 dry runs at /work/main,
# /work/ci-dry/main and CI's /check/work/main printed the same counts for
# some targets and not for others. Dry-run the fuzz step at CI's path.
if [ "${FUZZ_DETERMINISTIC:-0}" = 1 ]; then
  FLAGS+=(--no-trace-compares)
  export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$PWD=/segloss"
fi

if [ "$MODE" = all ] || [ "$MODE" = build ]; then
  rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
  # fuzz/Cargo.toml builds at opt-level 1: a third less build time, and a
  # short run still executes thousands of inputs per second.
  cargo +nightly fuzz build "${FLAGS[@]}"
fi

# Inputs per target of a deterministic run (~15 s each on this 2-core
# machine at opt-level 1; the targets differ 20× in speed).
runs_of() {
  case "$1" in
    backward) echo 100000 ;;
    multiclass_backward) echo 8000 ;;
    multiclass) echo 20000 ;;
    binary_forward) echo 200000 ;;
    streaming) echo 400000 ;;
    config) echo 500000 ;;
    *) echo 10000 ;;
  esac
}

# One target for SECS from a scratch copy of its committed seeds
# (fuzz/corpus/$t stays unchanged); its output goes to $2.
run_one() {
  local t="$1" log="$2" work
  # The seeds are copied one by one in name order into a tmpfs directory:
  # libFuzzer reads a corpus in directory order (then shuffles it with the
  # seed and stable-sorts it by size), and on ext4 that order is a hash with a
  # per-filesystem key, so a plain `cp -r` can give another machine other
  # inputs (likely why the project's CI reached a backward finding that runs
  # of the same seed and build here did not). tmpfs lists files in creation
  # order.
  work="$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)"
  local f
  for f in $(cd "fuzz/corpus/$t" && ls | LC_ALL=C sort); do
    cp "fuzz/corpus/$t/$f" "$work/"
  done
  local rc=0 fixed=() wrap=()
  if [ "${FUZZ_DETERMINISTIC:-0}" = 1 ]; then
    # -reload=0: libFuzzer rereads its corpus directory every second by
    # default (to pick up other processes' finds), a wall-clock event that
    # made two runs of the same seed here diverge.
    fixed=(-seed=1 -runs="$(runs_of "$t")" -reload=0)
    # Without address randomisation: libFuzzer's stack-depth feature reads
    # the stack pointer, so with ASLR two runs of the same seed diverged.
    if setarch "$(uname -m)" -R true 2>/dev/null; then
      wrap=(setarch "$(uname -m)" -R)
    fi
  fi
  "${wrap[@]}" cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$work" -- \
    "${fixed[@]}" -max_total_time="$SECS" -rss_limit_mb=2048 >"$log" 2>&1 || rc=$?
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
        echo "== fuzz $t: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$logs/$t.log" | tail -1);" \
          "$(grep -o 'DONE *cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$logs/$t.log" | tail -1 | tr -s ' ')"
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
  echo "fuzz: every target ran without a crash"
fi
