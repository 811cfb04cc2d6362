//! Throughput of the `math` primitives, in elements/s, over 2^18 f32 (1 MiB,
//! L2-resident), beside a plain-sum roofline and the previous implementation
//! built on `wide`'s general `exp`/`ln_1p` (the naive baseline).
//!
//! The crate's `math` module is `pub(crate)`, so it is compiled into this bench
//! from its source (`#[path]`); the code measured is the shipped code. Every
//! benchmark first checks its result against the scalar twins.
//!
//! Run: `cargo bench --bench math` (SSE2) and
//! `RUSTFLAGS="-C target-cpu=native" cargo bench --bench math`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use wide::f32x8;

#[macro_use]
#[path = "../src/inline.rs"]
mod inline;
// Under `cargo bench` cfg(test) is set, so the module's unit tests come along unused.
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../src/math/mod.rs"]
mod math;

const N: usize = 1 << 18;

/// Deterministic pseudo-random values in [lo, hi).
fn data(lo: f32, hi: f32) -> Vec<f32x8> {
    let mut s: u32 = 0x1234_5678;
    let xs: Vec<f32> = (0..N)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            lo + (hi - lo) * ((s >> 8) as f32 / (1u32 << 24) as f32)
        })
        .collect();
    xs.chunks_exact(8)
        .map(|c| f32x8::new(c.try_into().unwrap()))
        .collect()
}

fn sum_lanes(v: f32x8) -> f64 {
    v.to_array().iter().map(|&x| x as f64).sum()
}

fn logistic_sum(xs: &[f32x8]) -> f32x8 {
    let mut acc = f32x8::ZERO;
    for &x in xs {
        let l = math::logistic(x);
        acc += (l.p + l.q) + (l.sp_pos + l.sp_neg);
    }
    acc
}

/// The previous bodies: wide's `exp`, `ln_1p` and three divisions' worth of work.
fn logistic_wide_sum(xs: &[f32x8]) -> f32x8 {
    let mut acc = f32x8::ZERO;
    for &x in xs {
        let e = (-x.abs()).exp();
        let l = e.ln_1p();
        let r = f32x8::ONE / (f32x8::ONE + e);
        let pos = x.simd_ge(f32x8::ZERO);
        let lo = e * r;
        let (p, q) = (pos.select(r, lo), pos.select(lo, r));
        let (sp, sn) = (x.max(f32x8::ZERO) + l, (-x).max(f32x8::ZERO) + l);
        acc += (p + q) + (sp + sn);
    }
    acc
}

fn map_sum(xs: &[f32x8], f: impl Fn(f32x8) -> f32x8) -> f32x8 {
    let mut acc = f32x8::ZERO;
    for &x in xs {
        acc += f(x);
    }
    acc
}

fn check(name: &str, got: f32x8, xs: &[f32x8], scalar: impl Fn(f32) -> f32) {
    let want: f64 = xs
        .iter()
        .flat_map(|v| v.to_array())
        .map(|x| scalar(x) as f64)
        .sum();
    let got = sum_lanes(got);
    assert!(
        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
        "{name}: {got} vs {want}"
    );
}

fn bench(c: &mut Criterion) {
    let logits = data(-20.0, 20.0);
    let probs = data(0.0, 1.0);
    let losses = data(0.0, 8.0);
    check("logistic", logistic_sum(&logits), &logits, |x| {
        let l = math::logistic_scalar(x);
        (l.p + l.q) + (l.sp_pos + l.sp_neg)
    });
    check(
        "sigmoid",
        map_sum(&logits, math::sigmoid),
        &logits,
        math::sigmoid_scalar,
    );
    check("ln", map_sum(&probs, math::ln), &probs, math::ln_scalar);
    check(
        "omen",
        map_sum(&losses, math::one_minus_exp_neg),
        &losses,
        math::one_minus_exp_neg_scalar,
    );
    check(
        "pow",
        map_sum(&probs, |x| math::pow_nonneg(x, 1.5)),
        &probs,
        |x| math::pow_nonneg_scalar(x, 1.5),
    );

    let mut g = c.benchmark_group("math");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("roofline_sum", |b| {
        b.iter(|| map_sum(black_box(&logits), |x| x))
    });
    g.bench_function("logistic_4_fields", |b| {
        b.iter(|| logistic_sum(black_box(&logits)))
    });
    g.bench_function("logistic_wide_baseline", |b| {
        b.iter(|| logistic_wide_sum(black_box(&logits)))
    });
    g.bench_function("sigmoid", |b| {
        b.iter(|| map_sum(black_box(&logits), math::sigmoid))
    });
    g.bench_function("ln", |b| b.iter(|| map_sum(black_box(&probs), math::ln)));
    g.bench_function("one_minus_exp_neg", |b| {
        b.iter(|| map_sum(black_box(&losses), math::one_minus_exp_neg))
    });
    g.bench_function("pow_nonneg_1.5", |b| {
        b.iter(|| map_sum(black_box(&probs), |x| math::pow_nonneg(x, 1.5)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
