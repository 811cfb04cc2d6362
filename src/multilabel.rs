//! Multilabel mode: `N·C·S` predictions and `N·C·S` targets (NCHW), `σ` per
//! element, every channel its own binary problem.
//!
//! Region losses ([`dice`], [`jaccard`], [`tversky`]) sum each channel over
//! the batch (or per image with [`Classes::per_image`]) and average the
//! channel losses with smp's empty-channel rule, `classes` subset and
//! `class_weights`; [`focal`] reduces each channel's focal loss over its own
//! kept elements, then averages. `ignore_index` masks the elements whose
//! target equals it, in their own channel only. Targets are `f32` or `u8`
//! ([`Target`]). Every channel plane is one binary pass (see
//! [`crate::accumulate::multilabel`]); any `C` works.
//!
//! ```
//! use segloss::multilabel;
//! use segloss::multiclass::{Classes, Shape};
//! let logits = [3.0f32, -3.0, 2.0, -2.0, /* channel 1 */ -3.0, 3.0, -2.0, 2.0];
//! let target = [1u8, 0, 1, 0, 0, 1, 0, 1];
//! let shape = Shape::new(1, 2, 4).unwrap();
//! let d = multilabel::dice(&logits, &target, shape, &segloss::Region::default(), &Classes::default()).unwrap();
//! assert!(d < 0.1);
//! ```

pub use crate::multiclass::{Classes, Shape};

use crate::accumulate::Target;
use crate::accumulate::binary::{FocalTerm, Modulator};
use crate::accumulate::multilabel::{PlaneSums, plane};
use crate::config::{Focal, Region, Tversky};
use crate::error::{Error, check};
use crate::loss::region::tversky_power;

/// A multilabel loss, or a weighted sum of a region loss and focal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Dice, Jaccard or Tversky.
    Region(Tversky),
    /// smp's focal loss per channel.
    Focal(Focal),
    /// `lambda_region·region + lambda_focal·focal` from one pass; both must
    /// agree on `from_logits` and `ignore_index`.
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
        match self {
            Loss::Region(t) => t.validate(),
            Loss::Focal(f) => f.validate(),
            Loss::RegionFocal {
                region,
                focal,
                lambda_region,
                lambda_focal,
            } => {
                region.validate()?;
                focal.validate()?;
                for (name, v) in [
                    ("lambda_region", *lambda_region),
                    ("lambda_focal", *lambda_focal),
                ] {
                    check(name, v, v >= 0.0 && v.is_finite())?;
                }
                if region.region.from_logits != focal.from_logits {
                    return Err(Error::ConfigMismatch {
                        field: "from_logits",
                    });
                }
                if region.region.ignore_index != focal.ignore_index {
                    return Err(Error::ConfigMismatch {
                        field: "ignore_index",
                    });
                }
                Ok(())
            }
        }
    }

    fn parts(&self) -> (Option<&Tversky>, Option<&Focal>, (f64, f64)) {
        match self {
            Loss::Region(t) => (Some(t), None, (1.0, 1.0)),
            Loss::Focal(f) => (None, Some(f), (1.0, 1.0)),
            Loss::RegionFocal {
                region,
                focal,
                lambda_region,
                lambda_focal,
            } => (
                Some(region),
                Some(focal),
                (f64::from(*lambda_region), f64::from(*lambda_focal)),
            ),
        }
    }
}

/// One checked multilabel call and its settings, shared by [`loss`] and the
/// backward pass ([`crate::backward::multilabel`]).
pub(crate) struct Setup<'a> {
    pub(crate) region: Option<&'a Tversky>,
    pub(crate) focal: Option<&'a Focal>,
    /// Weights of the region part and of focal.
    pub(crate) lambdas: (f64, f64),
    pub(crate) classes: &'a Classes<'a>,
    pub(crate) shape: Shape,
    pub(crate) ft: FocalTerm<crate::accumulate::V>,
    pub(crate) ignore: Option<f32>,
    /// Whether the prediction holds logits (the dispatch's `LOGITS`).
    pub(crate) logits: bool,
}

impl<'a> Setup<'a> {
    /// Validates a call and derives its settings.
    pub(crate) fn new<T: Target>(
        pred: &[f32],
        target: &[T],
        shape: Shape,
        loss: &'a Loss,
        classes: &'a Classes<'a>,
    ) -> Result<Self, Error> {
        loss.validate()?;
        classes.validate(shape.c())?;
        Shape::expect(shape.len(), pred.len())?;
        Shape::expect(shape.len(), target.len())?;
        let (region, focal, lambdas) = loss.parts();
        let fcfg = focal.copied().unwrap_or_default();
        let (ignore, logits) = match (region, focal) {
            (Some(t), _) => (t.region.ignore_index, t.region.from_logits),
            (None, Some(f)) => (f.ignore_index, f.from_logits),
            (None, None) => (None, true),
        };
        Ok(Setup {
            region,
            focal,
            lambdas,
            classes,
            shape,
            ft: FocalTerm::new(fcfg.eps, fcfg.reduced_threshold),
            ignore,
            logits,
        })
    }

