//! Langevin correction: pass 1's norms equal `reduce` over the score and over the materialised
//! noise, to the bit, on every backend; the step size and the update equal an f64 reference;
//! Langevin-only sampling and the PC samplers (VP and VE, both predictors) reach a Gaussian
//! target; NCSN's annealed Langevin driver follows the exact moment recursion of its chain on a
//! Gaussian; denoising MCMC's Langevin–Gibbs sweep samples the joint of data and noise level;
//! bad settings are typed errors.

use ito::diffusion::langevin::{
    self, AnnealedLangevin, Corrector, LangevinGibbs, NormMode, PcSampler, Predictor,
};
use ito::{Backend, Error, Noise, NoiseKey, Schedule, SegmentStats};

fn backends() -> Vec<Backend> {
    ito::available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
        .collect()
}

fn score_values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37) % 101) as f32 / 25.0 - 2.0)
        .collect()
}

const NOISE: Noise = Noise {
    key: NoiseKey {
        seed: 9,
        stream: 4,
        step: 2,
    },
    offset: 1000,
};

#[test]
fn norms_are_reduce_of_the_score_and_of_the_regenerated_noise() {
    for (samples, sample_len) in [(3usize, 1000usize), (5, 256), (2, 70_001), (7, 13)] {
        let n = samples * sample_len;
        let score = score_values(n);
        let mut z = vec![0.0f32; n];
        ito::fill_normal(z.as_mut_slice().into(), 0.0, 1.0, NOISE).unwrap();
        let (mut rs, mut rz) = (
            vec![SegmentStats::default(); samples],
            vec![SegmentStats::default(); samples],
        );
        Backend::Scalar
            .reduce(score.as_slice().into(), None, sample_len, &mut rs)
            .unwrap();
        Backend::Scalar
            .reduce(z.as_slice().into(), None, sample_len, &mut rz)
            .unwrap();
        for b in backends() {
            let mut out = vec![Default::default(); samples];
            b.langevin_norms(score.as_slice().into(), sample_len, NOISE, &mut out)
                .unwrap();
            for k in 0..samples {
                assert_eq!(
                    out[k].score_sq.to_bits(),
                    rs[k].sum_sq.to_bits(),
                    "{b} sample {k}"
                );
                assert_eq!(
                    out[k].noise_sq.to_bits(),
                    rz[k].sum_sq.to_bits(),
                    "{b} sample {k}"
                );
            }
        }
    }
}

#[test]
fn step_size_and_update_equal_an_f64_reference() {
    let (samples, sample_len) = (4usize, 5000usize);
    let n = samples * sample_len;
    let score = score_values(n);
    let x0: Vec<f32> = (0..n)
        .map(|i| ((i * 11) % 89) as f32 / 44.0 - 1.0)
        .collect();
    let mut z = vec![0.0f32; n];
    ito::fill_normal(z.as_mut_slice().into(), 0.0, 1.0, NOISE).unwrap();
    for mode in [NormMode::PerSample, NormMode::BatchMean] {
        let c = Corrector {
            snr: 0.16,
            alpha: 0.98,
            norms: mode,
        };
        let norm = |v: &[f32]| v.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
        let (sn, zn): (Vec<f64>, Vec<f64>) = (0..samples)
            .map(|b| {
                let r = b * sample_len..(b + 1) * sample_len;
                (norm(&score[r.clone()]), norm(&z[r]))
            })
            .unzip();
        let eps_ref: Vec<f64> = match mode {
            NormMode::PerSample => (0..samples)
                .map(|b| 2.0 * c.alpha * (c.snr * zn[b] / sn[b]).powi(2))
                .collect(),
            NormMode::BatchMean => {
                let (ms, mz) = (sn.iter().sum::<f64>() / 4.0, zn.iter().sum::<f64>() / 4.0);
                vec![2.0 * c.alpha * (c.snr * mz / ms).powi(2); samples]
            }
        };
        for b in backends() {
            let mut x = x0.clone();
            let eps = langevin::langevin_step(
                b,
                x.as_mut_slice().into(),
                score.as_slice().into(),
                sample_len,
                &c,
                NOISE,
            )
            .unwrap();
            for k in 0..samples {
                assert!(
                    (eps[k] - eps_ref[k]).abs() < 1e-5 * eps_ref[k],
                    "{b} {mode:?} ε {} vs {}",
                    eps[k],
                    eps_ref[k]
                );
            }
            for i in 0..n {
                let e = eps_ref[i / sample_len];
                let r = x0[i] as f64 + e * score[i] as f64 + (2.0 * e).sqrt() * z[i] as f64;
                assert!(
                    (x[i] as f64 - r).abs() < 1e-5 * (1.0 + r.abs()),
                    "{b} {mode:?} element {i}"
                );
            }
        }
    }
}

