//! Running a [`Plan`]. [`PlanRunner`] walks a plan over any [`Memory`] — host slices the caller
//! lends, CUDA device memory (ito's or a foreign framework's) — performing every [`Call`] as
//! one fused `lincomb` pass, with the state passed to each call so that it stays the caller's;
//! it owns only the scratch a solver needs (stage and history buffers). [`Sampler`] is the
//! convenience that owns its host state too; [`ReferenceSampler`] performs the same calls in
//! f64 on the host (tests, convergence studies, checking the kernels).
//!
//! The loop is the same for all:
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
//!
//! On memory the caller owns (here a host slice, borrowed with no copy; a CUDA device view
//! works the same way with a [`CudaDevice`](crate::runtime::cuda::CudaDevice) as the memory):
//!
//! ```
//! use ito::runtime::memory::Host;
//! use ito::{Grid, NoiseSource, Param, Plan, PlanOptions, PlanRunner, Schedule, Storage};
//!
//! let schedule = Schedule::vp_linear(0.1, 20.0)?;
//! let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 10)?;
//! let plan = Plan::new("dpmpp-2m".parse()?, grid, Param::Eps, PlanOptions::default())?;
//! let mut x = vec![0.0f32; 1000]; // the engine's tensor (f32, f16 or bf16)
//! let mut runner = PlanRunner::new(plan, x.len(), NoiseSource::new(7), Host::<f32>::new())?;
//! runner.reserve(x.as_slice().into())?; // every scratch buffer now: no allocation in a step
//! runner.init_noise(x.as_mut_slice().into())?;
//! let mut eps = vec![0.0f32; 1000];
//! while let Some(ev) = runner.next_eval(x.as_mut_slice().into())? {
//!     // The state, or a stage buffer (singlestep solvers), as the storage type it has.
//!     let input = f32::slice(runner.eval_input(x.as_slice().into())).expect("f32 tensors");
//!     for (e, &v) in eps.iter_mut().zip(input) {
//!         *e = ev.node.sigma as f32 * v;
//!     }
//!     runner.advance(x.as_mut_slice().into(), eps.as_slice().into())?;
//! }
//! # assert!(x.iter().all(|v| v.is_finite()));
//! # Ok::<(), ito::Error>(())
//! ```

use std::fmt;

use ito_kernels::lincomb::MAX_INPUTS;
use ito_kernels::storage::TensorRef;

use crate::diffusion::solver::{Call, Eval, Expr, Plan, Slot, HISTORY};
pub use crate::runtime::memory::Storage;
use crate::runtime::memory::{Host, Memory};
use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::{backend, fill_normal, Backend, Error, OnNonFinite, Written};
use crate::sde::brownian::{BrownianTree, Term};

/// `torch.quantile`'s linear interpolation between sorted values (and its `lerp`).
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let rank = q * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    crate::runtime::threshold::lerp(v[lo], v[hi], rank - lo as f64)
}

/// Dynamic thresholding of one f64 sample in place, by sorting (the reference sampler's
/// definition; the kernels' is [`crate::runtime::threshold`], which selects without sorting
/// and gives the same thresholds). A NaN in the sample makes the whole sample NaN, as in
/// torch, and so does a NaN quantile.
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

fn no_mean() -> Error {
    Error::config(
        "mean",
        "a mean tensor (the plan was built with has_mean): call with_mean first",
        "none",
    )
}

/// Walks a [`Plan`] over memory `M` (see the module docs): the state is the caller's, passed
/// to each call; the runner owns the noise identity, the Brownian tree if any, the mean and the
/// scratch buffers (stage, history, tree noise), allocated at first use or all at once by
/// [`PlanRunner::reserve`]. Every update is one fused pass (plus one for tree noise and one per
/// thresholded step); on device memory none waits for the device.
///
/// **Non-finite values on device memory**: a device pass cannot report without a
/// synchronisation, so [`OnNonFinite::Error`] (the default) is not applied per step there; the
/// kernels OR the device's report word instead. Call [`PlanRunner::take_nonfinite`] where a
/// synchronisation is due anyway (after the loop, or every k steps).
pub struct PlanRunner<M: Memory> {
    plan: Plan,
    n: usize,
    mem: M,
    stage: Option<M::Buffer>,
    hist: [Option<M::Buffer>; HISTORY],
    mean: Option<M::Buffer>,
    noise: NoiseSource,
    /// Brownian-tree noise instead of the per-step counter noise (the tree's own source), and
    /// its scratch tensor.
    tree: Option<BrownianTree>,
    tree_noise: Option<M::Buffer>,
    started: bool,
    on_nonfinite: OnNonFinite,
}

