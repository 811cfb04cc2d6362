//! Every one-shot loss in `segloss::binary`, with `f32` and `u8` targets and
//! arbitrary configurations, against the f64 oracle (see `src/lib.rs` for
//! the tolerances and the compared domain). Invalid parameters must give
//! `Err(InvalidParameter)`, bad inputs their error, valid inputs a value;
//! nothing may panic.
//!
//! Adding an entry family (multiclass, backward): add a function like
//! `run` below that calls the new entry points with the same `Input`
//! (e.g. reading `data` as `N·C·S` logits and class ids), and call it from
//! `fuzz_target!`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::{
    Bce, BceWithLogits, Error, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce,
    Target, Tversky, binary,
};
use segloss_fuzz::*;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    from_logits: bool,
    log_loss: bool,
    normalized: bool,
    sum: bool,
    mismatch: u8,
    ignore_sel: u8,
    ignore_n: Num,
    smooth: Num,
    eps: Num,
    alpha: Num,
    beta: Num,
    gamma: Num,
    focal_alpha: Option<Num>,
    reduced_threshold: Option<Num>,
    focal_eps: Num,
    sf_alpha: Num,
    pos_weight: Num,
    smooth_factor: Option<Num>,
    threshold: Num,
    mcc_eps: Num,
    data: Vec<(Num, Num)>,
}

/// The expected result of a call: `Some(())` when a value must come back.
fn expect<V: core::fmt::Debug, T: Copy + Into<f64>>(
    what: &str,
    valid: bool,
    got: &Result<V, Error>,
    pred: &[f32],
    target: &[T],
    is_mask: bool,
    ignore: Option<f32>,
) -> bool {
    if !valid {
        check_error(
            what,
            got,
            &Error::InvalidParameter {
                name: "",
                value: 0.0,
            },
        );
        return false;
    }
    if let Some(e) = input_error(pred, target, is_mask, ignore) {
        check_error(what, got, &e);
        return false;
    }
    if let Err(e) = got {
        fail(what, format!("valid input gave Err({e:?})"));
    }
    true
}

