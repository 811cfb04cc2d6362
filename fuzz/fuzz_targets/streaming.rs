//! `BinaryAccumulator` and `RegionAccumulator`: `update` over chunks at
//! random split points, in two accumulators joined by `merge`, must give
//! every loss within the oracle tolerance of a one-pass f64 evaluation (and
//! so of the one-shot API); losses asked in the wrong mode give
//! `ConfigMismatch`; nothing panics.
//!
//! Adding an entry family (a multiclass accumulator): build it from the same
//! `Input`, feed the same splits, and compare its finalisers the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Error, Focal, HardMcc, Mcc, Reduction, Region,
    RegionAccumulator, SigmoidFocal, SoftBce, StatsConfig, Tversky,
};
use segloss_fuzz::*;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    from_logits: bool,
    use_u8: bool,
    sum: bool,
    ignore_sel: u8,
    ignore_n: Num,
    gamma: Num,
    reduced_threshold: Option<Num>,
    eps: Num,
    threshold: Num,
    merge_at: u16,
    splits: Vec<u16>,
    data: Vec<(Num, Num)>,
}

/// Calls `update` on consecutive chunks of `(pred, t)` cut at `splits`.
fn feed<T: segloss::Target>(
    mut update: impl FnMut(&[f32], &[T]) -> Result<(), Error>,
    pred: &[f32],
    t: &[T],
    splits: &[u16],
) -> Result<(), Error> {
    let mut start = 0;
    for &s in splits {
        let end = (start + usize::from(s) % 64).min(pred.len());
        update(&pred[start..end], &t[start..end])?;
        start = end;
    }
    update(&pred[start..], &t[start..])
}

