//! Backward passes against f64 gradients where an f32 cancellation is easy
//! to get wrong. Regressions for findings of the `backward` fuzz target.

use segloss::{SoftBce, backward, binary};

/// f64 gradient of smp's soft BCE (mean over `xs`, `pos_weight = w`):
/// `((1 − y')·σ(x) − w·y'·σ(−x))/n` with `y' = (1 − y)f + y(1 − f)` and
/// `1 − y' = y·f + (1 − y)(1 − f)`.
fn soft_bce_grad(xs: &[f32], ys: &[f32], f: f64, w: f64) -> Vec<f64> {
    let n = xs.len() as f64;
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let (x, y) = (f64::from(x), f64::from(y));
            let p = 1.0 / (1.0 + (-x).exp());
            let q = 1.0 / (1.0 + x.exp());
            let ys = (1.0 - y) * f + y * (1.0 - f);
            let ns = y * f + (1.0 - y) * (1.0 - f);
            (ns * p - w * ys * q) / n
        })
        .collect()
}

/// `backward` finding: y = 1, smooth_factor = 1.39e-26, pos_weight = 0 gave
/// gradient 0 (`1 − y'` as `1 − fl(1 − f)`), where it is `f·σ(x)/n`; and
/// with f = 1e-7 (f32 spacing below 1 is 6e-8) the complement was 19% off.
#[test]
fn soft_bce_gradient_keeps_a_small_smoothing_complement() {
    for &(f, w, x) in &[
        (1.385_772_7e-26_f32, 0.0f32, 0.822_058_4f32),
        (1e-7, 1.0, 20.0),
        (1e-7, 1.0, 5.0),
        (3e-5, 2.0, 9.0),
    ] {
        let xs = [x, x + 1.0, x - 0.5];
        let ys = [1.0f32; 3];
        let cfg = SoftBce::default()
            .with_smooth_factor(Some(f))
            .with_pos_weight(w);
        let mut g = [0.0f32; 3];
        let loss = backward::binary::soft_bce(&xs, &ys, &cfg, &mut g, 1.0).unwrap();
        assert_eq!(loss, binary::soft_bce(&xs, &ys, &cfg).unwrap());
        let mut gu = [0.0f32; 3];
        backward::binary::soft_bce(&xs, &[1u8; 3], &cfg, &mut gu, 1.0).unwrap();
        let want = soft_bce_grad(&xs, &ys, f64::from(f), f64::from(w));
        let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for ((&a, &b), &v) in g.iter().zip(&gu).zip(&want) {
            assert_eq!(a.to_bits(), b.to_bits(), "f32 and u8 targets");
            assert!(
                (f64::from(a) - v).abs() <= 1e-5 * max,
                "f {f:e}, w {w}, x {x}: grad {a:e}, want {v:e}"
            );
        }
    }
}

/// f64 σ.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

/// f64 `bce_with_logits(x, y)`.
fn bce_logits(x: f64, y: f64) -> f64 {
    let sp = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
    (1.0 - y) * sp(x) + y * sp(-x)
}

