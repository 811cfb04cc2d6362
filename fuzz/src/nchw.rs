//! The NCHW case generator shared by the `multiclass` (forward) and
//! `multiclass_backward` targets: one fuzz input (`Input`) mapped to a shape,
//! predictions, class ids, multilabel targets and every configuration
//! (`build`), and the small helpers both targets read the case with.

use crate::{LOGIT_DOMAIN, Num, ignore_value, oracle};
use segloss::multiclass::{self as mc, ClassId, CrossEntropy};
use segloss::{Focal, Reduction, Region, Tversky, multilabel as ml};

#[derive(arbitrary::Arbitrary, Debug)]
pub struct Input {
    pub n: u8,
    pub c: u8,
    pub s: u8,
    pub shape_sel: u8,
    pub kind: u8,
    pub id_type: u8,
    pub flags: u8,
    pub ignore_sel: u8,
    pub ignore_n: Num,
    pub smooth: Num,
    pub eps: Num,
    pub alpha: Num,
    pub beta: Num,
    pub gamma: Num,
    pub focal_gamma: Num,
    pub focal_alpha: Option<Num>,
    pub reduced_threshold: Option<Num>,
    pub focal_eps: Num,
    pub label_smoothing: Num,
    pub lambdas: (Num, Num),
    pub classes: Option<Vec<u8>>,
    pub weights: Option<Vec<Num>>,
    pub ids: Vec<(u8, i16)>,
    pub data: Vec<Num>,
    pub targets: Vec<Num>,
}

/// A class-id type the target can build from an `i64` (wrapping, as `as`).
pub trait Id: ClassId + core::fmt::Debug {
    fn make(v: i64) -> Self;
}
impl Id for u8 {
    fn make(v: i64) -> Self {
        v as u8
    }
}
impl Id for u16 {
    fn make(v: i64) -> Self {
        v as u16
    }
}
impl Id for i32 {
    fn make(v: i64) -> Self {
        v as i32
    }
}
impl Id for i64 {
    fn make(v: i64) -> Self {
        v
    }
}

/// An `f32` ignore value as a class id (the library's rule: integral and
/// within ±9e18).
pub fn ignore_id(v: Option<f32>) -> Option<i64> {
    v.filter(|v| v.abs() < 9.0e18 && (*v as i64) as f32 == *v)
        .map(|v| v as i64)
}

/// Picks one element of a non-empty list by position.
pub fn pick<T: Copy>(v: &[T], i: usize, default: T) -> T {
    if v.is_empty() {
        default
    } else {
        v[i % v.len()]
    }
}

/// The case: shape, data and every configuration.
pub struct Case {
    pub dims: [usize; 3],
    pub pred: Vec<f32>,
    pub ids: Vec<i64>,
    pub ml_f32: Vec<f32>,
    pub ml_u8: Vec<u8>,
    pub tversky: Tversky,
    pub focal: Focal,
    pub ce: CrossEntropy,
    pub lambdas: (f32, f32),
    pub classes: Option<Vec<usize>>,
    pub weights: Option<Vec<f32>>,
    pub per_image: bool,
}

