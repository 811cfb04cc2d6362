//! The binary pass and write drivers on sixteen lanes (`wide::f32x16`):
//! where the target has AVX-512 (`target_feature = "avx512f"`), or anywhere
//! with SIMD under `--cfg segloss_lanes16` (then `f32x16` is two `f32x8`,
//! which is how CI tests this driver on machines without AVX-512).
//!
//! # The same bits as the eight-lane driver
//!
//! The eight-lane driver (`accumulate::pass_masked`) cuts the input into
//! segments: whole blocks of [`BLOCK`] vectors of eight, the remaining full
//! vectors as one shorter block, and the last partial vector. Each segment's
//! terms are summed from +0 in eight `f32` lane sums, vector by vector, and
//! the segments' lane sums are widened into the `f64` lane totals in order.
//!
//! This driver runs two consecutive segments side by side: lanes 0–7 of a
//! sixteen-lane vector hold vector `k` of the first segment, lanes 8–15
//! vector `k` of the second. Every kernel is elementwise, so each lane
//! computes what it computes on eight lanes, and each half of the
//! sixteen-lane sums adds its own segment's terms in the eight-lane order.
//! The first half is widened, then the second: the `f64` totals see the
//! eight-lane driver's additions in its order, so the totals are its bits.
//! Nothing pairs across blocks within a segment, so no lane sum ever holds
//! more than [`BLOCK`] terms (the accuracy bound of `accumulate`).
//!
//! A half with no vector at `k` (the shorter segment of the last pair, or a
//! missing second segment) and the padding of the last partial vector are
//! computed on zeros and masked out, as the eight-lane driver masks its
//! padding: a masked term is +0, and a lane sum that starts at +0 is never
//! −0, so adding +0 changes nothing.
//!
//! The write driver ([`write_pairs`]) is elementwise: sixteen consecutive
//! elements a vector, the last one padded.

// Float arithmetic and bit operations only: nothing here can overflow.
#![allow(clippy::arithmetic_side_effects)]

use super::{BLOCK, LANES, Output, Running, Target, Totals, WriteKernel};
use crate::error::Error;
use wide::{f32x8, f32x16};

/// Elements of one segment: a whole block.
const SEGMENT: usize = LANES * BLOCK;

/// Lanes 0–7 and 8–15.
#[inline(always)]
pub(crate) fn halves(v: f32x16) -> (f32x8, f32x8) {
    // Whole arrays, not lane by lane: LLVM makes this one extract with
    // AVX-512 (a loop over the lanes, a store and reloads: the multiclass
    // kept exps measured 25% slower).
    match v.to_array().as_chunks::<LANES>().0 {
        [lo, hi] => (f32x8::new(*lo), f32x8::new(*hi)),
        _ => (f32x8::ZERO, f32x8::ZERO),
    }
}

/// Eight elements of a slice from `at`, zero-padded past its end.
#[inline(always)]
fn padded<E: Copy + Default>(s: &[E], at: usize) -> [E; LANES] {
    let mut a = [E::default(); LANES];
    for (d, v) in a.iter_mut().zip(s.iter().skip(at)) {
        *d = *v;
    }
    a
}

/// Eight full elements at vector `k` of a segment.
#[inline(always)]
fn chunk<E: Copy>(s: &[E], k: usize) -> Option<&[E; LANES]> {
    s.get(k * LANES..k * LANES + LANES)
        .and_then(|c| c.try_into().ok())
}

/// Up to sixteen elements of `s` as lanes (`Target::lanes16`), zero-padded
/// past its end.
#[inline(always)]
fn lanes_of<E: Target>(s: &[E]) -> f32x16 {
    let (a, b) = s.split_at(LANES.min(s.len()));
    E::lanes16(&padded(a, 0), &padded(b, 0))
}

/// One half's segment: its predictions, targets and output (empty unless
/// the kernel stores).
struct Segment<'a, T> {
    pred: &'a [f32],
    target: &'a [T],
    out: &'a mut [f32],
}

impl<T> Segment<'_, T> {
    /// Vectors of eight (the last may be partial).
    fn vectors(&self) -> usize {
        self.pred.len().div_ceil(LANES)
    }
}