impl<M: Memory> fmt::Debug for PlanRunner<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlanRunner")
            .field("plan", &self.plan)
            .field("n", &self.n)
            .field("noise", &self.noise)
            .field("tree", &self.tree)
            .field("started", &self.started)
            .field("on_nonfinite", &self.on_nonfinite)
            .finish_non_exhaustive()
    }
}

impl<M: Memory> PlanRunner<M> {
    /// A runner for states of `n` elements on memory `mem`, drawing its noise from `noise`: the
    /// initial noise under [`NoiseUse::Initial`], step k's under [`NoiseUse::Step`] at step k
    /// (see [`crate::runtime::rng`]). Allocates nothing.
    pub fn new(plan: Plan, n: usize, noise: NoiseSource, mem: M) -> Result<Self, Error> {
        check_setup(&plan, n, &noise)?;
        Ok(PlanRunner {
            plan,
            n,
            mem,
            stage: None,
            hist: Default::default(),
            mean: None,
            noise,
            tree: None,
            tree_noise: None,
            started: false,
            on_nonfinite: OnNonFinite::Error,
        })
    }

    /// Draws every step's noise from `tree` (over the grid's time axis, which it must cover)
    /// instead of the per-step counter: z_k = W(t_{k+1}, t_k)/√(t_k − t_{k+1}), from the
    /// tree's seed and stream at the runner's own offset (so shards of a batch that share one
    /// tree draw their own elements of one Brownian path). One extra pass per noisy step (the
    /// tree's combination), the update reading it as one more input.
    pub fn with_tree_noise(mut self, tree: BrownianTree) -> Result<Self, Error> {
        let tree = tree.with_offset(self.noise.offset);
        tree.noise().check(self.n)?;
        let (t0, t1) = tree.span();
        let nodes = self.plan.grid().nodes();
        // A clean end (σ = 0) draws no noise, so k-diffusion's tree over [σ_min, σ_max]
        // serves a grid that ends at σ = 0.
        let mut noisy = nodes.iter().filter(|n| n.sigma != 0.0);
        if let Some(outside) = noisy.find(|n| !(n.t >= t0 && n.t <= t1)) {
            return Err(Error::config(
                "tree",
                "a tree whose span covers the grid's noisy nodes (σ > 0)",
                format!("t = {} outside [{t0}, {t1}]", outside.t),
            ));
        }
        self.tree = Some(tree);
        Ok(self)
    }

