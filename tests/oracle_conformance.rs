//! The f64 oracle (`tests/support/oracle.rs`) against every conformance case
//! in `../shared/reference/smp_torch.jsonl` (or the file named by the
//! `SEGLOSS_REFERENCE` environment variable), plus hand-computed unit tests.
//!
//! Values: `|got − value| ≤ 1e-9 + 1e-9·|value|` (both are f64 evaluations on
//! the same f32 inputs). One documented exception, cases of smp losses with
//! `class_weights`: the reference divides by `Σ w` summed *in float32* (smp's
//! weight tensor is f32 and `w.sum()` stays f32), while SPEC (and the oracle)
//! sum in f64; the two differ by up to ~C·2⁻²⁴ relative. For those cases the
//! test checks the oracle within `C·2⁻²⁴` relative, and checks the
//! explanation exactly: the oracle rescaled by `(Σw_f64 / Σw_f32)^γ` matches
//! to 1e-9.
//!
//! Gradients: the finite-difference gradient `grad_fd` must match `grad`
//! element by element within `1e-5·max|grad| + 1e-7`. Two exceptions:
//! - at a kink where PyTorch takes one side (a `max(·, eps)` clamp reached,
//!   the `[eps, 1 − eps]` clamp of focal, p at the edge of [0, 1]) the
//!   central stencil straddles it; such an element passes when the expected
//!   value equals one of the one-sided differences (`fd_one_sided`). The
//!   `p == y` kink of `|p − y|` needs no exception: the symmetric stencil
//!   gives the mean of the slopes, SPEC's `sign(0) = 0`.
//!   (The mean of the two sides is also accepted: a kink of `|p − y|` in a
//!   nonlinear loss leaves an O(h) bias in the central stencil.)
//! - `bce` where `p(1 − p) < 1e-12` (p ∈ {0, 1}, and the case's p = 1e-30):
//!   SPEC defines the gradient as PyTorch's backward
//!   `(p − y)/max(p(1 − p), 1e-12)` (÷N for the mean), not the derivative of
//!   the clamped logs (−1/p = −1e30 at p = 1e-30, 0 or undefined at the
//!   edges); those elements are compared with that closed form.
//!   The two cases with a `note` (Tversky γ < 1 with every class empty) expect
//!   0, the gradient of a constant, which the stencil gives as is.
use crate::support;

use support::cases::{self, Case, Params};
use support::oracle::{self, Region};

fn reference_path() -> String {
    std::env::var("SEGLOSS_REFERENCE").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/smp_torch.jsonl"
        )
        .to_owned()
    })
}

fn eval(c: &Case) -> f64 {
    oracle::loss(
        &c.kind,
        &c.mode,
        c.from_logits,
        c.shape,
        &c.params,
        &c.pred_f64(),
        &c.target,
    )
}

/// For smp losses with class weights: `(Σ w_f64 / Σ w_f32)^γ` over the kept
/// classes, the factor between SPEC's f64 weight sum and the reference's
/// float32 one. `None` when the case has no such weights.
fn f32_weight_sum_factor(c: &Case) -> Option<f64> {
    if c.kind == "cross_entropy" {
        return None; // PyTorch got f64 weights; its sums are f64
    }
    let w = oracle::smp_weights(c.params.class_weights.as_deref()?);
    let kept: Vec<usize> = c
        .params
        .classes
        .clone()
        .unwrap_or_else(|| (0..w.len()).collect());
    let s64: f64 = kept.iter().map(|&k| w[k]).sum();
    let s32: f32 = kept.iter().fold(0.0f32, |s, &k| s + w[k] as f32);
    let gamma = if c.kind == "tversky" {
        c.params.gamma.unwrap_or(1.0)
    } else {
        1.0
    };
    Some((s64 / f64::from(s32)).powf(gamma))
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= 1e-9 + rel * want.abs()
}

