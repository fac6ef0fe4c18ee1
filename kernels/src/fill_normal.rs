//! `fill_normal`: y\[i\] = μ + σ·N(seed, stream, step, offset + i), as one fma per element.
//!
//! Initial noise, and Brownian increments on a grid (μ = 0, σ = √Δt).

use crate::error::{check_finite, ArgError, Problem};
use crate::lanes::Lanes;
use crate::lincomb::Noise;
use crate::noise::{run_elementwise, Elementwise};
use crate::storage::TensorMut;

/// Validates a `fill_normal` call by its length (every backend's check): μ finite, σ finite
/// and ≥ 0, `noise.offset + len` within u64.
pub fn check_fill_normal(len: usize, mean: f32, std: f32, noise: Noise) -> Result<(), ArgError> {
    check_finite("mean", None, mean)?;
    check_finite("std", None, std)?;
    if std < 0.0 {
        return Err(ArgError::new(
            "std",
            Problem::OutOfRange {
                expected: "σ ≥ 0"
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
    Ok(())
}

/// A validated `fill_normal` call over one contiguous range of elements.
#[derive(Debug)]
pub struct FillNormal<'a> {
    y: TensorMut<'a>,
    mean: f32,
    std: f32,
    noise: Noise,
}

impl<'a> FillNormal<'a> {
    /// Validates: μ finite, σ finite and ≥ 0, `noise.offset + y.len()` within u64.
    pub fn new(y: TensorMut<'a>, mean: f32, std: f32, noise: Noise) -> Result<Self, ArgError> {
        check_fill_normal(y.len(), mean, std, noise)?;
        Ok(FillNormal {
            y,
            mean,
            std,
            noise,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Splits into elements `[0, mid)` and `[mid, len)` (`mid` clamped to the length).
    pub fn split_at(self, mid: usize) -> (Self, Self) {
        let FillNormal {
            y,
            mean,
            std,
            noise,
        } = self;
        let (a, b) = y.split_at(mid);
        let right = Noise {
            key: noise.key,
            offset: noise.offset + a.len() as u64,
        };
        (
            FillNormal {
                y: a,
                mean,
                std,
                noise,
            },
            FillNormal {
                y: b,
                mean,
                std,
                noise: right,
            },
        )
    }

    /// Runs the kernel on lanes `l`; returns whether it stored a value that is not finite.
    #[inline(always)]
    pub fn run<L: Lanes>(&mut self, l: L) -> bool {
        let len = self.len();
        let noise = Some((self.noise.key, self.noise.offset));
        run_elementwise(l, self, len, noise)
    }
}

impl Elementwise for FillNormal<'_> {
    #[inline(always)]
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z: L::F, flags: L::F) -> L::F {
        let v = l.fma(l.splat(self.std), z, l.splat(self.mean));
        self.y.store_checked(l, i, v, flags)
    }
}
