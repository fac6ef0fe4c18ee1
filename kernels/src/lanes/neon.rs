//! NEON lanes (4 × f32) on aarch64, written with `std::arch` intrinsics.
//!
//! NEON is part of the aarch64 baseline, so the token is free to make. `vfmaq_f32` is a fused
//! multiply-add, `vdivq_f32` and `vsqrtq_f32` are correctly rounded, and aarch64 does not
//! flush subnormals by default. f16 conversions go lane by lane through the scalar path:
//! the half-precision vector types are not stable in Rust yet.

use core::arch::aarch64::*;

use super::{Lanes, Scalar};
use crate::noise::{tile_normals_inline, NoiseKey};
use crate::{bf16, f16};

/// Four f32 lanes on NEON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Neon(());

impl Neon {
    /// The token (NEON is always present on aarch64).
    #[inline(always)]
    pub fn new() -> Self {
        Neon(())
    }
}

impl super::LanesToken for Neon {
    #[inline(always)]
    fn run_with<F: super::LanesFn>(self, f: F) -> F::Output {
        f.call(self)
    }
}

// SAFETY (for every `unsafe` block in this impl that calls an intrinsic): NEON is mandatory on
// aarch64, the only architecture this file is compiled for. Blocks that also dereference
// pointers state the length check that keeps the access in bounds.
impl Lanes for Neon {
    const WIDTH: usize = 4;
    type F = float32x4_t;
    type U = uint32x4_t;

