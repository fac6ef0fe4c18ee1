//! Langevin correction and score-SDE predictor–corrector sampling.
//!
//! [`langevin_step`] is the corrector of Song et al.'s PC samplers, in two passes and without
//! ever storing the noise: pass 1 computes per sample ‖score‖ and ‖z‖ (z regenerated from its
//! counter, in `reduce`'s order); the step size ε = 2α·(r·‖z‖/‖score‖)² follows (per sample,
//! or from the batch means of the norms as score-SDE does); pass 2 applies
//! x ← x + ε·score + √(2ε)·z, regenerating the same z. [`PcSampler`] drives the whole
//! sampler for the VP and VE SDEs with a reverse-diffusion or Euler–Maruyama predictor and N
//! corrector steps per predictor step; [`annealed_langevin_step`] is NCSN's fixed-step update
//! and [`AnnealedLangevin`] its driver over a ladder of noise levels; [`LangevinGibbs`] is
//! denoising MCMC's Langevin–Gibbs sweep in the joint space of data and noise level.

use ito_kernels::lincomb::{LincombCoefs, Noise};
use ito_kernels::storage::{TensorMut, TensorRef};

use std::fmt;

use crate::diffusion::schedule::{self, Schedule};
use crate::runtime::memory::{Host, Memory};
use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::{try_vec, Backend, Error, OnNonFinite};

/// `Ok` when `count` steps number into a u32 step word (the noise key's step).
fn check_step_count(arg: &'static str, count: Option<usize>) -> Result<(), Error> {
    match count {
        Some(c) if c as u64 <= 1 << 32 => Ok(()),
        _ => Err(Error::config(
            arg,
            "at most 2^32 noisy steps in all (each is a step word of the noise key)",
            count.map_or("more than usize::MAX".to_string(), |c| c.to_string()),
        )),
    }
}

pub use ito_kernels::langevin::{Corrector, NormMode};

/// One Langevin corrector step on `backend` over samples of `sample_len` elements; returns the
/// step size ε used for each sample (see [`Backend::langevin_step`], which this calls).
pub fn langevin_step(
    backend: Backend,
    x: TensorMut<'_>,
    score: TensorRef<'_>,
    sample_len: usize,
    c: &Corrector,
    noise: Noise,
) -> Result<Vec<f64>, Error> {
    backend.langevin_step(x, score, sample_len, c, noise)
}

/// NCSN's annealed Langevin update at one noise level: x ← x + (a/2)·score + √a·z, one pass.
///
/// A result that is not finite is [`Error::NonFinite`] (x has been written).
pub fn annealed_langevin_step(
    x: TensorMut<'_>,
    score: TensorRef<'_>,
    step_size: f64,
    noise: Noise,
) -> Result<(), Error> {
    annealed_pass(&Host::<f32>::new(), x, score, step_size, noise)
}

/// [`annealed_langevin_step`] on any memory: one pass, its non-finite report turned into
/// [`Error::NonFinite`] where the memory reports per pass.
fn annealed_pass<M: Memory>(
    mem: &M,
    mut x: M::Mut<'_>,
    score: M::Ref<'_>,
    step_size: f64,
    noise: Noise,
) -> Result<(), Error> {
    if !(step_size.is_finite() && step_size >= 0.0) {
        return Err(Error::config("step_size", "a finite value ≥ 0", step_size));
    }
    let mut c = LincombCoefs {
        y: 1.0,
        noise: step_size.sqrt() as f32,
        ..Default::default()
    };
    c.inputs[0] = (0.5 * step_size) as f32;
    let written = mem.lincomb(M::reborrow(&mut x), None, &[score], &c, Some(noise))?;
    mem.check_written(written, None, "x", M::as_ref(&x))
}

/// The predictor of a [`PcSampler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Predictor {
    /// score-SDE's reverse-diffusion predictor (the discretised reverse SDE; DDPM / SMLD).
    ReverseDiffusion,
    /// Euler–Maruyama on the reverse SDE.
    EulerMaruyama,
    /// No predictor: correction only (annealed Langevin at each level).
    None,
}

