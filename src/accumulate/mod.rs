//! The fused single passes and the partial sums they produce.
//!
//! # How a pass accumulates (every binary kernel goes through `pass`)
//!
//! The input is walked in vectors of `LANES` = 8 elements (`wide::f32x8`;
//! on x86 two blocks at a time side by side in `wide::f32x16`, with the same
//! bits: `accumulate/pairs.rs`).
//! A kernel maps each vector to `K` per-element terms (where the target has
//! no SIMD the kernel runs on `f32`, one element at a time, each term added
//! into the lane sum it would have in the vector: `pass_scalar`,
//! `accumulate/vector.rs`); the terms are added in
//! `f32` lanes for a block of `BLOCK` = 16 vectors (so each lane adds at most
//! 16 non-negative terms: relative error ≤ 15·2⁻²⁴ < 1e-6 before widening),
//! then every lane of every block is widened and added into `f64` lane
//! totals. At the end the eight lane totals are folded pairwise in a fixed
//! order. The order of every operation is fixed and uses only IEEE `+`/`*`,
//! so the result is the same bits on every target. The last partial vector is
//! a *masked* vector: padded lanes are computed and then discarded by a mask,
//! never counted as zeros (softplus(0) = ln 2 is not neutral).
//!
//! Ignored elements (target equal to the ignore value) are masked the same
//! way: they contribute nothing to any sum, even when their prediction is NaN.

pub mod binary;
#[cfg(feature = "nchw")]
pub mod multiclass;
#[cfg(feature = "nchw")]
pub mod multilabel;
mod pairs;
pub mod region;
pub(crate) mod vector;

use crate::error::Error;
use core::marker::PhantomData;
pub(crate) use vector::{V, Vector, WriteKernel, dispatch_ref, splat};
use wide::{f32x8, f32x16, i16x8, i16x16, i32x8, i32x16, u8x16};

/// Elements per vector.
pub(crate) const LANES: usize = 8;
/// Vectors per `f32` block before the lanes are widened into `f64`.
pub(crate) const BLOCK: usize = 16;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u8 {}
}

/// A target element type: `f32` (hard or soft labels in `[0, 1]`) or `u8`
/// (a 0/1 mask, read in place without converting the whole mask first).
///
/// A `u8` mask value other than 0, 1 or the ignore value is reported as
/// [`Error::InvalidMask`].
pub trait Target: Copy + Default + sealed::Sealed {
    /// Whether values must be 0 or 1 (masks) rather than any float.
    #[doc(hidden)]
    const IS_MASK: bool;
    /// Widens eight targets to `f32` lanes.
    #[doc(hidden)]
    fn lanes(chunk: &[Self; LANES]) -> f32x8;
    /// Widens two chunks of eight targets to sixteen `f32` lanes.
    #[doc(hidden)]
    fn lanes16(a: &[Self; LANES], b: &[Self; LANES]) -> f32x16;
    /// Widens one target to `f32`.
    #[doc(hidden)]
    fn value(self) -> f32;
}

impl Target for f32 {
    const IS_MASK: bool = false;
    #[inline(always)]
    fn lanes(chunk: &[f32; LANES]) -> f32x8 {
        f32x8::new(*chunk)
    }
    #[inline(always)]
    fn lanes16(a: &[f32; LANES], b: &[f32; LANES]) -> f32x16 {
        let mut v = [0.0f32; 2 * LANES];
        for (d, s) in v.iter_mut().zip(a.iter().chain(b)) {
            *d = *s;
        }
        f32x16::new(v)
    }
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }
}

impl Target for u8 {
    const IS_MASK: bool = true;
    #[inline(always)]
    fn lanes(chunk: &[u8; LANES]) -> f32x8 {
        f32x8::from_i32x8(widen_u8(chunk))
    }
    #[inline(always)]
    fn lanes16(a: &[u8; LANES], b: &[u8; LANES]) -> f32x16 {
        let mut bytes = [0u8; 2 * LANES];
        for (d, s) in bytes.iter_mut().zip(a.iter().chain(b)) {
            *d = *s;
        }
        f32x16::from_i32x16(i32x16::from_i16x16(i16x16::from(u8x16::new(bytes))))
    }
    #[inline(always)]
    fn value(self) -> f32 {
        f32::from(self)
    }
}

