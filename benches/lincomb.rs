//! `lincomb` as a DPM-Solver++(2M) step with an ε-model: reads x, ε and the previous data
//! prediction, writes x (in place) and the new data prediction — 3 inputs, 2 outputs, one
//! pass — with and without noise, per backend and storage type, beside the bandwidth ceiling.
//!
//! `cargo bench --bench lincomb`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure, cpu_backends, dtype_name, Buf, DTYPES, SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::{LincombCoefs, Noise, NoiseKey};

fn dpmpp_2m_coefs(noisy: bool) -> LincombCoefs {
    let mut c = LincombCoefs {
        y: 0.93,
        y2_y: 1.02,
        ..Default::default()
    };
    c.inputs[0] = -0.21;
    c.inputs[1] = 0.04;
    c.y2_inputs[0] = -0.17;
    if noisy {
        c.noise = 0.05;
    }
    c
}

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    for noisy in [false, true] {
        let mut g = c.benchmark_group(if noisy {
            "lincomb/dpmpp2m+noise"
        } else {
            "lincomb/dpmpp2m"
        });
        for &n in &SIZES {
            for dtype in DTYPES {
                let size = dtype.size();
                let mut x = Buf::filled(dtype, n, 0.5);
                let eps = Buf::filled(dtype, n, 0.1);
                let prev = Buf::filled(dtype, n, 0.3);
                let mut x0 = Buf::filled(dtype, n, 0.0);
                let coefs = dpmpp_2m_coefs(noisy);
                g.throughput(Throughput::Bytes((5 * size * n) as u64));
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
                                b.lincomb(
                                    x.as_mut(),
                                    Some(x0.as_mut()),
                                    &[eps.as_ref(), prev.as_ref()],
                                    &coefs,
                                    Some(noise),
                                )
                                .unwrap()
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

/// The same step on device buffers (runs only where a GPU is), beside the device's copy
/// ceiling; sizes up to 2^26.
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    for noisy in [false, true] {
        let mut g = c.benchmark_group(if noisy {
            "lincomb/dpmpp2m+noise"
        } else {
            "lincomb/dpmpp2m"
        });
        for n in [1usize << 16, 1 << 20, 1 << 24, 1 << 26] {
            for dtype in DTYPES {
                let mut x = dev.alloc(dtype, n).unwrap();
                let eps = dev.alloc(dtype, n).unwrap();
                let prev = dev.alloc(dtype, n).unwrap();
                let mut x0 = dev.alloc(dtype, n).unwrap();
                let coefs = dpmpp_2m_coefs(noisy);
                let noise = Noise {
                    key: NoiseKey {
                        seed: 1,
                        stream: 0,
                        step: 0,
                    },
                    offset: 0,
                };
                g.throughput(Throughput::Bytes((5 * dtype.size() * n) as u64));
                g.bench_function(
                    BenchmarkId::new(format!("cuda/{}", dtype_name(dtype)), n),
                    |bench| {
                        bench.iter_custom(|iters| {
                            common::cuda::timed(&dev, iters, || {
                                dev.lincomb(
                                    x.as_mut(),
                                    Some(x0.as_mut()),
                                    &[eps.as_ref(), prev.as_ref()],
                                    &coefs,
                                    Some(noise),
                                )
                                .unwrap()
                            })
                        })
                    },
                );
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
