//! A plain f64 oracle of every segloss loss, written straight from SPEC.md.
//!
//! Design: obviously-correct scalar code, one loop per formula, no SIMD, no
//! blocking, no cleverness beyond the numerically stable forms SPEC asks for
//! (softplus via `max(x, 0) + ln_1p(e^-|x|)`, `1 − pt` via `−expm1(−logpt)`,
//! max-shifted softmax). Inputs are the f32 data widened to f64; every
//! σ / softmax / softplus is evaluated in f64, and sums are plain f64 running
//! sums (ample for the ≤ 1e-9 relative agreement at the lengths tested here).
//!
//! Special values follow the mathematical limits (SPEC: "±∞ logits give the
//! limit"): a product `c·v` whose coefficient `c` is exactly 0 is 0 even when
//! `v = ±∞` ([`mul0`]); NaN inputs give NaN (every `max`/`min` here is the
//! NaN-propagating [`maxp`]/[`minp`], never `f64::max`).
//!
//! Where SPEC is silent this follows segmentation_models_pytorch 0.6:
//! - Region losses skip ignored elements entirely (SPEC: "contributes nothing
//!   to any sum"), so a NaN prediction at an ignored element does not reach the
//!   loss; NaN elsewhere does, also through the empty-class rule (smp multiplies
//!   the class loss by the 0/1 mask, and `NaN·0 = NaN`).
//! - Multiclass softmax: if some logits of a pixel are +∞, the probability is
//!   shared equally among them (the limit); all −∞ gives NaN (no limit).
//! - Focal: a class whose elements are all ignored has mean `0/0 = NaN`, as
//!   in smp (the mean of an empty tensor).

use super::cases::Params;

/// Tensor layout mode (SPEC "Layouts").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Binary,
    Multiclass,
    Multilabel,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "binary" => Ok(Mode::Binary),
            "multiclass" => Ok(Mode::Multiclass),
            "multilabel" => Ok(Mode::Multilabel),
            _ => Err(format!("unknown mode `{s}`")),
        }
    }
}

/// Reduction over the kept elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
}

impl Reduction {
    /// `None` (missing) is the default `mean`; `"none"` is not a scalar reduction.
    pub fn parse(s: Option<&str>) -> Result<Reduction, String> {
        match s {
            None | Some("mean") => Ok(Reduction::Mean),
            Some("sum") => Ok(Reduction::Sum),
            Some(other) => Err(format!("reduction `{other}` has no scalar value")),
        }
    }

    fn apply(self, sum: f64, count: f64) -> f64 {
        match self {
            Reduction::Mean => sum / count,
            Reduction::Sum => sum,
        }
    }
}

// ---------------------------------------------------------------- primitives

/// `c·v`, but exactly 0 when `c == 0` and `v` is ±∞ (the limit); NaN in
/// either operand propagates.
pub fn mul0(c: f64, v: f64) -> f64 {
    if c == 0.0 && v.is_infinite() {
        0.0
    } else {
        c * v
    }
}

