//! Where each normal comes from: the (seed, stream, step, element) → Philox key and counter
//! mapping, and the tile driver that feeds normals to every noisy elementwise kernel.
//!
//! # The mapping (fixed; changing it changes every user's results)
//!
//! For seed `seed`, stream tag `stream`, step `step` and global element index `i`:
//! key = (seed & 0xffffffff, seed ≫ 32), counter = (block & 0xffffffff, block ≫ 32, step,
//! stream) with block = i ≫ 2, and the element's normal is word `i & 3` of the block's four
//! Box–Muller normals ([`crate::normal`]). The raw words equal cuRAND's
//! `curand_init(seed, (stream << 32) | step, 4·block)` followed by `curand4()`, and PyTorch's
//! `at::Philox4_32(seed, (stream << 32) | step, block)`.
//!
//! The normal depends on nothing but those four numbers: a shard of a batch passes the global
//! index of its first element as `offset`, and threads, chunking and backends cannot matter.
//! A kernel that needs two normals per element takes a second stream tag, never another word.
//!
//! # The tile driver
//!
//! SIMD backends generate the normals of `W` consecutive blocks at once (W lanes of counters),
//! i.e. a tile of 4·W elements whose global start is a multiple of 4·W. Elements before the
//! first aligned tile and after the last are computed one at a time by the scalar path, which
//! is the same code at width 1, so the bits cannot differ.

use crate::lanes::{Lanes, Scalar};
use crate::normal::normals_from_block_lanes;
use crate::philox::philox4x32_lanes;
use crate::storage::flagged;

/// What a stream of normals is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NoiseKey {
    /// The user's seed (64 bits: Philox's key).
    pub seed: u64,
    /// The stream tag: distinct uses in one step (sampler noise, corrector noise, …).
    pub stream: u32,
    /// The step number.
    pub step: u32,
}

impl NoiseKey {
    /// The Philox key: (seed low word, seed high word).
    #[inline(always)]
    pub fn key(&self) -> [u32; 2] {
        [self.seed as u32, (self.seed >> 32) as u32]
    }

    /// The Philox counter of `block` (elements 4·block … 4·block + 3).
    #[inline(always)]
    pub fn counter(&self, block: u64) -> [u32; 4] {
        [block as u32, (block >> 32) as u32, self.step, self.stream]
    }

    /// The four raw Philox words of `block`.
    pub fn block_words(&self, block: u64) -> [u32; 4] {
        crate::philox::philox4x32_10(self.counter(block), self.key())
    }

    /// The four normals of `block`. (Not inlined: kernels call it only for the few elements
    /// outside whole tiles, and one compiled copy keeps the kernels' code small.)
    pub fn block_normals(&self, block: u64) -> [f32; 4] {
        normals_from_block_lanes(Scalar, self.block_words(block))
    }

    /// The normal of global element `index`.
    pub fn normal(&self, index: u64) -> f32 {
        self.block_normals(index >> 2)[(index & 3) as usize]
    }

    /// Normals of blocks `first_block … first_block + W − 1`, already in element order
    /// (see [`Lanes::interleave4`]). `first_block` must be a multiple of `W`, so that the low
    /// counter word cannot carry into the high word between lanes.
    ///
    /// Each lane type compiles the transform once, in its own entry point
    /// ([`Lanes::tile_normals`]), rather than once per kernel and storage type.
    #[inline(always)]
    pub fn tile_normals<L: Lanes>(&self, l: L, first_block: u64) -> [L::F; 4] {
        l.tile_normals(self, first_block)
    }
}

/// The body of [`NoiseKey::tile_normals`], for the lane types' entry points to inline.
#[inline(always)]
pub fn tile_normals_inline<L: Lanes>(l: L, key: &NoiseKey, first_block: u64) -> [L::F; 4] {
    let c = key.counter(first_block);
    let ctr = [
        l.index_u(c[0]),
        l.splat_u(c[1]),
        l.splat_u(c[2]),
        l.splat_u(c[3]),
    ];
    let w = philox4x32_lanes::<L, 10>(l, ctr, key.key());
    l.interleave4(normals_from_block_lanes(l, w))
}

/// A fused elementwise kernel, applied one vector of `L::WIDTH` elements at a time.
pub trait Elementwise {
    /// Processes elements `i … i + L::WIDTH − 1` (local indices); `z` holds their normals
    /// (unspecified when the kernel draws no noise). Returns `flags` with every stored value
    /// folded in ([`crate::storage::flag_store`]: NaN in a lane that stored a value that is
    /// not finite).
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z: L::F, flags: L::F) -> L::F;
}

/// Runs `op` over local elements `0 … len − 1`, with the normals of global elements
/// `offset … offset + len − 1` under `key` when `key` is given. Returns whether any stored
/// value was not finite — the report folded into the pass (one fused multiply-add per stored
/// vector for f32, a compare and an or for f16/bf16), so a caller never needs a second pass.
///
/// The caller guarantees `offset + len` does not overflow `u64` and that `op` accepts
/// every index below `len`.
#[inline(always)]
pub fn run_elementwise<L: Lanes, Op: Elementwise>(
    l: L,
    op: &mut Op,
    len: usize,
    noise: Option<(NoiseKey, u64)>,
) -> bool {
    let w = L::WIDTH;
    let (mut flags, mut flags1) = (l.splat(0.0), 0.0f32);
    let Some((key, offset)) = noise else {
        let mut i = 0;
        while i + w <= len {
            flags = op.apply(l, i, l.splat(0.0), flags);
            i += w;
        }
        while i < len {
            flags1 = op.apply(Scalar, i, 0.0, flags1);
            i += 1;
        }
        return flagged(l, flags) || flagged(Scalar, flags1);
    };
    let tile = 4 * w as u64;
    let mut i = 0usize;
    // Scalar head up to the first global index that is a multiple of the tile.
    let head = ((tile - offset % tile) % tile).min(len as u64) as usize;
    while i < head {
        flags1 = op.apply(Scalar, i, key.normal(offset + i as u64), flags1);
        i += 1;
    }
    while i + 4 * w <= len {
        let z = key.tile_normals(l, (offset + i as u64) / 4);
        // Indexed, not `into_iter`: moving the array into an iterator made LLVM copy it
        // through memory (memcpy per tile) once the flags joined the loop.
        for (v, zv) in z.iter().enumerate() {
            flags = op.apply(l, i + v * w, *zv, flags);
        }
        i += 4 * w;
    }
    while i < len {
        flags1 = op.apply(Scalar, i, key.normal(offset + i as u64), flags1);
        i += 1;
    }
    flagged(l, flags) || flagged(Scalar, flags1)
}