    /// What a pass that stores a value that is not finite does: by default the step returns
    /// [`Error::NonFinite`] naming the grid step, the buffer and the first bad element (found
    /// from the pass's own report, at no extra pass); [`OnNonFinite::Propagate`] keeps going
    /// with IEEE propagation. On memory whose reports accumulate (a device), no step waits for
    /// them: read them with [`PlanRunner::take_nonfinite`].
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// The mean μ of a mean-reverting process, a buffer of this memory: required when the plan
    /// was built with [`PlanOptions::has_mean`](crate::diffusion::solver::PlanOptions::has_mean),
    /// an error otherwise (the steps of such a plan would ignore it).
    pub fn with_mean(mut self, mean: M::Buffer) -> Result<Self, Error> {
        check_mean_wanted(&self.plan)?;
        check_len("mean", self.n, M::len(M::view(&mean)))?;
        self.mean = Some(mean);
        Ok(self)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The runner's own buffers as they exist now (stage, history, tree noise, mean): for
    /// callers that check a caller's tensors apart from them (the C API does, so that a stage
    /// pointer handed back as `x` or a model output is an error rather than aliasing).
    pub fn buffers(&self) -> impl Iterator<Item = M::Ref<'_>> + '_ {
        self.stage
            .iter()
            .chain(self.hist.iter().flatten())
            .chain(self.tree_noise.iter())
            .chain(self.mean.iter())
            .map(M::view)
    }

    /// The memory the passes run on.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Number of elements of the state.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the state has no elements.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Allocates every scratch buffer the rest of the plan will use (on a device: stored like
    /// `like`, e.g. the state; on the host: as the memory's storage type `S`), so that no later call allocates (e.g. before capturing a CUDA graph, or
    /// under a counting allocator). Walks a copy of the plan to find them.
    pub fn reserve(&mut self, like: M::Ref<'_>) -> Result<(), Error> {
        check_len("like", self.n, M::len(like))?;
        let mut plan = self.plan.clone();
        let mut calls: Vec<Call> = Vec::new();
        if !self.started {
            calls.extend(plan.init());
        }
        while plan.eval().is_some() {
            let up = plan.advance()?;
            calls.extend(up.threshold.map(|t| t.x0));
            calls.push(up.call);
        }
        for call in &calls {
            self.ensure(call.out, like)?;
            if let Some((slot, _)) = call.store {
                self.ensure(slot, like)?;
            }
            if call.noise != 0.0 && self.tree.is_some() && self.tree_noise.is_none() {
                self.tree_noise = Some(self.mem.alloc_like(like, self.n)?);
            }
        }
        Ok(())
    }

    /// Allocates a scratch slot's buffer at first use.
    fn ensure(&mut self, slot: Slot, like: M::Ref<'_>) -> Result<(), Error> {
        let buf = match slot {
            Slot::Stage => &mut self.stage,
            Slot::History(j) if j < HISTORY => &mut self.hist[j],
            _ => return Ok(()),
        };
        if buf.is_none() {
            *buf = Some(self.mem.alloc_like(like, self.n)?);
        }
        Ok(())
    }

    /// Sets the state to the first node's marginal for a zero-mean start:
    /// x = α₀·μ + σ₀·z (μ = 0 without a mean), one fused pass. Only before the first step:
    /// re-noising a run that has started is an error.
    pub fn init_noise(&mut self, mut x: M::Mut<'_>) -> Result<(), Error> {
        check_len("x", self.n, M::len(M::as_ref(&x)))?;
        if self.started {
            return Err(Error::config(
                "init_noise",
                "a call before the first step (the run has started)",
                format!("step {}", self.plan.step()),
            ));
        }
        let n0 = self.plan.grid().nodes()[0];
        let mut c = ito_kernels::lincomb::LincombCoefs {
            noise: n0.sigma as f32,
            ..Default::default()
        };
        let key = self.noise.address(NoiseUse::Initial, 0);
        let written = match &self.mean {
            None if self.plan.has_mean() => Err(no_mean()),
            Some(m) => {
                c.inputs[0] = n0.alpha as f32;
                self.mem
                    .lincomb(M::reborrow(&mut x), None, &[M::view(m)], &c, Some(key))
            }
            None => self
                .mem
                .lincomb(M::reborrow(&mut x), None, &[], &c, Some(key)),
        }?;
        self.check_written(written, None, "x", M::as_ref(&x))
    }

    /// `Error::NonFinite` for `t` when the report says so and the policy wants errors.
    fn check_written(
        &self,
        written: Written,
        step: Option<u64>,
        buffer: &'static str,
        t: M::Ref<'_>,
    ) -> Result<(), Error> {
        if self.on_nonfinite == OnNonFinite::Error {
            self.mem.check_written(written, step, buffer, t)?;
        }
        Ok(())
    }

    /// Where the model must be evaluated next, or None when sampling is done. The first call
    /// applies the plan's initial churn to `x`, if any.
    pub fn next_eval(&mut self, x: M::Mut<'_>) -> Result<Option<Eval>, Error> {
        check_len("x", self.n, M::len(M::as_ref(&x)))?;
        if !self.started {
            self.started = true;
            if let Some(call) = self.plan.init() {
                self.run(&call, x, None, None, 0)?;
            }
        }
        Ok(self.plan.eval())
    }

    /// The tensor the model must be evaluated on: the state `x`, or the stage buffer.
    pub fn eval_input<'a>(&'a self, x: M::Ref<'a>) -> M::Ref<'a> {
        match (self.plan.eval().map(|e| e.at), &self.stage) {
            (Some(Slot::Stage), Some(stage)) => M::view(stage),
            _ => x,
        }
    }

    /// Submits the model output at the point [`PlanRunner::next_eval`] named and performs the
    /// update on `x`: one fused pass (after the thresholding pass, when the plan thresholds).
    ///
    /// Errors: a wrong length of `x` or `model_out`, or a missing mean, is refused before
    /// anything happens. An [`Error::NonFinite`] comes after the whole step: it has been taken
    /// and written, and the run goes on from there if you continue. A first-use buffer that
    /// cannot be allocated (none after [`PlanRunner::reserve`]) leaves the plan one step ahead
    /// of the buffers: start a new runner.
    pub fn advance(&mut self, x: M::Mut<'_>, model_out: M::Ref<'_>) -> Result<(), Error> {
        self.advance_given(x, model_out, None)
    }

    /// [`PlanRunner::advance`] with the step's standard normals taken from `noise` (one per
    /// element, e.g. the normals another implementation draws from its own generator) in
    /// place of the runner's counter or tree; a step that adds no noise ignores it. The
    /// normals are read as one more input of the same fused pass.
    pub fn advance_with_noise(
        &mut self,
        x: M::Mut<'_>,
        model_out: M::Ref<'_>,
        noise: M::Ref<'_>,
    ) -> Result<(), Error> {
        check_len("noise", self.n, M::len(noise))?;
        self.advance_given(x, model_out, Some(noise))
    }

    fn advance_given(
        &mut self,
        mut x: M::Mut<'_>,
        model_out: M::Ref<'_>,
        given: Option<M::Ref<'_>>,
    ) -> Result<(), Error> {
        check_len("x", self.n, M::len(M::as_ref(&x)))?;
        check_len("model_out", self.n, M::len(model_out))?;
        self.mem.check_available()?;
        if !self.started {
            self.next_eval(M::reborrow(&mut x))?;
        }
        // What can fail before anything is written is checked before the plan moves on.
        if self.plan.has_mean() && self.mean.is_none() {
            return Err(no_mean());
        }
        let step = self.plan.step();
        let up = self.plan.advance()?;
        let mut first = Ok(());
        if let Some(t) = &up.threshold {
            // A value that is not finite in x₀ is reported after the whole step, which goes on
            // (thresholding, then the update) so that the run stays consistent.
            first = self.run(&t.x0, M::reborrow(&mut x), Some(model_out), None, step);
            if first.as_ref().is_err_and(|e| !e.is_nonfinite()) {
                return first;
            }
            let out = match t.x0.out {
                Slot::Stage => self.stage.as_mut().map(M::view_mut),
                Slot::History(j) => self
                    .hist
                    .get_mut(j)
                    .and_then(|b| b.as_mut().map(M::view_mut)),
                Slot::State => Some(M::reborrow(&mut x)),
                Slot::Mean | Slot::Model => None,
            };
            let out = out.ok_or_else(|| {
                Error::config(
                    "plan",
                    "a thresholded buffer that exists (internal)",
                    "none",
                )
            })?;
            self.mem
                .threshold(out, t.sample_len, t.ratio, t.max_value)?;
        }
        let second = self.run(&up.call, x, Some(model_out), given, step);
        first.and(second)
    }

    /// The reports that accumulate on device memory instead of returning with each pass:
    /// whether any pass since the last call stored a value that is not finite (and clears
    /// them; a synchronisation on a device). On host memory each pass reports itself and
    /// this returns false.
    pub fn take_nonfinite(&self) -> Result<bool, Error> {
        self.mem.take_nonfinite()
    }

    /// One fused pass for `call` of grid step `step` (its noise from `given` when there is
    /// one); a value that is not finite in what it wrote is an error unless the policy
    /// propagates.
    fn run(
        &mut self,
        call: &Call,
        mut x: M::Mut<'_>,
        model: Option<M::Ref<'_>>,
        given: Option<M::Ref<'_>>,
        step: usize,
    ) -> Result<(), Error> {
        let lowered = call.lower()?;
        let mut coefs = lowered.coefs;
        let slots = lowered.inputs();
        let n = self.n;
        let given = given.filter(|_| call.noise != 0.0);
        if given.is_some() {
            if slots.len() >= MAX_INPUTS {
                return Err(Error::config(
                    "noise",
                    "a call with a free input for the given noise",
                    slots.len(),
                ));
            }
            coefs.inputs[slots.len()] = coefs.noise;
            coefs.noise = 0.0;
        }
        let use_tree = call.noise != 0.0 && self.tree.is_some() && given.is_none();
        if let (true, Some(tree)) = (use_tree, &self.tree) {
            if slots.len() >= MAX_INPUTS {
                return Err(Error::config(
                    "tree",
                    "a call with a free input for the tree's noise",
                    slots.len(),
                ));
            }
            let terms = tree_terms(tree, &self.plan, call.noise_step)?;
            let at = tree.noise().noise(NoiseUse::Tree, 0, n)?;
            if self.tree_noise.is_none() {
                self.tree_noise = Some(self.mem.alloc_like(M::as_ref(&x), n)?);
            }
            if let Some(buf) = self.tree_noise.as_mut() {
                let written = self.mem.brownian_tree(
                    M::view_mut(buf),
                    tree.noise().seed,
                    &terms,
                    at.offset,
                )?;
                if self.on_nonfinite == OnNonFinite::Error {
                    self.mem.check_written(
                        written,
                        Some(call.noise_step.into()),
                        "tree noise",
                        M::view(buf),
                    )?;
                }
            }
            coefs.inputs[slots.len()] = coefs.noise;
            coefs.noise = 0.0;
        }
        // First-use buffers are allocated before anything is taken out of the runner, so a
        // failed allocation leaves every buffer as it was.
        self.ensure(call.out, M::as_ref(&x))?;
        if let Some((slot, _)) = call.store {
            if !matches!(slot, Slot::History(_)) {
                return Err(Error::config(
                    "plan",
                    "a second output in a history buffer (internal)",
                    slot.name(),
                ));
            }
            self.ensure(slot, M::as_ref(&x))?;
        }
        let noise = match use_tree || given.is_some() {
            true => None,
            false => lowered.noise(&self.noise, n)?,
        };
        if !matches!(call.out, Slot::State | Slot::Stage)
            && !matches!(call.out, Slot::History(j) if j < HISTORY)
        {
            return Err(Error::config(
                "plan",
                "an output in the state, stage or a history buffer (internal)",
                call.out.name(),
            ));
        }
        let mut out_buf = self.take(call.out);
        let mut store_buf = call.store.and_then(|(slot, _)| self.take(slot));
        let result = {
            let model = model.map(M::shorten);
            let (y, x_ref) = match &mut out_buf {
                Some(b) => (M::view_mut(b), Some(M::as_ref(&x))),
                None => (M::reborrow(&mut x), None),
            };
            let resolve = |s: Slot| -> Result<M::Ref<'_>, Error> {
                let found = match s {
                    Slot::State => x_ref,
                    Slot::Stage => self.stage.as_ref().map(M::view),
                    Slot::History(j) => self.hist.get(j).and_then(|b| b.as_ref().map(M::view)),
                    Slot::Mean => return self.mean.as_ref().map(M::view).ok_or_else(no_mean),
                    Slot::Model => {
                        return model.ok_or_else(|| {
                            Error::config("model_out", "a model output for this call", "none")
                        })
                    }
                };
                found.ok_or_else(|| {
                    Error::config(
                        "plan",
                        "an input buffer written before it is read (internal)",
                        s.name(),
                    )
                })
            };
            // The normals read as an input: the tree's buffer or the caller's tensor.
            let given = given.map(M::shorten);
            let tree_ref = self
                .tree_noise
                .as_ref()
                .filter(|_| use_tree)
                .map(M::view)
                .or(given);
            let first = match (slots.first(), tree_ref) {
                (Some(&s), _) => Some(resolve(s)),
                (None, Some(t)) => Some(Ok(t)),
                (None, None) => None,
            };
            match first {
                None => {
                    self.mem
                        .lincomb(y, store_buf.as_mut().map(M::view_mut), &[], &coefs, noise)
                }
                Some(first) => (|| {
                    let mut inputs = [first?; MAX_INPUTS + 1];
                    for (v, &s) in inputs.iter_mut().zip(slots).skip(1) {
                        *v = resolve(s)?;
                    }
                    let mut k = slots.len();
                    if let Some(t) = tree_ref {
                        inputs[k] = t;
                        k += 1;
                    }
                    self.mem.lincomb(
                        y,
                        store_buf.as_mut().map(M::view_mut),
                        &inputs[..k],
                        &coefs,
                        noise,
                    )
                })(),
            }
        };
        self.put(call.out, out_buf);
        if let Some((slot, _)) = call.store {
            self.put(slot, store_buf);
        }
        let written = result?;
        if written.nonfinite && self.on_nonfinite == OnNonFinite::Error {
            let step = Some(step as u64);
            let out_ref = match call.out {
                Slot::State => Some(M::as_ref(&x)),
                slot => self.buffer(slot),
            };
            if let Some(t) = out_ref {
                self.check_written(written, step, call.out.name(), t)?;
            }
            if let Some((slot, _)) = call.store {
                if let Some(t) = self.buffer(slot) {
                    self.check_written(written, step, slot.name(), t)?;
                }
            }
        }
        Ok(())
    }