#[derive(Default)]
struct Tally {
    values: usize,
    values_f32_weights: usize,
    grads: usize,
    grad_cases: usize,
    kink_elements: Vec<String>,
    bce_edge_elements: usize,
    failures: Vec<String>,
}

fn check_value(c: &Case, t: &mut Tally) {
    let got = eval(c);
    if close(got, c.value, 1e-9) {
        t.values += 1;
        return;
    }
    if let Some(k) = f32_weight_sum_factor(c) {
        let bound = c.shape[1] as f64 * f64::from(f32::EPSILON) / 2.0;
        if close(got, c.value, bound) && close(got * k, c.value, 1e-9) {
            t.values_f32_weights += 1;
            return;
        }
    }
    t.failures.push(format!(
        "{} value: got {got:e} want {:e} diff {:e}",
        c.id,
        c.value,
        got - c.value
    ));
}

fn check_grad(c: &Case, t: &mut Tally) {
    let Some(g) = &c.grad else { return };
    t.grad_cases += 1;
    let pred = c.pred_f64();
    let fd = oracle::grad_fd(
        &c.kind,
        &c.mode,
        c.from_logits,
        c.shape,
        &c.params,
        &pred,
        &c.target,
    );
    let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = 1e-5 * gmax + 1e-7;
    let mut ok = true;
    for i in 0..g.len() {
        if (fd[i] - g[i]).abs() <= tol {
            continue;
        }
        if c.kind == "bce" && pred[i] * (1.0 - pred[i]) < 1e-12 {
            let (p, y) = (pred[i], c.target[i]);
            let n = if c.params.reduction.as_deref() == Some("sum") {
                1.0
            } else {
                pred.len() as f64
            };
            let closed = (p - y) / (p * (1.0 - p)).max(1e-12) / n;
            if (closed - g[i]).abs() <= tol {
                t.bce_edge_elements += 1;
                continue;
            }
        }
        let (l, r) = oracle::fd_one_sided(
            &c.kind,
            &c.mode,
            c.from_logits,
            c.shape,
            &c.params,
            &pred,
            &c.target,
            i,
        );
        if [l, r, (l + r) / 2.0]
            .iter()
            .any(|s| (s - g[i]).abs() <= tol)
        {
            t.kink_elements
                .push(format!("{}[{i}] (pred {})", c.id, c.pred[i]));
            continue;
        }
        ok = false;
        t.failures.push(format!(
            "{} grad[{i}] (pred {}): fd {:e} (left {l:e}, right {r:e}) want {:e} tol {tol:e}",
            c.id, c.pred[i], fd[i], g[i]
        ));
    }
    if ok {
        t.grads += 1;
    }
}

#[test]
fn oracle_matches_reference() {
    let path = reference_path();
    let cases = cases::load(&path).expect("load reference");
    assert!(!cases.is_empty(), "{path}: no cases");
    let mut t = Tally::default();
    for c in &cases {
        check_value(c, &mut t);
        check_grad(c, &mut t);
    }
    println!(
        "{path}: {} cases; values: {} matched at 1e-9, {} matched after the float32 weight-sum correction; \
         gradients: {}/{} cases matched ({} elements at a one-sided kink, {} bce elements with p(1-p) < 1e-12 by closed form); \
         {} failures",
        cases.len(),
        t.values,
        t.values_f32_weights,
        t.grads,
        t.grad_cases,
        t.kink_elements.len(),
        t.bce_edge_elements,
        t.failures.len()
    );
    for k in &t.kink_elements {
        println!("  kink: {k}");
    }
    for f in &t.failures {
        println!("  FAIL {f}");
    }
    assert!(t.failures.is_empty(), "{} mismatches", t.failures.len());
}

// ------------------------------------------------------ hand-computed tests

fn params() -> Params {
    Params::default()
}

