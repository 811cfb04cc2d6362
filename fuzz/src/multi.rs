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

use crate::{
    F32_SUBNORMAL, REGION_SCORE, REL, focal_excluded, focal_oracle, oracle, region_oracle,
};

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
        Band {
            want: v,
            lo: v,
            hi: v,
        }
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
        Band {
            want: v,
            lo: v - rel * v.abs(),
            hi: v + rel * v.abs(),
        }
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
        if r.log_loss {
            -(score.max(eps)).ln()
        } else {
            1.0 - score
        }
    };
    // `region_oracle` applies γ; the class loss here is before it.
    let t1 = segloss::Tversky { gamma: 1.0, ..*t };
    let v = region_oracle(&t1, ps, ys).value;
    match o.score {
        None => Band::exact(v),
        Some(s) => {
            let (a, b) = (l_of(s + REGION_SCORE), l_of(s - REGION_SCORE));
            Band {
                want: v,
                lo: a.min(b),
                hi: a.max(b),
            }
        }
    }
}

/// The weighted mean `Σ w_k·band_k / Σ w_k` over `keep`.
pub fn weighted_mean(bands: &[Band], keep: &[usize], weights: Option<&[f32]>) -> Band {
    let w = |k: usize| weights.map_or(1.0, |w| f64::from(w[k]));
    let den: f64 = keep.iter().map(|&k| w(k)).sum();
    let sum =
        |f: &dyn Fn(&Band) -> f64| keep.iter().map(|&k| w(k) * f(&bands[k])).sum::<f64>() / den;
    Band {
        want: sum(&|b| b.want),
        lo: sum(&|b| b.lo),
        hi: sum(&|b| b.hi),
    }
}

