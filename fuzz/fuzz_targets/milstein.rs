//! `milstein`, differential and robust: arbitrary lengths (mismatched ones: typed errors),
//! starts, storage types per tensor, values, Δt (negative or non-finite: typed errors), keys
//! and offsets. The SIMD backends and the CUDA kernel (host-emulated) against scalar.
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
    let n = (b.u32() % 3000) as usize;
    let short = b.u8() % 16 == 0;
    let dts = [b.dtype(), b.dtype(), b.dtype(), b.dtype()];
    let start = (b.u8() % 9) as usize;
    let dt = b.value();
    let noise = Noise {
        key: NoiseKey {
            seed: b.u64(),
            stream: b.u32(),
            step: b.u32(),
        },
        offset: b.u64(),
    };
    let mk = |b: &mut Bytes, d, len: usize| {
        let v: Vec<f32> = (0..start + len).map(|_| b.value()).collect();
        Buf::from_f32s(d, &v)
    };
    let x0 = mk(&mut b, dts[0], n);
    let f = mk(&mut b, dts[1], n);
    let g = mk(&mut b, dts[2], n);
    let h = mk(&mut b, dts[3], if short { n.saturating_sub(1) } else { n });
    let hn = if short { n.saturating_sub(1) } else { n };
    // `None`: the CUDA kernel through the host emulation.
    let run = |backend: Option<Backend>| {
        let mut x = x0.clone();
        let (xs, fs, gs, hs) = (
            x.slice_mut(start, n),
            f.slice(start, n),
            g.slice(start, n),
            h.slice(start, hn),
        );
        let ok = match backend {
            Some(backend) => backend.milstein(xs, fs, gs, hs, dt, noise),
            None => ito_cuda_emulation::milstein(xs, fs, gs, hs, dt, noise, None),
        }
        .ok();
        (ok, x)
    };
    let (ok, reference) = run(Some(Backend::Scalar));
    let others = simd_backends().into_iter().map(Some).chain([None]);
    for backend in others {
        let (ok_b, x) = run(backend);
        let backend = backend.map_or("cuda (emulated)".to_string(), |b| b.to_string());
        assert_eq!(
            ok_b, ok,
            "{backend}: validation or non-finite report differs from scalar"
        );
        assert_eq!(
            first_difference(&x, &reference),
            None,
            "{backend} differs from scalar"
        );
    }
});
