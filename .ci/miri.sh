#!/usr/bin/env bash
# Miri over a focused test subset (bounded: MIRI_TIMEOUT, default 480 s).
# Runs the host target (wide's SSE path) and a big-endian target where wide
# uses plain arrays. Doc tests and benches excluded; the conformance and
# oracle suites are too heavy for the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup +nightly component add miri rust-src >/dev/null
cargo +nightly miri setup >/dev/null
T="${MIRI_TIMEOUT:-480}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
export PROPTEST_CASES="${PROPTEST_CASES:-4}"
timeout "$T" cargo +nightly miri test --test nan_inf
timeout "$T" cargo +nightly miri test --target powerpc64-unknown-linux-gnu --test nan_inf
