//! The lane abstraction every primitive in `math` is written against.
//!
//! Design (memchr's `Vector` / libm's `Float` habit): each algorithm is written
//! ONCE, generic over [`Lanes`]; the vector kernel is the `f32x8`
//! instantiation and the scalar twin is the `f32` instantiation. The trait
//! exposes only operations that are exact or correctly rounded IEEE-754
//! single-precision operations (`+ - * /`, compares, select, bit moves), so
//! both instantiations give the same bits on every target (no FMA, no
//! approximate reciprocal, no target-dependent `max`/`min` NaN rules).

use core::ops::{Add, Div, Mul, Neg, Sub};
use wide::f32x8;

/// Lane operations the math primitives need. Every method is exact or a
/// single correctly rounded IEEE operation.
pub(crate) trait Lanes:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Result of a lanewise comparison (false for NaN operands).
    type Mask: Copy;
    /// Every lane equal to `v`.
    fn splat(v: f32) -> Self;
    /// |self| (clears the sign bit; exact).
    fn abs(self) -> Self;
    /// Lanewise `self < rhs`.
    fn lt(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self > rhs`.
    fn gt(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self >= rhs`.
    fn ge(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self == rhs`.
    fn eq(self, rhs: Self) -> Self::Mask;
    /// Lanewise `m ? a : b`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Bit pattern shifted left by `n`, reinterpreted as f32.
    fn bits_shl(self, n: u32) -> Self;
    /// Bit pattern shifted right (logical) by `n`, reinterpreted as f32.
    fn bits_shr(self, n: u32) -> Self;
    /// Bit pattern AND `m`, reinterpreted as f32.
    fn bits_and(self, m: u32) -> Self;
    /// Bit pattern OR `m`, reinterpreted as f32.
    fn bits_or(self, m: u32) -> Self;
    /// `libm::powf(lane, g)` for every lane (software, the same bits on every
    /// target).
    fn powf_lanes(self, g: f32) -> Self;
}

impl Lanes for f32 {
    #[inline(always)]
    fn powf_lanes(self, g: f32) -> Self {
        libm::powf(self, g)
    }

    type Mask = bool;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::from_bits(self.to_bits() & 0x7FFF_FFFF)
    }
    #[inline(always)]
    fn lt(self, rhs: Self) -> bool {
        self < rhs
    }
    #[inline(always)]
    fn gt(self, rhs: Self) -> bool {
        self > rhs
    }
    #[inline(always)]
    fn ge(self, rhs: Self) -> bool {
        self >= rhs
    }
    #[inline(always)]
    fn eq(self, rhs: Self) -> bool {
        self == rhs
    }
    #[inline(always)]
    fn select(m: bool, a: Self, b: Self) -> Self {
        // Branch-free (as the vector blend): a data-dependent branch on the
        // sign of a logit mispredicts half the time.
        let mask = (m as u32).wrapping_neg();
        f32::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
    }
    #[inline(always)]
    fn bits_shl(self, n: u32) -> Self {
        f32::from_bits(self.to_bits() << n)
    }
    #[inline(always)]
    fn bits_shr(self, n: u32) -> Self {
        f32::from_bits(self.to_bits() >> n)
    }
    #[inline(always)]
    fn bits_and(self, m: u32) -> Self {
        f32::from_bits(self.to_bits() & m)
    }
    #[inline(always)]
    fn bits_or(self, m: u32) -> Self {
        f32::from_bits(self.to_bits() | m)
    }
}

impl Lanes for f32x8 {
    #[inline(always)]
    fn powf_lanes(self, g: f32) -> Self {
        f32x8::new(self.to_array().map(|v| libm::powf(v, g)))
    }

    type Mask = f32x8;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        f32x8::splat(v)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.bits_and(0x7FFF_FFFF)
    }
    #[inline(always)]
    fn lt(self, rhs: Self) -> Self {
        self.simd_lt(rhs)
    }
    #[inline(always)]
    fn gt(self, rhs: Self) -> Self {
        self.simd_gt(rhs)
    }
    #[inline(always)]
    fn ge(self, rhs: Self) -> Self {
        self.simd_ge(rhs)
    }
    #[inline(always)]
    fn eq(self, rhs: Self) -> Self {
        self.simd_eq(rhs)
    }
    #[inline(always)]
    fn select(m: Self, a: Self, b: Self) -> Self {
        m.select(a, b)
    }
    #[inline(always)]
    fn bits_shl(self, n: u32) -> Self {
        f32x8::from_bits(self.to_bits() << n)
    }
    #[inline(always)]
    fn bits_shr(self, n: u32) -> Self {
        f32x8::from_bits(self.to_bits() >> n)
    }
    #[inline(always)]
    fn bits_and(self, m: u32) -> Self {
        f32x8::from_bits(self.to_bits() & wide::u32x8::splat(m))
    }
    #[inline(always)]
    fn bits_or(self, m: u32) -> Self {
        f32x8::from_bits(self.to_bits() | wide::u32x8::splat(m))
    }
}
