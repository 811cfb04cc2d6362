//! Binary mode, one call per loss: `pred` and `target` of `N·S` elements.
//!
//! Each function validates its configuration, checks the lengths, runs one
//! fused pass that computes only the sums its loss needs, and finalises in
//! O(1). `target` is `&[f32]` (hard or soft labels) or `&[u8]` (a 0/1 mask,
//! see [`Target`]). To compute several losses from one read, or to stream,
//! use [`BinaryAccumulator`](crate::BinaryAccumulator).
//!
//! ```
//! use segloss::{binary, Region, Focal, BceWithLogits};
//! let logits = [3.0f32, -2.0, 0.5, -0.5];
//! let mask = [1u8, 0, 1, 0];
//! let dice = binary::dice(&logits, &mask, &Region::default()).unwrap();
//! let focal = binary::focal(&logits, &mask, &Focal::default()).unwrap();
//! let bce = binary::bce_with_logits(&logits, &mask, &BceWithLogits::default()).unwrap();
//! assert!(dice > 0.0 && dice < 1.0 && focal < bce);
//! ```

use crate::accumulate::binary::{
    FocalTerm, bce_term, bce_terms, hard_terms, link, prob, sigmoid_focal_terms, soft_terms,
    with_gamma,
};
use crate::accumulate::region::region_sums;
use crate::accumulate::{Target, Totals, check_lengths, pass, splat, write_each};
use crate::config::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Region, SigmoidFocal, SoftBce, Tversky,
};
use crate::error::Error;
use crate::loss::{
    bce::BceSums,
    focal::FocalSums,
    mcc::{Confusion, SoftConfusion},
    region::tversky_loss,
};

/// Runs `$body` with the const `LOGITS` chosen by `$from_logits`.
macro_rules! with_link {
    ($from_logits:expr, $body:ident ( $($arg:expr),* )) => {
        if $from_logits { $body::<T, true>($($arg),*) } else { $body::<T, false>($($arg),*) }
    };
}

/// Dice loss, smp `DiceLoss` in binary mode: Tversky with α = β = 0.5.
///
/// ```
/// let p = [0.9f32, 0.1, 0.8, 0.2];
/// let y = [1.0f32, 0.0, 1.0, 0.0];
/// let cfg = segloss::Region::default().with_from_logits(false);
/// let loss = segloss::binary::dice(&p, &y, &cfg).unwrap();
/// assert!((loss - 0.15).abs() < 1e-6);
/// ```
pub fn dice<T: Target>(pred: &[f32], target: &[T], cfg: &Region) -> Result<f32, Error> {
    tversky(pred, target, &Tversky::dice(*cfg))
}

/// Jaccard (IoU) loss, smp `JaccardLoss` in binary mode: Tversky with α = β = 1.
pub fn jaccard<T: Target>(pred: &[f32], target: &[T], cfg: &Region) -> Result<f32, Error> {
    tversky(pred, target, &Tversky::jaccard(*cfg))
}

/// Tversky loss, smp `TverskyLoss` in binary mode (`(1 − score)^γ`).
pub fn tversky<T: Target>(pred: &[f32], target: &[T], cfg: &Tversky) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let r = &cfg.region;
    let (sums, _) = region_sums(pred, target, r.from_logits, r.ignore_index)?;
    Ok(tversky_loss(&sums, cfg) as f32)
}

/// Binary cross entropy on probabilities (PyTorch `binary_cross_entropy`,
/// logarithms clamped to `>= −100`).
///
/// ```
/// let p = [0.5f32, 0.5];
/// let y = [1.0f32, 0.0];
/// let loss = segloss::binary::bce(&p, &y, &segloss::Bce::default()).unwrap();
/// assert!((loss - core::f32::consts::LN_2).abs() < 1e-6);
/// ```
pub fn bce<T: Target>(pred: &[f32], target: &[T], cfg: &Bce) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let t = pass(
        pred,
        target,
        None,
        #[inline(always)]
        |x, y| [bce_term(&link::<_, false>(x), y)],
    )?;
    Ok(cfg.reduction.apply(t.sums[0], t.count) as f32)
}

/// PyTorch's `binary_cross_entropy_with_logits` with `pos_weight`.
pub fn bce_with_logits<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &BceWithLogits,
) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let t = pass(
        pred,
        target,
        None,
        #[inline(always)]
        |x, y| {
            let [na, _, _, pb] = bce_terms(&link::<_, true>(x), y);
            [na, pb]
        },
    )?;
    let sums = BceSums {
        neg_a: t.sums[0],
        pos_b: t.sums[1],
        ..BceSums::default()
    };
    let total = sums.total(0.0, f64::from(cfg.pos_weight));
    Ok(cfg.reduction.apply(total, t.count) as f32)
}

/// smp's `SoftBCEWithLogitsLoss`: label smoothing, `pos_weight`, and
/// `ignore_index` elements that get loss 0 but still count in the mean.
pub fn soft_bce<T: Target>(pred: &[f32], target: &[T], cfg: &SoftBce) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let t = pass(
        pred,
        target,
        cfg.ignore_index,
        #[inline(always)]
        |x, y| bce_terms(&link::<_, true>(x), y),
    )?;
    let sums = BceSums::from_sums(t.sums);
    let total = sums.total(
        cfg.smooth_factor.map_or(0.0, f64::from),
        f64::from(cfg.pos_weight),
    );
    Ok(cfg.reduction.apply(total, t.count) as f32)
}

