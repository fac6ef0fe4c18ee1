//! Order of convergence of every deterministic solver plan, measured in f64 against the exact
//! probability-flow ODE solution of a Gaussian target, over random means, widths, schedules,
//! grids and model parameterisations (proptest): the log-log slope of the final error against
//! the step count must be at least the solver's order − 0.3 and less than its order + 1
//! (a problem can cancel the leading error term, which only raises the slope).
//!
//! Grids: Karras et al.'s ρ-spacing (random ρ) for every solver, and uniform-in-λ grids for
//! solvers of order ≤ 2. On λ-uniform grids the first-order warm-up error of the third-order
//! multistep methods (O(h²), of opposite sign) partly cancels their O(h³) error at these step
//! counts, so the fitted slope wanders between 2.7 and 4.0 there (measured) although the
//! error is small; Karras grids refine where the solution bends and show the asymptote.

use ito::diffusion::problems::Gaussian;
use ito::diffusion::solver::SOLVER_NAMES;
use ito::{Grid, NoiseSource, Param, Plan, PlanOptions, ReferenceSampler, Schedule, Solver};
use proptest::prelude::*;

/// Step counts for third- and fourth-order solvers; multiples of 6, so singlestep groups of 2
/// and 3 tile the grid without a low-order tail.
const STEPS_HIGH: [usize; 4] = [96, 192, 384, 768];
/// Step counts for first- and second-order solvers: their O(h³) terms fade slowly enough
/// that coarser grids can still show slopes near 2.5.
const STEPS_LOW: [usize; 4] = [768, 1536, 3072, 6144];

fn steps_for(order: usize) -> [usize; 4] {
    if order <= 2 {
        STEPS_LOW
    } else {
        STEPS_HIGH
    }
}

#[derive(Clone, Copy, Debug)]
enum GridKind {
    Lambda,
    Karras(f64),
}

/// Start and end times used for each schedule.
fn ends(s: &Schedule) -> (f64, f64) {
    match s {
        Schedule::VpLinear { .. } => (1.0, 1e-3),
        Schedule::VpCosine { .. } => (0.99, 1e-3),
        Schedule::Ve { .. } => (1.0, 0.0),
        Schedule::Edm { .. } => (80.0, 0.002),
        Schedule::Flow => (0.999, 1e-3),
        Schedule::MeanReverting { .. } => (3.0, 1e-3),
        _ => unreachable!("not used here"),
    }
}

fn schedule(i: usize) -> Schedule {
    match i {
        0 => Schedule::vp_linear(0.1, 20.0).unwrap(),
        1 => Schedule::vp_cosine(0.008).unwrap(),
        2 => Schedule::ve(0.01, 50.0).unwrap(),
        3 => Schedule::edm(0.002, 80.0).unwrap(),
        4 => Schedule::Flow,
        _ => Schedule::mean_reverting(2.0, 1.0, 3.0).unwrap(),
    }
}

/// The final error (max over elements) of `solver` with `steps` steps.
#[allow(clippy::too_many_arguments)]
fn final_error(
    solver: &Solver,
    schedule: &Schedule,
    kind: GridKind,
    param: Param,
    g: &Gaussian,
    start_std: &[f64],
    mean: Option<&[f64]>,
    steps: usize,
) -> f64 {
    let (t0, t1) = ends(schedule);
    let grid = match kind {
        GridKind::Lambda => Grid::uniform_lambda(schedule, t0, t1, steps),
        GridKind::Karras(rho) => {
            let (a, b) = (schedule.node(t0).unwrap(), schedule.node(t1).unwrap());
            Grid::karras(schedule, b.sigma_ve(), a.sigma_ve(), rho, steps)
        }
    }
    .unwrap();
    let (first, last) = (grid.nodes()[0], grid.nodes()[steps]);
    let opts = PlanOptions {
        lower_order_final: false,
        ..PlanOptions::default()
    };
    let plan = Plan::new(
        solver.clone(),
        grid,
        param,
        PlanOptions {
            has_mean: mean.is_some(),
            ..opts
        },
    )
    .unwrap();
    // Start from standardised values of the first node's marginal.
    let x_start: Vec<f64> = start_std
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let (m, s) = g.marginal(i, &first);
            m + s * z + mean.map_or(0.0, |mu| mu[i])
        })
        .collect();
    let noise = NoiseSource {
        seed: 1,
        stream: 0,
        offset: 0,
    };
    let mut s = ReferenceSampler::new(plan, x_start.clone(), noise).unwrap();
    if let Some(mu) = mean {
        s = s.with_mean(mu.to_vec()).unwrap();
    }
    let mut out = vec![0.0; x_start.len()];
    let mut shifted = vec![0.0; x_start.len()];
    while let Some(ev) = s.next_eval().unwrap() {
        // The model sees x − μ (mean-reverting) and predicts for that process.
        for (i, v) in s.eval_input().iter().enumerate() {
            shifted[i] = v - mean.map_or(0.0, |mu| mu[i]);
        }
        g.predict(param, &ev.node, &shifted, &mut out);
        if param == Param::Data {
            if let Some(mu) = mean {
                out.iter_mut().zip(mu).for_each(|(o, m)| *o += m);
            }
        }
        s.advance(&out).unwrap();
    }
    let x0: Vec<f64> = x_start
        .iter()
        .enumerate()
        .map(|(i, v)| v - mean.map_or(0.0, |mu| mu[i]))
        .collect();
    let exact = g.ode_solution(&first, &last, &x0);
    s.state()
        .iter()
        .enumerate()
        .map(|(i, a)| (a - mean.map_or(0.0, |mu| mu[i]) - exact[i]).abs())
        .fold(0.0, f64::max)
}

