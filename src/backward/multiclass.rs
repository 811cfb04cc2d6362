//! Multiclass backward passes: `LOSS(pred, target, shape, cfg…, classes,
//! grad, scale)` returns the loss of [`crate::multiclass::LOSS`](crate::multiclass)
//! (the same bits) and writes `scale · ∂loss/∂pred` into `grad`, in the
//! prediction's NCHW layout: with respect to the logits when the loss reads
//! logits (always for cross entropy), else with respect to the
//! probabilities. See [`crate::backward`] for the conventions.
//!
//! ```
//! use segloss::backward::multiclass as bw;
//! use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
//! use segloss::Region;
//! // One image, three classes, four pixels: planes of logits, then labels.
//! let logits = [
//!     2.0f32, -1.0, 0.5, 0.0, // class 0
//!     -1.0, 1.0, 0.5, 0.0, // class 1
//!     0.0, -1.0, 1.0, 0.0, // class 2
//! ];
//! let labels = [0u8, 1, 2, 255];
//! let shape = Shape::new(1, 3, 4).unwrap();
//! let dice = Region::default().with_ignore_index(Some(255.0));
//! let ce = CrossEntropy::default().with_ignore_index(Some(255));
//! let cl = Classes::default();
//! let mut grad = [0.0f32; 12];
//! let loss = bw::dice_ce(&logits, &labels, shape, &dice, &ce, (1.0, 1.0), &cl, &mut grad, 1.0)?;
//! // The forward's value, bit for bit.
//! assert_eq!(loss, multiclass::dice_ce(&logits, &labels, shape, &dice, &ce, (1.0, 1.0), &cl)?);
//! // Through the softmax, each pixel's gradient sums to 0 over the classes.
//! for px in 0..4 {
//!     let sum: f32 = (0..3).map(|c| grad[c * 4 + px]).sum();
//!     assert!(sum.abs() < 1e-6);
//! }
//! // The ignored pixel gets 0; a step against the gradient lowers the loss.
//! assert!((0..3).all(|c| grad[c * 4 + 3] == 0.0));
//! let step: Vec<f32> = logits.iter().zip(&grad).map(|(x, g)| x - 0.1 * g).collect();
//! assert!(multiclass::dice_ce(&step, &labels, shape, &dice, &ce, (1.0, 1.0), &cl)? < loss);
//! # Ok::<(), segloss::Error>(())
//! ```
//!
//! # Design
//!
//! Two passes over the data, no allocation, no copy of the input:
//!
//! 1. The forward's statistics pass (the same kernel, the same dispatch, so
//!    the same sums and the same loss bits): per-class region sums, focal
//!    sums, cross-entropy totals. From logits (region or cross-entropy
//!    part) it also stores each logit's `e^(x − m)`, the softmax's exp, in
//!    the gradient buffer.
//! 2. A gradient pass that walks the same blocks of `BLOCK·LANES` pixels
//!    (two side by side in `f32x16` with AVX-512, `accumulate::multiclass::WG`;
//!    one at a time in `f32x8` elsewhere: the same bits),
//!    decodes the labels the same way, loads one vector from each of the `C`
//!    planes and redoes the forward's vertical softmax from the stored exps
//!    (max, sum, one reciprocal: no `exp`, the same operations in the same
//!    order, so the same bits), then overwrites each plane's vector with its
//!    gradients. Every
//!    loss-specific quantity is a scalar coefficient computed once in `f64`
//!    from the totals (`Coeffs`: three region slopes per class, two focal
//!    coefficients per class, three cross-entropy factors; `scale`, the
//!    λ weights, the class-weight mean and Tversky's outer `γ·mean^(γ−1)` are
//!    folded in), stored as per-class vectors in arrays of the pass's class
//!    capacity (exact and unrolled for the const-generic entry points).
//!
//! Per pixel and class, with `s` the softmax and `y_c = [label = c]`:
//!
//! - Region part: the slope `g_c = ∂L/∂p_c` is one of the class's three
//!   coefficients as `p_c >, <, = y_c` (the binary rule, sign(0) = 0). From
//!   logits the chain through the softmax is `∂L/∂z_c = s_c·(g_c − Σ_k s_k g_k)`;
//!   it is evaluated as `s_c·((g_c − r) − Σ_k s_k (g_k − r))` with `r` the
//!   slope of the pixel's largest logit (the same value, as `Σ s_k = 1`):
//!   for a confident pixel the dominant term of the sum then vanishes instead
//!   of cancelling, so small gradients keep their relative accuracy.
//! - Cross entropy: `k·[(1 − ls)·w_y·(s_c − y_c) + (ls/C)·(Σw·s_c − w_c)]`,
//!   with `1 − s_y` formed as `Σ_{k≠y} s_k` (no cancellation for a
//!   confident pixel).
//! - Focal (one-vs-rest on the raw logit, or on `ln p` of the clamped
//!   probability): the binary backward's per-element terms with the class's
//!   coefficients; zero slope where the probability clamp is active.
//!
//! Pixels dropped by a part's ignore mask get 0 from that part (a select, so
//! NaN logits there do not leak).
//!
//! With [`Classes::per_image`] each image has its own region coefficients:
//! with a region loss alone and γ = 1 each image's statistics are followed at
//! once by its gradient (two reads); otherwise the whole batch is read first
//! for the global factors (Tversky's γ, the cross-entropy or focal totals),
//! then each image's region sums are recomputed before its gradient (three
//! reads).

