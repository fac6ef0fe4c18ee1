//! Launch shapes. Elementwise kernels give one thread to each Philox block (four consecutive
//! global indices) the call touches, in blocks of [`BLOCK`] threads, and cap the grid at what
//! the device keeps resident (the kernels loop grid-stride over the rest). `reduce` gives 16
//! threads to each 256-element leaf, then one block to each segment's pairwise combine.

/// Threads per block for every ito kernel.
pub const BLOCK: u32 = 256;

/// The most threads per block `ito_ou_bank` launches with (its launch bounds: with eight
/// planes unrolled it needs more than the 64 registers of 1024-thread blocks).
pub const OU_BANK_MAX_BLOCK: u32 = 512;

/// A launch: blocks in the grid and threads per block (x only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Blocks.
    pub grid: u32,
    /// Threads per block.
    pub block: u32,
}

/// Philox blocks (four global indices each) that elements `offset … offset + len − 1` touch.
pub fn philox_blocks(offset: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    ((offset + len - 1) >> 2) - (offset >> 2) + 1
}

/// Blocks a device keeps resident: `multiprocessors` × the blocks of [`BLOCK`] threads that
/// fit in 2048 threads per multiprocessor.
pub fn resident_blocks(multiprocessors: u32) -> u32 {
    multiprocessors.max(1).saturating_mul(2048 / BLOCK)
}

fn capped(threads: u64, max_grid: u32) -> Shape {
    let blocks = threads.div_ceil(u64::from(BLOCK)).max(1);
    Shape {
        grid: blocks.min(u64::from(max_grid.max(1))) as u32,
        block: BLOCK,
    }
}

/// `lincomb` and `fill_normal` over `len` elements from global index `offset`.
pub fn elementwise(offset: u64, len: u64, max_grid: u32) -> Shape {
    capped(philox_blocks(offset, len), max_grid)
}

/// `ito_reduce_leaves` over `leaves` leaves in all (16 threads each).
pub fn reduce_leaves(leaves: u64, max_grid: u32) -> Shape {
    capped(leaves.saturating_mul(16), max_grid)
}

/// `ito_reduce_combine` over `segments` segments of `leaves_per_segment` leaves.
pub fn reduce_combine(segments: u64, leaves_per_segment: u64, max_grid: u32) -> Shape {
    // Half the leaves pair up on the first level; more threads would idle.
    let useful = (leaves_per_segment / 2).clamp(32, u64::from(BLOCK)) as u32;
    Shape {
        grid: segments.clamp(1, u64::from(max_grid.max(1))) as u32,
        block: useful.next_power_of_two().min(BLOCK),
    }
}

/// `ito_langevin_step_size` over `samples` samples: one thread per sample, or one thread for
/// the batch mean (the sums over samples run in order, as on the host).
pub fn langevin_step_size(samples: u64, batch_mean: bool) -> Shape {
    if batch_mean {
        return Shape { grid: 1, block: 1 };
    }
    Shape {
        grid: samples
            .div_ceil(u64::from(BLOCK))
            .clamp(1, u64::from(u32::MAX)) as u32,
        block: BLOCK,
    }
}

/// The most threads per block `ito_threshold` launches with (its launch bounds).
pub const THRESHOLD_MAX_BLOCK: u32 = 256;

/// `ito_threshold` over `samples` samples: one block of [`THRESHOLD_MAX_BLOCK`] threads per
/// sample, the grid capped at what the device keeps resident (blocks loop over the rest).
pub fn threshold(samples: u64, max_grid: u32) -> Shape {
    Shape {
        grid: samples.clamp(1, u64::from(max_grid.max(1))) as u32,
        block: THRESHOLD_MAX_BLOCK,
    }
}
