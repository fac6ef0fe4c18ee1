//! A candle sampling loop with ito's solvers swapped in through candle's `Scheduler` trait.
//!
//! The "model" is exact: data are N(μ, s²) per element, so the ε-prediction at
//! x = α·x₀ + σ·ε is σ(x − αμ)/(α²s² + σ²). Started from the exact marginal at the first
//! timestep, the probability-flow ODE maps each element affinely, x ↦ α_f·μ + (r_f/r₀)(x − α₀μ)
//! with r = √(α²s² + σ²), so every deterministic solver's error is known element by element.
//! The printed errors are therefore the solvers' own, next to candle's DDIM on the same
//! starting noise.
//!
//! `cargo run --release --example sample`

use std::time::Instant;

use candle_core::{Device, Result, Tensor};
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use candle_transformers::models::stable_diffusion::schedulers::{Scheduler, SchedulerConfig};
use ito_candle::ito::{fill_normal, NoiseSource, NoiseUse};
use ito_candle::{ItoScheduler, ItoSchedulerConfig};

const MU: f64 = 2.0;
const S: f64 = 0.5;
const SHAPE: (usize, usize, usize, usize) = (4, 4, 64, 64);

/// The exact ε-prediction for data N(MU, S²) at (α, σ).
fn model(x: &Tensor, alpha: f64, sigma: f64) -> Result<Tensor> {
    let d = alpha * alpha * S * S + sigma * sigma;
    ((x - alpha * MU)? * (sigma / d))?.to_dtype(x.dtype())
}

/// Runs `scheduler` from `x`; (α, σ) at each timestep come from `nodes`.
fn sample(
    scheduler: &mut dyn Scheduler,
    nodes: &ItoScheduler,
    x: &Tensor,
) -> Result<(Tensor, f64)> {
    let mut x = x.clone();
    let start = Instant::now();
    for &t in scheduler.timesteps().to_vec().iter() {
        let input = scheduler.scale_model_input(x.clone(), t)?;
        let (alpha, sigma) = nodes
            .alpha_sigma(t)
            .ok_or_else(|| candle_core::Error::Msg(format!("no node at {t}")))?;
        let eps = model(&input, alpha, sigma)?;
        x = scheduler.step(&eps, t, &x)?;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / scheduler.timesteps().len() as f64;
    Ok((x, ms))
}

/// sqrt(mean((a − b)²)).
fn rms(a: &Tensor, b: &Tensor) -> Result<f64> {
    let d = (a - b)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
    Ok((d as f64).sqrt())
}

fn moments(x: &Tensor) -> Result<(f64, f64)> {
    let v = x.flatten_all()?.to_vec1::<f32>()?;
    let n = v.len() as f64;
    let mean = v.iter().map(|&a| a as f64).sum::<f64>() / n;
    let var = v.iter().map(|&a| (a as f64 - mean).powi(2)).sum::<f64>() / n;
    Ok((mean, var.sqrt()))
}

fn main() -> Result<()> {
    let candle_ddim = DDIMSchedulerConfig::default();
    let n = SHAPE.0 * SHAPE.1 * SHAPE.2 * SHAPE.3;
    // The starting noise from ito's counter-based normals (seed 1): the same on every run.
    let mut z = vec![0f32; n];
    let key = NoiseSource::new(1)
        .noise(NoiseUse::Initial, 0, n)
        .map_err(candle_core::Error::wrap)?;
    fill_normal(z.as_mut_slice().into(), 0.0, 1.0, key).map_err(candle_core::Error::wrap)?;
    let z = Tensor::from_vec(z, SHAPE, &Device::Cpu)?;
    println!(
        "Stable Diffusion's training schedule (candle's DDIM defaults, leading spacing), {n} elements"
    );
    println!("of data N({MU}, {S}²), the exact ε-prediction as the model, started from the exact marginal");
    println!("at the first timestep; the run ends at training step 0, like candle's DDIM.\n");
    for steps in [5, 10, 20] {
        let base = ItoSchedulerConfig::from_ddim("ddim", &candle_ddim);
        let nodes = ItoScheduler::new(base.clone(), steps)?;
        let r = |(a, s): (f64, f64)| (a * a * S * S + s * s).sqrt();
        let first = nodes
            .alpha_sigma(nodes.timesteps()[0])
            .ok_or_else(|| candle_core::Error::Msg("no first node".into()))?;
        let last = nodes.final_alpha_sigma();
        let x_t = ((&z * r(first))? + first.0 * MU)?;
        let exact = ((&z * r(last))? + last.0 * MU)?;
        println!(
            "{steps} steps from timestep {}: exact end mean {:.5}, std {:.5}",
            nodes.timesteps()[0],
            last.0 * MU,
            r(last)
        );
        println!(
            "  {:<20} {:>9} {:>9} {:>15} {:>8}",
            "scheduler", "mean", "std", "rms error (ODE)", "ms/step*"
        );
        let mut rows: Vec<(String, Box<dyn Scheduler>)> =
            vec![("candle DDIM".into(), candle_ddim.build(steps)?)];
        for solver in ["ddim", "dpmpp-2m", "unipc-bh1-2", "unipc-3", "sde-dpmpp-2m"] {
            let c = base.clone().with_solver(solver).with_seed(7);
            rows.push((format!("ito {solver}"), c.build(steps)?));
        }
        let mut sde = None;
        for (name, mut scheduler) in rows {
            let (x, ms) = sample(scheduler.as_mut(), &nodes, &x_t)?;
            let (mean, std) = moments(&x)?;
            let err = if name.contains("sde") {
                "(stochastic)".to_string()
            } else {
                format!("{:.2e}", rms(&x, &exact)?)
            };
            println!("  {name:<20} {mean:>9.5} {std:>9.5} {err:>15} {ms:>8.2}");
            if name.contains("sde") {
                sde = Some(x);
            }
        }
        // Seeded noise: the stochastic solver gives the same bits when run again.
        let mut again = base
            .clone()
            .with_solver("sde-dpmpp-2m")
            .with_seed(7)
            .build(steps)?;
        let (x, _) = sample(again.as_mut(), &nodes, &x_t)?;
        let same = match &sde {
            Some(s) => (s - &x)?.abs()?.max_all()?.to_scalar::<f32>()? == 0.0,
            None => false,
        };
        println!("  sde-dpmpp-2m again with seed 7: identical bits: {same}");
        println!("  * wall time per step, the model's three tensor passes included\n");
    }
    Ok(())
}
