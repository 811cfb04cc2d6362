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
//! same step it adds, per class `c`, the region terms `p_c·y_c`,
//! `p_c·(1 − y_c)`, `(1 − p_c)·y_c` (Dice/Jaccard/Tversky; the target is
//! one class, so only the label's `1 − p` is needed, and it is
//! `Σ_{c≠label} e_c / Σe`: no cancellation however confident the pixel),
//! the smp focal terms of the raw logit (one-vs-rest sigmoid), and the
//! cross-entropy terms `w_y·(−ln softmax_y)`, `w_y` and, with label
//! smoothing, `Σ_c w_c·(−ln softmax_c)` (summed pairwise over the classes),
//! with `−ln softmax_c = (max − x_c) + ln Σe`. For the cross entropy the
//! exps of all classes but the first maximum are also summed apart
//! (`rest`), so that `ln Σe = ln(1 + rest)` keeps a confident pixel's tiny
//! loss accurate. (From probabilities the region terms are `min(p, y)`,
//! `max(p − y, 0)`, `max(y − p, 0)`, as in the binary kernels.)
//!
//! Every term is non-negative. As in `accumulate::pass`, each term is added in
//! `f32` lanes for a block of `BLOCK` vectors, then each lane is widened to
//! `f64` and the eight lanes are folded pairwise in a fixed order into the
//! per-class `f64` totals. The last partial vector is a masked vector.
//! Ignored pixels are masked (their `p` and `y` count as 0, also when the
//! logits are NaN).
//!
//! On x86 (and under `--cfg segloss_lanes16`) the pass runs on `W` =
//! `f32x16`: two consecutive blocks side by side (`Pixels`, `walk`),
//! lanes 0–7 vector `i` of one block and lanes 8–15 vector `i` of the next,
//! as `accumulate/pairs.rs` does for the binary kernels. Each half's block
//! sums are the eight-lane pass's, widened in the same order, so the bits do
//! not depend on the width (a proptest here compares the two, and the
//! gradient pass in `backward/multiclass.rs` the same way). With AVX-512 it
//! is one register per class; on SSE2 and AVX2 two independent chains.
//!
//! The per-class block accumulators are arrays of capacity `CC` with `c ≤ CC`
//! classes in use. When `c == CC ≤ 16` the loops run to the constant `CC`, so
//! they unroll and the accumulators can stay in registers; the const-generic
//! entry points use `CC = C`, the runtime entry points round `C` up to a
//! capacity in `{4, 8, 16, MAX_CLASSES}` (exact, hence unrolled, for C = 4, 8,
//! 16). The per-class operations and their order do not depend on `CC`, so
//! both give the same bits.
//!
//! Labels are decoded once per block of `BLOCK·LANES` pixels (the only code
//! that knows the id type, which also validates the ids); everything else
//! takes the ids as an `Ids` slice of any id type. So the kernels are
//! compiled once, in this crate, and shared by `u8`, `u16`, `i32` and `i64`
//! labels: the public entry points, generic over [`ClassId`], only wrap the
//! slice.

use super::pairs::halves;
use super::vector::Vector;
use super::{BLOCK, LANES, Target, fold, widen_u8};
use crate::accumulate::binary::{
    FocalTerm, Modulator, clamp_hi, clamp_lo, link, mul0, prob_region_terms,
};
use crate::error::Error;
use crate::loss::{focal::FocalSums, region::RegionSums};
use crate::math::{self, Lanes};
use core::ops::{BitAnd, BitOr, BitOrAssign, Not};
use wide::{f32x8, f32x16, i32x8, u16x8};

const ZERO: f32x8 = f32x8::ZERO;

/// The vector type of the multiclass statistics pass on this target: as
/// the binary kernels' [`super::V`], `f32x16` on x86 (and under `--cfg
/// segloss_lanes16`), two blocks of pixels side by side; `f32x8` elsewhere.
#[cfg(any(target_feature = "sse2", segloss_lanes16))]
pub(crate) type W = f32x16;

/// The vector type of the multiclass statistics pass on this target (see
/// the x86 version).
#[cfg(not(any(target_feature = "sse2", segloss_lanes16)))]
pub(crate) type W = f32x8;

/// The vector type of the multiclass gradient pass (`backward/multiclass.rs`)
/// on this target: `f32x16` only where it is one register (AVX-512, or
/// under `--cfg segloss_lanes16`). With SSE2 and AVX2 its halves measured
/// 10–20% slower than `f32x8` there (the pass holds the inputs, the exps,
/// the probabilities and the gradients of every class at once: twice the
/// registers), where the statistics pass gains (BENCHMARKS.md).
#[cfg(any(target_feature = "avx512f", segloss_lanes16))]
pub(crate) type WG = f32x16;

/// The vector type of the multiclass gradient pass on this target (see the
/// AVX-512 version).
#[cfg(not(any(target_feature = "avx512f", segloss_lanes16)))]
pub(crate) type WG = f32x8;

/// A vector of the multiclass pass: [`Self::BLOCKS`] blocks of `BLOCK`
/// vectors of eight pixels side by side, as `accumulate/pairs.rs` does for
/// the binary kernels. Lanes `8h..8h + 8` hold vector `i` of block `h` of a
/// span, so each half's `f32` block sums are exactly the eight-lane pass's,
/// widened into the `f64` totals in the same order (block 0's, then block
/// 1's): the same bits whatever the width.
pub(crate) trait Pixels:
    Vector<Mask = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitOrAssign
    + Not<Output = Self>
{
    /// Blocks side by side: 1 or 2.
    const BLOCKS: usize;
    /// The decoded labels of the blocks of a span.
    type Decs: AsRef<[Decoded]> + AsMut<[Decoded]>;
    /// [`Self::BLOCKS`] empty decoders.
    fn decs() -> Self::Decs;
    /// The vector whose half `h` is `part(h)`.
    fn join(part: impl FnMut(usize) -> f32x8) -> Self;
    /// Half `h` (`h < BLOCKS`).
    fn part(self, h: usize) -> f32x8;
    /// The target's raw lanewise max (`wide`'s `fast_max`: one
    /// instruction, where `max` takes three on x86 to pick the non-NaN
    /// operand). What a NaN operand gives differs by target: see
    /// [`row_max`].
    fn fast_max(self, rhs: Self) -> Self;
}

impl Pixels for f32x8 {
    const BLOCKS: usize = 1;
    type Decs = [Decoded; 1];
    #[inline(always)]
    fn decs() -> [Decoded; 1] {
        [Decoded::new()]
    }
    #[inline(always)]
    fn join(mut part: impl FnMut(usize) -> f32x8) -> Self {
        part(0)
    }
    #[inline(always)]
    fn part(self, _: usize) -> f32x8 {
        self
    }
    #[inline(always)]
    fn fast_max(self, rhs: Self) -> Self {
        f32x8::fast_max(self, rhs)
    }
}

impl Pixels for f32x16 {
    const BLOCKS: usize = 2;
    type Decs = [Decoded; 2];
    #[inline(always)]
    fn decs() -> [Decoded; 2] {
        [Decoded::new(), Decoded::new()]
    }
    #[inline(always)]
    fn join(mut part: impl FnMut(usize) -> f32x8) -> Self {
        let (a, b) = (part(0), part(1));
        <f32 as Target>::lanes16(&a.to_array(), &b.to_array())
    }
    #[inline(always)]
    fn part(self, h: usize) -> f32x8 {
        let (a, b) = halves(self);
        if h == 0 { a } else { b }
    }
    #[inline(always)]
    fn fast_max(self, rhs: Self) -> Self {
        f32x16::fast_max(self, rhs)
    }
}

/// The softmax's maximum `m` of the first `c` classes of a pixel vector
/// (−∞ for none), one raw max per class after the first. A NaN logit may
/// or may not make `m` NaN, depending on the target and the class order,
/// and either way gives the same result: that class's `x − m` is NaN, so
/// its exp and the pixel's sum, `rest` and probabilities are NaN whatever
/// `m` is (and a NaN `m` makes every one NaN). Without NaN it is the
/// maximum on every target, up to the sign of a zero, which `x − m` and
/// `x == m` do not see.
#[inline(always)]
pub(crate) fn row_max<const CC: usize, P: Pixels>(x: &[P; CC], c: usize) -> P {
    let mut it = x.iter().take(c);
    let first = it.next().copied().unwrap_or(P::splat(f32::NEG_INFINITY));
    it.fold(first, |m, v| m.fast_max(*v))
}