/// Eight bytes as `i32` lanes, widened in vector registers (u8 → i16 → i32),
/// not byte by byte: `u8` masks and `u8` class ids.
#[inline(always)]
pub(crate) fn widen_u8(chunk: &[u8; LANES]) -> i32x8 {
    let mut bytes = [0u8; 16];
    bytes.iter_mut().zip(chunk).for_each(|(d, s)| *d = *s);
    i32x8::from_i16x8(i16x8::from_u8x16_low(u8x16::new(bytes)))
}

/// The totals of one pass: `K` sums and the element counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Totals<const K: usize> {
    /// The `K` term sums, over kept elements.
    pub sums: [f64; K],
    /// Elements read (kept and ignored).
    pub count: u64,
    /// Elements not ignored.
    pub kept: u64,
}

/// Checks that a one-shot call has matching, non-empty inputs.
pub(crate) fn check_lengths<T>(pred: &[f32], target: &[T]) -> Result<(), Error> {
    if pred.len() != target.len() {
        return Err(Error::LengthMismatch {
            pred: pred.len(),
            target: target.len(),
        });
    }
    if pred.is_empty() {
        return Err(Error::Empty);
    }
    Ok(())
}

/// Checks that a gradient (or any per-element output) buffer has `pred`'s
/// length.
pub(crate) fn check_grad(pred: &[f32], grad: &[f32]) -> Result<(), Error> {
    if grad.len() == pred.len() {
        Ok(())
    } else {
        Err(Error::GradientLength {
            expected: pred.len(),
            got: grad.len(),
        })
    }
}

/// One pass over `(pred, target)`: sums the `K` terms that `terms(x, y)`
/// gives for every element whose target is not `ignore`.
///
/// Empty inputs give zero totals (streaming updates may be empty); one-shot
/// entry points reject them with [`check_lengths`] first.
///
/// `terms` is called once per vector, in order: every full vector of
/// `chunks_exact(LANES)`, then the padded last vector (if any).
#[inline(always)]
pub(crate) fn pass<T: Target, const K: usize>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    terms: impl FnMut(V, V) -> [V; K],
) -> Result<Totals<K>, Error> {
    pass_with(pred, target, ignore, &mut [], terms)
}

/// [`pass`] whose kernel also gives one vector per input vector to store
/// (a fused elementwise forward + backward writes its gradient this way):
/// `f(x, y)` returns `(terms, v)`, and `v` goes into `out` at the input's
/// position (0 where the target is `ignore`; only the valid lanes of the
/// last, padded vector). The sums are those of [`pass`] with the same
/// terms, bit for bit. `out` must have `pred`'s length
/// ([`Error::GradientLength`] otherwise: `out` is a gradient buffer).
#[inline(always)]
pub(crate) fn pass_storing<T: Target, const K: usize>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    out: &mut [f32],
    f: impl FnMut(V, V) -> ([V; K], V),
) -> Result<Totals<K>, Error> {
    check_grad(pred, out)?;
    pass_with(pred, target, ignore, out, f)
}

/// What a pass's kernel returns per vector of `L`: its `K` terms, and for
/// [`pass_storing`] the vector to store (known at compile time).
pub(crate) trait Output<const K: usize, L> {
    /// Whether there is a vector to store.
    const STORES: bool;
    /// The terms and the vector to store (unused unless `STORES`).
    fn parts(self) -> ([L; K], L);
}

impl<const K: usize, L: Vector> Output<K, L> for [L; K] {
    const STORES: bool = false;
    #[inline(always)]
    fn parts(self) -> ([L; K], L) {
        (self, L::ZERO)
    }
}

impl<const K: usize, L: Vector> Output<K, L> for ([L; K], L) {
    const STORES: bool = true;
    #[inline(always)]
    fn parts(self) -> ([L; K], L) {
        self
    }
}

#[inline(always)]
fn pass_with<T: Target, const K: usize, O: Output<K, V>>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    out: &mut [f32],
    mut terms: impl FnMut(V, V) -> O,
) -> Result<Totals<K>, Error> {
    if pred.len() != target.len() {
        return Err(Error::LengthMismatch {
            pred: pred.len(),
            target: target.len(),
        });
    }
    match ignore {
        None => V::pass::<T, K, O, false, _>(pred, target, 0.0, out, &mut terms),
        Some(v) => V::pass::<T, K, O, true, _>(pred, target, v, out, &mut terms),
    }
}