    #[inline(always)]
    fn splat(self, x: f32) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vsqrtq_f32(a) }
    }
    #[inline(always)]
    fn fma(self, a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline. vfmaq_f32(c, a, b) = c + a·b, rounded once.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    fn abs(self, a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vabsq_f32(a) }
    }
    #[inline(always)]
    fn max_nan(self, m: float32x4_t, x: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe {
            let gt = vcgtq_f32(x, m);
            let x_is_nan = vmvnq_u32(vceqq_f32(x, x));
            vbslq_f32(vorrq_u32(gt, x_is_nan), x, m)
        }
    }
    #[inline(always)]
    fn sum_halving(self, a: float32x4_t) -> f32 {
        // SAFETY: NEON baseline.
        unsafe {
            let h = vadd_f32(vget_low_f32(a), vget_high_f32(a));
            vget_lane_f32::<0>(h) + vget_lane_f32::<1>(h)
        }
    }
    #[inline(always)]
    fn max_nan_halving(self, a: float32x4_t) -> f32 {
        let mut v = [0.0f32; 4];
        // SAFETY: NEON baseline; `v` has room for 4 floats.
        unsafe { vst1q_f32(v.as_mut_ptr(), a) };
        let s = Scalar;
        s.max_nan(s.max_nan(v[0], v[2]), s.max_nan(v[1], v[3]))
    }

    #[inline(always)]
    fn splat_u(self, x: u32) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vdupq_n_u32(x) }
    }
    #[inline(always)]
    fn index_u(self, base: u32) -> uint32x4_t {
        const IOTA: [u32; 4] = [0, 1, 2, 3];
        // SAFETY: NEON baseline; IOTA has 4 elements.
        unsafe { vaddq_u32(vdupq_n_u32(base), vld1q_u32(IOTA.as_ptr())) }
    }
    #[inline(always)]
    fn add_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vaddq_u32(a, b) }
    }
    #[inline(always)]
    fn sub_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vsubq_u32(a, b) }
    }
    #[inline(always)]
    fn xor_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { veorq_u32(a, b) }
    }
    #[inline(always)]
    fn and_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vandq_u32(a, b) }
    }
    #[inline(always)]
    fn or_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vorrq_u32(a, b) }
    }
    #[inline(always)]
    fn shr<const N: i32>(self, a: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vshrq_n_u32::<N>(a) }
    }
    #[inline(always)]
    fn shl<const N: i32>(self, a: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vshlq_n_u32::<N>(a) }
    }
    #[inline(always)]
    fn eq_u(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vceqq_u32(a, b) }
    }
    #[inline(always)]
    fn mulhilo(self, a: uint32x4_t, m: u32) -> (uint32x4_t, uint32x4_t) {
        // SAFETY: NEON baseline.
        unsafe {
            let mv = vdup_n_u32(m);
            let p_lo = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(a), mv));
            let p_hi = vreinterpretq_u32_u64(vmull_high_u32(a, vdupq_n_u32(m)));
            // Each 64-bit product is (low word, high word) in memory order.
            (vuzp2q_u32(p_lo, p_hi), vuzp1q_u32(p_lo, p_hi))
        }
    }
    #[inline(always)]
    fn i32_to_f32(self, a: uint32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vcvtq_f32_s32(vreinterpretq_s32_u32(a)) }
    }
    #[inline(always)]
    fn f32_to_bits(self, a: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vreinterpretq_u32_f32(a) }
    }
    #[inline(always)]
    fn bits_to_f32(self, a: uint32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vreinterpretq_f32_u32(a) }
    }
    #[inline(always)]
    fn select(self, mask: uint32x4_t, if_set: float32x4_t, if_clear: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline.
        unsafe { vbslq_f32(mask, if_set, if_clear) }
    }
    #[inline(always)]
    fn flag_not_below(self, acc: uint32x4_t, a: float32x4_t, limit: float32x4_t) -> uint32x4_t {
        // SAFETY: NEON baseline.
        unsafe {
            // |a| < limit is false for NaN: its complement flags NaN and |a| ≥ limit.
            let below = vcltq_f32(vabsq_f32(a), limit);
            vorrq_u32(acc, vmvnq_u32(below))
        }
    }
    #[inline(always)]
    fn any_u(self, a: uint32x4_t) -> bool {
        // SAFETY: NEON baseline.
        unsafe { vmaxvq_u32(a) != 0 }
    }
    #[inline(always)]
    fn nan_sticky(self, acc: float32x4_t, v: float32x4_t) -> float32x4_t {
        // SAFETY: NEON baseline. acc + v·0 in one rounding.
        unsafe { vfmaq_f32(acc, v, vdupq_n_f32(0.0)) }
    }

    #[inline(always)]
    fn interleave4(self, z: [float32x4_t; 4]) -> [float32x4_t; 4] {
        // SAFETY: NEON baseline.
        unsafe {
            let a = vzip1q_f32(z[0], z[2]);
            let b = vzip1q_f32(z[1], z[3]);
            let c = vzip2q_f32(z[0], z[2]);
            let d = vzip2q_f32(z[1], z[3]);
            [
                vzip1q_f32(a, b),
                vzip2q_f32(a, b),
                vzip1q_f32(c, d),
                vzip2q_f32(c, d),
            ]
        }
    }

    fn outlined<F: super::LanesFn>(self, f: F) -> F::Output {
        #[inline(never)]
        fn entry<F: super::LanesFn>(f: F) -> F::Output {
            f.call(Neon::new())
        }
        entry(f)
    }

    fn tile_normals(self, key: &NoiseKey, first_block: u64) -> [float32x4_t; 4] {
        tile_normals_inline(self, key, first_block)
    }
    fn pair_tile_normals(self, key: &NoiseKey, first_block: u64) -> [[float32x4_t; 2]; 4] {
        tile_normals_inline(super::Pair(self), key, first_block)
    }

    #[inline(always)]
    fn load_f32(self, s: &[f32]) -> float32x4_t {
        let s = &s[..4];
        // SAFETY: NEON baseline; `s` has exactly 4 elements.
        unsafe { vld1q_f32(s.as_ptr()) }
    }
    #[inline(always)]
    fn load_f16(self, s: &[f16]) -> float32x4_t {
        let v = [s[0].to_f32(), s[1].to_f32(), s[2].to_f32(), s[3].to_f32()];
        // SAFETY: NEON baseline; `v` has 4 elements.
        unsafe { vld1q_f32(v.as_ptr()) }
    }
    #[inline(always)]
    fn load_bf16(self, s: &[bf16]) -> float32x4_t {
        let s = &s[..4];
        // SAFETY: NEON baseline; `s` holds 4 u16-sized elements. bf16 is the top half of an f32.
        unsafe { vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(s.as_ptr().cast()))) }
    }
    #[inline(always)]
    fn store_f32(self, d: &mut [f32], v: float32x4_t) {
        let d = &mut d[..4];
        // SAFETY: NEON baseline; `d` has exactly 4 writable elements.
        unsafe { vst1q_f32(d.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn store_f16(self, d: &mut [f16], v: float32x4_t) {
        let d = &mut d[..4];
        let mut t = [0.0f32; 4];
        // SAFETY: NEON baseline; `t` has room for 4 floats.
        unsafe { vst1q_f32(t.as_mut_ptr(), v) };
        for (o, x) in d.iter_mut().zip(t) {
            *o = crate::storage::f16_from_f32(x);
        }
    }
    #[inline(always)]
    fn store_bf16(self, d: &mut [bf16], v: float32x4_t) {
        let d = &mut d[..4];
        // SAFETY: NEON baseline; `d` holds 4 writable u16-sized elements. Same recipe as
        // `storage::bf16_from_f32`.
        unsafe {
            let bits = vreinterpretq_u32_f32(v);
            let lsb = vandq_u32(vshrq_n_u32::<16>(bits), vdupq_n_u32(1));
            let rounded = vaddq_u32(bits, vaddq_u32(vdupq_n_u32(0x7fff), lsb));
            let nan_bits = vorrq_u32(bits, vdupq_n_u32(0x0040_0000));
            let is_nan = vcgtq_u32(
                vandq_u32(bits, vdupq_n_u32(0x7fff_ffff)),
                vdupq_n_u32(0x7f80_0000),
            );
            let chosen = vbslq_u32(is_nan, nan_bits, rounded);
            vst1_u16(d.as_mut_ptr().cast(), vshrn_n_u32::<16>(chosen));
        }
    }
}
