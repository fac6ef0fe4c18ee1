//! Solver plans: for each diffusion sampler, the host-side (f64) bookkeeping that turns a
//! grid and the model's outputs into one fused update per model evaluation.
//!
//! A [`Plan`] is driven as a loop: [`Plan::eval`] says where the model must be evaluated
//! (which buffer, at which node), the caller puts the model output in [`Slot::Model`], and
//! [`Plan::advance`] returns the [`Call`] that performs the update — every quantity
//! expressed over the buffers, the model's parameterisation already folded in — and moves
//! on. [`Sampler`](crate::diffusion::sampler::Sampler) runs the calls with the fused kernels; [`ReferenceSampler`](crate::diffusion::sampler::ReferenceSampler)
//! runs the very same calls in f64 for tests.
//!
//! All solvers work on x̃ = x − μ when a mean μ is given (mean-reverting diffusion: MRS is
//! DPM-Solver(++) / SDE-DPM-Solver++ on x̃ with the mean-reverting schedule), and on x
//! otherwise.

mod ddim;
mod deis;
mod dpm_multistep;
mod dpm_singlestep;
mod euler;
mod expr;
mod interpolant;
mod names;
mod unipc;
mod walk;

pub use expr::{Call, Expr, Lowered, Slot, ThresholdStep, Update, HISTORY};
pub use names::SOLVER_NAMES;

use std::fmt;
use std::sync::Arc;

use crate::diffusion::grid::Grid;
use crate::diffusion::schedule::Node;
use crate::runtime::Error;
use ddim::Ddim;
use deis::Deis;
use dpm_multistep::{DpmKind, DpmMultistep};
use dpm_singlestep::DpmSinglestep;
use euler::{Euler, EulerAncestral, Heun};
use interpolant::{InterpolantOde, InterpolantSde};
use unipc::UniPc;
use walk::Walk;

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// The noise ε (diffusers' "epsilon").
    Eps,
    /// The data x₀ (diffusers' "sample").
    Data,
    /// v = α·ε − σ·x₀ (diffusers' "v_prediction").
    V,
    /// The interpolant's time derivative u = α̇·x₀ + σ̇·ε (flow matching's velocity).
    Velocity,
}

/// How a DPM-Solver weights its finite differences (diffusers' `solver_type`, plus `Taylor`).
///
/// Third-order multistep updates in diffusers, k-diffusion and DPM-Solver's reference code give
/// D₂ ≈ h²·f''/2 the weight of the φ₃ term meant for h²·f'', i.e. half the Taylor term: those
/// updates are formally second order. `Midpoint` and `Heun` keep that (to match diffusers);
/// `Taylor` gives every difference its exact φ weight, making 3M third order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SolverType {
    /// D₁ weighted by ½·φ₁ (diffusers' default).
    Midpoint,
    /// D₁ weighted by the exact φ₂ term.
    Heun,
    /// D₁ and D₂ weighted by the exact φ₂ and φ₃ terms.
    Taylor,
}

/// UniPC's B(h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UniPcVariant {
    /// B(h) = h.
    Bh1,
    /// B(h) = e^h − 1.
    Bh2,
}

/// Karras et al.'s stochastic churn (EDM Algorithm 2): before step i, noise is raised from
/// σ to σ̂ = σ·(1 + γ), γ = min(S_churn/steps, √2 − 1) when S_tmin ≤ σ ≤ S_tmax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Churn {
    /// S_churn.
    pub s_churn: f64,
    /// S_tmin (on σ/α).
    pub s_tmin: f64,
    /// S_tmax (on σ/α).
    pub s_tmax: f64,
    /// S_noise.
    pub s_noise: f64,
}

impl Churn {
    /// No churn (a deterministic sampler).
    pub const NONE: Churn = Churn {
        s_churn: 0.0,
        s_tmin: 0.0,
        s_tmax: f64::INFINITY,
        s_noise: 1.0,
    };
}

impl Default for Churn {
    fn default() -> Self {
        Churn::NONE
    }
}

