//! Every binary backward pass in `segloss::backward::binary`, with `f32`
//! and `u8` targets, random configurations and `scale`, against the f64
//! gradients of `src/grad.rs` (tolerances and compared domain there).
//!
//! For every call: invalid parameters give `Err(InvalidParameter)`; bad
//! inputs their error in the documented order (lengths, empty input, the
//! gradient buffer's length, mask values); a valid call returns exactly the
//! forward function's loss (the same bits, as `backward`'s docs promise) and
//! writes every gradient element: 0 for ignored elements, NaN for a kept
//! element whose prediction or target is NaN, and within the tolerance of
//! the f64 gradient elsewhere in the domain. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::backward::binary as bw;
use segloss::{
    Bce, BceWithLogits, Error, Focal, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Target,
    Tversky, binary,
};
use segloss_fuzz::grad::{self, Want};
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
    mcc_eps: Num,
    scale: Num,
    data: Vec<(Num, Num)>,
}

/// A filler no result equals by chance: unwritten elements stay NaN.
const UNWRITTEN: u32 = 0x7fc0_4321;

/// Runs a backward call; checks its error or its loss against the forward
/// call's; returns the gradient when a value came back.
#[allow(clippy::too_many_arguments)]
fn call<T: Target + Into<f64>>(
    what: &str,
    valid: bool,
    pred: &[f32],
    target: &[T],
    ignore: Option<f32>,
    grad_len: usize,
    fwd: Result<f32, Error>,
    bwd: impl FnOnce(&mut [f32]) -> Result<f32, Error>,
) -> Option<Vec<f32>> {
    let mut g = vec![f32::from_bits(UNWRITTEN); grad_len];
    let got = bwd(&mut g);
    if !valid {
        check_error(
            what,
            &got,
            &Error::InvalidParameter {
                name: "",
                value: 0.0,
            },
        );
        return None;
    }
    if let Some(e) = input_error_grad(pred, target, T::IS_MASK, ignore, grad_len) {
        check_error(what, &got, &e);
        return None;
    }
    let loss = match got {
        Ok(v) => v,
        Err(e) => fail(what, format!("valid input gave Err({e:?})")),
    };
    match fwd {
        Ok(f) if f.to_bits() == loss.to_bits() || (f.is_nan() && loss.is_nan()) => {}
        other => fail(what, format!("backward loss {loss:e}, forward {other:?}")),
    }
    Some(g)
}

/// Ignored elements get exactly 0; a kept element with a NaN prediction or
/// target gets NaN.
fn check_nan(what: &str, g: &[f32], pred: &[f32], ys: &[f64], ignore: Option<f32>) {
    for (i, ((&gi, &x), &y)) in g.iter().zip(pred).zip(ys).enumerate() {
        if ignore.map(f64::from) == Some(y) {
            if gi != 0.0 {
                fail(what, format!("ignored element {i} has gradient {gi:e}"));
            }
        } else if (x.is_nan() || y.is_nan()) && !gi.is_nan() {
            fail(
                what,
                format!("element {i} (x {x:e}, y {y:e}) has gradient {gi:e}, want NaN"),
            );
        }
    }
}

/// Whether the gradient values are compared: scale and inputs in the
/// domain, no NaN among the kept elements.
fn compared(pred: &[f32], ys: &[f64], logits: bool, ignore: Option<f32>, scale: f32) -> bool {
    grad::scale_in_domain(scale)
        && in_domain(pred, ys, logits, ignore)
        && pred
            .iter()
            .zip(ys)
            .all(|(x, &y)| ignore.map(f64::from) == Some(y) || !(x.is_nan() || y.is_nan()))
}

/// The NaN/ignore check, then the value comparison when in the domain.
#[allow(clippy::too_many_arguments)]
fn verify(
    what: &str,
    g: &[f32],
    pred: &[f32],
    ys: &[f64],
    logits: bool,
    ignore: Option<f32>,
    scale: f32,
    want: impl FnOnce(&[grad::Elem]) -> Option<Vec<Want>>,
) {
    check_nan(what, g, pred, ys, ignore);
    if compared(pred, ys, logits, ignore, scale)
        && let Some(w) = want(&grad::elems(pred, ys, logits, ignore))
    {
        grad::check(what, g, &w);
    }
}

/// A region loss: its name, configuration, forward value and backward call.
type RegionCase<'a> = (
    &'static str,
    Tversky,
    Result<f32, Error>,
    &'a dyn Fn(&mut [f32]) -> Result<f32, Error>,
);

