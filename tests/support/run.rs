//! Runs a conformance case through segloss: the one place that maps the
//! FORMAT.md parameter names onto segloss's configuration types. Used by
//! `tests/conformance.rs` and `examples/conformance.rs`.

use super::cases::{Case, Params};
use segloss::{
    Bce, BceWithLogits, Focal, HardMcc, Mcc, Reduction, Region, SigmoidFocal, SoftBce, Tversky,
    binary,
};

/// What running a case gave.
#[derive(Debug)]
pub enum Outcome {
    /// The loss value.
    Value(f64),
    /// The crate does not support this kind/mode (yet); the reason.
    Skip(String),
    /// segloss returned an error for a case that has an expected value.
    Error(segloss::Error),
}

fn f(v: Option<f64>, default: f32) -> f32 {
    v.map_or(default, |v| v as f32)
}

fn reduction(p: &Params) -> Result<Reduction, String> {
    match p.reduction.as_deref() {
        None | Some("mean") => Ok(Reduction::Mean),
        Some("sum") => Ok(Reduction::Sum),
        Some(other) => Err(format!("reduction `{other}` is not a scalar reduction")),
    }
}

fn ignore(p: &Params, default: Option<f32>) -> Option<f32> {
    match p.ignore_index {
        None => default,
        Some(v) => v.map(|v| v as f32),
    }
}

/// The region configuration of a case.
pub fn region(c: &Case) -> Region {
    let p = &c.params;
    Region {
        from_logits: c.from_logits,
        smooth: f(p.smooth, 0.0),
        eps: f(p.eps, 1e-7),
        log_loss: p.log_loss.unwrap_or(false),
        ignore_index: ignore(p, None),
    }
}

/// The Tversky configuration of a case (Dice and Jaccard fix α, β).
pub fn tversky(c: &Case) -> Tversky {
    let p = &c.params;
    match c.kind.as_str() {
        "dice" => Tversky::dice(region(c)),
        "jaccard" => Tversky::jaccard(region(c)),
        _ => Tversky {
            region: region(c),
            alpha: f(p.alpha.flatten(), 0.5),
            beta: f(p.beta, 0.5),
            gamma: f(p.gamma, 1.0),
        },
    }
}

/// smp's focal configuration of a case.
pub fn focal(c: &Case) -> Result<Focal, String> {
    let p = &c.params;
    Ok(Focal {
        from_logits: c.from_logits,
        gamma: f(p.gamma, 2.0),
        alpha: p.alpha.flatten().map(|a| a as f32),
        normalized: p.normalized.unwrap_or(false),
        reduced_threshold: p.reduced_threshold.flatten().map(|r| r as f32),
        eps: f(p.eps, 1e-7),
        ignore_index: ignore(p, None),
        reduction: reduction(p)?,
    })
}

/// Runs a multiclass or multilabel case (class weights rounded to f32).
fn value_nchw(c: &Case) -> Outcome {
    use segloss::multiclass::{self, Classes, CrossEntropy, Shape};
    use segloss::multilabel;
    let p = &c.params;
    let [n, ch, s] = c.shape;
    let weights: Option<Vec<f32>> = p
        .class_weights
        .as_ref()
        .map(|w| w.iter().map(|&v| v as f32).collect());
    let classes = Classes {
        classes: p.classes.as_deref(),
        weights: weights.as_deref(),
        per_image: false,
    };
    let r: Result<Result<f32, segloss::Error>, String> = (|| {
        let shape = match Shape::new(n, ch, s) {
            Ok(shape) => shape,
            Err(e) => return Ok(Err(e)),
        };
        Ok(if c.mode == "multiclass" {
            let ids: Vec<i64> = c.target.iter().map(|&t| t as i64).collect();
            let loss = match c.kind.as_str() {
                "dice" | "jaccard" | "tversky" => multiclass::Loss::Region(tversky(c)),
                "focal" => multiclass::Loss::Focal(focal(c)?),
                "cross_entropy" => multiclass::Loss::CrossEntropy(CrossEntropy {
                    ignore_index: p.ignore_index.unwrap_or(Some(-100)),
                    label_smoothing: f(p.label_smoothing, 0.0),
                    reduction: reduction(p)?,
                }),
                other => return Err(format!("kind `{other}` has no multiclass mode")),
            };
            multiclass::loss(&c.pred, &ids, shape, &loss, &classes)
        } else {
            let target: Vec<f32> = c.target.iter().map(|&t| t as f32).collect();
            let loss = match c.kind.as_str() {
                "dice" | "jaccard" | "tversky" => multilabel::Loss::Region(tversky(c)),
                "focal" => multilabel::Loss::Focal(focal(c)?),
                other => return Err(format!("kind `{other}` has no multilabel mode")),
            };
            multilabel::loss(&c.pred, &target, shape, &loss, &classes)
        })
    })();
    match r {
        Ok(Ok(v)) => Outcome::Value(f64::from(v)),
        Ok(Err(e)) => Outcome::Error(e),
        Err(why) => Outcome::Skip(why),
    }
}