/// The diffusion coefficient ε(t) of a stochastic-interpolant SDE.
pub type DiffusionFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// A sampler and its settings. Parsed from the names `cargo run --example quickstart -- list`
/// prints, or built with its settings.
///
/// ```
/// use ito::{Solver, SolverType};
/// let s: Solver = "unipc-3".parse()?;
/// assert_eq!(s.ode_order(), Some(4)); // UniPC-p with its corrector: order p + 1
/// assert!(!s.is_stochastic());
/// let sde: Solver = "sde-dpmpp-2m".parse()?;
/// assert!(sde.is_stochastic());
/// let taylor = Solver::DpmppMultistep { order: 3, solver_type: SolverType::Taylor };
/// assert_eq!(taylor.ode_order(), Some(3));
/// assert!("dpmpp-9m".parse::<Solver>().is_err()); // a typed error naming the name
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Solver {
    /// DPM-Solver (noise prediction), multistep, order 1–3.
    DpmMultistep {
        /// 1, 2 or 3.
        order: usize,
        /// Second-order form.
        solver_type: SolverType,
    },
    /// DPM-Solver++ (data prediction), multistep, order 1–3 (2M, 3M).
    DpmppMultistep {
        /// 1, 2 or 3.
        order: usize,
        /// Second-order form.
        solver_type: SolverType,
    },
    /// SDE-DPM-Solver++ (data prediction, noise from the counter), order 1–3.
    SdeDpmppMultistep {
        /// 1, 2 or 3.
        order: usize,
        /// Second-order form.
        solver_type: SolverType,
    },
    /// DPM-Solver (noise prediction), singlestep, order 1–3: the grid's nodes are also its
    /// intermediate nodes, grouped as diffusers groups them.
    DpmSinglestep {
        /// 1, 2 or 3.
        order: usize,
        /// Second-order form.
        solver_type: SolverType,
    },
    /// DPM-Solver++ singlestep (2S, 3S).
    DpmppSinglestep {
        /// 1, 2 or 3.
        order: usize,
        /// Second-order form.
        solver_type: SolverType,
    },
    /// DEIS (tAB in ρ = σ/α: the Lagrange basis in ln ρ integrated exactly), order 1–3.
    Deis {
        /// 1, 2 or 3.
        order: usize,
    },
    /// UniPC: UniP predictor with the UniC corrector, data prediction, order 1–3.
    UniPc {
        /// 1, 2 or 3.
        order: usize,
        /// B(h).
        variant: UniPcVariant,
        /// Whether the corrector runs (it costs no extra pass).
        corrector: bool,
    },
    /// DDIM with η (η = 0 deterministic, η = 1 DDPM's ancestral variance).
    Ddim {
        /// η ∈ [0, 1].
        eta: f64,
    },
    /// Euler on the probability-flow ODE in EDM's variables, with optional churn.
    Euler {
        /// Stochastic churn.
        churn: Churn,
    },
    /// Euler ancestral (k-diffusion / diffusers): σ_down step, σ_up fresh noise.
    EulerAncestral {
        /// Scale of the ancestral noise (1 = the usual sampler).
        eta: f64,
    },
    /// Heun (EDM's second-order sampler) with optional churn.
    Heun {
        /// Stochastic churn.
        churn: Churn,
    },
    /// Stochastic interpolants: the probability-flow ODE with Heun's method in t (order 2).
    InterpolantOde,
    /// Stochastic interpolants: the SDE with diffusion ε(t), Euler–Maruyama in t.
    InterpolantSde {
        /// ε(t) ≥ 0.
        diffusion: DiffusionFn,
    },
}

