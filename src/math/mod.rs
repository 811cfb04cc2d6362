//! Vector primitives the loss kernels need, each with a scalar twin.
//!
//! TEMPORARY implementation over `wide`'s general-purpose functions; the
//! fast-math issue replaces the bodies (same signatures, same semantics).
//!
//! Domain and special values (every function):
//! - NaN in gives NaN out.
//! - `logistic(±∞)` gives the limits: `p = 1, q = 0, sp_pos = +∞, sp_neg = 0` for `+∞`.

use wide::f32x8;

/// σ and softplus of one logit, from one `e^{−|x|}` and one reciprocal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Logistic<V> {
    /// σ(x) = 1 / (1 + e^{−x}).
    pub p: V,
    /// σ(−x) = 1 − σ(x), computed without cancellation.
    pub q: V,
    /// softplus(x) = ln(1 + e^x) = −ln(1 − p).
    pub sp_pos: V,
    /// softplus(−x) = ln(1 + e^{−x}) = −ln p.
    pub sp_neg: V,
}

/// σ(x), σ(−x), softplus(x), softplus(−x) of eight logits.
#[inline(always)]
pub(crate) fn logistic(x: f32x8) -> Logistic<f32x8> {
    let e = (-x.abs()).exp(); // e^{−|x|} in [0, 1]
    let l = e.ln_1p(); // ln(1 + e^{−|x|})
    let r = f32x8::ONE / (f32x8::ONE + e);
    let pos = x.simd_ge(f32x8::ZERO);
    let hi = r; // σ(|x|)
    let lo = e * r; // σ(−|x|)
    let relu = x.max(f32x8::ZERO);
    let nrelu = (-x).max(f32x8::ZERO);
    Logistic {
        p: pos.select(hi, lo),
        q: pos.select(lo, hi),
        sp_pos: relu + l,
        sp_neg: nrelu + l,
    }
}

/// Scalar twin of [`logistic`].
#[inline(always)]
pub(crate) fn logistic_scalar(x: f32) -> Logistic<f32> {
    let v = logistic(f32x8::splat(x));
    let a = |v: f32x8| v.to_array()[0];
    Logistic {
        p: a(v.p),
        q: a(v.q),
        sp_pos: a(v.sp_pos),
        sp_neg: a(v.sp_neg),
    }
}

/// σ(x) alone.
#[inline(always)]
pub(crate) fn sigmoid(x: f32x8) -> f32x8 {
    logistic(x).p
}

/// Scalar twin of [`sigmoid`].
#[inline(always)]
pub(crate) fn sigmoid_scalar(x: f32) -> f32 {
    logistic_scalar(x).p
}

/// ln(p) for p in [0, 1]: ln 0 = −∞.
#[inline(always)]
pub(crate) fn ln(p: f32x8) -> f32x8 {
    p.ln()
}

/// Scalar twin of [`ln`].
#[inline(always)]
pub(crate) fn ln_scalar(p: f32) -> f32 {
    ln(f32x8::splat(p)).to_array()[0]
}

/// 1 − e^{−l} for l ≥ 0, without cancellation for small l; `l = +∞` gives 1.
#[inline(always)]
pub(crate) fn one_minus_exp_neg(l: f32x8) -> f32x8 {
    -((-l).exp_m1())
}

/// Scalar twin of [`one_minus_exp_neg`].
#[inline(always)]
pub(crate) fn one_minus_exp_neg_scalar(l: f32) -> f32 {
    one_minus_exp_neg(f32x8::splat(l)).to_array()[0]
}

/// x^g for x in [0, 1] and a real g > 0 (the runtime focal γ); 0^g = 0.
#[inline(always)]
pub(crate) fn pow_unit(x: f32x8, g: f32) -> f32x8 {
    let y = x.powf_simd(f32x8::splat(g));
    x.simd_eq(f32x8::ZERO).select(f32x8::ZERO, y)
}

/// Scalar twin of [`pow_unit`].
#[inline(always)]
pub(crate) fn pow_unit_scalar(x: f32, g: f32) -> f32 {
    pow_unit(f32x8::splat(x), g).to_array()[0]
}

/// ln(1 − p) for p in [0, 1], accurate for small p: ln 1 = 0, ln 0 = −∞.
#[inline(always)]
pub(crate) fn ln_one_minus(p: f32x8) -> f32x8 {
    (-p).ln_1p()
}
