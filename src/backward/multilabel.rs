//! Multilabel backward passes: `LOSS(pred, target, shape, cfg…, classes,
//! grad, scale)` returns the loss of [`crate::multilabel::LOSS`](crate::multilabel)
//! (the same bits) and writes `scale · ∂loss/∂pred` into `grad` (NCHW), with
//! respect to the logits when `from_logits`, else the probabilities. See
//! [`crate::backward`] for the conventions.
//!
//! ```
//! use segloss::backward::multilabel as bw;
//! use segloss::multilabel::{self, Classes, Shape};
//! use segloss::{Focal, Region};
//! let logits = [3.0f32, -1.0, 0.5, -2.0, /* channel 1 */ -3.0, 1.0, -0.5, 2.0];
//! let target = [1u8, 0, 1, 0, 0, 1, 0, 1];
//! let shape = Shape::new(1, 2, 4).unwrap();
//! let (dice, focal, cl) = (Region::default(), Focal::default(), Classes::default());
//! let mut grad = [0.0f32; 8];
//! let loss = bw::dice_focal(&logits, &target, shape, &dice, &focal, (1.0, 1.0), &cl, &mut grad, 1.0)?;
//! assert_eq!(loss, multilabel::dice_focal(&logits, &target, shape, &dice, &focal, (1.0, 1.0), &cl)?);
//! // Raising a positive's logit lowers the loss, raising a negative's raises it.
//! assert!(grad[2] < 0.0 && grad[1] > 0.0);
//! # Ok::<(), segloss::Error>(())
//! ```
//!
//! # Design
//!
//! Each (image, channel) plane is a binary problem, so a channel's gradient
//! is the binary backward's per-element formula (region slopes times σ′,
//! smp focal terms) with that channel's coefficients. Channel by channel,
//! the forward's statistics pass over the channel's `N` planes
//! ([`crate::multilabel`]'s `Setup::channel`, the same sums in the same
//! order, hence the same loss bits) is followed by one gradient pass over
//! those planes: every channel needs only its own sums, so no per-channel
//! storage is needed and any `C` works. Two exceptions read more:
//!
//! - Tversky with γ ≠ 1: the outer derivative `γ·mean^(γ−1)` needs every
//!   channel's loss first, so the statistics of the whole batch are read once
//!   before the channel loop (three reads).
//! - [`Classes::per_image`]: each plane has its own region coefficients; with
//!   a region loss alone a plane's sums are followed at once by its gradient
//!   (two reads), with focal (whose sums are per channel) the plane's region
//!   sums are recomputed before its gradient (three reads).

use super::binary::{
    Derivative, FocalCoefficients, class_coefficients, focal_coefficients, focal_parts,
    region_slope,
};
use super::{check_grad, mean_dpow, write_each};
use crate::accumulate::binary::{excess, prob_pair};
use crate::accumulate::multilabel::plane;
use crate::accumulate::{Target, V, Vector, splat};
use crate::config::{Focal, Region, Tversky};
use crate::error::Error;
use crate::multilabel::{Classes, Loss, Means, Setup, Shape, dispatch};

const ZERO: V = <V as Vector>::ZERO;

/// The region slopes `[above, below, equal]` of channel sums `s` scaled by `k`.
fn region_co(st: &Setup, s: &crate::loss::region::RegionSums, k: f64) -> [f32; 3] {
    match st.region {
        Some(t) => {
            let (a, b) = (f64::from(t.alpha), f64::from(t.beta));
            class_coefficients(s, a, b, &t.region, k)
        }
        None => [0.0; 3],
    }
}

/// Writes the gradient of plane `(img, k)`: region slopes `rco` (when `R`)
/// and focal coefficients `fco` (when `F`).
#[allow(clippy::too_many_arguments)]
fn write<T: Target, M: Derivative, const LOGITS: bool, const R: bool, const F: bool>(
    st: &Setup,
    img: usize,
    k: usize,
    pred: &[f32],
    target: &[T],
    grad: &mut [f32],
    rco: [f32; 3],
    fco: FocalCoefficients<V>,
    m: M,
) {
    let (c, s) = (st.shape.c(), st.shape.s());
    let o = img.saturating_mul(c).saturating_add(k).saturating_mul(s);
    let r = o..o.saturating_add(s);
    let (Some(p), Some(t), Some(g)) = (pred.get(r.clone()), target.get(r.clone()), grad.get_mut(r))
    else {
        return; // unreachable: the lengths were checked against the shape
    };
    let [above, below, equal] = rco.map(splat);
    write_each(
        p,
        t,
        st.ignore,
        g,
        #[inline(always)]
        |x, y| {
            let mut out = ZERO;
            if R {
                // The side of the kink from the same `p − y` as the sums.
                let (p, q) = prob_pair::<_, LOGITS>(x);
                let gr = region_slope(excess::<_, LOGITS>(p, q, y), above, below, equal);
                out = if LOGITS { gr * (p * q) } else { gr };
            }
            if F {
                out += focal_parts::<_, M, LOGITS, true>(&st.ft, m, &fco, x, y).1;
            }
            out
        },
    );
}

