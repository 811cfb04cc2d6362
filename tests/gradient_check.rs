//! Backward passes against the f64 oracle's finite differences
//! (`oracle::grad_fd`) over random inputs and parameters, the returned loss
//! against the forward's, the `scale` factor, ignored elements and the
//! gradient-length error.
//!
//! FD comparison: `tolerance::GRADIENT` (1e-5 of the case's largest
//! |gradient|), `tolerance::MCC_GRADIENT_FD` for the soft MCC and
//! `tolerance::GRADIENT_TERMS_FD` for the elementwise losses (see there). Elements whose own kink or jump lies within the stencil are
//! not compared (their gradient is a convention, checked by the conformance
//! data): `|p − y| < 1e-3` for the region losses' `|p − y|`, and
//! `|pt − r| < 1e-3` for focal's `reduced_threshold` r. Probabilities are
//! drawn in [1e-3, 1 − 1e-3], away from every clamp.

use crate::support;

use proptest::prelude::*;
use support::cases::{Case, Params};
use support::oracle;
use support::run::{GradOutcome, Outcome, grad, value};
use support::tolerance::{GRADIENT, GRADIENT_TERMS_FD, MCC_GRADIENT_FD, Tol};

const KINDS: &[&str] = &[
    "dice",
    "jaccard",
    "tversky",
    "bce",
    "bce_logits",
    "soft_bce",
    "focal",
    "sigmoid_focal",
    "mcc",
];

/// The ignore value used by the generated cases.
const IGNORE: f64 = 255.0;

#[derive(Clone, Debug)]
struct Raw {
    kind: usize,
    from_logits: bool,
    xs: Vec<f32>,
    /// 0 → 0, 1 → 1, 2 → soft, 3 → ignored (when ignore is on; else 1).
    labels: Vec<u8>,
    soft: Vec<f32>,
    reals: [f64; 8],
    flags: [bool; 6],
}

fn raw(max_len: usize) -> impl Strategy<Value = Raw> {
    (1..=max_len).prop_flat_map(|n| {
        (
            0..KINDS.len(),
            any::<bool>(),
            prop::collection::vec(0.0f32..1.0, n),
            prop::collection::vec(0u8..4, n),
            prop::collection::vec(0.0f32..1.0, n),
            prop::array::uniform8(0.0f64..1.0),
            prop::array::uniform6(any::<bool>()),
        )
            .prop_map(|(kind, from_logits, xs, labels, soft, reals, flags)| Raw {
                kind,
                from_logits,
                xs,
                labels,
                soft,
                reals,
                flags,
            })
    })
}

/// Rounds to the nearest f32.
fn f32r(v: f64) -> f64 {
    f64::from(v as f32)
}

