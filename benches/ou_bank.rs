//! `ou_bank`: one exact step of K = 5 OU processes per element (Markov-approximate fBM, H = 0.3)
//! with ΔB̂ written out, at N = 2^20 and 2^24 elements on the best backend. Bytes: the state
//! read and written (2·4K B) plus ΔB̂ (4 B) per element; two normals per element are compute.
//!
//! `cargo bench --bench ou_bank`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::sde::fbm::MarkovFbm;

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let tr = MarkovFbm::new(0.3, 5, 20.0, 1.0)
        .unwrap()
        .transition(0.01)
        .unwrap();
    let mut g = c.benchmark_group("ou_bank");
    for n in [1usize << 20, 1 << 24] {
        let mut state = vec![0.0f32; 5 * n];
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Bytes((44 * n) as u64));
        g.bench_function(BenchmarkId::new("k5/f32", n), |b| {
            b.iter(|| {
                tr.step(
                    state.as_mut_slice().into(),
                    Some(out.as_mut_slice().into()),
                    ito::NoiseSource::new(1).with_stream(30),
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

/// One K = 5 step on the device, beside the device's copy ceiling (runs only where a GPU is;
/// `scripts/gpu-kit.sh`).
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let coefs = MarkovFbm::new(0.3, 5, 20.0, 1.0)
        .unwrap()
        .transition(0.01)
        .unwrap()
        .coefs();
    let key = ito::NoiseKey {
        seed: 1,
        stream: 30,
        step: 0,
    };
    let mut g = c.benchmark_group("ou_bank/cuda");
    for n in [1usize << 20, 1 << 24] {
        g.throughput(Throughput::Bytes((44 * n) as u64));
        let mut state = dev.alloc(ito::Dtype::F32, 5 * n).unwrap();
        let mut out = dev.alloc(ito::Dtype::F32, n).unwrap();
        g.bench_function(BenchmarkId::new("k5/f32", n), |b| {
            b.iter_custom(|iters| {
                common::cuda::timed(&dev, iters, || {
                    dev.ou_bank(state.as_mut(), 5, Some(out.as_mut()), &coefs, key, 0)
                        .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
