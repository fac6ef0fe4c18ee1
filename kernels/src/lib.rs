//! `ito-kernels`: the maths of every ito kernel, written once.
//!
//! Each kernel body is generic over [`lanes::Lanes`], a small vector trait with a scalar
//! implementation (the definition) and SIMD implementations (AVX2+FMA, NEON) that must return
//! the same bits. Nothing here allocates, spawns threads or does I/O: the `ito` crate validates
//! arguments, splits work into chunks and picks the backend.
//!
//! Files: [`philox`] (the counter-based generator), [`normal`] (the exact uniform and the
//! Box–Muller transform), [`noise`] (the (seed, stream, step, element) → normal mapping and the
//! tile driver shared by every noisy elementwise kernel), [`storage`] (f32/f16/bf16 tensors),
//! and one module per kernel: [`lincomb`], [`fill_normal`], [`reduce`], [`brownian_tree`], [`milstein`], [`langevin`], [`ou_bank`].
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod brownian_tree;
pub mod error;
pub mod fill_normal;
pub mod lanes;
pub mod langevin;
pub mod lincomb;
pub mod milstein;
pub mod noise;
pub mod normal;
pub mod ou_bank;
pub mod philox;
pub mod reduce;
pub mod storage;

pub use error::{check_len, ArgError, Problem};
pub use half::{bf16, f16};
