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
}

criterion_group!(benches, bench);
criterion_main!(benches);
