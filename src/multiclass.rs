//! Multiclass mode: `N·C·S` logits in channel planes (NCHW) and `N·S` class
//! ids, one fused pass per call.
//!
//! Probabilities are the softmax over the `C` planes at each pixel
//! (`from_logits = true`), or the prediction itself. Class ids are `u8`,
//! `u16`, `i32` or `i64` ([`ClassId`]); an id equal to the loss's ignore
//! index drops that pixel (`p_c = y_c = 0` in every class for the region
//! losses; not counted for focal and cross entropy).
//!
//! - Region losses ([`dice`], [`jaccard`], [`tversky`]) follow smp: per-class
//!   sums over the batch (or per image with [`Classes::per_image`]), the
//!   empty-class rule, the `classes` subset and the `class_weights` mean.
//! - [`focal`] is smp's one-vs-rest sigmoid focal loss per class.
//! - [`cross_entropy`] is PyTorch's `cross_entropy` with class weights,
//!   `ignore_index` and label smoothing.
//! - [`dice_ce`] and [`dice_focal`] compute a region loss and cross entropy
//!   (or focal) from one read of the data (MONAI `DiceCELoss`, `DiceFocalLoss`).
//!
//! [`loss`] takes any [`Loss`] with a runtime class count (up to
//! [`MAX_CLASSES`]); [`loss_fixed`] takes `C` as a const generic so the
//! per-class accumulators of small class counts stay in registers. Both give
//! the same bits.
//!
//! ```
//! use segloss::multiclass::{self, Classes, Shape};
//! use segloss::Region;
//! // One image, three classes, four pixels: planes of logits, then labels.
//! let logits = [
//!     4.0f32, -1.0, -1.0, 0.0, // class 0
//!     -1.0, 4.0, -1.0, 0.0, // class 1
//!     -1.0, -1.0, 4.0, 0.0, // class 2
//! ];
//! let labels = [0u8, 1, 2, 255];
//! let shape = Shape::new(1, 3, 4).unwrap();
//! let cfg = Region::default().with_ignore_index(Some(255.0));
//! let dice = multiclass::dice(&logits, &labels, shape, &cfg, &Classes::default()).unwrap();
//! assert!(dice > 0.0 && dice < 0.02);
//! ```

pub use crate::accumulate::multiclass::{ClassId, MAX_CLASSES};

use crate::accumulate::binary::{FocalTerm, Modulator};
use crate::accumulate::multiclass::{Ids, Kernel, McTotals, W};
use crate::config::{Focal, Reduction, Region, Tversky};
use crate::error::{Error, check};
use crate::loss::region::{RegionSums, tversky_power};

/// The shape `[N, C, S]` of a prediction: `N` images, `C` channels (classes),
/// `S` pixels per image (H·W or D·H·W).
///
/// ```
/// use segloss::multiclass::Shape;
/// let s = Shape::new(2, 4, 16).unwrap();
/// assert_eq!((s.len(), s.pixels()), (128, 32));
/// assert!(Shape::new(2, 0, 16).is_err());
/// assert!(Shape::new(usize::MAX, 2, 2).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    n: usize,
    c: usize,
    s: usize,
}

impl Shape {
    /// A shape; fails with [`Error::InvalidShape`] if `c == 0` or `N·C·S`
    /// overflows, and with [`Error::Empty`] if it holds no element.
    pub fn new(n: usize, c: usize, s: usize) -> Result<Shape, Error> {
        if c == 0 {
            return Err(Error::InvalidShape);
        }
        let len = n
            .checked_mul(c)
            .and_then(|v| v.checked_mul(s))
            .ok_or(Error::InvalidShape)?;
        if len == 0 {
            return Err(Error::Empty);
        }
        Ok(Shape { n, c, s })
    }
    /// Images N.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Channels (classes) C.
    pub fn c(&self) -> usize {
        self.c
    }
    /// Pixels per image S.
    pub fn s(&self) -> usize {
        self.s
    }
    /// Elements of the prediction, `N·C·S`.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        // Shape::new checked that N·C·S fits in usize.
        self.n.saturating_mul(self.c).saturating_mul(self.s)
    }
    /// Pixels of the batch, `N·S` (the length of a multiclass target).
    pub fn pixels(&self) -> usize {
        self.n.saturating_mul(self.s)
    }
    /// Checks a slice length against the shape.
    pub(crate) fn expect(expected: usize, found: usize) -> Result<(), Error> {
        if expected == found {
            Ok(())
        } else {
            Err(Error::ShapeMismatch { expected, found })
        }
    }
}

