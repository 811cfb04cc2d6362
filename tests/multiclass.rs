//! Multiclass and multilabel losses against the f64 oracle (SPEC "Accuracy"
//! tolerances from `support::tolerance`), over random N, C (1..=20),
//! S (0..300), label types and ignore fractions; label types agree bit for
//! bit; the const-generic and runtime-C paths agree bit for bit; per-image
//! reduction and the combined losses against their definitions; bad input
//! comes back as `Error` values.

use crate::support;

use proptest::prelude::*;
use segloss::multiclass::{self, Classes, CrossEntropy, Loss, Shape};
use segloss::{Error, Focal, Reduction, Region, Tversky, multilabel};
use support::cases::{Case, Params};
use support::run::{Outcome, value};
use support::tolerance::{CROSS_ENTROPY, REGION, Tol};

/// A random case: everything the oracle and the runner need.
#[derive(Debug, Clone)]
struct Gen {
    mode: &'static str,
    kind: &'static str,
    from_logits: bool,
    shape: [usize; 3],
    params: Params,
    pred: Vec<f32>,
    target: Vec<f64>,
}

impl Gen {
    fn case(&self) -> Case {
        Case {
            id: "prop".into(),
            kind: self.kind.into(),
            mode: self.mode.into(),
            from_logits: self.from_logits,
            shape: self.shape,
            params: self.params.clone(),
            pred: self.pred.clone(),
            target: self.target.clone(),
            value: 0.0,
            grad: None,
            note: None,
        }
    }
    fn tol(&self) -> Tol {
        match self.kind {
            "dice" | "jaccard" | "tversky" => REGION,
            _ => CROSS_ENTROPY,
        }
    }
}