/// Builds a binary case (without expected values) from raw draws.
fn build(r: &Raw) -> Case {
    let kind = KINDS[r.kind];
    let from_logits = match kind {
        "bce" => false,
        "bce_logits" | "soft_bce" | "sigmoid_focal" => true,
        _ => r.from_logits,
    };
    // Parameters are f32 in segloss: draw f32-representable ones, so the
    // oracle sees the same values (1 − α with α = 0.9984 would otherwise
    // differ by 2e-5 relative).
    let [a, b, c, d, e, f, g, h] = r.reals.map(|v| f64::from(v as f32));
    let [f0, f1, f2, f3, f4, f5] = r.flags;
    let ignore = f0 && matches!(kind, "dice" | "jaccard" | "tversky" | "focal" | "soft_bce");
    let pred: Vec<f32> =
        r.xs.iter()
            .map(|&u| {
                if from_logits {
                    12.0 * u - 6.0
                } else {
                    1e-3 + 0.998 * u
                }
            })
            .collect();
    let target: Vec<f64> = r
        .labels
        .iter()
        .zip(&r.soft)
        .map(|(&l, &s)| match l {
            0 => 0.0,
            1 => 1.0,
            2 => f64::from(s),
            _ if ignore => IGNORE,
            _ => 1.0,
        })
        .collect();
    let mut p = Params {
        reduction: Some(if f1 { "sum" } else { "mean" }.into()),
        ..Params::default()
    };
    if ignore {
        p.ignore_index = Some(Some(IGNORE as i64));
    }
    match kind {
        "dice" | "jaccard" | "tversky" => {
            p.reduction = None;
            p.smooth = Some(if f2 { 0.0 } else { a });
            p.log_loss = Some(f3);
            if kind == "tversky" {
                p.alpha = Some(Some(b));
                p.beta = Some(c);
                p.gamma = Some(if f4 { 1.0 } else { f32r(0.5 + 1.5 * d) });
            }
        }
        "bce_logits" => p.pos_weight = Some(f32r(0.5 + 2.5 * a)),
        "soft_bce" => {
            p.pos_weight = Some(f32r(0.5 + 2.5 * a));
            p.smooth_factor = Some(f2.then_some(f32r(0.2 * b)));
            if !ignore {
                p.ignore_index = Some(None);
            }
        }
        "focal" => {
            p.gamma = Some(if f2 {
                (4.0 * c).floor()
            } else {
                f32r(0.5 + 3.0 * c)
            });
            p.alpha = Some(f3.then_some(d));
            p.normalized = Some(f4);
            p.reduced_threshold = Some(f5.then_some(f32r(0.2 + 0.6 * e)));
        }
        "sigmoid_focal" => {
            p.gamma = Some(if f2 {
                (4.0 * c).floor()
            } else {
                f32r(0.5 + 3.0 * c)
            });
            p.alpha = Some(f3.then_some(d));
        }
        "mcc" => {
            p.reduction = None;
            p.eps = Some(f32r(if f2 { 1e-5 } else { 1e-6 + 1e-3 * f }));
        }
        _ => {}
    }
    let _ = (g, h);
    let n = pred.len();
    Case {
        id: format!("prop-{kind}"),
        kind: kind.into(),
        mode: "binary".into(),
        from_logits,
        shape: [1, 1, n],
        params: p,
        pred,
        target,
        value: f64::NAN,
        grad: Some(Vec::new()),
        note: None,
    }
}

/// Whether element `i` has a kink or jump of its own inside the FD stencil.
fn near_kink(c: &Case, i: usize) -> bool {
    let x = f64::from(c.pred[i]);
    let y = c.target[i];
    if y == IGNORE {
        return false;
    }
    let prob = if c.from_logits { oracle::sigmoid(x) } else { x };
    match c.kind.as_str() {
        "dice" | "jaccard" | "tversky" => (prob - y).abs() < 1e-3,
        "focal" => match c.params.reduced_threshold.flatten() {
            Some(r) => {
                let logpt = if c.from_logits {
                    oracle::bce_with_logits(x, y, 1.0)
                } else {
                    oracle::bce_elem(prob, y)
                };
                ((-logpt).exp() - r).abs() < 1e-3
            }
            None => false,
        },
        _ => false,
    }
}

/// κ of the soft MCC numerator (see `tolerance::MCC_GRADIENT_FD`).
fn mcc_condition(c: &Case) -> f64 {
    let eps = c.params.eps.unwrap_or(1e-5);
    let (mut tp, mut fp, mut fn_, mut tn) = (eps, eps, eps, eps);
    for (&x, &y) in c.pred.iter().zip(&c.target) {
        let x = f64::from(x);
        let p = if c.from_logits { oracle::sigmoid(x) } else { x };
        tp += p * y;
        fp += p * (1.0 - y);
        fn_ += (1.0 - p) * y;
        tn += (1.0 - p) * (1.0 - y);
    }
    (tp * tn + fp * fn_) / (tp * tn - fp * fn_).abs()
}

