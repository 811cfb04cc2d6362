//! The lane abstraction every primitive in `math` is written against.
//!
//! Design (memchr's `Vector` / libm's `Float` habit): each algorithm is written
//! ONCE, generic over [`Lanes`]; the vector kernel is the `f32x8`
//! instantiation and the scalar twin is the `f32` instantiation. The trait
//! exposes only operations that are exact or correctly rounded IEEE-754
//! single-precision operations (`+ - * /`, compares, select, bit moves), so
//! both instantiations give the same bits on every target (no FMA, no
//! approximate reciprocal, no target-dependent `max`/`min` NaN rules).

use core::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};
use wide::{f32x8, f32x16, f64x4, f64x8, u64x4, u64x8};

/// A lanewise comparison result: `bool` for one lane, all-ones/all-zeros
/// lanes for a vector; combined with `&`, `|`, `!`.
pub(crate) trait Mask:
    Copy + BitAnd<Output = Self> + BitOr<Output = Self> + Not<Output = Self>
{
}

impl<M: Copy + BitAnd<Output = M> + BitOr<Output = M> + Not<Output = M>> Mask for M {}

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
    type Mask: Mask;
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
    /// `self > y ? y : self`: a NaN in either gives `self` (on x86 exactly
    /// `minps(y, self)`, one instruction; elsewhere a compare and a select,
    /// since other targets' `min` has other NaN and ±0 rules).
    fn min_keep(self, y: Self) -> Self;
    /// `self < y ? y : self`: a NaN in either gives `self` (on x86 exactly
    /// `maxps(y, self)`; elsewhere a compare and a select).
    fn max_keep(self, y: Self) -> Self;
    /// Bit pattern shifted left by `n`, reinterpreted as f32.
    fn bits_shl(self, n: u32) -> Self;
    /// Bit pattern shifted right (logical) by `n`, reinterpreted as f32.
    fn bits_shr(self, n: u32) -> Self;
    /// Bit pattern AND `m`, reinterpreted as f32.
    fn bits_and(self, m: u32) -> Self;
    /// Bit pattern OR `m`, reinterpreted as f32.
    fn bits_or(self, m: u32) -> Self;
    /// The f64 lanes of the same width (`f64` for `f32`, `f64x4` pairs for
    /// `f32x8`).
    type Wide: Lanes64;
    /// `f(self)` evaluated in f64 lanes: every lane widened (exact), `f`
    /// applied, and each result rounded once to f32.
    fn map_f64<F: Fn(Self::Wide) -> Self::Wide>(self, f: F) -> Self;
}

/// The eight lanes of `v` as two `f64x4` (exact).
#[inline(always)]
pub(crate) fn widen(v: f32x8) -> [f64x4; 2] {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = v.to_array().map(f64::from);
    [f64x4::new([a0, a1, a2, a3]), f64x4::new([a4, a5, a6, a7])]
}

/// Two `f64x4` as eight f32 lanes, each rounded once.
#[inline(always)]
pub(crate) fn narrow([lo, hi]: [f64x4; 2]) -> f32x8 {
    let [a0, a1, a2, a3] = lo.to_array();
    let [a4, a5, a6, a7] = hi.to_array();
    f32x8::new([a0, a1, a2, a3, a4, a5, a6, a7].map(|v| v as f32))
}

/// The sixteen lanes of `v` as two `f64x8` (exact).
#[inline(always)]
pub(crate) fn widen16(v: f32x16) -> [f64x8; 2] {
    let a = v.to_array().map(f64::from);
    let (lo, hi) = a.split_at(8);
    let half = |h: &[f64]| {
        let mut w = [0.0f64; 8];
        w.copy_from_slice(h);
        f64x8::new(w)
    };
    [half(lo), half(hi)]
}

/// Two `f64x8` as sixteen f32 lanes, each rounded once.
#[inline(always)]
pub(crate) fn narrow16([lo, hi]: [f64x8; 2]) -> f32x16 {
    let mut a = [0.0f32; 16];
    for (d, s) in a
        .iter_mut()
        .zip(lo.to_array().into_iter().chain(hi.to_array()))
    {
        *d = s as f32;
    }
    f32x16::new(a)
}

