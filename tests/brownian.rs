//! The virtual Brownian tree: the `brownian_tree` kernel equals its definition and is
//! bit-identical on every backend (proptest over terms, lengths, offsets, storage types);
//! the tree's paths have the laws of Brownian motion (increment variances, bridge
//! conditional moments, independence, exact marginals off the dyadic points), are additive
//! over partitions, and give the same bits for the same query; the sweep equals direct
//! queries; bad arguments are typed errors.

mod common;

use common::{first_difference, Buf, DTYPES};
use ito::sde::brownian::Term;
use ito::{Backend, BrownianSweep, BrownianTree, Error, NoiseKey};
use proptest::prelude::*;

fn term() -> impl Strategy<Value = Term> {
    (
        0u32..4,
        any::<u32>(),
        prop_oneof![4 => -3.0f32..3.0, 1 => Just(0.0f32)],
    )
        .prop_map(|(stream, step, coef)| Term { stream, step, coef })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn kernel_is_its_definition_on_every_backend(
        terms in prop::collection::vec(term(), 0..10),
        len in prop_oneof![0usize..70, Just(1021usize), 2000usize..2100],
        offset in prop_oneof![0u64..1000, (u64::MAX - 5000)..(u64::MAX - 3000)],
        seed in any::<u64>(),
        dtype_i in 0usize..3,
    ) {
        let dtype = DTYPES[dtype_i];
        // The definition: from +0, one f32 fma per non-zero term, in order; one rounding.
        let expected: Vec<f32> = (0..len as u64)
            .map(|i| {
                terms.iter().filter(|t| t.coef != 0.0).fold(0.0f32, |acc, t| {
                    let key = NoiseKey { seed, stream: t.stream, step: t.step };
                    t.coef.mul_add(key.normal(offset + i), acc)
                })
            })
            .collect();
        let expected = Buf::from_f32s(dtype, &expected);
        for b in ito::available_backends().into_iter().filter(|b| *b != Backend::Cuda) {
            let mut y = Buf::filled(dtype, len, 7.0);
            b.brownian_tree(y.as_mut(), seed, &terms, offset).unwrap();
            prop_assert_eq!(first_difference(&y, &expected), None, "{} {:?}", b, dtype);
        }
    }
}

const N: usize = 1 << 16;

fn query(tree: &BrownianTree, s: f64, t: f64) -> Vec<f64> {
    let mut y = vec![0.0f32; N];
    tree.increment(s, t, y.as_mut_slice().into()).unwrap();
    y.into_iter().map(f64::from).collect()
}

fn variance(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
}

fn covariance(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / x.len() as f64
}

/// 5 standard errors of a sample variance (relative) from N draws.
fn tol() -> f64 {
    5.0 * (2.0 / N as f64).sqrt()
}

#[test]
fn increments_have_variance_dt_and_marginals_are_exact_off_the_dyadic_points() {
    let tree = BrownianTree::new(ito::NoiseSource::new(11).with_stream(40), 0.0, 2.0)
        .and_then(|t| t.with_depth(12))
        .unwrap();
    for (s, t) in [
        (0.0, 2.0),
        (0.0, 0.3),
        (0.3, 0.31),
        (1.0, 1.5),
        (0.0, 0.123456),    // the marginal at a non-dyadic time
        (0.123456, 0.1257), // a few leaves wide (a leaf is 2/4096 here)
        (0.7, 1.9),
    ] {
        let v = variance(&query(&tree, s, t)) / (t - s);
        assert!((v - 1.0).abs() < tol(), "W({s}, {t}): variance/Δt = {v}");
    }
}

#[test]
fn bridge_conditional_moments() {
    // For a dyadic interval [a, b] with midpoint m: W(a, m) − W(a, b)/2 has variance (b − a)/4
    // and is uncorrelated with W(a, b).
    let tree = BrownianTree::new(ito::NoiseSource::new(12).with_stream(40), 0.0, 1.0)
        .and_then(|t| t.with_depth(10))
        .unwrap();
    for (a, b) in [(0.0, 1.0), (0.25, 0.5), (0.625, 0.75)] {
        let m = 0.5 * (a + b);
        let whole = query(&tree, a, b);
        let half = query(&tree, a, m);
        let dev: Vec<f64> = half.iter().zip(&whole).map(|(h, w)| h - 0.5 * w).collect();
        let v = variance(&dev) / ((b - a) / 4.0);
        assert!((v - 1.0).abs() < tol(), "[{a}, {b}]: {v}");
        let c = covariance(&dev, &whole) / ((b - a) * ((b - a) / 4.0)).sqrt();
        assert!(
            c.abs() < 5.0 / (N as f64).sqrt(),
            "[{a}, {b}]: correlation {c}"
        );
    }
}

#[test]
fn disjoint_increments_are_uncorrelated() {
    let tree = BrownianTree::new(ito::NoiseSource::new(13).with_stream(40), 0.0, 1.0)
        .and_then(|t| t.with_depth(16))
        .unwrap();
    let pairs = [
        ((0.1, 0.2), (0.2, 0.35)),
        ((0.0, 0.5), (0.5, 1.0)),
        ((0.31, 0.32), (0.9, 0.95)),
    ];
    for ((a, b), (c, d)) in pairs {
        let (x, y) = (query(&tree, a, b), query(&tree, c, d));
        let r = covariance(&x, &y) / ((b - a) * (d - c)).sqrt();
        assert!(
            r.abs() < 5.0 / (N as f64).sqrt(),
            "({a},{b}) ({c},{d}): {r}"
        );
    }
}