/// NaN-propagating maximum.
pub fn maxp(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// NaN-propagating minimum.
pub fn minp(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a <= b {
        a
    } else {
        b
    }
}

/// NaN-propagating clamp to `[lo, hi]`.
pub fn clampp(x: f64, lo: f64, hi: f64) -> f64 {
    minp(maxp(x, lo), hi)
}

/// `σ(x) = 1 / (1 + e^-x)`, stable for both signs; σ(±∞) = 1, 0.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `softplus(x) = ln(1 + e^x) = max(x, 0) + ln_1p(e^-|x|)`; softplus(−∞) = 0.
pub fn softplus(x: f64) -> f64 {
    maxp(x, 0.0) + (-x.abs()).exp().ln_1p()
}

/// Softmax over `xs`, max-shifted. +∞ entries share the mass equally.
pub fn softmax(xs: &[f64]) -> Vec<f64> {
    if xs.iter().any(|x| x.is_nan()) {
        return vec![f64::NAN; xs.len()];
    }
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::INFINITY {
        let k = xs.iter().filter(|&&x| x == m).count() as f64;
        return xs
            .iter()
            .map(|&x| if x == m { 1.0 / k } else { 0.0 })
            .collect();
    }
    let e: Vec<f64> = xs.iter().map(|&x| (x - m).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|v| v / z).collect()
}

/// `ln softmax(xs)`, max-shifted (−∞ entries give −∞; +∞ as in [`softmax`]).
pub fn log_softmax(xs: &[f64]) -> Vec<f64> {
    if xs.iter().any(|x| x.is_nan()) {
        return vec![f64::NAN; xs.len()];
    }
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::INFINITY {
        return softmax(xs).iter().map(|p| p.ln()).collect();
    }
    let lse = m + xs.iter().map(|&x| (x - m).exp()).sum::<f64>().ln();
    xs.iter().map(|&x| x - lse).collect()
}

/// Elementwise `bce_with_logits(x, y)` with `pos_weight = w`:
/// `(1 − y)·softplus(x) + w·y·softplus(−x)` (equal to SPEC's form), with
/// `0·∞ = 0` so ±∞ logits give the limit.
pub fn bce_with_logits(x: f64, y: f64, pos_weight: f64) -> f64 {
    mul0(1.0 - y, softplus(x)) + mul0(pos_weight * y, softplus(-x))
}

/// Elementwise PyTorch `binary_cross_entropy` on a probability, each log
/// clamped to ≥ −100.
pub fn bce_elem(p: f64, y: f64) -> f64 {
    -(y * maxp(p.ln(), -100.0) + (1.0 - y) * maxp((1.0 - p).ln(), -100.0))
}

fn check_shape(mode: Mode, shape: [usize; 3], pred: &[f64], target: &[f64]) -> Result<(), String> {
    let [n, c, s] = shape;
    let len = n * c * s;
    if len == 0 {
        return Err("empty input".into());
    }
    if mode == Mode::Binary && c != 1 {
        return Err("binary mode needs C = 1".into());
    }
    if pred.len() != len {
        return Err(format!("pred has {} values, shape says {len}", pred.len()));
    }
    let tlen = if mode == Mode::Multiclass { n * s } else { len };
    if target.len() != tlen {
        return Err(format!(
            "target has {} values, expected {tlen}",
            target.len()
        ));
    }
    Ok(())
}

/// Probabilities in the prediction's layout: softmax over channels
/// (multiclass) or σ per element (binary/multilabel) when `from_logits`,
/// else the prediction itself.
pub fn probabilities(mode: Mode, from_logits: bool, shape: [usize; 3], pred: &[f64]) -> Vec<f64> {
    if !from_logits {
        return pred.to_vec();
    }
    match mode {
        Mode::Binary | Mode::Multilabel => pred.iter().map(|&x| sigmoid(x)).collect(),
        Mode::Multiclass => {
            let [n, c, s] = shape;
            let mut out = vec![0.0; pred.len()];
            for b in 0..n {
                for j in 0..s {
                    let xs: Vec<f64> = (0..c).map(|k| pred[(b * c + k) * s + j]).collect();
                    for (k, p) in softmax(&xs).into_iter().enumerate() {
                        out[(b * c + k) * s + j] = p;
                    }
                }
            }
            out
        }
    }
}

/// Per-class `(p, y)` pairs of the kept elements, in batch order: class
/// `c`'s list over all images and pixels. Multiclass: `y = [label == c]`.
/// Elements whose target equals `ignore_index` are dropped.
fn class_pairs(
    mode: Mode,
    shape: [usize; 3],
    values: &[f64],
    target: &[f64],
    ignore_index: Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let [n, c, s] = shape;
    let ignored = |t: f64| ignore_index == Some(t);
    let mut out = vec![Vec::new(); c];
    for (k, pairs) in out.iter_mut().enumerate() {
        for b in 0..n {
            for j in 0..s {
                let v = values[(b * c + k) * s + j];
                let (t, y) = match mode {
                    Mode::Multiclass => {
                        let t = target[b * s + j];
                        (t, if t == k as f64 { 1.0 } else { 0.0 })
                    }
                    _ => {
                        let t = target[(b * c + k) * s + j];
                        (t, t)
                    }
                };
                if !ignored(t) {
                    pairs.push((v, y));
                }
            }
        }
    }
    out
}

// -------------------------------------------------------------- region losses

/// Parameters of the region losses (Dice, Jaccard, Tversky).
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    pub alpha: f64,
    pub beta: f64,
    /// Tversky's outer power (1 for Dice and Jaccard).
    pub gamma: f64,
    pub smooth: f64,
    pub eps: f64,
    pub log_loss: bool,
    pub ignore_index: Option<f64>,
    pub classes: Option<Vec<usize>>,
    /// Length C, indexed by class id.
    pub class_weights: Option<Vec<f64>>,
}

