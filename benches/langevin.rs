//! `langevin`: one corrector step (pass 1 norms + pass 2 update, noise regenerated in both)
//! at N = 2^20 and 2^24 f32 elements in samples of 2^16, on the best backend, beside the
//! bandwidth ceiling. Bytes counted: the tensors only (pass 1 reads the score, pass 2 reads x
//! and the score and writes x: 16 B/element); the noise is compute, reported as elements/s.
//!
//! `cargo bench --bench langevin`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::langevin::{langevin_step, Corrector, NormMode};
use ito::{Noise, NoiseKey};

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let backend = ito::backend().unwrap();
    let corrector = Corrector {
        snr: 0.16,
        alpha: 0.99,
        norms: NormMode::PerSample,
    };
    let noise = Noise {
        key: NoiseKey {
            seed: 1,
            stream: 10,
            step: 0,
        },
        offset: 0,
    };
    for (unit, per_element) in [("bytes", true), ("elements", false)] {
        let mut g = c.benchmark_group(format!("langevin/{unit}"));
        for n in [1usize << 20, 1 << 24] {
            g.throughput(if per_element {
                Throughput::Bytes(16 * n as u64)
            } else {
                Throughput::Elements(n as u64)
            });
            let mut x = vec![0.5f32; n];
            let score = vec![-0.25f32; n];
            g.bench_function(BenchmarkId::new(format!("{backend}/f32"), n), |b| {
                b.iter(|| {
                    langevin_step(
                        backend,
                        x.as_mut_slice().into(),
                        score.as_slice().into(),
                        1 << 16,
                        &corrector,
                        noise,
                    )
                    .unwrap()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
