//! SDE steppers over user tensors: the user evaluates the drift f and the diffusion g (and for
//! Milstein g·∂g/∂x); ito performs the update in one fused pass with the Brownian increment
//! drawn inline from the counter: ΔW = √Δt·z with z the normal of the [`NoiseSource`] under
//! [`NoiseUse::Increment`] at step k, element i (diagonal noise), or one ΔW per sample under
//! [`NoiseUse::ScalarIncrement`] (scalar noise); see [`crate::runtime::rng`]. Step k of a run
//! uses `step = k`, so a path is a pure function of the source whatever the backend, thread
//! count or batch split.
//!
//! A step whose result is not finite (a NaN drift, an overflowing diffusion) returns
//! [`Error::NonFinite`] naming the step, the buffer and the first bad element, found from the
//! pass's own report; the state has been written, so a caller that wants IEEE propagation
//! matches on that variant and carries on.
//!
//! ```
//! use ito::runtime::rng::NoiseSource;
//! use ito::sde::euler_maruyama;
//! // dX = −X dt + 0.5 dW from X₀ = 1, 100 steps of Δt = 0.01, over 4096 paths.
//! let (n, dt) = (4096, 0.01);
//! let noise = NoiseSource::new(11);
//! let (mut x, mut f, g) = (vec![1.0f32; n], vec![0.0f32; n], vec![0.5f32; n]);
//! for k in 0..100 {
//!     for (fi, xi) in f.iter_mut().zip(&x) {
//!         *fi = -xi; // the drift, evaluated by the user
//!     }
//!     euler_maruyama(x.as_mut_slice().into(), f.as_slice().into(), g.as_slice().into(), dt, noise, k)?;
//! }
//! let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
//! assert!((mean - (-1.0f64).exp()).abs() < 0.05); // E X₁ = e⁻¹
//! # Ok::<(), ito::Error>(())
//! ```
//!
//! - [`euler_maruyama`] (Itô, strong order ½), [`euler_maruyama_scalar_noise`];
//! - [`milstein`] (Itô, diagonal noise, strong order 1);
//! - [`stochastic_heun_predict`] / [`stochastic_heun_correct`] (Stratonovich, two evaluations);
//! - [`reversible_heun_forward`] / [`reversible_heun_reverse`] (Kidger et al. 2021): the state
//!   is (y, ŷ); the reverse step reconstructs the previous state algebraically, to rounding.
//!
//! The free functions run on host memory; [`Stepper`] runs the same steps on any
//! [`Memory`] (CUDA device memory included).

use ito_kernels::lincomb::{LincombCoefs, Noise};
use ito_kernels::storage::{TensorMut, TensorRef};

use crate::runtime::memory::{Host, Memory};
use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::{try_vec, Error};

