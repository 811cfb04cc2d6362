//! Property tests of the binary kernels against the f64 oracle.
//!
//! Every case draws a length in 0..4096 (uniform, or biased to within a few
//! elements of a multiple of 8 or of 128, the vector and block sizes, so
//! every tail size 0..=7 and block boundaries are hit), a data seed,
//! the kind of targets (hard f32, soft f32, u8 mask), a fraction of special
//! predictions (±0, ±∞, |x| up to 1e30 and f32::MAX, subnormals, logits near
//! ±88, and NaN) and random loss parameters. The kernel's f32 result is
//! compared with the oracle (same f32 inputs widened to f64) through the
//! tolerance table: `REGION` for Dice/Jaccard/Tversky/MCC, `CROSS_ENTROPY`
//! for the BCE family and focal. `Tol::check` matches NaN only with NaN and
//! an infinity only with the same infinity. Empty input must be
//! `Err(Empty)`, a length mismatch `Err(LengthMismatch)`.

use crate::support;
use crate::{call, datagen};

use datagen::{Rng, Specials, TargetKind, Targets, widen};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use segloss::{
    Bce, BceWithLogits, Error, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce,
    Tversky, binary,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use support::oracle as o;
use support::tolerance::{self, CROSS_ENTROPY, REGION, Tol};

const CASES: u32 = 384;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Lengths: uniform, or near a multiple of 8 / 128.
fn len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..4096,
        (0i64..512, -3i64..=3).prop_map(|(k, d)| (k * 8 + d).clamp(0, 4095) as usize),
        (0i64..32, -9i64..=9).prop_map(|(k, d)| (k * 128 + d).clamp(0, 4095) as usize),
    ]
}

fn specials() -> impl Strategy<Value = (Specials, f32)> {
    prop_oneof![
        2 => Just((Specials::None, 0.0f32)),
        1 => (0.0f32..0.3).prop_map(|f| (Specials::Finite, f)),
        1 => (0.0f32..0.05).prop_map(|f| (Specials::WithNan, f)),
    ]
}

fn kind() -> impl Strategy<Value = TargetKind> {
    prop_oneof![
        Just(TargetKind::Hard),
        Just(TargetKind::Soft),
        Just(TargetKind::Mask)
    ]
}

/// γ: integers 0..=4 (the unrolled kernels), half-integers 0.5..=4.5 (a
/// square root and products) or any real in [0, 5) (`pow`).
fn gamma() -> impl Strategy<Value = f32> {
    prop_oneof![
        (0u8..=4).prop_map(f32::from),
        (0u8..=4).prop_map(|n| f32::from(n) + 0.5),
        0.0f32..5.0
    ]
}

fn reduction() -> impl Strategy<Value = Reduction> {
    prop_oneof![Just(Reduction::Mean), Just(Reduction::Sum)]
}

/// An ignore value fitting the target kind, and the fraction ignored.
fn ignore() -> impl Strategy<Value = Option<(usize, f32)>> {
    prop_oneof![
        Just(None),
        (0usize..3, prop_oneof![0.0f32..0.5, Just(1.0f32)]).prop_map(Some)
    ]
}

fn ignore_value(kind: TargetKind, which: usize) -> f32 {
    if kind == TargetKind::Mask {
        255.0
    } else {
        [-100.0, 255.0, 2.0][which]
    }
}

/// Common data of a case.
#[derive(Clone, Debug)]
struct Data {
    pred: Vec<f32>,
    t: Targets,
    logits: bool,
}

#[allow(clippy::too_many_arguments)]
fn data(
    n: usize,
    seed: u64,
    logits: bool,
    kind: TargetKind,
    sp: (Specials, f32),
    pos: f32,
    ignore: Option<f32>,
    ignore_frac: f32,
) -> Data {
    let mut rng = Rng(seed);
    let scale = [4.0, 20.0, 100.0][rng.below(3)];
    let pred = datagen::pred(&mut rng, n, logits, scale, sp.0, sp.1);
    let t = Targets::make(&mut rng, n, kind, pos, ignore.map(|v| (v, ignore_frac)));
    Data { pred, t, logits }
}

impl Data {
    fn p64(&self) -> Vec<f64> {
        widen(&self.pred)
    }
    fn y64(&self) -> Vec<f64> {
        widen(&self.t.f)
    }
    /// σ of the prediction (from logits), else the prediction, in f64.
    fn probs64(&self) -> Vec<f64> {
        let p = self.p64();
        if self.logits {
            p.iter().map(|&x| o::sigmoid(x)).collect()
        } else {
            p
        }
    }
}

