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
use segloss::multiclass::{self as mc, Classes, CrossEntropy, MAX_CLASSES, Shape};
use segloss::{Error, Focal, Target, Tversky, multilabel as ml};
use segloss_fuzz::multi::{self, Band};
use segloss_fuzz::nchw::*;
use segloss_fuzz::*;

/// The expected error of `Classes::validate(c)` (SPEC / the documented rules).
fn classes_error(c: usize, classes: Option<&[usize]>, weights: Option<&[f32]>) -> Option<Error> {
    if let Some(l) = classes
        && (l.is_empty() || l.iter().any(|&k| k >= c))
    {
        return Some(Error::InvalidClasses);
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
                if let Some(b) = band
                    && !within(*v, b.want, b.lo, b.hi)
                {
                    fail(
                        what,
                        format!("got {v:e}, want {:e} in [{:e}, {:e}]", b.want, b.lo, b.hi),
                    );
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

/// The validation error of a multiclass loss (parameters, then the combined rules).
fn loss_error(l: &mc::Loss) -> Option<Error> {
    let bad = Error::InvalidParameter {
        name: "",
        value: 0.0,
    };
    let lam = |v: f32| v >= 0.0 && v.is_finite();
    let (r, ce, f) = parts(l);
    if r.is_some_and(|t| !valid_tversky(t))
        || ce.is_some_and(|ce| !(0.0..=1.0).contains(&ce.label_smoothing))
        || f.is_some_and(|f| !valid_focal(f))
    {
        return Some(bad);
    }
    match l {
        mc::Loss::RegionCe {
            region,
            lambda_region,
            lambda_ce,
            ..
        } => {
            if !lam(*lambda_region) || !lam(*lambda_ce) {
                return Some(bad);
            }
            if !region.region.from_logits {
                return Some(Error::ConfigMismatch {
                    field: "from_logits",
                });
            }
        }
        mc::Loss::RegionFocal {
            region,
            focal,
            lambda_region,
            lambda_focal,
        } => {
            if !lam(*lambda_region) || !lam(*lambda_focal) {
                return Some(bad);
            }
            if region.region.from_logits != focal.from_logits {
                return Some(Error::ConfigMismatch {
                    field: "from_logits",
                });
            }
        }
        _ => {}
    }
    None
}

fn run_mc<L: Id>(cs: &Case, fixed_too: bool) {
    let [n, c, s] = cs.dims;
    let shape = match Shape::new(n, c, s) {
        Ok(sh) => sh,
        Err(e) => {
            let want = if c == 0 {
                Error::InvalidShape
            } else {
                Error::Empty
            };
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
    let (dice, jac) = (
        mc::Loss::Region(Tversky::dice(*r)),
        mc::Loss::Region(Tversky::jaccard(*r)),
    );
    same(
        "mc dice",
        &mc::dice(&cs.pred, &ids, shape, r, &classes),
        &mc::loss(&cs.pred, &ids, shape, &dice, &classes),
    );
    same(
        "mc jaccard",
        &mc::jaccard(&cs.pred, &ids, shape, r, &classes),
        &mc::loss(&cs.pred, &ids, shape, &jac, &classes),
    );
    same(
        "mc tversky",
        &mc::tversky(&cs.pred, &ids, shape, &cs.tversky, &classes),
        &mc::loss(&cs.pred, &ids, shape, &losses[0], &classes),
    );
    same(
        "mc focal",
        &mc::focal(&cs.pred, &ids, shape, &cs.focal, &classes),
        &mc::loss(&cs.pred, &ids, shape, &losses[1], &classes),
    );
    same(
        "mc cross_entropy",
        &mc::cross_entropy(&cs.pred, &ids, shape, &cs.ce, &classes),
        &mc::loss(&cs.pred, &ids, shape, &losses[2], &classes),
    );
    let dce = mc::Loss::RegionCe {
        region: Tversky::dice(*r),
        ce: cs.ce,
        lambda_region: la,
        lambda_ce: lb,
    };
    same(
        "mc dice_ce",
        &mc::dice_ce(&cs.pred, &ids, shape, r, &cs.ce, cs.lambdas, &classes),
        &mc::loss(&cs.pred, &ids, shape, &dce, &classes),
    );
    let dfo = mc::Loss::RegionFocal {
        region: Tversky::dice(*r),
        focal: cs.focal,
        lambda_region: la,
        lambda_focal: lb,
    };
    same(
        "mc dice_focal",
        &mc::dice_focal(&cs.pred, &ids, shape, r, &cs.focal, cs.lambdas, &classes),
        &mc::loss(&cs.pred, &ids, shape, &dfo, &classes),
    );
}

/// The expected multiclass result: the first error in the documented order,
/// or a value band (`None` outside the compared domain).
fn mc_expected<L: Id>(
    cs: &Case,
    l: &mc::Loss,
    shape: Shape,
    ids: &[L],
    labels: &[f64],
) -> Result<Option<Band>, Error> {
    let [n, c, s] = cs.dims;
    if c > MAX_CLASSES {
        return Err(Error::TooManyClasses {
            classes: c,
            max: MAX_CLASSES,
        });
    }
    if let Some(e) = loss_error(l) {
        return Err(e);
    }
    if let Some(e) = classes_error(c, cs.classes.as_deref(), cs.weights.as_deref()) {
        return Err(e);
    }
    if cs.pred.len() != shape.len() {
        return Err(Error::ShapeMismatch {
            expected: shape.len(),
            found: cs.pred.len(),
        });
    }
    if ids.len() != shape.pixels() {
        return Err(Error::ShapeMismatch {
            expected: shape.pixels(),
            found: ids.len(),
        });
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
        multi::region(
            t,
            &probs,
            labels,
            dims,
            true,
            ig_a.map(|i| i as f64),
            cs.classes.as_deref(),
            w,
            cs.per_image,
        )
    };
    let focal = |f: &Focal| {
        // Multiclass focal reads the channel itself: the logit, or `ln p` of the
        // clamped probability (SPEC); the binary reference then runs from logits.
        let xs: Vec<f64> = if f.from_logits {
            x64.clone()
        } else {
            let e = f64::from(f.eps);
            x64.iter()
                .map(|&p| {
                    if p.is_nan() {
                        p
                    } else {
                        p.clamp(e, 1.0 - e).ln()
                    }
                })
                .collect()
        };
        let fl = f.with_from_logits(true);
        // `ln p` is an f32 intermediate (see `multi::focal`).
        let mag = if f.from_logits {
            0.0
        } else {
            xs.iter()
                .filter(|x| x.is_finite())
                .fold(0.0, |m: f64, x| m.max(x.abs()))
        };
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
        mc::Loss::RegionCe {
            region: t,
            ce,
            lambda_region,
            lambda_ce,
        } => Some(region(t).combine(
            f64::from(*lambda_region),
            ce_band(ce),
            f64::from(*lambda_ce),
        )),
        mc::Loss::RegionFocal {
            region: t,
            focal: fc,
            lambda_region,
            lambda_focal,
        } => focal(fc)
            .map(|fb| region(t).combine(f64::from(*lambda_region), fb, f64::from(*lambda_focal))),
    })
}

// ------------------------------------------------------------- multilabel

fn ml_loss_error(l: &ml::Loss) -> Option<Error> {
    let bad = Error::InvalidParameter {
        name: "",
        value: 0.0,
    };
    let (r, f) = ml_parts(l);
    if r.is_some_and(|t| !valid_tversky(t)) || f.is_some_and(|f| !valid_focal(f)) {
        return Some(bad);
    }
    if let ml::Loss::RegionFocal {
        region,
        focal,
        lambda_region,
        lambda_focal,
    } = l
    {
        if !(*lambda_region >= 0.0
            && lambda_region.is_finite()
            && *lambda_focal >= 0.0
            && lambda_focal.is_finite())
        {
            return Some(bad);
        }
        if region.region.from_logits != focal.from_logits {
            return Some(Error::ConfigMismatch {
                field: "from_logits",
            });
        }
        if region.region.ignore_index != focal.ignore_index {
            return Some(Error::ConfigMismatch {
                field: "ignore_index",
            });
        }
    }
    None
}

fn run_ml<T: Target + Into<f64> + core::fmt::Debug>(cs: &Case, target: &[T]) {
    let [n, c, s] = cs.dims;
    let Ok(shape) = Shape::new(n, c, s) else {
        return;
    }; // checked by run_mc
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
    for l in &losses {
        let what = format!("multilabel {l:?}");
        let got = ml::loss(&cs.pred, target, shape, l, &classes);
        expect_value(&what, &got, ml_expected(cs, l, shape, target, &ys));
        for (k, f) in [
            (
                1,
                ml::loss_fixed::<1, T>(&cs.pred, target, shape, l, &classes),
            ),
            (
                3,
                ml::loss_fixed::<3, T>(&cs.pred, target, shape, l, &classes),
            ),
            (
                4,
                ml::loss_fixed::<4, T>(&cs.pred, target, shape, l, &classes),
            ),
        ] {
            if c == k {
                same(&format!("{what} loss_fixed::<{k}>"), &f, &got);
            } else {
                check_error(
                    &what,
                    &f,
                    &Error::ShapeMismatch {
                        expected: k,
                        found: c,
                    },
                );
            }
        }
    }
    let r = &cs.tversky.region;
    same(
        "ml dice",
        &ml::dice(&cs.pred, target, shape, r, &classes),
        &ml::loss(
            &cs.pred,
            target,
            shape,
            &ml::Loss::Region(Tversky::dice(*r)),
            &classes,
        ),
    );
    same(
        "ml jaccard",
        &ml::jaccard(&cs.pred, target, shape, r, &classes),
        &ml::loss(
            &cs.pred,
            target,
            shape,
            &ml::Loss::Region(Tversky::jaccard(*r)),
            &classes,
        ),
    );
    same(
        "ml tversky",
        &ml::tversky(&cs.pred, target, shape, &cs.tversky, &classes),
        &ml::loss(&cs.pred, target, shape, &losses[0], &classes),
    );
    same(
        "ml focal",
        &ml::focal(&cs.pred, target, shape, &cs.focal, &classes),
        &ml::loss(&cs.pred, target, shape, &losses[1], &classes),
    );
    let dfo = ml::Loss::RegionFocal {
        region: Tversky::dice(*r),
        focal: cs.focal,
        lambda_region: la,
        lambda_focal: lb,
    };
    same(
        "ml dice_focal",
        &ml::dice_focal(&cs.pred, target, shape, r, &cs.focal, cs.lambdas, &classes),
        &ml::loss(&cs.pred, target, shape, &dfo, &classes),
    );
}

fn ml_expected<T: Target + Into<f64>>(
    cs: &Case,
    l: &ml::Loss,
    shape: Shape,
    target: &[T],
    ys: &[f64],
) -> Result<Option<Band>, Error> {
    let [n, c, s] = cs.dims;
    if let Some(e) = ml_loss_error(l) {
        return Err(e);
    }
    if let Some(e) = classes_error(c, cs.classes.as_deref(), cs.weights.as_deref()) {
        return Err(e);
    }
    if cs.pred.len() != shape.len() {
        return Err(Error::ShapeMismatch {
            expected: shape.len(),
            found: cs.pred.len(),
        });
    }
    if target.len() != shape.len() {
        return Err(Error::ShapeMismatch {
            expected: shape.len(),
            found: target.len(),
        });
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
        multi::region(
            t,
            &probs,
            ys,
            dims,
            false,
            ig,
            cs.classes.as_deref(),
            w,
            cs.per_image,
        )
    };
    let focal = |f: &Focal| multi::focal(f, &x64, ys, dims, false, ig, w, 0.0);
    Ok(match l {
        ml::Loss::Region(t) => Some(region(t)),
        ml::Loss::Focal(f) => focal(f),
        ml::Loss::RegionFocal {
            region: t,
            focal: fc,
            lambda_region,
            lambda_focal,
        } => focal(fc)
            .map(|fb| region(t).combine(f64::from(*lambda_region), fb, f64::from(*lambda_focal))),
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
