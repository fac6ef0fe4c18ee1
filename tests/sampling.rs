//! Solver plans run end to end: stochastic samplers reach a Gaussian target in distribution
//! (weak convergence) and approach the ODE as their noise vanishes; the f32 kernels follow
//! the f64 reference runs of every solver, in every storage type; every backend gives the
//! same bits; bad configurations are typed errors.

use std::sync::Arc;

use ito::diffusion::problems::Gaussian;
use ito::diffusion::solver::SOLVER_NAMES;
use ito::{
    available_backends, bf16, f16, Backend, Churn, Error, Grid, Node, NoiseSource, Param, Plan,
    PlanOptions, ReferenceSampler, Sampler, Schedule, Solver, SolverType, Storage,
};

fn vp_grid(steps: usize) -> Grid {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    Grid::uniform_lambda(&s, 1.0, 1e-3, steps)
        .unwrap()
        .with_clean_end()
        .unwrap()
}

/// Samples the target with `solver` on `grid` (f32 kernels, `n` elements); returns the
/// sample mean and variance.
fn sample_moments(solver: Solver, grid: Grid, schedule_mean: Option<f64>, n: usize) -> (f64, f64) {
    let (m, s) = (0.7, 0.4);
    let mu = schedule_mean.unwrap_or(0.0);
    // The model predicts for x̃ = x − μ, whose data mean is m − μ.
    let g = Gaussian {
        mean: vec![m - mu],
        std: vec![s],
    };
    let param = if matches!(solver, Solver::InterpolantSde { .. }) {
        Param::Velocity
    } else {
        Param::Eps
    };
    let plan = Plan::new(
        solver,
        grid,
        param,
        PlanOptions {
            has_mean: schedule_mean.is_some(),
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let mut sampler = Sampler::<f32>::new(plan, n, ito::NoiseSource::new(5)).unwrap();
    if let Some(mu) = schedule_mean {
        sampler = sampler.with_mean(vec![mu as f32; n]).unwrap();
    }
    sampler.init_noise().unwrap();
    let mut out = vec![0.0f32; n];
    let mut shifted = vec![0.0f32; n];
    while let Some(ev) = sampler.next_eval().unwrap() {
        for (d, &x) in shifted.iter_mut().zip(sampler.eval_input()) {
            *d = x - mu as f32;
        }
        g.predict_f32(param, &ev.node, &shifted, &mut out);
        sampler.advance(out.as_slice().into()).unwrap();
    }
    let x = sampler.state();
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    (mean, var)
}

/// The stochastic samplers of the crate, each on the grid family it is meant for with
/// `steps` steps, and the mean of a mean-reverting process where it has one.
fn stochastic_cases(steps: usize) -> Vec<(&'static str, Solver, Grid, Option<f64>)> {
    let flow = Schedule::Flow;
    let mr = Schedule::mean_reverting(2.0, 1.0, 3.0).unwrap();
    vec![
        (
            "sde-dpmpp-1",
            "sde-dpmpp-1".parse().unwrap(),
            vp_grid(steps),
            None,
        ),
        (
            "sde-dpmpp-2m",
            "sde-dpmpp-2m".parse().unwrap(),
            vp_grid(steps),
            None,
        ),
        (
            "sde-dpmpp-3m",
            "sde-dpmpp-3m".parse().unwrap(),
            vp_grid(steps),
            None,
        ),
        ("ddpm", "ddpm".parse().unwrap(), vp_grid(steps), None),
        ("euler-a", "euler-a".parse().unwrap(), vp_grid(steps), None),
        (
            "edm-churn",
            "edm-churn".parse().unwrap(),
            vp_grid(steps).to_ve(),
            None,
        ),
        (
            "mean-reverting sde-dpmpp-2m",
            "sde-dpmpp-2m".parse().unwrap(),
            Grid::uniform_lambda(&mr, 3.0, 1e-3, steps)
                .unwrap()
                .with_clean_end()
                .unwrap(),
            Some(-1.3),
        ),
        (
            "interpolant-sde",
            Solver::InterpolantSde {
                diffusion: Arc::new(|t: f64| t),
            },
            Grid::uniform_t(&flow, 0.999, 1e-3, steps).unwrap(),
            None,
        ),
    ]
}

#[test]
fn stochastic_samplers_converge_weakly_to_the_gaussian_target() {
    // Weak convergence: with 400 steps the sample mean and variance of 2^16 draws match the
    // target's (within 5 standard errors plus a small discretisation allowance), and the
    // variance error of 100 steps is either already that small or at least halves.
    let n = 1 << 16;
    let (m, s) = (0.7f64, 0.4f64);
    let (se_mean, se_var) = (s / (n as f64).sqrt(), s * s * (2.0 / n as f64).sqrt());
    let errors = |steps: usize| -> Vec<(&'static str, f64, f64, String)> {
        stochastic_cases(steps)
            .into_iter()
            .map(|(name, solver, grid, mean)| {
                let last = grid.nodes()[grid.steps()];
                let (sm, sv) = sample_moments(solver, grid, mean, n);
                // The exact marginal at the last node (the data for a noise-free end).
                let g = Gaussian {
                    mean: vec![m - mean.unwrap_or(0.0)],
                    std: vec![s],
                };
                let (em, esd) = g.marginal(0, &last);
                let em = em + mean.unwrap_or(0.0);
                let msg = format!(
                    "{name} ({steps} steps): mean {sm:.5} (exact {em:.5}), variance {sv:.5} (exact {:.5})",
                    esd * esd
                );
                (name, (sm - em).abs(), (sv - esd * esd).abs(), msg)
            })
            .collect()
    };
    let (coarse, fine) = (errors(100), errors(400));
    let tol_var = 5.0 * se_var + 6e-3;
    for ((_, _, dv_c, msg_c), (_, dm, dv, msg)) in coarse.iter().zip(&fine) {
        assert!(*dm < 5.0 * se_mean + 2e-3 && *dv < tol_var, "{msg}");
        assert!(
            *dv_c < tol_var || *dv < 0.5 * dv_c,
            "no weak convergence: {msg_c}; {msg}"
        );
    }
}

/// Final f64 state of `solver` from a fixed start on the exact Gaussian.
fn reference_run(solver: Solver, grid: Grid, param: Param) -> Vec<f64> {
    let g = Gaussian {
        mean: vec![0.5, -1.0, 2.0],
        std: vec![0.3, 1.0, 0.5],
    };
    let x: Vec<f64> = vec![0.4, -1.1, 0.9];
    let plan = Plan::new(solver, grid, param, PlanOptions::default()).unwrap();
    let noise = NoiseSource {
        seed: 3,
        stream: 0,
        offset: 0,
    };
    let mut s = ReferenceSampler::new(plan, x, noise).unwrap();
    let mut out = vec![0.0; 3];
    while let Some(ev) = s.next_eval().unwrap() {
        g.predict(param, &ev.node, s.eval_input(), &mut out);
        s.advance(&out).unwrap();
    }
    s.state().to_vec()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn stochastic_samplers_approach_the_ode_as_the_noise_vanishes() {
    let flow = Schedule::Flow;
    let fgrid = Grid::uniform_t(&flow, 0.999, 1e-3, 50).unwrap();
    let sde = |k: f64| Solver::InterpolantSde {
        diffusion: Arc::new(move |_| k),
    };
    let ode = reference_run(sde(0.0), fgrid.clone(), Param::Velocity);
    // Noise of size √ε: the distance to the ε = 0 path shrinks like √ε.
    let d: Vec<f64> = [1e-2, 1e-4, 1e-6]
        .iter()
        .map(|&k| max_diff(&reference_run(sde(k), fgrid.clone(), Param::Velocity), &ode))
        .collect();
    assert!(
        d[0] > 3.0 * d[1] && d[1] > 3.0 * d[2] && d[2] < 1e-2,
        "{d:?}"
    );

    let grid = vp_grid(30);
    let ddim0 = reference_run(Solver::Ddim { eta: 0.0 }, grid.clone(), Param::Eps);
    let d: Vec<f64> = [1e-1, 1e-2, 1e-3]
        .iter()
        .map(|&eta| {
            max_diff(
                &reference_run(Solver::Ddim { eta }, grid.clone(), Param::Eps),
                &ddim0,
            )
        })
        .collect();
    assert!(
        d[0] > 3.0 * d[1] && d[1] > 3.0 * d[2] && d[2] < 1e-2,
        "DDIM η: {d:?}"
    );

    // Euler ancestral with η = 0 is Euler; Heun with zero churn is Heun.
    let euler = reference_run("euler".parse().unwrap(), grid.clone(), Param::Eps);
    let ea0 = reference_run(
        Solver::EulerAncestral { eta: 0.0 },
        grid.clone(),
        Param::Eps,
    );
    assert!(max_diff(&euler, &ea0) < 1e-12);
    let heun = reference_run("heun".parse().unwrap(), grid.clone(), Param::Eps);
    let d: Vec<f64> = [1.0, 1e-2, 1e-4]
        .iter()
        .map(|&c| {
            let churn = Churn {
                s_churn: c,
                ..Churn::NONE
            };
            max_diff(
                &reference_run(Solver::Heun { churn }, grid.clone(), Param::Eps),
                &heun,
            )
        })
        .collect();
    assert!(d[0] > 3.0 * d[1] && d[1] > 3.0 * d[2], "EDM churn: {d:?}");
}

/// Runs `solver` with the f32 kernels in storage `S` and in f64 from the same start; returns
/// the largest difference relative to the state's scale.
fn kernel_vs_reference<S: Storage>(
    name: &str,
    to_f64: fn(S) -> f64,
    from_f64: fn(f64) -> S,
) -> f64 {
    let solver: Solver = name.parse().unwrap();
    let (schedule, grid, param) = match solver {
        Solver::InterpolantOde | Solver::InterpolantSde { .. } => {
            let f = Schedule::Flow;
            let g = Grid::uniform_t(&f, 0.999, 1e-3, 12)
                .unwrap()
                .with_clean_end()
                .unwrap();
            (f, g, Param::Velocity)
        }
        _ => {
            let v = Schedule::vp_linear(0.1, 20.0).unwrap();
            let g = Grid::uniform_lambda(&v, 1.0, 1e-3, 12)
                .unwrap()
                .with_clean_end()
                .unwrap();
            (v, g, Param::Eps)
        }
    };
    let _ = schedule;
    let n = 4099;
    let g = Gaussian {
        mean: vec![0.5, -1.0, 2.0, 0.1, -0.3],
        std: vec![0.3, 1.0, 0.5, 0.8, 0.05],
    };
    let plan = Plan::new(solver, grid, param, PlanOptions::default()).unwrap();
    let mut k = Sampler::<S>::new(plan.clone(), n, ito::NoiseSource::new(9)).unwrap();
    k.init_noise().unwrap();
    let start: Vec<f64> = k.state().iter().map(|&v| to_f64(v)).collect();
    let noise = NoiseSource {
        seed: 9,
        stream: 0,
        offset: 0,
    };
    let mut r = ReferenceSampler::new(plan, start, noise).unwrap();
    let (mut out_k, mut out_r) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut out_s: Vec<S> = vec![from_f64(0.0); n];
    loop {
        let (ek, er) = (k.next_eval().unwrap(), r.next_eval().unwrap());
        assert_eq!(ek.is_some(), er.is_some());
        let (Some(ek), Some(er)) = (ek, er) else {
            break;
        };
        let xk: Vec<f64> = k.eval_input().iter().map(|&v| to_f64(v)).collect();
        g.predict(param, &ek.node, &xk, &mut out_k);
        for (d, v) in out_s.iter_mut().zip(&out_k) {
            *d = from_f64(*v);
        }
        k.advance(S::tensor(&out_s)).unwrap();
        g.predict(param, &er.node, r.eval_input(), &mut out_r);
        r.advance(&out_r).unwrap();
    }
    k.state()
        .iter()
        .zip(r.state())
        .map(|(&a, &b)| (to_f64(a) - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn f32_kernels_follow_the_f64_reference_for_every_solver() {
    for name in SOLVER_NAMES {
        let e = kernel_vs_reference::<f32>(name, |v| v as f64, |v| v as f32);
        assert!(e < 2e-5, "{name}: f32 kernels differ by {e:e}");
    }
}

#[test]
fn half_precision_storage_follows_the_reference_to_its_rounding() {
    for name in [
        "dpmpp-2m",
        "unipc-3",
        "sde-dpmpp-2m",
        "heun",
        "euler-a",
        "dpm-3s",
    ] {
        // Storage rounds to 2^-11 (f16) or 2^-8 (bf16) relative; finite differences of stored
        // predictions amplify it (most in the noise-prediction singlestep DPM-Solver-3).
        // Bound: 64 storage epsilons.
        let e = kernel_vs_reference::<f16>(name, |v| v.to_f64(), f16::from_f64);
        assert!(e < 64.0 * f16::EPSILON.to_f64(), "{name} f16: {e:e}");
        let e = kernel_vs_reference::<bf16>(name, |v| v.to_f64(), bf16::from_f64);
        assert!(e < 64.0 * bf16::EPSILON.to_f64(), "{name} bf16: {e:e}");
    }
}

#[test]
fn every_backend_gives_the_same_bits() {
    let n = 10_007;
    let g = Gaussian {
        mean: vec![0.5, -1.0, 2.0],
        std: vec![0.3, 1.0, 0.5],
    };
    for name in [
        "dpmpp-2m",
        "unipc-3",
        "sde-dpmpp-3m",
        "edm-churn",
        "dpmpp-3s",
        "euler-a",
    ] {
        let mut results: Vec<(Backend, Vec<u32>)> = Vec::new();
        for b in available_backends()
            .into_iter()
            .filter(|b| *b != Backend::Cuda)
        {
            let plan = Plan::new(
                name.parse().unwrap(),
                vp_grid(8),
                Param::Eps,
                PlanOptions::default(),
            )
            .unwrap();
            let mut s = Sampler::<f32>::new(plan, n, ito::NoiseSource::new(77))
                .unwrap()
                .with_backend(b)
                .unwrap();
            s.init_noise().unwrap();
            let mut out = vec![0.0f32; n];
            while let Some(ev) = s.next_eval().unwrap() {
                g.predict_f32(Param::Eps, &ev.node, s.eval_input(), &mut out);
                s.advance(out.as_slice().into()).unwrap();
            }
            results.push((b, s.state().iter().map(|v| v.to_bits()).collect()));
        }
        for (b, bits) in &results[1..] {
            assert!(
                bits == &results[0].1,
                "{name}: {b} differs from {}",
                results[0].0
            );
        }
    }
}

fn config_arg(e: Error) -> &'static str {
    match e {
        Error::Config { arg, .. } => arg,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bad_configurations_are_typed_errors() {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let g = || Grid::uniform_lambda(&s, 1.0, 1e-3, 10).unwrap();
    let plan = |solver: Solver| Plan::new(solver, g(), Param::Eps, PlanOptions::default());
    // Orders outside 1–3.
    for order in [0, 4] {
        let e = plan(Solver::DpmppMultistep {
            order,
            solver_type: SolverType::Midpoint,
        })
        .unwrap_err();
        assert_eq!(config_arg(e), "order");
        assert_eq!(
            config_arg(plan(Solver::Deis { order }).unwrap_err()),
            "order"
        );
    }
    assert_eq!(
        config_arg(plan(Solver::Ddim { eta: 1.5 }).unwrap_err()),
        "eta"
    );
    assert_eq!(
        config_arg(plan(Solver::EulerAncestral { eta: f64::NAN }).unwrap_err()),
        "eta"
    );
    let churn = Churn {
        s_noise: -1.0,
        ..Churn::NONE
    };
    assert_eq!(
        config_arg(plan(Solver::Heun { churn }).unwrap_err()),
        "churn.s_noise"
    );
    assert_eq!(
        config_arg("dpmpp-9m".parse::<Solver>().unwrap_err()),
        "solver"
    );
    // Empty, one-node, non-monotone and non-finite grids.
    assert_eq!(config_arg(Grid::from_nodes(vec![]).unwrap_err()), "grid");
    assert_eq!(
        config_arg(Grid::from_nodes(vec![Node::new(1.0, 0.1, 0.9)]).unwrap_err()),
        "grid"
    );
    let backwards = vec![Node::new(0.1, 0.9, 0.1), Node::new(1.0, 0.1, 0.9)];
    assert_eq!(config_arg(Grid::from_nodes(backwards).unwrap_err()), "grid");
    let nan = vec![Node::new(1.0, 0.1, f64::NAN), Node::new(0.1, 0.9, 0.1)];
    assert_eq!(config_arg(Grid::from_nodes(nan).unwrap_err()), "grid");
    let zero_first = vec![Node::new(1.0, 0.1, 0.0), Node::new(0.1, 0.9, 0.1)];
    assert_eq!(
        config_arg(Grid::from_nodes(zero_first).unwrap_err()),
        "grid"
    );
    assert_eq!(
        config_arg(Grid::uniform_lambda(&s, 1.0, 1e-3, 0).unwrap_err()),
        "steps"
    );
    assert_eq!(
        config_arg(Grid::from_times(&s, &[1.0, 1.0]).unwrap_err()),
        "grid"
    );
    // Schedules.
    assert_eq!(
        config_arg(Schedule::vp_linear(20.0, 0.1).unwrap_err()),
        "beta_max"
    );
    assert_eq!(
        config_arg(Schedule::vp_linear(f64::NAN, 20.0).unwrap_err()),
        "beta_min"
    );
    assert_eq!(
        config_arg(Schedule::ve(f64::INFINITY, 50.0).unwrap_err()),
        "sigma_min"
    );
    assert_eq!(
        config_arg(Schedule::ve(0.01, f64::NAN).unwrap_err()),
        "sigma_max"
    );
    assert_eq!(
        config_arg(Schedule::mean_reverting(0.0, 1.0, 1.0).unwrap_err()),
        "theta"
    );
    assert_eq!(config_arg(s.node(1.5).unwrap_err()), "t");
    assert_eq!(config_arg(s.node(f64::NAN).unwrap_err()), "t");
    assert_eq!(config_arg(s.t_of_lambda(-100.0).unwrap_err()), "lambda");
    assert_eq!(
        config_arg(ito::DiscreteVp::from_betas(&[0.1, 1.5]).unwrap_err()),
        "betas"
    );
    assert_eq!(
        config_arg(
            ito::diffusion::grid::discrete_timesteps(1000, ito::Spacing::Linspace, 0, 0)
                .unwrap_err()
        ),
        "steps"
    );
    // Velocity models need the nodes' derivatives.
    let no_derivs =
        Grid::from_nodes(vec![Node::new(1.0, 0.1, 0.9), Node::new(0.1, 0.9, 0.1)]).unwrap();
    let e = Plan::new(
        "dpmpp-2m".parse().unwrap(),
        no_derivs,
        Param::Velocity,
        PlanOptions::default(),
    )
    .unwrap_err();
    assert_eq!(config_arg(e), "grid");
    // Thresholding: only where diffusers has it, with sane settings, on whole samples.
    let th = |ratio: f64, max_value: f64, sample_len: usize| PlanOptions {
        thresholding: Some(ito::Thresholding {
            ratio,
            max_value,
            sample_len,
        }),
        ..PlanOptions::default()
    };
    let with =
        |solver: &str, o: PlanOptions| Plan::new(solver.parse().unwrap(), g(), Param::Eps, o);
    assert_eq!(
        config_arg(with("heun", th(0.9, 1.5, 4)).unwrap_err()),
        "thresholding"
    );
    assert_eq!(
        config_arg(with("dpmpp-2m", th(0.0, 1.5, 4)).unwrap_err()),
        "thresholding.ratio"
    );
    assert_eq!(
        config_arg(with("dpmpp-2m", th(0.9, 0.5, 4)).unwrap_err()),
        "thresholding.max_value"
    );
    assert_eq!(
        config_arg(with("dpmpp-2m", th(0.9, 1.5, 0)).unwrap_err()),
        "thresholding.sample_len"
    );
    // A sample length that does not divide n is refused where it is given: at construction.
    let sm = Sampler::<f32>::new(
        with("dpmpp-2m", th(0.9, 1.5, 5)).unwrap(),
        16,
        ito::NoiseSource::new(0),
    );
    assert_eq!(config_arg(sm.unwrap_err()), "thresholding.sample_len");
    // Sampler misuse: wrong lengths, a missing mean, a step too many.
    let mut sm = Sampler::<f32>::new(
        plan("dpmpp-2m".parse().unwrap()).unwrap(),
        16,
        ito::NoiseSource::new(0),
    )
    .unwrap();
    let short = vec![0.0f32; 15];
    assert!(matches!(
        sm.advance(short.as_slice().into()),
        Err(Error::Argument(_))
    ));
    let with_mean = Plan::new(
        "dpmpp-2m".parse().unwrap(),
        g(),
        Param::Eps,
        PlanOptions {
            has_mean: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let mut sm = Sampler::<f32>::new(with_mean, 16, ito::NoiseSource::new(0)).unwrap();
    let out = vec![0.0f32; 16];
    assert_eq!(
        config_arg(sm.advance(out.as_slice().into()).unwrap_err()),
        "mean"
    );
    let mut done = ReferenceSampler::new(
        plan("ddim".parse().unwrap()).unwrap(),
        vec![0.0; 4],
        NoiseSource {
            seed: 0,
            stream: 0,
            offset: 0,
        },
    )
    .unwrap();
    while done.next_eval().unwrap().is_some() {
        done.advance(&[0.0; 4]).unwrap();
    }
    assert_eq!(config_arg(done.advance(&[0.0; 4]).unwrap_err()), "plan");
}

/// Dynamic thresholding of a sample whose |x₀| quantile falls between two infinities: torch's
/// quantile gives ∞ + w·(∞ − ∞) = NaN and the sample becomes NaN; ito did the same arithmetic
/// and then panicked in `clamp` on the NaN bound (found by the solvers fuzz target).
#[test]
fn thresholding_an_infinite_sample_makes_it_nan_without_a_panic() {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&s, 1.0, 1e-3, 4).unwrap();
    let opts = PlanOptions {
        thresholding: Some(ito::Thresholding {
            ratio: 0.9,
            max_value: 1.5,
            sample_len: 4,
        }),
        ..PlanOptions::default()
    };
    let plan = Plan::new("dpmpp-2m".parse().unwrap(), grid, Param::Eps, opts).unwrap();
    // Sample 0: two infinite ε, so the 0.9 quantile of four |x₀| interpolates between ∞ and ∞.
    let inf = f32::INFINITY;
    let eps = [inf, 0.5, -inf, 0.25, 0.5, -0.5, 2.0, 0.1];
    let x = [0.3f32, -0.2, 1.0, 0.7, -1.1, 0.4, 0.0, 2.0];
    // IEEE propagation, as torch (by default the NaN would be a typed error: tests/nonfinite.rs).
    let mut sampler = Sampler::<f32>::new(plan.clone(), 8, ito::NoiseSource::new(3))
        .unwrap()
        .with_nonfinite(ito::runtime::OnNonFinite::Propagate);
    sampler.state_mut().copy_from_slice(&x);
    sampler.next_eval().unwrap();
    sampler.advance(eps.as_slice().into()).unwrap();
    let noise = NoiseSource {
        seed: 3,
        stream: 0,
        offset: 0,
    };
    let x64 = x.iter().map(|&v| f64::from(v)).collect();
    let mut reference = ReferenceSampler::new(plan, x64, noise).unwrap();
    reference.next_eval().unwrap();
    let eps64: Vec<f64> = eps.iter().map(|&v| f64::from(v)).collect();
    reference.advance(&eps64).unwrap();
    for (i, (&x, &r)) in sampler.state().iter().zip(reference.state()).enumerate() {
        if i < 4 {
            assert!(x.is_nan() && r.is_nan(), "element {i}: {x}, {r}");
        } else {
            assert!(x.is_finite() && r.is_finite(), "element {i}: {x}, {r}");
        }
    }
}

#[test]
fn tree_noise_drives_the_stochastic_samplers() {
    // SDE-DPM-Solver++(2M) and Euler-ancestral with a Brownian tree over t ∈ [0, 1] as the
    // noise source: the f32 kernels follow the f64 runner, every backend gives the same bits,
    // and the samples still reach the Gaussian target.
    let tree = ito::BrownianTree::new(ito::NoiseSource::new(31).with_stream(50), 0.0, 1.0)
        .and_then(|t| t.with_depth(12))
        .unwrap();
    let g = Gaussian {
        mean: vec![0.7],
        std: vec![0.4],
    };
    for name in ["sde-dpmpp-2m", "euler-a"] {
        let plan = Plan::new(
            name.parse().unwrap(),
            vp_grid(100),
            Param::Eps,
            PlanOptions::default(),
        )
        .unwrap();
        let n = 1 << 14;
        let mut bits: Vec<Vec<u32>> = Vec::new();
        let mut finals = Vec::new();
        for b in available_backends()
            .into_iter()
            .filter(|b| *b != Backend::Cuda)
        {
            let mut s = Sampler::<f32>::new(plan.clone(), n, ito::NoiseSource::new(4))
                .unwrap()
                .with_backend(b)
                .unwrap()
                .with_tree_noise(tree)
                .unwrap();
            s.init_noise().unwrap();
            let mut out = vec![0.0f32; n];
            while let Some(ev) = s.next_eval().unwrap() {
                g.predict_f32(Param::Eps, &ev.node, s.eval_input(), &mut out);
                s.advance(out.as_slice().into()).unwrap();
            }
            bits.push(s.state().iter().map(|v| v.to_bits()).collect());
            finals.push(s.state().to_vec());
        }
        assert!(
            bits.windows(2).all(|w| w[0] == w[1]),
            "{name}: backends differ with tree noise"
        );
        let x = &finals[0];
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // 2^14 draws: 5 standard errors ≈ 0.016 (mean) and 0.009 (variance); Euler-ancestral's
        // first-order variance bias at 100 steps is ≈ 0.014 on this target.
        assert!(
            (mean - 0.7).abs() < 0.016 && (var - 0.16).abs() < 0.025,
            "{name}: mean {mean}, var {var}"
        );

        // Against the f64 runner on a few elements from the same start.
        let small = 257;
        let mut k = Sampler::<f32>::new(plan.clone(), small, ito::NoiseSource::new(4))
            .unwrap()
            .with_tree_noise(tree)
            .unwrap();
        k.init_noise().unwrap();
        let start: Vec<f64> = k.state().iter().map(|&v| v as f64).collect();
        let noise = NoiseSource {
            seed: 4,
            stream: 0,
            offset: 0,
        };
        let mut r = ReferenceSampler::new(plan.clone(), start, noise)
            .unwrap()
            .with_tree_noise(tree)
            .unwrap();
        let (mut ok, mut or) = (vec![0.0f32; small], vec![0.0f64; small]);
        while let (Some(ek), Some(er)) = (k.next_eval().unwrap(), r.next_eval().unwrap()) {
            g.predict_f32(Param::Eps, &ek.node, k.eval_input(), &mut ok);
            k.advance(ok.as_slice().into()).unwrap();
            g.predict(Param::Eps, &er.node, r.eval_input(), &mut or);
            r.advance(&or).unwrap();
        }
        let e = k
            .state()
            .iter()
            .zip(r.state())
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(
            e < 1e-4,
            "{name}: f32 kernels vs f64 runner with tree noise: {e}"
        );
    }
    // A tree that does not cover the grid is a typed error, where it is given.
    let short = ito::BrownianTree::new(ito::NoiseSource::new(31).with_stream(50), 0.5, 1.0)
        .and_then(|t| t.with_depth(8))
        .unwrap();
    let plan = Plan::new(
        "euler-a".parse().unwrap(),
        vp_grid(10),
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap();
    let err = Sampler::<f32>::new(plan, 8, ito::NoiseSource::new(4))
        .unwrap()
        .with_tree_noise(short)
        .unwrap_err();
    assert!(matches!(err, Error::Config { arg: "tree", .. }), "{err:?}");
}

#[test]
fn given_noise_replaces_the_counter_in_the_same_pass() {
    // Handing a sampler, step by step, the very normals its counter draws for that step
    // (another implementation's generator in real use) gives the counter's run to the bit on
    // every backend: the normals enter the pass as one more input, with the noise coefficient.
    let g = Gaussian {
        mean: vec![0.7],
        std: vec![0.4],
    };
    for name in [
        "sde-dpmpp-2m",
        "sde-dpmpp-3m",
        "euler-a",
        "ddpm",
        "dpmpp-2m",
    ] {
        let plan = Plan::new(
            name.parse().unwrap(),
            vp_grid(12),
            Param::Eps,
            PlanOptions::default(),
        )
        .unwrap();
        let n = 1003;
        let source = NoiseSource::new(8).with_offset(77);
        let run = |backend: Backend, given: bool| -> Vec<u32> {
            let mut s = Sampler::<f32>::new(plan.clone(), n, source)
                .unwrap()
                .with_backend(backend)
                .unwrap();
            s.init_noise().unwrap();
            let (mut out, mut z) = (vec![0.0f32; n], vec![0.0f32; n]);
            while let Some(ev) = s.next_eval().unwrap() {
                g.predict_f32(Param::Eps, &ev.node, s.eval_input(), &mut out);
                if given {
                    let at = source
                        .noise(ito::NoiseUse::Step, ev.step as u32, n)
                        .unwrap();
                    ito::fill_normal(z.as_mut_slice().into(), 0.0, 1.0, at).unwrap();
                    s.advance_with_noise(out.as_slice().into(), z.as_slice().into())
                        .unwrap();
                } else {
                    s.advance(out.as_slice().into()).unwrap();
                }
            }
            s.state().iter().map(|v| v.to_bits()).collect()
        };
        for b in available_backends()
            .into_iter()
            .filter(|b| *b != Backend::Cuda)
        {
            assert_eq!(run(b, true), run(b, false), "{name} on {b:?}");
        }
        // Other normals give another run (the given tensor is read, not ignored).
        let mut s = Sampler::<f32>::new(plan.clone(), n, source).unwrap();
        s.init_noise().unwrap();
        let mut out = vec![0.0f32; n];
        let ones = vec![1.0f32; n];
        while let Some(ev) = s.next_eval().unwrap() {
            g.predict_f32(Param::Eps, &ev.node, s.eval_input(), &mut out);
            s.advance_with_noise(out.as_slice().into(), ones.as_slice().into())
                .unwrap();
        }
        let moved: Vec<u32> = s.state().iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            moved == run(Backend::Scalar, false),
            name == "dpmpp-2m",
            "{name}: given normals are used exactly when the solver adds noise"
        );
    }
    // A noise tensor of the wrong length is refused, naming it.
    let plan = Plan::new(
        "euler-a".parse().unwrap(),
        vp_grid(4),
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap();
    let mut s = Sampler::<f32>::new(plan, 16, NoiseSource::new(1)).unwrap();
    let out = vec![0.0f32; 16];
    let short = vec![0.0f32; 15];
    let e = s
        .advance_with_noise(out.as_slice().into(), short.as_slice().into())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Argument(a) if a.arg == "noise"),
        "{e:?}"
    );
}