/// `backward` finding: torchvision's sigmoid focal with a real γ < 0.14 and
/// a logit beyond ±87 (a subnormal modulator base `1 − p_t`) gave NaN
/// (`γ·base^(γ−1)` overflowed f32, times `p·q` = 0) or ±∞; the true
/// gradient is tiny. The same for smp's focal (`u·∂focal/∂u` with a
/// subnormal `u`). Now `γ·base^γ·(v/base)`.
#[test]
fn focal_gradients_with_a_subnormal_modulator_base_are_finite() {
    use segloss::{Focal, SigmoidFocal};
    // (x, y) pairs: the fuzz input's element, confident ones, a normal one.
    let xs = [-199.307_28f32, -100.0, 100.0, -95.0, 1.0];
    let ys = [f32::from_bits(1), 0.0, 1.0, 0.0, 1.0]; // 2^-149
    for gamma in [0.011_256_039f32, 0.01, 0.3] {
        let sf = SigmoidFocal::default()
            .with_gamma(gamma)
            .with_alpha(0.194_128_51);
        let mut g = [0.0f32; 5];
        let loss = backward::binary::sigmoid_focal(&xs, &ys, &sf, &mut g, 1.0).unwrap();
        assert_eq!(loss, binary::sigmoid_focal(&xs, &ys, &sf).unwrap());
        // f64: α_t·((p − y)·m + γ·m/b·p·q·(1 − 2y)·ce)/n, m = b^γ, b = 1 − p_t.
        let (a, gm) = (f64::from(sf.alpha), f64::from(gamma));
        let want: Vec<f64> = xs
            .iter()
            .zip(&ys)
            .map(|(&x, &y)| {
                let (x, y) = (f64::from(x), f64::from(y));
                let (p, q) = (sigmoid(x), sigmoid(-x));
                let b = p * (1.0 - y) + q * y;
                let m = b.powf(gm);
                let d = (p - y) * m + gm * m * (p * q / b) * (1.0 - 2.0 * y) * bce_logits(x, y);
                (a * y + (1.0 - a) * (1.0 - y)) * d / 5.0
            })
            .collect();
        check_grad("sigmoid_focal", gamma, &g, &want);

        let fc = Focal::default().with_gamma(gamma);
        let mut g = [0.0f32; 5];
        let loss = backward::binary::focal(&xs, &ys, &fc, &mut g, 1.0).unwrap();
        assert_eq!(loss, binary::focal(&xs, &ys, &fc).unwrap());
        // f64: (focal + u·γ·b^(γ−1)·pt)·(p − y)/n, b = 1 − pt, pt = e^−u.
        let want: Vec<f64> = xs
            .iter()
            .zip(&ys)
            .map(|(&x, &y)| {
                let (x, y) = (f64::from(x), f64::from(y));
                let u = bce_logits(x, y);
                let b = -(-u).exp_m1();
                let m = b.powf(gm);
                let dl = m + gm * m * (u / b) * (-u).exp();
                dl * (sigmoid(x) - y) / 5.0
            })
            .collect();
        check_grad("focal", gamma, &g, &want);
    }
}

/// Finite and within 1e-5 of the largest |gradient| (plus f32's normal floor).
fn check_grad(what: &str, gamma: f32, got: &[f32], want: &[f64]) {
    let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && (f64::from(g) - w).abs() <= 1e-5 * max + 1.2e-38,
            "{what} γ {gamma}: grad[{i}] = {g:e}, want {w:e}"
        );
    }
}

/// `backward` finding: smp focal with `reduced_threshold` = 2^-126 (valid:
/// in (0, 1]) and γ = 0 gave NaN (`(u/r)` overflowed before the zero
/// derivative multiplied it); with γ = 1 the gradient is huge but finite.
#[test]
fn focal_gradient_with_a_tiny_reduced_threshold() {
    use segloss::Focal;
    let r = f32::MIN_POSITIVE;
    for (gamma, x) in [(0.0f32, 5.983_639_f32), (1.0, 50.0), (1.0, 5.983_639)] {
        let fc = Focal::default()
            .with_gamma(gamma)
            .with_reduced_threshold(Some(r));
        let mut g = [0.0f32; 1];
        let loss = backward::binary::focal(&[x], &[0u8], &fc, &mut g, 1.0).unwrap();
        assert_eq!(loss, binary::focal(&[x], &[0u8], &fc).unwrap());
        // y = 0: u = softplus(x), pt = e^−u > r, focal = ((1 − pt)/r)^γ,
        // ∂l/∂u = focal + u·γ·((1 − pt)/r)^(γ−1)·pt/r, ∂u/∂x = σ(x).
        let (x, gm, r) = (f64::from(x), f64::from(gamma), f64::from(r));
        let u = bce_logits(x, 0.0);
        let pt = (-u).exp();
        let base = -(-u).exp_m1() / r;
        let dl = base.powf(gm)
            + if gm == 0.0 {
                0.0
            } else {
                u * gm * base.powf(gm - 1.0) * pt / r
            };
        let want = dl * sigmoid(x);
        check_grad("focal", gamma, &g, &[want]);
    }
}

