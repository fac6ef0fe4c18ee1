//! `fill_normal` (y = μ + σ·N) per backend and storage type, on all threads and on one, beside
//! the bandwidth ceiling. Throughput counts the bytes written; normals/s = elements/s.
//!
//! `cargo bench --bench fill_normal`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure, cpu_backends, dtype_name, Buf, DTYPES, SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::{Noise, NoiseKey};

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (threads, label) in [(0usize, "all-threads"), (1, "one-thread")] {
        let mut g = c.benchmark_group(format!("fill_normal/{label}"));
        for &n in &SIZES {
            for dtype in DTYPES {
                let mut y = Buf::filled(dtype, n, 0.0);
                g.throughput(Throughput::Elements(n as u64));
                for b in cpu_backends() {
                    let noise = Noise {
                        key: NoiseKey {
                            seed: 1,
                            stream: 0,
                            step: 0,
                        },
                        offset: 0,
                    };
                    g.bench_function(
                        BenchmarkId::new(format!("{b}/{}", dtype_name(dtype)), n),
                        |bench| {
                            bench.iter(|| {
                                if threads == 1 {
                                    one_thread.install(|| {
                                        b.fill_normal(y.as_mut(), 0.0, 1.0, noise).unwrap()
                                    })
                                } else {
                                    b.fill_normal(y.as_mut(), 0.0, 1.0, noise).unwrap()
                                }
                            })
                        },
                    );
                }
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