impl fmt::Debug for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Solver::DpmMultistep { order, solver_type } => {
                write!(f, "DpmMultistep {{ order: {order}, {solver_type:?} }}")
            }
            Solver::DpmppMultistep { order, solver_type } => {
                write!(f, "DpmppMultistep {{ order: {order}, {solver_type:?} }}")
            }
            Solver::SdeDpmppMultistep { order, solver_type } => {
                write!(f, "SdeDpmppMultistep {{ order: {order}, {solver_type:?} }}")
            }
            Solver::DpmSinglestep { order, solver_type } => {
                write!(f, "DpmSinglestep {{ order: {order}, {solver_type:?} }}")
            }
            Solver::DpmppSinglestep { order, solver_type } => {
                write!(f, "DpmppSinglestep {{ order: {order}, {solver_type:?} }}")
            }
            Solver::Deis { order } => write!(f, "Deis {{ order: {order} }}"),
            Solver::UniPc {
                order,
                variant,
                corrector,
            } => write!(
                f,
                "UniPc {{ order: {order}, {variant:?}, corrector: {corrector} }}"
            ),
            Solver::Ddim { eta } => write!(f, "Ddim {{ eta: {eta} }}"),
            Solver::Euler { churn } => write!(f, "Euler {{ {churn:?} }}"),
            Solver::EulerAncestral { eta } => write!(f, "EulerAncestral {{ eta: {eta} }}"),
            Solver::Heun { churn } => write!(f, "Heun {{ {churn:?} }}"),
            Solver::InterpolantOde => write!(f, "InterpolantOde"),
            Solver::InterpolantSde { .. } => write!(f, "InterpolantSde"),
        }
    }
}

impl Solver {
    /// The global order of convergence of the deterministic solvers as configured (None for
    /// stochastic ones). Third-order multistep DPM-Solvers are second order unless
    /// [`SolverType::Taylor`] (see there); UniPC-p with its corrector is order p + 1.
    pub fn ode_order(&self) -> Option<usize> {
        match self {
            Solver::DpmMultistep { order, solver_type }
            | Solver::DpmppMultistep { order, solver_type } => {
                Some(if *order == 3 && *solver_type != SolverType::Taylor {
                    2
                } else {
                    *order
                })
            }
            Solver::DpmSinglestep { order, .. }
            | Solver::DpmppSinglestep { order, .. }
            | Solver::Deis { order } => Some(*order),
            Solver::UniPc {
                order, corrector, ..
            } => Some(if *corrector { order + 1 } else { *order }),
            Solver::Ddim { eta } if *eta == 0.0 => Some(1),
            Solver::Euler { churn } if churn.s_churn == 0.0 => Some(1),
            Solver::Heun { churn } if churn.s_churn == 0.0 => Some(2),
            Solver::InterpolantOde => Some(2),
            _ => None,
        }
    }

    /// Whether the solver injects noise.
    pub fn is_stochastic(&self) -> bool {
        self.ode_order().is_none()
    }