use super::binary::{
    Derivative, FocalCoefficients, class_coefficients, focal_coefficients, focal_parts,
    region_slope,
};
use super::{check_grad, mean_dpow};
use crate::accumulate::binary::{clamp_hi, clamp_lo};
use crate::accumulate::multiclass::{
    ClassId, Decoded, Excess, FirstMax, Ids, Kernel, McTotals, Pixels, W, WG, decode_span, row_max,
    softmax, walk,
};
use crate::accumulate::vector::Vector;
use crate::accumulate::{BLOCK, LANES};
use crate::config::{Focal, Reduction, Region, Tversky};
use crate::error::Error;
use crate::loss::region::RegionSums;
use crate::math;
use crate::multiclass::{
    Classes, CrossEntropy, Loss, Setup, Shape, dispatch, drive, region_mean, with_capacity,
};

/// The scalar coefficients of one gradient pass, as per-class vectors.
struct Coeffs<const CC: usize, L: Vector> {
    /// Region part: `∂loss/∂p_c` where `p_c > y_c`, `p_c < y_c`, `p_c = y_c`
    /// (0 for classes the region part does not average).
    above: [L; CC],
    below: [L; CC],
    equal: [L; CC],
    /// Focal part: the coefficients of each class (`focal_coefficients`).
    focal: [FocalCoefficients<L>; CC],
    /// Cross entropy: `k·(1 − ls)`, `k·ls/C` and `Σ_c w_c`.
    ce_y: L,
    ce_s: L,
    ce_wsum: L,
    /// Cross-entropy class weights (1 without), and the class ids as lanes.
    wv: [L; CC],
    kf: [L; CC],
}

/// `v` as a vector.
fn splat<L: Vector>(v: f64) -> L {
    L::splat(v as f32)
}

impl<const CC: usize, L: Vector> Coeffs<CC, L> {
    /// Every coefficient 0, with the kernel's class weights and ids.
    fn zero<M>(k: &Kernel<'_, M>) -> Self {
        let (wv, kf) = k.class_vectors::<CC, L>();
        Coeffs {
            above: [L::ZERO; CC],
            below: [L::ZERO; CC],
            equal: [L::ZERO; CC],
            focal: [FocalCoefficients::zero(); CC],
            ce_y: L::ZERO,
            ce_s: L::ZERO,
            ce_wsum: L::ZERO,
            wv,
            kf,
        }
    }

