//! Shared bench helpers: buffers of each storage type, and the memory-bandwidth ceiling
//! (copy and triad) measured in the same run as the kernels, so each kernel's bytes/s can be
//! read as a fraction of what this machine's memory delivers.

#![allow(dead_code)]

use criterion::{BenchmarkId, Criterion, Throughput};
use ito::Backend;
use rayon::prelude::*;
use std::time::Duration;

/// Problem sizes every kernel is measured at.
pub const SIZES: [usize; 3] = [1 << 16, 1 << 20, 1 << 24];

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[allow(unused_imports)] // not every bench uses the typed buffers
pub use buffers::{Buf, DTYPES};

/// The name a bench id uses for a storage type.
pub fn dtype_name(d: ito::Dtype) -> &'static str {
    match d {
        ito::Dtype::F32 => "f32",
        ito::Dtype::F16 => "f16",
        ito::Dtype::Bf16 => "bf16",
    }
}

/// The CPU backends this machine has (what the benches iterate over).
pub fn cpu_backends() -> Vec<Backend> {
    ito::available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
        .collect()
}

/// Short but stable timing: these are streaming kernels with little variance.
pub fn configure(c: &mut Criterion) {
    *c = std::mem::take(c)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
}

/// Copy (`a = b`, 8 bytes/element) and triad (`a = b + s·c`, 12 bytes/element) on f32 with
/// all threads, chunked like the kernels, at the largest size: the bandwidth ceiling.
pub fn ceiling(c: &mut Criterion) {
    let n = *SIZES.last().unwrap();
    let mut a = vec![0.0f32; n];
    let b = vec![1.0f32; n];
    let cc = vec![2.0f32; n];
    let mut g = c.benchmark_group("ceiling");
    g.throughput(Throughput::Bytes(8 * n as u64));
    g.bench_function(BenchmarkId::new("copy", n), |bench| {
        bench.iter(|| {
            a.par_chunks_mut(ito::CHUNK)
                .zip(b.par_chunks(ito::CHUNK))
                .for_each(|(a, b)| a.copy_from_slice(b));
        })
    });
    g.throughput(Throughput::Bytes(12 * n as u64));
    g.bench_function(BenchmarkId::new("triad", n), |bench| {
        bench.iter(|| {
            a.par_chunks_mut(ito::CHUNK)
                .zip(b.par_chunks(ito::CHUNK))
                .zip(cc.par_chunks(ito::CHUNK))
                .for_each(|((a, b), c)| {
                    for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                        *a = b + 3.0 * c;
                    }
                });
        })
    });
    g.finish();
}

/// CUDA bench helpers: the device (when this machine has one), device-time measurement and
/// the device-to-device copy ceiling measured in the same run.
#[cfg(feature = "cuda")]
pub mod cuda {
    use criterion::{BenchmarkId, Criterion, Throughput};
    use ito::runtime::cuda::CudaDevice;
    use std::time::{Duration, Instant};

    /// Device 0, or `None` (with the reason on stderr) when there is none; a panic instead when
    /// `ITO_REQUIRE_CUDA=1` (the GPU kit sets it).
    pub fn device() -> Option<CudaDevice> {
        let device = ito::runtime::cuda::device::probe()
            .map_err(|reason| reason.to_string())
            .and_then(|_| CudaDevice::new(0).map_err(|e| e.to_string()));
        match device {
            Ok(d) => Some(d),
            Err(reason) if std::env::var("ITO_REQUIRE_CUDA").is_ok_and(|v| v == "1") => {
                panic!("ITO_REQUIRE_CUDA=1 but there is no CUDA device ({reason})")
            }
            Err(reason) => {
                eprintln!("CUDA benches skipped: {reason}");
                None
            }
        }
    }

    /// Wall time of `iters` calls of `f`, from an idle stream to the last kernel's end.
    pub fn timed(dev: &CudaDevice, iters: u64, mut f: impl FnMut()) -> Duration {
        dev.synchronize().unwrap();
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        dev.synchronize().unwrap();
        start.elapsed()
    }

    /// Device-to-device copy of `n` f32 (8 bytes per element moved): the GPU's ceiling.
    pub fn ceiling(c: &mut Criterion, dev: &CudaDevice, n: usize) {
        let src = dev.stream().alloc_zeros::<f32>(n).unwrap();
        let mut dst = dev.stream().alloc_zeros::<f32>(n).unwrap();
        let mut g = c.benchmark_group("ceiling/cuda");
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function(BenchmarkId::new("copy-d2d", n), |b| {
            b.iter_custom(|iters| {
                timed(dev, iters, || {
                    dev.stream().memcpy_dtod(&src, &mut dst).unwrap()
                })
            })
        });
        g.finish();
    }
}
