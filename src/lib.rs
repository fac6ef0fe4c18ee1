//! # ito
//!
//! Fused, bit-reproducible numerical kernels for diffusion sampling and SDE integration.
//!
//! A host program evaluates its network; ito performs everything else that touches the state
//! tensor each step — the linear part of an exponential-integrator update, noise injection,
//! norms — as one pass over memory, on the best backend the machine has (AVX2+FMA, NEON,
//! scalar; CUDA for device buffers through [`runtime::cuda`]), with counter-based noise, so
//! that a result is the same to the bit on every backend, thread count and batch split.
//!
//! The loop an engine runs: a [`Plan`] (solver × grid × prediction type) says where to evaluate
//! the model; a [`Sampler`] performs each update as one fused pass.
//!
//! ```
//! use ito::{Grid, NoiseSource, Param, Plan, PlanOptions, Sampler, Schedule, Solver};
//!
//! let schedule = Schedule::vp_linear(0.1, 20.0)?;
//! let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 20)?.with_clean_end()?;
//! let solver: Solver = "dpmpp-2m".parse()?;
//! let plan = Plan::new(solver, grid, Param::Eps, PlanOptions::default())?;
//! // 4 samples of 256 elements; noise from seed 42 (stream and shard offset: NoiseSource).
//! let mut sampler = Sampler::<f32>::new(plan, 4 * 256, NoiseSource::new(42))?;
//! sampler.init_noise()?;
//! let mut eps = vec![0.0f32; 4 * 256];
//! while let Some(ev) = sampler.next_eval()? {
//!     // Your network at (α, σ) = (ev.node.alpha, ev.node.sigma); here the exact
//!     // ε-prediction for data N(0, 1), which is σ·x.
//!     for (e, &x) in eps.iter_mut().zip(sampler.eval_input()) {
//!         *e = ev.node.sigma as f32 * x;
//!     }
//!     sampler.advance(eps.as_slice().into())?;
//! }
//! let samples = sampler.state(); // draws from N(0, 1)
//! # assert!(samples.iter().all(|v| v.is_finite()));
//! # Ok::<(), ito::Error>(())
//! ```
//!
//! The crate has three layers, each importing only from those below it:
//!
//! 1. **maths** — the crate `ito-kernels` (`no_std`): each kernel's scalar definition over a lane
//!    trait, Philox, the normal transform, the reduction order;
//! 2. **[`runtime`]** — backend detection and override ([`Backend`], [`set_backend`]), the kernel
//!    entry points ([`lincomb()`], [`fill_normal()`], [`reduce()`] and `Backend`'s
//!    `brownian_tree`, `milstein`, `langevin_norms`, `langevin_step`, `ou_bank`,
//!    `lincomb_per_sample`), CPU chunking, the CUDA runtime ([`runtime::cuda`]), the noise
//!    identity ([`runtime::rng`]: [`NoiseSource`] and where each use draws) and [`Error`];
//! 3. **[`sde`]** — Brownian trees and sweeps ([`BrownianTree`], [`BrownianSweep`]), the SDE
//!    steppers, Markov-approximate fractional noise ([`sde::fbm`]); and **[`diffusion`]** —
//!    schedules, grids, the solver plans of DPM-Solver(++), DEIS, UniPC, DDIM, Euler, Heun,
//!    MRS and stochastic interpolants, the samplers, Langevin correctors and score-SDE's PC
//!    sampler ([`diffusion::langevin`]), exact reference problems.
//!
//! Everything ito's own samplers use from a lower layer is public, so an engine can write its
//! own sampler the way ito does.
#![deny(unsafe_op_in_unsafe_fn)]

/// Every code block of the README compiles and runs as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod diffusion;
pub mod runtime;
pub mod sde;

pub use diffusion::grid::{FinalNode, Grid, Spacing};
pub use diffusion::sampler::{PlanRunner, ReferenceSampler, Sampler, Storage};
pub use diffusion::schedule::{Coeffs, DiscreteVp, Node, Schedule};
pub use diffusion::solver::{
    Churn, Param, Plan, PlanOptions, Solver, SolverType, Thresholding, UniPcVariant,
};
pub use ito_kernels::lincomb::{LincombCoefs, Noise, MAX_INPUTS};
pub use ito_kernels::noise::NoiseKey;
pub use ito_kernels::reduce::SegmentStats;
pub use ito_kernels::storage::{Dtype, TensorMut, TensorRef};
pub use ito_kernels::{bf16, f16, ArgError, Problem};
pub use runtime::rng::{NoiseSource, NoiseUse};
pub use runtime::{
    available_backends, backend, fill_normal, lincomb, reduce, set_backend, Backend, Error, CHUNK,
};
pub use sde::{BrownianSweep, BrownianTree};