    /// Sets the cross-entropy and focal coefficients from the totals `tot`
    /// of the batch (the region part is set by [`Self::set_region`]). In
    /// place, not a constructor: a returned `Coeffs` was a second copy on
    /// the stack (136 KiB at the 256-class capacity).
    fn set_totals<M>(&mut self, k: &Kernel<'_, M>, st: &Setup<'_>, tot: &McTotals<CC>, scale: f64) {
        let c = st.shape.c();
        let co = self;
        let lambda = scale * st.plan.lambdas.1;
        let w = |j: usize| {
            st.classes
                .weights
                .and_then(|w| w.get(j))
                .map_or(1.0, |&v| f64::from(v))
        };
        if let Some(ce) = st.plan.ce {
            // The weights in the lanes are scaled by `weight_scale` (a power
            // of two), and so are `tot.ce_den` and `wsum`: the mean's
            // coefficient undoes it, the sum's is divided by it.
            let kce = match ce.reduction {
                Reduction::Mean => lambda / tot.ce_den,
                Reduction::Sum => lambda / f64::from(k.weight_scale),
            };
            let ls = f64::from(ce.label_smoothing);
            let ks = kce * ls / c as f64;
            let wsum: f64 = k.lane_weights().map(f64::from).sum();
            let wsum = if k.weights.is_empty() { c as f64 } else { wsum };
            co.ce_y = splat(kce * (1.0 - ls));
            co.ce_s = splat(ks);
            co.ce_wsum = splat(wsum);
        }
        if let Some(f) = st.plan.focal {
            // The (weighted) mean over every class of each class's reduced loss.
            let wsum: f64 = (0..c).map(w).sum();
            for (j, (fc, s)) in co.focal.iter_mut().zip(&tot.focal).enumerate().take(c) {
                let kj = f.reduction.apply(lambda * w(j) / wsum, tot.kept_b);
                *fc = focal_coefficients(s, f, kj);
            }
        }
    }

    /// The region slopes from per-class sums: `k·∂mean/∂l_c·∂l_c/∂p_c`, the
    /// mean over `classes` weighted by the class weights (a class listed
    /// twice counts twice, as in the forward's mean).
    fn set_region(
        &mut self,
        sums: &[RegionSums; CC],
        t: &Tversky,
        classes: &Classes,
        c: usize,
        k: f64,
    ) {
        let w = |j: usize| {
            classes
                .weights
                .and_then(|w| w.get(j))
                .map_or(1.0, |&v| f64::from(v))
        };
        // Per class: kept, and Σ of its weight over the list.
        let mut kept = [(false, 0.0f64); CC];
        let mut den = 0.0;
        let mut add = |j: usize| {
            if let Some(d) = kept.get_mut(j) {
                *d = (true, d.1 + w(j));
            }
            den += w(j);
        };
        match classes.classes {
            Some(list) => list.iter().for_each(|&j| add(j)),
            None => (0..c).for_each(add),
        }
        let (a, b) = (f64::from(t.alpha), f64::from(t.beta));
        let it = self
            .above
            .iter_mut()
            .zip(&mut self.below)
            .zip(&mut self.equal);
        for (((ab, be), eq), (s, (keep, wj))) in it.zip(sums.iter().zip(kept)).take(c) {
            let [va, vb, ve] = if keep {
                class_coefficients(s, a, b, &t.region, k * wj / den)
            } else {
                [0.0; 3]
            };
            (*ab, *be, *eq) = (L::splat(va), L::splat(vb), L::splat(ve));
        }
    }
}

