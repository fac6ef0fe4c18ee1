//! Every available backend equals the scalar definition bit for bit, for every kernel, over
//! random lengths (0, 1, primes, non-multiples of 8 and 32), unaligned sub-slice starts,
//! values with NaN, ±Inf, subnormals and huge magnitudes, random coefficients, noise keys and
//! offsets, and every storage type for every tensor argument.

#[path = "common/cases.rs"]
mod cases;
mod common;

use cases::{dtype, length, lincomb_case, noise, tensor, value, LincombCase};
use common::{first_difference, same_bits, Buf, DTYPES};
use ito::{Backend, LincombCoefs, Noise, NoiseKey, SegmentStats};
use proptest::prelude::*;

fn other_backends() -> Vec<Backend> {
    ito::available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Scalar && *b != Backend::Cuda)
        .collect()
}

/// Runs the case on `b`; returns (y, y2) buffers.
fn run_lincomb(b: Backend, case: &LincombCase) -> (Buf, Option<Buf>) {
    case.run(|y, y2, inputs, coefs, noise| {
        b.lincomb(y, y2, inputs, coefs, noise).expect("valid case");
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn lincomb_backends_equal_scalar(case in lincomb_case()) {
        let (y_ref, y2_ref) = run_lincomb(Backend::Scalar, &case);
        for b in other_backends() {
            let (y, y2) = run_lincomb(b, &case);
            prop_assert_eq!(first_difference(&y, &y_ref), None, "backend {} y", b);
            if let (Some(a), Some(r)) = (&y2, &y2_ref) {
                prop_assert_eq!(first_difference(a, r), None, "backend {} y2", b);
            }
        }
    }

    #[test]
    fn fill_normal_backends_equal_scalar(
        (y, mean, std, nz) in length().prop_flat_map(tensor).prop_flat_map(|t| (Just(t), -5.0f32..5.0, prop_oneof![Just(0.0f32), 0.0f32..4.0, Just(1e30f32)], noise()))
    ) {
        let n = y.values.len() - y.start;
        let mut reference = y.buf();
        Backend::Scalar.fill_normal(reference.slice_mut(y.start, n), mean, std, nz).unwrap();
        for b in other_backends() {
            let mut out = y.buf();
            b.fill_normal(out.slice_mut(y.start, n), mean, std, nz).unwrap();
            prop_assert_eq!(first_difference(&out, &reference), None, "backend {}", b);
        }
    }

    #[test]
    fn reduce_backends_equal_scalar(
        (segments, seg_len) in (0usize..5, prop_oneof![1usize..40, 200usize..700]),
        xd in dtype(), yd in dtype(), with_y in any::<bool>(), xs in 0usize..9, ys in 0usize..9,
        values in prop::collection::vec(value(), 2 * 5 * 700 + 18),
    ) {
        let n = segments * seg_len;
        let x = Buf::from_f32s(xd, &values[..xs + n]);
        let y = Buf::from_f32s(yd, &values[values.len() - ys - n..]);
        let yref = if with_y { Some(y.slice(ys, n)) } else { None };
        let mut reference = vec![SegmentStats::default(); segments];
        Backend::Scalar.reduce(x.slice(xs, n), yref, seg_len, &mut reference).unwrap();
        for b in other_backends() {
            let mut out = vec![SegmentStats::default(); segments];
            b.reduce(x.slice(xs, n), yref, seg_len, &mut out).unwrap();
            for (o, r) in out.iter().zip(&reference) {
                prop_assert!(same_bits(o.sum_sq, r.sum_sq) && same_bits(o.sum_xy, r.sum_xy) && same_bits(o.max_abs, r.max_abs),
                    "backend {}: {:?} vs scalar {:?}", b, o, r);
            }
        }
    }
}

/// Lengths past one chunk exercise the parallel split, with an unaligned noise offset.
#[test]
fn multi_chunk_calls_equal_scalar() {
    let n = 3 * ito::CHUNK + 13;
    let vals: Vec<f32> = (0..n + 3)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let noise = Noise {
        key: NoiseKey {
            seed: 99,
            stream: 4,
            step: 17,
        },
        offset: 12_345_679,
    };
    for d in DTYPES {
        let mut c = LincombCoefs {
            y: 0.9,
            noise: 0.3,
            y2_y: 0.5,
            ..Default::default()
        };
        c.inputs[0] = 0.25;
        c.noise_inputs[0] = 0.125;
        c.y2_inputs[0] = -1.5;
        let a = Buf::from_f32s(d, &vals);
        let run = |b: Backend| {
            let mut y = Buf::from_f32s(d, &vals);
            let mut y2 = Buf::filled(d, n + 3, 0.0);
            b.lincomb(
                y.slice_mut(3, n),
                Some(y2.slice_mut(1, n)),
                &[a.slice(2, n)],
                &c,
                Some(noise),
            )
            .unwrap();
            (y, y2)
        };
        let (yr, y2r) = run(Backend::Scalar);
        for b in other_backends() {
            let (y, y2) = run(b);
            assert_eq!(first_difference(&y, &yr), None, "{b} {d:?}");
            assert_eq!(first_difference(&y2, &y2r), None, "{b} {d:?}");
        }
        let mut x = vec![SegmentStats::default(); 1];
        let mut xr = x.clone();
        Backend::Scalar
            .reduce(a.slice(1, n), Some(a.slice(0, n)), n, &mut xr)
            .unwrap();
        for b in other_backends() {
            b.reduce(a.slice(1, n), Some(a.slice(0, n)), n, &mut x)
                .unwrap();
            assert_eq!(x, xr, "{b} {d:?}");
        }
    }
}
