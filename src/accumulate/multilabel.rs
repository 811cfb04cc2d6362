//! Multilabel mode: per-channel sums from binary passes.
//!
//! # Design
//!
//! In an `N·C·S` NCHW tensor each (image, channel) plane is a contiguous
//! `S` slice, so a multilabel pass is the binary pass driver
//! (`accumulate::pass`: f32 blocks of 16 vectors, widened to f64, fixed fold
//! order, masked last vector, ignore mask) run on each plane with the binary
//! per-element terms (σ, region terms, smp focal terms). The sums of one
//! channel over the batch are the sums of its `N` planes, added in image
//! order; a loss needs only one channel's sums at a time, so no per-channel
//! storage is needed and any `C` works.

use super::{Target, V, Vector, pass};
use crate::accumulate::binary::{FocalTerm, Modulator, link, prob_pair, sigmoid_region_terms};
use crate::error::Error;
use crate::loss::{focal::FocalSums, region::RegionSums};

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
#[inline(always)]
pub(crate) fn plane<T: Target, M: Modulator, const LOGITS: bool, const R: bool, const F: bool>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    ft: &FocalTerm<V>,
    m: M,
) -> Result<PlaneSums, Error> {
    let z = <V as Vector>::ZERO;
    let t = pass(
        pred,
        target,
        ignore,
        #[inline(always)]
        |x, y| {
            let ([fp, fneg, fm], (p, q)) = if F {
                let l = link::<_, LOGITS>(x);
                (ft.terms::<LOGITS, _>(m, &l, y), (l.p, l.q))
            } else {
                ([z; 3], prob_pair::<_, LOGITS>(x))
            };
            let [sp, sy, sd] = if R {
                sigmoid_region_terms::<_, LOGITS>(p, q, y)
            } else {
                [z; 3]
            };
            [sp, sy, sd, fp, fneg, fm]
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
