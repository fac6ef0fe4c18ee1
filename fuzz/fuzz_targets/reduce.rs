//! `reduce`, differential and robust: arbitrary segment counts and lengths (zero and
//! non-dividing included: typed errors), starts, storage types and values.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::{same_bits, Buf};
use common::{simd_backends, Bytes};
use ito::{Backend, SegmentStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let seg_len = (b.u32() % 1100) as usize;
    let segments = (b.u8() % 6) as usize;
    let extra = (b.u8() % 4 == 0) as usize; // sometimes not a multiple of seg_len
    let n = segments * seg_len + extra;
    let (xd, yd, with_y) = (b.dtype(), b.dtype(), b.u8() & 1 == 1);
    let (xs, ys) = ((b.u8() % 9) as usize, (b.u8() % 9) as usize);
    let xv: Vec<f32> = (0..xs + n).map(|_| b.value()).collect();
    let yv: Vec<f32> = (0..ys + n).map(|_| b.value()).collect();
    let (x, y) = (Buf::from_f32s(xd, &xv), Buf::from_f32s(yd, &yv));
    let out_len = if seg_len == 0 { 0 } else { n / seg_len };
    let run = |backend: Backend| {
        let mut out = vec![SegmentStats::default(); out_len];
        let r = backend.reduce(
            x.slice(xs, n),
            with_y.then(|| y.slice(ys, n)),
            seg_len,
            &mut out,
        );
        (r.is_ok(), out)
    };
    let (ok, reference) = run(Backend::Scalar);
    for backend in simd_backends() {
        let (ok2, out) = run(backend);
        assert_eq!(ok, ok2);
        for (o, r) in out.iter().zip(&reference) {
            assert!(
                same_bits(o.sum_sq, r.sum_sq)
                    && same_bits(o.sum_xy, r.sum_xy)
                    && same_bits(o.max_abs, r.max_abs),
                "{backend}: {o:?} vs {r:?}"
            );
        }
    }
});
