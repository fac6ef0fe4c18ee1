//! Singlestep DPM-Solver and DPM-Solver++ (Lu et al. 2022; 2S, 3S): the grid is cut into
//! groups of one to three steps (diffusers' order list); stage j of a group evaluates the model
//! at node g + j and, before the last stage, writes the order-(j+1) update to node g + j + 1
//! into the stage buffer; the last stage writes the state.

use super::dpm_multistep::DpmKind;
use super::walk::{e_minus_h, Points, Walk};
use super::{Call, Expr, Slot, SolverType};
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// A singlestep DPM-Solver of one kind, with its order list.
#[derive(Clone, Debug)]
pub(super) struct DpmSinglestep {
    /// How D₁ and D₂ are weighted.
    pub solver_type: SolverType,
    /// ε̂ or x̃₀.
    pub kind: DpmKind,
    /// diffusers' order of each grid step's update (runs 1, 2, (3) form the groups).
    pub order_list: Vec<usize>,
}

impl DpmSinglestep {
    /// The plan of `order` over `steps` grid steps (see [`singlestep_orders`]).
    pub fn new(
        order: usize,
        solver_type: SolverType,
        kind: DpmKind,
        steps: usize,
        lower_order_final: bool,
        clean_end: bool,
    ) -> Self {
        DpmSinglestep {
            solver_type,
            kind,
            order_list: singlestep_orders(order, steps, lower_order_final, clean_end),
        }
    }

    /// The node of stage j of the group starting at the current step: node g + j.
    pub fn stage_node(&self, w: &Walk) -> Node {
        w.node(w.step + w.stage)
    }

    /// The order of the group starting at grid step g.
    fn group_order(&self, g: usize) -> usize {
        let list = &self.order_list;
        let mut o = 1;
        while g + o < list.len() && list[g + o] == o + 1 {
            o += 1;
        }
        o
    }

    /// The update for the model output at stage j of the current group.
    pub fn call(&self, w: &mut Walk) -> Result<Call, Error> {
        let g = w.step;
        let o = self.group_order(g);
        let j = w.stage;
        let at = if j == 0 { Slot::State } else { Slot::Stage };
        let node_j = w.node(g + j);
        let (x0, eps) = w.predictions(at, &node_j);
        let dj = if self.kind == DpmKind::Noise { eps } else { x0 };
        // Model outputs of this group so far, oldest first (the group start's is first).
        let mut ds = Points::new(node_j);
        for e in w.hist.iter().take(j).rev() {
            ds.push(Expr::of(e.slot), e.node);
        }
        ds.push(dj, node_j);
        let s = w.node(g);
        let t = w.node(g + j + 1);
        let x = w.shifted(Slot::State);
        let em = e_minus_h(&s, &t);
        let h = t.lambda() - s.lambda();
        let value = w.unshift(singlestep_update(
            self.kind,
            self.solver_type,
            x,
            &s,
            &t,
            ds.as_slice(),
            em,
            h,
        ));
        let out = if j + 1 == o { Slot::State } else { Slot::Stage };
        let store = if j + 1 == o {
            None
        } else {
            let slot = w.free_slot(&value, None)?;
            w.push_history(slot, node_j, 3);
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
            w.step = g + o;
            w.stage = 0;
            w.hist.clear();
        } else {
            w.stage += 1;
        }
        Ok(call)
    }
}

/// The singlestep update from the group start s to t with the group's model outputs `ds`
/// (oldest first: ds[0] at s). Order = ds.len().
#[allow(clippy::too_many_arguments)]
fn singlestep_update(
    kind: DpmKind,
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
    let data = kind != DpmKind::Noise;
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

/// diffusers' singlestep order list: the order of each grid step's update; a group is a run
/// 1, 2, (3). With `lower_order_final` (forced by a noise-free end or a step count that is not
/// a multiple of the order) the last group is shortened; a noise-free end takes order 1.
fn singlestep_orders(
    order: usize,
    steps: usize,
    lower_order_final: bool,
    clean_end: bool,
) -> Vec<usize> {
    let lower = lower_order_final || clean_end || steps % order != 0;
    let group: Vec<usize> = (1..=order).collect();
    let mut v = Vec::with_capacity(steps);
    if !lower || order == 1 {
        while v.len() < steps {
            v.extend_from_slice(&group);
        }
        v.truncate(steps);
    } else {
        let full = if steps % order == 0 {
            steps / order - 1
        } else {
            steps / order
        };
        for _ in 0..full {
            v.extend_from_slice(&group);
        }
        let rest = steps - v.len();
        if steps % order == 0 {
            // The last full group becomes 1, 2, …, order−1 followed by a first-order step.
            v.extend(1..order);
            v.push(1);
        } else {
            v.extend(1..=rest);
        }
    }
    if clean_end {
        if let Some(last) = v.last_mut() {
            *last = 1;
        }
    }
    v
}
