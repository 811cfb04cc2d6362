//! σ(±x) and softplus(±x) of a logit from one e^{−|x|} and one division.
//!
//! Design: with a = |x|, e = e^{−a} ∈ [0, 1] ([`exp_nonpos`], Cephes expf) and
//! r = 1/(1 + e) (the only division): σ(a) = r, σ(−a) = e·r (no cancellation),
//! ln(1 + e) = [`log1p_unit`] (a polynomial on [0, 1], no division), and
//! softplus(±x) = max(±x, 0) + ln(1 + e), i.e. a + ln(1+e) on x's side and
//! ln(1+e) on the other. The sign of x picks the fields with selects, so no
//! `max` (whose NaN rule differs by target) is used. a > 104 gives e = 0
//! (e^−104 rounds to 0) and a < 2^−30 is computed as 2^−30 (e rounds to 1)
//! by compare/selects that keep NaN, so NaN reaches every field, ±∞ gives the
//! limits and neither huge nor tiny logits meet subnormal intermediates.

use super::Logistic;
use super::exp::{EXP_UNDERFLOW, exp_nonpos};
use super::lanes::Lanes;
use super::log1p::log1p_unit;

/// Below this, e^{−a} rounds to exactly 1, as it does for every smaller a.
const TINY: f32 = 9.313_226e-10; // 2^−30

/// e^{−|x|}; returns (|x|, e). NaN propagates.
///
/// a > 104 gives e = 0 by a select (e^−104 rounds to 0) and computes on a
/// harmless 1 meanwhile; a < 2^−30 computes on 2^−30 (e^{−a} rounds to 1 for
/// all of them). Both keep the exp's intermediates out of the subnormal
/// range, whose microcode assists cost ~100 cycles per instruction on x86.
#[inline(always)]
fn exp_neg_abs<V: Lanes>(x: V) -> (V, V) {
    let a = x.abs();
    let huge = a.gt(V::splat(-EXP_UNDERFLOW));
    let tiny = V::splat(TINY);
    let ac = V::select(huge, V::splat(1.0), a);
    let ac = V::select(a.lt(tiny), tiny, ac);
    (a, V::select(huge, V::splat(0.0), exp_nonpos(-ac)))
}

/// σ(x), σ(−x), softplus(x), softplus(−x).
#[inline(always)]
pub(crate) fn logistic_generic<V: Lanes>(x: V) -> Logistic<V> {
    let (a, e) = exp_neg_abs(x);
    let r = V::splat(1.0) / (V::splat(1.0) + e); // σ(|x|)
    let lo = e * r; // σ(−|x|)
    let l = log1p_unit(e); // softplus(−|x|)
    let big = a + l; // softplus(|x|)
    let pos = x.ge(V::splat(0.0));
    Logistic {
        p: V::select(pos, r, lo),
        q: V::select(pos, lo, r),
        sp_pos: V::select(pos, big, l),
        sp_neg: V::select(pos, l, big),
    }
}

/// σ(x) alone: the same bits as `logistic_generic(x).p`.
#[inline(always)]
pub(crate) fn sigmoid_generic<V: Lanes>(x: V) -> V {
    sigmoid_pair_generic(x).0
}

/// σ(x) and σ(−x) without the softplus: the same bits as
/// `logistic_generic(x)`'s `p` and `q`. The region terms need `q` to form a
/// small `1 − p` without cancellation (see `accumulate::binary::excess`).
#[inline(always)]
pub(crate) fn sigmoid_pair_generic<V: Lanes>(x: V) -> (V, V) {
    let (_, e) = exp_neg_abs(x);
    let r = V::splat(1.0) / (V::splat(1.0) + e);
    let lo = e * r;
    let pos = x.ge(V::splat(0.0));
    (V::select(pos, r, lo), V::select(pos, lo, r))
}
