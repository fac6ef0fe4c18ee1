//! Counter-based noise: Philox4x32-10 and ito's exact Box–Muller normal.
//!
//! # The stream, fixed
//!
//! The normal of global element `i` of step `step` in stream `stream` under seed `seed` is
//! a pure function of those four numbers:
//!
//! - key = (seed & 0xffffffff, seed ≫ 32); counter = (block & 0xffffffff, block ≫ 32, step,
//!   stream), block = i ≫ 2, word = i & 3 — exactly cuRAND's
//!   `curand_init(seed, (stream << 32) | step, 4·block)` + `curand4()` and PyTorch's
//!   `at::Philox4_32(seed, (stream << 32) | step, block)`, so either is an oracle for the raw
//!   words;
//! - the block's words pair as (w0, w1) → (z0, z1) and (w2, w3) → (z2, z3) by Box–Muller:
//!   radius √(−2 ln u) with u = (w_even + ½)·2⁻³² rounded once to f32 (all 32 bits used),
//!   angle 2π·((w_odd ≫ 8) | 1)/2²⁴ as an exact fixed-point fraction of a turn;
//! - ln, sin and cos are ito's own polynomials built from `+ − ×`, fma, correctly rounded `/`
//!   and `√`, so every backend returns the same bits. Within 2 ulp of an f64 evaluation on
//!   the same inputs (tests/normal_accuracy.rs).
//!
//! The largest |z| is √(66 ln 2) ≈ 6.7644 (u = 2⁻³³), as with cuRAND's 32-bit uniforms; a
//! 24-bit uniform would stop at ≈ 5.9. Golden values pinned in tests/rng_golden.rs make any
//! change to the stream fail a test.

pub use ito_kernels::noise::NoiseKey;
pub use ito_kernels::normal::{angle_numerator, box_muller, cos_sin_turn, ln, radius_uniform};
pub use ito_kernels::philox::{philox4x32, philox4x32_10};

/// The largest |z| the transform can produce: √(−2 ln 2⁻³³) = √(66 ln 2).
pub const MAX_ABS_NORMAL: f64 = 6.763_705_635_001_895;

/// The normal of global element `index` under `key` (the scalar definition; the kernels
/// produce the same bits in bulk).
pub fn normal(key: NoiseKey, index: u64) -> f32 {
    key.normal(index)
}
