//! Vector primitives the loss kernels need, each with a scalar twin.
//!
//! Design: every primitive is written once, generic over the crate-private
//! [`lanes::Lanes`] trait (implemented for `f32`, `wide::f32x8` and
//! `wide::f32x16`); the kernels call it on `f32x8` lanes (`f32x16` on x86),
//! or on `f32` where the target has no SIMD (`accumulate::vector`), and its `*_scalar` twin is the `f32` instance, so
//! a scalar element and a lane give the same bits. Only `+ − × ÷`,
//! compares, selects and bit moves are used (no FMA, no approximate
//! reciprocal, no `max`/`min` with a target's own NaN rule: x86's
//! `maxps`/`minps` only in the operand order that gives the select's result,
//! `Lanes::max_keep`), so x86-64 SSE2/AVX2, aarch64 NEON, wasm32 and
//! Cortex-M all produce the same bits. Polynomials come from Cephes
//! (`expf`, `logf`) or were fitted for segloss (`log1p.rs`), and are
//! evaluated in Estrin's scheme (`poly.rs`: a short dependent chain); ulp bounds are
//! the data in [`precision::PRECISION`], checked over every finite f32 by the
//! `math_exhaustive` tests (`cargo test --release --lib -- --ignored
//! math_exhaustive`).
//!
//! Domain and special values (every function):
//! - NaN in gives NaN out (the NaN's payload and sign are not specified).
//! - `logistic(±∞)` gives the limits: `p = 1, q = 0, sp_pos = +∞, sp_neg = 0` for `+∞`.

// Every operator here is on `Lanes`, implemented only for `f32` and
// `wide::f32x8`: float arithmetic, which cannot overflow into a panic.
#![allow(clippy::arithmetic_side_effects)]

mod exp;
mod expm1;
mod lanes;
mod ln;
mod ln1m;
mod log1p;
mod logistic;
mod poly;
mod pow;
#[cfg_attr(not(test), allow(dead_code))] // the table is read by the tests and the docs
pub(crate) mod precision;
#[cfg(test)]
mod tests;

#[cfg(feature = "nchw")] // the multiclass softmax's tie count
pub(crate) use exp::MAGIC;
pub(crate) use lanes::{Lanes, Lanes64, narrow, narrow16, widen, widen16};

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

lane_inline! {
/// e^t for t ≤ 0 (and −∞ → 0; NaN propagates): the softmax's `e^{x − max}`.
pub(crate) fn exp_nonpos<L: Lanes>(t: L) -> L {
    exp::exp_nonpos_clamped(t)
}
}

lane_inline! {
/// σ(x), σ(−x), softplus(x), softplus(−x) of eight logits (or one).
pub(crate) fn logistic<L: Lanes>(x: L) -> Logistic<L> {
    logistic::logistic_generic(x)
}
}

/// Scalar twin of [`logistic`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn logistic_scalar(x: f32) -> Logistic<f32> {
    logistic::logistic_generic(x)
}

lane_inline! {
/// σ(x) alone (the same bits as `logistic(x).p`).
pub(crate) fn sigmoid<L: Lanes>(x: L) -> L {
    logistic::sigmoid_generic(x)
}
}

lane_inline! {
/// σ(x), σ(−x) and e^{−|x|}: the shared core of [`logistic`], [`sigmoid`],
/// [`sigmoid_pair`] and [`sigmoid_pair_coded`].
pub(crate) fn sigmoid_pair_exp<L: Lanes>(x: L) -> ((L, L), L) {
    logistic::sigmoid_pair_exp_generic(x)
}
}

lane_inline! {
/// σ(x) and σ(−x) (the same bits as `logistic(x)`'s `p` and `q`).
pub(crate) fn sigmoid_pair<L: Lanes>(x: L) -> (L, L) {
    logistic::sigmoid_pair_generic(x)
}
}

lane_inline! {
/// σ(x), σ(−x) (the same bits as [`sigmoid_pair`]) and the code of x that
/// [`sigmoid_pair_decode`] turns back into them without an exp.
pub(crate) fn sigmoid_pair_coded<L: Lanes>(x: L) -> ((L, L), L) {
    logistic::sigmoid_pair_coded_generic(x)
}
}

lane_inline! {
/// σ(x), σ(−x) from the code [`sigmoid_pair_coded`] gave for x: the same bits.
pub(crate) fn sigmoid_pair_decode<L: Lanes>(code: L) -> (L, L) {
    logistic::sigmoid_pair_decode_generic(code)
}
}

/// Scalar twin of [`sigmoid`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn sigmoid_scalar(x: f32) -> f32 {
    logistic::sigmoid_generic(x)
}

lane_inline! {
/// ln(1 + e) for e in [0, 1], relatively accurate down to subnormal e.
pub(crate) fn log1p_unit<L: Lanes>(e: L) -> L {
    log1p::log1p_unit(e)
}
}

lane_inline! {
/// ln(p) for p in [0, 1]: ln 0 = −∞, subnormal p exact to the bound, ln 1 = 0.
pub(crate) fn ln<L: Lanes>(p: L) -> L {
    ln::ln_generic(p)
}
}

/// Scalar twin of [`ln`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn ln_scalar(p: f32) -> f32 {
    ln::ln_generic(p)
}

lane_inline! {
/// 1 − e^{−l} for l ≥ 0, without cancellation for small l; `l = +∞` gives 1.
pub(crate) fn one_minus_exp_neg<L: Lanes>(l: L) -> L {
    expm1::one_minus_exp_neg_generic(l)
}
}

/// Scalar twin of [`one_minus_exp_neg`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn one_minus_exp_neg_scalar(l: f32) -> f32 {
    expm1::one_minus_exp_neg_generic(l)
}

lane_inline! {
/// x^g for x in [0, ∞] and a real g > 0 (the runtime focal γ); 0^g = 0.
pub(crate) fn pow_nonneg<L: Lanes>(x: L, g: f32) -> L {
    pow::pow_generic(x, g)
}
}

/// Scalar twin of [`pow_nonneg`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn pow_nonneg_scalar(x: f32, g: f32) -> f32 {
    pow::pow_generic(x, g)
}

lane_inline! {
/// x^g from ln x = `a + b` (`b` in f64) for a real g > 0: a base whose f32
/// value underflows but whose logarithm is known (see `pow.rs`).
pub(crate) fn pow_from_ln<L: Lanes>(a: L, b: f64, g: f32) -> L {
    pow::pow_from_ln_generic(a, b, g)
}
}

/// Scalar twin of [`pow_from_ln`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn pow_from_ln_scalar(a: f32, b: f64, g: f32) -> f32 {
    pow::pow_from_ln_generic(a, b, g)
}

lane_inline! {
/// ln(1 − p) for p in [0, 1], accurate for small p: p = 0 gives 0, p = 1 gives −∞.
pub(crate) fn ln_one_minus<L: Lanes>(p: L) -> L {
    ln1m::ln_one_minus_generic(p)
}
}

/// Scalar twin of [`ln_one_minus`].
#[inline(always)]
#[cfg_attr(not(test), allow(dead_code))] // lanes == twin bits is tested; ports may call it
pub(crate) fn ln_one_minus_scalar(p: f32) -> f32 {
    ln1m::ln_one_minus_generic(p)
}
