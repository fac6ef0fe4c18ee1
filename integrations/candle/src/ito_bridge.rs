//! Every call into ito is in this module.
//!
//! ito's `PlanRunner` runs on memory the caller owns: each step copies candle's `sample` once,
//! into the vector that becomes the returned tensor's storage (candle's `step` returns a new
//! tensor), updates it in place with the model output borrowed from candle's storage (no
//! copy), and hands the vector over. The runner keeps only the solver's history, reserved at
//! the first step.

use ito::diffusion::solver::Slot;
use ito::runtime::memory::Host;
use ito::{
    DiscreteVp, Grid, Node, NoiseSource, Param, Plan, PlanOptions, PlanRunner, Solver, UniPcVariant,
};

pub(crate) use ito::Error;

/// What the model predicts (candle's `PredictionType`, kept free of ito types outside here).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Prediction {
    Eps,
    Data,
    V,
}

/// One grid node: the time t (informational), α and σ (σ = 0 only for a noise-free end).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeSpec {
    pub t: f64,
    pub alpha: f64,
    pub sigma: f64,
}

/// ito's own check of a β table (each β in (0, 1)).
pub(crate) fn check_betas(betas: &[f64]) -> Result<(), Error> {
    DiscreteVp::from_betas(betas).map(|_| ())
}

/// An ito solver name, or one of the UniPC variants ito builds but does not name
/// (`unipc-bh1-1`, `unip-1`, `unip-bh1-2`, …: `unipc` with the corrector, `unip` without,
/// `bh1-` for B(h) = h, `bh2` otherwise, then the order).
pub(crate) fn parse_solver(name: &str) -> Result<Solver, Error> {
    let named = name.parse::<Solver>();
    if named.is_ok() {
        return named;
    }
    let (corrector, rest) = match (name.strip_prefix("unipc-"), name.strip_prefix("unip-")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return named,
    };
    let (variant, order) = match (rest.strip_prefix("bh1-"), rest.strip_prefix("bh2-")) {
        (Some(o), _) => (UniPcVariant::Bh1, o),
        (None, Some(o)) => (UniPcVariant::Bh2, o),
        _ => (UniPcVariant::Bh2, rest),
    };
    match order {
        "1" | "2" | "3" => Ok(Solver::UniPc {
            order: order.as_bytes()[0] as usize - b'0' as usize,
            variant,
            corrector,
        }),
        _ => named,
    }
}

/// A solver run over a fixed grid; the runner is made at the first step, when the element
/// count is known.
#[derive(Debug)]
pub(crate) struct Run {
    plan: Plan,
    seed: u64,
    runner: Option<PlanRunner<Host<f32>>>,
}

impl Run {
    /// Parses `solver`, validates the grid and the plan, and checks that the plan asks for
    /// exactly one model evaluation per grid step, at the state (what candle's `Scheduler`
    /// trait can express: one `step` per timestep on the sample it returned).
    pub fn new(
        solver: &str,
        nodes: &[NodeSpec],
        prediction: Prediction,
        lower_order_final: bool,
        seed: u64,
    ) -> Result<Self, Error> {
        let parsed = parse_solver(solver)?;
        let grid = Grid::from_nodes(
            nodes
                .iter()
                .map(|n| Node::new(n.t, n.alpha, n.sigma))
                .collect(),
        )?;
        let param = match prediction {
            Prediction::Eps => Param::Eps,
            Prediction::Data => Param::Data,
            Prediction::V => Param::V,
        };
        let opts = PlanOptions {
            lower_order_final,
            ..PlanOptions::default()
        };
        let plan = Plan::new(parsed, grid, param, opts)?;
        let steps = plan.grid().steps();
        let mut dry = plan.clone();
        let mut evals = 0usize;
        while let Some(ev) = dry.eval() {
            if ev.at != Slot::State || ev.stage != 0 || ev.step != evals || evals >= steps {
                return Err(Error::config(
                    "solver",
                    "a solver with one model evaluation per step, at the state (multistep \
                     DPM-Solver(++), SDE-DPM-Solver++, DEIS, UniPC, DDIM/DDPM, Euler, \
                     Euler-ancestral)",
                    solver,
                ));
            }
            dry.advance()?;
            evals += 1;
        }
        if evals != steps {
            return Err(Error::config(
                "solver",
                "one model evaluation per grid step",
                format!("{solver}: {evals} evaluations for {steps} steps"),
            ));
        }
        Ok(Run {
            plan,
            seed,
            runner: None,
        })
    }

    /// Step `k` (0-based): `sample` is the state at node k, `model` the model output there.
    /// Returns the state at node k + 1, in a new vector. Lengths are checked by the caller;
    /// ito checks them again.
    pub fn step(&mut self, k: usize, sample: &[f32], model: &[f32]) -> Result<Vec<f32>, Error> {
        if self.runner.is_none() {
            let mut runner = PlanRunner::new(
                self.plan.clone(),
                sample.len(),
                NoiseSource::new(self.seed),
                Host::new(),
            )?;
            runner.reserve(sample.into())?;
            self.runner = Some(runner);
        }
        let Some(runner) = self.runner.as_mut() else {
            return Err(Error::config("sampler", "a sampler", "none"));
        };
        if runner.len() != sample.len() {
            return Err(Error::config(
                "sample",
                "the element count of the first step",
                sample.len(),
            ));
        }
        let mut x = sample.to_vec();
        match runner.next_eval(x.as_mut_slice().into())? {
            Some(ev) if ev.step == k && ev.at == Slot::State => {}
            other => {
                return Err(Error::config(
                    "step",
                    "the plan's next evaluation",
                    format!("step {k}, plan at {other:?}"),
                ))
            }
        }
        runner.advance(x.as_mut_slice().into(), model.into())?;
        Ok(x)
    }
}
