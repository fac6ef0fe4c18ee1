// The argument blocks of every CUDA kernel, passed by value (one struct per launch). The Rust
// side mirrors them as #[repr(C)] structs in src/runtime/cuda/abi.rs; a test compares every size
// and field offset with these (cuda/emulation/tests/abi.rs). Every kernel that stores tensor
// elements from arithmetic takes a `nonfinite` report word: it ORs 1 into it when it stored a
// value that is not finite (cuda/storage.cuh), the same pass, as every CPU backend reports.
// (ito_threshold has none: it makes a sample NaN only when the sample already held a NaN or
// an infinity, which the pass that stored it reported.)
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
    unsigned int* nonfinite;  // report word (ito_report_nonfinite), or null
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
    unsigned int* nonfinite;
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

// brownian_tree (kernels/src/brownian_tree.rs): y ← Σⱼ cⱼ·N(seed, streamⱼ, stepⱼ, offset + i), the
// terms with cⱼ = 0 already dropped by the host.
#define ITO_BROWNIAN_TREE_MAX_TERMS 66
struct ito_tree_term {
    unsigned int stream;
    unsigned int step;
    float coef;
};
struct ito_brownian_tree_args {
    ito_tensor y;
    unsigned long long seed;
    unsigned long long offset;
    unsigned long long len;
    unsigned int* nonfinite;
    unsigned int n_terms;
    unsigned int reserved;
    ito_tree_term terms[ITO_BROWNIAN_TREE_MAX_TERMS];
};

// milstein (kernels/src/milstein.rs): x ← x + Δt·f + √Δt·g·z + (Δt/2)·h·(z² − 1).
struct ito_milstein_args {
    ito_tensor x;
    ito_tensor f;
    ito_tensor g;
    ito_tensor h;
    ito_noise_key key;
    unsigned long long offset;
    unsigned long long len;
    unsigned int* nonfinite;
    float dt;
    float sqrt_dt;
    float half_dt;
    unsigned int reserved;
};

// ou_bank (kernels/src/ou_bank.rs): K OU planes (state = K planes of len elements, one after
// another), exact step from z₁ (stream) and z₂ (stream + 1); out (optional) ← Σ ω_k·ΔY_k.
#define ITO_OU_BANK_MAX_K 8
struct ito_ou_bank_args {
    ito_tensor state;
    ito_tensor out;  // out.ptr == 0: no output
    ito_noise_key key;
    unsigned long long offset;
    unsigned long long len;
    unsigned int* nonfinite;  // state and out
    unsigned int k;
    float sqrt_h;
    float decay[ITO_OU_BANK_MAX_K];
    float a[ITO_OU_BANK_MAX_K];
    float b[ITO_OU_BANK_MAX_K];
    float omega[ITO_OU_BANK_MAX_K];
};

// langevin (kernels/src/langevin.rs, src/langevin.rs): the corrector over samples of
// sample_len elements, four launches with no host round trip. ito_langevin_norms_leaves writes
// each leaf's (Σscore², Σz², 0) to leaf_stats like ito_reduce_leaves; reduce.cu's
// ito_reduce_combine folds them into norms (3 per sample); ito_langevin_step_size computes
// ε per sample in f64 exactly as the host does (per sample, or from the batch means of the
// norms) and the f32 coefficients (ε, √(2ε)); ito_langevin_update applies
// x ← 1·x + ε·score + √(2ε)·z, lincomb's arithmetic, with the same z.
struct ito_langevin_args {
    ito_tensor x;
    ito_tensor score;
    ito_noise_key key;
    unsigned long long offset;  // global index of element 0
    unsigned long long sample_len;
    unsigned long long samples;
    unsigned long long leaves_per_sample;
    unsigned int* nonfinite;  // report word of the update and of step sizes that are not finite
    float* leaf_stats;  // 3 per leaf
    float* norms;       // 3 per sample: (Σscore², Σz², 0)
    double* eps;        // per sample
    float* coefs;       // 2 per sample: ε and √(2ε) as f32
    double snr;
    double alpha;
    unsigned int batch_mean;
    unsigned int reserved;
};

// threshold (src/runtime/threshold.rs): dynamic thresholding of `samples` samples of
// sample_len elements in place. The host computes the ranks of the quantile: the order
// statistics lo and hi (= lo or lo + 1) and the weight w = rank − lo.
struct ito_threshold_args {
    ito_tensor x;
    unsigned long long sample_len;  // < 2^32
    unsigned long long samples;
    unsigned long long lo;
    unsigned long long hi;
    double w;
    double max_value;
};

#endif
