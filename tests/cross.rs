//! The part of the suite that `.ci/targets.sh` runs on every target (x86-64
//! AVX2, aarch64 under qemu, wasm32-wasip1 with and without simd128, i586) and
//! Miri runs on big-endian powerpc64: the behaviour of the crate itself
//! (determinism fingerprint, conformance values and gradients of every case
//! in every mode, every error case, NaN/∞), without the property and oracle
//! suites, whose build and emulated run would dominate CI time. The modules
//! are the same files as in `tests/main.rs`; this binary is not built by a
//! plain `cargo test` (`test = false` in Cargo.toml): run it with
//! `cargo test --test cross`.

mod support;

mod conformance;
mod determinism;
mod errors;
mod gradients;
mod nan_inf;
