//! (b) ito's UniPC against candle's `UniPCSchedulerConfig` scheduler, same config, same model
//! outputs. Tolerances as for DDIM (see `ddim.rs`): candle runs a UniPC step as a dozen f32
//! tensor passes with f32-rounded coefficients, ito as one fused pass with f64 coefficients
//! rounded once; STEP_TOL = 1e-6 for one step from the same input, RUN_TOL = 1e-5 for a run.
//!
//! candle 0.11.1's predictor pairs the previous model output with the timestep *two* steps
//! back (its corrector pairs them right), so from the third step on its order-2 and order-3
//! UniPC differ from the published method (and from diffusers, which ito matches): first
//! order agrees throughout, higher orders on the first two steps, and the difference after is
//! shown to be exactly that pairing.

use candle_core::Tensor;
use candle_transformers::models::stable_diffusion::schedulers::{PredictionType, SchedulerConfig};
use candle_transformers::models::stable_diffusion::uni_pc::{
    CorrectorConfiguration, ExponentialSigmaSchedule, KarrasSigmaSchedule, SigmaSchedule,
    SolverType, TimestepSchedule, UniPCSchedulerConfig,
};
use ito_candle::ItoSchedulerConfig;

use crate::common::*;

const STEP_TOL: f64 = 1e-6;
const RUN_TOL: f64 = 1e-5;

/// σ_ve(t) of candle's UniPC schedules, from the formulas.
fn sigma_ve(s: SigmaSchedule, t: f64) -> f64 {
    match s {
        SigmaSchedule::Karras(k) => {
            let (lo, hi) = (k.sigma_min.powf(1.0 / k.rho), k.sigma_max.powf(1.0 / k.rho));
            (hi + (1.0 - t) * (lo - hi)).powf(k.rho)
        }
        // The only constructible exponential schedule: σ from 0.1 to 80.
        SigmaSchedule::Exponential(_) => (t * (80f64.ln() - 0.1f64.ln()) + 0.1f64.ln()).exp(),
    }
}

/// (α, σ) at training timestep `t` of config `c`.
fn alpha_sigma(c: &UniPCSchedulerConfig, t: usize) -> (f64, f64) {
    let s = sigma_ve(
        c.sigma_schedule,
        (t as f64 + 1.0) / c.num_training_timesteps as f64,
    );
    let a = (1.0 / (s * s + 1.0)).sqrt();
    (a, s * a)
}

fn model_for(c: &UniPCSchedulerConfig) -> impl Fn(&Tensor, usize) -> Tensor {
    let c = c.clone();
    let pred = match c.prediction_type {
        PredictionType::Epsilon => Pred::Eps,
        PredictionType::VPrediction => Pred::V,
        PredictionType::Sample => Pred::Sample,
    };
    move |x: &Tensor, t: usize| {
        let (a, s) = alpha_sigma(&c, t);
        model(x, a, s, pred)
    }
}

/// Per-step open-loop differences (relative), and the closed-loop maximum over the steps.
fn compare(c: &UniPCSchedulerConfig, steps: usize) -> (Vec<f64>, f64) {
    let model_at = model_for(c);
    let x_t = tensor(normals(11, N));
    let ours = ItoSchedulerConfig::from_unipc(c).unwrap();
    let (mut candle, mut ito) = (c.build(steps).unwrap(), ours.build(steps).unwrap());
    assert_eq!(candle.timesteps(), ito.timesteps());
    let (mut x, mut open) = (x_t.clone(), Vec::new());
    for t in candle.timesteps().to_vec() {
        let m = model_at(&x, t);
        let yc = candle.step(&m, t, &x).unwrap();
        let yi = ito.step(&m, t, &x).unwrap();
        let (d, mx) = max_diff(&yi, &yc);
        open.push(d / mx.max(1.0));
        x = yc;
    }
    let (mut candle, mut ito) = (c.build(steps).unwrap(), ours.build(steps).unwrap());
    let a = run(candle.as_mut(), &x_t, &model_at).unwrap();
    let b = run(ito.as_mut(), &x_t, &model_at).unwrap();
    let closed = a.iter().zip(&b).fold(0f64, |m, (yc, yi)| {
        let (d, mx) = max_diff(yi, yc);
        m.max(d / mx.max(1.0))
    });
    (open, closed)
}

fn schedules() -> Vec<SigmaSchedule> {
    vec![
        SigmaSchedule::Karras(KarrasSigmaSchedule::default()),
        SigmaSchedule::Karras(KarrasSigmaSchedule {
            sigma_min: 0.02,
            sigma_max: 14.6,
            rho: 7.0,
        }),
        SigmaSchedule::Exponential(ExponentialSigmaSchedule::default()),
    ]
}