/// Statistics, coefficients and gradient, channel by channel (see the
/// module docs).
fn pass<T: Target, M: Derivative, const LOGITS: bool, const R: bool, const F: bool>(
    st: &Setup,
    pred: &[f32],
    target: &[T],
    grad: &mut [f32],
    scale: f32,
    m: M,
) -> Result<f32, Error> {
    let (n, c) = (st.shape.n(), st.shape.c());
    let per_image = st.classes.per_image;
    // Σ w over the channels each part averages.
    let (mut rden, mut fden) = (0.0, 0.0);
    for k in 0..c {
        if R {
            rden += st.region_times(k) * st.weight(k);
        }
        if F {
            fden += st.weight(k);
        }
    }
    // Tversky's outer derivative needs every channel's loss first.
    let dpow = match st.region {
        Some(t) if R && t.gamma != 1.0 => {
            let mean = st
                .means::<T, M, LOGITS, R, F>(pred, target, m)?
                .region_mean();
            mean_dpow(mean, t.gamma)
        }
        _ => 1.0,
    };
    let scale = f64::from(scale);
    let images = if per_image { n as f64 } else { 1.0 };
    let kr = scale * st.lambdas.0 * dpow / rden / images;
    let kf = scale * st.lambdas.1 / fden;
    let mut means = Means::default();
    for k in 0..c {
        let keep_r = R && st.keeps_region(k);
        let w = st.weight(k);
        // The region mean counts a class listed twice twice.
        let wr = w * st.region_times(k);
        if !keep_r && !F {
            // Not averaged by any part: the loss does not depend on it.
            let (s, stride) = (st.shape.s(), c.saturating_mul(st.shape.s()));
            let first = k.saturating_mul(s);
            for plane in grad.get_mut(first..).unwrap_or(&mut []).chunks_mut(stride) {
                plane.iter_mut().take(s).for_each(|g| *g = 0.0);
            }
            continue;
        }
        if keep_r && per_image && !F {
            // Each plane's sums, then at once its gradient.
            let ch = st.channel::<T, M, LOGITS, R, F>(k, true, pred, target, m, |img, sums| {
                let rco = region_co(st, &sums.region, kr * wr);
                write::<T, M, LOGITS, true, false>(
                    st,
                    img,
                    k,
                    pred,
                    target,
                    grad,
                    rco,
                    FocalCoefficients::zero(),
                    m,
                );
                Ok(())
            })?;
            means.add(st, k, keep_r, &ch);
            continue;
        }
        let ch = st.channel::<T, M, LOGITS, R, F>(k, keep_r, pred, target, m, |_, _| Ok(()))?;
        means.add(st, k, keep_r, &ch);
        let fco = match st.focal {
            Some(f) if F => {
                let kk = f.reduction.apply(kf * w, ch.total.kept);
                focal_coefficients(&ch.total.focal, f, kk)
            }
            _ => FocalCoefficients::zero(),
        };
        let rco = if keep_r && !per_image {
            region_co(st, &ch.total.region, kr * wr)
        } else {
            [0.0; 3]
        };
        for img in 0..n {
            if !keep_r {
                write::<T, M, LOGITS, false, F>(st, img, k, pred, target, grad, rco, fco, m);
                continue;
            }
            let rco = if per_image {
                // This plane's region sums (the forward's, recomputed).
                let (c, s) = (st.shape.c(), st.shape.s());
                let o = img.saturating_mul(c).saturating_add(k).saturating_mul(s);
                let r = o..o.saturating_add(s);
                let (p, t) = (
                    pred.get(r.clone()).unwrap_or(&[]),
                    target.get(r).unwrap_or(&[]),
                );
                let sums = plane::<T, M, LOGITS, true, false>(p, t, st.ignore, &st.ft, m)?;
                region_co(st, &sums.region, kr * wr)
            } else {
                rco
            };
            write::<T, M, LOGITS, true, F>(st, img, k, pred, target, grad, rco, fco, m);
        }
    }
    Ok(means.value(st) as f32)
}

/// Any multilabel [`Loss`] and its gradient (see
/// [`crate::multilabel::loss`]); any `C` works. `grad` must hold `N·C·S`
/// values ([`Error::GradientLength`] otherwise).
pub fn loss<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let st = Setup::new(pred, target, shape, loss, classes)?;
    check_grad(pred, grad)?;
    dispatch!(&st, pass::<T>(pred, target, grad, scale))
}

/// [`loss`] with `C` checked at compile time against `shape.c()`
/// ([`Error::ShapeMismatch`] otherwise): the same code and bits.
pub fn loss_fixed<const C: usize, T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    l: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    Shape::expect(C, shape.c())?;
    loss(pred, target, shape, l, classes, grad, scale)
}

/// Dice loss and its gradient (see [`crate::multilabel::dice`]).
pub fn dice<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::Region(Tversky::dice(*cfg));
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// Jaccard loss and its gradient (see [`crate::multilabel::jaccard`]).
pub fn jaccard<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::Region(Tversky::jaccard(*cfg));
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// Tversky loss and its gradient (see [`crate::multilabel::tversky`]).
pub fn tversky<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Tversky,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    loss(
        pred,
        target,
        shape,
        &Loss::Region(*cfg),
        classes,
        grad,
        scale,
    )
}

/// smp's focal loss per channel and its gradient (see
/// [`crate::multilabel::focal`]).
pub fn focal<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    cfg: &Focal,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    loss(
        pred,
        target,
        shape,
        &Loss::Focal(*cfg),
        classes,
        grad,
        scale,
    )
}

/// `lambda_dice·dice + lambda_focal·focal` and its gradient (see
/// [`crate::multilabel::dice_focal`]).
#[allow(clippy::too_many_arguments)]
pub fn dice_focal<T: Target>(
    pred: &[f32],
    target: &[T],
    shape: Shape,
    dice: &Region,
    focal: &Focal,
    lambdas: (f32, f32),
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::RegionFocal {
        region: Tversky::dice(*dice),
        focal: *focal,
        lambda_region: lambdas.0,
        lambda_focal: lambdas.1,
    };
    loss(pred, target, shape, &l, classes, grad, scale)
}
