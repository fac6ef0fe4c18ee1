//! Counter-based noise: Philox4x32-10 and ito's exact Box–Muller normal.
//!
//! # The stream, fixed
//!
//! The normal of global element `i` of step `step` in stream `stream` under seed `seed` is
//! a pure function of those four numbers:
//!
//! - key = (seed & 0xffffffff, seed ≫ 32); counter = (block & 0xffffffff, block ≫ 32, step,
//!   stream), block = i ≫ 2, word = i & 3 — exactly cuRAND's
//!   `curand_init(seed, (stream << 32) | step, 4·block)` + `curand4()` and PyTorch's
//!   `at::Philox4_32(seed, (stream << 32) | step, block)`, so either is an oracle for the raw
//!   words;
//! - the block's words pair as (w0, w1) → (z0, z1) and (w2, w3) → (z2, z3) by Box–Muller:
//!   radius √(−2 ln u) with u = (w_even + ½)·2⁻³² rounded once to f32 (all 32 bits used),
//!   angle 2π·((w_odd ≫ 8) | 1)/2²⁴ as an exact fixed-point fraction of a turn;
//! - ln, sin and cos are ito's own polynomials built from `+ − ×`, fma, correctly rounded `/`
//!   and `√`, so every backend returns the same bits. Within 2 ulp of an f64 evaluation on
//!   the same inputs (tests/normal_accuracy.rs).
//!
//! The largest |z| is √(66 ln 2) ≈ 6.7644 (u = 2⁻³³), as with cuRAND's 32-bit uniforms; a
//! 24-bit uniform would stop at ≈ 5.9. Golden values pinned in tests/rng_golden.rs make any
//! change to the stream fail a test.
//!
//! # One noise identity, and where each use draws
//!
//! A user names noise by a [`NoiseSource`]: (seed, stream, offset), the offset being the global
//! index of element 0 (a shard of a batch passes its own). Streams are the user's to pick
//! freely — batch index, device, rank. ito's own uses of one source are kept apart by a
//! [`NoiseUse`] tag in the top six bits of the element index, bits 58–63, which no offset a
//! source accepts can reach (offset + length ≤ 2⁵⁸ = [`MAX_ELEMENTS`]). Use `u`, step `k`,
//! element `i` of a source draws the normal of
//!
//! ```text
//! seed, stream, step k, global element (u << 58) | (offset + i)
//! ```
//!
//! i.e. Philox counter (block lo, block hi, k, stream) with block = ((u << 58) | (offset + i)) >> 2:
//! still cuRAND's and PyTorch's layout, so either remains an oracle. Two different uses, or two
//! different streams, seeds or steps, never share a normal; the test `noise_layout` draws every
//! use from neighbouring streams and offsets and checks it.
//!
//! | use | tag | step word | element |
//! | --- | --- | --- | --- |
//! | [`NoiseUse::Step`]: a stochastic solver's step noise (SDE-DPM-Solver++, ancestral, DDPM, EDM churn) | 0 | step k | offset + i |
//! | [`NoiseUse::Initial`]: a driver's initial state | 1 | 0 | offset + i |
//! | [`NoiseUse::Corrector`]: Langevin steps (PC corrector, annealed Langevin, Langevin–Gibbs' x-step) | 2 | the driver's step count | offset + i |
//! | [`NoiseUse::Predictor`]: the PC sampler's predictor | 3 | time index | offset + i |
//! | [`NoiseUse::Level`]: Langevin–Gibbs' noise-level step, one normal per sample | 4 | sweep | offset / sample_len + b |
//! | [`NoiseUse::Tree`]: Brownian-tree nodes (ids < 2^depth) and in-leaf bridges (ids ≥ 2^depth) | 5 | node id | offset + i |
//! | [`NoiseUse::OuBank`]: the OU bank's two normals, stream words 2s and 2s + 1 | 6 | step k | offset + i |
//! | [`NoiseUse::Increment`]: an SDE stepper's diagonal ΔW | 7 | step k | offset + i |
//! | [`NoiseUse::ScalarIncrement`]: an SDE stepper's per-sample ΔW | 8 | step k | offset / sample_len + b |
//!
//! Tag 0 is also where a raw kernel call with `Noise { key, offset }` below 2⁵⁸ draws: the
//! solver step noise of stream s at step k is exactly `fill_normal` under (seed, s, k) — the
//! layout of ito 0.1's samplers, kept so that their per-step noise did not change.

use ito_kernels::lincomb::Noise;
pub use ito_kernels::noise::NoiseKey;

use crate::runtime::Error;
pub use ito_kernels::normal::{angle_numerator, box_muller, cos_sin_turn, ln, radius_uniform};
pub use ito_kernels::philox::{philox4x32, philox4x32_10};

/// The largest |z| the transform can produce: √(−2 ln 2⁻³³) = √(66 ln 2).
pub const MAX_ABS_NORMAL: f64 = 6.763_705_635_001_895;

/// The normal of global element `index` under `key` (the scalar definition; the kernels
/// produce the same bits in bulk).
pub fn normal(key: NoiseKey, index: u64) -> f32 {
    key.normal(index)
}

