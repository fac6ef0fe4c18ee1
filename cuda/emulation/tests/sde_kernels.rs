//! The CUDA twins of issue 5's kernels — `brownian_tree`, `milstein`, `ou_bank` — run on the
//! CPU through the host emulation, equal the scalar definition bit for bit over random
//! lengths, unaligned starts, special values, every storage type, noise keys, offsets and
//! launch shapes; their non-finite reports equal the CPU backend's.

#[path = "../../../tests/common/cases.rs"]
mod cases;
#[path = "../../../tests/common/mod.rs"]
mod common;

use cases::{dtype, length, noise, tensor, value};
use common::{first_difference, Buf};
use ito::runtime::cuda::launch::Shape;
use ito::Backend;
use ito_cuda_emulation as emu;
use ito_kernels::brownian_tree::{Term, MAX_TERMS};
use ito_kernels::ou_bank::{OuBankCoefs, MAX_K};
use proptest::prelude::*;

fn shape(max_block: u32) -> impl Strategy<Value = Option<Shape>> {
    let blocks: Vec<u32> = [32u32, 64, 96, 128, 256, 512, 1024]
        .into_iter()
        .filter(|&b| b <= max_block)
        .collect();
    prop_oneof![
        1 => Just(None),
        3 => (prop::sample::select(vec![1u32, 2, 3, 7, 64]), prop::sample::select(blocks))
            .prop_map(|(grid, block)| Some(Shape { grid, block })),
    ]
}

fn coef() -> impl Strategy<Value = f32> {
    prop_oneof![1 => Just(0.0f32), 4 => -3.0f32..3.0, 1 => prop::sample::select(vec![1e30f32, -1e-30, -0.0])]
}

fn terms() -> impl Strategy<Value = Vec<Term>> {
    prop::collection::vec(
        (any::<u32>(), any::<u32>(), coef()).prop_map(|(stream, step, coef)| Term {
            stream,
            step,
            coef,
        }),
        0..=MAX_TERMS,
    )
}

fn ou_coefs() -> impl Strategy<Value = OuBankCoefs> {
    (
        0.0f32..2.0,
        [
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
            0.0f32..1.0,
        ],
        [
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
        ],
        [
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
        ],
        [
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
            coef(),
        ],
    )
        .prop_map(|(sqrt_h, decay, a, b, omega)| OuBankCoefs {
            sqrt_h,
            decay,
            a,
            b,
            omega,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn brownian_tree_equals_scalar(
        y in length().prop_flat_map(tensor),
        seed in any::<u64>(),
        terms in terms(),
        nz in noise(),
        s in shape(1024),
    ) {
        let n = y.values.len() - y.start;
        let mut reference = y.buf();
        let written_ref = Backend::Scalar.brownian_tree(reference.slice_mut(y.start, n), seed, &terms, nz.offset).unwrap();
        let mut out = y.buf();
        let written = emu::brownian_tree(out.slice_mut(y.start, n), seed, &terms, nz.offset, s).unwrap();
        prop_assert_eq!(first_difference(&out, &reference), None, "shape {:?}", s);
        prop_assert_eq!(written, written_ref, "non-finite report, shape {:?}", s);
    }

    #[test]
    fn milstein_equals_scalar(
        (x, f, g, h) in length().prop_flat_map(|n| (tensor(n), tensor(n), tensor(n), tensor(n))),
        dt in prop_oneof![Just(0.0f32), 0.0f32..1.0, Just(1e-30f32)],
        nz in noise(),
        s in shape(1024),
    ) {
        let n = x.values.len() - x.start;
        let (fb, gb, hb) = (f.buf(), g.buf(), h.buf());
        let (fs, gs, hs) = (fb.slice(f.start, n), gb.slice(g.start, n), hb.slice(h.start, n));
        let mut reference = x.buf();
        let written_ref = Backend::Scalar.milstein(reference.slice_mut(x.start, n), fs, gs, hs, dt, nz).unwrap();
        let mut out = x.buf();
        let written = emu::milstein(out.slice_mut(x.start, n), fs, gs, hs, dt, nz, s).unwrap();
        prop_assert_eq!(first_difference(&out, &reference), None, "shape {:?}", s);
        prop_assert_eq!(written, written_ref, "non-finite report, shape {:?}", s);
    }

    #[test]
    fn ou_bank_equals_scalar(
        (k, n) in (1usize..=MAX_K, length()),
        state_dtype in dtype(),
        out_dtype in prop::option::of(dtype()),
        values in prop::collection::vec(value(), MAX_K * 1200 + 10),
        coefs in ou_coefs(),
        nz in noise(),
        s in shape(512),
    ) {
        let nz = ito::Noise { key: ito::NoiseKey { stream: nz.key.stream.min(u32::MAX - 1), ..nz.key }, offset: nz.offset };
        let state = Buf::from_f32s(state_dtype, &values[..k * n]);
        let run = |emulated: bool| {
            let mut st = state.clone();
            let mut out = out_dtype.map(|d| Buf::filled(d, n, 0.0));
            let o = out.as_mut().map(|b| b.as_mut());
            let written = if emulated {
                emu::ou_bank(st.as_mut(), k, o, &coefs, nz.key, nz.offset, s).unwrap()
            } else {
                Backend::Scalar.ou_bank(st.as_mut(), k, o, &coefs, nz.key, nz.offset).unwrap()
            };
            (st, out, written)
        };
        let (st_ref, out_ref, written_ref) = run(false);
        let (st, out, written) = run(true);
        prop_assert_eq!(written, written_ref, "non-finite report, shape {:?}", s);
        prop_assert_eq!(first_difference(&st, &st_ref), None, "state, shape {:?}", s);
        if let (Some(a), Some(r)) = (&out, &out_ref) {
            prop_assert_eq!(first_difference(a, r), None, "out, shape {:?}", s);
        }
    }
}
