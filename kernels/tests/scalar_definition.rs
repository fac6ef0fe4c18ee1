//! The scalar definition of each kernel, element by element, through the public kernel types
//! and their slice handling (split_at, unaligned noise offsets, partial groups). Small sizes:
//! CI also runs this file under miri.

use ito_kernels::fill_normal::FillNormal;
use ito_kernels::lanes::{Lanes, Scalar};
use ito_kernels::lincomb::{Lincomb, LincombCoefs, Noise};
use ito_kernels::noise::NoiseKey;
use ito_kernels::reduce::{Reduce, SegmentStats, LEAF};
use ito_kernels::storage::{bf16_from_f32, TensorMut, TensorRef};
use ito_kernels::{bf16, f16};

const KEY: NoiseKey = NoiseKey {
    seed: 11,
    stream: 2,
    step: 5,
};

fn fma(a: f32, b: f32, c: f32) -> f32 {
    Scalar.fma(a, b, c)
}

#[test]
fn lincomb_scalar_follows_its_definition_across_splits() {
    let n = 45;
    let a0: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
    let a1: Vec<f16> = (0..n)
        .map(|i| f16::from_f32(1.0 / (i as f32 + 1.0)))
        .collect();
    let y_init: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let mut c = LincombCoefs {
        y: 0.75,
        noise: 0.5,
        y2_y: 2.0,
        ..Default::default()
    };
    c.inputs = [1.25, -0.5, 0.0, 0.0, 0.0, 0.0];
    c.noise_inputs = [0.0, 0.125, 0.0, 0.0, 0.0, 0.0];
    c.y2_inputs = [0.0, 3.0, 0.0, 0.0, 0.0, 0.0];
    let offset = 6; // not a multiple of 4: the first block is partial
    let mut y = y_init.clone();
    let mut y2 = vec![bf16::ZERO; n];
    let k = Lincomb::new(
        TensorMut::F32(&mut y),
        Some(TensorMut::Bf16(&mut y2)),
        &[TensorRef::F32(&a0), TensorRef::F16(&a1)],
        &c,
        Some(Noise { key: KEY, offset }),
    )
    .unwrap();
    // Three uneven pieces, run out of order: the splits may not change a bit.
    let (mut left, rest) = k.split_at(13);
    let (mut mid, mut right) = rest.split_at(3);
    right.run(Scalar);
    left.run(Scalar);
    mid.run(Scalar);
    for i in 0..n {
        let b = a1[i].to_f32();
        let z = KEY.normal(offset + i as u64);
        let acc = fma(-0.5, b, fma(1.25, a0[i], 0.75 * y_init[i]));
        let scale = fma(0.125, b, 0.5);
        assert_eq!(y[i].to_bits(), fma(scale, z, acc).to_bits(), "y[{i}]");
        let y2_expect = bf16_from_f32(fma(3.0, b, 2.0 * y_init[i]));
        assert_eq!(y2[i].to_bits(), y2_expect.to_bits(), "y2[{i}]");
    }
}

#[test]
fn fill_normal_scalar_is_one_fma_per_element() {
    let n = 23;
    let mut y = vec![0.0f32; n];
    let mut k = FillNormal::new(
        TensorMut::F32(&mut y),
        1.5,
        0.25,
        Noise {
            key: KEY,
            offset: 1,
        },
    )
    .unwrap();
    k.run(Scalar);
    for (i, v) in y.iter().enumerate() {
        assert_eq!(
            v.to_bits(),
            fma(0.25, KEY.normal(1 + i as u64), 1.5).to_bits()
        );
    }
}

/// Σx² of one leaf as documented: element k into accumulator k mod 16 with one fma, then the
/// halving fold.
fn leaf_sum_sq(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    for (k, &v) in x.iter().enumerate() {
        acc[k % 16] = fma(v, v, acc[k % 16]);
    }
    let mut n = 16;
    while n > 1 {
        n /= 2;
        for k in 0..n {
            acc[k] += acc[k + n];
        }
    }
    acc[0]
}

#[test]
fn reduce_scalar_follows_the_documented_order() {
    let len = LEAF + 37; // two leaves, the second with a partial group
    let x: Vec<f32> = (0..2 * len)
        .map(|i| ((i * 13) % 29) as f32 * 0.37 - 4.0)
        .collect();
    let y: Vec<f32> = (0..2 * len).map(|i| ((i * 5) % 11) as f32 * 0.21).collect();
    let r = Reduce::new(TensorRef::F32(&x), Some(TensorRef::F32(&y)), len).unwrap();
    let mut scratch = [SegmentStats::default(); 4];
    for s in 0..2 {
        let got = r.segment(Scalar, s, &mut scratch);
        let seg = &x[s * len..(s + 1) * len];
        let expect = leaf_sum_sq(&seg[..LEAF]) + leaf_sum_sq(&seg[LEAF..]);
        assert_eq!(got.sum_sq.to_bits(), expect.to_bits(), "segment {s}");
        assert_eq!(got.max_abs, seg.iter().fold(0.0f32, |m, v| m.max(v.abs())));
    }
}

#[test]
fn bad_arguments_are_errors() {
    let mut y = [0.0f32; 4];
    let short = [0.0f32; 3];
    let c = LincombCoefs {
        inputs: [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ..Default::default()
    };
    let e = Lincomb::new(
        TensorMut::F32(&mut y),
        None,
        &[TensorRef::F32(&short)],
        &c,
        None,
    )
    .unwrap_err();
    assert_eq!(e.arg, "inputs");
    assert!(Reduce::new(TensorRef::F32(&short), None, 0).is_err());
    assert!(FillNormal::new(
        TensorMut::F32(&mut y),
        0.0,
        f32::NAN,
        Noise {
            key: KEY,
            offset: 0
        }
    )
    .is_err());
}
