// lincomb on CUDA: the twin of kernels/src/lincomb.rs (read its module docs for the formula and
// the bit-exact definition). One thread handles one Philox block of four consecutive global
// indices, so each thread's normals come from one Philox call; a grid-stride loop covers the
// range. Where every tensor allows, the four elements move as one vector access; the first and
// last quads and unaligned views take the per-element path, with the same arithmetic. Each
// thread ORs whether it stored a non-finite value into the report word once, at its end.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

// Accumulates the present terms (non-zero coefficients) in input order, one fma each. N is
// the input count as a constant, so the loops unroll and the operands stay in registers.
template <unsigned int N>
__device__ __forceinline__ float ito_lincomb_fold(const float* coefs, const float* a, float start) {
    float acc = start;
#pragma unroll
    for (int j = 0; j < (int)N; ++j) {
        if (coefs[j] != 0.0f) {
            acc = __fmaf_rn(coefs[j], a[j], acc);
        }
    }
    return acc;
}

// One element: the inputs a (zero where unused), the old y (zero when not read) and the normal.
template <unsigned int N>
__device__ __forceinline__ void ito_lincomb_element(const ito_lincomb_args& p, const float* a, float y_old, float z,
                                                    float* y_new, float* y2_new) {
    const float start = p.c_y != 0.0f ? p.c_y * y_old : 0.0f;
    float acc = ito_lincomb_fold<N>(p.c, a, start);
    if (p.flags & ITO_LINCOMB_NOISE) {
        const float scale = ito_lincomb_fold<N>(p.e, a, p.c_z);
        acc = __fmaf_rn(scale, z, acc);
    }
    *y_new = acc;
    if (p.flags & ITO_LINCOMB_Y2) {
        const float start2 = p.d_y != 0.0f ? p.d_y * y_old : 0.0f;
        *y2_new = ito_lincomb_fold<N>(p.d, a, start2);
    }
}

// True when every tensor the call touches can move four elements at local index i at once.
template <unsigned int N>
__device__ __forceinline__ bool ito_lincomb_vector_ok(const ito_lincomb_args& p, unsigned long long i) {
    bool ok = ito_vector_aligned(p.y, i);
    if (p.flags & ITO_LINCOMB_Y2) {
        ok = ok && ito_vector_aligned(p.y2, i);
    }
#pragma unroll
    for (int j = 0; j < (int)N; ++j) {
        if ((p.used >> j) & 1u) {
            ok = ok && ito_vector_aligned(p.inputs[j], i);
        }
    }
    return ok;
}

template <unsigned int N>
__device__ __forceinline__ void ito_lincomb_range(const ito_lincomb_args& p) {
    // Every whole quad starts at a local index ≡ −offset (mod 4), so one alignment check
    // serves them all.
    const unsigned long long first_whole = (4ull - (p.offset & 3ull)) & 3ull;
    const bool vector_ok = ito_lincomb_vector_ok<N>(p, first_whole);
    const bool noise = (p.flags & ITO_LINCOMB_NOISE) != 0u;
    const bool has_y2 = (p.flags & ITO_LINCOMB_Y2) != 0u;
    const bool reads_y = (p.flags & ITO_LINCOMB_READS_Y) != 0u;
    unsigned int bad = 0u;  // some store of this thread was not finite
    ito_for_each_philox_block(p.offset, p.len, [&](unsigned long long block, unsigned long long j0) {
        ito_normals4 z = {{0.0f, 0.0f, 0.0f, 0.0f}};
        if (noise) {
            z = ito_block_normals(p.key, block);
        }
        const bool whole = p.len >= 4ull && j0 <= p.len - 4ull;
        if (whole && vector_ok) {
            float a[N + 1][4];  // + 1: no zero-length array when N = 0
#pragma unroll
            for (int j = 0; j < (int)N; ++j) {
                if ((p.used >> j) & 1u) {
                    ito_load4(p.inputs[j], j0, a[j]);
                } else {
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        a[j][k] = 0.0f;
                    }
                }
            }
            float y_old[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (reads_y) {
                ito_load4(p.y, j0, y_old);
            }
            float y_new[4] = {0.0f, 0.0f, 0.0f, 0.0f}, y2_new[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                float ak[N + 1];
#pragma unroll
                for (int j = 0; j < (int)N; ++j) {
                    ak[j] = a[j][k];
                }
                ito_lincomb_element<N>(p, ak, y_old[k], z.z[k], &y_new[k], &y2_new[k]);
            }
            if (has_y2) {
                bad |= ito_store4(p.y2, j0, y2_new);
            }
            bad |= ito_store4(p.y, j0, y_new);
        } else {
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const unsigned long long i = j0 + (unsigned long long)k;
                if (i >= p.len) {
                    continue;
                }
                float a[N + 1];
#pragma unroll
                for (int j = 0; j < (int)N; ++j) {
                    a[j] = ((p.used >> j) & 1u) ? ito_load(p.inputs[j], i) : 0.0f;
                }
                const float y_old = reads_y ? ito_load(p.y, i) : 0.0f;
                float y_new = 0.0f, y2_new = 0.0f;
                ito_lincomb_element<N>(p, a, y_old, z.z[k], &y_new, &y2_new);
                if (has_y2) {
                    bad |= ito_store(p.y2, i, y2_new);
                }
                bad |= ito_store(p.y, i, y_new);
            }
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}

// Launch bounds of 1024 threads: every block size up to 1024 launches, and ptxas keeps the
// kernel within 64 registers (without them it took 96 on sm_70: a quarter occupancy).
extern "C" __global__ void __launch_bounds__(1024) ito_lincomb(ito_lincomb_args p) {
    if (p.len == 0ull) {
        return;
    }
    switch (p.n_inputs) {
        case 0: ito_lincomb_range<0>(p); break;
        case 1: ito_lincomb_range<1>(p); break;
        case 2: ito_lincomb_range<2>(p); break;
        case 3: ito_lincomb_range<3>(p); break;
        case 4: ito_lincomb_range<4>(p); break;
        case 5: ito_lincomb_range<5>(p); break;
        default: ito_lincomb_range<ITO_MAX_INPUTS>(p); break;
    }
}
