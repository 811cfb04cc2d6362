#!/usr/bin/env bash
# Compile-time proof of "no allocation, no std": the library builds for a
# bare-metal target with no global allocator (any `alloc`/`std` use fails to link/compile).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add thumbv7em-none-eabihf >/dev/null
cargo build --lib --target thumbv7em-none-eabihf