lane_inline! {
/// The terms of one vector of eight elements: the only place the vector
/// driver calls its kernel, so where the kernel is kept out of line (see
/// `lane_inline!`) it exists once.
fn eval<const K: usize, O, F>(terms: &mut F, x: f32x8, y: f32x8) -> ([f32x8; K], f32x8)
where
    O: Output<K, f32x8>,
    F: FnMut(f32x8, f32x8) -> O + ?Sized,
{
    terms(x, y).parts()
}
}

lane_inline! {
/// Adds the lanes of each block accumulator into the `f64` lane totals.
fn widen<const K: usize>(wide: &mut [[f64; LANES]; K], acc: &[f32x8; K]) {
    for (w, a) in wide.iter_mut().zip(acc) {
        for (w, a) in w.iter_mut().zip(a.to_array()) {
            *w += f64::from(a);
        }
    }
}
}

/// Folds eight lane totals in a fixed pairwise order.
#[inline(always)]
pub(crate) fn fold(l: [f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

lane_inline! {
/// Adds the terms of one vector into the block accumulators (masked by
/// `keep` when ignoring).
fn add_terms<T: Target, const K: usize, const IGNORE: bool>(
    acc: &mut [f32x8; K],
    kept: &mut f32x8,
    top: &mut f32x8,
    v: [f32x8; K],
    y: f32x8,
    ign: f32x8,
) {
    if IGNORE {
        let keep = y.simd_ne(ign);
        for (a, v) in acc.iter_mut().zip(v) {
            *a += v & keep;
        }
        *kept += f32x8::ONE & keep;
        if T::IS_MASK {
            *top = top.max(y & keep);
        }
    } else {
        for (a, v) in acc.iter_mut().zip(v) {
            *a += v;
        }
        if T::IS_MASK {
            *top = top.max(y);
        }
    }
}
}

/// Sums the terms of up to [`BLOCK`] full vectors in `f32` lanes and widens
/// them into the `f64` lane totals (and stores each vector's output into
/// `out` when the kernel has one: `out` is then the block's part of it).
///
/// Out of line on purpose: the kernel is inlined here once for the whole
/// blocks and the shorter last block of a pass (one call per 128 elements
/// costs nothing measurable), which cuts the copies of every kernel, and the
/// crate's compile time, by a third.
#[inline(never)]
fn block<T, const K: usize, O, const IGNORE: bool, F>(
    pred: &[f32],
    target: &[T],
    out: &mut [f32],
    ign: f32x8,
    run: &mut Running<K>,
    terms: &mut F,
) where
    T: Target,
    O: Output<K, f32x8>,
    F: FnMut(f32x8, f32x8) -> O + ?Sized,
{
    let mut acc = [f32x8::ZERO; K];
    let mut kept = f32x8::ZERO;
    let mut step = |p: &[f32], t: &[T]| {
        let (Ok(p), Ok(t)) = (<&[f32; LANES]>::try_from(p), <&[T; LANES]>::try_from(t)) else {
            return None; // unreachable: chunks_exact yields full chunks
        };
        let (x, y) = (f32x8::new(*p), T::lanes(t));
        let (v, o) = eval(terms, x, y);
        add_terms::<T, K, IGNORE>(&mut acc, &mut kept, &mut run.top, v, y, ign);
        Some(keep_stored::<IGNORE>(o, y, ign).to_array())
    };
    let inputs = pred.chunks_exact(LANES).zip(target.chunks_exact(LANES));
    if O::STORES {
        // `out` has the block's length: one store per vector, no test.
        for ((p, t), c) in inputs.zip(out.chunks_exact_mut(LANES)) {
            if let (Some(o), Ok(c)) = (step(p, t), <&mut [f32; LANES]>::try_from(c)) {
                *c = o;
            }
        }
    } else {
        for (p, t) in inputs {
            step(p, t);
        }
    }
    run.add_block::<IGNORE>(&acc, kept);
}

/// A stored vector, 0 where the target is ignored.
#[inline(always)]
fn keep_stored<const IGNORE: bool>(o: f32x8, y: f32x8, ign: f32x8) -> f32x8 {
    if IGNORE {
        y.simd_eq(ign).select(f32x8::ZERO, o)
    } else {
        o
    }
}

/// The running totals of a pass: `f64` lane totals of the `K` sums and of
/// the kept count, and the largest kept target (to reject `u8` masks with
/// values other than 0/1). Its methods depend on `K` and the target type
/// only, not on the kernel: where the per-vector code stays out of line
/// (`lane_inline!`) every kernel with `K` sums shares one copy.
struct Running<const K: usize> {
    wide: [[f64; LANES]; K],
    kept_wide: [f64; LANES],
    top: f32x8,
}

lane_inline! {
/// The masked last vector's inputs: `x`, `y` padded to eight lanes and the
/// mask of the lanes to keep (valid, and not ignored).
fn tail_vectors<T: Target, const IGNORE: bool>(
    p_tail: &[f32],
    t_tail: &[T],
    ign: f32x8,
) -> (f32x8, f32x8, f32x8) {
    let mut xa = [0.0f32; LANES];
    let mut ya = [T::default(); LANES];
    xa.iter_mut().zip(p_tail).for_each(|(d, s)| *d = *s);
    ya.iter_mut().zip(t_tail).for_each(|(d, s)| *d = *s);
    let (x, y) = (f32x8::new(xa), T::lanes(&ya));
    let lane = f32x8::new([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let mut keep = lane.simd_lt(f32x8::splat(p_tail.len() as f32));
    if IGNORE {
        keep &= y.simd_ne(ign);
    }
    (x, y, keep)
}
}

impl<const K: usize> Running<K> {
    #[inline(always)]
    fn new() -> Self {
        Running {
            wide: [[0.0f64; LANES]; K],
            kept_wide: [0.0f64; LANES],
            top: f32x8::ZERO,
        }
    }

    lane_inline! {
    /// Adds a block's `f32` lane sums (and kept counts when ignoring).
    fn add_block<const IGNORE: bool>(&mut self, acc: &[f32x8; K], kept: f32x8) {
        widen(&mut self.wide, acc);
        if IGNORE {
            for (w, k) in self.kept_wide.iter_mut().zip(kept.to_array()) {
                *w += f64::from(k);
            }
        }
    }
    }

    lane_inline! {
    /// Adds the kept lanes of the last vector's terms `v`.
    fn add_tail<T: Target>(&mut self, v: [f32x8; K], y: f32x8, keep: f32x8) {
        let mut acc = [f32x8::ZERO; K];
        for (a, v) in acc.iter_mut().zip(v) {
            *a = v & keep;
        }
        widen(&mut self.wide, &acc);
        for (w, k) in self.kept_wide.iter_mut().zip((f32x8::ONE & keep).to_array()) {
            *w += f64::from(k);
        }
        if T::IS_MASK {
            self.top = self.top.max(y & keep);
        }
    }
    }

    lane_inline! {
    /// The totals of a pass over `count` elements.
    fn finish<T: Target, const IGNORE: bool>(&self, count: usize) -> Result<Totals<K>, Error> {
        if T::IS_MASK {
            let top = self.top.to_array().into_iter().fold(0.0f32, f32::max);
            if top > 1.0 {
                return Err(Error::InvalidMask { value: top as u8 });
            }
        }
        let count = count as u64;
        let kept = if IGNORE {
            fold(self.kept_wide) as u64
        } else {
            count
        };
        Ok(Totals {
            sums: self.wide.map(fold),
            count,
            kept,
        })
    }
    }
}

lane_inline! {
/// A pass with the ignore mode fixed (out of line where kernels run on
/// `f32`: one copy per target type, sum count and output, see
/// [`vector`]).
pub(crate) fn pass_masked<T, const K: usize, O, const IGNORE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    out: &mut [f32],
    terms: &mut F,
) -> Result<Totals<K>, Error>
where
    T: Target,
    O: Output<K, f32x8>,
    F: FnMut(f32x8, f32x8) -> O + ?Sized,
{
    let ign = f32x8::splat(ignore);
    let mut run = Running::<K>::new();

    // Whole blocks of BLOCK vectors, then the remaining full vectors as one
    // shorter block, then the masked last vector on its own. `out` (empty
    // unless the kernel stores) is split the same way.
    let pb = pred.chunks_exact(LANES * BLOCK);
    let tb = target.chunks_exact(LANES * BLOCK);
    let (p_rest, t_rest) = (pb.remainder(), tb.remainder());
    let mut ob = out.chunks_mut(LANES * BLOCK);
    for (p, t) in pb.zip(tb) {
        let o = ob.next().unwrap_or_default();
        block::<T, K, O, IGNORE, F>(p, t, o, ign, &mut run, terms);
    }
    let full = p_rest.len().saturating_sub(p_rest.len() % LANES);
    let (p_full, p_tail) = p_rest.split_at(full);
    let (t_full, t_tail) = t_rest.split_at(full);
    let o_rest = ob.next().unwrap_or_default();
    let (o_full, o_tail) = o_rest.split_at_mut(full.min(o_rest.len()));
    if !p_full.is_empty() {
        block::<T, K, O, IGNORE, F>(p_full, t_full, o_full, ign, &mut run, terms);
    }

    if !p_tail.is_empty() {
        // The masked last vector: padded lanes are computed, then dropped.
        let (x, y, keep) = tail_vectors::<T, IGNORE>(p_tail, t_tail, ign);
        let (v, o) = eval(terms, x, y);
        if O::STORES {
            let o = keep_stored::<IGNORE>(o, y, ign).to_array();
            o_tail.iter_mut().zip(o).for_each(|(d, s)| *d = s);
        }
        run.add_tail::<T>(v, y, keep);
    }
    run.finish::<T, IGNORE>(pred.len())
}
}

/// The most sums a pass has (the fused statistics pass's).
pub(crate) const MAX_SUMS: usize = 20;

/// A kernel of the scalar driver ([`sums_scalar`]) with its sum count
/// erased: it adds its terms into the first `K` rows of the driver's lane
/// sums and returns the value to store (unused unless the pass stores). On
/// bare metal the driver calls it through `dyn`, so the driver is compiled
/// once per target type, not once per kernel and sum count (10 KiB of the
/// Cortex-M4F loss code); and a `dyn ScalarTerms` vtable holds this one
/// method, where a `dyn FnMut` vtable also holds `FnOnce::call_once`, a
/// second copy of every kernel's body that no caller reaches (7 KiB).
pub(crate) trait ScalarTerms {
    /// Adds the terms of the element `(x, y)` into lane `lane` of the first
    /// `K` rows of `acc` (nothing when `skip`), and returns the value to
    /// store.
    fn add(
        &mut self,
        x: f32,
        y: f32,
        skip: bool,
        lane: usize,
        acc: &mut [[f32; LANES]; MAX_SUMS],
    ) -> f32;
}

/// A `K`-sum `f32` kernel as a [`ScalarTerms`].
struct Erased<'f, F: ?Sized, O, const K: usize>(&'f mut F, PhantomData<fn() -> O>);

impl<F, O, const K: usize> ScalarTerms for Erased<'_, F, O, K>
where
    O: Output<K, f32>,
    F: FnMut(f32, f32) -> O + ?Sized,
{
    #[inline(always)]
    fn add(
        &mut self,
        x: f32,
        y: f32,
        skip: bool,
        lane: usize,
        acc: &mut [[f32; LANES]; MAX_SUMS],
    ) -> f32 {
        let (v, o) = (self.0)(x, y).parts();
        if !skip {
            for (a, v) in acc.iter_mut().zip(v) {
                if let Some(a) = a.get_mut(lane) {
                    *a += v;
                }
            }
        }
        o
    }
}

/// [`pass_masked`] for `f32` kernels (targets without SIMD, see
/// `accumulate/vector.rs`): [`sums_scalar`] with the kernel's sum count
/// erased ([`ScalarTerms`]).
#[inline(always)]
pub(crate) fn pass_scalar<T, const K: usize, O, const IGNORE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    out: &mut [f32],
    terms: &mut F,
) -> Result<Totals<K>, Error>
where
    T: Target,
    O: Output<K, f32>,
    F: FnMut(f32, f32) -> O + ?Sized,
{
    const { assert!(K <= MAX_SUMS, "a pass has at most MAX_SUMS sums") };
    let mut sums = [0.0f64; K];
    let mut kernel = Erased::<F, O, K>(terms, PhantomData);
    let out = if O::STORES { out } else { &mut [] };
    let ignore = IGNORE.then_some(ignore);
    // On bare metal the kernel is called through `dyn`: one driver per
    // target type, for flash (under `--cfg segloss_scalar` too, so the host
    // tests that path). Elsewhere (wasm32 without simd128) the kernel is
    // inlined into a driver per kernel: `dyn` cost wasm 30–40% of its
    // throughput.
    #[cfg(any(target_os = "none", segloss_scalar))]
    let (count, kept) =
        sums_scalar::<T, dyn ScalarTerms>(pred, target, ignore, out, &mut kernel, &mut sums)?;
    #[cfg(not(any(target_os = "none", segloss_scalar)))]
    let (count, kept) = sums_scalar::<T, _>(pred, target, ignore, out, &mut kernel, &mut sums)?;
    Ok(Totals { sums, count, kept })
}

lane_inline! {
/// The scalar driver: one element at a time, each term added into the `f32`
/// lane sum the vector driver would add it to (lane `i mod 8` of its block
/// of [`BLOCK`] vectors; the last partial vector in sums of its own), so the
/// totals are the vector driver's bits (the same widening into `f64` lane
/// totals, the same [`fold`]). Ignored elements and the padding of the last
/// vector are skipped rather than masked: their masked terms are +0, and a
/// lane sum that starts at +0 can never be −0, so adding +0 changes
/// nothing. Skips the elements whose target is `ignore`, writes the
/// `sums.len()` (≤ [`MAX_SUMS`]) totals into `sums`, stores into `out` when
/// it is not empty, and returns the element and kept counts. The sum count,
/// the output and the ignore mode are run-time values.
fn sums_scalar<T: Target, S: ScalarTerms + ?Sized>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    out: &mut [f32],
    kernel: &mut S,
    sums: &mut [f64],
) -> Result<(u64, u64), Error> {
    let k = sums.len();
    let mut wide = [[0.0f64; LANES]; MAX_SUMS];
    let mut kept_wide = [0.0f64; LANES];
    let mut top = 0.0f32;
    let (ignoring, ign) = (ignore.is_some(), ignore.unwrap_or(0.0));
    // One block (or the last partial vector): `o` is its part of `out`,
    // empty unless the pass stores.
    let mut add = |p: &[f32], t: &[T], o: &mut [f32], wide: &mut [[f64; LANES]; MAX_SUMS]| {
        let mut acc = [[0.0f32; LANES]; MAX_SUMS];
        let mut kept = [0.0f32; LANES];
        for (i, (&x, &t)) in p.iter().zip(t).enumerate() {
            let y = t.value();
            let skip = ignoring && y == ign;
            let lane = i % LANES;
            let v = kernel.add(x, y, skip, lane, &mut acc);
            if let Some(d) = o.get_mut(i) {
                *d = if skip { 0.0 } else { v };
            }
            if skip {
                continue;
            }
            if let Some(c) = kept.get_mut(lane) {
                *c += 1.0;
            }
            if T::IS_MASK && y > top {
                top = y;
            }
        }
        for (w, a) in wide.iter_mut().zip(&acc).take(k) {
            for (w, a) in w.iter_mut().zip(a) {
                *w += f64::from(*a);
            }
        }
        if ignoring {
            for (w, c) in kept_wide.iter_mut().zip(kept) {
                *w += f64::from(c);
            }
        }
    };
    let full = pred.len().saturating_sub(pred.len() % LANES);
    let (p_full, p_tail) = pred.split_at(full.min(pred.len()));
    let (t_full, t_tail) = target.split_at(full.min(target.len()));
    let (o_full, o_tail) = out.split_at_mut(full.min(out.len()));
    let mut o_blocks = o_full.chunks_mut(LANES * BLOCK);
    let blocks = p_full.chunks(LANES * BLOCK).zip(t_full.chunks(LANES * BLOCK));
    for (p, t) in blocks {
        add(p, t, o_blocks.next().unwrap_or_default(), &mut wide);
    }
    if !p_tail.is_empty() {
        add(p_tail, t_tail, o_tail, &mut wide);
    }
    if T::IS_MASK && top > 1.0 {
        return Err(Error::InvalidMask { value: top as u8 });
    }
    for (s, w) in sums.iter_mut().zip(wide) {
        *s = fold(w);
    }
    let count = pred.len() as u64;
    let kept = if ignore.is_some() {
        fold(kept_wide) as u64
    } else {
        count
    };
    Ok((count, kept))
}
}

