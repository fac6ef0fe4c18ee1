//! DDIM (Song et al. 2021) with η, DDPM's ancestral sampler at η = 1:
//! x_t = α_t·x̃₀ + √(σ_t² − σ_η²)·ε̂ + σ_η·z, σ_η = η·σ_t·√(1 − e^{−2h}).

use super::walk::{e_minus_h, Walk};
use super::{Call, Slot};
use crate::runtime::Error;

/// DDIM(η); first order (deterministic at η = 0).
#[derive(Clone, Copy, Debug)]
pub(super) struct Ddim {
    /// η ∈ [0, 1].
    pub eta: f64,
}

impl Ddim {
    /// The update for the model output at the current step.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let (x0, eps) = w.predictions(Slot::State, &s);
        let em = e_minus_h(&s, &t);
        let sigma_eta = self.eta * t.sigma * (1.0 - em * em).max(0.0).sqrt();
        let dir = (t.sigma * t.sigma - sigma_eta * sigma_eta).max(0.0).sqrt();
        let value = w.unshift(t.alpha * x0 + dir * eps);
        Ok(w.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: sigma_eta,
            noise_step: k as u32,
        }))
    }
}
