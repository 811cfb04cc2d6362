//! Accuracy at scale (SPEC "Accuracy"): every binary loss on 2^20, 2^24 and
//! 2^26 elements, ordinary and pathological data, against an f64 reference.
//! The multiclass and multilabel losses are in [`multi`]
//! (`tests/accuracy_scale/multi.rs`), with the same reference habits.
//!
//! These tests are `#[ignore]`d: they allocate up to 320 MiB and are too slow
//! without optimisation. `.ci/run` runs them with
//! `cargo test --test suite -- --ignored accuracy_scale::` (the test profile is optimised)
//! (about a minute in release on 2 cores, plus ~35 CPU-seconds for
//! [`multi`]; `-- --nocapture` prints the measured errors and timings).
//!
//! The reference is computed straight from the same f32 inputs widened to
//! f64, streaming (no f64 vectors): every per-element term is evaluated in f64
//! with the oracle's per-element functions and summed with Neumaier
//! compensated summation, on two threads whose (sum, compensation) pairs are
//! combined at the end, so the reference is exact to a few f64 ulp and does
//! not depend on the kernel's blocking. Data come from a fixed-seed SplitMix64.
//!
//! Bounds: `REGION` (1e-6·max(|exact|, 1)) for Dice/Jaccard/Tversky/MCC,
//! `CROSS_ENTROPY` (1e-6 relative) for the BCE family and focal with γ <= 2.5
//! (`tolerance::focal(γ)` is then exactly 1e-6).

mod multi;

use crate::datagen;
use crate::support;

use datagen::Rng;
use segloss::{
    Bce, BceWithLogits, BinaryAccumulator, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal,
    SoftBce, StatsConfig, Tversky, binary,
};
use std::time::Instant;
use support::oracle as o;
use support::tolerance::{self, CROSS_ENTROPY, REGION, Tol};

/// Neumaier's compensated sum.
#[derive(Clone, Copy, Debug, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    #[inline(always)]
    fn add(&mut self, v: f64) {
        let t = self.s + v;
        if self.s.abs() >= v.abs() {
            self.c += (self.s - t) + v;
        } else {
            self.c += (v - t) + self.s;
        }
        self.s = t;
    }
    fn merge(&mut self, o: &Sum) {
        self.add(o.s);
        self.add(o.c);
    }
    fn get(&self) -> f64 {
        self.s + self.c
    }
}

// Fixed loss parameters of the scale tests.
const POS_WEIGHT: f32 = 2.5;
const SMOOTH_FACTOR: f32 = 0.1;
const SOFT_POS_WEIGHT: f32 = 0.5;
const ALPHA: f32 = 0.25;
const TV: (f32, f32, f32) = (0.3, 0.7, 4.0 / 3.0);
/// γ of the runtime-`pow` focal kernel.
const REAL_GAMMA: f32 = 2.5;

/// Index of each reference sum.
mod k {
    pub const SP: usize = 0;
    pub const SY: usize = 1;
    pub const SA: usize = 2;
    pub const TP: usize = 3;
    pub const FP: usize = 4;
    pub const FN: usize = 5;
    pub const TN: usize = 6;
    pub const BCE_PROB: usize = 7;
    pub const BCE_LOGITS: usize = 8;
    pub const SOFT_BCE: usize = 9;
    pub const FOCAL2: usize = 10;
    pub const FOCAL_REAL: usize = 11;
    pub const FOCAL_REAL_MOD: usize = 12;
    pub const SIGMOID_FOCAL: usize = 13;
    pub const HTP: usize = 14;
    pub const HFP: usize = 15;
    pub const HFN: usize = 16;
    pub const N: usize = 17;
}

struct Data {
    name: &'static str,
    logits: bool,
    pred: Vec<f32>,
    /// u8 mask, or soft f32 targets.
    mask: Vec<u8>,
    soft: Vec<f32>,
}

impl Data {
    fn y(&self, i: usize) -> f64 {
        if self.mask.is_empty() {
            f64::from(self.soft[i])
        } else {
            f64::from(self.mask[i])
        }
    }
    fn len(&self) -> usize {
        self.pred.len()
    }
}

