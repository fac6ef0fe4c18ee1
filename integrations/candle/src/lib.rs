//! # ito-candle
//!
//! ito's diffusion samplers behind candle-transformers' stable-diffusion
//! [`Scheduler`] trait, so that a candle engine can swap its scheduler for any ito solver that
//! takes one model evaluation per timestep (DPM-Solver(++) multistep, SDE-DPM-Solver++, DEIS,
//! UniPC, DDIM/DDPM, Euler, Euler-ancestral) — each step one fused pass, stochastic solvers
//! seeded (ito's counter-based noise), which candle's own CPU RNG cannot be.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
//! use candle_transformers::models::stable_diffusion::schedulers::SchedulerConfig;
//! use ito_candle::ItoSchedulerConfig;
//!
//! // Stable Diffusion's training schedule (candle's DDIM defaults), solved by DPM-Solver++(2M).
//! let config = ItoSchedulerConfig::from_ddim("dpmpp-2m", &DDIMSchedulerConfig::default());
//! let mut scheduler = config.build(20)?;
//! let mut x = Tensor::ones((1, 4, 8, 8), candle_core::DType::F32, &Device::Cpu)?;
//! for &t in scheduler.timesteps().to_vec().iter() {
//!     let eps = (&x * 0.5)?; // your network here
//!     x = scheduler.step(&eps, t, &x)?;
//! }
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! What each [`Scheduler`] method does is candle's own behaviour for the training schedule
//! chosen (see [`Training`]); only `step` is ito's. `step` refuses (with an error, never a
//! panic) a timestep other than the next one in [`Scheduler::timesteps`], tensors that are not
//! `f32`, and shapes that differ between the sample and the model output or from the first
//! step. Errors from ito are `candle_core::Error::WrappedContext` holding the [`ito::Error`]
//! (see [`ito_error`]).

#![deny(missing_docs)]

mod ito_bridge;
mod tables;

use candle_core::{DType, Error, Result, Shape, Storage, Tensor};
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use candle_transformers::models::stable_diffusion::schedulers::{
    BetaSchedule, PredictionType, Scheduler, SchedulerConfig, TimestepSpacing,
};
use candle_transformers::models::stable_diffusion::uni_pc::{
    CorrectorConfiguration, SigmaSchedule, SolverType, TimestepSchedule, UniPCSchedulerConfig,
};

use ito_bridge::{NodeSpec, Prediction, Run};

pub use ito;

/// The discrete (DDPM β-table) training schedule of candle's DDIM, DDPM and Euler-ancestral
/// schedulers.
#[derive(Clone, Copy, Debug)]
pub struct BetaTraining {
    /// β at the first training step.
    pub beta_start: f64,
    /// β at the last training step.
    pub beta_end: f64,
    /// How β goes from `beta_start` to `beta_end`.
    pub beta_schedule: BetaSchedule,
    /// Training steps N.
    pub train_timesteps: usize,
    /// How the inference timesteps are spread over the training steps.
    pub timestep_spacing: TimestepSpacing,
    /// Added to every timestep of the `Leading` spacing.
    pub steps_offset: usize,
}

/// The VE noise level σ(t), t ∈ [0, 1], of candle's UniPC scheduler. candle's
/// `ExponentialSigmaSchedule` has private fields and only a `Default` (σ from 0.1 to 80), so
/// that is what [`From<SigmaSchedule>`] maps it to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SigmaCurve {
    /// (σ_max^{1/ρ} + (1 − t)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ.
    Karras {
        /// σ(0).
        sigma_min: f64,
        /// σ(1).
        sigma_max: f64,
        /// ρ.
        rho: f64,
    },
    /// exp(t·ln(σ_max/σ_min) + ln σ_min).
    Exponential {
        /// σ(0).
        sigma_min: f64,
        /// σ(1).
        sigma_max: f64,
    },
}

impl From<SigmaSchedule> for SigmaCurve {
    fn from(s: SigmaSchedule) -> Self {
        match s {
            SigmaSchedule::Karras(k) => SigmaCurve::Karras {
                sigma_min: k.sigma_min,
                sigma_max: k.sigma_max,
                rho: k.rho,
            },
            SigmaSchedule::Exponential(_) => SigmaCurve::Exponential {
                sigma_min: 0.1,
                sigma_max: 80.0,
            },
        }
    }
}

