//! Binary mode backward passes: `LOSS(pred, target, cfg, grad, scale)`
//! returns the loss of `crate::binary::LOSS` and writes
//! `scale · ∂loss/∂pred` into `grad` (see [`crate::backward`] for the
//! conventions).
//!
//! ```
//! use segloss::{backward::binary, BceWithLogits};
//! let x = [0.0f32, 2.0];
//! let y = [1.0f32, 0.0];
//! let mut g = [0.0f32; 2];
//! let loss = binary::bce_with_logits(&x, &y, &BceWithLogits::default(), &mut g, 1.0).unwrap();
//! // mean of (σ(x) − y): (0.5 − 1)/2 and σ(2)/2.
//! assert!((g[0] + 0.25).abs() < 1e-7 && (g[1] - 0.880797 / 2.0).abs() < 1e-6);
//! assert!(loss > 0.0);
//! ```

// The kernels' operators are on `Vector` lanes (`f32` or `f32x8`): float
// arithmetic, which cannot overflow into a panic.
#![allow(clippy::arithmetic_side_effects)]

use super::{check_grad, sigmoid_two_pass, write_each};
use crate::accumulate::binary::{
    AnyGamma, FocalTerm, IntGamma, Modulator, RealGamma, bce_term, bce_terms, clamp_lo, excess,
    link, mul00, mul0, sigmoid_focal_terms, sigmoid_region_terms, soft_terms, with_gamma,
};
use crate::accumulate::{Target, Totals, V, Vector, check_lengths, pass, pass_storing, splat};
use crate::config::{
    Bce, BceWithLogits, Focal, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
};
use crate::error::Error;
use crate::loss::{
    bce::BceSums,
    focal::FocalSums,
    mcc::SoftConfusion,
    region::{RegionSums, tversky_loss},
};
use crate::math::Lanes64;

const ONE: V = V::ONE;

/// Runs `$body` with the const `LOGITS` chosen by `$from_logits`.
macro_rules! with_link {
    ($from_logits:expr, $body:ident ( $($arg:expr),* )) => {
        if $from_logits { $body::<T, true>($($arg),*) } else { $body::<T, false>($($arg),*) }
    };
}

/// The derivative of a focal modulator: `γ·base^(γ−1)`, taken as 0 at
/// `base = 0` (see the module docs).
pub(crate) trait Derivative: Modulator {
    /// `γ·base^(γ−1)` for `base` in `[0, 1]`.
    fn dpow<L: Vector>(self, base: L) -> L;

    /// `γ·base^(γ−1)·v` for a `v` with `|v| ≲ base` (the modulator's chain
    /// factor), without forming `base^(γ−1)` where it may overflow: for a
    /// real γ < 1 and a subnormal base (a logit beyond ±87) `γ·base^(γ−1)`
    /// exceeds f32's range while the product is tiny; the product with `v`
    /// would then be `∞` (or `∞·0 = NaN` where `v` underflowed to 0).
    fn dpow_mul<L: Vector>(self, base: L, v: L) -> L {
        self.dpow(base) * v
    }
}

impl<const G: u32> Derivative for IntGamma<G> {
    #[inline(always)]
    fn dpow<L: Vector>(self, base: L) -> L {
        if G == 0 {
            return L::ZERO;
        }
        let mut r = L::splat(G as f32);
        for _ in 1..G {
            r *= base;
        }
        r
    }
}

impl Derivative for AnyGamma {
    #[inline(always)]
    fn dpow<L: Vector>(self, base: L) -> L {
        match self.count() {
            Some(0) => L::ZERO,
            Some(n) => {
                let mut r = L::splat(n as f32);
                for _ in 1..n {
                    r *= base;
                }
                r
            }
            None => self.real.dpow(base),
        }
    }

    #[inline(always)]
    fn dpow_mul<L: Vector>(self, base: L, v: L) -> L {
        match self.count() {
            Some(_) => self.dpow(base) * v,
            None => self.real.dpow_mul(base, v),
        }
    }
}

impl Derivative for RealGamma {
    #[inline(always)]
    fn dpow<L: Vector>(self, base: L) -> L {
        let d = L::splat(self.gamma()) * self.pow(base) / base;
        L::select(base.simd_eq(L::ZERO), L::ZERO, d)
    }