/// The settings of a [`PcSampler`], by name.
#[derive(Clone, Debug)]
pub struct PcConfig {
    /// [`Schedule::VpLinear`] or [`Schedule::Ve`] (score-SDE's SDEs).
    pub schedule: Schedule,
    /// Time points N, from T = 1 down to `t_end` (at least 2; for VP more than β_max).
    pub steps: usize,
    /// The last time, in (0, 1).
    pub t_end: f64,
    /// The predictor.
    pub predictor: Predictor,
    /// The corrector (its α is replaced per step by score-SDE's: 1 − β_i for VP, 1 for VE).
    pub corrector: Option<Corrector>,
    /// Corrector steps per time point (0 without a corrector).
    pub corrector_steps: usize,
    /// Elements in all.
    pub len: usize,
    /// Elements per sample (the corrector's norms are per sample); divides `len`.
    pub sample_len: usize,
    /// Where the noise comes from: the prior under [`NoiseUse::Initial`], the predictor at time
    /// point i under [`NoiseUse::Predictor`] step i, corrector step j there under
    /// [`NoiseUse::Corrector`] step i·`corrector_steps` + j.
    pub noise: NoiseSource,
}

/// score-SDE's predictor–corrector sampler for the VP SDE (β linear) or the VE SDE, on f32
/// state, driven like [`Sampler`](crate::diffusion::sampler::Sampler): ask
/// [`PcSampler::next_eval`] where to evaluate the score, hand it to [`PcSampler::advance`].
/// Time runs over N points from T = 1 down to `t_end`; at each, `corrector_steps` Langevin
/// steps, then the predictor (whose last step adds no noise: the output is score-SDE's
/// denoised x_mean).
///
/// ```
/// use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
/// use ito::{NoiseSource, Schedule};
/// let mut pc = PcSampler::new(PcConfig {
///     schedule: Schedule::vp_linear(0.1, 20.0)?,
///     steps: 100,
///     t_end: 1e-3,
///     predictor: Predictor::ReverseDiffusion,
///     corrector: Some(Corrector { snr: 0.16, alpha: 1.0, norms: NormMode::PerSample }),
///     corrector_steps: 1,
///     len: 4 * 256,
///     sample_len: 256,
///     noise: NoiseSource::new(5),
/// })?;
/// let mut score = vec![0f32; 4 * 256];
/// while pc.next_eval().is_some() {
///     // The exact score of data N(0, 1) under the VP SDE is −x.
///     for (s, &x) in score.iter_mut().zip(pc.state()) {
///         *s = -x;
///     }
///     pc.advance(score.as_slice().into())?;
/// }
/// # Ok::<(), ito::Error>(())
/// ```
///
/// On other memory (a CUDA device, ito's or a foreign framework's buffer), the same sampler is
/// [`PcSampler::on`] with the state buffer given; every stage is one fused pass there too (the
/// corrector four launches with ε computed on the device, no host round trip), and non-finite
/// values are reported through the device's report word ([`Memory::take_nonfinite`]).
pub struct PcSampler<M: Memory = Host<f32>> {
    schedule: Schedule,
    times: Vec<f64>,
    predictor: Predictor,
    corrector: Option<Corrector>,
    corrector_steps: usize,
    sample_len: usize,
    x: M::Buffer,
    i: usize,
    j: usize,
    noise: NoiseSource,
    mem: M,
    on_nonfinite: OnNonFinite,
}

impl<M: Memory> fmt::Debug for PcSampler<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcSampler")
            .field("schedule", &self.schedule)
            .field("steps", &self.times.len())
            .field("predictor", &self.predictor)
            .field("corrector", &self.corrector)
            .field("corrector_steps", &self.corrector_steps)
            .field("sample_len", &self.sample_len)
            .field("at", &(self.i, self.j))
            .field("noise", &self.noise)
            .finish_non_exhaustive()
    }
}

/// Where a [`PcSampler`] wants the score next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PcEval {
    /// The time.
    pub t: f64,
    /// The grid index (0 = the noisiest).
    pub index: usize,
    /// Corrector step (< corrector_steps) or the predictor (= corrector_steps).
    pub stage: usize,
}

/// A driver's starting state: x ~ N(0, std²) from the source's initial noise, one pass.
fn fill_prior<M: Memory>(
    mem: &M,
    x: &mut M::Buffer,
    std: f32,
    noise: &NoiseSource,
) -> Result<(), Error> {
    let written = mem.fill_normal(
        M::view_mut(x),
        0.0,
        std,
        noise.address(NoiseUse::Initial, 0),
    )?;
    mem.check_written(written, None, "x", M::view(x))
}

