//! Deterministic test data for the property, streaming and scale tests:
//! a fast PRNG (SplitMix64), prediction and target generators with optional
//! special values, and the widening to f64 the oracle works on.
#![allow(dead_code)]

/// SplitMix64: tiny, fast, good enough for test data, fully deterministic.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)` with 24 random bits (every value an exact f32).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// Which special values may appear in predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Specials {
    None,
    /// ±0, ±∞, |x| up to 1e30, subnormals, logits near ±88 (no NaN).
    Finite,
    /// As `Finite`, plus NaN.
    WithNan,
}

const LOGIT_SPECIALS: &[f32] = &[
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e30,
    -1e30,
    3.0e29,
    -7.5e20,
    1e-30,
    -1e-30,
    1e-45,
    -1e-45,
    1.0e-40,
    -1.0e-40,
    88.0,
    -88.0,
    87.5,
    -87.5,
    88.72,
    -88.72,
    89.0,
    -89.0,
    -103.0,
    104.0,
    16.635532,
    -16.635532,
    // Not f32::MAX: softplus(±f32::MAX) terms overflow the f32 block sums of
    // the pass driver (two such terms in one lane of one block give +∞
    // although the mean is finite); inputs are kept to |x| <= 1e30 (SPEC's
    // tested range), where 16-vector f32 block sums cannot overflow.
];

const PROB_SPECIALS: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    0.999_999_94,
    0.999_999,
    1e-45,
    1.0e-40,
    f32::MIN_POSITIVE,
    1e-30,
    1e-7,
    5.960_464_5e-8,
    0.5,
];

/// Predictions: logits (normal-ish in `[-scale, scale]`) or probabilities
/// in `[0, 1]`, with a fraction `special` of special values.
pub fn pred(
    rng: &mut Rng,
    n: usize,
    logits: bool,
    scale: f32,
    specials: Specials,
    special: f32,
) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if specials != Specials::None && rng.chance(special) {
                if specials == Specials::WithNan && rng.chance(0.15) {
                    return f32::NAN;
                }
                let s = if logits {
                    LOGIT_SPECIALS
                } else {
                    PROB_SPECIALS
                };
                s[rng.below(s.len())]
            } else if logits {
                rng.range(-scale, scale)
            } else {
                rng.unit()
            }
        })
        .collect()
}

/// Kind of target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TargetKind {
    /// f32 0/1.
    Hard,
    /// f32 in `[0, 1]`.
    Soft,
    /// `u8` 0/1 mask.
    Mask,
}

/// Targets as f32 and (for masks) u8; a fraction `ignore_frac` set to the
/// ignore value `ignore`, a fraction `pos` positive (hard/mask).
#[derive(Clone, Debug)]
pub struct Targets {
    pub kind: TargetKind,
    pub f: Vec<f32>,
    pub u: Vec<u8>,
}

impl Targets {
    pub fn make(
        rng: &mut Rng,
        n: usize,
        kind: TargetKind,
        pos: f32,
        ignore: Option<(f32, f32)>,
    ) -> Targets {
        let mut f = Vec::with_capacity(n);
        for _ in 0..n {
            let v = match ignore {
                Some((value, frac)) if rng.chance(frac) => value,
                _ => match kind {
                    TargetKind::Soft => rng.unit(),
                    _ => f32::from(u8::from(rng.chance(pos))),
                },
            };
            f.push(v);
        }
        let u = if kind == TargetKind::Mask {
            f.iter().map(|&v| v as u8).collect()
        } else {
            Vec::new()
        };
        Targets { kind, f, u }
    }
    pub fn is_mask(&self) -> bool {
        self.kind == TargetKind::Mask
    }
}

pub fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Calls `$f(pred, target, cfg...)` with the `u8` or the `f32` targets.
#[macro_export]
macro_rules! call {
    ($t:expr, $f:path, $pred:expr $(, $arg:expr)*) => {
        if $t.is_mask() { $f($pred, &$t.u[..] $(, $arg)*) } else { $f($pred, &$t.f[..] $(, $arg)*) }
    };
}