/// The gradient of a vector of pixels (eight, or two blocks' eight side by
/// side: `P`).
// Float lane arithmetic on a generic vector (clippy cannot tell it from
// integer arithmetic): nothing here can overflow.
#[allow(clippy::too_many_arguments, clippy::arithmetic_side_effects)]
#[inline(always)]
fn step<
    M: Derivative,
    const CC: usize,
    P: Pixels,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    co: &Coeffs<CC, P>,
    c: usize,
    x: [P; CC],
    lab: P,
    keep_a: P,
    keep_b: P,
    e: [P; CC],
) -> [P; CC] {
    let (zero, one) = (P::ZERO, P::ONE);
    // The forward's vertical softmax from its exps `e` (kept in the gradient
    // buffer by the statistics pass): max, sum, one exact reciprocal, the
    // same operations in the same order, so the probabilities `sm` are the
    // forward's bits.
    let mut m = zero;
    let mut sm = [zero; CC];
    // The forward's `rest` and reciprocal, for the region part's `p − y`.
    let (mut rest, mut inv) = (zero, one);
    if softmax(LOGITS, R, CE) {
        m = row_max(&x, c);
        let mut sum = zero;
        let mut first_max = FirstMax::new(m);
        for ((d, v), ek) in sm.iter_mut().zip(&x).zip(&e).take(c) {
            *d = *ek;
            sum += *d;
            rest += P::select(first_max.next(*v), *d - one, *d);
        }
        inv = one / sum;
        for d in sm.iter_mut().take(c) {
            *d *= inv;
        }
    }

    let mut g = [zero; CC];
    if R {
        // The slopes ∂L/∂p_c; `r` is the slope of the largest logit.
        let mut r = zero;
        let mut excess = Excess::new(m, rest, inv);
        let slopes = co.above.iter().zip(&co.below).zip(&co.equal).zip(&co.kf);
        let it = g.iter_mut().zip(x.iter().zip(&sm)).zip(slopes);
        for ((gk, (xk, sk)), (((ab, be), eq), kf)) in it.take(c) {
            let y = one & lab.simd_eq(*kf);
            // The side of the kink from the same `p − y` as the sums.
            let d = if LOGITS {
                excess.next(*xk, *sk, y)
            } else {
                *xk - y
            };
            *gk = region_slope(d, *ab, *be, *eq);
            if LOGITS {
                r = P::select(xk.simd_eq(m), *gk, r);
            }
        }
        if LOGITS {
            // s_c·((g_c − r) − Σ_k s_k (g_k − r)).
            let mut dot = zero;
            for (gk, sk) in g.iter_mut().zip(&sm).take(c) {
                *gk = *gk - r;
                dot += *sk * *gk;
            }
            for (gk, sk) in g.iter_mut().zip(&sm).take(c) {
                *gk = (*sk * (*gk - dot)) & keep_a;
            }
        } else {
            for gk in g.iter_mut().take(c) {
                *gk = *gk & keep_a;
            }
        }
    }

    if CE {
        let mut wy = zero;
        // 1 − s_y as Σ_{k≠y} s_k, without cancellation. With one class that
        // sum is empty: `0·s` (0, or NaN for a NaN logit, as PyTorch's
        // `softmax − one_hot`; found by `multiclass_backward`, seed
        // `ce-one-class-nan-logit`: 0 instead of NaN).
        let mut one_minus_sy = zero;
        for ((sk, wk), kf) in sm.iter().zip(&co.wv).zip(&co.kf).take(c) {
            let eq = lab.simd_eq(*kf);
            wy = P::select(eq, *wk, wy);
            one_minus_sy += P::select(eq, zero, *sk);
        }
        if c == 1 {
            one_minus_sy = sm.first().map_or(zero, |s| zero * *s);
        }
        let a = co.ce_y * wy;
        let it = g.iter_mut().zip(&sm).zip(co.wv.iter().zip(&co.kf));
        for ((gk, s), (wk, kf)) in it.take(c) {
            let s = *s;
            let mut v = a * P::select(lab.simd_eq(*kf), -one_minus_sy, s);
            if k.smoothing {
                // (ls/C)·(Σw·s_c − w_c): exactly 0 for C = 1.
                v += co.ce_s * (co.ce_wsum * s - *wk);
            }
            *gk += v & keep_b;
        }
    }

    if F {
        let (lo, hi) = (P::splat(k.eps), P::splat(1.0 - k.eps));
        let term = k.focal.lanes::<P>();
        let it = g.iter_mut().zip(&x).zip(co.focal.iter().zip(&co.kf));
        for ((gk, xk), (fc, kf)) in it.take(c) {
            let y = one & lab.simd_eq(*kf);
            // The logit the focal term reads: `x`, or ln of the clamped `p`.
            let (z, dz) = if LOGITS {
                (*xk, one)
            } else {
                let pc = clamp_hi(clamp_lo(*xk, lo), hi);
                let inside = !(xk.simd_lt(lo) | xk.simd_gt(hi));
                (math::ln(pc), P::select(inside, one / pc, zero))
            };
            let (_, v) = focal_parts::<_, M, true, true>(&term, k.modulator, fc, z, y);
            let v = if LOGITS { v } else { v * dz };
            *gk += v & keep_b;
        }
    }

    g
}

