//! `segloss::multiclass` and `segloss::multilabel`: `loss`, `loss_fixed::<C>`
//! (C = 1, 2, 3, 4, 5, 8) and the named entry points (dice, jaccard,
//! tversky, focal, cross_entropy, dice_ce, dice_focal), with class ids of
//! every type (u8, u16, i32, i64: ignore ids, negative ids, ids ≥ C),
//! `classes` subsets, class weights (wrong lengths, zero sums, NaN), the
//! per-image mode, mismatched shapes and random configurations.
//!
//! Differential against the f64 references of `src/multi.rs` (per-class
//! sums from the f64 softmax / σ, the binary focal reference per class,
//! `oracle::cross_entropy`) within the tolerances of `src/lib.rs`; every
//! error in the documented order; runtime-C, const-C and the named entry
//! points give the same bits; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segloss::multiclass::{self as mc, Classes, ClassId, CrossEntropy, MAX_CLASSES, Shape};
use segloss::{Error, Focal, Reduction, Region, Target, Tversky, multilabel as ml};
use segloss_fuzz::multi::{self, Band};
use segloss_fuzz::*;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    n: u8,
    c: u8,
    s: u8,
    shape_sel: u8,
    kind: u8,
    id_type: u8,
    flags: u8,
    ignore_sel: u8,
    ignore_n: Num,
    smooth: Num,
    eps: Num,
    alpha: Num,
    beta: Num,
    gamma: Num,
    focal_gamma: Num,
    focal_alpha: Option<Num>,
    reduced_threshold: Option<Num>,
    focal_eps: Num,
    label_smoothing: Num,
    lambdas: (Num, Num),
    classes: Option<Vec<u8>>,
    weights: Option<Vec<Num>>,
    ids: Vec<(u8, i16)>,
    data: Vec<Num>,
    targets: Vec<Num>,
}

