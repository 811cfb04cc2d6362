//! x^g for x in [0, ∞] and a runtime g > 0: the focal modulator when γ is
//! not an integer (integer γ never gets here, it is unrolled into products);
//! and x^g from ln x, for the modulator's bases that underflow in f32.
//! The base is `1 − p_t` in `[0, 1]`, or `(1 − p_t)/reduced_threshold`,
//! which can exceed 1 (and overflow to ∞ for a subnormal threshold).
//!
//! Design: e^{g·ln x} in f64 lanes (`wide::f64x4`, two per `f32x8`), rounded
//! once to f32 at the end. In f32 this would not do: the rounding of
//! `g·ln x` is amplified by `|g·ln x|` (up to ~104 where the result is still
//! a normal f32), which measured 112 ulp and would break SPEC's 1e-6
//! relative bound for focal with a non-integer γ when every pixel is
//! confidently classified. In f64 both steps are accurate to ~1e-13
//! relative, so the one rounding to f32 is correct except within ~1e-6 ulp of
//! a rounding boundary: ≤ 0.5 ulp plus nothing measurable (the exhaustive
//! sweep's bound is in [`super::precision`]).
//!
//! - ln x = k·ln 2 + ln z with z ∈ [√½, √2) taken from the bits (musl's `log`
//!   split, with a bias so only logical shifts are needed), and
//!   ln z = 2·atanh(s), s = (z − 1)/(z + 1), |s| ≤ 0.172: the odd series to
//!   s^15 (truncation < 4e-14 relative). One f64 division per lane.
//!   Both polynomials are evaluated in Estrin's scheme (short dependent
//!   chains, as `super::poly`).
//! - e^t = 2^n·e^r with n = round(t·log2 e) by the magic-number trick (the
//!   same as [`super::exp`], in f64) and |r| ≲ 0.35: Taylor to degree 10
//!   (truncation < 3e-13). t is clamped to [−120, 100], where the f32 result
//!   is already 0 or ∞, so 2^n is always a normal f64.
//!
//! Only `+ − × ÷` (correctly rounded in f64 on every target, in software on
//! Cortex-M4F), compares, selects and bit moves: the same bits everywhere.
//! Specials: 0^g = 0 (also −0), ∞^g = ∞ and NaN propagates, as `powf`; a
//! negative base gives NaN (−∞ too, where `powf` gives ∞: no loss has one).

use super::lanes::{Lanes, Lanes64};

/// Bits of √½ (musl `log`'s `OFF`): z = x·2^−k lands in [√½, √2).
const OFF: u64 = 0x3FE6_A09E_667F_3BCD;
/// 2^52 + 2^51: adding it rounds an f64 to an integer in the low mantissa bits.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// 2^52: `bits(2^52) | n` is 2^52 + n for an integer n < 2^52.
const TWO52_BITS: u64 = 0x4330_0000_0000_0000;
const TWO52: f64 = 4_503_599_627_370_496.0;

/// `c[0] + c[1]·x + … + c[7]·x⁷` in Estrin's scheme (as `super::poly` in
/// f32): four independent pairs combined with `x²` and `x⁴`, the small
/// high-order part added to the low-order part last. Its dependent chain
/// is 6 operations long where Horner's rule has 14 (and [`estrin10`]'s 7
/// where it has 20): these two polynomials were most of `pow`'s latency.
#[inline(always)]
fn estrin7<W: Lanes64>(x: W, c: [f64; 8]) -> W {
    let [c0, c1, c2, c3, c4, c5, c6, c7] = c;
    let k = W::splat;
    let x2 = x * x;
    let x4 = x2 * x2;
    let lo = (k(c0) + k(c1) * x) + (k(c2) + k(c3) * x) * x2;
    let hi = (k(c4) + k(c5) * x) + (k(c6) + k(c7) * x) * x2;
    lo + hi * x4
}

/// `c[0] + c[1]·x + … + c[10]·x¹⁰` in Estrin's scheme (see [`estrin7`]).
#[inline(always)]
fn estrin10<W: Lanes64>(x: W, c: [f64; 11]) -> W {
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10] = c;
    let k = W::splat;
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let lo = (k(c0) + k(c1) * x) + (k(c2) + k(c3) * x) * x2;
    let mid = (k(c4) + k(c5) * x) + (k(c6) + k(c7) * x) * x2;
    let hi = (k(c8) + k(c9) * x) + k(c10) * x2;
    lo + (mid * x4 + hi * x8)
}

