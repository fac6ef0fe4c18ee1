//! Running a [`Plan`]: [`Sampler`] owns the state, stage and history buffers (f32, f16 or
//! bf16) and performs every [`Call`] as one fused `lincomb` pass on the chosen backend;
//! [`ReferenceSampler`] performs the same calls in f64 on the host (tests, convergence
//! studies, checking the kernels).
//!
//! The loop is the same for both:
//!
//! ```
//! use ito::{Grid, NoiseSource, Param, Plan, PlanOptions, Sampler, Schedule, Solver};
//!
//! let schedule = Schedule::vp_linear(0.1, 20.0)?;
//! let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 10)?;
//! let solver: Solver = "dpmpp-2m".parse()?;
//! let plan = Plan::new(solver, grid, Param::Eps, PlanOptions::default())?;
//! let mut sampler = Sampler::<f32>::new(plan, 1000, NoiseSource::new(7))?;
//! sampler.init_noise()?;
//! let mut eps = vec![0.0f32; 1000];
//! while let Some(ev) = sampler.next_eval()? {
//!     // The "network": the exact ε-prediction for data N(0, 1) is σ·x.
//!     for (e, &x) in eps.iter_mut().zip(sampler.eval_input()) {
//!         *e = ev.node.sigma as f32 * x;
//!     }
//!     sampler.advance(eps.as_slice().into())?;
//! }
//! let x = sampler.state(); // samples of N(0, 1)
//! # assert!(x.iter().all(|v| v.is_finite()));
//! # Ok::<(), ito::Error>(())
//! ```

use std::mem;

use ito_kernels::lincomb::{LincombCoefs, MAX_INPUTS};
use ito_kernels::storage::{bf16_from_f32, f16_from_f32, Element, TensorMut, TensorRef};
use ito_kernels::{bf16, f16};
use rayon::prelude::*;

use crate::diffusion::solver::{Call, Eval, Expr, Plan, Slot, HISTORY};
use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::{backend, fill_normal, try_vec, Backend, Error, OnNonFinite};
use crate::sde::brownian::{BrownianTree, Term};

/// A storage type for sampler buffers: `f32`, `f16` or `bf16`.
pub trait Storage: Element + Default {
    /// The slice as a kernel input.
    fn tensor(s: &[Self]) -> TensorRef<'_>;
    /// The slice as a kernel output.
    fn tensor_mut(s: &mut [Self]) -> TensorMut<'_>;
    /// Widened to f64 (exact).
    fn to_f64(self) -> f64;
    /// Rounded from f64 to f32, then to this type, to nearest even (as the kernels store).
    fn from_f64(v: f64) -> Self;
}

macro_rules! storage {
    ($t:ty, $to:expr, $from:expr) => {
        impl Storage for $t {
            fn tensor(s: &[Self]) -> TensorRef<'_> {
                s.into()
            }
            fn tensor_mut(s: &mut [Self]) -> TensorMut<'_> {
                s.into()
            }
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn from_f64(v: f64) -> Self {
                $from(v as f32)
            }
        }
    };
}
storage!(f32, f64::from, |v: f32| v);
storage!(f16, f16::to_f64, f16_from_f32);
storage!(bf16, bf16::to_f64, bf16_from_f32);

/// `torch.quantile`'s linear interpolation between sorted values (and its `lerp`).
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let rank = q * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let w = rank - lo as f64;
    let (a, b) = (v[lo], v[hi]);
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// Dynamic thresholding of one sample in place (see [`ThresholdStep`](crate::diffusion::solver::ThresholdStep)); a NaN in the sample
/// makes the whole sample NaN, as in torch, and so does a NaN quantile (interpolating between
/// two infinities gives ∞ + w·(∞ − ∞); torch then divides the sample by that NaN).
fn threshold_sample(seg: &mut [f64], ratio: f64, max_value: f64) {
    let mut a: Vec<f64> = seg.iter().map(|x| x.abs()).collect();
    if a.iter().any(|v| v.is_nan()) {
        seg.fill(f64::NAN);
        return;
    }
    a.sort_by(f64::total_cmp);
    let q = quantile_sorted(&a, ratio);
    if q.is_nan() {
        seg.fill(f64::NAN);
        return;
    }
    let s = q.clamp(1.0, max_value);
    for x in seg.iter_mut() {
        *x = x.clamp(-s, s) / s;
    }
}

