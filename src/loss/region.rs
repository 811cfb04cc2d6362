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
        pow(mean, f64::from(gamma))
    }
}

/// `x^y` in f64 for Tversky's exponent and its slope (`y` finite):
/// e^{y·ln|x|} from libm's `exp` and `log` (`log` serves `log_loss` too;
/// libm's `pow` was 3 KB of Cortex-M flash on its own). The rounding of
/// `y·ln|x|` is amplified by at most |y·ln x| ≤ ~745 (beyond it the result is
/// 0 or ∞), so the result is within ~1e-13 relative of `pow`'s: far below
/// the f32 loss and gradient it becomes. The special values are `pow`'s:
/// `x^0 = 1` (NaN too), NaN propagates, `±0^y` and `±∞^y` are 0 or ∞ by the
/// sign of `y`, and a negative base (`log_loss` with `eps > 1`) gives NaN
/// unless `y` is an integer, where an odd power keeps the sign (−0 too: the
/// `log_loss` of a perfect score is −ln 1 = −0).
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    let r = libm::exp(y * libm::log(libm::fabs(x)));
    if !x.is_sign_negative() || x.is_nan() {
        return r;
    }
    let integer = libm::trunc(y) == y;
    let half = y * 0.5; // exact: no integer y underflows
    if !integer && x < 0.0 && x > f64::NEG_INFINITY {
        f64::NAN
    } else if integer && libm::trunc(half) != half {
        -r
    } else {
        r
    }
}

/// The binary Tversky loss (Dice and Jaccard are special cases).
pub(crate) fn tversky_loss(s: &RegionSums, cfg: &Tversky) -> f64 {
    let l = s.class_loss(f64::from(cfg.alpha), f64::from(cfg.beta), &cfg.region);
    tversky_power(l, cfg.gamma)
}

#[cfg(test)]
mod tests {
    use super::pow;

    /// `pow` against libm's: the same special values bit for bit, and
    /// within 1e-13 relative on the bases and exponents Tversky meets (a
    /// loss in [0, 1], a `log_loss` up to −ln(f32 min) ≈ 104; γ and γ − 1).
    #[test]
    fn pow_is_libms_pow() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.0,
            -0.75,
            2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
        ];
        let exponents = [
            0.0, -0.0, 1.0, 2.0, 3.0, -1.0, -3.0, 0.5, 1.5, -0.5, 1e-30, 1e30,
        ];
        for x in specials {
            for y in exponents {
                let (got, want) = (pow(x, y), libm::pow(x, y));
                let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
                let close = (got - want).abs() <= 1e-13 * want.abs();
                assert!(same || close, "pow({x:e}, {y:e}) = {got:e}, libm {want:e}");
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut unit = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        // Miri interprets every libm call: a sample there, 1e5 natively.
        let samples = if cfg!(miri) { 100 } else { 100_000 };
        for _ in 0..samples {
            let x = libm::exp((unit() - 0.8) * 45.0); // 2e-16 ..= ~8000
            let y = unit() * 12.0 - 1.0;
            let (got, want) = (pow(x, y), libm::pow(x, y));
            assert!(
                (got - want).abs() <= 1e-13 * want.abs(),
                "pow({x:e}, {y:e}) = {got:e}, libm {want:e}"
            );
        }
    }
}