/// The f64 reference sums over `lo..hi`.
///
/// Straight from SPEC's formulas in f64, with the transcendentals shared
/// between the terms (one `exp`, one `ln_1p`, one `expm1` per element) so
/// 2^26 elements take seconds: `e = e^-|x|`, `softplus(±x) = max(±x, 0) +
/// ln_1p(e)`, `σ(x)` from `e`; focal `1 − pt = −expm1(−logpt)`,
/// `(1 − pt)^2.5 = (1 − pt)²·sqrt(1 − pt)`. (Checked against the oracle's
/// per-element functions in `reference_matches_oracle`.)
fn reference_part(d: &Data, lo: usize, hi: usize) -> [Sum; k::N] {
    let mut s = [Sum::default(); k::N];
    // smp's focal eps as the kernel receives it (an f32), widened.
    let eps = f64::from(1e-7f32);
    let (a, sf) = (f64::from(ALPHA), f64::from(SMOOTH_FACTOR));
    let (w, sw) = (f64::from(POS_WEIGHT), f64::from(SOFT_POS_WEIGHT));
    for i in lo..hi {
        let v = f64::from(d.pred[i]);
        let y = d.y(i);
        let z = 1.0 - y;
        // p, q = 1 − p, and softplus(x), softplus(−x) of the focal logit x.
        let (p, q, spp, spn) = if d.logits {
            let e = (-v.abs()).exp();
            let l = e.ln_1p();
            let (hi, lo) = (1.0 / (1.0 + e), e / (1.0 + e));
            let (p, q) = if v >= 0.0 { (hi, lo) } else { (lo, hi) };
            (p, q, v.max(0.0) + l, (-v).max(0.0) + l)
        } else {
            // Focal from probabilities: p clamped to [eps, 1 − eps];
            // softplus(logit p) = −ln(1 − p), softplus(−logit p) = −ln p.
            let pc = v.clamp(eps, 1.0 - eps);
            (v, 1.0 - v, -(-pc).ln_1p(), -pc.ln())
        };
        s[k::SP].add(p);
        s[k::SY].add(y);
        s[k::SA].add((p - y).abs());
        s[k::TP].add(p * y);
        s[k::FP].add(p * z);
        s[k::FN].add(q * y);
        s[k::TN].add(q * z);
        let logpt = z * spp + y * spn;
        if d.logits {
            s[k::BCE_LOGITS].add(z * spp + w * y * spn);
            let ys = z * sf + y * (1.0 - sf);
            s[k::SOFT_BCE].add((1.0 - ys) * spp + sw * ys * spn);
            let omp = p * z + q * y;
            s[k::SIGMOID_FOCAL].add(logpt * omp * omp * (a * y + (1.0 - a) * z));
        } else {
            // PyTorch's BCE: each log clamped to >= −100.
            let lp = if v > 0.0 { v.ln().max(-100.0) } else { -100.0 };
            let lq = if v < 1.0 {
                (-v).ln_1p().max(-100.0)
            } else {
                -100.0
            };
            s[k::BCE_PROB].add(-(y * lp + z * lq));
        }
        let omp = -(-logpt).exp_m1();
        let m2 = omp * omp;
        s[k::FOCAL2].add(m2 * logpt * (a * y + (1.0 - a) * z));
        let m25 = m2 * omp.sqrt();
        s[k::FOCAL_REAL].add(m25 * logpt);
        s[k::FOCAL_REAL_MOD].add(m25);
        let (pp, yp) = (p > 0.5, y > 0.5);
        s[k::HTP].add(f64::from(u8::from(pp && yp)));
        s[k::HFP].add(f64::from(u8::from(pp && !yp)));
        s[k::HFN].add(f64::from(u8::from(!pp && yp)));
    }
    s
}