/// What a sampler of `n` elements checks of its plan and noise before it allocates: whole
/// samples for thresholding, and the noise's element range.
fn check_setup(plan: &Plan, n: usize, noise: &NoiseSource) -> Result<(), Error> {
    if let Some(th) = plan.options().thresholding {
        if th.sample_len == 0 || n % th.sample_len != 0 {
            return Err(Error::config(
                "thresholding.sample_len",
                "a positive divisor of the number of elements",
                th.sample_len,
            ));
        }
    }
    noise.check(n)
}

/// Runs a plan with the fused kernels (see the module docs).
#[derive(Debug)]
pub struct Sampler<S: Storage> {
    plan: Plan,
    n: usize,
    x: Vec<S>,
    stage: Vec<S>,
    hist: Vec<Vec<S>>,
    mean: Option<Vec<S>>,
    noise: NoiseSource,
    /// Brownian-tree noise instead of the per-step counter noise (the tree's own source), and
    /// its scratch tensor.
    tree: Option<BrownianTree>,
    tree_noise: Vec<S>,
    backend: Option<Backend>,
    started: bool,
    on_nonfinite: OnNonFinite,
}

/// The standard normal of step `step` taken from a Brownian tree over the grid's time axis:
/// z = W(t_{k+1}, t_k)/√(t_k − t_{k+1}) (k-diffusion's tree noise sampler, on t rather than σ),
/// so that grids refining one another draw consistent noise from one Brownian path.
fn tree_terms(tree: &BrownianTree, plan: &Plan, step: u32) -> Result<Vec<Term>, Error> {
    let nodes = plan.grid().nodes();
    let k = step as usize;
    let (a, b) = match (nodes.get(k), nodes.get(k + 1)) {
        (Some(a), Some(b)) => (a.t.min(b.t), a.t.max(b.t)),
        _ => return Err(Error::config("tree", "a noise step inside the grid", step)),
    };
    if b.is_nan() || a.is_nan() || b <= a {
        return Err(Error::config(
            "tree",
            "distinct times at consecutive nodes",
            step,
        ));
    }
    tree.scaled_terms(a, b, 1.0 / (b - a).sqrt())
}

/// A mean given to a plan built without one would be ignored by its steps: an error.
fn check_mean_wanted(plan: &Plan) -> Result<(), Error> {
    if plan.has_mean() {
        Ok(())
    } else {
        Err(Error::config(
            "mean",
            "no mean: the plan was built without PlanOptions::has_mean",
            "a mean tensor",
        ))
    }
}

/// Length check of a tensor against the sampler's element count.
fn check_len(arg: &'static str, n: usize, found: usize) -> Result<(), Error> {
    Ok(ito_kernels::check_len(arg, None, n, found)?)
}

/// The kernel coefficients of `call` with `out` as y, and the input slots in order.
fn lincomb_coefs(call: &Call) -> Result<(LincombCoefs, Vec<Slot>), Error> {
    let mut slots: Vec<Slot> = Vec::with_capacity(6);
    let mut add = |s: Slot| {
        if s != call.out && !slots.contains(&s) {
            slots.push(s);
        }
    };
    call.value.terms().for_each(|(s, _)| add(s));
    if let Some((_, e)) = &call.store {
        e.terms().for_each(|(s, _)| add(s));
    }
    if slots.len() > MAX_INPUTS {
        return Err(Error::config(
            "plan",
            "at most MAX_INPUTS buffers per call (internal)",
            slots.len(),
        ));
    }
    let mut c = LincombCoefs {
        y: call.value.coef(call.out) as f32,
        noise: call.noise as f32,
        ..Default::default()
    };
    for (j, s) in slots.iter().enumerate() {
        c.inputs[j] = call.value.coef(*s) as f32;
        if let Some((_, e)) = &call.store {
            c.y2_inputs[j] = e.coef(*s) as f32;
        }
    }
    if let Some((_, e)) = &call.store {
        c.y2_y = e.coef(call.out) as f32;
    }
    Ok((c, slots))
}