impl Region {
    /// smp defaults with the given α, β: smooth 0, eps 1e-7, γ 1.
    pub fn with_alpha_beta(alpha: f64, beta: f64) -> Region {
        Region {
            alpha,
            beta,
            gamma: 1.0,
            smooth: 0.0,
            eps: 1e-7,
            log_loss: false,
            ignore_index: None,
            classes: None,
            class_weights: None,
        }
    }
    pub fn dice() -> Region {
        Region::with_alpha_beta(0.5, 0.5)
    }
    pub fn jaccard() -> Region {
        Region::with_alpha_beta(1.0, 1.0)
    }
    pub fn tversky() -> Region {
        Region::with_alpha_beta(0.5, 0.5)
    }

    /// `kind` is `dice`, `jaccard` or `tversky`; missing params take defaults.
    pub fn from_params(kind: &str, p: &Params) -> Result<Region, String> {
        let mut r = match kind {
            "dice" => Region::dice(),
            "jaccard" => Region::jaccard(),
            "tversky" => {
                let mut r = Region::tversky();
                match p.alpha {
                    None => {}
                    Some(Some(a)) => r.alpha = a,
                    Some(None) => return Err("tversky alpha cannot be null".into()),
                }
                r.beta = p.beta.unwrap_or(0.5);
                r.gamma = p.gamma.unwrap_or(1.0);
                r
            }
            _ => return Err(format!("`{kind}` is not a region loss")),
        };
        r.smooth = p.smooth.unwrap_or(r.smooth);
        r.eps = p.eps.unwrap_or(r.eps);
        r.log_loss = p.log_loss.unwrap_or(false);
        r.ignore_index = p.ignore_index.flatten().map(|i| i as f64);
        r.classes = p.classes.clone();
        r.class_weights = p.class_weights.as_deref().map(smp_weights);
        Ok(r)
    }
}

/// One class's region loss from its sums (SPEC "Region losses"), before the
/// empty-class rule: `I = (Σp + Σy − Σ|p − y|)/2`, `FP = Σp − I`,
/// `FN = Σy − I`, `score = (I + smooth)/max(I + α·FP + β·FN + smooth, eps)`.
pub fn region_class_loss(r: &Region, sum_p: f64, sum_y: f64, sum_abs: f64) -> f64 {
    let i = (sum_p + sum_y - sum_abs) / 2.0;
    let fp = sum_p - i;
    let fn_ = sum_y - i;
    let score = (i + r.smooth) / maxp(i + r.alpha * fp + r.beta * fn_ + r.smooth, r.eps);
    if r.log_loss {
        -maxp(score, r.eps).ln()
    } else {
        1.0 - score
    }
}

/// Dice / Jaccard / Tversky (smp semantics) on `[N, C, S]` data.
pub fn region_loss(
    mode: Mode,
    from_logits: bool,
    shape: [usize; 3],
    r: &Region,
    pred: &[f64],
    target: &[f64],
) -> Result<f64, String> {
    check_shape(mode, shape, pred, target)?;
    let c = shape[1];
    if mode == Mode::Binary && (r.classes.is_some() || r.class_weights.is_some()) {
        return Err("classes / class_weights are not allowed in binary mode".into());
    }
    let probs = probabilities(mode, from_logits, shape, pred);
    let pairs = class_pairs(mode, shape, &probs, target, r.ignore_index);
    let mut losses = Vec::with_capacity(c);
    for class in &pairs {
        let (mut sp, mut sy, mut sa) = (0.0, 0.0, 0.0);
        for &(p, y) in class {
            sp += p;
            sy += y;
            sa += (p - y).abs();
        }
        let l = region_class_loss(r, sp, sy, sa);
        // Empty-class rule: smp multiplies by the mask `Σy > 0` (NaN·0 = NaN).
        let mask = if sy > 0.0 { 1.0 } else { 0.0 };
        losses.push(if mask == 0.0 && !l.is_nan() {
            0.0
        } else {
            mask * l
        });
    }
    let kept: Vec<usize> = match &r.classes {
        Some(cl) => cl.clone(),
        None => (0..c).collect(),
    };
    if kept.iter().any(|&k| k >= c) {
        return Err("class id in `classes` is ≥ C".into());
    }
    let mean = weighted_mean(&losses, &kept, r.class_weights.as_deref(), c)?;
    Ok(if r.gamma == 1.0 {
        mean
    } else {
        mean.powf(r.gamma)
    })
}

