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
use ito_kernels::noise::NoiseKey;
use ito_kernels::storage::{TensorMut, TensorRef};

use crate::diffusion::schedule::{self, Schedule};
use crate::runtime::{Backend, Error};

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
pub fn annealed_langevin_step(
    x: TensorMut<'_>,
    score: TensorRef<'_>,
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
    crate::runtime::backend()?.lincomb(x, None, &[score], &c, Some(noise))
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

/// score-SDE's predictor–corrector sampler for the VP SDE (β linear) or the VE SDE, on f32
/// state, driven like [`Sampler`](crate::diffusion::sampler::Sampler): ask [`PcSampler::next_eval`] where to evaluate the
/// score, hand it to [`PcSampler::advance`]. Time runs over N points from T = 1 down to
/// `t_end`; at each, `corrector_steps` Langevin steps, then the predictor (whose last step
/// adds no noise: the output is score-SDE's denoised x_mean).
#[derive(Debug)]
pub struct PcSampler {
    schedule: Schedule,
    times: Vec<f64>,
    predictor: Predictor,
    corrector: Option<Corrector>,
    corrector_steps: usize,
    sample_len: usize,
    x: Vec<f32>,
    i: usize,
    j: usize,
    seed: u64,
    backend: Backend,
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

impl PcSampler {
    /// A PC sampler for `n` elements in samples of `sample_len`, over `steps` time points.
    /// `schedule` must be [`Schedule::VpLinear`] or [`Schedule::Ve`]. The corrector's α is
    /// replaced per step by score-SDE's (1 − β_i for VP, 1 for VE).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        schedule: Schedule,
        steps: usize,
        t_end: f64,
        predictor: Predictor,
        corrector: Option<Corrector>,
        corrector_steps: usize,
        n: usize,
        sample_len: usize,
        seed: u64,
    ) -> Result<Self, Error> {
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
        if let Schedule::VpLinear { beta_max, .. } = schedule {
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
                "a divisor of the element count",
                sample_len,
            ));
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
        let times = schedule::linspace(1.0, t_end, steps);
        let backend = crate::runtime::backend()?;
        // The prior: N(0, 1) for VP, N(0, σ_max²) for VE.
        let prior = match schedule {
            Schedule::Ve { sigma_max, .. } => sigma_max,
            _ => 1.0,
        };
        let mut x = vec![0.0f32; n];
        let key = NoiseKey {
            seed,
            stream: 1,
            step: 0,
        };
        backend.fill_normal(
            x.as_mut_slice().into(),
            0.0,
            prior as f32,
            Noise { key, offset: 0 },
        )?;
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
            seed,
            backend,
        })
    }

    /// The state.
    pub fn state(&self) -> &[f32] {
        &self.x
    }

    /// Where the score is wanted next (None when done); evaluate it at [`PcSampler::state`].
    pub fn next_eval(&self) -> Option<PcEval> {
        (self.i < self.times.len()).then(|| PcEval {
            t: self.times[self.i],
            index: self.i,
            stage: self.j,
        })
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
    pub fn advance(&mut self, score: TensorRef<'_>) -> Result<(), Error> {
        if self.i >= self.times.len() {
            return Err(Error::config("advance", "a step before the end", self.i));
        }
        if score.len() != self.x.len() {
            return Err(Error::config("score", "as long as the state", score.len()));
        }
        let (beta, dsig2) = self.discrete();
        let vp = matches!(self.schedule, Schedule::VpLinear { .. });
        // Noise keys: corrector step j of point i in stream 10 + j, the predictor in stream 2.
        if self.j < self.corrector_steps {
            let mut c = self
                .corrector
                .ok_or(Error::config("corrector", "a corrector", "none"))?;
            c.alpha = if vp { 1.0 - beta } else { 1.0 };
            let key = NoiseKey {
                seed: self.seed,
                stream: 10 + self.j as u32,
                step: self.i as u32,
            };
            langevin_step(
                self.backend,
                self.x.as_mut_slice().into(),
                score,
                self.sample_len,
                &c,
                Noise { key, offset: 0 },
            )?;
            self.j += 1;
            if self.j == self.corrector_steps && self.predictor == Predictor::None {
                self.i += 1;
                self.j = 0;
            }
            return Ok(());
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
            let key = NoiseKey {
                seed: self.seed,
                stream: 2,
                step: self.i as u32,
            };
            let noise = (c.noise != 0.0).then_some(Noise { key, offset: 0 });
            self.backend
                .lincomb(self.x.as_mut_slice().into(), None, &[score], &c, noise)?;
        }
        self.i += 1;
        self.j = 0;
        Ok(())
    }
}

