#!/usr/bin/env bash
# Flash by use: the .text each kind of call adds to the Cortex-M4F firmware
# (docs/targets.md "Flash by use"). Builds the `baseline` firmware and one
# firmware per `use-…` feature (src/by_use.rs), runs each under QEMU, and
# prints its added .text and segloss + libm's share (flash.py).
#
#   bash embedded/flash-by-use.sh
#
# Needs the thumbv7em-none-eabihf target, binutils-arm-none-eabi and
# qemu-system-arm (as .ci/targets.sh installs them).
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$DIR")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ELF=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/segloss-firmware
QEMU=(qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none
  -serial none -semihosting-config enable=on,target=native -kernel)

text_bytes() {
  arm-none-eabi-size -A "$1" | awk '$1 == ".text" {print $2}'
}

build() {
  (cd "$DIR" && cargo build -q --release --no-default-features --features "$1")
}

build baseline
base=$(text_bytes "$ELF")
echo "baseline .text: $base B"
printf '%-20s %10s %12s %16s\n' feature ".text" added "segloss + libm"
for f in use-dice use-region-stream use-stream-dice use-stream-ten use-ten; do
  build "$f"
  timeout 60 "${QEMU[@]}" "$ELF" > /dev/null
  text=$(text_bytes "$ELF")
  share=$(python3 "$DIR/flash.py" "$ELF" "$ROOT/src" | awk '/^segloss \+ libm:/ {print $4}')
  printf '%-20s %8s B %10s B %14s B\n' "$f" "$text" "$((text - base))" "$share"
done
