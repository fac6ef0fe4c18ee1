//! The per-family update formulas of [`Plan`]: each returns the one [`Call`] that a model
//! evaluation leads to. Formulas follow the papers in exponential-integrator form and match
//! diffusers' schedulers (which the fixture tests check to 1e-6).

use super::{Call, Entry, Eval, Expr, Family, Plan, Slot, SolverType};
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// e^{−h} = (σ_t·α_s)/(α_t·σ_s) (exactly 0 for a noise-free target).
fn e_minus_h(s: &Node, t: &Node) -> f64 {
    (t.sigma * s.alpha) / (t.alpha * s.sigma)
}

impl Plan {
    /// Multistep DPM-Solver, DPM-Solver++ and SDE-DPM-Solver++: one call updates the state and
    /// stores this step's D₀ (ε̂ or x̃₀) for the next steps.
    pub(super) fn dpm_multistep(
        &mut self,
        order: usize,
        solver_type: SolverType,
        family: Family,
    ) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let (x0, eps) = self.predictions(Slot::State, &s);
        let d0 = if family == Family::Noise { eps } else { x0 };
        let order = self.multistep_order(order);
        let prev: Vec<(Expr, Node)> = self
            .hist
            .iter()
            .take(order - 1)
            .map(|e| (Expr::of(e.slot), e.node))
            .collect();
        let x = self.shifted(Slot::State);
        let em = e_minus_h(&s, &t);
        let h = t.lambda() - s.lambda();
        let (value, noise) = dpm_update(family, solver_type, x, &s, &t, d0, &prev, em, h);
        let value = self.unshift(value);
        let slot = self.free_slot(&value, None)?;
        self.push_history(slot, s, 3);
        self.lower_order_nums += 1;
        let call = Call {
            out: Slot::State,
            value,
            store: Some((slot, d0)),
            noise,
            noise_step: k as u32,
        };
        Ok(self.finish_step(call))
    }

    /// Singlestep DPM-Solver(++): a group of `o` grid steps from the group's start node g;
    /// stage j evaluates at node g + j; the stages before the last write the stage buffer
    /// (the order-(j+1) update to node g+j+1), the last writes the state.
    pub(super) fn dpm_singlestep(
        &mut self,
        solver_type: SolverType,
        family: Family,
    ) -> Result<Call, Error> {
        let g = self.step;
        let o = self.group_order(g);
        let j = self.stage;
        let at = if j == 0 { Slot::State } else { Slot::Stage };
        let node_j = self.node(g + j);
        let (x0, eps) = self.predictions(at, &node_j);
        let dj = if family == Family::Noise { eps } else { x0 };
        // Model outputs of this group so far, oldest first (the group start's is first).
        let mut ds: Vec<(Expr, Node)> = self
            .hist
            .iter()
            .take(j)
            .rev()
            .map(|e| (Expr::of(e.slot), e.node))
            .collect();
        ds.push((dj, node_j));
        let s = self.node(g);
        let t = self.node(g + j + 1);
        let x = self.shifted(Slot::State);
        let em = e_minus_h(&s, &t);
        let h = t.lambda() - s.lambda();
        let value = self.unshift(singlestep_update(
            family,
            solver_type,
            x,
            &s,
            &t,
            &ds,
            em,
            h,
        ));
        let out = if j + 1 == o { Slot::State } else { Slot::Stage };
        let store = if j + 1 == o {
            None
        } else {
            let slot = self.free_slot(&value, None)?;
            self.push_history(slot, node_j, 3);
            Some((slot, dj))
        };
        let call = Call {
            out,
            value,
            store,
            noise: 0.0,
            noise_step: g as u32,
        };
        if j + 1 == o {
            self.step = g + o;
            self.stage = 0;
            self.hist.clear();
        } else {
            self.stage += 1;
        }
        Ok(call)
    }

    /// The order of the singlestep group starting at grid step g.
    pub(super) fn group_order(&self, g: usize) -> usize {
        let list = &self.order_list;
        let mut o = 1;
        while g + o < list.len() && list[g + o] == o + 1 {
            o += 1;
        }
        o
    }

    /// DDIM(η): x_t = α_t·x̃₀ + √(σ_t² − σ_η²)·ε̂ + σ_η·z, σ_η = η·σ_t·√(1 − e^{−2h}).
    pub(super) fn ddim(&mut self, eta: f64) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let (x0, eps) = self.predictions(Slot::State, &s);
        let em = e_minus_h(&s, &t);
        let sigma_eta = eta * t.sigma * (1.0 - em * em).max(0.0).sqrt();
        let dir = (t.sigma * t.sigma - sigma_eta * sigma_eta).max(0.0).sqrt();
        let value = self.unshift(t.alpha * x0 + dir * eps);
        Ok(self.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: sigma_eta,
            noise_step: k as u32,
        }))
    }

    /// Euler in EDM's variables x/α, σ/α: dx̄/dσ̄ = ε̂.
    pub(super) fn euler(&mut self, ev: &Eval) -> Result<Call, Error> {
        let k = self.step;
        let t = self.node(k + 1);
        let (_, eps) = self.predictions(Slot::State, &ev.node);
        let x = self.shifted(Slot::State);
        let s_bar = ev.node.sigma / ev.node.alpha;
        let value = (t.alpha / ev.node.alpha) * x + (t.alpha * (t.sigma_ve() - s_bar)) * eps;
        Ok(self.finish_step(Call {
            out: Slot::State,
            value: self.unshift(value),
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }

    /// Euler ancestral: a deterministic step to σ_down and fresh noise σ_up, with
    /// σ_up = η·√(σ_t²(σ_s² − σ_t²)/σ_s²) and σ_down = √(σ_t² − σ_up²), all in σ/α.
    pub(super) fn euler_ancestral(&mut self, eta: f64) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let (_, eps) = self.predictions(Slot::State, &s);
        let x = self.shifted(Slot::State);
        let (sf, st) = (s.sigma_ve(), t.sigma_ve());
        let up = (eta * (st * st * (sf * sf - st * st) / (sf * sf)).max(0.0).sqrt()).min(st);
        let down = (st * st - up * up).max(0.0).sqrt();
        let value = (t.alpha / s.alpha) * x + (t.alpha * (down - sf)) * eps;
        Ok(self.finish_step(Call {
            out: Slot::State,
            value: self.unshift(value),
            store: None,
            noise: t.alpha * up,
            noise_step: k as u32,
        }))
    }

    /// Heun (EDM Algorithm 1/2): an Euler stage to node k+1, then the trapezoidal correction;
    /// the last step into a noise-free node is Euler alone.
    pub(super) fn heun(&mut self, ev: &Eval) -> Result<Call, Error> {
        let k = self.step;
        let t = self.node(k + 1);
        if self.stage == 0 {
            let (_, eps) = self.predictions(Slot::State, &ev.node);
            if t.sigma == 0.0 {
                return self.euler(ev);
            }
            let x = self.shifted(Slot::State);
            let s_bar = ev.node.sigma / ev.node.alpha;
            let value = (t.alpha / ev.node.alpha) * x + (t.alpha * (t.sigma_ve() - s_bar)) * eps;
            let slot = self.free_slot(&value, None)?;
            self.hist.clear();
            self.push_history(slot, ev.node, 1);
            self.stage = 1;
            return Ok(Call {
                out: Slot::Stage,
                value: self.unshift(value),
                store: Some((slot, eps)),
                noise: 0.0,
                noise_step: 0,
            });
        }
        let Entry { slot, node: s } = self.hist[0];
        let (_, eps_t) = self.predictions(Slot::Stage, &t);
        let x = self.shifted(Slot::State);
        let s_bar = s.sigma / s.alpha;
        let value = (t.alpha / s.alpha) * x
            + (0.5 * t.alpha * (t.sigma_ve() - s_bar)) * (Expr::of(slot) + eps_t);
        Ok(self.finish_step(Call {
            out: Slot::State,
            value: self.unshift(value),
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }

    /// The interpolant's velocity b = α̇·x̃₀ + σ̇·ε̂ at `at` (node n).
    fn drift(&self, at: Slot, n: &Node) -> Expr {
        let (x0, eps) = self.predictions(at, n);
        n.d_alpha * x0 + n.d_sigma * eps
    }

    /// Probability-flow ODE of an interpolant, Heun in t (Euler into a noise-free node).
    pub(super) fn interpolant_ode(&mut self, ev: &Eval) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let dt = t.t - s.t;
        if self.stage == 0 {
            let b = self.drift(Slot::State, &ev.node);
            let value = Expr::of(Slot::State) + dt * b;
            if t.sigma == 0.0 {
                return Ok(self.finish_step(Call {
                    out: Slot::State,
                    value,
                    store: None,
                    noise: 0.0,
                    noise_step: 0,
                }));
            }
            let slot = self.free_slot(&value, None)?;
            self.hist.clear();
            self.push_history(slot, s, 1);
            self.stage = 1;
            return Ok(Call {
                out: Slot::Stage,
                value,
                store: Some((slot, b)),
                noise: 0.0,
                noise_step: 0,
            });
        }
        let b_s = Expr::of(self.hist[0].slot);
        let b_t = self.drift(Slot::Stage, &t);
        let value = Expr::of(Slot::State) + (0.5 * dt) * (b_s + b_t);
        Ok(self.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: 0.0,
            noise_step: 0,
        }))
    }

    /// Interpolant SDE, Euler–Maruyama backwards in t:
    /// x ← x + Δt·b + Δt·ε(t)·ε̂/σ + √(2ε(t)|Δt|)·z (Δt < 0; the score is −ε̂/σ).
    pub(super) fn interpolant_sde(
        &mut self,
        diffusion: &super::DiffusionFn,
    ) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let dt = t.t - s.t;
        let e = diffusion(s.t);
        if !(e.is_finite() && e >= 0.0) {
            return Err(Error::config("diffusion", "ε(t) finite and ≥ 0", e));
        }
        let (x0, eps) = self.predictions(Slot::State, &s);
        let b = s.d_alpha * x0 + s.d_sigma * eps;
        let value = Expr::of(Slot::State) + dt * b + (dt * e / s.sigma) * eps;
        Ok(self.finish_step(Call {
            out: Slot::State,
            value,
            store: None,
            noise: (2.0 * e * dt.abs()).sqrt(),
            noise_step: k as u32,
        }))
    }

    /// DEIS (tAB): x_t = α_t·(x̃_s/α_s + Σⱼ cⱼ·ε̂ⱼ), the cⱼ the exact integrals over ρ = σ/α
    /// of the Lagrange basis in ln ρ through the last `order` nodes.
    pub(super) fn deis(&mut self, order: usize) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let (_, eps) = self.predictions(Slot::State, &s);
        let order = self.multistep_order(order);
        let mut pts: Vec<(Expr, Node)> = vec![(eps, s)];
        pts.extend(
            self.hist
                .iter()
                .take(order - 1)
                .map(|e| (Expr::of(e.slot), e.node)),
        );
        let x = self.shifted(Slot::State);
        let mut value = (t.alpha / s.alpha) * x;
        if order == 1 {
            // ∫ dρ of a constant: ρ_t − ρ_s.
            value = value + (t.alpha * (t.sigma_ve() - s.sigma_ve())) * eps;
        } else {
            let rho: Vec<f64> = pts.iter().map(|(_, n)| n.sigma_ve()).collect();
            let (rs, rt) = (rho[0], t.sigma_ve());
            for (j, (e, _)) in pts.iter().enumerate() {
                let c = deis_integral(&rho, j, rt) - deis_integral(&rho, j, rs);
                value = value + (t.alpha * c) * *e;
            }
        }
        let value = self.unshift(value);
        let slot = self.free_slot(&value, None)?;
        self.push_history(slot, s, 3);
        self.lower_order_nums += 1;
        Ok(self.finish_step(Call {
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
    let u: Vec<f64> = rho.iter().map(|v| v.ln()).collect();
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

/// The multistep DPM-Solver(++) update (diffusers' formulas; see the module docs of
/// [`super`]). `prev` holds earlier D's, newest first; returns the value and noise scale.
#[allow(clippy::too_many_arguments)]
fn dpm_update(
    family: Family,
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
    match family {
        Family::Data => {
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
        Family::Noise => {
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
        Family::SdeData => {
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

/// The singlestep update from the group start s to t with the group's model outputs `ds`
/// (oldest first: ds[0] at s). Order = ds.len().
#[allow(clippy::too_many_arguments)]
fn singlestep_update(
    family: Family,
    solver_type: SolverType,
    x: Expr,
    s: &Node,
    t: &Node,
    ds: &[(Expr, Node)],
    em: f64,
    h: f64,
) -> Expr {
    let d0 = ds[0].0;
    let order = ds.len();
    let data = family != Family::Noise;
    let phi1 = if data {
        t.alpha * (1.0 - em)
    } else {
        -(t.alpha * s.sigma / s.alpha - t.sigma)
    };
    let base = if data {
        (t.sigma / s.sigma) * x
    } else {
        (t.alpha / s.alpha) * x
    };
    // φ₂-type weights: data: α_t((e^{−h}−1)/h + 1); noise: −σ_t((e^h−1)/h − 1).
    let phi2 = if data {
        t.alpha * ((-h).exp_m1() / h + 1.0)
    } else {
        -t.sigma * (h.exp_m1() / h - 1.0)
    };
    let phi3 = if data {
        -t.alpha * (((-h).exp_m1() + h) / (h * h) - 0.5)
    } else {
        -t.sigma * ((h.exp_m1() - h) / (h * h) - 0.5)
    };
    match order {
        1 => base + phi1 * d0,
        2 => {
            let r0 = (ds[1].1.lambda() - s.lambda()) / h;
            let d1 = (1.0 / r0) * (ds[1].0 - d0);
            base + phi1 * d0
                + match solver_type {
                    SolverType::Midpoint => (0.5 * phi1) * d1,
                    SolverType::Heun | SolverType::Taylor => phi2 * d1,
                }
        }
        _ => {
            let r1 = (ds[1].1.lambda() - s.lambda()) / h;
            let r0 = (ds[2].1.lambda() - s.lambda()) / h;
            let d1_0 = (1.0 / r1) * (ds[1].0 - d0);
            let d1_1 = (1.0 / r0) * (ds[2].0 - d0);
            let d1 = (1.0 / (r0 - r1)) * (r0 * d1_0 - r1 * d1_1);
            let d2 = (2.0 / (r0 - r1)) * (d1_1 - d1_0);
            match solver_type {
                SolverType::Midpoint => base + phi1 * d0 + phi2 * d1_1,
                SolverType::Heun | SolverType::Taylor => base + phi1 * d0 + phi2 * d1 + phi3 * d2,
            }
        }
    }
}

/// UniPC's b vector: b_k = k!·g_k/B(h), g_k = hh·φ_{k+1}(hh) (k = 1 … p).
fn unipc_b(hh: f64, b_h: f64, p: usize) -> [f64; 3] {
    let h_phi_1 = hh.exp_m1();
    let mut g = h_phi_1 / hh - 1.0;
    let mut fact = 1.0;
    let mut b = [0.0; 3];
    for (k, bk) in b.iter_mut().enumerate().take(p) {
        *bk = g * fact / b_h;
        fact *= (k + 2) as f64;
        g = g / hh - 1.0 / fact;
    }
    b
}

/// Solves the small system Σ_k ρ_k·r_k^{j} = b_{j+1} (j = 0 … n−1) by Gaussian elimination
/// with partial pivoting (n ≤ 3).
fn unipc_solve(rks: &[f64], b: &[f64]) -> Option<[f64; 3]> {
    let n = rks.len();
    let mut m = [[0.0f64; 4]; 3];
    for j in 0..n {
        for k in 0..n {
            m[j][k] = rks[k].powi(j as i32);
        }
        m[j][3] = b[j];
    }
    for c in 0..n {
        let piv = (c..n).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        m.swap(c, piv);
        if m[c][c] == 0.0 {
            return None;
        }
        let pivot_row = m[c];
        for row in m.iter_mut().take(n).skip(c + 1) {
            let f = row[c] / pivot_row[c];
            for (v, p) in row.iter_mut().zip(pivot_row).skip(c) {
                *v -= f * p;
            }
        }
    }
    let mut x = [0.0; 3];
    for c in (0..n).rev() {
        let mut v = m[c][3];
        for k in c + 1..n {
            v -= m[c][k] * x[k];
        }
        x[c] = v / m[c][c];
    }
    Some(x)
}

impl Plan {
    /// The UniPC update from x (at s0, data prediction m0 there) to t with the earlier
    /// points `others` (m_k at node s_k, newest first) and, for the corrector, the new point
    /// `m_t` (r = 1). Returns (the coefficient of x, the rest).
    fn unipc_update(
        variant: super::UniPcVariant,
        s0: &Node,
        t: &Node,
        m0: Expr,
        others: &[(Expr, Node)],
        m_t: Option<Expr>,
    ) -> Result<(f64, Expr), Error> {
        let h = t.lambda() - s0.lambda();
        let hh = -h;
        let h_phi_1 = hh.exp_m1();
        let b_h = match variant {
            super::UniPcVariant::Bh1 => hh,
            super::UniPcVariant::Bh2 => h_phi_1,
        };
        let mut rest = (-t.alpha * h_phi_1) * m0;
        // At most two earlier points (order 3); fixed arrays keep planning allocation-free.
        let mut rks = [0.0f64; 3];
        let mut d1s = [Expr::ZERO; 2];
        let l0 = s0.lambda();
        for (j, (m, n)) in others.iter().enumerate().take(2) {
            let r = (n.lambda() - l0) / h;
            rks[j] = r;
            d1s[j] = (1.0 / r) * (*m - m0);
        }
        let p = others.len().min(2) + 1;
        rks[p - 1] = 1.0;
        let (rks, d1s) = (&rks[..p], &d1s[..p - 1]);
        let res = match m_t {
            // Predictor: p = others + 1 points; the last row/column (r = 1) is not used.
            None => match p {
                1 => Expr::ZERO,
                2 => 0.5 * d1s[0],
                _ => {
                    let b = unipc_b(hh, b_h, p);
                    let rho = unipc_solve(&rks[..p - 1], &b[..p - 1]).ok_or(Error::config(
                        "grid",
                        "distinct nodes (UniPC's system is singular)",
                        s0.t,
                    ))?;
                    d1s.iter()
                        .zip(rho)
                        .fold(Expr::ZERO, |acc, (d, r)| acc + r * *d)
                }
            },
            Some(mt) => {
                let d1_t = mt - m0;
                if p == 1 {
                    0.5 * d1_t
                } else {
                    let b = unipc_b(hh, b_h, p);
                    let rho = unipc_solve(rks, &b[..p]).ok_or(Error::config(
                        "grid",
                        "distinct nodes (UniPC's system is singular)",
                        s0.t,
                    ))?;
                    d1s.iter()
                        .zip(rho)
                        .fold(Expr::ZERO, |acc, (d, r)| acc + r * *d)
                        + rho[p - 1] * d1_t
                }
            }
        };
        if b_h != 0.0 && res != Expr::ZERO {
            rest = rest - (t.alpha * b_h) * res;
        }
        Ok((t.sigma / s0.sigma, rest))
    }

    /// History entries `from .. to` (at most two) as (buffer, node) pairs.
    fn hist_points(&self, from: usize, to: usize) -> ([(Expr, Node); 2], usize) {
        let mut pts = [(Expr::ZERO, Node::new(0.0, 1.0, 1.0)); 2];
        let mut n = 0;
        for (p, e) in pts.iter_mut().zip(&self.hist[from.min(to)..to]) {
            *p = (Expr::of(e.slot), e.node);
            n += 1;
        }
        (pts, n)
    }

    /// UniPC (data prediction): the corrector UniC refines the current state with the new
    /// model output, then the predictor UniP steps on — one pass. The corrected state is never
    /// stored: it is recovered from the predictor's output as (x_next − Σ wⱼDⱼ)/(σ_t/σ_s).
    pub(super) fn unipc(
        &mut self,
        order: usize,
        variant: super::UniPcVariant,
        corrector: bool,
    ) -> Result<Call, Error> {
        let k = self.step;
        let (s, t) = (self.node(k), self.node(k + 1));
        let (m_new, _) = self.predictions(Slot::State, &s);
        let mut x_c = self.shifted(Slot::State);
        if let (true, Some(last)) = (corrector, self.last_sample) {
            let p = self.prev_order;
            let (m0, s0) = (Expr::of(self.hist[0].slot), self.hist[0].node);
            let (others, n) = self.hist_points(1, p);
            let (a, rest) = Self::unipc_update(variant, &s0, &s, m0, &others[..n], Some(m_new))?;
            x_c = a * last + rest;
        }
        let steps = self.grid.steps();
        let mut p = order;
        if self.opts.lower_order_final {
            p = p.min(steps - k);
        }
        p = p.min(self.lower_order_nums + 1);
        if t.sigma == 0.0 {
            p = 1;
        }
        let (others, n) = self.hist_points(0, p - 1);
        // The history buffer that receives m_new: none that this call or the corrected state
        // reads (the value only reads State, Model, history and the corrected state's buffers).
        let slot = self.free_slot(&Expr::ZERO, self.last_sample.as_ref())?;
        // The predictor over the buffers as they are after this call (m_new in `slot`); the
        // value of this call is the same with m_new's expression in place of `slot`.
        let (a, rest_post) =
            Self::unipc_update(variant, &s, &t, Expr::of(slot), &others[..n], None)?;
        let rest_pre = rest_post + rest_post.coef(slot) * (m_new - Expr::of(slot));
        let value = self.unshift(a * x_c + rest_pre);
        self.last_sample = (a != 0.0).then(|| (1.0 / a) * (self.shifted(Slot::State) - rest_post));
        self.push_history(slot, s, 3);
        self.prev_order = p;
        self.lower_order_nums += 1;
        Ok(self.finish_step(Call {
            out: Slot::State,
            value,
            store: Some((slot, m_new)),
            noise: 0.0,
            noise_step: k as u32,
        }))
    }
}
