//! Matthews correlation: smp's soft `MCCLoss` and the thresholded metric,
//! plus precision, recall, F1 and IoU from the same hard counts.

/// Soft confusion sums Σp·y, Σp(1−y), Σ(1−p)y, Σ(1−p)(1−y), each kept
/// separately (no `TN = N − …` cancellation).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SoftConfusion {
    /// Σ p·y.
    pub tp: f64,
    /// Σ p·(1 − y).
    pub fp: f64,
    /// Σ (1 − p)·y.
    pub fn_: f64,
    /// Σ (1 − p)·(1 − y).
    pub tn: f64,
}

impl SoftConfusion {
    /// Adds another partial result.
    pub fn merge(&mut self, o: &SoftConfusion) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tn += o.tn;
    }

    /// smp's `MCCLoss`: `1 − MCC` with `eps` added to each sum.
    pub fn mcc_loss(&self, eps: f64) -> f64 {
        let (tp, fp, fn_, tn) = (self.tp + eps, self.fp + eps, self.fn_ + eps, self.tn + eps);
        let num = tp * tn - fp * fn_;
        let den = libm::sqrt((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_));
        1.0 - num / den
    }
}

/// Integer confusion counts at a threshold: prediction positive when
/// `p > threshold`, target positive when `y > 0.5`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
}

/// `num / den`, 0 when `den == 0` (smp's default `zero_division`).
fn ratio(num: u64, den: u64) -> f32 {
    if den == 0 {
        0.0
    } else {
        (num as f64 / den as f64) as f32
    }
}

impl Confusion {
    /// Adds another partial result (saturating: counts never wrap).
    pub fn merge(&mut self, o: &Confusion) {
        self.tp = self.tp.saturating_add(o.tp);
        self.fp = self.fp.saturating_add(o.fp);
        self.fn_ = self.fn_.saturating_add(o.fn_);
        self.tn = self.tn.saturating_add(o.tn);
    }

    /// `1 − (TP·TN − FP·FN) / (sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) + eps)`.
    pub fn mcc_loss(&self, eps: f32) -> f32 {
        let [tp, fp, fn_, tn] = [self.tp, self.fp, self.fn_, self.tn].map(|v| v as f64);
        let den = libm::sqrt((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)) + f64::from(eps);
        (1.0 - (tp * tn - fp * fn_) / den) as f32
    }
    /// `TP / (TP + FP)`; 0 when nothing is predicted positive.
    pub fn precision(&self) -> f32 {
        ratio(self.tp, self.tp.saturating_add(self.fp))
    }
    /// `TP / (TP + FN)`; 0 when nothing is positive.
    pub fn recall(&self) -> f32 {
        ratio(self.tp, self.tp.saturating_add(self.fn_))
    }
    /// `2TP / (2TP + FP + FN)`; 0 when there is no positive at all.
    pub fn f1(&self) -> f32 {
        let tp2 = self.tp.saturating_mul(2);
        ratio(tp2, tp2.saturating_add(self.fp).saturating_add(self.fn_))
    }
    /// `TP / (TP + FP + FN)` (intersection over union); 0 when there is no positive at all.
    pub fn iou(&self) -> f32 {
        ratio(
            self.tp,
            self.tp.saturating_add(self.fp).saturating_add(self.fn_),
        )
    }
}
