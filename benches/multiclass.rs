//! Criterion benchmarks of the multiclass kernels from logits: 2^18 pixels,
//! C = 4 and C = 16, in (pixel·class)/s (criterion's "elements"), beside a
//! roofline measured in the same run (a SIMD sum over the same `N·C·S`
//! floats plus the `u8` labels).
//!
//! The `fwd+bwd` rows run `segloss::backward::multiclass` (the loss and
//! `∂loss/∂logits` written into a caller's buffer: a statistics pass that
//! keeps the softmax's exps in that buffer, then a gradient pass that reads
//! them); their elements are the same pixel·class count.
//!
//! `cargo bench --bench multiclass`; add `RUSTFLAGS="-C target-cpu=native"`
//! for the machine's own SIMD. The measured tables, machine and date are in
//! BENCHMARKS.md "Multiclass".

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use segloss::multiclass::{self, Classes, CrossEntropy, Loss, Shape};
use segloss::{Region, backward};
use std::hint::black_box;
use std::time::Duration;
use wide::f32x8;

/// `n` images of `s` pixels, `c` classes: logits that mostly favour the label.
struct Data {
    shape: Shape,
    logits: Vec<f32>,
    labels: Vec<u8>,
}

impl Data {
    fn new(n: usize, c: usize, s: usize) -> Data {
        let mut st = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            (st >> 40) as f32 / (1u64 << 24) as f32
        };
        let labels: Vec<u8> = (0..n * s).map(|_| (rnd() * c as f32) as u8).collect();
        let mut logits = vec![0.0f32; n * c * s];
        for img in 0..n {
            for k in 0..c {
                for j in 0..s {
                    let y = labels[img * s + j] as usize == k;
                    logits[(img * c + k) * s + j] = if y { 2.0 } else { 0.0 } + 4.0 * (rnd() - 0.5);
                }
            }
        }
        Data {
            shape: Shape::new(n, c, s).unwrap(),
            logits,
            labels,
        }
    }
}

/// The roofline: a SIMD sum over the logits and the labels (as bytes).
fn roofline(pred: &[f32], labels: &[u8]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    let pc = pred.chunks_exact(32);
    let tail: f32 = pc.remainder().iter().sum();
    for p in pc {
        for (k, a) in acc.iter_mut().enumerate() {
            let p8: [f32; 8] = p[8 * k..8 * k + 8].try_into().unwrap();
            *a += f32x8::new(p8);
        }
    }
    let lab: u64 = labels
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .fold(0u64, |a, b| a.wrapping_add(b));
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add() + tail + (lab & 1) as f32
}

fn bench(c: &mut Criterion) {
    let pixels = 1usize << 18;
    for classes in [4usize, 16] {
        let d = Data::new(4, classes, pixels / 4);
        let mut g = c.benchmark_group(format!("multiclass/2^18px/C={classes}"));
        g.throughput(Throughput::Elements((pixels * classes) as u64));
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(2));
        g.sample_size(20);
        let cl = Classes::default();
        let dice = Loss::Region(segloss::Tversky::dice(Region::default()));
        let ce = Loss::CrossEntropy(CrossEntropy::default());
        let dice_ce = Loss::RegionCe {
            region: segloss::Tversky::dice(Region::default()),
            ce: CrossEntropy::default(),
            lambda_region: 1.0,
            lambda_ce: 1.0,
        };
        let focal = Loss::Focal(segloss::Focal::default());
        let run = |l: &Loss| -> f32 {
            if classes == 4 {
                multiclass::loss_fixed::<4, u8>(&d.logits, &d.labels, d.shape, l, &cl).unwrap()
            } else {
                multiclass::loss_fixed::<16, u8>(&d.logits, &d.labels, d.shape, l, &cl).unwrap()
            }
        };
        let bwd = |l: &Loss, grad: &mut [f32]| -> f32 {
            if classes == 4 {
                backward::multiclass::loss_fixed::<4, u8>(
                    &d.logits, &d.labels, d.shape, l, &cl, grad, 1.0,
                )
                .unwrap()
            } else {
                backward::multiclass::loss_fixed::<16, u8>(
                    &d.logits, &d.labels, d.shape, l, &cl, grad, 1.0,
                )
                .unwrap()
            }
        };
        let mut grad = vec![0.0f32; d.logits.len()];
        for (name, l) in [
            ("dice", &dice),
            ("cross_entropy", &ce),
            ("dice+ce", &dice_ce),
            ("focal", &focal),
        ] {
            let v = run(l);
            assert!(v.is_finite() && v > 0.0, "{name} gave {v}");
            // The backward pass returns the forward's loss and a finite gradient.
            grad.fill(f32::NAN);
            assert_eq!(bwd(l, &mut grad), v, "{name}: backward loss");
            assert!(grad.iter().all(|g| g.is_finite()), "{name}: gradient");
        }
        g.bench_function("roofline (SIMD sum)", |b| {
            b.iter(|| roofline(black_box(&d.logits), black_box(&d.labels)))
        });
        g.bench_function("dice (const C)", |b| b.iter(|| run(black_box(&dice))));
        g.bench_function("dice (runtime C)", |b| {
            b.iter(|| {
                multiclass::loss(black_box(&d.logits), &d.labels, d.shape, &dice, &cl).unwrap()
            })
        });
        g.bench_function("cross_entropy", |b| b.iter(|| run(black_box(&ce))));
        g.bench_function("dice+ce one pass", |b| b.iter(|| run(black_box(&dice_ce))));
        g.bench_function("focal", |b| b.iter(|| run(black_box(&focal))));
        g.bench_function("dice fwd+bwd (const C)", |b| {
            b.iter(|| bwd(black_box(&dice), &mut grad))
        });
        g.bench_function("dice fwd+bwd (runtime C)", |b| {
            b.iter(|| {
                let (p, t) = (black_box(&d.logits), &d.labels);
                backward::multiclass::loss(p, t, d.shape, &dice, &cl, &mut grad, 1.0).unwrap()
            })
        });
        g.bench_function("dice+ce fwd+bwd", |b| {
            b.iter(|| bwd(black_box(&dice_ce), &mut grad))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