/// `multiclass_backward` finding (seed
/// `fuzz/corpus/multiclass_backward/focal-subnormal-reduced-threshold`): smp
/// focal with a subnormal `reduced_threshold` (r = 1.518e-42, valid) and
/// γ = 0 gave a NaN gradient with a finite loss, in every mode: `1/r`
/// overflows f32, and the modulator's zero slope multiplied it (0·∞), as
/// did `pt` where it rounds to 0 (x = −20, y = 1: `pt·(1/r)` = 0·∞). With
/// γ = 0 the modulator is 1 on both sides of the switch, so the loss and
/// gradient are those without `reduced_threshold` (PyTorch: finite too).
#[test]
fn focal_gradient_with_a_subnormal_reduced_threshold() {
    use segloss::Focal;
    use segloss::backward::{multiclass as bmc, multilabel as bml};
    use segloss::multiclass::{Classes, Shape};
    let r = 1.518e-42f32;
    assert!(r > 0.0 && r < f32::MIN_POSITIVE);
    let with = Focal::default()
        .with_gamma(0.0)
        .with_reduced_threshold(Some(r));
    let without = Focal::default().with_gamma(0.0);
    let close = |what: &str, a: &[f32], b: &[f32]| {
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(x.is_finite(), "{what}: grad[{i}] = {x}");
            assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1e-30),
                "{what}: grad[{i}] {x:e} vs {y:e}"
            );
        }
    };
    let x = [-20.0f32, 5.983_639, 0.5, -1.0, 3.0, -20.0];
    // Binary.
    let y = [0u8, 0, 1, 1, 0, 1];
    let (mut a, mut b) = ([0.0f32; 6], [0.0f32; 6]);
    let la = backward::binary::focal(&x, &y, &with, &mut a, 1.0).unwrap();
    backward::binary::focal(&x, &y, &without, &mut b, 1.0).unwrap();
    assert_eq!(la, binary::focal(&x, &y, &with).unwrap());
    close("binary", &a, &b);
    // Multiclass (C = 2, S = 3) and multilabel on the same logits.
    let shape = Shape::new(1, 2, 3).unwrap();
    let cl = Classes::default();
    let ids = [0u8, 1, 0];
    let la = bmc::focal(&x, &ids, shape, &with, &cl, &mut a, -2.0).unwrap();
    bmc::focal(&x, &ids, shape, &without, &cl, &mut b, -2.0).unwrap();
    assert_eq!(
        la,
        segloss::multiclass::focal(&x, &ids, shape, &with, &cl).unwrap()
    );
    close("multiclass", &a, &b);
    let la = bml::focal(&x, &y, shape, &with, &cl, &mut a, 1.0).unwrap();
    bml::focal(&x, &y, shape, &without, &cl, &mut b, 1.0).unwrap();
    assert_eq!(
        la,
        segloss::multilabel::focal(&x, &y, shape, &with, &cl).unwrap()
    );
    close("multilabel", &a, &b);
}

/// Found by fuzzing (`backward`, seed `sigmoid-focal-subnormal-alpha-scaled`):
/// torchvision focal with α = 2^-149 (valid) and a loss scale of 2.2e8, one
/// positive element at x ≈ 0. The exact gradient −1.2189e-37 is a normal
/// f32, but `α_t·∂l/∂x` was formed before the scale and underflowed to 0.
/// The scale is now folded into the α weights first, as autograd applies
/// `grad_output` before the per-element factors (what loss scaling relies on).
#[test]
fn sigmoid_focal_gradient_with_a_subnormal_alpha_and_a_loss_scale() {
    use segloss::SigmoidFocal;
    let alpha = f32::from_bits(1);
    let (x, scale) = (-2.471_232_4e-33f32, 215_274_700.0f32);
    let cfg = SigmoidFocal::default()
        .with_alpha(alpha)
        .with_gamma(1.156_862_7);
    let mut g = [0.0f32];
    let l = backward::binary::sigmoid_focal(&[x], &[1u8], &cfg, &mut g, scale).unwrap();
    assert_eq!(l, binary::sigmoid_focal(&[x], &[1u8], &cfg).unwrap());
    // f64: k·α·(dce·(1 − p_t)^γ + γ·(1 − p_t)^(γ−1)·p·q·(1 − 2y)·ce), y = 1.
    let (a, gm, x) = (f64::from(alpha), f64::from(cfg.gamma), f64::from(x));
    let p = 1.0 / (1.0 + (-x).exp());
    let q = 1.0 - p;
    let ce = (1.0 + (-x).exp()).ln();
    let want = f64::from(scale) * a * (-q * q.powf(gm) - gm * q.powf(gm - 1.0) * p * q * ce);
    let got = f64::from(g[0]);
    assert!(want < -1e-37, "{want:e}");
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "{got:e} vs {want:e}"
    );
}

