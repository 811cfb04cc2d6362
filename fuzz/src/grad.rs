//! f64 gradients of the binary losses and their comparison (the `backward`
//! target).
//!
//! Each function evaluates `scale · ∂loss/∂pred_i` in f64 from exact
//! `p = σ(x)`, `q = σ(−x)` (or the probabilities), written from SPEC.md
//! "Gradients" and the loss formulas, not from segloss's code: the sums
//! (I/FP/FN, the soft confusion, Σ focal, Σ l) are the oracle's, and every
//! derivative is the chain rule through them. The conventions are SPEC's
//! (and PyTorch autograd's): zero slope on a clamped side, ignored elements
//! and the empty-class rule give exactly 0, `bce` on probabilities uses
//! PyTorch's `(p − y)/max(p(1 − p), 1e-12)`.
//!
//! # Tolerances (as data)
//!
//! Per element `i`, `|got_i − want_i| ≤ GRAD_CASE·max_j |want_j| + slack_i`:
//!
//! - [`GRAD_CASE`] = 1e-5: SPEC "Accuracy" (relative to the case's largest
//!   |gradient|).
//! - `slack_i` collects what the f32 evaluation of *this* element's terms
//!   may contribute, each bound derived, not tuned:
//!   - [`elem_rel`]`(γ)` relative to the sum of the absolute values of the
//!     element's operands (σ, softplus, products: a few ulp each; the focal
//!     modulator's base error times γ as in `tolerance::focal`), so a
//!     difference of two large terms is judged by their size;
//!   - the scalar coefficients from the sums: each sum of f32 terms is
//!     accurate to [`SUM_ULPS`] ulp relative; a coefficient's error is that
//!     times the sizes of the terms that form it (for the region losses
//!     amplified by `α`, `β` in the denominator, for the soft MCC by the
//!     condition number κ of `TP·TN − FP·FN` as in
//!     `tolerance::MCC_GRADIENT_FD`);
//!   - outer factors that are ill-conditioned in the score (Tversky's
//!     `L^(γ−1)`, `log_loss`'s `1/score`) are carried as an interval over
//!     the score's error `max(REGION_SCORE, SUM_ULPS·ulp·(2 + α + β))`, as
//!     the forward check does for the value;
//!   - [`F32_SUBNORMAL`] absolute times an element's factor for each f32
//!     scalar coefficient (found by `backward`, seed
//!     `focal-normalized-subnormal-coefficient`: smp focal with r = 1e-7,
//!     γ = 5, α = 1e-7, normalised: `Σ focal` ≈ 2.5e34, so `W/M'²` =
//!     2.8e-42 is subnormal in f32 (11 bits) and the gradient 6.25e-9 came
//!     out 7e-4 off; the per-element factor ∂focal/∂u·∂u/∂x ≈ 1e34 is what
//!     the 2^-150 rounding is multiplied by);
//!   - [`F32_MIN_NORMAL`] absolute, times the element's scalar factors: a
//!     per-element f32 factor below 2^-126 (`p·q` of a logit beyond ±87, a
//!     subnormal target) has absolute, not relative, accuracy; and
//!     [`F32_MIN_NORMAL`] itself for every element (a gradient or an f32
//!     coefficient below f32's normal range is compared absolutely).
//! - Kinks and switches are not compared where the f32 and f64 evaluations
//!   may fall on different sides: an element with `|p − y| ≤ KINK·max(p, y)`
//!   (the side of `|p − y|`), and a case whose region denominator or score
//!   is within its error of `eps`, whose focal `Σ focal` is near `1e-6`, or
//!   whose focal elements are within [`SWITCH`] of `reduced_threshold` or of
//!   the probability clamp.
//!
//! Outside the domain (NaN inputs, |scale| outside `[1e-10, 1e10]`, logits
//! beyond ±1e30, γ > `GAMMA_DOMAIN`) only the error, NaN and no-panic
//! checks run.

