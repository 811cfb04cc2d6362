//! x^g for x in [0, 1] and a runtime g > 0 (the focal γ when it is not an
//! integer; integer γ never gets here, it is unrolled into products).
//!
//! Design: musl's `powf` (via the `libm` crate, pure software) per lane. A
//! vector e^{g·ln x} with f32 intermediates was measured at 112 ulp: the
//! rounding of g·ln x is amplified by |g·ln x| (up to ~104), which would
//! break SPEC's 1e-6 relative bound for focal with a non-integer γ when
//! every pixel is confidently classified. Exact-enough vector pow needs a
//! double-f32 logarithm; until then accuracy wins over speed here. 0^g = 0,
//! 1^g = 1, NaN propagates.

use super::lanes::Lanes;

/// x^g for x in [0, 1], g > 0.
#[inline(always)]
pub(crate) fn pow_unit_generic<V: Lanes>(x: V, g: f32) -> V {
    x.powf_lanes(g)
}