/// Every check of a [`PcConfig`], before anything is allocated.
fn config_check(config: &PcConfig) -> Result<(), Error> {
    let PcConfig {
        ref schedule,
        steps,
        t_end,
        predictor,
        ref corrector,
        corrector_steps,
        len: n,
        sample_len,
        ref noise,
    } = *config;
    if !matches!(schedule, Schedule::VpLinear { .. } | Schedule::Ve { .. }) {
        return Err(Error::config(
            "schedule",
            "the VP-linear or VE schedule (score-SDE's SDEs)",
            format!("{schedule:?}"),
        ));
    }
    if steps < 2 {
        return Err(Error::config("steps", "at least 2", steps));
    }
    if let Schedule::VpLinear { beta_max, .. } = *schedule {
        if steps as f64 <= beta_max {
            return Err(Error::config(
                "steps",
                "more steps than β_max (each discrete β_i = β(t)/N must stay below 1)",
                steps,
            ));
        }
    }
    if !(t_end > 0.0 && t_end < 1.0) {
        return Err(Error::config("t_end", "a time in (0, 1)", t_end));
    }
    if sample_len == 0 || n % sample_len != 0 {
        return Err(Error::config(
            "sample_len",
            "a positive divisor of len",
            sample_len,
        ));
    }
    check_step_count("steps", Some(steps))?;
    check_step_count("corrector_steps", steps.checked_mul(corrector_steps))?;
    noise.check(n)?;
    if let Some(c) = corrector {
        c.check()?;
    }
    if predictor == Predictor::None && (corrector.is_none() || corrector_steps == 0) {
        return Err(Error::config(
            "predictor",
            "a predictor, or a corrector with at least one step",
            "none",
        ));
    }
    if corrector.is_none() && corrector_steps > 0 {
        return Err(Error::config(
            "corrector_steps",
            "0 without a corrector",
            corrector_steps,
        ));
    }
    Ok(())
}

impl PcSampler<Host<f32>> {
    /// A PC sampler with `config`'s settings on host memory it owns (f32, on the process-wide
    /// backend as selected now); its state starts from the prior (N(0, 1) for VP,
    /// N(0, σ_max²) for VE).
    pub fn new(config: PcConfig) -> Result<Self, Error> {
        config_check(&config)?;
        let x = try_vec("len", config.len, 0.0f32)?;
        let mem = Host::with_backend(crate::runtime::backend()?)?;
        PcSampler::on(config, mem, x)
    }

    /// The state.
    pub fn state(&self) -> &[f32] {
        &self.x
    }
}

impl<M: Memory> PcSampler<M> {
    /// A PC sampler with `config`'s settings on memory `mem`, its state in `x` (`config.len`
    /// elements of any storage type the memory has), which it sets to the prior (N(0, 1) for
    /// VP, N(0, σ_max²) for VE) in one pass.
    pub fn on(config: PcConfig, mem: M, mut x: M::Buffer) -> Result<Self, Error> {
        config_check(&config)?;
        let PcConfig {
            schedule,
            steps,
            t_end,
            predictor,
            corrector,
            corrector_steps,
            len: n,
            sample_len,
            noise,
        } = config;
        ito_kernels::check_len("x", None, n, M::len(M::view(&x)))?;
        let times = schedule::linspace(1.0, t_end, steps)?;
        // The prior: N(0, 1) for VP, N(0, σ_max²) for VE.
        let prior = match schedule {
            Schedule::Ve { sigma_max, .. } => sigma_max,
            _ => 1.0,
        };
        if !(prior as f32).is_finite() {
            return Err(Error::config(
                "schedule",
                "σ_max representable in f32 (the prior's scale)",
                prior,
            ));
        }
        fill_prior(&mem, &mut x, prior as f32, &noise)?;
        Ok(PcSampler {
            schedule,
            times,
            predictor,
            corrector,
            corrector_steps,
            sample_len,
            x,
            i: 0,
            j: 0,
            noise,
            mem,
            on_nonfinite: OnNonFinite::Error,
        })
    }

