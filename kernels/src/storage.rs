//! Tensor storage types (f32, f16, bf16) and the one rounding rule for narrowing stores.
//!
//! Kernel arithmetic is always f32. A tensor argument may be stored as any of the three types;
//! the kernel widens on load (exact) and rounds to nearest even on store. The tensor views are
//! enums rather than type parameters so that one compiled kernel serves every combination of
//! argument types; the match per vector load is a well-predicted branch.

use crate::lanes::Lanes;
use crate::{bf16, f16};

/// The storage type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the top half of a binary32).
    Bf16,
}

impl Dtype {
    /// The smallest |v| whose store is not finite: values below it round to a finite element,
    /// values at or above it (and NaN) do not. ∞ for f32; 65520 for f16 (halfway from its
    /// largest 65504 to 2¹⁶, which ties to even, i.e. to ∞); for bf16 halfway from its largest
    /// 0x7f7f to 0x7f80 (∞), f32 bits 0x7f7f8000.
    pub const fn store_limit(self) -> f32 {
        match self {
            Dtype::F32 => f32::INFINITY,
            Dtype::F16 => 65520.0,
            Dtype::Bf16 => f32::from_bits(0x7f7f_8000),
        }
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }
}

/// A read-only tensor of any storage type.
#[derive(Clone, Copy, Debug)]
pub enum TensorRef<'a> {
    /// f32 elements.
    F32(&'a [f32]),
    /// f16 elements.
    F16(&'a [f16]),
    /// bf16 elements.
    Bf16(&'a [bf16]),
}

/// A writable tensor of any storage type.
#[derive(Debug)]
pub enum TensorMut<'a> {
    /// f32 elements.
    F32(&'a mut [f32]),
    /// f16 elements.
    F16(&'a mut [f16]),
    /// bf16 elements.
    Bf16(&'a mut [bf16]),
}

impl<'a> From<&'a [f32]> for TensorRef<'a> {
    fn from(s: &'a [f32]) -> Self {
        TensorRef::F32(s)
    }
}
impl<'a> From<&'a [f16]> for TensorRef<'a> {
    fn from(s: &'a [f16]) -> Self {
        TensorRef::F16(s)
    }
}
impl<'a> From<&'a [bf16]> for TensorRef<'a> {
    fn from(s: &'a [bf16]) -> Self {
        TensorRef::Bf16(s)
    }
}
impl<'a> From<&'a mut [f32]> for TensorMut<'a> {
    fn from(s: &'a mut [f32]) -> Self {
        TensorMut::F32(s)
    }
}
impl<'a> From<&'a mut [f16]> for TensorMut<'a> {
    fn from(s: &'a mut [f16]) -> Self {
        TensorMut::F16(s)
    }
}
impl<'a> From<&'a mut [bf16]> for TensorMut<'a> {
    fn from(s: &'a mut [bf16]) -> Self {
        TensorMut::Bf16(s)
    }
}

impl<'a> TensorRef<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorRef::F32(s) => s.len(),
            TensorRef::F16(s) => s.len(),
            TensorRef::Bf16(s) => s.len(),
        }
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage type.
    pub fn dtype(&self) -> Dtype {
        match self {
            TensorRef::F32(_) => Dtype::F32,
            TensorRef::F16(_) => Dtype::F16,
            TensorRef::Bf16(_) => Dtype::Bf16,
        }
    }
    /// Splits into `[0, mid)` and `[mid, len)` (`mid` clamped to the length).
    pub fn split_at(self, mid: usize) -> (TensorRef<'a>, TensorRef<'a>) {
        let mid = mid.min(self.len());
        match self {
            TensorRef::F32(s) => {
                let (a, b) = s.split_at(mid);
                (TensorRef::F32(a), TensorRef::F32(b))
            }
            TensorRef::F16(s) => {
                let (a, b) = s.split_at(mid);
                (TensorRef::F16(a), TensorRef::F16(b))
            }
            TensorRef::Bf16(s) => {
                let (a, b) = s.split_at(mid);
                (TensorRef::Bf16(a), TensorRef::Bf16(b))
            }
        }
    }
    /// Element `i` widened to f32; `None` when out of range.
    pub fn get_f32(&self, i: usize) -> Option<f32> {
        match self {
            TensorRef::F32(s) => s.get(i).copied(),
            TensorRef::F16(s) => s.get(i).map(|h| h.to_f32()),
            TensorRef::Bf16(s) => s.get(i).map(|h| h.to_f32()),
        }
    }
    /// Loads `L::WIDTH` elements starting at `i`, widened to f32.
    #[inline(always)]
    pub fn load<L: Lanes>(&self, l: L, i: usize) -> L::F {
        match self {
            TensorRef::F32(s) => l.load_f32(&s[i..]),
            TensorRef::F16(s) => l.load_f16(&s[i..]),
            TensorRef::Bf16(s) => l.load_bf16(&s[i..]),
        }
    }
}

