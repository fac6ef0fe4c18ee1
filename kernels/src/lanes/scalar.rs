//! The scalar lane type (one lane): the definition every other backend must reproduce.

use super::{Lanes, LanesFn};
use crate::noise::NoiseKey;
use crate::storage::{bf16_from_f32, f16_from_f32};
use crate::{bf16, f16};

/// One `f32` lane. Always available; its results are the specification of every kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

impl Lanes for Scalar {
    const WIDTH: usize = 1;
    type F = f32;
    type U = u32;

    #[inline(always)]
    fn splat(self, x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn add(self, a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    fn div(self, a: f32, b: f32) -> f32 {
        a / b
    }
    #[inline(always)]
    fn sqrt(self, a: f32) -> f32 {
        libm::sqrtf(a)
    }
    #[inline(always)]
    fn fma(self, a: f32, b: f32, c: f32) -> f32 {
        libm::fmaf(a, b, c)
    }
    #[inline(always)]
    fn abs(self, a: f32) -> f32 {
        f32::from_bits(a.to_bits() & 0x7fff_ffff)
    }
    #[inline(always)]
    fn max_nan(self, m: f32, x: f32) -> f32 {
        if x > m || x.is_nan() {
            x
        } else {
            m
        }
    }
    #[inline(always)]
    fn sum_halving(self, a: f32) -> f32 {
        a
    }
    #[inline(always)]
    fn max_nan_halving(self, a: f32) -> f32 {
        a
    }

    #[inline(always)]
    fn splat_u(self, x: u32) -> u32 {
        x
    }
    #[inline(always)]
    fn index_u(self, base: u32) -> u32 {
        base
    }
    #[inline(always)]
    fn add_u(self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn sub_u(self, a: u32, b: u32) -> u32 {
        a.wrapping_sub(b)
    }
    #[inline(always)]
    fn xor_u(self, a: u32, b: u32) -> u32 {
        a ^ b
    }
    #[inline(always)]
    fn and_u(self, a: u32, b: u32) -> u32 {
        a & b
    }
    #[inline(always)]
    fn or_u(self, a: u32, b: u32) -> u32 {
        a | b
    }
    #[inline(always)]
    fn shr<const N: i32>(self, a: u32) -> u32 {
        a >> N
    }
    #[inline(always)]
    fn shl<const N: i32>(self, a: u32) -> u32 {
        a << N
    }
    #[inline(always)]
    fn eq_u(self, a: u32, b: u32) -> u32 {
        if a == b {
            u32::MAX
        } else {
            0
        }
    }
    #[inline(always)]
    fn mulhilo(self, a: u32, m: u32) -> (u32, u32) {
        let p = u64::from(a) * u64::from(m);
        ((p >> 32) as u32, p as u32)
    }
    #[inline(always)]
    fn i32_to_f32(self, a: u32) -> f32 {
        a as i32 as f32
    }
    #[inline(always)]
    fn f32_to_bits(self, a: f32) -> u32 {
        a.to_bits()
    }
    #[inline(always)]
    fn bits_to_f32(self, a: u32) -> f32 {
        f32::from_bits(a)
    }
    #[inline(always)]
    fn select(self, mask: u32, if_set: f32, if_clear: f32) -> f32 {
        f32::from_bits((mask & if_set.to_bits()) | (!mask & if_clear.to_bits()))
    }
    #[inline(always)]
    fn flag_not_below(self, acc: u32, a: f32, limit: f32) -> u32 {
        // `!(|a| < limit)`: true for NaN as well.
        acc | if a.abs() < limit { 0 } else { u32::MAX }
    }
    #[inline(always)]
    fn any_u(self, a: u32) -> bool {
        a != 0
    }
    #[inline(always)]
    fn nan_sticky(self, acc: f32, v: f32) -> f32 {
        // Plain ops, not the software fmaf of `fma`: v·0 is ±0 or NaN, exactly, and so is
        // the sum.
        acc + v * 0.0
    }

    #[inline(always)]
    fn interleave4(self, z: [f32; 4]) -> [f32; 4] {
        z
    }

    fn outlined<F: LanesFn>(self, f: F) -> F::Output {
        #[inline(never)]
        fn entry<F: LanesFn>(f: F) -> F::Output {
            f.call(Scalar)
        }
        entry(f)
    }

    fn tile_normals(self, key: &NoiseKey, first_block: u64) -> [f32; 4] {
        key.block_normals(first_block)
    }

    #[inline(always)]
    fn load_f32(self, s: &[f32]) -> f32 {
        s[0]
    }
    #[inline(always)]
    fn load_f16(self, s: &[f16]) -> f32 {
        s[0].to_f32()
    }
    #[inline(always)]
    fn load_bf16(self, s: &[bf16]) -> f32 {
        s[0].to_f32()
    }
    #[inline(always)]
    fn store_f32(self, d: &mut [f32], v: f32) {
        d[0] = v;
    }
    #[inline(always)]
    fn store_f16(self, d: &mut [f16], v: f32) {
        d[0] = f16_from_f32(v);
    }
    #[inline(always)]
    fn store_bf16(self, d: &mut [bf16], v: f32) {
        d[0] = bf16_from_f32(v);
    }
}