/// NCSN's annealed Langevin dynamics (Song & Ermon 2019), driven like [`PcSampler`]: noise
/// levels σ₁ > … > σ_L, `steps_per_level` updates x ← x + (a_i/2)·score + √a_i·z at each with
/// a_i = ε·σ_i²/σ_L², each one fused pass ([`annealed_langevin_step`]); optionally NCSNv2's
/// final denoising step x ← x + σ_L²·score (no noise). The state starts from
/// N(0, σ₁²)… as NCSNv2 does (NCSN's uniform start is the caller's to write into `state_mut`).
#[derive(Debug)]
pub struct AnnealedLangevin {
    sigmas: Vec<f64>,
    steps_per_level: usize,
    epsilon: f64,
    denoise: bool,
    x: Vec<f32>,
    level: usize,
    step: usize,
    seed: u64,
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

impl AnnealedLangevin {
    /// `levels` geometric noise levels from `sigma_max` down to `sigma_min` (NCSN's choice),
    /// over `n` elements.
    #[allow(clippy::too_many_arguments)]
    pub fn geometric(
        sigma_max: f64,
        sigma_min: f64,
        levels: usize,
        steps_per_level: usize,
        epsilon: f64,
        denoise: bool,
        n: usize,
        seed: u64,
    ) -> Result<Self, Error> {
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
        let sigmas = (0..levels)
            .map(|i| sigma_max * (ratio * i as f64).exp())
            .collect();
        Self::with_levels(sigmas, steps_per_level, epsilon, denoise, n, seed)
    }

    /// Given noise levels (strictly decreasing, positive, finite).
    pub fn with_levels(
        sigmas: Vec<f64>,
        steps_per_level: usize,
        epsilon: f64,
        denoise: bool,
        n: usize,
        seed: u64,
    ) -> Result<Self, Error> {
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
        let mut x = vec![0.0f32; n];
        let key = NoiseKey {
            seed,
            stream: 1,
            step: 0,
        };
        crate::runtime::backend()?.fill_normal(
            x.as_mut_slice().into(),
            0.0,
            sigmas[0] as f32,
            Noise { key, offset: 0 },
        )?;
        Ok(AnnealedLangevin {
            sigmas,
            steps_per_level,
            epsilon,
            denoise,
            x,
            level: 0,
            step: 0,
            seed,
        })
    }

    /// The noise levels.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// The state.
    pub fn state(&self) -> &[f32] {
        &self.x
    }

