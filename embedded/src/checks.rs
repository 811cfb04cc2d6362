//! The computations the firmware checks, written once and compiled twice: by
//! `build.rs` on the host (to produce the expected values) and into the
//! firmware (to produce the values under test).

/// Number of results [`all`] produces.
pub const COUNT: usize = 1;

/// Inputs of one check run: a `rows × cols` mask, row-major.
pub struct Inputs<'a> {
    pub rows: usize,
    pub cols: usize,
    /// Probabilities in [0, 1].
    pub prob: &'a [f32],
    /// Logits.
    pub logits: &'a [f32],
    /// Hard mask, 0 or 1.
    pub hard: &'a [u8],
    /// Soft targets in [0, 1].
    pub soft: &'a [f32],
}

/// PLACEHOLDER until the crate's public API lands: a plain sum.
pub fn all(x: &Inputs<'_>) -> [(&'static str, f32); COUNT] {
    let mut s = 0.0f32;
    for (p, t) in x.prob.iter().zip(x.soft) {
        s += p * t;
    }
    [("placeholder_sum", s)]
}
