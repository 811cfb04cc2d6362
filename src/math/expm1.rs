//! 1 − e^{−l} for l ≥ 0 (the focal modulator 1 − pt), relatively accurate.
//!
//! Design: the expm1 scheme of Cephes/fdlibm without the division: with
//! −l = n·ln2 + r (|r| ≤ ln2/2, Cody–Waite, [`reduce`]) and s = 2^n,
//! 1 − e^{−l} = (1 − s) − s·expm1(r), where expm1(r) = r + r²·P(r) uses the
//! Cephes `expf` polynomial ([`expm1_poly`]). For n = 0 the result is exactly
//! −expm1(r), relatively accurate down to subnormal l; for n ≤ −1 the result is
//! ≥ 0.29 and 1 − s is exact (n ≥ −29), so no cancellation occurs. l is clamped
//! to 20 (1 − e^−20 rounds to 1) by a compare/select that keeps NaN; l < 2^−30
//! returns l itself (the correctly rounded result).

use super::exp::{expm1_poly, reduce};
use super::lanes::Lanes;

/// 1 − e^{−l} for l ≥ 0; +∞ gives 1, NaN gives NaN.
#[inline(always)]
pub(crate) fn one_minus_exp_neg_generic<V: Lanes>(l: V) -> V {
    let (hi, tiny) = (V::splat(20.0), V::splat(9.313_226e-10)); // 2^−30
    let small = l.lt(tiny);
    let lc = V::select(l.gt(hi), hi, l);
    let lc = V::select(small, tiny, lc);
    let (r, s) = reduce(-lc, 127.0); // s = 2^n, n in [−29, 0]
    let one = V::splat(1.0);
    let y = (one - s) - s * expm1_poly(r);
    // l < 2^−30: 1 − e^{−l} = l(1 − l/2 + …) rounds to l; the shortcut keeps
    // r² out of the subnormal range (x86 microcode assists), and focal loss
    // meets such l on every confidently classified pixel.
    V::select(small, l, y)
}