fn config(
    order: usize,
    solver_type: SolverType,
    corrector: bool,
    ts: TimestepSchedule,
    sigma: SigmaSchedule,
    pt: PredictionType,
) -> UniPCSchedulerConfig {
    UniPCSchedulerConfig {
        corrector: if corrector {
            CorrectorConfiguration::new([])
        } else {
            CorrectorConfiguration::Disabled
        },
        sigma_schedule: sigma,
        timestep_schedule: ts,
        solver_order: order,
        solver_type,
        prediction_type: pt,
        ..Default::default()
    }
}

/// First order (UniP-1 with or without UniC, B(h) = h or e^h − 1): every step, including the
/// last one, which candle takes from training step 0 to itself (UniC's correction only).
#[test]
fn unipc_first_order_matches_candle() {
    let (mut worst_open, mut worst_closed, mut cases) = (0f64, 0f64, 0);
    for ts in [TimestepSchedule::FromSigmas, TimestepSchedule::Linspace] {
        for sigma in schedules() {
            for (st, corr) in [
                (SolverType::Bh1, true),
                (SolverType::Bh2, true),
                (SolverType::Bh2, false),
            ] {
                for pt in [
                    PredictionType::Epsilon,
                    PredictionType::VPrediction,
                    PredictionType::Sample,
                ] {
                    for steps in [5, 10, 25] {
                        let c = config(1, st, corr, ts.clone(), sigma, pt);
                        let (open, closed) = compare(&c, steps);
                        let open = open.iter().fold(0f64, |m, v| m.max(*v));
                        assert!(open <= STEP_TOL, "{c:?} {steps}: {open:e}");
                        assert!(closed <= RUN_TOL, "{c:?} {steps}: {closed:e}");
                        worst_open = worst_open.max(open);
                        worst_closed = worst_closed.max(closed);
                        cases += 1;
                    }
                }
            }
        }
    }
    println!(
        "unipc order 1 vs candle, {cases} configs: max step difference {worst_open:.2e}, max run difference {worst_closed:.2e}"
    );
}

/// Orders 2 and 3 (with and without UniC, both B(h)): the first two steps, before candle's
/// predictor reads its history.
#[test]
fn unipc_higher_orders_match_candle_on_the_first_two_steps() {
    let (mut worst, mut cases) = (0f64, 0);
    for ts in [TimestepSchedule::FromSigmas, TimestepSchedule::Linspace] {
        for sigma in schedules() {
            for order in [2, 3] {
                for st in [SolverType::Bh1, SolverType::Bh2] {
                    for corr in [true, false] {
                        let c = config(order, st, corr, ts.clone(), sigma, PredictionType::Epsilon);
                        let open = compare_first(&c, 10, 2);
                        assert!(open <= STEP_TOL, "{c:?}: {open:e}");
                        worst = worst.max(open);
                        cases += 1;
                    }
                }
            }
        }
    }
    println!(
        "unipc orders 2-3 vs candle, {cases} configs, steps 0-1: max step difference {worst:.2e}"
    );
}

/// The largest open-loop difference over the first `k` steps.
fn compare_first(c: &UniPCSchedulerConfig, steps: usize, k: usize) -> f64 {
    let model_at = model_for(c);
    let ours = ItoSchedulerConfig::from_unipc(c).unwrap();
    let (mut candle, mut ito) = (c.build(steps).unwrap(), ours.build(steps).unwrap());
    let (mut x, mut worst) = (tensor(normals(5, N)), 0f64);
    let ts = candle.timesteps()[..k].to_vec();
    for t in ts {
        let m = model_at(&x, t);
        let yc = candle.step(&m, t, &x).unwrap();
        let yi = ito.step(&m, t, &x).unwrap();
        let (d, mx) = max_diff(&yi, &yc);
        worst = worst.max(d / mx.max(1.0));
        x = yc;
    }
    worst
}

/// UniP-2 (no corrector), one step from x at s0 to t with the data predictions m0 (at s0) and
/// m1 (at the history node s1), in f64: x_t = (σ_t/σ_s0)x − α_t(e^{−h} − 1)m0 −
/// α_t·B(h)·½·(m1 − m0)/r1, r1 = (λ_s1 − λ_s0)/h.
fn unip2(
    x: f64,
    m0: f64,
    m1: f64,
    s0: (f64, f64),
    s1: (f64, f64),
    t: (f64, f64),
    bh1: bool,
) -> f64 {
    let lam = |(a, s): (f64, f64)| a.ln() - s.ln();
    let h = lam(t) - lam(s0);
    let phi = (-h).exp_m1();
    let b = if bh1 { -h } else { phi };
    let r1 = (lam(s1) - lam(s0)) / h;
    t.1 / s0.1 * x - t.0 * phi * m0 - t.0 * b * 0.5 * (m1 - m0) / r1
}