/// Writes `f(x, y)` into `grad` (a gradient, or any per-element output) for
/// every element, 0 where the target is `ignore`. Full vectors go through `chunks_exact_mut`; the last partial
/// vector is computed padded and only its valid lanes are stored.
/// Lengths are checked by the caller.
#[inline(always)]
pub(crate) fn write_each<T: Target>(
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    grad: &mut [f32],
    f: impl Fn(V, V) -> V,
) {
    let f = dispatch_ref(&f);
    match ignore {
        None => V::write::<T, false, false, _>(pred, target, 0.0, grad, f),
        Some(v) => V::write::<T, true, false, _>(pred, target, v, grad, f),
    }
}

/// [`write_each`] with `x` read from `grad` itself: a value the first pass
/// kept there (σ's code, see `backward::sigmoid_two_pass`) becomes the
/// gradient.
#[inline(always)]
pub(crate) fn rewrite_each<T: Target>(
    target: &[T],
    ignore: Option<f32>,
    grad: &mut [f32],
    f: impl Fn(V, V) -> V,
) {
    let f = dispatch_ref(&f);
    match ignore {
        None => V::write::<T, false, true, _>(&[], target, 0.0, grad, f),
        Some(v) => V::write::<T, true, true, _>(&[], target, v, grad, f),
    }
}

