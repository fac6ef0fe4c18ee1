//! A solve driver over the steppers, in the spirit of `torchsde.sdeint` and
//! `diffrax.diffeqsolve`: the SDE as drift and diffusion evaluators that write into buffers the
//! driver owns (the user's network or formula, on the driver's memory), a time grid, a method,
//! the noise — one fused pass per stage, the driver keeping the buffers, the step numbers and
//! the methods' bookkeeping (reversible Heun's ŷ and its cached evaluation, stochastic Heun's
//! predictor) that a hand-written loop gets wrong silently.
//!
//! ```
//! use ito::runtime::memory::Host;
//! use ito::sde::solve::{Calculus, Diffusion, Method, Sde, SdeSolver, SolveConfig};
//! use ito::{Error, NoiseSource, TensorMut, TensorRef};
//!
//! /// dX = −X dt + 0.5 dW (additive noise: no diffusion tensor at all).
//! struct Ou;
//! impl Sde<Host<f32>> for Ou {
//!     fn calculus(&self) -> Calculus {
//!         Calculus::Ito
//!     }
//!     fn drift(&mut self, _t: f64, x: TensorRef<'_>, f: TensorMut<'_>) -> Result<(), Error> {
//!         let (TensorRef::F32(x), TensorMut::F32(f)) = (x, f) else { unreachable!() };
//!         for (f, x) in f.iter_mut().zip(x) {
//!             *f = -x;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let config = SolveConfig::new(Method::EulerMaruyama, Diffusion::Additive(0.5), NoiseSource::new(3));
//! let mut solver = SdeSolver::new(Host::<f32>::new(), 4096, config)?;
//! let mut x = vec![1.0f32; 4096];
//! let times: Vec<f64> = (0..=100).map(|k| k as f64 / 100.0).collect();
//! solver.solve(&mut Ou, x.as_mut_slice().into(), &times, |_, _, _| Ok(()))?;
//! let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / 4096.0;
//! assert!((mean - (-1.0f64).exp()).abs() < 0.03); // E X₁ = e⁻¹
//! # Ok::<(), ito::Error>(())
//! ```
//!
//! - **Methods**: Euler–Maruyama and Milstein (Itô schemes), stochastic Heun and reversible
//!   Heun (Stratonovich schemes; reversible Heun evaluates the SDE once per step and can be
//!   reversed to rounding, Kidger et al. 2021).
//! - **Calculus**: the SDE says whether its drift is Itô's or Stratonovich's
//!   ([`Sde::calculus`]). A method of the other calculus gets the drift converted,
//!   f_S = f_I − ½·g·∂g/∂x (one more pass per drift evaluation, with
//!   [`Sde::diffusion_derivative`]); with additive noise the two coincide.
//! - **Noise**: [`Diffusion::Diagonal`] (the SDE's `diffusion` fills a g tensor) or
//!   [`Diffusion::Additive`] (a constant g folded into the pass's coefficient: no tensor, no
//!   g·∂g). Increments are the counter's: step k draws ΔW = √Δt_k·z with z the noise
//!   source's normals under `NoiseUse::Increment` at step k — the steppers' own convention. With
//!   diagonal noise a solve makes the very [`Stepper`] calls of the hand-written loop (the same
//!   bits; `tests/sde_solve.rs` compares every method on host memory), and the steppers' bits
//!   do not depend on the memory, backend, thread count or batch split. Additive noise takes
//!   its own passes (`lincomb` with g in the noise coefficient).
//! - **Save**: `save(k, t_k, x)` is called at every node (k = 0 before the first step); keep
//!   what you need.

use ito_kernels::lincomb::LincombCoefs;

use crate::runtime::memory::Memory;
use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::Error;
use crate::sde::steppers::Stepper;

/// Which stochastic calculus an SDE's drift is written in (the diffusion is the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calculus {
    /// dX = f dt + g dW, Itô.
    Ito,
    /// dX = f dt + g ∘ dW, Stratonovich.
    Stratonovich,
}

