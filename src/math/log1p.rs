//! ln(1 + e) for e in [0, 1]: the softplus tail ln(1 + e^{−|x|}).
//!
//! Design: no range reduction and no special cases; the domain is exactly
//! [0, 1], so one polynomial covers it:
//! ln(1 + e) = e + e²·Q(e), Q(e) ≈ (ln(1+e) − e)/e², Q of degree 8 — a
//! Chebyshev (near-minimax) fit on [0, 1] made for segloss with mpmath 1.3
//! `chebyfit` (40 digits), coefficients rounded to f32; fit error of Q
//! 2.9e-8 absolute (≤ 4.3e-8 relative on ln(1+e)). The leading `e + …` keeps
//! the relative accuracy for tiny e (down to subnormals, where e² = 0).

use super::lanes::Lanes;
use super::poly::estrin8;

/// ln(1 + e) for e in [0, 1] (NaN propagates).
#[inline(always)]
pub(crate) fn log1p_unit<V: Lanes>(e: V) -> V {
    let q = estrin8(
        e,
        [
            f32::from_bits(0xBEFF_FFFF), // -0x1.fffffep-2
            f32::from_bits(0x3EAA_AA06), // 0x1.55540cp-2
            f32::from_bits(0xBE7F_DCAE), // -0x1.ffb95cp-3
            f32::from_bits(0x3E4B_4E59), // 0x1.969cb2p-3
            f32::from_bits(0xBE22_4771), // -0x1.448ee2p-3
            f32::from_bits(0x3DEC_C95E), // 0x1.d992bcp-4
            f32::from_bits(0xBD88_B846), // -0x1.11708cp-4
            f32::from_bits(0x3CCE_A2AD), // 0x1.9d455ap-6
            f32::from_bits(0xBB92_594C), // -0x1.24b298p-8
        ],
    );
    q * (e * e) + e
}
