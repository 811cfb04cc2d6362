//! Multiclass mode: the softmax over channel planes and every per-class sum,
//! in one pass over an image.
//!
//! # Design
//!
//! Logits are `N·C·S` channel planes (NCHW), labels `N·S` class ids. For one
//! image the kernel walks the pixels in vectors of eight: it loads one vector
//! from each of the `C` planes (the same eight pixels in every plane), takes
//! the lane-wise max, `exp(x_c − max)`, their sum and one exact reciprocal —
//! the softmax is *vertical* across registers, there is no transpose. In the
//! same step it adds, per class `c`, the region terms `p_c`, `y_c`,
//! `|p_c − y_c|` (Dice/Jaccard/Tversky), the smp focal terms of the raw logit
//! (one-vs-rest sigmoid), and the cross-entropy terms `w_y·(lse − x_y)`,
//! `w_y` and, with label smoothing, `Σ_c w_c·(lse − x_c)`.
//!
//! Every term is non-negative. As in [`super::pass`], each term is added in
//! `f32` lanes for a block of [`BLOCK`] vectors, then each lane is widened to
//! `f64` and the eight lanes are folded pairwise in a fixed order into the
//! per-class `f64` totals. The last partial vector is a masked vector.
//! Ignored pixels are masked (their `p` and `y` count as 0, also when the
//! logits are NaN).
//!
//! The per-class block accumulators are arrays of capacity `CC` with `c ≤ CC`
//! classes in use; the const-generic entry points use `CC = C`, so the loops
//! unroll and the accumulators can stay in registers for small `C`. The
//! runtime entry points round `C` up to a capacity in
//! `{4, 8, 16, 32, 64, 128, 256}`; the per-class operations and their order
//! do not depend on `CC`, so both give the same bits.

use super::{BLOCK, LANES, fold};
use crate::accumulate::binary::{FocalTerm, Modulator, clamp_hi, clamp_lo, link, mul0};
use crate::error::Error;
use crate::loss::{focal::FocalSums, region::RegionSums};
use crate::math;
use wide::f32x8;

const ONE: f32x8 = f32x8::ONE;
const ZERO: f32x8 = f32x8::ZERO;

/// The largest class count of the runtime-`C` entry points (their per-class
/// accumulators live on the stack: about 70 KiB at this capacity).
pub const MAX_CLASSES: usize = 256;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
}

/// A class-id element type of a multiclass target: `u8`, `u16`, `i32` or
/// `i64`, read in place.
///
/// An id must lie in `0..C` unless it equals the ignore index; any other
/// value (a negative id, an id `>= C`) is reported as
/// [`Error::ClassIdOutOfRange`].
pub trait ClassId: Copy + sealed::Sealed {
    /// The id as an `i64` (exact for every implementing type).
    #[doc(hidden)]
    fn id(self) -> i64;
}

impl ClassId for u8 {
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
}
impl ClassId for u16 {
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
}
impl ClassId for i32 {
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
}
impl ClassId for i64 {
    #[inline(always)]
    fn id(self) -> i64 {
        self
    }
}

/// The vector `exp` of the softmax: the one place to swap in a faster one.
#[inline(always)]
pub(crate) fn exp_v(x: f32x8) -> f32x8 {
    x.exp()
}

/// Widens eight `f32` lanes and folds them in the fixed pairwise order.
#[inline(always)]
pub(crate) fn widen_fold(v: f32x8) -> f64 {
    fold(v.to_array().map(f64::from))
}

/// The per-class totals of a pass (over one image or a batch).
#[derive(Clone, Copy, Debug)]
pub(crate) struct McTotals<const CC: usize> {
    /// Σp_c, Σy_c, Σ|p_c − y_c| over pixels kept by the region mask.
    pub region: [RegionSums; CC],
    /// smp focal sums per class over pixels kept by the second mask.
    pub focal: [FocalSums; CC],
    /// Σ w_y·(−ln softmax_y).
    pub ce: f64,
    /// Σ Σ_c w_c·(−ln softmax_c) (label smoothing).
    pub ce_smooth: f64,
    /// Σ w_y.
    pub ce_den: f64,
    /// Pixels kept by the region mask.
    pub kept_a: u64,
    /// Pixels kept by the focal / cross-entropy mask.
    pub kept_b: u64,
}

impl<const CC: usize> Default for McTotals<CC> {
    fn default() -> Self {
        McTotals {
            region: [RegionSums::default(); CC],
            focal: [FocalSums::default(); CC],
            ce: 0.0,
            ce_smooth: 0.0,
            ce_den: 0.0,
            kept_a: 0,
            kept_b: 0,
        }
    }
}

impl<const CC: usize> McTotals<CC> {
    /// Adds another partial result.
    pub(crate) fn merge(&mut self, o: &Self) {
        for (a, b) in self.region.iter_mut().zip(&o.region) {
            a.merge(b);
        }
        for (a, b) in self.focal.iter_mut().zip(&o.focal) {
            a.merge(b);
        }
        self.ce += o.ce;
        self.ce_smooth += o.ce_smooth;
        self.ce_den += o.ce_den;
        self.kept_a = self.kept_a.saturating_add(o.kept_a);
        self.kept_b = self.kept_b.saturating_add(o.kept_b);
    }
}