impl<S: Storage> Sampler<S> {
    /// A sampler for `n` elements drawing its noise from `noise`: the initial noise under
    /// [`NoiseUse::Initial`], step k's under [`NoiseUse::Step`] at step k (see
    /// [`crate::runtime::rng`]). Tensor buffers are allocated here (state) or at first use
    /// (stage, history), fallibly; later steps allocate no tensor (only a few small vectors
    /// of the step's plan).
    ///
    /// ```
    /// use ito::runtime::rng::NoiseSource;
    /// use ito::{Grid, Param, Plan, PlanOptions, Sampler, Schedule};
    /// let schedule = Schedule::vp_linear(0.1, 20.0)?;
    /// let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 10)?;
    /// let plan = Plan::new("euler-a".parse()?, grid, Param::Eps, PlanOptions::default())?;
    /// // Shard 1 of a batch split in halves of 500 elements.
    /// let noise = NoiseSource::new(7).with_offset(500);
    /// let sampler = Sampler::<f32>::new(plan, 500, noise)?;
    /// assert_eq!(sampler.state().len(), 500);
    /// # Ok::<(), ito::Error>(())
    /// ```
    pub fn new(plan: Plan, n: usize, noise: NoiseSource) -> Result<Self, Error> {
        check_setup(&plan, n, &noise)?;
        Ok(Sampler {
            x: try_vec("n", n, S::default())?,
            plan,
            n,
            stage: Vec::new(),
            hist: (0..HISTORY).map(|_| Vec::new()).collect(),
            mean: None,
            noise,
            tree: None,
            tree_noise: Vec::new(),
            backend: None,
            started: false,
            on_nonfinite: OnNonFinite::Error,
        })
    }

    /// Draws every step's noise from `tree` (over the grid's time axis, which it must cover)
    /// instead of the per-step counter: z_k = W(t_{k+1}, t_k)/√(t_k − t_{k+1}), from the
    /// tree's seed and stream at the sampler's own offset (so shards of a batch that share one
    /// tree draw their own elements of one Brownian path). One extra pass per noisy step (the
    /// tree's combination), the update reading it as one more input.
    pub fn with_tree_noise(mut self, tree: BrownianTree) -> Result<Self, Error> {
        let tree = tree.with_offset(self.noise.offset);
        tree.noise().check(self.n)?;
        self.tree = Some(tree);
        Ok(self)
    }