/// A class-id type the target can build from an `i64` (wrapping, as `as`).
trait Id: ClassId + core::fmt::Debug {
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
fn ignore_id(v: Option<f32>) -> Option<i64> {
    v.filter(|v| v.abs() < 9.0e18 && (*v as i64) as f32 == *v).map(|v| v as i64)
}

/// Picks one element of a non-empty list by position.
fn pick<T: Copy>(v: &[T], i: usize, default: T) -> T {
    if v.is_empty() { default } else { v[i % v.len()] }
}

/// The case: shape, data and every configuration.
struct Case {
    dims: [usize; 3],
    pred: Vec<f32>,
    ids: Vec<i64>,
    ml_f32: Vec<f32>,
    ml_u8: Vec<u8>,
    tversky: Tversky,
    focal: Focal,
    ce: CrossEntropy,
    lambdas: (f32, f32),
    classes: Option<Vec<usize>>,
    weights: Option<Vec<f32>>,
    per_image: bool,
}

fn build(inp: &Input) -> Case {
    let fl = |bit: u8| inp.flags & (1 << bit) != 0;
    let big = inp.shape_sel % 31 == 7;
    let n = usize::from(inp.n % 4);
    let c = if big { 250 + usize::from(inp.c % 12) } else { usize::from(inp.c % 9) };
    let s = if big { usize::from(inp.s % 3) } else { usize::from(inp.s % 40) };
    let from_logits = !fl(0);
    let len = n * c * s + usize::from(inp.shape_sel % 7 == 1);
    let pred: Vec<f32> = (0..len)
        .map(|i| {
            let v = pick(&inp.data, i.wrapping_mul(7) ^ (i >> 3), Num { sel: 0, raw: 0 });
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
    let ml_f32: Vec<f32> = (0..mlen).map(|i| pick(&inp.targets, i, Num { sel: 0, raw: 0 }).target(ignore)).collect();
    let ml_u8: Vec<u8> = (0..mlen).map(|i| pick(&inp.targets, i, Num { sel: 0, raw: 0 }).mask(ignore)).collect();
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
    let focal_ignore = if fl(3) { ignore_value(inp.ignore_sel.wrapping_add(1), inp.ignore_n) } else { ignore };
    let focal = Focal::default()
        .with_from_logits(from_logits ^ fl(2))
        .with_gamma(inp.focal_gamma.param(0.0, 5.0))
        .with_alpha(inp.focal_alpha.map(|n| n.param(0.0, 1.0)))
        .with_normalized(fl(4))
        .with_reduced_threshold(inp.reduced_threshold.map(|n| n.param(0.01, 1.0)))
        .with_eps(inp.focal_eps.param(1e-8, 0.1))
        .with_ignore_index(focal_ignore)
        .with_reduction(if fl(5) { Reduction::Sum } else { Reduction::Mean });
    let ce = CrossEntropy::default()
        .with_ignore_index(if fl(6) { Some(-100) } else { ign })
        .with_label_smoothing(if fl(7) { inp.label_smoothing.param(0.0, 1.0) } else { 0.0 })
        .with_reduction(if fl(5) { Reduction::Sum } else { Reduction::Mean });
    let lambdas = (inp.lambdas.0.param(0.0, 2.0), inp.lambdas.1.param(0.0, 2.0));
    let classes = inp.classes.as_ref().map(|v| v.iter().map(|&k| usize::from(k) % (c + 2).max(1)).collect());
    let weights = inp.weights.as_ref().map(|v| {
        let wl = if v.len() % 5 == 4 { v.len() } else { c }; // sometimes a wrong length
        (0..wl).map(|i| pick(v, i, Num { sel: 0, raw: 0 }).param(0.0, 2.0)).collect()
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

/// The expected error of `Classes::validate(c)` (SPEC / the documented rules).
fn classes_error(c: usize, classes: Option<&[usize]>, weights: Option<&[f32]>) -> Option<Error> {
    if let Some(l) = classes {
        if l.is_empty() || l.iter().any(|&k| k >= c) {
            return Some(Error::InvalidClasses);
        }
    }
    if let Some(w) = weights {
        if w.len() != c || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Some(Error::InvalidClassWeights);
        }
        let all: f64 = w.iter().map(|&v| f64::from(v)).sum();
        let kept: f64 = classes.map_or(all, |l| l.iter().map(|&k| f64::from(w[k])).sum());
        if !(all > 0.0 && kept > 0.0) {
            return Some(Error::InvalidClassWeights);
        }
    }
    None
}

/// `Ok` and the band, or the expected error, compared with `got`.
fn expect_value(what: &str, got: &Result<f32, Error>, want: Result<Option<Band>, Error>) {
    match want {
        Err(e) => check_error(what, got, &e),
        Ok(band) => match got {
            Err(e) => fail(what, format!("valid input gave Err({e:?})")),
            Ok(v) => {
                if let Some(b) = band {
                    if !within(*v, b.want, b.lo, b.hi) {
                        fail(what, format!("got {v:e}, want {:e} in [{:e}, {:e}]", b.want, b.lo, b.hi));
                    }
                }
            }
        },
    }
}

/// The same result (bits, or the same error).
fn same(what: &str, a: &Result<f32, Error>, b: &Result<f32, Error>) {
    let ok = match (a, b) {
        (Ok(x), Ok(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Err(x), Err(y)) => format!("{x:?}") == format!("{y:?}"), // NaN payloads compare equal
        _ => false,
    };
    if !ok {
        fail(what, format!("{a:?} vs {b:?}"));
    }
}

/// Which parts a loss has: (region, cross entropy, focal).
fn parts(l: &mc::Loss) -> (Option<&Tversky>, Option<&CrossEntropy>, Option<&Focal>) {
    match l {
        mc::Loss::Region(t) => (Some(t), None, None),
        mc::Loss::Focal(f) => (None, None, Some(f)),
        mc::Loss::CrossEntropy(ce) => (None, Some(ce), None),
        mc::Loss::RegionCe { region, ce, .. } => (Some(region), Some(ce), None),
        mc::Loss::RegionFocal { region, focal, .. } => (Some(region), None, Some(focal)),
    }
}

/// The validation error of a multiclass loss (parameters, then the combined rules).
fn loss_error(l: &mc::Loss) -> Option<Error> {
    let bad = Error::InvalidParameter { name: "", value: 0.0 };
    let lam = |v: f32| v >= 0.0 && v.is_finite();
    let (r, ce, f) = parts(l);
    if r.is_some_and(|t| !valid_tversky(t))
        || ce.is_some_and(|ce| !(0.0..=1.0).contains(&ce.label_smoothing))
        || f.is_some_and(|f| !valid_focal(f))
    {
        return Some(bad);
    }
    match l {
        mc::Loss::RegionCe { region, lambda_region, lambda_ce, .. } => {
            if !lam(*lambda_region) || !lam(*lambda_ce) {
                return Some(bad);
            }
            if !region.region.from_logits {
                return Some(Error::ConfigMismatch { field: "from_logits" });
            }
        }
        mc::Loss::RegionFocal { region, focal, lambda_region, lambda_focal } => {
            if !lam(*lambda_region) || !lam(*lambda_focal) {
                return Some(bad);
            }
            if region.region.from_logits != focal.from_logits {
                return Some(Error::ConfigMismatch { field: "from_logits" });
            }
        }
        _ => {}
    }
    None
}

/// The f64 probabilities (softmax over channels, or the values) and, for
/// focal, the per-class logits (raw, or `ln` of the clamped probability).
fn mc_values(pred: &[f32], [n, c, s]: [usize; 3], logits: bool) -> Vec<f64> {
    let x: Vec<f64> = pred.iter().map(|&v| f64::from(v)).collect();
    oracle::probabilities(oracle::Mode::Multiclass, logits, [n, c, s], &x)
}

/// Whether every prediction is in the compared domain of the multiclass
/// references: NaN, −∞ and |x| ≤ 1e30 logits (+∞ makes the softmax's
/// `x − max` NaN in f32 and PyTorch, while the oracle shares the mass), or
/// probabilities in [0, 1].
fn mc_domain(pred: &[f32], logits: bool) -> bool {
    pred.iter().all(|&x| {
        x.is_nan() || if logits { x == f32::NEG_INFINITY || x.abs() <= LOGIT_DOMAIN } else { (0.0..=1.0).contains(&x) }
    })
}

fn run_mc<L: Id>(cs: &Case, fixed_too: bool) {
    let [n, c, s] = cs.dims;
    let shape = match Shape::new(n, c, s) {
        Ok(sh) => sh,
        Err(e) => {
            let want = if c == 0 { Error::InvalidShape } else { Error::Empty };
            if e != want {
                fail("Shape::new", format!("{e:?}, want {want:?}"));
            }
            return;
        }
    };
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
        mc::Loss::RegionCe { region: cs.tversky, ce: cs.ce, lambda_region: la, lambda_ce: lb },
        mc::Loss::RegionFocal { region: cs.tversky, focal: cs.focal, lambda_region: la, lambda_focal: lb },
    ];
    for l in &losses {
        let what = format!("multiclass {l:?}");
        let got = mc::loss(&cs.pred, &ids, shape, l, &classes);
        expect_value(&what, &got, mc_expected(cs, l, shape, &ids, &labels));

        // Const-C entry points give the same bits (or their ShapeMismatch).
        if fixed_too {
            macro_rules! fixed {
                ($($k:literal),*) => {$(
                    let f = mc::loss_fixed::<$k, L>(&cs.pred, &ids, shape, l, &classes);
                    if c == $k {
                        same(&format!("{what} loss_fixed::<{}>", $k), &f, &got);
                    } else {
                        check_error(&what, &f, &Error::ShapeMismatch { expected: $k, found: c });
                    }
                )*};
            }
            fixed!(1, 2, 3, 4, 5, 8);
        }
    }
    // Named entry points = `loss` of the matching variant.
    let r = &cs.tversky.region;
    let (dice, jac) = (mc::Loss::Region(Tversky::dice(*r)), mc::Loss::Region(Tversky::jaccard(*r)));
    same("mc dice", &mc::dice(&cs.pred, &ids, shape, r, &classes), &mc::loss(&cs.pred, &ids, shape, &dice, &classes));
    same("mc jaccard", &mc::jaccard(&cs.pred, &ids, shape, r, &classes), &mc::loss(&cs.pred, &ids, shape, &jac, &classes));
    same("mc tversky", &mc::tversky(&cs.pred, &ids, shape, &cs.tversky, &classes), &mc::loss(&cs.pred, &ids, shape, &losses[0], &classes));
    same("mc focal", &mc::focal(&cs.pred, &ids, shape, &cs.focal, &classes), &mc::loss(&cs.pred, &ids, shape, &losses[1], &classes));
    same("mc cross_entropy", &mc::cross_entropy(&cs.pred, &ids, shape, &cs.ce, &classes), &mc::loss(&cs.pred, &ids, shape, &losses[2], &classes));
    let dce = mc::Loss::RegionCe { region: Tversky::dice(*r), ce: cs.ce, lambda_region: la, lambda_ce: lb };
    same("mc dice_ce", &mc::dice_ce(&cs.pred, &ids, shape, r, &cs.ce, cs.lambdas, &classes), &mc::loss(&cs.pred, &ids, shape, &dce, &classes));
    let dfo = mc::Loss::RegionFocal { region: Tversky::dice(*r), focal: cs.focal, lambda_region: la, lambda_focal: lb };
    same("mc dice_focal", &mc::dice_focal(&cs.pred, &ids, shape, r, &cs.focal, cs.lambdas, &classes), &mc::loss(&cs.pred, &ids, shape, &dfo, &classes));
}

/// The expected multiclass result: the first error in the documented order,
/// or a value band (`None` outside the compared domain).
fn mc_expected<L: Id>(cs: &Case, l: &mc::Loss, shape: Shape, ids: &[L], labels: &[f64]) -> Result<Option<Band>, Error> {
    let [n, c, s] = cs.dims;
    if c > MAX_CLASSES {
        return Err(Error::TooManyClasses { classes: c, max: MAX_CLASSES });
    }
    if let Some(e) = loss_error(l) {
        return Err(e);
    }
    if let Some(e) = classes_error(c, cs.classes.as_deref(), cs.weights.as_deref()) {
        return Err(e);
    }
    if cs.pred.len() != shape.len() {
        return Err(Error::ShapeMismatch { expected: shape.len(), found: cs.pred.len() });
    }
    if ids.len() != shape.pixels() {
        return Err(Error::ShapeMismatch { expected: shape.pixels(), found: ids.len() });
    }
    let (r, ce, f) = parts(l);
    let ig_a = r.and_then(|t| ignore_id(t.region.ignore_index));
    let ig_b = match (ce, f) {
        (Some(ce), _) => ce.ignore_index,
        (None, Some(f)) => ignore_id(f.ignore_index),
        _ => None,
    };
    let (use_a, use_b) = (r.is_some(), ce.is_some() || f.is_some());
    for t in ids {
        let id = t.id();
        let in_range = id >= 0 && (id as u64) < c as u64;
        if !in_range && ((use_a && ig_a != Some(id)) || (use_b && ig_b != Some(id))) {
            return Err(Error::ClassIdOutOfRange { id, classes: c });
        }
    }
    // Values.
    let logits = match (r, f) {
        (Some(t), _) => t.region.from_logits,
        (None, Some(f)) => f.from_logits,
        _ => true,
    };
    if !mc_domain(&cs.pred, logits) {
        return Ok(None);
    }
    let dims = [n, c, s];
    let x64: Vec<f64> = cs.pred.iter().map(|&v| f64::from(v)).collect();
    let w = cs.weights.as_deref();
    let region = |t: &Tversky| {
        let probs = mc_values(&cs.pred, dims, logits);
        multi::region(t, &probs, labels, dims, true, ig_a.map(|i| i as f64), cs.classes.as_deref(), w, cs.per_image)
    };
    let focal = |f: &Focal| {
        // Multiclass focal reads the channel itself: the logit, or `ln p` of the
        // clamped probability (SPEC); the binary reference then runs from logits.
        let xs: Vec<f64> = if f.from_logits {
            x64.clone()
        } else {
            let e = f64::from(f.eps);
            x64.iter().map(|&p| if p.is_nan() { p } else { p.clamp(e, 1.0 - e).ln() }).collect()
        };
        let fl = f.with_from_logits(true);
        // `ln p` is an f32 intermediate (see `multi::focal`).
        let mag = if f.from_logits { 0.0 } else { xs.iter().filter(|x| x.is_finite()).fold(0.0, |m: f64, x| m.max(x.abs())) };
        multi::focal(&fl, &xs, labels, dims, true, ig_b.map(|i| i as f64), w, mag)
    };
    let ce_band = |ce: &CrossEntropy| {
        // Cross entropy's weights are PyTorch's `weight` (length C, any classes subset).
        multi::cross_entropy(ce, &x64, labels, dims, w)
    };
    Ok(match l {
        mc::Loss::Region(t) => Some(region(t)),
        mc::Loss::Focal(f) => focal(f),
        mc::Loss::CrossEntropy(ce) => Some(ce_band(ce)),
        mc::Loss::RegionCe { region: t, ce, lambda_region, lambda_ce } => {
            Some(region(t).combine(f64::from(*lambda_region), ce_band(ce), f64::from(*lambda_ce)))
        }
        mc::Loss::RegionFocal { region: t, focal: fc, lambda_region, lambda_focal } => {
            focal(fc).map(|fb| region(t).combine(f64::from(*lambda_region), fb, f64::from(*lambda_focal)))
        }
    })
}

// ------------------------------------------------------------- multilabel

fn ml_parts(l: &ml::Loss) -> (Option<&Tversky>, Option<&Focal>) {
    match l {
        ml::Loss::Region(t) => (Some(t), None),
        ml::Loss::Focal(f) => (None, Some(f)),
        ml::Loss::RegionFocal { region, focal, .. } => (Some(region), Some(focal)),
    }
}

fn ml_loss_error(l: &ml::Loss) -> Option<Error> {
    let bad = Error::InvalidParameter { name: "", value: 0.0 };
    let (r, f) = ml_parts(l);
    if r.is_some_and(|t| !valid_tversky(t)) || f.is_some_and(|f| !valid_focal(f)) {
        return Some(bad);
    }
    if let ml::Loss::RegionFocal { region, focal, lambda_region, lambda_focal } = l {
        if !(*lambda_region >= 0.0 && lambda_region.is_finite() && *lambda_focal >= 0.0 && lambda_focal.is_finite()) {
            return Some(bad);
        }
        if region.region.from_logits != focal.from_logits {
            return Some(Error::ConfigMismatch { field: "from_logits" });
        }
        if region.region.ignore_index != focal.ignore_index {
            return Some(Error::ConfigMismatch { field: "ignore_index" });
        }
    }
    None
}

fn run_ml<T: Target + Into<f64> + core::fmt::Debug>(cs: &Case, target: &[T]) {
    let [n, c, s] = cs.dims;
    let Ok(shape) = Shape::new(n, c, s) else { return }; // checked by run_mc
    let ys: Vec<f64> = target.iter().map(|&t| t.into()).collect();
    let classes = Classes::default()
        .with_classes(cs.classes.as_deref())
        .with_weights(cs.weights.as_deref())
        .with_per_image(cs.per_image);
    let (la, lb) = cs.lambdas;
    let losses = [
        ml::Loss::Region(cs.tversky),
        ml::Loss::Focal(cs.focal),
        ml::Loss::RegionFocal { region: cs.tversky, focal: cs.focal, lambda_region: la, lambda_focal: lb },
    ];
    for l in &losses {
        let what = format!("multilabel {l:?}");
        let got = ml::loss(&cs.pred, target, shape, l, &classes);
        expect_value(&what, &got, ml_expected(cs, l, shape, target, &ys));
        for (k, f) in [
            (1, ml::loss_fixed::<1, T>(&cs.pred, target, shape, l, &classes)),
            (3, ml::loss_fixed::<3, T>(&cs.pred, target, shape, l, &classes)),
            (4, ml::loss_fixed::<4, T>(&cs.pred, target, shape, l, &classes)),
        ] {
            if c == k {
                same(&format!("{what} loss_fixed::<{k}>"), &f, &got);
            } else {
                check_error(&what, &f, &Error::ShapeMismatch { expected: k, found: c });
            }
        }
    }
    let r = &cs.tversky.region;
    same("ml dice", &ml::dice(&cs.pred, target, shape, r, &classes), &ml::loss(&cs.pred, target, shape, &ml::Loss::Region(Tversky::dice(*r)), &classes));
    same("ml jaccard", &ml::jaccard(&cs.pred, target, shape, r, &classes), &ml::loss(&cs.pred, target, shape, &ml::Loss::Region(Tversky::jaccard(*r)), &classes));
    same("ml tversky", &ml::tversky(&cs.pred, target, shape, &cs.tversky, &classes), &ml::loss(&cs.pred, target, shape, &losses[0], &classes));
    same("ml focal", &ml::focal(&cs.pred, target, shape, &cs.focal, &classes), &ml::loss(&cs.pred, target, shape, &losses[1], &classes));
    let dfo = ml::Loss::RegionFocal { region: Tversky::dice(*r), focal: cs.focal, lambda_region: la, lambda_focal: lb };
    same("ml dice_focal", &ml::dice_focal(&cs.pred, target, shape, r, &cs.focal, cs.lambdas, &classes), &ml::loss(&cs.pred, target, shape, &dfo, &classes));
}

fn ml_expected<T: Target + Into<f64>>(cs: &Case, l: &ml::Loss, shape: Shape, target: &[T], ys: &[f64]) -> Result<Option<Band>, Error> {
    let [n, c, s] = cs.dims;
    if let Some(e) = ml_loss_error(l) {
        return Err(e);
    }
    if let Some(e) = classes_error(c, cs.classes.as_deref(), cs.weights.as_deref()) {
        return Err(e);
    }
    if cs.pred.len() != shape.len() {
        return Err(Error::ShapeMismatch { expected: shape.len(), found: cs.pred.len() });
    }
    if target.len() != shape.len() {
        return Err(Error::ShapeMismatch { expected: shape.len(), found: target.len() });
    }
    let (r, f) = ml_parts(l);
    let ignore = match (r, f) {
        (Some(t), _) => t.region.ignore_index,
        (None, Some(f)) => f.ignore_index,
        _ => None,
    };
    // Mask values: each processed plane (channel-major, image-minor; channels
    // outside `classes` are skipped by a region-only loss) reports the largest
    // kept value above 1 of the first plane that has one.
    if T::IS_MASK {
        for k in 0..c {
            let kept_class = cs.classes.as_ref().is_none_or(|l| l.contains(&k));
            if !(r.is_some() && kept_class) && f.is_none() {
                continue;
            }
            for b in 0..n {
                let plane = &ys[(b * c + k) * s..(b * c + k + 1) * s];
                let top = plane
                    .iter()
                    .filter(|&&y| ignore.map(f64::from) != Some(y))
                    .fold(0.0f64, |m, &y| m.max(y));
                if top > 1.0 {
                    return Err(Error::InvalidMask { value: top as u8 });
                }
            }
        }
    }
    let logits = match (r, f) {
        (Some(t), _) => t.region.from_logits,
        (None, Some(f)) => f.from_logits,
        _ => true,
    };
    if !in_domain(&cs.pred, ys, logits, ignore) {
        return Ok(None);
    }
    let dims = [n, c, s];
    let x64: Vec<f64> = cs.pred.iter().map(|&v| f64::from(v)).collect();
    let w = cs.weights.as_deref();
    let ig = ignore.map(f64::from);
    let region = |t: &Tversky| {
        let probs = probs(&x64, logits);
        multi::region(t, &probs, ys, dims, false, ig, cs.classes.as_deref(), w, cs.per_image)
    };
    let focal = |f: &Focal| multi::focal(f, &x64, ys, dims, false, ig, w, 0.0);
    Ok(match l {
        ml::Loss::Region(t) => Some(region(t)),
        ml::Loss::Focal(f) => focal(f),
        ml::Loss::RegionFocal { region: t, focal: fc, lambda_region, lambda_focal } => {
            focal(fc).map(|fb| region(t).combine(f64::from(*lambda_region), fb, f64::from(*lambda_focal)))
        }
    })
}

fuzz_target!(|inp: Input| {
    let cs = build(&inp);
    let fixed = inp.id_type & 4 != 0;
    match inp.id_type % 4 {
        0 => run_mc::<u8>(&cs, fixed),
        1 => run_mc::<u16>(&cs, fixed),
        2 => run_mc::<i32>(&cs, fixed),
        _ => run_mc::<i64>(&cs, fixed),
    }
    run_ml(&cs, &cs.ml_f32);
    run_ml(&cs, &cs.ml_u8);
});