/// The per-element write on `f32x8` kernels: `x` from `pred`, or from
/// `grad` where `IN_PLACE` (`pred` is then empty).
#[inline(always)]
pub(crate) fn write_masked<T, const IGNORE: bool, const IN_PLACE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    grad: &mut [f32],
    f: &F,
) where
    T: Target,
    F: WriteKernel<f32x8> + ?Sized,
{
    let ign = f32x8::splat(ignore);
    let g_of = |x: f32x8, y: f32x8| {
        let g = eval_value(f, x, y);
        if IGNORE {
            y.simd_eq(ign).select(f32x8::ZERO, g)
        } else {
            g
        }
    };
    let mut gc = grad.chunks_exact_mut(LANES);
    let mut pc = pred.chunks_exact(LANES);
    let mut tc = target.chunks_exact(LANES);
    for (g, t) in gc.by_ref().zip(tc.by_ref()) {
        let (Ok(g), Ok(t)) = (<&mut [f32; LANES]>::try_from(g), <&[T; LANES]>::try_from(t)) else {
            continue; // unreachable: chunks_exact yields full chunks
        };
        let x = if IN_PLACE {
            *g
        } else {
            match pc.next().map(<&[f32; LANES]>::try_from) {
                Some(Ok(p)) => *p,
                _ => continue, // unreachable: `pred` has `grad`'s length
            }
        };
        *g = g_of(f32x8::new(x), T::lanes(t)).to_array();
    }
    let (g_tail, t_tail) = (gc.into_remainder(), tc.remainder());
    if !g_tail.is_empty() {
        let mut xa = [0.0f32; LANES];
        let mut ya = [T::default(); LANES];
        let x_tail: &[f32] = if IN_PLACE { g_tail } else { pc.remainder() };
        xa.iter_mut().zip(x_tail).for_each(|(d, s)| *d = *s);
        ya.iter_mut().zip(t_tail).for_each(|(d, s)| *d = *s);
        let v = g_of(f32x8::new(xa), T::lanes(&ya)).to_array();
        g_tail.iter_mut().zip(v).for_each(|(d, s)| *d = s);
    }
}

/// [`write_masked`] on `f32` kernels (targets without SIMD): one element at
/// a time, the same values.
#[inline(always)]
pub(crate) fn write_scalar<T, const IGNORE: bool, const IN_PLACE: bool, F>(
    pred: &[f32],
    target: &[T],
    ignore: f32,
    grad: &mut [f32],
    f: &F,
) where
    T: Target,
    F: WriteKernel<f32> + ?Sized,
{
    let xs: &[f32] = if IN_PLACE { &[] } else { pred };
    let mut xs = xs.iter();
    for (g, t) in grad.iter_mut().zip(target) {
        let x = if IN_PLACE {
            *g
        } else {
            match xs.next() {
                Some(&x) => x,
                None => continue, // unreachable: `pred` has `grad`'s length
            }
        };
        let y = t.value();
        *g = if IGNORE && y == ignore {
            0.0
        } else {
            f.call(x, y)
        };
    }
}

lane_inline! {
/// The value of one vector of eight elements: the only place
/// [`write_masked`] calls its kernel (one copy where kernels stay out of
/// line, see `lane_inline!`).
fn eval_value<F: WriteKernel<f32x8> + ?Sized>(f: &F, x: f32x8, y: f32x8) -> f32x8 {
    f.call(x, y)
}
}