/// The gradient of one span of `npix` pixels from pixel `start` (see
/// `accumulate::multiclass::walk`): exactly sized loops when
/// `c == CC <= 16`, a runtime count otherwise (the same operations in the
/// same order either way, as in the forward).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn block<
    M: Derivative,
    const CC: usize,
    P: Pixels,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    co: &Coeffs<CC, P>,
    c: usize,
    planes: &[&[f32]; CC],
    out: &mut [&mut [f32]; CC],
    start: usize,
    npix: usize,
    decs: &[Decoded],
) {
    if CC <= 16 && c == CC {
        block_n::<M, CC, P, LOGITS, R, CE, F>(k, co, CC, planes, out, start, npix, decs);
    } else {
        block_n::<M, CC, P, LOGITS, R, CE, F>(k, co, c, planes, out, start, npix, decs);
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block_n<
    M: Derivative,
    const CC: usize,
    P: Pixels,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    co: &Coeffs<CC, P>,
    c: usize,
    planes: &[&[f32]; CC],
    out: &mut [&mut [f32]; CC],
    start: usize,
    npix: usize,
    decs: &[Decoded],
) {
    // The softmax's exps are read back where the statistics pass kept them.
    let read = softmax(LOGITS, R, CE);
    walk::<CC, P>(
        planes,
        c,
        start,
        npix,
        decs,
        Some(out),
        read,
        // Inlined into the loop, as in the forward.
        #[inline(always)]
        |x, e, l, a, b| step::<M, CC, P, LOGITS, R, CE, F>(k, co, c, x, l, a, b, e),
    );
}

/// Writes the gradient of one image (`c` planes of `s` pixels).
#[allow(clippy::too_many_arguments)]
fn image<
    M: Derivative,
    const CC: usize,
    P: Pixels,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    co: &Coeffs<CC, P>,
    c: usize,
    s: usize,
    img: &[f32],
    labels: Ids<'_>,
    grad: &mut [f32],
) -> Result<(), Error> {
    let mut planes: [&[f32]; CC] = [&[]; CC];
    for (d, p) in planes.iter_mut().zip(img.chunks_exact(s.max(1))).take(c) {
        *d = p;
    }
    let mut out: [&mut [f32]; CC] = core::array::from_fn(|_| Default::default());
    for (d, p) in out.iter_mut().zip(grad.chunks_exact_mut(s.max(1))).take(c) {
        *d = p;
    }
    let mut decs = P::decs();
    let span = (BLOCK * LANES).saturating_mul(P::BLOCKS);
    let ignore = (k.ignore_a, k.ignore_b);
    for (start, ids) in (0..s).step_by(span).zip(labels.chunks(span)) {
        decode_span(decs.as_mut(), ids, c, ignore, R, CE || F)?;
        let (d, n) = (decs.as_ref(), ids.len());
        block::<M, CC, P, LOGITS, R, CE, F>(k, co, c, &planes, &mut out, start, n, d);
    }
    Ok(())
}

/// `(grad, (logits, labels))` of each image.
fn images<'a>(
    pred: &'a [f32],
    target: Ids<'a>,
    grad: &'a mut [f32],
    size: usize,
    s: usize,
) -> impl Iterator<Item = (&'a mut [f32], (&'a [f32], Ids<'a>))> {
    let inputs = pred.chunks_exact(size).zip(target.chunks_exact(s));
    grad.chunks_exact_mut(size).zip(inputs)
}