/// The plain per-element oracle over `lo..hi` (slow; for the cross-check).
fn oracle_part(d: &Data, lo: usize, hi: usize) -> [Sum; k::N] {
    let mut s = [Sum::default(); k::N];
    let f2 = o::Focal {
        alpha: Some(f64::from(ALPHA)),
        ..o::Focal::default()
    };
    let freal = o::Focal {
        gamma: f64::from(REAL_GAMMA),
        ..o::Focal::default()
    };
    let sf = f64::from(SMOOTH_FACTOR);
    for i in lo..hi {
        let v = f64::from(d.pred[i]);
        let y = d.y(i);
        let (p, q, x) = if d.logits {
            (o::sigmoid(v), o::sigmoid(-v), v)
        } else {
            let pc = o::clampp(v, f2.eps, 1.0 - f2.eps);
            (v, 1.0 - v, (pc / (1.0 - pc)).ln())
        };
        s[k::SP].add(p);
        s[k::SY].add(y);
        s[k::SA].add((p - y).abs());
        s[k::TP].add(p * y);
        s[k::FP].add(p * (1.0 - y));
        s[k::FN].add(q * y);
        s[k::TN].add(q * (1.0 - y));
        if d.logits {
            s[k::BCE_LOGITS].add(o::bce_with_logits(v, y, f64::from(POS_WEIGHT)));
            let ys = (1.0 - y) * sf + y * (1.0 - sf);
            s[k::SOFT_BCE].add(o::bce_with_logits(v, ys, f64::from(SOFT_POS_WEIGHT)));
            s[k::SIGMOID_FOCAL].add(o::sigmoid_focal_elem(v, y, f64::from(ALPHA), 2.0));
        } else {
            s[k::BCE_PROB].add(o::bce_elem(v, y));
        }
        s[k::FOCAL2].add(o::focal_elem(&f2, x, y).1);
        let (m, l) = o::focal_elem(&freal, x, y);
        s[k::FOCAL_REAL].add(l);
        s[k::FOCAL_REAL_MOD].add(m);
        let (pp, yp) = (p > 0.5, y > 0.5);
        s[k::HTP].add(f64::from(u8::from(pp && yp)));
        s[k::HFP].add(f64::from(u8::from(pp && !yp)));
        s[k::HFN].add(f64::from(u8::from(!pp && yp)));
    }
    s
}

/// The reference sums over all of `d`, on two threads.
fn reference(d: &Data) -> [f64; k::N] {
    let n = d.len();
    let mid = n / 2;
    let (a, b) = std::thread::scope(|sc| {
        let h = sc.spawn(|| reference_part(d, mid, n));
        let a = reference_part(d, 0, mid);
        (a, h.join().unwrap())
    });
    let mut out = [0.0; k::N];
    for i in 0..k::N {
        let mut s = a[i];
        s.merge(&b[i]);
        out[i] = s.get();
    }
    out
}

/// One measured loss.
struct Row {
    loss: String,
    got: f32,
    want: f64,
    tol: Tol,
}

fn region_ref(s: &[f64; k::N], alpha: f64, beta: f64, gamma: f64) -> f64 {
    let r = o::Region {
        gamma,
        ..o::Region::with_alpha_beta(alpha, beta)
    };
    let l = if s[k::SY] > 0.0 {
        o::region_class_loss(&r, s[k::SP], s[k::SY], s[k::SA])
    } else {
        0.0
    };
    if gamma == 1.0 { l } else { l.powf(gamma) }
}

fn mcc_ref(s: &[f64; k::N], eps: f64) -> f64 {
    let (tp, fp, fn_, tn) = (
        s[k::TP] + eps,
        s[k::FP] + eps,
        s[k::FN] + eps,
        s[k::TN] + eps,
    );
    1.0 - (tp * tn - fp * fn_) / ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt()
}

fn hard_ref(s: &[f64; k::N], n: f64) -> f64 {
    let h = o::HardCounts {
        tp: s[k::HTP] as u64,
        fp: s[k::HFP] as u64,
        fn_: s[k::HFN] as u64,
        tn: (n - s[k::HTP] - s[k::HFP] - s[k::HFN]) as u64,
    };
    h.mcc_loss(1e-7)
}