fn run<T: segloss::Target + Into<f64>>(inp: &Input, pred: &[f32], t: &[T]) {
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let cfg = StatsConfig::default()
        .with_from_logits(inp.from_logits)
        .with_ignore_index(ignore)
        .with_threshold(f64::from(inp.threshold.param(0.0, 1.0)));
    let cfg = StatsConfig {
        gamma: inp.gamma.param(0.0, 5.0),
        reduced_threshold: inp.reduced_threshold.map(|n| n.param(0.01, 1.0)),
        eps: inp.eps.param(1e-8, 0.1),
        ..cfg
    };
    let acc = BinaryAccumulator::new(cfg);
    if !valid_stats(&cfg) {
        check_error(
            "StatsConfig",
            &acc,
            &Error::InvalidParameter {
                name: "",
                value: 0.0,
            },
        );
        return;
    }
    let Ok(mut a) = acc else {
        fail("BinaryAccumulator::new", format!("{acc:?}"))
    };
    let mut b = a;
    let region = Region::default()
        .with_from_logits(inp.from_logits)
        .with_ignore_index(ignore);
    let Ok(mut r) = RegionAccumulator::new(region) else {
        fail("RegionAccumulator::new", format!("{region:?}"))
    };
    let mut rb = r;
    let m = usize::from(inp.merge_at) % (pred.len() + 1);
    let (pa, ta, pb, tb) = (&pred[..m], &t[..m], &pred[m..], &t[m..]);
    let results = [
        feed(|p, y| a.update(p, y), pa, ta, &inp.splits),
        feed(|p, y| b.update(p, y), pb, tb, &inp.splits),
        feed(|p, y| r.update(p, y), pa, ta, &inp.splits),
        feed(|p, y| rb.update(p, y), pb, tb, &inp.splits),
    ];
    if let Some(e) = input_error(pred, t, T::IS_MASK, ignore).filter(|e| *e != Error::Empty) {
        // A bad mask byte fails the update that reads it, in either kind.
        if results[..2].iter().all(Result::is_ok) || results[2..].iter().all(Result::is_ok) {
            fail("update", format!("expected Err({e:?}), got {results:?}"));
        }
        return;
    }
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        fail("update", format!("valid input gave Err({e:?})"));
    }
    if let Err(e) = a.merge(&b).and(r.merge(&rb)) {
        fail("merge", format!("{e:?}"));
    }
    if r.count() != pred.len() as u64 {
        fail(
            "RegionAccumulator::count",
            format!("{} of {}", r.count(), pred.len()),
        );
    }
    // A different configuration cannot be merged.
    let other = BinaryAccumulator::new(cfg.with_from_logits(!cfg.from_logits));
    if let Ok(o) = other {
        check_error(
            "merge",
            &a.clone().merge(&o),
            &Error::ConfigMismatch {
                field: "StatsConfig",
            },
        );
    }

    let ys: Vec<f64> = t.iter().map(|&v| v.into()).collect();
    let (kp, ky) = kept(pred, &ys, ignore);
    let n_all = pred.len();
    let red = if inp.sum {
        Reduction::Sum
    } else {
        Reduction::Mean
    };
    let lo = inp.from_logits;
    let mismatch = |what: &str, r: &Result<f32, Error>| {
        if !matches!(r, Err(Error::ConfigMismatch { .. })) {
            fail(
                what,
                format!("wrong mode must be ConfigMismatch, got {r:?}"),
            );
        }
    };
    let need = |what: &str, r: &Result<f32, Error>, nonempty: usize| -> Option<f32> {
        match r {
            Ok(v) if nonempty > 0 => Some(*v),
            Err(Error::Empty) if nonempty == 0 => None,
            _ => fail(what, format!("{r:?} with {nonempty} elements")),
        }
    };

    for t in [
        Tversky::dice(region),
        Tversky::jaccard(region),
        Tversky::new(0.3, 0.7, 1.5)
            .map(|t| t.with_region(region))
            .unwrap_or_default(),
    ] {
        if let Some(v) = need("tversky", &a.tversky(&t), n_all) {
            cmp_region("acc tversky", v, &t, pred, &ys);
        }
        if let Some(v) = need("region acc tversky", &r.tversky(&t), n_all) {
            cmp_region("region acc tversky", v, &t, pred, &ys);
        }
    }
    mismatch(
        "region acc from_logits",
        &r.dice(&region.with_from_logits(!lo)),
    );
    let bce = a.bce(&Bce { reduction: red });
    let bl = a.bce_with_logits(&BceWithLogits::default().with_reduction(red));
    let sbc = SoftBce::default()
        .with_ignore_index(ignore)
        .with_reduction(red)
        .with_smooth_factor(Some(0.1));
    let sb = a.soft_bce(&sbc);
    let sfc = SigmoidFocal::default()
        .with_gamma(cfg.gamma)
        .with_reduction(red);
    let sf = a.sigmoid_focal(&sfc);
    if lo {
        mismatch("acc bce", &bce);
        if let Some(v) = need("acc bce_with_logits", &bl, kp.len()) {
            cmp_bce_logits("acc bce_with_logits", v, 1.0, red, &kp, &ky);
        }
        if let Some(v) = need("acc soft_bce", &sb, n_all) {
            cmp_soft_bce("acc soft_bce", v, &sbc, pred, &ys);
        }
        if let Some(v) = need("acc sigmoid_focal", &sf, kp.len()) {
            cmp_sigmoid_focal("acc sigmoid_focal", v, &sfc, &kp, &ky);
        }
    } else {
        if let Some(v) = need("acc bce", &bce, kp.len()) {
            cmp_bce("acc bce", v, red, &kp, &ky);
        }
        mismatch("acc bce_with_logits", &bl);
        mismatch("acc soft_bce", &sb);
        mismatch("acc sigmoid_focal", &sf);
    }
    let fc = Focal::default()
        .with_from_logits(lo)
        .with_gamma(cfg.gamma)
        .with_reduced_threshold(cfg.reduced_threshold)
        .with_eps(cfg.eps)
        .with_ignore_index(ignore)
        .with_reduction(red)
        .with_alpha(Some(0.25));
    if let Some(v) = need("acc focal", &a.focal(&fc), n_all) {
        if kp.is_empty() && red == Reduction::Mean && !v.is_nan() {
            fail(
                "acc focal",
                format!("mean of no kept element must be NaN, got {v}"),
            );
        }
        cmp_focal("acc focal", v, &fc, pred, &ys);
    }
    // A γ that surely differs (γ + 1 == γ for γ ≥ 2^24).
    let other_gamma = if cfg.gamma == 0.0 {
        1.0
    } else {
        cfg.gamma * 0.5
    };
    mismatch("acc focal gamma", &a.focal(&fc.with_gamma(other_gamma)));
    let mc = Mcc::default().with_from_logits(lo);
    if let Some(v) = need("acc mcc", &a.mcc(&mc), n_all) {
        cmp_mcc("acc mcc", v, lo, mc.eps, &kp, &ky);
    }
    let hm = HardMcc::default()
        .with_from_logits(lo)
        .with_threshold(cfg.threshold);
    if let Some(v) = need("acc hard_mcc", &a.hard_mcc(&hm), n_all) {
        let kp32: Vec<f32> = kp.iter().map(|&v| v as f32).collect();
        if in_domain(&kp32, &ky, lo, None) {
            cmp_hard(
                "acc confusion",
                a.confusion(),
                Some(v),
                lo,
                hm.threshold,
                hm.eps,
                &kp,
                &ky,
            );
        }
    }
}

fuzz_target!(|inp: Input| {
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let pred: Vec<f32> = inp
        .data
        .iter()
        .map(|d| {
            if inp.from_logits {
                d.0.logit()
            } else {
                d.0.prob()
            }
        })
        .collect();
    if inp.use_u8 {
        let t: Vec<u8> = inp.data.iter().map(|d| d.1.mask(ignore)).collect();
        run(&inp, &pred, &t);
    } else {
        let t: Vec<f32> = inp.data.iter().map(|d| d.1.target(ignore)).collect();
        run(&inp, &pred, &t);
    }
});