/// Which classes a loss averages and how (smp's `classes` and
/// `class_weights`, MONAI's `batch`). Borrowed slices, no allocation.
///
/// - `classes`: the region losses keep only these class ids (non-empty, each
///   `< C`). Focal and cross entropy ignore it.
/// - `weights`: length C, indexed by class id (also with `classes`), each
///   `>= 0`, not NaN, summing to more than 0 over the kept classes. The
///   region and focal losses return `Σ w_c·loss_c / Σ w_c`; cross entropy
///   uses them as PyTorch's `weight`.
/// - `per_image`: the region losses compute each class's score per image
///   (MONAI `batch=False`) instead of over the whole batch (smp), then return
///   the mean over images of the (weighted) class mean, the empty-class rule
///   applying per image; Tversky's γ is applied to that mean. Focal and
///   cross entropy ignore it.
///
/// ```
/// use segloss::multiclass::Classes;
/// let w = [0.5f32, 1.0, 2.0];
/// let c = Classes::default().with_classes(Some(&[1, 2])).with_weights(Some(&w));
/// assert!(c.validate(3).is_ok());
/// assert!(c.validate(2).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Classes<'a> {
    /// Class ids kept by the region losses; none = all. Default none.
    pub classes: Option<&'a [usize]>,
    /// Per-class weights (length C); none = all 1. Default none.
    pub weights: Option<&'a [f32]>,
    /// Region losses per image, then the mean. Default `false` (batch pooling).
    pub per_image: bool,
}

impl<'a> Classes<'a> {
    /// Sets [`classes`](Self::classes).
    pub fn with_classes(mut self, v: Option<&'a [usize]>) -> Self {
        self.classes = v;
        self
    }
    /// Sets [`weights`](Self::weights).
    pub fn with_weights(mut self, v: Option<&'a [f32]>) -> Self {
        self.weights = v;
        self
    }
    /// Sets [`per_image`](Self::per_image).
    pub fn with_per_image(mut self, v: bool) -> Self {
        self.per_image = v;
        self
    }
    /// Checks the lists against `c` classes.
    pub fn validate(&self, c: usize) -> Result<(), Error> {
        if let Some(list) = self.classes
            && (list.is_empty() || list.iter().any(|&k| k >= c))
        {
            return Err(Error::InvalidClasses);
        }
        if let Some(w) = self.weights {
            if w.len() != c || w.iter().any(|&v| v.is_nan() || v < 0.0 || v.is_infinite()) {
                return Err(Error::InvalidClassWeights);
            }
            let sum = |ks: &mut dyn Iterator<Item = usize>| -> f64 {
                ks.map(|k| w.get(k).map_or(0.0, |&v| f64::from(v))).sum()
            };
            let all = sum(&mut (0..c));
            let kept = match self.classes {
                Some(list) => sum(&mut list.iter().copied()),
                None => all,
            };
            if all.is_nan() || kept.is_nan() || all <= 0.0 || kept <= 0.0 {
                return Err(Error::InvalidClassWeights);
            }
        }
        Ok(())
    }

    /// `Σ w_k·l_k / Σ w_k` over the kept classes (`all`: every class).
    fn mean(&self, c: usize, all: bool, loss: impl Fn(usize) -> f64) -> f64 {
        let w = |k: usize| {
            self.weights
                .and_then(|w| w.get(k))
                .map_or(1.0, |&v| f64::from(v))
        };
        let (mut num, mut den) = (0.0, 0.0);
        let mut add = |k: usize| {
            num += w(k) * loss(k);
            den += w(k);
        };
        match self.classes {
            Some(list) if !all => list.iter().for_each(|&k| add(k)),
            _ => (0..c).for_each(add),
        }
        num / den
    }
}

/// PyTorch's multiclass `cross_entropy` options (class weights come from
/// [`Classes::weights`]).
///
/// ```
/// let cfg = segloss::multiclass::CrossEntropy::default().with_label_smoothing(0.1);
/// assert!(cfg.validate().is_ok());
/// assert!(cfg.with_label_smoothing(1.5).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropy {
    /// Pixels whose id equals this are dropped (not counted). Default `Some(-100)`.
    pub ignore_index: Option<i64>,
    /// Label smoothing `ls` in `[0, 1]`. Default `0`.
    pub label_smoothing: f32,
    /// Mean over `Σ w_{y_i}` of the kept pixels (default), or sum.
    pub reduction: Reduction,
}

impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy {
            ignore_index: Some(-100),
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
        }
    }
}

impl CrossEntropy {
    /// Sets [`ignore_index`](Self::ignore_index).
    pub fn with_ignore_index(mut self, v: Option<i64>) -> Self {
        self.ignore_index = v;
        self
    }
    /// Sets [`label_smoothing`](Self::label_smoothing).
    pub fn with_label_smoothing(mut self, v: f32) -> Self {
        self.label_smoothing = v;
        self
    }
    /// Sets [`reduction`](Self::reduction).
    pub fn with_reduction(mut self, v: Reduction) -> Self {
        self.reduction = v;
        self
    }
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), Error> {
        let ls = self.label_smoothing;
        check("label_smoothing", ls, (0.0..=1.0).contains(&ls))
    }
}

/// A multiclass loss, or a weighted sum of two computed in one pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Dice, Jaccard or Tversky ([`Tversky::dice`], [`Tversky::jaccard`]).
    Region(Tversky),
    /// smp's focal loss, one-vs-rest per class.
    Focal(Focal),
    /// PyTorch's `cross_entropy` (logits only).
    CrossEntropy(CrossEntropy),
    /// `lambda_region·region + lambda_ce·cross_entropy` (MONAI `DiceCELoss`);
    /// the region loss must be from logits.
    RegionCe {
        /// The region loss.
        region: Tversky,
        /// The cross entropy.
        ce: CrossEntropy,
        /// Weight of the region loss, finite and `>= 0`.
        lambda_region: f32,
        /// Weight of the cross entropy, finite and `>= 0`.
        lambda_ce: f32,
    },
    /// `lambda_region·region + lambda_focal·focal` (MONAI `DiceFocalLoss`);
    /// both must agree on `from_logits`.
    RegionFocal {
        /// The region loss.
        region: Tversky,
        /// The focal loss.
        focal: Focal,
        /// Weight of the region loss, finite and `>= 0`.
        lambda_region: f32,
        /// Weight of the focal loss, finite and `>= 0`.
        lambda_focal: f32,
    },
}

impl Loss {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<(), Error> {
        let lambda = |name, v: f32| check(name, v, v >= 0.0 && v.is_finite());
        match self {
            Loss::Region(t) => t.validate(),
            Loss::Focal(f) => f.validate(),
            Loss::CrossEntropy(ce) => ce.validate(),
            Loss::RegionCe {
                region,
                ce,
                lambda_region,
                lambda_ce,
            } => {
                region.validate()?;
                ce.validate()?;
                lambda("lambda_region", *lambda_region)?;
                lambda("lambda_ce", *lambda_ce)?;
                if !region.region.from_logits {
                    return Err(Error::ConfigMismatch {
                        field: "from_logits",
                    });
                }
                Ok(())
            }
            Loss::RegionFocal {
                region,
                focal,
                lambda_region,
                lambda_focal,
            } => {
                region.validate()?;
                focal.validate()?;
                lambda("lambda_region", *lambda_region)?;
                lambda("lambda_focal", *lambda_focal)?;
                if region.region.from_logits != focal.from_logits {
                    return Err(Error::ConfigMismatch {
                        field: "from_logits",
                    });
                }
                Ok(())
            }
        }
    }
}

/// An `f32` ignore value as a class id; a value no integer equals gives none.
fn ignore_id(v: Option<f32>) -> Option<i64> {
    v.filter(|v| v.abs() < 9.0e18 && (*v as i64) as f32 == *v)
        .map(|v| v as i64)
}

/// The weighted class mean of the region losses of one set of sums.
pub(crate) fn region_mean(sums: &[RegionSums], c: usize, t: &Tversky, classes: &Classes) -> f64 {
    let (a, b) = (f64::from(t.alpha), f64::from(t.beta));
    classes.mean(c, false, |k| {
        sums.get(k).map_or(0.0, |s| s.class_loss(a, b, &t.region))
    })
}