/// The largest class count of the runtime-`C` entry points. Their per-class
/// arrays live on the stack, sized by this capacity for C > 16: up to about
/// 0.4 MiB optimised and 1.1 MiB unoptimised on x86-64, more than the 1 MiB
/// a wasm module gets by default (see docs/targets.md "Stack").
pub const MAX_CLASSES: usize = 256;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}

    /// A class-id slice of any [`super::ClassId`] type (public in a private
    /// module: the trait can return it, callers cannot name it).
    #[derive(Clone, Copy, Debug)]
    pub enum Ids<'a> {
        U8(&'a [u8]),
        U16(&'a [u16]),
        I32(&'a [i32]),
        I64(&'a [i64]),
    }
}
pub(crate) use sealed::Ids;

impl<'a> Ids<'a> {
    /// The number of ids.
    pub(crate) fn len(self) -> usize {
        match self {
            Ids::U8(s) => s.len(),
            Ids::U16(s) => s.len(),
            Ids::I32(s) => s.len(),
            Ids::I64(s) => s.len(),
        }
    }

    /// The ids `a..b` (empty if out of range).
    fn sub(self, a: usize, b: usize) -> Ids<'a> {
        match self {
            Ids::U8(s) => Ids::U8(s.get(a..b).unwrap_or_default()),
            Ids::U16(s) => Ids::U16(s.get(a..b).unwrap_or_default()),
            Ids::I32(s) => Ids::I32(s.get(a..b).unwrap_or_default()),
            Ids::I64(s) => Ids::I64(s.get(a..b).unwrap_or_default()),
        }
    }

    /// As `slice::chunks(n)` (none for `n == 0`).
    pub(crate) fn chunks(self, n: usize) -> impl Iterator<Item = Ids<'a>> {
        let len = self.len();
        let end = if n == 0 { 0 } else { len };
        (0..end)
            .step_by(n.max(1))
            .map(move |a| self.sub(a, a.saturating_add(n).min(len)))
    }

    /// As `slice::chunks_exact(n)` (none for `n == 0`).
    pub(crate) fn chunks_exact(self, n: usize) -> impl Iterator<Item = Ids<'a>> {
        let end = self.len().checked_div(n).unwrap_or(0).saturating_mul(n);
        (0..end)
            .step_by(n.max(1))
            .map(move |a| self.sub(a, a.saturating_add(n)))
    }
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
    /// Eight ids as `i32` lanes, or `None` if one does not fit in `i32`
    /// (then the scalar decoding handles the chunk).
    #[doc(hidden)]
    fn lanes(chunk: &[Self; LANES]) -> Option<i32x8>;
    /// The slice as the kernels take it.
    #[doc(hidden)]
    fn ids(s: &[Self]) -> Ids<'_>;
    /// Whether an id of this type can equal `v` (PyTorch's default
    /// `ignore_index = −100` is no `u8` or `u16` id).
    #[doc(hidden)]
    fn holds(v: i64) -> bool;
}

impl ClassId for u8 {
    fn ids(s: &[u8]) -> Ids<'_> {
        Ids::U8(s)
    }
    fn holds(v: i64) -> bool {
        u8::try_from(v).is_ok()
    }
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn lanes(chunk: &[u8; LANES]) -> Option<i32x8> {
        Some(widen_u8(chunk))
    }
}
impl ClassId for u16 {
    fn ids(s: &[u16]) -> Ids<'_> {
        Ids::U16(s)
    }
    fn holds(v: i64) -> bool {
        u16::try_from(v).is_ok()
    }
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn lanes(chunk: &[u16; LANES]) -> Option<i32x8> {
        Some(i32x8::from_u16x8(u16x8::new(*chunk)))
    }
}
impl ClassId for i32 {
    fn ids(s: &[i32]) -> Ids<'_> {
        Ids::I32(s)
    }
    fn holds(v: i64) -> bool {
        i32::try_from(v).is_ok()
    }
    #[inline(always)]
    fn id(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn lanes(chunk: &[i32; LANES]) -> Option<i32x8> {
        Some(i32x8::new(*chunk))
    }
}
impl ClassId for i64 {
    fn ids(s: &[i64]) -> Ids<'_> {
        Ids::I64(s)
    }
    fn holds(_: i64) -> bool {
        true
    }
    #[inline(always)]
    fn id(self) -> i64 {
        self
    }
    #[inline(always)]
    fn lanes(chunk: &[i64; LANES]) -> Option<i32x8> {
        let mut v = [0i32; LANES];
        for (d, s) in v.iter_mut().zip(chunk) {
            *d = i32::try_from(*s).ok()?;
        }
        Some(i32x8::new(v))
    }
}

/// The vector `exp` of the softmax: the one place to swap in a faster one.
/// Its argument is always `x − max ≤ 0` (or NaN), so the math branch's
/// `exp_nonpos_clamped` fits as is (measured: 1.7× at C = 4, 2.6× at C = 16 on SSE2).
#[inline(always)]
pub(crate) fn exp_v<L: Lanes>(x: L) -> L {
    math::exp_nonpos(x)
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
    /// The power of two every weight is multiplied by in the lanes (1
    /// unless a weight is huge: see `multiclass::Setup`).
    pub weight_scale: f32,
    /// Cross entropy with label smoothing: also sum Σ_c w_c·(−ln softmax_c).
    pub smoothing: bool,
    /// smp focal constants (as lanes: [`FocalTerm::lanes`]) and γ.
    pub focal: FocalTerm<f32>,
    pub modulator: M,
    /// Probability clamp of focal from probabilities: `[eps, 1 − eps]`.
    pub eps: f32,
}

/// The block accumulators (`f32` lanes) of one span of blocks.
struct Block<const CC: usize, W> {
    sp: [W; CC],
    sy: [W; CC],
    sd: [W; CC],
    fpos: [W; CC],
    fneg: [W; CC],
    fmod: [W; CC],
    ce: W,
    ce_smooth: W,
    ce_den: W,
    kept_a: W,
    kept_b: W,
}

impl<const CC: usize, W: Pixels> Block<CC, W> {
    #[inline(always)]
    fn new() -> Self {
        let zero = W::ZERO;
        Block {
            sp: [zero; CC],
            sy: [zero; CC],
            sd: [zero; CC],
            fpos: [zero; CC],
            fneg: [zero; CC],
            fmod: [zero; CC],
            ce: zero,
            ce_smooth: zero,
            ce_den: zero,
            kept_a: zero,
            kept_b: zero,
        }
    }

    /// Widens the span's first `blocks` blocks into the totals (only the
    /// parts the plan uses), each in turn. `unweighted`: the cross
    /// entropy's weight sum is the kept count (its pass does not add it up
    /// twice).
    #[inline(always)]
    fn widen<const R: bool, const CE: bool, const F: bool>(
        &mut self,
        c: usize,
        blocks: usize,
        unweighted: bool,
        out: &mut McTotals<CC>,
    ) {
        for h in 0..blocks.min(W::BLOCKS) {
            self.widen_into::<R, CE, F>(c, h, unweighted, out);
        }
        self.reset::<R, CE, F>(c);
    }

    /// Zeroes the accumulators `widen` read (only the `c` classes in use).
    #[inline(always)]
    fn reset<const R: bool, const CE: bool, const F: bool>(&mut self, c: usize) {
        let zero = W::ZERO;
        if R {
            for a in [&mut self.sp, &mut self.sy, &mut self.sd] {
                a.iter_mut().take(c).for_each(|v| *v = zero);
            }
            self.kept_a = zero;
        }
        if F {
            for a in [&mut self.fpos, &mut self.fneg, &mut self.fmod] {
                a.iter_mut().take(c).for_each(|v| *v = zero);
            }
        }
        self.ce = zero;
        self.ce_smooth = zero;
        self.ce_den = zero;
        self.kept_b = zero;
    }

    /// Widens block `h` of the span (half `h` of every accumulator).
    #[inline(always)]
    fn widen_into<const R: bool, const CE: bool, const F: bool>(
        &self,
        c: usize,
        h: usize,
        unweighted: bool,
        out: &mut McTotals<CC>,
    ) {
        let wf = |v: &W| widen_fold(v.part(h));
        if R {
            let sums = self.sp.iter().zip(&self.sy).zip(&self.sd);
            for (r, ((sp, sy), sd)) in out.region.iter_mut().zip(sums).take(c) {
                r.intersection += wf(sp);
                r.false_pos += wf(sy);
                r.false_neg += wf(sd);
            }
            out.kept_a = out.kept_a.saturating_add(wf(&self.kept_a) as u64);
        }
        if F {
            let sums = self.fpos.iter().zip(&self.fneg).zip(&self.fmod);
            for (f, ((p, n), m)) in out.focal.iter_mut().zip(sums).take(c) {
                f.pos += wf(p);
                f.neg += wf(n);
                f.modulator += wf(m);
            }
        }
        if CE {
            out.ce += wf(&self.ce);
            out.ce_smooth += wf(&self.ce_smooth);
            out.ce_den += wf(if unweighted {
                &self.kept_b
            } else {
                &self.ce_den
            });
        }
        if CE || F {
            out.kept_b = out.kept_b.saturating_add(wf(&self.kept_b) as u64);
        }
    }
}

/// The labels of one block, decoded once per block (the only code that
/// knows the id type): the id as `f32` lanes (−1 for an ignored id
/// outside `0..C`) and the keep masks of the region part (A) and of the
/// focal / cross-entropy part (B). Lanes past the end are dropped by both.
pub(crate) struct Decoded {
    lab: [f32x8; BLOCK],
    keep_a: [f32x8; BLOCK],
    keep_b: [f32x8; BLOCK],
}

