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