/// Every loss of `d` from one fused accumulator pass, and (`one_shot`) from
/// every one-shot function, else from the one-shot Dice, focal and BCE only.
fn measure(d: &Data, s: &[f64; k::N], one_shot: bool) -> Vec<Row> {
    let n = d.len() as f64;
    let mut rows = Vec::new();
    let mut row = |loss: &str, got: Result<f32, segloss::Error>, want: f64, tol: Tol| {
        rows.push(Row {
            loss: loss.to_owned(),
            got: got.unwrap(),
            want,
            tol,
        })
    };
    macro_rules! call {
        ($f:path, $cfg:expr) => {
            if d.mask.is_empty() {
                $f(&d.pred, &d.soft, $cfg)
            } else {
                $f(&d.pred, &d.mask, $cfg)
            }
        };
    }
    let region = Region::default().with_from_logits(d.logits);
    let tv = Tversky {
        region,
        alpha: TV.0,
        beta: TV.1,
        gamma: TV.2,
    };
    let dice = region_ref(s, 0.5, 0.5, 1.0);
    let jac = region_ref(s, 1.0, 1.0, 1.0);
    let tvr = region_ref(s, f64::from(TV.0), f64::from(TV.1), f64::from(TV.2));
    row("dice", call!(binary::dice, &region), dice, REGION);
    if one_shot {
        row("jaccard", call!(binary::jaccard, &region), jac, REGION);
    }
    if one_shot {
        row("tversky", call!(binary::tversky, &tv), tvr, REGION);
    }
    let mcc = Mcc::default().with_from_logits(d.logits);
    let mcc_want = mcc_ref(s, f64::from(mcc.eps));
    if one_shot {
        row("mcc", call!(binary::mcc, &mcc), mcc_want, REGION);
    }
    let hard = HardMcc::default().with_from_logits(d.logits);
    if one_shot {
        row(
            "hard_mcc",
            call!(binary::hard_mcc, &hard),
            hard_ref(s, n),
            REGION,
        );
    }
    let focal = Focal::default()
        .with_from_logits(d.logits)
        .with_alpha(Some(ALPHA));
    row(
        "focal γ=2 α",
        call!(binary::focal, &focal),
        s[k::FOCAL2] / n,
        CROSS_ENTROPY,
    );
    let freal = Focal::default()
        .with_from_logits(d.logits)
        .with_gamma(REAL_GAMMA)
        .with_normalized(true)
        .with_reduction(Reduction::Sum);
    let freal_want = s[k::FOCAL_REAL] / s[k::FOCAL_REAL_MOD].max(1e-6);
    let ftol = tolerance::focal(f64::from(REAL_GAMMA));
    if one_shot {
        row(
            "focal γ=2.5 normalized sum",
            call!(binary::focal, &freal),
            freal_want,
            ftol,
        );
    }
    if d.logits {
        let b = BceWithLogits::default().with_pos_weight(POS_WEIGHT);
        row(
            "bce_with_logits",
            call!(binary::bce_with_logits, &b),
            s[k::BCE_LOGITS] / n,
            CROSS_ENTROPY,
        );
        let sb = SoftBce {
            smooth_factor: Some(SMOOTH_FACTOR),
            ignore_index: None,
            pos_weight: SOFT_POS_WEIGHT,
            reduction: Reduction::Sum,
        };
        if one_shot {
            row(
                "soft_bce sum",
                call!(binary::soft_bce, &sb),
                s[k::SOFT_BCE],
                CROSS_ENTROPY,
            );
        }
        let sf = SigmoidFocal::default();
        if one_shot {
            row(
                "sigmoid_focal",
                call!(binary::sigmoid_focal, &sf),
                s[k::SIGMOID_FOCAL] / n,
                CROSS_ENTROPY,
            );
        }
    } else {
        row(
            "bce",
            call!(binary::bce, &Bce::default()),
            s[k::BCE_PROB] / n,
            CROSS_ENTROPY,
        );
    }

    // The same losses from one fused accumulator pass, fed in 5 chunks.
    let cfg = StatsConfig::default().with_from_logits(d.logits);
    let mut acc = BinaryAccumulator::new(cfg).unwrap();
    let len = d.len();
    let cuts = [0, len / 7, len / 3, len / 2 + 13, len - 5, len];
    for w in cuts.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        if d.mask.is_empty() {
            acc.update(&d.pred[lo..hi], &d.soft[lo..hi]).unwrap();
        } else {
            acc.update(&d.pred[lo..hi], &d.mask[lo..hi]).unwrap();
        }
    }
    row("acc dice", acc.dice(&region), dice, REGION);
    row("acc tversky", acc.tversky(&tv), tvr, REGION);
    row("acc mcc", acc.mcc(&mcc), mcc_want, REGION);
    row("acc hard_mcc", acc.hard_mcc(&hard), hard_ref(s, n), REGION);
    row(
        "acc focal γ=2 α sum",
        acc.focal(&focal.with_reduction(Reduction::Sum)),
        s[k::FOCAL2],
        CROSS_ENTROPY,
    );
    if d.logits {
        let b = BceWithLogits::default()
            .with_pos_weight(POS_WEIGHT)
            .with_reduction(Reduction::Sum);
        row(
            "acc bce_with_logits sum",
            acc.bce_with_logits(&b),
            s[k::BCE_LOGITS],
            CROSS_ENTROPY,
        );
        let sf = SigmoidFocal::default().with_reduction(Reduction::Sum);
        row(
            "acc sigmoid_focal sum",
            acc.sigmoid_focal(&sf),
            s[k::SIGMOID_FOCAL],
            CROSS_ENTROPY,
        );
    } else {
        let b = Bce {
            reduction: Reduction::Sum,
        };
        row("acc bce sum", acc.bce(&b), s[k::BCE_PROB], CROSS_ENTROPY);
    }
    rows
}