/// The training schedule of candle's UniPC scheduler: a VP process with α = 1/√(σ_ve² + 1),
/// σ = σ_ve·α at training step k, σ_ve from [`SigmaCurve`] at t = (k + 1)/N.
#[derive(Clone, Debug)]
pub struct SigmaTraining {
    /// σ_ve(t).
    pub sigmas: SigmaCurve,
    /// How the inference timesteps are chosen.
    pub timestep_schedule: TimestepSchedule,
    /// Training steps N.
    pub train_timesteps: usize,
}

/// Which candle scheduler's training schedule (α, σ per timestep), timesteps,
/// `init_noise_sigma` and `add_noise` the adapter reproduces.
#[derive(Clone, Debug)]
pub enum Training {
    /// candle's DDIM (and DDPM, Euler-ancestral) β table.
    Betas(BetaTraining),
    /// candle's UniPC σ curve.
    Sigmas(SigmaTraining),
}

/// Where the last step lands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FinalStep {
    /// Where candle's own scheduler lands: DDIM's ᾱ at (last timestep − ⌊N/steps⌋), floored at
    /// training step 0 (so ᾱ₀ unless `steps_offset` ≥ the step ratio); UniPC's training step 0.
    #[default]
    Candle,
    /// A noise-free end (α = 1, σ = 0): the last step returns the model's data prediction
    /// (diffusers' `set_alpha_to_one` / `final_sigmas_type = "zero"`).
    Zero,
}

/// The adapter's configuration: an ito solver by name, a training schedule, the model's
/// prediction type and the noise seed of stochastic solvers.
#[derive(Clone, Debug)]
pub struct ItoSchedulerConfig {
    /// An ito solver name (`ito::diffusion::solver::SOLVER_NAMES`), e.g. `dpmpp-2m`,
    /// `sde-dpmpp-2m`, `unipc-bh1-2`, `ddim`.
    pub solver: String,
    /// The training schedule and timestep spacing.
    pub train: Training,
    /// What the model predicts.
    pub prediction_type: PredictionType,
    /// Where the last step lands.
    pub final_step: FinalStep,
    /// Lower the multistep order over the last steps (candle's UniPC and diffusers' default).
    pub lower_order_final: bool,
    /// The seed of ito's noise (stochastic solvers only): the same seed gives the same bits.
    pub seed: u64,
}

impl Default for ItoSchedulerConfig {
    /// DPM-Solver++(2M) on candle's DDIM defaults (Stable Diffusion's training schedule).
    fn default() -> Self {
        Self::from_ddim("dpmpp-2m", &DDIMSchedulerConfig::default())
    }
}

fn prediction_of(p: PredictionType) -> Prediction {
    match p {
        PredictionType::Epsilon => Prediction::Eps,
        PredictionType::VPrediction => Prediction::V,
        PredictionType::Sample => Prediction::Data,
    }
}

impl ItoSchedulerConfig {
    /// `solver` on the training schedule, timesteps and prediction type of a candle DDIM
    /// config (its `eta` is not read: choose `ddim` or `ddpm`).
    pub fn from_ddim(solver: &str, c: &DDIMSchedulerConfig) -> Self {
        ItoSchedulerConfig {
            solver: solver.to_string(),
            train: Training::Betas(BetaTraining {
                beta_start: c.beta_start,
                beta_end: c.beta_end,
                beta_schedule: c.beta_schedule,
                train_timesteps: c.train_timesteps,
                timestep_spacing: c.timestep_spacing,
                steps_offset: c.steps_offset,
            }),
            prediction_type: c.prediction_type,
            final_step: FinalStep::Candle,
            lower_order_final: true,
            seed: 0,
        }
    }

