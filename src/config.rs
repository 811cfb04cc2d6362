//! Loss parameters: smp's defaults, chainable setters, validation.
//!
//! Every configuration is a small `Copy` value. `Default` gives the defaults
//! of segmentation_models_pytorch 0.6 (smp) / PyTorch / torchvision; the
//! `with_*` setters change one field; [`validate`](Region::validate) checks
//! the domain. Every loss entry point validates its configuration itself, so
//! an invalid value always comes back as [`Error::InvalidParameter`], never
//! as a panic or a silently wrong number.

use crate::error::{Error, check};

/// How elementwise losses are reduced to one number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// Mean over the counted elements (the default, as in PyTorch).
    #[default]
    Mean,
    /// Sum over the counted elements.
    Sum,
}

impl Reduction {
    /// Applies the reduction to a `sum` over `count` elements.
    pub(crate) fn apply(self, sum: f64, count: u64) -> f64 {
        match self {
            Reduction::Mean => sum / count as f64,
            Reduction::Sum => sum,
        }
    }
}

fn check_ignore(ignore_index: Option<f32>) -> Result<(), Error> {
    match ignore_index {
        Some(v) => check("ignore_index", v, true),
        None => Ok(()),
    }
}

fn check_eps(eps: f32) -> Result<(), Error> {
    check("eps", eps, eps > 0.0)
}

/// Parameters of the region losses Dice and Jaccard (smp `DiceLoss`,
/// `JaccardLoss`), and the shared part of [`Tversky`].
///
/// `score = (I + smooth) / max(I + α·FP + β·FN + smooth, eps)` per SPEC.md.
///
/// ```
/// let cfg = segloss::Region::default().with_smooth(1.0).with_log_loss(true);
/// assert!(cfg.validate().is_ok());
/// assert!(segloss::Region::default().with_eps(0.0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// Predictions are logits (σ is applied) rather than probabilities. Default `true`.
    pub from_logits: bool,
    /// Added to numerator and denominator; `>= 0`. Default `0`.
    pub smooth: f32,
    /// Lower clamp of the denominator (and of the score with `log_loss`); `> 0`. Default `1e-7`.
    pub eps: f32,
    /// Return `−ln(max(score, eps))` instead of `1 − score`. Default `false`.
    pub log_loss: bool,
    /// Elements whose target equals this value count as `p = y = 0`. Default none.
    pub ignore_index: Option<f32>,
}

impl Default for Region {
    fn default() -> Self {
        Region {
            from_logits: true,
            smooth: 0.0,
            eps: 1e-7,
            log_loss: false,
            ignore_index: None,
        }
    }
}

impl Region {
    /// Sets [`from_logits`](Self::from_logits).
    pub fn with_from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Sets [`smooth`](Self::smooth).
    pub fn with_smooth(mut self, v: f32) -> Self {
        self.smooth = v;
        self
    }
    /// Sets [`eps`](Self::eps).
    pub fn with_eps(mut self, v: f32) -> Self {
        self.eps = v;
        self
    }
    /// Sets [`log_loss`](Self::log_loss).
    pub fn with_log_loss(mut self, v: bool) -> Self {
        self.log_loss = v;
        self
    }
    /// Sets [`ignore_index`](Self::ignore_index).
    pub fn with_ignore_index(mut self, v: Option<f32>) -> Self {
        self.ignore_index = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            "smooth",
            self.smooth,
            self.smooth >= 0.0 && self.smooth.is_finite(),
        )?;
        check_eps(self.eps)?;
        check_ignore(self.ignore_index)
    }
}

/// Parameters of the Tversky loss (smp `TverskyLoss`): a [`Region`] plus the
/// false-positive weight α, the false-negative weight β and the focal
/// exponent γ applied to the final loss (`γ = 4/3` is "focal Tversky").
///
/// ```
/// let cfg = segloss::Tversky::new(0.3, 0.7, 1.0).unwrap();
/// assert_eq!(cfg.alpha, 0.3);
/// assert!(segloss::Tversky::new(0.3, 0.7, -1.0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tversky {
    /// The shared region parameters.
    pub region: Region,
    /// Weight of false positives; finite, `>= 0`. Default `0.5`.
    pub alpha: f32,
    /// Weight of false negatives; finite, `>= 0`. Default `0.5`.
    pub beta: f32,
    /// Exponent of the final loss; finite, `>= 0`. Default `1`.
    pub gamma: f32,
}

