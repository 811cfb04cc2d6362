//! segloss's integration tests, as one test binary.
//!
//! Each file beside this one is a module of the suite (one binary links and
//! monomorphises the kernels once, instead of once per file). Run one part
//! with a name filter, for example `cargo test --test suite binary_props::`.
//! The slow ones are `#[ignore]`d and run by `.ci/run` in release:
//! `cargo test --release --test suite -- --ignored accuracy_scale::`.

mod datagen;
mod support;

mod accuracy_scale;
mod backward_accuracy;
mod binary_props;
mod conformance;
mod determinism;
mod errors;
mod gradient_check;
mod gradients;
mod multiclass;
mod multiclass_accuracy;
mod nan_inf;
mod nchw_gradients;
mod oracle_conformance;
mod region_accuracy;
mod streaming;
