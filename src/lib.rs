//! segloss: fused SIMD segmentation losses.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Panic freedom (issue 7, docs/guarantees.md): no public function can panic.
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

pub mod accumulate;
pub mod binary;
pub mod config;
pub mod error;
pub mod loss;
pub(crate) mod math;
#[doc = include_str!("docs/numerics.md")]
pub mod numerics {}

pub use accumulate::Target;
pub use accumulate::binary::{BinaryAccumulator, BinaryStats, StatsConfig};
pub use config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
};
pub use error::Error;
pub use loss::mcc::Confusion;
