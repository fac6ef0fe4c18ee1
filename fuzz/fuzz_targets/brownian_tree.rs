//! `brownian_tree`, differential and robust: arbitrary term lists (too many included: typed
//! error), coefficients (non-finite: typed error), lengths, starts, storage types and offsets;
//! and tree queries with arbitrary (t0, t1, depth, s, t): typed errors or the same bits on
//! every backend.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::{first_difference, Buf};
use common::{simd_backends, Bytes};
use ito::sde::brownian::Term;
use ito::{Backend, BrownianTree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let n = (b.u32() % 3000) as usize;
    let (d, start) = (b.dtype(), (b.u8() % 9) as usize);
    let seed = b.u64();
    let offset = b.u64();
    let terms: Vec<Term> = (0..(b.u8() % 72))
        .map(|_| Term {
            stream: b.u32() % 4,
            step: b.u32(),
            coef: b.value(),
        })
        .collect();
    let run = |backend: Backend| {
        let mut y = Buf::filled(d, start + n, 0.0);
        let ok = backend
            .brownian_tree(y.slice_mut(start, n), seed, &terms, offset)
            .is_ok();
        (ok, y)
    };
    let (ok, reference) = run(Backend::Scalar);
    for backend in simd_backends() {
        let (ok_b, y) = run(backend);
        assert_eq!(ok_b, ok, "{backend}: validation differs from scalar");
        assert_eq!(
            first_difference(&y, &reference),
            None,
            "{backend} differs from scalar"
        );
    }
    // Tree queries: never a panic.
    if let Ok(tree) = BrownianTree::new(
        ito::NoiseSource::new(seed).with_stream(b.u32()),
        b.f64(),
        b.f64(),
    )
    .and_then(|t| t.with_depth(b.u32() % 40))
    {
        let (s, t) = (b.f64(), b.f64());
        let mut y = vec![0.0f32; n.min(64)];
        let reference =
            tree.with_offset(offset)
                .increment_on(Backend::Scalar, s, t, y.as_mut_slice().into());
        for backend in simd_backends() {
            let mut z = vec![0.0f32; y.len()];
            let r = tree
                .with_offset(offset)
                .increment_on(backend, s, t, z.as_mut_slice().into());
            assert_eq!(r.is_ok(), reference.is_ok());
            assert!(y
                .iter()
                .zip(&z)
                .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())));
        }
    }
});
