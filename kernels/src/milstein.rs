//! `milstein`: one Milstein step of an SDE with diagonal noise, the Brownian increment drawn
//! inline from the counter (ΔW = √Δt·z, z = N(seed, stream, step, offset + i)):
//!
//! ```text
//! x[i] ← x[i] + Δt·f[i] + √Δt·g[i]·z + (Δt/2)·h[i]·(z² − 1)        h = g·∂g/∂x (the user's)
//! ```
//!
//! # The definition, to the bit
//!
//! With a = Δt, b = √Δt and c = Δt/2 rounded to f32 once (by the caller): s = fma(z, z, −1);
//! acc = fma(a, f, x); acc = fma(b·z, g, acc) where b·z is one multiply; acc = fma(c·s, h, acc)
//! where c·s is one multiply; one rounding to x's storage type. Euler–Maruyama is `lincomb`;
//! this kernel exists because the z² term is not linear in the noise.

use crate::error::{check_finite, check_len, ArgError, Problem};
use crate::lanes::Lanes;
use crate::lincomb::Noise;
use crate::noise::{run_elementwise, Elementwise};
use crate::storage::{TensorMut, TensorRef};

/// Validates a `milstein` call by its lengths (every backend's check): f, g, h as long as x;
/// Δt finite and ≥ 0; `noise.offset + len` within u64. Returns (Δt, √Δt, Δt/2) as the kernel
/// uses them: f32, each correctly rounded once, identically for every backend.
pub fn check_milstein(
    x_len: usize,
    f_len: usize,
    g_len: usize,
    h_len: usize,
    dt: f32,
    noise: Noise,
) -> Result<(f32, f32, f32), ArgError> {
    let n = x_len;
    check_len("f", None, n, f_len)?;
    check_len("g", None, n, g_len)?;
    check_len("h", None, n, h_len)?;
    check_finite("dt", None, dt)?;
    if dt < 0.0 {
        return Err(ArgError::new(
            "dt",
            Problem::OutOfRange {
                expected: "Δt ≥ 0"
            },
        ));
    }
    if noise.offset.checked_add(n as u64).is_none() {
        return Err(ArgError::new(
            "noise.offset",
            Problem::OutOfRange {
                expected: "offset + length ≤ u64::MAX",
            },
        ));
    }
    Ok((dt, libm::sqrtf(dt), 0.5 * dt))
}

/// A validated `milstein` call over one contiguous range of elements.
#[derive(Debug)]
pub struct Milstein<'a> {
    x: TensorMut<'a>,
    f: TensorRef<'a>,
    g: TensorRef<'a>,
    h: TensorRef<'a>,
    dt: f32,
    sqrt_dt: f32,
    half_dt: f32,
    noise: Noise,
}

impl<'a> Milstein<'a> {
    /// Validates: f, g, h as long as x; Δt finite and ≥ 0 (as f32, with √Δt and Δt/2);
    /// `noise.offset + x.len()` within u64.
    pub fn new(
        x: TensorMut<'a>,
        f: TensorRef<'a>,
        g: TensorRef<'a>,
        h: TensorRef<'a>,
        dt: f32,
        noise: Noise,
    ) -> Result<Self, ArgError> {
        let (dt, sqrt_dt, half_dt) = check_milstein(x.len(), f.len(), g.len(), h.len(), dt, noise)?;
        Ok(Milstein {
            x,
            f,
            g,
            h,
            dt,
            sqrt_dt,
            half_dt,
            noise,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Splits into elements `[0, mid)` and `[mid, len)` (`mid` clamped to the length).
    pub fn split_at(self, mid: usize) -> (Self, Self) {
        let mid = mid.min(self.len());
        let (xa, xb) = self.x.split_at(mid);
        let (fa, fb) = self.f.split_at(mid);
        let (ga, gb) = self.g.split_at(mid);
        let (ha, hb) = self.h.split_at(mid);
        let right = Noise {
            key: self.noise.key,
            offset: self.noise.offset + mid as u64,
        };
        let (dt, sqrt_dt, half_dt) = (self.dt, self.sqrt_dt, self.half_dt);
        (
            Milstein {
                x: xa,
                f: fa,
                g: ga,
                h: ha,
                dt,
                sqrt_dt,
                half_dt,
                noise: self.noise,
            },
            Milstein {
                x: xb,
                f: fb,
                g: gb,
                h: hb,
                dt,
                sqrt_dt,
                half_dt,
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

impl Elementwise for Milstein<'_> {
    #[inline(always)]
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z: L::F, flags: L::F) -> L::F {
        let x = self.x.load(l, i);
        let (f, g, h) = (self.f.load(l, i), self.g.load(l, i), self.h.load(l, i));
        let s = l.fma(z, z, l.splat(-1.0));
        let mut acc = l.fma(l.splat(self.dt), f, x);
        acc = l.fma(l.mul(l.splat(self.sqrt_dt), z), g, acc);
        acc = l.fma(l.mul(l.splat(self.half_dt), s), h, acc);
        self.x.store_checked(l, i, acc, flags)
    }
}
