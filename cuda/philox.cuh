// Philox4x32-10 and the (seed, stream, step, element) → counter mapping: the CUDA twin of
// kernels/src/philox.rs and the mapping half of kernels/src/noise.rs. Integer-only, so it is
// the same on the device and in the host emulation.
#ifndef ITO_PHILOX_CUH
#define ITO_PHILOX_CUH

#define ITO_PHILOX_M0 0xD2511F53u
#define ITO_PHILOX_M1 0xCD9E8D57u
#define ITO_PHILOX_W0 0x9E3779B9u
#define ITO_PHILOX_W1 0xBB67AE85u

struct ito_words4 {
    unsigned int w[4];
};

// Ten rounds on counter c under key (k0, k1); the key is bumped between rounds.
__device__ __forceinline__ ito_words4 ito_philox4x32_10(ito_words4 c, unsigned int k0, unsigned int k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += ITO_PHILOX_W0;
            k1 += ITO_PHILOX_W1;
        }
        const unsigned int hi0 = __umulhi(c.w[0], ITO_PHILOX_M0);
        const unsigned int lo0 = c.w[0] * ITO_PHILOX_M0;
        const unsigned int hi1 = __umulhi(c.w[2], ITO_PHILOX_M1);
        const unsigned int lo1 = c.w[2] * ITO_PHILOX_M1;
        ito_words4 n;
        n.w[0] = hi1 ^ c.w[1] ^ k0;
        n.w[1] = lo1;
        n.w[2] = hi0 ^ c.w[3] ^ k1;
        n.w[3] = lo0;
        c = n;
    }
    return c;
}

// What a stream of normals is keyed by (kernels/src/noise.rs, NoiseKey).
struct ito_noise_key {
    unsigned long long seed;
    unsigned int stream;
    unsigned int step;
};

// The four raw words of Philox block `block` (elements 4·block … 4·block + 3): key = (seed lo,
// seed hi), counter = (block lo, block hi, step, stream).
__device__ __forceinline__ ito_words4 ito_block_words(ito_noise_key key, unsigned long long block) {
    ito_words4 c;
    c.w[0] = (unsigned int)block;
    c.w[1] = (unsigned int)(block >> 32);
    c.w[2] = key.step;
    c.w[3] = key.stream;
    return ito_philox4x32_10(c, (unsigned int)key.seed, (unsigned int)(key.seed >> 32));
}

#endif