/// The error in units of the tolerance's scale (relative for `Want`).
fn scaled_err(r: &Row) -> f64 {
    let g = f64::from(r.got);
    // Exact values below f32's range (and the bound's 1e-37 floor) cannot
    // be returned; they are not errors.
    if g == r.want || (r.want.abs() < 1e-37 && g.abs() < 1e-37) {
        return 0.0;
    }
    let scale = match r.tol.scale {
        support::tolerance::Scale::WantOrOne => r.want.abs().max(1.0),
        _ => r.want.abs(),
    };
    (g - r.want).abs() / scale
}

/// Builds the data of a scenario of `n` elements.
fn scenario(name: &'static str, n: usize) -> Data {
    let mut rng = Rng(0x5EED_0000 ^ n as u64 ^ (name.len() as u64) << 40);
    let mut pred = Vec::with_capacity(n);
    let mut mask = Vec::with_capacity(n);
    let mut soft = Vec::new();
    let logits = !matches!(name, "smp-saturation" | "probs-near-0-and-1");
    for _ in 0..n {
        let u = rng.unit();
        let (x, y) = match name {
            // SPEC's smp scenario: random probabilities and random masks.
            "smp-saturation" => (u, rng.chance(0.5)),
            "random" => (rng.range(-8.0, 8.0), rng.chance(0.3)),
            "all-positive" => (rng.range(-6.0, 10.0), true),
            "all-zero" => (rng.range(-10.0, 6.0), false),
            // Confident and right: every loss tiny, straddling the f32
            // subnormal boundary of e^-|x| (|x| > 87.3; a fifth of the
            // elements: subnormal arithmetic is slow on x86).
            "logits-near-88-right" => {
                let y = rng.chance(0.5);
                let m = 80.0 + 9.0 * u;
                (if y { m } else { -m }, y)
            }
            // Confident, half right and half wrong.
            "logits-near-88-mixed" => {
                let m = 84.0 + 5.0 * u;
                (if rng.chance(0.5) { m } else { -m }, rng.chance(0.5))
            }
            // About 20 positives in the whole input.
            "tiny-positive-fraction" => (rng.range(-12.0, 4.0), rng.unit() < 20.0 / n as f32),
            "probs-near-0-and-1" => {
                let t = rng.unit() * 1e-5;
                let y = rng.chance(0.5);
                let p = if rng.chance(0.9) == y { 1.0 - t } else { t };
                (p, y)
            }
            "soft-targets" => {
                soft.push(rng.unit());
                (rng.range(-8.0, 8.0), false)
            }
            _ => unreachable!(),
        };
        pred.push(x);
        if name != "soft-targets" {
            mask.push(u8::from(y));
        }
    }
    Data {
        name,
        logits,
        pred,
        mask,
        soft,
    }
}

const SCENARIOS: &[&str] = &[
    "random",
    "all-positive",
    "all-zero",
    "logits-near-88-right",
    "logits-near-88-mixed",
    "tiny-positive-fraction",
    "probs-near-0-and-1",
    "soft-targets",
];

fn run(n: usize, scenarios: &[&str], one_shot: bool) {
    let mut failures = Vec::new();
    for &name in scenarios {
        let t0 = Instant::now();
        let d = scenario(
            SCENARIOS
                .iter()
                .chain(["smp-saturation"].iter())
                .find(|s| **s == name)
                .unwrap(),
            n,
        );
        let t1 = Instant::now();
        let s = reference(&d);
        let t2 = Instant::now();
        let rows = measure(&d, &s, one_shot);
        let t3 = Instant::now();
        let worst = rows.iter().map(scaled_err).fold(0.0, f64::max);
        println!(
            "n = 2^{} {:24} data {:5.2}s reference {:5.2}s kernels {:5.2}s worst err {:.2e}",
            n.trailing_zeros(),
            d.name,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            worst
        );
        report(n, d.name, &rows, &mut failures);
    }
    assert!(failures.is_empty(), "beyond the bound: {failures:?}");
}

