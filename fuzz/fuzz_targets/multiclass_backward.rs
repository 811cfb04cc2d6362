//! `segloss::backward::multiclass` and `segloss::backward::multilabel`: for
//! every case of the `multiclass` target (the same generator,
//! `src/nchw.rs`), each loss of the forward target through its backward
//! `loss` (and `loss_fixed::<C>` for C = 3, 4), with a random `scale` and
//! sometimes a gradient buffer of the wrong length.
//!
//! Checked for every call (nothing may panic):
//!
//! - the backward returns an error exactly when the forward does (the same
//!   `Error`), else `GradientLength` for a wrong buffer, else the forward's
//!   loss bit for bit; `loss_fixed::<C>` gives the same loss and gradient bits;
//! - every gradient element is written; elements dropped by every part
//!   (their pixel's id, or their target, is the part's `ignore_index`) get
//!   exactly 0;
//! - NaN (`segloss::numerics`, `tests/nchw_gradients.rs`): a kept element
//!   whose prediction (or multilabel target) is NaN, and that a part reads,
//!   gets NaN;
//! - finite inputs in the compared domain, parameters in [`moderate`]'s
//!   range and a finite loss give a finite gradient everywhere;
//! - the gradient against five-point central finite differences of the f64
//!   references of `src/multi.rs` (the forward target's), on small,
//!   well-conditioned cases (see the constants below for the domain and
//!   the bound).
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::backward::{multiclass as bmc, multilabel as bml};
use segloss::multiclass::{self as mc, Classes, CrossEntropy, Shape};
use segloss::{Error, Focal, Target, Tversky, multilabel as ml};
use segloss_fuzz::grad::{self, F32_MIN_NORMAL, KINK, U32, elem_rel};
use segloss_fuzz::multi::{self, LOGIT_ROUND};
use segloss_fuzz::nchw::{self, Case, Id, ignore_id, mc_domain, ml_parts, parts};
use segloss_fuzz::support::tolerance::{GRADIENT, REGION_GRADIENT_FD};
use segloss_fuzz::*;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    /// autograd's `grad_output` ([`grad::scale_of`]).
    scale: Num,
    /// Gradient buffer length (`% 13`: 3 one too long, 5 one too short) and
    /// the `loss_fixed` check (bit 7).
    grad_sel: u8,
    case: nchw::Input,
}

// ------------------------------------------------------------ tolerances

/// Largest `N·C·S` compared with finite differences: each element costs
/// four evaluations of the f64 reference, each `O(N·C·S)`, so a loss costs
/// `4·(N·C·S)²` reference terms (64 elements: ≈ 16k per loss, 11 losses
/// per input).
const FD_MAX_LEN: usize = 64;
/// Largest `|logit|` of the FD domain: beyond, `σ` and the softmax saturate
/// in f64 (`1 − p` below 1e-13) and the stencil's change of `p` is below the
/// reference's own rounding.
const FD_LOGIT: f64 = 30.0;
/// Probabilities of the FD domain are in `[FD_PROB, 1 − FD_PROB]`
/// (`oracle::fd_step` shrinks the step to 1% of the distance to 0 and 1).
const FD_PROB: f64 = 1e-6;
/// Positive parameters (smooth, eps, α, β, λ, weights, focal eps and α,
/// label smoothing, |scale|) of the FD and finiteness domains: 0 or in
/// `[PARAM_MIN, PARAM_MAX]`. Outside, a true gradient can itself exceed
/// f32's range (`1/eps` of the region score's clamp, `λ/Σw` of a mean).
const PARAM_MIN: f64 = 1e-12;
const PARAM_MAX: f64 = 1e3;
/// Largest focal / Tversky γ of those domains (`r^−γ` and `L^(γ−1)` stay
/// far inside f32 with the parameter range above).
const GAMMA_MAX: f64 = 5.0;
/// Largest `r^−γ` (focal `reduced_threshold`) of those domains.
const REDUCED_MAX: f64 = 1e15;
/// Distance (relative) to a focal switch (`pt = r`, the probability clamp
/// `p = eps`, `1 − eps`) within which an element is not compared: the
/// stencil (`±2h`, `h = 1e-5·max(|x|, 1)`) may cross it.
const FD_SWITCH: f64 = 1e-3;
/// Rounding noise of the stencil: each f64 reference value carries a few
/// ulp of `|f|` times the number of terms (≤ 4·FD_MAX_LEN·2⁻⁵³ ≈ 3e-14),
/// and `(8(f₊₁ − f₋₁) − (f₊₂ − f₋₂))/12h` multiplies it by `18/12h`.
const FD_NOISE: f64 = 1e-13;

