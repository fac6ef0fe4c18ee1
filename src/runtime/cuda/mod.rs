//! The CUDA backend's host side: the argument blocks the kernels in `cuda/*.cu` take
//! ([`abi`]), how launches are shaped ([`launch`]), and the driver runtime ([`device`],
//! feature `cuda`), CUDA device memory as sampler memory (`memory`: `impl Memory for
//! CudaDevice`), and `Backend::Cuda` on host slices (`staging`, copies in and out). `abi` and `launch` are plain Rust, shared by the runtime and by the host
//! emulation that runs the same kernel sources on the CPU (`cuda/emulation`), so the
//! marshalling a GPU sees is the marshalling the tests check.

pub mod abi;
#[cfg(feature = "cuda")]
pub mod device;
pub mod launch;
#[cfg(feature = "cuda")]
mod memory;
#[cfg(feature = "cuda")]
pub(crate) mod staging;

/// The cudarc ito is built with, for streams, contexts and buffers of the same version.
#[cfg(feature = "cuda")]
pub use cudarc;
#[cfg(feature = "cuda")]
pub use device::{device_count, CudaDevice, DeviceBuffer, DeviceMut, DeviceRef};