    /// `γ·base^γ·(v/base)`: `base^γ ≤ 1` and `v/base` is bounded by the
    /// caller's `|v| ≲ base`, so nothing overflows; 0 where `base = 0`.
    #[inline(always)]
    fn dpow_mul<L: Vector>(self, base: L, v: L) -> L {
        let d = L::splat(self.gamma()) * self.pow(base) * (v / base);
        L::select(base.simd_eq(L::ZERO), L::ZERO, d)
    }
}

/// `scale / count` for a mean, `scale` for a sum, as an `f32` lane.
fn reduce_scale(r: Reduction, scale: f32, count: u64) -> V {
    splat(r.apply(f64::from(scale), count) as f32)
}

/// Common checks of every backward entry point.
fn check<T>(pred: &[f32], target: &[T], grad: &[f32]) -> Result<(), Error> {
    check_lengths(pred, target)?;
    check_grad(pred, grad)
}

// ------------------------------------------------------------ region losses

/// `∂loss/∂p_i` of a region loss for `p_i > y_i`, `p_i < y_i`, `p_i = y_i`
/// (times `scale`): see [`class_coefficients`].
fn region_coefficients(s: &RegionSums, cfg: &Tversky, scale: f32) -> [f32; 3] {
    let (alpha, beta) = (f64::from(cfg.alpha), f64::from(cfg.beta));
    let dpow = tversky_dpow(s.class_loss(alpha, beta, &cfg.region), cfg.gamma);
    class_coefficients(s, alpha, beta, &cfg.region, f64::from(scale) * dpow)
}

/// The derivative of Tversky's `mean^γ` ([`crate::loss::region`]'s
/// `tversky_power`) at `mean`: `γ·mean^(γ−1)`, 1 for γ = 1.
pub(crate) fn tversky_dpow(mean: f64, gamma: f32) -> f64 {
    if gamma == 1.0 {
        1.0
    } else {
        let g = f64::from(gamma);
        g * crate::loss::region::pow(mean, g - 1.0)
    }
}

/// `k·∂class_loss/∂p_i` of one class with sums `s`, for `p_i > y_i`,
/// `p_i < y_i` and `p_i = y_i`: the class loss depends on `p_i` only through
/// `I, FP, FN`, whose derivatives are `(0, 1, 0)`, `(1, 0, −1)` and their
/// mean `(½, ½, −½)` (sign(0) = 0). Zero for an empty class (`Σy = 0`, the
/// loss is identically 0 there), also when `k` is infinite.
pub(crate) fn class_coefficients(
    s: &RegionSums,
    alpha: f64,
    beta: f64,
    r: &Region,
    k: f64,
) -> [f32; 3] {
    if s.target() <= 0.0 {
        return [0.0; 3];
    }
    let (smooth, eps) = (f64::from(r.smooth), f64::from(r.eps));
    let (i, fp, fn_) = s.confusion();
    let num = i + smooth;
    let den = i + alpha * fp + beta * fn_ + smooth;
    let clamped = den < eps;
    let d = if clamped { eps } else { den };
    let score = num / d;
    // ∂score for ∂(I, FP, FN).
    let dscore = |di: f64, dfp: f64, dfn: f64| {
        let dd = if clamped {
            0.0
        } else {
            di + alpha * dfp + beta * dfn
        };
        di / d - num * dd / (d * d)
    };
    // ∂class_loss/∂score.
    let dloss = if r.log_loss {
        if score < eps { 0.0 } else { -1.0 / score }
    } else {
        -1.0
    };
    let k = k * dloss;
    [
        (k * dscore(0.0, 1.0, 0.0)) as f32,
        (k * dscore(1.0, 0.0, -1.0)) as f32,
        (k * dscore(0.5, 0.5, -0.5)) as f32,
    ]
}

/// The slope of one element from its `d = p − y` (the same `d` as the
/// forward's region terms: [`excess`] for σ predictions): `above`, `below`
/// or `equal` as `d > 0`, `d < 0` or neither (also NaN).
#[inline(always)]
pub(crate) fn region_slope<L: Vector>(d: L, above: L, below: L, equal: L) -> L {
    let below_or_equal = L::select(d.simd_lt(L::ZERO), below, equal);
    L::select(d.simd_gt(L::ZERO), above, below_or_equal)
}

