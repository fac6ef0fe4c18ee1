// The CPU side of the host emulation: the built-in index variables, the launch loop, the
// barriers behind __syncthreads and __shfl_down_sync, and C entry points for the Rust tests
// (one per kernel, plus the device functions the unit tests call directly).
#include "kernel_args.cuh"
#include "normal.cuh"

#include <barrier>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace {

struct Warp {
    explicit Warp(std::ptrdiff_t lanes) : meet(lanes) {}
    std::barrier<> meet;
    float slots[32];
};

struct Block {
    explicit Block(std::ptrdiff_t threads) : meet(threads) {}
    std::barrier<> meet;
    std::vector<std::unique_ptr<Warp>> warps;
};

// Set for the threads of a threaded launch; null in a sequential one.
thread_local Block* current_block = nullptr;
thread_local Warp* current_warp = nullptr;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "cuda host emulation: %s\n", what);
    std::abort();
}

void set_indices(unsigned int block, unsigned int thread, unsigned int grid_size, unsigned int block_size) {
    threadIdx = uint3{thread, 0u, 0u};
    blockIdx = uint3{block, 0u, 0u};
    blockDim = dim3{block_size, 1u, 1u};
    gridDim = dim3{grid_size, 1u, 1u};
}

// Runs `kernel` for every thread of every block. Threaded: each block's threads run at once as
// OS threads (they may meet at barriers); blocks run one after another.
template <class Kernel>
void launch(unsigned int grid, unsigned int block, bool threaded, Kernel kernel) {
    if (grid == 0u || block == 0u || block > 1024u) {
        fail("launch shape out of range (grid ≥ 1, 1 ≤ block ≤ 1024)");
    }
    // `__shared__` is a static here (host_emulation.h): one threaded launch at a time in the
    // process, or two launches from different host threads (tests run in parallel) would
    // share a block's shared memory.
    static std::mutex shared_memory;
    std::unique_lock<std::mutex> hold(shared_memory, std::defer_lock);
    if (threaded) {
        hold.lock();
    }
    for (unsigned int b = 0; b < grid; ++b) {
        if (!threaded) {
            for (unsigned int t = 0; t < block; ++t) {
                set_indices(b, t, grid, block);
                kernel();
            }
            continue;
        }
        Block state(block);
        for (unsigned int first = 0; first < block; first += 32u) {
            const unsigned int lanes = block - first < 32u ? block - first : 32u;
            state.warps.push_back(std::make_unique<Warp>(lanes));
        }
        std::vector<std::thread> threads;
        threads.reserve(block);
        for (unsigned int t = 0; t < block; ++t) {
            threads.emplace_back([&state, &kernel, b, t, grid, block] {
                set_indices(b, t, grid, block);
                current_block = &state;
                current_warp = state.warps[t / 32u].get();
                kernel();
                current_block = nullptr;
                current_warp = nullptr;
            });
        }
        for (auto& th : threads) {
            th.join();
        }
    }
}

}  // namespace

void __syncthreads() {
    if (current_block == nullptr) {
        fail("__syncthreads in a kernel launched without threads");
    }
    current_block->meet.arrive_and_wait();
}

float __shfl_down_sync(unsigned int mask, float value, unsigned int delta, int width) {
    if (current_warp == nullptr) {
        fail("__shfl_down_sync in a kernel launched without threads");
    }
    if (mask != 0xffffffffu || width <= 0 || width > 32 || (width & (width - 1)) != 0) {
        fail("__shfl_down_sync: only full masks and power-of-two widths are emulated");
    }
    const unsigned int lane = threadIdx.x & 31u;
    Warp& w = *current_warp;
    w.slots[lane] = value;
    w.meet.arrive_and_wait();
    const unsigned int in_segment = lane % (unsigned int)width;
    const float result = in_segment + delta < (unsigned int)width ? w.slots[lane + delta] : value;
    // No lane may overwrite its slot before every lane has read.
    w.meet.arrive_and_wait();
    return result;
}

extern "C" void ito_brownian_tree(ito_brownian_tree_args p);
extern "C" void ito_langevin_norms_leaves(ito_langevin_args p);
extern "C" void ito_langevin_step_size(ito_langevin_args p);
extern "C" void ito_langevin_update(ito_langevin_args p);
extern "C" void ito_milstein(ito_milstein_args p);
extern "C" void ito_ou_bank(ito_ou_bank_args p);
extern "C" void ito_lincomb(ito_lincomb_args p);
extern "C" void ito_fill_normal(ito_fill_normal_args p);
extern "C" void ito_reduce_leaves(ito_reduce_args p);
extern "C" void ito_reduce_combine(ito_reduce_args p);
extern "C" void ito_threshold(ito_threshold_args p);

extern "C" void ito_emulate_threshold(const ito_threshold_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, true, [p] { ito_threshold(*p); });
}

extern "C" void ito_emulate_lincomb(const ito_lincomb_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_lincomb(*p); });
}

extern "C" void ito_emulate_fill_normal(const ito_fill_normal_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_fill_normal(*p); });
}

extern "C" void ito_emulate_reduce_leaves(const ito_reduce_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, true, [p] { ito_reduce_leaves(*p); });
}

