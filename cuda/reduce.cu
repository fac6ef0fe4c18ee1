// reduce on CUDA: the twin of kernels/src/reduce.rs, in its fixed order (read the Rust module
// docs). ito_reduce_leaves gives each 256-element leaf to 16 threads of a warp: thread k adds
// element k of every 16-element group into its accumulator with one fma (the definition's
// accumulator k, and coalesced loads), then the 16 accumulators fold by halving through warp
// shuffles (k += k + 8, k + 4, k + 2, k + 1). ito_reduce_combine folds each segment's leaf
// sums pairwise, adjacent leaves first, an odd last one carried up: combine_pairwise.
#include "kernel_args.cuh"

#define ITO_REDUCE_GROUP 16ull
#define ITO_REDUCE_LEAF 256ull

// The running-maximum rule: x where x > m or x is NaN, else m.
__device__ __forceinline__ float ito_max_nan(float m, float x) {
    return (x > m || x != x) ? x : m;
}

// Launch with a block size that is a multiple of 32: every warp takes two leaves per turn.
extern "C" __global__ void __launch_bounds__(1024) ito_reduce_leaves(ito_reduce_args p) {
    const unsigned long long total = p.segments * p.leaves_per_segment;
    const unsigned int lane = threadIdx.x & 31u;
    const unsigned long long k = lane & 15u;
    const unsigned long long warp = ((unsigned long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const unsigned long long warps = ((unsigned long long)gridDim.x * blockDim.x) >> 5;
    const bool has_y = p.y.ptr != 0;
    // The loop bound is the same for the whole warp, so every shuffle has all 32 lanes.
    for (unsigned long long base = warp * 2ull; base < total; base += warps * 2ull) {
        const unsigned long long leaf_id = base + (lane >> 4);
        const bool active = leaf_id < total;
        float sq = 0.0f, xy = 0.0f, m = 0.0f;
        if (active) {
            const unsigned long long segment = leaf_id / p.leaves_per_segment;
            const unsigned long long leaf = leaf_id % p.leaves_per_segment;
            const unsigned long long segment_start = segment * p.segment_len;
            const unsigned long long start = segment_start + leaf * ITO_REDUCE_LEAF;
            const unsigned long long segment_end = segment_start + p.segment_len;
            const unsigned long long end = start + ITO_REDUCE_LEAF < segment_end ? start + ITO_REDUCE_LEAF : segment_end;
            // A last partial group is padded with +0, as in the definition.
            for (unsigned long long group = start; group < end; group += ITO_REDUCE_GROUP) {
                const unsigned long long i = group + k;
                const float x = i < end ? ito_load(p.x, i) : 0.0f;
                sq = __fmaf_rn(x, x, sq);
                if (has_y) {
                    const float yv = i < end ? ito_load(p.y, i) : 0.0f;
                    xy = __fmaf_rn(x, yv, xy);
                }
                m = ito_max_nan(m, __uint_as_float(__float_as_uint(x) & 0x7fffffffu));
            }
        }
        for (unsigned int n = 8u; n >= 1u; n >>= 1) {
            sq = sq + __shfl_down_sync(0xffffffffu, sq, n, 16);
            xy = xy + __shfl_down_sync(0xffffffffu, xy, n, 16);
            m = ito_max_nan(m, __shfl_down_sync(0xffffffffu, m, n, 16));
        }
        if (active && k == 0ull) {
            float* s = p.leaf_stats + 3ull * leaf_id;
            s[0] = sq;
            s[1] = xy;
            s[2] = m;
        }
    }
}

// One block per segment (grid-stride over segments).
extern "C" __global__ void __launch_bounds__(1024) ito_reduce_combine(ito_reduce_args p) {
    const unsigned long long n_leaves = p.leaves_per_segment;
    for (unsigned long long segment = blockIdx.x; segment < p.segments; segment += gridDim.x) {
        float* src = p.leaf_stats + 3ull * segment * n_leaves;
        float* dst = p.scratch + 3ull * segment * n_leaves;
        unsigned long long n = n_leaves;
        while (n > 1ull) {
            const unsigned long long half = n >> 1;
            for (unsigned long long k = threadIdx.x; k < half; k += blockDim.x) {
                const float* a = src + 6ull * k;
                dst[3ull * k + 0ull] = a[0] + a[3];
                dst[3ull * k + 1ull] = a[1] + a[4];
                dst[3ull * k + 2ull] = ito_max_nan(a[2], a[5]);
            }
            if ((n & 1ull) && threadIdx.x == 0u) {
                for (int c = 0; c < 3; ++c) {
                    dst[3ull * half + c] = src[3ull * (n - 1ull) + c];
                }
            }
            // Every read of this level is done before the next level overwrites `src`.
            __syncthreads();
            float* const read_next = dst;
            dst = src;
            src = read_next;
            n = half + (n & 1ull);
        }
        if (threadIdx.x == 0u) {
            for (int c = 0; c < 3; ++c) {
                p.out[3ull * segment + c] = src[c];
            }
        }
    }
}