impl Default for Tversky {
    fn default() -> Self {
        Tversky {
            region: Region::default(),
            alpha: 0.5,
            beta: 0.5,
            gamma: 1.0,
        }
    }
}

impl Tversky {
    /// A validated Tversky configuration with the other fields at their defaults.
    pub fn new(alpha: f32, beta: f32, gamma: f32) -> Result<Self, Error> {
        let cfg = Tversky {
            alpha,
            beta,
            gamma,
            ..Tversky::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }
    /// Dice as a Tversky configuration (α = β = 0.5, γ = 1).
    pub fn dice(region: Region) -> Self {
        Tversky {
            region,
            alpha: 0.5,
            beta: 0.5,
            gamma: 1.0,
        }
    }
    /// Jaccard as a Tversky configuration (α = β = 1, γ = 1).
    pub fn jaccard(region: Region) -> Self {
        Tversky {
            region,
            alpha: 1.0,
            beta: 1.0,
            gamma: 1.0,
        }
    }
    /// Sets [`region`](Self::region).
    pub fn with_region(mut self, v: Region) -> Self {
        self.region = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        self.region.validate()?;
        for (name, v) in [
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
        ] {
            check(name, v, v >= 0.0 && v.is_finite())?;
        }
        Ok(())
    }
}

/// Parameters of smp's `FocalLoss` (binary mode).
///
/// ```
/// let cfg = segloss::Focal::default().with_alpha(Some(0.25)).with_gamma(3.0);
/// assert!(cfg.validate().is_ok());
/// assert!(segloss::Focal::default().with_alpha(Some(1.5)).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Focal {
    /// Predictions are logits. Default `true`. With `false`, `p` is clamped to
    /// `[eps, 1 − eps]` and taken as `σ(x)`.
    pub from_logits: bool,
    /// Focusing exponent γ; finite, `>= 0`. Default `2`. Integer γ in `0..=4`
    /// runs a specialised kernel (a product, no `pow`); a half-integer γ in
    /// `0.5..=4.5` is a square root and products (about as fast); any other
    /// γ takes a `pow` per element (~3× slower than γ = 2).
    pub gamma: f32,
    /// Positive-class weight α in `[0, 1]`, or none. Default none.
    pub alpha: Option<f32>,
    /// Divide by `max(Σ focal term, 1e-6)`. Default `false`.
    pub normalized: bool,
    /// smp's `reduced_threshold` r in `(0, 1]`: focal term `((1 − pt)/r)^γ`, 1 where `pt < r`. Default none.
    pub reduced_threshold: Option<f32>,
    /// Probability clamp for `from_logits = false`; in `(0, 0.5)`. Default `1e-7`.
    pub eps: f32,
    /// Elements whose target equals this value are dropped (not counted). Default none.
    pub ignore_index: Option<f32>,
    /// Mean (default) or sum over the kept elements.
    pub reduction: Reduction,
}

impl Default for Focal {
    fn default() -> Self {
        Focal {
            from_logits: true,
            gamma: 2.0,
            alpha: None,
            normalized: false,
            reduced_threshold: None,
            eps: 1e-7,
            ignore_index: None,
            reduction: Reduction::Mean,
        }
    }
}

