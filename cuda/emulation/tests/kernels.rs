//! The CUDA kernels, run on the CPU through the host emulation, equal the scalar definition
//! bit for bit over the cross-backend property-test inputs (random lengths, unaligned starts,
//! NaN/Inf/subnormal values, every storage type, noise keys and offsets), for launch shapes
//! from one 32-thread block to grids larger than the data with 1024-thread blocks, and for a
//! batch split into shards with their global offsets (as two devices would run it). Each
//! storing kernel's non-finite report equals the CPU backend's.

#[path = "../../../tests/common/cases.rs"]
mod cases;
#[path = "../../../tests/common/mod.rs"]
mod common;

use cases::{dtype, length, lincomb_case, noise, tensor, value, LincombCase};
use common::{first_difference, same_bits, Buf};
use ito::runtime::cuda::launch::Shape;
use ito::runtime::Written;
use ito::{Backend, LincombCoefs, Noise, NoiseKey, SegmentStats};
use ito_cuda_emulation as emu;
use proptest::prelude::*;

/// None: the default shape; otherwise (grid, block) with block in 32 … 1024.
fn shape() -> impl Strategy<Value = Option<Shape>> {
    prop_oneof![
        1 => Just(None),
        3 => (
            prop::sample::select(vec![1u32, 2, 3, 7, 64]),
            prop::sample::select(vec![32u32, 64, 96, 128, 256, 512, 1024]),
        )
            .prop_map(|(grid, block)| Some(Shape { grid, block })),
    ]
}

/// The outputs and the non-finite report.
type Outcome = (Buf, Option<Buf>, Written);

fn scalar_lincomb(case: &LincombCase) -> Outcome {
    let mut written = Written::default();
    let (y, y2) = case.run(|y, y2, inputs, coefs, noise| {
        written = Backend::Scalar
            .lincomb(y, y2, inputs, coefs, noise)
            .expect("valid case");
    });
    (y, y2, written)
}

fn emulated_lincomb(case: &LincombCase, s: Option<Shape>) -> Outcome {
    let mut written = Written::default();
    let (y, y2) = case.run(|y, y2, inputs, coefs, noise| {
        written = emu::lincomb(y, y2, inputs, coefs, noise, s).expect("valid case");
    });
    (y, y2, written)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn lincomb_equals_scalar(case in lincomb_case(), s in shape()) {
        let (y_ref, y2_ref, written_ref) = scalar_lincomb(&case);
        let (y, y2, written) = emulated_lincomb(&case, s);
        prop_assert_eq!(first_difference(&y, &y_ref), None, "y, shape {:?}", s);
        if let (Some(a), Some(r)) = (&y2, &y2_ref) {
            prop_assert_eq!(first_difference(a, r), None, "y2, shape {:?}", s);
        }
        prop_assert_eq!(written, written_ref, "non-finite report, shape {:?}", s);
    }

    #[test]
    fn fill_normal_equals_scalar(
        (y, mean, std, nz) in length().prop_flat_map(tensor).prop_flat_map(|t| (Just(t), -5.0f32..5.0, prop_oneof![Just(0.0f32), 0.0f32..4.0, Just(1e30f32)], noise())),
        s in shape(),
    ) {
        let n = y.values.len() - y.start;
        let mut reference = y.buf();
        let written_ref = Backend::Scalar.fill_normal(reference.slice_mut(y.start, n), mean, std, nz).unwrap();
        let mut out = y.buf();
        let written = emu::fill_normal(out.slice_mut(y.start, n), mean, std, nz, s).unwrap();
        prop_assert_eq!(first_difference(&out, &reference), None, "shape {:?}", s);
        prop_assert_eq!(written, written_ref, "non-finite report, shape {:?}", s);
    }
}

proptest! {
    // Each reduce case starts real threads for every emulated block: fewer cases.
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn reduce_equals_scalar(
        (segments, seg_len) in (0usize..5, prop_oneof![1usize..40, 200usize..700, Just(256usize * 9 + 3)]),
        xd in dtype(), yd in dtype(), with_y in any::<bool>(), xs in 0usize..9, ys in 0usize..9,
        values in prop::collection::vec(value(), 2 * 5 * 2307 + 18),
        leaf_grid in prop::sample::select(vec![1u32, 2, 5]),
        leaf_block in prop::sample::select(vec![32u32, 64, 256]),
        combine_grid in prop::sample::select(vec![1u32, 2, 9]),
        combine_block in prop::sample::select(vec![1u32, 2, 32, 256]),
        default_shape in any::<bool>(),
    ) {
        let n = segments * seg_len;
        let x = Buf::from_f32s(xd, &values[..xs + n]);
        let y = Buf::from_f32s(yd, &values[values.len() - ys - n..]);
        let yref = if with_y { Some(y.slice(ys, n)) } else { None };
        let mut reference = vec![SegmentStats::default(); segments];
        Backend::Scalar.reduce(x.slice(xs, n), yref, seg_len, &mut reference).unwrap();
        let shapes = (!default_shape).then_some((
            Shape { grid: leaf_grid, block: leaf_block },
            Shape { grid: combine_grid, block: combine_block },
        ));
        let mut out = vec![SegmentStats::default(); segments];
        emu::reduce(x.slice(xs, n), yref, seg_len, &mut out, shapes).unwrap();
        for (o, r) in out.iter().zip(&reference) {
            prop_assert!(same_bits(o.sum_sq, r.sum_sq) && same_bits(o.sum_xy, r.sum_xy) && same_bits(o.max_abs, r.max_abs),
                "emulated CUDA {:?} vs scalar {:?}, shapes {:?}", o, r, shapes);
        }
    }
}

