//! Binary mode: per-element terms, the fused statistics and the streaming
//! accumulator.
//!
//! Every term is non-negative, so each sum keeps full relative accuracy:
//! BCE is kept as four softplus sums split by `y` and `1 − y`
//! ([`BceSums`]), the focal terms split by `y` and `1 − y` ([`FocalSums`]),
//! the soft confusion as four separate sums ([`SoftConfusion`]). Any
//! `pos_weight`, label smoothing or α is then applied in O(1) by the
//! finalisers in [`crate::loss`].

// The kernels' operators are on `Vector` lanes (`f32` or `f32x8`): float
// arithmetic, which cannot overflow into a panic.
#![allow(clippy::arithmetic_side_effects)]

use super::region::RegionAccumulator;
use super::{Target, Totals, V, Vector, pass, splat};
use crate::config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Region, SigmoidFocal, SoftBce, Tversky, threshold_f32,
};
use crate::error::Error;
use crate::loss::{
    bce::BceSums,
    focal::FocalSums,
    mcc::{Confusion, SoftConfusion},
    region::RegionSums,
};
use crate::math::{self, Logistic};

/// `c·v`, exactly 0 where `c == 0` (so a vanishing weight times an infinite
/// softplus is 0, the limit); NaN still propagates (`0·NaN = NaN`).
#[inline(always)]
pub(crate) fn mul0<L: Vector>(c: L, v: L) -> L {
    L::select(c.simd_eq(L::ZERO) & v.simd_eq(v), L::ZERO, c * v)
}

/// `a·b`, exactly 0 where either factor is 0 (whatever the other, even ∞);
/// NaN still propagates.
#[inline(always)]
pub(crate) fn mul00<L: Vector>(a: L, b: L) -> L {
    let zero = (a.simd_eq(L::ZERO) & b.simd_eq(b)) | (b.simd_eq(L::ZERO) & a.simd_eq(a));
    L::select(zero, L::ZERO, a * b)
}

/// `max(v, lo)` that keeps NaN (unlike a hardware `max`).
#[inline(always)]
pub(crate) fn clamp_lo<L: Vector>(v: L, lo: L) -> L {
    L::select(v.simd_lt(lo), lo, v)
}

/// `min(v, hi)` that keeps NaN.
#[inline(always)]
pub(crate) fn clamp_hi<L: Vector>(v: L, hi: L) -> L {
    L::select(v.simd_gt(hi), hi, v)
}

/// p, q = 1 − p, a = −ln(1 − p), b = −ln p of a prediction.
///
/// From logits these are σ(x), σ(−x), softplus(x), softplus(−x). From
/// probabilities the logarithms are clamped to `>= −100` as PyTorch's
/// `binary_cross_entropy` does.
#[inline(always)]
pub(crate) fn link<L: Vector, const LOGITS: bool>(x: L) -> Logistic<L> {
    if LOGITS {
        math::logistic(x)
    } else {
        let m100 = L::splat(-100.0);
        Logistic {
            p: x,
            q: L::ONE - x,
            sp_pos: -clamp_lo(math::ln_one_minus(x), m100),
            sp_neg: -clamp_lo(math::ln(x), m100),
        }
    }
}

/// The probability alone (σ from logits).
#[inline(always)]
pub(crate) fn prob<L: Vector, const LOGITS: bool>(x: L) -> L {
    if LOGITS { math::sigmoid(x) } else { x }
}

/// `p` and `q = 1 − p` (σ(x), σ(−x) from logits; from probabilities `q` is
/// `1 − p` rounded, and [`excess`] does not read it).
#[inline(always)]
pub(crate) fn prob_pair<L: Vector, const LOGITS: bool>(x: L) -> (L, L) {
    if LOGITS {
        math::sigmoid_pair(x)
    } else {
        (x, L::ONE - x)
    }
}

/// `p − y` of the region terms, without the cancellation of a rounded `p`.
///
/// From logits, `p = σ(x)` is an f32 whose spacing just below 1 is 6e-8:
/// for a confident logit the rounding of `p` is a large part of `1 − p`
/// (4% at x = 14, all of it beyond x ≈ 17), so `y − p` against `y = 1` would
/// lose the false-negative mass that `β·FN` and `log_loss` magnify (fuzz
/// finding `binary_forward-tversky-log-loss`: x = 14.04, β = 88, score off by
/// 3e-6). Where `p > ½` it is formed as `(1 − y) − q` with `q = σ(−x)`
/// (full relative accuracy); `p − y` can only cancel there for `y > ¼`,
/// where `1 − y` is exact (Sterbenz), so the one rounding is of the result.
/// Below ½, `p` itself has full relative accuracy and `p − y` is used.
/// From probabilities `p` is the input, and `p − y` is one rounding.
/// NaN in `p`, `q` or `y` gives NaN.
#[inline(always)]
pub(crate) fn excess<L: Vector, const LOGITS: bool>(p: L, q: L, y: L) -> L {
    if LOGITS {
        L::select(p.simd_gt(q), (L::ONE - y) - q, p - y)
    } else {
        p - y
    }
}

