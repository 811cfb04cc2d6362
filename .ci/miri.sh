#!/usr/bin/env bash
# Miri over a focused test subset, bounded in time (MIRI_TIMEOUT per run,
# default 480 s; the whole script takes ~5 min on a 2-core machine once the
# sysroots are built).
#
# Two targets:
# - the host (x86-64): wide's SSE2 path; Miri implements the SSE/SSE2
#   intrinsics wide uses. libm's `sqrtf` is inline `sqrtss` assembly on
#   x86 (reached by `powf(x, 0.5)`), which Miri cannot run, so the two unit
#   tests that evaluate `pow_unit(·, 0.5)` (sampled_ulp_pow_unit,
#   special_values) are skipped here;
# - powerpc64 (big-endian, interpreted: no linker or rustup target needed),
#   where wide uses plain arrays and libm plain Rust: the whole `--lib` suite.
#
# Subset: the unit tests (math sweeps thinned under cfg(miri), the
# exhaustive ones are #[ignore]d), and the integration tests determinism
# (the cross-target fingerprint of every kernel), errors and nan_inf. Doc
# tests, benches, conformance/oracle/property suites are too heavy for the
# interpreter and are covered natively.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup +nightly component list --installed | grep -q '^miri' ||
  rustup +nightly component add miri rust-src
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
T="${MIRI_TIMEOUT:-480}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
export PROPTEST_CASES="${PROPTEST_CASES:-4}"
HOST_TESTS=(--lib --test determinism --test errors --test nan_inf)
BE=powerpc64-unknown-linux-gnu

start=$SECONDS
cargo +nightly miri setup >/dev/null
cargo +nightly miri setup --target "$BE" >/dev/null
echo "== miri host (x86-64, SSE2)"
timeout "$T" cargo +nightly miri test "${HOST_TESTS[@]}" -- --skip sampled_ulp_pow_unit --skip special_values
echo "== miri $BE (big-endian, scalar wide)"
timeout "$T" cargo +nightly miri test --target "$BE" --lib --test determinism
echo "miri: passed in $((SECONDS - start)) s"