fn tversky_impl<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
    cfg: &Tversky,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let t = sigmoid_two_pass::<T, 3, LOGITS, _>(
        pred,
        target,
        cfg.region.ignore_index,
        grad,
        sigmoid_region_terms::<V, LOGITS>,
        |t| region_coefficients(&RegionSums::from_sums(t.sums), cfg, scale).map(splat),
        // The side of the kink from the same `p − y` as the sums.
        #[inline(always)]
        |&[above, below, equal], p, q, y| {
            region_slope(excess::<_, LOGITS>(p, q, y), above, below, equal)
        },
    )?;
    Ok(tversky_loss(&RegionSums::from_sums(t.sums), cfg) as f32)
}

/// Dice loss and its gradient (see [`crate::binary::dice`]).
pub fn dice<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Region,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    tversky(pred, target, &Tversky::dice(*cfg), grad, scale)
}

/// Jaccard loss and its gradient (see [`crate::binary::jaccard`]).
pub fn jaccard<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Region,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    tversky(pred, target, &Tversky::jaccard(*cfg), grad, scale)
}

/// Tversky loss and its gradient (see [`crate::binary::tversky`]).
pub fn tversky<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Tversky,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    with_link!(
        cfg.region.from_logits,
        tversky_impl(pred, target, cfg, grad, scale)
    )
}

// ------------------------------------------------------------------- MCC

/// `∂loss/∂p_i` for `y_i = 1` and `y_i = 0` (times `scale`); a soft target
/// mixes them linearly.
fn mcc_coefficients(s: &SoftConfusion, eps: f64, scale: f32) -> [f32; 2] {
    let (tp, fp, fn_, tn) = (s.tp + eps, s.fp + eps, s.fn_ + eps, s.tn + eps);
    let (a, b, c, d) = (tp + fp, tp + fn_, tn + fp, tn + fn_);
    let num = tp * tn - fp * fn_;
    let den = libm::sqrt(a * b * c * d);
    let m = num / den;
    // ∂m/∂X = ∂num/∂X / den − m·∂ln(den)/∂X.
    let dm_tp = tn / den - m * 0.5 * (1.0 / a + 1.0 / b);
    let dm_tn = tp / den - m * 0.5 * (1.0 / c + 1.0 / d);
    let dm_fp = -fn_ / den - m * 0.5 * (1.0 / a + 1.0 / c);
    let dm_fn = -fp / den - m * 0.5 * (1.0 / b + 1.0 / d);
    let k = f64::from(scale);
    // y = 1: TP += dp, FN −= dp. y = 0: FP += dp, TN −= dp. loss = 1 − m.
    [(-k * (dm_tp - dm_fn)) as f32, (-k * (dm_fp - dm_tn)) as f32]
}

fn mcc_impl<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
    cfg: &Mcc,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let eps = f64::from(cfg.eps);
    let confusion = |t: &Totals<4>| {
        let [tp, fp, fn_, tn] = t.sums;
        SoftConfusion { tp, fp, fn_, tn }
    };
    let t = sigmoid_two_pass::<T, 4, LOGITS, _>(
        pred,
        target,
        None,
        grad,
        soft_terms,
        |t| mcc_coefficients(&confusion(t), eps, scale).map(splat),
        #[inline(always)]
        |&[g1, g0], _, _, y| y * g1 + (ONE - y) * g0,
    )?;
    Ok(confusion(&t).mcc_loss(eps) as f32)
}

/// smp's soft `MCCLoss` and its gradient (see [`crate::binary::mcc`]).
pub fn mcc<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Mcc,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    with_link!(cfg.from_logits, mcc_impl(pred, target, cfg, grad, scale))
}

// --------------------------------------------------------- cross entropy

/// BCE on probabilities and PyTorch's gradient
/// `(p − y) / max(p(1 − p), 1e-12)` (see [`crate::binary::bce`]).
pub fn bce<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Bce,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    let k = reduce_scale(cfg.reduction, scale, pred.len() as u64);
    let floor = splat(1e-12);
    let t = pass_storing(
        pred,
        target,
        None,
        grad,
        #[inline(always)]
        |x, y| {
            let g = (x - y) / clamp_lo(x * (ONE - x), floor);
            ([bce_term(&link::<_, false>(x), y)], g * k)
        },
    )?;
    Ok(cfg.reduction.apply(t.sums[0], t.count) as f32)
}

