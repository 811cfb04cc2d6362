//! Dice, Jaccard and Tversky from the region sums (smp semantics).

use crate::config::{Region, Tversky};

/// The sums every region loss needs, over the kept elements of one class:
/// the soft confusion `I = Σ min(p, y)`, `FP = Σ max(p − y, 0)`,
/// `FN = Σ max(y − p, 0)`.
///
/// Each is a sum of non-negative terms accumulated directly, so each keeps
/// full relative accuracy: `I` is not formed as `(Σp + Σy − Σ|p − y|)/2`,
/// which loses a small `p` against `y = 1` (`|p − 1|` rounds to 1) and
/// would make `log_loss` of confident predictions inaccurate.
/// `Σp = I + FP` and `Σy = I + FN`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RegionSums {
    /// Σ min(p, y).
    pub intersection: f64,
    /// Σ max(p − y, 0).
    pub false_pos: f64,
    /// Σ max(y − p, 0).
    pub false_neg: f64,
}

impl RegionSums {
    /// From the three pass totals `[I, FP, FN]`.
    pub(crate) fn from_sums([intersection, false_pos, false_neg]: [f64; 3]) -> Self {
        RegionSums {
            intersection,
            false_pos,
            false_neg,
        }
    }

    /// Adds another partial result.
    pub fn merge(&mut self, o: &RegionSums) {
        self.intersection += o.intersection;
        self.false_pos += o.false_pos;
        self.false_neg += o.false_neg;
    }

    /// Σ p.
    pub fn pred(&self) -> f64 {
        self.intersection + self.false_pos
    }

    /// Σ y.
    pub fn target(&self) -> f64 {
        self.intersection + self.false_neg
    }

    /// `(I, FP, FN)`.
    pub fn confusion(&self) -> (f64, f64, f64) {
        (self.intersection, self.false_pos, self.false_neg)
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
        if self.target() > 0.0 || l.is_nan() {
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