/// Statistics, coefficients and gradient for one instantiation of the
/// dispatch table (see the module docs for the passes).
///
/// Out of line, as are its two halves ([`fused_per_image`], [`gradient`]),
/// so that the per-class coefficient arrays (192 KiB at the 256-class
/// capacity on x86) are not on the stack while the statistics pass's own
/// arrays are: docs/targets.md "Stack".
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn pass<
    M: Derivative,
    const CC: usize,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    st: &Setup<'_>,
    pred: &[f32],
    target: Ids<'_>,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    if let (true, Some((t, classes)), false, false) = (R, st.per_image, CE, F)
        && t.gamma == 1.0
    {
        return fused_per_image::<M, CC, LOGITS, R, CE, F>(
            k, st, t, classes, pred, target, grad, scale,
        );
    }
    let stats = drive::<M, CC, LOGITS, R, CE, F>(
        k,
        pred,
        target,
        st.shape,
        st.per_image,
        Some(&mut *grad),
        |_, _, _, _| Ok(()),
    )?;
    gradient::<M, CC, LOGITS, R, CE, F>(k, st, &stats, pred, target, grad, scale)
}

/// A region loss alone with γ = 1 and `per_image`: each image's statistics,
/// then at once its gradient (two reads).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn fused_per_image<
    M: Derivative,
    const CC: usize,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    st: &Setup<'_>,
    t: &Tversky,
    classes: &Classes,
    pred: &[f32],
    target: Ids<'_>,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let shape = st.shape;
    let (c, s) = (shape.c(), shape.s());
    let scale = f64::from(scale);
    let lambda_r = scale * st.plan.lambdas.0;
    let images_n = shape.n() as f64;
    let mut co = Coeffs::<CC, WG>::zero(k);
    let (tot, image_sum) = drive::<M, CC, LOGITS, R, CE, F>(
        k,
        pred,
        target,
        shape,
        st.per_image,
        Some(grad),
        |ti, img, labels, g| {
            let Some(g) = g else {
                return Ok(());
            };
            co.set_region(&ti.region, t, classes, c, lambda_r / images_n);
            image::<M, CC, WG, LOGITS, R, CE, F>(k, &co, c, s, img, labels, g)
        },
    )?;
    Ok(st.value(&tot, image_sum) as f32)
}

/// The coefficients from the statistics pass's totals `(tot, image_sum)`,
/// then the gradient pass over every image; returns the loss.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn gradient<
    M: Derivative,
    const CC: usize,
    const LOGITS: bool,
    const R: bool,
    const CE: bool,
    const F: bool,
>(
    k: &Kernel<'_, M>,
    st: &Setup<'_>,
    (tot, image_sum): &(McTotals<CC>, f64),
    pred: &[f32],
    target: Ids<'_>,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let shape = st.shape;
    let (n, c, s) = (shape.n(), shape.c(), shape.s());
    let images_n = n as f64;
    let scale = f64::from(scale);
    let lambda_r = scale * st.plan.lambdas.0;
    let size = c.saturating_mul(s);
    let value = st.value(tot, *image_sum);
    let mut co = Coeffs::<CC, WG>::zero(k);
    co.set_totals(k, st, tot, scale);
    match (R, st.plan.region, st.per_image) {
        (true, Some(t), Some((_, classes))) => {
            let kr = lambda_r * mean_dpow(image_sum / images_n, t.gamma) / images_n;
            for (g, (img, labels)) in images(pred, target, grad, size, s) {
                // This image's region sums (the forward's, recomputed).
                let mut ti = McTotals::<CC>::default();
                k.image::<CC, W, LOGITS, true, false, false>(c, s, img, labels, &mut ti, None)?;
                co.set_region(&ti.region, t, classes, c, kr);
                image::<M, CC, WG, LOGITS, R, CE, F>(k, &co, c, s, img, labels, g)?;
            }
        }
        _ => {
            if let (true, Some(t)) = (R, st.plan.region) {
                let mean = region_mean(&tot.region, c, t, st.classes);
                let kr = lambda_r * mean_dpow(mean, t.gamma);
                co.set_region(&tot.region, t, st.classes, c, kr);
            }
            for (g, (img, labels)) in images(pred, target, grad, size, s) {
                image::<M, CC, WG, LOGITS, R, CE, F>(k, &co, c, s, img, labels, g)?;
            }
        }
    }
    Ok(value as f32)
}

/// Validates (as the forward, then the gradient length) and dispatches.
fn run<const CC: usize>(
    pred: &[f32],
    target: Ids<'_>,
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let st = Setup::new::<CC>(pred, target, shape, loss, classes)?;
    check_grad(pred, grad)?;
    dispatch!(&st, pass::<CC>(&st, pred, target, grad, scale))
}

