//! Shared bench helpers: buffers of each storage type, and the memory-bandwidth ceiling
//! (copy and triad) measured in the same run as the kernels, so each kernel's bytes/s can be
//! read as a fraction of what this machine's memory delivers.

#![allow(dead_code)]

use criterion::{BenchmarkId, Criterion, Throughput};
use ito::{bf16, f16, Backend, TensorMut, TensorRef};
use rayon::prelude::*;
use std::time::Duration;

/// Problem sizes every kernel is measured at.
pub const SIZES: [usize; 3] = [1 << 16, 1 << 20, 1 << 24];

/// A buffer of one storage type.
pub enum Buf {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Buf {
    pub fn new(dtype: &str, n: usize, fill: f32) -> Buf {
        match dtype {
            "f32" => Buf::F32(vec![fill; n]),
            "f16" => Buf::F16(vec![f16::from_f32(fill); n]),
            _ => Buf::Bf16(vec![bf16::from_f32(fill); n]),
        }
    }
    pub fn as_ref(&self) -> TensorRef<'_> {
        match self {
            Buf::F32(v) => v.as_slice().into(),
            Buf::F16(v) => v.as_slice().into(),
            Buf::Bf16(v) => v.as_slice().into(),
        }
    }
    pub fn as_mut(&mut self) -> TensorMut<'_> {
        match self {
            Buf::F32(v) => v.as_mut_slice().into(),
            Buf::F16(v) => v.as_mut_slice().into(),
            Buf::Bf16(v) => v.as_mut_slice().into(),
        }
    }
}

pub const DTYPES: [(&str, usize); 3] = [("f32", 4), ("f16", 2), ("bf16", 2)];

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
