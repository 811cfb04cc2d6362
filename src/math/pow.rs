//! x^g for x in [0, 1] and a runtime g > 0 (the focal γ).
//!
//! Design: x^g = e^{g·ln x} from this module's [`ln_generic`] (Cephes logf) and
//! [`exp_nonpos_clamped`] (Cephes expf); g·ln x ≤ 0 on the domain, so only the
//! non-positive side of exp is needed. 0^g = e^{−∞} = 0, 1^g = e^0 = 1
//! exactly, NaN propagates. Accuracy is looser than the other primitives: the
//! rounding of g·ln x (relative 2^−24) is amplified by |g·ln x| (up to ~104),
//! see `precision.rs`.

use super::exp::exp_nonpos_clamped;
use super::lanes::Lanes;
use super::ln::ln_generic;

/// x^g for x in [0, 1], g > 0.
#[inline(always)]
pub(crate) fn pow_unit_generic<V: Lanes>(x: V, g: f32) -> V {
    exp_nonpos_clamped(V::splat(g) * ln_generic(x))
}