    /// A scratch slot's buffer as a view (None for the state and for unallocated slots).
    fn buffer(&self, slot: Slot) -> Option<M::Ref<'_>> {
        match slot {
            Slot::Stage => self.stage.as_ref().map(M::view),
            Slot::History(j) => self.hist.get(j).and_then(|b| b.as_ref().map(M::view)),
            _ => None,
        }
    }

    /// Takes a scratch slot's buffer out for a pass that writes it (None for the state).
    fn take(&mut self, slot: Slot) -> Option<M::Buffer> {
        match slot {
            Slot::Stage => self.stage.take(),
            Slot::History(j) => self.hist.get_mut(j).and_then(Option::take),
            _ => None,
        }
    }

    /// Puts a buffer taken by [`Self::take`] back.
    fn put(&mut self, slot: Slot, buf: Option<M::Buffer>) {
        match slot {
            Slot::Stage => self.stage = buf,
            Slot::History(j) if j < HISTORY => self.hist[j] = buf,
            _ => {}
        }
    }
}

/// Runs a plan with the fused kernels on host memory it owns (see the module docs): a
/// [`PlanRunner`] on [`Host`] memory plus the state.
#[derive(Debug)]
pub struct Sampler<S: Storage> {
    runner: PlanRunner<Host<S>>,
    x: Vec<S>,
}

