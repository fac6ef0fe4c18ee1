//! SDE steppers, one step each at N = 2^20 and 2^24 f32 elements on the best backend, noise
//! inline: Euler–Maruyama (x, f, g → x), Milstein (x, f, g, g·g' → x), stochastic Heun's two
//! passes, reversible Heun's two forward passes. Throughput in bytes of the tensors moved.
//!
//! `cargo bench --bench sde`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::sde;
use ito::NoiseSource;

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let inc = NoiseSource {
        seed: 1,
        stream: 5,
        offset: 0,
    };
    let dt = 1e-3;
    let mut g = c.benchmark_group("sde");
    for n in [1usize << 20, 1 << 24] {
        let mut x = vec![1.0f32; n];
        let mut xp = vec![1.0f32; n];
        let f = vec![-0.5f32; n];
        let gg = vec![0.3f32; n];
        let h = vec![0.09f32; n];
        g.throughput(Throughput::Bytes(16 * n as u64));
        g.bench_function(BenchmarkId::new("euler_maruyama", n), |b| {
            b.iter(|| {
                sde::euler_maruyama(
                    x.as_mut_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap()
            })
        });
        g.throughput(Throughput::Bytes(20 * n as u64));
        g.bench_function(BenchmarkId::new("milstein", n), |b| {
            b.iter(|| {
                sde::milstein(
                    x.as_mut_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    h.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap()
            })
        });
        // Predict: reads x, f, g, writes x̃ (16 B); correct: reads x, f, g, f̃, g̃, writes x (24 B).
        g.throughput(Throughput::Bytes(40 * n as u64));
        g.bench_function(BenchmarkId::new("stochastic_heun", n), |b| {
            b.iter(|| {
                sde::stochastic_heun_predict(
                    xp.as_mut_slice().into(),
                    x.as_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap();
                sde::stochastic_heun_correct(
                    x.as_mut_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("reversible_heun", n), |b| {
            b.iter(|| {
                sde::reversible_heun_forward(
                    xp.as_mut_slice().into(),
                    x.as_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap();
                sde::reversible_heun_correct(
                    x.as_mut_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    f.as_slice().into(),
                    gg.as_slice().into(),
                    dt,
                    inc,
                    0,
                )
                .unwrap()
            })
        });
    }
    g.finish();
    #[cfg(feature = "cuda")]
    bench_cuda(c);
}

/// Milstein on the device (Euler–Maruyama is a `lincomb`, benched in `lincomb/cuda`), beside
/// the device's copy ceiling (runs only where a GPU is; `scripts/gpu-kit.sh`).
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let noise = ito::Noise {
        key: ito::NoiseKey {
            seed: 1,
            stream: 5,
            step: 0,
        },
        offset: 0,
    };
    let mut g = c.benchmark_group("sde/cuda");
    for n in [1usize << 20, 1 << 24, 1 << 26] {
        g.throughput(Throughput::Bytes(20 * n as u64));
        let mut x = dev.alloc(ito::Dtype::F32, n).unwrap();
        let (f, gg, h) = (
            dev.alloc(ito::Dtype::F32, n).unwrap(),
            dev.alloc(ito::Dtype::F32, n).unwrap(),
            dev.alloc(ito::Dtype::F32, n).unwrap(),
        );
        g.bench_function(BenchmarkId::new("milstein", n), |b| {
            b.iter_custom(|iters| {
                common::cuda::timed(&dev, iters, || {
                    dev.milstein(x.as_mut(), f.as_ref(), gg.as_ref(), h.as_ref(), 1e-3, noise)
                        .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
