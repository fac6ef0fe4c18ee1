//! A plan for every solver name on a small problem, shared by the tests that run every solver
//! on several kinds of memory.

use ito::diffusion::solver::Thresholding;
use ito::{Grid, Param, Plan, PlanOptions, Schedule, Solver};

/// `name`'s plan over `steps` steps (interpolants on the flow schedule with a velocity model,
/// the rest on VP-linear with an ε model), with dynamic thresholding over samples of
/// `threshold_len` elements where the solver supports it and `threshold_len` is Some.
pub fn plan_for(name: &str, steps: usize, threshold_len: Option<usize>) -> Plan {
    let solver: Solver = name.parse().expect("a solver name");
    let (grid, param) = match solver {
        Solver::InterpolantOde | Solver::InterpolantSde { .. } => {
            let f = Schedule::Flow;
            let g = Grid::uniform_t(&f, 0.999, 1e-3, steps)
                .unwrap()
                .with_clean_end()
                .unwrap();
            (g, Param::Velocity)
        }
        _ => {
            let v = Schedule::vp_linear(0.1, 20.0).unwrap();
            let g = Grid::uniform_lambda(&v, 1.0, 1e-3, steps)
                .unwrap()
                .with_clean_end()
                .unwrap();
            (g, Param::Eps)
        }
    };
    let thresholded = threshold_len.map(|sample_len| PlanOptions {
        thresholding: Some(Thresholding {
            ratio: 0.9,
            max_value: 1.5,
            sample_len,
        }),
        ..PlanOptions::default()
    });
    // Solvers that do not threshold refuse the option: plain for them.
    thresholded
        .and_then(|opts| Plan::new(solver.clone(), grid.clone(), param, opts).ok())
        .unwrap_or_else(|| Plan::new(solver, grid, param, PlanOptions::default()).unwrap())
}

/// A deterministic stand-in for a network: a fixed nonlinear function of each input value and
/// the noise level (not of the element's position, so that shards of a batch see the same
/// model).
pub fn toy_model(input: &[f32], sigma: f64, out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = (0.8 * x + 0.1).tanh() * (1.0 + sigma as f32).sqrt() - 0.05 * x;
    }
}
