//! Everything but `step` is candle's own behaviour: timesteps, `add_noise`,
//! `init_noise_sigma`, `scale_model_input`, checked against candle's schedulers.

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use candle_transformers::models::stable_diffusion::schedulers::{
    BetaSchedule, Scheduler, SchedulerConfig, TimestepSpacing,
};
use candle_transformers::models::stable_diffusion::uni_pc::{
    CorrectorConfiguration, ExponentialSigmaSchedule, KarrasSigmaSchedule, SigmaSchedule,
    TimestepSchedule, UniPCSchedulerConfig,
};
use ito_candle::{ItoScheduler, ItoSchedulerConfig};

use crate::common::*;

fn ddim_configs() -> Vec<DDIMSchedulerConfig> {
    let mut v = Vec::new();
    for spacing in [
        TimestepSpacing::Leading,
        TimestepSpacing::Trailing,
        TimestepSpacing::Linspace,
    ] {
        for (schedule, offset, n) in [
            (BetaSchedule::ScaledLinear, 1, 1000),
            (BetaSchedule::Linear, 0, 1000),
            (BetaSchedule::Linear, 1, 777),
        ] {
            v.push(DDIMSchedulerConfig {
                beta_start: if matches!(schedule, BetaSchedule::Linear) {
                    1e-4
                } else {
                    0.00085
                },
                beta_end: if matches!(schedule, BetaSchedule::Linear) {
                    0.02
                } else {
                    0.012
                },
                beta_schedule: schedule,
                steps_offset: offset,
                train_timesteps: n,
                timestep_spacing: spacing,
                ..Default::default()
            });
        }
    }
    v
}

fn unipc_configs() -> Vec<UniPCSchedulerConfig> {
    let mut v = Vec::new();
    for ts in [TimestepSchedule::FromSigmas, TimestepSchedule::Linspace] {
        for sig in [
            SigmaSchedule::Karras(KarrasSigmaSchedule::default()),
            SigmaSchedule::Karras(KarrasSigmaSchedule {
                sigma_min: 0.02,
                sigma_max: 14.6,
                rho: 7.0,
            }),
            SigmaSchedule::Exponential(ExponentialSigmaSchedule::default()),
        ] {
            v.push(UniPCSchedulerConfig {
                corrector: CorrectorConfiguration::new([]),
                sigma_schedule: sig,
                timestep_schedule: ts.clone(),
                ..Default::default()
            });
        }
    }
    v
}

#[test]
fn timesteps_are_candles() {
    let mut checked = 0;
    for c in ddim_configs() {
        // (candle loops forever on the trailing spacing with more steps than training steps.)
        for steps in (1..=120).chain([333, 777]) {
            let theirs = c.build(steps).unwrap();
            let ours = match ItoSchedulerConfig::from_ddim("ddim", &c).build(steps) {
                Ok(s) => s,
                // The one refusal: leading spacing at steps = N with an offset, whose top
                // timestep N reads ᾱ_{N−1} like the next one (no strictly decreasing grid).
                Err(_) => {
                    assert!(
                        matches!(c.timestep_spacing, TimestepSpacing::Leading)
                            && steps == c.train_timesteps
                            && c.steps_offset > 0,
                        "{c:?} {steps}"
                    );
                    continue;
                }
            };
            assert_eq!(ours.timesteps(), theirs.timesteps(), "{c:?} {steps}");
            checked += 1;
        }
    }
    for c in unipc_configs() {
        for steps in 1..=60 {
            let theirs = c.build(steps).unwrap();
            let ours = ItoSchedulerConfig::from_unipc(&c).unwrap().build(steps);
            let ours = ours.unwrap_or_else(|e| panic!("{c:?} {steps}: {e}"));
            assert_eq!(ours.timesteps(), theirs.timesteps(), "{c:?} {steps}");
            checked += 1;
        }
    }
    println!("{checked} timestep lists equal to candle's");
}