fn run<T: Target + Into<f64> + core::fmt::Debug>(
    inp: &Input,
    pl: &[f32],
    pp: &[f32],
    target: &[T],
) {
    let ys: Vec<f64> = target.iter().map(|&t| t.into()).collect();
    let red = if inp.sum {
        Reduction::Sum
    } else {
        Reduction::Mean
    };
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let lo = inp.from_logits;
    let pred = if lo { pl } else { pp };
    let n = pl.len();
    let grad_len = match inp.mismatch % 11 {
        3 => n + 1,
        5 => n.saturating_sub(1),
        _ => n,
    };
    let scale = grad::scale_of(inp.scale);
    let s64 = f64::from(scale);

    // Region family.
    let region = Region::default()
        .with_from_logits(lo)
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
    let cases: [RegionCase<'_>; 3] = [
        (
            "dice",
            Tversky::dice(region),
            binary::dice(pred, target, &region),
            &|g| bw::dice(pred, target, &region, g, scale),
        ),
        (
            "jaccard",
            Tversky::jaccard(region),
            binary::jaccard(pred, target, &region),
            &|g| bw::jaccard(pred, target, &region, g, scale),
        ),
        ("tversky", tv, binary::tversky(pred, target, &tv), &|g| {
            bw::tversky(pred, target, &tv, g, scale)
        }),
    ];
    for (what, t, fwd, bwd) in cases {
        if let Some(g) = call(
            what,
            valid_tversky(&t),
            pred,
            target,
            ignore,
            grad_len,
            fwd,
            bwd,
        ) {
            verify(what, &g, pred, &ys, lo, ignore, scale, |es| {
                grad::region(&t, s64, es, lo)
            });
        }
    }

    // MCC.
    let mc = Mcc {
        eps: inp.mcc_eps.param(1e-7, 1e-3),
        ..Mcc::default().with_from_logits(lo)
    };
    let fwd = binary::mcc(pred, target, &mc);
    if let Some(g) = call(
        "mcc",
        valid_mcc(&mc),
        pred,
        target,
        None,
        grad_len,
        fwd,
        |g| bw::mcc(pred, target, &mc, g, scale),
    ) {
        verify("mcc", &g, pred, &ys, lo, None, scale, |es| {
            grad::mcc(f64::from(mc.eps), s64, es, lo)
        });
    }

    // Cross entropy.
    let k = grad::reduce(red, s64, n);
    let bce = Bce { reduction: red };
    let fwd = binary::bce(pp, target, &bce);
    if let Some(g) = call("bce", true, pp, target, None, grad_len, fwd, |g| {
        bw::bce(pp, target, &bce, g, scale)
    }) {
        verify("bce", &g, pp, &ys, false, None, scale, |es| {
            Some(grad::bce(k, es))
        });
    }
    let bl = BceWithLogits::default()
        .with_pos_weight(inp.pos_weight.param(0.0, 5.0))
        .with_reduction(red);
    let fwd = binary::bce_with_logits(pl, target, &bl);
    if let Some(g) = call(
        "bce_with_logits",
        valid_bce_logits(&bl),
        pl,
        target,
        None,
        grad_len,
        fwd,
        |g| bw::bce_with_logits(pl, target, &bl, g, scale),
    ) {
        let w = f64::from(bl.pos_weight);
        verify("bce_with_logits", &g, pl, &ys, true, None, scale, |es| {
            Some(grad::bce_with_logits(k, w, es))
        });
    }
    let sb = SoftBce::default()
        .with_smooth_factor(inp.smooth_factor.map(|n| n.param(0.0, 1.0)))
        .with_ignore_index(ignore)
        .with_pos_weight(inp.pos_weight.param(0.0, 5.0))
        .with_reduction(red);
    let fwd = binary::soft_bce(pl, target, &sb);
    if let Some(g) = call(
        "soft_bce",
        valid_soft_bce(&sb),
        pl,
        target,
        ignore,
        grad_len,
        fwd,
        |g| bw::soft_bce(pl, target, &sb, g, scale),
    ) {
        let (w, f) = (
            f64::from(sb.pos_weight),
            sb.smooth_factor.map_or(0.0, f64::from),
        );
        verify("soft_bce", &g, pl, &ys, true, ignore, scale, |es| {
            Some(grad::soft_bce(k, w, f, es))
        });
    }

    // Focal.
    let sf = SigmoidFocal::default()
        .with_alpha(inp.sf_alpha.param(-0.5, 1.0))
        .with_gamma(inp.gamma.param(0.0, 5.0))
        .with_reduction(red);
    let fwd = binary::sigmoid_focal(pl, target, &sf);
    if let Some(g) = call(
        "sigmoid_focal",
        valid_sigmoid_focal(&sf),
        pl,
        target,
        None,
        grad_len,
        fwd,
        |g| bw::sigmoid_focal(pl, target, &sf, g, scale),
    ) {
        let (a, gm) = (f64::from(sf.alpha), f64::from(sf.gamma));
        verify("sigmoid_focal", &g, pl, &ys, true, None, scale, |es| {
            grad::sigmoid_focal(k, a, gm, es)
        });
    }
    let fc = Focal::default()
        .with_from_logits(lo)
        .with_gamma(inp.gamma.param(0.0, 5.0))
        .with_alpha(inp.focal_alpha.map(|n| n.param(0.0, 1.0)))
        .with_normalized(inp.normalized)
        .with_reduced_threshold(inp.reduced_threshold.map(|n| n.param(0.01, 1.0)))
        .with_eps(inp.focal_eps.param(1e-8, 0.1))
        .with_ignore_index(ignore)
        .with_reduction(red);
    let fwd = binary::focal(pred, target, &fc);
    if let Some(g) = call(
        "focal",
        valid_focal(&fc),
        pred,
        target,
        ignore,
        grad_len,
        fwd,
        |g| bw::focal(pred, target, &fc, g, scale),
    ) {
        // The forward's exclusions (see `cmp_focal`): outside them the value is compared.
        let eps_ok = lo || f64::from(fc.eps) >= (-100.0f64).exp();
        let r_ok = fc
            .reduced_threshold
            .is_none_or(|r| -f64::from(r).ln() * f64::from(fc.gamma).max(1.0) <= 88.0);
        verify("focal", &g, pred, &ys, lo, ignore, scale, |es| {
            if eps_ok && r_ok {
                grad::focal(&fc, s64, es)
            } else {
                None
            }
        });
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
