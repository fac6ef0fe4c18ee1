//! The little linear algebra of solver plans: every quantity a step handles (the data or
//! noise prediction, the new state, a stage) is a linear combination of a few named buffers,
//! so a step's whole update is one [`Call`], which maps onto one fused `lincomb` pass.

use std::ops::{Add, Mul, Neg, Sub};

use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::Error;
use ito_kernels::lincomb::{LincombCoefs, Noise, MAX_INPUTS};

/// Number of history buffers a plan may use (UniPC-3 with its corrector needs the most).
pub const HISTORY: usize = 5;
const SLOTS: usize = 4 + HISTORY;

/// A buffer that a step reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The sampler's state x.
    State,
    /// The model output just submitted.
    Model,
    /// The mean tensor μ of a mean-reverting process.
    Mean,
    /// A stage buffer: where a singlestep or Heun-type solver evaluates the model between
    /// grid nodes.
    Stage,
    /// History buffer `j` (earlier data or noise predictions).
    History(usize),
}

impl Slot {
    /// The buffer's name in errors: `x`, `model_out`, `mean`, `stage` or `history`.
    pub fn name(self) -> &'static str {
        match self {
            Slot::State => "x",
            Slot::Model => "model_out",
            Slot::Mean => "mean",
            Slot::Stage => "stage",
            Slot::History(_) => "history",
        }
    }

    fn index(self) -> usize {
        match self {
            Slot::State => 0,
            Slot::Model => 1,
            Slot::Mean => 2,
            Slot::Stage => 3,
            Slot::History(j) => 4 + j,
        }
    }

    /// The slot of index `i` (inverse of `index`).
    pub(crate) fn from_index(i: usize) -> Slot {
        match i {
            0 => Slot::State,
            1 => Slot::Model,
            2 => Slot::Mean,
            3 => Slot::Stage,
            _ => Slot::History(i - 4),
        }
    }
}

/// Σ cᵢ·slotᵢ, in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Expr(pub(crate) [f64; SLOTS]);

impl Expr {
    /// The zero combination.
    pub const ZERO: Expr = Expr([0.0; SLOTS]);

    /// 1·slot.
    pub fn of(slot: Slot) -> Expr {
        let mut e = Expr::ZERO;
        e.0[slot.index()] = 1.0;
        e
    }

    /// The coefficient of `slot`.
    pub fn coef(&self, slot: Slot) -> f64 {
        self.0[slot.index()]
    }

    /// The slots with a non-zero coefficient, in slot order, with their coefficients.
    pub fn terms(&self) -> impl Iterator<Item = (Slot, f64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0)
            .map(|(i, &c)| (Slot::from_index(i), c))
    }

    /// The same combination with `from`'s coefficient moved onto `to`.
    pub fn rename(mut self, from: Slot, to: Slot) -> Expr {
        let c = self.0[from.index()];
        self.0[from.index()] = 0.0;
        self.0[to.index()] += c;
        self
    }

    /// Whether every coefficient is finite.
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|c| c.is_finite())
    }
}

impl Add for Expr {
    type Output = Expr;
    fn add(mut self, o: Expr) -> Expr {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
        self
    }
}

impl Sub for Expr {
    type Output = Expr;
    fn sub(self, o: Expr) -> Expr {
        self + (-o)
    }
}

impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        self * -1.0
    }
}

impl Mul<f64> for Expr {
    type Output = Expr;
    fn mul(mut self, k: f64) -> Expr {
        for a in self.0.iter_mut() {
            // 0·∞ would be NaN; a term that is absent stays absent.
            if *a != 0.0 {
                *a *= k;
            }
        }
        self
    }
}

impl Mul<Expr> for f64 {
    type Output = Expr;
    fn mul(self, e: Expr) -> Expr {
        e * self
    }
}

/// One step's work: an optional thresholding prologue, then the fused update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// Dynamic thresholding of the data prediction, run before `call` (which reads its slot).
    pub threshold: Option<ThresholdStep>,
    /// The fused update.
    pub call: Call,
}

/// Dynamic thresholding (Imagen; diffusers' `thresholding=True`): `x0` writes the data
/// prediction into `x0.out`; then, per sample of `sample_len` elements, s = the `ratio`
/// quantile of |x₀| (linear interpolation, as `torch.quantile`) clamped to [1, max_value],
/// and x₀ ← clamp(x₀, −s, s)/s in place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThresholdStep {
    /// The pass that stores the raw data prediction.
    pub x0: Call,
    /// The quantile of |x₀| (diffusers' `dynamic_thresholding_ratio`).
    pub ratio: f64,
    /// The largest threshold (diffusers' `sample_max_value`).
    pub max_value: f64,
    /// Elements per sample.
    pub sample_len: usize,
}

