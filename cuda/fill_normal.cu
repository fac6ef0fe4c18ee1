// fill_normal on CUDA: the twin of kernels/src/fill_normal.rs, y[i] = fma(σ, z, μ). One thread
// per Philox block of four global indices, grid-stride; vector stores where aligned.
#include "kernel_args.cuh"
#include "normal.cuh"

extern "C" __global__ void __launch_bounds__(1024) ito_fill_normal(ito_fill_normal_args p) {
    if (p.len == 0ull) {
        return;
    }
    const unsigned long long first_block = p.offset >> 2;
    const unsigned long long blocks = ((p.offset + p.len - 1ull) >> 2) - first_block + 1ull;
    const bool vector_ok = ito_vector_aligned(p.y, (4ull - (p.offset & 3ull)) & 3ull);
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long b = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        const unsigned long long block = first_block + b;
        const ito_normals4 z = ito_block_normals(p.key, block);
        float v[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            v[k] = __fmaf_rn(p.std, z.z[k], p.mean);
        }
        const unsigned long long j0 = (block << 2) - p.offset;
        const bool whole = p.len >= 4ull && j0 <= p.len - 4ull;  // j0 wraps below zero for a first partial block
        if (whole && vector_ok) {
            ito_store4(p.y, j0, v);
        } else {
#pragma unroll
    #pragma unroll
        for (int k = 0; k < 4; ++k) {
                const unsigned long long i = j0 + (unsigned long long)k;
                if (i < p.len) {
                    ito_store(p.y, i, v[k]);
                }
            }
        }
    }
}
