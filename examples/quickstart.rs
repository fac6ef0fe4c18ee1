//! The first thing to run: picks a solver by name, samples ito's built-in 2-D Gaussian
//! mixture (eight components on a ring and one at the centre) with N samples on the best
//! backend, using the mixture's exact denoiser as the "network", and prints the backend, the
//! time per step (ito's fused update and the model separately), and how far the samples land
//! from the exact distribution: error of the mean and covariance, and the sliced
//! 1-Wasserstein distance over 16 directions next to that of an exact sample of the same size.
//!
//! `cargo run --release --example quickstart [-- SOLVER [N_SAMPLES [STEPS]]]`
//! (default `dpmpp-2m 1048576 20`; `list` prints the solver names)

use std::time::Instant;

use ito::diffusion::problems::{sample_moments, GaussianMixture};
use ito::diffusion::solver::SOLVER_NAMES;
use ito::{
    available_backends, backend, fill_normal, Grid, Noise, NoiseKey, Param, Plan, PlanOptions,
    Sampler, Schedule, Solver,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("dpmpp-2m", String::as_str);
    if name == "list" {
        println!("{}", SOLVER_NAMES.join(" "));
        return Ok(());
    }
    let n: usize = args.get(1).map_or(Ok(1 << 20), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(20), |s| s.parse())?;
    let solver: Solver = name.parse()?;
    let target = GaussianMixture::ring();
    let dim = target.dim;

    // Interpolant samplers run on the linear interpolant (rectified flow) with a velocity
    // model; everything else on VP-linear with an ε-model. Both end noise-free.
    let interpolant = matches!(
        solver,
        Solver::InterpolantOde | Solver::InterpolantSde { .. }
    );
    let (schedule, param) = if interpolant {
        (Schedule::Flow, Param::Velocity)
    } else {
        (Schedule::vp_linear(0.1, 20.0)?, Param::Eps)
    };
    let grid = if interpolant {
        Grid::uniform_t(&schedule, 0.999, 1e-3, steps)?
    } else {
        Grid::uniform_lambda(&schedule, 1.0, 1e-3, steps)?
    }
    .with_clean_end()?;

    let found: Vec<&str> = available_backends().iter().map(|b| b.name()).collect();
    println!("backends found: {}", found.join(", "));
    println!("backend chosen: {} (override with ITO_BACKEND)", backend()?);
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "solver {name}, {} steps + a final step to σ = 0, {schedule:?}, {param:?} model; {n} samples of a {}-component 2-D Gaussian mixture ({} f32 elements)",
        steps,
        target.weights.len(),
        n * dim
    );

    let plan = Plan::new(solver, grid, param, PlanOptions::default())?;
    let mut sampler = Sampler::<f32>::new(plan, n * dim, ito::NoiseSource::new(2024))?;
    sampler.init_noise()?;
    let mut model_out = vec![0.0f32; n * dim];
    let (mut ito_secs, mut model_secs, mut evals, mut calls) = (0.0, 0.0, 0, 0);
    while let Some(ev) = sampler.next_eval()? {
        let t = Instant::now();
        target.predict_f32(param, &ev.node, sampler.eval_input(), &mut model_out);
        model_secs += t.elapsed().as_secs_f64();
        evals += 1;
        let t = Instant::now();
        sampler.advance(model_out.as_slice().into())?;
        ito_secs += t.elapsed().as_secs_f64();
        calls += 1;
    }
    println!(
        "{evals} model evaluations; ito's fused update: {:.3} ms per call ({calls} calls, {:.2} G elements/s); the exact mixture denoiser (the 'network'): {:.1} ms per evaluation",
        ito_secs / calls as f64 * 1e3,
        (n * dim) as f64 * calls as f64 / ito_secs / 1e9,
        model_secs / evals as f64 * 1e3
    );

    let clean = ito::Node::new(0.0, 1.0, 0.0);
    let (mean, cov) = target.moments(&clean);
    let (m, c) = sample_moments(sampler.state(), dim);
    let exact = exact_sample(&target, n)?;
    let (em, ec) = sample_moments(&exact, dim);
    let (mean_err, cov_err) = (l2_distance(&m, &mean), l2_distance(&c, &cov));
    let (floor_mean, floor_cov) = (l2_distance(&em, &mean), l2_distance(&ec, &cov));
    println!("error of the mean (L2):        {mean_err:.2e}   (an exact sample of the same size: {floor_mean:.2e})");
    println!("error of the covariance (Fro): {cov_err:.2e}   (exact sample: {floor_cov:.2e})");
    println!(
        "sliced W1 (16 directions):     {:.2e}   (exact sample: {:.2e})",
        sliced_w1(&target, sampler.state()),
        sliced_w1(&target, &exact)
    );
    Ok(())
}

/// Euclidean (Frobenius for matrices) distance.
fn l2_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// An exact sample of the mixture: components assigned by stratified weights, the Gaussian
/// parts from ito's normals (stream 7, so they are independent of the sampler's).
fn exact_sample(t: &GaussianMixture, n: usize) -> Result<Vec<f32>, ito::Error> {
    let mut z = vec![0.0f32; n * t.dim];
    let key = NoiseKey {
        seed: 99,
        stream: 7,
        step: 0,
    };
    fill_normal(z.as_mut_slice().into(), 0.0, 1.0, Noise { key, offset: 0 })?;
    let mut cum = 0.0;
    let mut k = 0;
    let bounds: Vec<f64> = t
        .weights
        .iter()
        .map(|w| {
            cum += w;
            cum
        })
        .collect();
    for i in 0..n {
        let u = (i as f64 + 0.5) / n as f64;
        while k + 1 < bounds.len() && u > bounds[k] {
            k += 1;
        }
        for d in 0..t.dim {
            let j = i * t.dim + d;
            z[j] = (t.means[k][d] + t.stds[k] * z[j] as f64) as f32;
        }
    }
    Ok(z)
}

/// Mean over 16 directions of W1 between the projected samples and the exact projected
/// mixture, ∫|F_n − F|, on a fine grid.
fn sliced_w1(t: &GaussianMixture, x: &[f32]) -> f64 {
    let n = x.len() / t.dim;
    let dirs = 16;
    let mut total = 0.0;
    for k in 0..dirs {
        let a = std::f64::consts::PI * (k as f64 + 0.5) / dirs as f64;
        let u = [a.cos(), a.sin()];
        let mut p: Vec<f64> = x
            .chunks(t.dim)
            .map(|s| s[0] as f64 * u[0] + s[1] as f64 * u[1])
            .collect();
        p.sort_by(f64::total_cmp);
        let cdf = |v: f64| -> f64 {
            t.weights
                .iter()
                .zip(&t.means)
                .zip(&t.stds)
                .map(|((w, m), s)| {
                    let mu = m[0] * u[0] + m[1] * u[1];
                    w * 0.5 * (1.0 + libm::erf((v - mu) / (s * std::f64::consts::SQRT_2)))
                })
                .sum()
        };
        // Integrate |F_n − F| between consecutive sorted samples (F_n constant there),
        // with a few midpoints per interval for F, plus the two tails.
        let mut w1 = 0.0;
        let (lo, hi) = (p[0] - 4.0, p[n - 1] + 4.0);
        let mut prev = lo;
        for (i, &v) in p.iter().chain(std::iter::once(&hi)).enumerate() {
            let fn_ = i as f64 / n as f64;
            let width = v - prev;
            if width > 0.0 {
                let mid = 0.5 * (prev + v);
                w1 += width * (fn_ - cdf(mid)).abs();
            }
            prev = v;
        }
        total += w1;
    }
    total / dirs as f64
}
