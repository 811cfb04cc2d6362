//! The vector type of the binary kernels, and the one place that picks it.
//!
//! A kernel of a binary pass (and of the multilabel planes, which are binary
//! passes) is written once, against [`Vector`], and runs on [`V`]:
//!
//! - `wide::f32x16` on x86 (SSE2 and up; and anywhere with SIMD under
//!   `--cfg segloss_lanes16`): one kernel call per sixteen elements, two
//!   blocks of the eight-lane driver side by side (`accumulate/pairs.rs`).
//!   With AVX-512 it is one register; elsewhere two `f32x8` computed side by
//!   side, which leaves the out-of-order core more independent work than
//!   one long dependency chain per vector (measured up to +30% on SSE2 and
//!   AVX2; BENCHMARKS.md).
//! - `wide::f32x8` where the target has other SIMD lanes (aarch64 NEON,
//!   wasm32 simd128): one kernel call per eight elements.
//! - `f32` elsewhere (Cortex-M, wasm32 without simd128): there `f32x8` is
//!   eight scalar lanes written out, so a kernel on it is eight copies of its
//!   code. On `f32` the kernel is one copy, and its pass driver
//!   (`accumulate::pass_scalar`, chosen by [`Vector::pass`]) goes one element
//!   at a time. On bare metal that driver calls the kernel through `dyn`
//!   (`accumulate::ScalarTerms`), so it exists once per target type
//!   instead of once per kernel.
//!
//! The bits do not depend on the choice: the `f32` instantiation of every
//! math primitive gives the lane's bits (`src/math`), a kernel's arithmetic
//! is elementwise, and the scalar driver adds each term into the `f32` lane
//! sum the vector driver adds it to, in the same order, and widens and folds
//! through the same code. `--cfg segloss_scalar` forces `f32` kernels (and
//! `dyn`) on any target, so that path is tested on the host
//! (`RUSTFLAGS="--cfg segloss_scalar" cargo test`); CI tests it on wasm32
//! without simd128 and in the Cortex-M firmware, against host hashes.
//!
//! The multiclass softmax reads one vector from each class plane and keeps
//! its per-class sums in its own driver; it picks its own vector the same
//! way (`accumulate::multiclass::W`: `f32x16` on x86, `f32x8` elsewhere,
//! also where the binary kernels run on `f32`).

// Float arithmetic and bit operations only: nothing here can overflow.
#![allow(clippy::arithmetic_side_effects)]

use super::pairs::{pass_pairs, write_pairs};
use super::{Output, Target, Totals, pass_masked, pass_scalar, write_masked, write_scalar};
use crate::error::Error;
use crate::math::{Lanes, narrow, narrow16, widen, widen16};
use core::ops::{AddAssign, MulAssign};
use wide::{f32x8, f32x16};

#[cfg(all(
    any(
        target_feature = "sse2",
        target_feature = "neon",
        target_feature = "simd128"
    ),
    not(segloss_scalar)
))]
mod pick {
    /// The vector type of the binary kernels on this target (see the
    /// module docs).
    #[cfg(not(any(target_feature = "sse2", segloss_lanes16)))]
    pub(crate) type V = wide::f32x8;

    /// The vector type of the binary kernels on this target (see the
    /// module docs).
    #[cfg(any(target_feature = "sse2", segloss_lanes16))]
    pub(crate) type V = wide::f32x16;

    /// A gradient kernel as the write drivers call it: itself.
    #[inline(always)]
    pub(crate) fn dispatch_ref<F: ?Sized>(f: &F) -> &F {
        f
    }
}

#[cfg(not(all(
    any(
        target_feature = "sse2",
        target_feature = "neon",
        target_feature = "simd128"
    ),
    not(segloss_scalar)
)))]
mod pick {
    /// The vector type of the binary kernels on this target (see the
    /// module docs).
    pub(crate) type V = f32;

    /// A gradient kernel as the write drivers call it. On bare metal
    /// (`target_os = "none"`, and under `--cfg segloss_scalar` so the host
    /// tests this path) through `dyn`, so the driver is compiled once per
    /// target type, ignore mode and source, not once per kernel: a call per
    /// element costs little beside the kernel's math, and flash is what
    /// counts there. Elsewhere (wasm32 without simd128) the kernel itself,
    /// inlined into its driver: dispatch through `dyn` cost wasm 30–40% of
    /// its throughput there. (The pass driver makes the same choice:
    /// `accumulate::pass_scalar`.)
    #[cfg(any(target_os = "none", segloss_scalar))]
    pub(crate) fn dispatch_ref(f: &impl super::WriteKernel<V>) -> &dyn super::WriteKernel<V> {
        f
    }

