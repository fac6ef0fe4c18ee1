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
use crate::lanes::{Lanes, LanesFn};
use crate::noise::{run_elementwise, Elementwise, NoiseKey};
use crate::storage::{flag_store, Element, TensorMut, TensorRef};
use crate::{bf16, f16};

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

/// The tensor-free part of a validated call: which terms are present and their coefficients.
/// Every backend runs from this (the CPU lanes here, the CUDA argument block in `ito::runtime::cuda`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LincombParams {
    /// Number of inputs given.
    pub n_inputs: usize,
    /// Which inputs some present term reads.
    pub used: [bool; MAX_INPUTS],
    /// Whether y is read (c_y ≠ 0, or d_y ≠ 0 with a y2).
    pub reads_y: bool,
    /// Whether y2 is written (some y2 coefficient is non-zero).
    pub writes_y2: bool,
    /// c_y.
    pub c_y: f32,
    /// cⱼ, zero beyond the inputs given.
    pub c: [f32; MAX_INPUTS],
    /// c_z.
    pub c_z: f32,
    /// eⱼ, zero beyond the inputs given.
    pub e: [f32; MAX_INPUTS],
    /// The noise key and offset, when the noise term is present.
    pub noise: Option<Noise>,
    /// d_y.
    pub d_y: f32,
    /// dⱼ, zero beyond the inputs given.
    pub d: [f32; MAX_INPUTS],
}