pub fn build(inp: &Input) -> Case {
    let fl = |bit: u8| inp.flags & (1 << bit) != 0;
    let big = inp.shape_sel % 31 == 7;
    let n = usize::from(inp.n % 4);
    let c = if big {
        250 + usize::from(inp.c % 12)
    } else {
        usize::from(inp.c % 9)
    };
    let s = if big {
        usize::from(inp.s % 3)
    } else {
        usize::from(inp.s % 40)
    };
    let from_logits = !fl(0);
    let len = n * c * s + usize::from(inp.shape_sel % 7 == 1);
    let pred: Vec<f32> = (0..len)
        .map(|i| {
            let v = pick(
                &inp.data,
                i.wrapping_mul(7) ^ (i >> 3),
                Num { sel: 0, raw: 0 },
            );
            if from_logits { v.logit() } else { v.prob() }
        })
        .collect();
    let ignore = ignore_value(inp.ignore_sel, inp.ignore_n);
    let ign = ignore_id(ignore);
    let pixels = (n * s).saturating_sub(usize::from(inp.shape_sel % 7 == 2));
    let ids: Vec<i64> = (0..pixels)
        .map(|i| {
            let (sel, v) = pick(&inp.ids, i, (0, 0));
            let v = i64::from(v);
            match sel % 16 {
                0..=11 => v.rem_euclid(c.max(1) as i64),
                12 | 13 => ign.unwrap_or(0),
                14 => -1 - v.abs(),
                _ => c as i64 + v.abs() % 3,
            }
        })
        .collect();
    let mlen = n * c * s - usize::from(inp.shape_sel % 7 == 3 && n * c * s > 0);
    let ml_f32: Vec<f32> = (0..mlen)
        .map(|i| pick(&inp.targets, i, Num { sel: 0, raw: 0 }).target(ignore))
        .collect();
    let ml_u8: Vec<u8> = (0..mlen)
        .map(|i| pick(&inp.targets, i, Num { sel: 0, raw: 0 }).mask(ignore))
        .collect();
    let region = Region::default()
        .with_from_logits(from_logits)
        .with_smooth(inp.smooth.param(0.0, 2.0))
        .with_eps(inp.eps.param(1e-9, 1e-3))
        .with_log_loss(fl(1))
        .with_ignore_index(ignore);
    let tversky = match inp.kind >> 4 {
        0..=4 => Tversky::dice(region),
        5..=8 => Tversky::jaccard(region),
        _ => Tversky {
            region,
            alpha: inp.alpha.param(0.0, 2.0),
            beta: inp.beta.param(0.0, 2.0),
            gamma: inp.gamma.param(0.0, 3.0),
        },
    };
    // The focal configuration may disagree on `from_logits` / ignore (ConfigMismatch).
    let focal_ignore = if fl(3) {
        ignore_value(inp.ignore_sel.wrapping_add(1), inp.ignore_n)
    } else {
        ignore
    };
    let focal = Focal::default()
        .with_from_logits(from_logits ^ fl(2))
        .with_gamma(inp.focal_gamma.param(0.0, 5.0))
        .with_alpha(inp.focal_alpha.map(|n| n.param(0.0, 1.0)))
        .with_normalized(fl(4))
        .with_reduced_threshold(inp.reduced_threshold.map(|n| n.param(0.01, 1.0)))
        .with_eps(inp.focal_eps.param(1e-8, 0.1))
        .with_ignore_index(focal_ignore)
        .with_reduction(if fl(5) {
            Reduction::Sum
        } else {
            Reduction::Mean
        });
    let ce = CrossEntropy::default()
        .with_ignore_index(if fl(6) { Some(-100) } else { ign })
        .with_label_smoothing(if fl(7) {
            inp.label_smoothing.param(0.0, 1.0)
        } else {
            0.0
        })
        .with_reduction(if fl(5) {
            Reduction::Sum
        } else {
            Reduction::Mean
        });
    let lambdas = (inp.lambdas.0.param(0.0, 2.0), inp.lambdas.1.param(0.0, 2.0));
    let classes = inp
        .classes
        .as_ref()
        .map(|v| v.iter().map(|&k| usize::from(k) % (c + 2).max(1)).collect());
    let weights = inp.weights.as_ref().map(|v| {
        let wl = if v.len() % 5 == 4 { v.len() } else { c }; // sometimes a wrong length
        (0..wl)
            .map(|i| pick(v, i, Num { sel: 0, raw: 0 }).param(0.0, 2.0))
            .collect()
    });
    Case {
        dims: [n, c, s],
        pred,
        ids,
        ml_f32,
        ml_u8,
        tversky,
        focal,
        ce,
        lambdas,
        classes,
        weights,
        per_image: inp.shape_sel & 0x80 != 0,
    }
}

/// Which parts a loss has: (region, cross entropy, focal).
pub fn parts(l: &mc::Loss) -> (Option<&Tversky>, Option<&CrossEntropy>, Option<&Focal>) {
    match l {
        mc::Loss::Region(t) => (Some(t), None, None),
        mc::Loss::Focal(f) => (None, None, Some(f)),
        mc::Loss::CrossEntropy(ce) => (None, Some(ce), None),
        mc::Loss::RegionCe { region, ce, .. } => (Some(region), Some(ce), None),
        mc::Loss::RegionFocal { region, focal, .. } => (Some(region), None, Some(focal)),
    }
}

/// The f64 probabilities (softmax over channels, or the values) and, for
/// focal, the per-class logits (raw, or `ln` of the clamped probability).
pub fn mc_values(pred: &[f32], [n, c, s]: [usize; 3], logits: bool) -> Vec<f64> {
    let x: Vec<f64> = pred.iter().map(|&v| f64::from(v)).collect();
    oracle::probabilities(oracle::Mode::Multiclass, logits, [n, c, s], &x)
}

/// Whether every prediction is in the compared domain of the multiclass
/// references: NaN, −∞ and |x| ≤ 1e30 logits (+∞ makes the softmax's
/// `x − max` NaN in f32 and PyTorch, while the oracle shares the mass), or
/// probabilities in [0, 1].
pub fn mc_domain(pred: &[f32], logits: bool) -> bool {
    pred.iter().all(|&x| {
        x.is_nan()
            || if logits {
                x == f32::NEG_INFINITY || x.abs() <= LOGIT_DOMAIN
            } else {
                (0.0..=1.0).contains(&x)
            }
    })
}

pub fn ml_parts(l: &ml::Loss) -> (Option<&Tversky>, Option<&Focal>) {
    match l {
        ml::Loss::Region(t) => (Some(t), None),
        ml::Loss::Focal(f) => (None, Some(f)),
        ml::Loss::RegionFocal { region, focal, .. } => (Some(region), Some(focal)),
    }
}