impl Decoded {
    pub(crate) fn new() -> Self {
        Decoded {
            lab: [ZERO; BLOCK],
            keep_a: [ZERO; BLOCK],
            keep_b: [ZERO; BLOCK],
        }
    }

    /// Decodes up to `BLOCK·LANES` ids; `use_a` / `use_b` say which parts
    /// are computed (an id outside `0..C` must be ignored by every one).
    /// Out of line: one copy per id type, called once per block.
    #[inline(never)]
    pub(crate) fn decode(
        &mut self,
        ids: Ids<'_>,
        c: usize,
        ignore: (Option<i64>, Option<i64>),
        use_a: bool,
        use_b: bool,
    ) -> Result<(), Error> {
        match ids {
            Ids::U8(s) => self.decode_typed(s, c, ignore, use_a, use_b),
            Ids::U16(s) => self.decode_typed(s, c, ignore, use_a, use_b),
            Ids::I32(s) => self.decode_typed(s, c, ignore, use_a, use_b),
            Ids::I64(s) => self.decode_typed(s, c, ignore, use_a, use_b),
        }
    }

    #[inline(always)]
    fn decode_typed<L: ClassId>(
        &mut self,
        ids: &[L],
        c: usize,
        ignore: (Option<i64>, Option<i64>),
        use_a: bool,
        use_b: bool,
    ) -> Result<(), Error> {
        // An ignore value no id of this type can equal ignores nothing: the
        // masks are then all-ones without arithmetic (`IdRules::lanes`).
        let held = |v: Option<i64>| v.filter(|v| L::holds(*v));
        let rules = IdRules::new(c, (held(ignore.0), held(ignore.1)), use_a, use_b);
        if let Ok(whole) = <&[[L; LANES]; BLOCK]>::try_from(ids.as_chunks::<LANES>().0)
            && ids.len() == BLOCK * LANES
            && self.whole(whole, &rules)
        {
            return Ok(());
        }
        let it = self
            .lab
            .iter_mut()
            .zip(&mut self.keep_a)
            .zip(&mut self.keep_b);
        let mut chunks = ids.chunks(LANES);
        for ((lab, ka), kb) in it {
            (*lab, *ka, *kb) = rules.chunk(chunks.next().unwrap_or(&[]))?;
        }
        Ok(())
    }

    /// A whole block, every chunk in vector registers and the rules checked
    /// once for the block: `false` if an id is to be reported (or does not
    /// fit in `i32`), and then the block is decoded again chunk by chunk,
    /// which names the first such id. The same bits as [`IdRules::chunk`].
    #[inline(always)]
    fn whole<L: ClassId>(&mut self, ids: &[[L; LANES]; BLOCK], rules: &IdRules) -> bool {
        let it = self
            .lab
            .iter_mut()
            .zip(&mut self.keep_a)
            .zip(&mut self.keep_b);
        let mut bad = i32x8::ZERO;
        for (((lab, ka), kb), chunk) in it.zip(ids) {
            let Some(v) = L::lanes(chunk) else {
                return false;
            };
            let (l, a, b, wrong) = rules.lanes(v);
            (*lab, *ka, *kb) = (l, a, b);
            bad |= wrong;
        }
        !bad.any()
    }

    /// The decoded vectors in order: `(label, keep_a, keep_b)` (used by the
    /// backward pass, which walks the same blocks).
    #[inline(always)]
    pub(crate) fn vectors(&self) -> impl Iterator<Item = (f32x8, f32x8, f32x8)> + '_ {
        self.lab
            .iter()
            .zip(&self.keep_a)
            .zip(&self.keep_b)
            .map(|((l, a), b)| (*l, *a, *b))
    }
}

/// The per-id rules of [`Decoded::decode`]: an id in `0..C` is its class;
/// an id equal to a computed part's ignore value drops the pixel from that
/// part (and is class −1 if outside `0..C`); any other id is an error.
struct IdRules {
    c: usize,
    ignore: (Option<i64>, Option<i64>),
    use_a: bool,
    use_b: bool,
    /// `C` and the computed parts' ignore values as `i32` lanes (an ignore
    /// value outside `i32` can equal no id of the vector path).
    classes: i32x8,
    ignore_a: Option<i32x8>,
    ignore_b: Option<i32x8>,
    /// A part is computed and neither has an ignore value: every id is
    /// valid or reported, so the label lanes are the ids.
    plain: bool,
}

impl IdRules {
    #[inline(always)]
    fn new(c: usize, ignore: (Option<i64>, Option<i64>), use_a: bool, use_b: bool) -> Self {
        let lane = |v: Option<i64>, used: bool| {
            v.filter(|_| used)
                .and_then(|v| i32::try_from(v).ok())
                .map(i32x8::splat)
        };
        let (ignore_a, ignore_b) = (lane(ignore.0, use_a), lane(ignore.1, use_b));
        IdRules {
            c,
            ignore,
            use_a,
            use_b,
            classes: i32x8::splat(i32::try_from(c).unwrap_or(i32::MAX)),
            ignore_a,
            ignore_b,
            plain: (use_a || use_b) && ignore_a.is_none() && ignore_b.is_none(),
        }
    }

    /// `(label, keep_a, keep_b)` of up to eight ids; lanes past the end are
    /// dropped by both masks. Eight ids that fit in `i32`, all valid or
    /// ignored, are decoded in vector registers; a partial chunk, or one
    /// with an id to report, lane by lane.
    #[inline(always)]
    fn chunk<L: ClassId>(&self, chunk: &[L]) -> Result<(f32x8, f32x8, f32x8), Error> {
        let fast = <&[L; LANES]>::try_from(chunk)
            .ok()
            .and_then(L::lanes)
            .and_then(|v| self.vector(v));
        match fast {
            Some(d) => Ok(d),
            None => self.scalar(chunk),
        }
    }

    /// The rules lane by lane.
    #[inline(always)]
    fn scalar<L: ClassId>(&self, chunk: &[L]) -> Result<(f32x8, f32x8, f32x8), Error> {
        let (c, ignore, use_a, use_b) = (self.c, self.ignore, self.use_a, self.use_b);
        let mut l = [-1.0f32; LANES];
        let mut a = [0.0f32; LANES];
        let mut b = [0.0f32; LANES];
        for (((t, l), a), b) in chunk.iter().zip(&mut l).zip(&mut a).zip(&mut b) {
            let id = t.id();
            let ia = use_a && ignore.0 == Some(id);
            let ib = use_b && ignore.1 == Some(id);
            if id >= 0 && (id as u64) < c as u64 {
                *l = id as f32;
            } else if (use_a && !ia) || (use_b && !ib) {
                return Err(Error::ClassIdOutOfRange { id, classes: c });
            }
            *a = if ia { 0.0 } else { 1.0 };
            *b = if ib { 0.0 } else { 1.0 };
        }
        Ok((
            f32x8::new(l),
            f32x8::new(a).simd_ne(ZERO),
            f32x8::new(b).simd_ne(ZERO),
        ))
    }

    /// The rules on eight `i32` lanes, or `None` when an id is to be
    /// reported. The same bits as [`Self::scalar`]: ids in `0..C` (C ≤ 256)
    /// are exact in `f32`, and the keep masks are all-ones lanes either way.
    #[inline(always)]
    fn vector(&self, ids: i32x8) -> Option<(f32x8, f32x8, f32x8)> {
        let (lab, a, b, wrong) = self.lanes(ids);
        if wrong.any() {
            return None;
        }
        Some((lab, a, b))
    }

    /// [`Self::vector`] unchecked: `(label, keep_a, keep_b, wrong)`, with
    /// `wrong` the lanes of an id to report (the rest is then unused).
    #[inline(always)]
    fn lanes(&self, ids: i32x8) -> (f32x8, f32x8, f32x8, i32x8) {
        let none = i32x8::ZERO;
        let valid = ids.simd_gt(i32x8::splat(-1)) & ids.simd_lt(self.classes);
        let ia = self.ignore_a.map_or(none, |v| ids.simd_eq(v));
        let ib = self.ignore_b.map_or(none, |v| ids.simd_eq(v));
        let need_a = if self.use_a { !ia } else { none };
        let need_b = if self.use_b { !ib } else { none };
        let wrong = !valid & (need_a | need_b);
        // Without an ignore value every lane is kept, and where a part is
        // computed, every id that is not wrong is valid.
        let all = ZERO.simd_eq(ZERO);
        let keep = |v: Option<i32x8>, m: i32x8| match v {
            Some(_) => f32x8::from_i32x8(m).simd_eq(ZERO),
            None => all,
        };
        let lab = if self.plain {
            f32x8::from_i32x8(ids)
        } else {
            f32x8::from_i32x8(valid.select(ids, i32x8::splat(-1)))
        };
        (lab, keep(self.ignore_a, ia), keep(self.ignore_b, ib), wrong)
    }
}

