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

use ito_kernels::lincomb::{LincombCoefs, Noise};
use ito_kernels::storage::{TensorMut, TensorRef};

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

/// Euler–Maruyama, diagonal noise: x ← x + Δt·f + g·ΔW.
pub fn euler_maruyama(
    mut x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    check_dt(dt)?;
    let at = check_step(x.len(), &[("f", f.len()), ("g", g.len())], &noise, step)?;
    let mut c = LincombCoefs {
        y: 1.0,
        ..Default::default()
    };
    c.inputs[0] = dt as f32;
    c.noise_inputs[1] = dt.sqrt() as f32;
    crate::runtime::backend()?
        .lincomb(x.reborrow(), None, &[f, g], &c, Some(at))?
        .check(Some(step.into()), "x", x.as_ref())
}

/// Euler–Maruyama, scalar noise: one Brownian motion per sample of `sample_len` elements,
/// ΔW_b = √Δt·z_b, z_b the source's normal under [`NoiseUse::ScalarIncrement`] at step `step`,
/// element offset/sample_len + b, for sample b:
/// x ← x + Δt·f + ΔW_b·g on sample b. One `lincomb` per sample (ΔW_b is its coefficient), the
/// samples in parallel: cheap for samples of hundreds of elements or more, ≈ 60 ns per sample
/// on top for tiny ones (2^20 one-element samples: 60 ms against 0.23 ms in samples of 1024,
/// this project's 2-core VM).
pub fn euler_maruyama_scalar_noise(
    mut x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
    sample_len: usize,
) -> Result<(), Error> {
    check_dt(dt)?;
    let n = x.len();
    if sample_len == 0 || n % sample_len != 0 || noise.offset % sample_len as u64 != 0 {
        return Err(Error::config(
            "sample_len",
            "a divisor of the element count and of the offset",
            sample_len,
        ));
    }
    check_step(n, &[("f", f.len()), ("g", g.len())], &noise, step)?;
    let samples = n / sample_len;
    let per_sample = noise.with_offset(noise.offset / sample_len as u64);
    // The samples' normals N(key, first + b) in one vectorised pass rather than one scalar
    // transform per sample (4 bytes per sample). fill_normal's 0 + 1·z is z, but for a −0
    // that becomes +0: either way ΔW = 0 and the g term is absent.
    let backend = crate::runtime::backend()?;
    let mut z = try_vec("x", samples, 0.0f32)?;
    let first = per_sample.noise(NoiseUse::ScalarIncrement, step, samples)?;
    backend.fill_normal(z.as_mut_slice().into(), 0.0, 1.0, first)?;
    let written = backend.lincomb_per_sample(x.reborrow(), &[f, g], sample_len, |b| {
        let dw = dt.sqrt() * f64::from(z[b]);
        let mut c = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        c.inputs[0] = dt as f32;
        c.inputs[1] = dw as f32;
        (c, None)
    })?;
    written.check(Some(step.into()), "x", x.as_ref())
}

/// Milstein, diagonal noise: x ← x + Δt·f + g·ΔW + ½·h·(ΔW² − Δt), h = g·∂g/∂x.
pub fn milstein(
    mut x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    h: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    check_dt(dt)?;
    let at = check_step(
        x.len(),
        &[("f", f.len()), ("g", g.len()), ("h", h.len())],
        &noise,
        step,
    )?;
    crate::runtime::backend()?
        .milstein(x.reborrow(), f, g, h, dt as f32, at)?
        .check(Some(step.into()), "x", x.as_ref())
}

/// Stochastic Heun (Stratonovich), stage 1: x̃ ← x + Δt·f + g·ΔW (then evaluate f̃, g̃ at x̃).
pub fn stochastic_heun_predict(
    mut x_pred: TensorMut<'_>,
    x: TensorRef<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    check_dt(dt)?;
    let at = check_step(
        x_pred.len(),
        &[("x", x.len()), ("f", f.len()), ("g", g.len())],
        &noise,
        step,
    )?;
    let mut c = LincombCoefs::default();
    c.inputs[0] = 1.0;
    c.inputs[1] = dt as f32;
    c.noise_inputs[2] = dt.sqrt() as f32;
    crate::runtime::backend()?
        .lincomb(x_pred.reborrow(), None, &[x, f, g], &c, Some(at))?
        .check(Some(step.into()), "x_pred", x_pred.as_ref())
}