impl LincombParams {
    /// Validates a call by its lengths: every input (`input_lens`) and y2 (`y2_len`, when
    /// given) as long as y (`len`), at most [`MAX_INPUTS`] inputs, finite coefficients, no
    /// coefficient for an input, noise key or y2 that is not given, and
    /// `noise.offset + len` within u64.
    pub fn new(
        len: usize,
        input_lens: &[usize],
        y2_len: Option<usize>,
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Self, ArgError> {
        let n = len;
        if input_lens.len() > MAX_INPUTS {
            return Err(ArgError::new(
                "inputs",
                Problem::TooMany {
                    max: MAX_INPUTS,
                    found: input_lens.len(),
                },
            ));
        }
        for (j, &a) in input_lens.iter().enumerate() {
            check_len("inputs", Some(j), n, a)?;
        }
        if let Some(t) = y2_len {
            check_len("y2", None, n, t)?;
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
                if j >= input_lens.len() && c != 0.0 {
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
        if y2_on && y2_len.is_none() {
            return Err(ArgError::new(
                "y2",
                Problem::Missing {
                    needed: "a second output (y2 coefficients are non-zero)",
                },
            ));
        }
        // Coefficients beyond the inputs given are zero (checked above).
        let mut used = [false; MAX_INPUTS];
        for (j, u) in used.iter_mut().enumerate() {
            *u = coefs.inputs[j] != 0.0
                || coefs.y2_inputs[j] != 0.0
                || (noise_on && coefs.noise_inputs[j] != 0.0);
        }
        Ok(LincombParams {
            n_inputs: input_lens.len(),
            used,
            reads_y: coefs.y != 0.0 || (y2_on && coefs.y2_y != 0.0),
            writes_y2: y2_on,
            c_y: coefs.y,
            c: coefs.inputs,
            c_z: coefs.noise,
            e: coefs.noise_inputs,
            noise: if noise_on { noise } else { None },
            d_y: coefs.y2_y,
            d: coefs.y2_inputs,
        })
    }
}

/// A validated `lincomb` call over one contiguous range of elements.
#[derive(Debug)]
pub struct Lincomb<'a> {
    y: TensorMut<'a>,
    y2: Option<TensorMut<'a>>,
    inputs: [TensorRef<'a>; MAX_INPUTS],
    p: LincombParams,
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
        if inputs.len() > MAX_INPUTS {
            return Err(ArgError::new(
                "inputs",
                Problem::TooMany {
                    max: MAX_INPUTS,
                    found: inputs.len(),
                },
            ));
        }
        let mut input_lens = [0usize; MAX_INPUTS];
        for (l, a) in input_lens.iter_mut().zip(inputs) {
            *l = a.len();
        }
        let p = LincombParams::new(
            y.len(),
            &input_lens[..inputs.len()],
            y2.as_ref().map(|t| t.len()),
            coefs,
            noise,
        )?;
        let mut arr = [TensorRef::F32(&[]); MAX_INPUTS];
        arr[..inputs.len()].copy_from_slice(inputs);
        Ok(Lincomb {
            y,
            y2: if p.writes_y2 { y2 } else { None },
            inputs: arr,
            p,
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
    ///
    /// The input count becomes a constant (the per-vector loops unroll and the loaded inputs
    /// stay in registers), and when every tensor has one storage type the loads and stores
    /// are typed (no per-vector dispatch on the type); mixed types take the dispatching path.
    ///
    /// Returns whether it stored a value (in y or y2) that is not finite.
    #[inline(always)]
    pub fn run<L: Lanes>(&mut self, l: L) -> bool {
        let noise = self.p.noise.map(|nz| (nz.key, nz.offset));
        let len = self.len();
        let p = &self.p;
        let n = p.n_inputs;
        if let Some(t) = typed::<f32>(
            &mut self.y,
            &mut self.y2,
            &self.inputs[..n],
            as_f32,
            as_f32_mut,
        ) {
            return with_const_inputs(l, t, p, len, noise);
        }
        if let Some(t) = typed::<f16>(
            &mut self.y,
            &mut self.y2,
            &self.inputs[..n],
            as_f16,
            as_f16_mut,
        ) {
            return with_const_inputs(l, t, p, len, noise);
        }
        if let Some(t) = typed::<bf16>(
            &mut self.y,
            &mut self.y2,
            &self.inputs[..n],
            as_bf16,
            as_bf16_mut,
        ) {
            return with_const_inputs(l, t, p, len, noise);
        }
        let mixed = Mixed {
            y: self.y.reborrow(),
            y2: self.y2.as_mut().map(|t| t.reborrow()),
            inputs: self.inputs,
        };
        with_const_inputs(l, mixed, p, len, noise)
    }
}

/// Where the operands of one vector come from and go to.
trait Operands {
    fn input<L: Lanes>(&self, l: L, j: usize, i: usize) -> L::F;
    fn y<L: Lanes>(&self, l: L, i: usize) -> L::F;
    /// Stores into y; returns `flags` with the lanes set whose stored value is not finite.
    fn store_y<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F;
    /// Stores into y2 when there is one (flags as for [`Operands::store_y`]).
    fn store_y2<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F;
    fn has_y2(&self) -> bool;
}

/// Tensors of any storage types: each load and store dispatches on the type.
struct Mixed<'t> {
    y: TensorMut<'t>,
    y2: Option<TensorMut<'t>>,
    inputs: [TensorRef<'t>; MAX_INPUTS],
}

impl Operands for Mixed<'_> {
    #[inline(always)]
    fn input<L: Lanes>(&self, l: L, j: usize, i: usize) -> L::F {
        self.inputs[j].load(l, i)
    }
    #[inline(always)]
    fn y<L: Lanes>(&self, l: L, i: usize) -> L::F {
        self.y.load(l, i)
    }
    #[inline(always)]
    fn store_y<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F {
        self.y.store_checked(l, i, v, flags)
    }
    #[inline(always)]
    fn store_y2<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F {
        match &mut self.y2 {
            Some(t) => t.store_checked(l, i, v, flags),
            None => flags,
        }
    }
    #[inline(always)]
    fn has_y2(&self) -> bool {
        self.y2.is_some()
    }
}

/// Tensors that all have storage type `S`.
struct Typed<'t, S> {
    y: &'t mut [S],
    y2: Option<&'t mut [S]>,
    inputs: [&'t [S]; MAX_INPUTS],
}

impl<S: Element> Operands for Typed<'_, S> {
    #[inline(always)]
    fn input<L: Lanes>(&self, l: L, j: usize, i: usize) -> L::F {
        S::load(l, &self.inputs[j][i..])
    }
    #[inline(always)]
    fn y<L: Lanes>(&self, l: L, i: usize) -> L::F {
        S::load(l, &self.y[i..])
    }
    #[inline(always)]
    fn store_y<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F {
        S::store(l, &mut self.y[i..], v);
        flag_store(l, flags, v, S::STORE_LIMIT)
    }
    #[inline(always)]
    fn store_y2<L: Lanes>(&mut self, l: L, i: usize, v: L::F, flags: L::F) -> L::F {
        match &mut self.y2 {
            Some(t) => {
                S::store(l, &mut t[i..], v);
                flag_store(l, flags, v, S::STORE_LIMIT)
            }
            None => flags,
        }
    }
    #[inline(always)]
    fn has_y2(&self) -> bool {
        self.y2.is_some()
    }
}

fn as_f32<'t>(t: &TensorRef<'t>) -> Option<&'t [f32]> {
    if let TensorRef::F32(s) = *t {
        Some(s)
    } else {
        None
    }
}
fn as_f16<'t>(t: &TensorRef<'t>) -> Option<&'t [f16]> {
    if let TensorRef::F16(s) = *t {
        Some(s)
    } else {
        None
    }
}
fn as_bf16<'t>(t: &TensorRef<'t>) -> Option<&'t [bf16]> {
    if let TensorRef::Bf16(s) = *t {
        Some(s)
    } else {
        None
    }
}
fn as_f32_mut<'t>(t: &'t mut TensorMut<'_>) -> Option<&'t mut [f32]> {
    if let TensorMut::F32(s) = t {
        Some(s)
    } else {
        None
    }
}
fn as_f16_mut<'t>(t: &'t mut TensorMut<'_>) -> Option<&'t mut [f16]> {
    if let TensorMut::F16(s) = t {
        Some(s)
    } else {
        None
    }
}
fn as_bf16_mut<'t>(t: &'t mut TensorMut<'_>) -> Option<&'t mut [bf16]> {
    if let TensorMut::Bf16(s) = t {
        Some(s)
    } else {
        None
    }
}

