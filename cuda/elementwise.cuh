// The loop the noisy elementwise kernels share (brownian_tree, milstein, ou_bank): one thread per
// Philox block of four consecutive global indices, so each thread's normals come from one
// Philox call per stream, with a grid-stride loop over the blocks the range touches.
#ifndef ITO_ELEMENTWISE_CUH
#define ITO_ELEMENTWISE_CUH

// Calls body(block, j0) for every Philox block that local elements 0 … len − 1 (global
// offset … offset + len − 1) touch. j0 is the local index of the block's word 0; for a first
// block that starts before the range it wraps below zero, so `j0 + k < len` (unsigned) is
// exactly "word k lies in the range".
template <class Body>
__device__ __forceinline__ void ito_for_each_philox_block(unsigned long long offset, unsigned long long len,
                                                          Body body) {
    if (len == 0ull) {
        return;
    }
    const unsigned long long first_block = offset >> 2;
    const unsigned long long blocks = ((offset + len - 1ull) >> 2) - first_block + 1ull;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long b = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        const unsigned long long block = first_block + b;
        body(block, (block << 2) - offset);
    }
}

#endif