/// From the third step on, candle's UniP-2 equals the formula with the history node two
/// timesteps back; ito's equals it with the previous timestep (the method as published).
#[test]
fn unipc_difference_is_candles_predictor_history_timestep() {
    for (st, bh1) in [(SolverType::Bh1, true), (SolverType::Bh2, false)] {
        let c = config(
            2,
            st,
            false,
            TimestepSchedule::FromSigmas,
            SigmaSchedule::Karras(KarrasSigmaSchedule::default()),
            PredictionType::Epsilon,
        );
        let model_at = model_for(&c);
        let steps = 10;
        let (mut candle, mut ito) = (
            c.build(steps).unwrap(),
            ItoSchedulerConfig::from_unipc(&c)
                .unwrap()
                .build(steps)
                .unwrap(),
        );
        let ts = candle.timesteps().to_vec();
        let x0_of = |x: &[f32], e: &[f32], t: usize| -> Vec<f64> {
            let (a, s) = alpha_sigma(&c, t);
            x.iter()
                .zip(e)
                .map(|(&x, &e)| (x as f64 - s * e as f64) / a)
                .collect()
        };
        let (mut x, mut prev_m0): (Tensor, Vec<f64>) = (tensor(normals(9, N)), vec![]);
        let (mut worst, mut gap) = (0f64, 0f64);
        // Order 2 from step 1 to the second-to-last step (lower_order_final: the last is first order).
        for (k, &t) in ts.iter().enumerate() {
            let m = model_at(&x, t);
            let yc = candle.step(&m, t, &x).unwrap();
            let yi = ito.step(&m, t, &x).unwrap();
            let (xv, ev) = (values(&x), values(&m));
            let m0 = x0_of(&xv, &ev, t);
            let next = ts.get(k + 1).copied().unwrap_or(0);
            if (2..ts.len() - 1).contains(&k) {
                let (s0, tt) = (alpha_sigma(&c, t), alpha_sigma(&c, next));
                let right = alpha_sigma(&c, ts[k - 1]);
                let candles = alpha_sigma(&c, ts[k - 2]);
                let (ycv, yiv) = (values(&yc), values(&yi));
                let scale = ycv.iter().fold(1f64, |m, v| m.max(v.abs() as f64));
                for i in 0..N {
                    let f = |s1| unip2(xv[i] as f64, m0[i], prev_m0[i], s0, s1, tt, bh1);
                    worst = worst
                        .max((ycv[i] as f64 - f(candles)).abs() / scale)
                        .max((yiv[i] as f64 - f(right)).abs() / scale);
                    gap = gap.max((ycv[i] - yiv[i]).abs() as f64 / scale);
                }
            }
            prev_m0 = m0;
            x = yc;
        }
        assert!(worst <= STEP_TOL, "{st:?}: {worst:e}");
        assert!(gap > 1e3 * STEP_TOL, "{st:?}: {gap:e}");
        println!("UniP-2 {st:?}: candle and ito each within {worst:.2e} of their history rule; they differ by up to {gap:.2e}");
    }
}

/// With order 3, candle's predictor pairs both history outputs with the same timestep at step
/// 2 and its system is singular: NaN. ito's UniPC-3 stays finite.
#[test]
fn candle_unipc_order_3_is_singular_at_step_2() {
    let c = config(
        3,
        SolverType::Bh2,
        true,
        TimestepSchedule::FromSigmas,
        SigmaSchedule::Karras(KarrasSigmaSchedule::default()),
        PredictionType::Epsilon,
    );
    let model_at = model_for(&c);
    let x_t = tensor(normals(4, N));
    let mut candle = c.build(10).unwrap();
    let a = run(candle.as_mut(), &x_t, &model_at).unwrap();
    assert!(values(&a[2]).iter().all(|v| v.is_nan()));
    let mut ito = ItoSchedulerConfig::from_unipc(&c)
        .unwrap()
        .build(10)
        .unwrap();
    let b = run(ito.as_mut(), &x_t, &model_at).unwrap();
    assert!(b.iter().all(|y| values(y).iter().all(|v| v.is_finite())));
}