/// Sample mean and variance of a state.
fn moments(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    (
        m,
        x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n,
    )
}

#[test]
fn langevin_alone_samples_a_gaussian() {
    // Target N(0.5, 0.7²) per element, score −(x − 0.5)/0.49; start far away.
    let (m, s) = (0.5f64, 0.7f64);
    let (samples, sample_len) = (64usize, 1024usize);
    let n = samples * sample_len;
    let mut x = vec![3.0f32; n];
    let mut score = vec![0.0f32; n];
    let c = Corrector {
        snr: 0.1,
        alpha: 1.0,
        norms: NormMode::PerSample,
    };
    for step in 0..600 {
        for (sc, &xv) in score.iter_mut().zip(&x) {
            *sc = (-(xv as f64 - m) / (s * s)) as f32;
        }
        let key = NoiseKey {
            seed: 3,
            stream: 0,
            step,
        };
        langevin::langevin_step(
            Backend::Scalar,
            x.as_mut_slice().into(),
            score.as_slice().into(),
            sample_len,
            &c,
            Noise { key, offset: 0 },
        )
        .unwrap();
    }
    let (mean, var) = moments(&x);
    // ε ≈ 2·(0.1·√1024 / (√1024/0.7))² ≈ 0.0098: bias ≈ ε/4 of the variance, plus sampling noise.
    assert!((mean - m).abs() < 0.02, "mean {mean}");
    assert!((var / (s * s) - 1.0).abs() < 0.03, "variance {var}");
}

/// The exact score of data N(m, s²) under `schedule` at time t.
fn gaussian_score(schedule: &Schedule, t: f64, x: &[f32], out: &mut [f32], m: f64, s: f64) {
    let c = schedule.coeffs(t).unwrap();
    let var = c.alpha * c.alpha * s * s + c.sigma * c.sigma;
    for (o, &xv) in out.iter_mut().zip(x) {
        *o = (-(xv as f64 - c.alpha * m) / var) as f32;
    }
}

