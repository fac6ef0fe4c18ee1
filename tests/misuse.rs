//! Misuse is an error where it happens, naming the user's argument: each case here was accepted
//! silently, or reported under an internal name, before the API was reworked.

use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
use ito::{sde, Error, Grid, NoiseSource, Param, Plan, PlanOptions, Problem, Sampler, Schedule};

fn plan(has_mean: bool) -> Plan {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&s, 1.0, 1e-3, 4).unwrap();
    let opts = PlanOptions {
        has_mean,
        ..PlanOptions::default()
    };
    Plan::new("dpmpp-2m".parse().unwrap(), grid, Param::Eps, opts).unwrap()
}

fn config_arg(e: Error) -> &'static str {
    match e {
        Error::Config { arg, .. } => arg,
        Error::Argument(a) => a.arg,
        other => panic!("{other:?}"),
    }
}

/// A mean given to a plan built without one was accepted, used by `init_noise` and ignored by
/// the steps: the result shifted silently.
#[test]
fn a_mean_for_a_plan_without_one_is_refused() {
    let s = Sampler::<f32>::new(plan(false), 8, NoiseSource::new(1)).unwrap();
    assert_eq!(config_arg(s.with_mean(vec![1.0; 8]).unwrap_err()), "mean");
    // The other way round: a plan that reads μ needs it before the first pass.
    let mut s = Sampler::<f32>::new(plan(true), 8, NoiseSource::new(1)).unwrap();
    assert_eq!(config_arg(s.init_noise().unwrap_err()), "mean");
    let mut s = s.with_mean(vec![1.0; 8]).unwrap();
    s.init_noise().unwrap();
}

/// `init_noise` after the run had finished re-noised the state silently.
#[test]
fn renoising_a_started_run_is_refused() {
    let mut s = Sampler::<f32>::new(plan(false), 8, NoiseSource::new(1)).unwrap();
    s.init_noise().unwrap();
    let zero = vec![0.0f32; 8];
    while s.next_eval().unwrap().is_some() {
        s.advance(zero.as_slice().into()).unwrap();
    }
    let before = s.state().to_vec();
    assert_eq!(config_arg(s.init_noise().unwrap_err()), "init_noise");
    assert_eq!(s.state(), &before[..], "nothing was written");
}

/// The PC sampler had no shard offset: two halves of a batch, each with its global offset,
/// now give exactly the bits of one run over the whole batch.
#[test]
fn the_pc_sampler_shards_a_batch() {
    let run = |len: usize, offset: u64| {
        let mut pc = PcSampler::new(PcConfig {
            schedule: Schedule::vp_linear(0.1, 20.0).unwrap(),
            steps: 24,
            t_end: 1e-3,
            predictor: Predictor::ReverseDiffusion,
            corrector: Some(Corrector {
                snr: 0.16,
                alpha: 1.0,
                norms: NormMode::PerSample,
            }),
            corrector_steps: 2,
            len,
            sample_len: 64,
            noise: NoiseSource::new(21).with_offset(offset),
        })
        .unwrap();
        let mut score = vec![0f32; len];
        while pc.next_eval().is_some() {
            for (s, &x) in score.iter_mut().zip(pc.state()) {
                *s = -x;
            }
            pc.advance(score.as_slice().into()).unwrap();
        }
        pc.state().to_vec()
    };
    let whole = run(256, 0);
    let (a, b) = (run(128, 0), run(128, 128));
    let halves: Vec<f32> = a.into_iter().chain(b).collect();
    assert_eq!(
        whole.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        halves.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // A shard at another offset draws other noise.
    assert_ne!(run(128, 64), whole[..128].to_vec());
}

/// Error texts named internal slots: a short `f` was `inputs[0]`, a Δt past f32 was
/// `coefs.inputs[0]`.
#[test]
fn stepper_errors_name_the_users_arguments() {
    let (mut x, f, g) = (vec![0f32; 8], vec![0f32; 8], vec![1f32; 8]);
    let short = vec![0f32; 7];
    let noise = NoiseSource::new(3);
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        short.as_slice().into(),
        g.as_slice().into(),
        0.1,
        noise,
        0,
    )
    .unwrap_err();
    match e {
        Error::Argument(a) => {
            assert_eq!(a.arg, "f");
            assert_eq!(
                a.problem,
                Problem::Length {
                    expected: 8,
                    found: 7
                }
            );
        }
        other => panic!("{other:?}"),
    }
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        1e300,
        noise,
        0,
    )
    .unwrap_err();
    assert_eq!(config_arg(e), "dt");
    let e = sde::reversible_heun_correct(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        f.as_slice().into(),
        short.as_slice().into(),
        0.1,
        noise,
        0,
    )
    .unwrap_err();
    assert_eq!(config_arg(e), "g1");
    let e = sde::stochastic_heun_predict(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        -1e300,
        noise,
        0,
    )
    .unwrap_err();
    assert_eq!(config_arg(e), "dt");
    let e = sde::milstein(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        short.as_slice().into(),
        0.1,
        noise,
        0,
    )
    .unwrap_err();
    assert_eq!(config_arg(e), "h");
}
