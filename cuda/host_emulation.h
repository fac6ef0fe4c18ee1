// Stands in for the CUDA built-ins so that cuda/*.cu compile with the host C++ compiler and
// run on the CPU (tests only; force-included by cuda/emulation/build.rs). It supplies only
// what the kernels use: thread/block indices, a launch that runs every block and thread,
// __syncthreads, __shfl_down_sync, atomicOr, the intrinsics, and the vector types. The arithmetic
// intrinsics map to the IEEE operations the device performs (__fmaf_rn → fmaf, __fdiv_rn →
// correctly rounded /, __fsqrt_rn → sqrt); the build uses -ffp-contract=off so that the host
// compiler fuses nothing the device would not. The kernel sources contain no #ifdef for this.
//
// Launch modes: a kernel with no barrier runs its threads one after another on one OS thread;
// a kernel with __syncthreads or warp shuffles runs each block's threads as OS threads that
// meet at real barriers (blocks one after another, so `__shared__` may be a static).
#ifndef ITO_HOST_EMULATION_H
#define ITO_HOST_EMULATION_H

#include <cmath>
#include <cstring>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ static
#define __launch_bounds__(...)
#define __grid_constant__

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) uint2 {
    unsigned int x, y;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return (unsigned int)(((unsigned long long)a * b) >> 32);
}
inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// The atomics the kernels use (the non-finite report, threshold's histogram): threads of a
// threaded launch run at once.
inline unsigned int atomicOr(unsigned int* address, unsigned int value) {
    return __atomic_fetch_or(address, value, __ATOMIC_RELAXED);
}
inline unsigned int atomicAdd(unsigned int* address, unsigned int value) {
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned int atomicMin(unsigned int* address, unsigned int value) {
    unsigned int old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (value < old && !__atomic_compare_exchange_n(address, &old, value, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline double __ddiv_rn(double a, double b) { return a / b; }
inline float __double2float_rn(double a) { return (float)a; }
inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

// Block-wide barrier (threaded launches only; aborts in a sequential launch).
void __syncthreads();
// Lane (lane mod width) + delta of the same width-wide segment, or the caller's own value when
// that falls outside the segment; every lane of the warp must call it (mask is all lanes).
float __shfl_down_sync(unsigned int mask, float value, unsigned int delta, int width = 32);

// The kernels' link names in the emulation. ito's C API exports functions named like some
// kernels (ito_lincomb, ito_fill_normal, ito_milstein); a test build links the emulation beside
// it, so here every kernel (the same source, the same name in the source) takes a prefixed
// symbol. The PTX modules keep the names.
#define ito_lincomb ito_kernel_lincomb
#define ito_fill_normal ito_kernel_fill_normal
#define ito_reduce_leaves ito_kernel_reduce_leaves
#define ito_reduce_combine ito_kernel_reduce_combine
#define ito_brownian_tree ito_kernel_brownian_tree
#define ito_milstein ito_kernel_milstein
#define ito_ou_bank ito_kernel_ou_bank
#define ito_langevin_norms_leaves ito_kernel_langevin_norms_leaves
#define ito_langevin_step_size ito_kernel_langevin_step_size
#define ito_langevin_update ito_kernel_langevin_update
#define ito_threshold ito_kernel_threshold

#endif