/// smp keeps `class_weights` in a float32 tensor: round each weight to f32.
///
/// (The reference data also sums those weights in float32 — `w.sum()` on the
/// f32 tensor — before dividing in f64; this oracle sums in f64 as SPEC's
/// formula reads, which differs by at most ~C·2⁻²⁴ relative. The conformance
/// test accounts for that; see `tests/oracle_conformance.rs`.)
pub fn smp_weights(w: &[f64]) -> Vec<f64> {
    w.iter().map(|&x| f64::from(x as f32)).collect()
}

/// `Σ w_k·l_k / Σ w_k` over the kept classes (plain mean without weights).
fn weighted_mean(
    losses: &[f64],
    kept: &[usize],
    weights: Option<&[f64]>,
    c: usize,
) -> Result<f64, String> {
    match weights {
        None => Ok(kept.iter().map(|&k| losses[k]).sum::<f64>() / kept.len() as f64),
        Some(w) => {
            if w.len() != c {
                return Err("class_weights length ≠ C".into());
            }
            let num: f64 = kept.iter().map(|&k| w[k] * losses[k]).sum();
            let den: f64 = kept.iter().map(|&k| w[k]).sum();
            Ok(num / den)
        }
    }
}

// ---------------------------------------------------------------------- focal

/// Parameters of smp's `FocalLoss`.
#[derive(Clone, Debug, PartialEq)]
pub struct Focal {
    pub gamma: f64,
    pub alpha: Option<f64>,
    pub eps: f64,
    pub normalized: bool,
    pub reduced_threshold: Option<f64>,
    pub ignore_index: Option<f64>,
    pub reduction: Reduction,
    pub class_weights: Option<Vec<f64>>,
}

impl Default for Focal {
    fn default() -> Focal {
        Focal {
            gamma: 2.0,
            alpha: None,
            eps: 1e-7,
            normalized: false,
            reduced_threshold: None,
            ignore_index: None,
            reduction: Reduction::Mean,
            class_weights: None,
        }
    }
}

impl Focal {
    pub fn from_params(p: &Params) -> Result<Focal, String> {
        let d = Focal::default();
        Ok(Focal {
            gamma: p.gamma.unwrap_or(d.gamma),
            alpha: p.alpha.flatten(),
            eps: p.eps.unwrap_or(d.eps),
            normalized: p.normalized.unwrap_or(false),
            reduced_threshold: p.reduced_threshold.flatten(),
            ignore_index: p.ignore_index.flatten().map(|i| i as f64),
            reduction: Reduction::parse(p.reduction.as_deref())?,
            class_weights: p.class_weights.as_deref().map(smp_weights),
        })
    }
}

/// smp's per-element focal term and loss for logit `x`, target `y`:
/// returns `(focal, l)` with `focal = (1 − pt)^γ` (or the reduced form) and
/// `l = focal·logpt·(α·y + (1 − α)(1 − y))`.
///
/// With a hard target (0 or 1), `ln(1 − pt)` is `−softplus(±x)`: where
/// `1 − pt` is below f64's normal range (|x| beyond ~708 on the target's
/// side) the modulator is `e^(γ·(ln(1 − pt) − ln r))`, which for γ < 1 is
/// still a normal number (x = 3284, γ = 1e-7: 0.9997) where `powf` of the
/// underflowed base gives 0.
pub fn focal_elem(f: &Focal, x: f64, y: f64) -> (f64, f64) {
    let logpt = bce_with_logits(x, y, 1.0);
    let pt = (-logpt).exp();
    let one_m_pt = -(-logpt).exp_m1();
    let r = f.reduced_threshold.unwrap_or(1.0);
    let focal = if f.reduced_threshold.is_some() && pt < r {
        1.0
    } else if (y == 0.0 || y == 1.0) && one_m_pt < f64::MIN_POSITIVE && f.gamma != 0.0 {
        (f.gamma * (-bce_with_logits(x, 1.0 - y, 1.0) - r.ln())).exp()
    } else {
        (one_m_pt / r).powf(f.gamma)
    };
    let mut l = mul0(focal, logpt);
    if let Some(a) = f.alpha {
        l *= a * y + (1.0 - a) * (1.0 - y);
    }
    (focal, l)
}