/// `[min(p, y), max(p − y, 0), max(y − p, 0)]`: the terms of `I`, `FP`, `FN`
/// (see [`RegionSums`]), with `d = p − y` formed by the caller ([`excess`]
/// for σ predictions, `p − y` for softmax ones). Compare-and-select keeps
/// NaN: a NaN `p` reaches all three, a NaN `y` reaches `FP` and `FN`.
#[inline(always)]
pub(crate) fn region_terms<L: Vector>(p: L, y: L, d: L) -> [L; 3] {
    [L::select(d.simd_gt(L::ZERO), y, p), d.relu(), (-d).relu()]
}

/// [`region_terms`] with `d = p − y` (probabilities): then `d > 0 ⟺ p > y`
/// for every input, ±∞ and NaN included (a rounded difference keeps its
/// sign), so `I`'s term is `min(p, y)` in the compare order of
/// [`Vector::min_keep`].
#[inline(always)]
pub(crate) fn prob_region_terms<L: Vector>(p: L, y: L) -> [L; 3] {
    let d = p - y;
    [p.min_keep(y), d.relu(), (-d).relu()]
}

/// The region terms of a σ (or probability) prediction: [`region_terms`]
/// with `d` from [`excess`].
#[inline(always)]
pub(crate) fn sigmoid_region_terms<L: Vector, const LOGITS: bool>(p: L, q: L, y: L) -> [L; 3] {
    if LOGITS {
        region_terms(p, y, excess::<L, LOGITS>(p, q, y))
    } else {
        prob_region_terms(p, y)
    }
}

/// Σp·y, Σp(1−y), Σ(1−p)y, Σ(1−p)(1−y).
#[inline(always)]
pub(crate) fn soft_terms<L: Vector>(p: L, q: L, y: L) -> [L; 4] {
    let z = L::ONE - y;
    [p * y, p * z, q * y, q * z]
}

/// Hard counts TP, FP, FN, TN (as 0/1 lanes) at threshold `t`.
#[inline(always)]
pub(crate) fn hard_terms<L: Vector>(p: L, y: L, t: L) -> [L; 4] {
    let pp = p.simd_gt(t);
    let yp = y.simd_gt(L::splat(0.5));
    let (pn, yn) = (!pp, !yp);
    [
        L::ONE.and_mask(pp & yp),
        L::ONE.and_mask(pp & yn),
        L::ONE.and_mask(pn & yp),
        L::ONE.and_mask(pn & yn),
    ]
}

/// The four BCE sums (see [`BceSums`]).
#[inline(always)]
pub(crate) fn bce_terms<L: Vector>(l: &Logistic<L>, y: L) -> [L; 4] {
    let z = L::ONE - y;
    [
        mul0(z, l.sp_pos),
        mul0(y, l.sp_pos),
        mul0(z, l.sp_neg),
        mul0(y, l.sp_neg),
    ]
}

/// The elementwise BCE `(1 − y)·a + y·b`.
#[inline(always)]
pub(crate) fn bce_term<L: Vector>(l: &Logistic<L>, y: L) -> L {
    mul0(L::ONE - y, l.sp_pos) + mul0(y, l.sp_neg)
}

/// `(1 − pt)^γ` for the focal losses; `γ` is a const generic when it is an
/// integer (a product, no `pow`), a runtime value otherwise.
pub(crate) trait Modulator: Copy {
    /// `base^γ` for `base ≥ 0` (above 1 with a `reduced_threshold`).
    fn pow<L: Vector>(self, base: L) -> L;
    /// [`Self::pow`] for a base `b·s` whose logarithm is also known as
    /// `ln_base + ln_scale` (`ln_base` = ln b, −∞ where it is not known;
    /// `s` = e^ln_scale ≥ 1): a real γ takes the lanes where `b` is below
    /// f32's normal range from the logarithm, where the f32 `b` has lost
    /// its digits (subnormal) or underflowed to 0 while `(b·s)^γ` is still
    /// a normal number (γ < 1). An integer γ has nothing to gain there.
    #[inline(always)]
    fn pow_ln<L: Vector>(self, base: L, ln_base: L, ln_scale: f64) -> L {
        let _ = (ln_base, ln_scale);
        self.pow(base)
    }
    /// γ.
    fn gamma(self) -> f32;
}

/// Integer γ: `base^G` as `G` multiplications. (On bare metal only the
/// multiclass and multilabel dispatch tables use it: see [`with_gamma`].)
#[derive(Clone, Copy)]
#[cfg_attr(any(target_os = "none", segloss_scalar), allow(dead_code))]
pub(crate) struct IntGamma<const G: u32>;

impl<const G: u32> Modulator for IntGamma<G> {
    #[inline(always)]
    fn gamma(self) -> f32 {
        G as f32
    }

    #[inline(always)]
    fn pow<L: Vector>(self, base: L) -> L {
        let mut r = L::ONE;
        for _ in 0..G {
            r *= base;
        }
        r
    }
}

