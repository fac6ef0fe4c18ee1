//! The noise of an element depends only on (seed, stream, step, global index): the same bits
//! for a batch computed whole, in two shards with their global offsets, on 1 or 2 threads,
//! and against the one-element scalar definition.

mod common;

use common::{first_difference, Buf, DTYPES};
use ito::runtime::rng;
use ito::{available_backends, Backend, LincombCoefs, Noise, NoiseKey};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

const N: usize = 2 * ito::CHUNK + 1001;

#[test]
fn fill_normal_whole_sharded_and_threaded_agree() {
    let key = NoiseKey {
        seed: 0xdead_beef_0123_4567,
        stream: 2,
        step: 9,
    };
    let base = 1_000_003u64;
    for b in available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
    {
        for d in DTYPES {
            let mut whole = Buf::filled(d, N, 0.0);
            pool(1).install(|| {
                b.fill_normal(whole.as_mut(), 0.25, 2.0, Noise { key, offset: base })
                    .unwrap()
            });
            let mut two_threads = Buf::filled(d, N, 0.0);
            pool(2).install(|| {
                b.fill_normal(two_threads.as_mut(), 0.25, 2.0, Noise { key, offset: base })
                    .unwrap()
            });
            assert_eq!(
                first_difference(&whole, &two_threads),
                None,
                "{b} {d:?} threads"
            );
            // Two shards, split at an odd point, each with its global offset.
            let split = 7777;
            let mut sharded = Buf::filled(d, N, 0.0);
            {
                let (left, right) = sharded.as_mut().split_at(split);
                b.fill_normal(left, 0.25, 2.0, Noise { key, offset: base })
                    .unwrap();
                b.fill_normal(
                    right,
                    0.25,
                    2.0,
                    Noise {
                        key,
                        offset: base + split as u64,
                    },
                )
                .unwrap();
            }
            assert_eq!(first_difference(&whole, &sharded), None, "{b} {d:?} shards");
            if d == ito::Dtype::F32 {
                let w = whole.to_f32s();
                for i in [0usize, 1, 2, 3, 4, 5, 31, 32, 33, split, N - 1] {
                    let expect = rng::normal(key, base + i as u64).mul_add(2.0, 0.25); // fma(σ, z, μ)
                    assert_eq!(w[i].to_bits(), expect.to_bits(), "{b} element {i}");
                }
            }
        }
    }
}

#[test]
fn lincomb_noise_is_shard_and_thread_invariant() {
    let key = NoiseKey {
        seed: 5,
        stream: 1,
        step: 2,
    };
    let a = Buf::from_f32s(
        ito::Dtype::F32,
        &(0..N).map(|i| (i % 17) as f32 * 0.1).collect::<Vec<_>>(),
    );
    let mut c = LincombCoefs {
        y: 0.5,
        noise: 0.7,
        ..Default::default()
    };
    c.inputs[0] = 2.0;
    c.noise_inputs[0] = 0.01;
    for b in available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
    {
        let run = |threads: usize, split: Option<usize>| {
            let mut y = Buf::filled(ito::Dtype::F32, N, 1.0);
            pool(threads).install(|| match split {
                None => b
                    .lincomb(
                        y.as_mut(),
                        None,
                        &[a.as_ref()],
                        &c,
                        Some(Noise { key, offset: 40 }),
                    )
                    .map(drop)
                    .unwrap(),
                Some(s) => {
                    let (l, r) = y.as_mut().split_at(s);
                    b.lincomb(
                        l,
                        None,
                        &[a.slice(0, s)],
                        &c,
                        Some(Noise { key, offset: 40 }),
                    )
                    .unwrap();
                    b.lincomb(
                        r,
                        None,
                        &[a.slice(s, N - s)],
                        &c,
                        Some(Noise {
                            key,
                            offset: 40 + s as u64,
                        }),
                    )
                    .unwrap();
                }
            });
            y
        };
        let whole = run(1, None);
        assert_eq!(first_difference(&whole, &run(2, None)), None, "{b}");
        assert_eq!(first_difference(&whole, &run(2, Some(12_345))), None, "{b}");
        assert_eq!(first_difference(&whole, &run(1, Some(3))), None, "{b}");
    }
}
