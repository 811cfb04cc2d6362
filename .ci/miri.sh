#!/usr/bin/env bash
# Miri over a focused test subset, bounded in time (MIRI_TIMEOUT per run,
# default 900 s: 480 s timed out on the slower AMD EPYC machines).
#
# Two targets:
# - the host (x86-64), for wide's SSE2 path: Miri implements the SSE/SSE2
#   intrinsics wide uses, but libm's `sqrt`/`sqrtf` are inline `sqrtsd`/
#   `sqrtss` assembly on x86, which Miri cannot run (reached by MCC and by
#   `pow(x, 0.5)`, the oracle of the `pow_nonneg` sweeps and of
#   `loss::region::pow`). So the host runs the unit tests minus the three
#   that evaluate it (sampled_ulp_pow_nonneg, special_values,
#   pow_is_libms_pow).
# - powerpc64 (big-endian, interpreted: no rustup target or linker needed),
#   where wide uses plain arrays and libm plain Rust: every unit test, and
#   the integration tests errors and nan_inf (every entry point on bad
#   input, NaN and ±∞). tests/determinism.rs (the fingerprint) is not run:
#   it takes > 4 min in the interpreter; targets.sh checks it natively on
#   every target. No dev-dependency compiles C (criterion, whose `alloca`
#   did, is left out under Miri: Cargo.toml), so no cross compiler is needed.
#
# The math sweeps are thinned under cfg(miri) (src/math/tests.rs) and the
# exhaustive ones are #[ignore]d. Doc tests, benches, the conformance, oracle
# and property suites are too heavy for the interpreter and run natively.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup +nightly component list --installed | grep -q '^miri' ||
  rustup +nightly component add miri rust-src
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
T="${MIRI_TIMEOUT:-900}"
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}"
export PROPTEST_CASES="${PROPTEST_CASES:-4}"
BE=powerpc64-unknown-linux-gnu

start=$SECONDS
cargo +nightly miri setup >/dev/null
cargo +nightly miri setup --target "$BE" >/dev/null
# The two targets run side by side, each with its own target directory (so
# neither waits on the other's build lock): the interpreter is
# single-threaded, so on two cores this takes the longer run's time, not
# the sum.
mkdir -p target
echo "== miri host (x86-64, wide SSE2): unit tests (in the background; its log follows)"
timeout "$T" cargo +nightly miri test --lib -- --skip sampled_ulp_pow_nonneg --skip special_values --skip pow_is_libms_pow \
  >target/miri-host.log 2>&1 &
host=$!
echo "== miri $BE (big-endian, wide plain arrays): unit + errors + nan_inf"
be_rc=0
(export CARGO_TARGET_DIR=target/miri-be &&
  timeout "$T" cargo +nightly miri test --target "$BE" --lib &&
  timeout "$T" cargo +nightly miri test --target "$BE" --test cross -- errors:: nan_inf::) ||
  be_rc=$?
host_rc=0
wait "$host" || host_rc=$?
echo "== miri host log"
cat target/miri-host.log
if [ "$host_rc" != 0 ] || [ "$be_rc" != 0 ]; then
  echo "miri failed: host exit $host_rc, $BE exit $be_rc" >&2
  exit 1
fi
echo "miri: passed in $((SECONDS - start)) s"
