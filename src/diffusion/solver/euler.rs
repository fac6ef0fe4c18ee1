//! EDM's samplers (Karras et al. 2022) in their variables x̄ = x/α, σ̄ = σ/α, where the
//! probability-flow ODE is dx̄/dσ̄ = ε̂: Euler (first order), Euler-ancestral (a deterministic
//! step to σ_down, fresh noise σ_up) and Heun (second order: an Euler stage to the next node,
//! then the trapezoidal correction). Euler and Heun take EDM's churn, which the walk applies
//! before each step ([`Walk::churn_noise`]).

use super::walk::{Entry, Walk};
use super::{Call, Eval, Expr, Slot};
use crate::runtime::Error;

/// Euler: x̄_t = x̄_s + (σ̄_t − σ̄_s)·ε̂ (σ̄_s raised by churn when there is some).
#[derive(Clone, Copy, Debug)]
pub(super) struct Euler;

impl Euler {
    /// The update for the model output at `ev`.
    pub fn call(&self, w: &mut Walk, ev: &Eval) -> Result<Call, Error> {
        let k = w.step;
        let t = w.node(k + 1);
        let (_, eps) = w.predictions(Slot::State, &ev.node);
        let x = w.shifted(Slot::State);
        let s_bar = ev.node.sigma / ev.node.alpha;
        let value = (t.alpha / ev.node.alpha) * x + (t.alpha * (t.sigma_ve() - s_bar)) * eps;
        Ok(w.finish_step(Call {
            out: Slot::State,
            value: w.unshift(value),
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }
}

/// Euler ancestral: σ_up = η·√(σ̄_t²(σ̄_s² − σ̄_t²)/σ̄_s²), σ_down = √(σ̄_t² − σ_up²).
#[derive(Clone, Copy, Debug)]
pub(super) struct EulerAncestral {
    /// η ∈ [0, 1] (1: DDPM's ancestral noise).
    pub eta: f64,
}

impl EulerAncestral {
    /// The update for the model output at the current step.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let (_, eps) = w.predictions(Slot::State, &s);
        let x = w.shifted(Slot::State);
        let (sf, st) = (s.sigma_ve(), t.sigma_ve());
        let up = (self.eta * (st * st * (sf * sf - st * st) / (sf * sf)).max(0.0).sqrt()).min(st);
        let down = (st * st - up * up).max(0.0).sqrt();
        let value = (t.alpha / s.alpha) * x + (t.alpha * (down - sf)) * eps;
        Ok(w.finish_step(Call {
            out: Slot::State,
            value: w.unshift(value),
            store: None,
            noise: t.alpha * up,
            noise_step: k as u32,
        }))
    }
}

/// Heun (EDM Algorithm 1/2): stage 0 is Euler to node k+1 (kept in the stage buffer, ε̂ in the
/// history); stage 1 averages the two slopes. The last step into a noise-free node is Euler.
#[derive(Clone, Copy, Debug)]
pub(super) struct Heun;

impl Heun {
    /// The update for the model output at `ev` (stage 0 or 1).
    pub fn call(&self, w: &mut Walk, ev: &Eval) -> Result<Call, Error> {
        let k = w.step;
        let t = w.node(k + 1);
        if w.stage == 0 {
            let (_, eps) = w.predictions(Slot::State, &ev.node);
            if t.sigma == 0.0 {
                return Euler.call(w, ev);
            }
            let x = w.shifted(Slot::State);
            let s_bar = ev.node.sigma / ev.node.alpha;
            let value = (t.alpha / ev.node.alpha) * x + (t.alpha * (t.sigma_ve() - s_bar)) * eps;
            let slot = w.free_slot(&value, None)?;
            w.hist.clear();
            w.push_history(slot, ev.node, 1);
            w.stage = 1;
            return Ok(Call {
                out: Slot::Stage,
                value: w.unshift(value),
                store: Some((slot, eps)),
                noise: 0.0,
                noise_step: 0,
            });
        }
        let Entry { slot, node: s } = w.hist[0];
        let (_, eps_t) = w.predictions(Slot::Stage, &t);
        let x = w.shifted(Slot::State);
        let s_bar = s.sigma / s.alpha;
        let value = (t.alpha / s.alpha) * x
            + (0.5 * t.alpha * (t.sigma_ve() - s_bar)) * (Expr::of(slot) + eps_t);
        Ok(w.finish_step(Call {
            out: Slot::State,
            value: w.unshift(value),
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }
}
