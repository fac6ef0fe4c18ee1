//! Layer 2: dispatch and runtimes. Backend detection and override ([`backend`](mod@backend)),
//! CPU execution on rayon in fixed chunks, the kernel entry points every backend shares
//! ([`Backend::lincomb`] and its siblings), the CUDA runtime ([`cuda`]), counter-based noise
//! ([`rng`]) and the crate's [`Error`].
//!
//! This layer knows kernels, not samplers: nothing here names a solver, a schedule or a
//! sampler, and nothing here imports from `ito::sde` or `ito::diffusion` (`.ci/layers.sh`
//! checks it). Everything ito's own samplers use from this layer is public, so a user can write
//! a sampler the way ito does.

pub mod backend;
pub mod cuda;
mod error;
mod exec;
mod kernels;
pub mod memory;
pub mod rng;
pub mod threshold;

pub use backend::{available_backends, backend, set_backend, Backend};
pub use error::{first_nonfinite, try_collect, try_vec, Error, NonFiniteValue};
pub use exec::CHUNK;
pub use kernels::{fill_normal, lincomb, reduce};
pub use kernels::{OnNonFinite, Written};
pub use memory::{Host, Memory, Storage};