impl Focal {
    /// Sets [`from_logits`](Self::from_logits).
    pub fn with_from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Sets [`gamma`](Self::gamma).
    pub fn with_gamma(mut self, v: f32) -> Self {
        self.gamma = v;
        self
    }
    /// Sets [`alpha`](Self::alpha).
    pub fn with_alpha(mut self, v: Option<f32>) -> Self {
        self.alpha = v;
        self
    }
    /// Sets [`normalized`](Self::normalized).
    pub fn with_normalized(mut self, v: bool) -> Self {
        self.normalized = v;
        self
    }
    /// Sets [`reduced_threshold`](Self::reduced_threshold).
    pub fn with_reduced_threshold(mut self, v: Option<f32>) -> Self {
        self.reduced_threshold = v;
        self
    }
    /// Sets [`eps`](Self::eps).
    pub fn with_eps(mut self, v: f32) -> Self {
        self.eps = v;
        self
    }
    /// Sets [`ignore_index`](Self::ignore_index).
    pub fn with_ignore_index(mut self, v: Option<f32>) -> Self {
        self.ignore_index = v;
        self
    }
    /// Sets [`reduction`](Self::reduction).
    pub fn with_reduction(mut self, v: Reduction) -> Self {
        self.reduction = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            "gamma",
            self.gamma,
            self.gamma >= 0.0 && self.gamma.is_finite(),
        )?;
        if let Some(a) = self.alpha {
            check("alpha", a, (0.0..=1.0).contains(&a))?;
        }
        if let Some(r) = self.reduced_threshold {
            check("reduced_threshold", r, r > 0.0 && r <= 1.0)?;
        }
        check("eps", self.eps, self.eps > 0.0 && self.eps < 0.5)?;
        check_ignore(self.ignore_index)
    }
}

/// Parameters of torchvision's `sigmoid_focal_loss` (always from logits).
///
/// ```
/// let cfg = segloss::SigmoidFocal::default();
/// assert_eq!((cfg.alpha, cfg.gamma), (0.25, 2.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmoidFocal {
    /// Positive-class weight in `[0, 1]`; any negative value turns weighting off. Default `0.25`.
    pub alpha: f32,
    /// Focusing exponent; finite, `>= 0`. Default `2`. Fast for integer and
    /// half-integer γ up to 4.5, as [`Focal::gamma`].
    pub gamma: f32,
    /// Mean (default) or sum.
    pub reduction: Reduction,
}

impl Default for SigmoidFocal {
    fn default() -> Self {
        SigmoidFocal {
            alpha: 0.25,
            gamma: 2.0,
            reduction: Reduction::Mean,
        }
    }
}

impl SigmoidFocal {
    /// Sets [`alpha`](Self::alpha).
    pub fn with_alpha(mut self, v: f32) -> Self {
        self.alpha = v;
        self
    }
    /// Sets [`gamma`](Self::gamma).
    pub fn with_gamma(mut self, v: f32) -> Self {
        self.gamma = v;
        self
    }
    /// Sets [`reduction`](Self::reduction).
    pub fn with_reduction(mut self, v: Reduction) -> Self {
        self.reduction = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        check("alpha", self.alpha, self.alpha <= 1.0)?;
        check(
            "gamma",
            self.gamma,
            self.gamma >= 0.0 && self.gamma.is_finite(),
        )
    }
}

/// Parameters of binary cross entropy on probabilities (PyTorch
/// `binary_cross_entropy`; logarithms clamped to `>= −100`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bce {
    /// Mean (default) or sum.
    pub reduction: Reduction,
}

impl Bce {
    /// Checks every field's domain (always valid; kept for uniformity).
    pub fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Parameters of PyTorch's `binary_cross_entropy_with_logits`.
///
/// ```
/// let cfg = segloss::BceWithLogits::default().with_pos_weight(2.0);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BceWithLogits {
    /// Weight `w₊` of the positive term; finite, `>= 0`. Default `1`.
    pub pos_weight: f32,
    /// Mean (default) or sum.
    pub reduction: Reduction,
}

