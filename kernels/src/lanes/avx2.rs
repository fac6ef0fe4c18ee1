//! AVX2 + FMA + F16C lanes (8 × f32) written with `std::arch` intrinsics.
//!
//! `wide` cannot serve here: it selects instructions by compile-time cfg, so inside a
//! `#[target_feature]` function its `mul_add` is an unfused 128-bit multiply and add (DESIGN.md).
//! Every method is `#[inline(always)]` so that it is compiled inside the caller's
//! `#[target_feature(enable = "avx2,fma,f16c")]` entry point (see [`Avx2::run`]).

use core::arch::x86_64::*;

use super::{Lanes, LanesFn};
use crate::noise::{tile_normals_inline, NoiseKey};
use crate::{bf16, f16};

/// Eight f32 lanes on AVX2 + FMA + F16C.
///
/// Constructed only by [`Avx2::new_unchecked`], whose caller promises the CPU has those
/// features; every intrinsic call below relies on that promise.
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

impl Avx2 {
    /// The token.
    ///
    /// # Safety
    /// The CPU running the program must support AVX2, FMA and F16C
    /// (`is_x86_feature_detected!` for all three).
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Avx2(())
    }

    /// Runs `f` with the token inside a function compiled for AVX2 + FMA + F16C. `f.call` and
    /// everything it calls are `#[inline(always)]`, so the whole kernel is compiled with those
    /// instructions (a closure here would not be inlined, and every intrinsic would become a
    /// call).
    #[inline]
    pub fn run<F: LanesFn>(self, f: F) -> F::Output {
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn inner<F: LanesFn>(t: Avx2, f: F) -> F::Output {
            f.call(t)
        }
        // SAFETY: the token exists, so the CPU has AVX2, FMA and F16C.
        unsafe { inner(self, f) }
    }
}

impl super::LanesToken for Avx2 {
    #[inline]
    fn run_with<F: LanesFn>(self, f: F) -> F::Output {
        self.run(f)
    }
}

