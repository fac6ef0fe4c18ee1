// milstein on CUDA: the twin of kernels/src/milstein.rs: s = fma(z, z, −1); acc = fma(Δt, f, x);
// acc = fma(√Δt·z, g, acc); acc = fma((Δt/2)·s, h, acc); one rounding to x's storage type.
#include "elementwise.cuh"
#include "kernel_args.cuh"
#include "normal.cuh"

extern "C" __global__ void __launch_bounds__(1024) ito_milstein(ito_milstein_args p) {
    unsigned int bad = 0u;
    ito_for_each_philox_block(p.offset, p.len, [&](unsigned long long block, unsigned long long j0) {
        const ito_normals4 z = ito_block_normals(p.key, block);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const unsigned long long i = j0 + (unsigned long long)k;
            if (i >= p.len) {
                continue;
            }
            const float x = ito_load(p.x, i);
            const float f = ito_load(p.f, i);
            const float g = ito_load(p.g, i);
            const float h = ito_load(p.h, i);
            const float s = __fmaf_rn(z.z[k], z.z[k], -1.0f);
            float acc = __fmaf_rn(p.dt, f, x);
            acc = __fmaf_rn(p.sqrt_dt * z.z[k], g, acc);
            acc = __fmaf_rn(p.half_dt * s, h, acc);
            bad |= ito_store(p.x, i, acc);
        }
    });
    ito_report_nonfinite(p.nonfinite, bad);
}