/// γ as a run-time value: [`IntGamma`]'s multiplications in the same order
/// where γ is one of 0..=4 (the same bits; [`RealGamma::pow`] takes them
/// from 1), [`RealGamma`] otherwise; one kernel for every γ, with a branch
/// per element. Where flash counts (bare metal, see [`with_gamma`]) it
/// stands for both.
#[derive(Clone, Copy)]
#[cfg_attr(not(any(target_os = "none", segloss_scalar)), allow(dead_code))]
pub(crate) struct AnyGamma {
    /// γ.
    pub(crate) real: RealGamma,
}

#[cfg_attr(not(any(target_os = "none", segloss_scalar)), allow(dead_code))]
impl AnyGamma {
    /// The modulator for `gamma`.
    pub(crate) fn new(gamma: f32) -> Self {
        AnyGamma {
            real: RealGamma::new(gamma),
        }
    }

    /// γ as a count of multiplications, if it is one of 0..=4.
    #[inline(always)]
    pub(crate) fn count(self) -> Option<u32> {
        self.real.twice.filter(|t| t % 2 == 0).map(|t| t / 2)
    }
}

impl Modulator for AnyGamma {
    #[inline(always)]
    fn gamma(self) -> f32 {
        // `n`, not the configured γ: γ = −0 is +0 here, as in `IntGamma::<0>`.
        match self.count() {
            Some(n) => n as f32,
            None => self.real.gamma(),
        }
    }

    #[inline(always)]
    fn pow<L: Vector>(self, base: L) -> L {
        self.real.pow(base)
    }

    #[inline(always)]
    fn pow_ln<L: Vector>(self, base: L, ln_base: L, ln_scale: f64) -> L {
        match self.count() {
            Some(_) => self.pow(base),
            None => self.real.pow_ln(base, ln_base, ln_scale),
        }
    }
}

/// γ as a run-time value (any γ the const generics do not cover). An
/// integer or half-integer γ = n or n + ½ with n in 0..=4 (1, 1.5, 3, 4.5,
/// …) is `n` multiplications by `base`, from 1 or from `√base` (one
/// correctly rounded root): within one ulp per rounding of the exact power
/// (sampled: 0.5, 1.27, 2.0, 2.55, 3.23 ulp for γ = 0.5 … 4.5, the unit
/// test below; `pow` is within 1), the same bits on every target, at a
/// fraction of the cost of `pow` (focal γ = 1.5 ran 2.5× slower through
/// it). Every other γ goes through [`math::pow_nonneg`].
#[derive(Clone, Copy)]
pub(crate) struct RealGamma {
    gamma: f32,
    /// 2γ, where γ is one of 0, ½, 1, …, 4½.
    twice: Option<u32>,
}

impl RealGamma {
    /// The modulator for `gamma`.
    pub(crate) fn new(gamma: f32) -> Self {
        RealGamma {
            gamma,
            twice: (0u32..=9).find(|&t| gamma == t as f32 * 0.5),
        }
    }
}

impl Modulator for RealGamma {
    #[inline(always)]
    fn gamma(self) -> f32 {
        self.gamma
    }

    #[inline(always)]
    fn pow<L: Vector>(self, base: L) -> L {
        match self.twice {
            Some(t) => root_pow(base, t),
            None => math::pow_nonneg(base, self.gamma),
        }
    }

    #[inline(always)]
    fn pow_ln<L: Vector>(self, base: L, ln_base: L, ln_scale: f64) -> L {
        let p = self.pow(base);
        // ln(2^-126): below it the f32 `1 − pt` is subnormal (a few bits)
        // or 0, whatever `1/r` then scales it to (r = 1e-7, x = 99.8: the
        // base 4.6e-37 carried the 3% error of its subnormal 4.6e-44, and
        // Σ focal 1.4e-6 of it; found by `binary_forward`).
        let tiny =
            ln_base.simd_lt(L::splat(-87.336_55)) & ln_base.simd_gt(L::splat(f32::NEG_INFINITY));
        if L::any(tiny) {
            L::select(tiny, math::pow_from_ln(ln_base, ln_scale, self.gamma), p)
        } else {
            p
        }
    }
}

lane_inline! {
/// `base^γ` for γ = `twice`/2, an integer or half-integer: ⌊γ⌋
/// multiplications, from `√base` if γ is a half-integer ([`RealGamma::pow`];
/// out of line where there is no SIMD: one copy, not one per kernel).
fn root_pow<L: Vector>(base: L, twice: u32) -> L {
    let mut r = if twice & 1 == 1 { base.sqrt() } else { L::ONE };
    for _ in 0..twice / 2 {
        r *= base;
    }
    r
}
}