/// ln x for a finite x > 0 (f64 lanes; x comes from an f32, so it is normal).
#[inline(always)]
fn ln_pos<W: Lanes64>(x: W) -> W {
    // ix's exponent field is k + 1024 (k = ⌊log2(x/√½)⌋, |k| ≤ 150): with
    // the bias it never wraps, so a logical shift extracts it.
    let ix = x.add_bits((1024_u64 << 52).wrapping_sub(OFF));
    let kfield = ix.shr_bits(52);
    let z = x.sub_bits(kfield.shl_bits(52)).add_bits(1024 << 52);
    let k = kfield.or_bits(TWO52_BITS) - W::splat(TWO52 + 1024.0);
    let one = W::splat(1.0);
    let s = (z - one) / (z + one);
    let w = s * s;
    let p = estrin7(
        w,
        [
            1.0,
            1.0 / 3.0,
            1.0 / 5.0,
            1.0 / 7.0,
            1.0 / 9.0,
            1.0 / 11.0,
            1.0 / 13.0,
            1.0 / 15.0,
        ],
    );
    k * W::splat(core::f64::consts::LN_2) + (s + s) * p
}

/// e^t for t ∈ [−120, 100] (f64 lanes).
#[inline(always)]
fn exp_bounded<W: Lanes64>(t: W) -> W {
    let sum = t * W::splat(core::f64::consts::LOG2_E) + W::splat(MAGIC);
    let n = sum - W::splat(MAGIC);
    let r = t - n * W::splat(core::f64::consts::LN_2);
    // Taylor coefficients 1/0!, 1/1!, …, 1/10!.
    let e = estrin10(
        r,
        [
            1.0,
            1.0,
            0.5,
            1.0 / 6.0,
            1.0 / 24.0,
            1.0 / 120.0,
            1.0 / 720.0,
            1.0 / 5_040.0,
            1.0 / 40_320.0,
            1.0 / 362_880.0,
            1.0 / 3_628_800.0,
        ],
    );
    // The low bits of `sum` are 2^51 + n; shifted up by 52 only n is left.
    e * sum.shl_bits(52).add_bits(1023 << 52)
}

lane_inline! {
/// e^t in f64 with t clamped to [−120, 100] (where the f32 result is
/// already 0 or ∞). Shared by [`pow_generic`] and [`pow_from_ln_generic`]:
/// one copy where there is no SIMD.
fn exp_clamped<W: Lanes64>(t: W) -> W {
    let (lo, hi) = (W::splat(-120.0), W::splat(100.0));
    let t = W::select(t.lt(lo), lo, t);
    let t = W::select(t.gt(hi), hi, t);
    exp_bounded(t)
}
}

/// x^g in f64 for a finite x > 0 (any other x is mended by the caller).
#[inline(always)]
fn pow_pos<W: Lanes64>(x: W, g: f64) -> W {
    exp_clamped(W::splat(g) * ln_pos(x))
}

/// e^{g·(a + b)}: x^g from ln x = a + b, for a base below f32's normal
/// range whose logarithm the caller has (the focal modulator of a confident
/// logit, where `1 − p_t` = σ(−|x|) underflows but ln(1 − p_t) =
/// −softplus(|x|) does not; `b` is ln(1/reduced_threshold), or 0). `a + b`
/// and the rest are formed in f64 as in [`pow_generic`], with one rounding
/// to f32. NaN propagates; a = −∞ gives 0.
#[inline(always)]
pub(crate) fn pow_from_ln_generic<V: Lanes>(a: V, b: f64, g: f32) -> V {
    let splat = <V::Wide as Lanes64>::splat;
    let (g, b) = (splat(f64::from(g)), splat(b));
    let y = a.map_f64(|w| exp_clamped(g * (w + b)));
    V::select(a.eq(a), y, a)
}

/// x^g for x in [0, ∞] (and the specials in the module docs), g > 0 finite.
#[inline(always)]
pub(crate) fn pow_generic<V: Lanes>(x: V, g: f32) -> V {
    let g = f64::from(g);
    let y = x.map_f64(|w| pow_pos(w, g));
    let zero = V::splat(0.0);
    let inf = V::splat(f32::INFINITY);
    let y = V::select(x.eq(zero), zero, y);
    let y = V::select(x.eq(inf), inf, y);
    let y = V::select(x.lt(zero), V::splat(f32::NAN), y);
    // NaN: x itself.
    V::select(x.eq(x), y, x)
}
