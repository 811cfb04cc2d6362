//! Multilabel mode: per-channel sums from binary passes.
//!
//! # Design
//!
//! In an `N·C·S` NCHW tensor each (image, channel) plane is a contiguous
//! `S` slice, so a multilabel pass is the binary pass driver
//! ([`super::pass`]: f32 blocks of 16 vectors, widened to f64, fixed fold
//! order, masked last vector, ignore mask) run on each plane with the binary
//! per-element terms (σ, region terms, smp focal terms). The sums of one
//! channel over the batch are the sums of its `N` planes, added in image
//! order; a loss needs only one channel's sums at a time, so no per-channel
//! storage is needed and any `C` works.

use super::{Target, pass_maybe_storing};
use crate::accumulate::binary::{FocalTerm, Modulator, link, prob_pair, sigmoid_region_terms};
use crate::error::Error;
use crate::loss::{focal::FocalSums, region::RegionSums};
use crate::math;
use wide::f32x8;

/// The sums of one plane (or one channel over the batch).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PlaneSums {
    pub region: RegionSums,
    pub focal: FocalSums,
    /// Elements not ignored.
    pub kept: u64,
}

impl PlaneSums {
    pub(crate) fn merge(&mut self, o: &PlaneSums) {
        self.region.merge(&o.region);
        self.focal.merge(&o.focal);
        self.kept = self.kept.saturating_add(o.kept);
    }
}

/// One plane: region sums when `R`, smp focal sums when `F`.
///
/// With `CODES` (from logits, region sums alone: what a region loss's
/// backward pass needs) the pass also stores σ's code of every element into
/// `codes` (the plane's part of the gradient buffer, see
/// [`crate::backward`]'s `sigmoid_two_pass`); otherwise `codes` is unused.
#[inline(always)]
pub(crate) fn plane<
    T: Target,
    M: Modulator,
    const LOGITS: bool,
    const R: bool,
    const F: bool,
    const CODES: bool,
>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    ft: &FocalTerm,
    m: M,
    codes: &mut [f32],
) -> Result<PlaneSums, Error> {
    let z = f32x8::ZERO;
    let t = pass_maybe_storing(
        CODES && LOGITS && R && !F,
        pred,
        target,
        ignore,
        codes,
        #[inline(always)]
        |x, y| {
            let ([fp, fneg, fm], (p, q), code) = if F {
                let l = link::<LOGITS>(x);
                (ft.terms(m, ft.logpt::<LOGITS>(&l, y), y), (l.p, l.q), z)
            } else if LOGITS {
                let (pq, code) = math::sigmoid_pair_coded(x);
                ([z; 3], pq, code)
            } else {
                ([z; 3], prob_pair::<LOGITS>(x), z)
            };
            let [sp, sy, sd] = if R {
                sigmoid_region_terms::<LOGITS>(p, q, y)
            } else {
                [z; 3]
            };
            ([sp, sy, sd, fp, fneg, fm], code)
        },
    )?;
    let [si, sfp, sfn, pos, neg, modulator] = t.sums;
    Ok(PlaneSums {
        region: RegionSums::from_sums([si, sfp, sfn]),
        focal: FocalSums {
            pos,
            neg,
            modulator,
        },
        kept: t.kept,
    })
}