/// Runs `$body` with `$m` bound to the modulator for `$gamma`: a const
/// generic for γ in 0..=4, [`RealGamma`] otherwise (a root and products for a
/// half-integer γ, `pow` for any other). On bare metal (and
/// under `--cfg segloss_scalar`, which tests that path on the host) γ in
/// every γ is an [`AnyGamma`] instead: the same bits, and one kernel per
/// loss instead of six (flash).
macro_rules! with_gamma {
    ($gamma:expr, |$m:ident| $body:expr) => {{
        let g: f32 = $gamma;
        #[cfg(any(target_os = "none", segloss_scalar))]
        let r = {
            let $m = $crate::accumulate::binary::AnyGamma::new(g);
            $body
        };
        #[cfg(not(any(target_os = "none", segloss_scalar)))]
        let r = if g == 2.0 {
            let $m = $crate::accumulate::binary::IntGamma::<2>;
            $body
        } else if g == 1.0 {
            let $m = $crate::accumulate::binary::IntGamma::<1>;
            $body
        } else if g == 0.0 {
            let $m = $crate::accumulate::binary::IntGamma::<0>;
            $body
        } else if g == 3.0 {
            let $m = $crate::accumulate::binary::IntGamma::<3>;
            $body
        } else if g == 4.0 {
            let $m = $crate::accumulate::binary::IntGamma::<4>;
            $body
        } else {
            let $m = $crate::accumulate::binary::RealGamma::new(g);
            $body
        };
        r
    }};
}
pub(crate) use with_gamma;

/// The loop-invariant parts of smp's focal term.
#[derive(Clone, Copy)]
pub(crate) struct FocalTerm<L> {
    /// Bounds of `a`, `b` from probabilities: the logs of `[eps, 1 − eps]`.
    pub(crate) lo: L,
    pub(crate) hi: L,
    /// `1 / reduced_threshold` (1 without one).
    pub(crate) inv_r: L,
    /// `−ln(reduced_threshold)`: `pt < r ⟺ logpt > −ln r` (+∞ without one).
    pub(crate) neg_ln_r: L,
    /// ln(1/reduced_threshold) in f64 (0 without one): the modulator's base
    /// is `(1 − pt)/r`, so its logarithm is ln(1 − pt) plus this.
    pub(crate) ln_inv_r: f64,
}

impl<L: Vector> FocalTerm<L> {
    pub(crate) fn new(eps: f32, reduced_threshold: Option<f32>) -> Self {
        let eps = f64::from(eps);
        let (inv_r, neg_ln_r, ln_inv_r) = match reduced_threshold {
            Some(r) => {
                let ln_r = libm::log(f64::from(r));
                (1.0 / r, -ln_r as f32, -ln_r)
            }
            None => (1.0, f32::INFINITY, 0.0),
        };
        FocalTerm {
            lo: L::splat(-libm::log1p(-eps) as f32),
            hi: L::splat(-libm::log(eps) as f32),
            inv_r: L::splat(inv_r),
            neg_ln_r: L::splat(neg_ln_r),
            ln_inv_r,
        }
    }

    /// `logpt = bce(x, y)`; from probabilities with `p` clamped to `[eps, 1 − eps]`.
    #[inline(always)]
    pub(crate) fn logpt<const LOGITS: bool>(&self, l: &Logistic<L>, y: L) -> L {
        if LOGITS {
            bce_term(l, y)
        } else {
            let clamp = |v| clamp_hi(clamp_lo(v, self.lo), self.hi);
            mul0(L::ONE - y, clamp(l.sp_pos)) + mul0(y, clamp(l.sp_neg))
        }
    }

    /// `(1 − pt, pt)` with `pt = e^{−logpt}` (smp's focal modulator base).
    ///
    /// From logits, where the target is exactly 1 (0), `logpt` is
    /// softplus(∓x) = −ln σ(±x), so `pt` is σ(x) (σ(−x)) and `1 − pt` the
    /// other side: both read from the link, with full relative accuracy and
    /// no second exponential. Elsewhere (soft targets, probabilities) `1 − pt`
    /// is [`math::one_minus_exp_neg`] of `logpt`, computed only for a vector
    /// that has such a lane; each lane's result is the same either way.
    #[inline(always)]
    pub(crate) fn pt<const LOGITS: bool>(&self, l: &Logistic<L>, logpt: L, y: L) -> (L, L) {
        let general = |u: L| {
            let omp = math::one_minus_exp_neg(u);
            (omp, L::ONE - omp)
        };
        if !LOGITS {
            return general(logpt);
        }
        let (one, zero) = (y.simd_eq(L::ONE), y.simd_eq(L::ZERO));
        let (omp, pt) = if L::all(one | zero) {
            (L::ZERO, L::ONE)
        } else {
            general(logpt)
        };
        (
            L::select(one, l.q, L::select(zero, l.p, omp)),
            L::select(one, l.p, L::select(zero, l.q, pt)),
        )
    }