/// A batch split into shards, each run with its global offset (as on two devices), gives the
/// bits of one call over the whole batch, for every storage type.
#[test]
fn shards_with_global_offsets_equal_one_call() {
    let n = 10_007;
    let vals: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let key = NoiseKey {
        seed: 0x1234_5678_9abc_def0,
        stream: 3,
        step: 41,
    };
    let mut c = LincombCoefs {
        y: 0.9,
        noise: 0.3,
        y2_y: 0.5,
        ..Default::default()
    };
    c.inputs[0] = 0.25;
    c.noise_inputs[0] = 0.125;
    c.y2_inputs[0] = -1.5;
    for d in common::DTYPES {
        let a = Buf::from_f32s(d, &vals);
        let mut y_whole = Buf::from_f32s(d, &vals);
        let mut y2_whole = Buf::filled(d, n, 0.0);
        let base = 1_000_003u64;
        emu::lincomb(
            y_whole.as_mut(),
            Some(y2_whole.as_mut()),
            &[a.as_ref()],
            &c,
            Some(Noise { key, offset: base }),
            None,
        )
        .unwrap();
        let mut y_shards = Buf::from_f32s(d, &vals);
        let mut y2_shards = Buf::filled(d, n, 0.0);
        // Uneven cut points, none a multiple of four.
        let cuts = [0usize, 1, 4_999, 7_333, n];
        for w in cuts.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            emu::lincomb(
                y_shards.slice_mut(lo, hi - lo),
                Some(y2_shards.slice_mut(lo, hi - lo)),
                &[a.slice(lo, hi - lo)],
                &c,
                Some(Noise {
                    key,
                    offset: base + lo as u64,
                }),
                Some(Shape { grid: 2, block: 64 }),
            )
            .unwrap();
        }
        assert_eq!(first_difference(&y_shards, &y_whole), None, "{d:?}");
        assert_eq!(first_difference(&y2_shards, &y2_whole), None, "{d:?}");

        let mut whole = Buf::filled(d, n, 0.0);
        emu::fill_normal(whole.as_mut(), 0.5, 2.0, Noise { key, offset: base }, None).unwrap();
        let mut shards = Buf::filled(d, n, 0.0);
        for w in cuts.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let nz = Noise {
                key,
                offset: base + lo as u64,
            };
            emu::fill_normal(shards.slice_mut(lo, hi - lo), 0.5, 2.0, nz, None).unwrap();
        }
        assert_eq!(first_difference(&shards, &whole), None, "{d:?}");
    }
}

/// Bad arguments are the CPU entry points' typed errors, before anything launches.
#[test]
fn bad_arguments_are_typed_errors() {
    let mut y = [0.0f32; 8];
    let a = [1.0f32; 7];
    let mut c = LincombCoefs::default();
    c.inputs[0] = 1.0;
    let err = emu::lincomb(
        (&mut y[..]).into(),
        None,
        &[(&a[..]).into()],
        &c,
        None,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("inputs"), "{err}");
    let nz = Noise {
        key: NoiseKey {
            seed: 1,
            stream: 0,
            step: 0,
        },
        offset: 0,
    };
    assert!(emu::fill_normal((&mut y[..]).into(), 0.0, -1.0, nz, None).is_err());
    let mut out = vec![SegmentStats::default(); 3];
    assert!(emu::reduce((&a[..]).into(), None, 7, &mut out, None).is_err());
    let odd = Shape { grid: 1, block: 48 };
    let mut one = vec![SegmentStats::default(); 1];
    assert!(emu::reduce((&a[..]).into(), None, 7, &mut one, Some((odd, odd))).is_err());
    let zero = Shape { grid: 0, block: 32 };
    assert!(emu::fill_normal((&mut y[..]).into(), 0.0, 1.0, nz, Some(zero)).is_err());
}