/// BCE with logits and its gradient `(1 − y)·p − w·y·(1 − p)` (see
/// [`crate::binary::bce_with_logits`]).
pub fn bce_with_logits<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &BceWithLogits,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    let k = reduce_scale(cfg.reduction, scale, pred.len() as u64);
    let w = splat(cfg.pos_weight);
    let t = pass_storing(
        pred,
        target,
        None,
        grad,
        #[inline(always)]
        |x, y| {
            let l = link::<_, true>(x);
            let [na, _, _, pb] = bce_terms(&l, y);
            let g = (ONE - y) * l.p - w * y * l.q;
            ([na, pb], g * k)
        },
    )?;
    let sums = BceSums {
        neg_a: t.sums[0],
        pos_b: t.sums[1],
        ..BceSums::default()
    };
    let total = sums.total(0.0, f64::from(cfg.pos_weight));
    Ok(cfg.reduction.apply(total, t.count) as f32)
}

/// smp's `SoftBCEWithLogitsLoss` and its gradient (see
/// [`crate::binary::soft_bce`]); ignored elements get gradient 0 and still
/// count in the mean.
pub fn soft_bce<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &SoftBce,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    let k = reduce_scale(cfg.reduction, scale, pred.len() as u64);
    let f = cfg.smooth_factor.unwrap_or(0.0);
    let (fv, gv) = (splat(f), splat(1.0 - f));
    let w = splat(cfg.pos_weight);
    let t = pass_storing(
        pred,
        target,
        cfg.ignore_index,
        grad,
        #[inline(always)]
        |x, y| {
            let l = link::<_, true>(x);
            let z = ONE - y;
            // The smoothed target and its complement, each formed directly (as
            // the forward's sums are): `1 − ys` as a subtraction would round a
            // small complement away (y = 1, f = 1e-26: 0 instead of f).
            let ys = z * fv + y * gv;
            let ns = y * fv + z * gv;
            let g = ns * l.p - w * ys * l.q;
            (bce_terms(&l, y), g * k)
        },
    )?;
    let sums = BceSums::from_sums(t.sums);
    let total = sums.total(f64::from(f), f64::from(cfg.pos_weight));
    Ok(cfg.reduction.apply(total, t.count) as f32)
}

// ----------------------------------------------------------------- focal

/// torchvision's `sigmoid_focal_loss` and its gradient (see
/// [`crate::binary::sigmoid_focal`]).
pub fn sigmoid_focal<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &SigmoidFocal,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    // The scale and reduction are folded into the α weights (see `AlphaWeights`).
    let k = cfg.reduction.apply(f64::from(scale), pred.len() as u64);
    let weights = AlphaWeights::new((cfg.alpha >= 0.0).then_some(cfg.alpha), k);
    let t = with_gamma!(cfg.gamma, |m| pass_storing(
        pred,
        target,
        None,
        grad,
        #[inline(always)]
        |x, y| {
            let l = link::<_, true>(x);
            let z = ONE - y;
            let omp = l.p * z + l.q * y; // 1 − p_t
            let pq = l.p * l.q;
            // d ce/dx = p − y; d(1 − p_t)/dx = p·q·(1 − 2y).
            let dce = z * l.p - y * l.q;
            // p·q ≤ min(p, q) ≤ 1 − p_t: the chain factor is bounded by the base.
            let d = dce * m.pow(omp) + mul0(m.dpow_mul(omp, pq * (z - y)), bce_term(&l, y));
            (sigmoid_focal_terms(m, &l, y), weights.weigh(y, z, d, ONE))
        }
    ))?;
    let s = FocalSums {
        pos: t.sums[0],
        neg: t.sums[1],
        modulator: 0.0,
    };
    Ok(s.torchvision(cfg.alpha, cfg.reduction, t.count) as f32)
}