/// smp's focal gradient is linear in `α_t`: with a subnormal α (target 1) and
/// a large loss scale it must be `α` times the gradient without α, in every
/// mode and on both the one-pass and the statistics-first paths. `α_t` used
/// to be applied before the scale and underflowed to 0 (the fix of
/// `sigmoid_focal` above, for smp's focal).
#[test]
fn focal_gradient_with_a_subnormal_alpha_and_a_loss_scale() {
    use segloss::multiclass::{Classes, Shape};
    use segloss::{Focal, Reduction};
    let alpha = f32::from_bits(1);
    const X: f32 = -2.471_232_4e-33;
    let scale = 215_274_700.0f32;
    type Grad = fn(&Focal, f32) -> f32;
    let modes: [(&str, Grad); 3] = [
        ("binary", |cfg, scale| {
            let mut g = [0.0f32];
            backward::binary::focal(&[X], &[1u8], cfg, &mut g, scale).unwrap();
            g[0]
        }),
        ("multilabel", |cfg, scale| {
            let mut g = [0.0f32];
            let shape = Shape::new(1, 1, 1).unwrap();
            let classes = Classes::default();
            backward::multilabel::focal(&[X], &[1u8], shape, cfg, &classes, &mut g, scale).unwrap();
            g[0]
        }),
        ("multiclass", |cfg, scale| {
            let mut g = [0.0f32];
            let shape = Shape::new(1, 1, 1).unwrap();
            let classes = Classes::default();
            backward::multiclass::focal(&[X], &[0u8], shape, cfg, &classes, &mut g, scale).unwrap();
            g[0]
        }),
    ];
    for gamma in [2.0, 1.156_862_7] {
        let variants = [
            ("one pass", Focal::default()),
            ("normalized", Focal::default().with_normalized(true)),
            (
                "ignore_index, mean",
                Focal::default()
                    .with_ignore_index(Some(7.0))
                    .with_reduction(Reduction::Mean),
            ),
        ];
        for (what, cfg) in variants {
            let cfg = cfg.with_gamma(gamma).with_alpha(None);
            for (mode, grad) in modes {
                let full = f64::from(grad(&cfg, scale));
                let want = f64::from(alpha) * full;
                let got = f64::from(grad(&cfg.with_alpha(Some(alpha)), scale));
                assert!(want.abs() > 1e-38, "{mode}, {what}, γ {gamma}: {want:e}");
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs(),
                    "{mode}, {what}, γ {gamma}: {got:e} vs {want:e}"
                );
            }
        }
    }
}

/// A saturated softmax (margin 20: `1 − p` = 2e-9 rounds `p` to 1 in f32):
/// the region gradient must take the slope of `p < y`, not the kink's
/// average. It used `p − y` of the rounded `p` (0) and came out 4× too
/// small on a Tversky case (fuzz seed `tversky-saturated-softmax`); here,
/// Dice with one class present, it was 1e9× too small.
#[test]
fn multiclass_region_gradient_of_a_saturated_softmax() {
    use segloss::Region;
    use segloss::multiclass::{Classes, Shape};
    let shape = Shape::new(1, 2, 1).unwrap();
    let mut g = [0.0f32; 2];
    backward::multiclass::dice(
        &[0.0, -20.0],
        &[0u8],
        shape,
        &Region::default(),
        &Classes::default(),
        &mut g,
        1.0,
    )
    .unwrap();
    // Class 1 has no pixel (its loss is masked to 0, smp): L = (1 − 2p/(1 + p))/2,
    // ∂L/∂x₀ = −p·(1 − p)/(1 + p)² = −∂L/∂x₁.
    let q = 1.0 / (1.0 + 20f64.exp()); // 1 − p, exactly
    let p = 1.0 - q;
    let want = -p * q / ((1.0 + p) * (1.0 + p));
    for (got, want) in g.iter().zip([want, -want]) {
        let got = f64::from(*got);
        assert!((got - want).abs() <= 1e-5 * want.abs(), "{g:?} vs {want:e}");
    }
}

