//! `langevin`: one corrector step (pass 1 norms + pass 2 update, noise regenerated in both)
//! at N = 2^20 and 2^24 f32 elements in samples of 2^16, on the best backend, beside the
//! bandwidth ceiling. Bytes counted: the tensors only (pass 1 reads the score, pass 2 reads x
//! and the score and writes x: 16 B/element); the noise is compute, reported as elements/s.
//!
//! `langevin_tensor_passes` is the same two passes with the noise taken out, to read the
//! corrector's memory traffic against the ceiling with the noise cost not counted: pass 1's
//! score half is `reduce`'s per-sample Σx² (the same leaf code, bit for bit) and pass 2 without
//! its z term is a `lincomb` x ← x + ε·score.
//!
//! `cargo bench --bench langevin`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::diffusion::langevin::{langevin_step, Corrector, NormMode};
use ito::{LincombCoefs, Noise, NoiseKey, SegmentStats};

/// The corrector every group runs (score-SDE's VP settings).
const CORRECTOR: Corrector = Corrector {
    snr: 0.16,
    alpha: 0.99,
    norms: NormMode::PerSample,
};

/// The noise every group draws.
const NOISE: Noise = Noise {
    key: NoiseKey {
        seed: 1,
        stream: 10,
        step: 0,
    },
    offset: 0,
};

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let backend = ito::backend().unwrap();
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
                        &CORRECTOR,
                        NOISE,
                    )
                    .unwrap()
                })
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("langevin_tensor_passes/bytes");
    for n in [1usize << 20, 1 << 24] {
        g.throughput(Throughput::Bytes(16 * n as u64));
        let mut x = vec![0.5f32; n];
        let score = vec![-0.25f32; n];
        let sample_len = 1 << 16;
        let mut stats = vec![SegmentStats::default(); n / sample_len];
        let mut step = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        step.inputs[0] = 1e-4;
        g.bench_function(BenchmarkId::new(format!("{backend}/f32"), n), |b| {
            b.iter(|| {
                backend
                    .reduce(score.as_slice().into(), None, sample_len, &mut stats)
                    .unwrap();
                backend
                    .lincomb(
                        x.as_mut_slice().into(),
                        None,
                        &[score.as_slice().into()],
                        &step,
                        None,
                    )
                    .unwrap()
            })
        });
    }
    g.finish();
    #[cfg(feature = "cuda")]
    bench_cuda(c);
}

/// The corrector on the device (four launches, ε computed there), beside the device's copy
/// ceiling (runs only where a GPU is; `scripts/gpu-kit.sh`).
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let sample_len = 1 << 16;
    let mut g = c.benchmark_group("langevin/cuda");
    for n in [1usize << 20, 1 << 24, 1 << 26] {
        g.throughput(Throughput::Bytes(16 * n as u64));
        // A non-zero score, as on the CPU: a zero one makes ε infinite and the update kernel
        // skips the sample (no traffic).
        let mut x = dev.upload(vec![0.5f32; n].as_slice().into()).unwrap();
        let score = dev.upload(vec![-0.25f32; n].as_slice().into()).unwrap();
        let mut eps = dev.stream().alloc_zeros::<f64>(n / sample_len).unwrap();
        dev.reserve_langevin_scratch(n / sample_len, sample_len)
            .unwrap();
        dev.langevin_step(
            x.as_mut(),
            score.as_ref(),
            sample_len,
            &CORRECTOR,
            NOISE,
            eps.as_view_mut(),
        )
        .unwrap();
        let first = dev.stream().clone_dtoh(&eps).unwrap();
        assert!(
            first.iter().all(|e| e.is_finite()),
            "ε not finite: no update is timed"
        );
        g.bench_function(BenchmarkId::new("f32", n), |b| {
            b.iter_custom(|iters| {
                common::cuda::timed(&dev, iters, || {
                    dev.langevin_step(
                        x.as_mut(),
                        score.as_ref(),
                        sample_len,
                        &CORRECTOR,
                        NOISE,
                        eps.as_view_mut(),
                    )
                    .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
