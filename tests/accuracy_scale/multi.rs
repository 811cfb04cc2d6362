//! Accuracy at scale of the multiclass and multilabel losses (SPEC
//! "Accuracy", issue 7): `N·C·S` = 2^20, 2^24 and 2^26 elements (N = 2
//! images, C = 4 classes), ordinary and pathological data, every loss family
//! against an f64 reference. `#[ignore]`d like the binary tests (run by
//! `.ci/run` with `-- --ignored accuracy_scale::`; `--nocapture` prints the
//! table of measured errors).
//!
//! # The reference
//!
//! Streaming, no f64 copies: one pass over the f32 inputs widened to f64,
//! per pixel (multiclass) or per element (multilabel), into per-class
//! Neumaier sums ([`Sum`]); two threads take halves of the pixels and their
//! (sum, compensation) pairs are merged, so the reference is exact to a few
//! f64 ulp whatever the kernel's blocking, and the peak memory is the f32
//! data (2^26 logits: 256 MiB) plus O(C) sums.
//!
//! The multiclass softmax is max-shifted, `e_k = exp(x_k − m)`, and the
//! quantities that cancel for a confident pixel are formed without a
//! subtraction: `1 − p_k = (Σ_{j≠k} e_j)/Σe` and `−ln p_k = (m − x_k) +
//! ln_1p(Σ_{j≠argmax} e_j)` (`x_k − m` is exact in f64 for f32 inputs). smp's
//! multiclass focal loss is one-vs-rest on the raw logit:
//! `logpt = max(∓x, 0) + ln_1p(e^-|x|)` and `1 − pt = σ(±x)` from the same
//! `e^-|x|` (equal to SPEC's `1 − e^-logpt`, without its cancellation).
//! The losses are then SPEC's formulas on those sums (region losses through
//! the oracle's `region_class_loss`); `reference_matches_oracle` checks the
//! streamed values against the plain oracle on small inputs of every
//! scenario.
//!
//! Bounds: `REGION` (1e-6·max(|exact|, 1)) for Dice, Jaccard and Tversky,
//! `CROSS_ENTROPY` (1e-6 relative) for focal (γ = 2), cross entropy and the
//! combined losses (`λ_r·region + λ·ce` is a sum of a region value, bounded
//! absolutely below 1, and a cross entropy: it uses `REGION`, whose
//! `max(|exact|, 1)` scale holds for both parts). No wider tolerance is
//! needed: the worst measured error is ~5e-8 (printed with `--nocapture`).
//! As in the binary tests, an exact value below f32's range (the focal loss
//! of "ml-logits-near-88-right" is ~1e-106) is returned as 0 and is not an
//! error; the Dice of "mc-softmax-underflow" (~1e-36 exactly) is 0 in f64
//! too, as `1 − score` cancels, which `REGION`'s absolute scale allows.

use super::{ALPHA, Row, Sum, TV, report, scaled_err};
use crate::datagen::Rng;
use crate::support::oracle as o;
use crate::support::tolerance::{CROSS_ENTROPY, REGION};

use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
use segloss::{Focal, Reduction, Region, Tversky, multilabel};
use std::time::Instant;

/// Images per batch.
const N: usize = 2;
/// Classes (channels).
const C: usize = 4;
/// The ignore value of every loss (class id, or multilabel target).
const IGNORE: u8 = 255;
/// Label smoothing of the smoothed cross entropy.
const SMOOTHING: f32 = 0.1;
/// `(λ_region, λ_ce)` and `(λ_region, λ_focal)` of the combined losses.
const LAMBDAS: (f32, f32) = (1.0, 0.5);

/// One scenario's data in NCHW layout.
struct Data {
    name: &'static str,
    multiclass: bool,
    shape: Shape,
    logits: Vec<f32>,
    /// Class ids (`N·S`, multiclass) or 0/1 targets (`N·C·S`, multilabel);
    /// `IGNORE` drops the pixel (multiclass) or the element (multilabel).
    target: Vec<u8>,
}

