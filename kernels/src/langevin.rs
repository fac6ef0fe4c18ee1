//! `langevin`, pass 1: per sample, ‖score‖² and ‖z‖² with z = N(seed, stream, step, offset + i)
//! regenerated from its counter — never stored beyond one leaf of [`LEAF`] elements on the
//! stack. Both sums follow `reduce`'s fixed order (leaves of 256, groups of 16, halving fold,
//! pairwise leaves), so ‖score‖² is bit-identical to `reduce`'s Σx² of the same tensor, and
//! every backend returns the same bits.
//!
//! Pass 2 (x ← x + ε·score + √(2ε)·z with the same z) is a `lincomb` per sample; the step size
//! ε = 2α·(r·‖z‖/‖score‖)² is computed between the passes by [`Corrector::step_size`] — on the
//! host for the CPU backends, on the device by the CUDA kernel, with the same operations.

use crate::error::{ArgError, Problem};
use crate::lanes::Lanes;
use crate::lincomb::Noise;
use crate::reduce::{Reduce, LEAF};
use crate::storage::TensorRef;

/// How the corrector's norms enter its step size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormMode {
    /// Each sample's own ‖z‖/‖score‖.
    PerSample,
    /// The batch means of ‖z‖ and ‖score‖ (score-SDE's reference implementation).
    BatchMean,
}

/// The corrector's settings: the step-size rule ε = 2α·(r·‖z‖/‖score‖)².
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corrector {
    /// Target signal-to-noise ratio r.
    pub snr: f64,
    /// α (score-SDE: 1 − β_i for VP, 1 for VE).
    pub alpha: f64,
    /// Per-sample or batch-mean norms.
    pub norms: NormMode,
}

impl Corrector {
    /// `Ok` when r is finite and ≥ 0 and α finite and > 0.
    pub fn check(&self) -> Result<(), ArgError> {
        if !(self.snr.is_finite() && self.snr >= 0.0) {
            return Err(ArgError::new(
                "snr",
                Problem::OutOfRange {
                    expected: "a finite signal-to-noise ratio ≥ 0",
                },
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ArgError::new(
                "alpha",
                Problem::OutOfRange {
                    expected: "a finite α > 0",
                },
            ));
        }
        Ok(())
    }

    /// ε = 2α·(r·‖z‖/‖score‖)² from the norms, in f64 with exactly these operations (the CUDA
    /// step-size kernel repeats them): q = r·‖z‖/‖score‖, ε = 2α·(q·q).
    pub fn step_size(&self, score_norm: f64, noise_norm: f64) -> f64 {
        let q = self.snr * noise_norm / score_norm;
        2.0 * self.alpha * (q * q)
    }
}

/// Pass 1 over a batch of equal-length samples.
#[derive(Clone, Copy, Debug)]
pub struct LangevinNorms<'a> {
    score: TensorRef<'a>,
    sample_len: usize,
    noise: Noise,
}

/// ‖score‖² and ‖z‖² of one leaf or sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Norms {
    /// Σ score².
    pub score_sq: f32,
    /// Σ z².
    pub noise_sq: f32,
}

impl Norms {
    /// Combines two adjacent parts (the pairwise step of [`combine_norms`]).
    pub fn combine(self, right: Norms) -> Norms {
        Norms {
            score_sq: self.score_sq + right.score_sq,
            noise_sq: self.noise_sq + right.noise_sq,
        }
    }
}

/// Combines leaf norms pairwise in place, in [`crate::reduce::combine_leaves`]'s order.
pub fn combine_norms(leaves: &mut [Norms]) -> Norms {
    crate::reduce::combine_pairwise(leaves, Norms::combine)
}

/// Σx² of one leaf (≤ [`LEAF`] elements) in `reduce`'s order. A function, not a closure:
/// closures are not inlined into the lane types' `#[target_feature]` entry points.
#[inline(always)]
fn leaf_sum_sq<L: Lanes>(l: L, x: TensorRef<'_>) -> f32 {
    let len = x.len();
    match Reduce::new(x, None, len.max(1)) {
        Ok(r) if len > 0 => r.leaf(l, 0, 0).sum_sq,
        _ => 0.0,
    }
}

/// Validates a Langevin call by its length (every backend's check): `sample_len > 0` dividing
/// `len`, and `offset + len` within u64. Returns the number of samples.
pub fn check_langevin(len: usize, sample_len: usize, noise: Noise) -> Result<usize, ArgError> {
    if sample_len == 0 || len % sample_len != 0 {
        return Err(ArgError::new(
            "sample_len",
            Problem::OutOfRange {
                expected: "sample_len > 0, dividing the score's length",
            },
        ));
    }
    if noise.offset.checked_add(len as u64).is_none() {
        return Err(ArgError::new(
            "noise.offset",
            Problem::OutOfRange {
                expected: "offset + length ≤ u64::MAX",
            },
        ));
    }
    Ok(len / sample_len)
}

impl<'a> LangevinNorms<'a> {
    /// Validates: `sample_len > 0` dividing the score's length, and `offset + len` within u64.
    pub fn new(score: TensorRef<'a>, sample_len: usize, noise: Noise) -> Result<Self, ArgError> {
        check_langevin(score.len(), sample_len, noise)?;
        Ok(LangevinNorms {
            score,
            sample_len,
            noise,
        })
    }

    /// Number of samples.
    pub fn samples(&self) -> usize {
        self.score.len() / self.sample_len
    }

    /// Leaves per sample.
    pub fn leaves_per_sample(&self) -> usize {
        self.sample_len.div_ceil(LEAF)
    }

    /// The norms of leaf `leaf` of sample `sample` (both in range), on lanes `l`.
    #[inline(always)]
    pub fn leaf<L: Lanes>(&self, l: L, sample: usize, leaf: usize) -> Norms {
        let start = sample * self.sample_len + leaf * LEAF;
        let len = LEAF.min((sample + 1) * self.sample_len - start);
        let mut z = [0.0f32; LEAF];
        self.normals(l, self.noise.offset + start as u64, &mut z[..len]);
        let (_, rest) = self.score.split_at(start);
        let (s, _) = rest.split_at(len);
        // Both sums through `reduce`'s leaf, i.e. in its order (one segment of `len`).
        Norms {
            score_sq: leaf_sum_sq(l, s),
            noise_sq: leaf_sum_sq(l, TensorRef::F32(&z[..len])),
        }
    }

    /// The normals of global elements `first …` into `out`: whole aligned tiles on the lanes,
    /// the rest one at a time (the same values either way).
    #[inline(always)]
    fn normals<L: Lanes>(&self, l: L, first: u64, out: &mut [f32]) {
        let key = self.noise.key;
        let w = L::WIDTH;
        let tile = 4 * w as u64;
        let len = out.len();
        let head = ((tile - first % tile) % tile).min(len as u64) as usize;
        let mut i = 0;
        while i < head {
            out[i] = key.normal(first + i as u64);
            i += 1;
        }
        while i + 4 * w <= len {
            let z = key.tile_normals(l, (first + i as u64) / 4);
            for (v, zv) in z.into_iter().enumerate() {
                l.store_f32(&mut out[i + v * w..], zv);
            }
            i += 4 * w;
        }
        while i < len {
            out[i] = key.normal(first + i as u64);
            i += 1;
        }
    }
}
