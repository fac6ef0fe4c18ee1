// The exact uniform and the Box–Muller normal transform: the CUDA twin of
// kernels/src/normal.rs, operation for operation (read the Rust module docs for the maths).
// Every fused multiply-add of the definition is __fmaf_rn; division and square root are the
// correctly rounded __fdiv_rn and __fsqrt_rn; every other + − × is a plain operator, which
// NVRTC with --fmad=false emits as add.rn / sub.rn / mul.rn (never contracted).
#ifndef ITO_NORMAL_CUH
#define ITO_NORMAL_CUH

#include "philox.cuh"

// The f32 constants of normal.rs, as exact hexadecimal literals.
#define ITO_LN2_HI 0x1.62e300p-1f
#define ITO_LN2_LO 0x1.2fefa4p-17f
#define ITO_LG1 0x1.555556p-1f
#define ITO_LG2 0x1.99999ap-2f
#define ITO_LG3 0x1.24924ap-2f
#define ITO_LG4 0x1.c71c72p-3f
#define ITO_S1_HI 0x1.921fb6p+2f
#define ITO_S1_LO -0x1.777a5cp-23f
#define ITO_S3 -0x1.4abbcep+5f
#define ITO_S5 0x1.466bc6p+6f
#define ITO_S7 -0x1.32d2ccp+6f
#define ITO_S9 0x1.507834p+5f
#define ITO_C2 -0x1.3bd3ccp+4f
#define ITO_C4 0x1.03c1f0p+6f
#define ITO_C6 -0x1.55d3c8p+6f
#define ITO_C8 0x1.e1f506p+5f
#define ITO_C10 -0x1.a6d1f2p+4f

// u = (w + ½)·2⁻³², rounded once.
__device__ __forceinline__ float ito_radius_uniform(unsigned int w) {
    const float hi = (float)(int)(w >> 8);
    const float lo = (float)(int)(w & 0xffu);
    const float sum = hi * 256.0f + (lo + 0.5f);
    return sum * 0x1p-32f;
}

// ln u ≈ hi + lo for u ∈ [2⁻³³, 1].
__device__ __forceinline__ void ito_ln(float u, float* out_hi, float* out_lo) {
    const unsigned int ix = __float_as_uint(u) + (0x3f800000u - 0x3f3504f3u);
    const float k = (float)(int)((ix >> 23) - 127u);
    const float m = __uint_as_float((ix & 0x007fffffu) + 0x3f3504f3u);
    const float f = m - 1.0f;
    const float s = __fdiv_rn(f, 2.0f + f);
    const float z = s * s;
    float p = __fmaf_rn(z, ITO_LG4, ITO_LG3);
    p = __fmaf_rn(z, p, ITO_LG2);
    p = __fmaf_rn(z, p, ITO_LG1);
    const float r = z * p;
    const float hf = 0.5f * f;
    const float h = hf * f;
    const float h_lo = __fmaf_rn(hf, f, 0.0f - h);
    const float a = f - h;
    const float b = (f - a) - h;
    const float small = __fmaf_rn(s, h + r, k * ITO_LN2_LO) + (b - h_lo);
    const float kh = k * ITO_LN2_HI;
    const float hi = kh + a;
    const float e = (kh - hi) + a;
    const float lo = e + small;
    const float sum = hi + lo;
    *out_hi = sum;
    *out_lo = (hi - sum) + lo;
}

// The reduced angle of a = (w ≫ 8) | 1: θ = 2π(q/4 + x), with the sin and cos polynomials.
struct ito_turn {
    unsigned int q;
    float x, x2, p, c;
};