/// Prints each row's error and records the rows beyond their bound.
fn report(n: usize, scenario: &str, rows: &[Row], failures: &mut Vec<String>) {
    for r in rows {
        let ok = r.tol.check(f64::from(r.got), r.want, 0.0);
        println!(
            "    {:28} got {:<14e} exact {:<24e} err {:.2e}{}",
            r.loss,
            r.got,
            r.want,
            scaled_err(r),
            if ok { "" } else { "  FAIL" }
        );
        if !ok {
            failures.push(format!("2^{} {} {}", n.trailing_zeros(), scenario, r.loss));
        }
    }
}

#[test]
#[ignore = "slow: run with --release -- --ignored (see the module docs)"]
fn scale_2_20() {
    run(1 << 20, SCENARIOS, true);
}

#[test]
#[ignore = "slow: run with --release -- --ignored (see the module docs)"]
fn scale_2_24() {
    // Every loss from the accumulator and the one-shot Dice/focal/BCE
    // kernels (every one-shot kernel runs at 2^20).
    run(1 << 24, SCENARIOS, false);
}

#[test]
#[ignore = "slow: run with --release -- --ignored (see the module docs)"]
fn scale_2_26() {
    // Every loss from the accumulator, the one-shot Dice/focal/BCE kernels;
    // the "logits-near-88" scenarios (f32 subnormal arithmetic: ~5x slower on
    // x86) and "soft-targets" (512 MiB) run at 2^20 and 2^24 only.
    run(
        1 << 26,
        &[
            "random",
            "all-positive",
            "all-zero",
            "tiny-positive-fraction",
            "probs-near-0-and-1",
        ],
        false,
    );
}

/// SPEC's smp scenario: on 2^26 random probabilities smp's float32 Dice
/// stops growing its sums at 2^24 and returns a loss far from exact; ours
/// must match the exact value. A naive f32 running sum is shown for contrast.
#[test]
#[ignore = "slow: run with --release -- --ignored (see the module docs)"]
fn smp_f32_saturation_dice() {
    let n = 1 << 26;
    let d = scenario("smp-saturation", n);
    let s = reference(&d);
    let exact = region_ref(&s, 0.5, 0.5, 1.0);
    let ours = binary::dice(&d.pred, &d.mask, &Region::default().with_from_logits(false)).unwrap();
    // Naive f32 running sums, as a single-threaded f32 framework computes them.
    let (mut sp, mut sy, mut sa) = (0.0f32, 0.0f32, 0.0f32);
    for (&p, &y) in d.pred.iter().zip(&d.mask) {
        let y = f32::from(y);
        sp += p;
        sy += y;
        sa += (p - y).abs();
    }
    let i = (sp + sy - sa) / 2.0;
    let naive = 1.0 - 2.0 * i / (sp + sy);
    let err = (f64::from(ours) - exact).abs() / exact.abs().max(1.0);
    println!(
        "smp saturation, 2^26: exact {exact:.9} ours {ours:.9} (err {err:.2e}) naive f32 {naive:.6}"
    );
    assert!(
        REGION.check(f64::from(ours), exact, 0.0),
        "{ours} vs {exact}"
    );
    // Here the naive sums saturate at 2^24 each and give exactly 0.5
    // against an exact 0.49992: 8e-5 off, 80 times the bound.
    assert!(
        (f64::from(naive) - exact).abs() > 1e-5,
        "the naive f32 sum should be visibly off"
    );
}

/// The fast reference equals the oracle's per-element functions to 1e-10
/// (the oracle's focal from probabilities goes through `ln(p/(1 − p))` and
/// back, ~1e-11 relative near p = 1; the fast reference uses `−ln p` directly)
/// on every scenario (small inputs; not ignored).
#[test]
fn reference_matches_oracle() {
    for &name in SCENARIOS.iter().chain(["smp-saturation"].iter()) {
        let d = scenario(name, 1 << 12);
        let (a, b) = (reference_part(&d, 0, d.len()), oracle_part(&d, 0, d.len()));
        for i in 0..k::N {
            let (x, y) = (a[i].get(), b[i].get());
            assert!(
                (x - y).abs() <= 1e-10 * y.abs() + 1e-300,
                "{name}: sum {i}: {x:e} vs oracle {y:e}"
            );
        }
    }
}
