//! Focal losses (smp `FocalLoss`, torchvision `sigmoid_focal_loss`) from sums.
//!
//! The α weight `α·y + (1 − α)(1 − y)` is linear in `y`, so the pass keeps the
//! focal terms split by `y` and `1 − y` and any α is applied here.

use super::mul0;
use crate::config::Reduction;

/// Sums of the focal terms `l = focal·logpt` split by target, and Σ focal.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FocalSums {
    /// Σ y·l.
    pub pos: f64,
    /// Σ (1 − y)·l.
    pub neg: f64,
    /// Σ focal term (the modulator `(1 − pt)^γ`), for `normalized`.
    pub modulator: f64,
}

impl FocalSums {
    /// Adds another partial result.
    pub fn merge(&mut self, o: &FocalSums) {
        self.pos += o.pos;
        self.neg += o.neg;
        self.modulator += o.modulator;
    }

    /// Σ l·(α·y + (1 − α)(1 − y)), or Σ l without α.
    pub fn weighted(&self, alpha: Option<f64>) -> f64 {
        match alpha {
            Some(a) => mul0(a, self.pos) + mul0(1.0 - a, self.neg),
            None => self.pos + self.neg,
        }
    }

    /// smp's focal loss over `kept` elements.
    pub fn smp(
        &self,
        alpha: Option<f32>,
        normalized: bool,
        reduction: Reduction,
        kept: u64,
    ) -> f64 {
        let mut total = self.weighted(alpha.map(f64::from));
        if normalized {
            total /= self.modulator.max(1e-6);
        }
        reduction.apply(total, kept)
    }

    /// torchvision's `sigmoid_focal_loss` over `count` elements (α < 0: no weight).
    pub fn torchvision(&self, alpha: f32, reduction: Reduction, count: u64) -> f64 {
        let alpha = (alpha >= 0.0).then_some(f64::from(alpha));
        reduction.apply(self.weighted(alpha), count)
    }
}