    fn order(&self) -> Option<usize> {
        match self {
            Solver::DpmMultistep { order, .. }
            | Solver::DpmppMultistep { order, .. }
            | Solver::SdeDpmppMultistep { order, .. }
            | Solver::DpmSinglestep { order, .. }
            | Solver::DpmppSinglestep { order, .. }
            | Solver::Deis { order }
            | Solver::UniPc { order, .. } => Some(*order),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if let Some(o) = self.order() {
            if !(1..=3).contains(&o) {
                return Err(Error::config("order", "1, 2 or 3", o));
            }
        }
        match self {
            Solver::Ddim { eta } | Solver::EulerAncestral { eta }
                if !(eta.is_finite() && (0.0..=1.0).contains(eta)) =>
            {
                return Err(Error::config("eta", "a value in [0, 1]", eta));
            }
            Solver::Euler { churn } | Solver::Heun { churn } => {
                for (name, v) in [
                    ("churn.s_churn", churn.s_churn),
                    ("churn.s_noise", churn.s_noise),
                    ("churn.s_tmin", churn.s_tmin),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(Error::config(name, "a finite value ≥ 0", v));
                    }
                }
                if churn.s_tmax.is_nan() {
                    return Err(Error::config("churn.s_tmax", "a number", churn.s_tmax));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Settings shared by the plans.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanOptions {
    /// Lower the order over the last steps of short grids (< 15 steps), as diffusers does by
    /// default; stabilises few-step sampling.
    pub lower_order_final: bool,
    /// Always take a first-order last step.
    pub euler_at_final: bool,
    /// Dynamic thresholding of the data prediction (off by default).
    pub thresholding: Option<Thresholding>,
    /// The process reverts to a mean tensor μ (MRS on a mean-reverting schedule): the steps
    /// read μ, which the sampler then requires (`Sampler::with_mean`). Off by default.
    pub has_mean: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            lower_order_final: true,
            euler_at_final: false,
            thresholding: None,
            has_mean: false,
        }
    }
}

/// Settings of dynamic thresholding (see [`ThresholdStep`]); available where diffusers has
/// it: DPM-Solver(++) single- and multistep, SDE-DPM-Solver++, DEIS, UniPC and DDIM. It costs
/// two extra passes and a per-sample selection, since a clamp cannot fuse into a linear update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholding {
    /// The quantile of |x₀| (diffusers' default 0.995).
    pub ratio: f64,
    /// The largest threshold (diffusers' `sample_max_value`, default 1).
    pub max_value: f64,
    /// Elements per sample (the quantile is taken per sample).
    pub sample_len: usize,
}

/// Where the model must be evaluated next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// The buffer holding the point: [`Slot::State`] or [`Slot::Stage`].
    pub at: Slot,
    /// The noise level there (for churned solvers, the raised level).
    pub node: Node,
    /// The grid step (0-based).
    pub step: usize,
    /// The stage within the step (0 = at the step's start).
    pub stage: usize,
}

/// A solver family's own state and formulas (one file each); [`Plan`] drives it over the
/// shared [`Walk`].
#[derive(Clone, Debug)]
enum Family {
    DpmMultistep(DpmMultistep),
    DpmSinglestep(DpmSinglestep),
    Deis(Deis),
    UniPc(UniPc),
    Ddim(Ddim),
    Euler(Euler),
    EulerAncestral(EulerAncestral),
    Heun(Heun),
    InterpolantOde(InterpolantOde),
    InterpolantSde(InterpolantSde),
}

impl Family {
    /// The family of `solver` over `grid` (its state before the first step).
    fn of(solver: &Solver, grid: &Grid, opts: &PlanOptions) -> Family {
        let dpm = |order, solver_type, kind| DpmMultistep {
            order,
            solver_type,
            kind,
        };
        let single = |order, solver_type, kind| {
            DpmSinglestep::new(
                order,
                solver_type,
                kind,
                grid.steps(),
                opts.lower_order_final,
                grid.nodes()[grid.steps()].sigma == 0.0,
            )
        };
        match solver.clone() {
            Solver::DpmMultistep { order, solver_type } => {
                Family::DpmMultistep(dpm(order, solver_type, DpmKind::Noise))
            }
            Solver::DpmppMultistep { order, solver_type } => {
                Family::DpmMultistep(dpm(order, solver_type, DpmKind::Data))
            }
            Solver::SdeDpmppMultistep { order, solver_type } => {
                Family::DpmMultistep(dpm(order, solver_type, DpmKind::SdeData))
            }
            Solver::DpmSinglestep { order, solver_type } => {
                Family::DpmSinglestep(single(order, solver_type, DpmKind::Noise))
            }
            Solver::DpmppSinglestep { order, solver_type } => {
                Family::DpmSinglestep(single(order, solver_type, DpmKind::Data))
            }
            Solver::Deis { order } => Family::Deis(Deis { order }),
            Solver::UniPc {
                order,
                variant,
                corrector,
            } => Family::UniPc(UniPc::new(order, variant, corrector)),
            Solver::Ddim { eta } => Family::Ddim(Ddim { eta }),
            Solver::Euler { .. } => Family::Euler(Euler),
            Solver::EulerAncestral { eta } => Family::EulerAncestral(EulerAncestral { eta }),
            Solver::Heun { .. } => Family::Heun(Heun),
            Solver::InterpolantOde => Family::InterpolantOde(InterpolantOde),
            Solver::InterpolantSde { diffusion } => {
                Family::InterpolantSde(InterpolantSde { diffusion })
            }
        }
    }

