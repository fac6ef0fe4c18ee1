//! `reduce` (per-segment Σx², Σx·y, max|x|) per backend and storage type, one segment per
//! 2^16 elements, beside the bandwidth ceiling. Throughput counts the bytes read (x and y).
//!
//! `cargo bench --bench reduce`
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use common::{ceiling, configure, cpu_backends, dtype_name, Buf, DTYPES, SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::SegmentStats;

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let mut g = c.benchmark_group("reduce/xy");
    for &n in &SIZES {
        for dtype in DTYPES {
            let size = dtype.size();
            let x = Buf::filled(dtype, n, 0.5);
            let y = Buf::filled(dtype, n, 0.25);
            let seg = n.min(1 << 16);
            let mut out = vec![SegmentStats::default(); n / seg];
            g.throughput(Throughput::Bytes((2 * size * n) as u64));
            for b in cpu_backends() {
                g.bench_function(
                    BenchmarkId::new(format!("{b}/{}", dtype_name(dtype)), n),
                    |bench| {
                        bench.iter(|| {
                            b.reduce(x.as_ref(), Some(y.as_ref()), seg, &mut out)
                                .unwrap()
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

/// `reduce` over device buffers (runs only where a GPU is), beside the device's copy ceiling.
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let Some(dev) = common::cuda::device() else {
        return;
    };
    common::cuda::ceiling(c, &dev, 1 << 26);
    let mut g = c.benchmark_group("reduce/xy");
    for n in [1usize << 16, 1 << 20, 1 << 24, 1 << 26] {
        for dtype in DTYPES {
            let x = dev.alloc(dtype, n).unwrap();
            let y = dev.alloc(dtype, n).unwrap();
            let seg = n.min(1 << 16);
            let mut out = dev.stream().alloc_zeros::<f32>(3 * (n / seg)).unwrap();
            dev.reserve_reduce_scratch(n / 256).unwrap();
            g.throughput(Throughput::Bytes((2 * dtype.size() * n) as u64));
            g.bench_function(
                BenchmarkId::new(format!("cuda/{}", dtype_name(dtype)), n),
                |bench| {
                    bench.iter_custom(|iters| {
                        common::cuda::timed(&dev, iters, || {
                            dev.reduce(x.as_ref(), Some(y.as_ref()), seg, out.as_view_mut())
                                .unwrap()
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