    /// What a step that stores a value that is not finite does (see [`OnNonFinite`]): by
    /// default [`Error::NonFinite`] naming the step (i·(corrector steps + 1) + stage), the
    /// buffer and the first bad element.
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// The state, as a view of the sampler's memory.
    pub fn state_view(&self) -> M::Ref<'_> {
        M::view(&self.x)
    }

    /// The memory the passes run on.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Where the score is wanted next (None when done); evaluate it at the state.
    pub fn next_eval(&self) -> Option<PcEval> {
        (self.i < self.times.len()).then(|| PcEval {
            t: self.times[self.i],
            index: self.i,
            stage: self.j,
        })
    }

    /// The number of the stage about to run, counting every corrector step and predictor.
    fn stage_number(&self) -> u64 {
        (self.i as u64) * (self.corrector_steps as u64 + 1) + self.j as u64
    }

    /// β_i (VP) of the discretisation, and the VE level step σ_i² − σ_{i+1}².
    fn discrete(&self) -> (f64, f64) {
        let n = self.times.len() as f64;
        let t = self.times[self.i];
        match self.schedule {
            Schedule::VpLinear { beta_min, beta_max } => {
                ((beta_min + t * (beta_max - beta_min)) / n, 0.0)
            }
            Schedule::Ve {
                sigma_min,
                sigma_max,
            } => {
                let s = |t: f64| sigma_min * (sigma_max / sigma_min).powf(t);
                let next = self.times.get(self.i + 1).map_or(0.0, |&u| s(u));
                (0.0, s(t).powi(2) - next * next)
            }
            _ => (0.0, 0.0),
        }
    }

    /// Submits the score at [`PcSampler::next_eval`]'s point and applies the corrector step or
    /// the predictor.
    pub fn advance(&mut self, score: M::Ref<'_>) -> Result<(), Error> {
        if self.i >= self.times.len() {
            return Err(Error::config("advance", "a step before the end", self.i));
        }
        if M::len(score) != M::len(M::view(&self.x)) {
            return Err(Error::config(
                "score",
                "as long as the state",
                M::len(score),
            ));
        }
        let (beta, dsig2) = self.discrete();
        let vp = matches!(self.schedule, Schedule::VpLinear { .. });
        // Noise: corrector step j of point i at step i·J + j, the predictor at step i (the
        // counts were checked to fit a u32 at construction).
        if self.j < self.corrector_steps {
            let mut c = self
                .corrector
                .ok_or_else(|| Error::config("corrector", "a corrector", "none"))?;
            c.alpha = if vp { 1.0 - beta } else { 1.0 };
            let step = (self.i * self.corrector_steps + self.j) as u32;
            let r = self
                .mem
                .langevin_step(
                    M::view_mut(&mut self.x),
                    score,
                    self.sample_len,
                    &c,
                    self.noise.address(NoiseUse::Corrector, step),
                )
                .map(drop);
            let r = self.on_nonfinite.filter(r, self.stage_number());
            if r.as_ref().is_err_and(|e| !e.is_nonfinite()) {
                return r; // nothing was written
            }
            self.j += 1;
            if self.j == self.corrector_steps && self.predictor == Predictor::None {
                self.i += 1;
                self.j = 0;
            }
            return r;
        }
        let last = self.i + 1 == self.times.len();
        let n = self.times.len() as f64;
        let mut c = LincombCoefs {
            y: 1.0,
            ..Default::default()
        };
        let noise_scale = match (self.predictor, vp) {
            (Predictor::None, _) => 0.0,
            // x_mean = (2 − √(1 − β))·x + β·score; x = x_mean + √β·z.
            (Predictor::ReverseDiffusion, true) => {
                c.y = (2.0 - (1.0 - beta).sqrt()) as f32;
                c.inputs[0] = beta as f32;
                beta.sqrt()
            }
            // x_mean = x + (σ_i² − σ_{i+1}²)·score; x = x_mean + √(σ_i² − σ_{i+1}²)·z.
            (Predictor::ReverseDiffusion, false) => {
                c.inputs[0] = dsig2 as f32;
                dsig2.sqrt()
            }
            // Reverse SDE with dt = −1/N: VP drift −½βx − β·score (β = β(t)), diffusion √β.
            (Predictor::EulerMaruyama, true) => {
                let b = beta * n;
                c.y = (1.0 + 0.5 * b / n) as f32;
                c.inputs[0] = (b / n) as f32;
                (b / n).sqrt()
            }
            // VE: drift −g²·score with g² = dσ²/dt = 2σ² ln(σ_max/σ_min).
            (Predictor::EulerMaruyama, false) => {
                let Schedule::Ve {
                    sigma_min,
                    sigma_max,
                } = self.schedule
                else {
                    return Err(Error::config("schedule", "VE", "other"));
                };
                let s = sigma_min * (sigma_max / sigma_min).powf(self.times[self.i]);
                let g2 = 2.0 * s * s * (sigma_max / sigma_min).ln();
                c.inputs[0] = (g2 / n) as f32;
                (g2 / n).sqrt()
            }
        };
        if self.predictor != Predictor::None {
            c.noise = if last { 0.0 } else { noise_scale as f32 };
            let noise =
                (c.noise != 0.0).then(|| self.noise.address(NoiseUse::Predictor, self.i as u32));
            let written = self
                .mem
                .lincomb(M::view_mut(&mut self.x), None, &[score], &c, noise)?;
            let r = self.mem.check_written(written, None, "x", M::view(&self.x));
            let r = self.on_nonfinite.filter(r, self.stage_number());
            if r.is_err() {
                self.i += 1; // the step was taken: only NonFinite comes after the write
                self.j = 0;
                return r;
            }
        }
        self.i += 1;
        self.j = 0;
        Ok(())
    }
}