/// One fused update: `out ← value` (over the buffers' old contents), optionally
/// `store ← store_value` from the same old contents, plus `noise·N(seed, stream, noise_step, i)`
/// on `out`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// The buffer written: [`Slot::State`], [`Slot::Stage`], or a history buffer.
    pub out: Slot,
    /// Its new value.
    pub value: Expr,
    /// A second output (a history buffer) and its value.
    pub store: Option<(Slot, Expr)>,
    /// Scale of the standard normal added to `out` (0 = no noise).
    pub noise: f64,
    /// The step number of the noise key.
    pub noise_step: u32,
}

/// A [`Call`] lowered to one `lincomb` pass (the lowering every ito sampler performs, public
/// so that an engine can drive a [`Plan`](super::Plan) on its own memory): y is the call's
/// `out` buffer, read in place through `coefs.y`; y2 is the `store` buffer, if any; input j
/// is the buffer `inputs()[j]` ([`Slot::Model`]: the model output just submitted); the noise
/// term, when `coefs.noise ≠ 0`, draws from [`Lowered::noise`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lowered {
    /// The kernel coefficients.
    pub coefs: LincombCoefs,
    slots: [Slot; MAX_INPUTS],
    n_inputs: usize,
    noise_step: u32,
}

impl Lowered {
    /// The input buffers, in the order of `coefs.inputs` (never the `out` buffer, never the
    /// `store` buffer).
    pub fn inputs(&self) -> &[Slot] {
        &self.slots[..self.n_inputs]
    }

    /// The counter address of the call's standard normals for elements
    /// `source.offset … source.offset + n − 1`, or None for a call without noise.
    pub fn noise(&self, source: &NoiseSource, n: usize) -> Result<Option<Noise>, Error> {
        if self.coefs.noise == 0.0 {
            return Ok(None);
        }
        source.check(n)?;
        Ok(Some(source.address(NoiseUse::Step, self.noise_step)))
    }
}

impl Call {
    /// This call as one `lincomb` pass (see [`Lowered`]). Coefficients are rounded to f32 as
    /// the kernels take them.
    ///
    /// ```
    /// use ito::diffusion::solver::Slot;
    /// use ito::{Grid, Param, Plan, PlanOptions, Schedule};
    /// let schedule = Schedule::vp_linear(0.1, 20.0)?;
    /// let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 10)?;
    /// let mut plan = Plan::new("dpmpp-2m".parse()?, grid, Param::Eps, PlanOptions::default())?;
    /// let update = plan.advance()?; // the first step, after its model evaluation
    /// let pass = update.call.lower()?;
    /// assert_eq!(update.call.out, Slot::State);      // y: the state, updated in place
    /// assert!(pass.inputs().contains(&Slot::Model)); // reads the model output
    /// assert!(pass.coefs.y != 0.0);
    /// # Ok::<(), ito::Error>(())
    /// ```
    pub fn lower(&self) -> Result<Lowered, Error> {
        let mut slots = [Slot::State; MAX_INPUTS];
        let mut n_inputs = 0usize;
        let store = self.store.as_ref();
        let reads = self
            .value
            .terms()
            .chain(store.into_iter().flat_map(|(_, e)| e.terms()));
        for (s, _) in reads {
            if s == self.out || slots[..n_inputs].contains(&s) {
                continue;
            }
            if store.is_some_and(|(t, _)| *t == s) {
                return Err(Error::config(
                    "plan",
                    "a store buffer that no term of the call reads (internal)",
                    s.name(),
                ));
            }
            if n_inputs == MAX_INPUTS {
                return Err(Error::config(
                    "plan",
                    "at most MAX_INPUTS buffers per call (internal)",
                    n_inputs + 1,
                ));
            }
            slots[n_inputs] = s;
            n_inputs += 1;
        }
        let mut coefs = LincombCoefs {
            y: self.value.coef(self.out) as f32,
            noise: self.noise as f32,
            ..Default::default()
        };
        for (j, s) in slots[..n_inputs].iter().enumerate() {
            coefs.inputs[j] = self.value.coef(*s) as f32;
            if let Some((_, e)) = store {
                coefs.y2_inputs[j] = e.coef(*s) as f32;
            }
        }
        if let Some((_, e)) = store {
            coefs.y2_y = e.coef(self.out) as f32;
        }
        Ok(Lowered {
            coefs,
            slots,
            n_inputs,
            noise_step: self.noise_step,
        })
    }
}
