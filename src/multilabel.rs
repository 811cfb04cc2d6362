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
use crate::accumulate::binary::{FocalTerm, IntGamma, Modulator, RealGamma};
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

/// Per channel: the region class loss (batch or mean over images) and the
/// focal class loss, each added into its weighted mean.
fn run<T: Target, M: Modulator, const LOGITS: bool, const R: bool, const F: bool>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    m: M,
) -> Result<f32, Error> {
    let (region, focal, lambdas) = loss.parts();
    let (n, c, s) = (shape.n(), shape.c(), shape.s());
    let fcfg = focal.copied().unwrap_or_default();
    let ft = FocalTerm::new(fcfg.eps, fcfg.reduced_threshold);
    let ignore = match (region, focal) {
        (Some(t), _) => t.region.ignore_index,
        (None, Some(f)) => f.ignore_index,
        (None, None) => None,
    };
    let weight = |k: usize| {
        classes
            .weights
            .and_then(|w| w.get(k))
            .map_or(1.0, |&v| f64::from(v))
    };
    // How often channel `k` is listed in `classes` (smp indexes the class
    // losses with the list, so a repeated id counts repeatedly in the mean,
    // as in multiclass mode's `Classes::mean`).
    let multiplicity = |k: usize| {
        classes
            .classes
            .map_or(1, |l| l.iter().filter(|&&j| j == k).count())
    };
    let (mut rnum, mut rden, mut fnum, mut fden) = (0.0, 0.0, 0.0, 0.0);
    for k in 0..c {
        let times = multiplicity(k) as f64;
        let keep_r = R && times > 0.0;
        if !keep_r && !F {
            continue;
        }
        let mut total = PlaneSums::default();
        let mut image_sum = 0.0;
        for img in 0..n {
            let o = img.saturating_mul(c).saturating_add(k).saturating_mul(s);
            let (p, t) = (
                pred.get(o..o.saturating_add(s)).unwrap_or(&[]),
                target.get(o..o.saturating_add(s)).unwrap_or(&[]),
            );
            let sums = if keep_r {
                plane::<T, M, LOGITS, R, F>(p, t, ignore, &ft, m)?
            } else {
                plane::<T, M, LOGITS, false, F>(p, t, ignore, &ft, m)?
            };
            if let (Some(tv), true) = (region, keep_r && classes.per_image) {
                let (a, b) = (f64::from(tv.alpha), f64::from(tv.beta));
                image_sum += sums.region.class_loss(a, b, &tv.region);
            }
            total.merge(&sums);
        }
        let w = weight(k);
        if let (Some(tv), true) = (region, keep_r) {
            let l = if classes.per_image {
                image_sum / n as f64
            } else {
                let (a, b) = (f64::from(tv.alpha), f64::from(tv.beta));
                total.region.class_loss(a, b, &tv.region)
            };
            rnum += times * w * l;
            rden += times * w;
        }
        if let Some(f) = focal {
            fnum += w * total
                .focal
                .smp(f.alpha, f.normalized, f.reduction, total.kept);
            fden += w;
        }
    }
    let mut value = 0.0;
    if let Some(t) = region {
        value += lambdas.0 * tversky_power(rnum / rden, t.gamma);
    }
    if focal.is_some() {
        value += lambdas.1 * (fnum / fden);
    }
    Ok(value as f32)
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
    loss.validate()?;
    classes.validate(shape.c())?;
    Shape::expect(shape.len(), pred.len())?;
    Shape::expect(shape.len(), target.len())?;
    let (region, focal, _) = loss.parts();
    let logits = match (region, focal) {
        (Some(t), _) => t.region.from_logits,
        (None, Some(f)) => f.from_logits,
        (None, None) => true,
    };
    macro_rules! go {
        ($m:expr, $r:literal, $f:literal) => {
            if logits {
                run::<T, _, true, $r, $f>(pred, target, shape, loss, classes, $m)
            } else {
                run::<T, _, false, $r, $f>(pred, target, shape, loss, classes, $m)
            }
        };
    }
    macro_rules! gamma {
        ($r:literal) => {{
            let g = focal.map_or(2.0, |f| f.gamma);
            if g == 2.0 {
                go!(IntGamma::<2>, $r, true)
            } else if g == 0.0 {
                go!(IntGamma::<0>, $r, true)
            } else {
                go!(RealGamma(g), $r, true)
            }
        }};
    }
    match (region.is_some(), focal.is_some()) {
        (true, false) => go!(IntGamma::<0>, true, false),
        (false, _) => gamma!(false),
        (true, true) => gamma!(true),
    }
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