/// smp focal with α = 0 (every target 1, so α_t = 0) and a subnormal
/// `reduced_threshold`: `(1 − p_t)/r` overflows to ∞ in f32 (as in
/// PyTorch), but α_t = 0 weighs it out: the loss is 0 and so is the
/// gradient, in every mode. The gradient was 0·∞ = NaN.
#[test]
fn focal_gradient_with_zero_alpha_and_a_subnormal_reduced_threshold() {
    use segloss::multiclass::{Classes, Shape};
    use segloss::{Focal, Reduction};
    let cfg = Focal::default()
        .with_alpha(Some(0.0))
        .with_gamma(0.009_84)
        .with_reduced_threshold(Some(1.518e-42))
        .with_reduction(Reduction::Sum);
    let x = [0.0f32; 4];
    let (shape, classes) = (Shape::new(1, 1, 4).unwrap(), Classes::default());
    let mut g = [f32::NAN; 4];
    let l = backward::binary::focal(&x, &[1u8; 4], &cfg, &mut g, -2.75).unwrap();
    assert_eq!((l, g), (0.0, [0.0; 4]), "binary");
    let mut g = [f32::NAN; 4];
    let l = backward::multilabel::focal(&x, &[1u8; 4], shape, &cfg, &classes, &mut g, -2.75);
    assert_eq!((l.unwrap(), g), (0.0, [0.0; 4]), "multilabel");
    let mut g = [f32::NAN; 4];
    let l = backward::multiclass::focal(&x, &[0u8; 4], shape, &cfg, &classes, &mut g, -2.75);
    assert_eq!((l.unwrap(), g), (0.0, [0.0; 4]), "multiclass");
}

/// A normalised smp focal near its smallest reduced threshold: the base
/// `(1 − p_t)/r` ≈ 1e34 and `∂focal/∂x` ≈ −6e39 exceed f32, while the
/// gradient `c1·∂W/∂x − c2·∂M/∂x` is −69.333 (f64 reference of the fuzz
/// harness). It was ∞ (fuzz seed `focal-normalized-overflowing-slope`).
#[test]
fn normalized_focal_gradient_near_the_smallest_reduced_threshold() {
    use segloss::multiclass::{Classes, Shape};
    use segloss::{Focal, Reduction};
    let cfg = Focal::default()
        .with_from_logits(false)
        .with_gamma(1.0)
        .with_alpha(Some(0.0))
        .with_normalized(true)
        .with_reduced_threshold(Some(f32::MIN_POSITIVE))
        .with_eps(1e-8)
        .with_reduction(Reduction::Sum);
    let (p, y) = ([f32::from_bits(869_711_765)], [7.033_348e-6f32]);
    let want = -69.332_999_299_838_28;
    let mut g = [0.0f32];
    backward::binary::focal(&p, &y, &cfg, &mut g, 1.0).unwrap();
    let close = |g: f32| (f64::from(g) - want).abs() <= 1e-5 * want.abs();
    assert!(close(g[0]), "binary: {g:?} vs {want}");
    let (shape, classes) = (Shape::new(1, 1, 1).unwrap(), Classes::default());
    backward::multilabel::focal(&p, &y, shape, &cfg, &classes, &mut g, 1.0).unwrap();
    assert!(close(g[0]), "multilabel: {g:?} vs {want}");
}

/// smp's focal loss in f64 (logits, reduction sum or mean over all
/// elements), the reference of the tests below.
struct SmpFocal {
    gamma: f64,
    alpha: Option<f64>,
    reduced_threshold: Option<f64>,
    normalized: bool,
    mean: bool,
}

impl SmpFocal {
    fn loss(&self, x: &[f64], y: &[f32]) -> f64 {
        let (mut w, mut m) = (0.0, 0.0);
        for (&x, &y) in x.iter().zip(y) {
            let y = f64::from(y);
            let logpt = x.max(0.0) - x * y + (-x.abs()).exp().ln_1p();
            let pt = (-logpt).exp();
            let focal = match self.reduced_threshold {
                Some(r) if pt < r => 1.0,
                Some(r) => ((1.0 - pt) / r).powf(self.gamma),
                None => (1.0 - pt).powf(self.gamma),
            };
            let at = self.alpha.map_or(1.0, |a| a * y + (1.0 - a) * (1.0 - y));
            w += at * focal * logpt;
            m += focal;
        }
        let w = if self.normalized { w / m.max(1e-6) } else { w };
        if self.mean { w / x.len() as f64 } else { w }
    }

