// ou_bank on CUDA: the twin of kernels/src/ou_bank.rs: dw = √h·z₁; per plane k in order,
// y' = fma(d_k, y, fma(b_k, z₂, a_k·dw)) rounded to the state's storage type, and
// acc = fma(ω_k, y' − y, acc) from +0; out gets acc rounded once. K is a template constant so
// the per-plane constants are read with constant indices.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

// v rounded to the storage type and widened back: what a store followed by a load reads.
__device__ __forceinline__ float ito_stored_value(unsigned int dtype, float v) {
    if (dtype == ITO_DTYPE_F16) {
        return ito_f16_to_f32(ito_f16_from_f32(v));
    }
    if (dtype == ITO_DTYPE_BF16) {
        return ito_bf16_to_f32(ito_bf16_from_f32(v));
    }
    return v;
}

template <unsigned int K>
__device__ __forceinline__ void ito_ou_bank_range(const ito_ou_bank_args& p) {
    const ito_noise_key key2 = {p.key.seed, p.key.stream + 1u, p.key.step};
    const unsigned int size = ito_dtype_size(p.state.dtype);
    unsigned int bad = 0u;
    ito_for_each_philox_block(p.offset, p.len, [&](unsigned long long block, unsigned long long j0) {
        const ito_normals4 z1 = ito_block_normals(p.key, block);
        const ito_normals4 z2 = ito_block_normals(key2, block);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const unsigned long long i = j0 + (unsigned long long)e;
            if (i >= p.len) {
                continue;
            }
            const float dw = p.sqrt_h * z1.z[e];
            float acc = 0.0f;
#pragma unroll
            for (int k = 0; k < (int)K; ++k) {
                ito_tensor plane = p.state;
                plane.ptr = (char*)p.state.ptr + (unsigned long long)k * p.len * size;
                const float y = ito_load(plane, i);
                const float injected = __fmaf_rn(p.b[k], z2.z[e], p.a[k] * dw);
                const float y_new = ito_stored_value(plane.dtype, __fmaf_rn(p.decay[k], y, injected));
                bad |= ito_store(plane, i, y_new);
                acc = __fmaf_rn(p.omega[k], y_new - y, acc);
            }
            if (p.out.ptr != 0) {
                bad |= ito_store(p.out, i, acc);
            }
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}

// 512 threads at most: with eight planes unrolled the kernel needs more than the 64 registers
// that 1024-thread blocks leave (it spilled on sm_70).
extern "C" __global__ void __launch_bounds__(512) ito_ou_bank(ito_ou_bank_args p) {
    switch (p.k) {
        case 1: ito_ou_bank_range<1>(p); break;
        case 2: ito_ou_bank_range<2>(p); break;
        case 3: ito_ou_bank_range<3>(p); break;
        case 4: ito_ou_bank_range<4>(p); break;
        case 5: ito_ou_bank_range<5>(p); break;
        case 6: ito_ou_bank_range<6>(p); break;
        case 7: ito_ou_bank_range<7>(p); break;
        default: ito_ou_bank_range<ITO_OU_BANK_MAX_K>(p); break;
    }
}