/// A method of [`SdeSolver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Euler–Maruyama (Itô; strong order ½, 1 with additive noise; weak order 1).
    EulerMaruyama,
    /// Milstein (Itô, diagonal noise; strong order 1). Needs [`Sde::diffusion_derivative`]
    /// with diagonal noise; with additive noise it is Euler–Maruyama.
    Milstein,
    /// Stochastic Heun (Stratonovich; strong order 1 for commutative noise; two evaluations per
    /// step).
    StochasticHeun,
    /// Reversible Heun (Stratonovich; one evaluation per step; algebraically reversible).
    ReversibleHeun,
}

impl Method {
    /// The calculus the method's update discretises.
    pub fn calculus(self) -> Calculus {
        match self {
            Method::EulerMaruyama | Method::Milstein => Calculus::Ito,
            Method::StochasticHeun | Method::ReversibleHeun => Calculus::Stratonovich,
        }
    }
}

/// The noise term's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Diffusion {
    /// g(t, x) elementwise, evaluated by [`Sde::diffusion`] into a tensor.
    Diagonal,
    /// A constant g (finite): g·dW, folded into each pass's noise coefficient.
    Additive(f64),
}

/// An SDE dX = f(t, X) dt + g(t, X) dW for [`SdeSolver`]: the evaluators write into the
/// driver's buffers, on its memory `M`. An evaluator's error ends the solve with it.
pub trait Sde<M: Memory> {
    /// The calculus [`Sde::drift`] is written in.
    fn calculus(&self) -> Calculus;

    /// f(t, x) into `f`.
    fn drift(&mut self, t: f64, x: M::Ref<'_>, f: M::Mut<'_>) -> Result<(), Error>;

    /// g(t, x) into `g` (called with [`Diffusion::Diagonal`] only).
    fn diffusion(&mut self, t: f64, x: M::Ref<'_>, g: M::Mut<'_>) -> Result<(), Error> {
        let _ = (t, x, g);
        Err(Error::config(
            "Sde::diffusion",
            "an implementation for Diffusion::Diagonal",
            "none",
        ))
    }

    /// g·∂g/∂x at (t, x) into `h` (Milstein, and a drift of the other calculus, with diagonal
    /// noise).
    fn diffusion_derivative(&mut self, t: f64, x: M::Ref<'_>, h: M::Mut<'_>) -> Result<(), Error> {
        let _ = (t, x, h);
        Err(Error::config(
            "Sde::diffusion_derivative",
            "an implementation (g·∂g/∂x) for Milstein or a drift of the other calculus",
            "none",
        ))
    }
}

/// An [`Sde`] that can pull cotangents back through its drift and diffusion (the user's
/// autodiff): what [`SdeSolver::reversible_heun_backward`] needs for exact gradients.
pub trait SdeVjp<M: Memory>: Sde<M> {
    /// a ← J_f(t, x)ᵀ·v_f + J_g(t, x)ᵀ·v_g (J the Jacobians in x; g elementwise, so J_g is
    /// diagonal), written into `a`; and adds ∂f/∂θᵀ·v_f + ∂g/∂θᵀ·v_g to the gradients of the
    /// SDE's own parameters θ (kept by the implementation).
    fn vjp(
        &mut self,
        t: f64,
        x: M::Ref<'_>,
        v_f: M::Ref<'_>,
        v_g: M::Ref<'_>,
        a: M::Mut<'_>,
    ) -> Result<(), Error>;
}

/// What [`SdeSolver`] solves with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolveConfig {
    /// The method.
    pub method: Method,
    /// The noise term's shape.
    pub diffusion: Diffusion,
    /// Where the increments come from (step k: `NoiseUse::Increment` at step k).
    pub noise: NoiseSource,
}

impl SolveConfig {
    /// A configuration by its three parts.
    pub fn new(method: Method, diffusion: Diffusion, noise: NoiseSource) -> Self {
        SolveConfig {
            method,
            diffusion,
            noise,
        }
    }
}

