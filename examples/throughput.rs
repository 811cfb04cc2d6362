//! Throughput table: every benchmarked kernel in G elements/s, beside the
//! roofline (a SIMD sum over the same bytes) and the naive scalar loop,
//! measured in the same run.
//!
//! ```text
//! cargo run --release --example throughput                 # 2^18 and 2^24
//! cargo run --release --example throughput -- --quick      # 2^18 only, short
//! cargo run --release --example throughput -- 10 14 18 22  # chosen log2 sizes
//! cargo run --release --example throughput -- --only dice   # kernels whose name contains "dice"
//! RUSTFLAGS="-C target-cpu=native" cargo run --release --example throughput
//! ```
//!
//! Each cell is the best of several timed repetitions (the machines are
//! noisy; the best run is the least disturbed). The kernels are the ones in
//! `benches/common/mod.rs`, shared with the criterion bench.

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

/// Best seconds per call over `reps` repetitions of at least `min` each.
fn time(k: &common::Kernel, d: &common::Data, min: Duration, reps: usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let (mut calls, start) = (0u32, Instant::now());
        while start.elapsed() < min || calls == 0 {
            common::run(k, d);
            calls += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() / f64::from(calls));
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut sizes: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = if quick { vec![18] } else { vec![18, 24] };
    }
    let (min, reps) = if quick {
        (Duration::from_millis(30), 3)
    } else {
        (Duration::from_millis(150), 5)
    };
    // `wide::f32x8` is one 256-bit register with AVX2 and with AVX-512
    // (which adds registers and mask operations, not lanes).
    let build = if cfg!(target_feature = "avx512f") {
        "AVX-512"
    } else if cfg!(target_feature = "avx2") {
        "AVX2"
    } else if cfg!(target_feature = "sse2") {
        "SSE2"
    } else if cfg!(target_feature = "neon") {
        "NEON"
    } else if cfg!(target_feature = "simd128") {
        "wasm simd128"
    } else {
        "scalar lanes"
    };
    println!(
        "segloss throughput, {} build ({}), one core",
        build,
        std::env::consts::ARCH
    );
    for log2 in sizes {
        let n = 1usize << log2;
        let d = common::Data::new(n);
        let roof = time(&common::KERNELS[0], &d, min, reps);
        let naive = time(&common::KERNELS[1], &d, min, reps);
        println!("\n2^{log2} elements");
        println!(
            "{:<28} {:>10} {:>10} {:>10}",
            "kernel", "G elem/s", "/roofline", "/naive"
        );
        for (i, k) in common::KERNELS.iter().enumerate() {
            if i > 1 && only.as_ref().is_some_and(|o| !k.name.contains(o.as_str())) {
                continue;
            }
            let t = match i {
                0 => roof,
                1 => naive,
                _ => time(k, &d, min, reps),
            };
            let g = n as f64 / t / 1e9;
            println!(
                "{:<28} {:>10.3} {:>10.3} {:>10.2}",
                k.name,
                g,
                roof / t,
                naive / t
            );
        }
    }
}