/// The typed view when y, y2 (if any) and every input are stored as `S`.
#[inline(always)]
fn typed<'t, S: Element>(
    y: &'t mut TensorMut<'_>,
    y2: &'t mut Option<TensorMut<'_>>,
    inputs: &[TensorRef<'t>],
    get: fn(&TensorRef<'t>) -> Option<&'t [S]>,
    get_mut: for<'u> fn(&'u mut TensorMut<'_>) -> Option<&'u mut [S]>,
) -> Option<Typed<'t, S>> {
    let mut arr: [&'t [S]; MAX_INPUTS] = [&[]; MAX_INPUTS];
    for (a, t) in arr.iter_mut().zip(inputs) {
        *a = get(t)?;
    }
    let y2 = match y2 {
        Some(t) => Some(get_mut(t)?),
        None => None,
    };
    Some(Typed {
        y: get_mut(y)?,
        y2,
        inputs: arr,
    })
}

/// Runs the kernel with the input count as a constant, each specialised body in its own
/// function ([`Lanes::outlined`]).
#[inline(always)]
fn with_const_inputs<L: Lanes, O: Operands>(
    l: L,
    ops: O,
    p: &LincombParams,
    len: usize,
    noise: Option<(NoiseKey, u64)>,
) -> bool {
    match p.n_inputs {
        0 => l.outlined(Body::<O, 0> { ops, p, len, noise }),
        1 => l.outlined(Body::<O, 1> { ops, p, len, noise }),
        2 => l.outlined(Body::<O, 2> { ops, p, len, noise }),
        3 => l.outlined(Body::<O, 3> { ops, p, len, noise }),
        4 => l.outlined(Body::<O, 4> { ops, p, len, noise }),
        5 => l.outlined(Body::<O, 5> { ops, p, len, noise }),
        _ => l.outlined(Body::<O, MAX_INPUTS> { ops, p, len, noise }),
    }
}

/// One specialised body: the whole range with `N` inputs and operands `O`.
struct Body<'p, O, const N: usize> {
    ops: O,
    p: &'p LincombParams,
    len: usize,
    noise: Option<(NoiseKey, u64)>,
}

impl<O: Operands, const N: usize> LanesFn for Body<'_, O, N> {
    type Output = bool;
    #[inline(always)]
    fn call<L: Lanes>(self, l: L) -> bool {
        run_elementwise(
            l,
            &mut Step::<O, N> {
                ops: self.ops,
                p: self.p,
            },
            self.len,
            self.noise,
        )
    }
}

/// The per-vector formula of the module docs, over `N` inputs.
struct Step<'p, O, const N: usize> {
    ops: O,
    p: &'p LincombParams,
}

impl<O: Operands, const N: usize> Elementwise for Step<'_, O, N> {
    #[inline(always)]
    fn apply<L: Lanes>(&mut self, l: L, i: usize, z: L::F, mut flags: L::F) -> L::F {
        let p = self.p;
        let zero = l.splat(0.0);
        let mut a = [zero; N];
        for (j, aj) in a.iter_mut().enumerate() {
            if p.used[j] {
                *aj = self.ops.input(l, j, i);
            }
        }
        let y_old = if p.reads_y { self.ops.y(l, i) } else { zero };

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
        if self.ops.has_y2() {
            let start = if p.d_y != 0.0 {
                l.mul(l.splat(p.d_y), y_old)
            } else {
                zero
            };
            flags = self.ops.store_y2(l, i, fold(l, &p.d, &a, start), flags);
        }
        self.ops.store_y(l, i, acc, flags)
    }
}
