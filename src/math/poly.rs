//! Polynomials in Estrin's scheme: independent pairs `c_k + c_{k+1}·x`
//! combined with `x²`, `x⁴`, `x⁸`, so the dependent chain is about half as
//! long as Horner's.
//!
//! Design: the kernels evaluate these polynomials once per element, on the
//! dependent path from the input to the sums; an out-of-order core keeps only
//! a bounded number of operations in flight, so a shorter chain lets more
//! elements overlap (Horner's degree-8 `Q` of `log1p` was 16 dependent
//! operations, here 8). Each is a fixed expression of `+` and `×` (no FMA),
//! so it gives the same bits on every target; the small high-order terms are
//! added first. Accuracy: `precision::PRECISION`, measured exhaustively.

use super::lanes::Lanes;

/// `c[0] + c[1]·x + … + c[5]·x⁵`, as `(c0 + c1·x) + ((c2 + c3·x)·x² +
/// (c4 + c5·x)·x⁴)`.
#[inline(always)]
pub(crate) fn estrin5<V: Lanes>(x: V, c: [f32; 6]) -> V {
    let [c0, c1, c2, c3, c4, c5] = c;
    let k = V::splat;
    let x2 = x * x;
    let x4 = x2 * x2;
    (k(c0) + k(c1) * x) + ((k(c2) + k(c3) * x) * x2 + (k(c4) + k(c5) * x) * x4)
}

/// `c[0] + c[1]·x + … + c[8]·x⁸`, as `(c0 + c1·x + (c2 + c3·x)·x²) +
/// ((c4 + c5·x + (c6 + c7·x)·x²)·x⁴ + c8·x⁸)`.
#[inline(always)]
pub(crate) fn estrin8<V: Lanes>(x: V, c: [f32; 9]) -> V {
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8] = c;
    let k = V::splat;
    let x2 = x * x;
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let lo = (k(c0) + k(c1) * x) + (k(c2) + k(c3) * x) * x2;
    let hi = (k(c4) + k(c5) * x) + (k(c6) + k(c7) * x) * x2;
    lo + (hi * x4 + k(c8) * x8)
}
