//! `lane_inline!`: where the per-vector kernel code is inlined.
//!
//! Its own file so `benches/math.rs`, which compiles `src/math` from source,
//! can include it too.

/// Inlining of the per-vector code (one home for the rule).
///
/// Where `wide::f32x8` has real SIMD lanes (x86-64 SSE2/AVX, aarch64 NEON,
/// wasm32 simd128) the item is inlined into every kernel: that is what makes
/// a fused pass one loop of vector instructions. Elsewhere (Cortex-M,
/// wasm32 without simd128, x86 without SSE2) `f32x8` is eight scalar lanes
/// written out, and inlining the same math into every monomorphised kernel
/// and call site multiplied flash by ~50 (4.7 MB of `.text` on
/// `thumbv7em-none-eabihf`); there the item stays out of line, one copy per
/// kernel. The arithmetic is the same, so the bits are too. (There the
/// binary kernels also run on `f32` rather than on written-out lanes:
/// `accumulate::vector`.)
macro_rules! lane_inline {
    ($item:item) => {
        #[cfg_attr(
            any(
                target_feature = "sse2",
                target_feature = "neon",
                target_feature = "simd128"
            ),
            inline(always)
        )]
        #[cfg_attr(
            not(any(
                target_feature = "sse2",
                target_feature = "neon",
                target_feature = "simd128"
            )),
            inline(never)
        )]
        $item
    };
}
