//! `brownian_tree`: the tensor side of a virtual Brownian tree. Every value the tree gives —
//! W(t) at any time, or an increment W(s, t) — is a fixed linear combination of a few
//! counter-keyed normal streams (one per tree node on the query's path), with weights the host
//! computes from the bridge formula. This kernel forms that combination in one pass:
//!
//! ```text
//! y[i] ← Σⱼ cⱼ·N(seed, streamⱼ, stepⱼ, offset + i)
//! ```
//!
//! # The definition, to the bit
//!
//! The sum starts from +0 and takes one fused multiply-add per term, in the order given; the
//! result rounds once to y's storage type. A term with a zero coefficient is skipped (its
//! normals are not drawn). Which nodes and weights a query needs, and the node numbering, are
//! `ito::sde::brownian`'s business; this kernel knows only (stream, step) pairs.

use crate::error::{check_finite, ArgError, Problem};
use crate::lanes::{Lanes, LanesFn, Scalar};
use crate::noise::NoiseKey;
use crate::storage::{flagged, TensorMut};

/// The most terms one call takes: two descents of a depth-31 tree (each W(r) needs W(1), one
/// midpoint per level and its leaf: depth + 2 streams).
pub const MAX_TERMS: usize = 66;

/// One normal stream of the combination and its weight.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Term {
    /// The stream tag of the key.
    pub stream: u32,
    /// The step word of the key (the tree node id).
    pub step: u32,
    /// The weight cⱼ.
    pub coef: f32,
}

/// Validates a `brownian_tree` call by its length (every backend's check): at most
/// [`MAX_TERMS`] terms, finite coefficients, `offset + len` within u64.
pub fn check_brownian_tree(len: usize, terms: &[Term], offset: u64) -> Result<(), ArgError> {
    if terms.len() > MAX_TERMS {
        return Err(ArgError::new(
            "terms",
            Problem::TooMany {
                max: MAX_TERMS,
                found: terms.len(),
            },
        ));
    }
    for (j, t) in terms.iter().enumerate() {
        check_finite("terms.coef", Some(j), t.coef)?;
    }
    if offset.checked_add(len as u64).is_none() {
        return Err(ArgError::new(
            "offset",
            Problem::OutOfRange {
                expected: "offset + length ≤ u64::MAX",
            },
        ));
    }
    Ok(())
}

/// The terms a call draws: those with a non-zero coefficient, in order (every backend skips
/// the others without drawing their normals).
pub fn present_terms(terms: &[Term]) -> impl Iterator<Item = &Term> {
    terms.iter().filter(|t| t.coef != 0.0)
}

/// A validated `brownian_tree` call over one contiguous range of elements.
#[derive(Debug)]
pub struct BrownianTree<'a> {
    y: TensorMut<'a>,
    seed: u64,
    terms: [Term; MAX_TERMS],
    n_terms: usize,
    offset: u64,
}

impl<'a> BrownianTree<'a> {
    /// Validates: at most [`MAX_TERMS`] terms, finite coefficients, `offset + y.len()` within
    /// u64.
    pub fn new(y: TensorMut<'a>, seed: u64, terms: &[Term], offset: u64) -> Result<Self, ArgError> {
        check_brownian_tree(y.len(), terms, offset)?;
        // Zero terms are dropped here, so the kernel never draws their normals.
        let mut arr = [Term::default(); MAX_TERMS];
        let mut n = 0;
        for t in present_terms(terms) {
            arr[n] = *t;
            n += 1;
        }
        Ok(BrownianTree {
            y,
            seed,
            terms: arr,
            n_terms: n,
            offset,
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
        let BrownianTree {
            y,
            seed,
            terms,
            n_terms,
            offset,
        } = self;
        let (a, b) = y.split_at(mid);
        let right_offset = offset + a.len() as u64;
        (
            BrownianTree {
                y: a,
                seed,
                terms,
                n_terms,
                offset,
            },
            BrownianTree {
                y: b,
                seed,
                terms,
                n_terms,
                offset: right_offset,
            },
        )
    }

    fn key(&self, t: &Term) -> NoiseKey {
        NoiseKey {
            seed: self.seed,
            stream: t.stream,
            step: t.step,
        }
    }

    /// Element `i` (local) computed alone: the definition, and the head/tail path.
    fn element(&self, i: usize) -> f32 {
        let g = self.offset + i as u64;
        let mut acc = 0.0f32;
        for t in &self.terms[..self.n_terms] {
            acc = Scalar.fma(t.coef, self.key(t).normal(g), acc);
        }
        acc
    }

    /// Runs the kernel on lanes `l`: whole tiles of 4·W elements (aligned in the global index)
    /// on the lanes, the rest one element at a time. Returns whether it stored a value that is
    /// not finite.
    #[inline(always)]
    pub fn run<L: Lanes>(&mut self, l: L) -> bool {
        l.outlined(Tiles { k: self })
    }
}

/// The lane body, outlined once per lane type.
struct Tiles<'k, 'a> {
    k: &'k mut BrownianTree<'a>,
}

impl LanesFn for Tiles<'_, '_> {
    type Output = bool;
    #[inline(always)]
    fn call<L: Lanes>(self, l: L) -> bool {
        let k = self.k;
        let len = k.len();
        let w = L::WIDTH;
        let tile = 4 * w as u64;
        let head = ((tile - k.offset % tile) % tile).min(len as u64) as usize;
        let (mut flags, mut flags1) = (l.splat(0.0), 0.0f32);
        let mut i = 0;
        while i < head {
            let v = k.element(i);
            flags1 = k.y.store_checked(Scalar, i, v, flags1);
            i += 1;
        }
        while i + 4 * w <= len {
            let block = (k.offset + i as u64) / 4;
            let mut acc = [l.splat(0.0); 4];
            for j in 0..k.n_terms {
                let t = k.terms[j];
                let z = k.key(&t).tile_normals(l, block);
                let c = l.splat(t.coef);
                for (a, zv) in acc.iter_mut().zip(z) {
                    *a = l.fma(c, zv, *a);
                }
            }
            for (v, a) in acc.into_iter().enumerate() {
                flags = k.y.store_checked(l, i + v * w, a, flags);
            }
            i += 4 * w;
        }
        while i < len {
            let v = k.element(i);
            flags1 = k.y.store_checked(Scalar, i, v, flags1);
            i += 1;
        }
        flagged(l, flags) || flagged(Scalar, flags1)
    }
}
