// threshold on CUDA: the twin of src/runtime/threshold.rs (read its module docs). One block per
// sample (a grid-stride loop over samples): four 8-bit radix passes over the bits of |x| find
// the order statistic at rank lo, counted into a shared 256-bin histogram; one more pass finds
// the next one when hi = lo + 1; thread 0 interpolates in f64 (torch.quantile's lerp, weight w
// from the host), clamps to [1, max_value]; then every element becomes clamp(x, −s, s)/s,
// divided in f64 and rounded to f32, then to the storage type. A NaN anywhere in the sample
// (or a NaN quantile) makes the whole sample NaN, as on the host.
#include "kernel_args.cuh"

// |v| as bits: non-negative floats order as their bits (a NaN above +∞).
__device__ __forceinline__ unsigned int ito_abs_bits(float v) {
    return __float_as_uint(v) & 0x7fffffffu;
}

// torch.quantile's interpolation from the nearer end (the host's `lerp`).
__device__ __forceinline__ double ito_lerp(double a, double b, double w) {
    return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1.0 - w);
}

// 256 threads per block at most (launch::THRESHOLD_MAX_BLOCK): one histogram bin each when
// zeroing.
extern "C" __global__ void __launch_bounds__(256) ito_threshold(ito_threshold_args p) {
    __shared__ unsigned int hist[256];
    __shared__ unsigned int prefix, mask, rank_left, nan_seen, at_most, above;
    __shared__ double scale;
    const unsigned int size = ito_dtype_size(p.x.dtype);
    for (unsigned long long sample = blockIdx.x; sample < p.samples; sample += gridDim.x) {
        ito_tensor x = p.x;
        x.ptr = (char*)p.x.ptr + sample * p.sample_len * size;
        if (threadIdx.x == 0u) {
            prefix = 0u;
            mask = 0u;
            rank_left = (unsigned int)p.lo;
            nan_seen = 0u;
            at_most = 0u;
            above = 0xffffffffu;
        }
        __syncthreads();
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (unsigned int b = threadIdx.x; b < 256u; b += blockDim.x) {
                hist[b] = 0u;
            }
            __syncthreads();
            const unsigned int pre = prefix, msk = mask;
            unsigned int nan_here = 0u;
            for (unsigned long long i = threadIdx.x; i < p.sample_len; i += blockDim.x) {
                const unsigned int b = ito_abs_bits(ito_load(x, i));
                nan_here |= b > 0x7f800000u ? 1u : 0u;
                if ((b & msk) == pre) {
                    atomicAdd(&hist[(b >> shift) & 0xffu], 1u);
                }
            }
            if (nan_here != 0u) {
                atomicOr(&nan_seen, 1u);
            }
            __syncthreads();
            if (threadIdx.x == 0u) {
                // The histogram holds every element with the prefix: more than rank_left.
                unsigned int k = rank_left, bucket = 0u;
                while (bucket < 255u && k >= hist[bucket]) {
                    k -= hist[bucket];
                    ++bucket;
                }
                rank_left = k;
                prefix = pre | (bucket << shift);
                mask = msk | (0xffu << shift);
            }
            __syncthreads();
        }
        const unsigned int lo_bits = prefix;
        if (p.hi != p.lo) {
            // The next order statistic: lo's value again when enough elements equal it, else
            // the smallest value above it.
            unsigned int le = 0u, gt = 0xffffffffu;
            for (unsigned long long i = threadIdx.x; i < p.sample_len; i += blockDim.x) {
                const unsigned int b = ito_abs_bits(ito_load(x, i));
                if (b <= lo_bits) {
                    ++le;
                } else if (b < gt) {
                    gt = b;
                }
            }
            atomicAdd(&at_most, le);
            atomicMin(&above, gt);
        }
        __syncthreads();
        if (threadIdx.x == 0u) {
            const unsigned int hi_bits = (p.hi != p.lo && (unsigned long long)at_most <= p.hi) ? above : lo_bits;
            const double q = ito_lerp((double)__uint_as_float(lo_bits), (double)__uint_as_float(hi_bits), p.w);
            if (nan_seen != 0u || q != q) {
                scale = __longlong_as_double(0x7ff8000000000000ll);
            } else {
                scale = q < 1.0 ? 1.0 : (q > p.max_value ? p.max_value : q);
            }
        }
        __syncthreads();
        const double s = scale;
        for (unsigned long long i = threadIdx.x; i < p.sample_len; i += blockDim.x) {
            if (s != s) {
                ito_store(x, i, __uint_as_float(0x7fc00000u));
                continue;
            }
            double v = (double)ito_load(x, i);
            v = v < -s ? -s : (v > s ? s : v);
            ito_store(x, i, __double2float_rn(__ddiv_rn(v, s)));
        }
        // The shared state is the next sample's.
        __syncthreads();
    }
}