/// Stochastic Heun, stage 2: x ← x + ½Δt·(f + f̃) + ½(g + g̃)·ΔW, the same ΔW as stage 1.
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
    check_dt(dt)?;
    heun_average(
        x,
        [("f", f), ("g", g), ("f_pred", f_pred), ("g_pred", g_pred)],
        dt,
        noise,
        step,
    )
}

/// The trapezoidal update both Heun methods share, with signed Δt:
/// y ← y + ½Δt·(f₀ + f₁) + ½(g₀ + g₁)·ΔW, ΔW = sign(Δt)·√|Δt|·z; `fg` = [f₀, g₀, f₁, g₁],
/// each with the caller's argument name.
fn heun_average(
    mut y: TensorMut<'_>,
    named: [(&'static str, TensorRef<'_>); 4],
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    check_signed_dt(dt)?;
    let lens = named.map(|(arg, t)| (arg, t.len()));
    let at = check_step(y.len(), &lens, &noise, step)?;
    let fg = named.map(|(_, t)| t);
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
    crate::runtime::backend()?
        .lincomb(y.reborrow(), None, &fg, &c, Some(at))?
        .check(Some(step.into()), "y", y.as_ref())
}

/// Reversible Heun, the first half of forward step n from (y_n, ŷ_n) with f₀ = f(ŷ_n),
/// g₀ = g(ŷ_n): ŷ_{n+1} = 2y_n − ŷ_n + Δt·f₀ + g₀·ΔW into `y_hat`; then evaluate
/// f₁ = f(ŷ_{n+1}), g₁ = g(ŷ_{n+1}) and call [`reversible_heun_correct`] for y_{n+1}.
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
    reversible_heun_predict(y_hat, [("y", y), ("f0", f0), ("g0", g0)], dt, noise, step)
}

/// The ŷ update of reversible Heun with signed Δt (negative for the reverse step):
/// ŷ ← 2y − ŷ + Δt·f + g·ΔW, ΔW = sign(Δt)·√|Δt|·z.
fn reversible_heun_predict(
    mut y_hat: TensorMut<'_>,
    named: [(&'static str, TensorRef<'_>); 3],
    dt: f64,
    noise: NoiseSource,
    step: u32,
) -> Result<(), Error> {
    check_signed_dt(dt)?;
    let lens = named.map(|(arg, t)| (arg, t.len()));
    let at = check_step(y_hat.len(), &lens, &noise, step)?;
    let [y, f, g] = named.map(|(_, t)| t);
    let mut c = LincombCoefs {
        y: -1.0,
        ..Default::default()
    };
    c.inputs[0] = 2.0;
    c.inputs[1] = dt as f32;
    c.noise_inputs[2] = (dt.signum() * dt.abs().sqrt()) as f32;
    crate::runtime::backend()?
        .lincomb(y_hat.reborrow(), None, &[y, f, g], &c, Some(at))?
        .check(Some(step.into()), "y_hat", y_hat.as_ref())
}

/// Reversible Heun's y update: y ← y + ½Δt·(f₀ + f₁) + ½(g₀ + g₁)·ΔW (Δt < 0 in reverse).
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
    heun_average(
        y,
        [("f0", f0), ("g0", g0), ("f1", f1), ("g1", g1)],
        dt,
        noise,
        step,
    )
}

/// Reversible Heun, the reverse of step n (from (y_{n+1}, ŷ_{n+1}) with f₁ = f(ŷ_{n+1}),
/// g₁ = g(ŷ_{n+1})): ŷ_n = 2y_{n+1} − ŷ_{n+1} − Δt·f₁ − g₁·ΔW into `y_hat`; then evaluate
/// f₀ = f(ŷ_n), g₀ = g(ŷ_n) and call [`reversible_heun_correct`] with −Δt for y_n.
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
    reversible_heun_predict(y_hat, [("y", y), ("f1", f1), ("g1", g1)], -dt, noise, step)
}