use crate::{F32_SUBNORMAL, GAMMA_DOMAIN, REGION_SCORE, fail, oracle};

/// SPEC "Accuracy": elementwise gradients within 1e-5 of the case's largest |gradient|.
pub const GRAD_CASE: f64 = 1e-5;
/// Unit roundoff of f32, 2^-24.
pub const U32: f64 = 1.0 / 16_777_216.0;
/// Smallest normal f32, 2^-126.
pub const F32_MIN_NORMAL: f64 = 1.175_494_350_822_287_5e-38;
/// Relative accuracy of a sum of non-negative f32 terms (σ ≤ 3 ulp, one
/// product or difference, the f32 block sum before widening): in ulp.
pub const SUM_ULPS: f64 = 8.0;
/// Side of `|p − y|`: not compared within this relative distance.
pub const KINK: f64 = 1e-6;
/// Relative distance to a switch (clamp, `reduced_threshold`) within which
/// the side is not compared.
pub const SWITCH: f64 = 1e-5;
/// Largest `|scale|` of the compared domain (and smallest non-zero).
pub const SCALE_DOMAIN: f64 = 1e10;

/// Relative accuracy of one element's f32 gradient terms: 16 ulp, plus the
/// focal modulator's `(4γ + 6)` ulp (`tests/support/tolerance.rs`, `focal`)
/// for its value and again for its derivative `γ·base^(γ−1)`.
pub fn elem_rel(gamma: f64) -> f64 {
    (8.0 * gamma + 16.0) * U32
}

/// One element's expected gradient.
#[derive(Clone, Copy, Debug)]
pub enum Want {
    /// Exactly this value (0 for ignored elements and the empty-class rule).
    Exact(f64),
    /// `value`, within the case bound plus `slack`.
    Near { value: f64, slack: f64 },
    /// Not compared (a kink or switch within the rounding).
    Skip,
}

/// autograd's `grad_output` of a backward target: mostly 1, a random value,
/// specials, raw bits.
pub fn scale_of(n: crate::Num) -> f32 {
    match n.sel >> 5 {
        0..=3 => 1.0,
        4 | 5 => crate::Num { sel: 0, raw: n.raw }.param(-4.0, 4.0),
        6 => crate::Num {
            sel: 10,
            raw: n.raw,
        }
        .param(0.0, 1.0),
        _ => f32::from_bits(n.raw),
    }
}

/// Whether `scale` is in the compared domain.
pub fn scale_in_domain(scale: f32) -> bool {
    let s = f64::from(scale).abs();
    s == 0.0 || (s.is_finite() && (1.0 / SCALE_DOMAIN..=SCALE_DOMAIN).contains(&s))
}

/// Compares every element (see the module docs for the bound).
pub fn check(what: &str, got: &[f32], want: &[Want]) {
    let case_max = want
        .iter()
        .filter_map(|w| match *w {
            Want::Exact(v) | Want::Near { value: v, .. } if v.is_finite() => Some(v.abs()),
            _ => None,
        })
        .fold(0.0, f64::max);
    for (i, (&g, w)) in got.iter().zip(want).enumerate() {
        let g64 = f64::from(g);
        let ok = match *w {
            Want::Skip => true,
            Want::Exact(v) => g64 == v || (v.is_nan() && g.is_nan()),
            Want::Near { value, slack } => {
                if value.is_nan() || g.is_nan() {
                    value.is_nan() && g.is_nan()
                } else if value.is_infinite() || g.is_infinite() {
                    g64 == value || (value as f32) == g
                } else {
                    let bound =
                        GRAD_CASE * case_max + slack + 2.0 * U32 * value.abs() + F32_MIN_NORMAL;
                    (g64 - value).abs() <= bound || (value as f32) == g
                }
            }
        };
        if !ok {
            fail(
                what,
                format!(
                    "grad[{i}] = {g:e}, want {w:?} (case max {case_max:e}, {} elements)",
                    got.len()
                ),
            );
        }
    }
}