// ---------------------------------------------------------------- checks

/// A filler no result equals by chance: unwritten elements stay this NaN.
const UNWRITTEN: u32 = 0x7fc0_1234;

/// The backward's result against the forward's: the same error, or
/// `GradientLength` for a wrong buffer, or the same loss bits (returned).
fn check_result(
    what: &str,
    fwd: &Result<f32, Error>,
    got: &Result<f32, Error>,
    len: usize,
    grad_len: usize,
) -> Option<f32> {
    match fwd {
        Err(e) => {
            // The errors found while reading the data (class ids, mask
            // values) come after the buffer's length, as in `backward::binary`.
            let data_error = matches!(
                e,
                Error::ClassIdOutOfRange { .. } | Error::InvalidMask { .. }
            );
            if grad_len != len && data_error {
                check_error(
                    what,
                    got,
                    &Error::GradientLength {
                        expected: len,
                        got: grad_len,
                    },
                );
                return None;
            }
            // The payload's f32 (NaN in InvalidParameter) compares by Debug text.
            if !matches!(got, Err(g) if format!("{g:?}") == format!("{e:?}")) {
                fail(what, format!("forward Err({e:?}), backward {got:?}"));
            }
            None
        }
        Ok(v) => {
            if grad_len != len {
                check_error(
                    what,
                    got,
                    &Error::GradientLength {
                        expected: len,
                        got: grad_len,
                    },
                );
                return None;
            }
            match got {
                Ok(w) if w.to_bits() == v.to_bits() || (w.is_nan() && v.is_nan()) => Some(*w),
                _ => fail(what, format!("forward Ok({v:e}), backward {got:?}")),
            }
        }
    }
}

/// The same bits, any NaN matching any NaN: a NaN's sign and payload are
/// not specified (IEEE 754), and the runtime-C and const-C kernels order
/// their operations on NaN operands differently (found by
/// `multiclass_backward`, seed `loss-fixed-nan-payload`: Tversky from
/// logits with a NaN logit, `loss_fixed::<3>` and `loss` gave different NaNs).
fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// One element's role: dropped by every part, or read (and whether a NaN in
/// its own input must give NaN).
#[derive(Clone, Copy, Debug)]
struct Role {
    ignored: bool,
    reads: bool,
}

/// The per-element checks: written, ignored → 0, NaN rule, finiteness.
fn check_grad(
    what: &str,
    g: &[f32],
    roles: &[Role],
    nan_in: &[bool],
    finite_case: bool,
    unwritten_ok: bool,
) {
    for (i, ((&v, r), &nan)) in g.iter().zip(roles).zip(nan_in).enumerate() {
        if !unwritten_ok && v.to_bits() == UNWRITTEN {
            fail(what, format!("grad[{i}] not written"));
        }
        if r.ignored {
            if v != 0.0 {
                fail(what, format!("ignored element {i} has gradient {v:e}"));
            }
        } else if nan && r.reads && !v.is_nan() {
            fail(what, format!("element {i} has a NaN input, gradient {v:e}"));
        }
        if finite_case && !v.is_finite() {
            fail(what, format!("finite inputs and loss, grad[{i}] = {v:e}"));
        }
    }
}

/// 0, or in `[PARAM_MIN, PARAM_MAX]` (magnitude).
fn moderate(v: f32) -> bool {
    let a = f64::from(v).abs();
    a == 0.0 || (PARAM_MIN..=PARAM_MAX).contains(&a)
}

/// Whether every parameter of the case (and `scale`) is in the range of the
/// FD and finiteness domains.
fn moderate_case(cs: &Case, scale: f32) -> bool {
    let (t, f) = (&cs.tversky, &cs.focal);
    let g_t = f64::from(t.gamma);
    let g_f = f64::from(f.gamma);
    [t.region.smooth, t.region.eps, t.alpha, t.beta, f.eps, cs.lambdas.0, cs.lambdas.1, scale, cs.ce.label_smoothing]
        .into_iter()
        .all(moderate)
        && f.alpha.is_none_or(moderate)
        && cs.weights.as_ref().is_none_or(|w| w.iter().all(|&v| moderate(v)))
        // Tversky's `L^(γ−1)` is unbounded near L = 0 for γ < 1 (a true slope beyond f32).
        && (g_t == 1.0 || (1.0..=GAMMA_MAX).contains(&g_t))
        && g_f <= GAMMA_MAX
        && f.reduced_threshold.is_none_or(|r| -f64::from(r).ln() * g_f <= REDUCED_MAX.ln())
}

