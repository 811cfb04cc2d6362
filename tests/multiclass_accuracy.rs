//! Multiclass losses of confident pixels and many classes against the f64
//! oracle. Regressions for findings of the `multiclass` fuzz target:
//! the softmax's `sum = 1 + rest` rounded a small `rest` away, so
//! `−ln softmax_y` was formed as `lse − x_y` (off by up to half an ulp of
//! `|max|` per pixel: 100% for a confident pixel), and `1 − p_max` lost
//! the same bits in the region terms; label smoothing summed C terms per
//! pixel in a running f32 sum (C = 253: 1.4e-6 relative).

use crate::support;

use segloss::Tversky;
use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
use support::oracle as o;
use support::tolerance::{CROSS_ENTROPY, REGION};

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Confident pixels: cross entropy within SPEC's relative 1e-6.
#[test]
fn cross_entropy_of_confident_pixels() {
    // Three classes, four pixels (planes of logits), labels = the argmax.
    let logits = [
        20.0f32, -20.0, 12.5, 88.0, // class 0
        -20.0, 20.0, 0.0, -88.0, // class 1
        0.0, -20.0, -3.0, 0.5, // class 2
    ];
    let labels = [0u8, 1, 0, 0];
    let shape = Shape::new(1, 3, 4).unwrap();
    for red in [segloss::Reduction::Mean, segloss::Reduction::Sum] {
        let ce = CrossEntropy::default().with_reduction(red);
        let got =
            multiclass::cross_entropy(&logits, &labels, shape, &ce, &Classes::default()).unwrap();
        let ored = match red {
            segloss::Reduction::Mean => o::Reduction::Mean,
            segloss::Reduction::Sum => o::Reduction::Sum,
        };
        let want = o::cross_entropy(
            [1, 3, 4],
            &f64s(&logits),
            &[0.0, 1.0, 0.0, 0.0],
            None,
            Some(-100.0),
            0.0,
            ored,
        )
        .unwrap();
        assert!(want > 0.0 && want < 1e-5, "{want:e}");
        assert!(
            CROSS_ENTROPY.check(f64::from(got), want, 0.0),
            "got {got:e}, want {want:e}"
        );
    }
}

/// The fuzz reproducer: C = 253 equal logits, label smoothing 0.5546875,
/// sum over three pixels (16.600168; the running f32 class sum gave 16.600191).
#[test]
fn label_smoothing_over_many_classes() {
    let (n, c) = (3, 253);
    let logits = vec![-20.0f32; n * c];
    let labels = [0i64; 3];
    let shape = Shape::new(n, c, 1).unwrap();
    let ce = CrossEntropy::default()
        .with_label_smoothing(0.554_687_5)
        .with_reduction(segloss::Reduction::Sum);
    let got = multiclass::cross_entropy(&logits, &labels, shape, &ce, &Classes::default()).unwrap();
    let want = o::cross_entropy(
        [n, c, 1],
        &f64s(&logits),
        &[0.0; 3],
        None,
        Some(-100.0),
        0.5546875,
        o::Reduction::Sum,
    )
    .unwrap();
    assert!(
        CROSS_ENTROPY.check(f64::from(got), want, 0.0),
        "got {got:e}, want {want:e}"
    );
}

/// A confident pixel with a large β (as the binary finding): `1 − p_max`
/// must not be the rounding of `p_max`.
#[test]
fn tversky_of_a_confident_pixel() {
    let logits = [14.039_215f32, 9.0, 0.0, 1.5]; // class 0, then class 1, two pixels
    let labels = [0u8, 0];
    let shape = Shape::new(1, 2, 2).unwrap();
    let t = Tversky {
        alpha: 5.0,
        beta: 88.0,
        ..Tversky::default()
    };
    let got = multiclass::tversky(&logits, &labels, shape, &t, &Classes::default()).unwrap();
    let r = o::Region {
        alpha: 5.0,
        beta: 88.0,
        ..o::Region::tversky()
    };
    let want = o::region_loss(
        o::Mode::Multiclass,
        true,
        [1, 2, 2],
        &r,
        &f64s(&logits),
        &[0.0, 0.0],
    )
    .unwrap();
    assert!(
        REGION.check(f64::from(got), want, 0.0),
        "got {got:e}, want {want:e}"
    );
}