/// One element: prediction, target, kept, and `p`, `q` (exact).
#[derive(Clone, Copy, Debug)]
pub struct Elem {
    pub x: f64,
    pub y: f64,
    pub kept: bool,
    pub p: f64,
    pub q: f64,
}

/// The elements of a case (`ignore` drops those whose target equals it).
pub fn elems(pred: &[f32], ys: &[f64], from_logits: bool, ignore: Option<f32>) -> Vec<Elem> {
    pred.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let x = f64::from(x);
            let (p, q) = if from_logits {
                (oracle::sigmoid(x), oracle::sigmoid(-x))
            } else {
                (x, 1.0 - x)
            };
            Elem {
                x,
                y,
                kept: ignore.map(f64::from) != Some(y),
                p,
                q,
            }
        })
        .collect()
}

fn near(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

// ------------------------------------------------------------ region losses

/// Dice / Jaccard / Tversky: `scale·∂L/∂pred`, `L = loss(score)^γ`.
///
/// With `s = num/d`, `num = I + smooth`, `d = max(I + α·FP + β·FN + smooth, eps)`:
/// `∂s/∂FP = −α·num/d²`, `∂s/∂I − ∂s/∂FN = 1/d − num/d² + β·num/d²` (the
/// `num/d²` terms vanish when `d` is clamped); an element with `p > y`
/// moves FP, one with `p < y` moves I and −FN. The outer factor
/// `K(s) = scale·γ·L^(γ−1)·∂loss/∂s` is taken as an interval over the
/// score's error. `None`: the case is outside the compared domain.
pub fn region(
    t: &segloss::Tversky,
    scale: f64,
    es: &[Elem],
    from_logits: bool,
) -> Option<Vec<Want>> {
    let r = &t.region;
    let (alpha, beta, gamma) = (f64::from(t.alpha), f64::from(t.beta), f64::from(t.gamma));
    let (smooth, eps) = (f64::from(r.smooth), f64::from(r.eps));
    let (mut i, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for e in es.iter().filter(|e| e.kept) {
        i += e.p.min(e.y);
        fp += (e.p - e.y).max(0.0);
        fn_ += (e.y - e.p).max(0.0);
    }
    if !(i + fp + fn_).is_finite() {
        return None;
    }
    if i + fn_ <= 0.0 {
        return Some(vec![Want::Exact(0.0); es.len()]); // the empty-class rule
    }
    let sum_rel = SUM_ULPS * U32 * (2.0 + alpha + beta);
    let num = i + smooth;
    let den = i + alpha * fp + beta * fn_ + smooth;
    if near(den, eps, SWITCH.max(sum_rel)) {
        return None;
    }
    let clamped = den < eps;
    let d = den.max(eps);
    let s = num / d;
    let ds = REGION_SCORE.max(sum_rel * s);
    if r.log_loss && (s - eps).abs() <= ds + SWITCH * eps {
        return None;
    }
    let k_of = |s: f64| {
        let s = s.clamp(0.0, 1.0);
        let (l, dl) = if r.log_loss {
            (-(s.max(eps)).ln(), if s < eps { 0.0 } else { -1.0 / s })
        } else {
            (1.0 - s, -1.0)
        };
        let dpow = if gamma == 1.0 {
            1.0
        } else {
            gamma * l.powf(gamma - 1.0)
        };
        scale * dpow * dl
    };
    let ks = [k_of(s), k_of(s - ds), k_of(s + ds)];
    if ks.iter().any(|k| !k.is_finite()) {
        return None;
    }
    let k = ks[0];
    let dk = ks.iter().fold(0.0, |m: f64, v| m.max((v - k).abs()));
    let nd2 = if clamped { 0.0 } else { num / (d * d) };
    // (coefficient, Σ|terms| for its error bound) for p > y and p < y.
    let above = (-alpha * nd2, alpha * nd2);
    let below = (1.0 / d - nd2 + beta * nd2, 1.0 / d + nd2 + beta * nd2);
    if [above.0, below.0].iter().any(|c| (k * c).abs() > 1e36) {
        return None; // the f32 coefficient overflows
    }
    let el = elem_rel(0.0);
    Some(
        es.iter()
            .map(|e| {
                if !e.kept {
                    return Want::Exact(0.0);
                }
                let diff = e.p - e.y;
                if diff.abs() <= KINK * e.p.abs().max(e.y.abs()) {
                    return Want::Skip;
                }
                let (c, terms) = if diff > 0.0 { above } else { below };
                let dp = if from_logits { e.p * e.q } else { 1.0 };
                let value = k * c * dp;
                let slack = (dk * c.abs() + (k.abs() + dk) * 3.0 * sum_rel * terms) * dp
                    + el * value.abs()
                    + (k * c).abs() * F32_MIN_NORMAL;
                Want::Near { value, slack }
            })
            .collect(),
    )
}

// ------------------------------------------------------------------- MCC

/// smp's soft MCC: `loss = 1 − m`, `m = (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN))`
/// with `eps` added to each sum; `p_i` moves TP and FP by `y`, `1 − y`,
/// and FN, TN by `−y`, `−(1 − y)`.
pub fn mcc(eps: f64, scale: f64, es: &[Elem], from_logits: bool) -> Option<Vec<Want>> {
    let (mut tp, mut fp, mut fn_, mut tn) = (eps, eps, eps, eps);
    for e in es {
        tp += e.p * e.y;
        fp += e.p * (1.0 - e.y);
        fn_ += e.q * e.y;
        tn += e.q * (1.0 - e.y);
    }
    let (a, b, c, d) = (tp + fp, tp + fn_, tn + fp, tn + fn_);
    let n = tp * tn - fp * fn_;
    let den = (a * b * c * d).sqrt();
    let m = n / den;
    let dm_tp = tn / den - m / 2.0 * (1.0 / a + 1.0 / b);
    let dm_tn = tp / den - m / 2.0 * (1.0 / c + 1.0 / d);
    let dm_fp = -fn_ / den - m / 2.0 * (1.0 / a + 1.0 / c);
    let dm_fn = -fp / den - m / 2.0 * (1.0 / b + 1.0 / d);
    let g1 = -scale * (dm_tp - dm_fn);
    let g0 = -scale * (dm_fp - dm_tn);
    // Condition number of the cancellation in TP·TN − FP·FN.
    let kappa = (tp * tn + fp * fn_) / n.abs();
    if ![g1, g0, kappa].iter().all(|v| v.is_finite()) || g1.abs().max(g0.abs()) > 1e36 {
        return None;
    }
    // Each f32 product term (p·y, ...) below 2^-126 carries up to half a
    // subnormal spacing absolutely: with a subnormal `eps` and subnormal
    // predictions the four sums have no relative accuracy left (found by
    // `backward`, seed `mcc-subnormal-eps-and-prediction`: eps = p = 2^-149,
    // the gradient 3.3e21 came out 1.8e21, as f32 arithmetic must).
    let smallest = tp.min(fp).min(fn_).min(tn);
    let sub_rel = es.len() as f64 * F32_SUBNORMAL / smallest;
    let coef = (SUM_ULPS * U32 + sub_rel) * (1.0 + kappa) * (g1.abs() + g0.abs());
    let el = elem_rel(0.0);
    Some(
        es.iter()
            .map(|e| {
                let dp = if from_logits { e.p * e.q } else { 1.0 };
                let (t1, t0) = (e.y * g1, (1.0 - e.y) * g0);
                let value = (t1 + t0) * dp;
                let slack = (el * (t1.abs() + t0.abs()) + coef) * dp
                    + (g1.abs() + g0.abs()) * F32_MIN_NORMAL;
                Want::Near { value, slack }
            })
            .collect(),
    )
}

// --------------------------------------------------------- cross entropy

/// `scale/n` for a mean, `scale` for a sum.
pub fn reduce(red: segloss::Reduction, scale: f64, count: usize) -> f64 {
    match red {
        segloss::Reduction::Mean => scale / count as f64,
        segloss::Reduction::Sum => scale,
    }
}

/// PyTorch's BCE backward on probabilities: `k·(p − y)/max(p(1 − p), 1e-12)`.
pub fn bce(k: f64, es: &[Elem]) -> Vec<Want> {
    es.iter()
        .map(|e| {
            let value = k * (e.p - e.y) / (e.p * (1.0 - e.p)).max(1e-12);
            Want::Near {
                value,
                slack: elem_rel(0.0) * value.abs() + k.abs() * F32_MIN_NORMAL,
            }
        })
        .collect()
}

/// BCE with logits: `k·((1 − y)·p − w·y·q)`.
pub fn bce_with_logits(k: f64, w: f64, es: &[Elem]) -> Vec<Want> {
    es.iter()
        .map(|e| {
            let (a, b) = ((1.0 - e.y) * e.p, w * e.y * e.q);
            let value = k * (a - b);
            let slack = elem_rel(0.0) * k.abs() * (a + b) + k.abs() * w.max(1.0) * F32_MIN_NORMAL;
            Want::Near { value, slack }
        })
        .collect()
}

/// smp's soft BCE: BCE with logits against `y' = (1 − y)·f + y·(1 − f)`:
/// `k·((1 − y')·p − w·y'·q)`, 0 for ignored elements (which still count in
/// the mean, through `k`). `1 − y'` is formed as `y·f + (1 − y)(1 − f)`.
pub fn soft_bce(k: f64, w: f64, f: f64, es: &[Elem]) -> Vec<Want> {
    es.iter()
        .map(|e| {
            if !e.kept {
                return Want::Exact(0.0);
            }
            let ys = (1.0 - e.y) * f + e.y * (1.0 - f);
            let ns = e.y * f + (1.0 - e.y) * (1.0 - f);
            let (a, b) = (ns * e.p, w * ys * e.q);
            let value = k * (a - b);
            let slack = elem_rel(0.0) * k.abs() * (a + b) + k.abs() * w.max(1.0) * F32_MIN_NORMAL;
            Want::Near { value, slack }
        })
        .collect()
}

// ----------------------------------------------------------------- focal

/// torchvision's `sigmoid_focal_loss`: `l = ce·(1 − p_t)^γ·α_t` with
/// `1 − p_t = p(1 − y) + q·y`; `∂ce/∂x = p − y`, `∂(1 − p_t)/∂x = p·q·(1 − 2y)`;
/// the modulator's derivative is 0 where its base is exactly 0 (SPEC).
pub fn sigmoid_focal(k: f64, alpha: f64, gamma: f64, es: &[Elem]) -> Option<Vec<Want>> {
    if gamma > GAMMA_DOMAIN {
        return None;
    }
    let el = elem_rel(gamma);
    Some(
        es.iter()
            .map(|e| {
                let (y, z) = (e.y, 1.0 - e.y);
                let omp = e.p * z + e.q * y;
                let ce = oracle::bce_with_logits(e.x, y, 1.0);
                let pw = omp.powf(gamma);
                // γ·(1 − p_t)^(γ−1)·p·q as γ·(1 − p_t)^γ·(p·q/(1 − p_t)) (the
                // ratio is ≤ 1): for γ < 1 and 1 − p_t an f64 subnormal,
                // `(1 − p_t)^(γ−1)` alone overflows f64 and made the reference ∞
                // where the gradient is 0 (found by `backward`, seed
                // `sigmoid-focal-f64-subnormal-base`).
                let dpw_pq = if gamma == 0.0 || omp == 0.0 {
                    0.0
                } else {
                    gamma * pw * (e.p * e.q / omp)
                };
                let dce = z * e.p - y * e.q;
                let a = dce * pw;
                let b = oracle::mul0(dpw_pq * (z - y), ce);
                let at = if alpha >= 0.0 {
                    alpha * y + (1.0 - alpha) * z
                } else {
                    1.0
                };
                let value = k * at * (a + b);
                // A subnormal f32 modulator (γ = 88, 1 − p_t = 0.33: 4e-43) is
                // accurate to 2^-149 only; ce (up to 1e30·|y − ½|) multiplies it
                // (`crate::modulator_floor`).
                let ratio = if omp > 0.0 {
                    (e.p * e.q * (z - y) / omp).abs()
                } else {
                    0.0
                };
                let sub = F32_SUBNORMAL * (dce.abs() + gamma * oracle::mul0(ratio, ce.abs()));
                // `dce` is a difference of two terms of f32 σ's: judged by their size
                // (a soft target near p cancels them; found by `backward`, seed
                // `sigmoid-focal-soft-target-cancellation`).
                let a_size = ((z * e.p).abs() + (y * e.q).abs()) * pw;
                let slack = el * (k * at).abs() * (a_size + b.abs())
                    + (k * at).abs() * (F32_MIN_NORMAL + sub);
                Want::Near { value, slack }
            })
            .collect(),
    )
}

/// smp's focal loss: per kept element `u = logpt` (from logits
/// `bce_with_logits(x, y)`, `∂u/∂x = p − y`; from probabilities
/// `(1 − y)·clamp(−ln(1 − p)) + y·clamp(−ln p)` with the clamp to
/// `[−ln(1 − eps), −ln eps]` and zero slope where clamped), `pt = e^−u`,
/// `focal = ((1 − pt)/r)^γ` (1 where `pt < r`), `l = α_t·focal·u`.
/// Not normalised: `k·∂l/∂u·∂u/∂x`. Normalised by `M' = max(Σ focal, 1e-6)`:
/// `k·(∂l/∂u/M' − W·∂focal/∂u/M'²)·∂u/∂x`, `W = Σ l`.
pub fn focal(f: &segloss::Focal, scale: f64, es: &[Elem]) -> Option<Vec<Want>> {
    let gamma = f64::from(f.gamma);
    if gamma > GAMMA_DOMAIN {
        return None;
    }
    let eps = f64::from(f.eps);
    let r = f.reduced_threshold.map_or(1.0, f64::from);
    let (lo, hi) = (-(-eps).ln_1p(), -eps.ln());
    struct Parts {
        u: f64,
        du: f64,
        /// The size of `du`'s operands: from logits `p − y` is the difference
        /// of `(1 − y)·p` and `y·q`, each from an f32 σ.
        du_size: f64,
        focal: f64,
        /// `u·∂focal/∂u` (0 where reduced).
        udf: f64,
        /// `∂focal/∂x = ∂focal/∂u·∂u/∂x`, and the size of its operands
        /// (`|∂focal/∂u|·du_size`).
        dfdx: f64,
        dfs: f64,
        at: f64,
    }
    let mut parts = Vec::with_capacity(es.len());
    for e in es.iter().filter(|e| e.kept) {
        let (y, z) = (e.y, 1.0 - e.y);
        let (u, du, du_size) = if f.from_logits {
            (
                oracle::bce_with_logits(e.x, y, 1.0),
                z * e.p - y * e.q,
                (z * e.p).abs() + (y * e.q).abs(),
            )
        } else {
            let (a, b) = (-(-e.p).ln_1p(), -e.p.ln());
            // The clamp switches: not compared within SWITCH.
            for v in [a, b] {
                if near(v, lo, SWITCH) || near(v, hi, SWITCH) {
                    return None;
                }
            }
            let inside = |v: f64| (lo..=hi).contains(&v);
            let u = oracle::mul0(z, a.clamp(lo, hi)) + oracle::mul0(y, b.clamp(lo, hi));
            let da = if inside(a) { 1.0 / (1.0 - e.p) } else { 0.0 };
            let db = if inside(b) { 1.0 / e.p } else { 0.0 };
            let du = if inside(a) && inside(b) {
                (e.p - y) / (e.p * (1.0 - e.p))
            } else {
                oracle::mul0(z, da) - oracle::mul0(y, db)
            };
            (u, du, du.abs())
        };
        let pt = (-u).exp();
        if f.reduced_threshold.is_some() && near(pt, r, SWITCH) {
            return None;
        }
        let reduced = f.reduced_threshold.is_some() && pt < r;
        let omp = -(-u).exp_m1();
        let base = omp / r;
        // From logits with a hard target, `ln(1 − pt)` is `−softplus(±x)`:
        // where `1 − pt` is below f64's normal range (a logit beyond ±708
        // on the target's side) the modulator is `e^(γ·ln(base))`, a normal
        // number for γ < 1 (x = 3284, γ = 1e-7: 0.9997, where `base^γ` in f64
        // gives 0), as segloss takes it (`Modulator::pow_ln`; found by
        // `backward`). There `∂u/∂x/(1 − pt)` is exactly ∓1 and
        // `u/(1 − pt)` → 1: `∂focal/∂x = ∓γ·focal·pt`.
        let hard = f.from_logits && (y == 0.0 || y == 1.0);
        let (focal, udf, dfdx, dfs) = if reduced {
            (1.0, 0.0, 0.0, 0.0)
        } else if gamma == 0.0 {
            // `u·∂focal/∂u` = ∞·0 = NaN for an infinite `u`, as autograd.
            (1.0, oracle::mul0(u, 0.0), 0.0, 0.0)
        } else if hard && base < f64::MIN_POSITIVE {
            let ln_omp = -oracle::bce_with_logits(e.x, z, 1.0);
            let focal = (gamma * (ln_omp - r.ln())).exp();
            let ratio = if omp == 0.0 { 1.0 } else { u / omp };
            let slope = gamma * focal * pt;
            (
                focal,
                slope * ratio,
                if y == 1.0 { -slope } else { slope },
                slope,
            )
        } else if base == 0.0 {
            (0.0, oracle::mul0(u, 0.0), 0.0, 0.0)
        } else {
            let dfocal = gamma * base.powf(gamma - 1.0) / r * pt;
            // An f64-subnormal base (a logit beyond ±709) with γ < 1 overflows
            // `base^(γ−1)` in f64: the reference's `∂focal/∂u` is ∞ where every
            // product it enters (`u·∂focal/∂u`, `∂u/∂x·∂focal/∂u`) is finite or
            // below f32's range. Such a case is not compared (found by
            // `backward`, seed `sigmoid-focal-f64-subnormal-base`).
            if !dfocal.is_finite() && base.is_finite() {
                return None;
            }
            let dfs = if dfocal == 0.0 {
                0.0
            } else {
                dfocal.abs() * du_size
            };
            let dfdx = if dfocal == 0.0 { 0.0 } else { dfocal * du };
            (base.powf(gamma), oracle::mul0(u, dfocal), dfdx, dfs)
        };
        let at = match f.alpha {
            Some(a) => {
                let a = f64::from(a);
                a * y + (1.0 - a) * z
            }
            None => 1.0,
        };
        // The f32 logpt of a soft target is subnormal: its relative accuracy
        // is gone, and with γ < 1 and `normalized` that reaches Σ focal and
        // every element's gradient (the forward's exclusion in `cmp_focal`).
        // Without `normalized` such an element's own gradient is below the
        // floor. (A hard target's modulator comes from `ln(1 − pt)` there.)
        if u < F32_MIN_NORMAL && u > 0.0 && gamma < 1.0 && f.normalized && !hard {
            return None;
        }
        // The f32 range of the element's terms (see `focal_excluded`).
        let big = f64::from(f32::MAX) / 16.0;
        let huge = |v: f64| v.is_finite() && v.abs() >= big; // ∞ from an infinite logit is the value
        if huge(focal) || huge(focal * u) || huge(udf) {
            return None;
        }
        parts.push(Parts {
            u,
            du,
            du_size,
            focal,
            udf,
            dfdx,
            dfs,
            at,
        });
    }
    let kept = parts.len();
    let k = match f.reduction {
        segloss::Reduction::Mean => scale / kept as f64,
        segloss::Reduction::Sum => scale,
    };
    let m: f64 = parts.iter().map(|p| p.focal).sum();
    let w: f64 = parts
        .iter()
        .map(|p| oracle::mul0(p.at * p.focal, p.u))
        .sum();
    let (c1, c2) = if f.normalized {
        if near(m, 1e-6, SWITCH.max(elem_rel(gamma))) {
            return None;
        }
        let mm = m.max(1e-6);
        (k / mm, if m < 1e-6 { 0.0 } else { k * w / (mm * mm) })
    } else {
        (k, 0.0)
    };
    if !(c1.is_finite() && c2.is_finite()) || c1.abs().max(c2.abs()) > 1e36 {
        if kept > 0 {
            return None;
        }
    }
    let el = elem_rel(gamma);
    // The coefficients' sums carry the focal tolerance; W/M'² twice.
    let coef = (4.0 * gamma + 6.0) * U32;
    let mut it = parts.iter();
    Some(
        es.iter()
            .map(|e| {
                if !e.kept {
                    return Want::Exact(0.0);
                }
                let Some(p) = it.next() else {
                    return Want::Skip;
                };
                // Where `pt < r` focal is the constant 1: `u·∂focal/∂u` is 0
                // even for u = ∞ (autograd's `where` passes no gradient).
                let dl = p.at * (p.udf + p.focal);
                let a = dl * c1;
                let value = a * p.du - c2 * p.dfdx;
                // The sizes of the two parts' operands.
                let (a_size, b_size) = ((a * p.du_size).abs(), (c2 * p.dfs).abs());
                // f32 `pt = 1 − (1 − e^−u)` is absolute to ~4 ulp: through ∂focal/∂u.
                let pt_err = if p.dfs == 0.0 || p.focal == 0.0 {
                    0.0
                } else {
                    p.dfs / ((-p.u).exp()) * 4.0 * U32 * ((p.at * p.u * c1).abs() + c2.abs())
                };
                // The f32 coefficients c1, c2 may be subnormal (1/M' with
                // M' = Σ((1 − pt)/r)^γ near f32's top when r^−γ is): each then
                // carries 2^-150 absolute, times its per-element factor.
                let coef_sub = (dl.abs() * p.du_size + p.dfs) * F32_SUBNORMAL;
                // A subnormal f32 modulator `((1 − pt)/r)^γ` (2^-149 absolute)
                // in ∂l/∂u = α_t·(focal + γ·focal·(u/base)/r·pt) and ∂focal/∂u.
                let mod_sub = F32_SUBNORMAL
                    * (1.0 + gamma * (p.u * r / (1.0 - (-p.u).exp())).max(1.0))
                    * ((p.at * c1).abs() + c2.abs());
                let mod_sub = if mod_sub.is_finite() { mod_sub } else { 0.0 };
                let slack = el * (a_size + b_size)
                    + coef * (a_size + 2.0 * b_size)
                    + pt_err
                    + coef_sub
                    + mod_sub * p.du_size
                    + (c1.abs() + c2.abs()) * F32_MIN_NORMAL;
                Want::Near { value, slack }
            })
            .collect(),
    )
}
