//! The cross-entropy family from four softplus sums.
//!
//! With `a = softplus(x) = −ln(1 − p)` and `b = softplus(−x) = −ln p`, the
//! elementwise BCE against a smoothed target `y' = (1 − y)·f + y·(1 − f)` with
//! positive weight `w` is
//! `((1 − f)(1 − y) + f·y)·a + w·(f(1 − y) + (1 − f)·y)·b`:
//! a combination with non-negative coefficients of four non-negative sums.
//! So every BCE variant (plain, `pos_weight`, label smoothing) is exact to the
//! accuracy of those sums, with no cancellation for any parameter.

use super::mul0;

/// Four non-negative sums that determine every binary cross entropy.
///
/// From probabilities, `a = −max(ln(1 − p), −100)` and `b = −max(ln p, −100)`
/// (PyTorch's clamp).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BceSums {
    /// Σ (1 − y)·a.
    pub neg_a: f64,
    /// Σ y·a.
    pub pos_a: f64,
    /// Σ (1 − y)·b.
    pub neg_b: f64,
    /// Σ y·b.
    pub pos_b: f64,
}

impl BceSums {
    /// From the four pass totals in [`crate::accumulate::binary::bce_terms`]
    /// order: `[Σ(1−y)a, Σy·a, Σ(1−y)b, Σy·b]`.
    pub(crate) fn from_sums([neg_a, pos_a, neg_b, pos_b]: [f64; 4]) -> Self {
        BceSums {
            neg_a,
            pos_a,
            neg_b,
            pos_b,
        }
    }

    /// Adds another partial result.
    pub fn merge(&mut self, o: &BceSums) {
        self.neg_a += o.neg_a;
        self.pos_a += o.pos_a;
        self.neg_b += o.neg_b;
        self.pos_b += o.pos_b;
    }

    /// Σ of the elementwise BCE with smoothing `f` and positive weight `w`.
    pub fn total(&self, f: f64, w: f64) -> f64 {
        let neg = mul0(1.0 - f, self.neg_a) + mul0(f, self.pos_a);
        let pos = mul0(f, self.neg_b) + mul0(1.0 - f, self.pos_b);
        neg + mul0(w, pos)
    }
}