/// Any multiclass [`Loss`] and its gradient, with the class count taken from
/// `shape` at run time (`C <= MAX_CLASSES`); see [`crate::multiclass::loss`].
///
/// `grad` must hold `N·C·S` values ([`Error::GradientLength`] otherwise); it
/// receives `scale · ∂loss/∂pred` in the prediction's layout. The per-class
/// coefficients and vectors live on the stack, sized by the capacity the
/// class count rounds up to (4, 8, 16 or `MAX_CLASSES`): at `MAX_CLASSES`
/// about twice the forward's; prefer [`loss_fixed`] for a small known `C`.
pub fn loss<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    run_any(pred, L::ids(target), shape, loss, classes, grad, scale)
}

/// [`loss`] on the id slice: not generic, so compiled once, in this crate.
fn run_any(
    pred: &[f32],
    target: Ids<'_>,
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    with_capacity!(
        shape.c(),
        run(pred, target, shape, loss, classes, grad, scale)
    )
}

/// [`loss`] with the class count `C` fixed at compile time (per-class
/// coefficients sized exactly, loops unrolled for `C <= 16`); `shape.c()`
/// must equal `C`. The same loss and gradient bits as [`loss`].
///
/// ```
/// use segloss::backward::multiclass as bw;
/// use segloss::multiclass::{Classes, Loss, Shape};
/// let logits = [1.0f32, -1.0, 0.5, -0.5, 2.0, 0.0];
/// let labels = [0i64, 1];
/// let shape = Shape::new(1, 3, 2).unwrap();
/// let l = Loss::Region(segloss::Tversky::default());
/// let (mut a, mut b) = ([0.0f32; 6], [0.0f32; 6]);
/// let la = bw::loss_fixed::<3, _>(&logits, &labels, shape, &l, &Classes::default(), &mut a, 1.0);
/// let lb = bw::loss(&logits, &labels, shape, &l, &Classes::default(), &mut b, 1.0);
/// assert_eq!((la, a), (lb, b));
/// ```
pub fn loss_fixed<const C: usize, L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    loss: &Loss,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    Shape::expect(C, shape.c())?;
    run::<C>(pred, L::ids(target), shape, loss, classes, grad, scale)
}

