//! Every `Error` variant is reached through the public API, every validated
//! parameter of every configuration rejects NaN and out-of-range values
//! (both from `validate()` and from the loss entry points), and every
//! variant displays a non-empty message.

use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Region, RegionAccumulator,
    SigmoidFocal, SoftBce, StatsConfig, Tversky, binary,
};

const P: [f32; 4] = [0.25, 0.75, 0.5, 0.125];
const Y: [u8; 4] = [0, 1, 1, 0];

/// `r` is `InvalidParameter { name, value }` (NaN matches NaN).
#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, Error>, name: &str, value: f32) {
    match r {
        Err(Error::InvalidParameter { name: n, value: v }) => {
            assert_eq!(n, name);
            assert!(
                v == value || (v.is_nan() && value.is_nan()),
                "{v} vs {value}"
            );
        }
        other => panic!("expected InvalidParameter {{ {name}, {value} }}, got {other:?}"),
    }
}

#[test]
fn length_mismatch() {
    let e = Err(Error::LengthMismatch { pred: 4, target: 3 });
    assert_eq!(binary::dice(&P, &Y[..3], &Region::default()), e);
    assert_eq!(binary::focal(&P, &[0.0f32; 3], &Focal::default()), e);
    // The elementwise output must have the prediction's length too.
    let mut out = [0.0f32; 3];
    assert_eq!(
        binary::sigmoid_focal_elementwise(&P, &Y, &SigmoidFocal::default(), &mut out),
        Err(Error::LengthMismatch { pred: 4, target: 3 })
    );
    let mut acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    assert_eq!(
        acc.update(&P, &Y[..2]),
        Err(Error::LengthMismatch { pred: 4, target: 2 })
    );
    let mut region = RegionAccumulator::new(Region::default()).unwrap();
    assert_eq!(
        region.update(&P, &Y[..2]),
        Err(Error::LengthMismatch { pred: 4, target: 2 })
    );
}

