//! `ou_bank`: one exact step of K Ornstein–Uhlenbeck processes per element driven by one
//! Brownian motion (Markov-approximate fractional Brownian motion; the constants come from
//! `ito::sde::fbm`). Per element i, with z₁ = N(seed, stream, step, offset + i) and
//! z₂ = N(seed, stream + 1, step, offset + i):
//!
//! ```text
//! ΔW = √h·z₁;  for k < K:  Y_k ← d_k·Y_k + a_k·ΔW + b_k·z₂;   out ← Σ_k ω_k·(Y_k,new − Y_k,old)
//! ```
//!
//! # The definition, to the bit
//!
//! dw = √h·z₁ (one multiply); for each k in order: i = fma(b_k, z₂, a_k·dw) with a_k·dw one
//! multiply; y' = fma(d_k, y, i), rounded to the state's storage type and read back as the new
//! value; acc = fma(ω_k, y' − y, acc) starting from +0; `out` (if given) gets acc rounded once.

use crate::error::{check_finite, check_len, ArgError, Problem};
use crate::lanes::{Lanes, LanesFn, Scalar};
use crate::noise::NoiseKey;
use crate::storage::{flagged, TensorMut};

/// The most OU processes per element.
pub const MAX_K: usize = 8;

/// The per-step constants (f32, rounded once from the host's f64).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OuBankCoefs {
    /// √h.
    pub sqrt_h: f32,
    /// d_k = e^(−γ_k h).
    pub decay: [f32; MAX_K],
    /// a_k.
    pub a: [f32; MAX_K],
    /// b_k.
    pub b: [f32; MAX_K],
    /// ω_k.
    pub omega: [f32; MAX_K],
}

/// Validates an `ou_bank` call by its lengths (every backend's check): 1 … [`MAX_K`] planes
/// of equal length in `state_len` elements (and `out_len` as long as one plane), finite
/// constants, `stream < u32::MAX`, `offset + len` within u64. Returns the plane length.
pub fn check_ou_bank(
    state_len: usize,
    k: usize,
    out_len: Option<usize>,
    c: &OuBankCoefs,
    key: NoiseKey,
    offset: u64,
) -> Result<usize, ArgError> {
    if k == 0 || k > MAX_K {
        return Err(ArgError::new(
            "k",
            Problem::OutOfRange {
                expected: "1 ≤ K ≤ 8",
            },
        ));
    }
    if state_len % k != 0 {
        return Err(ArgError::new(
            "state",
            Problem::OutOfRange {
                expected: "K planes of equal length",
            },
        ));
    }
    let len = state_len / k;
    if let Some(o) = out_len {
        check_len("out", None, len, o)?;
    }
    check_finite("coefs.sqrt_h", None, c.sqrt_h)?;
    for (name, arr) in [
        ("coefs.decay", &c.decay),
        ("coefs.a", &c.a),
        ("coefs.b", &c.b),
        ("coefs.omega", &c.omega),
    ] {
        for (j, v) in arr.iter().enumerate().take(k) {
            check_finite(name, Some(j), *v)?;
        }
    }
    if key.stream == u32::MAX {
        return Err(ArgError::new(
            "key.stream",
            Problem::OutOfRange {
                expected: "a tag below u32::MAX (the second normal uses stream + 1)",
            },
        ));
    }
    if offset.checked_add(len as u64).is_none() {
        return Err(ArgError::new(
            "offset",
            Problem::OutOfRange {
                expected: "offset + length ≤ u64::MAX",
            },
        ));
    }
    Ok(len)
}

/// A validated `ou_bank` call over one contiguous range of elements.
#[derive(Debug)]
pub struct OuBank<'a> {
    planes: [Option<TensorMut<'a>>; MAX_K],
    k: usize,
    out: Option<TensorMut<'a>>,
    c: OuBankCoefs,
    key1: NoiseKey,
    key2: NoiseKey,
    offset: u64,
    len: usize,
}

