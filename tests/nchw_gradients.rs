//! Multiclass and multilabel backward passes against five-point finite
//! differences of the f64 oracle (`support::oracle`), over random N, C
//! (1..=8), S, label kinds (hard, soft, ignored), every loss and combination
//! (Dice / Jaccard / Tversky with γ, focal, cross entropy, Dice + CE,
//! Dice + focal), `classes`, class weights, per-image reduction, logits and
//! probabilities, and `scale`. Also: the loss returned equals the forward's
//! bit for bit; the const-C and runtime-C paths and every label type give
//! the same gradient bits; ignored pixels get 0 (also with NaN logits); NaN
//! logits elsewhere propagate; a wrong gradient length is an error.
//!
//! FD comparison: `tolerance::GRADIENT` (1e-5 of the case's largest
//! |gradient|), plus `tolerance::REGION_GRADIENT_FD` per unit of the region
//! sums' condition (confident predictions, see there). Not compared (their gradient is a convention): elements
//! whose own kink lies inside the stencil, `|p − y| < 1e-3` for a soft
//! multilabel target, `|pt − r| < 1e-3` for focal's `reduced_threshold` r.
//! Probabilities are drawn in [1e-3, 1 − 1e-3], away from every clamp.

use crate::support;

use proptest::prelude::*;
use segloss::backward::{multiclass as bmc, multilabel as bml};
use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
use segloss::{Error, Region, Tversky, multilabel};
use support::cases::{Case, Params};
use support::oracle;
use support::tolerance::{GRADIENT, REGION_GRADIENT_FD, Tol};

/// The ignore value of the generated cases (outside `0..C` for C ≤ 8).
const IGNORE: i64 = 255;