impl<'a> TensorMut<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorMut::F32(s) => s.len(),
            TensorMut::F16(s) => s.len(),
            TensorMut::Bf16(s) => s.len(),
        }
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage type.
    pub fn dtype(&self) -> Dtype {
        match self {
            TensorMut::F32(_) => Dtype::F32,
            TensorMut::F16(_) => Dtype::F16,
            TensorMut::Bf16(_) => Dtype::Bf16,
        }
    }
    /// A shorter-lived view of the same elements.
    pub fn reborrow(&mut self) -> TensorMut<'_> {
        match self {
            TensorMut::F32(s) => TensorMut::F32(s),
            TensorMut::F16(s) => TensorMut::F16(s),
            TensorMut::Bf16(s) => TensorMut::Bf16(s),
        }
    }
    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> TensorRef<'_> {
        match self {
            TensorMut::F32(s) => TensorRef::F32(s),
            TensorMut::F16(s) => TensorRef::F16(s),
            TensorMut::Bf16(s) => TensorRef::Bf16(s),
        }
    }
    /// Splits into `[0, mid)` and `[mid, len)` (`mid` clamped to the length).
    pub fn split_at(self, mid: usize) -> (TensorMut<'a>, TensorMut<'a>) {
        let mid = mid.min(self.len());
        match self {
            TensorMut::F32(s) => {
                let (a, b) = s.split_at_mut(mid);
                (TensorMut::F32(a), TensorMut::F32(b))
            }
            TensorMut::F16(s) => {
                let (a, b) = s.split_at_mut(mid);
                (TensorMut::F16(a), TensorMut::F16(b))
            }
            TensorMut::Bf16(s) => {
                let (a, b) = s.split_at_mut(mid);
                (TensorMut::Bf16(a), TensorMut::Bf16(b))
            }
        }
    }
    /// Loads `L::WIDTH` elements starting at `i`, widened to f32.
    #[inline(always)]
    pub fn load<L: Lanes>(&self, l: L, i: usize) -> L::F {
        match self {
            TensorMut::F32(s) => l.load_f32(&s[i..]),
            TensorMut::F16(s) => l.load_f16(&s[i..]),
            TensorMut::Bf16(s) => l.load_bf16(&s[i..]),
        }
    }
    /// Stores `L::WIDTH` elements starting at `i`, rounded to the storage type.
    #[inline(always)]
    pub fn store<L: Lanes>(&mut self, l: L, i: usize, v: L::F) {
        match self {
            TensorMut::F32(s) => l.store_f32(&mut s[i..], v),
            TensorMut::F16(s) => l.store_f16(&mut s[i..], v),
            TensorMut::Bf16(s) => l.store_bf16(&mut s[i..], v),
        }
    }
    /// [`TensorMut::store`], folding "the stored element is not finite" into `flags` (see
    /// [`flag_store`]): the non-finite report of every pass.
    #[inline(always)]
    pub fn store_checked<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F {
        // One dispatch for the store and the check, each arm with its constant threshold.
        match self {
            TensorMut::F32(s) => {
                l.store_f32(&mut s[i..], v);
                flag_store(l, flags, v, f32::STORE_LIMIT)
            }
            TensorMut::F16(s) => {
                l.store_f16(&mut s[i..], v);
                flag_store(l, flags, v, f16::STORE_LIMIT)
            }
            TensorMut::Bf16(s) => {
                l.store_bf16(&mut s[i..], v);
                flag_store(l, flags, v, bf16::STORE_LIMIT)
            }
        }
    }
}

