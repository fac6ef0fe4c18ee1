//! DPM-Solver (Lu et al. 2022, noise prediction), DPM-Solver++ (Lu et al. 2022b, data
//! prediction) and SDE-DPM-Solver++, multistep, orders 1–3, in exponential-integrator form with
//! the papers' symbols: h = λ_t − λ_s, φ₁ = 1 − e^{−h}, the finite differences D₁, D₂ of the
//! earlier predictions, and diffusers' weights for them (see [`SolverType`]). One call per
//! model evaluation updates the state and stores this step's D₀ (ε̂ or x̃₀) for the next.

use super::walk::{e_minus_h, Points, Walk};
use super::{Call, Expr, Slot, SolverType};
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// Which quantity a DPM-Solver integrates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DpmKind {
    /// ε̂ (DPM-Solver).
    Noise,
    /// x̃₀ (DPM-Solver++).
    Data,
    /// x̃₀ with the SDE's noise (SDE-DPM-Solver++).
    SdeData,
}

/// A multistep DPM-Solver of one kind.
#[derive(Clone, Copy, Debug)]
pub(super) struct DpmMultistep {
    /// The highest order (1–3; lower during the warm-up and at the end, see
    /// [`Walk::multistep_order`]).
    pub order: usize,
    /// How D₁ and D₂ are weighted.
    pub solver_type: SolverType,
    /// ε̂, x̃₀, or x̃₀ with noise.
    pub kind: DpmKind,
}

impl DpmMultistep {
    /// The update for the model output at the current step.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let (x0, eps) = w.predictions(Slot::State, &s);
        let d0 = if self.kind == DpmKind::Noise { eps } else { x0 };
        let order = w.multistep_order(self.order);
        let mut prev = Points::new(s);
        for e in w.hist.iter().take(order - 1) {
            prev.push(Expr::of(e.slot), e.node);
        }
        let x = w.shifted(Slot::State);
        let em = e_minus_h(&s, &t);
        let h = t.lambda() - s.lambda();
        let (value, noise) = dpm_update(
            self.kind,
            self.solver_type,
            x,
            &s,
            &t,
            d0,
            prev.as_slice(),
            em,
            h,
        );
        let value = w.unshift(value);
        let slot = w.free_slot(&value, None)?;
        w.push_history(slot, s, 3);
        w.lower_order_nums += 1;
        let call = Call {
            out: Slot::State,
            value,
            store: Some((slot, d0)),
            noise,
            noise_step: k as u32,
        };
        Ok(w.finish_step(call))
    }
}

/// The multistep DPM-Solver(++) update (diffusers' formulas; see the module docs of
/// [`super`](crate::diffusion::solver)). `prev` holds earlier D's, newest first; returns the value and noise scale.
#[allow(clippy::too_many_arguments)]
fn dpm_update(
    kind: DpmKind,
    solver_type: SolverType,
    x: Expr,
    s: &Node,
    t: &Node,
    d0: Expr,
    prev: &[(Expr, Node)],
    em: f64,
    h: f64,
) -> (Expr, f64) {
    let order = prev.len() + 1;
    // Finite differences D₁, D₂ (diffusers' multistep forms).
    let (d1, d2) = match order {
        1 => (Expr::ZERO, Expr::ZERO),
        2 => {
            let r0 = (s.lambda() - prev[0].1.lambda()) / h;
            ((1.0 / r0) * (d0 - prev[0].0), Expr::ZERO)
        }
        _ => {
            let r0 = (s.lambda() - prev[0].1.lambda()) / h;
            let r1 = (prev[0].1.lambda() - prev[1].1.lambda()) / h;
            let d1_0 = (1.0 / r0) * (d0 - prev[0].0);
            let d1_1 = (1.0 / r1) * (prev[0].0 - prev[1].0);
            (
                d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1),
                (1.0 / (r0 + r1)) * (d1_0 - d1_1),
            )
        }
    };
    let heun = solver_type != SolverType::Midpoint || order == 3;
    // The weight of D₂: ½ of the Taylor term as in diffusers, or all of it.
    let d2_scale = if solver_type == SolverType::Taylor {
        2.0
    } else {
        1.0
    };
    match kind {
        DpmKind::Data => {
            let phi1 = t.alpha * (1.0 - em);
            let mut v = (t.sigma / s.sigma) * x + phi1 * d0;
            if order >= 2 {
                v = v + if heun {
                    (t.alpha * ((-h).exp_m1() / h + 1.0)) * d1
                } else {
                    (0.5 * phi1) * d1
                };
            }
            if order == 3 {
                v = v - (d2_scale * t.alpha * (((-h).exp_m1() + h) / (h * h) - 0.5)) * d2;
            }
            (v, 0.0)
        }
        DpmKind::Noise => {
            // σ_t(e^h − 1) = α_t·σ_s/α_s − σ_t, finite for a noise-free target.
            let psi1 = t.alpha * s.sigma / s.alpha - t.sigma;
            let mut v = (t.alpha / s.alpha) * x - psi1 * d0;
            if order >= 2 {
                v = v - if heun {
                    (t.sigma * (h.exp_m1() / h - 1.0)) * d1
                } else {
                    (0.5 * psi1) * d1
                };
            }
            if order == 3 {
                v = v - (d2_scale * t.sigma * ((h.exp_m1() - h) / (h * h) - 0.5)) * d2;
            }
            (v, 0.0)
        }
        DpmKind::SdeData => {
            let one_m = 1.0 - em * em;
            let phi = t.alpha * one_m;
            let mut v = (t.sigma / s.sigma * em) * x + phi * d0;
            if order >= 2 {
                v = v + if heun {
                    (t.alpha * (one_m / (-2.0 * h) + 1.0)) * d1
                } else {
                    (0.5 * phi) * d1
                };
            }
            if order == 3 {
                // 2∫₀ʰ e^{−2(h−u)}·(u/h)²/2 du, the exact weight of D₂ (D₂ ≈ h²x₀''/2).
                v = v
                    - (d2_scale
                        * t.alpha
                        * (((-2.0 * h).exp_m1() + 2.0 * h) / (4.0 * h * h) - 0.5))
                        * d2;
            }
            (v, t.sigma * one_m.max(0.0).sqrt())
        }
    }
}
