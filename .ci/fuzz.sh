#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a bounded time; fails on
# any crash (a panic, or a differential mismatch, which the targets report as
# a panic). FUZZ_SECONDS (default 60) per target; FUZZ_TARGETS to choose
# (default: every target of fuzz/Cargo.toml, checked below).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-60}"
ALL="binary_forward backward multiclass multiclass_backward streaming config"
TARGETS="${FUZZ_TARGETS:-$ALL}"
# The default list must name every target (a new [[bin]] must be added here).
listed="$(grep -A1 '^\[\[bin\]\]' fuzz/Cargo.toml | sed -n 's/^name = "\(.*\)"/\1/p' | sort | tr '\n' ' ')"
if [ "$listed" != "$(printf '%s\n' $ALL | sort | tr '\n' ' ')" ]; then
  echo "fuzz.sh: ALL ($ALL) differs from fuzz/Cargo.toml's targets ($listed)" >&2
  exit 1
fi
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# No sanitizer: segloss is `#![forbid(unsafe_code)]` and the fuzz crate has no `unsafe`,
# so AddressSanitizer has nothing to find; without it the build is much faster
# and each target runs more executions in its time. SANITIZER=address to override.
SAN="${SANITIZER:-none}"
cargo +nightly fuzz build --sanitizer "$SAN"
for t in $TARGETS; do
  echo "== fuzz $t for ${SECS}s"
  # The committed seeds are read from fuzz/corpus/$t; new finds go to a scratch copy.
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$t/." "$work/"
  cargo +nightly fuzz run --sanitizer "$SAN" "$t" "$work" -- -max_total_time="$SECS" -rss_limit_mb=2048
  rm -rf "$work"
done
echo "fuzz: all targets ran ${SECS}s without a crash"