    /// Channel `k`'s class weight (1 without weights).
    pub(crate) fn weight(&self, k: usize) -> f64 {
        self.classes
            .weights
            .and_then(|w| w.get(k))
            .map_or(1.0, |&v| f64::from(v))
    }

    /// How often the region part counts channel `k` in its mean: 0 without a
    /// region part, 1 without a class list, else how often `k` is listed
    /// (smp indexes the class losses with the list, so a repeated id counts
    /// repeatedly, as in multiclass mode's `Classes::mean`).
    pub(crate) fn region_times(&self, k: usize) -> f64 {
        if self.region.is_none() {
            return 0.0;
        }
        self.classes
            .classes
            .map_or(1, |l| l.iter().filter(|&&j| j == k).count()) as f64
    }

    /// Whether the region part averages channel `k`.
    pub(crate) fn keeps_region(&self, k: usize) -> bool {
        self.region_times(k) > 0.0
    }

    /// Channel `k`'s sums over the batch: its `N` planes in image order, with
    /// region sums when `keep_r` (and `R`), focal sums when `F`. `each` sees
    /// every plane's sums in order (the backward pass writes that plane's
    /// gradient there).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn channel<
        T: Target,
        M: Modulator,
        const LOGITS: bool,
        const R: bool,
        const F: bool,
    >(
        &self,
        k: usize,
        keep_r: bool,
        pred: &[f32],
        target: &[T],
        m: M,
        mut each: impl FnMut(usize, &PlaneSums) -> Result<(), Error>,
    ) -> Result<Channel, Error> {
        let (n, c, s) = (self.shape.n(), self.shape.c(), self.shape.s());
        let mut ch = Channel {
            total: PlaneSums::default(),
            image_sum: 0.0,
        };
        for img in 0..n {
            let o = img.saturating_mul(c).saturating_add(k).saturating_mul(s);
            let (p, t) = (
                pred.get(o..o.saturating_add(s)).unwrap_or(&[]),
                target.get(o..o.saturating_add(s)).unwrap_or(&[]),
            );
            let sums = if R && keep_r {
                plane::<T, M, LOGITS, true, F>(p, t, self.ignore, &self.ft, m)?
            } else {
                plane::<T, M, LOGITS, false, F>(p, t, self.ignore, &self.ft, m)?
            };
            if let (Some(tv), true) = (self.region, keep_r && self.classes.per_image) {
                let (a, b) = (f64::from(tv.alpha), f64::from(tv.beta));
                ch.image_sum += sums.region.class_loss(a, b, &tv.region);
            }
            ch.total.merge(&sums);
            each(img, &sums)?;
        }
        Ok(ch)
    }

    /// Every channel's sums, added into the class means (the forward pass).
    pub(crate) fn means<
        T: Target,
        M: Modulator,
        const LOGITS: bool,
        const R: bool,
        const F: bool,
    >(
        &self,
        pred: &[f32],
        target: &[T],
        m: M,
    ) -> Result<Means, Error> {
        let mut means = Means::default();
        for k in 0..self.shape.c() {
            let keep_r = R && self.keeps_region(k);
            if !keep_r && !F {
                continue;
            }
            let ch =
                self.channel::<T, M, LOGITS, R, F>(k, keep_r, pred, target, m, |_, _| Ok(()))?;
            means.add(self, k, keep_r, &ch);
        }
        Ok(means)
    }
}

/// One channel's sums over the batch.
pub(crate) struct Channel {
    /// The merged plane sums.
    pub(crate) total: PlaneSums,
    /// With `per_image`: Σ over images of the channel's region class loss.
    pub(crate) image_sum: f64,
}

/// The weighted class means `Σ w_k·l_k` and `Σ w_k` of the region and focal
/// parts, added channel by channel in channel order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Means {
    rnum: f64,
    rden: f64,
    fnum: f64,
    fden: f64,
}

impl Means {
    /// Adds channel `k`'s class losses.
    pub(crate) fn add(&mut self, st: &Setup, k: usize, keep_r: bool, ch: &Channel) {
        let w = st.weight(k);
        if let (Some(tv), true) = (st.region, keep_r) {
            let l = if st.classes.per_image {
                ch.image_sum / st.shape.n() as f64
            } else {
                let (a, b) = (f64::from(tv.alpha), f64::from(tv.beta));
                ch.total.region.class_loss(a, b, &tv.region)
            };
            let times = st.region_times(k);
            self.rnum += times * w * l;
            self.rden += times * w;
        }
        if let Some(f) = st.focal {
            self.fnum += w * ch
                .total
                .focal
                .smp(f.alpha, f.normalized, f.reduction, ch.total.kept);
            self.fden += w;
        }
    }