__device__ __forceinline__ ito_turn ito_turn_of(unsigned int a) {
    ito_turn t;
    t.q = (a + (1u << 21)) >> 22;
    const unsigned int d = a - (t.q << 22);
    t.x = (float)(int)d * 0x1p-24f;
    t.x2 = t.x * t.x;
    float p = __fmaf_rn(t.x2, ITO_S9, ITO_S7);
    p = __fmaf_rn(t.x2, p, ITO_S5);
    p = __fmaf_rn(t.x2, p, ITO_S3);
    t.p = __fmaf_rn(t.x2, p, ITO_S1_LO);
    float c = __fmaf_rn(t.x2, ITO_C10, ITO_C8);
    c = __fmaf_rn(t.x2, c, ITO_C6);
    c = __fmaf_rn(t.x2, c, ITO_C4);
    t.c = __fmaf_rn(t.x2, c, ITO_C2);
    return t;
}

// Rotates (c, s) by q quarter turns: odd q swaps them, the signs come from q's bits.
__device__ __forceinline__ void ito_rotate(unsigned int q, float c, float s, float* out_c, float* out_s) {
    const bool swap = (q & 1u) == 1u;
    const float c0 = swap ? s : c;
    const float s0 = swap ? c : s;
    const unsigned int cos_sign = ((q + 1u) & 2u) << 30;
    const unsigned int sin_sign = (q & 2u) << 30;
    *out_c = __uint_as_float(__float_as_uint(c0) ^ cos_sign);
    *out_s = __uint_as_float(__float_as_uint(s0) ^ sin_sign);
}

// Two standard normals (r·cos θ, r·sin θ) from (radius word, angle word).
__device__ __forceinline__ void ito_box_muller(unsigned int radius_word, unsigned int angle_word, float* z_even, float* z_odd) {
    const float u = ito_radius_uniform(radius_word);
    float ln_hi, ln_lo;
    ito_ln(u, &ln_hi, &ln_lo);
    const float t_hi = ln_hi * -2.0f;
    const float t_lo = ln_lo * -2.0f;
    const float r = __fsqrt_rn(t_hi);
    const float residual = __fmaf_rn(0.0f - r, r, t_hi) + t_lo;
    // u = 1 gives r = −0: no correction there (and no 0/0).
    const bool r_is_zero = (__float_as_uint(r) & 0x7fffffffu) == 0u;
    const float r_lo = r_is_zero ? 0.0f : __fdiv_rn(residual, r + r);

    const ito_turn tn = ito_turn_of((angle_word >> 8) | 1u);
    const float sin_x = __fmaf_rn(tn.x, ITO_S1_HI, tn.x * tn.p);
    const float cos_x = __fmaf_rn(tn.x2, tn.c, 1.0f);
    const float rx = r * tn.x;
    const float rx_lo = __fmaf_rn(r, tn.x, 0.0f - rx);
    const float r_sin = __fmaf_rn(rx, ITO_S1_HI, __fmaf_rn(rx, tn.p, __fmaf_rn(rx_lo, ITO_S1_HI, r_lo * sin_x)));
    const float r_cos = r + __fmaf_rn(r * tn.x2, tn.c, r_lo * cos_x);
    ito_rotate(tn.q, r_cos, r_sin, z_even, z_odd);
}

struct ito_normals4 {
    float z[4];
};

// The four normals of Philox block `block` under `key`, in element order.
__device__ __forceinline__ ito_normals4 ito_block_normals(ito_noise_key key, unsigned long long block) {
    const ito_words4 w = ito_block_words(key, block);
    ito_normals4 n;
    ito_box_muller(w.w[0], w.w[1], &n.z[0], &n.z[1]);
    ito_box_muller(w.w[2], w.w[3], &n.z[2], &n.z[3]);
    return n;
}

// The normal of global element `index` under `key`: word index & 3 of its Philox block.
__device__ __forceinline__ float ito_normal(ito_noise_key key, unsigned long long index) {
    const ito_normals4 n = ito_block_normals(key, index >> 2);
    const unsigned int word = (unsigned int)(index & 3ull);
    return word == 0u ? n.z[0] : word == 1u ? n.z[1] : word == 2u ? n.z[2] : n.z[3];
}

#endif