/// The loop-invariant settings of a multiclass pass.
#[derive(Clone, Copy)]
pub(crate) struct Kernel<'a, M> {
    /// Ignore index of the region part (mask A).
    pub ignore_a: Option<i64>,
    /// Ignore index of the focal / cross-entropy part (mask B).
    pub ignore_b: Option<i64>,
    /// Cross-entropy class weights (length C), or empty for all ones.
    pub weights: &'a [f32],
    /// Cross entropy with label smoothing: also sum Σ_c w_c·(−ln softmax_c).
    pub smoothing: bool,
    /// smp focal constants and γ.
    pub focal: FocalTerm,
    pub modulator: M,
    /// Probability clamp of focal from probabilities: `[eps, 1 − eps]`.
    pub eps: f32,
}

/// The block accumulators (`f32` lanes) of one block of vectors.
struct Block<const CC: usize> {
    sp: [f32x8; CC],
    sy: [f32x8; CC],
    sd: [f32x8; CC],
    fpos: [f32x8; CC],
    fneg: [f32x8; CC],
    fmod: [f32x8; CC],
    ce: f32x8,
    ce_smooth: f32x8,
    ce_den: f32x8,
    kept_a: f32x8,
    kept_b: f32x8,
}

impl<const CC: usize> Block<CC> {
    #[inline(always)]
    fn new() -> Self {
        Block {
            sp: [ZERO; CC],
            sy: [ZERO; CC],
            sd: [ZERO; CC],
            fpos: [ZERO; CC],
            fneg: [ZERO; CC],
            fmod: [ZERO; CC],
            ce: ZERO,
            ce_smooth: ZERO,
            ce_den: ZERO,
            kept_a: ZERO,
            kept_b: ZERO,
        }
    }

    /// Widens the block into the totals (only the parts the plan uses).
    #[inline(always)]
    fn widen<const R: bool, const CE: bool, const F: bool>(
        &self,
        c: usize,
        out: &mut McTotals<CC>,
    ) {
        if R {
            let sums = self.sp.iter().zip(&self.sy).zip(&self.sd);
            for (r, ((sp, sy), sd)) in out.region.iter_mut().zip(sums).take(c) {
                r.pred += widen_fold(*sp);
                r.target += widen_fold(*sy);
                r.abs_diff += widen_fold(*sd);
            }
            out.kept_a += widen_fold(self.kept_a) as u64;
        }
        if F {
            let sums = self.fpos.iter().zip(&self.fneg).zip(&self.fmod);
            for (f, ((p, n), m)) in out.focal.iter_mut().zip(sums).take(c) {
                f.pos += widen_fold(*p);
                f.neg += widen_fold(*n);
                f.modulator += widen_fold(*m);
            }
        }
        if CE {
            out.ce += widen_fold(self.ce);
            out.ce_smooth += widen_fold(self.ce_smooth);
            out.ce_den += widen_fold(self.ce_den);
        }
        if CE || F {
            out.kept_b += widen_fold(self.kept_b) as u64;
        }
    }
}

/// One vector of a plane at pixel offset `o`: `n` lanes read, the rest 0.
#[inline(always)]
fn load(plane: &[f32], o: usize, n: usize) -> f32x8 {
    if n == LANES {
        match plane
            .get(o..o + LANES)
            .and_then(|s| <&[f32; LANES]>::try_from(s).ok())
        {
            Some(a) => f32x8::new(*a),
            None => ZERO,
        }
    } else {
        let mut a = [0.0f32; LANES];
        if let Some(src) = plane.get(o..o + n) {
            a.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
        }
        f32x8::new(a)
    }
}