    /// ln(1 − pt) where it is known without `1 − pt` itself: from logits
    /// where the target is exactly 1 (0), −softplus(x) (−softplus(−x)),
    /// the other side of `logpt`; −∞ elsewhere (see [`Modulator::pow_ln`]).
    #[inline(always)]
    pub(crate) fn ln_omp<const LOGITS: bool>(&self, l: &Logistic<L>, y: L) -> L {
        let none = L::splat(f32::NEG_INFINITY);
        if !LOGITS {
            return none;
        }
        let (one, zero) = (y.simd_eq(L::ONE), y.simd_eq(L::ZERO));
        L::select(one, -l.sp_pos, L::select(zero, -l.sp_neg, none))
    }

    /// smp's modulator `focal` for `logpt` and `omp = 1 − pt`
    /// ([`Self::pt`]) with `ln_omp` = ln(1 − pt) ([`Self::ln_omp`]): 1
    /// where `pt < reduced_threshold`, else `((1 − pt)/r)^γ`.
    #[inline(always)]
    pub(crate) fn modulator<M: Modulator>(&self, m: M, logpt: L, omp: L, ln_omp: L) -> L {
        L::select(
            logpt.simd_gt(self.neg_ln_r),
            L::ONE,
            m.pow_ln(omp * self.inv_r, ln_omp, self.ln_inv_r),
        )
    }

    /// `[Σ y·l, Σ (1 − y)·l, Σ focal]` of a prediction's link `l`:
    /// [`Self::terms_of`] with its `logpt` and `1 − pt`.
    #[inline(always)]
    pub(crate) fn terms<const LOGITS: bool, M: Modulator>(
        &self,
        m: M,
        l: &Logistic<L>,
        y: L,
    ) -> [L; 3] {
        let logpt = self.logpt::<LOGITS>(l, y);
        let omp = self.pt::<LOGITS>(l, logpt, y).0;
        let focal = self.modulator(m, logpt, omp, self.ln_omp::<LOGITS>(l, y));
        Self::terms_of(focal, logpt, y)
    }

    /// `[Σ y·l, Σ (1 − y)·l, Σ focal]` with `l = focal·logpt`.
    #[inline(always)]
    pub(crate) fn terms_of(focal: L, logpt: L, y: L) -> [L; 3] {
        let l = focal * logpt;
        [mul0(y, l), mul0(L::ONE - y, l), focal]
    }
}

impl FocalTerm<f32> {
    /// The same constants as lanes `W` (the multiclass passes keep a
    /// `FocalTerm<f32>` and pick their lanes per pass).
    #[cfg_attr(not(feature = "nchw"), allow(dead_code))]
    pub(crate) fn lanes<W: Vector>(&self) -> FocalTerm<W> {
        FocalTerm {
            lo: W::splat(self.lo),
            hi: W::splat(self.hi),
            inv_r: W::splat(self.inv_r),
            neg_ln_r: W::splat(self.neg_ln_r),
            ln_inv_r: self.ln_inv_r,
        }
    }
}

/// torchvision's focal terms `[Σ y·l, Σ (1 − y)·l]`, `l = bce·(1 − p_t)^γ`.
#[inline(always)]
pub(crate) fn sigmoid_focal_terms<L: Vector, M: Modulator>(m: M, l: &Logistic<L>, y: L) -> [L; 2] {
    let z = L::ONE - y;
    let loss = bce_term(l, y) * m.pow(l.p * z + l.q * y);
    [mul0(y, loss), mul0(z, loss)]
}

/// What a fused statistics pass computes beyond the plain sums: the input
/// kind, the ignore value, the hard threshold and the focal settings.
///
/// ```
/// let cfg = segloss::StatsConfig::default().with_ignore_index(Some(255.0));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatsConfig {
    /// Predictions are logits. Default `true`.
    pub from_logits: bool,
    /// Elements whose target equals this value are skipped. Default none.
    pub ignore_index: Option<f32>,
    /// Hard-count threshold on `p`, in `[0, 1]`, compared exactly as in
    /// [`HardMcc::threshold`]. Default `0.5`.
    pub threshold: f64,
    /// Focal γ (smp's and torchvision's focal sums). Default `2`.
    pub gamma: f32,
    /// smp's focal `reduced_threshold`. Default none.
    pub reduced_threshold: Option<f32>,
    /// Probability clamp of smp's focal from probabilities. Default `1e-7`.
    pub eps: f32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            from_logits: true,
            ignore_index: None,
            threshold: 0.5,
            gamma: 2.0,
            reduced_threshold: None,
            eps: 1e-7,
        }
    }
}

impl StatsConfig {
    /// Sets [`from_logits`](Self::from_logits).
    pub fn with_from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Sets [`ignore_index`](Self::ignore_index).
    pub fn with_ignore_index(mut self, v: Option<f32>) -> Self {
        self.ignore_index = v;
        self
    }
    /// Sets [`threshold`](Self::threshold).
    pub fn with_threshold(mut self, v: f64) -> Self {
        self.threshold = v;
        self
    }
    /// Sets the focal settings from a [`Focal`] configuration (γ, reduced
    /// threshold, eps).
    pub fn with_focal(mut self, f: &Focal) -> Self {
        self.gamma = f.gamma;
        self.reduced_threshold = f.reduced_threshold;
        self.eps = f.eps;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        HardMcc {
            from_logits: self.from_logits,
            threshold: self.threshold,
            eps: 1.0,
        }
        .validate()?;
        Focal {
            from_logits: self.from_logits,
            gamma: self.gamma,
            reduced_threshold: self.reduced_threshold,
            eps: self.eps,
            ignore_index: self.ignore_index,
            ..Focal::default()
        }
        .validate()
    }
}

