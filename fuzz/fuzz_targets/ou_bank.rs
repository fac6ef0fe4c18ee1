//! `ou_bank`, differential and robust: arbitrary K (0 and > 8: typed errors), state lengths
//! (not K equal planes: typed error), constants (non-finite: typed errors), storage types,
//! values, keys and offsets; and the host weights for arbitrary (H, K, γ_max, T, ridge):
//! typed errors or finite constants, never a panic.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::{first_difference, Buf};
use common::{simd_backends, Bytes};
use ito::sde::fbm::{MarkovFbm, OuBankCoefs};
use ito::{Backend, NoiseKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let k = (b.u8() % 10) as usize;
    let n = (b.u32() % 1500) as usize;
    let extra = (b.u8() % 8 == 0) as usize;
    let d = b.dtype();
    let mut c = OuBankCoefs {
        sqrt_h: b.value(),
        ..Default::default()
    };
    for j in 0..8 {
        c.decay[j] = b.value();
        c.a[j] = b.value();
        c.b[j] = b.value();
        c.omega[j] = b.value();
    }
    let key = NoiseKey {
        seed: b.u64(),
        stream: b.u32(),
        step: b.u32(),
    };
    let offset = b.u64();
    let init: Vec<f32> = (0..k * n + extra).map(|_| b.value()).collect();
    let state0 = Buf::from_f32s(d, &init);
    let run = |backend: Backend| {
        let mut st = state0.clone();
        let mut out = Buf::filled(ito::Dtype::F32, n, 0.0);
        let ok = backend
            .ou_bank(st.as_mut(), k, Some(out.as_mut()), &c, key, offset)
            .is_ok();
        (ok, st, out)
    };
    let (ok, st_r, out_r) = run(Backend::Scalar);
    for backend in simd_backends() {
        let (ok_b, st, out) = run(backend);
        assert_eq!(ok_b, ok, "{backend}: validation differs from scalar");
        assert_eq!(
            first_difference(&st, &st_r),
            None,
            "{backend}: state differs"
        );
        assert_eq!(
            first_difference(&out, &out_r),
            None,
            "{backend}: output differs"
        );
    }
    if let Ok(m) = MarkovFbm::with_ridge(
        b.f64(),
        (b.u8() % 10) as usize,
        b.f64(),
        b.f64(),
        b.f64().abs(),
    ) {
        if let Ok(t) = m.transition(b.f64()) {
            let _ = t.coefs();
        }
    }
});
