//! `lincomb`: the fused linear combination behind every exponential-integrator,
//! Runge–Kutta, DDIM and Euler–Maruyama style update.
//!
//! Per element i, with inputs a₀ … a₅ and z = N(seed, stream, step, offset + i):
//!
//! ```text
//! y[i]  ← c_y·y[i] + Σⱼ cⱼ·aⱼ[i] + (c_z + Σⱼ eⱼ·aⱼ[i])·z
//! y2[i] ← d_y·y[i] + Σⱼ dⱼ·aⱼ[i]            (from the old y[i])
//! ```
//!
//! # The definition, to the bit
//!
//! A coefficient equal to zero (either sign) means its term is absent: its tensor is not read
//! for that term, so NaN or Inf in an unused buffer cannot leak in (as BLAS treats β = 0).
//! Each output is accumulated left to right, starting from `c_y·y[i]` (one multiply) when
//! c_y ≠ 0 and from +0 otherwise, then one fused multiply-add per present term in input
//! order. The noise scale starts from c_z and takes one fma per present eⱼ term; the noise
//! term is then one fma into y's accumulator. y2 is built the same way from d_y and dⱼ.
//! The results round once to each output's storage type.
//!
//! A DPM-Solver++(2M) step with an ε-predicting model is one call: y = x (in place),
//! a₀ = ε, a₁ = the previous data prediction, y2 = the history slot that receives
//! x₀ = x/α_s − (σ_s/α_s)·ε; one pass reads x, ε, x₀_prev and writes x and x₀.

use crate::error::{check_finite, check_len, ArgError, Problem};
use crate::lanes::Lanes;
use crate::noise::{run_elementwise, Elementwise, NoiseKey};
use crate::storage::{TensorMut, TensorRef};

/// The most tensor inputs one call takes (UniPC-3's corrector and next predictor fused).
pub const MAX_INPUTS: usize = 6;

/// The coefficients of one `lincomb` call (see the module docs for the formula).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LincombCoefs {
    /// c_y, the weight of the old y in the new y.
    pub y: f32,
    /// cⱼ, the weight of input j in the new y.
    pub inputs: [f32; MAX_INPUTS],
    /// c_z, the constant part of the noise scale.
    pub noise: f32,
    /// eⱼ, the weight of input j in the noise scale (state-dependent diffusion).
    pub noise_inputs: [f32; MAX_INPUTS],
    /// d_y, the weight of the old y in y2.
    pub y2_y: f32,
    /// dⱼ, the weight of input j in y2.
    pub y2_inputs: [f32; MAX_INPUTS],
}

/// Where the noise of a call comes from: the key, and the global index of element 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Noise {
    /// (seed, stream, step).
    pub key: NoiseKey,
    /// Global index of this call's element 0 (a shard of a batch passes its offset).
    pub offset: u64,
}

/// Accumulates the present terms (non-zero coefficients) in input order: one fma each.
/// With `N` a constant the loop unrolls, so `a` stays in registers.
#[inline(always)]
fn fold<L: Lanes, const N: usize>(
    l: L,
    coefs: &[f32; MAX_INPUTS],
    a: &[L::F; N],
    start: L::F,
) -> L::F {
    let mut acc = start;
    for (j, &aj) in a.iter().enumerate() {
        if coefs[j] != 0.0 {
            acc = l.fma(l.splat(coefs[j]), aj, acc);
        }
    }
    acc
}

/// The tensor-free part of a validated call.
#[derive(Clone, Copy, Debug)]
struct Params {
    n_inputs: usize,
    /// Which inputs some present term reads.
    used: [bool; MAX_INPUTS],
    /// Whether y is read (c_y ≠ 0, or d_y ≠ 0 with a y2).
    reads_y: bool,
    c_y: f32,
    /// cⱼ, zero beyond the inputs given.
    c: [f32; MAX_INPUTS],
    c_z: f32,
    /// eⱼ, zero beyond the inputs given.
    e: [f32; MAX_INPUTS],
    noise: Option<Noise>,
    d_y: f32,
    /// dⱼ, zero beyond the inputs given.
    d: [f32; MAX_INPUTS],
}

/// A validated `lincomb` call over one contiguous range of elements.
#[derive(Debug)]
pub struct Lincomb<'a> {
    y: TensorMut<'a>,
    y2: Option<TensorMut<'a>>,
    inputs: [TensorRef<'a>; MAX_INPUTS],
    p: Params,
}