/// The α weights of a focal gradient and its scalar coefficient `k` (the
/// loss scale, over the mean's count; `c1` of a normalised focal): the
/// gradient is `α_t·v·k` for a per-element `v`, with `α_t` = α for `y = 1`,
/// 1 − α for `y = 0`, or 1 without α.
///
/// The product `α_t·k·v·w` is formed in f64 (`k·α` and `k·(1 − α)` once,
/// then per element) and rounded once: in f32 some order of the factors
/// always underflows or overflows for some input. Folding `k` into the
/// weights first lost a subnormal soft target's `α_t = y·α` (y = 3.6e-43,
/// k = 3e-3: `y·k·α` is 1 ulp of f32's subnormal range, the gradient 37%
/// off; seed `focal-subnormal-target-alpha`); applying `k` after `α_t·v`
/// underflowed for a subnormal α under a large loss scale (seed
/// `sigmoid-focal-subnormal-alpha-scaled`: α = 2^-149, scale 2.2e8 gave 0
/// instead of −1.2e-37; test
/// `backward_accuracy::focal_gradient_with_a_subnormal_alpha_and_a_loss_scale`);
/// `α_t·k·∂l/∂u` overflowed f32 where the product with `∂u/∂x` is 1.6e38
/// (seed `focal-gradient-near-f32-max`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AlphaWeights<L: Vector> {
    /// `k·α` and `k·(1 − α)` (`k` for both without α).
    pos: L::Wide,
    neg: L::Wide,
    /// No α: `α_t = 1` whatever the target (no per-element work).
    uniform: bool,
}

impl<L: Vector> AlphaWeights<L> {
    /// No focal part: a zero gradient.
    pub(crate) fn zero() -> Self {
        AlphaWeights {
            pos: L::Wide::splat(0.0),
            neg: L::Wide::splat(0.0),
            uniform: true,
        }
    }

    pub(crate) fn new(alpha: Option<f32>, k: f64) -> Self {
        let (a1, a0) = alpha.map_or((1.0, 1.0), |a| (f64::from(a), 1.0 - f64::from(a)));
        AlphaWeights {
            pos: L::Wide::splat(k * a1),
            neg: L::Wide::splat(k * a0),
            uniform: alpha.is_none(),
        }
    }

    /// `α_t·k·v·w` for targets `y` (and `z = 1 − y`): exactly 0 where
    /// `α_t·k = 0` unless `v` or `w` is NaN (as the forward weighs, `mul0`).
    #[inline(always)]
    fn weigh(&self, y: L, z: L, v: L, w: L) -> L {
        let zero = L::Wide::splat(0.0);
        let half = |at: L::Wide, v: L::Wide, w: L::Wide| {
            let is_zero = at.eq(zero) & v.eq(v) & w.eq(w);
            L::Wide::select(is_zero, zero, at * v * w)
        };
        let (pos, neg) = (self.pos, self.neg);
        if self.uniform {
            return L::map4_f64(y, z, v, w, |_, _, v, w| half(pos, v, w));
        }
        L::map4_f64(y, z, v, w, |y, z, v, w| half(y * pos + z * neg, v, w))
    }
}

/// The coefficients of smp's focal gradient `c1·∂W/∂x − c2·∂M/∂x`
/// ([`focal_coefficients`]): `c1` as α weights, and `c2` for the normalised
/// focal, which meets `∂focal/∂x` pre-scaled by `s`.
#[derive(Clone, Copy)]
pub(crate) struct FocalCoefficients<L: Vector> {
    /// `c1` (with the loss scale) as α weights.
    c1: AlphaWeights<L>,
    /// `c2/s` (0 unless normalised).
    c2: L,
    /// A power of two near `1/Σ focal`, so `s·focal ≤ 2` and `s·∂focal/∂x`
    /// stays in f32's range (`∂focal/∂x` alone may exceed it near a tiny
    /// reduced threshold where the product with `c2` ≈ 1e-38 is finite:
    /// seed `focal-normalized-overflowing-slope`), while the largest terms
    /// stay normal numbers.
    s: L,
}

impl<L: Vector> FocalCoefficients<L> {
    /// Nothing (a class or channel without a focal term).
    pub(crate) fn zero() -> Self {
        FocalCoefficients {
            c1: AlphaWeights::zero(),
            c2: L::ZERO,
            s: L::ONE,
        }
    }

    /// Only `c1 = k` (no normalisation: the one-pass gradient).
    fn one_pass(alpha: Option<f32>, k: f64) -> Self {
        FocalCoefficients {
            c1: AlphaWeights::new(alpha, k),
            ..Self::zero()
        }
    }
}