fn approx(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

#[test]
fn perfect_prediction_gives_zero_region_loss() {
    let y = [1.0, 0.0, 1.0, 1.0];
    for kind in ["dice", "jaccard", "tversky"] {
        approx(
            oracle::loss(kind, "binary", false, [1, 1, 4], &params(), &y, &y),
            0.0,
            1e-15,
        );
    }
}

#[test]
fn dice_by_hand() {
    // p = [0.5, 0.5], y = [1, 0]: I = 0.5, FP = 0.5, FN = 0.5,
    // dice score = 0.5 / (0.5 + 0.25 + 0.25) = 0.5; jaccard = 0.5 / 1.5.
    let (p, y) = ([0.5, 0.5], [1.0, 0.0]);
    approx(
        oracle::loss("dice", "binary", false, [1, 1, 2], &params(), &p, &y),
        0.5,
        1e-15,
    );
    approx(
        oracle::loss("jaccard", "binary", false, [1, 1, 2], &params(), &p, &y),
        1.0 - 1.0 / 3.0,
        1e-15,
    );
    // Soft target: I = Σ min(p, y) = min(0.8, 0.6) = 0.6, FP = 0.2, FN = 0:
    // score = 0.6 / 0.7.
    approx(
        oracle::loss(
            "dice",
            "binary",
            false,
            [1, 1, 1],
            &params(),
            &[0.8],
            &[0.6],
        ),
        1.0 - 0.6 / 0.7,
        1e-15,
    );
}

#[test]
fn empty_mask_rule() {
    // Σy = 0: the class loss is 0 whatever the prediction.
    let p = [0.9, 0.3, 0.6];
    approx(
        oracle::loss("dice", "binary", false, [1, 1, 3], &params(), &p, &[0.0; 3]),
        0.0,
        0.0,
    );
    // Multiclass, 2 classes, every label 0: class 1 is empty and counts 0 in
    // the mean; probabilities [1, 0] per pixel make class 0 perfect.
    let logits = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    approx(
        oracle::loss(
            "dice",
            "multiclass",
            true,
            [1, 2, 2],
            &params(),
            &logits,
            &[0.0, 0.0],
        ),
        0.0,
        0.0,
    );
}

#[test]
fn tversky_gamma_and_weights() {
    // Two classes with losses 0.5 (class 0) and 0 (class 1, perfect):
    // mean 0.25, γ = 2 → 0.0625; weights [3, 1] → 0.375.
    let p = [0.5, 0.5, 0.0, 1.0]; // [N=1, C=2, S=2]: class 0 = [0.5, 0.5], class 1 = [0, 1]
    let y = [0.0, 1.0]; // labels
    let mut pr = params();
    pr.gamma = Some(2.0);
    approx(
        oracle::loss("tversky", "multiclass", false, [1, 2, 2], &pr, &p, &y),
        0.0625,
        1e-15,
    );
    let mut r = Region::tversky();
    r.class_weights = Some(vec![3.0, 1.0]);
    let got = oracle::region_loss(oracle::Mode::Multiclass, false, [1, 2, 2], &r, &p, &y).unwrap();
    approx(got, 0.375, 1e-15);
}

#[test]
fn mcc_all_ones_is_one_half() {
    let ones = [1.0; 8];
    // Exactly 1 − n/(2(n + 2eps)) with eps = 1e-5.
    let got = oracle::loss("mcc", "binary", false, [1, 1, 8], &params(), &ones, &ones);
    approx(got, 1.0 - 8.0 / (2.0 * (8.0 + 2e-5)), 1e-15);
    approx(got, 0.5, 1e-5);
}

#[test]
fn hard_counts_and_metrics() {
    let p = [0.9, 0.6, 0.4, 0.1, 0.7];
    let y = [1.0, 0.0, 1.0, 0.0, 1.0];
    let h = oracle::HardCounts::new(&p, &y, 0.5);
    assert_eq!(
        h,
        oracle::HardCounts {
            tp: 2,
            tn: 1,
            fp: 1,
            fn_: 1
        }
    );
    approx(h.precision(), 2.0 / 3.0, 1e-15);
    approx(h.recall(), 2.0 / 3.0, 1e-15);
    approx(h.f1(), 4.0 / 6.0, 1e-15);
    approx(h.iou(), 0.5, 1e-15);
    // MCC = (2·1 − 1·1) / sqrt(3·3·2·2) = 1/6.
    approx(h.mcc_loss(0.0), 1.0 - 1.0 / 6.0, 1e-15);
    // 0/0 → 0.
    let none = oracle::HardCounts::new(&[0.1], &[0.0], 0.5);
    assert_eq!(
        (none.precision(), none.recall(), none.f1(), none.iou()),
        (0.0, 0.0, 0.0, 0.0)
    );
}

#[test]
fn bce_with_logits_limits_and_nan() {
    use oracle::bce_with_logits as b;
    approx(b(0.0, 1.0, 1.0), std::f64::consts::LN_2, 1e-16);
    assert_eq!(b(f64::INFINITY, 1.0, 1.0), 0.0);
    assert_eq!(b(f64::NEG_INFINITY, 0.0, 1.0), 0.0);
    assert_eq!(b(f64::INFINITY, 0.0, 1.0), f64::INFINITY);
    assert_eq!(b(f64::NEG_INFINITY, 1.0, 2.0), f64::INFINITY);
    // Large finite logits stay finite: softplus(1000) = 1000.
    approx(b(1000.0, 0.0, 1.0), 1000.0, 0.0);
    assert!(b(f64::NAN, 0.0, 1.0).is_nan());
    assert!(b(f64::NAN, 1.0, 1.0).is_nan());
    // pos_weight: y = 1, x = 0 → w·ln 2.
    approx(b(0.0, 1.0, 3.0), 3.0 * std::f64::consts::LN_2, 1e-15);
}

#[test]
fn focal_by_hand() {
    // x = 0, y = 1: logpt = ln 2, pt = 1/2, (1 − pt)^2 = 1/4.
    let f = oracle::Focal::default();
    let (focal, l) = oracle::focal_elem(&f, 0.0, 1.0);
    approx(focal, 0.25, 1e-16);
    approx(l, 0.25 * std::f64::consts::LN_2, 1e-16);
    // ±∞ logits on the right side: loss 0, not NaN.
    let (_, l) = oracle::focal_elem(&f, f64::INFINITY, 1.0);
    assert_eq!(l, 0.0);
    assert!(oracle::focal_elem(&f, f64::NAN, 1.0).1.is_nan());
    // torchvision at x = 0, y = 1, α = 0.25, γ = 2: 0.25 · ln2 · 0.25.
    approx(
        oracle::sigmoid_focal_elem(0.0, 1.0, 0.25, 2.0),
        0.0625 * std::f64::consts::LN_2,
        1e-16,
    );
}

#[test]
fn soft_bce_and_cross_entropy_by_hand() {
    // Ignored element (-100) gives 0 but counts in the mean.
    let got = oracle::soft_bce(
        &[0.0, 5.0],
        &[1.0, -100.0],
        None,
        Some(-100.0),
        1.0,
        oracle::Reduction::Mean,
    );
    approx(got, std::f64::consts::LN_2 / 2.0, 1e-16);
    // Equal logits over C = 4 classes: −ln(1/4) per pixel, any label.
    let x = [0.0; 8]; // [N=1, C=4, S=2]
    let ce = oracle::cross_entropy(
        [1, 4, 2],
        &x,
        &[0.0, 3.0],
        None,
        Some(-100.0),
        0.0,
        oracle::Reduction::Mean,
    );
    approx(ce.unwrap(), 4f64.ln(), 1e-15);
}

#[test]
fn grad_fd_by_hand() {
    // bce_logits mean over 1 element: d/dx = σ(x) − y.
    let g = oracle::grad_fd(
        "bce_logits",
        "binary",
        true,
        [1, 1, 1],
        &params(),
        &[0.3],
        &[1.0],
    );
    approx(g[0], oracle::sigmoid(0.3) - 1.0, 1e-9);
    // Dice at p == y for one element: SPEC's sign(0) = 0 gives ∂I/∂p = 1/2.
    // p = [0.5, 0.5], y = [0.5, 0]: compare with the analytic derivative.
    let p = [0.5, 0.5];
    let y = [0.5, 0.0];
    // At the kink the central stencil has an O(h) bias; the mean of the
    // one-sided differences is exact to O(h²).
    let side_mean = |i| {
        let (l, r) = oracle::fd_one_sided("dice", "binary", false, [1, 1, 2], &params(), &p, &y, i);
        (l + r) / 2.0
    };
    let g = [
        side_mean(0),
        oracle::grad_fd("dice", "binary", false, [1, 1, 2], &params(), &p, &y)[1],
    ];
    // Σp = 1, Σy = 0.5, I = 0.5, denominator D = (Σp + Σy)/2 = 0.75, loss = 1 − I/D.
    // ∂/∂p0: ∂I = 1/2, ∂D = 1/2 → −(0.5·0.75 − 0.5·0.5)/0.75² = −2/9.
    // ∂/∂p1: ∂I = 0, ∂D = 1/2 → 0.5·0.5/0.75² = 4/9.
    approx(g[0], -2.0 / 9.0, 1e-9);
    approx(g[1], 4.0 / 9.0, 1e-9);
}

#[test]
fn nan_propagates_and_infinities_give_limits() {
    let kinds = [
        ("dice", true),
        ("jaccard", true),
        ("tversky", true),
        ("focal", true),
        ("sigmoid_focal", true),
        ("bce_logits", true),
        ("soft_bce", true),
        ("bce", false),
        ("mcc", false),
    ];
    let y = [1.0, 0.0, 1.0];
    for (kind, logits) in kinds {
        let got = oracle::loss(
            kind,
            "binary",
            logits,
            [1, 1, 3],
            &params(),
            &[0.2, f64::NAN, 0.7],
            &y,
        );
        assert!(got.is_nan(), "{kind}: {got}");
    }
    // hard_mcc thresholds: NaN > t is false, so a NaN pixel counts as negative.
    assert!(
        oracle::loss(
            "hard_mcc",
            "binary",
            false,
            [1, 1, 3],
            &params(),
            &[0.9, f64::NAN, 0.7],
            &y
        )
        .is_finite()
    );
    // Perfect ±∞ logits: every logit loss reaches its limit 0 (not NaN).
    let x = [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY];
    for kind in [
        "dice",
        "jaccard",
        "tversky",
        "focal",
        "sigmoid_focal",
        "bce_logits",
    ] {
        assert_eq!(
            oracle::loss(kind, "binary", true, [1, 1, 3], &params(), &x, &y),
            0.0,
            "{kind}"
        );
    }
    // Wrong ±∞ logits: +∞.
    let wrong = [f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY];
    for kind in ["focal", "bce_logits"] {
        assert_eq!(
            oracle::loss(kind, "binary", true, [1, 1, 3], &params(), &wrong, &y),
            f64::INFINITY,
            "{kind}"
        );
    }
    // Multiclass cross entropy: the label's logit +∞ gives 0; another +∞ gives +∞.
    let xs = [f64::INFINITY, 0.0]; // [N=1, C=2, S=1]
    assert_eq!(
        oracle::loss(
            "cross_entropy",
            "multiclass",
            true,
            [1, 2, 1],
            &params(),
            &xs,
            &[0.0]
        ),
        0.0
    );
    assert_eq!(
        oracle::loss(
            "cross_entropy",
            "multiclass",
            true,
            [1, 2, 1],
            &params(),
            &xs,
            &[1.0]
        ),
        f64::INFINITY
    );
}