/// `multiclass` finding: a class listed twice in `classes` counted once in
/// multilabel mode but twice in multiclass mode (smp indexes the class
/// losses with the list: twice). Both now weight by multiplicity.
#[test]
fn repeated_classes_count_repeatedly() {
    use segloss::{Region, multilabel};
    let logits = [
        2.0f32, -1.0, 0.5, -3.0, // channel 0
        -1.0, 1.5, 0.25, 3.0, // channel 1
    ];
    let target = [1u8, 0, 1, 0, 0, 1, 0, 0];
    let shape = Shape::new(1, 2, 4).unwrap();
    let r = Region::default();
    let dice = |list: &[usize]| {
        let cl = Classes::default().with_classes(Some(list));
        f64::from(multilabel::dice(&logits, &target, shape, &r, &cl).unwrap())
    };
    let (l0, l1) = (dice(&[0]), dice(&[1]));
    assert!((l0 - l1).abs() > 1e-3);
    let want = (2.0 * l1 + l0) / 3.0;
    let got = dice(&[1, 1, 0]);
    assert!((got - want).abs() <= 1e-6, "got {got}, want {want}");
    // Multiclass mode (two classes, labels = argmax of the target planes) agrees in kind.
    let labels = [0u8, 1, 0, 1];
    let mc = |list: &[usize]| {
        let cl = Classes::default().with_classes(Some(list));
        f64::from(multiclass::dice(&logits, &labels, shape, &r, &cl).unwrap())
    };
    let want = (2.0 * mc(&[1]) + mc(&[0])) / 3.0;
    assert!((mc(&[1, 1, 0]) - want).abs() <= 1e-6);
}

/// Found by fuzzing (`multiclass`, seed `ce-sum-confident`): a confident
/// pixel's cross entropy is `ln(1 + e^(x₁ − x₀))` ≈ e^(x₁ − x₀), and
/// `x₁ − x₀` rounded to f32 is off by up to half an ulp of the margin, which
/// the exp turns into a relative error. Here the margin 32 + 2^-19 is a tie
/// that rounds to 32: e^−32 instead of e^−(32 + 2^-19), 1.9e-6 relative
/// (SPEC allows 1e-6). The kernel now corrects `e^t` by the exact rounding
/// error of `t = x − max`.
#[test]
fn confident_pixel_cross_entropy_keeps_the_margin_exact() {
    let x0 = 20.0f32 + f32::powi(2.0, -19);
    let logits = [x0, -12.0f32];
    assert_eq!(-12.0f32 - x0, -32.0); // the f32 margin rounds
    let shape = Shape::new(1, 2, 1).unwrap();
    let ce = CrossEntropy::default().with_reduction(segloss::Reduction::Sum);
    let got = multiclass::cross_entropy(&logits, &[0u8], shape, &ce, &Classes::default()).unwrap();
    let want = (-12.0 - f64::from(x0)).exp().ln_1p();
    let rel = (f64::from(got) - want).abs() / want;
    assert!(rel <= 1e-6, "{got:e} vs {want:e} (relative {rel:e})");
}

/// Ties of the maximum: the kernel leaves every `x − m = 0` class out of
/// `rest` and adds all but one back as `sum − rest` rounded to an integer,
/// which must be the tie count for any count up to 255 classes, beside exps
/// near 1 (margin 2^-20), ordinary ones and ones that underflow to 0. Each
/// pixel of a plane has its own count and margin; the labels take tied and
/// untied classes in turn.
#[test]
fn cross_entropy_counts_the_ties_of_the_maximum() {
    for c in [2usize, 3, 16, 255] {
        let s = 37; // two sixteen-pixel vectors and a tail
        let mut logits = vec![0.0f32; c * s];
        let mut labels = vec![0u8; s];
        for px in 0..s {
            let ties = 1 + px % c; // 1..=C classes at the maximum
            let margin = [f32::powi(2.0, -20), 1.0, 30.0, 200.0][px % 4];
            let top = [3.5f32, -7.25, 0.0, 96.0][px / 4 % 4];
            for k in 0..c {
                // The tied classes are spread over the class order.
                let tied = (k * 7 + px) % c < ties;
                logits[k * s + px] = if tied { top } else { top - margin };
            }
            labels[px] = u8::try_from((px * 5) % c).unwrap();
        }
        let shape = Shape::new(1, c, s).unwrap();
        let ce = CrossEntropy::default().with_reduction(segloss::Reduction::Sum);
        let got =
            multiclass::cross_entropy(&logits, &labels, shape, &ce, &Classes::default()).unwrap();
        let want = o::cross_entropy(
            [1, c, s],
            &f64s(&logits),
            &labels.iter().map(|&l| f64::from(l)).collect::<Vec<_>>(),
            None,
            Some(-100.0),
            0.0,
            o::Reduction::Sum,
        )
        .unwrap();
        assert!(
            CROSS_ENTROPY.check(f64::from(got), want, 0.0),
            "C = {c}: got {got:e}, want {want:e}"
        );
    }
}