#[test]
fn increments_add_up_over_a_partition_and_queries_repeat_to_the_bit() {
    let tree = BrownianTree::new(ito::NoiseSource::new(14).with_stream(40), -1.0, 3.0)
        .and_then(|t| t.with_depth(20))
        .unwrap();
    let times = [-1.0, -0.77, 0.0, 0.0001, 1.234567, 2.5, 3.0];
    let whole = query(&tree, -1.0, 3.0);
    let mut sum = vec![0.0f64; N];
    for w in times.windows(2) {
        for (s, v) in sum.iter_mut().zip(query(&tree, w[0], w[1])) {
            *s += v;
        }
    }
    let err = sum
        .iter()
        .zip(&whole)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    // Each query rounds once to f32 (|W| ≲ 10 here): a few 2^-24·10 per term.
    assert!(err < 1e-5, "partition sum off by {err}");
    let again = query(&tree, 0.0001, 1.234567);
    assert_eq!(again, query(&tree, 0.0001, 1.234567));
    // Dyadic points: the midpoint of a dyadic interval splits it exactly in law and value.
    let (a, b, c) = (
        query(&tree, -1.0, 1.0),
        query(&tree, 1.0, 3.0),
        whole.clone(),
    );
    let err = a
        .iter()
        .zip(&b)
        .zip(&c)
        .map(|((x, y), z)| (x + y - z).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-5);
}

#[test]
fn a_sweep_equals_direct_queries_and_every_backend_agrees() {
    let tree = BrownianTree::new(ito::NoiseSource::new(15).with_stream(40), 0.0, 1.0)
        .and_then(|t| t.with_depth(20))
        .unwrap();
    let times: Vec<f64> = (0..=20).map(|k| (k as f64 / 20.0).powi(2)).collect();
    let mut sweep = BrownianSweep::new(tree, &times, N).unwrap();
    let mut dw = vec![0.0f32; N];
    let mut k = 0;
    while sweep.next_increment(dw.as_mut_slice().into()).unwrap() {
        let direct = query(&tree, times[k], times[k + 1]);
        let err = dw
            .iter()
            .zip(&direct)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 2e-6, "step {k}: sweep differs by {err}");
        k += 1;
    }
    assert_eq!(k, 20);
    let mut results = Vec::new();
    for b in ito::available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
    {
        let mut y = vec![0.0f32; 5000];
        tree.with_offset(77)
            .increment_on(b, 0.2, 0.7, y.as_mut_slice().into())
            .unwrap();
        results.push(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn bad_arguments_are_typed_errors() {
    let arg = |e: Error| match e {
        Error::Config { arg, .. } => arg,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        arg(
            BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 1.0, 1.0)
                .and_then(|t| t.with_depth(10))
                .unwrap_err()
        ),
        "t1"
    );
    assert_eq!(
        arg(
            BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 0.0, f64::NAN)
                .and_then(|t| t.with_depth(10))
                .unwrap_err()
        ),
        "t1"
    );
    assert_eq!(
        arg(
            BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 0.0, 1.0)
                .and_then(|t| t.with_depth(0))
                .unwrap_err()
        ),
        "depth"
    );
    assert_eq!(
        arg(
            BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 0.0, 1.0)
                .and_then(|t| t.with_depth(32))
                .unwrap_err()
        ),
        "depth"
    );
    // Every stream is the user's (in-leaf normals no longer take stream + 1).
    assert!(
        BrownianTree::new(ito::NoiseSource::new(0).with_stream(u32::MAX), 0.0, 1.0)
            .and_then(|t| t.with_depth(8))
            .is_ok()
    );
    // A span that overflows f64 (t1 − t0 = ∞) is refused, not a tree that returns zeros.
    assert_eq!(
        arg(BrownianTree::new(ito::NoiseSource::new(1), -1e308, 1e308).unwrap_err()),
        "t1"
    );
    assert_eq!(
        arg(
            BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 0.0, 1.0)
                .and_then(|t| t.with_tolerance(0.0))
                .unwrap_err()
        ),
        "tol"
    );
    let tree = BrownianTree::new(ito::NoiseSource::new(0).with_stream(0), 0.0, 1.0)
        .and_then(|t| t.with_depth(8))
        .unwrap();
    assert_eq!(arg(tree.terms(0.5, 0.2).unwrap_err()), "s");
    assert_eq!(arg(tree.terms(-0.1, 0.2).unwrap_err()), "s");
    assert_eq!(arg(tree.terms(0.1, 1.2).unwrap_err()), "t");
    assert_eq!(
        arg(BrownianSweep::new(tree, &[0.5, 0.5], 4).unwrap_err()),
        "times"
    );
    let too_many = vec![
        Term {
            stream: 0,
            step: 1,
            coef: 1.0
        };
        67
    ];
    let mut y = vec![0.0f32; 4];
    assert!(matches!(
        Backend::Scalar.brownian_tree(y.as_mut_slice().into(), 0, &too_many, 0),
        Err(Error::Argument(_))
    ));
    let nan = [Term {
        stream: 0,
        step: 1,
        coef: f32::NAN,
    }];
    assert!(matches!(
        Backend::Scalar.brownian_tree(y.as_mut_slice().into(), 0, &nan, 0),
        Err(Error::Argument(_))
    ));
    assert_eq!(tree.depth(), 8);
    assert!((tree.leaf_width() - 1.0 / 256.0).abs() < 1e-15);
}