/// The gradient against five-point central differences of `value` (the f64
/// reference) at the predictions, times `scale`.
///
/// Bound per element `i`: `(GRADIENT.rel + REGION_GRADIENT_FD.rel·κ)·max_j |fd_j|`
/// (SPEC "Accuracy"'s 1e-5, and the region sums' f32 resolution of `p` near
/// `y`, see `tests/support/tolerance.rs`), plus `elem_rel_i·|fd_i|` (the
/// focal modulator's f32 accuracy, `grad::elem_rel`), plus the stencil's own
/// error: `2·|c₁ − c₂|` (the 3-point differences at `h` and `2h` differ by
/// the truncation error, or by a slope jump when a switch of the whole case,
/// such as `max(den, eps)`, lies inside the stencil), [`FD_NOISE`], and
/// `2·res/h`: `res` bounds the reference's absolute rounding error where it
/// is not relative to its value (the region part's resolution,
/// `multi::region_resolution`), which the stencil's weights `18/12h` carry
/// into the difference. Found by `multiclass_backward` (seeds
/// `tversky-score-near-one-flat-reference`, `log-dice-margin-30-flat-reference`):
/// `1 − score` ≈ 1e-5 under γ = 3, and `FN = 1 − p` = 9.4e-14 of a pixel
/// with margin 30, both move by less than f64's `2^-53` over the stencil:
/// the reference is flat (FD 0) where the true gradient (mpmath) is
/// −6.7e-24 and −2.3e-14, segloss's values.
#[allow(clippy::too_many_arguments)]
fn check_fd(
    what: &str,
    g: &[f32],
    pred: &[f32],
    logits: bool,
    scale: f32,
    skip: &[bool],
    kappa: f64,
    erel: f64,
    res: f64,
    value: impl Fn(&[f64]) -> Option<f64>,
) {
    let x0: Vec<f64> = pred.iter().map(|&v| f64::from(v)).collect();
    let Some(f0) = value(&x0).filter(|v| v.is_finite()) else {
        return;
    };
    let s64 = f64::from(scale);
    let mut x = x0.clone();
    let mut want = vec![None; x0.len()];
    for i in 0..x0.len() {
        if skip[i] {
            continue;
        }
        let h = oracle::fd_step(x0[i], logits);
        let mut at = |v: f64| {
            x[i] = v;
            let r = value(&x);
            x[i] = x0[i];
            r
        };
        let (Some(p1), Some(m1), Some(p2), Some(m2)) = (
            at(x0[i] + h),
            at(x0[i] - h),
            at(x0[i] + 2.0 * h),
            at(x0[i] - 2.0 * h),
        ) else {
            continue; // a perturbed point is outside the reference's domain
        };
        let fmax = [f0, p1, m1, p2, m2]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let c1 = (p1 - m1) / (2.0 * h);
        let c2 = (p2 - m2) / (4.0 * h);
        let fd = (4.0 * c1 - c2) / 3.0;
        if !fd.is_finite() {
            continue;
        }
        let slack = 2.0 * (c1 - c2).abs() + (FD_NOISE * fmax + 2.0 * res) / h;
        // A switch of the whole case exactly at `x0` (`den = eps` of
        // `max(den, eps)`): the central differences average the two slopes
        // and agree with each other, so `slack` does not see it, while the
        // gradient is one side's slope (torch's choice at the tie). The
        // jump, with the one-sided differences' curvature removed
        // (Richardson), is `2·(r₁ − l₁) − (r₂ − l₂)`; where it is clear of
        // the noise, either side's slope is accepted. Found by
        // `multiclass_backward` (seed `tversky-den-equals-eps`: three
        // one-pixel images, logits all −20, α = β = ½, eps = 2: class 0's
        // den is exactly 2).
        let (r1, l1) = ((p1 - f0) / h, (f0 - m1) / h);
        let (r2, l2) = ((p2 - f0) / (2.0 * h), (f0 - m2) / (2.0 * h));
        let jump = 2.0 * (r1 - l1) - (r2 - l2);
        // At a smooth point the jump is O(h³) (h = 1e-5·max(|x|, 1)), so a
        // relative floor of 1e-6 of the slopes keeps curvature out; 1e-3
        // hid a real tie whose jump was 5e-4 of a slope that the cross
        // entropy dominated (λ_region 6e-5 against λ_ce 5e-3; found by
        // `multiclass_backward` after a harness edit moved the fixed-seed run).
        let noise = 8.0 * (FD_NOISE * fmax + 2.0 * res) / h;
        let sides = (jump.abs() > noise + 1e-6 * (r1.abs() + l1.abs()))
            .then(|| [2.0 * r1 - r2, 2.0 * l1 - l2].map(|v| s64 * v));
        want[i] = Some((s64 * fd, s64.abs() * slack, sides));
    }
    let max = want
        .iter()
        .flatten()
        .fold(0.0f64, |m, (v, _, _)| m.max(v.abs()));
    trace(want.iter().flatten().count());
    let case_rel = GRADIENT.rel + REGION_GRADIENT_FD.rel * kappa;
    for (i, w) in want.iter().enumerate() {
        let Some((v, slack, sides)) = *w else {
            continue;
        };
        let got = f64::from(g[i]);
        let bound = case_rel * max + slack + (erel + 2.0 * U32) * v.abs() + F32_MIN_NORMAL;
        let one_side = sides.is_some_and(|s| s.iter().any(|s| (got - s).abs() <= bound));
        if !((got - v).abs() <= bound || one_side) {
            fail(
                what,
                format!(
                    "grad[{i}] = {got:e}, fd {v:e} (bound {bound:e}, case max {max:e}, κ {kappa:e}, slack {slack:e}, {} elements)",
                    g.len()
                ),
            );
        }
    }
}