    /// What a pass that stores a value that is not finite does: by default the step returns
    /// [`Error::NonFinite`] naming the grid step, the buffer and the first bad element (found
    /// from the pass's own report, at no extra pass); [`OnNonFinite::Propagate`] keeps going
    /// with IEEE propagation.
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// Runs on `backend` instead of the process-wide selection.
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        backend.check_available()?;
        self.backend = Some(backend);
        Ok(self)
    }

    /// The mean μ of a mean-reverting process: required when the plan was built with
    /// [`PlanOptions::has_mean`](crate::diffusion::solver::PlanOptions::has_mean), an error
    /// otherwise (the steps of such a plan would ignore it).
    pub fn with_mean(mut self, mean: Vec<S>) -> Result<Self, Error> {
        check_mean_wanted(&self.plan)?;
        check_len("mean", self.n, mean.len())?;
        self.mean = Some(mean);
        Ok(self)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The state x.
    pub fn state(&self) -> &[S] {
        &self.x
    }

    /// The state, to set the starting point (before the first [`Sampler::next_eval`]).
    pub fn state_mut(&mut self) -> &mut [S] {
        &mut self.x
    }

    /// Sets the state to the first node's marginal for a zero-mean start:
    /// x = α₀·μ + σ₀·z (μ = 0 without a mean), one fused pass. Only before the first step:
    /// re-noising a run that has started is an error.
    pub fn init_noise(&mut self) -> Result<(), Error> {
        if self.started {
            return Err(Error::config(
                "init_noise",
                "a call before the first step (the run has started)",
                format!("step {}", self.plan.step()),
            ));
        }
        let n0 = self.plan.grid().nodes()[0];
        let mut c = LincombCoefs {
            noise: n0.sigma as f32,
            ..Default::default()
        };
        let key = self.noise.address(NoiseUse::Initial, 0);
        let backend = self.backend()?;
        let written = match &self.mean {
            None if self.plan.has_mean() => Err(Error::config(
                "mean",
                "a mean tensor (the plan was built with has_mean): call with_mean first",
                "none",
            )),
            Some(m) => {
                c.inputs[0] = n0.alpha as f32;
                backend.lincomb(
                    S::tensor_mut(&mut self.x),
                    None,
                    &[S::tensor(m)],
                    &c,
                    Some(key),
                )
            }
            None => backend.lincomb(S::tensor_mut(&mut self.x), None, &[], &c, Some(key)),
        }?;
        if self.on_nonfinite == OnNonFinite::Error {
            written.check(None, "x", S::tensor(&self.x))?;
        }
        Ok(())
    }

    fn backend(&self) -> Result<Backend, Error> {
        match self.backend {
            Some(b) => Ok(b),
            None => backend(),
        }
    }

    /// Where the model must be evaluated next, or None when sampling is done. The first call
    /// applies the plan's initial churn, if any.
    pub fn next_eval(&mut self) -> Result<Option<Eval>, Error> {
        if !self.started {
            self.started = true;
            if let Some(call) = self.plan.init() {
                self.run(&call, None, 0)?;
            }
        }
        Ok(self.plan.eval())
    }

    /// The tensor the model must be evaluated on (the state, or the stage buffer).
    pub fn eval_input(&self) -> &[S] {
        match self.plan.eval().map(|e| e.at) {
            Some(Slot::Stage) => &self.stage,
            _ => &self.x,
        }
    }

    /// Submits the model output at the point [`Sampler::next_eval`] named and performs the
    /// update: one fused pass.
    ///
    /// Errors: a wrong `model_out` length is refused before anything happens. An
    /// [`Error::NonFinite`] comes after the pass: the step has been taken and written, and the
    /// run goes on from there if you continue. Any other error (a first-use buffer that cannot
    /// be allocated, a missing mean, a tree that does not cover the grid) leaves the plan one
    /// step ahead of the buffers: start a new sampler.
    pub fn advance(&mut self, model_out: TensorRef<'_>) -> Result<(), Error> {
        check_len("model_out", self.n, model_out.len())?;
        self.backend()?;
        if !self.started {
            self.next_eval()?;
        }
        let step = self.plan.step();
        let up = self.plan.advance()?;
        if let Some(t) = &up.threshold {
            self.run(&t.x0, Some(model_out), step)?;
            self.buffer(t.x0.out)
                .par_chunks_mut(t.sample_len)
                .for_each(|seg| {
                    let mut v: Vec<f64> = seg.iter().map(|x| x.to_f64()).collect();
                    threshold_sample(&mut v, t.ratio, t.max_value);
                    for (d, x) in seg.iter_mut().zip(v) {
                        *d = S::from_f64(x);
                    }
                });
        }
        self.run(&up.call, Some(model_out), step)
    }

    fn buffer(&mut self, slot: Slot) -> &mut Vec<S> {
        match slot {
            Slot::Stage => &mut self.stage,
            Slot::History(j) => &mut self.hist[j],
            _ => &mut self.x,
        }
    }

    /// One fused pass for `call` of grid step `step`; a value that is not finite in what it
    /// wrote is an error unless the policy propagates.
    fn run(&mut self, call: &Call, model: Option<TensorRef<'_>>, step: usize) -> Result<(), Error> {
        let (mut coefs, slots) = lincomb_coefs(call)?;
        let backend = self.backend()?;
        let n = self.n;
        let use_tree = call.noise != 0.0 && self.tree.is_some();
        if let (true, Some(tree)) = (use_tree, &self.tree) {
            if slots.len() >= MAX_INPUTS {
                return Err(Error::config(
                    "tree",
                    "a call with a free input for the tree's noise",
                    slots.len(),
                ));
            }
            let terms = tree_terms(tree, &self.plan, call.noise_step)?;
            if self.tree_noise.len() != n {
                self.tree_noise = try_vec("n", n, S::default())?;
            }
            tree.combine_on(backend, &terms, S::tensor_mut(&mut self.tree_noise))?;
            coefs.inputs[slots.len()] = coefs.noise;
            coefs.noise = 0.0;
        }
        // First-use buffers are allocated before anything is taken out of the sampler, so a
        // failed allocation leaves every buffer as it was.
        if self.buffer(call.out).len() != n {
            *self.buffer(call.out) = try_vec("n", n, S::default())?;
        }
        if let Some((Slot::History(j), _)) = call.store {
            if self.hist[j].len() != n {
                self.hist[j] = try_vec("n", n, S::default())?;
            }
        }
        let mut store = match call.store {
            Some((Slot::History(j), _)) => Some(mem::take(&mut self.hist[j])),
            Some((slot, _)) => {
                return Err(Error::config(
                    "plan",
                    "a second output in a history buffer (internal)",
                    slot.name(),
                ))
            }
            None => None,
        };
        let mut out = mem::take(self.buffer(call.out));
        let result = (|| {
            let mut inputs: Vec<TensorRef<'_>> = Vec::with_capacity(slots.len());
            for s in &slots {
                inputs.push(match s {
                    Slot::State => S::tensor(&self.x),
                    Slot::Stage => S::tensor(&self.stage),
                    Slot::History(j) => S::tensor(&self.hist[*j]),
                    Slot::Mean => S::tensor(self.mean.as_deref().ok_or(Error::config(
                        "mean",
                        "a mean tensor (the plan was built with has_mean)",
                        "none",
                    ))?),
                    Slot::Model => model.ok_or(Error::config(
                        "model_out",
                        "a model output for this call",
                        "none",
                    ))?,
                });
            }
            if use_tree {
                inputs.push(S::tensor(&self.tree_noise));
            }
            let noise = (call.noise != 0.0 && !use_tree)
                .then(|| self.noise.address(NoiseUse::Step, call.noise_step));
            backend.lincomb(
                S::tensor_mut(&mut out),
                store.as_deref_mut().map(S::tensor_mut),
                &inputs,
                &coefs,
                noise,
            )
        })();
        *self.buffer(call.out) = out;
        if let (Some((Slot::History(j), _)), Some(v)) = (call.store, store) {
            self.hist[j] = v;
        }
        let written = result?;
        if written.nonfinite && self.on_nonfinite == OnNonFinite::Error {
            let step = Some(step as u64);
            written.check(step, call.out.name(), S::tensor(self.buffer(call.out)))?;
            if let Some((slot, _)) = call.store {
                written.check(step, slot.name(), S::tensor(self.buffer(slot)))?;
            }
        }
        Ok(())
    }
}