/// What a loss needs from a pass.
pub(crate) struct Plan<'a> {
    pub(crate) region: Option<&'a Tversky>,
    pub(crate) focal: Option<&'a Focal>,
    pub(crate) ce: Option<&'a CrossEntropy>,
    /// Weights of the region part and of the second part (CE or focal).
    pub(crate) lambdas: (f64, f64),
}

impl Loss {
    fn plan(&self) -> Plan<'_> {
        let mut p = Plan {
            region: None,
            focal: None,
            ce: None,
            lambdas: (1.0, 1.0),
        };
        match self {
            Loss::Region(t) => p.region = Some(t),
            Loss::Focal(f) => p.focal = Some(f),
            Loss::CrossEntropy(ce) => p.ce = Some(ce),
            Loss::RegionCe {
                region,
                ce,
                lambda_region,
                lambda_ce,
            } => {
                p.region = Some(region);
                p.ce = Some(ce);
                p.lambdas = (f64::from(*lambda_region), f64::from(*lambda_ce));
            }
            Loss::RegionFocal {
                region,
                focal,
                lambda_region,
                lambda_focal,
            } => {
                p.region = Some(region);
                p.focal = Some(focal);
                p.lambdas = (f64::from(*lambda_region), f64::from(*lambda_focal));
            }
        }
        p
    }
}

/// Runs the pass image by image and returns the totals and, with
/// `per_image`, the sum over images of the region class means. `each` sees
/// every image's totals in order, with its logits, its labels and its part
/// of `keep` (the backward pass writes that image's gradient there). With `keep` (a gradient buffer of
/// `pred`'s layout) the softmax's `e^(x−m)` of every logit is stored there,
/// for the backward's gradient pass to read instead of recomputing it.
///
/// Out of line: inlined into its caller, its per-class arrays added to the
/// caller's in one frame (docs/targets.md "Stack").
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) fn drive<
    M: Modulator,
    const CC: usize,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    pred: &[f32],
    target: Ids<'_>,
    shape: Shape,
    per_image: Option<(&Tversky, &Classes)>,
    keep: Option<&mut [f32]>,
    mut each: impl FnMut(&McTotals<CC>, &[f32], Ids<'_>, Option<&mut [f32]>) -> Result<(), Error>,
) -> Result<(McTotals<CC>, f64), Error> {
    let (c, s) = (shape.c, shape.s);
    let size = c.saturating_mul(s);
    let mut total = McTotals::<CC>::default();
    let mut image_sum = 0.0;
    let mut keeps = keep.map(|g| g.chunks_exact_mut(size));
    for (img, labels) in pred.chunks_exact(size).zip(target.chunks_exact(s)) {
        let mut t = McTotals::<CC>::default();
        let mut g = keeps.as_mut().and_then(Iterator::next);
        k.image::<CC, W, LOGITS, R, CE, F>(c, s, img, labels, &mut t, g.as_deref_mut())?;
        if let Some((tv, classes)) = per_image {
            image_sum += region_mean(&t.region, c, tv, classes);
        }
        total.merge(&t);
        each(&t, img, labels, g)?;
    }
    Ok((total, image_sum))
}

/// One checked call: the plan, the kernel settings and the dispatch flags.
/// Shared by [`loss`] and the backward pass
/// ([`crate::backward::multiclass`]), so both validate in the same order,
/// read the data with the same kernel and finalise the same way.
pub(crate) struct Setup<'a> {
    pub(crate) plan: Plan<'a>,
    pub(crate) classes: &'a Classes<'a>,
    pub(crate) shape: Shape,
    /// The focal settings (the default when the loss has no focal part).
    pub(crate) focal: Focal,
    ignore_a: Option<i64>,
    ignore_b: Option<i64>,
    weights: &'a [f32],
    /// The power of two the kernel scales `weights` by: 1, or for weights
    /// above 2^64 the power that brings the largest to at most 2^64. The
    /// lanes sum 16 terms `w_y·(−ln softmax_y)` and 16 weights in `f32`,
    /// which a weight near `f32::MAX` overflows (∞/∞: NaN, where PyTorch,
    /// summing in `f64`, gives the loss; found by `multiclass`, seed
    /// `ce-huge-class-weight`). The mean is a ratio of two sums scaled
    /// alike; the sum is divided back in `f64`. A weight 2^190 below the
    /// largest becomes subnormal or 0.
    weight_scale: f32,
    smoothing: bool,
    /// The region part with `classes.per_image`.
    pub(crate) per_image: Option<(&'a Tversky, &'a Classes<'a>)>,
    /// Whether the prediction holds logits (the dispatch's `LOGITS`).
    pub(crate) logits: bool,
}

