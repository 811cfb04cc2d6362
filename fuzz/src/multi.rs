//! f64 references of the multiclass and multilabel losses (the `multiclass`
//! target), built from the binary references of this crate per class.
//!
//! - Region losses: per class the sums `I = Σmin(p, y)`, `FP`, `FN` of
//!   [`crate::region_oracle`] (no cancellation), with `p` the f64 softmax
//!   over the channels (multiclass) or σ (multilabel), or the prediction
//!   itself. Each class's loss is an interval from its score ± the score
//!   tolerance (as [`crate::check_region`]); the `classes` subset and the
//!   `class_weights` mean, the per-image mean and Tversky's `(·)^γ` are
//!   monotone in every class loss, so they map the intervals to one interval.
//! - Focal: per class one-vs-rest, [`crate::focal_oracle`] on that class's
//!   kept elements (multiclass from probabilities: the logit is `ln p`, `p`
//!   clamped to `[eps, 1 − eps]`, SPEC), with the binary target's
//!   exclusions ([`crate::focal_excluded`]); the class mean of non-negative
//!   values keeps the relative bound of [`crate::check_focal`].
//! - Cross entropy: `oracle::cross_entropy` (relative [`crate::REL`]).
//!
//! Combined losses `λ_a·region + λ_b·other` add the two intervals.

use crate::{REGION_SCORE, REL, focal_excluded, focal_oracle, oracle, region_oracle};

/// A value with its allowed interval (before the final f32 rounding).
#[derive(Clone, Copy, Debug)]
pub struct Band {
    pub want: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Band {
    /// Exactly `v`.
    pub fn exact(v: f64) -> Band {
        Band { want: v, lo: v, hi: v }
    }
    /// `λ·self + μ·o` (λ, μ ≥ 0).
    pub fn combine(self, lambda: f64, o: Band, mu: f64) -> Band {
        Band {
            want: lambda * self.want + mu * o.want,
            lo: lambda * self.lo + mu * o.lo,
            hi: lambda * self.hi + mu * o.hi,
        }
    }
    /// Relative band `±rel·|v|`.
    pub fn rel(v: f64, rel: f64) -> Band {
        Band { want: v, lo: v - rel * v.abs(), hi: v + rel * v.abs() }
    }
}

/// The `(p, y)` pairs of class `k` over the kept pixels (image order), and
/// whether the class has a pixel at all: multiclass (`labels` per pixel,
/// `y = [id == k]`, `probs` in `[N, C, S]`), or multilabel (`labels` per
/// element).
pub fn class_pairs(
    probs: &[f64],
    labels: &[f64],
    [n, c, s]: [usize; 3],
    k: usize,
    images: core::ops::Range<usize>,
    multiclass: bool,
    ignore: Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut ps, mut ys) = (Vec::new(), Vec::new());
    for b in images.filter(|&b| b < n) {
        for j in 0..s {
            let v = probs[(b * c + k) * s + j];
            let (t, y) = if multiclass {
                let t = labels[b * s + j];
                (t, if t == k as f64 { 1.0 } else { 0.0 })
            } else {
                let t = labels[(b * c + k) * s + j];
                (t, t)
            };
            if ignore != Some(t) {
                ps.push(v);
                ys.push(y);
            }
        }
    }
    (ps, ys)
}

/// One class's region loss as an interval (see the module docs).
pub fn region_class(t: &segloss::Tversky, ps: &[f64], ys: &[f64]) -> Band {
    let o = region_oracle(t, ps, ys);
    let r = &t.region;
    let l_of = |score: f64| {
        let eps = f64::from(r.eps);
        if r.log_loss { -(score.max(eps)).ln() } else { 1.0 - score }
    };
    // `region_oracle` applies γ; the class loss here is before it.
    let t1 = segloss::Tversky { gamma: 1.0, ..*t };
    let v = region_oracle(&t1, ps, ys).value;
    match o.score {
        None => Band::exact(v),
        Some(s) => {
            let (a, b) = (l_of(s + REGION_SCORE), l_of(s - REGION_SCORE));
            Band { want: v, lo: a.min(b), hi: a.max(b) }
        }
    }
}

/// The weighted mean `Σ w_k·band_k / Σ w_k` over `keep`.
pub fn weighted_mean(bands: &[Band], keep: &[usize], weights: Option<&[f32]>) -> Band {
    let w = |k: usize| weights.map_or(1.0, |w| f64::from(w[k]));
    let den: f64 = keep.iter().map(|&k| w(k)).sum();
    let sum = |f: &dyn Fn(&Band) -> f64| keep.iter().map(|&k| w(k) * f(&bands[k])).sum::<f64>() / den;
    Band { want: sum(&|b| b.want), lo: sum(&|b| b.lo), hi: sum(&|b| b.hi) }
}

