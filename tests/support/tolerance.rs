//! The tolerance policy, as data: every comparison the tests make, with its
//! bound and where the bound comes from. Tests and docs share this table.

/// `|got − want| ≤ abs + rel·scale`, with `scale` named per entry.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub name: &'static str,
    pub abs: f64,
    pub rel: f64,
    /// What `rel` multiplies.
    pub scale: Scale,
    pub source: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// `|want|`.
    Want,
    /// `max(|want|, 1)`.
    WantOrOne,
    /// The largest `|want_i|` of the case (gradients).
    MaxOfCase,
}

/// Conformance values (FORMAT.md's suggested bound).
pub const CONFORMANCE_VALUE: Tol = Tol {
    name: "conformance value",
    abs: 1e-5,
    rel: 1e-4,
    scale: Scale::Want,
    source: "reference/FORMAT.md",
};

/// Conformance gradients (FORMAT.md's suggested bound).
pub const CONFORMANCE_GRAD: Tol = Tol {
    name: "conformance gradient",
    abs: 1e-6,
    rel: 1e-4,
    scale: Scale::MaxOfCase,
    source: "reference/FORMAT.md",
};

/// Region and MCC losses against the f64 oracle: SPEC "Accuracy".
pub const REGION: Tol = Tol {
    name: "region / MCC loss vs f64 oracle",
    abs: 0.0,
    rel: 1e-6,
    scale: Scale::WantOrOne,
    source: "SPEC.md Accuracy",
};

/// Cross-entropy and focal losses against the f64 oracle: SPEC "Accuracy"
/// (relative; the tiny absolute term only covers results that underflow
/// f32's normal range, where relative error is meaningless).
pub const CROSS_ENTROPY: Tol = Tol {
    name: "cross-entropy / focal loss vs f64 oracle",
    abs: 1e-37,
    rel: 1e-6,
    scale: Scale::Want,
    source: "SPEC.md Accuracy",
};

/// Elementwise gradients against the f64 oracle: SPEC "Accuracy".
pub const GRADIENT: Tol = Tol {
    name: "gradient vs f64 oracle",
    abs: 0.0,
    rel: 1e-5,
    scale: Scale::MaxOfCase,
    source: "SPEC.md Accuracy",
};

/// Every entry, for docs and reports.
pub const TABLE: &[Tol] = &[
    CONFORMANCE_VALUE,
    CONFORMANCE_GRAD,
    REGION,
    CROSS_ENTROPY,
    GRADIENT,
];

impl Tol {
    /// Whether `got` is within the bound of `want`; NaN matches only NaN,
    /// infinities only the same infinity.
    pub fn check(&self, got: f64, want: f64, case_max: f64) -> bool {
        if want.is_nan() || got.is_nan() {
            return want.is_nan() && got.is_nan();
        }
        if want.is_infinite() || got.is_infinite() {
            return got == want;
        }
        let scale = match self.scale {
            Scale::Want => want.abs(),
            Scale::WantOrOne => want.abs().max(1.0),
            Scale::MaxOfCase => case_max,
        };
        (got - want).abs() <= self.abs + self.rel * scale
    }
}
