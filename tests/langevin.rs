//! Langevin correction: pass 1's norms equal `reduce` over the score and over the materialised
//! noise, to the bit, on every backend; the step size and the update equal an f64 reference;
//! Langevin-only sampling and the PC samplers (VP and VE, both predictors) reach a Gaussian
//! target; bad settings are typed errors.

use ito::langevin::{self, Corrector, NormMode, PcSampler, Predictor};
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
        let mut pc = PcSampler::new(
            schedule.clone(),
            400,
            1e-3,
            predictor,
            corrector,
            corrector_steps,
            n,
            1024,
            21,
        )
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
    let vp = Schedule::vp_linear(0.1, 20.0).unwrap();
    let pc = |schedule, steps, pred, corr: Option<Corrector>, k, len| {
        PcSampler::new(schedule, steps, 1e-3, pred, corr, k, 8, len, 0)
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