#[test]
fn empty() {
    let (p, y): (&[f32], &[u8]) = (&[], &[]);
    assert_eq!(binary::dice(p, y, &Region::default()), Err(Error::Empty));
    assert_eq!(binary::jaccard(p, y, &Region::default()), Err(Error::Empty));
    assert_eq!(
        binary::tversky(p, y, &Tversky::default()),
        Err(Error::Empty)
    );
    assert_eq!(binary::bce(p, y, &Bce::default()), Err(Error::Empty));
    assert_eq!(
        binary::bce_with_logits(p, y, &BceWithLogits::default()),
        Err(Error::Empty)
    );
    assert_eq!(
        binary::soft_bce(p, y, &SoftBce::default()),
        Err(Error::Empty)
    );
    assert_eq!(binary::focal(p, y, &Focal::default()), Err(Error::Empty));
    assert_eq!(
        binary::sigmoid_focal(p, y, &SigmoidFocal::default()),
        Err(Error::Empty)
    );
    assert_eq!(
        binary::sigmoid_focal_elementwise(p, y, &SigmoidFocal::default(), &mut []),
        Err(Error::Empty)
    );
    assert_eq!(binary::mcc(p, y, &Mcc::default()), Err(Error::Empty));
    assert_eq!(
        binary::hard_mcc(p, y, &HardMcc::default()),
        Err(Error::Empty)
    );
    assert_eq!(
        binary::confusion(p, y, &HardMcc::default()),
        Err(Error::Empty)
    );
    let acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    assert_eq!(acc.dice(&Region::default()), Err(Error::Empty));
    let region = RegionAccumulator::new(Region::default()).unwrap();
    assert_eq!(region.dice(&Region::default()), Err(Error::Empty));
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

#[test]
fn region_parameters() {
    let d = Region::default();
    for (cfg, name, v) in [
        (d.with_smooth(NAN), "smooth", NAN),
        (d.with_smooth(-1.0), "smooth", -1.0),
        (d.with_smooth(INF), "smooth", INF),
        (d.with_eps(NAN), "eps", NAN),
        (d.with_eps(0.0), "eps", 0.0),
        (d.with_eps(-1e-7), "eps", -1e-7),
        (d.with_ignore_index(Some(NAN)), "ignore_index", NAN),
    ] {
        invalid(cfg.validate(), name, v);
        invalid(binary::dice(&P, &Y, &cfg), name, v);
        invalid(binary::jaccard(&P, &Y, &cfg), name, v);
        invalid(
            binary::tversky(&P, &Y, &Tversky::default().with_region(cfg)),
            name,
            v,
        );
        invalid(RegionAccumulator::new(cfg), name, v);
        // The finalisers validate theirs (the pass fields must match first).
        let pass = d.with_ignore_index(cfg.ignore_index.filter(|i| !i.is_nan()));
        let mut acc = RegionAccumulator::new(pass).unwrap();
        acc.update(&P, &Y).unwrap();
        invalid(acc.dice(&cfg), name, v);
    }
}

#[test]
fn tversky_parameters() {
    let d = Tversky::default();
    for (name, v) in [
        ("alpha", NAN),
        ("alpha", -0.5),
        ("alpha", INF),
        ("beta", NAN),
        ("beta", -0.5),
        ("beta", INF),
        ("gamma", NAN),
        ("gamma", -1.0),
        ("gamma", INF),
    ] {
        let mut cfg = d;
        match name {
            "alpha" => cfg.alpha = v,
            "beta" => cfg.beta = v,
            _ => cfg.gamma = v,
        }
        invalid(cfg.validate(), name, v);
        invalid(binary::tversky(&P, &Y, &cfg), name, v);
        invalid(Tversky::new(cfg.alpha, cfg.beta, cfg.gamma), name, v);
    }
}

#[test]
fn focal_parameters() {
    let d = Focal::default();
    for (cfg, name, v) in [
        (d.with_gamma(NAN), "gamma", NAN),
        (d.with_gamma(-1.0), "gamma", -1.0),
        (d.with_gamma(INF), "gamma", INF),
        (d.with_alpha(Some(NAN)), "alpha", NAN),
        (d.with_alpha(Some(-0.1)), "alpha", -0.1),
        (d.with_alpha(Some(1.1)), "alpha", 1.1),
        (
            d.with_reduced_threshold(Some(NAN)),
            "reduced_threshold",
            NAN,
        ),
        (
            d.with_reduced_threshold(Some(0.0)),
            "reduced_threshold",
            0.0,
        ),
        (
            d.with_reduced_threshold(Some(1.5)),
            "reduced_threshold",
            1.5,
        ),
        (d.with_eps(NAN), "eps", NAN),
        (d.with_eps(0.0), "eps", 0.0),
        (d.with_eps(0.5), "eps", 0.5),
        (d.with_ignore_index(Some(NAN)), "ignore_index", NAN),
    ] {
        invalid(cfg.validate(), name, v);
        invalid(binary::focal(&P, &Y, &cfg), name, v);
        invalid(binary::focal(&P, &Y, &cfg.with_from_logits(false)), name, v);
    }
}

#[test]
fn sigmoid_focal_parameters() {
    let d = SigmoidFocal::default();
    for (cfg, name, v) in [
        (d.with_alpha(NAN), "alpha", NAN),
        (d.with_alpha(1.5), "alpha", 1.5),
        (d.with_gamma(NAN), "gamma", NAN),
        (d.with_gamma(-1.0), "gamma", -1.0),
        (d.with_gamma(INF), "gamma", INF),
    ] {
        invalid(cfg.validate(), name, v);
        invalid(binary::sigmoid_focal(&P, &Y, &cfg), name, v);
        let mut out = [0.0f32; 4];
        invalid(
            binary::sigmoid_focal_elementwise(&P, &Y, &cfg, &mut out),
            name,
            v,
        );
    }
    // A negative α turns the weighting off: valid.
    assert!(d.with_alpha(-1.0).validate().is_ok());
}

#[test]
fn bce_parameters() {
    assert!(Bce::default().validate().is_ok());
    let d = BceWithLogits::default();
    for v in [NAN, -1.0, INF] {
        let cfg = d.with_pos_weight(v);
        invalid(cfg.validate(), "pos_weight", v);
        invalid(binary::bce_with_logits(&P, &Y, &cfg), "pos_weight", v);
    }
    let d = SoftBce::default();
    for (cfg, name, v) in [
        (d.with_smooth_factor(Some(NAN)), "smooth_factor", NAN),
        (d.with_smooth_factor(Some(-0.1)), "smooth_factor", -0.1),
        (d.with_smooth_factor(Some(1.1)), "smooth_factor", 1.1),
        (d.with_pos_weight(NAN), "pos_weight", NAN),
        (d.with_pos_weight(-1.0), "pos_weight", -1.0),
        (d.with_pos_weight(INF), "pos_weight", INF),
        (d.with_ignore_index(Some(NAN)), "ignore_index", NAN),
    ] {
        invalid(cfg.validate(), name, v);
        invalid(binary::soft_bce(&P, &Y, &cfg), name, v);
    }
}

#[test]
fn mcc_parameters() {
    for v in [NAN, 0.0, -1.0] {
        let cfg = Mcc {
            eps: v,
            ..Mcc::default()
        };
        invalid(cfg.validate(), "eps", v);
        invalid(binary::mcc(&P, &Y, &cfg), "eps", v);
        let cfg = HardMcc {
            eps: v,
            ..HardMcc::default()
        };
        invalid(cfg.validate(), "eps", v);
        invalid(binary::hard_mcc(&P, &Y, &cfg), "eps", v);
        invalid(binary::confusion(&P, &Y, &cfg), "eps", v);
    }
    for t in [f64::NAN, -0.1, 1.1, f64::INFINITY] {
        let cfg = HardMcc::default().with_threshold(t);
        invalid(cfg.validate(), "threshold", t as f32);
        invalid(binary::hard_mcc(&P, &Y, &cfg), "threshold", t as f32);
        invalid(binary::confusion(&P, &Y, &cfg), "threshold", t as f32);
    }
}

#[test]
fn stats_config_parameters() {
    let d = StatsConfig::default();
    for (cfg, name, v) in [
        (d.with_threshold(f64::NAN), "threshold", NAN),
        (d.with_threshold(2.0), "threshold", 2.0),
        (StatsConfig { gamma: NAN, ..d }, "gamma", NAN),
        (StatsConfig { gamma: -2.0, ..d }, "gamma", -2.0),
        (
            StatsConfig {
                reduced_threshold: Some(0.0),
                ..d
            },
            "reduced_threshold",
            0.0,
        ),
        (StatsConfig { eps: 0.0, ..d }, "eps", 0.0),
        (StatsConfig { eps: NAN, ..d }, "eps", NAN),
        (d.with_ignore_index(Some(NAN)), "ignore_index", NAN),
    ] {
        invalid(cfg.validate(), name, v);
        invalid(BinaryAccumulator::new(cfg), name, v);
    }
    // The finalisers validate the loss configuration too.
    let mut acc = BinaryAccumulator::new(d).unwrap();
    acc.update(&P, &Y).unwrap();
    invalid(acc.dice(&Region::default().with_eps(0.0)), "eps", 0.0);
    invalid(
        acc.tversky(&Tversky {
            gamma: -1.0,
            ..Tversky::default()
        }),
        "gamma",
        -1.0,
    );
    invalid(
        acc.focal(&Focal::default().with_alpha(Some(2.0))),
        "alpha",
        2.0,
    );
    invalid(
        acc.sigmoid_focal(&SigmoidFocal::default().with_alpha(NAN)),
        "alpha",
        NAN,
    );
    invalid(
        acc.bce_with_logits(&BceWithLogits::default().with_pos_weight(-1.0)),
        "pos_weight",
        -1.0,
    );
    invalid(
        acc.soft_bce(&SoftBce::default().with_smooth_factor(Some(2.0))),
        "smooth_factor",
        2.0,
    );
    invalid(
        acc.mcc(&Mcc {
            eps: 0.0,
            from_logits: true,
        }),
        "eps",
        0.0,
    );
    invalid(
        acc.hard_mcc(
            &HardMcc::default()
                .with_from_logits(true)
                .with_threshold(-1.0),
        ),
        "threshold",
        -1.0,
    );
}

#[test]
fn invalid_mask() {
    let bad = [0u8, 1, 2, 1];
    let e = Err(Error::InvalidMask { value: 2 });
    assert_eq!(binary::dice(&P, &bad, &Region::default()), e);
    assert_eq!(binary::bce(&P, &bad, &Bce::default()), e);
    assert_eq!(
        binary::bce_with_logits(&P, &bad, &BceWithLogits::default()),
        e
    );
    assert_eq!(binary::soft_bce(&P, &bad, &SoftBce::default()), e);
    assert_eq!(binary::focal(&P, &bad, &Focal::default()), e);
    assert_eq!(binary::sigmoid_focal(&P, &bad, &SigmoidFocal::default()), e);
    assert_eq!(binary::mcc(&P, &bad, &Mcc::default()), e);
    assert_eq!(binary::hard_mcc(&P, &bad, &HardMcc::default()), e);
    // The largest offending byte is reported, also in the last partial vector.
    let mut long = vec![1u8; 37];
    long[3] = 7;
    long[36] = 200;
    assert_eq!(
        binary::dice(&[0.5f32; 37], &long, &Region::default()),
        Err(Error::InvalidMask { value: 200 })
    );
    // 255 is fine when it is the ignore value, an error otherwise.
    let ign = [0u8, 1, 255, 1];
    let r = Region::default().with_ignore_index(Some(255.0));
    assert!(binary::dice(&P, &ign, &r).is_ok());
    assert!(binary::focal(&P, &ign, &Focal::default().with_ignore_index(Some(255.0))).is_ok());
    assert!(binary::soft_bce(&P, &ign, &SoftBce::default().with_ignore_index(Some(255.0))).is_ok());
    assert_eq!(
        binary::dice(&P, &ign, &Region::default()),
        Err(Error::InvalidMask { value: 255 })
    );
    // With an ignore value, other bytes are still rejected.
    assert_eq!(binary::dice(&P, &bad, &r), e);
    let mut acc = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    assert_eq!(acc.update(&P, &bad), Err(Error::InvalidMask { value: 2 }));
    let mut region = RegionAccumulator::new(r).unwrap();
    assert_eq!(
        region.update(&P, &bad),
        Err(Error::InvalidMask { value: 2 })
    );
}

#[test]
fn config_mismatch() {
    let mut a = BinaryAccumulator::new(StatsConfig::default()).unwrap();
    let b = BinaryAccumulator::new(StatsConfig::default().with_from_logits(false)).unwrap();
    assert!(matches!(a.merge(&b), Err(Error::ConfigMismatch { .. })));
    a.update(&P, &Y).unwrap();
    assert_eq!(
        a.bce(&Bce::default()),
        Err(Error::ConfigMismatch {
            field: "from_logits"
        })
    );
    let mut r = RegionAccumulator::new(Region::default()).unwrap();
    let probs = RegionAccumulator::new(Region::default().with_from_logits(false)).unwrap();
    assert_eq!(
        r.merge(&probs),
        Err(Error::ConfigMismatch {
            field: "from_logits"
        })
    );
}

#[test]
fn display_is_nonempty_for_every_variant() {
    let all = [
        Error::LengthMismatch { pred: 3, target: 4 },
        Error::Empty,
        Error::InvalidParameter {
            name: "eps",
            value: 0.0,
        },
        Error::InvalidMask { value: 2 },
        Error::ConfigMismatch { field: "gamma" },
    ];
    for e in all {
        let s = e.to_string();
        assert!(!s.trim().is_empty(), "{e:?}");
        // It is a std error too.
        let _: &dyn std::error::Error = &e;
    }
    assert!(
        Error::InvalidParameter {
            name: "eps",
            value: 0.0
        }
        .to_string()
        .contains("eps")
    );
    assert!(Error::InvalidMask { value: 2 }.to_string().contains('2'));
}
