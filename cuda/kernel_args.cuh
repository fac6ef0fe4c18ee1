// The argument blocks of every CUDA kernel, passed by value (one struct per launch). The Rust
// side mirrors them as #[repr(C)] structs in src/cuda/abi.rs; a test compares every size and
// field offset with these (cuda/emulation/tests/abi.rs).
#ifndef ITO_KERNEL_ARGS_CUH
#define ITO_KERNEL_ARGS_CUH

#include "philox.cuh"
#include "storage.cuh"

#define ITO_MAX_INPUTS 6

// ito_lincomb_args.flags
#define ITO_LINCOMB_NOISE 1u   // the noise term is present
#define ITO_LINCOMB_Y2 2u      // y2 is written
#define ITO_LINCOMB_READS_Y 4u // y is read (c_y ≠ 0, or d_y ≠ 0 with y2)

// lincomb (kernels/src/lincomb.rs): y ← c_y·y + Σ cⱼ·aⱼ + (c_z + Σ eⱼ·aⱼ)·z, y2 ← d_y·y + Σ dⱼ·aⱼ.
struct ito_lincomb_args {
    ito_tensor y;
    ito_tensor y2;
    ito_tensor inputs[ITO_MAX_INPUTS];
    ito_noise_key key;
    unsigned long long offset;  // global index of element 0 (the noise counter's origin)
    unsigned long long len;
    unsigned int n_inputs;
    unsigned int flags;
    unsigned int used;  // bit j: some present term reads input j
    float c_y;
    float c[ITO_MAX_INPUTS];
    float c_z;
    float e[ITO_MAX_INPUTS];
    float d_y;
    float d[ITO_MAX_INPUTS];
};

// fill_normal (kernels/src/fill_normal.rs): y ← μ + σ·z.
struct ito_fill_normal_args {
    ito_tensor y;
    ito_noise_key key;
    unsigned long long offset;
    unsigned long long len;
    float mean;
    float std;
};

// reduce (kernels/src/reduce.rs), two launches: ito_reduce_leaves writes every leaf's
// (Σx², Σxy, max|x|) to leaf_stats[3·(segment·leaves_per_segment + leaf) + 0..3];
// ito_reduce_combine folds each segment's leaves pairwise (ping-ponging with scratch, the
// same size) and writes (Σx², Σxy, max|x|) to out[3·segment + 0..3].
struct ito_reduce_args {
    ito_tensor x;
    ito_tensor y;  // y.ptr == 0: no y (Σxy = +0)
    unsigned long long segment_len;
    unsigned long long segments;
    unsigned long long leaves_per_segment;
    float* leaf_stats;
    float* scratch;
    float* out;
};

#endif