/// ln(1 + r) for the softmax's `rest` (0 ≤ r ≤ C − 1, or NaN, which
/// propagates), with one polynomial: [`math::log1p_unit`] of `r` itself up
/// to 1 (full relative accuracy for a confident pixel's tiny `r`); above,
/// `1 + r = 2^k·(1 + f)` with `f ∈ [0, 1)` exact (the exponent split of
/// `math::ln`), and `k·ln 2 + log1p_unit(f)`, where the rounding of `1 + r`
/// is a relative error of 2^-24 in a result of at least ln 2. (It replaced a
/// select between `log1p_unit(rest)` and `ln(sum)`, which evaluated both.)
// Float lane arithmetic on a generic vector (clippy cannot tell it from
// integer arithmetic): nothing here can overflow.
#[allow(clippy::arithmetic_side_effects)]
#[inline(always)]
fn ln_one_plus<L: Lanes>(r: L) -> L {
    const TWO_23: f32 = 8_388_608.0;
    let one = L::splat(1.0);
    let big = r.gt(one);
    let u = one + r;
    // 2^23 + the biased exponent, minus (2^23 + bias): k (u ≥ 2 here).
    let k = u.bits_shr(23).bits_or(0x4B00_0000) - L::splat(TWO_23 + 127.0);
    let f = u.bits_and(0x007F_FFFF).bits_or(0x3F80_0000) - one;
    let k = L::select(big, k, L::splat(0.0));
    k * L::splat(core::f32::consts::LN_2) + math::log1p_unit(L::select(big, f, r))
}

/// The rounding error of `s = a − b` (`s` as computed in `f32`): `a − b − s`
/// exactly, for finite operands (Knuth's TwoSum with `−b`; plain `+`/`−`, no
/// FMA, so the same bits on every target).
// Float lane arithmetic on a generic vector (clippy cannot tell it from
// integer arithmetic): nothing here can overflow.
#[allow(clippy::arithmetic_side_effects)]
#[inline(always)]
fn sub_err<L: Lanes>(a: L, b: L, s: L) -> L {
    let bb = s - a;
    (a - (s - bb)) - (b + bb)
}

/// The sum of `v` by pairwise halving, in a fixed order: `⌈log2 n⌉`
/// roundings per element instead of `n − 1`.
// Float lane arithmetic on a generic vector (clippy cannot tell it from
// integer arithmetic): nothing here can overflow.
#[allow(clippy::arithmetic_side_effects)]
#[inline(always)]
fn pairwise_sum<L: Vector>(v: &mut [L]) -> L {
    let mut n = v.len();
    while n > 1 {
        // The upper half (rounded down) is added onto the lower one.
        let keep = n.div_ceil(2);
        if let Some((lo, hi)) = v.get_mut(..n).and_then(|s| s.split_at_mut_checked(keep)) {
            for (a, b) in lo.iter_mut().zip(hi.iter()) {
                *a += *b;
            }
        }
        n = keep;
    }
    v.first().copied().unwrap_or(L::ZERO)
}

/// Marks, walking a pixel vector's classes in order, the first class whose
/// logit is the maximum `m` (the lowest on a tie): the class whose exp is
/// left out of the softmax's `rest` (`e^0 = 1` exactly).
pub(crate) struct FirstMax<L> {
    m: L,
    taken: L,
}

impl<L: Pixels> FirstMax<L> {
    #[inline(always)]
    pub(crate) fn new(m: L) -> Self {
        FirstMax { m, taken: L::ZERO }
    }

    /// The lanes where class `x` (the next in order) is the first maximum.
    #[inline(always)]
    pub(crate) fn next(&mut self, x: L) -> L {
        let first = x.simd_eq(self.m) & !self.taken;
        self.taken |= first;
        first
    }
}

/// `p − y` of each class of a softmax, in class order, without losing
/// `1 − p` of the dominant class: there (the first maximum where
/// `rest < 1`, so `p > ½`) it is `(1 − y) − rest/sum`, as
/// `accumulate::binary::excess` does with σ(−x). `p` itself rounds to 1
/// when `rest/sum` < 2^-25, and `p − y` would then be 0 against a target
/// of 1: the region sums lose `1 − p`, and the gradient takes the kink's
/// `equal` slope instead of `below` (found by `multiclass_backward`, seed
/// `tversky-saturated-softmax`: 4× too small). The backward's side of the
/// kink comes from here (the forward's sums need only the label's `1 − p`).
pub(crate) struct Excess<L> {
    first: FirstMax<L>,
    dominant: L,
    q_max: L,
}

// Float lane arithmetic on a generic vector (clippy cannot tell it from
// integer arithmetic): nothing here can overflow.
#[allow(clippy::arithmetic_side_effects)]
impl<L: Pixels> Excess<L> {
    /// For the maximum `m`, `rest` (Σ of the exps but the first maximum's)
    /// and `inv = 1/sum`.
    #[inline(always)]
    pub(crate) fn new(m: L, rest: L, inv: L) -> Self {
        Excess {
            first: FirstMax::new(m),
            dominant: rest.simd_lt(L::ONE),
            q_max: rest * inv,
        }
    }

    /// `p − y` of the next class, of logit `x`.
    #[inline(always)]
    pub(crate) fn next(&mut self, x: L, p: L, y: L) -> L {
        let first = self.first.next(x);
        L::select(first & self.dominant, (L::ONE - y) - self.q_max, p - y)
    }
}

/// One vector of a plane at pixel offset `o`: `n` lanes read, the rest 0.
#[inline(always)]
fn load(plane: &[f32], o: usize, n: usize) -> f32x8 {
    if n == LANES {
        match plane
            .get(o..o.saturating_add(LANES))
            .and_then(|s| <&[f32; LANES]>::try_from(s).ok())
        {
            Some(a) => f32x8::new(*a),
            None => ZERO,
        }
    } else {
        let mut a = [0.0f32; LANES];
        if let Some(src) = plane.get(o..o.saturating_add(n)) {
            a.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
        }
        f32x8::new(a)
    }
}

/// One whole block of every plane from pixel `start`, as arrays of vectors:
/// the loads of a full block need no per-vector length checks (on AVX2
/// those were ~2 of the ~15 instructions per pixel·class). `None` for the
/// last, partial block of an image, which [`load`] reads.
#[inline(always)]
fn full_block<'a, const CC: usize>(
    planes: &[&'a [f32]; CC],
    c: usize,
    start: usize,
    npix: usize,
) -> Option<[&'a [[f32; LANES]; BLOCK]; CC]> {
    if npix != BLOCK * LANES {
        return None;
    }
    let mut out = [&[[0.0f32; LANES]; BLOCK]; CC];
    for (d, p) in out.iter_mut().zip(planes).take(c) {
        let block = p.get(start..start.checked_add(BLOCK * LANES)?)?;
        *d = block.as_chunks::<LANES>().0.try_into().ok()?;
    }
    Some(out)
}

/// Vector `i` of every plane of a [`full_block`].
#[inline(always)]
fn gather<const CC: usize>(full: &[&[[f32; LANES]; BLOCK]; CC], c: usize, i: usize) -> [f32x8; CC] {
    let mut x = [ZERO; CC];
    for (d, p) in x.iter_mut().zip(full).take(c) {
        *d = p.get(i).map_or(ZERO, |a| f32x8::new(*a));
    }
    x
}

/// Per class (`c` in use), the span's vector whose halves are `a` (block 0)
/// and `b` (block 1; unused by `f32x8`).
#[inline(always)]
fn join<const CC: usize, W: Pixels>(c: usize, a: &[f32x8; CC], b: &[f32x8; CC]) -> [W; CC] {
    let mut x = [W::ZERO; CC];
    for ((d, a), b) in x.iter_mut().zip(a).zip(b).take(c) {
        *d = W::join(|h| if h == 0 { *a } else { *b });
    }
    x
}

/// Vector `i` of every plane in the block from pixel `start` of `npix`
/// pixels, through [`load`] (the last, partial block of an image; out of
/// line, so the full blocks' loop carries none of its length arithmetic).
#[cold]
#[inline(never)]
fn load_partial<const CC: usize>(
    planes: &[&[f32]; CC],
    c: usize,
    start: usize,
    i: usize,
    npix: usize,
) -> [f32x8; CC] {
    let o = i.saturating_mul(LANES);
    let n = npix.saturating_sub(o).min(LANES);
    let mut x = [ZERO; CC];
    for (d, p) in x.iter_mut().zip(planes).take(c) {
        *d = load(p, start.saturating_add(o), n);
    }
    x
}

