//! ln(1 − p) for probabilities p in [0, 1] (BCE and focal on probabilities).
//!
//! Design: the log1p trick of Goldberg ("What every computer scientist should
//! know about floating-point arithmetic", 1991) in its Fast2Sum form:
//! u = fl(1 − p) and its exact rounding error c = (1 − u) − p (exact because
//! |1| ≥ |p|), so 1 − p = u + c and ln(1 − p) = ln(u) + c/u to well under an
//! ulp (|c/u| ≤ 2^−24 relative). For p ≥ 1/2, 1 − p is exact (Sterbenz) and
//! c = 0; the select keeps p = 1 (u = 0) at −∞ instead of 0/0.

use super::lanes::Lanes;

/// ln(1 − p) for p in [0, 1]; NaN propagates.
#[inline(always)]
pub(crate) fn ln_one_minus_generic<V: Lanes>(p: V) -> V {
    let one = V::splat(1.0);
    let u = one - p;
    let c = (one - u) - p;
    let l = super::ln(u); // out of line where there is no SIMD: one copy of ln
    V::select(c.eq(V::splat(0.0)), l, l + c / u)
}
