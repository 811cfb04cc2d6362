#!/usr/bin/env bash
# Runs segloss's checks on every target the crate claims (docs/targets.md):
#   x86_64 (default SSE2, and +avx2,+fma), i586 (no SSE: wide's plain-array
#   path, natively), aarch64 (NEON, under qemu-aarch64), wasm32-wasip1 (with
#   and without simd128, under Node's WASI), Cortex-M4F firmware (thumbv7em,
#   under qemu-system-arm) and the C API (gcc on the host; arm-none-eabi-gcc
#   + QEMU for Cortex-M).
# Installs what it needs itself (idempotent), fails on any failure.
#
#   bash .ci/targets.sh            # every step
#   bash .ci/targets.sh wasm capi  # some steps (names below)
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), JOBS (default 2),
# SEGLOSS_REFERENCE (default <repo>/../shared/reference/smp_torch.jsonl),
# THROUGHPUT_ARGS (default --quick), CAPI_CROSS_TARGETS (default
# aarch64-unknown-linux-gnu; i586-unknown-linux-gnu also works).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
JOBS=${JOBS:-2}
REF=${SEGLOSS_REFERENCE:-$ROOT/../shared/reference/smp_torch.jsonl}
REF=$(realpath -m "$REF")
export SEGLOSS_REFERENCE=$REF
export CARGO_TERM_COLOR=never

# i586 is a step of its own, not in the default list: without SSE, Rust's f32
# arithmetic runs on x87 and segloss's results from logits are off by ~1e-3
# (see docs/targets.md); the plain-array path is covered by wasm32 without
# simd128 and by the Cortex-M firmware. flash-by-use (a measurement, not a
# check) is not in it either.
ALL_STEPS=(install x86_64 x86_64-avx2 x86_64-avx512 aarch64 wasm wasm-simd128 firmware capi capi-cross)
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=("${ALL_STEPS[@]}")

# Cross toolchains, runners and linkers.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_I586_UNKNOWN_LINUX_GNU_LINKER=i686-linux-gnu-gcc
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $ROOT/.ci/wasi-run.mjs"
QEMU_M4=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none
  -serial none -semihosting-config enable=on,target=native -kernel)

SUMMARY=()
step_start() {
  echo
  echo "=== targets: $1 ==="
  T0=$SECONDS
}
step_done() {
  SUMMARY+=("$1: ok ($((SECONDS - T0)) s)")
  echo "=== targets: $1 ok ($((SECONDS - T0)) s) ==="
}