/// Elements one use of a source can address: offset + length ≤ 2⁵⁸ (the tag takes bits 58–63).
pub const MAX_ELEMENTS: u64 = 1 << USE_SHIFT;

/// Where the use tag sits in the element index.
const USE_SHIFT: u32 = 58;

/// What a draw is for (see the module docs' table). Each use owns its own region of the
/// counter, so two uses of one [`NoiseSource`] never draw the same normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoiseUse {
    /// A stochastic solver's per-step noise.
    Step = 0,
    /// A driver's initial state.
    Initial = 1,
    /// Langevin steps: PC corrector, annealed Langevin, Langevin–Gibbs' x-step.
    Corrector = 2,
    /// The PC sampler's predictor.
    Predictor = 3,
    /// Langevin–Gibbs' per-sample noise-level step.
    Level = 4,
    /// Brownian-tree nodes and in-leaf bridges.
    Tree = 5,
    /// The OU bank of fractional noise.
    OuBank = 6,
    /// An SDE stepper's diagonal increment.
    Increment = 7,
    /// An SDE stepper's per-sample (scalar) increment.
    ScalarIncrement = 8,
}

impl NoiseUse {
    /// Every use, in tag order (a slice: a later use extends it without changing its type).
    pub const ALL: &'static [NoiseUse] = &[
        NoiseUse::Step,
        NoiseUse::Initial,
        NoiseUse::Corrector,
        NoiseUse::Predictor,
        NoiseUse::Level,
        NoiseUse::Tree,
        NoiseUse::OuBank,
        NoiseUse::Increment,
        NoiseUse::ScalarIncrement,
    ];

    /// The tag: bits 58–63 of every element index this use draws.
    pub fn tag(self) -> u64 {
        self as u64
    }
}

/// A source of noise as a user names it: seed, stream, and the global index of element 0.
/// Every driver of ito (samplers, the PC sampler, Langevin drivers, Brownian trees, SDE
/// steppers, fractional noise) takes one; see the module docs for where each use draws.
///
/// ```
/// use ito::runtime::rng::{NoiseSource, NoiseUse};
/// // Shard 3 of a batch split in shards of 4096 elements, batch stream 7.
/// let source = NoiseSource::new(42).with_stream(7).with_offset(3 * 4096);
/// let step5 = source.noise(NoiseUse::Step, 5, 4096)?; // the kernel's counter address
/// assert_eq!((step5.key.stream, step5.key.step, step5.offset), (7, 5, 3 * 4096));
/// let init = source.noise(NoiseUse::Initial, 0, 4096)?;
/// assert_eq!(init.offset, (1 << 58) | (3 * 4096));
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct NoiseSource {
    /// The seed (Philox's 64-bit key).
    pub seed: u64,
    /// The user's stream: any u32 (batch index, device, rank, …), except that the OU bank of
    /// fractional noise, which takes two stream words 2s and 2s + 1, needs s < 2³¹.
    pub stream: u32,
    /// Global index of element 0 (a shard of a batch passes its own); offset + length must stay
    /// within [`MAX_ELEMENTS`].
    pub offset: u64,
}

impl NoiseSource {
    /// Stream 0, offset 0 under `seed`.
    pub fn new(seed: u64) -> Self {
        NoiseSource {
            seed,
            stream: 0,
            offset: 0,
        }
    }

    /// The same source on stream `stream`.
    pub fn with_stream(self, stream: u32) -> Self {
        NoiseSource { stream, ..self }
    }

    /// The same source with element 0 at global index `offset`.
    pub fn with_offset(self, offset: u64) -> Self {
        NoiseSource { offset, ..self }
    }

    /// `Ok` when `len` elements from the offset stay inside one use's region
    /// (offset + len ≤ [`MAX_ELEMENTS`]).
    pub fn check(&self, len: usize) -> Result<(), Error> {
        match self.offset.checked_add(len as u64) {
            Some(end) if end <= MAX_ELEMENTS => Ok(()),
            _ => Err(Error::config(
                "noise.offset",
                "offset + length ≤ 2^58 (the elements one noise use can address)",
                format!("{} + {len}", self.offset),
            )),
        }
    }

    /// The kernel's counter address for `len` elements of `use_` at `step`: the key
    /// (seed, stream, step) and the element offset (tag ≪ 58) | offset. Checks the range first.
    pub fn noise(&self, use_: NoiseUse, step: u32, len: usize) -> Result<Noise, Error> {
        self.check(len)?;
        Ok(self.address(use_, step))
    }

    /// [`NoiseSource::noise`] without the range check, for callers that made it once for the
    /// largest tensor they draw.
    pub fn address(&self, use_: NoiseUse, step: u32) -> Noise {
        debug_assert!(
            self.offset < MAX_ELEMENTS,
            "NoiseSource::address without a range check"
        );
        Noise {
            key: NoiseKey {
                seed: self.seed,
                stream: self.stream,
                step,
            },
            offset: (use_.tag() << USE_SHIFT) | (self.offset & (MAX_ELEMENTS - 1)),
        }
    }
}
