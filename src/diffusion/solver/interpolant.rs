//! Stochastic interpolants (Albergo, Boffi & Vanden-Eijnden 2023), x_t = α(t)·x₀ + σ(t)·ε,
//! integrated in t with the velocity b = α̇·x̃₀ + σ̇·ε̂: the probability-flow ODE by Heun (second
//! order; Euler into a noise-free node), and the SDE with diffusion ε(t) by Euler–Maruyama
//! backwards in t, whose score is −ε̂/σ.

use super::walk::Walk;
use super::{Call, DiffusionFn, Eval, Expr, Slot};
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// The interpolant's velocity b = α̇·x̃₀ + σ̇·ε̂ at `at` (node n).
fn drift(w: &Walk, at: Slot, n: &Node) -> Expr {
    let (x0, eps) = w.predictions(at, n);
    n.d_alpha * x0 + n.d_sigma * eps
}

/// The probability-flow ODE dx/dt = b, Heun in t.
#[derive(Clone, Copy, Debug)]
pub(super) struct InterpolantOde;

impl InterpolantOde {
    /// The update for the model output at `ev` (stage 0 or 1).
    pub fn call(&self, w: &mut Walk, ev: &Eval) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let dt = t.t - s.t;
        if w.stage == 0 {
            let b = drift(w, Slot::State, &ev.node);
            let value = Expr::of(Slot::State) + dt * b;
            if t.sigma == 0.0 {
                return Ok(w.finish_step(Call {
                    out: Slot::State,
                    value,
                    store: None,
                    noise: 0.0,
                    noise_step: 0,
                }));
            }
            let slot = w.free_slot(&value, None)?;
            w.hist.clear();
            w.push_history(slot, s, 1);
            w.stage = 1;
            return Ok(Call {
                out: Slot::Stage,
                value,
                store: Some((slot, b)),
                noise: 0.0,
                noise_step: 0,
            });
        }
        let b_s = Expr::of(w.hist[0].slot);
        let b_t = drift(w, Slot::Stage, &t);
        let value = Expr::of(Slot::State) + (0.5 * dt) * (b_s + b_t);
        Ok(w.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }
}

/// The SDE: x ← x + Δt·b + Δt·ε(t)·ε̂/σ + √(2ε(t)|Δt|)·z (Δt < 0).
#[derive(Clone)]
pub(super) struct InterpolantSde {
    /// ε(t), the diffusion coefficient.
    pub diffusion: DiffusionFn,
}

impl std::fmt::Debug for InterpolantSde {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InterpolantSde")
    }
}

impl InterpolantSde {
    /// The update for the model output at the current step.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let dt = t.t - s.t;
        let e = (self.diffusion)(s.t);
        if !(e.is_finite() && e >= 0.0) {
            return Err(Error::config("diffusion", "ε(t) finite and ≥ 0", e));
        }
        let (x0, eps) = w.predictions(Slot::State, &s);
        let b = s.d_alpha * x0 + s.d_sigma * eps;
        let value = Expr::of(Slot::State) + dt * b + (dt * e / s.sigma) * eps;
        Ok(w.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: (2.0 * e * dt.abs()).sqrt(),
            noise_step: k as u32,
        }))
    }
}
