//! The CUDA backend's host side: the argument blocks the kernels in `cuda/*.cu` take
//! ([`abi`]) and how launches are shaped ([`launch`]). Both are plain Rust, shared by the
//! driver runtime and by the host emulation that runs the same kernel sources on the CPU
//! (`cuda/emulation`), so the marshalling a GPU would see is the marshalling the tests check.

pub mod abi;
pub mod launch;
