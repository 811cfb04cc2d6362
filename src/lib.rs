//! # segloss: fused SIMD segmentation losses
//!
//! Loss kernels for segmentation models — BCE (on probabilities, with
//! logits, smp's soft BCE), Dice, Jaccard, Tversky, focal (smp's and
//! torchvision's) and Matthews correlation (soft loss and thresholded
//! metric) — computed in one fused SIMD pass over `&[f32]` slices, with the
//! semantics of segmentation_models_pytorch 0.6 and PyTorch.
//!
//! - `#![no_std]`, no allocation, no `unsafe`: runs in firmware
//!   (`thumbv7em-none-eabihf`) and WebAssembly as well as on servers.
//! - One read of the data: each kernel accumulates every sum its loss needs
//!   in `wide::f32x8` lanes (blocks of 16 vectors; on x86 two blocks side by
//!   side in `f32x16`), widened into `f64`, so losses stay accurate to 1e-6
//!   up to 2^26 elements.
//! - Errors are values ([`Error`]); NaN in the data propagates as in PyTorch.
//!
//! ```
//! use segloss::{binary, BinaryAccumulator, Focal, Region, StatsConfig};
//!
//! let logits = [2.5f32, -1.0, 0.3, -4.0, 3.0, -0.2];
//! let mask = [1u8, 0, 1, 0, 1, 0];
//!
//! // One call per loss (smp defaults: from logits, smooth 0, eps 1e-7).
//! let dice = binary::dice(&logits, &mask, &Region::default())?;
//! let focal = binary::focal(&logits, &mask, &Focal::default())?;
//!
//! // Or stream: one fused pass per chunk, every loss from the same sums.
//! let mut acc = BinaryAccumulator::new(StatsConfig::default())?;
//! for (p, y) in logits.chunks(4).zip(mask.chunks(4)) {
//!     acc.update(p, y)?;
//! }
//! assert!((acc.dice(&Region::default())? - dice).abs() < 1e-6);
//! assert!((acc.focal(&Focal::default())? - focal).abs() < 1e-6);
//! # Ok::<(), segloss::Error>(())
//! ```
//!
//! ## Where things live
//! - [`binary`]: one call per loss, binary mode (`N·S` predictions).
//! - [`BinaryAccumulator`]: streaming and merging of the fused statistics.
//! - [`RegionAccumulator`]: the same for Dice, Jaccard and Tversky alone
//!   (the one-shot region pass; the firmware's choice for one region loss).
//! - [`config`]: the loss parameters, with smp's defaults and validation.
//! - [`loss`]: the O(1) finalisers from sums to loss values.
//! - [`accumulate`]: the single-pass driver and the [`Target`] types.
//!
//! ## Accuracy and determinism
//! Each lane adds at most 16 non-negative terms in `f32` before they are
//! widened to `f64`; lane totals are folded in a fixed order. Only IEEE
//! `+ − × ÷` and exact operations are used (no FMA contraction, no
//! approximate reciprocals), so a given input gives the same bits on every
//! target.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Panic freedom (issue 7, README.md "Guarantees"): no public function can panic.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::arithmetic_side_effects
)]

#[macro_use]
mod inline;
pub mod accumulate;
pub mod backward;
pub mod binary;
pub mod config;
pub mod error;
pub mod loss;
// The softmax's primitives serve only the multiclass kernels; the default
// build (with `nchw`) still checks the module for dead code.
#[cfg_attr(not(feature = "nchw"), allow(dead_code))]
pub(crate) mod math;
#[cfg(feature = "nchw")]
pub mod multiclass;
#[cfg(feature = "nchw")]
pub mod multilabel;
#[doc = include_str!("docs/numerics.md")]
pub mod numerics {}
pub mod selftest;

pub use accumulate::Target;
pub use accumulate::binary::{BinaryAccumulator, BinaryStats, StatsConfig};
pub use accumulate::region::RegionAccumulator;
pub use config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
};
pub use error::Error;
pub use loss::mcc::Confusion;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
