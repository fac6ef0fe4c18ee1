//! No panic, hang or abort at any size or value: every public constructor and call, driven with
//! extreme sizes (0, 1, 2⁴⁰, 2⁶², usize::MAX) and values (±0, ±f64::MAX, ±∞, NaN, subnormals,
//! ±1e308), returns `Ok` or a typed error — never a "capacity overflow" panic, an arithmetic
//! overflow, an allocation failure that aborts the process, or a loop that runs until memory
//! runs out. (Sizes that could be allocated on a large machine, such as 2³² − 1 steps, are left
//! out: they are legitimate work, not bad input.)

use ito::diffusion::grid::{discrete_timesteps, karras_sigmas};
use ito::diffusion::langevin::{
    AnnealedConfig, AnnealedLangevin, Corrector, GibbsConfig, LangevinGibbs, NoiseLevels, NormMode,
    PcConfig, PcSampler, Predictor,
};
use ito::diffusion::schedule::{linspace, DiscreteVp};
use ito::sde::fbm::MarkovFbm;
use ito::{
    BrownianSweep, BrownianTree, Error, Grid, NoiseSource, NoiseUse, Param, Plan, PlanOptions,
    Sampler, Schedule, Spacing,
};
use proptest::prelude::*;

// 2⁵⁷ elements fit one noise use but no address space (so no allocator says yes, whatever
// the host's overcommit setting); 2⁶² do not fit a noise use.
const SIZES: [usize; 7] = [0, 1, 3, 8, 1 << 57, 1 << 62, usize::MAX];
const VALUES: [f64; 14] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    f64::MAX,
    -f64::MAX,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    5e-324,
    1e308,
    -1e308,
    1e-3,
];
const OFFSETS: [u64; 5] = [0, 8, 1 << 40, (1 << 58) - 1, u64::MAX];

fn size() -> impl Strategy<Value = usize> {
    prop::sample::select(&SIZES[..])
}
fn value() -> impl Strategy<Value = f64> {
    prop::sample::select(&VALUES[..])
}
fn offset() -> impl Strategy<Value = u64> {
    prop::sample::select(&OFFSETS[..])
}