/// Every sum any binary loss needs, from one pass.
///
/// All sums run over the kept (not ignored) elements. Losses are computed
/// from them in O(1) by [`BinaryAccumulator`]'s methods.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BinaryStats {
    /// Elements read, ignored ones included.
    pub count: u64,
    /// Elements not ignored.
    pub kept: u64,
    /// `I`, `FP`, `FN` (Dice, Jaccard, Tversky).
    pub region: RegionSums,
    /// Soft confusion sums (smp's `MCCLoss`).
    pub soft: SoftConfusion,
    /// The four BCE sums (BCE, BCE with logits, soft BCE).
    pub bce: BceSums,
    /// smp's focal sums.
    pub focal: FocalSums,
    /// torchvision's sigmoid-focal sums (`modulator` holds Σ(1 − p_t)^γ).
    pub sigmoid_focal: FocalSums,
    /// Hard confusion counts at the threshold.
    pub hard: Confusion,
}

impl BinaryStats {
    /// Adds another partial result: the stats of a concatenation.
    pub fn merge(&mut self, o: &BinaryStats) {
        self.count = self.count.saturating_add(o.count);
        self.kept = self.kept.saturating_add(o.kept);
        self.region.merge(&o.region);
        self.soft.merge(&o.soft);
        self.bce.merge(&o.bce);
        self.focal.merge(&o.focal);
        self.sigmoid_focal.merge(&o.sigmoid_focal);
        self.hard.merge(&o.hard);
    }

    fn from_totals(t: &Totals<20>) -> Self {
        let s = &t.sums;
        // Counts are sums of 0/1 lanes, exact in f64 far beyond 2^26.
        let c = |v: f64| v as u64;
        BinaryStats {
            count: t.count,
            kept: t.kept,
            region: RegionSums::from_sums([s[0], s[1], s[2]]),
            soft: SoftConfusion {
                tp: s[3],
                fp: s[4],
                fn_: s[5],
                tn: s[6],
            },
            bce: BceSums::from_sums([s[7], s[8], s[9], s[10]]),
            focal: FocalSums {
                pos: s[11],
                neg: s[12],
                modulator: s[13],
            },
            sigmoid_focal: FocalSums {
                pos: s[14],
                neg: s[15],
                modulator: s[16],
            },
            hard: Confusion {
                tp: c(s[17]),
                fp: c(s[18]),
                fn_: c(s[19]),
                tn: t
                    .kept
                    .saturating_sub(c(s[17]).saturating_add(c(s[18])).saturating_add(c(s[19]))),
            },
        }
    }
}

/// The fused pass: all twenty sums of [`BinaryStats`] in one read.
fn fused<T: Target, M: Modulator, const LOGITS: bool>(
    cfg: &StatsConfig,
    m: M,
    pred: &[f32],
    target: &[T],
) -> Result<BinaryStats, Error> {
    let ft = FocalTerm::<V>::new(cfg.eps, cfg.reduced_threshold);
    let t = splat(threshold_f32(cfg.threshold));
    let totals = pass(
        pred,
        target,
        cfg.ignore_index,
        #[inline(always)]
        |x, y| {
            let l = link::<V, LOGITS>(x);
            let [si, sfp, sfn] = sigmoid_region_terms::<V, LOGITS>(l.p, l.q, y);
            let [tp, fp, fn_, tn] = soft_terms(l.p, l.q, y);
            let [na, pa, nb, pb] = bce_terms(&l, y);
            let [fpos, fneg, fmod] = ft.terms::<LOGITS, _>(m, &l, y);
            let omp_t = fp + fn_; // 1 − p_t = p(1 − y) + (1 − p)y
            let sf = (na + pb) * m.pow(omp_t);
            let [hp, hfp, hfn, _] = hard_terms(l.p, y, t);
            [
                si,
                sfp,
                sfn,
                tp,
                fp,
                fn_,
                tn,
                na,
                pa,
                nb,
                pb,
                fpos,
                fneg,
                fmod,
                mul0(y, sf),
                mul0(V::ONE - y, sf),
                m.pow(omp_t),
                hp,
                hfp,
                hfn,
            ]
        },
    )?;
    Ok(BinaryStats::from_totals(&totals))
}