/// Decodes the blocks of a span of `ids` into `decs`, each in turn (a
/// missing last block from no ids: every pixel dropped), so that the first
/// bad id is the one the eight-lane pass reports.
pub(crate) fn decode_span(
    decs: &mut [Decoded],
    ids: Ids<'_>,
    c: usize,
    ignore: (Option<i64>, Option<i64>),
    use_a: bool,
    use_b: bool,
) -> Result<(), Error> {
    let mut blocks = ids.chunks(BLOCK * LANES);
    for d in decs {
        d.decode(
            blocks.next().unwrap_or(ids.sub(0, 0)),
            c,
            ignore,
            use_a,
            use_b,
        )?;
    }
    Ok(())
}

/// Walks a span of `npix` pixels from pixel `start` of the `c` `planes`
/// (`P::BLOCKS` blocks, decoded in `decs`): for each vector of the span,
/// `f(x, back, label, keep_a, keep_b)` with `x` every class's input and
/// `back` what `out` holds there (if `read`, else 0), and what `f` returns
/// is written into `out` (if any). The one loop of the statistics and
/// gradient passes: whole blocks read and write arrays of vectors (no
/// per-vector length checks); a span that ends in a partial or missing
/// block goes through `load` and `store`, out of line.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn walk<const CC: usize, P: Pixels>(
    planes: &[&[f32]; CC],
    c: usize,
    start: usize,
    npix: usize,
    decs: &[Decoded],
    out: Option<&mut [&mut [f32]; CC]>,
    read: bool,
    mut f: impl FnMut([P; CC], [P; CC], P, P, P) -> [P; CC],
) {
    let step = BLOCK * LANES;
    // Every block of the span whole (block 0's arrays stand in for block
    // 1's where there is one block).
    let full = match full_block(planes, c, start, npix.min(step)) {
        Some(a) if P::BLOCKS == 1 => Some((a, a)),
        Some(a) => {
            let b = full_block(
                planes,
                c,
                start.saturating_add(step),
                npix.saturating_sub(step),
            );
            b.map(|b| (a, b))
        }
        None => None,
    };
    let mut dest = out.map(|o| Dest::new(o, c, start, P::BLOCKS, full.is_some()));
    let (d0, d1) = match decs {
        [a, b, ..] => (a, b),
        [a] => (a, a),
        [] => return,
    };
    // Vector `i` of block 1 is vector `BLOCK + i` of the span.
    let second = |i: usize| BLOCK.saturating_add(i);
    let vectors = d0.vectors().zip(d1.vectors()).enumerate();
    for (i, (v0, v1)) in vectors.take(npix.min(step).div_ceil(LANES)) {
        let x: [P; CC] = match &full {
            Some((fa, fb)) => join(c, &gather(fa, c, i), &gather(fb, c, i)),
            None => {
                let xa = load_partial(planes, c, start, i, npix);
                let xb = if P::BLOCKS == 1 {
                    xa
                } else {
                    load_partial(planes, c, start, second(i), npix)
                };
                join(c, &xa, &xb)
            }
        };
        let back = match &dest {
            Some(d) if read => {
                let a = d.get(c, start, i, npix);
                let b = if P::BLOCKS == 1 {
                    a
                } else {
                    d.get(c, start, second(i), npix)
                };
                join(c, &a, &b)
            }
            _ => [P::ZERO; CC],
        };
        let pick = |h: usize| if h == 0 { v0 } else { v1 };
        let (lab, keep_a, keep_b) = (
            P::join(|h| pick(h).0),
            P::join(|h| pick(h).1),
            P::join(|h| pick(h).2),
        );
        let w = f(x, back, lab, keep_a, keep_b);
        if let Some(d) = dest.as_mut() {
            for h in 0..P::BLOCKS {
                let mut part = [ZERO; CC];
                let it = part.iter_mut().zip(&w).take(c);
                it.for_each(|(d, v)| *d = v.part(h));
                let j = if h == 0 { i } else { second(i) };
                d.put(c, start, j, npix, &part);
            }
        }
    }
}

/// Whether a pass computes the softmax (from logits, for a region or
/// cross-entropy part): then the forward's statistics pass keeps its exps
/// for the backward's gradient pass, which reads them back. One rule for
/// both sides.
pub(crate) const fn softmax(logits: bool, region: bool, ce: bool) -> bool {
    logits && (region || ce)
}

/// Where a span's output planes go (the multiclass gradient, and before it
/// the softmax's `e^(x−m)` that the backward keeps there between its
/// passes): arrays of vectors for whole blocks, the planes themselves for a
/// span that ends in a partial or missing block. Vector `j` of a span is
/// vector `j % BLOCK` of its block `j / BLOCK`.
enum Dest<'a, 'b, const CC: usize> {
    Full([&'a mut [[[f32; LANES]; BLOCK]]; CC]),
    Partial(&'a mut [&'b mut [f32]; CC]),
}

impl<'a, 'b, const CC: usize> Dest<'a, 'b, CC> {
    /// The span of `blocks` blocks from pixel `start` of `out`'s `c` planes:
    /// `full` if they are all whole blocks (as [`full_block`] found for the
    /// input).
    #[inline(always)]
    fn new(
        out: &'a mut [&'b mut [f32]; CC],
        c: usize,
        start: usize,
        blocks: usize,
        full: bool,
    ) -> Self {
        if full {
            let mut d: [&mut [[[f32; LANES]; BLOCK]]; CC] = core::array::from_fn(|_| &mut [][..]);
            let len = blocks.saturating_mul(BLOCK * LANES);
            for (d, p) in d.iter_mut().zip(out.iter_mut()).take(c) {
                if let Some(span) = p.get_mut(start..start.saturating_add(len)) {
                    *d = span.as_chunks_mut::<LANES>().0.as_chunks_mut::<BLOCK>().0;
                }
            }
            Dest::Full(d)
        } else {
            Dest::Partial(out)
        }
    }

    /// Writes vector `j` of every plane (the valid lanes of a partial one).
    #[inline(always)]
    fn put(&mut self, c: usize, start: usize, j: usize, npix: usize, v: &[f32x8; CC]) {
        match self {
            Dest::Full(d) => {
                for (d, v) in d.iter_mut().zip(v).take(c) {
                    let block = d.get_mut(j / BLOCK);
                    if let Some(d) = block.and_then(|b| b.get_mut(j % BLOCK)) {
                        *d = v.to_array();
                    }
                }
            }
            Dest::Partial(out) => store_partial(out, c, start, j, npix, v),
        }
    }

    /// Reads vector `j` of every plane back (lanes past the end 0, as
    /// [`load`]).
    #[inline(always)]
    fn get(&self, c: usize, start: usize, j: usize, npix: usize) -> [f32x8; CC] {
        match self {
            Dest::Full(d) => {
                let mut x = [ZERO; CC];
                for (x, d) in x.iter_mut().zip(d).take(c) {
                    let block = d.get(j / BLOCK);
                    *x = block
                        .and_then(|b| b.get(j % BLOCK))
                        .map_or(ZERO, |a| f32x8::new(*a));
                }
                x
            }
            Dest::Partial(out) => {
                let view: [&[f32]; CC] =
                    core::array::from_fn(|k| out.get(k).map_or(&[][..], |p| &**p));
                load_partial(&view, c, start, j, npix)
            }
        }
    }
}

/// Vector `i` of every plane of a partial block (see [`load_partial`]).
#[cold]
#[inline(never)]
fn store_partial<const CC: usize>(
    out: &mut [&mut [f32]; CC],
    c: usize,
    start: usize,
    i: usize,
    npix: usize,
    g: &[f32x8; CC],
) {
    let o = i.saturating_mul(LANES);
    let n = npix.saturating_sub(o).min(LANES);
    for (d, v) in out.iter_mut().zip(g).take(c) {
        store(d, start.saturating_add(o), n, *v);
    }
}

/// Writes `v`'s first `n` lanes into `plane` at pixel offset `o`.
#[inline(always)]
fn store(plane: &mut [f32], o: usize, n: usize, v: f32x8) {
    let a = v.to_array();
    if let Some(d) = plane.get_mut(o..o.saturating_add(n)) {
        match <&mut [f32; LANES]>::try_from(&mut *d) {
            Ok(d) => *d = a,
            Err(_) => d.iter_mut().zip(a).for_each(|(d, s)| *d = s),
        }
    }
}

/// The per-image scratch: block accumulators, decoded labels, constants.
pub(crate) struct Scratch<const CC: usize, W: Pixels> {
    block: Block<CC, W>,
    dec: W::Decs,
    wv: [W; CC],
    kf: [W; CC],
    focal: FocalTerm<W>,
}

impl<M> Kernel<'_, M> {
    /// The cross-entropy weights as the lanes use them: each times
    /// `weight_scale` (none without weights).
    pub(crate) fn lane_weights(&self) -> impl Iterator<Item = f32> + '_ {
        self.weights.iter().map(|&w| w * self.weight_scale)
    }

    /// The per-class constants of a pass: [`Self::lane_weights`] as vectors
    /// (1 for every class without weights), and the class ids as vectors.
    pub(crate) fn class_vectors<const CC: usize, L: Vector>(&self) -> ([L; CC], [L; CC]) {
        let mut wv = [L::ONE; CC];
        for (d, w) in wv.iter_mut().zip(self.lane_weights()) {
            *d = L::splat(w);
        }
        let kf = core::array::from_fn(|k| L::splat(k as f32));
        (wv, kf)
    }
}

