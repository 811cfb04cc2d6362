//! Region losses of confident logits against the f64 oracle.
//!
//! Regression for the fuzz finding `binary_forward-tversky-log-loss`
//! (fuzz/README.md): with `p = σ(x)` rounded to f32 (spacing 6e-8 below 1),
//! `y − p` against `y = 1` lost up to all of `1 − p` (4.4% at x = 14.04), and
//! Tversky's `β·FN` carried that into the score (β = 88: 3.1e-6, over SPEC's
//! 1e-6). The terms now form `p − y` from `σ(−x)` where `p > ½`
//! (`accumulate::binary::excess`). Checked through every path that sums
//! region terms of σ predictions: one-shot, streaming, backward, multilabel.

use crate::support;

use segloss::multiclass::{Classes, Shape};
use segloss::{BinaryAccumulator, Region, StatsConfig, Tversky, backward, binary, multilabel};
use support::oracle as o;
use support::tolerance::REGION;

/// The oracle's binary Tversky loss of `(x, y)` (logits).
fn oracle(t: &Tversky, xs: &[f32], ys: &[f64]) -> f64 {
    let r = o::Region {
        alpha: f64::from(t.alpha),
        beta: f64::from(t.beta),
        gamma: f64::from(t.gamma),
        smooth: f64::from(t.region.smooth),
        eps: f64::from(t.region.eps),
        log_loss: t.region.log_loss,
        ..o::Region::dice()
    };
    let x64: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
    o::region_loss(o::Mode::Binary, true, [1, 1, xs.len()], &r, &x64, ys).expect("oracle")
}

/// Every σ path's Tversky loss of `(xs, mask)`; all must be the same bits.
fn every_path(t: &Tversky, xs: &[f32], mask: &[u8]) -> f32 {
    let one_shot = binary::tversky(xs, mask, t).expect("one-shot");
    let mut acc = BinaryAccumulator::new(StatsConfig::default()).expect("accumulator");
    for (p, y) in xs.chunks(5).zip(mask.chunks(5)) {
        acc.update(p, y).expect("update");
    }
    let streamed = acc.tversky(t).expect("streamed");
    let mut g = vec![0.0f32; xs.len()];
    let backward = backward::binary::tversky(xs, mask, t, &mut g, 1.0).expect("backward");
    let shape = Shape::new(1, 1, xs.len()).expect("shape");
    let ml = multilabel::tversky(xs, mask, shape, t, &Classes::default()).expect("multilabel");
    assert_eq!(one_shot.to_bits(), backward.to_bits(), "backward");
    assert_eq!(one_shot.to_bits(), ml.to_bits(), "multilabel");
    // The accumulator sums in chunks of 5: the same terms, another grouping.
    assert!((one_shot - streamed).abs() <= 1e-6 * one_shot.abs().max(1.0));
    one_shot
}

/// The fuzz reproducer: one element, x = 14.039215, mask 1, α = 5, β = 88,
/// γ = 0.7120605, eps = 2.353e-4, `log_loss`. Exact (50 digits):
/// score 0.99992964443, loss 1.10417041647e-3; segloss gave 1.13829e-3
/// (score 0.99992657, from `1 − p` = 14·2⁻²⁴ instead of 7.9955e-7).
#[test]
fn fuzz_finding_tversky_log_loss() {
    let x = [14.039_215_f32];
    let region = Region::default()
        .with_eps(0.000_235_300_71)
        .with_log_loss(true);
    let t = Tversky {
        region,
        alpha: 5.0,
        beta: 88.0,
        gamma: 0.712_060_5,
    };
    let got = f64::from(every_path(&t, &x, &[1]));
    let want = oracle(&t, &x, &[1.0]);
    assert!(
        (want - 1.104_170_416_467e-3).abs() < 1e-12,
        "oracle {want:e}"
    );
    assert!(
        (got - want).abs() <= 1e-5 * want,
        "got {got:e}, want {want:e}"
    );

    // The score itself (γ = 1, no log): SPEC's 1e-6 on `1 − score`.
    let plain = Tversky {
        region: Region::default(),
        gamma: 1.0,
        ..t
    };
    let got = f64::from(every_path(&plain, &x, &[1]));
    let want = oracle(&plain, &x, &[1.0]);
    assert!(REGION.check(got, want, 0.0), "got {got:e}, want {want:e}");
}

/// Confident logits of every size against `y = 1` (and some `y = 0`), with a
/// large β (and α) amplifying `FN` (`FP`): `1 − score` within SPEC's 1e-6.
#[test]
fn confident_logits_keep_the_complement() {
    for &(alpha, beta) in &[(0.5f32, 0.5f32), (5.0, 88.0), (88.0, 5.0), (0.0, 1000.0)] {
        for k in 0..120 {
            let x0 = 0.37 * k as f32; // 0 ..= 44
            let xs: Vec<f32> = (0..37).map(|i| x0 + 0.01 * i as f32).collect();
            // Mostly positives predicted positive; a few negatives.
            let mask: Vec<u8> = (0..37).map(|i| u8::from(i % 9 != 4)).collect();
            let xs: Vec<f32> = xs
                .iter()
                .zip(&mask)
                .map(|(&x, &m)| if m == 1 { x } else { -x })
                .collect();
            let t = Tversky {
                region: Region::default(),
                alpha,
                beta,
                gamma: 1.0,
            };
            let got = f64::from(every_path(&t, &xs, &mask));
            let ys: Vec<f64> = mask.iter().map(|&m| f64::from(m)).collect();
            let want = oracle(&t, &xs, &ys);
            assert!(
                REGION.check(got, want, 0.0),
                "α {alpha}, β {beta}, x0 {x0}: got {got:e}, want {want:e}"
            );
        }
    }
}