/// Each element's term scale `S_i` (see `tolerance::GRADIENT_TERMS_FD`) for
/// the elementwise losses, `None` for the others.
fn term_scales(c: &Case) -> Option<Vec<f64>> {
    let k = match c.params.reduction.as_deref() {
        Some("sum") => 1.0,
        _ => 1.0 / c.pred.len() as f64,
    };
    let w = c.params.pos_weight.unwrap_or(1.0);
    let f = c.params.smooth_factor.flatten().unwrap_or(0.0);
    let pairs = c
        .pred
        .iter()
        .zip(&c.target)
        .map(|(&x, &y)| (f64::from(x), y));
    match c.kind.as_str() {
        "bce" => Some(
            pairs
                .map(|(p, y)| k * (y / p + (1.0 - y) / (1.0 - p)))
                .collect(),
        ),
        "bce_logits" | "soft_bce" => Some(
            pairs
                .map(|(x, y)| {
                    let ys = (1.0 - y) * f + y * (1.0 - f);
                    let ns = y * f + (1.0 - y) * (1.0 - f);
                    k * (ns * oracle::sigmoid(x) + w * ys * oracle::sigmoid(-x))
                })
                .collect(),
        ),
        "focal" | "sigmoid_focal" => {
            let at = |v: f64| {
                let t: Vec<f64> = c
                    .target
                    .iter()
                    .map(|&y| if y == IGNORE { y } else { v })
                    .collect();
                oracle::grad_fd(
                    &c.kind,
                    "binary",
                    c.from_logits,
                    c.shape,
                    &c.params,
                    &c.pred_f64(),
                    &t,
                )
            };
            let (g0, g1) = (at(0.0), at(1.0));
            let scale = |((&y, a), b): ((&f64, &f64), &f64)| (1.0 - y) * a.abs() + y * b.abs();
            Some(c.target.iter().zip(&g0).zip(&g1).map(scale).collect())
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn gradient_matches_finite_differences(r in raw(64)) {
        let c = build(&r);
        let mut got = Vec::new();
        let loss = match grad(&c, &mut got) {
            GradOutcome::Value(v) => v,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        if c.target.iter().all(|&y| y == IGNORE) {
            // Nothing kept: the loss is 0 or NaN (a mean over nothing).
            prop_assert!(got.iter().all(|&g| g == 0.0));
            return Ok(());
        }
        prop_assert!(loss.is_finite());
        let fd = oracle::grad_fd(
            &c.kind, "binary", c.from_logits, c.shape, &c.params, &c.pred_f64(), &c.target,
        );
        let max = fd.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let terms = term_scales(&c);
        for (i, (&g, &w)) in got.iter().zip(&fd).enumerate() {
            if c.target[i] == IGNORE {
                prop_assert_eq!(g, 0.0, "ignored element {} has gradient {}", i, g);
                continue;
            }
            if near_kink(&c, i) {
                continue;
            }
            let tol = if c.kind == "mcc" {
                Tol { rel: GRADIENT.rel + MCC_GRADIENT_FD.rel * mcc_condition(&c), ..GRADIENT }
            } else if let Some(s) = terms.as_ref().and_then(|t| t.get(i)) {
                Tol { abs: GRADIENT_TERMS_FD.rel * s, ..GRADIENT }
            } else {
                GRADIENT
            };
            prop_assert!(
                tol.check(f64::from(g), w, max),
                "{} grad[{}] = {:e}, fd {:e} (max {:e}, diff/max {:e}) params {:?}",
                c.kind, i, g, w, max, (f64::from(g) - w).abs() / max, c.params
            );
        }
    }

    /// The backward form returns the forward's loss bit for bit (same pass,
    /// same terms, same order), across block boundaries and partial vectors.
    #[test]
    fn backward_loss_equals_forward(r in raw(300)) {
        let c = build(&r);
        let mut got = Vec::new();
        let GradOutcome::Value(bwd) = grad(&c, &mut got) else {
            return Err(TestCaseError::fail("backward failed"));
        };
        let Outcome::Value(fwd) = value(&c) else {
            return Err(TestCaseError::fail("forward failed"));
        };
        prop_assert_eq!(bwd.to_bits(), fwd.to_bits(), "{}: {} vs {}", c.kind, bwd, fwd);
        prop_assert_eq!(got.len(), c.pred.len());
        let all_ignored = c.target.iter().all(|&y| y == IGNORE);
        prop_assert!(all_ignored || got.iter().all(|g| g.is_finite()));
    }
}

/// smp focal with a real γ, normalized, on logits so confident that
/// `1 − pt` = σ(−|x|) is subnormal or 0 in f32 while `(1 − pt)^γ` is a
/// normal number (γ < 1): the modulator and the normalizer's gradient come
/// from ln(1 − pt) = −softplus(|x|) (`Modulator::pow_ln`). Before, the
/// forward lost these elements' share of Σ focal (`binary_props::focal`
/// found 2.6e-6 relative: a logit of ~104, γ = 0.06) and the normalizer's
/// gradient there was 0. The last set: `1 − pt` subnormal in f32 (a few
/// bits) where a small reduced_threshold scales it back into the normal
/// range: it is taken from the logarithm too (`binary_forward` found Σ
/// focal 1.4e-6 off with r = 1e-7, γ = 0.004 and a logit of 99.8; the set
/// here was 1.5e-4 off).
#[test]
fn focal_real_gamma_confident_logits() {
    let pred = [120.0f32, -110.0, 95.0, 3.0, -0.5, 200.0, 90.0, -88.5];
    let target = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    // σ(−102) = 5e-45 is 4 units of 2^-149: the old modulator was 1.5e-4 off.
    let subnormal = [102.3f32, 101.6, -102.7, 2.0];
    let subnormal_target = [1.0, 1.0, 0.0, 0.0];
    for (pred, target, gamma, threshold) in [
        (&pred[..], &target[..], 0.06, None),
        (&pred, &target, 0.5, None),
        (&pred, &target, 0.9, None),
        (&pred, &target, 0.3, Some(0.7)),
        (&subnormal, &subnormal_target, 0.004, Some(1e-7)),
    ] {
        let (pred, target) = (pred.to_vec(), target.to_vec());
        let c = Case {
            id: "focal-confident-logits".into(),
            kind: "focal".into(),
            mode: "binary".into(),
            from_logits: true,
            shape: [1, 1, pred.len()],
            params: Params {
                gamma: Some(f32r(gamma)),
                alpha: Some(None),
                normalized: Some(true),
                reduced_threshold: Some(threshold.map(f32r)),
                reduction: Some("mean".into()),
                ..Params::default()
            },
            pred: pred.clone(),
            target: target.clone(),
            value: 0.0,
            grad: Some(Vec::new()),
            note: None,
        };
        let want = oracle::loss(
            "focal",
            "binary",
            true,
            c.shape,
            &c.params,
            &c.pred_f64(),
            &target,
        );
        let Outcome::Value(got) = value(&c) else {
            panic!("forward failed");
        };
        let tol = support::tolerance::focal(gamma);
        assert!(
            tol.check(got, want, 0.0),
            "γ = {gamma}: loss {got:e}, oracle {want:e}"
        );
        let mut g = Vec::new();
        let GradOutcome::Value(_) = grad(&c, &mut g) else {
            panic!("backward failed");
        };
        let fd = oracle::grad_fd(
            "focal",
            "binary",
            true,
            c.shape,
            &c.params,
            &c.pred_f64(),
            &target,
        );
        let max = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in g.iter().zip(&fd).enumerate() {
            assert!(
                GRADIENT.check(f64::from(g), w, max),
                "γ = {gamma}: grad[{i}] = {g:e}, fd {w:e} (max {max:e})"
            );
        }
    }
}

#[test]
fn scale_multiplies_the_gradient() {
    use segloss::backward::binary as bw;
    let x: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let y: Vec<u8> = (0..37).map(|i| (i % 3 == 0) as u8).collect();
    let (mut g1, mut g3) = (vec![0.0; 37], vec![0.0; 37]);
    let cfg = segloss::Focal::default().with_gamma(1.5);
    let l1 = bw::focal(&x, &y, &cfg, &mut g1, 1.0).unwrap();
    let l3 = bw::focal(&x, &y, &cfg, &mut g3, -3.0).unwrap();
    assert_eq!(l1, l3, "scale does not change the loss");
    for (a, b) in g1.iter().zip(&g3) {
        assert!((b + 3.0 * a).abs() <= 1e-6 * a.abs().max(1e-3), "{a} {b}");
    }
    let l1 = bw::dice(&x, &y, &Default::default(), &mut g1, 1.0).unwrap();
    let l3 = bw::dice(&x, &y, &Default::default(), &mut g3, 2.0).unwrap();
    assert_eq!(l1, l3);
    for (a, b) in g1.iter().zip(&g3) {
        assert!((b - 2.0 * a).abs() <= 1e-6 * a.abs(), "{a} {b}");
    }
}

#[test]
fn ignored_elements_get_zero_gradient_even_when_nan() {
    use segloss::backward::binary as bw;
    let x = [
        1.0f32,
        f32::NAN,
        -2.0,
        0.5,
        f32::INFINITY,
        3.0,
        -1.0,
        0.0,
        2.0,
        f32::NAN,
    ];
    let y = [1.0f32, 255.0, 0.0, 1.0, 255.0, 1.0, 0.0, 0.0, 1.0, 255.0];
    let mut g = [f32::NAN; 10];
    let region = segloss::Region::default().with_ignore_index(Some(255.0));
    let loss = bw::dice(&x, &y, &region, &mut g, 1.0).unwrap();
    assert!(loss.is_finite());
    for (i, (&g, &y)) in g.iter().zip(&y).enumerate() {
        if y == 255.0 {
            assert_eq!(g, 0.0, "element {i}");
        } else {
            assert!(g.is_finite() && g != 0.0, "element {i}: {g}");
        }
    }
    let focal = segloss::Focal::default().with_ignore_index(Some(255.0));
    let mut g = [f32::NAN; 10];
    bw::focal(&x, &y, &focal, &mut g, 1.0).unwrap();
    assert!(y.iter().zip(&g).all(|(&y, &g)| (y == 255.0) == (g == 0.0)));
}

#[test]
fn wrong_gradient_length_is_an_error() {
    use segloss::backward::binary as bw;
    use segloss::*;
    let x = [0.5f32; 9];
    let y = [1.0f32; 9];
    for len in [0usize, 8, 10] {
        let mut g = vec![0.0f32; len];
        let want = Err(Error::GradientLength {
            expected: 9,
            got: len,
        });
        let r = Region::default();
        assert_eq!(bw::dice(&x, &y, &r, &mut g, 1.0), want);
        assert_eq!(bw::jaccard(&x, &y, &r, &mut g, 1.0), want);
        assert_eq!(bw::tversky(&x, &y, &Tversky::default(), &mut g, 1.0), want);
        assert_eq!(bw::bce(&x, &y, &Bce::default(), &mut g, 1.0), want);
        assert_eq!(
            bw::bce_with_logits(&x, &y, &BceWithLogits::default(), &mut g, 1.0),
            want
        );
        assert_eq!(bw::soft_bce(&x, &y, &SoftBce::default(), &mut g, 1.0), want);
        assert_eq!(bw::focal(&x, &y, &Focal::default(), &mut g, 1.0), want);
        assert_eq!(
            bw::sigmoid_focal(&x, &y, &SigmoidFocal::default(), &mut g, 1.0),
            want
        );
        assert_eq!(bw::mcc(&x, &y, &Mcc::default(), &mut g, 1.0), want);
    }
    // The message names both lengths.
    let msg = format!(
        "{}",
        Error::GradientLength {
            expected: 9,
            got: 8
        }
    );
    assert!(msg.contains('9') && msg.contains('8'));
    // A prediction/target mismatch is still reported first.
    let mut g = [0.0f32; 9];
    assert_eq!(
        bw::dice(&x, &y[..8], &Region::default(), &mut g, 1.0),
        Err(Error::LengthMismatch { pred: 9, target: 8 })
    );
}