/// smp `FocalLoss` in every mode. Binary: one group of elements; multilabel:
/// one group per channel; multiclass: one-vs-rest per class with
/// `y = [label == c]` and the channel's raw logit (sigmoid, not softmax).
/// Each group is reduced on its own (after `normalized`), then the groups are
/// averaged (or `class_weights`-averaged).
pub fn focal_loss(
    mode: Mode,
    from_logits: bool,
    shape: [usize; 3],
    f: &Focal,
    pred: &[f64],
    target: &[f64],
) -> Result<f64, String> {
    check_shape(mode, shape, pred, target)?;
    if mode == Mode::Binary && f.class_weights.is_some() {
        return Err("class_weights are not allowed in binary mode".into());
    }
    let logits: Vec<f64> = if from_logits {
        pred.to_vec()
    } else {
        pred.iter()
            .map(|&p| {
                let pc = clampp(p, f.eps, 1.0 - f.eps);
                if mode == Mode::Multiclass {
                    pc.ln()
                } else {
                    (pc / (1.0 - pc)).ln()
                }
            })
            .collect()
    };
    let pairs = class_pairs(mode, shape, &logits, target, f.ignore_index);
    let mut losses = Vec::with_capacity(pairs.len());
    for group in &pairs {
        let terms: Vec<(f64, f64)> = group.iter().map(|&(x, y)| focal_elem(f, x, y)).collect();
        let mut sum: f64 = terms.iter().map(|t| t.1).sum();
        if f.normalized {
            let norm: f64 = terms.iter().map(|t| t.0).sum();
            sum /= maxp(norm, 1e-6);
        }
        losses.push(f.reduction.apply(sum, group.len() as f64));
    }
    let kept: Vec<usize> = (0..losses.len()).collect();
    weighted_mean(&losses, &kept, f.class_weights.as_deref(), losses.len())
}

// -------------------------------------------------------------- sigmoid focal

/// torchvision `sigmoid_focal_loss`, one element: `bce_with_logits(x, y)·(1 − p_t)^γ`
/// times `α·y + (1 − α)(1 − y)` when `α ≥ 0`. `1 − p_t = σ(x)(1 − y) + σ(−x)·y`.
pub fn sigmoid_focal_elem(x: f64, y: f64, alpha: f64, gamma: f64) -> f64 {
    let ce = bce_with_logits(x, y, 1.0);
    let one_m_pt = sigmoid(x) * (1.0 - y) + sigmoid(-x) * y;
    let mut l = mul0(one_m_pt.powf(gamma), ce);
    if alpha >= 0.0 {
        l *= alpha * y + (1.0 - alpha) * (1.0 - y);
    }
    l
}

/// torchvision `sigmoid_focal_loss` with `reduction = "none"`.
pub fn sigmoid_focal_none(pred: &[f64], target: &[f64], alpha: f64, gamma: f64) -> Vec<f64> {
    pred.iter()
        .zip(target)
        .map(|(&x, &y)| sigmoid_focal_elem(x, y, alpha, gamma))
        .collect()
}

/// torchvision `sigmoid_focal_loss` with `mean` / `sum`.
pub fn sigmoid_focal(pred: &[f64], target: &[f64], alpha: f64, gamma: f64, red: Reduction) -> f64 {
    let l = sigmoid_focal_none(pred, target, alpha, gamma);
    red.apply(l.iter().sum(), l.len() as f64)
}

// ------------------------------------------------------------- cross entropy

/// PyTorch `binary_cross_entropy` on probabilities (logs clamped at −100).
pub fn bce(pred: &[f64], target: &[f64], red: Reduction) -> f64 {
    let s: f64 = pred.iter().zip(target).map(|(&p, &y)| bce_elem(p, y)).sum();
    red.apply(s, pred.len() as f64)
}

/// PyTorch `binary_cross_entropy_with_logits` with `pos_weight`.
pub fn bce_logits(pred: &[f64], target: &[f64], pos_weight: f64, red: Reduction) -> f64 {
    let s: f64 = pred
        .iter()
        .zip(target)
        .map(|(&x, &y)| bce_with_logits(x, y, pos_weight))
        .sum();
    red.apply(s, pred.len() as f64)
}