/// With `SEGLOSS_FUZZ_TRACE` set, prints how many cases and elements were
/// compared with finite differences (at every power of two of the cases).
fn trace(elems: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static CASES: AtomicUsize = AtomicUsize::new(0);
    static ELEMS: AtomicUsize = AtomicUsize::new(0);
    let n = CASES.fetch_add(1, Relaxed) + 1;
    let e = ELEMS.fetch_add(elems, Relaxed) + elems;
    if n.is_power_of_two() && std::env::var_os("SEGLOSS_FUZZ_TRACE").is_some() {
        eprintln!("multiclass_backward: {n} FD cases, {e} elements compared");
    }
}

/// κ of `tolerance::REGION_GRADIENT_FD`: the largest `n_c/(FP_c + FN_c)`
/// over the classes with a target (per image with `per_image`).
fn region_kappa(
    probs: &[f64],
    labels: &[f64],
    dims: [usize; 3],
    multiclass: bool,
    ignore: Option<f64>,
    per_image: bool,
) -> f64 {
    let [n, c, _] = dims;
    let groups: Vec<core::ops::Range<usize>> = if per_image {
        (0..n).map(|b| b..b + 1).collect()
    } else {
        core::iter::once(0..n).collect()
    };
    let mut kappa = 0.0f64;
    for grp in groups {
        for k in 0..c {
            let (ps, ys) =
                multi::class_pairs(probs, labels, dims, k, grp.clone(), multiclass, ignore);
            let sy: f64 = ys.iter().sum();
            let off: f64 = ps.iter().zip(&ys).map(|(p, y)| (p - y).abs()).sum();
            if sy > 0.0 && off > 0.0 {
                kappa = kappa.max(ps.len() as f64 / off);
            }
        }
    }
    kappa
}

/// Whether focal's switches lie near the logit `z` it reads (target `y`):
/// `pt = r`, within [`FD_SWITCH`].
fn near_reduced(f: &Focal, z: f64, y: f64) -> bool {
    f.reduced_threshold.is_some_and(|r| {
        let r = f64::from(r);
        let pt = (-oracle::bce_with_logits(z, y, 1.0)).exp();
        (pt - r).abs() <= FD_SWITCH * r
    })
}

/// Whether a probability lies near focal's clamp `[eps, 1 − eps]`.
fn near_clamp(f: &Focal, p: f64) -> bool {
    let e = f64::from(f.eps);
    (p - e).abs() <= FD_SWITCH * e || (p - (1.0 - e)).abs() <= FD_SWITCH * e
}

// ------------------------------------------------------------ multiclass

