//! `lincomb`, differential and robust: arbitrary lengths, sub-slice starts, storage types,
//! values, coefficients (NaN/Inf included: those must be typed errors), noise keys and
//! offsets. Every SIMD backend and the CUDA kernel (host-emulated) must equal scalar bit for
//! bit; nothing may panic.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::{first_difference, Buf};
use common::{simd_backends, Bytes};
use ito::{Backend, LincombCoefs, Noise, NoiseKey, MAX_INPUTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let n = (b.u32() % 2000) as usize;
    let k = (b.u8() as usize) % (MAX_INPUTS + 2); // up to one too many
    let mut coefs = LincombCoefs {
        y: b.value(),
        noise: b.value(),
        y2_y: b.value(),
        ..Default::default()
    };
    for j in 0..MAX_INPUTS {
        coefs.inputs[j] = if b.u8() & 1 == 0 { 0.0 } else { b.value() };
        coefs.noise_inputs[j] = if b.u8() & 3 == 0 { b.value() } else { 0.0 };
        coefs.y2_inputs[j] = if b.u8() & 1 == 0 { 0.0 } else { b.value() };
    }
    let noise = (b.u8() & 1 == 1).then(|| Noise {
        key: NoiseKey {
            seed: b.u64(),
            stream: b.u32(),
            step: b.u32(),
        },
        offset: b.u64(),
    });
    let with_y2 = b.u8() & 1 == 1;
    let len_y2 = if b.u8() == 255 { n + 1 } else { n }; // sometimes a length mismatch
    let spec = |b: &mut Bytes, len: usize| {
        let (d, start) = (b.dtype(), (b.u8() % 9) as usize);
        let vals: Vec<f32> = (0..start + len).map(|_| b.value()).collect();
        (d, start, vals)
    };
    let y = spec(&mut b, n);
    let y2 = spec(&mut b, len_y2);
    let ins: Vec<_> = (0..k).map(|_| spec(&mut b, n)).collect();

    // `None`: the CUDA kernel through the host emulation.
    let run = |backend: Option<Backend>| {
        let mut yb = Buf::from_f32s(y.0, &y.2);
        let mut y2b = Buf::from_f32s(y2.0, &y2.2);
        let bufs: Vec<Buf> = ins.iter().map(|(d, _, v)| Buf::from_f32s(*d, v)).collect();
        let inputs: Vec<_> = bufs
            .iter()
            .zip(&ins)
            .map(|(buf, (_, s, _))| buf.slice(*s, n))
            .collect();
        let y2t = with_y2.then(|| y2b.slice_mut(y2.1, len_y2));
        let r = match backend {
            Some(backend) => backend.lincomb(yb.slice_mut(y.1, n), y2t, &inputs, &coefs, noise),
            None => {
                ito_cuda_emulation::lincomb(yb.slice_mut(y.1, n), y2t, &inputs, &coefs, noise, None)
            }
        };
        (r.ok(), yb, y2b)
    };
    let (ok, y_ref, y2_ref) = run(Some(Backend::Scalar));
    let others = simd_backends().into_iter().map(Some).chain([None]);
    for backend in others {
        let (ok_b, y_b, y2_b) = run(backend);
        let backend = backend.map_or("cuda (emulated)".to_string(), |b| b.to_string());
        assert_eq!(
            ok_b, ok,
            "{backend}: validation or non-finite report differs from scalar"
        );
        assert_eq!(
            first_difference(&y_b, &y_ref),
            None,
            "{backend}: y differs from scalar"
        );
        assert_eq!(
            first_difference(&y2_b, &y2_ref),
            None,
            "{backend}: y2 differs from scalar"
        );
    }
});