    /// The region part's class mean (before Tversky's γ).
    pub(crate) fn region_mean(&self) -> f64 {
        self.rnum / self.rden
    }

    /// The loss.
    pub(crate) fn value(&self, st: &Setup) -> f64 {
        let mut value = 0.0;
        if let Some(t) = st.region {
            value += st.lambdas.0 * tversky_power(self.region_mean(), t.gamma);
        }
        if st.focal.is_some() {
            value += st.lambdas.1 * (self.fnum / self.fden);
        }
        value
    }
}

/// Calls `$f::<T, M, LOGITS, R, F>($st, args…, m)` with the modulator and
/// flags of a [`Setup`]: the one dispatch table shared by the forward and
/// the backward pass (γ = 2 and 0 as const generics, else a [`RealGamma`](crate::accumulate::binary::RealGamma)).
macro_rules! dispatch {
    ($st:expr, $f:ident::<$t:ty>($($arg:expr),* $(,)?)) => {{
        let st: &$crate::multilabel::Setup<'_> = $st;
        match (st.region.is_some(), st.focal.is_some()) {
            (true, false) => {
                let m = $crate::accumulate::binary::IntGamma::<0>;
                $crate::multilabel::dispatch!(@link st, m, $f, $t, true, false, $($arg),*)
            }
            (false, _) => $crate::multilabel::dispatch!(@gamma st, $f, $t, false, $($arg),*),
            (true, true) => $crate::multilabel::dispatch!(@gamma st, $f, $t, true, $($arg),*),
        }
    }};
    (@gamma $st:ident, $f:ident, $t:ty, $r:literal, $($arg:expr),*) => {{
        let g = $st.focal.map_or(2.0, |f| f.gamma);
        if g == 2.0 {
            let m = $crate::accumulate::binary::IntGamma::<2>;
            $crate::multilabel::dispatch!(@link $st, m, $f, $t, $r, true, $($arg),*)
        } else if g == 0.0 {
            let m = $crate::accumulate::binary::IntGamma::<0>;
            $crate::multilabel::dispatch!(@link $st, m, $f, $t, $r, true, $($arg),*)
        } else {
            let m = $crate::accumulate::binary::RealGamma::new(g);
            $crate::multilabel::dispatch!(@link $st, m, $f, $t, $r, true, $($arg),*)
        }
    }};
    (@link $st:ident, $m:ident, $f:ident, $t:ty, $r:literal, $fo:literal, $($arg:expr),*) => {
        if $st.logits {
            $f::<$t, _, true, $r, $fo>($st, $($arg,)* $m)
        } else {
            $f::<$t, _, false, $r, $fo>($st, $($arg,)* $m)
        }
    };
}
pub(crate) use dispatch;

/// The forward pass: every channel's sums, then the class means.
fn run<T: Target, M: Modulator, const LOGITS: bool, const R: bool, const F: bool>(
    st: &Setup,
    pred: &[f32],
    target: &[T],
    m: M,
) -> Result<f32, Error> {
    Ok(st.means::<T, M, LOGITS, R, F>(pred, target, m)?.value(st) as f32)
}

/// Any multilabel [`Loss`]. `pred` and `target` hold `N·C·S` elements each
/// ([`Error::ShapeMismatch`] otherwise); any `C` works.
pub fn loss<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    let st = Setup::new(pred, target, shape, loss, classes)?;
    dispatch!(&st, run::<T>(pred, target))
}

/// [`loss`] with `C` checked at compile time against `shape.c()`
/// ([`Error::ShapeMismatch`] otherwise). Multilabel passes run per channel
/// plane, so this is the same code as [`loss`] and gives the same bits.
pub fn loss_fixed<const C: usize, T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    l: &Loss,
    classes: &Classes,
) -> Result<f32, Error> {
    Shape::expect(C, shape.c())?;
    loss(pred, target, shape, l, classes)
}

/// Dice loss (smp `DiceLoss`, multilabel mode).
pub fn dice<T: Target>(
    pred: &[f32],
    target: &[T],
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

/// Jaccard loss (smp `JaccardLoss`, multilabel mode).
pub fn jaccard<T: Target>(
    pred: &[f32],
    target: &[T],
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

/// Tversky loss (smp `TverskyLoss`, multilabel mode).
pub fn tversky<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Tversky,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(pred, target, shape, &Loss::Region(*cfg), classes)
}

/// smp's `FocalLoss` in multilabel mode: per channel, then the (weighted) mean.
pub fn focal<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Focal,
    classes: &Classes,
) -> Result<f32, Error> {
    loss(pred, target, shape, &Loss::Focal(*cfg), classes)
}

/// `lambda_dice·dice + lambda_focal·focal` from one read (MONAI `DiceFocalLoss`).
pub fn dice_focal<T: Target>(
    pred: &[f32],
    target: &[T],
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