/// Streaming binary statistics: feed chunks with [`update`](Self::update),
/// combine partial results with [`merge`](Self::merge), then compute any
/// binary loss in O(1).
///
/// `merge` of two accumulators equals one pass over the concatenation
/// within the accuracy bound, so an image can be processed line by line
/// (firmware) or a batch split across threads.
///
/// ```
/// use segloss::{BinaryAccumulator, Region, StatsConfig};
/// let logits = [2.0f32, -1.0, 0.5, -3.0, 4.0, 0.0];
/// let mask = [1u8, 0, 1, 0, 1, 1];
/// let mut acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
/// for (row_p, row_y) in logits.chunks(2).zip(mask.chunks(2)) {
///     acc.update(row_p, row_y).unwrap();
/// }
/// let dice = acc.dice(&Region::default()).unwrap();
/// let one_shot = segloss::binary::dice(&logits, &mask, &Region::default()).unwrap();
/// assert!((dice - one_shot).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryAccumulator {
    cfg: StatsConfig,
    stats: BinaryStats,
}

impl BinaryAccumulator {
    /// An empty accumulator; fails if `cfg` is invalid.
    pub fn new(cfg: StatsConfig) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(BinaryAccumulator {
            cfg,
            stats: BinaryStats::default(),
        })
    }

    /// The settings the sums are computed with.
    pub fn config(&self) -> &StatsConfig {
        &self.cfg
    }

    /// The sums so far.
    pub fn stats(&self) -> &BinaryStats {
        &self.stats
    }

    /// Adds a chunk (any length, also 0) in one fused pass.
    pub fn update<T: Target>(&mut self, pred: &[f32], target: &[T]) -> Result<(), Error> {
        let s = with_gamma!(self.cfg.gamma, |m| if self.cfg.from_logits {
            fused::<T, _, true>(&self.cfg, m, pred, target)
        } else {
            fused::<T, _, false>(&self.cfg, m, pred, target)
        })?;
        self.stats.merge(&s);
        Ok(())
    }

    /// Adds the sums of another accumulator with the same configuration.
    pub fn merge(&mut self, other: &BinaryAccumulator) -> Result<(), Error> {
        if self.cfg != other.cfg {
            return Err(Error::ConfigMismatch {
                field: "StatsConfig",
            });
        }
        self.stats.merge(&other.stats);
        Ok(())
    }

    fn nonempty(&self, count: u64) -> Result<(), Error> {
        if count == 0 {
            Err(Error::Empty)
        } else {
            Ok(())
        }
    }

    fn same<V: PartialEq>(field: &'static str, a: V, b: V) -> Result<(), Error> {
        if a == b {
            Ok(())
        } else {
            Err(Error::ConfigMismatch { field })
        }
    }

    /// Dice loss (smp `DiceLoss`, binary mode).
    pub fn dice(&self, cfg: &Region) -> Result<f32, Error> {
        self.tversky(&Tversky::dice(*cfg))
    }

    /// Jaccard loss (smp `JaccardLoss`, binary mode).
    pub fn jaccard(&self, cfg: &Region) -> Result<f32, Error> {
        self.tversky(&Tversky::jaccard(*cfg))
    }

    /// Tversky loss (smp `TverskyLoss`, binary mode): the region sums
    /// finalised as [`RegionAccumulator::tversky`] does.
    pub fn tversky(&self, cfg: &Tversky) -> Result<f32, Error> {
        let (c, s) = (&self.cfg, &self.stats);
        RegionAccumulator::from_parts(c.from_logits, c.ignore_index, s.region, s.count).tversky(cfg)
    }

    /// BCE on probabilities; the statistics must come from probabilities.
    pub fn bce(&self, cfg: &Bce) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", false, self.cfg.from_logits)?;
        self.nonempty(self.stats.kept)?;
        Ok(cfg
            .reduction
            .apply(self.stats.bce.total(0.0, 1.0), self.stats.kept) as f32)
    }

    /// BCE with logits; the statistics must come from logits.
    pub fn bce_with_logits(&self, cfg: &BceWithLogits) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", true, self.cfg.from_logits)?;
        self.nonempty(self.stats.kept)?;
        let total = self.stats.bce.total(0.0, f64::from(cfg.pos_weight));
        Ok(cfg.reduction.apply(total, self.stats.kept) as f32)
    }

    /// smp's `SoftBCEWithLogitsLoss`; `cfg.ignore_index` must equal the
    /// accumulator's (ignored elements count in the mean with loss 0).
    pub fn soft_bce(&self, cfg: &SoftBce) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", true, self.cfg.from_logits)?;
        Self::same("ignore_index", cfg.ignore_index, self.cfg.ignore_index)?;
        self.nonempty(self.stats.count)?;
        let f = cfg.smooth_factor.map_or(0.0, f64::from);
        let total = self.stats.bce.total(f, f64::from(cfg.pos_weight));
        Ok(cfg.reduction.apply(total, self.stats.count) as f32)
    }

    /// smp's `FocalLoss`; γ, `reduced_threshold`, `eps` (from probabilities)
    /// and `ignore_index` must match the accumulator's.
    pub fn focal(&self, cfg: &Focal) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", cfg.from_logits, self.cfg.from_logits)?;
        Self::same("gamma", cfg.gamma, self.cfg.gamma)?;
        Self::same(
            "reduced_threshold",
            cfg.reduced_threshold,
            self.cfg.reduced_threshold,
        )?;
        Self::same("ignore_index", cfg.ignore_index, self.cfg.ignore_index)?;
        if !cfg.from_logits {
            Self::same("eps", cfg.eps, self.cfg.eps)?;
        }
        self.nonempty(self.stats.count)?;
        let s = &self.stats;
        Ok(s.focal
            .smp(cfg.alpha, cfg.normalized, cfg.reduction, s.kept) as f32)
    }

    /// torchvision's `sigmoid_focal_loss`; the statistics must come from
    /// logits with the same γ.
    pub fn sigmoid_focal(&self, cfg: &SigmoidFocal) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", true, self.cfg.from_logits)?;
        Self::same("gamma", cfg.gamma, self.cfg.gamma)?;
        self.nonempty(self.stats.kept)?;
        let s = &self.stats;
        Ok(s.sigmoid_focal
            .torchvision(cfg.alpha, cfg.reduction, s.kept) as f32)
    }

    /// smp's soft `MCCLoss`.
    pub fn mcc(&self, cfg: &Mcc) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", cfg.from_logits, self.cfg.from_logits)?;
        self.nonempty(self.stats.count)?;
        Ok(self.stats.soft.mcc_loss(f64::from(cfg.eps)) as f32)
    }

    /// The thresholded MCC metric (`1 − MCC`); the threshold must match.
    pub fn hard_mcc(&self, cfg: &HardMcc) -> Result<f32, Error> {
        cfg.validate()?;
        Self::same("from_logits", cfg.from_logits, self.cfg.from_logits)?;
        Self::same("threshold", cfg.threshold, self.cfg.threshold)?;
        self.nonempty(self.stats.count)?;
        Ok(self.stats.hard.mcc_loss(cfg.eps))
    }

    /// The hard confusion counts (precision, recall, F1, IoU follow from them).
    pub fn confusion(&self) -> Confusion {
        self.stats.hard
    }
}