#[test]
fn pc_samplers_reach_a_gaussian_target() {
    let (m, s) = (0.8f64, 0.5f64);
    let n = 1 << 16;
    for (schedule, predictor, corrector_steps) in [
        (
            Schedule::vp_linear(0.1, 20.0).unwrap(),
            Predictor::ReverseDiffusion,
            1,
        ),
        (
            Schedule::vp_linear(0.1, 20.0).unwrap(),
            Predictor::EulerMaruyama,
            1,
        ),
        (
            Schedule::ve(0.01, 20.0).unwrap(),
            Predictor::ReverseDiffusion,
            1,
        ),
        (
            Schedule::ve(0.01, 20.0).unwrap(),
            Predictor::EulerMaruyama,
            0,
        ),
        (Schedule::ve(0.01, 20.0).unwrap(), Predictor::None, 2),
    ] {
        let corrector = (corrector_steps > 0).then_some(Corrector {
            snr: 0.16,
            alpha: 1.0,
            norms: NormMode::BatchMean,
        });
        let mut pc = PcSampler::new(ito::diffusion::langevin::PcConfig {
            schedule: schedule.clone(),
            steps: 400,
            t_end: 1e-3,
            predictor,
            corrector,
            corrector_steps,
            len: n,
            sample_len: 1024,
            noise: ito::NoiseSource::new(21),
        })
        .unwrap();
        let mut score = vec![0.0f32; n];
        while let Some(ev) = pc.next_eval() {
            gaussian_score(&schedule, ev.t, pc.state(), &mut score, m, s);
            pc.advance(score.as_slice().into()).unwrap();
        }
        let (mean, var) = moments(pc.state());
        assert!(
            (mean - m).abs() < 0.03 && (var / (s * s) - 1.0).abs() < 0.1,
            "{schedule:?} {predictor:?} ×{corrector_steps}: mean {mean}, variance {var} (target {m}, {})",
            s * s
        );
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let cfg = |e: Error| match e {
        Error::Config { arg, .. } => arg,
        Error::Argument(a) => a.arg,
        other => panic!("{other:?}"),
    };
    let mut x = vec![0.0f32; 8];
    let s = vec![1.0f32; 8];
    let c = |snr, alpha| Corrector {
        snr,
        alpha,
        norms: NormMode::PerSample,
    };
    let step = |x: &mut [f32], c: Corrector, len| {
        langevin::langevin_step(
            Backend::Scalar,
            x.into(),
            s.as_slice().into(),
            len,
            &c,
            NOISE,
        )
    };
    assert_eq!(cfg(step(&mut x, c(f64::NAN, 1.0), 4).unwrap_err()), "snr");
    assert_eq!(cfg(step(&mut x, c(0.1, 0.0), 4).unwrap_err()), "alpha");
    assert_eq!(cfg(step(&mut x, c(0.1, 1.0), 3).unwrap_err()), "sample_len");
    assert_eq!(cfg(step(&mut x, c(0.1, 1.0), 0).unwrap_err()), "sample_len");
    // Samples with a zero or a NaN score (ε = ∞ or NaN): the first such sample is reported,
    // on every backend and every run, and no sample is written.
    let mut bad_score = score_values(64);
    bad_score[16..32].fill(0.0);
    bad_score[40] = f32::NAN;
    for backend in backends() {
        for _ in 0..20 {
            let mut x = vec![0.25f32; 64];
            let e = langevin::langevin_step(
                backend,
                x.as_mut_slice().into(),
                bad_score.as_slice().into(),
                8,
                &c(0.1, 1.0),
                NOISE,
            )
            .unwrap_err();
            match e {
                Error::Config { arg, found, .. } => {
                    assert_eq!(arg, "score");
                    assert!(found.starts_with("sample 2:"), "{backend}: {found}");
                }
                other => panic!("{backend}: {other:?}"),
            }
            assert!(x.iter().all(|&v| v == 0.25), "{backend}: x was written");
        }
    }
    let vp = Schedule::vp_linear(0.1, 20.0).unwrap();
    let pc = |schedule, steps, pred, corr: Option<Corrector>, k, len| {
        PcSampler::new(ito::diffusion::langevin::PcConfig {
            schedule,
            steps,
            t_end: 1e-3,
            predictor: pred,
            corrector: corr,
            corrector_steps: k,
            len: 8,
            sample_len: len,
            noise: ito::NoiseSource::new(0),
        })
    };
    assert_eq!(
        cfg(pc(Schedule::Flow, 10, Predictor::ReverseDiffusion, None, 0, 4).unwrap_err()),
        "schedule"
    );
    assert_eq!(
        cfg(pc(vp.clone(), 1, Predictor::ReverseDiffusion, None, 0, 4).unwrap_err()),
        "steps"
    );
    assert_eq!(
        cfg(pc(vp.clone(), 100, Predictor::None, None, 0, 4).unwrap_err()),
        "predictor"
    );
    assert_eq!(
        cfg(pc(vp.clone(), 100, Predictor::ReverseDiffusion, None, 2, 4).unwrap_err()),
        "corrector_steps"
    );
    assert_eq!(
        cfg(pc(vp.clone(), 100, Predictor::ReverseDiffusion, None, 0, 3).unwrap_err()),
        "sample_len"
    );
    assert_eq!(
        cfg(pc(vp, 20, Predictor::ReverseDiffusion, None, 0, 4).unwrap_err()),
        "steps"
    );
    let ve = Schedule::ve(0.01, 20.0).unwrap();
    let mut ok = pc(ve, 2, Predictor::ReverseDiffusion, None, 0, 4).unwrap();
    let short = vec![0.0f32; 7];
    assert_eq!(
        cfg(ok.advance(short.as_slice().into()).unwrap_err()),
        "score"
    );
    let full = vec![0.0f32; 8];
    ok.advance(full.as_slice().into()).unwrap();
    ok.advance(full.as_slice().into()).unwrap();
    assert_eq!(
        cfg(ok.advance(full.as_slice().into()).unwrap_err()),
        "advance"
    );
}

/// NCSN's annealed Langevin on data N(m, s²): the perturbed score at σ is −(x − m)/(s² + σ²),
/// so the chain is linear and its mean and variance follow an exact recursion, computed here
/// in f64 (with the N(0, σ₁²) start and the final denoising step); the sampled moments must
/// match it to sampling error.
#[test]
fn annealed_langevin_follows_its_exact_moment_recursion() {
    let (m, s) = (0.8f64, 0.5f64);
    let n = 40_000;
    let (levels, steps, epsilon) = (8usize, 50usize, 4e-3);
    let mut a = AnnealedLangevin::new(ito::diffusion::langevin::AnnealedConfig {
        levels: ito::diffusion::langevin::NoiseLevels::Geometric {
            sigma_max: 5.0,
            sigma_min: 0.05,
            levels,
        },
        steps_per_level: steps,
        epsilon,
        denoise: true,
        len: n,
        noise: ito::NoiseSource::new(11),
    })
    .unwrap();
    let (mut mean, mut var) = (0.0f64, 5.0f64 * 5.0);
    let mut score = vec![0.0f32; n];
    while let Some(at) = a.next_eval() {
        let v = s * s + at.sigma * at.sigma;
        for (o, &x) in score.iter_mut().zip(a.state()) {
            *o = (-(f64::from(x) - m) / v) as f32;
        }
        if at.level == levels {
            // x + σ_L²·score.
            let k = 1.0 - at.sigma * at.sigma / v;
            mean = m + k * (mean - m);
            var *= k * k;
        } else {
            let step = a.step_size(at.level);
            let k = 1.0 - 0.5 * step / v;
            mean = m + k * (mean - m);
            var = k * k * var + step;
        }
        a.advance(score.as_slice().into()).unwrap();
    }
    assert!(a.next_eval().is_none());
    let (got_mean, got_var) = moments(a.state());
    let se_mean = (var / n as f64).sqrt();
    assert!(
        (got_mean - mean).abs() < 5.0 * se_mean + 1e-5,
        "mean {got_mean} vs {mean}"
    );
    // Variance: sampling error √(2/n) relative, plus f32 rounding.
    assert!(
        (got_var / var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt() + 1e-4,
        "variance {got_var} vs {var}"
    );
    // And it is near the target: N(m, s²·s²/(s² + σ_L²)) after denoising.
    assert!((got_var - s * s).abs() < 0.02, "variance {got_var}");
}

/// Denoising MCMC's joint chain on p(x, σ) ∝ 1[σ ∈ [lo, hi]]·Π N(x_d; μ, s² + σ²): its σ
/// marginal is uniform and x given σ is N(μ, s² + σ²). Every chain starts at σ = hi; after the
/// sweeps the levels must be uniform and the standardised residuals unit-variance.
#[test]
fn langevin_gibbs_samples_the_joint_of_data_and_noise_level() {
    let (mu, s, lo, hi) = (0.3f64, 1.0f64, 0.1f64, 1.0f64);
    let (samples, d) = (2000usize, 4usize);
    let x0: Vec<f32> = (0..samples * d)
        .map(|i| (mu + ((i * 7) % 11) as f64 / 11.0 - 0.5) as f32)
        .collect();
    let mut chain = LangevinGibbs::new(ito::diffusion::langevin::GibbsConfig {
        x: x0,
        sample_len: d,
        t: vec![hi; samples],
        t_range: (lo, hi),
        step_x: 0.02,
        step_t: 0.004,
        noise: ito::NoiseSource::new(5),
    })
    .unwrap();
    let mut score_x = vec![0.0f32; samples * d];
    let mut score_t = vec![0.0f64; samples];
    for _ in 0..800 {
        for (b, xs) in chain.state().chunks(d).enumerate() {
            let v = s * s + chain.levels()[b].powi(2);
            for (o, &x) in score_x[b * d..(b + 1) * d].iter_mut().zip(xs) {
                *o = (-(f64::from(x) - mu) / v) as f32;
            }
        }
        chain.step_x(score_x.as_slice().into()).unwrap();
        for (b, xs) in chain.state().chunks(d).enumerate() {
            let sigma = chain.levels()[b];
            let v = s * s + sigma * sigma;
            let r2: f64 = xs.iter().map(|&x| (f64::from(x) - mu).powi(2)).sum();
            score_t[b] = -(d as f64) * sigma / v + r2 * sigma / (v * v);
        }
        chain.step_t(&score_t).unwrap();
    }
    let levels = chain.levels();
    let mean = levels.iter().sum::<f64>() / samples as f64;
    let var = levels.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / samples as f64;
    let (u_mean, u_var) = ((lo + hi) / 2.0, (hi - lo).powi(2) / 12.0);
    assert!((mean - u_mean).abs() < 0.03, "σ mean {mean} vs {u_mean}");
    assert!(
        (var / u_var - 1.0).abs() < 0.15,
        "σ variance {var} vs {u_var}"
    );
    assert!(levels.iter().all(|t| (lo..=hi).contains(t)));
    let z2: f64 = chain
        .state()
        .chunks(d)
        .zip(levels)
        .flat_map(|(xs, t)| {
            xs.iter()
                .map(move |&x| (f64::from(x) - mu).powi(2) / (s * s + t * t))
        })
        .sum::<f64>()
        / (samples * d) as f64;
    assert!(
        (z2 - 1.0).abs() < 0.05,
        "standardised residual variance {z2}"
    );
}

/// The t half alone (η_x = 0, x fixed): the levels must sample p(σ | x) ∝
/// Π N(x_d; μ, s² + σ²) on [lo, hi], a non-uniform density whose mean and variance are
/// integrated here on a fine grid. (The joint test above cannot see a wrong drift in t: there
/// the drift averages out over x.)
#[test]
fn langevin_gibbs_level_steps_sample_the_conditional_of_the_level() {
    let (mu, s, lo, hi) = (0.0f64, 0.5f64, 0.05f64, 1.5f64);
    let (samples, d) = (3000usize, 8usize);
    // Every sample has the same residuals: Σ(x − μ)² = d·(s² + 0.6²).
    let r = (s * s + 0.36f64).sqrt();
    let one: Vec<f32> = (0..d)
        .map(|i| (mu + if i % 2 == 0 { r } else { -r }) as f32)
        .collect();
    let x0: Vec<f32> = one.iter().copied().cycle().take(samples * d).collect();
    let mut chain = LangevinGibbs::new(ito::diffusion::langevin::GibbsConfig {
        x: x0,
        sample_len: d,
        t: vec![lo; samples],
        t_range: (lo, hi),
        step_x: 0.0,
        step_t: 0.002,
        noise: ito::NoiseSource::new(17),
    })
    .unwrap();
    let r2 = d as f64 * r * r;
    let log_p = |sigma: f64| {
        let v = s * s + sigma * sigma;
        -0.5 * d as f64 * v.ln() - r2 / (2.0 * v)
    };
    let mut score_t = vec![0.0f64; samples];
    let zero = vec![0.0f32; samples * d];
    for _ in 0..1500 {
        chain.step_x(zero.as_slice().into()).unwrap();
        for (b, st) in score_t.iter_mut().enumerate() {
            let sigma = chain.levels()[b];
            let v = s * s + sigma * sigma;
            *st = -(d as f64) * sigma / v + r2 * sigma / (v * v);
        }
        chain.step_t(&score_t).unwrap();
    }
    // The exact conditional moments on a grid.
    let grid: Vec<f64> = (0..=20_000)
        .map(|i| lo + (hi - lo) * i as f64 / 20_000.0)
        .collect();
    let w: Vec<f64> = grid.iter().map(|&g| log_p(g).exp()).collect();
    let z: f64 = w.iter().sum();
    let m_exact = grid.iter().zip(&w).map(|(g, w)| g * w).sum::<f64>() / z;
    let v_exact = grid
        .iter()
        .zip(&w)
        .map(|(g, w)| (g - m_exact).powi(2) * w)
        .sum::<f64>()
        / z;
    let levels = chain.levels();
    let mean = levels.iter().sum::<f64>() / samples as f64;
    let var = levels.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / samples as f64;
    assert!(
        (mean - m_exact).abs() < 0.02,
        "σ | x mean {mean} vs {m_exact}"
    );
    assert!(
        (var / v_exact - 1.0).abs() < 0.15,
        "σ | x variance {var} vs {v_exact}"
    );
}

#[test]
fn annealed_and_gibbs_settings_are_typed_errors() {
    let bad = |r: Result<AnnealedLangevin, Error>| matches!(r, Err(Error::Config { .. }));
    assert!(bad(AnnealedLangevin::new(
        ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Geometric {
                sigma_max: 1.0,
                sigma_min: 2.0,
                levels: 5
            },
            steps_per_level: 3,
            epsilon: 1e-3,
            denoise: false,
            len: 4,
            noise: ito::NoiseSource::new(0)
        }
    )));
    assert!(bad(AnnealedLangevin::new(
        ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Geometric {
                sigma_max: 2.0,
                sigma_min: 1.0,
                levels: 1
            },
            steps_per_level: 3,
            epsilon: 1e-3,
            denoise: false,
            len: 4,
            noise: ito::NoiseSource::new(0)
        }
    )));
    assert!(bad(AnnealedLangevin::new(
        ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Geometric {
                sigma_max: 2.0,
                sigma_min: 1.0,
                levels: 5
            },
            steps_per_level: 0,
            epsilon: 1e-3,
            denoise: false,
            len: 4,
            noise: ito::NoiseSource::new(0)
        }
    )));
    assert!(bad(AnnealedLangevin::new(
        ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Geometric {
                sigma_max: 2.0,
                sigma_min: 1.0,
                levels: 5
            },
            steps_per_level: 3,
            epsilon: f64::NAN,
            denoise: false,
            len: 4,
            noise: ito::NoiseSource::new(0)
        }
    )));
    assert!(bad(AnnealedLangevin::new(
        ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Given(vec![1.0, 1.0]),
            steps_per_level: 3,
            epsilon: 1e-3,
            denoise: false,
            len: 4,
            noise: ito::NoiseSource::new(0)
        }
    )));
    let mut done = AnnealedLangevin::new(ito::diffusion::langevin::AnnealedConfig {
        levels: ito::diffusion::langevin::NoiseLevels::Given(vec![1.0, 0.5]),
        steps_per_level: 1,
        epsilon: 1e-3,
        denoise: false,
        len: 2,
        noise: ito::NoiseSource::new(0),
    })
    .unwrap();
    let score = [0.0f32; 2];
    done.advance(score.as_slice().into()).unwrap();
    done.advance(score.as_slice().into()).unwrap();
    assert!(matches!(
        done.advance(score.as_slice().into()),
        Err(Error::Config { .. })
    ));
    let gibbs = |x: Vec<f32>, len, t: Vec<f64>, range, sx, st| {
        LangevinGibbs::new(ito::diffusion::langevin::GibbsConfig {
            x,
            sample_len: len,
            t,
            t_range: range,
            step_x: sx,
            step_t: st,
            noise: ito::NoiseSource::new(0),
        })
    };
    assert!(gibbs(vec![0.0; 6], 4, vec![0.5], (0.0, 1.0), 0.1, 0.1).is_err());
    assert!(gibbs(vec![0.0; 4], 2, vec![0.5], (0.0, 1.0), 0.1, 0.1).is_err());
    assert!(gibbs(vec![0.0; 4], 2, vec![0.5, 2.0], (0.0, 1.0), 0.1, 0.1).is_err());
    assert!(gibbs(vec![0.0; 4], 2, vec![0.5, 0.5], (1.0, 0.0), 0.1, 0.1).is_err());
    assert!(gibbs(vec![0.0; 4], 2, vec![0.5, 0.5], (0.0, 1.0), -0.1, 0.1).is_err());
    let mut ok = gibbs(vec![0.0; 4], 2, vec![0.5, 0.5], (0.0, 1.0), 0.1, 0.1).unwrap();
    assert!(ok.step_x([0.0f32; 3].as_slice().into()).is_err());
    assert!(ok.step_t(&[0.0]).is_err());
    assert!(ok.step_t(&[f64::NAN, 0.0]).is_err());
}