fn rel_err(got: f64, want: f64) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        0.0
    } else {
        (got - want).abs() / want.abs().max(f64::MIN_POSITIVE)
    }
}

/// Checks a loss result: `Err(Empty)` for empty input, else within `tol`.
fn check(
    tol: &Tol,
    n: usize,
    got: Result<f32, Error>,
    want: impl FnOnce() -> f64,
    what: &str,
) -> Result<(), TestCaseError> {
    if n == 0 {
        prop_assert_eq!(got, Err(Error::Empty), "{}: empty input", what);
        return Ok(());
    }
    let g = match got {
        Ok(g) => f64::from(g),
        Err(e) => return Err(TestCaseError::fail(format!("{what}: error {e:?}"))),
    };
    let mut w = want();
    // A finite f64 value beyond f32's range can only come back as ±∞.
    if w.is_finite() && (w as f32).is_infinite() {
        w = f64::from(w as f32);
    }
    let scaled = if tol.scale == support::tolerance::Scale::WantOrOne {
        if g == w {
            0.0
        } else {
            (g - w).abs() / w.abs().max(1.0)
        }
    } else {
        rel_err(g, w)
    };
    record(what, scaled, w);
    prop_assert!(
        tol.check(g, w, 0.0),
        "{}: got {:e}, oracle {:e}, rel err {:e} > {} ({})",
        what,
        g,
        w,
        rel_err(g, w),
        tol.rel,
        tol.name
    );
    Ok(())
}

/// The worst error seen per loss, relative to the tolerance's scale
/// (`|want|`, or `max(|want|, 1)` for the region and MCC losses) (finite, non-tiny oracle values),
/// printed by `zz_report` (`cargo test --test binary_props -- --nocapture`).
static WORST: Mutex<BTreeMap<&'static str, (f64, u64)>> = Mutex::new(BTreeMap::new());

fn record(what: &str, err: f64, want: f64) {
    if !want.is_finite() || want.abs() < 1e-30 {
        return;
    }
    let key: &'static str = match what {
        "dice" => "dice",
        "jaccard" => "jaccard",
        "tversky" => "tversky",
        "bce" => "bce",
        "bce_with_logits" => "bce_with_logits",
        "soft_bce" => "soft_bce",
        "focal" => "focal",
        "sigmoid_focal" => "sigmoid_focal",
        "sigmoid_focal_elementwise" => "sigmoid_focal_elementwise",
        "mcc" => "mcc",
        "hard_mcc" => "hard_mcc",
        _ => "other",
    };
    if let Ok(mut m) = WORST.lock() {
        let e = m.entry(key).or_insert((0.0, 0));
        e.0 = e.0.max(err);
        e.1 += 1;
    }
}

fn o_red(r: Reduction) -> o::Reduction {
    match r {
        Reduction::Mean => o::Reduction::Mean,
        Reduction::Sum => o::Reduction::Sum,
    }
}

