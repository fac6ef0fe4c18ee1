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
    #[cfg(feature = "cuda")]
    bench_cuda(c);
}

/// `fill_normal` into device buffers (runs only where a GPU is), beside the device's copy
/// ceiling; compare normals/s with `torch.randn` (`scripts/gpu-kit.sh` runs both).
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let mut g = c.benchmark_group("fill_normal/cuda");
    for n in [1usize << 16, 1 << 20, 1 << 24, 1 << 26] {
        for dtype in DTYPES {
            let mut y = dev.alloc(dtype, n).unwrap();
            let noise = Noise {
                key: NoiseKey {
                    seed: 1,
                    stream: 0,
                    step: 0,
                },
                offset: 0,
            };
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(BenchmarkId::new(dtype_name(dtype), n), |bench| {
                bench.iter_custom(|iters| {
                    common::cuda::timed(&dev, iters, || {
                        dev.fill_normal(y.as_mut(), 0.0, 1.0, noise).unwrap()
                    })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
