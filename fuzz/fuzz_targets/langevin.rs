//! `langevin`, differential and robust: pass 1's norms over arbitrary sample counts and
//! lengths (zero and non-dividing: typed errors), storage types, values and noise offsets
//! give the same bits on every backend; a whole corrector step with arbitrary settings is a
//! typed error or the same bits everywhere.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::Buf;
use common::{simd_backends, Bytes};
use ito::diffusion::langevin::{langevin_step, Corrector, NormMode};
use ito::{Backend, Noise, NoiseKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let sample_len = (b.u32() % 700) as usize;
    let samples = (b.u8() % 5) as usize;
    let extra = (b.u8() % 4 == 0) as usize;
    let n = samples * sample_len + extra;
    let d = b.dtype();
    let values: Vec<f32> = (0..n).map(|_| b.value()).collect();
    let score = Buf::from_f32s(d, &values);
    let noise = Noise {
        key: NoiseKey {
            seed: b.u64(),
            stream: b.u32(),
            step: b.u32(),
        },
        offset: b.u64(),
    };
    let norms = |backend: Backend| {
        let mut out = vec![Default::default(); samples];
        backend
            .langevin_norms(score.as_ref(), sample_len, noise, &mut out)
            .map(|_| out)
    };
    let reference = norms(Backend::Scalar);
    for backend in simd_backends() {
        let r = norms(backend);
        assert_eq!(
            r.is_ok(),
            reference.is_ok(),
            "{backend}: validation differs"
        );
        if let (Ok(a), Ok(c)) = (&reference, &r) {
            for (p, q) in a.iter().zip(c) {
                let same =
                    |x: f32, y: f32| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
                assert!(
                    same(p.score_sq, q.score_sq) && same(p.noise_sq, q.noise_sq),
                    "{backend} differs"
                );
            }
        }
    }
    let c = Corrector {
        snr: b.f64(),
        alpha: b.f64(),
        norms: if b.u8() & 1 == 0 {
            NormMode::PerSample
        } else {
            NormMode::BatchMean
        },
    };
    let x0: Vec<f32> = (0..n).map(|_| b.value()).collect();
    let step = |backend: Backend| {
        let mut x = x0.clone();
        let r = langevin_step(
            backend,
            x.as_mut_slice().into(),
            score.as_ref(),
            sample_len,
            &c,
            noise,
        );
        (r.is_ok(), x)
    };
    let (ok, xr) = step(Backend::Scalar);
    for backend in simd_backends() {
        let (ok_b, x) = step(backend);
        assert_eq!(ok_b, ok, "{backend}: validation differs");
        if ok {
            assert!(
                x.iter()
                    .zip(&xr)
                    .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())),
                "{backend} differs"
            );
        }
    }
});