/// f64 lane operations (`pow`'s intermediate precision): the same rules as
/// [`Lanes`], every method exact or one correctly rounded IEEE operation.
/// The bit methods act on the IEEE bit pattern and reinterpret it.
pub(crate) trait Lanes64:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// Result of a lanewise comparison (false for NaN operands).
    type Mask: Mask;
    /// Every lane equal to `v`.
    fn splat(v: f64) -> Self;
    /// Lanewise `self == rhs`.
    fn eq(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self < rhs`.
    fn lt(self, rhs: Self) -> Self::Mask;
    /// Lanewise `self > rhs`.
    fn gt(self, rhs: Self) -> Self::Mask;
    /// Lanewise `m ? a : b`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Bits shifted left by `n`.
    fn shl_bits(self, n: u32) -> Self;
    /// Bits shifted right (logical) by `n`.
    fn shr_bits(self, n: u32) -> Self;
    /// Bits OR `m`.
    fn or_bits(self, m: u64) -> Self;
    /// Bits plus `c` (wrapping).
    fn add_bits(self, c: u64) -> Self;
    /// Bits minus the bits of `rhs` (wrapping).
    fn sub_bits(self, rhs: Self) -> Self;
}

impl Lanes for f32 {
    type Wide = f64;
    #[inline(always)]
    fn map_f64<F: Fn(f64) -> f64>(self, f: F) -> Self {
        f(f64::from(self)) as f32
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
    fn min_keep(self, y: Self) -> Self {
        Self::select(self > y, y, self)
    }
    #[inline(always)]
    fn max_keep(self, y: Self) -> Self {
        Self::select(self < y, y, self)
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

/// [`Lanes`] for a `wide` f32 vector `$v`: `$wide` its f64 lanes (as two
/// halves, `$widen` and `$narrow`), `$bits` its `u32` lanes. One body for
/// `f32x8` and `f32x16`, so the two give the same operations.
macro_rules! lanes_for_wide {
    ($v:ty, $wide:ty, $bits:ty, $widen:ident, $narrow:ident) => {
        impl Lanes for $v {
            type Wide = $wide;
            #[inline(always)]
            fn map_f64<F: Fn($wide) -> $wide>(self, f: F) -> Self {
                let [lo, hi] = $widen(self);
                $narrow([f(lo), f(hi)])
            }

            type Mask = $v;
            #[inline(always)]
            fn splat(v: f32) -> Self {
                <$v>::splat(v)
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
            fn min_keep(self, y: Self) -> Self {
                #[cfg(target_feature = "sse")]
                {
                    y.fast_min(self)
                }
                #[cfg(not(target_feature = "sse"))]
                {
                    self.simd_gt(y).select(y, self)
                }
            }
            #[inline(always)]
            fn max_keep(self, y: Self) -> Self {
                #[cfg(target_feature = "sse")]
                {
                    y.fast_max(self)
                }
                #[cfg(not(target_feature = "sse"))]
                {
                    self.simd_lt(y).select(y, self)
                }
            }
            #[inline(always)]
            fn bits_shl(self, n: u32) -> Self {
                <$v>::from_bits(self.to_bits() << n)
            }
            #[inline(always)]
            fn bits_shr(self, n: u32) -> Self {
                <$v>::from_bits(self.to_bits() >> n)
            }
            #[inline(always)]
            fn bits_and(self, m: u32) -> Self {
                <$v>::from_bits(self.to_bits() & <$bits>::splat(m))
            }
            #[inline(always)]
            fn bits_or(self, m: u32) -> Self {
                <$v>::from_bits(self.to_bits() | <$bits>::splat(m))
            }
        }
    };
}

lanes_for_wide!(f32x8, f64x4, wide::u32x8, widen, narrow);
lanes_for_wide!(f32x16, f64x8, wide::u32x16, widen16, narrow16);

impl Lanes64 for f64 {
    type Mask = bool;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn eq(self, rhs: Self) -> bool {
        self == rhs
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
    fn select(m: bool, a: Self, b: Self) -> Self {
        let mask = (m as u64).wrapping_neg();
        f64::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
    }
    #[inline(always)]
    fn shl_bits(self, n: u32) -> Self {
        f64::from_bits(self.to_bits() << n)
    }
    #[inline(always)]
    fn shr_bits(self, n: u32) -> Self {
        f64::from_bits(self.to_bits() >> n)
    }
    #[inline(always)]
    fn or_bits(self, m: u64) -> Self {
        f64::from_bits(self.to_bits() | m)
    }
    #[inline(always)]
    fn add_bits(self, c: u64) -> Self {
        f64::from_bits(self.to_bits().wrapping_add(c))
    }
    #[inline(always)]
    fn sub_bits(self, rhs: Self) -> Self {
        f64::from_bits(self.to_bits().wrapping_sub(rhs.to_bits()))
    }
}

/// [`Lanes64`] for a `wide` f64 vector `$v` with `u64` lanes `$bits`.
macro_rules! lanes64_for_wide {
    ($v:ty, $bits:ty) => {
        impl Lanes64 for $v {
            type Mask = $v;
            #[inline(always)]
            fn splat(v: f64) -> Self {
                <$v>::splat(v)
            }
            #[inline(always)]
            fn eq(self, rhs: Self) -> Self {
                self.simd_eq(rhs)
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
            fn select(m: Self, a: Self, b: Self) -> Self {
                m.select(a, b)
            }
            #[inline(always)]
            fn shl_bits(self, n: u32) -> Self {
                <$v>::from_bits(self.to_bits() << n)
            }
            #[inline(always)]
            fn shr_bits(self, n: u32) -> Self {
                <$v>::from_bits(self.to_bits() >> n)
            }
            #[inline(always)]
            fn or_bits(self, m: u64) -> Self {
                <$v>::from_bits(self.to_bits() | <$bits>::splat(m))
            }
            #[inline(always)]
            fn add_bits(self, c: u64) -> Self {
                <$v>::from_bits(self.to_bits() + <$bits>::splat(c))
            }
            #[inline(always)]
            fn sub_bits(self, rhs: Self) -> Self {
                <$v>::from_bits(self.to_bits() - rhs.to_bits())
            }
        }
    };
}

lanes64_for_wide!(f64x4, u64x4);
lanes64_for_wide!(f64x8, u64x8);