impl<M: Modulator> Kernel<'_, M> {
    /// Adds one image (`c` planes of `s` pixels, `s` labels) into `out`.
    ///
    /// `R`: region sums (mask A); `CE`: cross-entropy sums (mask B, needs
    /// `LOGITS`); `F`: focal sums (mask B).
    #[inline(always)]
    pub(crate) fn image<
        L: ClassId,
        const CC: usize,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        s: usize,
        img: &[f32],
        labels: &[L],
        out: &mut McTotals<CC>,
    ) -> Result<(), Error> {
        let mut planes: [&[f32]; CC] = [&[]; CC];
        for (d, p) in planes.iter_mut().zip(img.chunks_exact(s.max(1))).take(c) {
            *d = p;
        }
        let mut wv = [ONE; CC];
        for (d, w) in wv.iter_mut().zip(self.weights) {
            *d = f32x8::splat(*w);
        }
        let mut kf = [ZERO; CC];
        for (k, d) in kf.iter_mut().enumerate() {
            *d = f32x8::splat(k as f32);
        }
        let full = s / LANES;
        let tail = s % LANES;
        let mut v = 0;
        while v < full {
            let end = (v + BLOCK).min(full);
            let mut b = Block::<CC>::new();
            for o in (v * LANES..end * LANES).step_by(LANES) {
                self.step::<L, CC, LOGITS, R, CE, F>(c, &planes, &wv, &kf, labels, o, LANES, &mut b)?;
            }
            b.widen::<R, CE, F>(c, out);
            v = end;
        }
        if tail > 0 {
            let mut b = Block::<CC>::new();
            self.step::<L, CC, LOGITS, R, CE, F>(c, &planes, &wv, &kf, labels, full * LANES, tail, &mut b)?;
            b.widen::<R, CE, F>(c, out);
        }
        Ok(())
    }

    /// Eight pixels (`n` of them real) at offset `o`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn step<
        L: ClassId,
        const CC: usize,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        planes: &[&[f32]; CC],
        wv: &[f32x8; CC],
        kf: &[f32x8; CC],
        labels: &[L],
        o: usize,
        n: usize,
        b: &mut Block<CC>,
    ) -> Result<(), Error> {
        // Labels: the class id as f32 (−1 when out of range and ignored),
        // and the two keep masks as 0/1 lanes.
        let mut lab = [-1.0f32; LANES];
        let mut ka = [0.0f32; LANES];
        let mut kb = [0.0f32; LANES];
        let ids = labels.get(o..o + n).unwrap_or(&[]);
        for (((t, l), a), bb) in ids.iter().zip(&mut lab).zip(&mut ka).zip(&mut kb) {
            let id = t.id();
            let ia = R && self.ignore_a == Some(id);
            let ib = (CE || F) && self.ignore_b == Some(id);
            let in_range = id >= 0 && (id as u64) < c as u64;
            if in_range {
                *l = id as f32;
            } else if !((!R || ia) && (!(CE || F) || ib)) {
                return Err(Error::ClassIdOutOfRange { id, classes: c });
            }
            *a = if ia { 0.0 } else { 1.0 };
            *bb = if ib { 0.0 } else { 1.0 };
        }
        let lab = f32x8::new(lab);
        let keep_a = f32x8::new(ka).simd_ne(ZERO);
        let keep_b = f32x8::new(kb).simd_ne(ZERO);

        let mut x = [ZERO; CC];
        for (d, p) in x.iter_mut().zip(planes).take(c) {
            *d = load(p, o, n);
        }

        // The vertical softmax: max, exp, sum, one exact reciprocal.
        let mut m = ZERO;
        let mut sum = ONE;
        let mut e = [ZERO; CC];
        if LOGITS && (R || CE) {
            m = x.iter().take(c).fold(f32x8::splat(f32::NEG_INFINITY), |m, v| m.max(*v));
            sum = ZERO;
            for (d, v) in e.iter_mut().zip(&x).take(c) {
                *d = exp_v(*v - m);
                sum += *d;
            }
        }

        if R {
            let inv = ONE / sum;
            let it = b.sp.iter_mut().zip(&mut b.sy).zip(&mut b.sd);
            for (k, ((sp, sy), sd)) in it.enumerate().take(c) {
                let p = if LOGITS {
                    e.get(k).copied().unwrap_or(ZERO) * inv
                } else {
                    x.get(k).copied().unwrap_or(ZERO)
                };
                let eq = lab.simd_eq(kf.get(k).copied().unwrap_or(ZERO));
                let p = p & keep_a;
                let y = ONE & (eq & keep_a);
                *sp += p;
                *sy += y;
                *sd += (p - y).abs();
            }
            b.kept_a += ONE & keep_a;
        }

        if CE {
            let lse = m + math::ln(sum);
            let mut xy = ZERO;
            let mut wy = ZERO;
            for ((xk, wk), k) in x.iter().zip(wv).zip(kf).take(c) {
                let eq = lab.simd_eq(*k);
                xy = eq.select(*xk, xy);
                wy = eq.select(*wk, wy);
            }
            b.ce += mul0(wy, lse - xy) & keep_b;
            b.ce_den += wy & keep_b;
            if self.smoothing {
                let mut sm = ZERO;
                for (xk, wk) in x.iter().zip(wv).take(c) {
                    sm += mul0(*wk, lse - *xk);
                }
                b.ce_smooth += sm & keep_b;
            }
        }

        if F {
            let (lo, hi) = (f32x8::splat(self.eps), f32x8::splat(1.0 - self.eps));
            let it = b.fpos.iter_mut().zip(&mut b.fneg).zip(&mut b.fmod);
            for (((fp, fneg), fm), (xk, k)) in it.zip(x.iter().zip(kf)).take(c) {
                let xk = if LOGITS {
                    *xk
                } else {
                    math::ln(clamp_hi(clamp_lo(*xk, lo), hi))
                };
                let y = ONE & lab.simd_eq(*k);
                let l = link::<true>(xk);
                let logpt = self.focal.logpt::<true>(&l, y);
                let [pos, neg, md] = self.focal.terms(self.modulator, logpt, y);
                *fp += pos & keep_b;
                *fneg += neg & keep_b;
                *fm += md & keep_b;
            }
        }
        if CE || F {
            b.kept_b += ONE & keep_b;
        }
        Ok(())
    }
}