/// The sixteen-lane sums of a pair of segments, widened into `run`.
struct PairSums<const K: usize> {
    acc: [f32x16; K],
    kept: f32x16,
    top: f32x16,
}

impl<const K: usize> PairSums<K> {
    #[inline(always)]
    fn new() -> Self {
        PairSums {
            acc: [f32x16::ZERO; K],
            kept: f32x16::ZERO,
            top: f32x16::ZERO,
        }
    }

    /// Adds the terms `v` of lanes `keep` (all lanes when `keep` is `None`:
    /// then the kept count is the element count, and not summed).
    #[inline(always)]
    fn add<T: Target>(&mut self, v: [f32x16; K], y: f32x16, keep: Option<f32x16>) {
        match keep {
            Some(keep) => {
                for (a, v) in self.acc.iter_mut().zip(v) {
                    *a += v & keep;
                }
                self.kept += f32x16::ONE & keep;
                if T::IS_MASK {
                    self.top = self.top.fast_max(y & keep);
                }
            }
            None => {
                for (a, v) in self.acc.iter_mut().zip(v) {
                    *a += v;
                }
                if T::IS_MASK {
                    self.top = self.top.fast_max(y);
                }
            }
        }
    }

    /// Widens the first half's sums, then (if `second`) the second's.
    #[inline(always)]
    fn widen<const IGNORE: bool>(&self, run: &mut Running<K>, second: bool) {
        let (mut lo, mut hi) = ([f32x8::ZERO; K], [f32x8::ZERO; K]);
        for ((l, h), a) in lo.iter_mut().zip(hi.iter_mut()).zip(self.acc) {
            (*l, *h) = halves(a);
        }
        let (kept_lo, kept_hi) = halves(self.kept);
        let (top_lo, top_hi) = halves(self.top);
        run.add_block::<IGNORE>(&lo, kept_lo);
        run.top = run.top.fast_max(top_lo);
        if second {
            run.add_block::<IGNORE>(&hi, kept_hi);
            run.top = run.top.fast_max(top_hi);
        }
    }
}

/// Two whole blocks side by side (the hot loop: no padding, no lane mask
/// beyond the ignore value's).
#[inline(never)]
fn whole_pair<T, const K: usize, O, const IGNORE: bool, F>(
    a: Segment<'_, T>,
    b: Segment<'_, T>,
    ign: f32x16,
    run: &mut Running<K>,
    terms: &mut F,
) where
    T: Target,
    O: Output<K, f32x16>,
    F: FnMut(f32x16, f32x16) -> O + ?Sized,
{
    let mut sums = PairSums::<K>::new();
    for k in 0..BLOCK {
        let (Some(pa), Some(pb), Some(ta), Some(tb)) = (
            chunk(a.pred, k),
            chunk(b.pred, k),
            chunk(a.target, k),
            chunk(b.target, k),
        ) else {
            break; // unreachable: both segments are whole blocks
        };
        let x = f32::lanes16(pa, pb);
        let y = T::lanes16(ta, tb);
        let (v, o) = terms(x, y).parts();
        let keep = IGNORE.then(|| !y.simd_eq(ign));
        sums.add::<T>(v, y, keep);
        if O::STORES {
            let (lo, hi) = halves(keep.map_or(o, |keep| o & keep));
            if let (Some(oa), Some(ob)) = (
                a.out.get_mut(k * LANES..k * LANES + LANES),
                b.out.get_mut(k * LANES..k * LANES + LANES),
            ) {
                oa.copy_from_slice(&lo.to_array());
                ob.copy_from_slice(&hi.to_array());
            }
        }
    }
    sums.widen::<IGNORE>(run, true);
}

