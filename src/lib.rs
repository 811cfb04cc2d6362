//! segloss: fused SIMD segmentation losses.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub(crate) mod math;