    /// ito's UniPC for a candle UniPC config: the same order, B(h), corrector, schedule,
    /// timesteps and prediction type (solver names `unipc-…` with the corrector, `unip-…`
    /// without, `bh1-` for B(h) = h). Refused where ito has no equivalent: a corrector
    /// skipped at steps other than 0 (candle's default skips steps 0, 1 and 2; ito's UniC runs
    /// at every step or none — use `CorrectorConfiguration::new([])`) and thresholding. An
    /// order outside 1–3 is refused when the scheduler is built.
    pub fn from_unipc(c: &UniPCSchedulerConfig) -> Result<Self> {
        let corrector = match &c.corrector {
            CorrectorConfiguration::Disabled => false,
            CorrectorConfiguration::Enabled { skip_steps } => {
                if skip_steps.iter().any(|&s| s != 0) {
                    let mut skip: Vec<usize> = skip_steps.iter().copied().collect();
                    skip.sort_unstable();
                    return Err(config_err(format!(
                        "ito's UniPC runs its corrector at every step or none; candle skips it at steps {skip:?} (only step 0, which has no corrector anyway, can be skipped: use CorrectorConfiguration::new([]))"
                    )));
                }
                true
            }
        };
        if c.thresholding {
            return Err(config_err(
                "candle UniPC's thresholding (a streaming quantile over the batch) has no ito equivalent",
            ));
        }
        let solver = format!(
            "{}-{}{}",
            if corrector { "unipc" } else { "unip" },
            match c.solver_type {
                SolverType::Bh1 => "bh1-",
                SolverType::Bh2 => "",
            },
            c.solver_order
        );
        Ok(ItoSchedulerConfig {
            solver,
            train: Training::Sigmas(SigmaTraining {
                sigmas: c.sigma_schedule.into(),
                timestep_schedule: c.timestep_schedule.clone(),
                train_timesteps: c.num_training_timesteps,
            }),
            prediction_type: c.prediction_type,
            final_step: FinalStep::Candle,
            lower_order_final: c.lower_order_final,
            seed: 0,
        })
    }

    /// The same configuration with another solver.
    pub fn with_solver(mut self, solver: &str) -> Self {
        self.solver = solver.to_string();
        self
    }

    /// The same configuration with another noise seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same configuration with another final step.
    pub fn with_final_step(mut self, final_step: FinalStep) -> Self {
        self.final_step = final_step;
        self
    }
}

impl SchedulerConfig for ItoSchedulerConfig {
    fn build(&self, inference_steps: usize) -> Result<Box<dyn Scheduler>> {
        Ok(Box::new(ItoScheduler::new(self.clone(), inference_steps)?))
    }
}

/// The noise level at a training timestep, as the schedule's `add_noise` reads it.
#[derive(Clone, Debug)]
enum NoiseTable {
    /// ᾱ per training step.
    Betas(Vec<f64>),
    Sigmas(SigmaCurve, usize),
}

/// An ito solver behind candle's [`Scheduler`] trait (see the crate docs).
#[derive(Debug)]
pub struct ItoScheduler {
    config: ItoSchedulerConfig,
    timesteps: Vec<usize>,
    /// (α, σ) of each timestep's node, and of the final node last.
    nodes: Vec<(f64, f64)>,
    table: NoiseTable,
    init_noise_sigma: f64,
    run: Run,
    index: usize,
    shape: Option<Shape>,
    failed: Option<String>,
}

/// The node a last step "from a node to itself" lands on: σ scaled by 1 − 2⁻⁴⁰ (λ up by
/// ≈ 9.1e-13), since ito's grids need strictly decreasing noise. candle's scheduler steps from
/// the node to itself there (DDIM's linspace and UniPC's sigma spacings end on training step 0,
/// where candle also lands); the h → 0 update is the identity, plus UniC's correction for
/// UniPC, and an h of 9.1e-13 changes a deterministic update by about that much relative
/// (stochastic solvers add noise of √(2h)·σ ≈ 1.3e-6·σ).
fn nudged(n: NodeSpec) -> NodeSpec {
    NodeSpec {
        sigma: n.sigma * (1.0 - f64::powi(2.0, -40)),
        ..n
    }
}

fn config_err(msg: impl std::fmt::Display) -> Error {
    Error::Msg(format!("ito-candle: {msg}"))
}

fn ito_err(e: ito_bridge::Error, context: String) -> Error {
    Error::WrappedContext {
        wrapped: Box::new(e),
        context: format!("ito-candle: {context}"),
    }
}

/// The [`ito::Error`] inside an error this crate returned, if it came from ito (through any
/// context or backtrace wrapper candle adds).
pub fn ito_error(e: &Error) -> Option<&ito::Error> {
    match e {
        Error::WrappedContext { wrapped, .. } => wrapped.downcast_ref::<ito::Error>(),
        Error::Context { inner, .. } | Error::WithBacktrace { inner, .. } => ito_error(inner),
        _ => None,
    }
}