/// The last pair: segments of up to a block each (the second may be empty
/// or shorter, and either may end in a partial vector), lanes past each
/// segment's end computed on zeros and masked out.
#[inline(never)]
fn last_pair<T, const K: usize, O, const IGNORE: bool, F>(
    a: Segment<'_, T>,
    b: Segment<'_, T>,
    ign: f32x16,
    run: &mut Running<K>,
    terms: &mut F,
) where
    T: Target,
    O: Output<K, f32x16>,
    F: FnMut(f32x16, f32x16) -> O + ?Sized,
{
    let lane = f32x16::new([
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0,
    ]);
    let mut sums = PairSums::<K>::new();
    for k in 0..a.vectors().max(b.vectors()) {
        let at = k * LANES;
        let valid = |s: &Segment<'_, T>| s.pred.len().saturating_sub(at).min(LANES) as f32;
        let count = f32::lanes16(&[valid(&a); LANES], &[valid(&b); LANES]);
        let x = f32::lanes16(&padded(a.pred, at), &padded(b.pred, at));
        let y = T::lanes16(&padded(a.target, at), &padded(b.target, at));
        let mut keep = lane.simd_lt(count);
        if IGNORE {
            keep &= !y.simd_eq(ign);
        }
        let (v, o) = terms(x, y).parts();
        sums.add::<T>(v, y, Some(keep));
        if O::STORES {
            let (lo, hi) = halves(o & keep);
            for (seg, half) in [(&mut *a.out, lo), (&mut *b.out, hi)] {
                for (d, s) in seg.iter_mut().skip(at).take(LANES).zip(half.to_array()) {
                    *d = s;
                }
            }
        }
    }
    sums.widen::<IGNORE>(run, !b.pred.is_empty());
}

/// The binary pass on sixteen lanes: the totals of
/// `accumulate::pass_masked`, bit for bit (see the module docs).
#[inline(always)]
pub(crate) fn pass_pairs<T, const K: usize, O, const IGNORE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    out: &mut [f32],
    terms: &mut F,
) -> Result<Totals<K>, Error>
where
    T: Target,
    O: Output<K, f32x16>,
    F: FnMut(f32x16, f32x16) -> O + ?Sized,
{
    let ign = f32x16::splat(ignore);
    let mut run = Running::<K>::new();
    let len = pred.len().min(target.len());
    let stores = O::STORES && out.len() == len;
    let mut out = if stores { out } else { &mut [][..] };
    let pairs = len / (2 * SEGMENT);
    let (mut pred, mut target) = (pred, target);
    for _ in 0..pairs {
        let (p, pr) = pred.split_at_checked(2 * SEGMENT).unwrap_or_default();
        let (t, tr) = target.split_at_checked(2 * SEGMENT).unwrap_or_default();
        let o_len = if stores { 2 * SEGMENT } else { 0 };
        let (o, or) = core::mem::take(&mut out)
            .split_at_mut_checked(o_len)
            .unwrap_or_default();
        let (pa, pb) = p.split_at_checked(SEGMENT).unwrap_or_default();
        let (ta, tb) = t.split_at_checked(SEGMENT).unwrap_or_default();
        let (oa, ob) = o.split_at_mut_checked(o_len / 2).unwrap_or_default();
        whole_pair::<T, K, O, IGNORE, F>(
            Segment {
                pred: pa,
                target: ta,
                out: oa,
            },
            Segment {
                pred: pb,
                target: tb,
                out: ob,
            },
            ign,
            &mut run,
            terms,
        );
        (pred, target, out) = (pr, tr, or);
    }
    // What remains (under two blocks) is at most three segments of the
    // eight-lane driver: a whole block, the remaining full vectors, the
    // partial last vector. The non-empty ones are paired in order.
    let full = pred.len() - pred.len() % LANES;
    let first = SEGMENT.min(full);
    let mut segments = [(0, first), (first, full), (full, pred.len())]
        .into_iter()
        .filter(|(from, to)| to > from);
    while let Some(a) = segments.next() {
        let b = segments.next().unwrap_or((a.1, a.1));
        let (o_a, o_b) = if stores {
            let (o_a, o_b) = core::mem::take(&mut out)
                .split_at_mut_checked(b.0 - a.0)
                .unwrap_or_default();
            let (o_b, rest) = o_b.split_at_mut_checked(b.1 - b.0).unwrap_or_default();
            out = rest;
            (o_a, o_b)
        } else {
            (&mut [][..], &mut [][..])
        };
        let seg = |(from, to): (usize, usize), out| Segment {
            pred: pred.get(from..to).unwrap_or_default(),
            target: target.get(from..to).unwrap_or_default(),
            out,
        };
        last_pair::<T, K, O, IGNORE, F>(seg(a, o_a), seg(b, o_b), ign, &mut run, terms);
    }
    run.finish::<T, IGNORE>(len)
}

