//! DEIS (Zhang & Chen 2023), the tAB variant: x_t = α_t·(x̃_s/α_s + Σⱼ cⱼ·ε̂ⱼ), the cⱼ the exact
//! integrals over ρ = σ/α of the Lagrange basis in ln ρ through the last `order` nodes.

use super::walk::{Points, Walk};
use super::{Call, Expr, Slot};
use crate::runtime::Error;

/// DEIS of order 1–3 (multistep: the earlier ε̂ come from the history).
#[derive(Clone, Copy, Debug)]
pub(super) struct Deis {
    /// The highest order (lower during the warm-up and at the end).
    pub order: usize,
}

impl Deis {
    /// The update for the model output at the current step.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let (_, eps) = w.predictions(Slot::State, &s);
        let order = w.multistep_order(self.order);
        let mut pts = Points::new(s);
        pts.push(eps, s);
        for e in w.hist.iter().take(order - 1) {
            pts.push(Expr::of(e.slot), e.node);
        }
        let pts = pts.as_slice();
        let x = w.shifted(Slot::State);
        let mut value = (t.alpha / s.alpha) * x;
        if order == 1 {
            // ∫ dρ of a constant: ρ_t − ρ_s.
            value = value + (t.alpha * (t.sigma_ve() - s.sigma_ve())) * eps;
        } else {
            let mut rho = [0.0f64; 3];
            for (r, (_, n)) in rho.iter_mut().zip(pts) {
                *r = n.sigma_ve();
            }
            let rho = &rho[..pts.len()];
            let (rs, rt) = (rho[0], t.sigma_ve());
            for (j, (e, _)) in pts.iter().enumerate() {
                let c = deis_integral(rho, j, rt) - deis_integral(rho, j, rs);
                value = value + (t.alpha * c) * *e;
            }
        }
        let value = w.unshift(value);
        let slot = w.free_slot(&value, None)?;
        w.push_history(slot, s, 3);
        w.lower_order_nums += 1;
        Ok(w.finish_step(Call {
            out: Slot::State,
            value,
            store: Some((slot, eps)),
            noise: 0.0,
            noise_step: k as u32,
        }))
    }
}

/// ∫^r ℓⱼ(ln ρ) dρ at ρ = r (an antiderivative), ℓⱼ the Lagrange basis polynomial through
/// the points ln ρᵢ. Written out for 2 and 3 points (DEIS orders 2 and 3).
fn deis_integral(rho: &[f64], j: usize, r: f64) -> f64 {
    let mut u = [0.0f64; 3];
    for (a, v) in u.iter_mut().zip(rho) {
        *a = v.ln();
    }
    let u = &u[..rho.len().min(3)];
    let l = r.ln();
    // Antiderivatives in ρ of 1, ln ρ and ln² ρ.
    let i0 = r;
    let i1 = r * (l - 1.0);
    let i2 = r * (l * l - 2.0 * l + 2.0);
    match u.len() {
        2 => {
            let o = 1 - j;
            // ℓⱼ(v) = (v − u_o)/(u_j − u_o).
            (i1 - u[o] * i0) / (u[j] - u[o])
        }
        _ => {
            let (a, b) = match j {
                0 => (1, 2),
                1 => (0, 2),
                _ => (0, 1),
            };
            // ℓⱼ(v) = (v − u_a)(v − u_b)/((u_j − u_a)(u_j − u_b)).
            (i2 - (u[a] + u[b]) * i1 + u[a] * u[b] * i0) / ((u[j] - u[a]) * (u[j] - u[b]))
        }
    }
}