impl ItoScheduler {
    /// The scheduler for `inference_steps` steps; every configuration error (an unknown
    /// solver, a solver with several evaluations per step, a schedule whose timesteps repeat
    /// or leave the training range, β outside (0, 1)) is reported here.
    pub fn new(config: ItoSchedulerConfig, inference_steps: usize) -> Result<Self> {
        let (timesteps, mut nodes, table, init_noise_sigma) = match &config.train {
            Training::Betas(b) => {
                if b.train_timesteps < 2 {
                    return Err(config_err("train_timesteps must be at least 2"));
                }
                let betas =
                    tables::betas(b.beta_schedule, b.beta_start, b.beta_end, b.train_timesteps)
                        .map_err(config_err)?;
                ito_bridge::check_betas(&betas)
                    .map_err(|e| ito_err(e, "the training β table".into()))?;
                let abar = tables::alphas_cumprod(&betas);
                let (ts, ratio) = tables::discrete_timesteps(
                    b.timestep_spacing,
                    inference_steps,
                    b.train_timesteps,
                    b.steps_offset,
                )
                .map_err(config_err)?;
                // candle reads timestep N as N − 1 (and has no entry beyond it).
                let clamp = |k: usize| if k >= abar.len() { k - 1 } else { k };
                let node = |k: usize| -> Result<NodeSpec> {
                    let k = clamp(k);
                    let a = *abar.get(k).ok_or_else(|| {
                        config_err(format!(
                            "timestep {k} beyond the {} training steps",
                            abar.len()
                        ))
                    })?;
                    Ok(NodeSpec {
                        t: (k as f64 + 1.0) / abar.len() as f64,
                        alpha: a.sqrt(),
                        sigma: (1.0 - a).sqrt(),
                    })
                };
                let mut nodes = ts.iter().map(|&k| node(k)).collect::<Result<Vec<_>>>()?;
                if config.final_step == FinalStep::Candle {
                    let last = *ts.last().ok_or_else(|| config_err("no timesteps"))?;
                    let fin = last.saturating_sub(ratio);
                    nodes.push(if clamp(fin) == clamp(last) {
                        nudged(node(fin)?)
                    } else {
                        node(fin)?
                    });
                }
                (ts, nodes, NoiseTable::Betas(abar), 1.0)
            }
            Training::Sigmas(s) => {
                if s.train_timesteps < 2 {
                    return Err(config_err("train_timesteps must be at least 2"));
                }
                tables::check_curve(s.sigmas).map_err(config_err)?;
                let n = s.train_timesteps;
                let ts = tables::edm_timesteps(&s.timestep_schedule, s.sigmas, inference_steps, n)
                    .map_err(config_err)?;
                let node = |k: usize| {
                    let (alpha, sigma) = tables::edm_alpha_sigma(s.sigmas, k, n);
                    NodeSpec {
                        t: (k as f64 + 1.0) / n as f64,
                        alpha,
                        sigma,
                    }
                };
                let mut nodes: Vec<NodeSpec> = ts.iter().map(|&k| node(k)).collect();
                if config.final_step == FinalStep::Candle {
                    // candle's UniPC steps from the last timestep to training step 0.
                    nodes.push(if ts.last() == Some(&0) {
                        nudged(node(0))
                    } else {
                        node(0)
                    });
                }
                let init = tables::edm_alpha_sigma(s.sigmas, n, n).1;
                (ts, nodes, NoiseTable::Sigmas(s.sigmas, n), init)
            }
        };
        if config.final_step == FinalStep::Zero {
            nodes.push(NodeSpec {
                t: 0.0,
                alpha: 1.0,
                sigma: 0.0,
            });
        }
        let run = Run::new(
            &config.solver,
            &nodes,
            prediction_of(config.prediction_type),
            config.lower_order_final,
            config.seed,
        )
        .map_err(|e| {
            ito_err(
                e,
                format!(
                    "solver `{}` on {} timesteps {:?}",
                    config.solver,
                    timesteps.len(),
                    timesteps
                ),
            )
        })?;
        Ok(ItoScheduler {
            config,
            timesteps,
            nodes: nodes.iter().map(|n| (n.alpha, n.sigma)).collect(),
            table,
            init_noise_sigma,
            run,
            index: 0,
            shape: None,
            failed: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ItoSchedulerConfig {
        &self.config
    }

    /// How many steps have been taken.
    pub fn steps_taken(&self) -> usize {
        self.index
    }

    /// (α, σ) of the sample at `timestep` as the solver reads it (x = α·x₀ + σ·ε), or None if
    /// `timestep` is not one of [`Scheduler::timesteps`]. A model for tests and examples can
    /// use it, e.g. the exact ε of N(0, 1) data is σ·x.
    pub fn alpha_sigma(&self, timestep: usize) -> Option<(f64, f64)> {
        let i = self.timesteps.iter().position(|&t| t == timestep)?;
        self.nodes.get(i).copied()
    }

    /// (α, σ) of the node the last step lands on.
    pub fn final_alpha_sigma(&self) -> (f64, f64) {
        self.nodes.last().copied().unwrap_or((1.0, 0.0))
    }

    fn check_step(&self, model_output: &Tensor, timestep: usize, sample: &Tensor) -> Result<()> {
        if let Some(why) = &self.failed {
            return Err(config_err(format!(
                "an earlier step failed ({why}); build a new scheduler"
            )));
        }
        let expected = *self.timesteps.get(self.index).ok_or_else(|| {
            config_err(format!(
                "all {} steps have been taken (got timestep {timestep})",
                self.timesteps.len()
            ))
        })?;
        if timestep != expected {
            return Err(config_err(format!(
                "step {} expects timestep {expected}, got {timestep}",
                self.index
            )));
        }
        for (what, t) in [("sample", sample), ("model_output", model_output)] {
            if t.dtype() != DType::F32 {
                return Err(Error::UnexpectedDType {
                    msg: if what == "sample" {
                        "ito-candle: the sample must be f32"
                    } else {
                        "ito-candle: the model output must be f32"
                    },
                    expected: DType::F32,
                    got: t.dtype(),
                });
            }
        }
        if model_output.shape() != sample.shape() {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: model_output.shape().clone(),
                rhs: sample.shape().clone(),
                op: "ito-candle step (model_output vs sample)",
            });
        }
        if let Some(s) = &self.shape {
            if s != sample.shape() {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: sample.shape().clone(),
                    rhs: s.clone(),
                    op: "ito-candle step (sample vs the first step's)",
                });
            }
        }
        Ok(())
    }
}

