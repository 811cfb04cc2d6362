//! Criterion benchmarks: every binary kernel beside the roofline (a SIMD sum
//! over the same bytes) and the naive scalar loop, in elements per second.
//!
//! `cargo bench --bench kernels`; add `RUSTFLAGS="-C target-cpu=native"` for
//! the AVX2 build. `examples/throughput.rs` prints the same as a table.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn kernels(c: &mut Criterion) {
    for log2 in [10u32, 14, 18, 22] {
        let n = 1usize << log2;
        let data = common::Data::new(n);
        let mut g = c.benchmark_group(format!("binary/2^{log2}"));
        g.throughput(Throughput::Elements(n as u64));
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(1));
        g.sample_size(20);
        for k in common::KERNELS {
            // Check the result before timing it: a benchmark of a wrong kernel is worthless.
            assert!(
                common::run(k, &data).is_finite(),
                "{} gave a non-finite result",
                k.name
            );
            g.bench_function(k.name, |b| b.iter(|| common::run(k, &data)));
        }
        g.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