#[cfg(test)]
// Test code, not API: a panic is a failed test.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    extern crate std;
    use super::super::vector::tests::per_build;
    use super::*;
    use wide::f32x8;

    /// `|got − want|` in ulps of `want` rounded to f32 (2^−149 below the
    /// normal range).
    fn ulps(got: f32, want: f64) -> f64 {
        let e = ((want as f32).to_bits() >> 23) & 0xFF;
        let ulp = f64::from_bits((u64::from(e.max(1)) + 1023 - 150) << 52);
        (f64::from(got) - want).abs() / ulp
    }

    /// An integer or half-integer γ's root and products: within one ulp
    /// per rounding of the exact power (n − 1 products for γ = n; a root
    /// and n products for γ = n + ½), the same bits on `f32` and in `f32x8`
    /// lanes, and `pow`'s special values.
    #[test]
    fn stepped_gamma_is_within_its_bound() {
        // Every 4099th pattern; ten times fewer on the emulated builds.
        let stride = per_build(4099, 40_993, 1 << 27);
        for (n, root) in (0..=4u32).flat_map(|n| [(n, false), (n, true)]) {
            let g = n as f32 + if root { 0.5 } else { 0.0 };
            let m = RealGamma::new(g);
            assert_eq!(m.twice, Some(2 * n + u32::from(root)));
            let roundings = if root { n + 1 } else { n.saturating_sub(1) };
            let mut worst = 0.0f64;
            for bits in (0..=1.0f32.to_bits()).step_by(stride) {
                let b = f32::from_bits(bits);
                let got = m.pow(b);
                let lanes = m.pow(f32x8::splat(b)).to_array();
                assert!(lanes.iter().all(|v| v.to_bits() == got.to_bits()));
                // The power in f64 from products and a root, not `powf`:
                // exact to ~2^-51, and Miri gives `powf` random errors.
                let w = f64::from(b);
                let want = (0..n).fold(if root { w.sqrt() } else { 1.0 }, |p, _| p * w);
                let e = ulps(got, want);
                assert!(e <= f64::from(roundings), "γ {g}, base {b:e}: {e} ulp");
                worst = worst.max(e);
            }
            std::println!("γ = {g}: worst {worst:.3} ulp");
            assert_eq!(m.pow(1.0f32), 1.0);
            if g > 0.0 {
                assert_eq!(m.pow(0.0f32).to_bits(), 0);
                assert_eq!(m.pow(f32::INFINITY), f32::INFINITY);
                assert!(m.pow(f32::NAN).is_nan());
            } else {
                // x^0 = 1 for every x, as `IntGamma::<0>`.
                assert_eq!(m.pow(f32::NAN), 1.0);
            }
        }
        // Only integers and half-integers up to 4.5 take the steps.
        for g in [0.25f32, 1.4999999, 1.5000001, 5.0, 5.5, 0.75] {
            assert_eq!(RealGamma::new(g).twice, None, "{g}");
        }
    }
}