/// The driver: a method over states of `n` elements on memory `M`, its buffers allocated at
/// the first solve (like the state) and kept for the next.
pub struct SdeSolver<M: Memory> {
    stepper: Stepper<M>,
    config: SolveConfig,
    n: usize,
    /// The layout both passes share (by position): 0, 1 f and g — after a reversible-Heun
    /// solve, the evaluation at ŷ_N; 2 h (g·∂g); 3, 4 f₁ and g₁; 5 Heun's predictor, or
    /// reversible Heun's ŷ (ŷ_N after its solve, where the backward pass starts); then the
    /// backward pass's own: 6 a_ŷ, 7 ā, 8 c, 9 u, 10 v_f, 11 v_g.
    bufs: Vec<M::Buffer>,
    /// The times of the last completed solve (what a backward pass steps back over).
    solved: Option<Vec<f64>>,
}

impl<M: Memory> SdeSolver<M> {
    /// A driver for `config` over `n` elements on `mem`. Checks the configuration (a finite
    /// additive g, the noise's element range).
    pub fn new(mem: M, n: usize, config: SolveConfig) -> Result<Self, Error> {
        if let Diffusion::Additive(g) = config.diffusion {
            if !(g.is_finite() && (g as f32).is_finite()) {
                return Err(Error::config(
                    "diffusion",
                    "a finite additive g, |g| ≤ f32::MAX",
                    g,
                ));
            }
        }
        config.noise.check(n)?;
        Ok(SdeSolver {
            stepper: Stepper::new(mem),
            config,
            n,
            bufs: Vec::new(),
            solved: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SolveConfig {
        &self.config
    }

    /// Solves from `x` (the initial state, updated in place to the state at the last time)
    /// over `times` (at least 2, finite, strictly increasing): step k from `times[k]` to
    /// `times[k + 1]` draws the increments of step k. `save(k, t_k, x)` sees every node.
    pub fn solve<S: Sde<M> + ?Sized>(
        &mut self,
        sde: &mut S,
        mut x: M::Mut<'_>,
        times: &[f64],
        mut save: impl FnMut(usize, f64, M::Ref<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        ito_kernels::check_len("x", None, self.n, M::len(M::as_ref(&x)))?;
        if times.len() < 2
            || times.iter().any(|t| !t.is_finite())
            || times.windows(2).any(|w| w[1] <= w[0])
        {
            return Err(Error::config(
                "times",
                "at least 2 finite, strictly increasing times",
                format!("{} times", times.len()),
            ));
        }
        let steps = u32::try_from(times.len() - 1)
            .map_err(|_| Error::config("times", "at most 2^32 steps", times.len() - 1))?;
        let convert = sde.calculus() != self.config.method.calculus()
            && self.config.diffusion == Diffusion::Diagonal;
        let needs_h = convert
            || (self.config.method == Method::Milstein
                && self.config.diffusion == Diffusion::Diagonal);
        while self.bufs.len() < 6 {
            let b = self.stepper.memory().alloc_like(M::as_ref(&x), self.n)?;
            self.bufs.push(b);
        }
        self.solved = None;
        let mut bufs = std::mem::take(&mut self.bufs);
        let run = Run {
            stepper: &self.stepper,
            config: self.config,
            convert,
            needs_h,
            sign: match sde.calculus() {
                // Itô drift into Stratonovich: f − ½h; the other way: f + ½h.
                Calculus::Ito => -0.5,
                Calculus::Stratonovich => 0.5,
            },
        };
        let result = run.solve(sde, &mut x, &mut bufs, times, steps, &mut save);
        self.bufs = bufs;
        self.solved = result.is_ok().then(|| times.to_vec());
        result
    }

    /// Exact gradients of a reversible-Heun solve (Kidger, Foster, Li, Lyons 2021), without
    /// storing the path: right after [`SdeSolver::solve`] with [`Method::ReversibleHeun`] and
    /// diagonal noise of a Stratonovich SDE, `y` holding the solve's result y_N and `a_y` the
    /// loss's gradient ∂L/∂y_N (L a function of y_N), steps back from N to 0. Each step
    /// reconstructs (y_n, ŷ_n) algebraically (two fused passes; the same increments) and
    /// pulls the adjoints back through the discrete update with two of the SDE's
    /// vector–Jacobian products (at ŷ_{n+1} and ŷ_n), which also accumulate the parameters'
    /// gradients. On return `y` holds the reconstructed y₀ (to rounding) and `a_y` holds
    /// ∂L/∂y₀: the gradient of the discrete solve itself, not of an approximate adjoint SDE.
    pub fn reversible_heun_backward<S: SdeVjp<M> + ?Sized>(
        &mut self,
        sde: &mut S,
        mut y: M::Mut<'_>,
        mut a_y: M::Mut<'_>,
    ) -> Result<(), Error> {
        if self.config.method != Method::ReversibleHeun
            || self.config.diffusion != Diffusion::Diagonal
            || sde.calculus() != Calculus::Stratonovich
        {
            return Err(Error::config(
                "method",
                "a reversible-Heun solve of a Stratonovich SDE with diagonal noise",
                format!("{:?}, {:?}", self.config.method, sde.calculus()),
            ));
        }
        let Some(times) = self.solved.take() else {
            return Err(Error::config(
                "reversible_heun_backward",
                "a completed solve just before (its ŷ and evaluation are the start)",
                "none",
            ));
        };
        for (arg, t) in [("y", M::as_ref(&y)), ("a_y", M::as_ref(&a_y))] {
            ito_kernels::check_len(arg, None, self.n, M::len(t))?;
        }
        while self.bufs.len() < 12 {
            let b = self.stepper.memory().alloc_like(M::as_ref(&y), self.n)?;
            self.bufs.push(b);
        }
        let mut bufs = std::mem::take(&mut self.bufs);
        let result = self.backward_steps(sde, &mut y, &mut a_y, &mut bufs, &times);
        self.bufs = bufs;
        result
    }

    fn backward_steps<S: SdeVjp<M> + ?Sized>(
        &self,
        sde: &mut S,
        y: &mut M::Mut<'_>,
        a_y: &mut M::Mut<'_>,
        bufs: &mut [M::Buffer],
        times: &[f64],
    ) -> Result<(), Error> {
        let [f1, g1, _h, f0, g0, y_hat, a_hat, a_bar, c, u, v_f, v_g] = bufs else {
            return Err(Error::config(
                "bufs",
                "twelve buffers (internal)",
                bufs.len(),
            ));
        };
        let st = &self.stepper;
        let mem = st.memory();
        let noise = self.config.noise;
        // ∂L/∂ŷ_N = 0: the loss reads y_N only.
        fill_zero(mem, M::view_mut(a_hat))?;
        for k in (0..times.len() - 1).rev() {
            let (t0, t1) = (times[k], times[k + 1]);
            let dt = t1 - t0;
            let step = k as u32;
            // (f1, g1) is the evaluation at ŷ_{k+1}. u = J_F(ŷ_{k+1})ᵀ(½a_y), F = fΔt + g⊙ΔW.
            cotangents(mem, M::as_ref(a_y), 0.5, dt, noise, step, [v_f, v_g])?;
            sde.vjp(
                t1,
                M::view(y_hat),
                M::view(v_f),
                M::view(v_g),
                M::view_mut(u),
            )?;
            // ā = a_ŷ + u and c = ā + ½a_y (before a_y moves on), in one pass.
            let mut coefs = LincombCoefs::default();
            coefs.inputs[..2].copy_from_slice(&[1.0, 1.0]);
            coefs.y2_inputs[..3].copy_from_slice(&[1.0, 1.0, 0.5]);
            let written = mem.lincomb(
                M::view_mut(a_bar),
                Some(M::view_mut(c)),
                &[M::view(a_hat), M::view(u), M::as_ref(a_y)],
                &coefs,
                None,
            )?;
            mem.check_written(written, Some(step.into()), "adjoint", M::view(a_bar))?;
            // ŷ_k = 2y_{k+1} − ŷ_{k+1} − F(ŷ_{k+1}); the evaluation there; then
            // y_k = y_{k+1} − ½(F(ŷ_k) + F(ŷ_{k+1})).
            st.reversible_heun_reverse(
                M::view_mut(y_hat),
                M::as_ref(y),
                M::view(f1),
                M::view(g1),
                dt,
                noise,
                step,
            )?;
            sde.drift(t0, M::view(y_hat), M::view_mut(f0))?;
            sde.diffusion(t0, M::view(y_hat), M::view_mut(g0))?;
            st.reversible_heun_correct(
                M::reborrow(y),
                M::view(f0),
                M::view(g0),
                M::view(f1),
                M::view(g1),
                -dt,
                noise,
                step,
            )?;
            // a_y ← a_y + 2ā; a_ŷ ← −ā + J_F(ŷ_k)ᵀc.
            let mut coefs = LincombCoefs {
                y: 1.0,
                ..Default::default()
            };
            coefs.inputs[0] = 2.0;
            let written = mem.lincomb(M::reborrow(a_y), None, &[M::view(a_bar)], &coefs, None)?;
            mem.check_written(written, Some(step.into()), "a_y", M::as_ref(a_y))?;
            cotangents(mem, M::view(c), 1.0, dt, noise, step, [v_f, v_g])?;
            sde.vjp(
                t0,
                M::view(y_hat),
                M::view(v_f),
                M::view(v_g),
                M::view_mut(u),
            )?;
            axpby(
                mem,
                M::view_mut(a_hat),
                [M::view(a_bar), M::view(u)],
                [-1.0, 1.0],
            )?;
            std::mem::swap(f0, f1);
            std::mem::swap(g0, g1);
        }
        // ŷ₀ = y₀ in the forward solve: both adjoints are y₀'s (a_y ← a_y + a_ŷ, in place).
        let mut coefs = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        coefs.inputs[0] = 1.0;
        let written = mem.lincomb(M::reborrow(a_y), None, &[M::view(a_hat)], &coefs, None)?;
        mem.check_written(written, None, "a_y", M::as_ref(a_y))
    }
}

/// v_f ← (wΔt)·a and v_g ← w·ΔW⊙a (ΔW = √Δt·z, step `step`'s increments) in one pass: the
/// cotangents of F = fΔt + g⊙ΔW for the adjoint w·a.
fn cotangents<M: Memory>(
    mem: &M,
    a: M::Ref<'_>,
    w: f64,
    dt: f64,
    noise: NoiseSource,
    step: u32,
    [v_f, v_g]: [&mut M::Buffer; 2],
) -> Result<(), Error> {
    let at = noise.noise(NoiseUse::Increment, step, M::len(a))?;
    let mut c = LincombCoefs::default();
    c.noise_inputs[0] = (w * dt.sqrt()) as f32;
    c.y2_inputs[0] = (w * dt) as f32;
    let written = mem.lincomb(M::view_mut(v_g), Some(M::view_mut(v_f)), &[a], &c, Some(at))?;
    mem.check_written(written, Some(step.into()), "v_g", M::view(v_g))
}

/// y ← c₀·a + c₁·b, one pass.
fn axpby<M: Memory>(
    mem: &M,
    mut y: M::Mut<'_>,
    inputs: [M::Ref<'_>; 2],
    c: [f32; 2],
) -> Result<(), Error> {
    let mut coefs = LincombCoefs::default();
    coefs.inputs[0] = c[0];
    coefs.inputs[1] = c[1];
    let written = mem.lincomb(M::reborrow(&mut y), None, &inputs, &coefs, None)?;
    mem.check_written(written, None, "adjoint", M::as_ref(&y))
}

/// y ← 0, one pass.
fn fill_zero<M: Memory>(mem: &M, mut y: M::Mut<'_>) -> Result<(), Error> {
    let written = mem.lincomb(
        M::reborrow(&mut y),
        None,
        &[],
        &LincombCoefs::default(),
        None,
    )?;
    mem.check_written(written, None, "adjoint", M::as_ref(&y))
}

/// One solve's settings, borrowed from the driver.
struct Run<'s, M: Memory> {
    stepper: &'s Stepper<M>,
    config: SolveConfig,
    /// Convert the drift to the method's calculus.
    convert: bool,
    /// Evaluate g·∂g.
    needs_h: bool,
    /// The conversion's weight of h in the drift.
    sign: f64,
}

impl<M: Memory> Run<'_, M> {
    fn mem(&self) -> &M {
        self.stepper.memory()
    }

    /// f (and g, h as configured) at (t, x) into the buffers `f`, `g`, `h`, the drift
    /// converted to the method's calculus.
    fn evaluate<S: Sde<M> + ?Sized>(
        &self,
        sde: &mut S,
        t: f64,
        x: M::Ref<'_>,
        [f, g, h]: [&mut M::Buffer; 3],
    ) -> Result<(), Error> {
        sde.drift(t, M::shorten(x), M::view_mut(f))?;
        if self.config.diffusion == Diffusion::Diagonal {
            sde.diffusion(t, M::shorten(x), M::view_mut(g))?;
        }
        if self.needs_h {
            sde.diffusion_derivative(t, M::shorten(x), M::view_mut(h))?;
        }
        if self.convert {
            let mut c = LincombCoefs {
                y: 1.0,
                ..Default::default()
            };
            c.inputs[0] = self.sign as f32;
            let written = self
                .mem()
                .lincomb(M::view_mut(f), None, &[M::view(h)], &c, None)?;
            self.mem()
                .check_written(written, None, "f (converted)", M::view(f))?;
        }
        Ok(())
    }

    /// One pass y ← c_y·y + Σ cⱼ·inputⱼ + (g√|Δt|·sign Δt)·z with step k's increments, g the
    /// additive noise's constant.
    fn additive_pass(
        &self,
        mut y: M::Mut<'_>,
        inputs: &[M::Ref<'_>],
        c_y: f32,
        c: &[f64],
        dt: f64,
        step: u32,
    ) -> Result<(), Error> {
        let Diffusion::Additive(g) = self.config.diffusion else {
            return Err(Error::config(
                "diffusion",
                "additive noise (internal)",
                "diagonal",
            ));
        };
        let at = self
            .config
            .noise
            .noise(NoiseUse::Increment, step, M::len(M::as_ref(&y)))?;
        let mut coefs = LincombCoefs {
            y: c_y,
            // Δt > 0: `solve` takes strictly increasing times.
            noise: (g * dt.sqrt()) as f32,
            ..Default::default()
        };
        for (slot, &v) in coefs.inputs.iter_mut().zip(c) {
            *slot = v as f32;
        }
        let written = self
            .mem()
            .lincomb(M::reborrow(&mut y), None, inputs, &coefs, Some(at))?;
        self.mem()
            .check_written(written, Some(step.into()), "x", M::as_ref(&y))
    }

    /// Heun's predictor into `x1`: x + Δt·f + g·ΔW (stochastic Heun), or reversible Heun's
    /// ŷ_{k+1} = 2x − ŷ_k + Δt·f + g·ΔW with ŷ_k in `x1` and (f, g) evaluated there.
    fn heun_predict(
        &self,
        x: &M::Mut<'_>,
        x1: &mut M::Buffer,
        [f, g]: [&M::Buffer; 2],
        dt: f64,
        k: u32,
        reversible: bool,
    ) -> Result<(), Error> {
        let noise = self.config.noise;
        let (c_y, c_x) = if reversible { (-1.0, 2.0) } else { (0.0, 1.0) };
        match (self.config.diffusion, reversible) {
            (Diffusion::Additive(_), _) => self.additive_pass(
                M::view_mut(x1),
                &[M::as_ref(x), M::view(f)],
                c_y,
                &[c_x, dt],
                dt,
                k,
            ),
            (Diffusion::Diagonal, false) => self.stepper.stochastic_heun_predict(
                M::view_mut(x1),
                M::as_ref(x),
                M::view(f),
                M::view(g),
                dt,
                noise,
                k,
            ),
            (Diffusion::Diagonal, true) => self.stepper.reversible_heun_forward(
                M::view_mut(x1),
                M::as_ref(x),
                M::view(f),
                M::view(g),
                dt,
                noise,
                k,
            ),
        }
    }

    /// Both Heun methods' corrector: x ← x + ½Δt·(f + f₁) + ½(g + g₁)·ΔW, the predictor's ΔW.
    fn heun_correct(
        &self,
        x: &mut M::Mut<'_>,
        [f, g, f1, g1]: [&M::Buffer; 4],
        dt: f64,
        k: u32,
        reversible: bool,
    ) -> Result<(), Error> {
        let noise = self.config.noise;
        let (xm, f, g, f1, g1) = (
            M::reborrow(x),
            M::view(f),
            M::view(g),
            M::view(f1),
            M::view(g1),
        );
        match (self.config.diffusion, reversible) {
            (Diffusion::Additive(_), _) => {
                self.additive_pass(xm, &[f, f1], 1.0, &[0.5 * dt, 0.5 * dt], dt, k)
            }
            (Diffusion::Diagonal, false) => self
                .stepper
                .stochastic_heun_correct(xm, f, g, f1, g1, dt, noise, k),
            (Diffusion::Diagonal, true) => self
                .stepper
                .reversible_heun_correct(xm, f, g, f1, g1, dt, noise, k),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn solve<S: Sde<M> + ?Sized>(
        &self,
        sde: &mut S,
        x: &mut M::Mut<'_>,
        bufs: &mut [M::Buffer],
        times: &[f64],
        steps: u32,
        save: &mut impl FnMut(usize, f64, M::Ref<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let [f, g, h, f1, g1, x1] = bufs else {
            return Err(Error::config("bufs", "six buffers (internal)", bufs.len()));
        };
        let noise = self.config.noise;
        save(0, times[0], M::as_ref(x))?;
        if self.config.method == Method::ReversibleHeun {
            // ŷ₀ = y₀, and the evaluation at ŷ carried from step to step.
            copy(self.mem(), M::as_ref(x), M::view_mut(x1))?;
            self.evaluate(sde, times[0], M::view(x1), [&mut *f, &mut *g, &mut *h])?;
        }
        for k in 0..steps {
            let (t0, t1) = (times[k as usize], times[k as usize + 1]);
            let dt = t1 - t0;
            match self.config.method {
                Method::EulerMaruyama | Method::Milstein => {
                    self.evaluate(sde, t0, M::as_ref(x), [&mut *f, &mut *g, &mut *h])?;
                    match (self.config.diffusion, self.config.method) {
                        // With additive noise Milstein's g·∂g term vanishes: Euler–Maruyama.
                        (Diffusion::Additive(_), _) => {
                            self.additive_pass(M::reborrow(x), &[M::view(f)], 1.0, &[dt], dt, k)?
                        }
                        (Diffusion::Diagonal, Method::Milstein) => self.stepper.milstein(
                            M::reborrow(x),
                            M::view(f),
                            M::view(g),
                            M::view(h),
                            dt,
                            noise,
                            k,
                        )?,
                        (Diffusion::Diagonal, _) => self.stepper.euler_maruyama(
                            M::reborrow(x),
                            M::view(f),
                            M::view(g),
                            dt,
                            noise,
                            k,
                        )?,
                    }
                }
                Method::StochasticHeun | Method::ReversibleHeun => {
                    let reversible = self.config.method == Method::ReversibleHeun;
                    // Reversible Heun: x1 already holds ŷ_k and (f, g) the evaluation there.
                    if !reversible {
                        self.evaluate(sde, t0, M::as_ref(x), [&mut *f, &mut *g, &mut *h])?;
                    }
                    self.heun_predict(x, x1, [f, g], dt, k, reversible)?;
                    self.evaluate(sde, t1, M::view(x1), [&mut *f1, &mut *g1, &mut *h])?;
                    self.heun_correct(x, [f, g, f1, g1], dt, k, reversible)?;
                    if reversible {
                        // The evaluation at ŷ_{k+1} is the next step's.
                        std::mem::swap(f, f1);
                        std::mem::swap(g, g1);
                    }
                }
            }
            save(k as usize + 1, t1, M::as_ref(x))?;
        }
        Ok(())
    }
}

/// y ← x, one pass.
fn copy<M: Memory>(mem: &M, x: M::Ref<'_>, mut y: M::Mut<'_>) -> Result<(), Error> {
    let mut c = LincombCoefs::default();
    c.inputs[0] = 1.0;
    let written = mem.lincomb(M::reborrow(&mut y), None, &[x], &c, None)?;
    mem.check_written(written, None, "x", M::as_ref(&y))
}