#[test]
fn add_noise_init_sigma_and_scaling_are_candles() {
    let x = tensor(normals(1, N));
    let z = tensor(normals(2, N));
    for c in ddim_configs() {
        let ours = ItoSchedulerConfig::from_ddim("dpmpp-2m", &c)
            .build(10)
            .unwrap();
        let theirs = c.build(10).unwrap();
        assert_eq!(ours.init_noise_sigma(), theirs.init_noise_sigma());
        let n = c.train_timesteps;
        for t in [0, 1, 17, n / 2, n - 1, n] {
            let a = ours.add_noise(&x, z.clone(), t).unwrap();
            let b = theirs.add_noise(&x, z.clone(), t).unwrap();
            assert_eq!(values(&a), values(&b), "{c:?} t = {t}");
        }
        // candle would index out of range beyond N; ours is an error.
        assert!(ours.add_noise(&x, z.clone(), n + 1).is_err());
        let s = ours.scale_model_input(x.clone(), 5).unwrap();
        assert_eq!(
            values(&s),
            values(&theirs.scale_model_input(x.clone(), 5).unwrap())
        );
    }
    for c in unipc_configs() {
        let ours = ItoSchedulerConfig::from_unipc(&c)
            .unwrap()
            .build(10)
            .unwrap();
        let theirs = c.build(10).unwrap();
        assert_eq!(ours.init_noise_sigma(), theirs.init_noise_sigma(), "{c:?}");
        for t in [0, 1, 17, 500, 999, 1000, 5000] {
            let a = ours.add_noise(&x, z.clone(), t).unwrap();
            let b = theirs.add_noise(&x, z.clone(), t).unwrap();
            assert_eq!(values(&a), values(&b), "{c:?} t = {t}");
        }
        let s = ours.scale_model_input(x.clone(), 5).unwrap();
        assert_eq!(
            values(&s),
            values(&theirs.scale_model_input(x.clone(), 5).unwrap())
        );
    }
    // add_noise keeps candle's dtype handling (any float dtype).
    let ours = ItoSchedulerConfig::default().build(10).unwrap();
    let x64 = x.to_dtype(DType::F64).unwrap();
    let z64 = z.to_dtype(DType::F64).unwrap();
    let theirs = DDIMSchedulerConfig::default().build(10).unwrap();
    assert_eq!(
        ours.add_noise(&x64, z64.clone(), 321)
            .unwrap()
            .to_vec1::<f64>()
            .ok(),
        theirs
            .add_noise(&x64, z64, 321)
            .unwrap()
            .to_vec1::<f64>()
            .ok()
    );
}

/// candle 0.11.1's `SquaredcosCapV2` divides i/N in integers, so every β but the last is 0
/// (ᾱ = 1 up to the last training step): candle's own DDIM cannot sample with it. ours is the
/// glide cosine schedule, whose ᾱ telescopes to f((k+1)/N)/f(0), f(t) = cos²((t + s)/(1 + s)·π/2)
/// while no β reaches the 0.999 cap.
#[test]
fn cosine_schedule_is_the_glide_formula_not_candles() {
    let c = DDIMSchedulerConfig {
        beta_schedule: BetaSchedule::SquaredcosCapV2,
        ..Default::default()
    };
    let one = Tensor::ones(SHAPE, DType::F32, &Device::Cpu).unwrap();
    let zero = Tensor::zeros(SHAPE, DType::F32, &Device::Cpu).unwrap();
    let theirs = c.build(10).unwrap();
    // √ᾱ = 1 at t = 500 in candle.
    assert_eq!(
        values(&theirs.add_noise(&one, zero.clone(), 500).unwrap())[0],
        1.0
    );
    let ours = ItoScheduler::new(ItoSchedulerConfig::from_ddim("ddim", &c), 10).unwrap();
    let f = |t: f64| {
        ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
            .cos()
            .powi(2)
    };
    for &t in ours.timesteps() {
        let (a, s) = ours.alpha_sigma(t).unwrap();
        let abar = f((t as f64 + 1.0) / 1000.0) / f(0.0);
        assert!((a * a - abar).abs() < 1e-12, "t = {t}: {} vs {abar}", a * a);
        assert!((s * s - (1.0 - abar)).abs() < 1e-12);
    }
}