/// The noise levels of an [`AnnealedLangevin`] run.
#[derive(Clone, Debug, PartialEq)]
pub enum NoiseLevels {
    /// `levels` geometric levels from `sigma_max` down to `sigma_min` (NCSN's choice).
    Geometric {
        /// σ₁, the largest level.
        sigma_max: f64,
        /// σ_L, the smallest level.
        sigma_min: f64,
        /// L, at least 2.
        levels: usize,
    },
    /// Given levels: positive, finite, strictly decreasing.
    Given(Vec<f64>),
}

/// The settings of an [`AnnealedLangevin`] run, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealedConfig {
    /// The noise levels σ₁ > … > σ_L.
    pub levels: NoiseLevels,
    /// Updates per level (at least 1).
    pub steps_per_level: usize,
    /// ε: the step size at the smallest level (a_i = ε·σ_i²/σ_L²).
    pub epsilon: f64,
    /// NCSNv2's final denoising step x ← x + σ_L²·score.
    pub denoise: bool,
    /// Elements.
    pub len: usize,
    /// Where the noise comes from: the start under [`NoiseUse::Initial`], update s of level i
    /// under [`NoiseUse::Corrector`] step i·`steps_per_level` + s.
    pub noise: NoiseSource,
}

/// NCSN's annealed Langevin dynamics (Song & Ermon 2019), driven like [`PcSampler`]: noise
/// levels σ₁ > … > σ_L, `steps_per_level` updates x ← x + (a_i/2)·score + √a_i·z at each with
/// a_i = ε·σ_i²/σ_L², each one fused pass ([`annealed_langevin_step`]); optionally NCSNv2's
/// final denoising step x ← x + σ_L²·score (no noise). The state starts from
/// N(0, σ₁²)… as NCSNv2 does (NCSN's uniform start is the caller's to write into `state_mut`).
///
/// On other memory (a CUDA device), the same driver is [`AnnealedLangevin::on`] with the state
/// buffer given; each step is one fused pass there too.
pub struct AnnealedLangevin<M: Memory = Host<f32>> {
    sigmas: Vec<f64>,
    steps_per_level: usize,
    epsilon: f64,
    denoise: bool,
    x: M::Buffer,
    level: usize,
    step: usize,
    noise: NoiseSource,
    mem: M,
    on_nonfinite: OnNonFinite,
}

impl<M: Memory> fmt::Debug for AnnealedLangevin<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnnealedLangevin")
            .field("sigmas", &self.sigmas)
            .field("steps_per_level", &self.steps_per_level)
            .field("epsilon", &self.epsilon)
            .field("denoise", &self.denoise)
            .field("at", &(self.level, self.step))
            .field("noise", &self.noise)
            .finish_non_exhaustive()
    }
}

/// Where an [`AnnealedLangevin`] wants the score next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnnealedEval {
    /// The noise level σ the score is conditioned on.
    pub sigma: f64,
    /// The level index (0 = the noisiest; `levels` = the final denoising step).
    pub level: usize,
    /// The update within the level.
    pub step: usize,
}

impl AnnealedLangevin<Host<f32>> {
    /// An annealed Langevin run with `config`'s settings on host memory it owns (f32, on the
    /// process-wide backend as selected now); the state starts from N(0, σ₁²).
    pub fn new(config: AnnealedConfig) -> Result<Self, Error> {
        let sigmas = annealed_levels(&config)?;
        let x = try_vec("len", config.len, 0.0f32)?;
        let mem = Host::with_backend(crate::runtime::backend()?)?;
        AnnealedLangevin::start(config, sigmas, mem, x)
    }

    /// The state.
    pub fn state(&self) -> &[f32] {
        &self.x
    }

    /// The state, writable (e.g. for NCSN's uniform initialisation before the first step).
    pub fn state_mut(&mut self) -> &mut [f32] {
        &mut self.x
    }
}