/// A random multiclass or multilabel call: a region part, a second part
/// (focal or cross entropy), or both, each with its oracle parameters.
#[derive(Clone, Debug)]
struct Gen {
    multilabel: bool,
    region: Option<(&'static str, Params)>,
    second: Option<(&'static str, Params)>,
    lambdas: (f32, f32),
    from_logits: bool,
    shape: [usize; 3],
    per_image: bool,
    classes: Option<Vec<usize>>,
    weights: Option<Vec<f32>>,
    scale: f32,
    pred: Vec<f32>,
    /// Class ids (multiclass) or targets (multilabel), `IGNORE` where ignored.
    target: Vec<f64>,
}

fn rng(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rounds to the nearest f32 (segloss parameters are f32).
fn f32r(v: f64) -> f64 {
    f64::from(v as f32)
}

/// A random case with `c` classes and at most `max_s` pixels per image.
fn gen_case(seed: u64, multilabel: bool, c: usize, max_s: usize) -> Gen {
    let mut r = rng(seed);
    let mut pick = |k: usize| ((r() * k as f64) as usize).min(k - 1);
    let n = 1 + pick(2);
    let s = 1 + pick(max_s);
    // 0 region, 1 focal, 2 cross entropy, 3 region + CE, 4 region + focal.
    let combo = if multilabel {
        [0, 1, 4][pick(3)]
    } else {
        pick(5)
    };
    let has_ce = matches!(combo, 2 | 3);
    let from_logits = has_ce || pick(4) != 0;
    let ignore_frac = [0.0, 0.0, 0.15, 0.4][pick(4)];
    let soft = multilabel && pick(3) == 0;
    let per_image = matches!(combo, 0 | 3 | 4) && pick(4) == 0;
    let region_kind = ["dice", "jaccard", "tversky"][pick(3)];
    let mut r = rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let spread = [2.0, 6.0][(r() * 2.0) as usize % 2];
    let pred: Vec<f32> = (0..n * c * s)
        .map(|_| {
            if from_logits {
                ((r() - 0.5) * 2.0 * spread) as f32
            } else {
                (1e-3 + 0.998 * r()) as f32
            }
        })
        .collect();
    let tlen = if multilabel { n * c * s } else { n * s };
    let target: Vec<f64> = (0..tlen)
        .map(|_| {
            if r() < ignore_frac {
                IGNORE as f64
            } else if multilabel {
                if soft {
                    f64::from(r() as f32)
                } else {
                    (r() < 0.4) as u8 as f64
                }
            } else {
                ((r() * c as f64) as usize).min(c - 1) as f64
            }
        })
        .collect();
    let ignore = (ignore_frac > 0.0 || r() < 0.3).then_some(IGNORE);
    let weights = (r() < 0.4).then(|| {
        (0..c)
            .map(|_| (0.1 + 1.9 * r()) as f32)
            .collect::<Vec<f32>>()
    });
    let classes = (matches!(combo, 0 | 3 | 4) && r() < 0.4).then(|| {
        let mut cl: Vec<usize> = (0..c).filter(|_| r() < 0.6).collect();
        if cl.is_empty() {
            cl.push(c - 1);
        }
        cl
    });
    let base = Params {
        ignore_index: Some(ignore),
        class_weights: weights
            .as_ref()
            .map(|w| w.iter().map(|&v| f64::from(v)).collect()),
        ..Params::default()
    };
    let region = matches!(combo, 0 | 3 | 4).then(|| {
        let mut p = base.clone();
        p.smooth = Some([0.0, 1.0][(r() * 2.0) as usize % 2]);
        p.log_loss = Some(r() < 0.3);
        p.classes = classes.clone();
        if region_kind == "tversky" {
            p.alpha = Some(Some(f32r(0.1 + 0.8 * r())));
            p.beta = Some(f32r(0.1 + 0.8 * r()));
            p.gamma = Some([1.0, 1.33, 0.75][(r() * 3.0) as usize % 3]);
        }
        (region_kind, p)
    });
    let second = match combo {
        1 | 4 => {
            let mut p = base.clone();
            p.gamma = Some([2.0, 0.0, 1.5, 1.0, 3.0][(r() * 5.0) as usize % 5]);
            p.alpha = Some((r() < 0.5).then(|| f32r(r())));
            p.normalized = Some(r() < 0.3);
            p.reduced_threshold = Some((r() < 0.25).then(|| f32r(0.2 + 0.6 * r())));
            p.reduction = Some(if r() < 0.3 { "sum" } else { "mean" }.into());
            Some(("focal", p))
        }
        2 | 3 => {
            let mut p = base.clone();
            p.ignore_index = Some(Some(ignore.unwrap_or(-100)));
            p.label_smoothing = Some([0.0, 0.1, 0.2][(r() * 3.0) as usize % 3]);
            p.reduction = Some(if r() < 0.3 { "sum" } else { "mean" }.into());
            Some(("cross_entropy", p))
        }
        _ => None,
    };
    let lambdas = if r() < 0.5 {
        (1.0, 1.0)
    } else {
        ((0.25 + 1.75 * r()) as f32, (0.25 + 1.75 * r()) as f32)
    };
    let scale = [1.0f32, 0.5, -2.0][(r() * 3.0) as usize % 3];
    Gen {
        multilabel,
        region,
        second,
        lambdas,
        from_logits,
        shape: [n, c, s],
        per_image,
        classes,
        weights,
        scale,
        pred,
        target,
    }
}

impl Gen {
    fn mode(&self) -> &'static str {
        if self.multilabel {
            "multilabel"
        } else {
            "multiclass"
        }
    }

    /// A conformance case of one part (for the runner's config mapping).
    fn case(&self, kind: &str, params: &Params) -> Case {
        Case {
            id: "prop".into(),
            kind: kind.into(),
            mode: self.mode().into(),
            from_logits: self.from_logits,
            shape: self.shape,
            params: params.clone(),
            pred: self.pred.clone(),
            target: self.target.clone(),
            value: 0.0,
            grad: None,
            note: None,
        }
    }

    fn classes(&self) -> Classes<'_> {
        Classes {
            classes: self.classes.as_deref(),
            weights: self.weights.as_deref(),
            per_image: self.per_image,
        }
    }

    fn tversky(&self) -> Option<Tversky> {
        self.region
            .as_ref()
            .map(|(k, p)| support::run::tversky(&self.case(k, p)))
    }

    fn focal(&self) -> Option<segloss::Focal> {
        match &self.second {
            Some(("focal", p)) => support::run::focal(&self.case("focal", p)).ok(),
            _ => None,
        }
    }

    fn ce(&self) -> Option<CrossEntropy> {
        match &self.second {
            Some(("cross_entropy", p)) => Some(CrossEntropy {
                ignore_index: p.ignore_index.unwrap_or(Some(-100)),
                label_smoothing: p.label_smoothing.unwrap_or(0.0) as f32,
                reduction: if p.reduction.as_deref() == Some("sum") {
                    segloss::Reduction::Sum
                } else {
                    segloss::Reduction::Mean
                },
            }),
            _ => None,
        }
    }

    fn mc_loss(&self) -> multiclass::Loss {
        use multiclass::Loss;
        let (lambda_region, l2) = self.lambdas;
        match (self.tversky(), self.focal(), self.ce()) {
            (Some(region), None, None) => Loss::Region(region),
            (None, Some(f), _) => Loss::Focal(f),
            (None, None, Some(ce)) => Loss::CrossEntropy(ce),
            (Some(region), Some(focal), _) => Loss::RegionFocal {
                region,
                focal,
                lambda_region,
                lambda_focal: l2,
            },
            (Some(region), None, Some(ce)) => Loss::RegionCe {
                region,
                ce,
                lambda_region,
                lambda_ce: l2,
            },
            (None, None, None) => unreachable!("every case has a part"),
        }
    }

    fn ml_loss(&self) -> multilabel::Loss {
        use multilabel::Loss;
        match (self.tversky(), self.focal()) {
            (Some(region), None) => Loss::Region(region),
            (None, Some(f)) => Loss::Focal(f),
            (Some(region), Some(focal)) => Loss::RegionFocal {
                region,
                focal,
                lambda_region: self.lambdas.0,
                lambda_focal: self.lambdas.1,
            },
            (None, None) => unreachable!("every multilabel case has a part"),
        }
    }

    fn shape(&self) -> Shape {
        let [n, c, s] = self.shape;
        Shape::new(n, c, s).unwrap()
    }

    fn ids(&self) -> Vec<i64> {
        self.target.iter().map(|&t| t as i64).collect()
    }

    fn targets(&self) -> Vec<f32> {
        self.target.iter().map(|&t| t as f32).collect()
    }

    /// segloss's forward value.
    fn forward(&self) -> Result<f32, Error> {
        let cl = self.classes();
        if self.multilabel {
            multilabel::loss(
                &self.pred,
                &self.targets(),
                self.shape(),
                &self.ml_loss(),
                &cl,
            )
        } else {
            multiclass::loss(&self.pred, &self.ids(), self.shape(), &self.mc_loss(), &cl)
        }
    }

    /// segloss's backward (runtime C), into `grad`.
    fn backward(&self, grad: &mut [f32]) -> Result<f32, Error> {
        let cl = self.classes();
        if self.multilabel {
            let t = self.targets();
            bml::loss(
                &self.pred,
                &t,
                self.shape(),
                &self.ml_loss(),
                &cl,
                grad,
                self.scale,
            )
        } else {
            let ids = self.ids();
            let l = self.mc_loss();
            bmc::loss(&self.pred, &ids, self.shape(), &l, &cl, grad, self.scale)
        }
    }

    /// The f64 oracle's loss at predictions `x`.
    fn oracle(&self, x: &[f64]) -> f64 {
        let mode = self.mode();
        let [n, c, s] = self.shape;
        let fl = self.from_logits;
        let mut value = 0.0;
        if let Some((kind, p)) = &self.region {
            let v = if self.per_image {
                // The mean over images of each image's class mean, then γ.
                let mut p1 = p.clone();
                p1.gamma = Some(1.0);
                let ts = if self.multilabel { c * s } else { s };
                let sum: f64 = (0..n)
                    .map(|i| {
                        let xi = &x[i * c * s..(i + 1) * c * s];
                        let ti = &self.target[i * ts..(i + 1) * ts];
                        oracle::loss(kind, mode, fl, [1, c, s], &p1, xi, ti)
                    })
                    .sum();
                (sum / n as f64).powf(p.gamma.unwrap_or(1.0))
            } else {
                oracle::loss(kind, mode, fl, self.shape, p, x, &self.target)
            };
            // λ weights apply only to a combined loss.
            let lambda = if self.second.is_some() {
                f64::from(self.lambdas.0)
            } else {
                1.0
            };
            value += lambda * v;
        }
        if let Some((kind, p)) = &self.second {
            let v = oracle::loss(kind, mode, fl, self.shape, p, x, &self.target);
            let lambda = if self.region.is_some() {
                f64::from(self.lambdas.1)
            } else {
                1.0
            };
            value += lambda * v;
        }
        value
    }

    /// Whether element `i` (of `pred`) is ignored.
    fn ignored(&self, i: usize) -> bool {
        let [_, c, s] = self.shape;
        let t = if self.multilabel {
            self.target[i]
        } else {
            self.target[(i / (c * s)) * s + i % s]
        };
        t == IGNORE as f64
            && [&self.region, &self.second].iter().any(|p| {
                p.as_ref()
                    .is_some_and(|(_, p)| p.ignore_index == Some(Some(IGNORE)))
            })
    }

    /// κ of `tolerance::REGION_GRADIENT_FD`: the largest `n_c / (FP_c + FN_c)`
    /// over the classes with a target (per image with `per_image`).
    fn region_condition(&self) -> f64 {
        let Some((_, p)) = &self.region else {
            return 0.0;
        };
        let [n, c, s] = self.shape;
        let x: Vec<f64> = self.pred.iter().map(|&v| f64::from(v)).collect();
        let mode = oracle::Mode::parse(self.mode()).unwrap();
        let probs = oracle::probabilities(mode, self.from_logits, self.shape, &x);
        let ignore = p.ignore_index.flatten().map(|v| v as f64);
        let mut kappa = 0.0f64;
        let groups = if self.per_image { n } else { 1 };
        for grp in 0..groups {
            for k in 0..c {
                let (mut count, mut sy, mut off) = (0.0, 0.0, 0.0);
                for img in (0..n).filter(|&i| !self.per_image || i == grp) {
                    for j in 0..s {
                        let t = if self.multilabel {
                            self.target[(img * c + k) * s + j]
                        } else {
                            self.target[img * s + j]
                        };
                        if ignore == Some(t) {
                            continue;
                        }
                        let y = if self.multilabel {
                            t
                        } else {
                            (t == k as f64) as u8 as f64
                        };
                        count += 1.0;
                        sy += y;
                        off += (probs[(img * c + k) * s + j] - y).abs();
                    }
                }
                // (off = 0: p = y everywhere, e.g. C = 1, where the loss is constant.)
                if sy > 0.0 && off > 0.0 {
                    kappa = kappa.max(count / off);
                }
            }
        }
        kappa
    }

    /// Whether element `i` has a kink of its own inside the FD stencil.
    fn near_kink(&self, i: usize) -> bool {
        if self.ignored(i) {
            return false;
        }
        let [_, c, s] = self.shape;
        let x = f64::from(self.pred[i]);
        let y = if self.multilabel {
            self.target[i]
        } else {
            let label = self.target[(i / (c * s)) * s + i % s];
            let class = (i / s) % c;
            (label == class as f64) as u8 as f64
        };
        if self.multilabel && self.region.is_some() {
            let p = if self.from_logits {
                oracle::sigmoid(x)
            } else {
                x
            };
            if (p - y).abs() < 1e-3 {
                return true;
            }
        }
        if let Some(("focal", p)) = &self.second
            && let Some(Some(r)) = p.reduced_threshold
        {
            let logpt = match (self.from_logits, self.multilabel) {
                (true, _) => oracle::bce_with_logits(x, y, 1.0),
                (false, true) => oracle::bce_elem(x, y),
                (false, false) => oracle::bce_with_logits(x.ln(), y, 1.0),
            };
            if ((-logpt).exp() - r).abs() < 1e-3 {
                return true;
            }
        }
        false
    }
}

/// Five-point central differences of `f` at `x0` (steps: `oracle::fd_step`).
fn fd(x0: &[f64], from_logits: bool, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut x = x0.to_vec();
    (0..x0.len())
        .map(|i| {
            let h = oracle::fd_step(x0[i], from_logits);
            let mut at = |v: f64| {
                x[i] = v;
                let r = f(&x);
                x[i] = x0[i];
                r
            };
            let d1 = at(x0[i] + h) - at(x0[i] - h);
            let d2 = at(x0[i] + 2.0 * h) - at(x0[i] - 2.0 * h);
            (8.0 * d1 - d2) / (12.0 * h)
        })
        .collect()
}

fn check_fd(g: &Gen) -> Result<(), TestCaseError> {
    let mut got = vec![f32::NAN; g.pred.len()];
    let loss = g
        .backward(&mut got)
        .map_err(|e| TestCaseError::fail(format!("{e} for {g:?}")))?;
    prop_assert_eq!(
        loss.to_bits(),
        g.forward().unwrap().to_bits(),
        "backward loss ≠ forward"
    );
    for (i, &v) in got.iter().enumerate() {
        if g.ignored(i) {
            prop_assert_eq!(v, 0.0, "ignored element {} has gradient {}", i, v);
        }
    }
    let x: Vec<f64> = g.pred.iter().map(|&v| f64::from(v)).collect();
    if !g.oracle(&x).is_finite() {
        // Nothing kept by a mean (0/0, as in PyTorch): no slope to compare.
        return Ok(());
    }
    let scale = f64::from(g.scale);
    let want: Vec<f64> = fd(&x, g.from_logits, |x| g.oracle(x))
        .into_iter()
        .map(|v| scale * v)
        .collect();
    let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = Tol {
        rel: GRADIENT.rel + REGION_GRADIENT_FD.rel * g.region_condition(),
        ..GRADIENT
    };
    for (i, (&v, &w)) in got.iter().zip(&want).enumerate() {
        if g.ignored(i) || g.near_kink(i) {
            continue;
        }
        prop_assert!(
            tol.check(f64::from(v), w, max),
            "grad[{}] = {:e}, fd {:e} (max {:e}, diff/max {:e})\n{:?}",
            i,
            v,
            w,
            max,
            (f64::from(v) - w).abs() / max,
            g
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn multiclass_gradient_matches_finite_differences(seed in any::<u64>(), c in 1usize..=8) {
        check_fd(&gen_case(seed, false, c, 20))?;
    }

    #[test]
    fn multilabel_gradient_matches_finite_differences(seed in any::<u64>(), c in 1usize..=8) {
        check_fd(&gen_case(seed, true, c, 20))?;
    }
}

/// `Some($body)` with `C` bound to the const class count equal to `$c`, for
/// the counts the suite instantiates (1, 3, 4 and 17: the smallest, two
/// below the smallest capacity and one above the largest, 16); `None` for
/// any other count, which the runtime-C paths still cover. Each count is a
/// whole copy of the kernel tables in the test build, so the list is short.
macro_rules! with_const_c {
    ($c:expr, |$C:ident| $body:expr) => {
        match $c {
            1 => {
                const $C: usize = 1;
                Some($body)
            }
            3 => {
                const $C: usize = 3;
                Some($body)
            }
            4 => {
                const $C: usize = 4;
                Some($body)
            }
            17 => {
                const $C: usize = 17;
                Some($body)
            }
            _ => None,
        }
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Across block boundaries (128 pixels) and partial vectors: the loss
    /// equals the forward's bit for bit; const-C (for the counts of
    /// `with_const_c!`) and runtime-C, and every label type, give the same
    /// gradient bits.
    #[test]
    fn paths_and_label_types_agree(
        seed in any::<u64>(),
        ci in 0usize..8,
        multilabel in any::<bool>(),
    ) {
        let c = [1usize, 2, 3, 4, 5, 8, 16, 17][ci];
        let g = gen_case(seed, multilabel, c, 300);
        let (shape, cl, len) = (g.shape(), g.classes(), g.pred.len());
        let mut a = vec![f32::NAN; len];
        let la = g.backward(&mut a).unwrap();
        prop_assert_eq!(la.to_bits(), g.forward().unwrap().to_bits());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        let mut b = vec![f32::NAN; len];
        if multilabel {
            let (t, l) = (g.targets(), g.ml_loss());
            if let Some(lb) = with_const_c!(c, |C| bml::loss_fixed::<C, f32>(
                &g.pred, &t, shape, &l, &cl, &mut b, g.scale
            )) {
                prop_assert_eq!((la.to_bits(), bits(&a)), (lb.unwrap().to_bits(), bits(&b)));
            }
            if t.iter().all(|&v| v == 0.0 || v == 1.0 || v == IGNORE as f32) {
                let t8: Vec<u8> = t.iter().map(|&v| v as u8).collect();
                let lb = bml::loss(&g.pred, &t8, shape, &l, &cl, &mut b, g.scale).unwrap();
                prop_assert_eq!((la.to_bits(), bits(&a)), (lb.to_bits(), bits(&b)));
            }
        } else {
            let (ids, l) = (g.ids(), g.mc_loss());
            if let Some(lb) = with_const_c!(c, |C| bmc::loss_fixed::<C, i64>(
                &g.pred, &ids, shape, &l, &cl, &mut b, g.scale
            )) {
                prop_assert_eq!((la.to_bits(), bits(&a)), (lb.unwrap().to_bits(), bits(&b)));
            }
            // u8, u16, i32 (CE's default ignore −100 does not fit u8/u16).
            let i32s: Vec<i32> = ids.iter().map(|&v| v as i32).collect();
            let lb = bmc::loss(&g.pred, &i32s, shape, &l, &cl, &mut b, g.scale).unwrap();
            prop_assert_eq!((la.to_bits(), bits(&a)), (lb.to_bits(), bits(&b)));
            if ids.iter().all(|&v| v >= 0) {
                let u8s: Vec<u8> = ids.iter().map(|&v| v as u8).collect();
                let lb = bmc::loss(&g.pred, &u8s, shape, &l, &cl, &mut b, g.scale).unwrap();
                prop_assert_eq!((la.to_bits(), bits(&a)), (lb.to_bits(), bits(&b)));
                let u16s: Vec<u16> = ids.iter().map(|&v| v as u16).collect();
                if let Some(lb) = with_const_c!(c, |C| bmc::loss_fixed::<C, u16>(
                    &g.pred, &u16s, shape, &l, &cl, &mut b, g.scale
                )) {
                    prop_assert_eq!((la.to_bits(), bits(&a)), (lb.unwrap().to_bits(), bits(&b)));
                }
            }
        }
    }
}

/// Through the softmax, a pixel's gradient sums to 0 over its classes (the
/// loss is invariant to adding a constant to every logit of a pixel).
#[test]
fn softmax_gradients_sum_to_zero_per_pixel() {
    let (n, c, s) = (2, 6, 133);
    let shape = Shape::new(n, c, s).unwrap();
    let mut r = rng(5);
    let pred: Vec<f32> = (0..shape.len())
        .map(|_| (r() * 12.0 - 6.0) as f32)
        .collect();
    let ids: Vec<u8> = (0..shape.pixels())
        .map(|_| if r() < 0.1 { 255 } else { (r() * 5.0) as u8 })
        .collect();
    let w = [0.5f32, 1.0, 2.0, 1.5, 1.0, 0.7];
    let cl = Classes::default().with_weights(Some(&w));
    let dice = Region::default().with_ignore_index(Some(255.0));
    let ce = CrossEntropy::default()
        .with_ignore_index(Some(255))
        .with_label_smoothing(0.1);
    let mut g = vec![0.0f32; shape.len()];
    bmc::dice_ce(&pred, &ids, shape, &dice, &ce, (1.0, 0.7), &cl, &mut g, 1.0).unwrap();
    let max = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for img in 0..n {
        for px in 0..s {
            let sum: f32 = (0..c).map(|k| g[(img * c + k) * s + px]).sum();
            assert!(sum.abs() <= 1e-6 * max, "pixel {img}/{px}: Σ = {sum:e}");
        }
    }
}

#[test]
fn scale_multiplies_the_gradient() {
    let shape = Shape::new(2, 4, 37).unwrap();
    let mut r = rng(9);
    let pred: Vec<f32> = (0..shape.len()).map(|_| (r() * 8.0 - 4.0) as f32).collect();
    let ids: Vec<u8> = (0..shape.pixels()).map(|_| (r() * 4.0) as u8).collect();
    let cl = Classes::default();
    let fc = segloss::Focal::default()
        .with_gamma(1.5)
        .with_normalized(true);
    let (mut g1, mut g3) = (vec![0.0; shape.len()], vec![0.0; shape.len()]);
    let region = Region::default();
    let l1 = bmc::dice_focal(
        &pred,
        &ids,
        shape,
        &region,
        &fc,
        (1.0, 2.0),
        &cl,
        &mut g1,
        1.0,
    );
    let l3 = bmc::dice_focal(
        &pred,
        &ids,
        shape,
        &region,
        &fc,
        (1.0, 2.0),
        &cl,
        &mut g3,
        -3.0,
    );
    assert_eq!(l1, l3, "scale does not change the loss");
    // `scale` is folded into the f32 coefficients, whose rounding a
    // softmax-chain difference can amplify: compare against the largest.
    let max = g1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in g1.iter().zip(&g3) {
        assert!((b + 3.0 * a).abs() <= 3e-6 * max, "{a} {b}");
    }
    let y: Vec<f32> = (0..shape.len()).map(|_| (r() < 0.3) as u8 as f32).collect();
    let t = Tversky::new(0.3, 0.7, 1.33).unwrap();
    let l1 = bml::tversky(&pred, &y, shape, &t, &cl, &mut g1, 1.0);
    let l3 = bml::tversky(&pred, &y, shape, &t, &cl, &mut g3, 0.5);
    assert_eq!(l1, l3);
    // Scaling by a power of 2 is exact: elementwise multilabel terms.
    for (a, b) in g1.iter().zip(&g3) {
        assert_eq!(*b, 0.5 * a);
    }
}

#[test]
fn ignored_pixels_get_zero_gradient_even_when_nan() {
    let (c, s) = (3, 10);
    let shape = Shape::new(1, c, s).unwrap();
    let mut pred: Vec<f32> = (0..c * s).map(|i| ((i as f32) * 0.7).sin() * 3.0).collect();
    let mut ids = [0u8, 1, 2, 255, 1, 0, 255, 2, 1, 0];
    for k in 0..c {
        pred[k * s + 3] = f32::NAN;
        pred[k * s + 6] = f32::INFINITY;
    }
    let cl = Classes::default();
    let dice = Region::default().with_ignore_index(Some(255.0));
    let ce = CrossEntropy::default().with_ignore_index(Some(255));
    let focal = segloss::Focal::default().with_ignore_index(Some(255.0));
    let check = |g: &[f32], loss: f32, what: &str| {
        assert!(loss.is_finite(), "{what}: loss {loss}");
        for k in 0..c {
            for px in 0..s {
                let v = g[k * s + px];
                if ids[px] == 255 {
                    assert_eq!(v, 0.0, "{what}: class {k} pixel {px}");
                } else {
                    assert!(v.is_finite(), "{what}: class {k} pixel {px}: {v}");
                }
            }
        }
    };
    let mut g = vec![f32::NAN; c * s];
    let l = bmc::dice_ce(&pred, &ids, shape, &dice, &ce, (1.0, 1.0), &cl, &mut g, 1.0).unwrap();
    check(&g, l, "dice_ce");
    let l = bmc::dice_focal(
        &pred,
        &ids,
        shape,
        &dice,
        &focal,
        (1.0, 1.0),
        &cl,
        &mut g,
        1.0,
    )
    .unwrap();
    check(&g, l, "dice_focal");
    let per_image = cl.with_per_image(true);
    let l = bmc::dice(&pred, &ids, shape, &dice, &per_image, &mut g, 1.0).unwrap();
    check(&g, l, "dice per image");
    // Multilabel: the ignored elements only, in their own channel.
    let mut y: Vec<f32> = (0..c * s).map(|i| (i % 3 == 0) as u8 as f32).collect();
    for (i, v) in pred.iter().enumerate() {
        if !v.is_finite() {
            y[i] = 255.0;
        }
    }
    let l = bml::dice_focal(
        &pred,
        &y,
        shape,
        &dice,
        &focal,
        (1.0, 1.0),
        &cl,
        &mut g,
        1.0,
    )
    .unwrap();
    assert!(l.is_finite());
    for (i, (&v, &t)) in g.iter().zip(&y).enumerate() {
        assert_eq!(t == 255.0, v == 0.0, "element {i}: {v}");
    }
    // A NaN logit in a kept pixel propagates to the loss and that pixel.
    ids[3] = 1;
    let l = bmc::dice_ce(&pred, &ids, shape, &dice, &ce, (1.0, 1.0), &cl, &mut g, 1.0).unwrap();
    assert!(l.is_nan());
    assert!((0..c).all(|k| g[k * s + 3].is_nan()));
    let l = bmc::focal(&pred, &ids, shape, &focal, &cl, &mut g, 1.0).unwrap();
    assert!(l.is_nan() && g[s + 3].is_nan());
    y[3] = 1.0;
    let l = bml::dice(&pred, &y, shape, &dice, &cl, &mut g, 1.0).unwrap();
    assert!(l.is_nan() && g[3].is_nan());
}

#[test]
fn wrong_gradient_length_is_an_error() {
    let shape = Shape::new(2, 3, 5).unwrap();
    let pred = vec![0.25f32; 30];
    let ids = [0u8, 1, 2, 1, 0, 2, 2, 1, 0, 0];
    let y = vec![1.0f32; 30];
    let cl = Classes::default();
    let (r, t, f) = (
        Region::default(),
        Tversky::default(),
        segloss::Focal::default(),
    );
    let ce = CrossEntropy::default();
    for len in [0usize, 29, 31] {
        let mut g = vec![0.0f32; len];
        let want = Err(Error::GradientLength {
            expected: 30,
            got: len,
        });
        let g = &mut g;
        assert_eq!(bmc::dice(&pred, &ids, shape, &r, &cl, g, 1.0), want);
        assert_eq!(bmc::jaccard(&pred, &ids, shape, &r, &cl, g, 1.0), want);
        assert_eq!(bmc::tversky(&pred, &ids, shape, &t, &cl, g, 1.0), want);
        assert_eq!(bmc::focal(&pred, &ids, shape, &f, &cl, g, 1.0), want);
        assert_eq!(
            bmc::cross_entropy(&pred, &ids, shape, &ce, &cl, g, 1.0),
            want
        );
        assert_eq!(
            bmc::dice_ce(&pred, &ids, shape, &r, &ce, (1.0, 1.0), &cl, g, 1.0),
            want
        );
        assert_eq!(
            bmc::dice_focal(&pred, &ids, shape, &r, &f, (1.0, 1.0), &cl, g, 1.0),
            want
        );
        let l = multiclass::Loss::Region(t);
        assert_eq!(
            bmc::loss_fixed::<3, _>(&pred, &ids, shape, &l, &cl, g, 1.0),
            want
        );
        assert_eq!(bml::dice(&pred, &y, shape, &r, &cl, g, 1.0), want);
        assert_eq!(bml::jaccard(&pred, &y, shape, &r, &cl, g, 1.0), want);
        assert_eq!(bml::tversky(&pred, &y, shape, &t, &cl, g, 1.0), want);
        assert_eq!(bml::focal(&pred, &y, shape, &f, &cl, g, 1.0), want);
        assert_eq!(
            bml::dice_focal(&pred, &y, shape, &r, &f, (1.0, 1.0), &cl, g, 1.0),
            want
        );
        let l = multilabel::Loss::Region(t);
        assert_eq!(
            bml::loss_fixed::<3, _>(&pred, &y, shape, &l, &cl, g, 1.0),
            want
        );
    }
    // Bad input is reported before the gradient length, as in the forward.
    let mut g = vec![0.0f32; 3];
    assert_eq!(
        bmc::dice(&pred, &ids[..9], shape, &r, &cl, &mut g, 1.0),
        Err(Error::ShapeMismatch {
            expected: 10,
            found: 9
        })
    );
    assert_eq!(
        bmc::dice(&pred, &[3u8; 10], shape, &r, &cl, &mut [0.0; 30], 1.0),
        Err(Error::ClassIdOutOfRange { id: 3, classes: 3 })
    );
    assert!(matches!(
        bmc::loss_fixed::<4, _>(
            &pred,
            &ids,
            shape,
            &multiclass::Loss::Region(t),
            &cl,
            &mut g,
            1.0
        ),
        Err(Error::ShapeMismatch { .. })
    ));
    let big = Shape::new(1, 300, 1).unwrap();
    assert_eq!(
        bmc::dice(&[0.0; 300], &[0u16], big, &r, &cl, &mut [0.0; 300], 1.0),
        Err(Error::TooManyClasses {
            classes: 300,
            max: multiclass::MAX_CLASSES
        })
    );
    let mut y2 = vec![0u8; 30];
    y2[4] = 7;
    assert_eq!(
        bml::dice(&pred, &y2, shape, &r, &cl, &mut [0.0; 30], 1.0),
        Err(Error::InvalidMask { value: 7 })
    );
}

/// Multilabel with more classes than the multiclass capacity: any C works.
#[test]
fn multilabel_any_class_count() {
    let shape = Shape::new(1, 300, 3).unwrap();
    let pred: Vec<f32> = (0..900).map(|i| ((i as f32) * 0.37).sin() * 2.0).collect();
    let y: Vec<u8> = (0..900).map(|i| (i % 4 == 0) as u8).collect();
    let t = Tversky::new(0.3, 0.7, 0.75).unwrap();
    let cl = Classes::default();
    let mut g = vec![f32::NAN; 900];
    let l = bml::tversky(&pred, &y, shape, &t, &cl, &mut g, 1.0).unwrap();
    assert_eq!(l, multilabel::tversky(&pred, &y, shape, &t, &cl).unwrap());
    assert!(g.iter().all(|v| v.is_finite()));
}

/// Paths the random cases do not reach: focal from probabilities inside its
/// `[eps, 1 − eps]` clamp (zero slope, the oracle's FD agrees), and a
/// `classes` list naming a class twice (it counts twice in the mean).
#[test]
fn clamped_probabilities_and_repeated_classes() {
    let mut g = gen_case(3, false, 3, 12);
    g.from_logits = false;
    g.shape = [1, 3, 6];
    g.per_image = false;
    g.pred = vec![
        1e-9,
        0.3,
        0.99999994,
        0.5,
        0.2,
        0.7, // class 0
        0.4,
        2e-8,
        0.6,
        0.1,
        0.9,
        0.35, // class 1
        0.25,
        0.55,
        0.05,
        0.999_999_95,
        0.45,
        0.15, // class 2
    ];
    g.target = vec![0.0, 1.0, 2.0, 1.0, 0.0, 2.0];
    g.weights = Some(vec![0.5, 1.5, 1.0]);
    let weights = Some(vec![0.5, 1.5, 1.0]);
    let focal = Params {
        gamma: Some(1.5),
        alpha: Some(Some(0.25)),
        class_weights: weights.clone(),
        ..Params::default()
    };
    g.region = None;
    g.second = Some(("focal", focal));
    check_fd(&g).unwrap();
    let mut grad = vec![f32::NAN; 18];
    g.backward(&mut grad).unwrap();
    for i in [0, 2, 7, 15] {
        assert_eq!(grad[i], 0.0, "clamped element {i}");
    }
    assert!(
        grad.iter()
            .enumerate()
            .all(|(i, v)| [0, 2, 7, 15].contains(&i) || *v != 0.0)
    );
    // Dice over classes [1, 1, 2] and Dice + focal, from probabilities.
    let region = Params {
        classes: Some(vec![1, 1, 2]),
        class_weights: weights,
        smooth: Some(0.5),
        ..Params::default()
    };
    g.classes = Some(vec![1, 1, 2]);
    g.region = Some(("dice", region));
    check_fd(&g).unwrap();
    g.second = None;
    check_fd(&g).unwrap();
    // From logits, per image.
    g.from_logits = true;
    g.per_image = true;
    g.shape = [2, 3, 3];
    g.pred = g.pred.iter().map(|p| 4.0 * p - 2.0).collect();
    check_fd(&g).unwrap();
}
