//! Dynamic thresholding (Imagen; diffusers' `thresholding=True`), the scalar definition that
//! host memory runs and the CUDA kernel `cuda/threshold.cu` twins: per sample of `sample_len`
//! elements, s = the `ratio` quantile of |x| with `torch.quantile`'s linear interpolation,
//! clamped to [1, max_value]; then x ← clamp(x, −s, s)/s in place.
//!
//! Written without sorting or scratch so that the device computes the same bits in one block
//! per sample: the two order statistics the quantile interpolates between are found by radix
//! selection on the bits of |x| widened to f32 (non-negative floats order as their bits), four
//! 8-bit histogram passes over the sample, and one more pass for the next order statistic.
//! The interpolation, the clamp and the division are f64 operations, correctly rounded on
//! both sides; the result is rounded to f32, then to the storage type.
//!
//! A NaN in the sample makes the whole sample NaN, as in torch, and so does a NaN quantile
//! (interpolating between two infinities: torch then divides the sample by that NaN).

use rayon::prelude::*;

use super::memory::Storage;
use super::{Error, CHUNK};

/// |v| widened to f32, as bits (the order of non-negative floats).
fn abs_bits<S: Storage>(v: S) -> u32 {
    (v.to_f64() as f32).to_bits() & 0x7fff_ffff
}

/// The bits of the `k`-th smallest |x| (0-based; k < len): the top byte first, each pass
/// counting the elements that share the prefix found so far.
fn select_bits<S: Storage>(seg: &[S], mut k: usize) -> u32 {
    let (mut prefix, mut mask) = (0u32, 0u32);
    for shift in [24u32, 16, 8, 0] {
        let mut hist = [0usize; 256];
        for &v in seg {
            let b = abs_bits(v);
            if b & mask == prefix {
                hist[((b >> shift) & 0xff) as usize] += 1;
            }
        }
        let mut bucket = 0usize;
        while k >= hist[bucket] {
            k -= hist[bucket];
            bucket += 1;
        }
        prefix |= (bucket as u32) << shift;
        mask |= 0xff << shift;
    }
    prefix
}

/// `torch.quantile`'s interpolation between the order statistics a ≤ b at weight w (its
/// `lerp`: from the nearer end).
pub fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// The quantile's place in a sample of `sample_len` ≥ 1 elements: the order statistics lo
/// and hi (hi = lo, or lo + 1) and the weight rank − lo, rank = ratio·(sample_len − 1)
/// (computed once per call, on the host, for every backend).
pub fn ranks(sample_len: usize, ratio: f64) -> (usize, usize, f64) {
    let rank = ratio * (sample_len.max(1) - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    (lo, hi, rank - lo as f64)
}

/// The threshold s of one sample (before the clamp to [1, max_value]), or NaN.
fn sample_quantile<S: Storage>(seg: &[S], ratio: f64) -> f64 {
    if seg.iter().any(|v| v.to_f64().is_nan()) {
        return f64::NAN;
    }
    let (lo, hi, w) = ranks(seg.len(), ratio);
    let lo_bits = select_bits(seg, lo);
    let hi_bits = if hi == lo {
        lo_bits
    } else {
        // hi = lo + 1: the next order statistic is lo's value again when enough elements
        // equal it, else the smallest value above it.
        let (mut at_most, mut above) = (0usize, u32::MAX);
        for &v in seg {
            let b = abs_bits(v);
            if b <= lo_bits {
                at_most += 1;
            } else {
                above = above.min(b);
            }
        }
        if at_most > hi {
            lo_bits
        } else {
            above
        }
    };
    let value = |bits: u32| f64::from(f32::from_bits(bits));
    lerp(value(lo_bits), value(hi_bits), w)
}

/// Thresholds one sample in place.
fn threshold_sample<S: Storage>(seg: &mut [S], ratio: f64, max_value: f64) {
    let q = sample_quantile(seg, ratio);
    if q.is_nan() {
        seg.fill(S::from_f64(f64::NAN));
        return;
    }
    let s = q.clamp(1.0, max_value);
    for x in seg.iter_mut() {
        *x = S::from_f64(x.to_f64().clamp(-s, s) / s);
    }
}

/// The arguments every backend checks: whole samples of fewer than 2³² elements (the device
/// counts in 32 bits), a ratio in [0, 1], a finite max_value ≥ 1. Returns the sample count.
pub fn check_threshold(
    len: usize,
    sample_len: usize,
    ratio: f64,
    max_value: f64,
) -> Result<usize, Error> {
    if sample_len == 0 || len % sample_len != 0 {
        return Err(Error::config(
            "sample_len",
            "a positive divisor of the number of elements",
            sample_len,
        ));
    }
    if u32::try_from(sample_len).is_err() {
        return Err(Error::config(
            "sample_len",
            "fewer than 2^32 elements per sample",
            sample_len,
        ));
    }
    if !(0.0..=1.0).contains(&ratio) {
        return Err(Error::config("ratio", "a quantile in [0, 1]", ratio));
    }
    if !(max_value.is_finite() && max_value >= 1.0) {
        return Err(Error::config(
            "max_value",
            "a largest threshold ≥ 1 (thresholds are clamped to [1, max_value])",
            max_value,
        ));
    }
    Ok(len / sample_len)
}

/// Dynamic thresholding of every sample of `x` in place (see the module docs). Samples run in
/// parallel on rayon's pool in groups of at least [`CHUNK`] elements, as every CPU pass
/// splits its work; a call within one chunk runs on the calling thread (and allocates
/// nothing).
pub fn threshold<S: Storage>(
    x: &mut [S],
    sample_len: usize,
    ratio: f64,
    max_value: f64,
) -> Result<(), Error> {
    check_threshold(x.len(), sample_len, ratio, max_value)?;
    if x.is_empty() {
        return Ok(());
    }
    if x.len() <= CHUNK {
        x.chunks_mut(sample_len)
            .for_each(|seg| threshold_sample(seg, ratio, max_value));
    } else {
        x.par_chunks_mut(sample_len)
            .with_min_len(CHUNK.div_ceil(sample_len))
            .for_each(|seg| threshold_sample(seg, ratio, max_value));
    }
    Ok(())
}
