//! # ito
//!
//! Fused, bit-reproducible numerical kernels for diffusion sampling and SDE integration.
//!
//! A host program evaluates its network; ito performs everything else that touches the state
//! tensor each step — the linear part of an exponential-integrator update, noise injection,
//! norms — as one pass over memory, on the best backend the machine has (AVX2+FMA, NEON,
//! scalar; CUDA for device buffers through [`cuda`]), with counter-based noise, so that a result is the same to the bit on every
//! backend, thread count and batch split.
//!
//! ```
//! use ito::{lincomb, LincombCoefs, Noise, NoiseKey};
//!
//! // x ← 0.9·x + 0.1·ε + 0.05·N(seed 7, stream 0, step 3, element i): one fused pass.
//! let mut x = vec![1.0f32; 1000];
//! let eps = vec![0.5f32; 1000];
//! let mut c = LincombCoefs { y: 0.9, noise: 0.05, ..Default::default() };
//! c.inputs[0] = 0.1;
//! let noise = Noise { key: NoiseKey { seed: 7, stream: 0, step: 3 }, offset: 0 };
//! lincomb(x.as_mut_slice().into(), None, &[eps.as_slice().into()], &c, Some(noise)).unwrap();
//! ```
//!
//! Modules: [`rng`] (Philox and the normal transform), [`backend`](mod@backend) (detection, override,
//! dispatch), the kernels [`lincomb()`], [`fill_normal()`], [`reduce()`]; and the sampling
//! layer built on them: [`schedule`] (α, σ, λ of every diffusion family), [`grid`] (time
//! grids), [`solver`] (the plans of DPM-Solver(++), DEIS, UniPC, DDIM, Euler, Heun, MRS,
//! stochastic interpolants), [`sampler`] (running a plan with the fused kernels, or in f64)
//! and [`problems`] (exact reference problems); and for SDEs: [`brownian`] (a virtual
//! Brownian tree), [`sde`] (Euler–Maruyama, Milstein, stochastic and reversible Heun),
//! [`langevin`] (the two-pass corrector and score-SDE's PC sampler) and [`fbm`]
//! (Markov-approximate fractional Brownian motion); [`cuda`]: the CUDA backend (argument
//! blocks, launch shapes, and with the `cuda` feature the driver runtime and device
//! buffers). `Backend` also exposes the kernels
//! `brownian_tree`, `milstein`, `langevin_norms` and `ou_bank` directly.
#![deny(unsafe_op_in_unsafe_fn)]

/// Every code block of the README compiles and runs as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod diffusion;
pub mod runtime;
pub mod sde;

pub use diffusion::grid::{FinalNode, Grid, Spacing};
pub use diffusion::sampler::{ReferenceSampler, Sampler, Storage};
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