/// Least-squares slope of −log(error) against log(steps) over the three finest grids (the
/// coarsest run is reported, but it is often still pre-asymptotic).
fn slope(steps: &[usize; 4], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = steps[1..].iter().map(|&n| (n as f64).ln()).collect();
    let ys: Vec<f64> = errs[1..].iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    -num / den
}

/// The deterministic solvers and their orders; diffusers' third-order multistep forms are
/// left to `third_order_multistep_as_in_diffusers_is_second_order`: their O(h²) and O(h³)
/// error terms have opposite signs and cross at problem-dependent step counts.
fn deterministic_solvers() -> Vec<(&'static str, Solver, usize)> {
    SOLVER_NAMES
        .iter()
        .filter(|n| !matches!(**n, "dpm-3m" | "dpmpp-3m"))
        .filter_map(|name| {
            let s: Solver = name.parse().unwrap();
            s.ode_order().map(|o| (*name, s, o))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_deterministic_solver_converges_at_its_order(
        mean in prop::collection::vec(-2.0f64..2.0, 3),
        std in prop::collection::vec(0.05f64..1.5, 3),
        start in prop::collection::vec(0.3f64..2.5, 3),
        sched in 0usize..6,
        param_i in 0usize..4,
        rho in 5.0f64..9.0,
        lambda_grid in any::<bool>(),
    ) {
        let g = Gaussian { mean, std };
        // Standardised start values away from the mean (which the flow would leave exact).
        let start = [start[0], -start[1], start[2]];
        let schedule = schedule(sched);
        let param = [Param::Eps, Param::Data, Param::V, Param::Velocity][param_i];
        let mr_mean = [0.7, -0.4, 1.1];
        let mean = matches!(schedule, Schedule::MeanReverting { .. }).then_some(&mr_mean[..]);
        for (name, solver, order) in deterministic_solvers() {
            let kind = if lambda_grid && order <= 2 { GridKind::Lambda } else { GridKind::Karras(rho) };
            let steps = steps_for(order);
            let errs: Vec<f64> = steps
                .iter()
                .map(|&n| final_error(&solver, &schedule, kind, param, &g, &start, mean, n))
                .collect();
            let p = slope(&steps, &errs);
            // At least the order; above it only by less than one (for some problems a
            // leading error term vanishes, e.g. DPM-Solver-2M on a centred Gaussian under the
            // flow schedule measured a slope of 2.73).
            prop_assert!(
                p >= order as f64 - 0.3 && p <= order as f64 + 1.0,
                "{name}: slope {p:.2}, order {order}, {schedule:?}, {kind:?}, {param:?}, errors {errs:?}"
            );
        }
    }
}

#[test]
fn third_order_multistep_as_in_diffusers_is_second_order() {
    // The reason `dpmpp-3m` is listed as order 2 and `dpmpp-3m-taylor` as 3: the same run,
    // only the D₂ weight differs, and only the Taylor weight gives a slope near 3.
    let g = Gaussian {
        mean: vec![0.5, -1.0],
        std: vec![0.3, 0.8],
    };
    let s = schedule(0);
    let errs = |name: &str| -> Vec<f64> {
        let solver: Solver = name.parse().unwrap();
        STEPS_HIGH
            .iter()
            .map(|&n| {
                final_error(
                    &solver,
                    &s,
                    GridKind::Karras(7.0),
                    Param::Eps,
                    &g,
                    &[0.4, -1.3],
                    None,
                    n,
                )
            })
            .collect()
    };
    let (compat, taylor) = (
        slope(&STEPS_HIGH, &errs("dpmpp-3m")),
        slope(&STEPS_HIGH, &errs("dpmpp-3m-taylor")),
    );
    assert!((compat - 2.0).abs() < 0.3, "dpmpp-3m slope {compat}");
    assert!((taylor - 3.0).abs() < 0.3, "dpmpp-3m-taylor slope {taylor}");
}