/// The non-finite report's accumulator: `acc` (+0 in every lane at the start) turns NaN, for
/// good, in the lanes where `v`'s store under threshold `limit` ([`Dtype::store_limit`]) is
/// not finite. For f32 (`limit` = ∞) one [`Lanes::nan_sticky`]; for f16 and bf16 a compare
/// against the threshold whose all-ones mask is OR-ed in (all ones is a NaN).
#[inline(always)]
pub fn flag_store<L: Lanes>(l: L, acc: L::F, v: L::F, limit: f32) -> L::F {
    if limit == f32::INFINITY {
        l.nan_sticky(acc, v)
    } else {
        l.bits_to_f32(l.flag_not_below(l.f32_to_bits(acc), v, l.splat(limit)))
    }
}

/// Whether a report accumulator ([`flag_store`]) saw a value that is not finite: any lane
/// that is not +0.
#[inline(always)]
pub fn flagged<L: Lanes>(l: L, acc: L::F) -> bool {
    l.any_u(l.f32_to_bits(acc))
}

/// A storage element type, for kernels monomorphised on one type (no per-load dispatch).
pub trait Element: Copy + Send + Sync + 'static {
    /// [`Dtype::store_limit`] of this type.
    const STORE_LIMIT: f32;
    /// Loads `L::WIDTH` elements, widened to f32.
    fn load<L: Lanes>(l: L, s: &[Self]) -> L::F;
    /// Stores `L::WIDTH` elements, rounded to this type.
    fn store<L: Lanes>(l: L, d: &mut [Self], v: L::F);
}

impl Element for f32 {
    const STORE_LIMIT: f32 = Dtype::F32.store_limit();
    #[inline(always)]
    fn load<L: Lanes>(l: L, s: &[f32]) -> L::F {
        l.load_f32(s)
    }
    #[inline(always)]
    fn store<L: Lanes>(l: L, d: &mut [f32], v: L::F) {
        l.store_f32(d, v)
    }
}

impl Element for f16 {
    const STORE_LIMIT: f32 = Dtype::F16.store_limit();
    #[inline(always)]
    fn load<L: Lanes>(l: L, s: &[f16]) -> L::F {
        l.load_f16(s)
    }
    #[inline(always)]
    fn store<L: Lanes>(l: L, d: &mut [f16], v: L::F) {
        l.store_f16(d, v)
    }
}

impl Element for bf16 {
    const STORE_LIMIT: f32 = Dtype::Bf16.store_limit();
    #[inline(always)]
    fn load<L: Lanes>(l: L, s: &[bf16]) -> L::F {
        l.load_bf16(s)
    }
    #[inline(always)]
    fn store<L: Lanes>(l: L, d: &mut [bf16], v: L::F) {
        l.store_bf16(d, v)
    }
}

/// f32 → f16, round to nearest even, overflow to ±Inf, NaN stays NaN (the `half` crate's
/// IEEE conversion, which equals F16C's `vcvtps2ph` with rounding mode 0).
#[inline(always)]
pub fn f16_from_f32(x: f32) -> f16 {
    f16::from_f32(x)
}

/// f32 → bf16, round to nearest even; a NaN keeps its top payload bits and is made quiet.
///
/// Written out (rather than delegated) because the SIMD backends implement exactly this
/// integer recipe: add `0x7fff` plus the lowest kept bit, keep the top 16 bits.
#[inline(always)]
pub fn bf16_from_f32(x: f32) -> bf16 {
    let bits = x.to_bits();
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return bf16::from_bits(((bits >> 16) as u16) | 0x0040);
    }
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1));
    bf16::from_bits((rounded >> 16) as u16)
}
