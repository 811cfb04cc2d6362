//! `BinaryAccumulator` and `RegionAccumulator`: chunked updates and merges
//! equal one pass, and the configuration checks of `merge` and of every
//! finaliser.
//!
//! Chunked and merged accumulation evaluate the same f32 per-element terms as
//! one pass and only group the f64 totals differently, so every loss must
//! agree within the accuracy bound (`REGION` / `CROSS_ENTROPY`), and the hard
//! confusion counts exactly. Each pass is also compared with the one-shot
//! `binary::*` function of the same loss.

use crate::support;
use crate::{call, datagen};

use datagen::{Rng, Specials, TargetKind, Targets};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Reduction, Region,
    RegionAccumulator, SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};
use support::tolerance::{CROSS_ENTROPY, REGION, Tol};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every loss the accumulator can finalise for its configuration, with
/// matching loss configurations: `(name, tolerance, accumulator result,
/// one-shot result)`.
type Row = (&'static str, Tol, Result<f32, Error>);

fn losses(acc: &BinaryAccumulator, cfg: &StatsConfig, red: Reduction) -> Vec<Row> {
    let region = Region::default()
        .with_from_logits(cfg.from_logits)
        .with_ignore_index(cfg.ignore_index)
        .with_smooth(0.5);
    let tv = Tversky {
        region,
        alpha: 0.3,
        beta: 0.7,
        gamma: 4.0 / 3.0,
    };
    let focal = Focal::default()
        .with_from_logits(cfg.from_logits)
        .with_gamma(cfg.gamma)
        .with_reduced_threshold(cfg.reduced_threshold)
        .with_eps(cfg.eps)
        .with_ignore_index(cfg.ignore_index)
        .with_alpha(Some(0.25))
        .with_reduction(red);
    let mut v: Vec<Row> = vec![
        ("dice", REGION, acc.dice(&region)),
        ("jaccard", REGION, acc.jaccard(&region.with_log_loss(true))),
        ("tversky", REGION, acc.tversky(&tv)),
        ("focal", CROSS_ENTROPY, acc.focal(&focal)),
        (
            "focal normalized",
            CROSS_ENTROPY,
            acc.focal(&focal.with_normalized(true).with_alpha(None)),
        ),
        (
            "mcc",
            REGION,
            acc.mcc(&Mcc::default().with_from_logits(cfg.from_logits)),
        ),
        (
            "hard_mcc",
            REGION,
            acc.hard_mcc(&HardMcc {
                from_logits: cfg.from_logits,
                threshold: cfg.threshold,
                eps: 1e-7,
            }),
        ),
    ];
    if cfg.from_logits {
        v.push((
            "bce_with_logits",
            CROSS_ENTROPY,
            acc.bce_with_logits(
                &BceWithLogits::default()
                    .with_pos_weight(2.5)
                    .with_reduction(red),
            ),
        ));
        v.push((
            "soft_bce",
            CROSS_ENTROPY,
            acc.soft_bce(&SoftBce {
                smooth_factor: Some(0.1),
                ignore_index: cfg.ignore_index,
                pos_weight: 0.5,
                reduction: red,
            }),
        ));
        v.push((
            "sigmoid_focal",
            CROSS_ENTROPY,
            acc.sigmoid_focal(&SigmoidFocal {
                alpha: 0.25,
                gamma: cfg.gamma,
                reduction: red,
            }),
        ));
    } else {
        v.push(("bce", CROSS_ENTROPY, acc.bce(&Bce { reduction: red })));
    }
    v
}

fn close(
    tol: &Tol,
    a: Result<f32, Error>,
    b: Result<f32, Error>,
    what: &str,
) -> Result<(), TestCaseError> {
    match (a, b) {
        (Ok(a), Ok(b)) => prop_assert!(
            tol.check(f64::from(a), f64::from(b), 0.0),
            "{}: {:e} vs {:e}",
            what,
            a,
            b
        ),
        (a, b) => prop_assert_eq!(a, b, "{}", what),
    }
    Ok(())
}

fn stats_config() -> impl Strategy<Value = StatsConfig> {
    (
        any::<bool>(),
        prop_oneof![(0u8..=4).prop_map(f32::from), 0.0f32..5.0],
        prop_oneof![Just(None), (0.05f32..=1.0).prop_map(Some)],
        prop_oneof![Just(0.5f64), 0.0f64..=1.0],
        prop_oneof![Just(1e-7f32), 1e-6f32..0.1],
    )
        .prop_map(
            |(from_logits, gamma, reduced_threshold, threshold, eps)| StatsConfig {
                from_logits,
                ignore_index: None,
                threshold,
                gamma,
                reduced_threshold,
                eps,
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    cfg: StatsConfig,
    pred: Vec<f32>,
    t: Targets,
    cuts: Vec<usize>,
    red: Reduction,
}

fn case() -> impl Strategy<Value = Case> {
    (
        stats_config(),
        0usize..3000,
        any::<u64>(),
        prop_oneof![
            Just(TargetKind::Hard),
            Just(TargetKind::Soft),
            Just(TargetKind::Mask)
        ],
        prop_oneof![Just(None), (0.0f32..0.6).prop_map(Some)],
        prop::collection::vec(0.0f64..1.0, 0..12),
        any::<bool>(),
        prop_oneof![
            Just(Specials::None),
            Just(Specials::Finite),
            Just(Specials::WithNan)
        ],
    )
        .prop_map(|(mut cfg, n, seed, kind, ignore, cuts, sum, sp)| {
            let mut rng = Rng(seed);
            let ignore = ignore.map(|f| {
                let v = if kind == TargetKind::Mask {
                    255.0
                } else {
                    -100.0
                };
                (v, f)
            });
            cfg.ignore_index = ignore.map(|i| i.0);
            let pred = datagen::pred(&mut rng, n, cfg.from_logits, 12.0, sp, 0.02);
            let t = Targets::make(&mut rng, n, kind, 0.3, ignore);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| (c * n as f64) as usize).collect();
            cuts.push(0);
            cuts.push(n);
            cuts.sort_unstable();
            let red = if sum { Reduction::Sum } else { Reduction::Mean };
            Case {
                cfg,
                pred,
                t,
                cuts,
                red,
            }
        })
}

fn acc_of(c: &Case, lo: usize, hi: usize) -> BinaryAccumulator {
    let mut acc = BinaryAccumulator::new(c.cfg).unwrap();
    let r = call!(c.t, part, &c.pred, lo, hi, &mut acc);
    assert_eq!(r, Ok(()));
    acc
}

fn part<T: segloss::Target>(
    pred: &[f32],
    t: &[T],
    lo: usize,
    hi: usize,
    acc: &mut BinaryAccumulator,
) -> Result<(), Error> {
    acc.update(&pred[lo..hi], &t[lo..hi])
}

proptest! {
    #![proptest_config(config())]

    /// Updates in chunks split at random points equal one update.
    #[test]
    fn chunked_equals_one_pass(c in case()) {
        let n = c.pred.len();
        let whole = acc_of(&c, 0, n);
        let mut chunked = BinaryAccumulator::new(c.cfg).unwrap();
        for w in c.cuts.windows(2) {
            prop_assert_eq!(call!(c.t, part, &c.pred, w[0], w[1], &mut chunked), Ok(()));
        }
        prop_assert_eq!(chunked.confusion(), whole.confusion());
        prop_assert_eq!(chunked.stats().count, n as u64);
        prop_assert_eq!(chunked.stats().kept, whole.stats().kept);
        let a = losses(&chunked, &c.cfg, c.red);
        let b = losses(&whole, &c.cfg, c.red);
        for ((name, tol, x), (_, _, y)) in a.into_iter().zip(b) {
            if n == 0 {
                prop_assert_eq!(x, Err(Error::Empty), "{} of an empty accumulator", name);
            }
            close(&tol, x, y, name)?;
        }
    }

    /// Accumulators over random parts, merged, equal one pass.
    #[test]
    fn merged_equals_one_pass(c in case()) {
        let n = c.pred.len();
        let whole = acc_of(&c, 0, n);
        let mut parts: Vec<BinaryAccumulator> = c.cuts.windows(2).map(|w| acc_of(&c, w[0], w[1])).collect();
        // Merge in a shuffled-ish order: last into first, then the rest.
        let mut merged = parts.pop().unwrap();
        for p in parts.iter().rev() {
            prop_assert_eq!(merged.merge(p), Ok(()));
        }
        prop_assert_eq!(merged.confusion(), whole.confusion());
        let a = losses(&merged, &c.cfg, c.red);
        let b = losses(&whole, &c.cfg, c.red);
        for ((name, tol, x), (_, _, y)) in a.into_iter().zip(b) {
            close(&tol, x, y, name)?;
        }
    }

    /// One accumulator pass equals the one-shot `binary::*` functions.
    #[test]
    fn accumulator_equals_one_shot(c in case()) {
        let n = c.pred.len();
        prop_assume!(n > 0);
        let acc = acc_of(&c, 0, n);
        let cfg = &c.cfg;
        let region = Region::default().with_from_logits(cfg.from_logits).with_ignore_index(cfg.ignore_index);
        close(&REGION, acc.dice(&region), call!(c.t, binary::dice, &c.pred, &region), "dice")?;
        let focal = Focal::default().with_from_logits(cfg.from_logits).with_gamma(cfg.gamma)
            .with_reduced_threshold(cfg.reduced_threshold).with_eps(cfg.eps)
            .with_ignore_index(cfg.ignore_index).with_reduction(c.red);
        close(&CROSS_ENTROPY, acc.focal(&focal), call!(c.t, binary::focal, &c.pred, &focal), "focal")?;
        let mcc = Mcc::default().with_from_logits(cfg.from_logits);
        if cfg.ignore_index.is_none() {
            close(&REGION, acc.mcc(&mcc), call!(c.t, binary::mcc, &c.pred, &mcc), "mcc")?;
            let h = HardMcc { from_logits: cfg.from_logits, threshold: cfg.threshold, eps: 1e-7 };
            prop_assert_eq!(Ok(acc.confusion()), call!(c.t, binary::confusion, &c.pred, &h));
        }
        if cfg.from_logits {
            let sb = SoftBce { ignore_index: cfg.ignore_index, reduction: c.red, ..SoftBce::default() };
            close(&CROSS_ENTROPY, acc.soft_bce(&sb), call!(c.t, binary::soft_bce, &c.pred, &sb), "soft_bce")?;
        }
    }
}

/// The region losses a `RegionAccumulator` (or the one-shot functions, via
/// `f`) gives for the accumulator's `region`: Dice, Jaccard with `log_loss`,
/// and focal Tversky.
fn region_losses(
    region: Region,
    mut f: impl FnMut(Tversky) -> Result<f32, Error>,
) -> [(&'static str, Result<f32, Error>); 3] {
    let tv = Tversky {
        region,
        alpha: 0.3,
        beta: 0.7,
        gamma: 4.0 / 3.0,
    };
    [
        ("dice", f(Tversky::dice(region))),
        ("jaccard", f(Tversky::jaccard(region.with_log_loss(true)))),
        ("tversky", f(tv)),
    ]
}

fn region_part<T: segloss::Target>(
    pred: &[f32],
    t: &[T],
    lo: usize,
    hi: usize,
    acc: &mut RegionAccumulator,
) -> Result<(), Error> {
    acc.update(&pred[lo..hi], &t[lo..hi])
}

fn one_shot<T: segloss::Target>(pred: &[f32], t: &[T], cfg: &Tversky) -> Result<f32, Error> {
    binary::tversky(pred, t, cfg)
}

fn bits(r: Result<f32, Error>) -> Result<u32, Error> {
    r.map(f32::to_bits)
}

proptest! {
    #![proptest_config(config())]

    /// `RegionAccumulator`: one update over the whole input is the one-shot
    /// call bit for bit; chunked updates, merged parts and the full
    /// `BinaryAccumulator` agree with it within the region bound.
    #[test]
    fn region_accumulator_equals_one_shot(c in case()) {
        let n = c.pred.len();
        let region = Region::default()
            .with_from_logits(c.cfg.from_logits)
            .with_ignore_index(c.cfg.ignore_index)
            .with_smooth(0.5);
        let fresh = || RegionAccumulator::new(region).unwrap();
        let mut whole = fresh();
        prop_assert_eq!(call!(c.t, region_part, &c.pred, 0, n, &mut whole), Ok(()));
        prop_assert_eq!(whole.count(), n as u64);
        let want = region_losses(region, |tv| call!(c.t, one_shot, &c.pred, &tv));
        let got = region_losses(region, |tv| whole.tversky(&tv));
        for ((name, a), (_, b)) in got.into_iter().zip(want) {
            prop_assert_eq!(bits(a), bits(b), "{} of one update", name);
        }

        let mut chunked = fresh();
        let mut parts = Vec::new();
        for w in c.cuts.windows(2) {
            prop_assert_eq!(call!(c.t, region_part, &c.pred, w[0], w[1], &mut chunked), Ok(()));
            let mut p = fresh();
            prop_assert_eq!(call!(c.t, region_part, &c.pred, w[0], w[1], &mut p), Ok(()));
            parts.push(p);
        }
        let mut merged = parts.pop().unwrap();
        for p in parts.iter().rev() {
            prop_assert_eq!(merged.merge(p), Ok(()));
        }
        prop_assert_eq!(chunked.count(), n as u64);
        prop_assert_eq!(merged.count(), n as u64);
        let full = acc_of(&c, 0, n);
        let rows = [
            ("chunked", region_losses(region, |tv| chunked.tversky(&tv))),
            ("merged", region_losses(region, |tv| merged.tversky(&tv))),
            ("BinaryAccumulator", region_losses(region, |tv| full.tversky(&tv))),
        ];
        for (how, losses) in rows {
            for ((name, a), (_, b)) in losses.into_iter().zip(want) {
                close(&REGION, a, b, &format!("{name}, {how}"))?;
            }
        }
    }
}

#[test]
fn region_accumulator_checks_its_configuration() {
    let region = Region::default().with_ignore_index(Some(255.0));
    let p = [2.0f32, -1.0, 0.5, 7.0, -3.0];
    let mut acc = RegionAccumulator::new(region).unwrap();
    // Nothing read yet.
    assert_eq!(acc.dice(&region), Err(Error::Empty));
    acc.update(&[], &[0u8; 0]).unwrap();
    assert_eq!(acc.jaccard(&region), Err(Error::Empty));
    acc.update(&p, &[1u8, 0, 255, 255, 1]).unwrap();
    assert_eq!(acc.count(), 5);
    // The ignored elements are skipped: the same sums as the kept ones alone.
    let mut kept = RegionAccumulator::new(Region::default()).unwrap();
    kept.update(&[2.0f32, -1.0, -3.0], &[1u8, 0, 1]).unwrap();
    assert_eq!(acc.sums(), kept.sums());
    assert_eq!(
        acc.dice(&region),
        kept.dice(&region.with_ignore_index(None))
    );

    // Finalisers and merges with another pass configuration.
    mismatch(acc.dice(&region.with_from_logits(false)), "from_logits");
    mismatch(acc.jaccard(&region.with_ignore_index(None)), "ignore_index");
    mismatch(acc.tversky(&Tversky::default()), "ignore_index");
    assert_eq!(
        acc.merge(&kept),
        Err(Error::ConfigMismatch {
            field: "ignore_index"
        })
    );
    let probs = RegionAccumulator::new(region.with_from_logits(false)).unwrap();
    assert_eq!(
        acc.merge(&probs),
        Err(Error::ConfigMismatch {
            field: "from_logits"
        })
    );
    // smooth, eps and log_loss are the finaliser's to choose.
    assert!(
        acc.dice(&region.with_smooth(1.0).with_log_loss(true))
            .is_ok()
    );

    // Bad input leaves the sums unchanged.
    let before = acc;
    assert_eq!(
        acc.update(&[0.0f32], &[2u8]),
        Err(Error::InvalidMask { value: 2 })
    );
    assert_eq!(
        acc.update(&[0.0f32, 1.0], &[1.0f32]),
        Err(Error::LengthMismatch { pred: 2, target: 1 })
    );
    assert_eq!(acc, before);

    // Invalid parameters.
    assert!(matches!(
        RegionAccumulator::new(region.with_eps(0.0)),
        Err(Error::InvalidParameter { name: "eps", .. })
    ));
    assert!(matches!(
        acc.tversky(&Tversky {
            gamma: -1.0,
            ..Tversky::default().with_region(region)
        }),
        Err(Error::InvalidParameter { name: "gamma", .. })
    ));
}

#[test]
fn merge_with_another_config_is_an_error() {
    let base = StatsConfig::default();
    let others = [
        base.with_from_logits(false),
        base.with_ignore_index(Some(255.0)),
        base.with_threshold(0.25),
        StatsConfig { gamma: 3.0, ..base },
        StatsConfig {
            reduced_threshold: Some(0.5),
            ..base
        },
        StatsConfig { eps: 1e-3, ..base },
    ];
    let mut a = BinaryAccumulator::new(base).unwrap();
    a.update(&[0.5f32, -1.0], &[1u8, 0]).unwrap();
    for o in others {
        let mut b = BinaryAccumulator::new(o).unwrap();
        b.update(&[0.5f32, 0.25], &[1u8, 0]).unwrap();
        assert!(
            matches!(a.merge(&b), Err(Error::ConfigMismatch { .. })),
            "{o:?}"
        );
        assert!(
            matches!(b.merge(&a), Err(Error::ConfigMismatch { .. })),
            "{o:?}"
        );
    }
    // The failed merges left `a` unchanged.
    assert_eq!(a.stats().count, 2);
}

fn mismatch(r: Result<f32, Error>, field: &str) {
    match r {
        Err(Error::ConfigMismatch { field: f }) => assert_eq!(f, field),
        other => panic!("expected ConfigMismatch {{ {field} }}, got {other:?}"),
    }
}

#[test]
fn finalising_with_a_mismatching_config_is_an_error() {
    let p = [0.25f32, 0.75, 0.5, 0.125];
    let y = [0u8, 1, 255, 1];
    let cfg = StatsConfig::default()
        .with_ignore_index(Some(255.0))
        .with_threshold(0.3);
    let mut logits = BinaryAccumulator::new(cfg).unwrap();
    logits.update(&p, &y).unwrap();
    let mut probs = BinaryAccumulator::new(cfg.with_from_logits(false)).unwrap();
    probs.update(&p, &y).unwrap();

    let region = Region::default().with_ignore_index(Some(255.0));
    assert!(logits.dice(&region).is_ok());
    mismatch(logits.dice(&region.with_from_logits(false)), "from_logits");
    mismatch(logits.dice(&region.with_ignore_index(None)), "ignore_index");
    mismatch(
        logits.jaccard(&region.with_ignore_index(Some(-100.0))),
        "ignore_index",
    );
    mismatch(logits.tversky(&Tversky::default()), "ignore_index");
    mismatch(logits.bce(&Bce::default()), "from_logits");
    mismatch(
        probs.bce_with_logits(&BceWithLogits::default()),
        "from_logits",
    );
    mismatch(
        probs.soft_bce(&SoftBce::default().with_ignore_index(Some(255.0))),
        "from_logits",
    );
    mismatch(logits.soft_bce(&SoftBce::default()), "ignore_index");
    let focal = Focal::default().with_ignore_index(Some(255.0));
    assert!(logits.focal(&focal).is_ok());
    mismatch(logits.focal(&focal.with_gamma(3.0)), "gamma");
    mismatch(logits.focal(&focal.with_from_logits(false)), "from_logits");
    mismatch(
        logits.focal(&focal.with_reduced_threshold(Some(0.5))),
        "reduced_threshold",
    );
    mismatch(logits.focal(&focal.with_ignore_index(None)), "ignore_index");
    let pfocal = focal.with_from_logits(false);
    assert!(probs.focal(&pfocal).is_ok());
    mismatch(probs.focal(&pfocal.with_eps(1e-3)), "eps");
    // From logits, eps plays no role, so a different eps is fine.
    assert!(logits.focal(&focal.with_eps(1e-3)).is_ok());
    mismatch(
        logits.sigmoid_focal(&SigmoidFocal::default().with_gamma(1.0)),
        "gamma",
    );
    mismatch(probs.sigmoid_focal(&SigmoidFocal::default()), "from_logits");
    mismatch(logits.mcc(&Mcc::default()), "from_logits");
    let hard = HardMcc::default()
        .with_from_logits(true)
        .with_threshold(0.3);
    assert!(logits.hard_mcc(&hard).is_ok());
    mismatch(logits.hard_mcc(&hard.with_threshold(0.5)), "threshold");
    mismatch(
        logits.hard_mcc(&hard.with_from_logits(false)),
        "from_logits",
    );
}

#[test]
fn finalising_an_empty_accumulator_is_an_error() {
    for from_logits in [true, false] {
        let cfg = StatsConfig::default().with_from_logits(from_logits);
        let mut acc = BinaryAccumulator::new(cfg).unwrap();
        // Empty updates keep it empty.
        acc.update(&[], &[0u8; 0]).unwrap();
        acc.update(&[], &[0.0f32; 0]).unwrap();
        let region = Region::default().with_from_logits(from_logits);
        let focal = Focal::default().with_from_logits(from_logits);
        assert_eq!(acc.dice(&region), Err(Error::Empty));
        assert_eq!(acc.jaccard(&region), Err(Error::Empty));
        assert_eq!(
            acc.tversky(&Tversky::default().with_region(region)),
            Err(Error::Empty)
        );
        assert_eq!(acc.focal(&focal), Err(Error::Empty));
        assert_eq!(
            acc.mcc(&Mcc::default().with_from_logits(from_logits)),
            Err(Error::Empty)
        );
        assert_eq!(
            acc.hard_mcc(&HardMcc::default().with_from_logits(from_logits)),
            Err(Error::Empty)
        );
        if from_logits {
            assert_eq!(
                acc.bce_with_logits(&BceWithLogits::default()),
                Err(Error::Empty)
            );
            assert_eq!(
                acc.soft_bce(&SoftBce::default().with_ignore_index(None)),
                Err(Error::Empty)
            );
            assert_eq!(
                acc.sigmoid_focal(&SigmoidFocal::default()),
                Err(Error::Empty)
            );
        } else {
            assert_eq!(acc.bce(&Bce::default()), Err(Error::Empty));
        }
        assert_eq!(acc.confusion(), segloss::Confusion::default());
    }
}

#[test]
fn u8_masks_with_an_ignore_value() {
    let cfg = StatsConfig::default().with_ignore_index(Some(255.0));
    let mut acc = BinaryAccumulator::new(cfg).unwrap();
    let p = [2.0f32, -1.0, 0.5, 7.0, -3.0];
    acc.update(&p, &[1u8, 0, 255, 255, 1]).unwrap();
    assert_eq!(acc.stats().count, 5);
    assert_eq!(acc.stats().kept, 3);
    // Same as the kept elements alone.
    let mut kept = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    kept.update(&[2.0f32, -1.0, -3.0], &[1u8, 0, 1]).unwrap();
    let r = Region::default();
    let a = acc.dice(&r.with_ignore_index(Some(255.0))).unwrap();
    let b = kept.dice(&r).unwrap();
    assert!((a - b).abs() <= 1e-7, "{a} vs {b}");
    // A mask value that is neither 0, 1 nor the ignore value.
    assert_eq!(
        acc.update(&[0.0f32], &[2u8]),
        Err(Error::InvalidMask { value: 2 })
    );
    // A failed update leaves the sums unchanged.
    assert_eq!(acc.stats().count, 5);
}