install() {
  # Debian packages (no gcc-multilib: it conflicts with the cross compilers;
  # i586 links with the i686 cross gcc and runs on libc6-i386).
  local pkgs=(qemu-system-arm qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    gcc-i686-linux-gnu libc6-dev-i386-cross libc6-i386 gcc-arm-none-eabi
    libnewlib-arm-none-eabi binutils-arm-none-eabi nodejs)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Node.js may come from outside Debian (the machine's own): any node >= 20 will do.
  if command -v node >/dev/null; then
    missing=("${missing[@]/nodejs/}")
  fi
  local want=()
  for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
  if [ ${#want[@]} -gt 0 ]; then
    echo "installing: ${want[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
  rustup target add thumbv7em-none-eabihf wasm32-wasip1 aarch64-unknown-linux-gnu \
    i586-unknown-linux-gnu 2>&1 | grep -v "is up to date" || true
  qemu-system-arm --version | head -1
  qemu-aarch64 --version | head -1
  node --version
}

# These builds compile no bench, so they leave out criterion (Cargo.toml):
# a third of the dev-dependency build, ~20 s a step.
NO_BENCH="--cfg segloss_no_bench"

# The crate's behaviour on the target: the unit tests and tests/cross.rs
# (determinism fingerprint, conformance values and gradients of every case in
# every mode, error cases, NaN/∞). The property and oracle suites stay on the
# host (`cargo test` in .ci/run), so emulated builds and runs stay bounded.
# CROSS_ARGS adds libtest arguments. The variant's own target dir keeps
# RUSTFLAGS variants from rebuilding each other. CROSS_OPT_LEVEL (default 0)
# is the test profile's opt-level for these builds: the bits do not depend on
# it (no fast-math, no FMA contraction; the fingerprint test checks). Unoptimised,
# a variant builds in about a third of its opt-level-1 time (AVX2, measured:
# 68 s against 201 s), which CI's budget needs; the math unit tests' sampled
# ulp sweeps then take every 29989th bit pattern instead of every 997th
# (SEGLOSS_SAMPLE_STEP, src/math/tests.rs), so the runs stay seconds under qemu.
crate_tests() { # name target rustflags
  local name=$1 target=$2 flags="$3 $NO_BENCH"
  # shellcheck disable=SC2086
  (cd "$ROOT" && export CARGO_TARGET_DIR=$CARGO_TARGET_DIR/targets/$name RUSTFLAGS=$flags \
    PROPTEST_CASES=${PROPTEST_CASES:-32} CARGO_PROFILE_TEST_OPT_LEVEL=${CROSS_OPT_LEVEL:-0} \
    SEGLOSS_SAMPLE_STEP=${SEGLOSS_SAMPLE_STEP:-29989} &&
    cargo test -j"$JOBS" --target "$target" --lib --test cross -- ${CROSS_ARGS:-})
}

# The conformance runner (examples/conformance.rs) on the shared reference file,
# built in the test profile so it reuses crate_tests' artifacts.
conformance() { # name target rustflags
  local name=$1 target=$2 flags="$3 $NO_BENCH"
  (cd "$ROOT" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR/targets/$name RUSTFLAGS=$flags \
    CARGO_PROFILE_TEST_OPT_LEVEL=${CROSS_OPT_LEVEL:-0} \
    cargo run -j"$JOBS" --profile test --target "$target" --example conformance -- "$REF")
}

# examples/throughput.rs (its table goes to BENCHMARKS.md); THROUGHPUT_ARGS
# (default --quick) chooses the sizes.
throughput() { # name target rustflags
  local name=$1 target=$2 flags="$3 $NO_BENCH"
  if [ -f "$ROOT/examples/throughput.rs" ]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR/targets/$name RUSTFLAGS=$flags \
      cargo run -j"$JOBS" --release --target "$target" --example throughput -- ${THROUGHPUT_ARGS:---quick})
  else
    echo "examples/throughput.rs not present yet: no throughput table for $name"
  fi
}

x86_64() {
  crate_tests x86_64 x86_64-unknown-linux-gnu ""
}

x86_64-avx2() {
  crate_tests x86_64-avx2 x86_64-unknown-linux-gnu "-C target-feature=+avx2,+fma"
}

# The binary kernels' sixteen lanes in AVX-512 registers (wide's f32x16 on
# zmm and mask registers; elsewhere on x86 it is two f32x8): only where the
# CPU has AVX-512, since the build cannot run anywhere else.
x86_64-avx512() {
  if grep -qw avx512f /proc/cpuinfo; then
    crate_tests x86_64-avx512 x86_64-unknown-linux-gnu \
      "-C target-feature=+avx512f,+avx512bw,+avx512dq,+avx512vl"
  else
    echo "x86_64-avx512: this CPU has no AVX-512 (no avx512f in /proc/cpuinfo): not run"
  fi
}

i586() {
  # No SSE at all: wide takes its plain-array path (and arithmetic is x87).
  crate_tests i586 i586-unknown-linux-gnu ""
}

aarch64() {
  crate_tests aarch64 aarch64-unknown-linux-gnu ""
}

# The multiclass passes for C > 16 keep per-class arrays of capacity
# MAX_CLASSES = 256 on the stack: up to ~0.4 MiB optimised but ~1.1 MiB at
# the opt-level 0 these steps build with (x86-64; README "Guarantees",
# docs/targets.md "Stack"), more than wasm-ld's default 1 MiB stack; the
# determinism test's C = 17 reaches them. A wasm module that uses them
# unoptimised links with a larger stack, as here.
WASM_STACK="-C link-arg=-zstack-size=8388608"

# WASM_THROUGHPUT=1 also prints the throughput table under WASI (for
# BENCHMARKS.md; not needed for a pass/fail run).
wasm() {
  crate_tests wasm32 wasm32-wasip1 "$WASM_STACK"
  conformance wasm32 wasm32-wasip1 "$WASM_STACK"
  [ -z "${WASM_THROUGHPUT:-}" ] || throughput wasm32 wasm32-wasip1 "$WASM_STACK"
}

# The conformance runner itself runs on wasm32 above; here tests/cross.rs's
# conformance module checks the same cases (values and gradients) on simd128
# lanes, and building the runner as well would add a minute.
wasm-simd128() {
  crate_tests wasm32-simd128 wasm32-wasip1 "-C target-feature=+simd128 $WASM_STACK"
  [ -z "${WASM_THROUGHPUT:-}" ] || throughput wasm32-simd128 wasm32-wasip1 "-C target-feature=+simd128 $WASM_STACK"
}

# Bytes of `.text` in a linked Cortex-M ELF.
text_bytes() {
  arm-none-eabi-size -A "$1" | awk '$1 == ".text" {print $2}'
}

firmware() {
  local dir=$ROOT/embedded elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/segloss-firmware
  # The harness itself: a wrong expected value must fail the run.
  # (The build must succeed: only the run may fail.)
  (cd "$dir" && SEGLOSS_FIRMWARE_EXPECT_WRONG=1 cargo build -q -j"$JOBS" --release)
  if "${QEMU_M4[@]}" "$elf" >/dev/null; then
    echo "firmware harness did not report a planted failure"
    return 1
  fi
  # Flash: the same firmware without any loss call, and with the losses but
  # without the fingerprint (which adds every math primitive on its own).
  (cd "$dir" && cargo build -q -j"$JOBS" --release --no-default-features --features baseline)
  local base loss_only full
  base=$(text_bytes "$elf")
  (cd "$dir" && cargo build -q -j"$JOBS" --release --no-default-features)
  loss_only=$(text_bytes "$elf")
  cp "$elf" "$elf.losses-only"
  # The full check: every loss bit for bit, and segloss::selftest::fingerprint().
  (cd "$dir" && cargo build -q -j"$JOBS" --release)
  timeout 120 "${QEMU_M4[@]}" "$elf"
  full=$(text_bytes "$elf")
  local loss=$((loss_only - base))
  echo "flash (.text, opt-level z, LTO): without losses $base B, with the 35 checks" \
    "$loss_only B (+$loss B), with the fingerprint too $full B"
  # The flash goal's firmware: each of the ten binary losses once, checked
  # bit for bit like the full one; its .text by crate, and the goal (segloss's
  # code and libm's, <= 16 KiB) enforced (embedded/flash.py).
  (cd "$dir" && cargo build -q -j"$JOBS" --release --no-default-features --features ten)
  # The firmware's own code is linted too (its workspace is not the crate's),
  # and so are the flash-by-use firmwares (the `flash-by-use` step), all at
  # once: their calls are additive.
  (cd "$dir" && cargo clippy -q -j"$JOBS" --release --no-default-features --features ten -- -D warnings)
  (cd "$dir" && cargo clippy -q -j"$JOBS" --release --no-default-features \
    --features use-dice,use-region-stream,use-stream-dice,use-stream-ten,use-ten -- -D warnings)
  timeout 60 "${QEMU_M4[@]}" "$elf" | tail -2
  echo "the ten binary losses: .text $(text_bytes "$elf") B"
  python3 "$dir/flash.py" "$elf" "$ROOT/src" --goal 16384 --top 8
}

# Flash by use (not in ALL_STEPS: a measurement, `bash .ci/targets.sh
# flash-by-use`): the .text each kind of call adds to the Cortex-M4F firmware
# (docs/targets.md "Flash by use"). Builds the `baseline` firmware and one per
# `use-…` feature (embedded/src/by_use.rs), runs each under QEMU, and prints
# its added .text and segloss + libm's share (embedded/flash.py).
flash-by-use() {
  local dir=$ROOT/embedded elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/segloss-firmware
  local base text share f
  (cd "$dir" && cargo build -q -j"$JOBS" --release --no-default-features --features baseline)
  base=$(text_bytes "$elf")
  echo "baseline .text: $base B"
  printf '%-20s %10s %12s %16s\n' feature ".text" added "segloss + libm"
  for f in use-dice use-region-stream use-stream-dice use-stream-ten use-ten; do
    (cd "$dir" && cargo build -q -j"$JOBS" --release --no-default-features --features "$f")
    timeout 60 "${QEMU_M4[@]}" "$elf" >/dev/null
    text=$(text_bytes "$elf")
    share=$(python3 "$dir/flash.py" "$elf" "$ROOT/src" | awk '/^segloss \+ libm:/ {print $4}')
    printf '%-20s %8s B %10s B %14s B\n' "$f" "$text" "$((text - base))" "$share"
  done
}

capi_header_dir() { # profile [target]: the OUT_DIR with segloss_expected.h
  (cd "$ROOT/capi" && cargo build -q -j"$JOBS" --profile "$1" ${2:+--target "$2"} \
    --message-format=json) | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "build-script-executed" and "segloss-capi" in m["package_id"]:
        print(m["out_dir"])'
}

capi() {
  local dir=$ROOT/capi out
  # The unit tests and the host C test are unoptimised builds (the bits do not
  # depend on it; the fingerprint checks): 45 s against 140 s in release.
  (cd "$dir" && cargo test -q -j"$JOBS")
  # Host: gcc links libsegloss.a (capi/Cargo.toml's `host-check` profile) into the C test.
  out=$(capi_header_dir host-check)
  gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$dir/include" -I"$out" "$dir/tests/test.c" \
    "$CARGO_TARGET_DIR/host-check/libsegloss.a" -lm -Wl,--gc-sections -o "$CARGO_TARGET_DIR/capi-test"
  "$CARGO_TARGET_DIR/capi-test" | tail -3
  # Cortex-M4F: arm-none-eabi-gcc with newlib's semihosting (rdimon), run on QEMU.
  # rdimon's exit status does not reach QEMU, so the closing line decides.
  out=$(capi_header_dir release thumbv7em-none-eabihf)
  local elf=$CARGO_TARGET_DIR/capi-test-cortex-m4.elf
  arm-none-eabi-gcc -std=c11 -Wall -Wextra -Werror -O2 -mcpu=cortex-m4 -mthumb \
    -mfpu=fpv4-sp-d16 -mfloat-abi=hard --specs=rdimon.specs -I"$dir/include" -I"$out" \
    "$dir/tests/test.c" "$dir/tests/cortex_m_startup.c" \
    "$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/libsegloss.a" -lm \
    -Wl,--gc-sections -Wl,-u,vectors -Wl,--section-start=.vectors=0x0 \
    -Wl,--no-warn-rwx-segments -Wl,--no-warn-execstack -o "$elf"
  local log
  log=$(timeout 120 "${QEMU_M4[@]}" "$elf")
  echo "$log" | tail -3 | sed 's/^/cortex-m4: /'
  echo "$log" | grep -qE '^[0-9]+ passed, 0 failed$'
  echo "C test on Cortex-M4F: flash $(text_bytes "$elf") B of .text"
}

# The C test on other Linux targets: the same bits as the x86-64 host? (Every
# loss value and segloss::selftest::fingerprint(), against x86-64's values.)
capi-cross() {
  local dir=$ROOT/capi out t cc run bad=0
  out=$(capi_header_dir release)
  for t in ${CAPI_CROSS_TARGETS:-aarch64-unknown-linux-gnu}; do
    case $t in
    aarch64-*) cc=aarch64-linux-gnu-gcc run=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
    i586-*) cc="i686-linux-gnu-gcc -march=i586" run=() ;;
    esac
    (cd "$dir" && cargo build -q -j"$JOBS" --release --target "$t")
    $cc -std=c11 -Wall -Wextra -Werror -O2 -I"$dir/include" -I"$out" "$dir/tests/test.c" \
      "$CARGO_TARGET_DIR/$t/release/libsegloss.a" -lm -Wl,--gc-sections -o "$CARGO_TARGET_DIR/capi-test-$t"
    if ! "${run[@]}" "$CARGO_TARGET_DIR/capi-test-$t" >"$CARGO_TARGET_DIR/capi-test-$t.log"; then
      bad=1
    fi
    grep -E "FAIL|passed" "$CARGO_TARGET_DIR/capi-test-$t.log" | sed "s/^/  $t: /"
  done
  return $bad
}

START=$SECONDS
for s in "${STEPS[@]}"; do
  step_start "$s"
  "$s"
  step_done "$s"
done
echo
echo "=== targets summary ($((SECONDS - START)) s) ==="
printf '  %s\n' "${SUMMARY[@]}"
