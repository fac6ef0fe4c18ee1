//! `reduce`: per-segment Σx², Σx·y and max|x| over a batch of equal-length segments, in one
//! fixed summation order that every backend follows, so the sums are bit-identical and do
//! not depend on the thread count.
//!
//! # The order
//!
//! A segment is cut into leaves of [`LEAF`] = 256 elements (the last may be shorter), a leaf
//! into groups of [`GROUP`] = 16 (the last group of a leaf is padded with +0). Sixteen
//! accumulators start at +0; element k of every group is added into accumulator k with one
//! fma, groups in order. A leaf's sum folds the accumulators by halving (k += k + 8, then
//! k += k + 4, k + 2, k + 1). Leaf sums are combined pairwise, adjacent leaves first
//! ([`combine_leaves`]). The error is that of 16 sequential additions plus a binary tree,
//! no worse than pairwise summation.
//!
//! max|x| uses the rule "take |x| where |x| > m or |x| is NaN", so a NaN anywhere in the
//! segment makes the maximum NaN (which NaN is not specified).

use crate::error::{check_len, ArgError, Problem};
use crate::lanes::{Lanes, Scalar};
use crate::storage::TensorRef;

/// Elements per group (one accumulator per position in the group).
pub const GROUP: usize = 16;
/// Elements per leaf.
pub const LEAF: usize = 256;

/// The statistics of one segment (or of one leaf, before combining).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SegmentStats {
    /// Σ x².
    pub sum_sq: f32,
    /// Σ x·y (+0 when no y is given).
    pub sum_xy: f32,
    /// max |x| (NaN if any x is NaN).
    pub max_abs: f32,
}

impl SegmentStats {
    /// Combines two adjacent parts: sums added, maxima by the NaN-propagating rule.
    #[inline(always)]
    pub fn combine(self, right: SegmentStats) -> SegmentStats {
        SegmentStats {
            sum_sq: self.sum_sq + right.sum_sq,
            sum_xy: self.sum_xy + right.sum_xy,
            max_abs: Scalar.max_nan(self.max_abs, right.max_abs),
        }
    }
}

/// Combines leaf statistics pairwise in place (adjacent pairs first, an odd last one carried
/// up) and returns the total; `SegmentStats::default()` for an empty slice.
pub fn combine_leaves(leaves: &mut [SegmentStats]) -> SegmentStats {
    combine_pairwise(leaves, SegmentStats::combine)
}

/// The pairwise tree every per-segment sum of ito follows: adjacent pairs first, an odd last
/// one carried up a level; `T::default()` for an empty slice.
pub fn combine_pairwise<T: Copy + Default>(items: &mut [T], combine: impl Fn(T, T) -> T) -> T {
    let mut n = items.len();
    if n == 0 {
        return T::default();
    }
    while n > 1 {
        for k in 0..n / 2 {
            items[k] = combine(items[2 * k], items[2 * k + 1]);
        }
        if n % 2 == 1 {
            items[n / 2] = items[n - 1];
        }
        n = n.div_ceil(2);
    }
    items[0]
}

/// Validates a `reduce` call by its lengths (every backend's check): `segment_len > 0`, `x_len`
/// a multiple of it, `y_len` (when given) equal to `x_len`. Returns the number of segments.
pub fn check_reduce_lengths(
    x_len: usize,
    y_len: Option<usize>,
    segment_len: usize,
) -> Result<usize, ArgError> {
    if segment_len == 0 {
        return Err(ArgError::new(
            "segment_len",
            Problem::OutOfRange {
                expected: "segment_len > 0",
            },
        ));
    }
    if x_len % segment_len != 0 {
        return Err(ArgError::new(
            "x",
            Problem::OutOfRange {
                expected: "a length that is a multiple of segment_len",
            },
        ));
    }
    if let Some(n) = y_len {
        check_len("y", None, x_len, n)?;
    }
    Ok(x_len / segment_len)
}

/// A validated `reduce` call.
#[derive(Clone, Copy, Debug)]
pub struct Reduce<'a> {
    x: TensorRef<'a>,
    y: Option<TensorRef<'a>>,
    segment_len: usize,
}

impl<'a> Reduce<'a> {
    /// Validates: `segment_len > 0`, `x.len()` a multiple of it, `y` (if given) as long as `x`.
    pub fn new(
        x: TensorRef<'a>,
        y: Option<TensorRef<'a>>,
        segment_len: usize,
    ) -> Result<Self, ArgError> {
        check_reduce_lengths(x.len(), y.as_ref().map(|t| t.len()), segment_len)?;
        Ok(Reduce { x, y, segment_len })
    }

    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.x.len() / self.segment_len
    }

    /// Leaves per segment.
    pub fn leaves_per_segment(&self) -> usize {
        self.segment_len.div_ceil(LEAF)
    }

    /// The statistics of leaf `leaf` of segment `segment` (both in range), on lanes `l`.
    #[inline(always)]
    pub fn leaf<L: Lanes>(&self, l: L, segment: usize, leaf: usize) -> SegmentStats {
        let seg_start = segment * self.segment_len;
        let start = seg_start + leaf * LEAF;
        let end = (start + LEAF).min(seg_start + self.segment_len);
        let vecs = GROUP / L::WIDTH;
        let zero = l.splat(0.0);
        let mut sq = [zero; GROUP];
        let mut xy = [zero; GROUP];
        let mut m = zero;
        let mut i = start;
        while i + GROUP <= end {
            for k in 0..vecs {
                let x = self.x.load(l, i + k * L::WIDTH);
                sq[k] = l.fma(x, x, sq[k]);
                if let Some(y) = &self.y {
                    xy[k] = l.fma(x, y.load(l, i + k * L::WIDTH), xy[k]);
                }
                m = l.max_nan(m, l.abs(x));
            }
            i += GROUP;
        }
        if i < end {
            let mut bx = [0.0f32; GROUP];
            let mut by = [0.0f32; GROUP];
            for (k, j) in (i..end).enumerate() {
                bx[k] = self.x.get_f32(j).unwrap_or(0.0);
                if let Some(y) = &self.y {
                    by[k] = y.get_f32(j).unwrap_or(0.0);
                }
            }
            for k in 0..vecs {
                let x = l.load_f32(&bx[k * L::WIDTH..]);
                sq[k] = l.fma(x, x, sq[k]);
                if self.y.is_some() {
                    xy[k] = l.fma(x, l.load_f32(&by[k * L::WIDTH..]), xy[k]);
                }
                m = l.max_nan(m, l.abs(x));
            }
        }
        let mut n = vecs;
        while n > 1 {
            n /= 2;
            for k in 0..n {
                sq[k] = l.add(sq[k], sq[k + n]);
                xy[k] = l.add(xy[k], xy[k + n]);
            }
        }
        SegmentStats {
            sum_sq: l.sum_halving(sq[0]),
            sum_xy: l.sum_halving(xy[0]),
            max_abs: l.max_nan_halving(m),
        }
    }

    /// The statistics of every leaf of `segment`, written to `out` (length
    /// [`Reduce::leaves_per_segment`]), then combined; returns the segment's total.
    #[inline(always)]
    pub fn segment<L: Lanes>(
        &self,
        l: L,
        segment: usize,
        scratch: &mut [SegmentStats],
    ) -> SegmentStats {
        let n = self.leaves_per_segment().min(scratch.len());
        for (leaf, s) in scratch[..n].iter_mut().enumerate() {
            *s = self.leaf(l, segment, leaf);
        }
        combine_leaves(&mut scratch[..n])
    }
}
