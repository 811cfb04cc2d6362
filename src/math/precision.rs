//! Accuracy of the `math` primitives, as data shared by tests and docs.
//!
//! Error is measured in ulp of the correctly rounded f32 result (subnormal
//! results: ulp = 2^−149) against an f64 evaluation with `libm`
//! (`exp`, `log1p`, `log`, `expm1`, `pow`), over every finite f32 of the
//! domain (`tests.rs`, `math_exhaustive_*`). `max_ulp` is the contract;
//! `measured` the maximum found by the exhaustive sweep.

/// One row of the precision table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Precision {
    /// Primitive (and field) name.
    pub name: &'static str,
    /// Guaranteed maximum error in ulp (the contract the tests assert).
    pub max_ulp: f64,
    /// Maximum error found by the exhaustive sweep, in ulp.
    pub measured: f64,
    /// Inputs the bound holds for.
    pub domain: &'static str,
}

/// The precision table.
pub(crate) const PRECISION: &[Precision] = &[
    Precision {
        name: "logistic.p",
        max_ulp: 4.0,
        measured: 2.825,
        domain: "every finite f32",
    },
    Precision {
        name: "logistic.q",
        max_ulp: 4.0,
        measured: 2.825,
        domain: "every finite f32",
    },
    Precision {
        name: "logistic.sp_pos",
        max_ulp: 4.0,
        measured: 2.660,
        domain: "every finite f32",
    },
    Precision {
        name: "logistic.sp_neg",
        max_ulp: 4.0,
        measured: 2.660,
        domain: "every finite f32",
    },
    Precision {
        name: "sigmoid",
        max_ulp: 4.0,
        measured: 2.825,
        domain: "every finite f32 (same bits as logistic.p)",
    },
    Precision {
        name: "ln",
        max_ulp: 4.0,
        measured: 0.842,
        domain: "p in [0, 1], subnormals included",
    },
    Precision {
        name: "one_minus_exp_neg",
        max_ulp: 4.0,
        measured: 0.984,
        domain: "l in [0, f32::MAX], subnormals included",
    },
    Precision {
        // e^{g·ln x} in f64 lanes, rounded once to f32.
        name: "pow_nonneg",
        max_ulp: 1.0,
        measured: 0.5,
        domain: "x in [0, f32::MAX]; g = 1.5 exhaustive; g in [0.25, 4] sampled",
    },
    Precision {
        // e^{g·(a + b)} in f64 lanes (pow's exp), rounded once to f32.
        name: "pow_from_ln",
        max_ulp: 1.0,
        measured: 0.5,
        domain: "a = −x for x in [0, f32::MAX], b = 0; g in [0.06, 1.5] sampled",
    },
    Precision {
        // ln(u) + c/u with u = fl(1 − p) and its exact error c (Fast2Sum).
        name: "ln_one_minus",
        max_ulp: 4.0,
        measured: 1.437,
        domain: "p in [0, 1], subnormals included",
    },
];

/// The bound for `name`; panics on an unknown name (tests only).
#[cfg(test)]
#[allow(clippy::panic)]
pub(crate) fn max_ulp(name: &str) -> f64 {
    match PRECISION.iter().find(|p| p.name == name) {
        Some(p) => p.max_ulp,
        None => panic!("no precision entry named {name}"),
    }
}
