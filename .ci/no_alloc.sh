#!/usr/bin/env bash
# Compile-time proof of "no std, no allocation": the library, with every
# feature, type-checks for a bare-metal target whose sysroot has `core` and
# `alloc` but no `std`: a `std` path fails to resolve; and src/ has no
# `extern crate alloc`, so nothing can allocate (an rlib is not linked, so a
# `cargo build` here would prove nothing more; the firmware step of
# .ci/targets.sh links and runs the binary-only build).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add thumbv7em-none-eabihf >/dev/null
cargo check --lib --target thumbv7em-none-eabihf
# (The test modules' `extern crate std` is `cfg(test)`, not in this build.)
if grep -rn "extern crate alloc" src; then
  echo "no_alloc.sh: src/ uses the alloc crate" >&2
  exit 1
fi