impl<'a> Lincomb<'a> {
    /// Validates the arguments: every tensor as long as `y`, at most [`MAX_INPUTS`] inputs,
    /// finite coefficients, no coefficient for an input, noise key or `y2` that is not given,
    /// and `noise.offset + y.len()` within u64.
    pub fn new(
        y: TensorMut<'a>,
        y2: Option<TensorMut<'a>>,
        inputs: &[TensorRef<'a>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Self, ArgError> {
        let n = y.len();
        if inputs.len() > MAX_INPUTS {
            return Err(ArgError::new(
                "inputs",
                Problem::TooMany {
                    max: MAX_INPUTS,
                    found: inputs.len(),
                },
            ));
        }
        for (j, a) in inputs.iter().enumerate() {
            check_len("inputs", Some(j), n, a.len())?;
        }
        if let Some(t) = &y2 {
            check_len("y2", None, n, t.len())?;
        }
        check_finite("coefs.y", None, coefs.y)?;
        check_finite("coefs.noise", None, coefs.noise)?;
        check_finite("coefs.y2_y", None, coefs.y2_y)?;
        for (name, arr) in [
            ("coefs.inputs", &coefs.inputs),
            ("coefs.noise_inputs", &coefs.noise_inputs),
            ("coefs.y2_inputs", &coefs.y2_inputs),
        ] {
            for (j, &c) in arr.iter().enumerate() {
                check_finite(name, Some(j), c)?;
                if j >= inputs.len() && c != 0.0 {
                    return Err(ArgError::at(
                        name,
                        j,
                        Problem::Missing {
                            needed: "an input tensor at this index",
                        },
                    ));
                }
            }
        }
        let noise_on = coefs.noise != 0.0 || coefs.noise_inputs.iter().any(|&e| e != 0.0);
        if noise_on && noise.is_none() {
            return Err(ArgError::new(
                "noise",
                Problem::Missing {
                    needed: "a noise key (noise coefficients are non-zero)",
                },
            ));
        }
        if let Some(nz) = &noise {
            if nz.offset.checked_add(n as u64).is_none() {
                return Err(ArgError::new(
                    "noise.offset",
                    Problem::OutOfRange {
                        expected: "offset + length ≤ u64::MAX",
                    },
                ));
            }
        }
        let y2_on = coefs.y2_y != 0.0 || coefs.y2_inputs.iter().any(|&d| d != 0.0);
        if y2_on && y2.is_none() {
            return Err(ArgError::new(
                "y2",
                Problem::Missing {
                    needed: "a second output (y2 coefficients are non-zero)",
                },
            ));
        }
        let n_inputs = inputs.len();
        let mut arr = [TensorRef::F32(&[]); MAX_INPUTS];
        arr[..n_inputs].copy_from_slice(inputs);
        // Coefficients beyond the inputs given are zero (checked above).
        let mut used = [false; MAX_INPUTS];
        for (j, u) in used.iter_mut().enumerate() {
            *u = coefs.inputs[j] != 0.0
                || coefs.y2_inputs[j] != 0.0
                || (noise_on && coefs.noise_inputs[j] != 0.0);
        }
        Ok(Lincomb {
            y,
            y2: if y2_on { y2 } else { None },
            inputs: arr,
            p: Params {
                n_inputs,
                used,
                reads_y: coefs.y != 0.0 || (y2_on && coefs.y2_y != 0.0),
                c_y: coefs.y,
                c: coefs.inputs,
                c_z: coefs.noise,
                e: coefs.noise_inputs,
                noise: if noise_on { noise } else { None },
                d_y: coefs.y2_y,
                d: coefs.y2_inputs,
            },
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

    /// Splits into elements `[0, mid)` and `[mid, len)` (`mid` clamped to the length), each
    /// half with its own noise offset.
    pub fn split_at(self, mid: usize) -> (Self, Self) {
        let mid = mid.min(self.len());
        let (ya, yb) = self.y.split_at(mid);
        let (y2a, y2b) = match self.y2 {
            Some(t) => {
                let (a, b) = t.split_at(mid);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let mut ia = self.inputs;
        let mut ib = self.inputs;
        for j in 0..self.p.n_inputs {
            (ia[j], ib[j]) = self.inputs[j].split_at(mid);
        }
        let mut pb = self.p;
        pb.noise = self.p.noise.map(|nz| Noise {
            key: nz.key,
            offset: nz.offset + mid as u64,
        });
        (
            Lincomb {
                y: ya,
                y2: y2a,
                inputs: ia,
                p: self.p,
            },
            Lincomb {
                y: yb,
                y2: y2b,
                inputs: ib,
                p: pb,
            },
        )
    }

    /// Runs the kernel on lanes `l`.
    #[inline(always)]
    pub fn run<L: Lanes>(&mut self, l: L) {
        let noise = self.p.noise.map(|nz| (nz.key, nz.offset));
        let len = self.len();
        // The input count as a constant: the per-vector loops unroll and the loaded inputs
        // stay in registers instead of a stack array.
        match self.p.n_inputs {
            0 => run_elementwise(l, &mut WithInputs::<0>(self), len, noise),
            1 => run_elementwise(l, &mut WithInputs::<1>(self), len, noise),
            2 => run_elementwise(l, &mut WithInputs::<2>(self), len, noise),
            3 => run_elementwise(l, &mut WithInputs::<3>(self), len, noise),
            4 => run_elementwise(l, &mut WithInputs::<4>(self), len, noise),
            5 => run_elementwise(l, &mut WithInputs::<5>(self), len, noise),
            _ => run_elementwise(l, &mut WithInputs::<MAX_INPUTS>(self), len, noise),
        }
    }
}

/// A [`Lincomb`] whose input count is the constant `N`.
struct WithInputs<'k, 'a, const N: usize>(&'k mut Lincomb<'a>);

impl<const N: usize> Elementwise for WithInputs<'_, '_, N> {
    #[inline(always)]
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z: L::F) {
        let k = &mut *self.0;
        let p = &k.p;
        let zero = l.splat(0.0);
        let mut a = [zero; N];
        for (j, aj) in a.iter_mut().enumerate() {
            if p.used[j] {
                *aj = k.inputs[j].load(l, i);
            }
        }
        let y_old = if p.reads_y { k.y.load(l, i) } else { zero };

        let start = if p.c_y != 0.0 {
            l.mul(l.splat(p.c_y), y_old)
        } else {
            zero
        };
        let mut acc = fold(l, &p.c, &a, start);
        if p.noise.is_some() {
            let scale = fold(l, &p.e, &a, l.splat(p.c_z));
            acc = l.fma(scale, z, acc);
        }
        if let Some(y2) = &mut k.y2 {
            let start = if p.d_y != 0.0 {
                l.mul(l.splat(p.d_y), y_old)
            } else {
                zero
            };
            y2.store(l, i, fold(l, &p.d, &a, start));
        }
        k.y.store(l, i, acc);
    }
}
