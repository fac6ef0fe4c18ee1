//! Layer 3, SDE tools: Brownian paths ([`brownian`]: the virtual Brownian tree and sweeps),
//! the SDE steppers ([`steppers`]: Euler–Maruyama, Milstein, stochastic and reversible Heun)
//! the solve driver over them ([`solve`]) and Markov-approximate fractional noise ([`fbm`]).
//!
//! Written only against the public API of [`crate::runtime`]; the diffusion samplers
//! (`ito::diffusion`) sit above and draw tree noise from here, never the other way round.

pub mod brownian;
pub mod fbm;
pub mod solve;
pub mod steppers;

pub use brownian::{BrownianSweep, BrownianTree};
pub use steppers::*;