/// The noise levels of `config` after every check of its settings, before anything is
/// allocated.
fn annealed_levels(config: &AnnealedConfig) -> Result<Vec<f64>, Error> {
    let AnnealedConfig {
        ref levels,
        steps_per_level,
        epsilon,
        len: n,
        ref noise,
        ..
    } = *config;
    let sigmas = match *levels {
        NoiseLevels::Geometric {
            sigma_max,
            sigma_min,
            levels,
        } => {
            if !(sigma_min > 0.0 && sigma_max > sigma_min && sigma_max.is_finite()) {
                return Err(Error::config(
                    "sigma_max, sigma_min",
                    "0 < σ_min < σ_max, finite",
                    format!("{sigma_max}, {sigma_min}"),
                ));
            }
            if levels < 2 {
                return Err(Error::config("levels", "at least 2", levels));
            }
            let ratio = (sigma_min / sigma_max).ln() / (levels - 1) as f64;
            let mut sigmas = try_vec("levels", levels, 0.0f64)?;
            for (i, s) in sigmas.iter_mut().enumerate() {
                *s = sigma_max * (ratio * i as f64).exp();
            }
            sigmas
        }
        NoiseLevels::Given(ref sigmas) => sigmas.clone(),
    };
    if sigmas.is_empty()
        || sigmas.iter().any(|s| !(s.is_finite() && *s > 0.0))
        || sigmas.windows(2).any(|w| w[1] >= w[0])
    {
        return Err(Error::config(
            "sigmas",
            "positive, finite, strictly decreasing noise levels",
            format!("{} levels", sigmas.len()),
        ));
    }
    if steps_per_level == 0 {
        return Err(Error::config("steps_per_level", "at least 1", 0));
    }
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(Error::config("epsilon", "a finite value > 0", epsilon));
    }
    check_step_count("steps_per_level", sigmas.len().checked_mul(steps_per_level))?;
    if !(sigmas[0] as f32).is_finite() {
        return Err(Error::config(
            "sigmas",
            "levels representable in f32",
            sigmas[0],
        ));
    }
    noise.check(n)?;
    Ok(sigmas)
}

impl<M: Memory> AnnealedLangevin<M> {
    /// An annealed Langevin run with `config`'s settings on memory `mem`, its state in `x`
    /// (`config.len` elements), which it sets to N(0, σ₁²) in one pass.
    pub fn on(config: AnnealedConfig, mem: M, x: M::Buffer) -> Result<Self, Error> {
        let sigmas = annealed_levels(&config)?;
        AnnealedLangevin::start(config, sigmas, mem, x)
    }

    /// The run from checked levels: the initial noise, then the driver.
    fn start(
        config: AnnealedConfig,
        sigmas: Vec<f64>,
        mem: M,
        mut x: M::Buffer,
    ) -> Result<Self, Error> {
        let AnnealedConfig {
            steps_per_level,
            epsilon,
            denoise,
            len: n,
            noise,
            ..
        } = config;
        ito_kernels::check_len("x", None, n, M::len(M::view(&x)))?;
        fill_prior(&mem, &mut x, sigmas[0] as f32, &noise)?;
        Ok(AnnealedLangevin {
            sigmas,
            steps_per_level,
            epsilon,
            denoise,
            x,
            level: 0,
            step: 0,
            noise,
            mem,
            on_nonfinite: OnNonFinite::Error,
        })
    }

    /// What an update that stores a value that is not finite does (see [`OnNonFinite`]); by
    /// default [`Error::NonFinite`] naming the update (level·steps_per_level + step).
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// The noise levels.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// The state, as a view of the driver's memory.
    pub fn state_view(&self) -> M::Ref<'_> {
        M::view(&self.x)
    }

    /// Where the score is wanted next (None when done); evaluate it at [`Self::state`].
    pub fn next_eval(&self) -> Option<AnnealedEval> {
        let levels = self.sigmas.len();
        if self.level < levels {
            return Some(AnnealedEval {
                sigma: self.sigmas[self.level],
                level: self.level,
                step: self.step,
            });
        }
        (self.denoise && self.level == levels).then(|| AnnealedEval {
            sigma: self.sigmas[levels - 1],
            level: levels,
            step: 0,
        })
    }

    /// The step size a_i of level `level` (ε·σ_i²/σ_L²).
    pub fn step_size(&self, level: usize) -> f64 {
        let last = self.sigmas[self.sigmas.len() - 1];
        self.epsilon * (self.sigmas[level.min(self.sigmas.len() - 1)] / last).powi(2)
    }

    /// Submits the score at [`Self::next_eval`]'s point and applies the update.
    pub fn advance(&mut self, score: M::Ref<'_>) -> Result<(), Error> {
        let Some(at) = self.next_eval() else {
            return Err(Error::config("advance", "a step before the end", "done"));
        };
        if M::len(score) != M::len(M::view(&self.x)) {
            return Err(Error::config(
                "score",
                "as long as the state",
                M::len(score),
            ));
        }
        let levels = self.sigmas.len();
        if at.level == levels {
            // NCSNv2's denoising: x + σ_L²·score, one pass, no noise.
            let mut c = LincombCoefs {
                y: 1.0,
                ..Default::default()
            };
            c.inputs[0] = (at.sigma * at.sigma) as f32;
            let written = self
                .mem
                .lincomb(M::view_mut(&mut self.x), None, &[score], &c, None)?;
            let r = self.mem.check_written(written, None, "x", M::view(&self.x));
            // Written either way: the run moves on, then reports.
            self.level += 1;
            return self
                .on_nonfinite
                .filter(r, (levels * self.steps_per_level) as u64);
        }
        // Checked to fit a u32 at construction.
        let step = (at.level * self.steps_per_level + at.step) as u32;
        let step_size = self.step_size(at.level);
        let r = annealed_pass(
            &self.mem,
            M::view_mut(&mut self.x),
            score,
            step_size,
            self.noise.address(NoiseUse::Corrector, step),
        );
        let r = self.on_nonfinite.filter(r, step.into());
        if r.as_ref().is_err_and(|e| !e.is_nonfinite()) {
            return r; // nothing was written
        }
        self.step += 1;
        if self.step == self.steps_per_level {
            self.step = 0;
            self.level += 1;
        }
        r
    }
}