fn run_mc<L: Id>(cs: &Case, scale: f32, grad_sel: u8) {
    let [n, c, s] = cs.dims;
    let Ok(shape) = Shape::new(n, c, s) else {
        return;
    }; // the forward target checks Shape::new
    let ids: Vec<L> = cs.ids.iter().map(|&v| L::make(v)).collect();
    let labels: Vec<f64> = ids.iter().map(|t| t.id() as f64).collect();
    let classes = Classes::default()
        .with_classes(cs.classes.as_deref())
        .with_weights(cs.weights.as_deref())
        .with_per_image(cs.per_image);
    let (la, lb) = cs.lambdas;
    let losses = [
        mc::Loss::Region(cs.tversky),
        mc::Loss::Focal(cs.focal),
        mc::Loss::CrossEntropy(cs.ce),
        mc::Loss::RegionCe {
            region: cs.tversky,
            ce: cs.ce,
            lambda_region: la,
            lambda_ce: lb,
        },
        mc::Loss::RegionFocal {
            region: cs.tversky,
            focal: cs.focal,
            lambda_region: la,
            lambda_focal: lb,
        },
    ];
    let len = cs.pred.len();
    let grad_len = match grad_sel % 13 {
        3 => len + 1,
        5 => len.saturating_sub(1),
        _ => len,
    };
    let unwritten_ok = cs.pred.iter().any(|v| v.to_bits() == UNWRITTEN);
    let nan_in: Vec<bool> = cs.pred.iter().map(|v| v.is_nan()).collect();
    for l in &losses {
        let what = format!("multiclass backward {l:?}, scale {scale:e}");
        let fwd = mc::loss(&cs.pred, &ids, shape, l, &classes);
        let mut g = vec![f32::from_bits(UNWRITTEN); grad_len];
        let got = bmc::loss(&cs.pred, &ids, shape, l, &classes, &mut g, scale);
        let Some(loss) = check_result(&what, &fwd, &got, len, grad_len) else {
            continue;
        };

        // Const C: the same loss and gradient bits.
        if grad_sel & 0x80 != 0 && (c == 3 || c == 4) {
            let mut g2 = vec![f32::from_bits(UNWRITTEN); grad_len];
            let r2 = if c == 3 {
                bmc::loss_fixed::<3, L>(&cs.pred, &ids, shape, l, &classes, &mut g2, scale)
            } else {
                bmc::loss_fixed::<4, L>(&cs.pred, &ids, shape, l, &classes, &mut g2, scale)
            };
            if !matches!(r2, Ok(v) if same_bits(v, loss))
                || g.iter().zip(&g2).any(|(a, b)| !same_bits(*a, *b))
            {
                fail(
                    &what,
                    format!("loss_fixed::<{c}> differs: {r2:?} vs {loss:e}"),
                );
            }
        }

        let (r, ce, f) = parts(l);
        let logits = match (r, f) {
            (Some(t), _) => t.region.from_logits,
            (None, Some(f)) => f.from_logits,
            _ => true,
        };
        let ig_a = r.and_then(|t| ignore_id(t.region.ignore_index));
        let ig_f = f.and_then(|f| ignore_id(f.ignore_index));
        let listed = |k: usize| cs.classes.as_ref().is_none_or(|cl| cl.contains(&k));
        let roles: Vec<Role> = (0..len)
            .map(|i| {
                let (b, k, j) = (i / (c * s), (i / s) % c, i % s);
                let id = ids[b * s + j].id();
                let keep_r = r.is_some() && ig_a != Some(id);
                let keep_ce = ce.is_some_and(|ce| ce.ignore_index != Some(id));
                let keep_f = f.is_some() && ig_f != Some(id);
                Role {
                    ignored: !(keep_r || keep_ce || keep_f),
                    // Through the softmax every class of a kept pixel is read.
                    reads: (keep_r && (logits || listed(k))) || keep_ce || keep_f,
                }
            })
            .collect();
        let finite_inputs = cs.pred.iter().all(|v| v.is_finite()) && mc_domain(&cs.pred, logits);
        let finite_case = finite_inputs && loss.is_finite() && moderate_case(cs, scale);
        check_grad(&what, &g, &roles, &nan_in, finite_case, unwritten_ok);

        // Finite differences on small, well-conditioned cases.
        let in_fd = |v: &f32| {
            let v = f64::from(*v);
            if logits {
                v.abs() <= FD_LOGIT
            } else {
                (FD_PROB..=1.0 - FD_PROB).contains(&v)
            }
        };
        if !(len <= FD_MAX_LEN
            && finite_case
            && cs.pred.iter().all(in_fd)
            && (!logits || margins_in_fd(&cs.pred, cs.dims))
            && grad::scale_in_domain(scale))
        {
            continue;
        }
        let dims = cs.dims;
        let x64: Vec<f64> = cs.pred.iter().map(|&v| f64::from(v)).collect();
        let probs = oracle::probabilities(oracle::Mode::Multiclass, logits, dims, &x64);
        let kappa = match r {
            Some(_) => region_kappa(
                &probs,
                &labels,
                dims,
                true,
                ig_a.map(|v| v as f64),
                cs.per_image,
            ),
            None => 0.0,
        };
        let erel = f.map_or(0.0, |f| {
            let g = f64::from(f.gamma);
            let mag = if f.from_logits {
                0.0
            } else {
                -f64::from(f.eps).ln()
            };
            elem_rel(g) + (g + 1.0) * mag * LOGIT_ROUND
        });
        let skip: Vec<bool> = (0..len)
            .map(|i| {
                let (b, k, j) = (i / (c * s), (i / s) % c, i % s);
                let label = labels[b * s + j];
                let y = if label == k as f64 { 1.0 } else { 0.0 };
                roles[i].ignored
                    || f.is_some_and(|f| {
                        let z = if f.from_logits {
                            x64[i]
                        } else {
                            x64[i].clamp(f64::from(f.eps), 1.0 - f64::from(f.eps)).ln()
                        };
                        near_reduced(f, z, y) || (!f.from_logits && near_clamp(f, x64[i]))
                    })
            })
            .collect();
        let res = r.map_or(0.0, |t| {
            let lambda = match l {
                mc::Loss::RegionCe { lambda_region, .. }
                | mc::Loss::RegionFocal { lambda_region, .. } => f64::from(*lambda_region),
                _ => 1.0,
            };
            lambda.abs()
                * multi::region_resolution(
                    t,
                    &probs,
                    &labels,
                    dims,
                    true,
                    ig_a.map(|v| v as f64),
                    cs.classes.as_deref(),
                    cs.weights.as_deref(),
                    cs.per_image,
                )
        });
        check_fd(
            &what,
            &g,
            &cs.pred,
            logits,
            scale,
            &skip,
            kappa,
            erel,
            res,
            |x| mc_value(cs, l, &labels, x),
        );
    }
}