    /// Central differences of [`Self::loss`] (where it is smooth).
    fn grad(&self, x: &[f32], y: &[f32], scale: f64) -> Vec<f64> {
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        (0..x.len())
            .map(|i| {
                let h = 1e-6 * x64[i].abs().max(1.0);
                let (mut a, mut b) = (x64.clone(), x64.clone());
                a[i] += h;
                b[i] -= h;
                scale * (self.loss(&a, y) - self.loss(&b, y)) / (2.0 * h)
            })
            .collect()
    }
}

/// A normalised smp focal with `reduced_threshold = f32::MIN_POSITIVE` and
/// γ = 1e-7: the base `(1 − p_t)/r` ≈ 2e37, so `∂focal/∂u` formed from it
/// went through f32's subnormal range, and `c2/r` overflowed to ∞: the
/// gradient was −∞ (and of the wrong sign in other inputs; fuzz seed
/// `focal-normalized-min-positive-threshold`).
#[test]
fn normalized_focal_gradient_at_the_smallest_normal_reduced_threshold() {
    use segloss::multiclass::{Classes, Shape};
    use segloss::{Focal, Reduction};
    let (gamma, r) = (1e-7f32, f32::MIN_POSITIVE);
    let cfg = Focal::default()
        .with_gamma(gamma)
        .with_alpha(Some(0.0))
        .with_normalized(true)
        .with_reduced_threshold(Some(r))
        .with_reduction(Reduction::Sum);
    let x = [-1.0f32, 88.0, -5.294_118, -5.294_118];
    let y = [
        6.077_23e-13_f32,
        0.058_823_526,
        7.053_344_5e-30,
        7.053_344_5e-30,
    ];
    let reference = SmpFocal {
        gamma: f64::from(gamma),
        alpha: Some(0.0),
        reduced_threshold: Some(f64::from(r)),
        normalized: true,
        mean: false,
    };
    let want = reference.grad(&x, &y, 1.0);
    let close = |g: &[f32]| {
        g.iter()
            .zip(&want)
            .all(|(&g, &w)| (f64::from(g) - w).abs() <= 1e-5 * w.abs() + 1e-9)
    };
    let mut g = [0.0f32; 4];
    backward::binary::focal(&x, &y, &cfg, &mut g, 1.0).unwrap();
    assert!(close(&g), "binary: {g:?} vs {want:?}");
    let (shape, classes) = (Shape::new(1, 1, 4).unwrap(), Classes::default());
    backward::multilabel::focal(&x, &y, shape, &cfg, &classes, &mut g, 1.0).unwrap();
    assert!(close(&g), "multilabel: {g:?} vs {want:?}");
}

/// smp focal with α = 1 and a subnormal soft target y = 3.6e-43: `α_t = y`
/// is exact, but folded with the mean's scale first (`y·k·α` with k = 2.9e-3)
/// it was 1 ulp of f32's subnormal range: the gradient 1.483e-10 instead of
/// 1.081e-10 (fuzz seed `focal-subnormal-target-alpha`).
#[test]
fn focal_gradient_with_a_subnormal_target_and_alpha() {
    use segloss::{Focal, Reduction};
    let cfg = Focal::default()
        .with_gamma(5.0)
        .with_alpha(Some(1.0))
        .with_reduced_threshold(Some(1e-7))
        .with_reduction(Reduction::Mean);
    let (x, y, scale) = ([5.999_675_8f32], [3.57e-43_f32], 2.856_910_7e-3f32);
    let reference = SmpFocal {
        gamma: 5.0,
        alpha: Some(1.0),
        reduced_threshold: Some(f64::from(1e-7f32)),
        normalized: false,
        mean: true,
    };
    let want = reference.grad(&x, &y, f64::from(scale))[0];
    let mut g = [0.0f32];
    backward::binary::focal(&x, &y, &cfg, &mut g, scale).unwrap();
    assert!(
        (f64::from(g[0]) - want).abs() <= 1e-5 * want.abs(),
        "{g:?} vs {want}"
    );
}
