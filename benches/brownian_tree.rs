//! `brownian_tree`: one increment W(s, t) of a virtual Brownian tree (two descents, fused into
//! one pass) and one step of a sequential sweep over a 20- and a 100-step grid (one descent
//! plus a difference pass), at depths 10 and 20, for N = 2^16 and 2^20 f32 elements on the
//! best backend. Reported as time per query and elements/s.
//!
//! `cargo bench --bench brownian_tree` (ids `brownian_tree/{increment,sweep20,sweep100}/depthD/N`;
//! on a GPU also `brownian_tree/cuda/increment/depthD/N`)
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use std::time::{Duration, Instant};

use common::configure;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::{BrownianSweep, BrownianTree};

fn bench(c: &mut Criterion) {
    configure(c);
    let mut g = c.benchmark_group("brownian_tree");
    for n in [1usize << 16, 1 << 20] {
        g.throughput(Throughput::Elements(n as u64));
        for depth in [10u32, 20] {
            let tree = BrownianTree::new(ito::NoiseSource::new(1).with_stream(100), 0.0, 1.0)
                .and_then(|t| t.with_depth(depth))
                .unwrap();
            let mut y = vec![0.0f32; n];
            // A non-dyadic pair: both descents run to the leaves.
            g.bench_function(
                BenchmarkId::new(format!("increment/depth{depth}"), n),
                |b| {
                    b.iter(|| {
                        tree.increment(0.3141, 0.3782, y.as_mut_slice().into())
                            .unwrap()
                    })
                },
            );
            for steps in [20usize, 100] {
                let times: Vec<f64> = (0..=steps).map(|k| k as f64 / steps as f64).collect();
                let fresh = || BrownianSweep::new(tree, &times, n).unwrap();
                let mut sweep = fresh();
                let mut dw = vec![0.0f32; n];
                g.bench_function(
                    BenchmarkId::new(format!("sweep{steps}/depth{depth}"), n),
                    |b| {
                        b.iter_custom(|iters| {
                            let mut t = Duration::ZERO;
                            for _ in 0..iters {
                                let start = Instant::now();
                                let more = sweep.next_increment(dw.as_mut_slice().into()).unwrap();
                                t += start.elapsed();
                                if !more {
                                    sweep = fresh();
                                }
                            }
                            t
                        })
                    },
                );
            }
        }
    }
    g.finish();
    #[cfg(feature = "cuda")]
    bench_cuda(c);
}

/// One increment W(s, t) on the device (depths 10 and 20), beside the device's copy ceiling:
/// the GPU side of the tree's target (runs only where a GPU is; `scripts/gpu-kit.sh`).
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let mut g = c.benchmark_group("brownian_tree/cuda");
    for n in [1usize << 16, 1 << 20, 1 << 24] {
        g.throughput(Throughput::Elements(n as u64));
        let mut y = dev.alloc(ito::Dtype::F32, n).unwrap();
        for depth in [10u32, 20] {
            let tree = BrownianTree::new(ito::NoiseSource::new(1).with_stream(100), 0.0, 1.0)
                .and_then(|t| t.with_depth(depth))
                .unwrap();
            let terms = tree.terms(0.3141, 0.3782).unwrap();
            g.bench_function(
                BenchmarkId::new(format!("increment/depth{depth}"), n),
                |b| {
                    b.iter_custom(|iters| {
                        common::cuda::timed(&dev, iters, || {
                            dev.brownian_tree(y.as_mut(), 1, &terms, 0).unwrap()
                        })
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