/// Runs a plan in f64 on the host (see the module docs). Noise is ito's f32 normals.
#[derive(Debug)]
pub struct ReferenceSampler {
    plan: Plan,
    n: usize,
    bufs: Vec<Vec<f64>>,
    noise: NoiseSource,
    tree: Option<BrownianTree>,
    started: bool,
}

const REF_STATE: usize = 0;
const REF_MEAN: usize = 1;
const REF_STAGE: usize = 2;
const REF_HIST: usize = 3;

impl ReferenceSampler {
    /// A reference sampler over `n` elements starting from `x` (its length sets n).
    pub fn new(plan: Plan, x: Vec<f64>, noise: NoiseSource) -> Result<Self, Error> {
        let n = x.len();
        check_setup(&plan, n, &noise)?;
        let mut bufs = vec![Vec::new(); REF_HIST + HISTORY];
        bufs[REF_STATE] = x;
        Ok(ReferenceSampler {
            plan,
            n,
            bufs,
            noise,
            tree: None,
            started: false,
        })
    }

    /// Draws the noise from a Brownian tree, as [`Sampler::with_tree_noise`] does (the same
    /// f32 normals, at this sampler's offset).
    pub fn with_tree_noise(mut self, tree: BrownianTree) -> Result<Self, Error> {
        let tree = tree.with_offset(self.noise.offset);
        tree.noise().check(self.n)?;
        self.tree = Some(tree);
        Ok(self)
    }

