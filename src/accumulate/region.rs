//! The region sums `I`, `FP`, `FN` of binary predictions: the pass behind
//! `binary::dice`, `jaccard` and `tversky`, and [`RegionAccumulator`], the
//! same pass fed in chunks.

use super::binary::{prob_pair, sigmoid_region_terms};
use super::{Target, pass};
use crate::config::{Region, Tversky};
use crate::error::Error;
use crate::loss::region::{RegionSums, tversky_loss};

/// One pass of the region terms over `(pred, target)`, skipping elements
/// whose target is `ignore`; `LOGITS` applies σ first.
fn sums<T: Target, const LOGITS: bool>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
) -> Result<(RegionSums, u64), Error> {
    let t = pass(
        pred,
        target,
        ignore,
        #[inline(always)]
        |x, y| {
            let (p, q) = prob_pair::<_, LOGITS>(x);
            sigmoid_region_terms::<_, LOGITS>(p, q, y)
        },
    )?;
    Ok((RegionSums::from_sums(t.sums), t.count))
}

/// [`RegionSums`] of `(pred, target)` and the element count (ignored
/// elements included); probabilities are σ(pred) where `from_logits`.
/// Lengths must match (any length, also 0); a `u8` mask value other than 0,
/// 1 or `ignore` is [`Error::InvalidMask`].
pub(crate) fn region_sums<T: Target>(
    pred: &[f32],
    target: &[T],
    from_logits: bool,
    ignore: Option<f32>,
) -> Result<(RegionSums, u64), Error> {
    if from_logits {
        sums::<T, true>(pred, target, ignore)
    } else {
        sums::<T, false>(pred, target, ignore)
    }
}

/// Streaming Dice, Jaccard and Tversky: the three region sums only, fed
/// chunk by chunk with [`update`](Self::update) and combined with
/// [`merge`](Self::merge).
///
/// [`BinaryAccumulator`](crate::BinaryAccumulator) computes the sums of
/// every binary loss in its pass; this one runs the pass of
/// [`binary::dice`](crate::binary::dice) (σ and three sums per element), so
/// it runs at the one-shot call's speed (0–5% less in 512-element updates:
/// BENCHMARKS.md), and on a microcontroller it costs about the one-shot
/// call's flash rather than the full accumulator's (docs/targets.md, "Flash
/// by use"). One update over a whole input gives
/// the one-shot function's result bit for bit; chunks and merges group the
/// `f64` totals differently and agree within the accuracy bound.
///
/// The accumulator keeps `cfg.from_logits` and `cfg.ignore_index` (they
/// decide the pass); `smooth`, `eps` and `log_loss` are read when a loss is
/// computed. A finaliser given a configuration with another `from_logits` or
/// `ignore_index` returns [`Error::ConfigMismatch`].
///
/// ```
/// use segloss::{Region, RegionAccumulator, Tversky};
/// let logits = [2.0f32, -1.0, 0.5, -3.0, 4.0, 0.0];
/// let mask = [1u8, 0, 1, 0, 1, 1];
/// let region = Region::default();
/// let mut acc = RegionAccumulator::new(region)?;
/// for (row_p, row_y) in logits.chunks(2).zip(mask.chunks(2)) {
///     acc.update(row_p, row_y)?;
/// }
/// let dice = acc.dice(&region)?;
/// let one_shot = segloss::binary::dice(&logits, &mask, &region)?;
/// assert!((dice - one_shot).abs() < 1e-6);
/// let focal_tversky = acc.tversky(&Tversky::new(0.3, 0.7, 4.0 / 3.0)?.with_region(region))?;
/// assert!(focal_tversky > 0.0 && focal_tversky < 1.0);
/// # Ok::<(), segloss::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionAccumulator {
    from_logits: bool,
    ignore_index: Option<f32>,
    sums: RegionSums,
    count: u64,
}

impl RegionAccumulator {
    /// An empty accumulator for predictions and ignore value as `cfg`
    /// says; fails if `cfg` is invalid.
    pub fn new(cfg: Region) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Self::from_parts(
            cfg.from_logits,
            cfg.ignore_index,
            RegionSums::default(),
            0,
        ))
    }

    /// The accumulator of `count` elements whose pass (with `from_logits`
    /// and `ignore_index`) gave `sums`: the region part of a
    /// [`BinaryAccumulator`](crate::BinaryAccumulator), finalised here.
    pub(crate) fn from_parts(
        from_logits: bool,
        ignore_index: Option<f32>,
        sums: RegionSums,
        count: u64,
    ) -> Self {
        RegionAccumulator {
            from_logits,
            ignore_index,
            sums,
            count,
        }
    }

    /// The sums so far.
    pub fn sums(&self) -> &RegionSums {
        &self.sums
    }

    /// Elements read so far, ignored ones included.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds a chunk (any length, also 0). On an error (lengths differ, a
    /// bad `u8` mask value) the sums are unchanged.
    pub fn update<T: Target>(&mut self, pred: &[f32], target: &[T]) -> Result<(), Error> {
        let (s, n) = region_sums(pred, target, self.from_logits, self.ignore_index)?;
        self.sums.merge(&s);
        self.count = self.count.saturating_add(n);
        Ok(())
    }

    /// Adds the sums of another accumulator with the same `from_logits`
    /// and `ignore_index`.
    pub fn merge(&mut self, other: &RegionAccumulator) -> Result<(), Error> {
        self.same(other.from_logits, other.ignore_index)?;
        self.sums.merge(&other.sums);
        self.count = self.count.saturating_add(other.count);
        Ok(())
    }

    fn same(&self, from_logits: bool, ignore_index: Option<f32>) -> Result<(), Error> {
        if from_logits != self.from_logits {
            Err(Error::ConfigMismatch {
                field: "from_logits",
            })
        } else if ignore_index != self.ignore_index {
            Err(Error::ConfigMismatch {
                field: "ignore_index",
            })
        } else {
            Ok(())
        }
    }

    /// Dice loss (smp `DiceLoss`, binary mode).
    pub fn dice(&self, cfg: &Region) -> Result<f32, Error> {
        self.tversky(&Tversky::dice(*cfg))
    }

    /// Jaccard loss (smp `JaccardLoss`, binary mode).
    pub fn jaccard(&self, cfg: &Region) -> Result<f32, Error> {
        self.tversky(&Tversky::jaccard(*cfg))
    }

    /// Tversky loss (smp `TverskyLoss`, binary mode). [`Error::Empty`] if
    /// nothing was read.
    pub fn tversky(&self, cfg: &Tversky) -> Result<f32, Error> {
        cfg.validate()?;
        self.same(cfg.region.from_logits, cfg.region.ignore_index)?;
        if self.count == 0 {
            return Err(Error::Empty);
        }
        Ok(tversky_loss(&self.sums, cfg) as f32)
    }
}