/// Checks a step's tensors against x by the names the caller used, and the increment's
/// address range; returns the counter address of step `step`'s diagonal increments.
fn check_step(
    x_len: usize,
    tensors: &[(&'static str, usize)],
    noise: &NoiseSource,
    step: u32,
) -> Result<Noise, Error> {
    for &(arg, len) in tensors {
        ito_kernels::check_len(arg, None, x_len, len)?;
    }
    noise.noise(NoiseUse::Increment, step, x_len)
}

/// Δt must be finite, and so must Δt and √|Δt| in f32 (the kernel's coefficients).
fn check_signed_dt(dt: f64) -> Result<(), Error> {
    if dt.is_finite() && (dt as f32).is_finite() {
        Ok(())
    } else {
        Err(Error::config("dt", "a finite Δt, |Δt| ≤ f32::MAX", dt))
    }
}

fn check_dt(dt: f64) -> Result<(), Error> {
    if dt.is_finite() && dt >= 0.0 && (dt as f32).is_finite() {
        Ok(())
    } else {
        Err(Error::config("dt", "a finite Δt ≥ 0, at most f32::MAX", dt))
    }
}

/// The steppers on any [`Memory`]: host slices ([`Host`], what the free functions use), CUDA
/// device memory (`CudaDevice`, each step one launch on its stream, the non-finite report
/// deferred to the device's report word), or the emulated device of the tests. Same bits on
/// every memory.
///
/// ```
/// use ito::runtime::memory::Host;
/// use ito::runtime::rng::NoiseSource;
/// use ito::sde::Stepper;
/// let stepper = Stepper::new(Host::<f32>::new());
/// let (mut x, f, g) = (vec![1.0f32; 8], vec![-1.0f32; 8], vec![0.5f32; 8]);
/// let noise = NoiseSource::new(11);
/// stepper.euler_maruyama(x.as_mut_slice().into(), f.as_slice().into(), g.as_slice().into(), 0.01, noise, 0)?;
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Stepper<M> {
    mem: M,
}

impl<M: Memory> Stepper<M> {
    /// Steppers whose passes run on `mem`.
    pub fn new(mem: M) -> Self {
        Stepper { mem }
    }

    /// The memory the passes run on.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Euler–Maruyama, diagonal noise: x ← x + Δt·f + g·ΔW.
    pub fn euler_maruyama(
        &self,
        mut x: M::Mut<'_>,
        f: M::Ref<'_>,
        g: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_dt(dt)?;
        let at = check_step(
            M::len(M::as_ref(&x)),
            &[("f", M::len(f)), ("g", M::len(g))],
            &noise,
            step,
        )?;
        let mut c = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        c.inputs[0] = dt as f32;
        c.noise_inputs[1] = dt.sqrt() as f32;
        let written = self.mem.lincomb(
            M::reborrow(&mut x),
            None,
            &[M::shorten(f), M::shorten(g)],
            &c,
            Some(at),
        )?;
        self.mem
            .check_written(written, Some(step.into()), "x", M::as_ref(&x))
    }

    /// Euler–Maruyama, scalar noise: one Brownian motion per sample of `sample_len`
    /// elements (see [`euler_maruyama_scalar_noise`] for the noise address): x ← x + Δt·f +
    /// ΔW_b·g on sample b. The samples' normals are drawn on the host (4 bytes per sample, the
    /// same bits as every backend's); each sample is one pass with ΔW_b as its coefficient —
    /// on device memory one launch per sample, on host memory one parallel call.
    #[allow(clippy::too_many_arguments)]
    pub fn euler_maruyama_scalar_noise(
        &self,
        x: M::Mut<'_>,
        f: M::Ref<'_>,
        g: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
        sample_len: usize,
    ) -> Result<(), Error> {
        check_dt(dt)?;
        let n = M::len(M::as_ref(&x));
        if sample_len == 0 || n % sample_len != 0 || noise.offset % sample_len as u64 != 0 {
            return Err(Error::config(
                "sample_len",
                "a divisor of the element count and of the offset",
                sample_len,
            ));
        }
        check_step(n, &[("f", M::len(f)), ("g", M::len(g))], &noise, step)?;
        let samples = n / sample_len;
        let per_sample = noise.with_offset(noise.offset / sample_len as u64);
        // The samples' normals N(key, first + b) in one vectorised pass rather than one scalar
        // transform per sample. fill_normal's 0 + 1·z is z, but for a −0 that becomes +0:
        // either way ΔW = 0 and the g term is absent.
        let mut z = try_vec("x", samples, 0.0f32)?;
        let first = per_sample.noise(NoiseUse::ScalarIncrement, step, samples)?;
        crate::runtime::backend()?.fill_normal(z.as_mut_slice().into(), 0.0, 1.0, first)?;
        let coefs = |b: usize| {
            let mut c = LincombCoefs {
                y: 1.0,
                ..Default::default()
            };
            c.inputs[0] = dt as f32;
            c.inputs[1] = (dt.sqrt() * f64::from(z[b])) as f32;
            c
        };
        let mut x = x;
        let written = self.mem.lincomb_per_sample(
            M::reborrow(&mut x),
            &[M::shorten(f), M::shorten(g)],
            sample_len,
            &coefs,
        )?;
        self.mem
            .check_written(written, Some(step.into()), "x", M::as_ref(&x))
    }

    /// Milstein, diagonal noise: x ← x + Δt·f + g·ΔW + ½·h·(ΔW² − Δt), h = g·∂g/∂x.
    #[allow(clippy::too_many_arguments)]
    pub fn milstein(
        &self,
        mut x: M::Mut<'_>,
        f: M::Ref<'_>,
        g: M::Ref<'_>,
        h: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_dt(dt)?;
        let at = check_step(
            M::len(M::as_ref(&x)),
            &[("f", M::len(f)), ("g", M::len(g)), ("h", M::len(h))],
            &noise,
            step,
        )?;
        let written = self
            .mem
            .milstein(M::reborrow(&mut x), f, g, h, dt as f32, at)?;
        self.mem
            .check_written(written, Some(step.into()), "x", M::as_ref(&x))
    }

    /// Stochastic Heun (Stratonovich), stage 1: x̃ ← x + Δt·f + g·ΔW (then evaluate f̃, g̃
    /// at x̃).
    #[allow(clippy::too_many_arguments)]
    pub fn stochastic_heun_predict(
        &self,
        mut x_pred: M::Mut<'_>,
        x: M::Ref<'_>,
        f: M::Ref<'_>,
        g: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_dt(dt)?;
        let at = check_step(
            M::len(M::as_ref(&x_pred)),
            &[("x", M::len(x)), ("f", M::len(f)), ("g", M::len(g))],
            &noise,
            step,
        )?;
        let mut c = LincombCoefs::default();
        c.inputs[0] = 1.0;
        c.inputs[1] = dt as f32;
        c.noise_inputs[2] = dt.sqrt() as f32;
        let written = self.mem.lincomb(
            M::reborrow(&mut x_pred),
            None,
            &[M::shorten(x), M::shorten(f), M::shorten(g)],
            &c,
            Some(at),
        )?;
        self.mem
            .check_written(written, Some(step.into()), "x_pred", M::as_ref(&x_pred))
    }

    /// Stochastic Heun, stage 2: x ← x + ½Δt·(f + f̃) + ½(g + g̃)·ΔW, the same ΔW as stage 1.
    #[allow(clippy::too_many_arguments)]
    pub fn stochastic_heun_correct(
        &self,
        x: M::Mut<'_>,
        f: M::Ref<'_>,
        g: M::Ref<'_>,
        f_pred: M::Ref<'_>,
        g_pred: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_dt(dt)?;
        self.heun_average(
            x,
            [
                ("f", M::shorten(f)),
                ("g", M::shorten(g)),
                ("f_pred", M::shorten(f_pred)),
                ("g_pred", M::shorten(g_pred)),
            ],
            dt,
            noise,
            step,
        )
    }

    /// The trapezoidal update both Heun methods share, with signed Δt:
    /// y ← y + ½Δt·(f₀ + f₁) + ½(g₀ + g₁)·ΔW, ΔW = sign(Δt)·√|Δt|·z; `named` = [f₀, g₀, f₁,
    /// g₁], each with the caller's argument name.
    fn heun_average(
        &self,
        mut y: M::Mut<'_>,
        named: [(&'static str, M::Ref<'_>); 4],
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_signed_dt(dt)?;
        let lens = named.map(|(arg, t)| (arg, M::len(t)));
        let at = check_step(M::len(M::as_ref(&y)), &lens, &noise, step)?;
        let fg = named.map(|(_, t)| M::shorten(t));
        let mut c = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        let (h, s) = (
            (0.5 * dt) as f32,
            (0.5 * dt.signum() * dt.abs().sqrt()) as f32,
        );
        c.inputs[0] = h;
        c.inputs[2] = h;
        c.noise_inputs[1] = s;
        c.noise_inputs[3] = s;
        let written = self
            .mem
            .lincomb(M::reborrow(&mut y), None, &fg, &c, Some(at))?;
        self.mem
            .check_written(written, Some(step.into()), "y", M::as_ref(&y))
    }

    /// Reversible Heun, the first half of forward step n from (y_n, ŷ_n) with f₀ = f(ŷ_n),
    /// g₀ = g(ŷ_n): ŷ_{n+1} = 2y_n − ŷ_n + Δt·f₀ + g₀·ΔW into `y_hat`; then evaluate
    /// f₁ = f(ŷ_{n+1}), g₁ = g(ŷ_{n+1}) and call [`Stepper::reversible_heun_correct`] for
    /// y_{n+1}.
    #[allow(clippy::too_many_arguments)]
    pub fn reversible_heun_forward(
        &self,
        y_hat: M::Mut<'_>,
        y: M::Ref<'_>,
        f0: M::Ref<'_>,
        g0: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        self.reversible_heun_predict(
            y_hat,
            [
                ("y", M::shorten(y)),
                ("f0", M::shorten(f0)),
                ("g0", M::shorten(g0)),
            ],
            dt,
            noise,
            step,
        )
    }

    /// The ŷ update of reversible Heun with signed Δt (negative for the reverse step):
    /// ŷ ← 2y − ŷ + Δt·f + g·ΔW, ΔW = sign(Δt)·√|Δt|·z.
    fn reversible_heun_predict(
        &self,
        mut y_hat: M::Mut<'_>,
        named: [(&'static str, M::Ref<'_>); 3],
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        check_signed_dt(dt)?;
        let lens = named.map(|(arg, t)| (arg, M::len(t)));
        let at = check_step(M::len(M::as_ref(&y_hat)), &lens, &noise, step)?;
        let [y, f, g] = named.map(|(_, t)| M::shorten(t));
        let mut c = LincombCoefs {
            y: -1.0,
            ..Default::default()
        };
        c.inputs[0] = 2.0;
        c.inputs[1] = dt as f32;
        c.noise_inputs[2] = (dt.signum() * dt.abs().sqrt()) as f32;
        let written = self
            .mem
            .lincomb(M::reborrow(&mut y_hat), None, &[y, f, g], &c, Some(at))?;
        self.mem
            .check_written(written, Some(step.into()), "y_hat", M::as_ref(&y_hat))
    }

    /// Reversible Heun's y update: y ← y + ½Δt·(f₀ + f₁) + ½(g₀ + g₁)·ΔW (Δt < 0 in reverse).
    #[allow(clippy::too_many_arguments)]
    pub fn reversible_heun_correct(
        &self,
        y: M::Mut<'_>,
        f0: M::Ref<'_>,
        g0: M::Ref<'_>,
        f1: M::Ref<'_>,
        g1: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        self.heun_average(
            y,
            [
                ("f0", M::shorten(f0)),
                ("g0", M::shorten(g0)),
                ("f1", M::shorten(f1)),
                ("g1", M::shorten(g1)),
            ],
            dt,
            noise,
            step,
        )
    }

    /// Reversible Heun, the reverse of step n (from (y_{n+1}, ŷ_{n+1}) with f₁ = f(ŷ_{n+1}),
    /// g₁ = g(ŷ_{n+1})): ŷ_n = 2y_{n+1} − ŷ_{n+1} − Δt·f₁ − g₁·ΔW into `y_hat`; then evaluate
    /// f₀ = f(ŷ_n), g₀ = g(ŷ_n) and call [`Stepper::reversible_heun_correct`] with −Δt for y_n.
    #[allow(clippy::too_many_arguments)]
    pub fn reversible_heun_reverse(
        &self,
        y_hat: M::Mut<'_>,
        y: M::Ref<'_>,
        f1: M::Ref<'_>,
        g1: M::Ref<'_>,
        dt: f64,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        self.reversible_heun_predict(
            y_hat,
            [
                ("y", M::shorten(y)),
                ("f1", M::shorten(f1)),
                ("g1", M::shorten(g1)),
            ],
            -dt,
            noise,
            step,
        )
    }
}

/// The steppers on host memory, on the process-wide backend (what the free functions use).
fn host() -> Stepper<Host<f32>> {
    Stepper::new(Host::new())
}

/// Euler–Maruyama, diagonal noise: x ← x + Δt·f + g·ΔW (on host memory; any memory:
/// [`Stepper::euler_maruyama`]).
pub fn euler_maruyama(
    x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().euler_maruyama(x, f, g, dt, noise, step)
}

/// Euler–Maruyama, scalar noise: one Brownian motion per sample of `sample_len` elements,
/// ΔW_b = √Δt·z_b, z_b the source's normal under [`NoiseUse::ScalarIncrement`] at step `step`,
/// element offset/sample_len + b, for sample b:
/// x ← x + Δt·f + ΔW_b·g on sample b. One `lincomb` per sample (ΔW_b is its coefficient), the
/// samples in parallel: cheap for samples of hundreds of elements or more, ≈ 60 ns per sample
/// on top for tiny ones (2^20 one-element samples: 60 ms against 0.23 ms in samples of 1024,
/// this project's 2-core VM). On host memory; any memory:
/// [`Stepper::euler_maruyama_scalar_noise`].
pub fn euler_maruyama_scalar_noise(
    x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
    sample_len: usize,
) -> Result<(), Error> {
    host().euler_maruyama_scalar_noise(x, f, g, dt, noise, step, sample_len)
}

/// Milstein, diagonal noise: x ← x + Δt·f + g·ΔW + ½·h·(ΔW² − Δt), h = g·∂g/∂x (on host
/// memory; any memory: [`Stepper::milstein`]).
pub fn milstein(
    x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    h: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().milstein(x, f, g, h, dt, noise, step)
}

/// Stochastic Heun (Stratonovich), stage 1 (see [`Stepper::stochastic_heun_predict`]).
pub fn stochastic_heun_predict(
    x_pred: TensorMut<'_>,
    x: TensorRef<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().stochastic_heun_predict(x_pred, x, f, g, dt, noise, step)
}

/// Stochastic Heun, stage 2 (see [`Stepper::stochastic_heun_correct`]).
#[allow(clippy::too_many_arguments)]
pub fn stochastic_heun_correct(
    x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    f_pred: TensorRef<'_>,
    g_pred: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().stochastic_heun_correct(x, f, g, f_pred, g_pred, dt, noise, step)
}

/// Reversible Heun, forward (see [`Stepper::reversible_heun_forward`]).
#[allow(clippy::too_many_arguments)]
pub fn reversible_heun_forward(
    y_hat: TensorMut<'_>,
    y: TensorRef<'_>,
    f0: TensorRef<'_>,
    g0: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().reversible_heun_forward(y_hat, y, f0, g0, dt, noise, step)
}

/// Reversible Heun's y update (see [`Stepper::reversible_heun_correct`]).
#[allow(clippy::too_many_arguments)]
pub fn reversible_heun_correct(
    y: TensorMut<'_>,
    f0: TensorRef<'_>,
    g0: TensorRef<'_>,
    f1: TensorRef<'_>,
    g1: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().reversible_heun_correct(y, f0, g0, f1, g1, dt, noise, step)
}

/// Reversible Heun, reverse (see [`Stepper::reversible_heun_reverse`]).
#[allow(clippy::too_many_arguments)]
pub fn reversible_heun_reverse(
    y_hat: TensorMut<'_>,
    y: TensorRef<'_>,
    f1: TensorRef<'_>,
    g1: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    host().reversible_heun_reverse(y_hat, y, f1, g1, dt, noise, step)
}