/// Runs `f` on the f32 elements of `t` in row-major order: borrowed from CPU storage when the
/// tensor is contiguous, copied otherwise.
fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
        let data = cpu.as_slice::<f32>()?;
        let slice = data
            .get(start..end)
            .ok_or_else(|| config_err("tensor layout outside its storage"))?;
        return f(slice);
    }
    drop(storage);
    let v = t.flatten_all()?.to_vec1::<f32>()?;
    f(&v)
}

impl Scheduler for ItoScheduler {
    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn add_noise(&self, original: &Tensor, noise: Tensor, timestep: usize) -> Result<Tensor> {
        let (a, s) = match &self.table {
            NoiseTable::Betas(abar) => {
                let k = if timestep >= abar.len() {
                    timestep - 1
                } else {
                    timestep
                };
                let ab = *abar.get(k).ok_or_else(|| {
                    config_err(format!(
                        "add_noise: timestep {timestep} beyond the {} training steps",
                        abar.len()
                    ))
                })?;
                (ab.sqrt(), (1.0 - ab).sqrt())
            }
            NoiseTable::Sigmas(curve, n) => tables::edm_alpha_sigma(*curve, timestep, *n),
        };
        (original * a)? + (noise * s)?
    }

    fn init_noise_sigma(&self) -> f64 {
        self.init_noise_sigma
    }

    fn scale_model_input(&self, sample: Tensor, _timestep: usize) -> Result<Tensor> {
        Ok(sample)
    }

    fn step(&mut self, model_output: &Tensor, timestep: usize, sample: &Tensor) -> Result<Tensor> {
        self.check_step(model_output, timestep, sample)?;
        let k = self.index;
        let run = &mut self.run;
        let result = with_f32(sample, |x| {
            with_f32(model_output, |m| {
                let out = run
                    .step(k, x, m)
                    .map_err(|e| ito_err(e, format!("step {k} (timestep {timestep})")))?;
                Tensor::from_vec(out, sample.shape(), sample.device())
            })
        });
        match &result {
            Ok(_) => {
                self.index += 1;
                self.shape.get_or_insert_with(|| sample.shape().clone());
            }
            // A failure inside ito leaves its plan ahead of its buffers: refuse to go on.
            Err(e) if ito_error(e).is_some() => self.failed = Some(e.to_string()),
            Err(_) => {}
        }
        result
    }
}