/// `band^γ` (γ = 1: itself): the image of the interval under `v^γ`, which is
/// monotone on each side of 0. A class loss is negative only with
/// `log_loss` and `eps > 1` (`−ln eps`); an even γ then maps it to a
/// positive value (found by `multiclass`, seed `tversky-log-loss-eps-above-one`),
/// a non-integer γ to NaN (C's `pow`, as smp's `loss ** γ`), and a band
/// that reaches slightly below 0 around a zero loss is clamped there.
pub fn power(b: Band, gamma: f64) -> Band {
    if gamma == 1.0 {
        return b;
    }
    let p = |v: f64| {
        if v < 0.0 && gamma.fract() != 0.0 {
            0.0f64.powf(gamma)
        } else {
            v.powf(gamma)
        }
    };
    let mut c = vec![p(b.lo), p(b.hi)];
    if b.lo < 0.0 && b.hi > 0.0 {
        c.push(p(0.0));
    }
    let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Band {
        want: b.want.powf(gamma),
        lo,
        hi,
    }
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
                let (ps, ys) =
                    class_pairs(probs, labels, shape, k, images.clone(), multiclass, ignore);
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

/// f64's unit roundoff (half an ulp at 1).
const U64: f64 = f64::EPSILON / 2.0;

/// One class's region loss `L_c` (before γ) and a bound on its absolute
/// rounding error in f64 (the reference's own resolution), from the
/// operations of [`region_oracle`]: each `p_j` carries `p_ulps·2^-53·p_j`
/// (σ or the softmax), the sums add `(n + 1)·2^-53` of themselves, then
/// `score = num/max(den, eps)` and `1 − score` or `−ln score`. The error is
/// absolute in `p` and in the score: where `L_c` is itself far below them
/// (`1 − score` with a score within 1e-5 of 1, `FN = Σ(1 − p)` of a
/// saturated softmax) the reference moves in steps of `2^-53`, not of `L_c`.
fn region_class_resolution(
    t: &segloss::Tversky,
    ps: &[f64],
    ys: &[f64],
    p_ulps: f64,
) -> (f64, f64) {
    let r = &t.region;
    let (alpha, beta) = (f64::from(t.alpha), f64::from(t.beta));
    let (smooth, eps) = (f64::from(r.smooth), f64::from(r.eps));
    let (i, fp, fn_, dp) = crate::confusion_spread(ps, ys, p_ulps * U64);
    if !(i + fn_ > 0.0) {
        return (0.0, 0.0); // the empty-class rule: exactly 0 (or NaN, not compared)
    }
    let sum = (ps.len() as f64 + 1.0) * U64;
    let (di, dfp, dfn) = (dp + sum * i, dp + sum * fp, dp + sum * fn_);
    let num = i + smooth;
    let den = i + alpha * fp + beta * fn_ + smooth;
    let dnum = di + U64 * num;
    // Clamped to eps: the denominator is a constant.
    let dden = if den < eps {
        0.0
    } else {
        di + alpha * dfp + beta * dfn + 4.0 * U64 * den
    };
    let d = den.max(eps);
    let score = num / d;
    let ds = dnum / d + num * dden / (d * d) + U64 * score;
    let (l, dl) = if r.log_loss {
        let l = -score.max(eps).ln();
        (
            l,
            if score > eps { ds / score } else { 0.0 } + U64 * l.abs(),
        )
    } else {
        let l = 1.0 - score;
        (l, ds + U64 * l.abs())
    };
    (l, dl)
}

/// A bound on the absolute rounding error of [`region`]'s `want` (the f64
/// reference's resolution, see [`region_class_resolution`]), for the finite
/// differences' noise: the weighted means add their errors, Tversky's `(·)^γ`
/// scales them by its slope (`γ·(M + δM)^(γ−1)` for γ ≥ 1, `δM^γ` below).
#[allow(clippy::too_many_arguments)]
pub fn region_resolution(
    t: &segloss::Tversky,
    probs: &[f64],
    labels: &[f64],
    shape: [usize; 3],
    multiclass: bool,
    ignore: Option<f64>,
    classes: Option<&[usize]>,
    weights: Option<&[f32]>,
    per_image: bool,
) -> f64 {
    let [n, c, _] = shape;
    // σ: exp, add, divide; the softmax adds the C-term sum.
    let p_ulps = 4.0 + if multiclass { c as f64 } else { 0.0 };
    let keep: Vec<usize> = classes.map_or_else(|| (0..c).collect(), |l| l.to_vec());
    let w = |k: usize| weights.map_or(1.0, |w| f64::from(w[k]));
    let wsum: f64 = keep.iter().map(|&k| w(k)).sum();
    // (mean, its error) of one group of images.
    let mean_of = |images: core::ops::Range<usize>| {
        let (mut m, mut dm) = (0.0, 0.0);
        for &k in &keep {
            let (ps, ys) = class_pairs(probs, labels, shape, k, images.clone(), multiclass, ignore);
            let (l, dl) = region_class_resolution(t, &ps, &ys, p_ulps);
            m += w(k) * l / wsum;
            dm += w(k) * dl / wsum;
        }
        (m, dm + (keep.len() as f64 + 2.0) * U64 * m.abs())
    };
    let (m, dm) = if per_image {
        let per: Vec<(f64, f64)> = (0..n).map(|b| mean_of(b..b + 1)).collect();
        let nn = n as f64;
        let m = per.iter().map(|v| v.0).sum::<f64>() / nn;
        let dm = per.iter().map(|v| v.1).sum::<f64>() / nn;
        (m, dm + (nn + 2.0) * U64 * m.abs())
    } else {
        mean_of(0..n)
    };
    let gamma = f64::from(t.gamma);
    if gamma == 1.0 {
        dm
    } else if gamma >= 1.0 {
        gamma * (m.abs() + dm).powf(gamma - 1.0) * dm + 2.0 * U64 * m.abs().powf(gamma)
    } else {
        dm.powf(gamma) + 2.0 * U64 * m.abs().powf(gamma)
    }
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
        // Each kept element's f32 term `focal·logpt` carries up to 2^-149
        // absolute once it is below f32's normal range (it may underflow to
        // 0 where the f64 term is 1e-53); the sum of them, reduced (and
        // normalised by Σ focal ≥ 1e-6). Only visible when a combined loss's
        // λ scales a tiny focal value up (found by `multiclass`, seed
        // `dice-focal-huge-lambda`: λ = 7.7e31 times a focal loss of 3.8e-53).
        let kept = xs.len() as f64;
        let per = if f.normalized { 1e6 } else { 1.0 };
        let abs = F32_SUBNORMAL
            * per
            * match f.reduction {
                segloss::Reduction::Mean => 1.0,
                segloss::Reduction::Sum => kept,
            };
        let (v, orc, lx) = focal_oracle(f, &xs, &ys);
        let abs = abs + crate::smp_focal_floor(f, &orc, &lx, &ys);
        vals.push(Band {
            want: v,
            lo: v - abs,
            hi: v + abs,
        });
    }
    let m = weighted_mean(&vals, &(0..c).collect::<Vec<_>>(), weights);
    if f64::from(f.gamma) > crate::GAMMA_DOMAIN {
        return None;
    }
    let g = f64::from(f.gamma);
    let rel = REL.max(crate::focal_elementwise(g) + (g + 1.0) * logit_mag * LOGIT_ROUND);
    let r = Band::rel(m.want, rel);
    Some(Band {
        want: m.want,
        lo: r.lo - (m.want - m.lo),
        hi: r.hi + (m.hi - m.want),
    })
}

