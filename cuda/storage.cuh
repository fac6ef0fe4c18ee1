// Tensor storage on the device: f32, f16 and bf16 buffers (the layouts of float, __half and
// __nv_bfloat16), widened exactly on load and rounded to nearest even on store — the CUDA twin
// of kernels/src/storage.rs. The conversions are ito's own integer routines rather than
// cuda_fp16.h's, so that a converted NaN keeps its payload as on the CPU (PTX's cvt returns a
// canonical NaN; arithmetic NaNs differ anyway) and no CUDA header is needed to build the PTX.
#ifndef ITO_STORAGE_CUH
#define ITO_STORAGE_CUH

#define ITO_DTYPE_F32 0u
#define ITO_DTYPE_F16 1u
#define ITO_DTYPE_BF16 2u

// A tensor argument: the address of element 0 and its storage type.
struct ito_tensor {
    void* ptr;
    unsigned int dtype;
    unsigned int reserved;
};

// binary16 bits → f32, exact; a NaN is made quiet (as the half crate and F16C do).
__device__ __forceinline__ float ito_f16_to_f32(unsigned short h) {
    const unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    const unsigned int exponent = ((unsigned int)h >> 10) & 0x1fu;
    const unsigned int mantissa = (unsigned int)h & 0x3ffu;
    if (exponent == 0x1fu) {
        const unsigned int quiet = mantissa != 0u ? 0x00400000u : 0u;
        return __uint_as_float(sign | 0x7f800000u | quiet | (mantissa << 13));
    }
    if (exponent == 0u) {
        // Zero or subnormal: mantissa·2⁻²⁴, exact in f32.
        const float magnitude = (float)(int)mantissa * 0x1p-24f;
        return __uint_as_float(__float_as_uint(magnitude) | sign);
    }
    return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// f32 → binary16 bits, round to nearest even, overflow to ±Inf, NaN kept NaN (quiet, top
// payload bits kept) — the half crate's conversion, bit for bit.
__device__ __forceinline__ unsigned short ito_f16_from_f32(float v) {
    const unsigned int x = __float_as_uint(v);
    const unsigned int sign = (x & 0x80000000u) >> 16;
    const unsigned int exponent = x & 0x7f800000u;
    const unsigned int mantissa = x & 0x007fffffu;
    if (exponent == 0x7f800000u) {
        const unsigned int nan_bit = mantissa == 0u ? 0u : 0x0200u;
        return (unsigned short)(sign | 0x7c00u | nan_bit | (mantissa >> 13));
    }
    const int half_exponent = (int)(exponent >> 23) - 127 + 15;
    if (half_exponent >= 0x1f) {
        return (unsigned short)(sign | 0x7c00u);
    }
    if (half_exponent <= 0) {
        if (14 - half_exponent > 24) {
            return (unsigned short)sign;
        }
        const unsigned int full = mantissa | 0x00800000u;
        unsigned int half_mantissa = full >> (14 - half_exponent);
        const unsigned int round_bit = 1u << (13 - half_exponent);
        if ((full & round_bit) != 0u && (full & (3u * round_bit - 1u)) != 0u) {
            half_mantissa += 1u;
        }
        return (unsigned short)(sign | half_mantissa);
    }
    const unsigned int bits = sign | ((unsigned int)half_exponent << 10) | (mantissa >> 13);
    const unsigned int round_bit = 0x1000u;
    if ((mantissa & round_bit) != 0u && (mantissa & (3u * round_bit - 1u)) != 0u) {
        return (unsigned short)(bits + 1u);  // a carry into the exponent is the right result
    }
    return (unsigned short)bits;
}

// bfloat16 bits → f32: the top half of a binary32, exact.
__device__ __forceinline__ float ito_bf16_to_f32(unsigned short h) {
    return __uint_as_float((unsigned int)h << 16);
}

// f32 → bfloat16 bits, round to nearest even; a NaN keeps its top payload bits, made quiet.
__device__ __forceinline__ unsigned short ito_bf16_from_f32(float v) {
    const unsigned int bits = __float_as_uint(v);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return (unsigned short)((bits >> 16) | 0x0040u);
    }
    return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ unsigned int ito_dtype_size(unsigned int dtype) {
    return dtype == ITO_DTYPE_F32 ? 4u : 2u;
}

// Element i widened to f32.
__device__ __forceinline__ float ito_load(ito_tensor t, unsigned long long i) {
    if (t.dtype == ITO_DTYPE_F32) {
        return ((const float*)t.ptr)[i];
    }
    const unsigned short h = ((const unsigned short*)t.ptr)[i];
    return t.dtype == ITO_DTYPE_F16 ? ito_f16_to_f32(h) : ito_bf16_to_f32(h);
}

// The non-finite report: 1 when the stored bits are ±Inf or a NaN (all exponent bits set),
// the question kernels/src/storage.rs's `flagged` asks of a stored value. Integer tests on
// bits already in registers: a store that reports costs no extra memory access.
__device__ __forceinline__ unsigned int ito_f32_nonfinite(float v) {
    return (__float_as_uint(v) & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
}
__device__ __forceinline__ unsigned int ito_f16_nonfinite(unsigned short h) {
    return (h & 0x7c00u) == 0x7c00u ? 1u : 0u;
}
__device__ __forceinline__ unsigned int ito_bf16_nonfinite(unsigned short h) {
    return (h & 0x7f80u) == 0x7f80u ? 1u : 0u;
}

// Stores v into element i, rounded to the storage type; returns 1 when the stored value is
// not finite (a NaN, an infinity, or a finite f32 that overflowed the storage type).
__device__ __forceinline__ unsigned int ito_store(ito_tensor t, unsigned long long i, float v) {
    if (t.dtype == ITO_DTYPE_F32) {
        ((float*)t.ptr)[i] = v;
        return ito_f32_nonfinite(v);
    }
    const unsigned short h = t.dtype == ITO_DTYPE_F16 ? ito_f16_from_f32(v) : ito_bf16_from_f32(v);
    ((unsigned short*)t.ptr)[i] = h;
    return t.dtype == ITO_DTYPE_F16 ? ito_f16_nonfinite(h) : ito_bf16_nonfinite(h);
}

// True when elements i … i + 3 can move as one vector access (16 bytes for f32, 8 for f16
// and bf16): the address of element i is a multiple of the vector's size.
__device__ __forceinline__ bool ito_vector_aligned(ito_tensor t, unsigned long long i) {
    const unsigned long long size = ito_dtype_size(t.dtype);
    return (((unsigned long long)t.ptr + i * size) & (4ull * size - 1ull)) == 0ull;
}

// Elements i … i + 3 (vector-aligned) widened to f32.
__device__ __forceinline__ void ito_load4(ito_tensor t, unsigned long long i, float v[4]) {
    if (t.dtype == ITO_DTYPE_F32) {
        const float4 q = *(const float4*)((const float*)t.ptr + i);
        v[0] = q.x;
        v[1] = q.y;
        v[2] = q.z;
        v[3] = q.w;
        return;
    }
    const uint2 q = *(const uint2*)((const unsigned short*)t.ptr + i);
    const unsigned short h[4] = {(unsigned short)q.x, (unsigned short)(q.x >> 16), (unsigned short)q.y,
                                 (unsigned short)(q.y >> 16)};
    for (int k = 0; k < 4; ++k) {
        v[k] = t.dtype == ITO_DTYPE_F16 ? ito_f16_to_f32(h[k]) : ito_bf16_to_f32(h[k]);
    }
}

// Stores v into elements i … i + 3 (vector-aligned), rounded to the storage type; returns 1
// when any stored value is not finite (see ito_store).
__device__ __forceinline__ unsigned int ito_store4(ito_tensor t, unsigned long long i, const float v[4]) {
    unsigned int bad = 0u;
    if (t.dtype == ITO_DTYPE_F32) {
        float4 q;
        q.x = v[0];
        q.y = v[1];
        q.z = v[2];
        q.w = v[3];
        *(float4*)((float*)t.ptr + i) = q;
        for (int k = 0; k < 4; ++k) {
            bad |= ito_f32_nonfinite(v[k]);
        }
        return bad;
    }
    unsigned int h[4];
    for (int k = 0; k < 4; ++k) {
        h[k] = t.dtype == ITO_DTYPE_F16 ? ito_f16_from_f32(v[k]) : ito_bf16_from_f32(v[k]);
        bad |= t.dtype == ITO_DTYPE_F16 ? ito_f16_nonfinite((unsigned short)h[k])
                                        : ito_bf16_nonfinite((unsigned short)h[k]);
    }
    uint2 q;
    q.x = h[0] | (h[1] << 16);
    q.y = h[2] | (h[3] << 16);
    *(uint2*)((unsigned short*)t.ptr + i) = q;
    return bad;
}

// Ends a thread's part of a launch: one atomic OR into the launch's report word (a device
// address; null: the caller asked for no report) when any of the thread's stores was not
// finite. Threads that stored only finite values touch no memory.
__device__ __forceinline__ void ito_report_nonfinite(unsigned int* report, unsigned int bad) {
    if (bad != 0u && report != 0) {
        atomicOr(report, 1u);
    }
}

#endif