/// Runs the loss of a case and returns its value.
pub fn value(c: &Case) -> Outcome {
    if c.mode == "multiclass" || c.mode == "multilabel" {
        return value_nchw(c);
    }
    if c.mode != "binary" {
        return Outcome::Skip(format!("mode `{}` is not supported yet", c.mode));
    }
    let pred = &c.pred;
    let target: Vec<f32> = c.target.iter().map(|&t| t as f32).collect();
    let p = &c.params;
    let r: Result<Result<f32, segloss::Error>, String> = (|| {
        Ok(match c.kind.as_str() {
            "dice" | "jaccard" | "tversky" => binary::tversky(pred, &target, &tversky(c)),
            "focal" => binary::focal(pred, &target, &focal(c)?),
            "sigmoid_focal" => {
                let cfg = SigmoidFocal {
                    alpha: p.alpha.map_or(0.25, |a| a.map_or(-1.0, |a| a as f32)),
                    gamma: f(p.gamma, 2.0),
                    reduction: reduction(p)?,
                };
                binary::sigmoid_focal(pred, &target, &cfg)
            }
            "bce" => binary::bce(
                pred,
                &target,
                &Bce {
                    reduction: reduction(p)?,
                },
            ),
            "bce_logits" => {
                let cfg = BceWithLogits {
                    pos_weight: f(p.pos_weight, 1.0),
                    reduction: reduction(p)?,
                };
                binary::bce_with_logits(pred, &target, &cfg)
            }
            "soft_bce" => {
                let cfg = SoftBce {
                    smooth_factor: p.smooth_factor.flatten().map(|v| v as f32),
                    ignore_index: ignore(p, Some(-100.0)),
                    pos_weight: f(p.pos_weight, 1.0),
                    reduction: reduction(p)?,
                };
                binary::soft_bce(pred, &target, &cfg)
            }
            "mcc" => {
                let cfg = Mcc {
                    from_logits: c.from_logits,
                    eps: f(p.eps, 1e-5),
                };
                binary::mcc(pred, &target, &cfg)
            }
            "hard_mcc" => {
                let cfg = HardMcc {
                    from_logits: c.from_logits,
                    threshold: p.threshold.unwrap_or(0.5),
                    eps: f(p.eps, 1e-7),
                };
                binary::hard_mcc(pred, &target, &cfg)
            }
            other => return Err(format!("kind `{other}` is not supported")),
        })
    })();
    match r {
        Ok(Ok(v)) => Outcome::Value(f64::from(v)),
        Ok(Err(e)) => Outcome::Error(e),
        Err(why) => Outcome::Skip(why),
    }
}

/// What running a case's backward pass gave.
#[derive(Debug)]
pub enum GradOutcome {
    /// The loss value returned by the backward form (the gradient is in `out`).
    Value(f64),
    /// No gradient to check: the case has none, or segloss has no backward
    /// form for it (yet); the reason.
    Skip(String),
    /// segloss returned an error.
    Error(segloss::Error),
}

/// Runs the backward form of a case's loss, writing `∂value/∂pred` into
/// `out` (resized to the prediction's length).
pub fn grad(c: &Case, out: &mut Vec<f32>) -> GradOutcome {
    use segloss::backward::binary as bw;
    if c.grad.is_none() {
        return GradOutcome::Skip("the case has no gradient".into());
    }
    out.clear();
    out.resize(c.pred.len(), f32::NAN);
    if c.mode == "multiclass" || c.mode == "multilabel" {
        return grad_nchw(c, out);
    }
    if c.mode != "binary" {
        return GradOutcome::Skip(format!("mode `{}` has no backward yet", c.mode));
    }
    let pred = &c.pred;
    let target: Vec<f32> = c.target.iter().map(|&t| t as f32).collect();
    let p = &c.params;
    let g = out.as_mut_slice();
    let r: Result<Result<f32, segloss::Error>, String> = (|| {
        Ok(match c.kind.as_str() {
            "dice" | "jaccard" | "tversky" => bw::tversky(pred, &target, &tversky(c), g, 1.0),
            "focal" => bw::focal(pred, &target, &focal(c)?, g, 1.0),
            "sigmoid_focal" => {
                let cfg = SigmoidFocal {
                    alpha: p.alpha.map_or(0.25, |a| a.map_or(-1.0, |a| a as f32)),
                    gamma: f(p.gamma, 2.0),
                    reduction: reduction(p)?,
                };
                bw::sigmoid_focal(pred, &target, &cfg, g, 1.0)
            }
            "bce" => bw::bce(
                pred,
                &target,
                &Bce {
                    reduction: reduction(p)?,
                },
                g,
                1.0,
            ),
            "bce_logits" => {
                let cfg = BceWithLogits {
                    pos_weight: f(p.pos_weight, 1.0),
                    reduction: reduction(p)?,
                };
                bw::bce_with_logits(pred, &target, &cfg, g, 1.0)
            }
            "soft_bce" => {
                let cfg = SoftBce {
                    smooth_factor: p.smooth_factor.flatten().map(|v| v as f32),
                    ignore_index: ignore(p, Some(-100.0)),
                    pos_weight: f(p.pos_weight, 1.0),
                    reduction: reduction(p)?,
                };
                bw::soft_bce(pred, &target, &cfg, g, 1.0)
            }
            "mcc" => {
                let cfg = Mcc {
                    from_logits: c.from_logits,
                    eps: f(p.eps, 1e-5),
                };
                bw::mcc(pred, &target, &cfg, g, 1.0)
            }
            other => return Err(format!("kind `{other}` has no backward")),
        })
    })();
    match r {
        Ok(Ok(v)) => GradOutcome::Value(f64::from(v)),
        Ok(Err(e)) => GradOutcome::Error(e),
        Err(why) => GradOutcome::Skip(why),
    }
}

