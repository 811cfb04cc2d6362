//! e^t for t ≤ 0 (the only side the losses need), and the shared reduction.
//!
//! Design: Cephes `expf` (S. L. Moshier, Cephes Math Library, `expf.c`):
//! t = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split C1 + C2 of ln2), then
//! e^r = 1 + r + r²·P(r) with Cephes' degree-5 P ("theoretical peak relative
//! error in [-0.5, +0.5] is 4.2e-9"). Instead of `floor` and an int→float
//! conversion (scalar per lane on SSE2), n is rounded with the magic-bias trick
//! used by XNNPACK (`f32-vsigmoid/*-rr2-p5-*`): z = t·log2(e) + 1.5·2^23 + bias
//! leaves n + bias in the low mantissa bits, so `bits(z) << 23` is 2^(n+bias−127)
//! directly. [`exp_nonpos`] uses bias 151 so the scale 2^(n+24) is always a
//! normal number for t ∈ [−104, 0]; one final multiply by 2^−24 then rounds
//! once into the subnormal range, so subnormal results are correctly scaled.

use super::lanes::Lanes;
use super::poly::estrin5;

/// log2(e), rounded to f32.
pub(crate) const LOG2E: f32 = core::f32::consts::LOG2_E;
/// Cephes `C1`: the high part of ln 2 (9 significant bits, so n·C1 is exact).
pub(crate) const LN2_HI: f32 = 0.693_359_4; // = 355/512 = 0.693359375 exactly
/// Cephes `C2`: ln 2 − C1.
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2^23: adding it rounds to an integer in the low mantissa bits.
pub(crate) const MAGIC: f32 = 12_582_912.0;
/// Below this, e^t < 2^−150 rounds to 0 (e^−104 ≈ 6.8e−46).
pub(crate) const EXP_UNDERFLOW: f32 = -104.0;

/// Cephes `expf` polynomial: (e^r − 1 − r)/r² ≈ P(r) on |r| ≤ ln2/2, in
/// Estrin's scheme ([`estrin5`]).
#[inline(always)]
pub(crate) fn expm1_poly<V: Lanes>(r: V) -> V {
    let p = estrin5(
        r,
        [
            0.5, // Cephes 5.0000001201E-1, rounded to f32
            1.666_666_5e-1,
            4.166_579_6e-2,
            8.333_452e-3,
            1.398_199_9e-3,
            1.987_569_1e-4,
        ],
    );
    // e^r − 1 = r + r²·P(r): relative accuracy kept for tiny r.
    p * (r * r) + r
}

/// Cody–Waite reduction with the magic-bias rounding.
///
/// Returns `(r, s)` with t = n·ln2 + r and s = 2^(n + bias − 127); needs
/// n + bias in [1, 254].
#[inline(always)]
pub(crate) fn reduce<V: Lanes>(t: V, bias: f32) -> (V, V) {
    let magic = V::splat(MAGIC + bias);
    let z = t * V::splat(LOG2E) + magic;
    let n = z - magic;
    let s = z.bits_shl(23);
    let r = t - n * V::splat(LN2_HI) - n * V::splat(LN2_LO);
    (r, s)
}

/// e^t for t in [−104, 0] (NaN propagates). Callers clamp t first.
#[inline(always)]
pub(crate) fn exp_nonpos<V: Lanes>(t: V) -> V {
    let (r, s) = reduce(t, 151.0); // s = 2^(n+24), n in [−150, 0]
    let y = expm1_poly(r) + V::splat(1.0);
    (y * s) * V::splat(5.960_464_5e-8) // 2^−24: one rounding into subnormals
}

/// e^t for t ≤ 0 including −∞ (gives 0); NaN propagates.
///
/// t < −104 gives 0 by a select (computing on a harmless 0 meanwhile, so no
/// subnormal intermediates); NaN < −104 is false, so NaN is kept (no
/// target-dependent max/min).
#[inline(always)]
pub(crate) fn exp_nonpos_clamped<V: Lanes>(t: V) -> V {
    let under = t.lt(V::splat(EXP_UNDERFLOW));
    let y = exp_nonpos(V::select(under, V::splat(0.0), t));
    V::select(under, V::splat(0.0), y)
}