impl<'a> Setup<'a> {
    /// Validates a call with per-class capacity `CC` and derives its settings.
    pub(crate) fn new<const CC: usize>(
        pred: &[f32],
        target: Ids<'_>,
        shape: Shape,
        loss: &'a Loss,
        classes: &'a Classes<'a>,
    ) -> Result<Self, Error> {
        let c = shape.c;
        if c > CC {
            return Err(Error::TooManyClasses {
                classes: c,
                max: CC,
            });
        }
        loss.validate()?;
        classes.validate(c)?;
        Shape::expect(shape.len(), pred.len())?;
        Shape::expect(shape.pixels(), target.len())?;
        let plan = loss.plan();
        let focal = plan.focal.copied().unwrap_or_default();
        let ignore_a = plan.region.and_then(|t| ignore_id(t.region.ignore_index));
        let ignore_b = match (plan.ce, plan.focal) {
            (Some(ce), _) => ce.ignore_index,
            (None, Some(f)) => ignore_id(f.ignore_index),
            (None, None) => None,
        };
        let weights: &[f32] = match (plan.ce, classes.weights) {
            (Some(_), Some(w)) => w,
            _ => &[],
        };
        let weight_scale = weight_scale(weights);
        let smoothing = plan.ce.is_some_and(|ce| ce.label_smoothing != 0.0);
        let per_image = match plan.region {
            Some(t) if classes.per_image => Some((t, classes)),
            _ => None,
        };
        let logits = match (plan.region, plan.focal) {
            (Some(t), _) => t.region.from_logits,
            (None, Some(f)) => f.from_logits,
            (None, None) => true,
        };
        Ok(Setup {
            plan,
            classes,
            shape,
            focal,
            ignore_a,
            ignore_b,
            weights,
            weight_scale,
            smoothing,
            per_image,
            logits,
        })
    }

    /// The pass kernel with modulator `m`.
    pub(crate) fn kernel<M: Modulator>(&self, m: M) -> Kernel<'a, M> {
        Kernel {
            ignore_a: self.ignore_a,
            ignore_b: self.ignore_b,
            weights: self.weights,
            weight_scale: self.weight_scale,
            smoothing: self.smoothing,
            focal: FocalTerm::new(self.focal.eps, self.focal.reduced_threshold),
            modulator: m,
            eps: self.focal.eps,
        }
    }

    /// The loss from the totals of a pass (and, with `per_image`, the sum
    /// over images of the region class means).
    pub(crate) fn value<const CC: usize>(&self, tot: &McTotals<CC>, image_sum: f64) -> f64 {
        let (plan, c, classes) = (&self.plan, self.shape.c, self.classes);
        let mut value = 0.0;
        if let Some(t) = plan.region {
            let mean = if self.per_image.is_some() {
                image_sum / self.shape.n as f64
            } else {
                region_mean(&tot.region, c, t, classes)
            };
            value += plan.lambdas.0 * tversky_power(mean, t.gamma);
        }
        if let Some(ce) = plan.ce {
            let ls = f64::from(ce.label_smoothing);
            let mut total = (1.0 - ls) * tot.ce;
            if ls != 0.0 {
                total += ls / c as f64 * tot.ce_smooth;
            }
            let v = match ce.reduction {
                Reduction::Mean => total / tot.ce_den,
                Reduction::Sum => total / f64::from(self.weight_scale),
            };
            value += plan.lambdas.1 * v;
        }
        if let Some(f) = plan.focal {
            let v = classes.mean(c, true, |k| {
                tot.focal.get(k).map_or(0.0, |s| {
                    s.smp(f.alpha, f.normalized, f.reduction, tot.kept_b)
                })
            });
            value += plan.lambdas.1 * v;
        }
        value
    }
}

/// [`Setup`]'s `weight_scale` of validated (finite, non-negative) weights:
/// 1 unless the largest is above 2^64, else the power of two (2^-32 or
/// 2^-64) that brings it to at most 2^64.
fn weight_scale(weights: &[f32]) -> f32 {
    const TWO_64: f32 = f32::from_bits((127 + 64) << 23);
    const TWO_M32: f32 = f32::from_bits((127 - 32) << 23);
    let mut top = weights.iter().fold(0.0f32, |m, &w| m.max(w));
    let mut scale = 1.0f32;
    for _ in 0..2 {
        if top > TWO_64 {
            top *= TWO_M32;
            scale *= TWO_M32;
        }
    }
    scale
}

