//! Philox4x32 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
//! SC'11): a counter-based generator, four 32-bit words out per 128-bit counter and 64-bit key.
//!
//! One round maps counter (c0, c1, c2, c3) under key (k0, k1) to
//! (hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0)), and the key is bumped by
//! the Weyl constants (W0, W1) between rounds. The constants are the ones Random123, cuRAND
//! and PyTorch share; the published known-answer vectors pin them (tests/philox_kat.rs).

use crate::lanes::{Lanes, Scalar};

/// Multiplier applied to counter word 0.
pub const M0: u32 = 0xD251_1F53;
/// Multiplier applied to counter word 2.
pub const M1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 (the golden ratio).
pub const W0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 (√3 − 1).
pub const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with `ROUNDS` rounds on `L::WIDTH` independent counters at once.
#[inline(always)]
pub fn philox4x32_lanes<L: Lanes, const ROUNDS: usize>(
    l: L,
    ctr: [L::U; 4],
    key: [u32; 2],
) -> [L::U; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..ROUNDS {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (hi0, lo0) = l.mulhilo(c[0], M0);
        let (hi1, lo1) = l.mulhilo(c[2], M1);
        c = [
            l.xor_u(l.xor_u(hi1, c[1]), l.splat_u(k[0])),
            lo1,
            l.xor_u(l.xor_u(hi0, c[3]), l.splat_u(k[1])),
            lo0,
        ];
    }
    c
}

/// Philox4x32-10, the generator ito uses: four words for one counter and key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    philox4x32_lanes::<Scalar, 10>(Scalar, counter, key)
}

/// Philox4x32 with another round count (the known-answer file also pins 7 rounds).
pub fn philox4x32<const ROUNDS: usize>(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    philox4x32_lanes::<Scalar, ROUNDS>(Scalar, counter, key)
}