impl<M: Modulator> Kernel<'_, M> {
    /// Adds one image (`c` planes of `s` pixels, `s` labels) into `out`,
    /// on vectors `P` (the callers pass [`W`]; the tests compare `f32x8`
    /// and `f32x16`).
    ///
    /// `R`: region sums (mask A); `CE`: cross-entropy sums (mask B, needs
    /// `LOGITS`); `F`: focal sums (mask B). Only the label decoding is
    /// aware of the id type; the arithmetic ([`Self::blocks`]) is shared.
    #[inline(always)]
    pub(crate) fn image<
        const CC: usize,
        P: Pixels,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        s: usize,
        img: &[f32],
        labels: Ids<'_>,
        out: &mut McTotals<CC>,
        keep: Option<&mut [f32]>,
    ) -> Result<(), Error> {
        // The image's part of a gradient buffer, where the backward keeps
        // the softmax's e^(x−m) between its passes (only a softmax has one).
        let mut kp: [&mut [f32]; CC] = core::array::from_fn(|_| Default::default());
        let keeping = match keep {
            Some(g) => {
                for (d, p) in kp.iter_mut().zip(g.chunks_exact_mut(s.max(1))).take(c) {
                    *d = p;
                }
                softmax(LOGITS, R, CE)
            }
            None => false,
        };
        let (wv, kf) = self.class_vectors::<CC, P>();
        let mut sc = Scratch::<CC, P> {
            block: Block::new(),
            dec: P::decs(),
            wv,
            kf,
            focal: self.focal.lanes(),
        };
        let step = BLOCK * LANES;
        let span = step.saturating_mul(P::BLOCKS);
        let ignore = (self.ignore_a, self.ignore_b);
        for (start, ids) in (0..s).step_by(span).zip(labels.chunks(span)) {
            decode_span(sc.dec.as_mut(), ids, c, ignore, R, CE || F)?;
            let keep = if keeping { Some(&mut kp) } else { None };
            self.blocks::<CC, P, LOGITS, R, CE, F>(c, img, s, start, ids.len(), &mut sc, out, keep);
        }
        Ok(())
    }

    /// The arithmetic of one span of `npix` pixels from pixel `start`:
    /// exactly sized loops when `c == CC <= 16`, a runtime count otherwise
    /// (the same operations in the same order either way).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn blocks<
        const CC: usize,
        P: Pixels,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        img: &[f32],
        s: usize,
        start: usize,
        npix: usize,
        sc: &mut Scratch<CC, P>,
        out: &mut McTotals<CC>,
        keep: Option<&mut [&mut [f32]; CC]>,
    ) {
        if CC <= 16 && c == CC {
            self.blocks_n::<CC, P, LOGITS, R, CE, F>(CC, img, s, start, npix, sc, out, keep);
        } else {
            self.blocks_n::<CC, P, LOGITS, R, CE, F>(c, img, s, start, npix, sc, out, keep);
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn blocks_n<
        const CC: usize,
        P: Pixels,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        img: &[f32],
        s: usize,
        start: usize,
        npix: usize,
        sc: &mut Scratch<CC, P>,
        out: &mut McTotals<CC>,
        keep: Option<&mut [&mut [f32]; CC]>,
    ) {
        let mut planes: [&[f32]; CC] = [&[]; CC];
        for (d, p) in planes.iter_mut().zip(img.chunks_exact(s.max(1))).take(c) {
            *d = p;
        }
        let Scratch {
            block,
            dec,
            wv,
            kf,
            focal,
        } = sc;
        walk::<CC, P>(
            &planes,
            c,
            start,
            npix,
            dec.as_ref(),
            keep,
            false,
            // Inlined into the loop (a call per vector passed the arrays
            // through memory: measured 25% slower with AVX-512).
            #[inline(always)]
            |x, _, l, a, b| {
                self.step::<CC, P, LOGITS, R, CE, F>(c, x, wv, kf, focal, l, a, b, block)
            },
        );
        let blocks = npix.div_ceil(BLOCK * LANES);
        block.widen::<R, CE, F>(c, blocks, self.weights.is_empty(), out);
    }

    /// A vector of pixels (eight, or two blocks' eight side by side: `P`):
    /// `x` of every class (lanes past the end are dropped by
    /// the keep masks).
    // Float lane arithmetic on a generic vector (clippy cannot tell it from
    // integer arithmetic): nothing here can overflow.
    #[allow(clippy::too_many_arguments, clippy::arithmetic_side_effects)]
    #[inline(always)]
    fn step<
        const CC: usize,
        P: Pixels,
        const LOGITS: bool,
        const R: bool,
        const CE: bool,
        const F: bool,
    >(
        &self,
        c: usize,
        x: [P; CC],
        wv: &[P; CC],
        kf: &[P; CC],
        focal: &FocalTerm<P>,
        lab: P,
        keep_a: P,
        keep_b: P,
        b: &mut Block<CC, P>,
    ) -> [P; CC] {
        let (zero, one) = (P::ZERO, P::ONE);
        // The vertical softmax: max, exp, sum, one exact reciprocal. For the
        // cross entropy, `rest` sums the exps of every class but the first
        // maximum (whose exp is e^0 = 1 exactly), so that a confident pixel
        // keeps `ln sum = ln(1 + rest)` to full relative accuracy: `sum =
        // 1 + rest` itself rounds `rest` away below 6e-8.
        let mut m = zero;
        let mut sum = one;
        let mut rest = zero;
        // Σ e^(x−m)·δ, δ the rounding error of `x − m` (cross entropy only).
        let mut rest_err = zero;
        let mut e = [zero; CC];
        if softmax(LOGITS, R, CE) {
            m = row_max(&x, c);
            sum = zero;
            // The maximum's ties (`x − m = 0`, so e^0 = 1 exactly) are left
            // out of `rest` and all but one added back after the loop: one
            // select per class, where marking the first maximum took three.
            // ∞ − ∞ is NaN, not 0: its NaN exp is kept.
            for (d, v) in e.iter_mut().zip(&x).take(c) {
                let t = *v - m;
                *d = exp_v(t);
                sum += *d;
                if CE {
                    let tie = t.simd_eq(zero);
                    rest += P::select(tie, zero, *d);
                    // `x − m` in f32 is off by up to half an ulp of |x − m|,
                    // which e^(x−m) turns into a relative error of up to
                    // 2^-24·|x − m|: 2e-6 at a margin of 32, all of a confident
                    // pixel's cross entropy (found by `multiclass`, seed
                    // `ce-sum-confident`). The exact error δ (TwoSum) restores
                    // it: e^(t+δ) = e^t·(1 + δ). 0 where e^t is 0 (δ may be
                    // NaN for an infinite logit there).
                    let err = sub_err(*v, m, t);
                    rest_err += P::select(d.simd_eq(zero), zero, *d * err);
                }
            }
            if CE {
                // The number of ties is `sum − rest`: an integer up to the
                // rounding of the two sums (< 2^-8 for 256 classes of exps
                // ≤ 1), rounded by adding and taking away the exp's
                // `math::MAGIC` = 1.5·2^23 (exact below 2^22), with the one
                // that stays taken away in the same exact subtraction:
                // ties − 1, as counting them per class gave (two operations
                // where that took 3·C). +0 for the usual single maximum. No
                // ties only where no `x − m` is 0 (a NaN or infinite
                // maximum), and then `sum` and `rest` are NaN already.
                let magic = P::splat(math::MAGIC);
                rest += ((sum - rest) + magic) - P::splat(math::MAGIC + 1.0);
            }
        }

        // The exps as computed, for a backward that keeps them (`e` itself
        // may be reused below).
        let exps = e;

        if R && LOGITS {
            // The target is one class, so with `p = e/sum` the terms are
            // `I = p·y`, `FP = p·(1 − y)` and `FN = (1 − p)·y`, where only the
            // label's `1 − p` is needed: `Σ_{j≠label} e_j / sum`, a sum of
            // non-negative terms (no cancellation, however confident the
            // pixel: `1 − p` itself rounds to 0 below 6e-8). No `p − y` and
            // no first-maximum bookkeeping per class.
            let inv = one / sum;
            // The label where part A keeps the pixel, else no class.
            let lab_a = P::select(keep_a, lab, P::splat(-1.0));
            let mut others = zero;
            let mut ys = [zero; CC];
            let it = b.sp.iter_mut().zip(&mut b.sy).zip(&mut ys);
            for (((sp, sy), ym), (d, k)) in it.zip(e.iter().zip(kf)).take(c) {
                let y = lab_a.simd_eq(*k);
                let p = (*d * inv) & keep_a;
                sp.add_where(y, p);
                sy.add_where(!y, p);
                others += *d & !y;
                *ym = y;
            }
            let q = others * inv;
            for (sd, y) in b.sd.iter_mut().zip(&ys).take(c) {
                sd.add_where(*y, q);
            }
            b.kept_a.add_where(keep_a, one);
        } else if R {
            let it = b.sp.iter_mut().zip(&mut b.sy).zip(&mut b.sd);
            for (((sp, sy), sd), (v, k)) in it.zip(x.iter().zip(kf)).take(c) {
                let p = *v & keep_a;
                let y = one & (lab.simd_eq(*k) & keep_a);
                let [i, fp, fn_] = prob_region_terms(p, y);
                *sp += i;
                *sy += fp;
                *sd += fn_;
            }
            b.kept_a.add_where(keep_a, one);
        }

        if CE {
            // −ln softmax_k = (m − x_k) + ln sum: two non-negative terms (no
            // cancellation, unlike `lse − x_k`, which rounds ln sum against
            // |m| for a confident pixel); ln sum = ln(1 + rest).
            let lsum = ln_one_plus(rest + rest_err);
            if self.weights.is_empty() {
                // Every weight is 1, and a pixel that part B keeps has a
                // label in `0..C` (`Decoded::decode`): the weighted sums
                // below with `wy = 1`, bit for bit.
                let mut xy = zero;
                for (xk, k) in x.iter().zip(kf).take(c) {
                    xy = P::select(lab.simd_eq(*k), *xk, xy);
                }
                b.ce.add_where(keep_b, (m - xy) + lsum);
                // `ce_den` is `kept_b`'s count: `Block::widen` takes that.
            } else {
                let mut xy = zero;
                let mut wy = zero;
                for ((xk, wk), k) in x.iter().zip(wv).zip(kf).take(c) {
                    let eq = lab.simd_eq(*k);
                    xy = P::select(eq, *xk, xy);
                    wy = P::select(eq, *wk, wy);
                }
                b.ce.add_where(keep_b, mul0(wy, (m - xy) + lsum));
                b.ce_den.add_where(keep_b, wy);
            }
            if self.smoothing {
                // Σ_c over up to 256 classes: pairwise (⌈log2 C⌉ roundings,
                // not C − 1 as a running f32 sum).
                // The exps are no longer needed: their array holds the terms.
                for ((d, xk), wk) in e.iter_mut().zip(&x).zip(wv).take(c) {
                    *d = mul0(*wk, (m - *xk) + lsum);
                }
                let sm = pairwise_sum(e.get_mut(..c).unwrap_or(&mut []));
                b.ce_smooth.add_where(keep_b, sm);
            }
        }

        if F {
            let (lo, hi) = (P::splat(self.eps), P::splat(1.0 - self.eps));
            let it = b.fpos.iter_mut().zip(&mut b.fneg).zip(&mut b.fmod);
            for (((fp, fneg), fm), (xk, k)) in it.zip(x.iter().zip(kf)).take(c) {
                let xk = if LOGITS {
                    *xk
                } else {
                    math::ln(clamp_hi(clamp_lo(*xk, lo), hi))
                };
                let y = one & lab.simd_eq(*k);
                let l = link::<_, true>(xk);
                let [pos, neg, md] = focal.terms::<true, _>(self.modulator, &l, y);
                fp.add_where(keep_b, pos);
                fneg.add_where(keep_b, neg);
                fm.add_where(keep_b, md);
            }
        }
        if CE || F {
            b.kept_b.add_where(keep_b, one);
        }
        exps
    }
}