impl<S: Storage> Sampler<S> {
    /// A sampler for `n` elements drawing its noise from `noise`: the initial noise under
    /// [`NoiseUse::Initial`], step k's under [`NoiseUse::Step`] at step k (see
    /// [`crate::runtime::rng`]). The state is allocated here, fallibly; the stage and history
    /// buffers at first use (or all at once: [`Sampler::reserve`]).
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
        let runner = PlanRunner::new(plan, n, noise, Host::new())?;
        Ok(Sampler {
            x: crate::runtime::try_vec("n", n, S::default())?,
            runner,
        })
    }

    /// See [`PlanRunner::with_tree_noise`].
    pub fn with_tree_noise(mut self, tree: BrownianTree) -> Result<Self, Error> {
        self.runner = self.runner.with_tree_noise(tree)?;
        Ok(self)
    }

    /// See [`PlanRunner::with_nonfinite`].
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.runner = self.runner.with_nonfinite(policy);
        self
    }

    /// Runs on `backend` instead of the process-wide selection.
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        self.runner.mem = Host::with_backend(backend)?;
        Ok(self)
    }

    /// The mean μ of a mean-reverting process (see [`PlanRunner::with_mean`]).
    pub fn with_mean(mut self, mean: Vec<S>) -> Result<Self, Error> {
        self.runner = self.runner.with_mean(mean)?;
        Ok(self)
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        self.runner.plan()
    }

    /// The state x.
    pub fn state(&self) -> &[S] {
        &self.x
    }

    /// The state, to set the starting point (before the first [`Sampler::next_eval`]).
    pub fn state_mut(&mut self) -> &mut [S] {
        &mut self.x
    }

    /// Allocates every scratch buffer the rest of the plan uses (see [`PlanRunner::reserve`]).
    pub fn reserve(&mut self) -> Result<(), Error> {
        self.runner.reserve(S::tensor(&self.x))
    }

    /// See [`PlanRunner::init_noise`].
    pub fn init_noise(&mut self) -> Result<(), Error> {
        self.runner.init_noise(S::tensor_mut(&mut self.x))
    }

    /// Where the model must be evaluated next, or None when sampling is done. The first call
    /// applies the plan's initial churn, if any.
    pub fn next_eval(&mut self) -> Result<Option<Eval>, Error> {
        self.runner.next_eval(S::tensor_mut(&mut self.x))
    }

    /// The tensor the model must be evaluated on (the state, or the stage buffer).
    pub fn eval_input(&self) -> &[S] {
        // Both candidates are stored as S: the state, or a scratch buffer of this memory.
        S::slice(self.runner.eval_input(S::tensor(&self.x))).unwrap_or(&self.x)
    }

    /// Submits the model output (any storage type) and performs the update (see
    /// [`PlanRunner::advance`]).
    pub fn advance(&mut self, model_out: TensorRef<'_>) -> Result<(), Error> {
        self.runner.advance(S::tensor_mut(&mut self.x), model_out)
    }

    /// [`Sampler::advance`] with the step's standard normals from `noise` (see
    /// [`PlanRunner::advance_with_noise`]).
    pub fn advance_with_noise(
        &mut self,
        model_out: TensorRef<'_>,
        noise: TensorRef<'_>,
    ) -> Result<(), Error> {
        self.runner
            .advance_with_noise(S::tensor_mut(&mut self.x), model_out, noise)
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