/// smp's focal per element: `(terms, ∂loss/∂x)` with `u = logpt`, the
/// forward's terms, and the coefficients `co` ([`focal_coefficients`]).
/// Without `NORM` the `c2` term is left out (it is 0: the one-pass path).
///
/// With `base = (1 − pt)/r` (`r` the reduced threshold, 1 without) and
/// `focal = base^γ`, `∂focal/∂u = γ·base^(γ−1)·pt/r = γ·focal·pt/(1 − pt)`:
/// formed from the forward's `focal` and `v/(1 − pt)` for the `v` it
/// multiplies (`u` in `∂l/∂u`, `∂u/∂x`), which is bounded where `1 − pt` is
/// small, so neither `1/r` (∞ for a subnormal r), nor a base near f32's
/// range (≈ 2e37 for r = 2^-126), nor `base^(γ−1)` (∞ for γ < 1 and a
/// subnormal `1 − pt`) enters the arithmetic (found by `backward`, seeds
/// `focal-normalized-min-positive-threshold` and `…-sign`: forming it from
/// `base` made `(v/base)` subnormal, the gradient −∞ or of the wrong sign).
#[inline(always)]
pub(crate) fn focal_parts<L: Vector, M: Modulator, const LOGITS: bool, const NORM: bool>(
    ft: &FocalTerm<L>,
    m: M,
    co: &FocalCoefficients<L>,
    x: L,
    y: L,
) -> ([L; 3], L) {
    let l = link::<_, LOGITS>(x);
    let u = ft.logpt::<LOGITS>(&l, y);
    let (omp, pt) = ft.pt::<LOGITS>(&l, u, y);
    let focal = ft.modulator(m, u, omp, ft.ln_omp::<LOGITS>(&l, y));
    let terms = FocalTerm::terms_of(focal, u, y);
    let reduced = u.simd_gt(ft.neg_ln_r);
    let gamma = L::splat(m.gamma());
    // `∂focal/∂u·v/focal = γ·pt·(v/(1 − pt))`: 0 where the threshold holds
    // the modulator at 1 and where `1 − pt` = 0 (u = 0). An infinite `v`
    // (u = ∞: a logit of ±∞ on the wrong side) gives `0·∞` = NaN there even
    // for γ = 0, as autograd's `logpt·∂focal/∂logpt` does.
    let ratio = |v: L| L::select(omp.simd_eq(L::ZERO), L::ZERO, v / omp);
    let slope_of = |ratio: L| L::select(reduced, L::ZERO, gamma * pt * ratio);
    let log_slope = |v: L| slope_of(ratio(v));
    let z = L::ONE - y;
    let du = if LOGITS {
        z * l.p - y * l.q
    } else {
        // u = (1 − y)·clamp(−ln(1 − p)) + y·clamp(−ln p): zero slope where clamped.
        // Unclamped, (1 − y)/(1 − p) − y/p = (p − y)/(p(1 − p)) without
        // cancellation near p = y.
        let inside = |v: L| !(v.simd_lt(ft.lo) | v.simd_gt(ft.hi));
        let (ia, ib) = (inside(l.sp_pos), inside(l.sp_neg));
        let da = L::select(ia, L::ONE / (L::ONE - x), L::ZERO);
        let db = L::select(ib, L::ONE / x, L::ZERO);
        let unclamped = (x - y) / (x * (L::ONE - x));
        L::select(ia & ib, unclamped, mul0(z, da) - mul0(y, db))
    };
    // `α_t·k·∂l/∂u·∂u/∂x` with `∂l/∂u = focal·(1 + u·∂focal/∂u/focal)`; a
    // zero α_t gives 0 even where the modulator overflowed (`base` = ∞ for a
    // subnormal reduced_threshold), as the forward's weighting does
    // (`mul0`; seed `focal-zero-alpha-subnormal-threshold`).
    let d = co.c1.weigh(y, z, focal, (L::ONE + log_slope(u)) * du);
    if NORM {
        // `c2·∂focal/∂x`, 0 where `s·focal` is ∞ and the slope 0. From
        // logits with a hard target `du/(1 − pt)` is exactly ∓1 (`du` is
        // −σ(−x) = −(1 − pt) where y = 1, σ(x) = 1 − pt where y = 0), also
        // where `1 − pt` underflowed to 0 while a real γ < 1 keeps `focal`
        // a normal number (`Modulator::pow_ln`).
        let slope = if LOGITS {
            let (one, zero) = (y.simd_eq(L::ONE), y.simd_eq(L::ZERO));
            let hard = L::select(one, -L::ONE, L::ONE);
            slope_of(L::select(one | zero, hard, ratio(du)))
        } else {
            log_slope(du)
        };
        (terms, d - mul00(co.c2, mul00(focal * co.s, slope)))
    } else {
        (terms, d)
    }
}