    /// The state, writable (e.g. for NCSN's uniform initialisation before the first step).
    pub fn state_mut(&mut self) -> &mut [f32] {
        &mut self.x
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
    pub fn advance(&mut self, score: TensorRef<'_>) -> Result<(), Error> {
        let Some(at) = self.next_eval() else {
            return Err(Error::config("advance", "a step before the end", "done"));
        };
        if score.len() != self.x.len() {
            return Err(Error::config("score", "as long as the state", score.len()));
        }
        let levels = self.sigmas.len();
        if at.level == levels {
            // NCSNv2's denoising: x + σ_L²·score, one pass, no noise.
            let mut c = LincombCoefs {
                y: 1.0,
                ..Default::default()
            };
            c.inputs[0] = (at.sigma * at.sigma) as f32;
            crate::runtime::backend()?.lincomb(
                self.x.as_mut_slice().into(),
                None,
                &[score],
                &c,
                None,
            )?;
            self.level += 1;
            return Ok(());
        }
        let key = NoiseKey {
            seed: self.seed,
            stream: 2,
            step: (at.level * self.steps_per_level + at.step) as u32,
        };
        let step_size = self.step_size(at.level);
        annealed_langevin_step(
            self.x.as_mut_slice().into(),
            score,
            step_size,
            Noise { key, offset: 0 },
        )?;
        self.step += 1;
        if self.step == self.steps_per_level {
            self.step = 0;
            self.level += 1;
        }
        Ok(())
    }
}

/// The Langevin–Gibbs sweep of denoising MCMC (Kim & Ye, "Denoising MCMC for accelerating
/// diffusion-based generative models", 2022): Langevin dynamics in the joint space of data x
/// and noise level t, alternating a Langevin step in x at each sample's own t,
/// x ← x + (η_x/2)·∇ₓ log p(x | t) + √η_x·z (one fused pass per sample), with a Langevin step
/// in t at the new x, t ← t + (η_t/2)·∂_t log p(x, t) + √η_t·ξ, reflected into [t_min, t_max].
/// The caller evaluates both scores (∂_t log p per sample from its noise-level model); the
/// chain's (x, t) then seed a diffusion solver from each sample's t down to 0.
///
/// Noise: the x-step of sweep k uses N(seed, 20, k, element), the t-step N(seed, 21, k, sample).
#[derive(Debug)]
pub struct LangevinGibbs {
    x: Vec<f32>,
    t: Vec<f64>,
    sample_len: usize,
    step_x: f64,
    step_t: f64,
    t_range: (f64, f64),
    sweep: u32,
    seed: u64,
}

impl LangevinGibbs {
    /// A chain over `x` (samples of `sample_len` elements) starting at noise levels `t` (one per
    /// sample, inside `t_range`), with step sizes η_x and η_t.
    pub fn new(
        x: Vec<f32>,
        sample_len: usize,
        t: Vec<f64>,
        t_range: (f64, f64),
        step_x: f64,
        step_t: f64,
        seed: u64,
    ) -> Result<Self, Error> {
        if sample_len == 0 || x.len() % sample_len != 0 {
            return Err(Error::config(
                "sample_len",
                "a divisor of the element count",
                sample_len,
            ));
        }
        if t.len() != x.len() / sample_len {
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
            t,
            sample_len,
            step_x,
            step_t,
            t_range,
            sweep: 0,
            seed,
        })
    }

    /// The data part of the chain.
    pub fn state(&self) -> &[f32] {
        &self.x
    }

    /// Each sample's noise level.
    pub fn levels(&self) -> &[f64] {
        &self.t
    }

    /// Sweeps done.
    pub fn sweeps(&self) -> u32 {
        self.sweep
    }

    /// The x half of a sweep: `score_x` = ∇ₓ log p(x | t) at [`Self::state`] and
    /// [`Self::levels`]. One fused pass per sample.
    pub fn step_x(&mut self, score_x: TensorRef<'_>) -> Result<(), Error> {
        if score_x.len() != self.x.len() {
            return Err(Error::config(
                "score_x",
                "as long as the state",
                score_x.len(),
            ));
        }
        let key = NoiseKey {
            seed: self.seed,
            stream: 20,
            step: self.sweep,
        };
        annealed_langevin_step(
            self.x.as_mut_slice().into(),
            score_x,
            self.step_x,
            Noise { key, offset: 0 },
        )
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
        let key = NoiseKey {
            seed: self.seed,
            stream: 21,
            step: self.sweep,
        };
        let (lo, hi) = self.t_range;
        let width = hi - lo;
        for (b, (t, &s)) in self.t.iter_mut().zip(score_t).enumerate() {
            let xi = f64::from(key.normal(b as u64));
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