/// Calls `$f::<M, CC, LOGITS, R, CE, F>(&kernel, args…)` with the
/// modulator and const flags of a [`Setup`]'s plan: the one dispatch table
/// (γ = 2 and 0 as const generics, any other γ a [`RealGamma`](crate::accumulate::binary::RealGamma)) shared by
/// the forward and the backward pass, so both accumulate with the same
/// instantiation and give the same bits.
macro_rules! dispatch {
    ($st:expr, $f:ident::<$cc:tt>($($arg:expr),* $(,)?)) => {{
        let st: &$crate::multiclass::Setup<'_> = $st;
        let none = $crate::accumulate::binary::IntGamma::<0>;
        let p = &st.plan;
        match (p.region.is_some(), p.ce.is_some(), p.focal.is_some()) {
            (true, false, false) => {
                $crate::multiclass::dispatch!(@link st, none, $f, $cc, true, false, false, $($arg),*)
            }
            (false, true, false) => {
                $f::<_, $cc, true, false, true, false>(&st.kernel(none), $($arg),*)
            }
            (true, true, _) => $f::<_, $cc, true, true, true, false>(&st.kernel(none), $($arg),*),
            (false, false, true) => $crate::multiclass::dispatch!(@gamma st, $f, $cc, false, $($arg),*),
            _ => $crate::multiclass::dispatch!(@gamma st, $f, $cc, true, $($arg),*),
        }
    }};
    (@gamma $st:ident, $f:ident, $cc:tt, $r:literal, $($arg:expr),*) => {{
        let g = $st.focal.gamma;
        if g == 2.0 {
            let m = $crate::accumulate::binary::IntGamma::<2>;
            $crate::multiclass::dispatch!(@link $st, m, $f, $cc, $r, false, true, $($arg),*)
        } else if g == 0.0 {
            let m = $crate::accumulate::binary::IntGamma::<0>;
            $crate::multiclass::dispatch!(@link $st, m, $f, $cc, $r, false, true, $($arg),*)
        } else {
            let m = $crate::accumulate::binary::RealGamma::new(g);
            $crate::multiclass::dispatch!(@link $st, m, $f, $cc, $r, false, true, $($arg),*)
        }
    }};
    (@link $st:ident, $m:expr, $f:ident, $cc:tt, $r:literal, $ce:literal, $fo:literal, $($arg:expr),*) => {
        if $st.logits {
            $f::<_, $cc, true, $r, $ce, $fo>(&$st.kernel($m), $($arg),*)
        } else {
            $f::<_, $cc, false, $r, $ce, $fo>(&$st.kernel($m), $($arg),*)
        }
    };
}
pub(crate) use dispatch;

/// Calls `$f::<CC>(args…)` with the per-class capacity a runtime class count
/// rounds up to (4, 8, 16 or [`MAX_CLASSES`]), or gives
/// [`Error::TooManyClasses`]: the one table of the forward and the backward
/// pass.
macro_rules! with_capacity {
    ($c:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $c {
            0..=4 => $f::<4>($($arg),*),
            5..=8 => $f::<8>($($arg),*),
            9..=16 => $f::<16>($($arg),*),
            17..=$crate::multiclass::MAX_CLASSES => {
                $f::<{ $crate::multiclass::MAX_CLASSES }>($($arg),*)
            }
            classes => Err($crate::error::Error::TooManyClasses {
                classes,
                max: $crate::multiclass::MAX_CLASSES,
            }),
        }
    };
}
pub(crate) use with_capacity;

/// Validates, runs the pass chosen by [`dispatch`], then finalises.
fn run<const CC: usize>(
    pred: &[f32],
    target: Ids<'_>,
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    let st = Setup::new::<CC>(pred, target, shape, loss, classes)?;
    let (tot, image_sum) = dispatch!(
        &st,
        drive::<CC>(pred, target, shape, st.per_image, None, |_, _, _, _| Ok(()))
    )?;
    Ok(st.value(&tot, image_sum) as f32)
}