    /// A gradient kernel as the write drivers call it (see the bare-metal
    /// version).
    #[cfg(not(any(target_os = "none", segloss_scalar)))]
    #[inline(always)]
    pub(crate) fn dispatch_ref<F: ?Sized>(f: &F) -> &F {
        f
    }
}

pub(crate) use pick::{V, dispatch_ref};

/// A per-element write's kernel (a gradient), `(x, y) ↦ value` on lanes
/// `L`, as the drivers call it: every `Fn(L, L) -> L` closure is one. A
/// trait of its own rather than `Fn` because of [`dispatch_ref`]: a
/// `dyn WriteKernel` vtable holds this one method, where a `dyn Fn` vtable
/// also holds `call_mut` and `call_once`, copies of every kernel's body that
/// no caller reaches.
pub(crate) trait WriteKernel<L> {
    /// The value written for the lanes `x` and `y`.
    fn call(&self, x: L, y: L) -> L;
}

impl<L, F: Fn(L, L) -> L> WriteKernel<L> for F {
    #[inline(always)]
    fn call(&self, x: L, y: L) -> L {
        self(x, y)
    }
}

/// What a kernel needs beyond the math primitives' [`Lanes`]: the names
/// follow `wide` (`simd_eq`, …), so a kernel reads the same on `f32x8` and
/// `f32`. Masks are `f32x8` lanes of all ones or zeros, or `bool`.
pub(crate) trait Vector: Lanes + AddAssign + MulAssign {
    /// Every lane 0.
    const ZERO: Self;
    /// Every lane 1.
    const ONE: Self;
    /// Lanewise `self == rhs`.
    fn simd_eq(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self < rhs`.
    fn simd_lt(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self > rhs`.
    fn simd_gt(self, rhs: Self) -> Self::Mask;
    /// `self` where `m`, +0 elsewhere.
    fn and_mask(self, m: Self::Mask) -> Self;
    /// `self < 0 ? 0 : self`: NaN and −0 give `self` ([`Lanes::max_keep`]
    /// with 0: on x86 exactly `maxps(0, self)`, one instruction).
    #[inline(always)]
    fn relu(self) -> Self {
        self.max_keep(Self::ZERO)
    }
    /// `self += v` in the lanes of `m` (a block sum's masked step): a
    /// select of the sum with AVX-512, which the compiler makes one masked
    /// add (`and_mask` then `+` are two vector operations), and
    /// `v.and_mask(m)` elsewhere (a select is three operations on SSE2).
    /// The same bits: where `m` is clear both give `self` (`self + 0 =
    /// self`, and a sum from +0 is never −0), NaN in `v` included.
    #[cfg_attr(not(feature = "nchw"), allow(dead_code))] // the multiclass pass's
    #[inline(always)]
    fn add_where(&mut self, m: Self::Mask, v: Self) {
        if cfg!(target_feature = "avx512f") {
            *self = Self::select(m, *self + v, *self);
        } else {
            *self += v.and_mask(m);
        }
    }
    /// Lanewise square root, correctly rounded (IEEE 754 on every target:
    /// `sqrtps`, NEON, wasm's `f32x4.sqrt`, `wide`'s and libm's software
    /// roots elsewhere), so the same bits everywhere.
    fn sqrt(self) -> Self;
    /// Whether every lane of `m` is set.
    fn all(m: Self::Mask) -> bool;
    /// Whether any lane of `m` is set.
    fn any(m: Self::Mask) -> bool;
    /// `f(a, b, c, d)` in f64 lanes: every lane widened (exact), `f`
    /// applied, each result rounded once to f32.
    fn map4_f64(
        a: Self,
        b: Self,
        c: Self,
        d: Self,
        f: impl Fn(Self::Wide, Self::Wide, Self::Wide, Self::Wide) -> Self::Wide,
    ) -> Self;
    /// A pass over `pred`, `target` with the kernel `terms` (and `ignore`
    /// when `IGNORE`): `accumulate::pass_masked`, one `f32x8` at a time, or
    /// `accumulate::pass_scalar`, one element at a time; the same totals.
    fn pass<T, const K: usize, O, const IGNORE: bool, F>(
        pred: &[f32],
        target: &[T],
        ignore: f32,
        out: &mut [f32],
        terms: &mut F,
    ) -> Result<Totals<K>, Error>
    where
        T: Target,
        O: Output<K, Self>,
        F: FnMut(Self, Self) -> O + ?Sized;
    /// Writes `f(x, y)` for every element into `grad` (0 where ignored;
    /// `x` from `grad` itself when `IN_PLACE`): `accumulate::write_masked`
    /// or `accumulate::write_scalar`, the same values.
    fn write<T, const IGNORE: bool, const IN_PLACE: bool, F>(
        pred: &[f32],
        target: &[T],
        ignore: f32,
        grad: &mut [f32],
        f: &F,
    ) where
        T: Target,
        F: WriteKernel<Self> + ?Sized;
}

/// [`Vector`] for a `wide` f32 vector `$v`, whose passes and writes go
/// through `$pass` and `$write` and whose f64 halves are `$widen` and
/// `$narrow`. One body for `f32x8` and `f32x16`.
macro_rules! vector_for_wide {
    ($v:ty, $pass:ident, $write:ident, $widen:ident, $narrow:ident) => {
        impl Vector for $v {
            #[inline(always)]
            fn pass<T, const K: usize, O, const IGNORE: bool, F>(
                pred: &[f32],
                target: &[T],
                ignore: f32,
                out: &mut [f32],
                terms: &mut F,
            ) -> Result<Totals<K>, Error>
            where
                T: Target,
                O: Output<K, Self>,
                F: FnMut(Self, Self) -> O + ?Sized,
            {
                $pass::<T, K, O, IGNORE, F>(pred, target, ignore, out, terms)
            }
            #[inline(always)]
            fn write<T, const IGNORE: bool, const IN_PLACE: bool, F>(
                pred: &[f32],
                target: &[T],
                ignore: f32,
                grad: &mut [f32],
                f: &F,
            ) where
                T: Target,
                F: WriteKernel<Self> + ?Sized,
            {
                $write::<T, IGNORE, IN_PLACE, F>(pred, target, ignore, grad, f);
            }
            const ZERO: Self = <$v>::ZERO;
            const ONE: Self = <$v>::ONE;
            #[inline(always)]
            fn simd_eq(self, rhs: Self) -> Self {
                <$v>::simd_eq(self, rhs)
            }
            #[inline(always)]
            fn simd_lt(self, rhs: Self) -> Self {
                <$v>::simd_lt(self, rhs)
            }
            #[inline(always)]
            fn simd_gt(self, rhs: Self) -> Self {
                <$v>::simd_gt(self, rhs)
            }
            #[inline(always)]
            fn and_mask(self, m: Self) -> Self {
                self & m
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$v>::sqrt(self)
            }
            #[inline(always)]
            fn all(m: Self::Mask) -> bool {
                m.all()
            }
            #[inline(always)]
            fn any(m: Self::Mask) -> bool {
                m.any()
            }
            #[inline(always)]
            fn map4_f64(
                a: Self,
                b: Self,
                c: Self,
                d: Self,
                f: impl Fn(Self::Wide, Self::Wide, Self::Wide, Self::Wide) -> Self::Wide,
            ) -> Self {
                let ([a0, a1], [b0, b1]) = ($widen(a), $widen(b));
                let ([c0, c1], [d0, d1]) = ($widen(c), $widen(d));
                $narrow([f(a0, b0, c0, d0), f(a1, b1, c1, d1)])
            }
        }
    };
}

vector_for_wide!(f32x8, pass_masked, write_masked, widen, narrow);
vector_for_wide!(f32x16, pass_pairs, write_pairs, widen16, narrow16);

impl Vector for f32 {
    #[inline(always)]
    fn pass<T, const K: usize, O, const IGNORE: bool, F>(
        pred: &[f32],
        target: &[T],
        ignore: f32,
        out: &mut [f32],
        terms: &mut F,
    ) -> Result<Totals<K>, Error>
    where
        T: Target,
        O: Output<K, Self>,
        F: FnMut(Self, Self) -> O + ?Sized,
    {
        pass_scalar::<T, K, O, IGNORE, F>(pred, target, ignore, out, terms)
    }
    #[inline(always)]
    fn write<T, const IGNORE: bool, const IN_PLACE: bool, F>(
        pred: &[f32],
        target: &[T],
        ignore: f32,
        grad: &mut [f32],
        f: &F,
    ) where
        T: Target,
        F: WriteKernel<Self> + ?Sized,
    {
        write_scalar::<T, IGNORE, IN_PLACE, F>(pred, target, ignore, grad, f);
    }
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn simd_eq(self, rhs: Self) -> bool {
        self == rhs
    }
    #[inline(always)]
    fn simd_lt(self, rhs: Self) -> bool {
        self < rhs
    }
    #[inline(always)]
    fn simd_gt(self, rhs: Self) -> bool {
        self > rhs
    }
    #[inline(always)]
    fn and_mask(self, m: bool) -> Self {
        <f32 as Lanes>::select(m, self, 0.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // libm's `sqrtf` is `sqrtss` in inline asm on x86, which Miri
        // cannot run; `wide`'s lane root (an intrinsic) gives the same
        // correctly rounded bits.
        #[cfg(miri)]
        let [r, ..] = wide::f32x4::splat(self).sqrt().to_array();
        #[cfg(not(miri))]
        let r = libm::sqrtf(self);
        r
    }
    #[inline(always)]
    fn all(m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn any(m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn map4_f64(a: Self, b: Self, c: Self, d: Self, f: impl Fn(f64, f64, f64, f64) -> f64) -> Self {
        let w = f64::from;
        f(w(a), w(b), w(c), w(d)) as f32
    }
}

/// Every lane of a [`V`] equal to `v`.
#[inline(always)]
pub(crate) fn splat(v: f32) -> V {
    <V as Lanes>::splat(v)
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]

    extern crate std;

    use super::*;
    use crate::accumulate::LANES;
    use crate::accumulate::binary::{
        FocalTerm, IntGamma, RealGamma, bce_terms, hard_terms, link, mul00, prob_region_terms,
        sigmoid_focal_terms, sigmoid_region_terms, soft_terms,
    };
    use crate::backward::binary::{Derivative, FocalCoefficients, focal_parts, region_slope};
    use crate::config::Focal;
    use crate::loss::focal::FocalSums;
    use proptest::prelude::*;

    /// `V` is what the cfg says: `f32` under `--cfg segloss_scalar` or
    /// without SIMD, `f32x16` with AVX-512 or under `--cfg segloss_lanes16`,
    /// `f32x8` otherwise.
    #[test]
    fn the_kernel_vector_is_the_configured_one() {
        let simd = cfg!(any(
            target_feature = "sse2",
            target_feature = "neon",
            target_feature = "simd128"
        ));
        let scalar = cfg!(segloss_scalar) || !simd;
        let sixteen = cfg!(any(target_feature = "sse2", segloss_lanes16));
        let bytes = match (scalar, sixteen) {
            (true, _) => 4,
            (false, false) => 32,
            (false, true) => 64,
        };
        assert_eq!(core::mem::size_of::<V>(), bytes);
    }

    /// Every term and slope the binary kernels are built from, as one
    /// kernel generic over the vector (logits and probabilities, integer
    /// and real γ, a normalised focal gradient with α). The targets of a
    /// vector are sometimes all 0 or 1, so the focal terms' shortcut for
    /// hard targets (`FocalTerm::pt`) is checked against the scalar path
    /// too, as are vectors that mix hard and soft targets.
    fn kernel<L: Vector, M: Derivative>(m: M, x: L, y: L) -> [L; 32] {
        let ft = FocalTerm::<L>::new(1e-7, Some(0.5));
        let sums = FocalSums {
            pos: 3.0,
            neg: 1.5,
            modulator: 0.7,
        };
        let cfg = Focal {
            alpha: Some(0.25),
            normalized: true,
            ..Focal::default()
        };
        let co = FocalCoefficients::<L>::zero();
        let co_n = crate::backward::binary::focal_coefficients::<L>(&sums, &cfg, 0.01);
        let l = link::<L, true>(x);
        let lp = link::<L, false>(x);
        let [a, b, c] = sigmoid_region_terms::<L, true>(l.p, l.q, y);
        let [d, e, f] = prob_region_terms(x, y);
        let [g, h, i, j] = soft_terms(l.p, l.q, y);
        let [k, n, o, p] = bce_terms(&lp, y);
        let [q, r, _, _] = hard_terms(l.p, y, L::splat(0.5));
        let [s, t] = sigmoid_focal_terms(m, &l, y);
        let [u, _, w] = ft.terms::<false, _>(m, &lp, y);
        let [u1, _, w1] = ft.terms::<true, _>(m, &l, y);
        let ([_, _, z], g1) = focal_parts::<L, M, true, false>(&ft, m, &co, x, y);
        let (_, g2) = focal_parts::<L, M, false, true>(&ft, m, &co_n, x, y);
        let slope = region_slope(x - y, L::splat(1.5), L::splat(-0.5), L::ONE);
        [
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
            k,
            n,
            o,
            p,
            q,
            r,
            s,
            t,
            u,
            w,
            u1,
            w1,
            z,
            g1,
            g2,
            slope,
            mul00(x, y),
            m.dpow(l.p),
            m.dpow_mul(l.p, l.q),
            lp.sp_pos,
            x.relu(),
            x.min_keep(y),
        ]
    }

    fn same_bits<M: Derivative>(m: M, x: [f32; LANES], y: [f32; LANES]) {
        let lanes = kernel(m, f32x8::new(x), f32x8::new(y)).map(|v| v.to_array());
        for j in 0..LANES {
            let one = kernel(m, x[j], y[j]);
            for (k, (v, l)) in one.iter().zip(&lanes).enumerate() {
                let (a, b) = (v.to_bits(), l[j].to_bits());
                // NaN payloads are not specified: any NaN matches any NaN.
                let same = a == b || (v.is_nan() && l[j].is_nan());
                assert!(
                    same,
                    "term {k}, x = {}, y = {}: {v} vs {}",
                    x[j], y[j], l[j]
                );
            }
        }
    }

    /// A logit, a probability, any bit pattern or a special value.
    pub(in crate::accumulate) fn value() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => -30.0f32..30.0,
            1 => 0.0f32..=1.0,
            1 => any::<u32>().prop_map(f32::from_bits),
            1 => prop::sample::select(std::vec![
                0.0, -0.0, 1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN,
                f32::from_bits(1), f32::MIN_POSITIVE, 1e-30, 88.0, -104.0, f32::MAX,
            ]),
        ]
    }

