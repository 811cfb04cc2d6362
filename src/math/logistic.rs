//! σ(±x) and softplus(±x) of a logit from one e^{−|x|} and one division.
//!
//! Design: with a = |x|, e = e^{−a} ∈ [0, 1] ([`exp_nonpos`], Cephes expf) and
//! r = 1/(1 + e) (the only division): σ(a) = r, σ(−a) = e·r (no cancellation),
//! ln(1 + e) = [`log1p_unit`] (a polynomial on [0, 1], no division), and
//! softplus(±x) = max(±x, 0) + ln(1 + e), i.e. a + ln(1+e) on x's side and
//! ln(1+e) on the other. The sign of x picks the fields with selects, so no
//! `max` (whose NaN rule differs by target) is used. a is clamped to
//! [2^−30, 104] by clamps that keep NaN (e^−104 rounds to 0, e^−2^−30 to 1,
//! as for every a beyond), so NaN reaches every field, ±∞ gives the limits
//! and neither huge nor tiny logits meet subnormal intermediates.

use super::Logistic;
use super::exp::{EXP_UNDERFLOW, exp_nonpos};
use super::lanes::Lanes;
use super::log1p::log1p_unit;

/// Below this, e^{−a} rounds to exactly 1, as it does for every smaller a.
const TINY: f32 = 9.313_226e-10; // 2^−30

/// e^{−|x|}. NaN propagates.
///
/// |x| is clamped to [2^−30, 104] (NaN kept, by [`Lanes::max_keep`] and
/// [`Lanes::min_keep`]): below 2^−30 e^{−a} rounds to 1 as for 2^−30, and
/// e^{−104} already rounds to 0 (as every e^{−a} beyond it), so the clamped
/// value gives each a's result while the exp's intermediates stay out of the
/// subnormal range, whose microcode assists cost ~100 cycles per
/// instruction on x86.
#[inline(always)]
fn exp_neg_abs<V: Lanes>(x: V) -> V {
    let ac = x
        .abs()
        .max_keep(V::splat(TINY))
        .min_keep(V::splat(-EXP_UNDERFLOW));
    exp_nonpos(-ac)
}

/// σ(x), σ(−x), softplus(x), softplus(−x).
#[inline(always)]
pub(crate) fn logistic_generic<V: Lanes>(x: V) -> Logistic<V> {
    let ((p, q), e) = super::sigmoid_pair_exp(x);
    let pos = x.ge(V::splat(0.0));
    let l = log1p_unit(e); // softplus(−|x|)
    let big = x.abs() + l; // softplus(|x|)
    Logistic {
        p,
        q,
        sp_pos: V::select(pos, big, l),
        sp_neg: V::select(pos, l, big),
    }
}

/// σ(x), σ(−x) and e = e^{−|x|}: the core of every function here. Through
/// `math::sigmoid_pair_exp` (`lane_inline!`), so where there is no SIMD the
/// exp and the division exist once, not once per σ variant.
#[inline(always)]
pub(crate) fn sigmoid_pair_exp_generic<V: Lanes>(x: V) -> ((V, V), V) {
    let e = exp_neg_abs(x);
    let pos = x.ge(V::splat(0.0));
    (pair_from_exp(e, pos), e)
}

/// σ(x), σ(−x) from e = e^{−|x|} and x's side (`pos`: x ≥ 0): r = 1/(1 + e)
/// = σ(|x|) and e·r = σ(−|x|), put on x's side.
#[inline(always)]
fn pair_from_exp<V: Lanes>(e: V, pos: V::Mask) -> (V, V) {
    let r = V::splat(1.0) / (V::splat(1.0) + e);
    let lo = e * r;
    (V::select(pos, r, lo), V::select(pos, lo, r))
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
    super::sigmoid_pair_exp(x).0
}

/// [`sigmoid_pair_generic`] and the *code* of x: e^{−|x|} with its sign bit
/// set where x ≥ 0 is false. [`sigmoid_pair_decode_generic`] turns the code
/// back into the same σ(x), σ(−x) bits with one division and no exp, so a
/// backward pass can keep σ in the gradient buffer between its two passes.
/// (NaN x gives a NaN code, which decodes to NaN.)
#[inline(always)]
pub(crate) fn sigmoid_pair_coded_generic<V: Lanes>(x: V) -> ((V, V), V) {
    let (pair, e) = super::sigmoid_pair_exp(x);
    let pos = x.ge(V::splat(0.0));
    (pair, V::select(pos, e, -e))
}

/// σ(x), σ(−x) from the code of x (see [`sigmoid_pair_coded_generic`]):
/// e = |code| exactly, and x's side from the sign bit (a −0 code is the
/// side of a logit below −104).
#[inline(always)]
pub(crate) fn sigmoid_pair_decode_generic<V: Lanes>(code: V) -> (V, V) {
    // ±1 by the code's sign bit: a compare without subnormal operands.
    let side = code.bits_and(0x8000_0000).bits_or(0x3F80_0000);
    pair_from_exp(code.abs(), side.gt(V::splat(0.0)))
}