    /// The update for the model output at `ev`.
    fn call(&mut self, w: &mut Walk, ev: &Eval) -> Result<Call, Error> {
        match self {
            Family::DpmMultistep(f) => f.call(w),
            Family::DpmSinglestep(f) => f.call(w),
            Family::Deis(f) => f.call(w),
            Family::UniPc(f) => f.call(w),
            Family::Ddim(f) => f.call(w),
            Family::Euler(f) => f.call(w, ev),
            Family::EulerAncestral(f) => f.call(w),
            Family::Heun(f) => f.call(w, ev),
            Family::InterpolantOde(f) => f.call(w, ev),
            Family::InterpolantSde(f) => f.call(w),
        }
    }

    /// Where stage > 0 of the current step evaluates: the next node, or for singlestep
    /// DPM-Solvers node g + j of the group.
    fn stage_node(&self, w: &Walk) -> Node {
        match self {
            Family::DpmSinglestep(f) => f.stage_node(w),
            _ => w.node(w.step + 1),
        }
    }

    /// A state the family keeps over the buffers between steps (UniPC's corrected state),
    /// whose buffers must stay untouched.
    fn live(&self) -> Option<&Expr> {
        match self {
            Family::UniPc(f) => f.last_sample.as_ref(),
            _ => None,
        }
    }

    /// Buffer `from` was renamed `to`.
    fn rename(&mut self, from: Slot, to: Slot) {
        if let Family::UniPc(f) = self {
            f.last_sample = f.last_sample.map(|l| l.rename(from, to));
        }
    }
}

/// The host side of one sampling run (see the module docs): the solver's family over the
/// shared walk along the grid.
#[derive(Clone, Debug)]
pub struct Plan {
    solver: Solver,
    family: Family,
    walk: Walk,
}

impl Plan {
    /// A plan for `solver` over `grid` with a model that predicts `param`, with `opts` (whether
    /// a mean tensor μ is given, for mean-reverting schedules, is
    /// [`PlanOptions::has_mean`]).
    ///
    /// ```
    /// use ito::{Grid, Param, Plan, PlanOptions, Schedule, Solver};
    /// let schedule = Schedule::vp_linear(0.1, 20.0)?;
    /// let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 20)?.with_clean_end()?;
    /// let solver: Solver = "dpmpp-2m".parse()?;
    /// let mut plan = Plan::new(solver, grid, Param::Eps, PlanOptions::default())?;
    /// let mut evals = 0;
    /// while plan.eval().is_some() {
    ///     plan.advance()?; // the update's coefficients (a sampler runs them as one pass)
    ///     evals += 1;
    /// }
    /// assert_eq!(evals, 21); // 20 steps uniform in λ, then one to the noise-free end
    /// # Ok::<(), ito::Error>(())
    /// ```
    pub fn new(solver: Solver, grid: Grid, param: Param, opts: PlanOptions) -> Result<Self, Error> {
        let has_mean = opts.has_mean;
        solver.validate()?;
        if let Some(th) = &opts.thresholding {
            if !matches!(
                solver,
                Solver::DpmMultistep { .. }
                    | Solver::DpmppMultistep { .. }
                    | Solver::SdeDpmppMultistep { .. }
                    | Solver::DpmSinglestep { .. }
                    | Solver::DpmppSinglestep { .. }
                    | Solver::Deis { .. }
                    | Solver::UniPc { .. }
                    | Solver::Ddim { .. }
            ) {
                return Err(Error::config(
                    "thresholding",
                    "a DPM-Solver(++), DEIS, UniPC or DDIM plan (as in diffusers)",
                    format!("{solver:?}"),
                ));
            }
            if has_mean {
                return Err(Error::config(
                    "thresholding",
                    "no mean tensor (thresholding applies to x₀ itself)",
                    "a mean",
                ));
            }
            if !(th.ratio > 0.0 && th.ratio <= 1.0) {
                return Err(Error::config(
                    "thresholding.ratio",
                    "a value in (0, 1]",
                    th.ratio,
                ));
            }
            if !(th.max_value.is_finite() && th.max_value >= 1.0) {
                return Err(Error::config(
                    "thresholding.max_value",
                    "a finite value ≥ 1",
                    th.max_value,
                ));
            }
            if th.sample_len == 0 {
                return Err(Error::config("thresholding.sample_len", "at least 1", 0));
            }
        }
        let needs_derivatives = param == Param::Velocity
            || matches!(
                solver,
                Solver::InterpolantOde | Solver::InterpolantSde { .. }
            );
        if needs_derivatives {
            let last = grid.steps();
            for (i, n) in grid.nodes().iter().enumerate() {
                if i < last && !(n.d_alpha.is_finite() && n.d_sigma.is_finite()) {
                    return Err(Error::config(
                        "grid",
                        "nodes with dα/dt and dσ/dt (velocity models and interpolant solvers need them)",
                        i,
                    ));
                }
            }
        }
        let churn = match &solver {
            Solver::Euler { churn } | Solver::Heun { churn } => *churn,
            _ => Churn::NONE,
        };
        let family = Family::of(&solver, &grid, &opts);
        Ok(Plan {
            solver,
            family,
            walk: Walk::new(param, grid, opts, churn),
        })
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.walk.grid
    }

