//! segloss: fused SIMD segmentation losses.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accumulate;
pub mod binary;
pub mod config;
pub mod error;
pub mod loss;
pub(crate) mod math;

pub use accumulate::Target;
pub use accumulate::binary::{BinaryAccumulator, BinaryStats, StatsConfig};
pub use config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
};
pub use error::Error;
pub use loss::mcc::Confusion;