/// `band^γ` (γ = 1: itself), monotone for a non-negative band.
pub fn power(b: Band, gamma: f64) -> Band {
    if gamma == 1.0 {
        return b;
    }
    let p = |v: f64| v.max(0.0).powf(gamma);
    // A negative want (log_loss with eps > 1) gives NaN, as smp's `loss ** γ`.
    let want = if b.want < 0.0 && gamma.fract() != 0.0 { f64::NAN } else { b.want.powf(gamma) };
    Band { want, lo: p(b.lo), hi: p(b.hi) }
}

/// The region loss of a multiclass / multilabel case.
#[allow(clippy::too_many_arguments)]
pub fn region(
    t: &segloss::Tversky,
    probs: &[f64],
    labels: &[f64],
    shape: [usize; 3],
    multiclass: bool,
    ignore: Option<f64>,
    classes: Option<&[usize]>,
    weights: Option<&[f32]>,
    per_image: bool,
) -> Band {
    let [n, c, _] = shape;
    let keep: Vec<usize> = classes.map_or_else(|| (0..c).collect(), |l| l.to_vec());
    let mean_of = |images: core::ops::Range<usize>| {
        let bands: Vec<Band> = (0..c)
            .map(|k| {
                let (ps, ys) = class_pairs(probs, labels, shape, k, images.clone(), multiclass, ignore);
                region_class(t, &ps, &ys)
            })
            .collect();
        weighted_mean(&bands, &keep, weights)
    };
    let mean = if per_image {
        let per: Vec<Band> = (0..n).map(|b| mean_of(b..b + 1)).collect();
        weighted_mean(&per, &(0..n).collect::<Vec<_>>(), None)
    } else {
        mean_of(0..n)
    };
    power(mean, f64::from(t.gamma))
}

/// Relative rounding of an f32 intermediate logit (one half ulp, 2^-24).
pub const LOGIT_ROUND: f64 = 1.0 / 16_777_216.0;

/// Focal per class (one-vs-rest on `values`: raw logits, or probabilities
/// mapped by the caller), then the (weighted) mean over every class; `None`
/// when a class falls in an excluded case.
///
/// `logit_mag` is the largest `|x|` of an f32 *intermediate* logit (0 when
/// the logits are the input): multiclass focal from probabilities reads
/// `x = ln p` as an f32 (SPEC, as smp), whose rounding `|x|·2^-24` is an
/// absolute error in `x`, hence a relative error `|x|·2^-24` in `logpt ≈ e^x`
/// and in the modulator's base `1 − pt ≈ logpt` (times γ in the power). The
/// bound is [`check_focal`](crate::check_focal)'s plus `(γ + 1)·logit_mag·2^-24`.
/// Found by `multiclass` (seed `corpus/multiclass/focal-probabilities-ln-rounding`):
/// γ = 5, eps = 1.6e-4 (|x| ≤ 8.8), normalised: 1.9e-6 relative against
/// the 1.2e-6 of the from-logits bound.
#[allow(clippy::too_many_arguments)]
pub fn focal(
    f: &segloss::Focal,
    values: &[f64],
    labels: &[f64],
    shape: [usize; 3],
    multiclass: bool,
    ignore: Option<f64>,
    weights: Option<&[f32]>,
    logit_mag: f64,
) -> Option<Band> {
    let [n, c, _] = shape;
    let mut vals = Vec::with_capacity(c);
    for k in 0..c {
        let (xs, ys) = class_pairs(values, labels, shape, k, 0..n, multiclass, ignore);
        if focal_excluded(f, &xs, &ys) {
            return None;
        }
        vals.push(Band::exact(focal_oracle(f, &xs, &ys).0));
    }
    let m = weighted_mean(&vals, &(0..c).collect::<Vec<_>>(), weights);
    if f64::from(f.gamma) > crate::GAMMA_DOMAIN {
        return None;
    }
    let g = f64::from(f.gamma);
    let rel = REL.max(g * crate::MODULATOR_BASE + (g + 1.0) * logit_mag * LOGIT_ROUND);
    Some(Band::rel(m.want, rel))
}

/// PyTorch's multiclass cross entropy.
pub fn cross_entropy(
    ce: &segloss::multiclass::CrossEntropy,
    logits: &[f64],
    labels: &[f64],
    shape: [usize; 3],
    weights: Option<&[f32]>,
) -> Band {
    let w: Option<Vec<f64>> = weights.map(|w| w.iter().map(|&v| f64::from(v)).collect());
    let v = oracle::cross_entropy(
        shape,
        logits,
        labels,
        w.as_deref(),
        ce.ignore_index.map(|i| i as f64),
        f64::from(ce.label_smoothing),
        crate::reduction(ce.reduction),
    )
    .unwrap_or(f64::NAN);
    Band::rel(v, REL)
}