/// The reference sums: per class, the region sums `Σp`, `Σy`, `Σ|p − y|`,
/// smp's focal sum (γ = 2, α) and the kept count; the cross-entropy sums
/// `Σ −ln p_y` and `Σ_i Σ_c −ln p_c` (multiclass only).
#[derive(Clone, Copy, Default)]
struct Sums {
    sp: [Sum; C],
    sy: [Sum; C],
    sa: [Sum; C],
    focal: [Sum; C],
    kept: [u64; C],
    ce: Sum,
    ce_smooth: Sum,
}

impl Sums {
    fn merge(&mut self, o: &Sums) {
        for k in 0..C {
            self.sp[k].merge(&o.sp[k]);
            self.sy[k].merge(&o.sy[k]);
            self.sa[k].merge(&o.sa[k]);
            self.focal[k].merge(&o.focal[k]);
            self.kept[k] += o.kept[k];
        }
        self.ce.merge(&o.ce);
        self.ce_smooth.merge(&o.ce_smooth);
    }

    /// The region terms of one element: `p`, `1 − p` (formed apart) and `y`.
    #[inline(always)]
    fn region(&mut self, k: usize, p: f64, q: f64, y: bool) {
        self.sp[k].add(p);
        self.sy[k].add(f64::from(u8::from(y)));
        self.sa[k].add(if y { q } else { p });
    }
}

/// smp's focal term (γ = 2, α = `ALPHA`) of raw logit `x` with
/// `e = e^-|x|`, target `y`: `logpt = softplus(∓x)` and `1 − pt = σ(±x)`.
#[inline(always)]
fn focal_term(x: f64, e: f64, y: bool) -> f64 {
    let logpt = if y { (-x).max(0.0) } else { x.max(0.0) } + e.ln_1p();
    // σ(x) for y = 0, σ(−x) for y = 1, both from e without cancellation.
    let omp = if (x >= 0.0) != y { 1.0 } else { e } / (1.0 + e);
    let a = f64::from(ALPHA);
    omp * omp * logpt * if y { a } else { 1.0 - a }
}

/// Multiclass reference sums over the pixels `lo..hi` (of `N·S`).
fn multiclass_part(d: &Data, lo: usize, hi: usize) -> Sums {
    let s = d.shape.s();
    let mut out = Sums::default();
    let (mut x, mut e) = ([0.0f64; C], [0.0f64; C]);
    for i in lo..hi {
        let t = d.target[i];
        if t == IGNORE {
            continue;
        }
        let (b, j) = (i / s, i % s);
        for (k, v) in x.iter_mut().enumerate() {
            *v = f64::from(d.logits[(b * C + k) * s + j]);
        }
        let top = (1..C).fold(0, |t, k| if x[k] > x[t] { k } else { t });
        let m = x[top];
        for k in 0..C {
            e[k] = (x[k] - m).exp();
        }
        let others = |k: usize| (0..C).filter(|&j| j != k).map(|j| e[j]).sum::<f64>();
        let rest = others(top);
        let (z, lnz) = (1.0 + rest, rest.ln_1p());
        let mut smooth = 0.0;
        for k in 0..C {
            let y = usize::from(t) == k;
            out.region(k, e[k] / z, others(k) / z, y);
            let nl = (m - x[k]) + lnz;
            smooth += nl;
            if y {
                out.ce.add(nl);
            }
            out.focal[k].add(focal_term(x[k], (-x[k].abs()).exp(), y));
            out.kept[k] += 1;
        }
        out.ce_smooth.add(smooth);
    }
    out
}

/// Multilabel reference sums over the elements `lo..hi` (of `N·C·S`).
fn multilabel_part(d: &Data, lo: usize, hi: usize) -> Sums {
    let s = d.shape.s();
    let mut out = Sums::default();
    for i in lo..hi {
        let t = d.target[i];
        if t == IGNORE {
            continue;
        }
        let k = (i / s) % C;
        let x = f64::from(d.logits[i]);
        let e = (-x.abs()).exp();
        let (big, small) = (1.0 / (1.0 + e), e / (1.0 + e));
        let (p, q) = if x >= 0.0 { (big, small) } else { (small, big) };
        let y = t == 1;
        out.region(k, p, q, y);
        out.focal[k].add(focal_term(x, e, y));
        out.kept[k] += 1;
    }
    out
}

