#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a bounded time; fails on
# any crash (a panic, or a differential mismatch, which the targets report as
# a panic). FUZZ_SECONDS (default 60) per target; FUZZ_TARGETS to choose.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-binary_forward streaming config}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo +nightly fuzz build
for t in $TARGETS; do
  echo "== fuzz $t for ${SECS}s"
  # The committed seeds are read from fuzz/corpus/$t; new finds go to a scratch copy.
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$t/." "$work/"
  cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$SECS" -rss_limit_mb=2048
  rm -rf "$work"
done
echo "fuzz: all targets ran ${SECS}s without a crash"