/// The per-element write on `f32x16` kernels (`accumulate::write_masked`'s
/// values): sixteen consecutive elements a vector, `x` from `pred`, or from
/// `grad` where `IN_PLACE` (`pred` is then empty).
#[inline(always)]
pub(crate) fn write_pairs<T, const IGNORE: bool, const IN_PLACE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    grad: &mut [f32],
    f: &F,
) where
    T: Target,
    F: WriteKernel<f32x16> + ?Sized,
{
    const WIDTH: usize = 2 * LANES;
    let ign = f32x16::splat(ignore);
    let g_of = |x: f32x16, y: f32x16| {
        let g = f.call(x, y);
        if IGNORE {
            y.simd_eq(ign).select(f32x16::ZERO, g)
        } else {
            g
        }
    };
    let mut gc = grad.chunks_exact_mut(WIDTH);
    let mut pc = pred.chunks_exact(WIDTH);
    let mut tc = target.chunks_exact(WIDTH);
    for (g, t) in gc.by_ref().zip(tc.by_ref()) {
        let x = if IN_PLACE {
            lanes_of(g)
        } else {
            match pc.next() {
                Some(p) => lanes_of(p),
                None => continue, // unreachable: `pred` has `grad`'s length
            }
        };
        let v = g_of(x, lanes_of(t)).to_array();
        g.copy_from_slice(&v);
    }
    let (g_tail, t_tail) = (gc.into_remainder(), tc.remainder());
    if !g_tail.is_empty() {
        let x = if IN_PLACE {
            lanes_of(g_tail)
        } else {
            lanes_of(pc.remainder())
        };
        let v = g_of(x, lanes_of(t_tail)).to_array();
        g_tail.iter_mut().zip(v).for_each(|(d, s)| *d = s);
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    extern crate std;

    use super::super::binary::{bce_terms, link, sigmoid_region_terms};
    use super::super::vector::tests::{lanes_config, per_build, value};
    use super::super::{Vector, pass_masked, write_masked};
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Seven sums and a stored value of one generic kernel: the region
    /// terms, the BCE terms and σ (from logits).
    fn kernel<L: Vector>(x: L, y: L) -> ([L; 7], L) {
        let l = link::<L, true>(x);
        let [i, fp, fn_] = sigmoid_region_terms::<L, true>(l.p, l.q, y);
        let [a, b, c, d] = bce_terms(&l, y);
        ([i, fp, fn_, a, b, c, d], l.p)
    }

    /// The pass on sixteen lanes and on eight: totals and stored values.
    fn both<T: Target, const IGNORE: bool>(
        x: &[f32],
        y: &[T],
        ignore: f32,
        store: bool,
    ) -> [(Result<Totals<7>, Error>, Vec<f32>); 2] {
        let n = if store { x.len() } else { 0 };
        let (mut o8, mut o16) = (std::vec![-1.0f32; n], std::vec![-1.0f32; n]);
        let t8 = if store {
            pass_masked::<T, 7, _, IGNORE, _>(x, y, ignore, &mut o8, &mut kernel::<f32x8>)
        } else {
            pass_masked::<T, 7, [f32x8; 7], IGNORE, _>(x, y, ignore, &mut o8, &mut |x, y| {
                kernel::<f32x8>(x, y).0
            })
        };
        let t16 = if store {
            pass_pairs::<T, 7, _, IGNORE, _>(x, y, ignore, &mut o16, &mut kernel::<f32x16>)
        } else {
            pass_pairs::<T, 7, [f32x16; 7], IGNORE, _>(x, y, ignore, &mut o16, &mut |x, y| {
                kernel::<f32x16>(x, y).0
            })
        };
        [(t8, o8), (t16, o16)]
    }

    /// Equal bits, any NaN equal to any NaN.
    pub(crate) fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
    }

    fn same_totals(a: &Result<Totals<7>, Error>, b: &Result<Totals<7>, Error>) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                a.count == b.count
                    && a.kept == b.kept
                    && a.sums
                        .iter()
                        .zip(&b.sums)
                        .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
            }
            (a, b) => a == b,
        }
    }

    /// The longest pass of a case: five blocks (two pairs and an odd
    /// block) natively; one pair and part of a block in the interpreter,
    /// where every element costs about a millisecond.
    const MAX_LEN: usize = per_build(1300, 1300, 300);
    /// The longest write of a case: a few pairs of vectors in the
    /// interpreter.
    const MAX_WRITE: usize = per_build(300, 300, 100);

    proptest! {
        #![proptest_config(lanes_config(96, 2))]

        /// The sixteen-lane driver gives the eight-lane driver's totals and
        /// stored values bit for bit, at every length around the pairs of
        /// blocks (whole pairs, an odd block, a shorter block, a partial
        /// vector), with `f32` and `u8` targets, with and without an ignore
        /// value, storing or not.
        #[test]
        fn sixteen_lanes_give_the_eight_lane_bits(
            x in prop::collection::vec(value(), 0..MAX_LEN),
            bits in prop::collection::vec(0u8..3, MAX_LEN),
            store in any::<bool>(),
        ) {
            let n = x.len();
            let mask: Vec<u8> = bits[..n].iter().map(|&b| if b == 2 { 7 } else { b }).collect();
            let soft: Vec<f32> = bits[..n].iter().map(|&b| f32::from(b) * 0.5).collect();
            let [(t8, o8), (t16, o16)] = both::<u8, true>(&x, &mask, 7.0, store);
            prop_assert!(same_totals(&t8, &t16), "u8 ignore {t8:?} {t16:?}");
            prop_assert!(same_bits(&o8, &o16));
            let [(t8, o8), (t16, o16)] = both::<f32, false>(&x, &soft, 0.0, store);
            prop_assert!(same_totals(&t8, &t16), "f32 {t8:?} {t16:?}");
            prop_assert!(same_bits(&o8, &o16));
            let [(t8, o8), (t16, o16)] = both::<f32, true>(&x, &soft, 1.0, store);
            prop_assert!(same_totals(&t8, &t16), "f32 ignore {t8:?} {t16:?}");
            prop_assert!(same_bits(&o8, &o16));
            // A u8 mask without an ignore value: 2s are an invalid mask.
            let [(t8, _), (t16, _)] = both::<u8, false>(&x, &mask.iter().map(|&m| m.min(2)).collect::<Vec<_>>(), 0.0, false);
            prop_assert!(same_totals(&t8, &t16), "u8 {t8:?} {t16:?}");
        }

        /// The sixteen-lane write gives the eight-lane write's values, from
        /// `pred` and in place.
        #[test]
        fn sixteen_lane_writes_give_the_eight_lane_bits(
            x in prop::collection::vec(value(), 0..MAX_WRITE),
            bits in prop::collection::vec(0u8..3, MAX_WRITE),
        ) {
            let n = x.len();
            let y: Vec<f32> = bits[..n].iter().map(|&b| f32::from(b) * 0.5).collect();
            let f8 = |x: f32x8, y: f32x8| kernel(x, y).0[1];
            let f16 = |x: f32x16, y: f32x16| kernel(x, y).0[1];
            let (mut g8, mut g16) = (std::vec![0.0f32; n], std::vec![0.0f32; n]);
            write_masked::<f32, true, false, _>(&x, &y, 1.0, &mut g8, &f8);
            write_pairs::<f32, true, false, _>(&x, &y, 1.0, &mut g16, &f16);
            prop_assert!(same_bits(&g8, &g16));
            write_masked::<f32, false, true, _>(&[], &y, 0.0, &mut g8, &f8);
            write_pairs::<f32, false, true, _>(&[], &y, 0.0, &mut g16, &f16);
            prop_assert!(same_bits(&g8, &g16));
        }
    }
}
