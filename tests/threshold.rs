//! Dynamic thresholding's selection-based definition (`ito::runtime::threshold`, which the
//! CUDA kernel twins) equals the sort-based one (torch.quantile's definition: sort |x|,
//! interpolate linearly between the order statistics at rank q·(L − 1)) bit for bit, over
//! random samples with ties, signed zeros, subnormals, infinities and NaN, in every storage
//! type. The diffusers thresholding fixtures (tests/diffusers_fixtures.rs) pin it to torch.

mod common;

use common::Buf;
use ito::runtime::threshold::threshold;
use ito::{bf16, f16, Dtype, Storage};
use proptest::prelude::*;

/// torch.quantile's thresholding, by sorting, in f64 (written here independently).
fn by_sorting<S: Storage>(x: &mut [S], sample_len: usize, ratio: f64, max_value: f64) {
    for seg in x.chunks_mut(sample_len) {
        let mut a: Vec<f64> = seg.iter().map(|v| v.to_f64().abs()).collect();
        if a.iter().any(|v| v.is_nan()) {
            seg.fill(S::from_f64(f64::NAN));
            continue;
        }
        a.sort_by(f64::total_cmp);
        let rank = ratio * (a.len() - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        let w = rank - lo as f64;
        let q = if w < 0.5 {
            a[lo] + w * (a[hi] - a[lo])
        } else {
            a[hi] - (a[hi] - a[lo]) * (1.0 - w)
        };
        if q.is_nan() {
            seg.fill(S::from_f64(f64::NAN));
            continue;
        }
        let s = q.clamp(1.0, max_value);
        for v in seg.iter_mut() {
            *v = S::from_f64(v.to_f64().clamp(-s, s) / s);
        }
    }
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        2 => prop::sample::select(vec![0.0f32, -0.0, 1.0, -1.0, 2.5, 2.5, 1e-40, -1e-45, 7e4]),
        1 => prop::sample::select(vec![f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
        1 => any::<f32>(),
    ]
}

fn check<S: Storage + PartialEq + std::fmt::Debug>(
    values: &[f32],
    from: fn(f32) -> S,
    sample_len: usize,
    ratio: f64,
    max_value: f64,
) -> Result<(), TestCaseError> {
    let mut got: Vec<S> = values.iter().map(|&v| from(v)).collect();
    let mut want = got.clone();
    threshold(&mut got, sample_len, ratio, max_value).unwrap();
    by_sorting(&mut want, sample_len, ratio, max_value);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        prop_assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "element {i}: {g} vs {w}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn selection_equals_sorting(
        (sample_len, samples) in (1usize..300, 1usize..4),
        values in prop::collection::vec(value(), 1200),
        ratio in prop_oneof![Just(0.0f64), Just(1.0), Just(0.995), 0.0f64..=1.0],
        max_value in prop_oneof![Just(1.0f64), 1.0f64..10.0],
    ) {
        let v = &values[..sample_len * samples];
        check(v, |x| x, sample_len, ratio, max_value)?;
        check(v, f16::from_f32, sample_len, ratio, max_value)?;
        check(v, bf16::from_f32, sample_len, ratio, max_value)?;
    }
}

#[test]
fn large_calls_split_across_threads_give_the_same_bits() {
    // 3 × 2^14 elements: over one CPU chunk, so samples run on rayon's pool.
    let sample_len = 1 << 12;
    let n = 12 * sample_len;
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2003) as f32 / 300.0 - 3.3)
        .collect();
    let mut got = Buf::from_f32s(Dtype::F32, &values);
    let Buf::F32(g) = &mut got else {
        unreachable!()
    };
    threshold(g, sample_len, 0.9, 2.0).unwrap();
    let mut want = values.clone();
    by_sorting(&mut want, sample_len, 0.9, 2.0);
    assert_eq!(
        g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn bad_arguments_are_typed_errors() {
    let mut x = vec![0.0f32; 10];
    let arg = |r: Result<(), ito::Error>| match r {
        Err(ito::Error::Config { arg, .. }) => arg,
        other => panic!("expected a config error, got {other:?}"),
    };
    assert_eq!(arg(threshold(&mut x, 0, 0.9, 1.0)), "sample_len");
    assert_eq!(arg(threshold(&mut x, 3, 0.9, 1.0)), "sample_len");
    assert_eq!(arg(threshold(&mut x, 5, 1.5, 1.0)), "ratio");
    assert_eq!(arg(threshold(&mut x, 5, f64::NAN, 1.0)), "ratio");
    assert_eq!(arg(threshold(&mut x, 5, 0.9, 0.5)), "max_value");
    assert_eq!(arg(threshold(&mut x, 5, 0.9, f64::INFINITY)), "max_value");
}