fn run<T: Target + Into<f64> + core::fmt::Debug>(
    inp: &Input,
    pl: &[f32],
    pp: &[f32],
    target: &[T],
) {
    let is_mask = T::IS_MASK;
    let ys: Vec<f64> = target.iter().map(|&t| t.into()).collect();
    let same_len = pl.len() == ys.len();
    let red = if inp.sum {
        Reduction::Sum
    } else {
        Reduction::Mean
    };
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let pred = if inp.from_logits { pl } else { pp };
    let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();

    // Region family.
    let region = Region::default()
        .with_from_logits(inp.from_logits)
        .with_smooth(inp.smooth.param(0.0, 2.0))
        .with_eps(inp.eps.param(1e-9, 1e-3))
        .with_log_loss(inp.log_loss)
        .with_ignore_index(ignore);
    let tv = Tversky {
        region,
        alpha: inp.alpha.param(0.0, 2.0),
        beta: inp.beta.param(0.0, 2.0),
        gamma: inp.gamma.param(0.0, 3.0),
    };
    for (what, t, got) in [
        (
            "dice",
            Tversky::dice(region),
            binary::dice(pred, target, &region),
        ),
        (
            "jaccard",
            Tversky::jaccard(region),
            binary::jaccard(pred, target, &region),
        ),
        ("tversky", tv, binary::tversky(pred, target, &tv)),
    ] {
        if expect(what, valid_tversky(&t), &got, pred, target, is_mask, ignore)
            && let Ok(v) = got
            && same_len
        {
            cmp_region(what, v, &t, pred, &ys);
        }
    }

    // Cross entropy.
    let bce = Bce { reduction: red };
    let got = binary::bce(pp, target, &bce);
    if expect("bce", true, &got, pp, target, is_mask, None) {
        cmp_bce("bce", got.unwrap_or(0.0), red, &f64s(pp), &ys);
    }
    let bl = BceWithLogits::default()
        .with_pos_weight(inp.pos_weight.param(0.0, 5.0))
        .with_reduction(red);
    let got = binary::bce_with_logits(pl, target, &bl);
    if expect(
        "bce_with_logits",
        valid_bce_logits(&bl),
        &got,
        pl,
        target,
        is_mask,
        None,
    ) {
        cmp_bce_logits(
            "bce_with_logits",
            got.unwrap_or(0.0),
            bl.pos_weight,
            red,
            &f64s(pl),
            &ys,
        );
    }
    let sb = SoftBce::default()
        .with_smooth_factor(inp.smooth_factor.map(|n| n.param(0.0, 1.0)))
        .with_ignore_index(ignore)
        .with_pos_weight(inp.pos_weight.param(0.0, 5.0))
        .with_reduction(red);
    let got = binary::soft_bce(pl, target, &sb);
    if expect(
        "soft_bce",
        valid_soft_bce(&sb),
        &got,
        pl,
        target,
        is_mask,
        ignore,
    ) {
        cmp_soft_bce("soft_bce", got.unwrap_or(0.0), &sb, pl, &ys);
    }

    // Focal.
    let fc = Focal::default()
        .with_from_logits(inp.from_logits)
        .with_gamma(inp.gamma.param(0.0, 5.0))
        .with_alpha(inp.focal_alpha.map(|n| n.param(0.0, 1.0)))
        .with_normalized(inp.normalized)
        .with_reduced_threshold(inp.reduced_threshold.map(|n| n.param(0.01, 1.0)))
        .with_eps(inp.focal_eps.param(1e-8, 0.1))
        .with_ignore_index(ignore)
        .with_reduction(red);
    let got = binary::focal(pred, target, &fc);
    if expect(
        "focal",
        valid_focal(&fc),
        &got,
        pred,
        target,
        is_mask,
        ignore,
    ) {
        cmp_focal("focal", got.unwrap_or(0.0), &fc, pred, &ys);
    }
    let sf = SigmoidFocal::default()
        .with_alpha(inp.sf_alpha.param(-0.5, 1.0))
        .with_gamma(inp.gamma.param(0.0, 5.0))
        .with_reduction(red);
    let got = binary::sigmoid_focal(pl, target, &sf);
    if expect(
        "sigmoid_focal",
        valid_sigmoid_focal(&sf),
        &got,
        pl,
        target,
        is_mask,
        None,
    ) {
        cmp_sigmoid_focal("sigmoid_focal", got.unwrap_or(0.0), &sf, &f64s(pl), &ys);
    }
    // Elementwise: sometimes an output of the wrong length.
    let out_len = if inp.mismatch % 7 == 3 {
        pl.len() + 1
    } else {
        pl.len()
    };
    let mut out = vec![f32::from_bits(0x7fc0_1234); out_len];
    let got = binary::sigmoid_focal_elementwise(pl, target, &sf, &mut out);
    let valid_in = valid_sigmoid_focal(&sf);
    // The documented order is lengths (pred/target, then out), empty input,
    // then mask values: an `out` of the wrong length wins over a bad mask.
    if valid_in && input_error(pl, target, false, None).is_none() && out_len != pl.len() {
        check_error(
            "sigmoid_focal_elementwise",
            &got,
            &Error::LengthMismatch {
                pred: pl.len(),
                target: out_len,
            },
        );
    } else if expect(
        "sigmoid_focal_elementwise",
        valid_in,
        &got,
        pl,
        target,
        is_mask,
        None,
    ) && in_domain(pl, &ys, true, None)
    {
        for ((&o, &x), &y) in out.iter().zip(pl).zip(&ys) {
            if x.is_infinite() && y != 0.0 && y != 1.0 {
                continue; // f32 underflow of y^γ: ∞·0 (see cmp_sigmoid_focal)
            }
            let want =
                sigmoid_focal_elem_ref(f64::from(x), y, f64::from(sf.alpha), f64::from(sf.gamma));
            let abs = sigmoid_focal_floor(f64::from(x), y, f64::from(sf.alpha));
            check_focal_abs("sigmoid_focal_elementwise", o, want, sf.gamma, abs);
        }
    }

    // MCC.
    let mc = Mcc::default().with_from_logits(inp.from_logits);
    let mc = Mcc {
        eps: inp.mcc_eps.param(1e-7, 1e-3),
        ..mc
    };
    let got = binary::mcc(pred, target, &mc);
    if expect("mcc", valid_mcc(&mc), &got, pred, target, is_mask, None) {
        cmp_mcc(
            "mcc",
            got.unwrap_or(0.0),
            inp.from_logits,
            mc.eps,
            &f64s(pred),
            &ys,
        );
    }
    let hm = HardMcc::default()
        .with_from_logits(inp.from_logits)
        .with_threshold(f64::from(inp.threshold.param(0.0, 1.0)));
    let counts = binary::confusion(pred, target, &hm);
    let got = binary::hard_mcc(pred, target, &hm);
    let a = expect(
        "confusion",
        valid_hard(&hm),
        &counts,
        pred,
        target,
        is_mask,
        None,
    );
    let b = expect(
        "hard_mcc",
        valid_hard(&hm),
        &got,
        pred,
        target,
        is_mask,
        None,
    );
    if let (true, true, Ok(c), Ok(v)) = (a, b, counts, got)
        && in_domain(pred, &ys, inp.from_logits, None)
    {
        cmp_hard(
            "hard_mcc",
            c,
            Some(v),
            inp.from_logits,
            hm.threshold,
            hm.eps,
            &f64s(pred),
            &ys,
        );
    }
}

fuzz_target!(|inp: Input| {
    let pl: Vec<f32> = inp.data.iter().map(|d| d.0.logit()).collect();
    let pp: Vec<f32> = inp.data.iter().map(|d| d.0.prob()).collect();
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let drop = usize::from(inp.mismatch.is_multiple_of(16) && !inp.data.is_empty());
    let n = inp.data.len() - drop;
    let tf: Vec<f32> = inp
        .data
        .iter()
        .take(n)
        .map(|d| d.1.target(ignore))
        .collect();
    let tu: Vec<u8> = inp.data.iter().take(n).map(|d| d.1.mask(ignore)).collect();
    run(&inp, &pl, &pp, &tf);
    run(&inp, &pl, &pp, &tu);
});