/// A result is fine either way; an `Err` must render a message naming something.
fn settled<T>(r: Result<T, Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn grids_and_schedules(a in value(), b in value(), c in value(), steps in size()) {
        let schedules: Vec<Schedule> = [
            Schedule::vp_linear(a, b),
            Schedule::vp_cosine(a),
            Schedule::ve(a, b),
            Schedule::edm(a, b),
            Schedule::mean_reverting(a, b, c),
            Schedule::vp_linear(0.1, 20.0),
        ]
        .into_iter()
        .filter_map(settled)
        .collect();
        for s in &schedules {
            settled(Grid::uniform_t(s, a, b, steps));
            settled(Grid::uniform_lambda(s, a, b, steps));
            settled(Grid::quadratic(s, a, b, steps));
            settled(Grid::karras(s, a, b, c, steps));
            settled(Grid::uniform_t(s, 1.0, 1e-3, steps));
            settled(Grid::uniform_lambda(s, 1.0, 1e-3, steps));
            settled(s.coeffs(a));
            settled(s.node(a));
            settled(s.t_of_lambda(a));
        }
        settled(linspace(a, b, steps));
        settled(karras_sigmas(a, b, c, steps));
        if let Some(d) = settled(DiscreteVp::linear(1e-4, 0.02, 1000)) {
            for spacing in [Spacing::Linspace, Spacing::Leading, Spacing::Trailing] {
                settled(discrete_timesteps(d.len(), spacing, steps, steps));
            }
        }
        settled(DiscreteVp::linear(a, b, steps));
    }

    #[test]
    fn samplers(n in size(), seed in any::<u64>(), off in offset(), sample_len in size()) {
        let schedule = Schedule::vp_linear(0.1, 20.0).unwrap();
        let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 3).unwrap();
        let noise = NoiseSource::new(seed).with_offset(off);
        let opts = PlanOptions {
            thresholding: Some(ito::Thresholding { ratio: 0.9, max_value: 1.5, sample_len }),
            ..PlanOptions::default()
        };
        for opts in [PlanOptions::default(), opts] {
            let Some(plan) = settled(Plan::new("dpmpp-2m".parse().unwrap(), grid.clone(), Param::Eps, opts)) else {
                continue;
            };
            if let Some(mut s) = settled(Sampler::<f32>::new(plan, n, noise)) {
                // Only small samplers get this far.
                prop_assert!(n <= 8);
                settled(s.init_noise());
                let out = vec![0.0f32; n];
                while let Some(Some(_)) = settled(s.next_eval()) {
                    if settled(s.advance(out.as_slice().into())).is_none() {
                        break;
                    }
                }
            }
        }
        settled(noise.noise(NoiseUse::Initial, 0, n));
    }

    #[test]
    fn langevin_drivers(n in size(), steps in size(), k in size(), sample_len in size(), a in value(), seed in any::<u64>(), off in offset()) {
        let noise = NoiseSource::new(seed).with_offset(off);
        let corrector = Corrector { snr: 0.16, alpha: 1.0, norms: NormMode::PerSample };
        settled(PcSampler::new(PcConfig {
            schedule: Schedule::vp_linear(0.1, 20.0).unwrap(),
            steps,
            t_end: 1e-3,
            predictor: Predictor::ReverseDiffusion,
            corrector: Some(corrector),
            corrector_steps: k,
            len: n,
            sample_len,
            noise,
        }));
        settled(PcSampler::new(PcConfig {
            schedule: Schedule::ve(0.01, 50.0).unwrap(),
            steps: 3,
            t_end: a,
            predictor: Predictor::EulerMaruyama,
            corrector: Some(Corrector { snr: a, alpha: a, norms: NormMode::BatchMean }),
            corrector_steps: 1,
            len: n,
            sample_len,
            noise,
        }));
        settled(AnnealedLangevin::new(AnnealedConfig {
            levels: NoiseLevels::Geometric { sigma_max: a, sigma_min: 0.01, levels: steps },
            steps_per_level: k,
            epsilon: 1e-3,
            denoise: true,
            len: n,
            noise,
        }));
        settled(AnnealedLangevin::new(AnnealedConfig {
            levels: NoiseLevels::Geometric { sigma_max: 50.0, sigma_min: 0.01, levels: steps },
            steps_per_level: k,
            epsilon: a,
            denoise: false,
            len: n.min(8),
            noise,
        }));
        settled(LangevinGibbs::new(GibbsConfig {
            x: vec![0.0; n.min(8)],
            sample_len,
            t: vec![0.5; 2],
            t_range: (a, 1.0),
            step_x: a,
            step_t: a,
            noise,
        }));
    }

    #[test]
    fn brownian_paths_and_fractional_noise(t0 in value(), t1 in value(), tol in value(), depth in any::<u32>(), n in size(), off in offset(), k in size()) {
        let noise = NoiseSource::new(9).with_offset(off);
        for tree in [
            settled(BrownianTree::new(noise, t0, t1)),
            settled(BrownianTree::new(noise, 0.0, 1.0)),
        ]
        .into_iter()
        .flatten()
        {
            settled(tree.with_depth(depth));
            settled(tree.with_tolerance(tol));
            let mut y = vec![0.0f32; 4];
            settled(tree.increment(t0, t1, y.as_mut_slice().into()));
            settled(tree.increment(0.0, 1.0, y.as_mut_slice().into()));
            settled(tree.terms(t0, t1));
            settled(tree.scaled_terms(0.0, 1.0, tol));
            if let Some(mut s) = settled(BrownianSweep::new(tree, &[0.0, 0.5, 1.0], n)) {
                prop_assert!(n <= 8);
                let mut dw = vec![0.0f32; n];
                while let Some(true) = settled(s.next_increment(dw.as_mut_slice().into())) {}
            }
        }
        if let Some(m) = settled(MarkovFbm::new(t0, k, t1, tol)) {
            settled(m.transition(t0));
        }
    }
}

/// The list, one by one: each was a panic, a hang or a misleading error before.
#[test]
fn the_reported_sizes_are_typed_errors() {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let config_arg = |e: Error| match e {
        Error::Config { arg, .. } => arg,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        config_arg(Grid::uniform_t(&s, 1.0, 1e-3, usize::MAX).unwrap_err()),
        "steps"
    );
    assert_eq!(
        config_arg(Grid::quadratic(&s, 1.0, 1e-3, usize::MAX).unwrap_err()),
        "steps"
    );
    assert_eq!(
        config_arg(Grid::uniform_lambda(&s, 1.0, 1e-3, usize::MAX).unwrap_err()),
        "steps"
    );
    assert_eq!(
        config_arg(Grid::karras(&s, 0.01, 80.0, 7.0, usize::MAX).unwrap_err()),
        "steps"
    );
    assert_eq!(config_arg(linspace(0.0, 1.0, usize::MAX).unwrap_err()), "n");
    let plan = Plan::new(
        "dpmpp-2m".parse().unwrap(),
        Grid::uniform_lambda(&s, 1.0, 1e-3, 3).unwrap(),
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap();
    // 2^57 f32 (512 PiB) cannot be had: an error naming n, not an abort.
    assert_eq!(
        config_arg(Sampler::<f32>::new(plan.clone(), 1 << 57, NoiseSource::new(1)).unwrap_err()),
        "n"
    );
    // usize::MAX elements cannot be addressed by one noise use.
    assert_eq!(
        config_arg(Sampler::<f32>::new(plan, usize::MAX, NoiseSource::new(1)).unwrap_err()),
        "noise.offset"
    );
    let pc = PcSampler::new(PcConfig {
        schedule: s.clone(),
        steps: 100,
        t_end: 1e-3,
        predictor: Predictor::ReverseDiffusion,
        corrector: None,
        corrector_steps: 0,
        len: usize::MAX,
        sample_len: 1,
        noise: NoiseSource::new(1),
    });
    assert_eq!(config_arg(pc.unwrap_err()), "noise.offset");
}
