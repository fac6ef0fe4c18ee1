// fill_normal on CUDA: the twin of kernels/src/fill_normal.rs, y[i] = fma(σ, z, μ). One thread
// per Philox block of four global indices (cuda/elementwise.cuh); vector stores where aligned.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

extern "C" __global__ void __launch_bounds__(1024) ito_fill_normal(ito_fill_normal_args p) {
    const bool vector_ok = ito_vector_aligned(p.y, (4ull - (p.offset & 3ull)) & 3ull);
    unsigned int bad = 0u;
    ito_for_each_philox_block(p.offset, p.len, [&](unsigned long long block, unsigned long long j0) {
        const ito_normals4 z = ito_block_normals(p.key, block);
        float v[4];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            v[k] = __fmaf_rn(p.std, z.z[k], p.mean);
        }
        const bool whole = p.len >= 4ull && j0 <= p.len - 4ull;
        if (whole && vector_ok) {
            bad |= ito_store4(p.y, j0, v);
        } else {
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const unsigned long long i = j0 + (unsigned long long)k;
                if (i < p.len) {
                    bad |= ito_store(p.y, i, v[k]);
                }
            }
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}
