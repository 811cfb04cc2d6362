//! Parameter constructors and `validate`: every configuration whose fields
//! are outside the documented domain gives `Err(InvalidParameter)` naming an
//! invalid field with its value; every valid one validates, works in a loss
//! call (a value, not an error) and never panics.
//!
//! Adding an entry family: add its configuration to `Input`, its domain rule
//! to `src/lib.rs`, and one `check` line below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::{
    BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Region, SigmoidFocal, SoftBce,
    StatsConfig, Tversky, binary,
};
use segloss_fuzz::*;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    flags: u8,
    v: [Num; 8],
    opt: [Option<Num>; 3],
    ignore_sel: u8,
    threshold_bits: u64,
}

/// `got` is Ok exactly when `valid`; an error names one of `fields` with its value.
fn check<V: core::fmt::Debug>(
    what: &str,
    valid: bool,
    got: Result<V, Error>,
    fields: &[(&str, f32)],
) {
    match (valid, &got) {
        (true, Ok(_)) => {}
        (false, Err(Error::InvalidParameter { name, value })) => {
            let named = fields.iter().any(|(n, v)| {
                n == name && (v.to_bits() == value.to_bits() || (v.is_nan() && value.is_nan()))
            });
            if !named {
                fail(
                    what,
                    format!("error names `{name}` = {value}, fields {fields:?}"),
                );
            }
        }
        _ => fail(what, format!("valid = {valid}, got {got:?}")),
    }
}

fuzz_target!(|inp: Input| {
    let [a, b, c, d, e, f, g, h] = inp.v;
    let fl = |bit: u8| inp.flags & (1 << bit) != 0;
    let ignore = ignore_value(inp.ignore_sel, h);
    let ign = ("ignore_index", ignore.unwrap_or(0.0));
    let pred = [0.3f32, -1.0, 2.0, 0.0, 5.0, -0.5, 0.9, 1.0, 0.1];
    let mask = [1u8, 0, 1, 1, 0, 0, 1, 0, 1];

    let r = Region::default()
        .with_from_logits(fl(0))
        .with_smooth(a.param(0.0, 2.0))
        .with_eps(b.param(1e-9, 1e-3))
        .with_log_loss(fl(1))
        .with_ignore_index(ignore);
    let rf = [("smooth", r.smooth), ("eps", r.eps), ign];
    check("Region::validate", valid_region(&r), r.validate(), &rf);
    check(
        "binary::dice",
        valid_region(&r),
        binary::dice(&pred, &mask, &r),
        &rf,
    );

    let (al, be, ga) = (c.param(0.0, 1.0), d.param(0.0, 1.0), e.param(0.0, 3.0));
    let tf = [("alpha", al), ("beta", be), ("gamma", ga)];
    let t = Tversky::new(al, be, ga);
    check(
        "Tversky::new",
        valid_tversky(&Tversky {
            alpha: al,
            beta: be,
            gamma: ga,
            ..Tversky::default()
        }),
        t,
        &tf,
    );
    let tv = Tversky {
        region: r,
        alpha: al,
        beta: be,
        gamma: ga,
    };
    let all: Vec<(&str, f32)> = rf.iter().chain(&tf).copied().collect();
    check(
        "binary::tversky",
        valid_tversky(&tv),
        binary::tversky(&pred, &mask, &tv),
        &all,
    );

    let fc = Focal::default()
        .with_from_logits(fl(2))
        .with_gamma(e.param(0.0, 5.0))
        .with_alpha(inp.opt[0].map(|n| n.param(0.0, 1.0)))
        .with_normalized(fl(3))
        .with_reduced_threshold(inp.opt[1].map(|n| n.param(0.01, 1.0)))
        .with_eps(f.param(1e-8, 0.49))
        .with_ignore_index(ignore);
    let ff = [
        ("gamma", fc.gamma),
        ("alpha", fc.alpha.unwrap_or(0.0)),
        ("reduced_threshold", fc.reduced_threshold.unwrap_or(1.0)),
        ("eps", fc.eps),
        ign,
    ];
    check("Focal::validate", valid_focal(&fc), fc.validate(), &ff);
    check(
        "binary::focal",
        valid_focal(&fc),
        binary::focal(&pred, &mask, &fc),
        &ff,
    );

    let sf = SigmoidFocal::default()
        .with_alpha(c.param(-1.0, 1.0))
        .with_gamma(g.param(0.0, 5.0));
    let sff = [("alpha", sf.alpha), ("gamma", sf.gamma)];
    check(
        "SigmoidFocal",
        valid_sigmoid_focal(&sf),
        binary::sigmoid_focal(&pred, &mask, &sf),
        &sff,
    );

    let bl = BceWithLogits::default().with_pos_weight(d.param(0.0, 5.0));
    check(
        "BceWithLogits",
        valid_bce_logits(&bl),
        binary::bce_with_logits(&pred, &mask, &bl),
        &[("pos_weight", bl.pos_weight)],
    );

    let sb = SoftBce::default()
        .with_smooth_factor(inp.opt[2].map(|n| n.param(0.0, 1.0)))
        .with_pos_weight(d.param(0.0, 5.0))
        .with_ignore_index(ignore);
    let sbf = [
        ("smooth_factor", sb.smooth_factor.unwrap_or(0.0)),
        ("pos_weight", sb.pos_weight),
        ign,
    ];
    check(
        "SoftBce",
        valid_soft_bce(&sb),
        binary::soft_bce(&pred, &mask, &sb),
        &sbf,
    );

    let mc = Mcc {
        eps: b.param(1e-7, 1e-3),
        ..Mcc::default()
    };
    check(
        "Mcc",
        valid_mcc(&mc),
        binary::mcc(&pred, &mask, &mc),
        &[("eps", mc.eps)],
    );

    let th = if fl(4) {
        f64::from_bits(inp.threshold_bits)
    } else {
        f64::from(g.param(0.0, 1.0))
    };
    let hm = HardMcc {
        threshold: th,
        eps: b.param(1e-9, 1e-3),
        ..HardMcc::default()
    };
    let hf = [("threshold", th as f32), ("eps", hm.eps)];
    check(
        "HardMcc",
        valid_hard(&hm),
        binary::hard_mcc(&pred, &mask, &hm),
        &hf,
    );
    check(
        "confusion",
        valid_hard(&hm),
        binary::confusion(&pred, &mask, &hm),
        &hf,
    );

    let sc = StatsConfig::default()
        .with_from_logits(fl(5))
        .with_ignore_index(ignore)
        .with_threshold(th)
        .with_focal(&fc);
    let scf = [
        ("threshold", th as f32),
        ("gamma", sc.gamma),
        ("reduced_threshold", sc.reduced_threshold.unwrap_or(1.0)),
        ("eps", sc.eps),
        ign,
    ];
    check("StatsConfig", valid_stats(&sc), sc.validate(), &scf);
    check(
        "BinaryAccumulator::new",
        valid_stats(&sc),
        BinaryAccumulator::new(sc),
        &scf,
    );
});
