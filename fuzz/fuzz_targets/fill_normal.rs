//! `fill_normal`, differential and robust: arbitrary lengths, starts, storage types, μ, σ
//! (invalid ones must be typed errors), keys and offsets (near u64::MAX included). The SIMD
//! backends and the CUDA kernel (host-emulated) against scalar.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::{first_difference, Buf};
use common::{simd_backends, Bytes};
use ito::{Backend, Noise, NoiseKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let n = (b.u32() % 5000) as usize;
    let (d, start) = (b.dtype(), (b.u8() % 9) as usize);
    let (mean, std) = (b.value(), b.value());
    let noise = Noise {
        key: NoiseKey {
            seed: b.u64(),
            stream: b.u32(),
            step: b.u32(),
        },
        offset: b.u64(),
    };
    // `None`: the CUDA kernel through the host emulation.
    let run = |backend: Option<Backend>| {
        let mut y = Buf::filled(d, start + n, 0.0);
        let ok = match backend {
            Some(backend) => backend.fill_normal(y.slice_mut(start, n), mean, std, noise),
            None => ito_cuda_emulation::fill_normal(y.slice_mut(start, n), mean, std, noise, None),
        }
        .ok();
        (ok, y)
    };
    let (ok, reference) = run(Some(Backend::Scalar));
    let others = simd_backends().into_iter().map(Some).chain([None]);
    for backend in others {
        let (ok_b, y) = run(backend);
        let backend = backend.map_or("cuda (emulated)".to_string(), |b| b.to_string());
        assert_eq!(
            ok_b, ok,
            "{backend}: validation or non-finite report differs from scalar"
        );
        assert_eq!(
            first_difference(&y, &reference),
            None,
            "{backend} differs from scalar"
        );
    }
});