proptest! {
    #![proptest_config(config())]

    /// Dice, Jaccard, Tversky against `oracle::region_loss`.
    #[test]
    fn region_losses(
        n in len(), seed in any::<u64>(), logits in any::<bool>(), kind in kind(), sp in specials(),
        pos in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..1.0],
        smooth in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..3.0],
        eps in prop_oneof![Just(1e-7f32), 1e-9f32..0.5],
        log_loss in any::<bool>(), ig in ignore(),
        alpha in prop_oneof![Just(0.5f32), 0.0f32..2.0], beta in prop_oneof![Just(0.5f32), 0.0f32..2.0],
        tgamma in prop_oneof![Just(1.0f32), Just(0.0f32), Just(4.0 / 3.0f32), 0.0f32..3.0],
    ) {
        let ignore = ig.map(|(w, _)| ignore_value(kind, w));
        let d = data(n, seed, logits, kind, sp, pos, ignore, ig.map_or(0.0, |i| i.1));
        let region = Region::default()
            .with_from_logits(logits).with_smooth(smooth).with_eps(eps)
            .with_log_loss(log_loss).with_ignore_index(ignore);
        let tv = Tversky { region, alpha, beta, gamma: tgamma };
        let oracle = |a: f32, b: f32, g: f32| {
            let mut r = o::Region::with_alpha_beta(f64::from(a), f64::from(b));
            r.gamma = f64::from(g);
            r.smooth = f64::from(smooth);
            r.eps = f64::from(eps);
            r.log_loss = log_loss;
            r.ignore_index = ignore.map(f64::from);
            o::region_loss(o::Mode::Binary, logits, [1, 1, n], &r, &d.p64(), &d.y64()).unwrap()
        };
        check(&REGION, n, call!(d.t, binary::dice, &d.pred, &region), || oracle(0.5, 0.5, 1.0), "dice")?;
        check(&REGION, n, call!(d.t, binary::jaccard, &d.pred, &region), || oracle(1.0, 1.0, 1.0), "jaccard")?;
        check(&REGION, n, call!(d.t, binary::tversky, &d.pred, &tv), || oracle(alpha, beta, tgamma), "tversky")?;
    }

    /// BCE on probabilities, BCE with logits, soft BCE.
    #[test]
    fn bce_family(
        n in len(), seed in any::<u64>(), kind in kind(), sp in specials(),
        pos in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..1.0],
        pos_weight in prop_oneof![Just(1.0f32), Just(0.0f32), 0.0f32..10.0],
        smooth_factor in prop_oneof![Just(None), Just(Some(0.0f32)), (0.0f32..=1.0).prop_map(Some)],
        ig in ignore(), red in reduction(),
    ) {
        // Plain BCE on probabilities.
        let d = data(n, seed, false, kind, sp, pos, None, 0.0);
        let cfg = Bce { reduction: red };
        check(&CROSS_ENTROPY, n, call!(d.t, binary::bce, &d.pred, &cfg),
            || o::bce(&d.p64(), &d.y64(), o_red(red)), "bce")?;
        // Logits.
        let d = data(n, seed, true, kind, sp, pos, None, 0.0);
        let cfg = BceWithLogits { pos_weight, reduction: red };
        check(&CROSS_ENTROPY, n, call!(d.t, binary::bce_with_logits, &d.pred, &cfg),
            || o::bce_logits(&d.p64(), &d.y64(), f64::from(pos_weight), o_red(red)), "bce_with_logits")?;
        // Soft BCE with its ignore rule.
        let ignore = ig.map(|(w, _)| ignore_value(kind, w));
        let d = data(n, seed, true, kind, sp, pos, ignore, ig.map_or(0.0, |i| i.1));
        let cfg = SoftBce { smooth_factor, ignore_index: ignore, pos_weight, reduction: red };
        check(&CROSS_ENTROPY, n, call!(d.t, binary::soft_bce, &d.pred, &cfg), || o::soft_bce(
            &d.p64(), &d.y64(), smooth_factor.map(f64::from), ignore.map(f64::from),
            f64::from(pos_weight), o_red(red)), "soft_bce")?;
    }

    /// smp focal in every option.
    #[test]
    fn focal(
        n in len(), seed in any::<u64>(), logits in any::<bool>(), kind in kind(), sp in specials(),
        pos in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..1.0],
        gamma in gamma(), alpha in prop_oneof![Just(None), (0.0f32..=1.0).prop_map(Some)],
        normalized in any::<bool>(),
        reduced_threshold in prop_oneof![3 => Just(None), 1 => (0.01f32..=1.0).prop_map(Some)],
        eps in prop_oneof![Just(1e-7f32), 1e-6f32..0.1],
        ig in ignore(), red in reduction(),
    ) {
        let ignore = ig.map(|(w, _)| ignore_value(kind, w));
        let d = data(n, seed, logits, kind, sp, pos, ignore, ig.map_or(0.0, |i| i.1));
        let cfg = Focal { from_logits: logits, gamma, alpha, normalized, reduced_threshold, eps,
            ignore_index: ignore, reduction: red };
        let of = o::Focal {
            gamma: f64::from(gamma), alpha: alpha.map(f64::from), eps: f64::from(eps), normalized,
            reduced_threshold: reduced_threshold.map(f64::from), ignore_index: ignore.map(f64::from),
            reduction: o_red(red), class_weights: None,
        };
        check(&tolerance::focal(f64::from(gamma)), n, call!(d.t, binary::focal, &d.pred, &cfg),
            || o::focal_loss(o::Mode::Binary, logits, [1, 1, n], &of, &d.p64(), &d.y64()).unwrap(), "focal")?;
    }

    /// torchvision sigmoid focal, reduced and elementwise.
    #[test]
    fn sigmoid_focal(
        n in len(), seed in any::<u64>(), kind in kind(), sp in specials(),
        pos in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..1.0],
        gamma in gamma(), alpha in prop_oneof![Just(0.25f32), Just(-1.0f32), 0.0f32..=1.0],
        red in reduction(),
    ) {
        let d = data(n, seed, true, kind, sp, pos, None, 0.0);
        let cfg = SigmoidFocal { alpha, gamma, reduction: red };
        let (a, g) = (f64::from(alpha), f64::from(gamma));
        check(&tolerance::focal(g), n, call!(d.t, binary::sigmoid_focal, &d.pred, &cfg),
            || o::sigmoid_focal(&d.p64(), &d.y64(), a, g, o_red(red)), "sigmoid_focal")?;
        let mut out = vec![0.0f32; n];
        let r = call!(d.t, binary::sigmoid_focal_elementwise, &d.pred, &cfg, &mut out);
        if n == 0 {
            prop_assert_eq!(r, Err(Error::Empty));
        } else {
            prop_assert_eq!(r, Ok(()));
            let want = o::sigmoid_focal_none(&d.p64(), &d.y64(), a, g);
            for (i, (&got, &w)) in out.iter().zip(&want).enumerate() {
                record("sigmoid_focal_elementwise", rel_err(f64::from(got), w), w);
                prop_assert!(tolerance::focal(g).check(f64::from(got), w, 0.0),
                    "element {} (x = {:e}, y = {}): got {:e}, oracle {:e}", i, d.pred[i], d.t.f[i], got, w);
            }
        }
    }

    /// Soft MCC and the hard MCC / confusion counts.
    #[test]
    fn mcc(
        n in len(), seed in any::<u64>(), logits in any::<bool>(), kind in kind(), sp in specials(),
        pos in prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..1.0],
        eps in prop_oneof![Just(1e-5f32), 1e-7f32..1.0],
        threshold in prop_oneof![Just(0.5f64), Just(0.0f64), Just(1.0f64), 0.0f64..=1.0],
    ) {
        let d = data(n, seed, logits, kind, sp, pos, None, 0.0);
        let cfg = Mcc { from_logits: logits, eps };
        check(&REGION, n, call!(d.t, binary::mcc, &d.pred, &cfg),
            || o::mcc(&d.probs64(), &d.y64(), f64::from(eps)), "mcc")?;
        let hcfg = HardMcc { from_logits: logits, threshold, eps };
        let probs = d.probs64();
        // From logits, f32 σ and f64 σ may fall on either side of the
        // threshold; only compare when no element is that close.
        let near = logits && probs.iter().any(|&p| (p - threshold).abs() < 1e-6);
        if !near {
            check(&REGION, n, call!(d.t, binary::hard_mcc, &d.pred, &hcfg),
                || o::hard_mcc(&probs, &d.y64(), threshold, f64::from(eps)), "hard_mcc")?;
            if n > 0 {
                let c = call!(d.t, binary::confusion, &d.pred, &hcfg).unwrap();
                let h = o::HardCounts::new(&probs, &d.y64(), threshold);
                prop_assert_eq!((c.tp, c.fp, c.fn_, c.tn), (h.tp, h.fp, h.fn_, h.tn));
            }
        }
    }

    /// A length mismatch is an error for every loss, whatever the lengths.
    #[test]
    fn length_mismatch(a in 0usize..300, b in 0usize..300) {
        prop_assume!(a != b);
        let (p, y) = (vec![0.25f32; a], vec![1u8; b]);
        let e = Err(Error::LengthMismatch { pred: a, target: b });
        prop_assert_eq!(binary::dice(&p, &y, &Region::default()), e);
        prop_assert_eq!(binary::jaccard(&p, &y, &Region::default()), e);
        prop_assert_eq!(binary::tversky(&p, &y, &Tversky::default()), e);
        prop_assert_eq!(binary::bce(&p, &y, &Bce::default()), e);
        prop_assert_eq!(binary::bce_with_logits(&p, &y, &BceWithLogits::default()), e);
        prop_assert_eq!(binary::soft_bce(&p, &y, &SoftBce::default()), e);
        prop_assert_eq!(binary::focal(&p, &y, &Focal::default()), e);
        prop_assert_eq!(binary::sigmoid_focal(&p, &y, &SigmoidFocal::default()), e);
        prop_assert_eq!(binary::mcc(&p, &y, &Mcc::default()), e);
        prop_assert_eq!(binary::hard_mcc(&p, &y, &HardMcc::default()), e);
        prop_assert_eq!(binary::confusion(&p, &y, &HardMcc::default()).err(), e.err());
        let mut out = vec![0.0f32; a];
        prop_assert_eq!(binary::sigmoid_focal_elementwise(&p, &y, &SigmoidFocal::default(), &mut out).err(), e.err());
    }
}

/// Prints the worst relative errors seen (runs last by name when the tests
/// run on one thread; informational, never fails).
#[test]
fn zz_report() {
    if let Ok(m) = WORST.lock() {
        for (k, (e, c)) in m.iter() {
            println!("worst rel err {k:28} {e:.3e} over {c} comparisons");
        }
    }
}
