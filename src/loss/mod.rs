//! Finalisers: partial sums → loss value, one file per family.
//!
//! Everything here is O(1) scalar `f64` arithmetic on sums produced by the
//! passes in [`crate::accumulate`]; the same functions serve the binary,
//! multiclass and multilabel modes.

pub mod bce;
pub mod focal;
pub mod mcc;
pub mod region;

/// `c·v`, but exactly 0 when `c == 0` (so `0·∞ = 0`: the limit of a term
/// whose weight vanishes). NaN in `c` or `v` still propagates (`0·NaN = NaN`).
#[inline(always)]
pub(crate) fn mul0(c: f64, v: f64) -> f64 {
    if c == 0.0 && !v.is_nan() { 0.0 } else { c * v }
}