impl<'a> OuBank<'a> {
    /// Validates: 1 … [`MAX_K`] state planes of equal length (and `out` as long), finite
    /// constants, `stream < u32::MAX` (the second normal uses `stream + 1`), and
    /// `offset + len` within u64. `state` holds the K planes one after another.
    pub fn new(
        state: TensorMut<'a>,
        k: usize,
        out: Option<TensorMut<'a>>,
        c: &OuBankCoefs,
        key: NoiseKey,
        offset: u64,
    ) -> Result<Self, ArgError> {
        let len = check_ou_bank(
            state.len(),
            k,
            out.as_ref().map(|o| o.len()),
            c,
            key,
            offset,
        )?;
        let mut planes: [Option<TensorMut<'a>>; MAX_K] = core::array::from_fn(|_| None);
        let mut rest = state;
        for p in planes.iter_mut().take(k) {
            let (head, tail) = rest.split_at(len);
            *p = Some(head);
            rest = tail;
        }
        let key2 = NoiseKey {
            stream: key.stream + 1,
            ..key
        };
        Ok(OuBank {
            planes,
            k,
            out,
            c: *c,
            key1: key,
            key2,
            offset,
            len,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Splits into elements `[0, mid)` and `[mid, len)` (`mid` clamped to the length).
    pub fn split_at(self, mid: usize) -> (Self, Self) {
        let mid = mid.min(self.len);
        let (k, c, key1, key2, offset, len) =
            (self.k, self.c, self.key1, self.key2, self.offset, self.len);
        let mut left: [Option<TensorMut<'a>>; MAX_K] = core::array::from_fn(|_| None);
        let mut right: [Option<TensorMut<'a>>; MAX_K] = core::array::from_fn(|_| None);
        for (j, p) in self.planes.into_iter().enumerate() {
            if let Some(t) = p {
                let (a, b) = t.split_at(mid);
                left[j] = Some(a);
                right[j] = Some(b);
            }
        }
        let (out_left, out_right) = match self.out {
            Some(t) => {
                let (a, b) = t.split_at(mid);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        (
            OuBank {
                planes: left,
                k,
                out: out_left,
                c,
                key1,
                key2,
                offset,
                len: mid,
            },
            OuBank {
                planes: right,
                k,
                out: out_right,
                c,
                key1,
                key2,
                offset: offset + mid as u64,
                len: len - mid,
            },
        )
    }

    /// One vector of elements at local index `i` on lanes `l`, with their two normals; returns
    /// `flags` with the lanes set where a stored plane or output value is not finite.
    #[inline(always)]
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z1: L::F, z2: L::F, mut flags: L::F) -> L::F {
        let c = &self.c;
        let dw = l.mul(l.splat(c.sqrt_h), z1);
        let mut acc = l.splat(0.0);
        for j in 0..self.k {
            if let Some(p) = self.planes[j].as_mut() {
                let y = p.load(l, i);
                let inj = l.fma(l.splat(c.b[j]), z2, l.mul(l.splat(c.a[j]), dw));
                flags = p.store_checked(l, i, l.fma(l.splat(c.decay[j]), y, inj), flags);
                let y_new = p.load(l, i);
                acc = l.fma(l.splat(c.omega[j]), l.sub(y_new, y), acc);
            }
        }
        if let Some(o) = self.out.as_mut() {
            flags = o.store_checked(l, i, acc, flags);
        }
        flags
    }

    /// Runs the kernel on lanes `l`; returns whether it stored a value that is not finite.
    #[inline(always)]
    pub fn run<L: Lanes>(&mut self, l: L) -> bool {
        l.outlined(Tiles { k: self })
    }
}

/// The lane body, outlined once per lane type.
struct Tiles<'k, 'a> {
    k: &'k mut OuBank<'a>,
}

impl LanesFn for Tiles<'_, '_> {
    type Output = bool;
    #[inline(always)]
    fn call<L: Lanes>(self, l: L) -> bool {
        let k = self.k;
        let len = k.len;
        let w = L::WIDTH;
        let tile = 4 * w as u64;
        let head = ((tile - k.offset % tile) % tile).min(len as u64) as usize;
        let (mut flags, mut flags1) = (l.splat(0.0), 0.0f32);
        let mut i = 0;
        let one = |k: &mut OuBank<'_>, i: usize, flags1: f32| {
            let g = k.offset + i as u64;
            let (z1, z2) = (k.key1.normal(g), k.key2.normal(g));
            k.apply(Scalar, i, z1, z2, flags1)
        };
        while i < head {
            flags1 = one(k, i, flags1);
            i += 1;
        }
        while i + 4 * w <= len {
            let block = (k.offset + i as u64) / 4;
            let z1 = k.key1.tile_normals(l, block);
            let z2 = k.key2.tile_normals(l, block);
            for v in 0..4 {
                flags = k.apply(l, i + v * w, z1[v], z2[v], flags);
            }
            i += 4 * w;
        }
        while i < len {
            flags1 = one(k, i, flags1);
            i += 1;
        }
        flagged(l, flags) || flagged(Scalar, flags1)
    }
}