/// smp `SoftBCEWithLogitsLoss`: targets smoothed to `(1 − y)·f + y·(1 − f)`;
/// elements with `y == ignore_index` give 0 but count in the mean.
pub fn soft_bce(
    pred: &[f64],
    target: &[f64],
    smooth_factor: Option<f64>,
    ignore_index: Option<f64>,
    pos_weight: f64,
    red: Reduction,
) -> f64 {
    let mut s = 0.0;
    for (&x, &y) in pred.iter().zip(target) {
        if ignore_index == Some(y) {
            continue;
        }
        let ys = match smooth_factor {
            Some(f) => (1.0 - y) * f + y * (1.0 - f),
            None => y,
        };
        s += bce_with_logits(x, ys, pos_weight);
    }
    red.apply(s, pred.len() as f64)
}

/// PyTorch `cross_entropy` on `[N, C, S]` logits and `N·S` class ids, with
/// class weights, `ignore_index`, label smoothing `ls`:
/// pixel `i` gives `(1 − ls)·w_y·(−ln q_y) + (ls/C)·Σ_c w_c·(−ln q_c)`;
/// the mean divides by `Σ w_y` over kept pixels.
pub fn cross_entropy(
    shape: [usize; 3],
    pred: &[f64],
    target: &[f64],
    class_weights: Option<&[f64]>,
    ignore_index: Option<f64>,
    label_smoothing: f64,
    red: Reduction,
) -> Result<f64, String> {
    check_shape(Mode::Multiclass, shape, pred, target)?;
    let [n, c, s] = shape;
    let w = |k: usize| class_weights.map_or(1.0, |w| w[k]);
    if class_weights.is_some_and(|w| w.len() != c) {
        return Err("class_weights length ≠ C".into());
    }
    let ls = label_smoothing;
    let (mut total, mut den) = (0.0, 0.0);
    for b in 0..n {
        for j in 0..s {
            let t = target[b * s + j];
            if ignore_index == Some(t) {
                continue;
            }
            if !(t >= 0.0 && t < c as f64 && t.fract() == 0.0) {
                return Err(format!("class id {t} out of range"));
            }
            let y = t as usize;
            let xs: Vec<f64> = (0..c).map(|k| pred[(b * c + k) * s + j]).collect();
            let lsm = log_softmax(&xs);
            let mut l = mul0((1.0 - ls) * w(y), -lsm[y]);
            if ls != 0.0 {
                let smooth: f64 = (0..c).map(|k| mul0(w(k), -lsm[k])).sum();
                l += ls / c as f64 * smooth;
            }
            total += l;
            den += w(y);
        }
    }
    Ok(red.apply(total, den))
}

// ------------------------------------------------------------------------ MCC

/// smp `MCCLoss` (soft) on probabilities over the whole batch.
pub fn mcc(pred: &[f64], target: &[f64], eps: f64) -> f64 {
    let (mut tp, mut tn, mut fp, mut fn_) = (eps, eps, eps, eps);
    for (&p, &y) in pred.iter().zip(target) {
        tp += p * y;
        tn += (1.0 - p) * (1.0 - y);
        fp += p * (1.0 - y);
        fn_ += (1.0 - p) * y;
    }
    let num = tp * tn - fp * fn_;
    let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
    1.0 - num / den
}

/// Integer confusion counts of hard predictions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardCounts {
    pub tp: u64,
    pub tn: u64,
    pub fp: u64,
    pub fn_: u64,
}