fn focal_sums<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
    cfg: &Focal,
) -> Result<Totals<3>, Error> {
    let ft = FocalTerm::new(cfg.eps, cfg.reduced_threshold);
    with_gamma!(cfg.gamma, |m| pass(
        pred,
        target,
        cfg.ignore_index,
        #[inline(always)]
        |x, y| ft.terms::<LOGITS, _>(m, &link::<_, LOGITS>(x), y)
    ))
}

/// smp's `FocalLoss` in binary mode: `(1 − pt)^γ · bce`, with α,
/// `normalized`, `reduced_threshold` and `ignore_index` (ignored elements are
/// dropped from the mean). Integer γ in 0..=4 runs a kernel with the power
/// unrolled into products.
pub fn focal<T: Target>(pred: &[f32], target: &[T], cfg: &Focal) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let t = with_link!(cfg.from_logits, focal_sums(pred, target, cfg))?;
    let [pos, neg, modulator] = t.sums;
    let s = FocalSums {
        pos,
        neg,
        modulator,
    };
    Ok(s.smp(cfg.alpha, cfg.normalized, cfg.reduction, t.kept) as f32)
}

/// torchvision's `sigmoid_focal_loss` (from logits), mean or sum.
pub fn sigmoid_focal<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &SigmoidFocal,
) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let t = with_gamma!(cfg.gamma, |m| pass(
        pred,
        target,
        None,
        #[inline(always)]
        |x, y| { sigmoid_focal_terms(m, &link::<_, true>(x), y) }
    ))?;
    let s = FocalSums {
        pos: t.sums[0],
        neg: t.sums[1],
        modulator: 0.0,
    };
    Ok(s.torchvision(cfg.alpha, cfg.reduction, t.count) as f32)
}

/// torchvision's `sigmoid_focal_loss` with `reduction = "none"`: writes the
/// loss of every element into `out` (same length as `pred`).
pub fn sigmoid_focal_elementwise<T: Target>(
    pred: &[f32],
    target: &[T],
    cfg: &SigmoidFocal,
    out: &mut [f32],
) -> Result<(), Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    if out.len() != pred.len() {
        return Err(Error::LengthMismatch {
            pred: pred.len(),
            target: out.len(),
        });
    }
    if T::IS_MASK {
        // The same mask rule as every pass: values other than 0/1 are errors.
        let top = target.iter().map(|t| t.value()).fold(0.0f32, f32::max);
        if top > 1.0 {
            return Err(Error::InvalidMask { value: top as u8 });
        }
    }
    let alpha = cfg.alpha;
    with_gamma!(cfg.gamma, |m| write_each(
        pred,
        target,
        None,
        out,
        #[inline(always)]
        |x, y| {
            let [pos, neg] = sigmoid_focal_terms(m, &link::<_, true>(x), y);
            if alpha >= 0.0 {
                crate::accumulate::binary::mul0(splat(alpha), pos)
                    + crate::accumulate::binary::mul0(splat(1.0 - alpha), neg)
            } else {
                pos + neg
            }
        }
    ));
    Ok(())
}

fn soft_sums<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
) -> Result<SoftConfusion, Error> {
    let t = pass(
        pred,
        target,
        None,
        #[inline(always)]
        |x, y| {
            // From logits σ(x) and σ(−x) share one e^{−|x|} (no cancellation
            // in 1 − p); the softplus fields of `link` are never computed.
            let l = link::<_, LOGITS>(x);
            soft_terms(l.p, l.q, y)
        },
    )?;
    let [tp, fp, fn_, tn] = t.sums;
    Ok(SoftConfusion { tp, fp, fn_, tn })
}

/// smp's soft, differentiable `MCCLoss` (`1 − MCC` of the soft confusion sums).
pub fn mcc<T: Target>(pred: &[f32], target: &[T], cfg: &Mcc) -> Result<f32, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    let s = with_link!(cfg.from_logits, soft_sums(pred, target))?;
    Ok(s.mcc_loss(f64::from(cfg.eps)) as f32)
}

fn hard_counts<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
    threshold: f32,
) -> Result<Confusion, Error> {
    let th = splat(threshold);
    let t = pass(
        pred,
        target,
        None,
        #[inline(always)]
        |x, y| {
            let [tp, fp, fn_, _] = hard_terms(prob::<_, LOGITS>(x), y, th);
            [tp, fp, fn_]
        },
    )?;
    let [tp, fp, fn_] = t.sums.map(|v| v as u64);
    let tn = t
        .kept
        .saturating_sub(tp.saturating_add(fp).saturating_add(fn_));
    Ok(Confusion { tp, fp, fn_, tn })
}

/// The hard confusion counts at `cfg.threshold` (pred positive when `p > t`,
/// target positive when `y > 0.5`); precision, recall, F1 and IoU follow.
///
/// ```
/// let p = [0.9f32, 0.6, 0.2, 0.1];
/// let y = [1u8, 0, 1, 0];
/// let c = segloss::binary::confusion(&p, &y, &segloss::HardMcc::default()).unwrap();
/// assert_eq!((c.tp, c.fp, c.fn_, c.tn), (1, 1, 1, 1));
/// assert_eq!(c.precision(), 0.5);
/// ```
pub fn confusion<T: Target>(pred: &[f32], target: &[T], cfg: &HardMcc) -> Result<Confusion, Error> {
    cfg.validate()?;
    check_lengths(pred, target)?;
    with_link!(
        cfg.from_logits,
        hard_counts(pred, target, cfg.threshold_f32())
    )
}

/// The thresholded Matthews correlation metric, `1 − MCC` of the hard counts.
pub fn hard_mcc<T: Target>(pred: &[f32], target: &[T], cfg: &HardMcc) -> Result<f32, Error> {
    Ok(confusion(pred, target, cfg)?.mcc_loss(cfg.eps))
}
