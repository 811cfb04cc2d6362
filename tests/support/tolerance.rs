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

/// smp's soft MCC gradient against finite differences of the f64 oracle:
/// the bound is `GRADIENT.rel + rel·κ` of the case's largest |gradient|, with
/// the condition number `κ = (TP·TN + FP·FN) / |TP·TN − FP·FN|` (eps
/// included). The soft confusion terms `p·y`, `p(1 − y)`, … are f32 products
/// (shared with the forward pass, relative error 2⁻²⁴ each) and the
/// cancellation in `TP·TN − FP·FN` amplifies them by κ. Seen: 1.2e-4 with
/// κ ≈ 2500 (n = 1, p = 1e-3, y = 0.45, eps = 1e-6), which is 2⁻²⁴·κ.
pub const MCC_GRADIENT_FD: Tol = Tol {
    name: "soft MCC gradient vs f64 finite differences (per unit of κ)",
    abs: 0.0,
    rel: 4.0 / 16_777_216.0,
    scale: Scale::MaxOfCase,
    source: "f32 confusion terms, cancellation in TP·TN − FP·FN",
};

/// Elementwise gradients (the BCE family, the focal losses) against finite
/// differences of the f64 oracle: the bound is `GRADIENT.rel` of the case's
/// largest |gradient| plus `rel` of the element's own term scale `S_i`.
/// Each element's gradient is a difference of two non-negative terms, the
/// target's pull and the prediction's push (BCE with logits:
/// `(1 − y)·σ(x) − w·y·σ(−x)`), each formed in f32 from σ (within 2.83 ulp)
/// with a few roundings; near the element's minimum they cancel, and the
/// error stays a few units of 2⁻²⁴ of `S_i` = the sum of their magnitudes
/// (times the reduction's 1/n) while the gradient itself goes to 0. In a
/// case of one element the largest |gradient| is that small gradient, so
/// `GRADIENT` alone would ask for more than f32's σ holds. Seen: 2.8e-5 of
/// the gradient (6.3e-4) with `S_i` = 0.23 (soft BCE, one element, soft
/// target 0.93, pos_weight 0.58, smoothing 0.098): 1.25 units of 2⁻²⁴ of
/// `S_i`. For the focal losses `S_i` is taken from the f64 gradients with
/// the target at 0 and at 1, `(1 − y)·|g₀| + y·|g₁|` (exact where the loss
/// is linear in `y`, as the BCE family is).
pub const GRADIENT_TERMS_FD: Tol = Tol {
    name: "elementwise gradient vs f64 finite differences (per unit of the element's term scale)",
    abs: 0.0,
    rel: 8.0 / 16_777_216.0,
    scale: Scale::MaxOfCase,
    source: "f32 σ and products, cancellation at an element's minimum",
};

/// Multiclass / multilabel region-loss gradients against finite differences
/// of the f64 oracle: the bound is `GRADIENT.rel + rel·κ` of the case's
/// largest |gradient|, with `κ = max_c n_c / (FP_c + FN_c)` over the classes
/// (per image with `per_image`) that have a target, `n_c` their kept
/// elements. The forward's sums `FP = Σ(p − y)₊`, `FN = Σ(y − p)₊` take `p`
/// in f32, which resolves `1 − p` near `p = 1` only to ≈ 2⁻²⁴ absolute; the
/// region gradient is proportional to `FP`, `FN` (and Tversky's outer slope
/// to the class loss), so a confidently right prediction makes its relative
/// error `2⁻²⁴·n_c/(FP_c + FN_c)`. Seen: 2.1e-5 of the largest gradient with
/// κ ≈ 7900 (one pixel, C = 4, `1 − p_y` ≈ 1.3e-4, Tversky γ = 1.33).
pub const REGION_GRADIENT_FD: Tol = Tol {
    name: "multiclass / multilabel region gradient vs f64 finite differences (per unit of κ)",
    abs: 0.0,
    rel: 1.0 / 16_777_216.0,
    scale: Scale::MaxOfCase,
    source: "f32 p near y in the forward's FP, FN sums",
};

/// Every entry, for docs and reports.
pub const TABLE: &[Tol] = &[
    CONFORMANCE_VALUE,
    CONFORMANCE_GRAD,
    REGION,
    CROSS_ENTROPY,
    GRADIENT,
    MCC_GRADIENT_FD,
    GRADIENT_TERMS_FD,
    REGION_GRADIENT_FD,
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

/// The relative accuracy of one element's f32 focal term at `gamma`:
/// `(4γ + 6)·2⁻²⁴` (see [`focal`]).
pub fn focal_elementwise(gamma: f64) -> f64 {
    (4.0 * gamma + 6.0) * f64::from(f32::EPSILON) / 2.0
}

/// Focal losses (smp `FocalLoss`, torchvision `sigmoid_focal_loss`) with a
/// large γ: `CROSS_ENTROPY`'s 1e-6, widened to `(4γ + 6)·2⁻²⁴` once that is
/// larger (γ > 2.5).
///
/// Why: each element's term `(1 − p_t)^γ · bce` is evaluated in f32. The
/// relative error of the f32 base `1 − p_t` (σ from `exp` and a division,
/// plus `p(1 − y) + q·y` for soft targets: ≈ 3.5 units of 2⁻²⁴ with the
/// current primitives) is multiplied by γ in the power, and `bce`, `pow`
/// and the products add ≈ 4.5 more. Measured worst per element
/// (`sigmoid_focal_elementwise`, 2^19 random logits in ±30, soft targets):
/// γ = 2: 9.9, γ = 3: 14.6, γ = 4: 16.7, γ = 4.5: 17.9, γ = 5: 21.1 units
/// of 2⁻²⁴ (1e-6 is 16.8 units). A reduced loss inherits this worst case
/// when one element dominates the sum (short inputs). Even with correctly
/// rounded primitives the power alone gives γ/2 units, so this is an f32
/// per-element limit, not an accumulation error; at scale (many elements)
/// the measured errors stay far below 1e-6 (see `tests/accuracy_scale.rs`).
pub fn focal(gamma: f64) -> Tol {
    let rel = focal_elementwise(gamma).max(CROSS_ENTROPY.rel);
    Tol {
        name: "focal loss vs f64 oracle, γ-dependent",
        rel,
        source: "SPEC.md Accuracy, widened for f32 (1 − p_t)^γ with γ > 2.5: tolerance.rs",
        ..CROSS_ENTROPY
    }
}
