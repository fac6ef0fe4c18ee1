//! The numbers candle-transformers 0.11.1's schedulers derive from their configs, reproduced
//! from the formulas (no ito here): β tables and ᾱ, the inference timesteps of each spacing, and
//! the EDM σ curves of candle's UniPC scheduler. Every function returns an error message
//! instead of panicking on a configuration candle itself would divide by zero, loop forever or
//! index out of range on.

use candle_transformers::models::stable_diffusion::schedulers::{BetaSchedule, TimestepSpacing};
use candle_transformers::models::stable_diffusion::uni_pc::TimestepSchedule;

use crate::SigmaCurve;

/// candle's `linspace`: `start + i·(stop − start)/(n − 1)` (the last point is not forced to
/// `stop`), `[start]` for one point, empty for none.
pub(crate) fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let delta = (stop - start) / (n - 1) as f64;
            (0..n).map(|i| start + i as f64 * delta).collect()
        }
    }
}

/// The training β table of `n` steps.
pub(crate) fn betas(
    schedule: BetaSchedule,
    beta_start: f64,
    beta_end: f64,
    n: usize,
) -> Result<Vec<f64>, String> {
    for (name, v) in [("beta_start", beta_start), ("beta_end", beta_end)] {
        if !(v.is_finite() && v > 0.0 && v < 1.0) {
            return Err(format!("{name} must be in (0, 1), found {v}"));
        }
    }
    Ok(match schedule {
        BetaSchedule::Linear => linspace(beta_start, beta_end, n),
        BetaSchedule::ScaledLinear => linspace(beta_start.sqrt(), beta_end.sqrt(), n)
            .into_iter()
            .map(|b| b * b)
            .collect(),
        // The glide cosine schedule as its paper and diffusers define it: β_i = min(1 −
        // ᾱ((i+1)/N)/ᾱ(i/N), 0.999), ᾱ(t) = cos²((t + 0.008)/1.008 · π/2). (candle 0.11.1
        // divides i/N in integers, which makes every β but the last 0: see the README.)
        BetaSchedule::SquaredcosCapV2 => {
            let abar = |t: f64| {
                let c = ((t + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos();
                c * c
            };
            (0..n)
                .map(|i| {
                    let (t1, t2) = (i as f64 / n as f64, (i + 1) as f64 / n as f64);
                    (1.0 - abar(t2) / abar(t1)).min(0.999)
                })
                .collect()
        }
    })
}

/// ᾱ_k = Π_{j≤k} (1 − β_j), multiplied in candle's order.
pub(crate) fn alphas_cumprod(betas: &[f64]) -> Vec<f64> {
    let mut acc = 1.0f64;
    betas
        .iter()
        .map(|b| {
            acc *= 1.0 - b;
            acc
        })
        .collect()
}

/// The inference timesteps of candle's DDIM / DDPM / Euler-ancestral schedulers, noisiest
/// first, and their step ratio ⌊N/steps⌋.
pub(crate) fn discrete_timesteps(
    spacing: TimestepSpacing,
    steps: usize,
    train: usize,
    steps_offset: usize,
) -> Result<(Vec<usize>, usize), String> {
    if steps == 0 || steps > train {
        return Err(format!(
            "inference steps must be between 1 and train_timesteps ({train}), found {steps}"
        ));
    }
    let ratio = train / steps;
    let ts = match spacing {
        TimestepSpacing::Leading => {
            let mut v = Vec::with_capacity(steps);
            for s in (0..steps).rev() {
                let t = (s * ratio)
                    .checked_add(steps_offset)
                    .ok_or_else(|| format!("steps_offset {steps_offset} overflows"))?;
                v.push(t);
            }
            v
        }
        // From N down by the ratio while above it, each minus one (more than `steps` entries
        // when the ratio does not divide N, as in candle).
        TimestepSpacing::Trailing => {
            let mut v = Vec::new();
            let mut n = train;
            loop {
                v.push(n - 1);
                if n <= ratio {
                    break;
                }
                n -= ratio;
            }
            v
        }
        // linspace(0, N − 1, steps), truncated toward zero, reversed.
        TimestepSpacing::Linspace => linspace(0.0, (train - 1) as f64, steps)
            .into_iter()
            .rev()
            .map(|f| f as usize)
            .collect(),
    };
    Ok((ts, ratio))
}

/// candle UniPC's VE noise level σ(t) on t ∈ [0, 1] (t = 1 the noisiest).
pub(crate) fn sigma_ve(curve: SigmaCurve, t: f64) -> f64 {
    match curve {
        SigmaCurve::Karras {
            sigma_min,
            sigma_max,
            rho,
        } => {
            let (lo, hi) = (sigma_min.powf(1.0 / rho), sigma_max.powf(1.0 / rho));
            (hi + (1.0 - t) * (lo - hi)).powf(rho)
        }
        SigmaCurve::Exponential {
            sigma_min,
            sigma_max,
        } => (t * (sigma_max.ln() - sigma_min.ln()) + sigma_min.ln()).exp(),
    }
}

/// (α, σ) of training step `k` under candle's UniPC schedule: t = (k + 1)/N,
/// α = √(1/(σ_ve² + 1)), σ = σ_ve·α.
pub(crate) fn edm_alpha_sigma(curve: SigmaCurve, k: usize, train: usize) -> (f64, f64) {
    let s = sigma_ve(curve, (k as f64 + 1.0) / train as f64);
    let alpha = (1.0 / (s.powi(2) + 1.0)).sqrt();
    (alpha, s * alpha)
}

pub(crate) fn check_curve(curve: SigmaCurve) -> Result<(), String> {
    let (lo, hi, rho) = match curve {
        SigmaCurve::Karras {
            sigma_min,
            sigma_max,
            rho,
        } => (sigma_min, sigma_max, rho),
        SigmaCurve::Exponential {
            sigma_min,
            sigma_max,
        } => (sigma_min, sigma_max, 1.0),
    };
    if !(lo.is_finite() && lo > 0.0 && hi.is_finite() && hi > lo) {
        return Err(format!(
            "sigma_min and sigma_max must be finite with 0 < sigma_min < sigma_max, found {lo}, {hi}"
        ));
    }
    if !(rho.is_finite() && rho > 0.0) {
        return Err(format!("rho must be finite and > 0, found {rho}"));
    }
    Ok(())
}

/// numpy-style linear interpolation of ascending `xs` over knots `xp` (values `fp`), NaN
/// outside [xp₀, xp_last], with candle's choice of interval at a knot (the one to its left).
fn interp_ascending(xs: &[f64], xp: &[f64], fp: &[f64]) -> Vec<f64> {
    xs.iter()
        .map(|&x| {
            let last = match xp.len() {
                0 => return f64::NAN,
                l => l - 1,
            };
            if !(x >= xp[0] && x <= xp[last]) || last == 0 {
                return f64::NAN;
            }
            let below = xp.partition_point(|&v| v < x);
            let i = below.saturating_sub(1).min(last - 1);
            let dx = xp[i + 1] - xp[i];
            if dx > 0.0 {
                fp[i] + (x - xp[i]) / dx * (fp[i + 1] - fp[i])
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// The inference timesteps of candle's UniPC scheduler, noisiest first.
pub(crate) fn edm_timesteps(
    schedule: &TimestepSchedule,
    curve: SigmaCurve,
    steps: usize,
    train: usize,
) -> Result<Vec<usize>, String> {
    if steps == 0 {
        return Err("inference steps must be at least 1".into());
    }
    let to_step = |f: f64| {
        (train - 1)
            .checked_sub(f as usize)
            .ok_or_else(|| format!("interpolated timestep {f} beyond the training range"))
    };
    match schedule {
        TimestepSchedule::Linspace => Ok(linspace((train - 1) as f64, 0.0, steps)
            .into_iter()
            .map(|f| f as usize)
            .collect()),
        // The log-σ of `steps` points uniform in t from 1 to 0, interpolated linearly onto
        // [0, N] over a slightly widened log-σ range, then flipped to N − 1 − ⌊·⌋.
        TimestepSchedule::FromSigmas => {
            let log_sigmas: Vec<f64> = linspace(1.0, 0.0, steps)
                .into_iter()
                .map(|t| sigma_ve(curve, t).ln())
                .collect();
            let ascending: Vec<f64> = log_sigmas.iter().rev().copied().collect();
            let xp = linspace(log_sigmas[steps - 1] - 0.001, log_sigmas[0] + 0.001, steps);
            let fp = linspace(0.0, train as f64, steps);
            interp_ascending(&ascending, &xp, &fp)
                .into_iter()
                .map(to_step)
                .collect()
        }
    }
}