// SAFETY (for every `unsafe` block in this impl that calls an intrinsic): the `Avx2` token
// proves the CPU supports AVX2, FMA and F16C. Blocks that also dereference pointers state the
// length check that keeps the access in bounds.
impl Lanes for Avx2 {
    const WIDTH: usize = 8;
    type F = __m256;
    type U = __m256i;

    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        // SAFETY: token (see impl comment).
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        // SAFETY: token.
        unsafe {
            _mm256_castsi256_ps(_mm256_and_si256(
                _mm256_castps_si256(a),
                _mm256_set1_epi32(0x7fff_ffff),
            ))
        }
    }
    #[inline(always)]
    fn max_nan(self, m: __m256, x: __m256) -> __m256 {
        // SAFETY: token.
        unsafe {
            let take = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_GT_OQ>(x, m),
                _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x),
            );
            _mm256_blendv_ps(m, x, take)
        }
    }
    #[inline(always)]
    fn sum_halving(self, a: __m256) -> f32 {
        // SAFETY: token.
        unsafe {
            let h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let q = _mm_add_ps(h, _mm_movehl_ps(h, h));
            let r = _mm_add_ss(q, _mm_shuffle_ps::<0b01>(q, q));
            _mm_cvtss_f32(r)
        }
    }
    #[inline(always)]
    fn max_nan_halving(self, a: __m256) -> f32 {
        // SAFETY: token.
        unsafe {
            let lo = _mm256_castps256_ps128(a);
            let hi = _mm256_extractf128_ps::<1>(a);
            let h = max_nan128(lo, hi);
            let q = max_nan128(h, _mm_movehl_ps(h, h));
            _mm_cvtss_f32(max_nan128(q, _mm_shuffle_ps::<0b01>(q, q)))
        }
    }

    #[inline(always)]
    fn splat_u(self, x: u32) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn index_u(self, base: u32) -> __m256i {
        // SAFETY: token.
        unsafe {
            _mm256_add_epi32(
                _mm256_set1_epi32(base as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
    #[inline(always)]
    fn add_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sub_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn xor_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_xor_si256(a, b) }
    }
    #[inline(always)]
    fn and_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_and_si256(a, b) }
    }
    #[inline(always)]
    fn or_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_or_si256(a, b) }
    }
    #[inline(always)]
    fn shr<const N: i32>(self, a: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_srli_epi32::<N>(a) }
    }
    #[inline(always)]
    fn shl<const N: i32>(self, a: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_slli_epi32::<N>(a) }
    }
    #[inline(always)]
    fn eq_u(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_cmpeq_epi32(a, b) }
    }
    #[inline(always)]
    fn mulhilo(self, a: __m256i, m: u32) -> (__m256i, __m256i) {
        // SAFETY: token.
        unsafe {
            let mv = _mm256_set1_epi32(m as i32);
            // High words: 32×32→64 products of the even lanes, then of the odd lanes moved
            // down, blended. Low words: one wrapping multiply.
            let even = _mm256_mul_epu32(a, mv);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), mv);
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let lo = _mm256_mullo_epi32(a, mv);
            (hi, lo)
        }
    }
    #[inline(always)]
    fn i32_to_f32(self, a: __m256i) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_cvtepi32_ps(a) }
    }
    #[inline(always)]
    fn f32_to_bits(self, a: __m256) -> __m256i {
        // SAFETY: token.
        unsafe { _mm256_castps_si256(a) }
    }
    #[inline(always)]
    fn bits_to_f32(self, a: __m256i) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_castsi256_ps(a) }
    }
    #[inline(always)]
    fn select(self, mask: __m256i, if_set: __m256, if_clear: __m256) -> __m256 {
        // SAFETY: token.
        unsafe { _mm256_blendv_ps(if_clear, if_set, _mm256_castsi256_ps(mask)) }
    }
    #[inline(always)]
    fn flag_not_below(self, acc: __m256i, a: __m256, limit: __m256) -> __m256i {
        // SAFETY: token.
        unsafe {
            // Not-less-than, unordered: set for |a| ≥ limit and for NaN.
            let flag = _mm256_cmp_ps::<_CMP_NLT_UQ>(self.abs(a), limit);
            _mm256_or_si256(acc, _mm256_castps_si256(flag))
        }
    }
    #[inline(always)]
    fn any_u(self, a: __m256i) -> bool {
        // SAFETY: token.
        unsafe { _mm256_testz_si256(a, a) == 0 }
    }
    #[inline(always)]
    fn nan_sticky(self, acc: __m256, v: __m256) -> __m256 {
        // SAFETY: token. v·0 + acc in one rounding: ±0 + acc for finite v, NaN otherwise.
        unsafe { _mm256_fmadd_ps(v, _mm256_setzero_ps(), acc) }
    }

    #[inline(always)]
    fn interleave4(self, z: [__m256; 4]) -> [__m256; 4] {
        // SAFETY: token.
        unsafe {
            // 4×8 transpose: t* pair words (0,1) and (2,3) of each block, u* gather one
            // block's four words per 128-bit half, the permutes put blocks back in order.
            let t0 = _mm256_unpacklo_ps(z[0], z[1]);
            let t1 = _mm256_unpackhi_ps(z[0], z[1]);
            let t2 = _mm256_unpacklo_ps(z[2], z[3]);
            let t3 = _mm256_unpackhi_ps(z[2], z[3]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            [
                _mm256_permute2f128_ps::<0x20>(u0, u1),
                _mm256_permute2f128_ps::<0x20>(u2, u3),
                _mm256_permute2f128_ps::<0x31>(u0, u1),
                _mm256_permute2f128_ps::<0x31>(u2, u3),
            ]
        }
    }

    #[inline(always)]
    fn outlined<F: LanesFn>(self, f: F) -> F::Output {
        #[inline(never)]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn entry<F: LanesFn>(t: Avx2, f: F) -> F::Output {
            f.call(t)
        }
        // SAFETY: the token proves the features `entry` is compiled for.
        unsafe { entry(self, f) }
    }

    #[inline(always)]
    fn tile_normals(self, key: &NoiseKey, first_block: u64) -> [__m256; 4] {
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn entry(key: &NoiseKey, first_block: u64) -> [__m256; 4] {
            // SAFETY: this function runs only where the caller holds an `Avx2` token.
            tile_normals_inline(unsafe { Avx2::new_unchecked() }, key, first_block)
        }
        // SAFETY: the token proves the features `entry` is compiled for.
        unsafe { entry(key, first_block) }
    }
    #[inline(always)]
    fn pair_tile_normals(self, key: &NoiseKey, first_block: u64) -> [[__m256; 2]; 4] {
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn entry(key: &NoiseKey, first_block: u64) -> [[__m256; 2]; 4] {
            // SAFETY: this function runs only where the caller holds an `Avx2` token.
            tile_normals_inline(
                super::Pair(unsafe { Avx2::new_unchecked() }),
                key,
                first_block,
            )
        }
        // SAFETY: the token proves the features `entry` is compiled for.
        unsafe { entry(key, first_block) }
    }

    #[inline(always)]
    fn load_f32(self, s: &[f32]) -> __m256 {
        let s = &s[..8];
        // SAFETY: token; `s` has exactly 8 elements (the slice above checked the length).
        unsafe { _mm256_loadu_ps(s.as_ptr()) }
    }
    #[inline(always)]
    fn load_f16(self, s: &[f16]) -> __m256 {
        let s = &s[..8];
        // SAFETY: token; `s` holds 8 × 2 = 16 readable bytes.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().cast())) }
    }
    #[inline(always)]
    fn load_bf16(self, s: &[bf16]) -> __m256 {
        let s = &s[..8];
        // SAFETY: token; `s` holds 16 readable bytes. bf16 is the top half of an f32.
        unsafe {
            let h = _mm_loadu_si128(s.as_ptr().cast());
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
        }
    }
    #[inline(always)]
    fn store_f32(self, d: &mut [f32], v: __m256) {
        let d = &mut d[..8];
        // SAFETY: token; `d` has exactly 8 writable elements.
        unsafe { _mm256_storeu_ps(d.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn store_f16(self, d: &mut [f16], v: __m256) {
        let d = &mut d[..8];
        // SAFETY: token; `d` holds 16 writable bytes. Rounding mode 0 = nearest even.
        unsafe {
            _mm_storeu_si128(
                d.as_mut_ptr().cast(),
                _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v),
            )
        }
    }
    #[inline(always)]
    fn store_bf16(self, d: &mut [bf16], v: __m256) {
        let d = &mut d[..8];
        // SAFETY: token; `d` holds 16 writable bytes. Same recipe as `storage::bf16_from_f32`.
        unsafe {
            let bits = _mm256_castps_si256(v);
            let lsb = _mm256_and_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(1));
            let rounded = _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
            let nan_bits = _mm256_or_si256(bits, _mm256_set1_epi32(0x0040_0000));
            let is_nan = _mm256_cmpgt_epi32(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x7fff_ffff)),
                _mm256_set1_epi32(0x7f80_0000),
            );
            let chosen = _mm256_blendv_epi8(rounded, nan_bits, is_nan);
            let top = _mm256_srli_epi32::<16>(chosen);
            // packus works per 128-bit half; the permute gathers both halves' results low.
            let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(top, top));
            _mm_storeu_si128(d.as_mut_ptr().cast(), _mm256_castsi256_si128(packed));
        }
    }
}

/// [`Lanes::max_nan`] on 128-bit vectors, for the horizontal fold.
#[inline(always)]
unsafe fn max_nan128(m: __m128, x: __m128) -> __m128 {
    // SAFETY: only called from `Avx2` methods, so the CPU has AVX.
    unsafe {
        let take = _mm_or_ps(
            _mm_cmp_ps::<_CMP_GT_OQ>(x, m),
            _mm_cmp_ps::<_CMP_UNORD_Q>(x, x),
        );
        _mm_blendv_ps(m, x, take)
    }
}