/// The Langevin–Gibbs sweep of denoising MCMC (Kim & Ye, "Denoising MCMC for accelerating
/// diffusion-based generative models", 2022): Langevin dynamics in the joint space of data x
/// and noise level t, alternating a Langevin step in x at each sample's own t,
/// x ← x + (η_x/2)·∇ₓ log p(x | t) + √η_x·z (one fused pass over the batch), with a Langevin step
/// in t at the new x, t ← t + (η_t/2)·∂_t log p(x, t) + √η_t·ξ, reflected into [t_min, t_max].
/// The caller evaluates both scores (∂_t log p per sample from its noise-level model); the
/// chain's (x, t) then seed a diffusion solver from each sample's t down to 0.
///
/// Noise: the x-step of sweep k draws the source's normals under [`NoiseUse::Corrector`] at
/// step k, the t-step under [`NoiseUse::Level`] at step k, one per sample (element
/// offset/sample_len + b).
///
/// On other memory (a CUDA device), the same chain is [`LangevinGibbs::on`] with the data part
/// in a buffer of that memory (`GibbsConfig<M::Buffer>`): the x-step is one fused pass there,
/// the t-step stays on the host (one value per sample).
pub struct LangevinGibbs<M: Memory = Host<f32>> {
    x: M::Buffer,
    mem: M,
    t: Vec<f64>,
    sample_len: usize,
    step_x: f64,
    step_t: f64,
    t_range: (f64, f64),
    sweep: u32,
    noise: NoiseSource,
    on_nonfinite: OnNonFinite,
}

impl<M: Memory> fmt::Debug for LangevinGibbs<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LangevinGibbs")
            .field("t", &self.t)
            .field("sample_len", &self.sample_len)
            .field("step_x", &self.step_x)
            .field("step_t", &self.step_t)
            .field("t_range", &self.t_range)
            .field("sweep", &self.sweep)
            .field("noise", &self.noise)
            .finish_non_exhaustive()
    }
}

/// The settings and starting point of a [`LangevinGibbs`] chain, by name. `B` is the data
/// part's storage: a host `Vec<f32>`, or a buffer of another memory ([`LangevinGibbs::on`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GibbsConfig<B = Vec<f32>> {
    /// The data part of the starting point.
    pub x: B,
    /// Elements per sample (divides `x.len()`).
    pub sample_len: usize,
    /// Each sample's starting noise level, inside `t_range`.
    pub t: Vec<f64>,
    /// [t_min, t_max]; steps leaving it are reflected back in.
    pub t_range: (f64, f64),
    /// η_x, the step size in x.
    pub step_x: f64,
    /// η_t, the step size in t.
    pub step_t: f64,
    /// Where the noise comes from (see [`LangevinGibbs`]); its offset must be a multiple of
    /// `sample_len`.
    pub noise: NoiseSource,
}

impl LangevinGibbs<Host<f32>> {
    /// A chain from `config`'s starting point with its step sizes, on host memory (f32, on the
    /// process-wide backend as selected now).
    pub fn new(config: GibbsConfig) -> Result<Self, Error> {
        let mem = Host::with_backend(crate::runtime::backend()?)?;
        LangevinGibbs::on(config, mem)
    }

