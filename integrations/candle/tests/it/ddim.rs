//! (a) ito's `ddim` against candle's `DDIMScheduler` (η = 0), same config, same model outputs.
//!
//! Tolerances, relative to max(1, max |x|) of candle's output: candle runs each step as five
//! f32 tensor passes (two affine maps, a subtraction, a scaling, an addition) with each
//! coefficient rounded to f32 first; ito runs one fused f32 pass whose two coefficients come
//! from f64 and are rounded once. Each side is within a few f32 roundings (2⁻²⁴ ≈ 6e-8) of
//! the exact step, scaled by the intermediate x̂₀ = x/√ᾱ that the next term multiplies back by
//! √ᾱ_prev; so a step from the same input agrees to ~10 roundings: STEP_TOL = 1e-6 (measured:
//! ≤ 2.4e-7). Over a whole run each side follows its own trajectory and the per-step
//! differences add (the DDIM map does not amplify them much): RUN_TOL = 1e-5 for ≤ 50 steps
//! (measured: ≤ 1.5e-6).

use candle_core::Tensor;
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use candle_transformers::models::stable_diffusion::schedulers::{
    BetaSchedule, PredictionType, SchedulerConfig, TimestepSpacing,
};
use ito_candle::ItoSchedulerConfig;

use crate::common::*;

const STEP_TOL: f64 = 1e-6;
const RUN_TOL: f64 = 1e-5;

fn pred_of(p: PredictionType) -> Pred {
    match p {
        PredictionType::Epsilon => Pred::Eps,
        PredictionType::VPrediction => Pred::V,
        PredictionType::Sample => Pred::Sample,
    }
}

fn table(c: &DDIMSchedulerConfig) -> Vec<f64> {
    alphas_cumprod(
        c.beta_start,
        c.beta_end,
        matches!(c.beta_schedule, BetaSchedule::ScaledLinear),
        c.train_timesteps,
    )
}

/// The exact model for the test's Gaussian data at candle's ᾱ of `t`.
fn model_for(c: &DDIMSchedulerConfig) -> impl Fn(&Tensor, usize) -> Tensor {
    let abar = table(c);
    let pred = pred_of(c.prediction_type);
    move |x: &Tensor, t: usize| {
        let a = abar[t.min(abar.len() - 1)];
        model(x, a.sqrt(), (1.0 - a).sqrt(), pred)
    }
}

/// (largest open-loop step difference, largest closed-loop difference), both relative.
fn compare(c: &DDIMSchedulerConfig, steps: usize) -> (f64, f64) {
    let model_at = model_for(c);
    let x_t = tensor(normals(7, N));
    let ours = ItoSchedulerConfig::from_ddim("ddim", c);
    let (mut candle, mut ito) = (c.build(steps).unwrap(), ours.build(steps).unwrap());
    assert_eq!(candle.timesteps(), ito.timesteps());
    // Open loop: both step from candle's sample with the same model output.
    let (mut x, mut open) = (x_t.clone(), 0f64);
    for t in candle.timesteps().to_vec() {
        let m = model_at(&x, t);
        let yc = candle.step(&m, t, &x).unwrap();
        let yi = ito.step(&m, t, &x).unwrap();
        let (d, mx) = max_diff(&yi, &yc);
        open = open.max(d / mx.max(1.0));
        x = yc;
    }
    // Closed loop: each scheduler follows its own trajectory.
    let (mut candle, mut ito) = (c.build(steps).unwrap(), ours.build(steps).unwrap());
    let a = run(candle.as_mut(), &x_t, &model_at).unwrap();
    let b = run(ito.as_mut(), &x_t, &model_at).unwrap();
    let mut closed = 0f64;
    for (yc, yi) in a.iter().zip(&b) {
        let (d, mx) = max_diff(yi, yc);
        closed = closed.max(d / mx.max(1.0));
    }
    (open, closed)
}