/// The coefficients of smp's focal gradient `∂l/∂u·c1·∂u/∂x − c2·∂focal/∂x`
/// for sums `s`, with `k` the scale already divided by the mean's count: the
/// total is `W / M'` with `M' = max(M, 1e-6)` when `normalized`, so
/// `∂total/∂u = ∂W/M' − W·∂M/M'²` (no `M` term where the clamp is active).
pub(crate) fn focal_coefficients<L: Vector>(
    s: &FocalSums,
    cfg: &Focal,
    k: f64,
) -> FocalCoefficients<L> {
    if !cfg.normalized {
        return FocalCoefficients::one_pass(cfg.alpha, k);
    }
    let mm = s.modulator.max(1e-6);
    let w = s.weighted(cfg.alpha.map(f64::from));
    let c2 = if s.modulator < 1e-6 {
        0.0
    } else {
        k * w / (mm * mm)
    };
    // s = 2^−e with Σ focal ∈ [2^(e−1), 2^e): every focal·s ≤ 2; e is within
    // f32's normal exponents (Σ focal ≥ 1e-6 here, and ≤ n·f32::MAX).
    let (_, e) = libm::frexp(mm);
    let sc = libm::ldexp(1.0, e.clamp(-125, 126).wrapping_neg());
    FocalCoefficients {
        c1: AlphaWeights::new(cfg.alpha, k / mm),
        c2: L::splat((c2 / sc) as f32),
        s: L::splat(sc as f32),
    }
}

fn focal_impl<T: Target, M: Derivative, const LOGITS: bool>(
    m: M,
    pred: &[f32],
    target: &[T],
    cfg: &Focal,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let ft = FocalTerm::<V>::new(cfg.eps, cfg.reduced_threshold);
    let ignore = cfg.ignore_index;
    let sums = |sums: [f64; 3]| {
        let [pos, neg, modulator] = sums;
        FocalSums {
            pos,
            neg,
            modulator,
        }
    };
    let global = cfg.normalized || (ignore.is_some() && cfg.reduction == Reduction::Mean);
    if !global {
        // One pass: the divisor is the element count (no ignore) or 1 (sum).
        let k = cfg.reduction.apply(f64::from(scale), pred.len() as u64);
        let co = FocalCoefficients::one_pass(cfg.alpha, k);
        let t = pass_storing(
            pred,
            target,
            ignore,
            grad,
            #[inline(always)]
            |x, y| focal_parts::<V, M, LOGITS, false>(&ft, m, &co, x, y),
        )?;
        let s = sums(t.sums);
        return Ok(s.smp(cfg.alpha, false, cfg.reduction, t.kept) as f32);
    }
    // Statistics first: the kept count, Σ l and Σ focal are global.
    let t = pass(
        pred,
        target,
        ignore,
        #[inline(always)]
        |x, y| ft.terms::<LOGITS, _>(m, &link::<_, LOGITS>(x), y),
    )?;
    let s = sums(t.sums);
    let loss = s.smp(cfg.alpha, cfg.normalized, cfg.reduction, t.kept) as f32;
    let k = cfg.reduction.apply(f64::from(scale), t.kept);
    let co = focal_coefficients(&s, cfg, k);
    write_each(
        pred,
        target,
        ignore,
        grad,
        #[inline(always)]
        |x, y| focal_parts::<V, M, LOGITS, true>(&ft, m, &co, x, y).1,
    );
    Ok(loss)
}

/// smp's `FocalLoss` and its gradient (see [`crate::binary::focal`]).
pub fn focal<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &Focal,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    cfg.validate()?;
    check(pred, target, grad)?;
    with_gamma!(cfg.gamma, |m| if cfg.from_logits {
        focal_impl::<T, _, true>(m, pred, target, cfg, grad, scale)
    } else {
        focal_impl::<T, _, false>(m, pred, target, cfg, grad, scale)
    })
}
