// The Langevin corrector on CUDA: the twin of kernels/src/langevin.rs (pass 1) and of
// src/langevin.rs's step size and pass 2 (read kernel_args.cuh for the four launches).
// Pass 1 gives each 256-element leaf to 16 threads of a warp in reduce.cu's order, with z
// regenerated from its counter rather than stored; pass 2 regenerates the same z.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

#define ITO_LANGEVIN_GROUP 16ull
#define ITO_LANGEVIN_LEAF 256ull

// Launch with a block size that is a multiple of 32: every warp takes two leaves per turn.
extern "C" __global__ void __launch_bounds__(1024) ito_langevin_norms_leaves(ito_langevin_args p) {
    const unsigned long long total = p.samples * p.leaves_per_sample;
    const unsigned int lane = threadIdx.x & 31u;
    const unsigned long long k = lane & 15u;
    const unsigned long long warp = ((unsigned long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const unsigned long long warps = ((unsigned long long)gridDim.x * blockDim.x) >> 5;
    for (unsigned long long base = warp * 2ull; base < total; base += warps * 2ull) {
        const unsigned long long leaf_id = base + (lane >> 4);
        const bool active = leaf_id < total;
        float score_sq = 0.0f, noise_sq = 0.0f;
        if (active) {
            const unsigned long long sample = leaf_id / p.leaves_per_sample;
            const unsigned long long leaf = leaf_id % p.leaves_per_sample;
            const unsigned long long sample_start = sample * p.sample_len;
            const unsigned long long start = sample_start + leaf * ITO_LANGEVIN_LEAF;
            const unsigned long long sample_end = sample_start + p.sample_len;
            const unsigned long long end =
                start + ITO_LANGEVIN_LEAF < sample_end ? start + ITO_LANGEVIN_LEAF : sample_end;
            // A last partial group is padded with +0, as in the definition.
            for (unsigned long long group = start; group < end; group += ITO_LANGEVIN_GROUP) {
                const unsigned long long i = group + k;
                const float s = i < end ? ito_load(p.score, i) : 0.0f;
                const float z = i < end ? ito_normal(p.key, p.offset + i) : 0.0f;
                score_sq = __fmaf_rn(s, s, score_sq);
                noise_sq = __fmaf_rn(z, z, noise_sq);
            }
        }
        for (unsigned int n = 8u; n >= 1u; n >>= 1) {
            score_sq = score_sq + __shfl_down_sync(0xffffffffu, score_sq, n, 16);
            noise_sq = noise_sq + __shfl_down_sync(0xffffffffu, noise_sq, n, 16);
        }
        if (active && k == 0ull) {
            float* out = p.leaf_stats + 3ull * leaf_id;
            out[0] = score_sq;
            out[1] = noise_sq;
            out[2] = 0.0f;
        }
    }
}

// ε = 2α·(r·‖z‖/‖score‖)², in f64 with the host's operations and order: per sample, or with
// the batch means of ‖score‖ and ‖z‖ (summed in sample order). One thread does the batch mean.
__device__ __forceinline__ double ito_langevin_eps(double snr, double alpha, double score_norm, double noise_norm) {
    const double q = snr * noise_norm / score_norm;
    return 2.0 * alpha * (q * q);
}

// At most 256 threads per block: f64 square roots need more registers than 1024-thread blocks
// leave on sm_70 (it spilled there).
extern "C" __global__ void __launch_bounds__(256) ito_langevin_step_size(ito_langevin_args p) {
    const unsigned long long first = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    double mean_score = 0.0, mean_noise = 0.0;
    if (p.batch_mean) {
        double sum_score = 0.0, sum_noise = 0.0;
        for (unsigned long long b = 0; b < p.samples; ++b) {
            sum_score = sum_score + __dsqrt_rn((double)p.norms[3ull * b]);
            sum_noise = sum_noise + __dsqrt_rn((double)p.norms[3ull * b + 1ull]);
        }
        mean_score = sum_score / (double)p.samples;
        mean_noise = sum_noise / (double)p.samples;
    }
    for (unsigned long long b = first; b < p.samples; b += stride) {
        const double eps = p.batch_mean
                               ? ito_langevin_eps(p.snr, p.alpha, mean_score, mean_noise)
                               : ito_langevin_eps(p.snr, p.alpha, __dsqrt_rn((double)p.norms[3ull * b]),
                                                  __dsqrt_rn((double)p.norms[3ull * b + 1ull]));
        p.eps[b] = eps;
        const float c = (float)eps, c_z = (float)__dsqrt_rn(2.0 * eps);
        p.coefs[2ull * b] = c;
        p.coefs[2ull * b + 1ull] = c_z;
        // A step size that is no step (a zero or non-finite score norm) leaves the sample
        // unchanged (ito_langevin_update) and is reported: the host refuses it as an error.
        ito_report_nonfinite(p.nonfinite, ito_f32_nonfinite(c) | ito_f32_nonfinite(c_z));
    }
}

// x ← 1·x + ε_b·score + √(2ε_b)·z: lincomb's definition with c_y = 1, c₀ = ε_b, c_z = √(2ε_b)
// (a zero coefficient is an absent term). A sample whose ε is not finite is left unchanged
// (the host API reports it as an error before any update).
extern "C" __global__ void __launch_bounds__(1024) ito_langevin_update(ito_langevin_args p) {
    const unsigned long long len = p.samples * p.sample_len;
    unsigned int bad = 0u;
    ito_for_each_philox_block(p.offset, len, [&](unsigned long long block, unsigned long long j0) {
        const ito_normals4 z = ito_block_normals(p.key, block);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const unsigned long long i = j0 + (unsigned long long)k;
            if (i >= len) {
                continue;
            }
            const unsigned long long b = i / p.sample_len;
            const float c = p.coefs[2ull * b];
            const float c_z = p.coefs[2ull * b + 1ull];
            const unsigned int finite_mask = 0x7f800000u;
            if ((__float_as_uint(c) & finite_mask) == finite_mask || (__float_as_uint(c_z) & finite_mask) == finite_mask) {
                continue;
            }
            float acc = 1.0f * ito_load(p.x, i);
            if (c != 0.0f) {
                acc = __fmaf_rn(c, ito_load(p.score, i), acc);
            }
            if (c_z != 0.0f) {
                acc = __fmaf_rn(c_z, z.z[k], acc);
            }
            bad |= ito_store(p.x, i, acc);
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}