/// The loss of a multiclass or multilabel case (as [`value_nchw`] maps it).
fn nchw_loss(c: &Case) -> Result<NchwLoss, String> {
    use segloss::multiclass::{self, CrossEntropy};
    use segloss::multilabel;
    let p = &c.params;
    Ok(if c.mode == "multiclass" {
        NchwLoss::Multiclass(match c.kind.as_str() {
            "dice" | "jaccard" | "tversky" => multiclass::Loss::Region(tversky(c)),
            "focal" => multiclass::Loss::Focal(focal(c)?),
            "cross_entropy" => multiclass::Loss::CrossEntropy(CrossEntropy {
                ignore_index: p.ignore_index.unwrap_or(Some(-100)),
                label_smoothing: f(p.label_smoothing, 0.0),
                reduction: reduction(p)?,
            }),
            other => return Err(format!("kind `{other}` has no multiclass mode")),
        })
    } else {
        NchwLoss::Multilabel(match c.kind.as_str() {
            "dice" | "jaccard" | "tversky" => multilabel::Loss::Region(tversky(c)),
            "focal" => multilabel::Loss::Focal(focal(c)?),
            other => return Err(format!("kind `{other}` has no multilabel mode")),
        })
    })
}

/// A multiclass or multilabel loss.
enum NchwLoss {
    Multiclass(segloss::multiclass::Loss),
    Multilabel(segloss::multilabel::Loss),
}

/// Runs the backward form of a multiclass or multilabel case.
fn grad_nchw(c: &Case, out: &mut [f32]) -> GradOutcome {
    use segloss::backward::{multiclass, multilabel};
    use segloss::multiclass::{Classes, Shape};
    let [n, ch, s] = c.shape;
    let weights: Option<Vec<f32>> = c
        .params
        .class_weights
        .as_ref()
        .map(|w| w.iter().map(|&v| v as f32).collect());
    let classes = Classes {
        classes: c.params.classes.as_deref(),
        weights: weights.as_deref(),
        per_image: false,
    };
    let loss = match nchw_loss(c) {
        Ok(l) => l,
        Err(why) => return GradOutcome::Skip(why),
    };
    let r = Shape::new(n, ch, s).and_then(|shape| match loss {
        NchwLoss::Multiclass(l) => {
            let ids: Vec<i64> = c.target.iter().map(|&t| t as i64).collect();
            multiclass::loss(&c.pred, &ids, shape, &l, &classes, out, 1.0)
        }
        NchwLoss::Multilabel(l) => {
            let target: Vec<f32> = c.target.iter().map(|&t| t as f32).collect();
            multilabel::loss(&c.pred, &target, shape, &l, &classes, out, 1.0)
        }
    });
    match r {
        Ok(v) => GradOutcome::Value(f64::from(v)),
        Err(e) => GradOutcome::Error(e),
    }
}

/// Checks a gradient against the case's expected one with `tol`
/// (scale: the case's largest |grad|). Returns the failing elements.
pub fn grad_mismatches(
    got: &[f32],
    want: &[f64],
    tol: &super::tolerance::Tol,
) -> Vec<(usize, f64, f64)> {
    let max = want.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    if got.len() != want.len() {
        return vec![(usize::MAX, got.len() as f64, want.len() as f64)];
    }
    got.iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (g, w))| !tol.check(f64::from(**g), **w, max))
        .map(|(i, (g, w))| (i, f64::from(*g), *w))
        .collect()
}