/// Whether every pixel's softmax margin `max_k x_k − x_c` is at most
/// [`FD_LOGIT`]: the softmax saturates in f64 with the logits' differences,
/// not their size (|x| ≤ 30 allows a margin of 60: `1 − p_max` = e^-40 is
/// below f64's resolution at 1, the reference is flat and its difference 0
/// where the true slope is `p·(1 − p)`-sized).
fn margins_in_fd(pred: &[f32], [n, c, s]: [usize; 3]) -> bool {
    (0..n * s).all(|px| {
        let (b, j) = (px / s, px % s);
        let xs = (0..c).map(|k| f64::from(pred[(b * c + k) * s + j]));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        c == 0 || hi - lo <= FD_LOGIT
    })
}

/// The f64 reference value of a multiclass loss at predictions `x` (the
/// `multiclass` target's references, `want` of each band).
fn mc_value(cs: &Case, l: &mc::Loss, labels: &[f64], x: &[f64]) -> Option<f64> {
    let dims = cs.dims;
    let (r, _, f) = parts(l);
    let logits = match (r, f) {
        (Some(t), _) => t.region.from_logits,
        (None, Some(f)) => f.from_logits,
        _ => true,
    };
    let w = cs.weights.as_deref();
    let region = |t: &Tversky| {
        let probs = oracle::probabilities(oracle::Mode::Multiclass, logits, dims, x);
        let ig = ignore_id(t.region.ignore_index).map(|v| v as f64);
        multi::region(
            t,
            &probs,
            labels,
            dims,
            true,
            ig,
            cs.classes.as_deref(),
            w,
            cs.per_image,
        )
        .want
    };
    let focal = |f: &Focal| {
        let xs: Vec<f64> = if f.from_logits {
            x.to_vec()
        } else {
            let e = f64::from(f.eps);
            x.iter().map(|&p| p.clamp(e, 1.0 - e).ln()).collect()
        };
        let ig = ignore_id(f.ignore_index).map(|v| v as f64);
        multi::focal(
            &f.with_from_logits(true),
            &xs,
            labels,
            dims,
            true,
            ig,
            w,
            0.0,
        )
        .map(|b| b.want)
    };
    let ce = |ce: &CrossEntropy| multi::cross_entropy(ce, x, labels, dims, w).want;
    match l {
        mc::Loss::Region(t) => Some(region(t)),
        mc::Loss::Focal(fc) => focal(fc),
        mc::Loss::CrossEntropy(c) => Some(ce(c)),
        mc::Loss::RegionCe {
            region: t,
            ce: c,
            lambda_region,
            lambda_ce,
        } => Some(f64::from(*lambda_region) * region(t) + f64::from(*lambda_ce) * ce(c)),
        mc::Loss::RegionFocal {
            region: t,
            focal: fc,
            lambda_region,
            lambda_focal,
        } => {
            focal(fc).map(|v| f64::from(*lambda_region) * region(t) + f64::from(*lambda_focal) * v)
        }
    }
}

