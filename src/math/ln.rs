//! ln(p) for probabilities p in [0, 1] (BCE on probabilities).
//!
//! Design: Cephes `logf` (S. L. Moshier, Cephes Math Library, `logf.c`):
//! p = 2^k·m with m ∈ [√½, √2), f = m − 1 (exact), ln p = k·ln2 + f − f²/2 +
//! f³·P(f) with Cephes' degree-8 P and the Cody–Waite split of ln 2.
//! The exponent is read from the bits and turned into a float with the
//! 2^23-bias trick (no int→float conversion, which is scalar per lane on
//! SSE2); subnormal p are first scaled by 2^23. Fix-ups by select: p = 0 gives
//! −∞, p = +∞ gives +∞, NaN and p < 0 give NaN. p = 1 gives exactly 0.

use super::exp::{LN2_HI, LN2_LO};
use super::lanes::Lanes;
use super::poly::estrin8;

/// ln(p) for p ≥ 0: ln 0 = −∞; NaN and negative p give NaN.
#[inline(always)]
pub(crate) fn ln_generic<V: Lanes>(p: V) -> V {
    const TWO_23: f32 = 8_388_608.0;
    let tiny = p.lt(V::splat(f32::MIN_POSITIVE));
    let x = V::select(tiny, p * V::splat(TWO_23), p);
    // 2^23 + biased exponent, minus (2^23 + bias): the unbiased exponent.
    let bias = V::select(tiny, V::splat(TWO_23 + 150.0), V::splat(TWO_23 + 127.0));
    let k = x.bits_shr(23).bits_or(0x4B00_0000) - bias;
    let m = x.bits_and(0x007F_FFFF).bits_or(0x3F80_0000); // [1, 2)
    let big = m.gt(V::splat(core::f32::consts::SQRT_2));
    let m = V::select(big, m * V::splat(0.5), m);
    let k = V::select(big, k + V::splat(1.0), k);
    let f = m - V::splat(1.0);
    let z = f * f;
    let y = estrin8(
        f,
        [
            3.333_333e-1, // Cephes 3.3333331174E-1 in f32
            -2.499_999_4e-1,
            2.000_071_4e-1,
            -1.666_805_8e-1,
            1.424_932_3e-1,
            -1.242_014_1e-1,
            1.167_699_9e-1,
            -1.151_461e-1,
            7.037_683_6e-2,
        ],
    );
    let y = y * f * z;
    let y = y + k * V::splat(LN2_LO);
    let y = y - V::splat(0.5) * z;
    let r = (f + y) + k * V::splat(LN2_HI);
    // Fix-ups: p > 0 finite keeps r; 0 → −∞; +∞ → +∞; NaN, p < 0 → NaN.
    let inf = V::splat(f32::INFINITY);
    let r = V::select(p.eq(inf), inf, r);
    let r = V::select(p.eq(V::splat(0.0)), -inf, r);
    V::select(p.ge(V::splat(0.0)), r, V::splat(f32::NAN))
}
