//! Dice, Jaccard and Tversky from the region sums (smp semantics).

use crate::config::{Region, Tversky};

/// The sums every region loss needs, over the kept elements of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RegionSums {
    /// Σ p.
    pub pred: f64,
    /// Σ y.
    pub target: f64,
    /// Σ |p − y|.
    pub abs_diff: f64,
}

impl RegionSums {
    /// Adds another partial result.
    pub fn merge(&mut self, o: &RegionSums) {
        self.pred += o.pred;
        self.target += o.target;
        self.abs_diff += o.abs_diff;
    }

    /// `(I, FP, FN)` with `I = Σ min(p, y) = (Σp + Σy − Σ|p − y|)/2`.
    ///
    /// FP and FN are formed without cancelling through `I` and are never
    /// negative (rounding cannot push them below 0).
    pub fn confusion(&self) -> (f64, f64, f64) {
        let i = 0.5 * (self.pred + self.target - self.abs_diff);
        let fp = 0.5 * (self.pred - self.target + self.abs_diff);
        let fn_ = 0.5 * (self.target - self.pred + self.abs_diff);
        (i, fp.max(0.0), fn_.max(0.0))
    }

    /// The Tversky score `(I + smooth) / max(I + α·FP + β·FN + smooth, eps)`.
    pub fn score(&self, alpha: f64, beta: f64, smooth: f64, eps: f64) -> f64 {
        let (i, fp, fn_) = self.confusion();
        let den = i + alpha * fp + beta * fn_ + smooth;
        (i + smooth) / if den < eps { eps } else { den }
    }

    /// One class's loss: `1 − score` (or `−ln max(score, eps)`), and 0 for a
    /// class with `Σy = 0` (smp's empty-mask rule).
    pub fn class_loss(&self, alpha: f64, beta: f64, r: &Region) -> f64 {
        let eps = f64::from(r.eps);
        let score = self.score(alpha, beta, f64::from(r.smooth), eps);
        let l = if r.log_loss {
            -libm::log(if score < eps { eps } else { score })
        } else {
            1.0 - score
        };
        // smp multiplies by the mask `Σy > 0`: 0·l = 0, but NaN·0 stays NaN.
        if self.target > 0.0 || l.is_nan() {
            l
        } else {
            0.0
        }
    }
}

/// Tversky's final exponent: `mean_loss^γ` (γ = 1 is the identity).
///
/// `1 − score` is never negative (FP and FN are clamped at 0, so the
/// denominator is at least the numerator); a negative loss arises only from
/// `log_loss` with `eps > 1`, where, as in smp (`loss ** gamma`), a
/// non-integer γ gives NaN.
pub(crate) fn tversky_power(mean: f64, gamma: f32) -> f64 {
    if gamma == 1.0 {
        mean
    } else {
        libm::pow(mean, f64::from(gamma))
    }
}

/// The binary Tversky loss (Dice and Jaccard are special cases).
pub(crate) fn tversky_loss(s: &RegionSums, cfg: &Tversky) -> f64 {
    let l = s.class_loss(f64::from(cfg.alpha), f64::from(cfg.beta), &cfg.region);
    tversky_power(l, cfg.gamma)
}