    /// A test's size for this build: `native`; `emulated` on the
    /// unoptimised, emulated builds of `.ci/targets.sh` (which set
    /// `SEGLOSS_SAMPLE_STEP` at compile time, as the math sweeps read it:
    /// the fingerprint test checks the bits there); `miri` in the
    /// interpreter.
    pub(crate) const fn per_build(native: usize, emulated: usize, miri: usize) -> usize {
        if cfg!(miri) {
            miri
        } else if option_env!("SEGLOSS_SAMPLE_STEP").is_some() {
            emulated
        } else {
            native
        }
    }

    /// The proptest settings of the lane tests (here, `pairs.rs` and the
    /// multiclass drivers): `cases`, or `miri` in the interpreter, and no
    /// failure file (Miri's isolation has no working directory).
    pub(crate) fn lanes_config(cases: u32, miri: u32) -> ProptestConfig {
        ProptestConfig {
            cases: if cfg!(miri) { miri } else { cases },
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        // One case in the interpreter (five kernels on eight lanes each).
        #![proptest_config(lanes_config(256, 1))]

        /// A kernel on `f32` (the path of targets without SIMD) gives the
        /// bits of the same kernel's `f32x8` lane, so the scalar path and
        /// the vector path agree element by element.
        #[test]
        fn scalar_kernels_give_the_lane_bits(
            x in prop::array::uniform8(value()),
            y in prop_oneof![
                prop::array::uniform8(value()),
                prop::array::uniform8(prop::sample::select(std::vec![0.0f32, 1.0])),
                prop::array::uniform8(prop::sample::select(std::vec![0.0f32, 1.0, 0.25])),
            ],
        ) {
            same_bits(IntGamma::<2>, x, y);
            same_bits(IntGamma::<0>, x, y);
            same_bits(RealGamma::new(1.5), x, y);
            same_bits(RealGamma::new(0.5), x, y);
            same_bits(RealGamma::new(0.3), x, y);
        }
    }
}
