//! One noise identity: every consumer of a [`NoiseSource`] draws where `ito::runtime::rng`'s
//! table says, two different uses never draw the same normals whatever streams and offsets a
//! user picks, and each consumer's draws are pinned (rand's value-stability habit), so a
//! refactor cannot silently change a user's sample path.
//!
//! The pins are checked two ways: against the driver's output, and against the raw normal at
//! the address the table documents, written out here by hand ((tag << 58) | element, the step
//! word, the stream word) — the raw normals themselves are pinned by `rng_golden.rs` and the
//! published Philox vectors.

use std::collections::HashMap;

use ito::diffusion::langevin::{
    langevin_step, AnnealedConfig, AnnealedLangevin, Corrector, GibbsConfig, LangevinGibbs,
    NoiseLevels, NormMode, PcConfig, PcSampler, Predictor,
};
use ito::runtime::rng::{normal, MAX_ELEMENTS};
use ito::sde::fbm::MarkovFbm;
use ito::{
    sde, Backend, BrownianTree, Grid, NoiseKey, NoiseSource, NoiseUse, Param, Plan, PlanOptions,
    Sampler, Schedule,
};

const SOURCE: NoiseSource = NoiseSource {
    seed: 0x5eed,
    stream: 3,
    offset: 8,
};

/// The raw normal the table documents for `use_` (tag t), step word `step`, stream word
/// `stream`, element `i` of the source (global index offset + i).
fn documented(tag: u64, stream: u32, step: u32, element: u64) -> f32 {
    let key = NoiseKey {
        seed: SOURCE.seed,
        stream,
        step,
    };
    normal(key, (tag << 58) | element)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn tags_are_the_documented_ones() {
    let tags: Vec<u64> = NoiseUse::ALL.iter().map(|u| u.tag()).collect();
    assert_eq!(tags, (0..9).collect::<Vec<u64>>());
    assert_eq!(MAX_ELEMENTS, 1 << 58);
    let at = SOURCE.address(NoiseUse::Corrector, 9);
    assert_eq!((at.key.seed, at.key.stream, at.key.step), (0x5eed, 3, 9));
    assert_eq!(at.offset, (2 << 58) | 8);
}

/// The layout itself, at the address level: every use, from neighbouring streams, steps,
/// seeds and offsets (shards overlapping the same elements) — the same logical draw (seed,
/// use, stream, step, global element) always gives the same normals, and two different
/// logical draws never share a block of four. (The tests below check that each driver draws
/// at its documented address.)
#[test]
fn no_two_uses_or_streams_coincide() {
    // A logical draw: (seed, use tag, user stream, word variant, step, global element).
    // Variants are the second stream word of the OU bank, and the tree's leaf ids.
    type Logical = (u64, u64, u32, u32, u32, u64);
    let mut seen: HashMap<[u32; 4], Logical> = HashMap::new();
    let mut blocks = 0;
    for seed in [0u64, 1] {
        for &use_ in NoiseUse::ALL {
            for stream in [0u32, 1, 2, 3, u32::MAX >> 1] {
                for step in [0u32, 1, 2, 8] {
                    for offset in [0u64, 4, 8, 1 << 20] {
                        let source = NoiseSource {
                            seed,
                            stream,
                            offset,
                        };
                        // The OU bank's two stream words for user stream s: 2s and 2s + 1.
                        let variants: Vec<(u32, u32)> = if use_ == NoiseUse::OuBank {
                            vec![(0, 2 * stream), (1, 2 * stream + 1)]
                        } else {
                            vec![(0, stream)]
                        };
                        for (variant, word) in variants {
                            let at = source.with_stream(word).address(use_, step);
                            let mut z = vec![0f32; 16];
                            ito::fill_normal(z.as_mut_slice().into(), 0.0, 1.0, at).unwrap();
                            for (b, block) in z.chunks(4).enumerate() {
                                let key: [u32; 4] = bits(block).try_into().unwrap();
                                let id = (
                                    seed,
                                    use_.tag(),
                                    stream,
                                    variant,
                                    step,
                                    offset + 4 * b as u64,
                                );
                                blocks += 1;
                                if let Some(prev) = seen.insert(key, id) {
                                    assert_eq!(prev, id, "two different draws share normals");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Overlapping shards re-draw the same elements: fewer distinct blocks than draws.
    assert!(
        seen.len() < blocks && seen.len() > blocks / 2,
        "{} of {blocks}",
        seen.len()
    );
}

/// A source's offset + length must stay inside one use's region.
#[test]
fn a_range_past_one_use_is_an_error() {
    let near = SOURCE.with_offset(MAX_ELEMENTS - 4);
    assert!(near.check(4).is_ok());
    assert!(near.check(5).is_err());
    assert!(SOURCE.with_offset(u64::MAX).check(0).is_err());
    let mut x = vec![0f32; 8];
    let f = vec![0f32; 8];
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        f.as_slice().into(),
        0.1,
        near,
        0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("noise.offset"), "{e}");
}

/// The noisy example every pin below starts from: a VP grid of 4 steps.
fn vp_plan(solver: &str) -> Plan {
    let schedule = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 4).unwrap();
    Plan::new(
        solver.parse().unwrap(),
        grid,
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap()
}

#[test]
fn sampler_initial_noise_is_pinned() {
    let plan = vp_plan("dpmpp-2m");
    let sigma0 = plan.grid().nodes()[0].sigma as f32;
    let mut s = Sampler::<f32>::new(plan, 8, SOURCE).unwrap();
    s.init_noise().unwrap();
    for (i, &x) in s.state().iter().enumerate() {
        assert_eq!(x, sigma0 * documented(1, 3, 0, 8 + i as u64), "element {i}");
    }
    assert_eq!(
        bits(&s.state()[..4]),
        [0xbd704c80, 0xbfd51b82, 0xbe9d1899, 0x3f8af9b8],
        "{:?}",
        s.state()
    );
}

/// Each stochastic solver's step noise, through one step from x = 0 with a zero model output:
/// the state is then exactly the step's noise coefficient times N(seed, stream, step 0,
/// offset + i) — tag 0, the layout of ito 0.1's samplers, unchanged. From x = 0 with a zero
/// model, all four take the same first-order ancestral step (DDPM's posterior noise is
/// σ_t·√(1 − e^{−2h}) in each), so their pins agree to the bit.
#[test]
fn stochastic_solver_step_noise_is_pinned() {
    let pins: [(&str, [u32; 2]); 4] = [
        ("euler-a", [0xbf51e0ff, 0xbf502c3d]),
        ("ddpm", [0xbf51e0ff, 0xbf502c3d]),
        ("sde-dpmpp-2m", [0xbf51e0ff, 0xbf502c3d]),
        ("sde-dpmpp-1", [0xbf51e0ff, 0xbf502c3d]),
    ];
    for (name, pin) in pins {
        let mut s = Sampler::<f32>::new(vp_plan(name), 8, SOURCE).unwrap();
        let zero = vec![0f32; 8];
        s.next_eval().unwrap();
        s.advance(zero.as_slice().into()).unwrap();
        let x = s.state().to_vec();
        let scale = x[0] / documented(0, 3, 0, 8);
        for (i, &v) in x.iter().enumerate() {
            let z = documented(0, 3, 0, 8 + i as u64);
            assert!(
                (v - scale * z).abs() <= 1e-6 * v.abs(),
                "{name} element {i}"
            );
        }
        assert_eq!(bits(&x[..2]), pin, "{name}: {x:?}");
    }
}

#[test]
fn sde_increments_are_pinned() {
    let n = 8;
    let (mut x, zero, one) = (vec![0f32; n], vec![0f32; n], vec![1f32; n]);
    sde::euler_maruyama(
        x.as_mut_slice().into(),
        zero.as_slice().into(),
        one.as_slice().into(),
        1.0,
        SOURCE,
        5,
    )
    .unwrap();
    for (i, &v) in x.iter().enumerate() {
        assert_eq!(v, documented(7, 3, 5, 8 + i as u64), "element {i}");
    }
    assert_eq!(bits(&x[..2]), [0x3fd956c9, 0x3fada7cf], "{x:?}");
    // Scalar noise: one normal per sample of 4, at element offset/4 + b under tag 8.
    let mut x = vec![0f32; n];
    sde::euler_maruyama_scalar_noise(
        x.as_mut_slice().into(),
        zero.as_slice().into(),
        one.as_slice().into(),
        1.0,
        SOURCE,
        5,
        4,
    )
    .unwrap();
    for (b, sample) in x.chunks(4).enumerate() {
        let z = documented(8, 3, 5, 2 + b as u64);
        assert!(sample.iter().all(|&v| v == z), "sample {b}");
    }
    assert_eq!(bits(&[x[0], x[4]]), [0xbf9f8db3, 0x3fa320b0], "{x:?}");
}

#[test]
fn tree_nodes_and_bridges_are_pinned() {
    let tree = BrownianTree::new(SOURCE, 0.0, 4.0)
        .unwrap()
        .with_depth(2)
        .unwrap();
    let mut y = vec![0f32; 4];
    // W(4) − W(0) = √4·Z(node 0).
    tree.increment(0.0, 4.0, y.as_mut_slice().into()).unwrap();
    for (i, &v) in y.iter().enumerate() {
        assert_eq!(
            v,
            2.0 * documented(5, 3, 0, 8 + i as u64),
            "node 0, element {i}"
        );
    }
    // W(0.5): r = 1/8 lies in leaf [0, 1/4] (node 4 after nodes 1, 2): bridge nodes 0, 1, 2 and
    // the in-leaf normal of child id 4 ≥ 2^depth, all in the source's stream word.
    tree.value(0.5, y.as_mut_slice().into()).unwrap();
    let terms = tree.terms(0.0, 0.5).unwrap();
    let ids: Vec<(u32, u32)> = terms.iter().map(|t| (t.stream, t.step)).collect();
    assert_eq!(ids, [(3, 0), (3, 1), (3, 2), (3, 4)]);
    for (i, &v) in y.iter().enumerate() {
        let expect = terms.iter().fold(0f32, |acc, t| {
            t.coef.mul_add(documented(5, 3, t.step, 8 + i as u64), acc)
        });
        assert_eq!(v, expect, "W(0.5), element {i}");
    }
    assert_eq!(bits(&y[..2]), [0xbec01717, 0xbcfbbae0], "{y:?}");
}

#[test]
fn ou_bank_draws_are_pinned() {
    let m = MarkovFbm::new(0.3, 2, 10.0, 1.0).unwrap();
    let tr = m.transition(0.25).unwrap();
    let n = 4;
    let mut state = vec![0f32; 2 * n];
    let mut out = vec![0f32; n];
    tr.step(
        state.as_mut_slice().into(),
        Some(out.as_mut_slice().into()),
        SOURCE,
        6,
    )
    .unwrap();
    // From a zero state, plane k ← a_k·√h·z₁ + b_k·z₂ with z₁ on stream word 2s, z₂ on 2s + 1.
    let c = tr.coefs();
    for i in 0..n {
        let z1 = documented(6, 6, 6, 8 + i as u64);
        let z2 = documented(6, 7, 6, 8 + i as u64);
        for k in 0..2 {
            let expect = c.b[k] * z2 + c.a[k] * (c.sqrt_h * z1);
            let got = state[k * n + i];
            assert!(
                (got - expect).abs() <= 1e-6 * expect.abs().max(1.0),
                "plane {k}, element {i}: {got} vs {expect}"
            );
        }
    }
    assert_eq!(bits(&state[..2]), [0x3f125fc2, 0x3dd4c761], "{state:?}");
    // Stream words 2s and 2s + 1 need s < 2^31.
    let e = tr
        .step(
            state.as_mut_slice().into(),
            None,
            SOURCE.with_stream(1 << 31),
            0,
        )
        .unwrap_err();
    assert!(e.to_string().contains("noise.stream"), "{e}");
}

#[test]
fn langevin_draws_are_pinned() {
    // A corrector step from x = 0 with a unit score: x = ε + √(2ε)·z, z under tag 2.
    let mut x = vec![0f32; 8];
    let score = vec![1f32; 8];
    let c = Corrector {
        snr: 0.5,
        alpha: 1.0,
        norms: NormMode::PerSample,
    };
    let at = SOURCE.address(NoiseUse::Corrector, 4);
    let eps = langevin_step(
        Backend::Scalar,
        x.as_mut_slice().into(),
        score.as_slice().into(),
        8,
        &c,
        at,
    )
    .unwrap();
    for (i, &v) in x.iter().enumerate() {
        let z = documented(2, 3, 4, 8 + i as u64);
        let expect = (2.0 * eps[0]).sqrt() as f32 * z + eps[0] as f32;
        assert!((v - expect).abs() <= 1e-6, "element {i}: {v} vs {expect}");
    }
    assert_eq!(bits(&x[..2]), [0x3f34a8b1, 0x3ea1bf7f], "{x:?}");

    // The PC sampler's prior (tag 1), then its first corrector step (tag 2, step 0·J + 0) and
    // predictor (tag 3, step 0).
    let pc = PcSampler::new(PcConfig {
        schedule: Schedule::vp_linear(0.1, 20.0).unwrap(),
        steps: 32,
        t_end: 1e-3,
        predictor: Predictor::ReverseDiffusion,
        corrector: Some(c),
        corrector_steps: 2,
        len: 8,
        sample_len: 8,
        noise: SOURCE,
    })
    .unwrap();
    for (i, &v) in pc.state().iter().enumerate() {
        assert_eq!(
            v,
            documented(1, 3, 0, 8 + i as u64),
            "PC prior, element {i}"
        );
    }

    // Annealed Langevin's start is N(0, σ₁²) under tag 1.
    let al = AnnealedLangevin::new(AnnealedConfig {
        levels: NoiseLevels::Given(vec![2.0, 1.0]),
        steps_per_level: 3,
        epsilon: 1e-3,
        denoise: false,
        len: 8,
        noise: SOURCE,
    })
    .unwrap();
    for (i, &v) in al.state().iter().enumerate() {
        assert_eq!(
            v,
            2.0 * documented(1, 3, 0, 8 + i as u64),
            "annealed start, element {i}"
        );
    }

    // Langevin–Gibbs' level step: t ← t + √η_t·ξ_b (zero score), ξ_b under tag 4 at element
    // offset/sample_len + b.
    let mut chain = LangevinGibbs::new(GibbsConfig {
        x: vec![0f32; 8],
        sample_len: 4,
        t: vec![0.5, 0.5],
        t_range: (0.0, 1.0),
        step_x: 0.0,
        step_t: 1e-4,
        noise: SOURCE,
    })
    .unwrap();
    chain.step_t(&[0.0, 0.0]).unwrap();
    for b in 0..2 {
        let xi = f64::from(documented(4, 3, 0, 2 + b as u64));
        assert_eq!(chain.levels()[b], 0.5 + 1e-2 * xi, "sample {b}");
    }
    let level_bits: Vec<u64> = chain.levels().iter().map(|t| t.to_bits()).collect();
    assert_eq!(
        level_bits,
        [0x3fdfc4c1cb851eb8, 0x3fe04b46547ae148],
        "{:?}",
        chain.levels()
    );
}