    /// The data part of the chain.
    pub fn state(&self) -> &[f32] {
        &self.x
    }
}

impl<M: Memory> LangevinGibbs<M> {
    /// A chain from `config`'s starting point (its data part a buffer of `mem`) with its step
    /// sizes.
    pub fn on(config: GibbsConfig<M::Buffer>, mem: M) -> Result<Self, Error> {
        let GibbsConfig {
            x,
            sample_len,
            t,
            t_range,
            step_x,
            step_t,
            noise,
        } = config;
        let n = M::len(M::view(&x));
        if sample_len == 0 || n % sample_len != 0 || noise.offset % sample_len as u64 != 0 {
            return Err(Error::config(
                "sample_len",
                "a positive divisor of x's length and of the noise offset",
                sample_len,
            ));
        }
        noise.check(n)?;
        if t.len() != n / sample_len {
            return Err(Error::config("t", "one noise level per sample", t.len()));
        }
        let (lo, hi) = t_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::config(
                "t_range",
                "finite t_min < t_max",
                format!("{lo}, {hi}"),
            ));
        }
        if let Some(bad) = t.iter().find(|v| !(**v >= lo && **v <= hi)) {
            return Err(Error::config("t", "levels inside t_range", bad));
        }
        for (name, v) in [("step_x", step_x), ("step_t", step_t)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(name, "a finite value ≥ 0", v));
            }
        }
        Ok(LangevinGibbs {
            x,
            mem,
            t,
            sample_len,
            step_x,
            step_t,
            t_range,
            sweep: 0,
            noise,
            on_nonfinite: OnNonFinite::Error,
        })
    }

    /// What an x-step that stores a value that is not finite does (see [`OnNonFinite`]); by
    /// default [`Error::NonFinite`] naming the sweep.
    pub fn with_nonfinite(mut self, policy: OnNonFinite) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// The data part of the chain, as a view of its memory.
    pub fn state_view(&self) -> M::Ref<'_> {
        M::view(&self.x)
    }

    /// Each sample's noise level.
    pub fn levels(&self) -> &[f64] {
        &self.t
    }

    /// Sweeps done.
    pub fn sweeps(&self) -> u32 {
        self.sweep
    }

    /// The x half of a sweep: `score_x` = ∇ₓ log p(x | t) at the state and
    /// [`Self::levels`]. One fused pass over the batch.
    pub fn step_x(&mut self, score_x: M::Ref<'_>) -> Result<(), Error> {
        if M::len(score_x) != M::len(M::view(&self.x)) {
            return Err(Error::config(
                "score_x",
                "as long as the state",
                M::len(score_x),
            ));
        }
        let r = annealed_pass(
            &self.mem,
            M::view_mut(&mut self.x),
            score_x,
            self.step_x,
            self.noise.address(NoiseUse::Corrector, self.sweep),
        );
        self.on_nonfinite.filter(r, self.sweep.into())
    }

    /// The t half of a sweep, closing it: `score_t[b]` = ∂_t log p(x_b, t_b) at the state
    /// after [`Self::step_x`]. Steps leaving [t_min, t_max] are reflected back in.
    pub fn step_t(&mut self, score_t: &[f64]) -> Result<(), Error> {
        if score_t.len() != self.t.len() {
            return Err(Error::config(
                "score_t",
                "one value per sample",
                score_t.len(),
            ));
        }
        if let Some(bad) = score_t.iter().find(|v| !v.is_finite()) {
            return Err(Error::config("score_t", "finite values", bad));
        }
        if self.sweep == u32::MAX {
            return Err(Error::config(
                "step_t",
                "at most 2^32 − 1 sweeps (each is a step word of the noise key)",
                self.sweep,
            ));
        }
        let per_sample = self
            .noise
            .with_offset(self.noise.offset / self.sample_len as u64)
            .address(NoiseUse::Level, self.sweep);
        let (key, first) = (per_sample.key, per_sample.offset);
        let (lo, hi) = self.t_range;
        let width = hi - lo;
        for (b, (t, &s)) in self.t.iter_mut().zip(score_t).enumerate() {
            let xi = f64::from(key.normal(first + b as u64));
            let moved = *t + 0.5 * self.step_t * s + self.step_t.sqrt() * xi;
            // Reflect into [lo, hi] (a step of any size folds back).
            let u = (moved - lo).rem_euclid(2.0 * width);
            *t = lo + if u > width { 2.0 * width - u } else { u };
        }
        self.sweep += 1;
        Ok(())
    }

    /// Samples of `sample_len` elements.
    pub fn sample_len(&self) -> usize {
        self.sample_len
    }
}