impl Default for BceWithLogits {
    fn default() -> Self {
        BceWithLogits {
            pos_weight: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

impl BceWithLogits {
    /// Sets [`pos_weight`](Self::pos_weight).
    pub fn with_pos_weight(mut self, v: f32) -> Self {
        self.pos_weight = v;
        self
    }
    /// Sets [`reduction`](Self::reduction).
    pub fn with_reduction(mut self, v: Reduction) -> Self {
        self.reduction = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        let w = self.pos_weight;
        check("pos_weight", w, w >= 0.0 && w.is_finite())
    }
}

/// Parameters of smp's `SoftBCEWithLogitsLoss`.
///
/// ```
/// let cfg = segloss::SoftBce::default().with_smooth_factor(Some(0.05));
/// assert_eq!(cfg.ignore_index, Some(-100.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftBce {
    /// Label smoothing `f` in `[0, 1]`: `y' = (1 − y)·f + y·(1 − f)`. Default none.
    pub smooth_factor: Option<f32>,
    /// Elements whose target equals this get loss 0 but still count in the mean. Default `−100`.
    pub ignore_index: Option<f32>,
    /// Weight of the positive term; finite, `>= 0`. Default `1`.
    pub pos_weight: f32,
    /// Mean (default) or sum.
    pub reduction: Reduction,
}

impl Default for SoftBce {
    fn default() -> Self {
        SoftBce {
            smooth_factor: None,
            ignore_index: Some(-100.0),
            pos_weight: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

impl SoftBce {
    /// Sets [`smooth_factor`](Self::smooth_factor).
    pub fn with_smooth_factor(mut self, v: Option<f32>) -> Self {
        self.smooth_factor = v;
        self
    }
    /// Sets [`ignore_index`](Self::ignore_index).
    pub fn with_ignore_index(mut self, v: Option<f32>) -> Self {
        self.ignore_index = v;
        self
    }
    /// Sets [`pos_weight`](Self::pos_weight).
    pub fn with_pos_weight(mut self, v: f32) -> Self {
        self.pos_weight = v;
        self
    }
    /// Sets [`reduction`](Self::reduction).
    pub fn with_reduction(mut self, v: Reduction) -> Self {
        self.reduction = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(f) = self.smooth_factor {
            check("smooth_factor", f, (0.0..=1.0).contains(&f))?;
        }
        let w = self.pos_weight;
        check("pos_weight", w, w >= 0.0 && w.is_finite())?;
        check_ignore(self.ignore_index)
    }
}

/// Parameters of smp's soft, differentiable `MCCLoss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mcc {
    /// Predictions are logits. Default `false` (smp's `MCCLoss` takes probabilities).
    pub from_logits: bool,
    /// Added to each soft confusion sum; `> 0`. Default `1e-5`.
    pub eps: f32,
}

impl Default for Mcc {
    fn default() -> Self {
        Mcc {
            from_logits: false,
            eps: 1e-5,
        }
    }
}

impl Mcc {
    /// Sets [`from_logits`](Self::from_logits).
    pub fn with_from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        check_eps(self.eps)
    }
}

/// Parameters of the thresholded Matthews correlation metric and of the
/// hard confusion counts (precision, recall, F1, IoU).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HardMcc {
    /// Predictions are logits. Default `false`.
    pub from_logits: bool,
    /// A pixel is predicted positive when `p > threshold`; in `[0, 1]`. Default `0.5`.
    ///
    /// An `f64`, like the Python float smp receives: `p > threshold` is
    /// decided exactly, so an f32 `p = 0.3` is above a threshold of `0.3`
    /// (whose f32 rounding, `0.300000012`, would not be).
    pub threshold: f64,
    /// Added to the denominator; `> 0`. Default `1e-7`.
    pub eps: f32,
}

impl Default for HardMcc {
    fn default() -> Self {
        HardMcc {
            from_logits: false,
            threshold: 0.5,
            eps: 1e-7,
        }
    }
}

impl HardMcc {
    /// Sets [`from_logits`](Self::from_logits).
    pub fn with_from_logits(mut self, v: bool) -> Self {
        self.from_logits = v;
        self
    }
    /// Sets [`threshold`](Self::threshold).
    pub fn with_threshold(mut self, v: f64) -> Self {
        self.threshold = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        let t = self.threshold;
        check("threshold", t as f32, (0.0..=1.0).contains(&t))?;
        check_eps(self.eps)
    }

    /// The largest f32 `d <= threshold`: for any f32 `p`, `p > d` exactly
    /// when `p > threshold` in f64.
    pub(crate) fn threshold_f32(&self) -> f32 {
        threshold_f32(self.threshold)
    }
}

/// The largest f32 not above `t` (see [`HardMcc::threshold`]).
pub(crate) fn threshold_f32(t: f64) -> f32 {
    let d = t as f32;
    if f64::from(d) > t { d.next_down() } else { d }
}