/// Dice loss and its gradient (see [`crate::multiclass::dice`]).
pub fn dice<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::Region(Tversky::dice(*cfg));
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// Jaccard loss and its gradient (see [`crate::multiclass::jaccard`]).
pub fn jaccard<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &Region,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::Region(Tversky::jaccard(*cfg));
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// Tversky loss and its gradient (see [`crate::multiclass::tversky`]).
pub fn tversky<L: ClassId>(
    pred: &[f32],
    target: &[L],
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

/// smp's one-vs-rest focal loss and its gradient (see
/// [`crate::multiclass::focal`]); from probabilities the gradient is with
/// respect to `p` through `ln p`, zero where `p` is clamped.
pub fn focal<L: ClassId>(
    pred: &[f32],
    target: &[L],
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

/// PyTorch's `cross_entropy` and its gradient with respect to the logits
/// (see [`crate::multiclass::cross_entropy`]).
///
/// ```
/// use segloss::backward::multiclass as bw;
/// use segloss::multiclass::{Classes, CrossEntropy, Shape};
/// let logits = [0.0f32, 0.0]; // two classes, one pixel: p = (1/2, 1/2)
/// let mut g = [0.0f32; 2];
/// let shape = Shape::new(1, 2, 1).unwrap();
/// bw::cross_entropy(&logits, &[1u8], shape, &CrossEntropy::default(), &Classes::default(), &mut g, 1.0)?;
/// assert_eq!(g, [0.5, -0.5]); // softmax − one-hot
/// # Ok::<(), segloss::Error>(())
/// ```
pub fn cross_entropy<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    cfg: &CrossEntropy,
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::CrossEntropy(*cfg);
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// `lambda_dice·dice + lambda_ce·cross_entropy` and its gradient, from one
/// statistics pass and one gradient pass (see [`crate::multiclass::dice_ce`]).
#[allow(clippy::too_many_arguments)]
pub fn dice_ce<L: ClassId>(
    pred: &[f32],
    target: &[L],
    shape: Shape,
    dice: &Region,
    ce: &CrossEntropy,
    lambdas: (f32, f32),
    classes: &Classes,
    grad: &mut [f32],
    scale: f32,
) -> Result<f32, Error> {
    let l = Loss::RegionCe {
        region: Tversky::dice(*dice),
        ce: *ce,
        lambda_region: lambdas.0,
        lambda_ce: lambdas.1,
    };
    loss(pred, target, shape, &l, classes, grad, scale)
}

/// `lambda_dice·dice + lambda_focal·focal` and its gradient (see
/// [`crate::multiclass::dice_focal`]).
#[allow(clippy::too_many_arguments)]
pub fn dice_focal<L: ClassId>(
    pred: &[f32],
    target: &[L],
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

#[cfg(test)]
// Test code, not API: a panic is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    extern crate std;
    use super::*;
    use crate::accumulate::binary::IntGamma;
    use crate::accumulate::multiclass::tests::{
        Case, case, each_plan, lanes_config, same_bits, xorshift,
    };
    use crate::backward::binary::focal_coefficients;
    use crate::loss::focal::FocalSums;
    use proptest::prelude::*;
    use std::vec::Vec;
    use wide::{f32x8, f32x16};

    /// Coefficients of every part, different per class.
    fn coeffs<L: Vector>(k: &Kernel<'_, IntGamma<2>>, c: usize) -> Coeffs<8, L> {
        let mut co = Coeffs::<8, L>::zero(k);
        for j in 0..c {
            let v = 0.1 * (j + 1) as f64;
            (co.above[j], co.below[j], co.equal[j]) = (splat(v), splat(-2.0 * v), splat(0.5 * v));
            let sums = FocalSums {
                pos: v,
                neg: 1.0,
                modulator: 2.0,
            };
            co.focal[j] = focal_coefficients(&sums, &Focal::default(), 0.3 * v);
        }
        (co.ce_y, co.ce_s, co.ce_wsum) = (splat(0.25), splat(0.01), splat(c as f64));
        co
    }

    /// The gradient of one image on vectors `P`, from a buffer of kept
    /// exps `kept` (read back by the softmax plans).
    fn grad_on<P: Pixels, const LOGITS: bool, const R: bool, const CE: bool, const F: bool>(
        t: &Case,
        kept: &[f32],
    ) -> (Result<(), Error>, Vec<f32>) {
        let k = t.kernel();
        let co = coeffs::<P>(&k, t.c);
        let mut g = kept.to_vec();
        let (s, ids) = (t.ids.len(), Ids::U8(&t.ids));
        let r = image::<IntGamma<2>, 8, P, LOGITS, R, CE, F>(&k, &co, t.c, s, &t.x, ids, &mut g);
        (r, g)
    }

    /// `f32x8` and `f32x16` (two blocks side by side) agree bit for bit.
    fn agree_on<const LOGITS: bool, const R: bool, const CE: bool, const F: bool>(
        t: &Case,
        kept: &[f32],
    ) -> Result<(), TestCaseError> {
        let (r8, g8) = grad_on::<f32x8, LOGITS, R, CE, F>(t, kept);
        let (r16, g16) = grad_on::<f32x16, LOGITS, R, CE, F>(t, kept);
        prop_assert_eq!(r8, r16);
        if r8.is_ok() {
            prop_assert!(same_bits(&g8, &g16));
        }
        Ok(())
    }

    proptest! {
        // Two cases under Miri, as the statistics pass's test.
        #![proptest_config(lanes_config(256, 2))]

        /// The gradient pass on sixteen lanes writes the eight-lane bits,
        /// every plan, from kept exps that are any positive values.
        #[test]
        fn sixteen_lane_gradients_give_the_eight_lane_bits(t in case(), seed in any::<u64>()) {
            let mut next = xorshift(seed);
            let kept: Vec<f32> =
                t.x.iter().map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32).collect();
            each_plan!(t.plan, agree_on(&t, &kept))?;
        }
    }
}
