// brownian_tree on CUDA: the twin of kernels/src/brownian_tree.rs. Per element, the sum starts
// from +0 and takes one fma per term in the order given; one thread per Philox block, one
// Philox call per term for its four elements.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

// The terms are read with a run-time index: __grid_constant__ lets the kernel address its
// parameter block in place instead of copying it to local memory.
extern "C" __global__ void __launch_bounds__(1024) ito_brownian_tree(const __grid_constant__ ito_brownian_tree_args p) {
    unsigned int bad = 0u;
    ito_for_each_philox_block(p.offset, p.len, [&](unsigned long long block, unsigned long long j0) {
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (unsigned int j = 0; j < p.n_terms; ++j) {
            const ito_tree_term t = p.terms[j];
            const ito_noise_key key = {p.seed, t.stream, t.step};
            const ito_normals4 z = ito_block_normals(key, block);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                acc[k] = __fmaf_rn(t.coef, z.z[k], acc[k]);
            }
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const unsigned long long i = j0 + (unsigned long long)k;
            if (i < p.len) {
                bad |= ito_store(p.y, i, acc[k]);
            }
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}