#[test]
fn ddim_matches_candle() {
    let (mut worst_open, mut worst_closed, mut cases) = (0f64, 0f64, 0);
    for spacing in [TimestepSpacing::Leading, TimestepSpacing::Trailing] {
        for pt in [
            PredictionType::Epsilon,
            PredictionType::VPrediction,
            PredictionType::Sample,
        ] {
            for (schedule, start, end, offset) in [
                (BetaSchedule::ScaledLinear, 0.00085, 0.012, 1),
                (BetaSchedule::Linear, 1e-4, 0.02, 0),
            ] {
                // 30 does not divide 1000: trailing spacing then has 31 timesteps in candle.
                for steps in [10, 30, 50] {
                    let c = DDIMSchedulerConfig {
                        beta_start: start,
                        beta_end: end,
                        beta_schedule: schedule,
                        steps_offset: offset,
                        timestep_spacing: spacing,
                        prediction_type: pt,
                        ..Default::default()
                    };
                    let (open, closed) = compare(&c, steps);
                    assert!(open <= STEP_TOL, "{c:?} {steps}: step difference {open:e}");
                    assert!(
                        closed <= RUN_TOL,
                        "{c:?} {steps}: run difference {closed:e}"
                    );
                    worst_open = worst_open.max(open);
                    worst_closed = worst_closed.max(closed);
                    cases += 1;
                }
            }
        }
    }
    // An offset above the step ratio: candle's last step lands on ᾱ at (1 + 10 − 6) = 5, not 0.
    let c = DDIMSchedulerConfig {
        beta_start: 1e-4,
        beta_end: 0.02,
        beta_schedule: BetaSchedule::Linear,
        steps_offset: 10,
        ..Default::default()
    };
    let (open, closed) = compare(&c, 150);
    assert!(open <= STEP_TOL && closed <= RUN_TOL, "{open:e} {closed:e}");
    worst_open = worst_open.max(open);
    worst_closed = worst_closed.max(closed);
    cases += 1;
    println!(
        "ddim vs candle DDIM, {cases} configs: max step difference {worst_open:.2e}, max run difference {worst_closed:.2e}"
    );
}

/// The one semantic difference: with the `linspace` spacing (non-uniform gaps after
/// truncation) candle's DDIM steps from timestep t to t − ⌊N/steps⌋, not to the next
/// timestep, and evaluates the model there as if the sample were at the next timestep. ito
/// steps between consecutive timesteps. Each matches its own rule, written here in f64.
#[test]
fn ddim_linspace_difference_is_candles_previous_timestep() {
    let c = DDIMSchedulerConfig {
        timestep_spacing: TimestepSpacing::Linspace,
        ..Default::default()
    };
    let abar = table(&c);
    let model_at = model_for(&c);
    let steps = 30;
    let ratio = c.train_timesteps / steps;
    let mut candle = c.build(steps).unwrap();
    let mut ito = ItoSchedulerConfig::from_ddim("ddim", &c)
        .build(steps)
        .unwrap();
    let ts = candle.timesteps().to_vec();
    let ddim = |x: &[f32], eps: &[f32], t: usize, prev: usize| -> Vec<f64> {
        let (at, ap) = (abar[t], abar[prev]);
        x.iter()
            .zip(eps)
            .map(|(&x, &e)| {
                let x0 = (x as f64 - (1.0 - at).sqrt() * e as f64) / at.sqrt();
                ap.sqrt() * x0 + (1.0 - ap).sqrt() * e as f64
            })
            .collect()
    };
    let close = |y: &Tensor, r: &[f64]| {
        let y = values(y);
        let scale = r.iter().fold(1f64, |m, v| m.max(v.abs()));
        y.iter()
            .zip(r)
            .fold(0f64, |d, (a, b)| d.max((*a as f64 - b).abs()))
            / scale
    };
    let (mut x, mut worst, mut gap) = (tensor(normals(3, N)), 0f64, 0f64);
    for (k, &t) in ts.iter().enumerate() {
        let m = model_at(&x, t);
        let yc = candle.step(&m, t, &x).unwrap();
        let yi = ito.step(&m, t, &x).unwrap();
        let (xv, ev) = (values(&x), values(&m));
        let candle_prev = t.saturating_sub(ratio);
        let next = ts.get(k + 1).copied().unwrap_or(candle_prev);
        worst = worst
            .max(close(&yc, &ddim(&xv, &ev, t, candle_prev)))
            .max(close(&yi, &ddim(&xv, &ev, t, next)));
        if next != candle_prev {
            gap = gap.max(max_diff(&yi, &yc).0);
        }
        x = yc;
    }
    assert!(worst <= STEP_TOL, "{worst:e}");
    assert!(gap > 1e3 * STEP_TOL, "{gap:e}");
    println!("linspace: each within {worst:.2e} of its own rule; they differ by up to {gap:.2e}");
}