extern "C" void ito_emulate_reduce_combine(const ito_reduce_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, true, [p] { ito_reduce_combine(*p); });
}

extern "C" void ito_emulate_brownian_tree(const ito_brownian_tree_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_brownian_tree(*p); });
}

extern "C" void ito_emulate_milstein(const ito_milstein_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_milstein(*p); });
}

extern "C" void ito_emulate_ou_bank(const ito_ou_bank_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_ou_bank(*p); });
}

extern "C" void ito_emulate_langevin_norms_leaves(const ito_langevin_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, true, [p] { ito_langevin_norms_leaves(*p); });
}

extern "C" void ito_emulate_langevin_step_size(const ito_langevin_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_langevin_step_size(*p); });
}

extern "C" void ito_emulate_langevin_update(const ito_langevin_args* p, unsigned int grid, unsigned int block) {
    launch(grid, block, false, [p] { ito_langevin_update(*p); });
}

// The device functions themselves, for unit tests against the Rust definitions.
extern "C" void ito_emulate_block_words(unsigned long long seed, unsigned int stream, unsigned int step,
                                        unsigned long long block, unsigned int out[4]) {
    const ito_words4 w = ito_block_words(ito_noise_key{seed, stream, step}, block);
    for (int k = 0; k < 4; ++k) {
        out[k] = w.w[k];
    }
}

extern "C" void ito_emulate_box_muller(unsigned int radius_word, unsigned int angle_word, float out[2]) {
    ito_box_muller(radius_word, angle_word, &out[0], &out[1]);
}

extern "C" unsigned short ito_emulate_f16_from_f32(float v) { return ito_f16_from_f32(v); }
extern "C" float ito_emulate_f16_to_f32(unsigned short h) { return ito_f16_to_f32(h); }
extern "C" unsigned short ito_emulate_bf16_from_f32(float v) { return ito_bf16_from_f32(v); }
extern "C" float ito_emulate_bf16_to_f32(unsigned short h) { return ito_bf16_to_f32(h); }

// Sizes and field offsets of the argument blocks, in a fixed order that tests/abi.rs reads.
#define ITO_LAYOUT(out, n, value)                              \
    do {                                                       \
        if ((n) >= capacity) fail("abi layout: buffer too small"); \
        (out)[(n)++] = (unsigned long long)(value);            \
    } while (0)
extern "C" unsigned long long ito_emulate_abi_layout(unsigned long long* out, unsigned long long capacity) {
    unsigned long long n = 0;
    ITO_LAYOUT(out, n, sizeof(ito_tensor));
    ITO_LAYOUT(out, n, offsetof(ito_tensor, dtype));
    ITO_LAYOUT(out, n, sizeof(ito_noise_key));
    ITO_LAYOUT(out, n, offsetof(ito_noise_key, stream));
    ITO_LAYOUT(out, n, offsetof(ito_noise_key, step));
    ITO_LAYOUT(out, n, sizeof(ito_lincomb_args));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, y2));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, inputs));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, key));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, len));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, n_inputs));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, flags));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, used));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, c_y));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, c));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, c_z));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, e));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, d_y));
    ITO_LAYOUT(out, n, offsetof(ito_lincomb_args, d));
    ITO_LAYOUT(out, n, sizeof(ito_fill_normal_args));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, key));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, len));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, mean));
    ITO_LAYOUT(out, n, offsetof(ito_fill_normal_args, std));
    ITO_LAYOUT(out, n, sizeof(ito_reduce_args));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, y));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, segment_len));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, segments));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, leaves_per_segment));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, leaf_stats));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, scratch));
    ITO_LAYOUT(out, n, offsetof(ito_reduce_args, out));
    ITO_LAYOUT(out, n, sizeof(ito_tree_term));
    ITO_LAYOUT(out, n, offsetof(ito_tree_term, coef));
    ITO_LAYOUT(out, n, sizeof(ito_brownian_tree_args));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, seed));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, len));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, n_terms));
    ITO_LAYOUT(out, n, offsetof(ito_brownian_tree_args, terms));
    ITO_LAYOUT(out, n, sizeof(ito_milstein_args));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, h));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, key));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, len));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, dt));
    ITO_LAYOUT(out, n, offsetof(ito_milstein_args, half_dt));
    ITO_LAYOUT(out, n, sizeof(ito_ou_bank_args));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, out));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, key));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, len));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, k));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, sqrt_h));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, decay));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, a));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, b));
    ITO_LAYOUT(out, n, offsetof(ito_ou_bank_args, omega));
    ITO_LAYOUT(out, n, sizeof(ito_langevin_args));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, score));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, key));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, offset));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, sample_len));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, samples));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, leaves_per_sample));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, nonfinite));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, leaf_stats));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, norms));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, eps));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, coefs));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, snr));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, alpha));
    ITO_LAYOUT(out, n, offsetof(ito_langevin_args, batch_mean));
    ITO_LAYOUT(out, n, sizeof(ito_threshold_args));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, sample_len));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, samples));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, lo));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, hi));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, w));
    ITO_LAYOUT(out, n, offsetof(ito_threshold_args, max_value));
    return n;
}
