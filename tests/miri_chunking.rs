//! The chunked, multi-threaded path on the scalar backend, small enough for miri (CI runs this
//! file under it): a call longer than one chunk, split across rayon workers, equals the
//! one-element definition.

use ito::runtime::rng;
use ito::{Backend, LincombCoefs, Noise, NoiseKey, SegmentStats};

#[test]
fn chunked_scalar_calls_equal_the_definition() {
    let n = ito::CHUNK + 37;
    let key = NoiseKey {
        seed: 8,
        stream: 0,
        step: 1,
    };
    let a: Vec<f32> = (0..n).map(|i| (i % 5) as f32).collect();
    let mut y = vec![1.0f32; n];
    let mut c = LincombCoefs {
        y: 0.5,
        noise: 0.25,
        ..Default::default()
    };
    c.inputs[0] = 2.0;
    Backend::Scalar
        .lincomb(
            y.as_mut_slice().into(),
            None,
            &[a.as_slice().into()],
            &c,
            Some(Noise { key, offset: 3 }),
        )
        .unwrap();
    for i in [
        0,
        1,
        2,
        3,
        ito::CHUNK - 1,
        ito::CHUNK,
        ito::CHUNK + 1,
        n - 1,
    ] {
        let z = rng::normal(key, 3 + i as u64);
        let expect = 0.25f32.mul_add(z, 2.0f32.mul_add(a[i], 0.5 * 1.0));
        assert_eq!(y[i].to_bits(), expect.to_bits(), "element {i}");
    }
    let mut out = vec![SegmentStats::default(); 1];
    Backend::Scalar
        .reduce(a.as_slice().into(), None, n, &mut out)
        .unwrap();
    let exact: f64 = a.iter().map(|&v| (v * v) as f64).sum();
    assert_eq!(out[0].sum_sq as f64, exact, "small integers sum exactly");
    assert_eq!(out[0].max_abs, 4.0);
}