fn rng(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn gen_case(seed: u64, multilabel: bool) -> Gen {
    let mut r = rng(seed);
    let mut pick = |k: usize| ((r() * k as f64) as usize).min(k - 1);
    let n = 1 + pick(3);
    let c = 1 + pick(20);
    let s = pick(300);
    let kinds: &[&str] = if multilabel {
        &["dice", "jaccard", "tversky", "focal"]
    } else {
        &["dice", "jaccard", "tversky", "focal", "cross_entropy"]
    };
    let kind = kinds[pick(kinds.len())];
    let from_logits = kind == "cross_entropy" || pick(4) != 0;
    let ignore_frac = [0.0, 0.1, 0.5, 1.0][pick(4)];
    let ignore: i64 = if kind == "cross_entropy" && pick(2) == 0 {
        -100
    } else {
        255
    };
    let mut r = rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let scale = [2.0, 6.0, 20.0][((r() * 3.0) as usize).min(2)];
    let pred: Vec<f32> = (0..n * c * s)
        .map(|_| {
            if from_logits {
                ((r() - 0.5) * 2.0 * scale) as f32
            } else {
                r() as f32
            }
        })
        .collect();
    let soft = multilabel && r() < 0.3;
    let tlen = if multilabel { n * c * s } else { n * s };
    let target: Vec<f64> = (0..tlen)
        .map(|_| {
            if r() < ignore_frac * 0.5 {
                ignore as f64
            } else if multilabel {
                if soft {
                    f64::from(r() as f32)
                } else {
                    (r() < 0.4) as u8 as f64
                }
            } else {
                ((r() * c as f64) as usize).min(c - 1) as f64
            }
        })
        .collect();
    let mut p = Params::default();
    let use_ignore = ignore_frac > 0.0 || r() < 0.3;
    p.ignore_index = if kind == "cross_entropy" {
        if use_ignore || ignore == -100 {
            Some(Some(ignore))
        } else {
            Some(None)
        }
    } else if use_ignore {
        Some(Some(ignore))
    } else {
        None
    };
    match kind {
        "dice" | "jaccard" | "tversky" => {
            p.smooth = Some([0.0, 1.0][(r() * 2.0) as usize % 2]);
            // log_loss magnifies the absolute error of a tiny intersection
            // (I = (Σp + Σy − Σ|p − y|)/2 with f32 |p − y|): mild logits only.
            p.log_loss = Some(scale == 2.0 && r() < 0.3);
            if kind == "tversky" {
                p.alpha = Some(Some(0.3));
                p.beta = Some(0.7);
                p.gamma = Some([1.0, 1.33, 0.75][(r() * 3.0) as usize % 3]);
            }
            if r() < 0.4 {
                let mut cl: Vec<usize> = (0..c).filter(|_| r() < 0.6).collect();
                if cl.is_empty() {
                    cl.push(c - 1);
                }
                p.classes = Some(cl);
            }
        }
        "focal" => {
            p.gamma = Some([2.0, 0.0, 1.5, 1.0][(r() * 4.0) as usize % 4]);
            p.alpha = Some(if r() < 0.5 { None } else { Some(0.25) });
            p.normalized = Some(r() < 0.3);
            p.reduction = Some(if r() < 0.3 { "sum" } else { "mean" }.into());
        }
        _ => {
            p.label_smoothing = Some([0.0, 0.1, 0.2][(r() * 3.0) as usize % 3]);
            p.reduction = Some(if r() < 0.3 { "sum" } else { "mean" }.into());
        }
    }
    if r() < 0.4 {
        // f32-representable weights, away from 0 so Σw > 0 over any subset.
        p.class_weights = Some(
            (0..c)
                .map(|_| f64::from((0.1 + 1.9 * r()) as f32))
                .collect(),
        );
    }
    Gen {
        mode: if multilabel {
            "multilabel"
        } else {
            "multiclass"
        },
        kind,
        from_logits,
        shape: [n, c, s],
        params: p,
        pred,
        target,
    }
}

fn check_against_oracle(g: &Gen) -> Result<(), TestCaseError> {
    let case = g.case();
    let want = support::oracle::try_loss(
        g.kind,
        g.mode,
        g.from_logits,
        g.shape,
        &g.params,
        &case.pred_f64(),
        &g.target,
    );
    let got = value(&case);
    match (want, got) {
        (Ok(w), Outcome::Value(v)) => {
            prop_assert!(g.tol().check(v, w, 0.0), "{g:?}\nwant {w}, got {v}");
        }
        (Err(_), Outcome::Error(_)) => {}
        (w, v) => prop_assert!(false, "{g:?}\noracle {w:?}, segloss {v:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn multiclass_matches_oracle(seed in any::<u64>()) {
        check_against_oracle(&gen_case(seed, false))?;
    }

    #[test]
    fn multilabel_matches_oracle(seed in any::<u64>()) {
        check_against_oracle(&gen_case(seed, true))?;
    }

    /// u8, u16, i32 and i64 ids give the same bits.
    #[test]
    fn label_types_agree(seed in any::<u64>()) {
        let g = gen_case(seed, false);
        let [n, c, s] = g.shape;
        let Ok(shape) = Shape::new(n, c, s) else { return Ok(()) };
        let region = Region::default().with_ignore_index(Some(255.0)).with_from_logits(g.from_logits);
        let l = Loss::Region(Tversky::dice(region));
        let cl = Classes::default();
        let t: Vec<i64> = g.target.iter().map(|&t| if t < 0.0 { 255 } else { t as i64 }).collect();
        let a = multiclass::loss(&g.pred, &t, shape, &l, &cl);
        let t8: Vec<u8> = t.iter().map(|&v| v as u8).collect();
        let t16: Vec<u16> = t.iter().map(|&v| v as u16).collect();
        let t32: Vec<i32> = t.iter().map(|&v| v as i32).collect();
        prop_assert_eq!(a, multiclass::loss(&g.pred, &t8, shape, &l, &cl));
        prop_assert_eq!(a, multiclass::loss(&g.pred, &t16, shape, &l, &cl));
        prop_assert_eq!(a, multiclass::loss(&g.pred, &t32, shape, &l, &cl));
    }

    /// The const-generic and runtime-C paths agree bit for bit, for every loss.
    #[test]
    fn const_and_runtime_c_agree(seed in any::<u64>(), which in 0usize..5, n in 1usize..3, s in 1usize..70) {
        macro_rules! each_c {
            ($($c:literal)*) => {$({
                let mut r = rng(seed ^ $c);
                let shape = Shape::new(n, $c, s).unwrap();
                let pred: Vec<f32> = (0..shape.len()).map(|_| (r() * 8.0 - 4.0) as f32).collect();
                let ids: Vec<u8> = (0..shape.pixels())
                    .map(|_| if r() < 0.1 { 255 } else { ((r() * $c as f64) as u8).min($c - 1) })
                    .collect();
                let w: Vec<f32> = (0..$c).map(|_| (0.2 + r()) as f32).collect();
                let cl = Classes::default().with_weights(Some(&w)).with_per_image(which == 4);
                let region = Tversky::dice(Region::default().with_ignore_index(Some(255.0)));
                let focal = Focal::default().with_ignore_index(Some(255.0));
                let ce = CrossEntropy::default().with_ignore_index(Some(255)).with_label_smoothing(0.1);
                let l = match which {
                    0 => Loss::Region(region),
                    1 => Loss::Focal(focal),
                    2 => Loss::CrossEntropy(ce),
                    3 => Loss::RegionFocal { region, focal, lambda_region: 1.0, lambda_focal: 0.5 },
                    _ => Loss::RegionCe { region, ce, lambda_region: 1.0, lambda_ce: 1.0 },
                };
                let a = multiclass::loss(&pred, &ids, shape, &l, &cl).unwrap();
                let b = multiclass::loss_fixed::<$c, _>(&pred, &ids, shape, &l, &cl).unwrap();
                prop_assert_eq!(a.to_bits(), b.to_bits(), "C = {}", $c);
            })*};
        }
        // The const counts the suite instantiates (see `with_const_c!` in
        // tests/nchw_gradients.rs): each is a copy of the kernel tables.
        each_c!(1 3 4 17);
    }
}

/// Splits a batch into images: `per_image` equals the mean of one-image calls.
#[test]
fn per_image_is_the_mean_over_images() {
    let mut r = rng(7);
    let (n, c, s) = (3, 4, 37);
    let shape = Shape::new(n, c, s).unwrap();
    let pred: Vec<f32> = (0..shape.len()).map(|_| (r() * 6.0 - 3.0) as f32).collect();
    let ids: Vec<u8> = (0..shape.pixels()).map(|_| (r() * 3.0) as u8).collect(); // class 3 empty
    let w = [0.5f32, 1.0, 2.0, 1.5];
    let t = Tversky::new(0.3, 0.7, 1.33).unwrap();
    let cl = Classes::default()
        .with_weights(Some(&w))
        .with_per_image(true);
    let got = multiclass::tversky(&pred, &ids, shape, &t, &cl).unwrap();
    let one = Tversky { gamma: 1.0, ..t };
    let mut sum = 0.0f64;
    for i in 0..n {
        let s1 = Shape::new(1, c, s).unwrap();
        let p = &pred[i * c * s..(i + 1) * c * s];
        let y = &ids[i * s..(i + 1) * s];
        let cl1 = Classes::default().with_weights(Some(&w));
        sum += f64::from(multiclass::tversky(p, y, s1, &one, &cl1).unwrap());
    }
    let want = (sum / n as f64).powf(1.33);
    assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
    // Multilabel: the same identity.
    let yl: Vec<f32> = (0..shape.len()).map(|_| (r() < 0.3) as u8 as f32).collect();
    let got = multilabel::tversky(&pred, &yl, shape, &t, &cl).unwrap();
    let mut sum = 0.0f64;
    for i in 0..n {
        let s1 = Shape::new(1, c, s).unwrap();
        let rg = i * c * s..(i + 1) * c * s;
        let cl1 = Classes::default().with_weights(Some(&w));
        sum += f64::from(multilabel::tversky(&pred[rg.clone()], &yl[rg], s1, &one, &cl1).unwrap());
    }
    let want = (sum / n as f64).powf(1.33);
    assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
}

/// The combined losses equal the weighted sum of their parts.
#[test]
fn combined_losses_are_the_weighted_sums() {
    let mut r = rng(11);
    let shape = Shape::new(2, 5, 301).unwrap();
    let pred: Vec<f32> = (0..shape.len()).map(|_| (r() * 6.0 - 3.0) as f32).collect();
    let ids: Vec<i32> = (0..shape.pixels())
        .map(|_| if r() < 0.05 { -100 } else { (r() * 5.0) as i32 })
        .collect();
    let cl = Classes::default();
    let dice_cfg = Region::default().with_ignore_index(Some(-100.0));
    let ce = CrossEntropy::default().with_label_smoothing(0.1);
    let d = multiclass::dice(&pred, &ids, shape, &dice_cfg, &cl).unwrap();
    let e = multiclass::cross_entropy(&pred, &ids, shape, &ce, &cl).unwrap();
    let both = multiclass::dice_ce(&pred, &ids, shape, &dice_cfg, &ce, (0.7, 1.3), &cl).unwrap();
    assert!((both - (0.7 * d + 1.3 * e)).abs() < 1e-6 * both.abs().max(1.0));
    let fc = Focal::default()
        .with_ignore_index(Some(-100.0))
        .with_alpha(Some(0.25));
    let f = multiclass::focal(&pred, &ids, shape, &fc, &cl).unwrap();
    let both = multiclass::dice_focal(&pred, &ids, shape, &dice_cfg, &fc, (1.0, 2.0), &cl).unwrap();
    assert!((both - (d + 2.0 * f)).abs() < 1e-6 * both.abs().max(1.0));
    // Multilabel dice + focal.
    let y: Vec<u8> = (0..shape.len()).map(|_| (r() < 0.3) as u8).collect();
    let fc = Focal::default();
    let d = multilabel::dice(&pred, &y, shape, &Region::default(), &cl).unwrap();
    let f = multilabel::focal(&pred, &y, shape, &fc, &cl).unwrap();
    let both =
        multilabel::dice_focal(&pred, &y, shape, &Region::default(), &fc, (1.0, 0.5), &cl).unwrap();
    assert!((both - (d + 0.5 * f)).abs() < 1e-6);
}

#[test]
fn bad_input_is_an_error() {
    let shape = Shape::new(1, 3, 4).unwrap();
    let pred = [0.0f32; 12];
    let cl = Classes::default();
    let r = Region::default();
    let dice = |ids: &[i64], cl: &Classes| multiclass::dice(&pred, ids, shape, &r, cl);
    assert_eq!(
        dice(&[0, 1, 2, 3], &cl),
        Err(Error::ClassIdOutOfRange { id: 3, classes: 3 })
    );
    assert_eq!(
        dice(&[0, -1, 2, 0], &cl),
        Err(Error::ClassIdOutOfRange { id: -1, classes: 3 })
    );
    assert_eq!(
        dice(&[0, 1, 2], &cl),
        Err(Error::ShapeMismatch {
            expected: 4,
            found: 3
        })
    );
    let ids = [0i64, 1, 2, 0];
    assert_eq!(
        multiclass::dice(&pred[..11], &ids, shape, &r, &cl),
        Err(Error::ShapeMismatch {
            expected: 12,
            found: 11
        })
    );
    assert_eq!(
        dice(&ids, &cl.with_classes(Some(&[]))),
        Err(Error::InvalidClasses)
    );
    assert_eq!(
        dice(&ids, &cl.with_classes(Some(&[0, 3]))),
        Err(Error::InvalidClasses)
    );
    for w in [
        &[1.0f32, 1.0][..],
        &[0.0, 0.0, 0.0],
        &[1.0, -1.0, 1.0],
        &[1.0, f32::NAN, 1.0],
    ] {
        assert_eq!(
            dice(&ids, &cl.with_weights(Some(w))),
            Err(Error::InvalidClassWeights)
        );
    }
    // Weights summing to 0 over the kept classes only.
    assert_eq!(
        dice(
            &ids,
            &cl.with_weights(Some(&[0.0, 0.0, 1.0]))
                .with_classes(Some(&[0, 1]))
        ),
        Err(Error::InvalidClassWeights)
    );
    assert_eq!(Shape::new(1, 0, 4), Err(Error::InvalidShape));
    assert_eq!(Shape::new(0, 3, 4), Err(Error::Empty));
    assert_eq!(Shape::new(usize::MAX / 2, 3, 4), Err(Error::InvalidShape));
    assert!(matches!(
        multiclass::loss_fixed::<4, i64>(
            &pred,
            &ids,
            shape,
            &Loss::Region(Tversky::default()),
            &cl
        ),
        Err(Error::ShapeMismatch { .. })
    ));
    let big = Shape::new(1, 300, 1).unwrap();
    assert_eq!(
        multiclass::dice(&[0.0; 300], &[0u16], big, &r, &cl),
        Err(Error::TooManyClasses {
            classes: 300,
            max: multiclass::MAX_CLASSES
        })
    );
    // An id ignored by the region part but not by cross entropy is checked.
    let rc = Loss::RegionCe {
        region: Tversky::dice(r.with_ignore_index(Some(255.0))),
        ce: CrossEntropy::default(),
        lambda_region: 1.0,
        lambda_ce: 1.0,
    };
    assert_eq!(
        multiclass::loss(&pred, &[0u8, 1, 255, 0], shape, &rc, &cl),
        Err(Error::ClassIdOutOfRange {
            id: 255,
            classes: 3
        })
    );
    assert!(
        CrossEntropy::default()
            .with_label_smoothing(f32::NAN)
            .validate()
            .is_err()
    );
    // Multilabel: lengths and masks.
    let y = [0u8; 12];
    assert!(matches!(
        multilabel::dice(&pred, &y[..11], shape, &r, &cl),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut y2 = y;
    y2[5] = 7;
    assert_eq!(
        multilabel::dice(&pred, &y2, shape, &r, &cl),
        Err(Error::InvalidMask { value: 7 })
    );
    let _ = Reduction::Sum;
}

/// NaN in an ignored pixel does not propagate; in a kept pixel it does.
#[test]
fn nan_propagates_only_from_kept_pixels() {
    let shape = Shape::new(1, 2, 9).unwrap();
    let mut pred = [0.5f32; 18];
    pred[3] = f32::NAN;
    let mut ids = [0u8; 9];
    ids[1] = 1;
    ids[3] = 255;
    let r = Region::default().with_ignore_index(Some(255.0));
    let cl = Classes::default();
    assert!(
        multiclass::dice(&pred, &ids, shape, &r, &cl)
            .unwrap()
            .is_finite()
    );
    ids[3] = 1;
    assert!(
        multiclass::dice(&pred, &ids, shape, &r, &cl)
            .unwrap()
            .is_nan()
    );
}

/// Class weights near `f32::MAX` (finite, so valid) give the loss and the
/// gradient of the same weights 2^100 smaller: the mean is a ratio, the sum
/// scales by 2^100. The `f32` lane sums of such weights overflowed (∞/∞ =
/// NaN; found by `multiclass`, seed `ce-huge-class-weight`), where PyTorch,
/// summing in `f64`, gives the loss.
#[test]
fn huge_class_weights_do_not_overflow() {
    let mut r = rng(23);
    let shape = Shape::new(2, 4, 133).unwrap();
    let pred: Vec<f32> = (0..shape.len()).map(|_| (r() * 6.0 - 3.0) as f32).collect();
    let ids: Vec<u8> = (0..shape.pixels()).map(|_| (r() * 4.0) as u8).collect();
    let small = [0.5f32, 1.0, 2.0, 1.5];
    let two_100 = f32::from_bits((127 + 100) << 23);
    let small = small.map(|w| w * 1e7);
    let huge = small.map(|w| w * two_100); // 6.3e36–2.5e37: finite, valid
    for ls in [0.0f32, 0.1] {
        for red in [Reduction::Mean, Reduction::Sum] {
            let cfg = CrossEntropy {
                label_smoothing: ls,
                reduction: red,
                ..CrossEntropy::default()
            };
            let at = |w: &[f32]| {
                let cl = Classes::default().with_weights(Some(w));
                let v = multiclass::cross_entropy(&pred, &ids, shape, &cfg, &cl).unwrap();
                let mut g = vec![0.0f32; pred.len()];
                let vb = segloss::backward::multiclass::cross_entropy(
                    &pred, &ids, shape, &cfg, &cl, &mut g, 1.0,
                )
                .unwrap();
                assert_eq!(v.to_bits(), vb.to_bits());
                (f64::from(v), g)
            };
            let (vh, gh) = at(&huge);
            let (vs, gs) = at(&small);
            let k = if red == Reduction::Sum {
                2f64.powi(100)
            } else {
                1.0
            };
            if k * vs <= f64::from(f32::MAX) {
                assert!(
                    (vh / k - vs).abs() <= 1e-6 * vs.abs(),
                    "{red:?} ls {ls}: {vh} vs {vs}"
                );
            } else {
                // The sum itself is beyond f32 (as PyTorch's f32 result).
                assert_eq!(vh, f64::INFINITY, "{red:?} ls {ls}");
            }
            for (a, b) in gh.iter().zip(&gs) {
                let (a, b) = (f64::from(*a) / k, f64::from(*b));
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs() + 1e-30,
                    "{red:?} ls {ls}: grad {a} vs {b}"
                );
            }
        }
    }
}