    /// The options.
    pub fn options(&self) -> &PlanOptions {
        &self.walk.opts
    }

    /// The solver.
    pub fn solver(&self) -> &Solver {
        &self.solver
    }

    /// Whether the steps read a mean tensor μ ([`PlanOptions::has_mean`]).
    pub fn has_mean(&self) -> bool {
        self.walk.opts.has_mean
    }

    /// Whether every step has been taken.
    pub fn is_done(&self) -> bool {
        self.walk.step >= self.walk.grid.steps()
    }

    /// The grid step the next evaluation belongs to.
    pub fn step(&self) -> usize {
        self.walk.step
    }

    /// A call to run on the initial state before the first evaluation (the churn of step 0),
    /// or None.
    pub fn init(&self) -> Option<Call> {
        let (noise, _) = self.walk.churn_noise(0)?;
        Some(Call {
            out: Slot::State,
            value: Expr::of(Slot::State),
            store: None,
            noise,
            noise_step: 0,
        })
    }

    /// Where the model must be evaluated next (None once done).
    pub fn eval(&self) -> Option<Eval> {
        self.walk.eval(|w| self.family.stage_node(w))
    }

    /// The update for the model output just submitted, and the move to the next evaluation.
    pub fn advance(&mut self) -> Result<Update, Error> {
        let ev = self.eval().ok_or_else(|| {
            Error::config(
                "plan",
                "no further model output (all steps taken)",
                self.walk.step,
            )
        })?;
        let threshold = match self.walk.opts.thresholding {
            Some(th) => {
                let (x0, _) = self.walk.predictions(ev.at, &ev.node);
                let slot = self.walk.free_slot(&x0, self.family.live())?;
                self.walk.thr_slot = Some(slot);
                Some(ThresholdStep {
                    x0: Call {
                        out: slot,
                        value: x0,
                        store: None,
                        noise: 0.0,
                        noise_step: 0,
                    },
                    ratio: th.ratio,
                    max_value: th.max_value,
                    sample_len: th.sample_len,
                })
            }
            None => None,
        };
        let result = self.family_call(&ev);
        self.walk.thr_slot = None;
        let mut call = result?;
        // A history entry that would copy the thresholded prediction keeps its slot instead.
        if let (Some(t), Some((s, e))) = (&threshold, call.store) {
            if e == Expr::of(t.x0.out) {
                call.store = None;
                for h in self.walk.hist.iter_mut().filter(|h| h.slot == s) {
                    h.slot = t.x0.out;
                }
                self.family.rename(s, t.x0.out);
            }
        }
        Ok(Update { threshold, call })
    }

    /// The family's update, refused when the grid gave it coefficients that are not finite.
    fn family_call(&mut self, ev: &Eval) -> Result<Call, Error> {
        let call = self.family.call(&mut self.walk, ev)?;
        if !(call.value.is_finite()
            && call.noise.is_finite()
            && call.store.is_none_or(|(_, e)| e.is_finite()))
        {
            return Err(Error::config(
                "grid",
                "nodes that give finite solver coefficients",
                self.walk.step,
            ));
        }
        Ok(call)
    }
}