/// PyTorch's multiclass cross entropy in f64: pixel `i` gives
/// `(1 − ls)·w_y·(−ln q_y) + (ls/C)·Σ_c w_c·(−ln q_c)`, the mean divides by
/// `Σ w_y` over kept pixels (SPEC). `−ln q_c` is formed as
/// `(max − x_c) + ln Σ_k e^(x_k − max)`, two non-negative terms:
/// `oracle::cross_entropy`'s `x − (max + ln Σ)` cancels in f64 once
/// `|max| ≳ 2^53·ln Σ`, and `ln Σ` itself is `ln_1p` of the other classes'
/// exps (a confident pixel: Σ = 1 + 5e-18) (found by `multiclass`, seeds
/// `ce-confident-pixel` and
/// `ce-huge-equal-logits`: 252 classes, every logit 1e30, oracle 0 where
/// the loss is 3·ln 252 = 16.59, segloss's value).
pub fn cross_entropy(
    ce: &segloss::multiclass::CrossEntropy,
    logits: &[f64],
    labels: &[f64],
    [n, c, s]: [usize; 3],
    weights: Option<&[f32]>,
) -> Band {
    let w = |k: usize| weights.map_or(1.0, |w| f64::from(w[k]));
    let ls = f64::from(ce.label_smoothing);
    let ignore = ce.ignore_index.map(|i| i as f64);
    let (mut total, mut den, mut kept) = (0.0, 0.0, 0usize);
    for b in 0..n {
        for j in 0..s {
            let t = labels[b * s + j];
            if ignore == Some(t) {
                continue;
            }
            let y = t as usize;
            let xs: Vec<f64> = (0..c).map(|k| logits[(b * c + k) * s + j]).collect();
            let m = xs.iter().copied().fold(f64::NEG_INFINITY, oracle::maxp);
            // ln Σ e^(x − m) = ln_1p(Σ over all but the first maximum): a
            // confident pixel's Σ = 1 + 5e-18 would round to 1 in f64 too.
            let top = xs.iter().position(|&x| x == m);
            let rest: f64 = xs
                .iter()
                .enumerate()
                .filter(|&(k, _)| Some(k) != top)
                .map(|(_, &x)| (x - m).exp())
                .sum();
            let lsum = if top.is_some() {
                rest.ln_1p()
            } else {
                f64::NAN
            };
            let nl = |k: usize| (m - xs[k]) + lsum;
            let mut l = oracle::mul0((1.0 - ls) * w(y), nl(y));
            if ls != 0.0 {
                let smooth: f64 = (0..c).map(|k| oracle::mul0(w(k), nl(k))).sum();
                l += ls / c as f64 * smooth;
            }
            total += l;
            den += w(y);
            kept += 1;
        }
    }
    // Each pixel's f32 terms `w_y·(−ln q_y)` (and the C smoothing terms)
    // carry up to 2^-150 absolute when subnormal (found by `multiclass`,
    // seed `ce-subnormal-class-weights`: every weight 2.8e-45, the mean of
    // ln 4 came out 1.5); the mean divides that by `Σ w_y`.
    let terms = 1 + if ls != 0.0 { c } else { 0 };
    let sub = (kept * terms) as f64 * F32_SUBNORMAL;
    let (v, abs) = match ce.reduction {
        segloss::Reduction::Mean => (total / den, sub / den),
        segloss::Reduction::Sum => (total, sub),
    };
    let b = Band::rel(v, REL);
    Band {
        lo: b.lo - abs,
        hi: b.hi + abs,
        ..b
    }
}
