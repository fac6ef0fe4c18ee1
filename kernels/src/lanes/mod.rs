//! The lane trait every kernel body is written against, and its implementations.
//!
//! A `Lanes` value is a zero-sized token: holding one proves the CPU supports the instructions
//! its methods use, so the methods themselves are safe. Each method is one IEEE operation with
//! exactly the rounding of its scalar twin (`fma` is fused, `div` and `sqrt` are correctly
//! rounded), which is what lets the SIMD backends reproduce the scalar definition bit for bit.

use crate::noise::NoiseKey;
use crate::{bf16, f16};

mod pair;
mod scalar;
pub use pair::{LanesToken, Pair};
pub use scalar::Scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
pub use neon::Neon;

/// A computation generic over the lane type: what a backend entry point runs. (Closures cannot
/// be generic, and would not be inlined into a `#[target_feature]` function anyway.)
pub trait LanesFn {
    /// What the computation returns.
    type Output;
    /// Runs on lanes `l`. Implementations should be `#[inline(always)]`.
    fn call<L: Lanes>(self, l: L) -> Self::Output;
}

/// A SIMD width's worth of `f32` and `u32` lanes, with the operations the kernels need.
///
/// Contracts every implementation keeps:
/// - float arithmetic is IEEE binary32, round to nearest even, no flush-to-zero;
/// - `fma(a, b, c)` is `a·b + c` rounded once;
/// - integer arithmetic wraps modulo 2³²;
/// - loads and stores touch exactly `WIDTH` elements at the start of the slice given, and
///   panic (never read or write out of bounds) if it is shorter;
/// - f16/bf16 stores round to nearest even and keep NaNs NaN.
pub trait Lanes: Copy {
    /// Number of lanes.
    const WIDTH: usize;
    /// `WIDTH` floats.
    type F: Copy;
    /// `WIDTH` unsigned 32-bit integers; also used as lane masks (all ones or all zeros).
    type U: Copy;

    /// Every lane `x`.
    fn splat(self, x: f32) -> Self::F;
    /// `a + b`.
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a − b`.
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a · b`.
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a / b`, correctly rounded.
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    /// `√a`, correctly rounded.
    fn sqrt(self, a: Self::F) -> Self::F;
    /// `a · b + c`, rounded once.
    fn fma(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `|a|` (clears the sign bit).
    fn abs(self, a: Self::F) -> Self::F;
    /// The running-maximum rule of `reduce`: `x` where `x > m` or `x` is NaN, else `m`.
    fn max_nan(self, m: Self::F, x: Self::F) -> Self::F;
    /// Sum of the lanes by halving: lane k += lane k + W/2, then k + W/4, …, down to lane 0.
    fn sum_halving(self, a: Self::F) -> f32;
    /// [`Lanes::max_nan`] folded over the lanes in the same halving order.
    fn max_nan_halving(self, a: Self::F) -> f32;

    /// Every lane `x`.
    fn splat_u(self, x: u32) -> Self::U;
    /// Lane k holds `base + k` (wrapping).
    fn index_u(self, base: u32) -> Self::U;
    /// `a + b` (wrapping).
    fn add_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// `a − b` (wrapping).
    fn sub_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// `a ^ b`.
    fn xor_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// `a & b`.
    fn and_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// `a | b`.
    fn or_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// Logical shift right by `N` (0 < N < 32).
    fn shr<const N: i32>(self, a: Self::U) -> Self::U;
    /// Shift left by `N` (0 < N < 32).
    fn shl<const N: i32>(self, a: Self::U) -> Self::U;
    /// All ones where `a == b`.
    fn eq_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// The 64-bit product `a · m` split into (high word, low word).
    fn mulhilo(self, a: Self::U, m: u32) -> (Self::U, Self::U);
    /// The lanes read as `i32` and converted to `f32` (callers only pass exactly
    /// representable values, |x| ≤ 2²⁴).
    fn i32_to_f32(self, a: Self::U) -> Self::F;
    /// The bits of each float.
    fn f32_to_bits(self, a: Self::F) -> Self::U;
    /// Floats from bits.
    fn bits_to_f32(self, a: Self::U) -> Self::F;
    /// `if_set` where `mask` is all ones, else `if_clear`.
    fn select(self, mask: Self::U, if_set: Self::F, if_clear: Self::F) -> Self::F;
    /// `acc` with every lane set where `a` is not below `limit` in magnitude: |a| ≥ limit, or
    /// NaN. With `limit` the storage type's overflow threshold this flags the lanes whose store
    /// is not finite (the non-finite report every pass keeps).
    fn flag_not_below(self, acc: Self::U, a: Self::F, limit: Self::F) -> Self::U;
    /// Whether any lane of `a` is non-zero.
    fn any_u(self, a: Self::U) -> bool;
    /// `acc` made NaN in every lane where `v` is not finite, unchanged elsewhere: with `acc`
    /// starting at +0 it stays +0 while every `v` is finite (v − v, or v·0, is ±0 there and
    /// +0 + ±0 = +0) and turns NaN for good at the first ±∞ or NaN. The f32 stores' part of
    /// the non-finite report: one fused multiply-add per vector on SIMD lanes.
    fn nan_sticky(self, acc: Self::F, v: Self::F) -> Self::F;

    /// Transposes four vectors that hold words 0–3 of `WIDTH` consecutive Philox blocks into
    /// element order: output vector v, lane k is input `z[(v·W + k) % 4]` at lane `(v·W + k) / 4`.
    fn interleave4(self, z: [Self::F; 4]) -> [Self::F; 4];

    /// Runs `f` in a separate, non-inlined function compiled for this lane type's
    /// instruction set. Kernels with many specialised bodies call each through this, so that
    /// no single function grows too large for the optimiser (one function holding all of
    /// `lincomb`'s bodies took minutes to compile).
    fn outlined<F: LanesFn>(self, f: F) -> F::Output;

    /// [`NoiseKey::tile_normals`]: the normals of blocks `first_block … first_block + W − 1`
    /// in element order. Implementations call [`crate::noise::tile_normals_inline`] from one
    /// non-inlined entry point compiled for their instruction set.
    fn tile_normals(self, key: &NoiseKey, first_block: u64) -> [Self::F; 4];

    /// [`Lanes::tile_normals`] for [`Pair<Self>`]: blocks `first_block … first_block + 2W − 1`.
    /// The default makes two calls; SIMD lanes override it with one entry point in which the
    /// two halves' chains interleave.
    fn pair_tile_normals(self, key: &NoiseKey, first_block: u64) -> [[Self::F; 2]; 4] {
        let a = self.tile_normals(key, first_block);
        let b = self.tile_normals(key, first_block + Self::WIDTH as u64);
        [[a[0], a[1]], [a[2], a[3]], [b[0], b[1]], [b[2], b[3]]]
    }

    /// Loads `WIDTH` f32 values.
    fn load_f32(self, s: &[f32]) -> Self::F;
    /// Loads `WIDTH` f16 values, widened exactly.
    fn load_f16(self, s: &[f16]) -> Self::F;
    /// Loads `WIDTH` bf16 values, widened exactly.
    fn load_bf16(self, s: &[bf16]) -> Self::F;
    /// Stores `WIDTH` f32 values.
    fn store_f32(self, d: &mut [f32], v: Self::F);
    /// Stores `WIDTH` values rounded to f16 (nearest even).
    fn store_f16(self, d: &mut [f16], v: Self::F);
    /// Stores `WIDTH` values rounded to bf16 (nearest even).
    fn store_bf16(self, d: &mut [bf16], v: Self::F);
}