/// The reference sums of all of `d`, on two threads.
fn reference(d: &Data) -> Sums {
    let len = d.target.len();
    let part = if d.multiclass {
        multiclass_part
    } else {
        multilabel_part
    };
    let mid = len / 2;
    let (mut a, b) = std::thread::scope(|sc| {
        let h = sc.spawn(|| part(d, mid, len));
        (part(d, 0, mid), h.join().unwrap())
    });
    a.merge(&b);
    a
}

/// Class `k`'s Dice loss, with smp's empty-class rule.
fn dice_class_ref(s: &Sums, k: usize) -> f64 {
    let sy = s.sy[k].get();
    if sy > 0.0 {
        o::region_class_loss(&o::Region::dice(), s.sp[k].get(), sy, s.sa[k].get())
    } else {
        0.0
    }
}

/// The region loss `(mean_c loss_c)^γ` with smp's empty-class rule.
fn region_ref(s: &Sums, alpha: f32, beta: f32, gamma: f32) -> f64 {
    let r = o::Region::with_alpha_beta(f64::from(alpha), f64::from(beta));
    let mean = (0..C)
        .map(|k| {
            let sy = s.sy[k].get();
            if sy > 0.0 {
                o::region_class_loss(&r, s.sp[k].get(), sy, s.sa[k].get())
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / C as f64;
    if gamma == 1.0 {
        mean
    } else {
        mean.powf(f64::from(gamma))
    }
}

/// smp's focal loss: each class's mean over its kept elements, then the mean.
fn focal_ref(s: &Sums) -> f64 {
    (0..C)
        .map(|k| s.focal[k].get() / s.kept[k] as f64)
        .sum::<f64>()
        / C as f64
}

/// PyTorch's cross entropy with label smoothing `ls`, summed over the kept
/// pixels (`mean`: divided by their count).
fn ce_ref(s: &Sums, ls: f32, mean: bool) -> f64 {
    let ls = f64::from(ls);
    let mut total = (1.0 - ls) * s.ce.get();
    if ls != 0.0 {
        total += ls / C as f64 * s.ce_smooth.get();
    }
    if mean {
        total / s.kept[0] as f64
    } else {
        total
    }
}

/// The losses of one scenario that `keep` names.
fn measure(d: &Data, s: &Sums, keep: &[&str]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |loss: &str, got: &dyn Fn() -> Result<f32, segloss::Error>, want: f64, tol| {
        if keep.contains(&loss) {
            rows.push(Row {
                loss: loss.to_owned(),
                got: got().unwrap(),
                want,
                tol,
            })
        }
    };
    let (shape, cl) = (d.shape, Classes::default());
    // The last class alone (the tiny class of the "tiny" scenarios).
    let last = Classes::default().with_classes(Some(&[C - 1]));
    let dice_last = dice_class_ref(s, C - 1);
    let region = Region::default().with_ignore_index(Some(f32::from(IGNORE)));
    let tv = Tversky {
        region,
        alpha: TV.0,
        beta: TV.1,
        gamma: TV.2,
    };
    let focal = Focal::default()
        .with_alpha(Some(ALPHA))
        .with_ignore_index(Some(f32::from(IGNORE)));
    let dice = region_ref(s, 0.5, 0.5, 1.0);
    let jaccard = region_ref(s, 1.0, 1.0, 1.0);
    let tversky = region_ref(s, TV.0, TV.1, TV.2);
    let focal_want = focal_ref(s);
    let (l_r, l_2) = (f64::from(LAMBDAS.0), f64::from(LAMBDAS.1));
    let (p, t) = (&d.logits[..], &d.target[..]);
    if d.multiclass {
        let ce = CrossEntropy::default().with_ignore_index(Some(i64::from(IGNORE)));
        let ls = ce
            .with_label_smoothing(SMOOTHING)
            .with_reduction(Reduction::Sum);
        let ce_want = ce_ref(s, 0.0, true);
        use multiclass as mc;
        row(
            "mc dice",
            &|| mc::dice(p, t, shape, &region, &cl),
            dice,
            REGION,
        );
        row(
            "mc dice of class 3",
            &|| mc::dice(p, t, shape, &region, &last),
            dice_last,
            REGION,
        );
        row(
            "mc jaccard",
            &|| mc::jaccard(p, t, shape, &region, &cl),
            jaccard,
            REGION,
        );
        row(
            "mc tversky γ=4/3",
            &|| mc::tversky(p, t, shape, &tv, &cl),
            tversky,
            REGION,
        );
        row(
            "mc focal γ=2 α",
            &|| mc::focal(p, t, shape, &focal, &cl),
            focal_want,
            CROSS_ENTROPY,
        );
        row(
            "mc cross_entropy",
            &|| mc::cross_entropy(p, t, shape, &ce, &cl),
            ce_want,
            CROSS_ENTROPY,
        );
        row(
            "mc cross_entropy ls sum",
            &|| mc::cross_entropy(p, t, shape, &ls, &cl),
            ce_ref(s, SMOOTHING, false),
            CROSS_ENTROPY,
        );
        row(
            "mc dice_ce",
            &|| mc::dice_ce(p, t, shape, &region, &ce, LAMBDAS, &cl),
            l_r * dice + l_2 * ce_want,
            REGION,
        );
        row(
            "mc dice_focal",
            &|| mc::dice_focal(p, t, shape, &region, &focal, LAMBDAS, &cl),
            l_r * dice + l_2 * focal_want,
            REGION,
        );
    } else {
        use multilabel as ml;
        row(
            "ml dice",
            &|| ml::dice(p, t, shape, &region, &cl),
            dice,
            REGION,
        );
        row(
            "ml dice of channel 3",
            &|| ml::dice(p, t, shape, &region, &last),
            dice_last,
            REGION,
        );
        row(
            "ml jaccard",
            &|| ml::jaccard(p, t, shape, &region, &cl),
            jaccard,
            REGION,
        );
        row(
            "ml tversky γ=4/3",
            &|| ml::tversky(p, t, shape, &tv, &cl),
            tversky,
            REGION,
        );
        row(
            "ml focal γ=2 α",
            &|| ml::focal(p, t, shape, &focal, &cl),
            focal_want,
            CROSS_ENTROPY,
        );
        row(
            "ml dice_focal",
            &|| ml::dice_focal(p, t, shape, &region, &focal, LAMBDAS, &cl),
            l_r * dice + l_2 * focal_want,
            REGION,
        );
    }
    rows
}

/// Every loss of both modes.
const EVERY_LOSS: &[&str] = &[
    "mc dice",
    "mc dice of class 3",
    "mc jaccard",
    "mc tversky γ=4/3",
    "mc focal γ=2 α",
    "mc cross_entropy",
    "mc cross_entropy ls sum",
    "mc dice_ce",
    "mc dice_focal",
    "ml dice",
    "ml dice of channel 3",
    "ml jaccard",
    "ml tversky γ=4/3",
    "ml focal γ=2 α",
    "ml dice_focal",
];

/// One kernel per family and mode (dice_ce and dice_focal are Dice plus
/// cross entropy or focal from one pass) and the last class's Dice alone:
/// for the pathological scenarios at 2^24 and for 2^26.
const CORE_LOSSES: &[&str] = &[
    "mc dice of class 3",
    "mc focal γ=2 α",
    "mc dice_ce",
    "ml dice of channel 3",
    "ml dice_focal",
];

/// Multiclass scenarios: (name, how a pixel's label and logits are drawn).
const MULTICLASS: &[&str] = &[
    "mc-random",
    "mc-logits-near-88-right",
    "mc-logits-near-88-mixed",
    "mc-softmax-underflow",
    "mc-tiny-class",
    "mc-all-one-class",
    "mc-ignore-most",
];

/// Multilabel scenarios.
const MULTILABEL: &[&str] = &[
    "ml-random",
    "ml-logits-near-88-right",
    "ml-logits-near-88-mixed",
    "ml-tiny-positive-channel",
    "ml-ignore-most",
];

/// Builds scenario `name` with `total = N·C·S` elements.
fn scenario(name: &'static str, total: usize) -> Data {
    let s = total / (N * C);
    let shape = Shape::new(N, C, s).unwrap();
    let mut rng = Rng(0x5EED_3C3C ^ total as u64 ^ (name.len() as u64) << 40);
    let mut logits = vec![0.0f32; total];
    let multiclass = name.starts_with("mc-");
    let mut target = Vec::with_capacity(if multiclass { N * s } else { total });
    // `±(80..89)`: e^-|x| straddles f32's subnormal boundary (|x| > 87.3).
    let near_88 = |rng: &mut Rng| {
        let m = 80.0 + 9.0 * rng.unit();
        if rng.chance(0.5) { m } else { -m }
    };
    if multiclass {
        for b in 0..N {
            for j in 0..s {
                let at = |k: usize| (b * C + k) * s + j;
                let mut x = [0.0f32; C];
                let label = match name {
                    // Moderately confident: the label's logit raised by 3.
                    "mc-random" | "mc-ignore-most" | "mc-all-one-class" => {
                        x.iter_mut().for_each(|v| *v = rng.range(-6.0, 6.0));
                        let label = if name == "mc-all-one-class" {
                            0
                        } else {
                            rng.below(C)
                        };
                        x[label] += 3.0;
                        if name == "mc-ignore-most" && rng.chance(0.9) {
                            IGNORE
                        } else {
                            label as u8
                        }
                    }
                    // Every logit ±(80..89); the label is the first argmax
                    // (right) or random (mixed): softmax saturates to 0/1.
                    "mc-logits-near-88-right" | "mc-logits-near-88-mixed" => {
                        x.iter_mut().for_each(|v| *v = near_88(&mut rng));
                        let top = (1..C).fold(0, |t, k| if x[k] > x[t] { k } else { t });
                        if name.ends_with("right") {
                            top as u8
                        } else {
                            rng.below(C) as u8
                        }
                    }
                    // The label's logit 0, the others −(80..110): every
                    // e^(x − max) at or below f32's subnormal boundary, so
                    // the cross entropy ln(1 + rest) and 1 − p_y are tiny.
                    "mc-softmax-underflow" => {
                        let label = rng.below(C);
                        x.iter_mut().for_each(|v| *v = rng.range(-110.0, -80.0));
                        x[label] = 0.0;
                        label as u8
                    }
                    // Class C − 1 labels exactly one pixel of the batch and
                    // has p ≈ 1e-9 elsewhere: its Dice rests on that pixel
                    // and on a Σp of ~1e-9 per pixel (FP) beside it.
                    "mc-tiny-class" => {
                        x.iter_mut().for_each(|v| *v = rng.range(-6.0, 6.0));
                        x[C - 1] = rng.range(-24.0, -18.0);
                        let label = if b == 1 && j == s / 3 {
                            x[C - 1] = 8.0;
                            C - 1
                        } else {
                            rng.below(C - 1)
                        };
                        x[label] += 3.0;
                        label as u8
                    }
                    _ => unreachable!("{name}"),
                };
                for k in 0..C {
                    logits[at(k)] = x[k];
                }
                target.push(label);
            }
        }
    } else {
        for (i, logit) in logits.iter_mut().enumerate() {
            let k = (i / s) % C;
            let (x, y) = match name {
                "ml-random" => (rng.range(-8.0, 8.0), u8::from(rng.chance(0.3))),
                "ml-logits-near-88-right" => {
                    let x = near_88(&mut rng);
                    (x, u8::from(x > 0.0))
                }
                "ml-logits-near-88-mixed" => (near_88(&mut rng), u8::from(rng.chance(0.5))),
                // Channel C − 1 has one positive in the batch, and
                // p ≈ 1e-9 on its negatives.
                "ml-tiny-positive-channel" => {
                    if k == C - 1 {
                        let y = i == total - s / 2;
                        (if y { 2.0 } else { rng.range(-24.0, -18.0) }, u8::from(y))
                    } else {
                        (rng.range(-12.0, 4.0), u8::from(rng.chance(0.3)))
                    }
                }
                "ml-ignore-most" => {
                    let y = u8::from(rng.chance(0.3));
                    let y = if rng.chance(0.9) { IGNORE } else { y };
                    (rng.range(-8.0, 8.0), y)
                }
                _ => unreachable!("{name}"),
            };
            *logit = x;
            target.push(y);
        }
    }
    Data {
        name,
        multiclass,
        shape,
        logits,
        target,
    }
}

fn run(total: usize, scenarios: &[&'static str], keep: &[&str]) {
    let mut failures = Vec::new();
    for &name in scenarios {
        let t0 = Instant::now();
        let d = scenario(name, total);
        let t1 = Instant::now();
        let s = reference(&d);
        let t2 = Instant::now();
        let rows = measure(&d, &s, keep);
        let t3 = Instant::now();
        let worst = rows.iter().map(scaled_err).fold(0.0, f64::max);
        println!(
            "n = 2^{} {:26} data {:5.2}s reference {:5.2}s kernels {:5.2}s worst err {:.2e}",
            total.trailing_zeros(),
            d.name,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            worst
        );
        report(total, d.name, &rows, &mut failures);
    }
    assert!(failures.is_empty(), "beyond the bound: {failures:?}");
}

fn every_scenario() -> Vec<&'static str> {
    MULTICLASS.iter().chain(MULTILABEL).copied().collect()
}

#[test]
#[ignore = "slow: run with -- --ignored (see the module docs)"]
fn scale_2_20() {
    run(1 << 20, &every_scenario(), EVERY_LOSS);
}

#[test]
#[ignore = "slow: run with -- --ignored (see the module docs)"]
fn scale_2_24() {
    // Every loss on random data; the core kernels on the pathological data
    // (the confident scenarios compute e^-|x| in f32's subnormal range,
    // ~5x slower on x86; every loss runs on them at 2^20).
    let (random, other): (Vec<_>, Vec<_>) = every_scenario()
        .into_iter()
        .partition(|s| s.ends_with("random"));
    run(1 << 24, &random, EVERY_LOSS);
    run(1 << 24, &other, CORE_LOSSES);
}

#[test]
#[ignore = "slow: run with -- --ignored (see the module docs)"]
fn scale_2_26() {
    // 2^24 pixels, one of them of class 3; and 2^26 multilabel elements.
    run(1 << 26, &["mc-tiny-class", "ml-random"], CORE_LOSSES);
}

/// The streamed reference equals the plain oracle (`support::oracle`, f64
/// vectors) on small inputs of every scenario (not ignored).
#[test]
fn reference_matches_oracle() {
    for name in every_scenario() {
        let d = scenario(name, 1 << 12);
        let s = reference(&d);
        let x: Vec<f64> = d.logits.iter().map(|&v| f64::from(v)).collect();
        let t: Vec<f64> = d.target.iter().map(|&v| f64::from(v)).collect();
        let shape = [d.shape.n(), d.shape.c(), d.shape.s()];
        let ign = Some(f64::from(IGNORE));
        let mode = if d.multiclass {
            o::Mode::Multiclass
        } else {
            o::Mode::Multilabel
        };
        let region = |a: f32, b: f32, g: f32| o::Region {
            gamma: f64::from(g),
            ignore_index: ign,
            ..o::Region::with_alpha_beta(f64::from(a), f64::from(b))
        };
        let focal = o::Focal {
            alpha: Some(f64::from(ALPHA)),
            ignore_index: ign,
            ..o::Focal::default()
        };
        let mut pairs = vec![
            (
                "dice",
                region_ref(&s, 0.5, 0.5, 1.0),
                o::region_loss(mode, true, shape, &region(0.5, 0.5, 1.0), &x, &t),
            ),
            (
                "tversky",
                region_ref(&s, TV.0, TV.1, TV.2),
                o::region_loss(mode, true, shape, &region(TV.0, TV.1, TV.2), &x, &t),
            ),
            (
                "focal",
                focal_ref(&s),
                o::focal_loss(mode, true, shape, &focal, &x, &t),
            ),
        ];
        if d.multiclass {
            let ce = |ls: f32| {
                o::cross_entropy(shape, &x, &t, None, ign, f64::from(ls), o::Reduction::Mean)
            };
            pairs.push(("ce", ce_ref(&s, 0.0, true), ce(0.0)));
            pairs.push(("ce ls", ce_ref(&s, SMOOTHING, true), ce(SMOOTHING)));
        }
        for (loss, ours, oracle) in pairs {
            let oracle = oracle.unwrap();
            // The oracle's plain `1 − p` and `lse − x_y` lose up to an f64
            // ulp per pixel in absolute terms (a confident pixel's cross
            // entropy 1e-36 is 0 there): 1e-12 of max(|value|, 1).
            assert!(
                (ours - oracle).abs() <= 1e-12 * oracle.abs().max(1.0),
                "{name} {loss}: streamed {ours:e} vs oracle {oracle:e}"
            );
        }
    }
}