// ------------------------------------------------------------ multilabel

fn run_ml<T: Target + Into<f64> + core::fmt::Debug>(
    cs: &Case,
    target: &[T],
    scale: f32,
    grad_sel: u8,
) {
    let [n, c, s] = cs.dims;
    let Ok(shape) = Shape::new(n, c, s) else {
        return;
    };
    let ys: Vec<f64> = target.iter().map(|&t| t.into()).collect();
    let classes = Classes::default()
        .with_classes(cs.classes.as_deref())
        .with_weights(cs.weights.as_deref())
        .with_per_image(cs.per_image);
    let (la, lb) = cs.lambdas;
    let losses = [
        ml::Loss::Region(cs.tversky),
        ml::Loss::Focal(cs.focal),
        ml::Loss::RegionFocal {
            region: cs.tversky,
            focal: cs.focal,
            lambda_region: la,
            lambda_focal: lb,
        },
    ];
    let len = cs.pred.len();
    let grad_len = match grad_sel % 13 {
        3 => len + 1,
        5 => len.saturating_sub(1),
        _ => len,
    };
    let unwritten_ok = cs
        .pred
        .iter()
        .chain(&cs.ml_f32)
        .any(|v| v.to_bits() == UNWRITTEN);
    for l in &losses {
        let what = format!("multilabel backward {l:?}, scale {scale:e}");
        let fwd = ml::loss(&cs.pred, target, shape, l, &classes);
        let mut g = vec![f32::from_bits(UNWRITTEN); grad_len];
        let got = bml::loss(&cs.pred, target, shape, l, &classes, &mut g, scale);
        let Some(loss) = check_result(&what, &fwd, &got, len, grad_len) else {
            continue;
        };

        if grad_sel & 0x80 != 0 && (c == 3 || c == 4) {
            let mut g2 = vec![f32::from_bits(UNWRITTEN); grad_len];
            let r2 = if c == 3 {
                bml::loss_fixed::<3, T>(&cs.pred, target, shape, l, &classes, &mut g2, scale)
            } else {
                bml::loss_fixed::<4, T>(&cs.pred, target, shape, l, &classes, &mut g2, scale)
            };
            if !matches!(r2, Ok(v) if same_bits(v, loss))
                || g.iter().zip(&g2).any(|(a, b)| !same_bits(*a, *b))
            {
                fail(
                    &what,
                    format!("loss_fixed::<{c}> differs: {r2:?} vs {loss:e}"),
                );
            }
        }

        let (r, f) = ml_parts(l);
        let logits = match (r, f) {
            (Some(t), _) => t.region.from_logits,
            (None, Some(f)) => f.from_logits,
            _ => true,
        };
        // One ignore value (the parts must agree: ConfigMismatch otherwise).
        let ignore = match (r, f) {
            (Some(t), _) => t.region.ignore_index,
            (None, Some(f)) => f.ignore_index,
            _ => None,
        };
        let listed = |k: usize| cs.classes.as_ref().is_none_or(|cl| cl.contains(&k));
        let roles: Vec<Role> = (0..len)
            .map(|i| {
                let k = (i / s) % c;
                let ignored = ignore.map(f64::from) == Some(ys[i]);
                Role {
                    ignored,
                    reads: !ignored && ((r.is_some() && listed(k)) || f.is_some()),
                }
            })
            .collect();
        let nan_in: Vec<bool> = cs
            .pred
            .iter()
            .zip(&ys)
            .map(|(x, y)| x.is_nan() || y.is_nan())
            .collect();
        let finite_inputs = cs.pred.iter().all(|v| v.is_finite())
            && ys.iter().all(|y| y.is_finite())
            && in_domain(&cs.pred, &ys, logits, ignore);
        let finite_case = finite_inputs && loss.is_finite() && moderate_case(cs, scale);
        check_grad(&what, &g, &roles, &nan_in, finite_case, unwritten_ok);

        let in_fd = |v: &f32| {
            let v = f64::from(*v);
            if logits {
                v.abs() <= FD_LOGIT
            } else {
                (FD_PROB..=1.0 - FD_PROB).contains(&v)
            }
        };
        if !(len <= FD_MAX_LEN
            && finite_case
            && cs.pred.iter().all(in_fd)
            && grad::scale_in_domain(scale))
        {
            continue;
        }
        let dims = cs.dims;
        let x64: Vec<f64> = cs.pred.iter().map(|&v| f64::from(v)).collect();
        let p64 = probs(&x64, logits);
        let ig = ignore.map(f64::from);
        let kappa = if r.is_some() {
            region_kappa(&p64, &ys, dims, false, ig, cs.per_image)
        } else {
            0.0
        };
        let erel = f.map_or(0.0, |f| elem_rel(f64::from(f.gamma)));
        let skip: Vec<bool> = (0..len)
            .map(|i| {
                let (x, p, y) = (x64[i], p64[i], ys[i]);
                // The stencil's reach in p: ±2h·dp/dx.
                let h = oracle::fd_step(x, logits);
                let reach = 2.0 * h * if logits { p * (1.0 - p) } else { 1.0 };
                roles[i].ignored
                    || (r.is_some() && (p - y).abs() <= KINK * p.max(y) + 2.0 * reach)
                    || f.is_some_and(|f| {
                        let z = if f.from_logits {
                            x
                        } else {
                            let e = f64::from(f.eps);
                            let pc = p.clamp(e, 1.0 - e);
                            (pc / (1.0 - pc)).ln()
                        };
                        near_reduced(f, z, y) || (!f.from_logits && near_clamp(f, p))
                    })
            })
            .collect();
        let res = r.map_or(0.0, |t| {
            let lambda = match l {
                ml::Loss::RegionFocal { lambda_region, .. } => f64::from(*lambda_region),
                _ => 1.0,
            };
            lambda.abs()
                * multi::region_resolution(
                    t,
                    &p64,
                    &ys,
                    dims,
                    false,
                    ig,
                    cs.classes.as_deref(),
                    cs.weights.as_deref(),
                    cs.per_image,
                )
        });
        check_fd(
            &what,
            &g,
            &cs.pred,
            logits,
            scale,
            &skip,
            kappa,
            erel,
            res,
            |x| {
                let w = cs.weights.as_deref();
                let region = |t: &Tversky| {
                    multi::region(
                        t,
                        &probs(x, logits),
                        &ys,
                        dims,
                        false,
                        ig,
                        cs.classes.as_deref(),
                        w,
                        cs.per_image,
                    )
                    .want
                };
                let focal =
                    |f: &Focal| multi::focal(f, x, &ys, dims, false, ig, w, 0.0).map(|b| b.want);
                match l {
                    ml::Loss::Region(t) => Some(region(t)),
                    ml::Loss::Focal(fc) => focal(fc),
                    ml::Loss::RegionFocal {
                        region: t,
                        focal: fc,
                        lambda_region,
                        lambda_focal,
                    } => focal(fc).map(|v| {
                        f64::from(*lambda_region) * region(t) + f64::from(*lambda_focal) * v
                    }),
                }
            },
        );
    }
}

fuzz_target!(|inp: Input| {
    let cs = nchw::build(&inp.case);
    let scale = grad::scale_of(inp.scale);
    match inp.case.id_type % 4 {
        0 => run_mc::<u8>(&cs, scale, inp.grad_sel),
        1 => run_mc::<u16>(&cs, scale, inp.grad_sel),
        2 => run_mc::<i32>(&cs, scale, inp.grad_sel),
        _ => run_mc::<i64>(&cs, scale, inp.grad_sel),
    }
    run_ml(&cs, &cs.ml_f32, scale, inp.grad_sel);
    run_ml(&cs, &cs.ml_u8, scale, inp.grad_sel);
});
