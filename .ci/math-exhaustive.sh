#!/usr/bin/env bash
# The exhaustive sweep of the math primitives (every finite f32 of each
# domain against f64, src/math/tests.rs) takes ~5 CPU-minutes on two cores,
# and its result depends only on the math sources. So:
#
#   bash .ci/math-exhaustive.sh          # CI: sweep only if src/math changed
#   bash .ci/math-exhaustive.sh --record # sweep, and on a pass record the hash
#
# src/math/EXHAUSTIVE.sha256 holds the SHA-256 of src/inline.rs and
# src/math/*.rs as they were when the sweep last passed (`--record`, run by
# whoever changes the math, committed with the change). When the sources
# still hash to it, CI skips the sweep and says so (the sampled sweeps, every
# 997th bit pattern, run in `cargo test` anyway); when they differ, CI runs
# the full sweep and fails on any ulp bound exceeded. Extra arguments go to
# libtest.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORD=0
if [ "${1:-}" = "--record" ]; then
  RECORD=1
  shift
fi
hash_now() {
  sha256sum src/inline.rs src/math/*.rs | awk '{print $1}' | sha256sum | awk '{print $1}'
}
FILE=src/math/EXHAUSTIVE.sha256
now=$(hash_now)
if [ $RECORD -eq 0 ] && [ -f "$FILE" ] && [ "$(cat "$FILE")" = "$now" ]; then
  echo "math sources unchanged since the exhaustive sweep last passed ($now): sweep skipped"
  exit 0
fi
echo "math sources hash $now: running the exhaustive sweep"
cargo test --lib -- --ignored math_exhaustive --test-threads=1 "$@"
if [ $RECORD -eq 1 ]; then
  echo "$now" >"$FILE"
  echo "recorded $FILE"
fi