#[cfg(test)]
// Test code, not API: a panic is a failed test.
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
pub(crate) mod tests {
    extern crate std;
    pub(crate) use super::super::pairs::tests::same_bits;
    pub(crate) use super::super::vector::tests::lanes_config;
    use super::super::vector::tests::{per_build, value};
    use super::*;
    use crate::accumulate::binary::IntGamma;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn bits(v: (f32x8, f32x8, f32x8)) -> [[u32; LANES]; 3] {
        [v.0, v.1, v.2].map(|v| v.to_array().map(f32::to_bits))
    }

    /// The vector decoding gives the scalar rules' bits, and is taken for
    /// every chunk the scalar rules accept (ids that fit in `i32`).
    fn agree<L: ClassId>(pool: &[L], seed: u32) {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as usize
        };
        let ignores = [None, Some(255), Some(-100), Some(0), Some(3), Some(1 << 40)];
        let rounds = per_build(2000, 400, 4);
        for _ in 0..rounds {
            let c = [1, 3, 4, 16, 255, 256][next() % 6];
            let ignore = (ignores[next() % 6], ignores[next() % 6]);
            let (use_a, use_b) = (next() % 2 == 0, next() % 3 != 0);
            let rules = IdRules::new(c, ignore, use_a, use_b);
            let chunk: [L; LANES] = core::array::from_fn(|_| pool[next() % pool.len()]);
            let scalar = rules.scalar(&chunk);
            match L::lanes(&chunk).map(|v| rules.vector(v)) {
                Some(Some(v)) => assert_eq!(Ok(bits(v)), scalar.map(bits)),
                Some(None) => assert!(scalar.is_err()),
                None => {}
            }
            assert_eq!(rules.chunk(&chunk).map(bits), scalar.map(bits));

            // A whole block (valid ids, and sometimes one drawn from the
            // pool) decodes to its chunks' bits, or reports the first id
            // they report.
            let valid: Vec<L> = pool
                .iter()
                .copied()
                .filter(|t| (0..c as i64).contains(&t.id()))
                .collect();
            if valid.is_empty() {
                continue;
            }
            let mut block: Vec<L> = (0..BLOCK * LANES)
                .map(|_| valid[next() % valid.len()])
                .collect();
            if next() % 3 == 0 {
                let at = next() % block.len();
                block[at] = pool[next() % pool.len()];
            }
            let want: Result<Vec<_>, _> = block
                .chunks(LANES)
                .map(|ch| rules.chunk(ch).map(bits))
                .collect();
            let mut d = Decoded::new();
            let got = d.decode_typed(&block, c, ignore, use_a, use_b);
            match want {
                Ok(want) => {
                    assert_eq!(got, Ok(()));
                    let have: Vec<_> = d.vectors().map(bits).collect();
                    assert_eq!(have, want);
                }
                Err(e) => assert_eq!(got, Err(e)),
            }
        }
    }

    /// `ClassId::holds` is each type's range: an ignore value outside it is
    /// dropped before decoding (it ignores nothing), one inside is kept.
    #[test]
    fn an_ignore_value_is_held_by_the_id_types_that_can_equal_it() {
        let at = [
            -100,
            -1,
            0,
            255,
            256,
            65_535,
            65_536,
            i64::from(i32::MAX) + 1,
        ];
        let held = |f: fn(i64) -> bool| at.map(f);
        let (t, f) = (true, false);
        assert_eq!(held(u8::holds), [f, f, t, t, f, f, f, f]);
        assert_eq!(held(u16::holds), [f, f, t, t, t, t, f, f]);
        assert_eq!(held(i32::holds), [t, t, t, t, t, t, t, f]);
        assert_eq!(held(i64::holds), [t; 8]);
    }

    /// `W` and `WG` are what the cfg says: sixteen lanes for the statistics
    /// pass on x86 (or under `--cfg segloss_lanes16`), for the gradient pass
    /// with AVX-512 (or that cfg); eight elsewhere.
    #[test]
    fn the_pass_vectors_are_the_configured_ones() {
        let lanes = |bytes: usize| bytes / 4;
        let w = if cfg!(any(target_feature = "sse2", segloss_lanes16)) {
            16
        } else {
            8
        };
        let wg = if cfg!(any(target_feature = "avx512f", segloss_lanes16)) {
            16
        } else {
            8
        };
        assert_eq!(lanes(core::mem::size_of::<W>()), w);
        assert_eq!(lanes(core::mem::size_of::<WG>()), wg);
        assert_eq!(W::BLOCKS * LANES, w);
        assert_eq!(WG::BLOCKS * LANES, wg);
    }

    /// `Ids::chunks` and `Ids::chunks_exact` cut where the slice methods do.
    #[test]
    fn id_chunks_match_the_slice_methods() {
        let v: Vec<i64> = (0..300).collect();
        let spans = |it: &mut dyn Iterator<Item = Ids<'_>>| {
            it.map(|c| match c {
                Ids::I64(c) => c.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
        };
        for len in [0, 1, 7, 8, 127, 128, 129, 300] {
            let s = &v[..len];
            for n in [1, 3, 8, 128, 301] {
                let want: Vec<_> = s.chunks(n).map(<[i64]>::to_vec).collect();
                assert_eq!(spans(&mut Ids::I64(s).chunks(n)), want);
                let want: Vec<_> = s.chunks_exact(n).map(<[i64]>::to_vec).collect();
                assert_eq!(spans(&mut Ids::I64(s).chunks_exact(n)), want);
            }
            assert_eq!(Ids::I64(s).chunks(0).count(), 0);
            assert_eq!(Ids::I64(s).chunks_exact(0).count(), 0);
            assert_eq!(Ids::I64(s).len(), len);
        }
    }

    /// One image through [`Kernel::image_in`] on vectors `P`: the totals
    /// (or the error) and the kept exps (a buffer of `-1` where none are
    /// kept).
    fn image_on<P: Pixels, const LOGITS: bool, const R: bool, const CE: bool, const F: bool>(
        k: &Kernel<'_, IntGamma<2>>,
        c: usize,
        x: &[f32],
        ids: &[u8],
    ) -> (Result<McTotals<8>, Error>, Vec<f32>) {
        let mut out = McTotals::<8>::default();
        let mut kept = std::vec![-1.0f32; x.len()];
        let r = k.image::<8, P, LOGITS, R, CE, F>(
            c,
            ids.len(),
            x,
            Ids::U8(ids),
            &mut out,
            Some(&mut kept),
        );
        (r.map(|()| out), kept)
    }

    /// A xorshift stream from `seed` (the test data of a case).
    pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut st = seed | 1;
        move || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            st
        }
    }

    /// `$f::<LOGITS, R, CE, F>($args)` for plan `$plan` of
    /// [`Case::PLANS`]: logits with region, region + CE, CE, focal;
    /// probabilities with region, region + focal; logits with all three.
    macro_rules! each_plan {
        ($plan:expr, $f:ident($($arg:expr),*)) => {
            match $plan {
                0 => $f::<true, true, false, false>($($arg),*),
                1 => $f::<true, true, true, false>($($arg),*),
                2 => $f::<true, false, true, false>($($arg),*),
                3 => $f::<true, false, false, true>($($arg),*),
                4 => $f::<false, true, false, false>($($arg),*),
                5 => $f::<false, true, false, true>($($arg),*),
                _ => $f::<true, true, true, true>($($arg),*),
            }
        };
    }
    pub(crate) use each_plan;

    /// The bits of every total (NaN as one value).
    fn total_bits(t: &McTotals<8>) -> Vec<u64> {
        let b = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
        let mut v: Vec<u64> = t
            .region
            .iter()
            .flat_map(|r| [r.intersection, r.false_pos, r.false_neg])
            .chain(t.focal.iter().flat_map(|f| [f.pos, f.neg, f.modulator]))
            .chain([t.ce, t.ce_smooth, t.ce_den])
            .map(b)
            .collect();
        v.extend([t.kept_a, t.kept_b]);
        v
    }

    /// `f32x8` and `f32x16` (two blocks side by side) agree bit for bit.
    fn agree_on<const LOGITS: bool, const R: bool, const CE: bool, const F: bool>(
        k: &Kernel<'_, IntGamma<2>>,
        c: usize,
        x: &[f32],
        ids: &[u8],
    ) -> Result<(), TestCaseError> {
        let (t8, k8) = image_on::<f32x8, LOGITS, R, CE, F>(k, c, x, ids);
        let (t16, k16) = image_on::<f32x16, LOGITS, R, CE, F>(k, c, x, ids);
        prop_assert_eq!(t8.as_ref().map(total_bits), t16.as_ref().map(total_bits));
        if t8.is_ok() {
            prop_assert!(same_bits(&k8, &k16));
        }
        Ok(())
    }

    /// One image of a multiclass pass: `c` planes of logits (or
    /// probabilities) with special values planted, `u8` ids with ignored
    /// (255) and sometimes one invalid id, and the kernel's settings.
    #[derive(Debug)]
    pub(crate) struct Case {
        pub c: usize,
        pub x: Vec<f32>,
        pub ids: Vec<u8>,
        /// Which plan (`LOGITS`, `R`, `CE`, `F`) of [`Self::PLANS`].
        pub plan: usize,
        ignore_b: bool,
        weighted: bool,
        smoothing: bool,
    }

    /// Class weights of up to 8 classes.
    const WEIGHTS: [f32; 8] = [0.5, 1.0, 2.0, 0.25, 3.0, 1.5, 0.75, 1.25];

    impl Case {
        /// The number of plans a case picks from.
        pub const PLANS: usize = 7;

        /// The kernel of the case (ignore 255 in the region part).
        pub fn kernel(&self) -> Kernel<'static, IntGamma<2>> {
            Kernel {
                ignore_a: Some(255),
                ignore_b: if self.ignore_b { Some(255) } else { None },
                weights: if self.weighted {
                    &WEIGHTS[..self.c]
                } else {
                    &[]
                },
                weight_scale: 1.0,
                smoothing: self.smoothing,
                focal: FocalTerm::new(1e-7, Some(0.5)),
                modulator: IntGamma::<2>,
                eps: 1e-7,
            }
        }
    }

    /// Cases of 1 to 8 classes and 0 to 700 pixels (1 to 4 classes and 0
    /// to 300 pixels under Miri): whole spans of two blocks, an odd last
    /// block, partial blocks, no pixels.
    pub(crate) fn case() -> impl Strategy<Value = Case> {
        let specials = prop::collection::vec((any::<prop::sample::Index>(), value()), 0..6);
        let flags = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
        (
            1usize..=per_build(8, 8, 4),
            0usize..per_build(700, 700, 300),
            any::<u64>(),
            specials,
            0..Case::PLANS,
            flags,
        )
            .prop_map(
                |(c, s, seed, specials, plan, (ignore_b, weighted, smoothing, bad))| {
                    let mut next = xorshift(seed);
                    let mut x: Vec<f32> = (0..c * s)
                        .map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 * 16.0 - 8.0)
                        .collect();
                    let n = x.len();
                    for (i, v) in specials.iter().filter(|_| n > 0) {
                        x[i.index(n)] = *v;
                    }
                    let mut ids: Vec<u8> = (0..s)
                        .map(|_| match next() % 16 {
                            0 => 255,
                            r => (r % c as u64) as u8,
                        })
                        .collect();
                    if bad && s > 0 {
                        let i = (next() % s as u64) as usize;
                        ids[i] = c as u8;
                    }
                    Case {
                        c,
                        x,
                        ids,
                        plan,
                        ignore_b,
                        weighted,
                        smoothing,
                    }
                },
            )
    }

    proptest! {
        // Two cases under Miri: each is two passes over up to 1200 values
        // (the big-endian target's plain arrays took minutes at 4).
        #![proptest_config(lanes_config(256, 2))]

        /// Every plan, from logits and probabilities, ignored and invalid
        /// ids, class weights and label smoothing, C below and at the
        /// capacity: the totals, the error and the kept exps.
        #[test]
        fn sixteen_lanes_give_the_eight_lane_bits(t in case()) {
            let (k, c, x, ids) = (t.kernel(), t.c, &t.x[..], &t.ids[..]);
            each_plan!(t.plan, agree_on(&k, c, x, ids))?;
        }
    }

    /// `ln_one_plus` over every 97th f32 of [0, 256] and the ends of its
    /// two regimes: within 2^-22 of ln(1 + r) (f64) relative, the same bits
    /// in lanes as in scalars, NaN kept.
    #[test]
    fn ln_one_plus_is_accurate_on_the_softmax_rest() {
        // Every 97th bit pattern (~10^7) on the host; every 9973rd on the
        // emulated builds, where the finer sweep took minutes.
        let step = per_build(97, 9973, 999_983);
        let ends = [
            0.0f32,
            1e-45,
            1e-30,
            6e-8,
            0.5,
            1.0,
            1.000_000_1,
            2.0,
            3.0,
            255.0,
            256.0,
        ];
        let all = (0..=256.0f32.to_bits())
            .step_by(step)
            .map(f32::from_bits)
            .chain(ends);
        let mut worst = 0.0f64;
        for r in all {
            let got = ln_one_plus(r);
            let want = f64::from(r).ln_1p();
            let rel = ((f64::from(got) - want) / want.max(f64::MIN_POSITIVE)).abs();
            worst = worst.max(if r == 0.0 { f64::from(got).abs() } else { rel });
            let lanes = ln_one_plus(f32x8::splat(r)).to_array();
            assert!(lanes.iter().all(|v| v.to_bits() == got.to_bits()), "{r}");
        }
        assert!(worst <= 2f64.powi(-22), "worst relative error {worst:e}");
        assert!(ln_one_plus(f32::NAN).is_nan());
        assert!(ln_one_plus(f32x8::splat(f32::NAN)).to_array()[0].is_nan());
    }

    #[test]
    fn vector_id_decoding_matches_the_scalar_rules() {
        agree::<u8>(&[0, 1, 2, 3, 4, 15, 16, 254, 255], 1);
        agree::<u16>(&[0, 1, 3, 4, 255, 256, 65535], 2);
        agree::<i32>(&[0, 1, 3, 255, 256, -1, -100, i32::MIN, i32::MAX], 3);
        agree::<i64>(
            &[
                0,
                1,
                3,
                255,
                -1,
                -100,
                1 << 40,
                i64::MIN,
                i64::from(i32::MAX) + 1,
            ],
            4,
        );
    }
}
