//! Layer 3, diffusion sampling: schedules ([`schedule`]: α, σ, λ of every diffusion family),
//! time grids ([`grid`]), the solver plans ([`solver`]: DPM-Solver(++), DEIS, UniPC, DDIM,
//! Euler, Heun, MRS, stochastic interpolants), the samplers that run them ([`sampler`]),
//! Langevin correctors and score-SDE's predictor–corrector sampler ([`langevin`]), and exact
//! reference problems ([`problems`]).
//!
//! Written only against the public API of [`crate::runtime`] and [`crate::sde`].

pub mod grid;
pub mod langevin;
pub mod problems;
pub mod sampler;
pub mod schedule;
pub mod solver;