    /// Sets the mean μ (mean-reverting processes; an error for a plan built without one).
    pub fn with_mean(mut self, mean: Vec<f64>) -> Result<Self, Error> {
        check_mean_wanted(&self.plan)?;
        check_len("mean", self.n, mean.len())?;
        self.bufs[REF_MEAN] = mean;
        Ok(self)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The state.
    pub fn state(&self) -> &[f64] {
        &self.bufs[REF_STATE]
    }

    /// The state, to set or replace it between steps (history buffers are kept).
    pub fn state_mut(&mut self) -> &mut [f64] {
        &mut self.bufs[REF_STATE]
    }

    /// Where the model must be evaluated next (None when done).
    pub fn next_eval(&mut self) -> Result<Option<Eval>, Error> {
        if !self.started {
            self.started = true;
            if let Some(call) = self.plan.init() {
                self.run(&call, &[])?;
            }
        }
        Ok(self.plan.eval())
    }

    /// The point to evaluate the model on.
    pub fn eval_input(&self) -> &[f64] {
        match self.plan.eval().map(|e| e.at) {
            Some(Slot::Stage) => &self.bufs[REF_STAGE],
            _ => &self.bufs[REF_STATE],
        }
    }

    /// Submits the model output and performs the update.
    pub fn advance(&mut self, model_out: &[f64]) -> Result<(), Error> {
        check_len("model_out", self.n, model_out.len())?;
        if !self.started {
            self.next_eval()?;
        }
        let up = self.plan.advance()?;
        if let Some(t) = &up.threshold {
            self.run(&t.x0, model_out)?;
            let buf = &mut self.bufs[Self::index(t.x0.out)];
            for seg in buf.chunks_mut(t.sample_len) {
                threshold_sample(seg, t.ratio, t.max_value);
            }
        }
        self.run(&up.call, model_out)
    }

    fn index(slot: Slot) -> usize {
        match slot {
            Slot::State => REF_STATE,
            Slot::Mean => REF_MEAN,
            Slot::Stage => REF_STAGE,
            Slot::History(j) => REF_HIST + j,
            Slot::Model => usize::MAX,
        }
    }

    fn run(&mut self, call: &Call, model: &[f64]) -> Result<(), Error> {
        let n = self.n;
        let z: Vec<f64> = if call.noise != 0.0 {
            let mut z = vec![0.0f32; n];
            match &self.tree {
                Some(tree) => {
                    let terms = tree_terms(tree, &self.plan, call.noise_step)?;
                    tree.combine_on(backend()?, &terms, z.as_mut_slice().into())?;
                }
                None => {
                    fill_normal(
                        z.as_mut_slice().into(),
                        0.0,
                        1.0,
                        self.noise.address(NoiseUse::Step, call.noise_step),
                    )?;
                }
            }
            z.into_iter().map(f64::from).collect()
        } else {
            vec![]
        };
        let read = |bufs: &Vec<Vec<f64>>, e: &Expr, i: usize| -> f64 {
            e.terms()
                .map(|(s, c)| {
                    let v = match s {
                        Slot::Model => model[i],
                        _ => bufs[Self::index(s)].get(i).copied().unwrap_or(0.0),
                    };
                    c * v
                })
                .sum()
        };
        let mut out = vec![0.0; n];
        let mut store = vec![0.0; n];
        for i in 0..n {
            out[i] = read(&self.bufs, &call.value, i)
                + if z.is_empty() { 0.0 } else { call.noise * z[i] };
            if let Some((_, e)) = &call.store {
                store[i] = read(&self.bufs, e, i);
            }
        }
        self.bufs[Self::index(call.out)] = out;
        if let Some((s, _)) = call.store {
            self.bufs[Self::index(s)] = store;
        }
        Ok(())
    }
}