fn ratio0(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl HardCounts {
    /// A pixel is predicted positive when `p > threshold`; the target is
    /// positive when `y > 0.5`. (NaN predictions count as negative.)
    pub fn new(pred: &[f64], target: &[f64], threshold: f64) -> HardCounts {
        let mut h = HardCounts::default();
        for (&p, &y) in pred.iter().zip(target) {
            match (p > threshold, y > 0.5) {
                (true, true) => h.tp += 1,
                (false, false) => h.tn += 1,
                (true, false) => h.fp += 1,
                (false, true) => h.fn_ += 1,
            }
        }
        h
    }
    /// `1 − (TP·TN − FP·FN) / (sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) + eps)`.
    pub fn mcc_loss(&self, eps: f64) -> f64 {
        let (tp, tn, fp, fn_) = (
            self.tp as f64,
            self.tn as f64,
            self.fp as f64,
            self.fn_ as f64,
        );
        let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt() + eps;
        1.0 - (tp * tn - fp * fn_) / den
    }
    /// `TP / (TP + FP)`, 0/0 → 0 (smp's default `zero_division`).
    pub fn precision(&self) -> f64 {
        ratio0(self.tp, self.tp + self.fp)
    }
    /// `TP / (TP + FN)`, 0/0 → 0.
    pub fn recall(&self) -> f64 {
        ratio0(self.tp, self.tp + self.fn_)
    }
    /// `2TP / (2TP + FP + FN)`, 0/0 → 0.
    pub fn f1(&self) -> f64 {
        ratio0(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
    /// `TP / (TP + FP + FN)`, 0/0 → 0.
    pub fn iou(&self) -> f64 {
        ratio0(self.tp, self.tp + self.fp + self.fn_)
    }
}

/// The hard MCC loss; with `from_logits` the threshold applies to `σ(x)`.
pub fn hard_mcc(pred: &[f64], target: &[f64], threshold: f64, eps: f64) -> f64 {
    HardCounts::new(pred, target, threshold).mcc_loss(eps)
}

// ---------------------------------------------------------------- dispatcher

/// Every loss by its conformance `kind` and `mode`, parameters defaulted as
/// in SPEC.md / smp. Errors for unknown kinds, bad shapes and bad parameters.
pub fn try_loss(
    kind: &str,
    mode: &str,
    from_logits: bool,
    shape: [usize; 3],
    params: &Params,
    pred: &[f64],
    target: &[f64],
) -> Result<f64, String> {
    let m = Mode::parse(mode)?;
    let red = Reduction::parse(params.reduction.as_deref());
    // Elementwise losses work on flat data: binary (or multilabel) only.
    let flat = |needs_logits: Option<bool>| -> Result<(), String> {
        if m == Mode::Multiclass {
            return Err(format!("`{kind}` has no multiclass mode"));
        }
        check_shape(m, shape, pred, target)?;
        match needs_logits {
            Some(l) if l != from_logits => Err(format!("`{kind}` needs from_logits = {l}")),
            _ => Ok(()),
        }
    };
    // Probabilities for the probability-domain losses.
    let probs = || probabilities(m, from_logits, shape, pred);
    match kind {
        "dice" | "jaccard" | "tversky" => region_loss(
            m,
            from_logits,
            shape,
            &Region::from_params(kind, params)?,
            pred,
            target,
        ),
        "focal" => focal_loss(
            m,
            from_logits,
            shape,
            &Focal::from_params(params)?,
            pred,
            target,
        ),
        "sigmoid_focal" => {
            flat(Some(true))?;
            let alpha = match params.alpha {
                None => 0.25,
                Some(None) => -1.0,
                Some(Some(a)) => a,
            };
            Ok(sigmoid_focal(
                pred,
                target,
                alpha,
                params.gamma.unwrap_or(2.0),
                red?,
            ))
        }
        "bce" => {
            flat(None)?;
            Ok(bce(&probs(), target, red?))
        }
        "bce_logits" => {
            flat(Some(true))?;
            Ok(bce_logits(
                pred,
                target,
                params.pos_weight.unwrap_or(1.0),
                red?,
            ))
        }
        "soft_bce" => {
            flat(Some(true))?;
            let ignore = params.ignore_index.unwrap_or(Some(-100)).map(|i| i as f64);
            let sf = params.smooth_factor.flatten();
            Ok(soft_bce(
                pred,
                target,
                sf,
                ignore,
                params.pos_weight.unwrap_or(1.0),
                red?,
            ))
        }
        "mcc" => {
            flat(None)?;
            Ok(mcc(&probs(), target, params.eps.unwrap_or(1e-5)))
        }
        "hard_mcc" => {
            flat(None)?;
            Ok(hard_mcc(
                &probs(),
                target,
                params.threshold.unwrap_or(0.5),
                params.eps.unwrap_or(1e-7),
            ))
        }
        "cross_entropy" => {
            if m != Mode::Multiclass || !from_logits {
                return Err("cross_entropy takes multiclass logits".into());
            }
            let ignore = params.ignore_index.unwrap_or(Some(-100)).map(|i| i as f64);
            cross_entropy(
                shape,
                pred,
                target,
                params.class_weights.as_deref(),
                ignore,
                params.label_smoothing.unwrap_or(0.0),
                red?,
            )
        }
        _ => Err(format!("unknown loss kind `{kind}`")),
    }
}

/// [`try_loss`], panicking with the error message (test code).
pub fn loss(
    kind: &str,
    mode: &str,
    from_logits: bool,
    shape: [usize; 3],
    params: &Params,
    pred: &[f64],
    target: &[f64],
) -> f64 {
    try_loss(kind, mode, from_logits, shape, params, pred, target)
        .unwrap_or_else(|e| panic!("oracle: {e}"))
}

/// The finite-difference step used by [`grad_fd`] at `x`.
///
/// - Logits (`from_logits`): `h = 1e-5·max(1, |x|)`.
/// - Probabilities: additionally `h ≤ 1e-2·min(x, 1 − x)` when that distance
///   is positive, so the stencil stays inside (0, 1) and resolves `ln p`
///   near the edges (a fixed 1e-6 step has ~(h/p)² truncation error there).
///
/// With the 5-point stencil the truncation error is O(h⁴·|f⁽⁵⁾|) (≤ ~1e-8
/// relative even at `h = p/100`), and the rounding error ≈ 1e-16·|f|/h.
pub fn fd_step(x: f64, from_logits: bool) -> f64 {
    let h = 1e-5 * x.abs().max(1.0);
    if from_logits {
        return h;
    }
    let d = x.min(1.0 - x);
    if d > 0.0 { h.min(1e-2 * d) } else { h }
}

/// Evaluates `loss` with `pred[i]` replaced by `v` (restores `pred[i]`).
#[allow(clippy::too_many_arguments)]
fn loss_at(
    kind: &str,
    mode: &str,
    from_logits: bool,
    shape: [usize; 3],
    params: &Params,
    x: &mut [f64],
    target: &[f64],
    i: usize,
    v: f64,
) -> f64 {
    let x0 = x[i];
    x[i] = v;
    let f = loss(kind, mode, from_logits, shape, params, x, target);
    x[i] = x0;
    f
}

/// Finite-difference gradient of [`loss`] with respect to `pred`: the
/// 5-point central stencil
/// `g_i = (−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / (12h)`, `h = fd_step(x_i)`.
///
/// At a kink of a piecewise-linear term (e.g. `p == y` in `|p − y|`) the
/// symmetric stencil gives the mean of the two one-sided slopes, which is the
/// SPEC `sign(0) = 0` convention. At other kinks (a `max(·, eps)` clamp, the
/// `[eps, 1 − eps]` clamp, the edge of [0, 1] for probabilities) PyTorch takes
/// one side: compare with [`fd_one_sided`] there.
pub fn grad_fd(
    kind: &str,
    mode: &str,
    from_logits: bool,
    shape: [usize; 3],
    params: &Params,
    pred: &[f64],
    target: &[f64],
) -> Vec<f64> {
    let mut x = pred.to_vec();
    (0..pred.len())
        .map(|i| {
            let x0 = pred[i];
            let h = fd_step(x0, from_logits);
            let mut f =
                |v: f64| loss_at(kind, mode, from_logits, shape, params, &mut x, target, i, v);
            // Differences first: `3f`-style products of nearly equal values
            // would add an ulp of |f| of noise.
            let d1 = f(x0 + h) - f(x0 - h);
            let d2 = f(x0 + 2.0 * h) - f(x0 - 2.0 * h);
            (8.0 * d1 - d2) / (12.0 * h)
        })
        .collect()
}

/// Second-order one-sided differences at element `i`: `(left, right)` with
/// `left = (3f(x) − 4f(x−h) + f(x−2h)) / 2h`, `right = (−3f(x) + 4f(x+h) − f(x+2h)) / 2h`,
/// `h = fd_step(x)/10`. At a kink located at `x` each side sees a smooth
/// function; PyTorch's gradient there is one of them (a clamp) or their mean
/// (`sign(0) = 0` in `|p − y|`).
#[allow(clippy::too_many_arguments)]
pub fn fd_one_sided(
    kind: &str,
    mode: &str,
    from_logits: bool,
    shape: [usize; 3],
    params: &Params,
    pred: &[f64],
    target: &[f64],
    i: usize,
) -> (f64, f64) {
    let mut x = pred.to_vec();
    let x0 = pred[i];
    let h = 0.1 * fd_step(x0, from_logits);
    let mut f = |v: f64| loss_at(kind, mode, from_logits, shape, params, &mut x, target, i, v);
    let f0 = f(x0);
    let (l1, l2) = (f(x0 - h), f(x0 - 2.0 * h));
    let (r1, r2) = (f(x0 + h), f(x0 + 2.0 * h));
    // 3f0 − 4f1 + f2 written as differences (exact zero for a flat side).
    let left = (3.0 * (f0 - l1) - (l1 - l2)) / (2.0 * h);
    let right = (3.0 * (r1 - f0) - (r2 - r1)) / (2.0 * h);
    (left, right)
}