/// Any multiclass [`Loss`], with the class count taken from `shape` at run
/// time (`C <= MAX_CLASSES`, else [`Error::TooManyClasses`]).
///
/// `pred` holds `N·C·S` values, `target` `N·S` class ids; any other length
/// is [`Error::ShapeMismatch`].
pub fn loss<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    run_any(pred, L::ids(target), shape, loss, classes)
}

/// [`loss`] on the id slice: not generic, so compiled once, in this crate.
fn run_any(
    pred: &[f32],
    target: Ids<'_>,
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    with_capacity!(shape.c, run(pred, target, shape, loss, classes))
}

/// [`loss`] with the class count `C` fixed at compile time, so the
/// per-class accumulators are sized exactly (best for `C` in `2..=16`).
/// `shape.c()` must equal `C` ([`Error::ShapeMismatch`] otherwise). Gives the
/// same bits as [`loss`].
///
/// ```
/// use segloss::multiclass::{self, Classes, Loss, Shape};
/// let logits = [1.0f32, -1.0, 0.5, -0.5, 2.0, 0.0];
/// let labels = [0i64, 1];
/// let shape = Shape::new(1, 3, 2).unwrap();
/// let l = Loss::Region(segloss::Tversky::default());
/// let a = multiclass::loss_fixed::<3, _>(&logits, &labels, shape, &l, &Classes::default());
/// let b = multiclass::loss(&logits, &labels, shape, &l, &Classes::default());
/// assert_eq!(a, b);
/// ```
pub fn loss_fixed<const C: usize, L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    Shape::expect(C, shape.c)?;
    run::<C>(pred, L::ids(target), shape, loss, classes)
}

/// Dice loss (smp `DiceLoss`, multiclass mode).
pub fn dice<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(
        pred,
        target,
        shape,
        &Loss::Region(Tversky::dice(*cfg)),
        classes,
    )
}

/// Jaccard loss (smp `JaccardLoss`, multiclass mode).
pub fn jaccard<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(
        pred,
        target,
        shape,
        &Loss::Region(Tversky::jaccard(*cfg)),
        classes,
    )
}

/// Tversky loss (smp `TverskyLoss`, multiclass mode; γ applied to the class mean).
pub fn tversky<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Tversky,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(pred, target, shape, &Loss::Region(*cfg), classes)
}

/// smp's `FocalLoss` in multiclass mode: one-vs-rest sigmoid focal per class
/// on the raw logits (`from_logits = false`: `x = ln p`, `p` clamped to
/// `[eps, 1 − eps]`), each class reduced on its own, then the (weighted) mean.
pub fn focal<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Focal,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(pred, target, shape, &Loss::Focal(*cfg), classes)
}

/// PyTorch's `cross_entropy` on logits (weights from `classes.weights`).
///
/// ```
/// use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
/// let logits = [0.0f32, 0.0]; // two classes, one pixel: p = 1/2
/// let ce = multiclass::cross_entropy(&logits, &[1u8], Shape::new(1, 2, 1).unwrap(),
///     &CrossEntropy::default(), &Classes::default()).unwrap();
/// assert!((ce - core::f32::consts::LN_2).abs() < 1e-6);
/// ```
pub fn cross_entropy<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &CrossEntropy,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(pred, target, shape, &Loss::CrossEntropy(*cfg), classes)
}

/// `lambda_dice·dice + lambda_ce·cross_entropy` from one pass (MONAI
/// `DiceCELoss`).
pub fn dice_ce<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    dice: &Region,
    ce: &CrossEntropy,
    lambdas: (f32, f32),
    classes: &Classes,
) -> Result<f32, Error> {
    let l = Loss::RegionCe {
        region: Tversky::dice(*dice),
        ce: *ce,
        lambda_region: lambdas.0,
        lambda_ce: lambdas.1,
    };
    loss(pred, target, shape, &l, classes)
}

/// `lambda_dice·dice + lambda_focal·focal` from one pass (MONAI
/// `DiceFocalLoss`).
pub fn dice_focal<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    dice: &Region,
    focal: &Focal,
    lambdas: (f32, f32),
    classes: &Classes,
) -> Result<f32, Error> {
    let l = Loss::RegionFocal {
        region: Tversky::dice(*dice),
        focal: *focal,
        lambda_region: lambdas.0,
        lambda_focal: lambdas.1,
    };
    loss(pred, target, shape, &l, classes)
}
