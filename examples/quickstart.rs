//! The first thing to run: lists the backends, picks the best, and samples a 1-D Gaussian
//! N(μ, s²) (one independent sample per element) with DPM-Solver++(2M) on a VP-linear
//! schedule, each step one fused `lincomb` pass, using the exact ε-prediction of that data
//! distribution as the "network". Prints time per step, the kernel's throughput, and how far
//! the samples' mean and standard deviation land from μ and s.
//!
//! `cargo run --release --example quickstart [-- N_ELEMENTS STEPS]`

use std::time::Instant;

use ito::{available_backends, backend, fill_normal, lincomb, LincombCoefs, Noise, NoiseKey};

/// VP "linear" schedule (β from 0.1 to 20 over t ∈ [0, 1]): α(t), σ(t), λ(t) = ln(α/σ).
fn alpha_sigma(t: f64) -> (f64, f64) {
    let (b0, b1) = (0.1, 20.0);
    let log_alpha = -0.25 * t * t * (b1 - b0) - 0.5 * t * b0;
    let a = log_alpha.exp();
    (a, (1.0 - a * a).sqrt())
}

fn lambda(t: f64) -> f64 {
    let (a, s) = alpha_sigma(t);
    (a / s).ln()
}

/// t(λ) by bisection (λ is decreasing in t).
fn t_of_lambda(l: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if lambda(mid) > l {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn main() -> Result<(), ito::Error> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1 << 22);
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (mu, s) = (0.5f64, 0.8f64);

    let found: Vec<&str> = available_backends().iter().map(|b| b.name()).collect();
    println!("backends found: {}", found.join(", "));
    println!("backend chosen: {} (override with ITO_BACKEND)", backend()?);
    println!("threads: {}", rayon::current_num_threads());
    println!("sampling N(μ={mu}, s={s}) on {n} elements, DPM-Solver++(2M), {steps} steps, VP-linear, ε-model");

    // Time grid uniform in λ from t = 1 to t = 1e-3.
    let (l0, l1) = (lambda(1.0), lambda(1e-3));
    let ts: Vec<f64> = (0..=steps)
        .map(|i| t_of_lambda(l0 + (l1 - l0) * i as f64 / steps as f64))
        .collect();

    // Start from the exact marginal at t = 1, N(α₁μ, α₁²s² + σ₁²), so that the only error
    // left at the end is the solver's (and the sampling error of n draws).
    let (a1, s1) = alpha_sigma(ts[0]);
    let mut x = vec![0.0f32; n];
    let seed = NoiseKey {
        seed: 2024,
        stream: 0,
        step: 0,
    };
    let std1 = (a1 * a1 * s * s + s1 * s1).sqrt();
    fill_normal(
        x.as_mut_slice().into(),
        (a1 * mu) as f32,
        std1 as f32,
        Noise {
            key: seed,
            offset: 0,
        },
    )?;
    let mut eps = vec![0.0f32; n];
    let mut history = [vec![0.0f32; n], vec![0.0f32; n]];
    let mut h_prev = 0.0f64;
    let mut kernel_secs = 0.0f64;

    for i in 1..=steps {
        let (t_s, t_t) = (ts[i - 1], ts[i]);
        let (a_s, s_s) = alpha_sigma(t_s);
        let (a_t, s_t) = alpha_sigma(t_t);
        // The "network": the exact ε-prediction E[ε | x_s] for Gaussian data.
        let var = a_s * a_s * s * s + s_s * s_s;
        for (e, &xv) in eps.iter_mut().zip(&x) {
            *e = (s_s * (xv as f64 - a_s * mu) / var) as f32;
        }
        let h = lambda(t_t) - lambda(t_s);
        let phi = a_t * (1.0 - (-h).exp());
        // D = (1 + 1/2r)·x0_s − (1/2r)·x0_prev, r = h_prev/h; first step is first order.
        let (w0, w1) = if i == 1 {
            (1.0, 0.0)
        } else {
            (1.0 + h / (2.0 * h_prev), -h / (2.0 * h_prev))
        };
        let mut c = LincombCoefs {
            y: (s_t / s_s + phi * w0 / a_s) as f32,
            y2_y: (1.0 / a_s) as f32,
            ..Default::default()
        };
        c.inputs[0] = (-phi * w0 * s_s / a_s) as f32;
        c.inputs[1] = (phi * w1) as f32;
        c.y2_inputs[0] = (-s_s / a_s) as f32;
        // Two history slots, ping-pong: read the previous data prediction from one, write the
        // new one into the other (one pass, no copy).
        let [h0, h1] = &mut history;
        let (prev, new) = if i % 2 == 0 { (&*h0, h1) } else { (&*h1, h0) };
        let start = Instant::now();
        lincomb(
            x.as_mut_slice().into(),
            Some(new.as_mut_slice().into()),
            &[eps.as_slice().into(), prev.as_slice().into()],
            &c,
            None,
        )?;
        kernel_secs += start.elapsed().as_secs_f64();
        h_prev = h;
    }

    let (a_end, s_end) = alpha_sigma(ts[steps]);
    let (mu_end, sd_end) = (a_end * mu, (a_end * a_end * s * s + s_end * s_end).sqrt());
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let sd = (x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n as f64).sqrt();
    let per_step = kernel_secs / steps as f64;
    let bytes = 5.0 * 4.0 * n as f64; // reads x, ε, x0_prev; writes x, x0
    println!(
        "fused step: {:.3} ms, {:.2} GB/s ({:.2} G elements/s)",
        per_step * 1e3,
        bytes / per_step / 1e9,
        n as f64 / per_step / 1e9
    );
    println!(
        "at t = {:.0e}: sample mean {m:.5} (exact {mu_end:.5}, error {:.1e}); sample std {sd:.5} (exact {sd_end:.5}, error {:.1e})",
        ts[steps],
        (m - mu_end).abs(),
        (sd - sd_end).abs()
    );
    println!(
        "(sampling error of the mean alone is about {:.0e})",
        sd_end / (n as f64).sqrt()
    );
    Ok(())
}
