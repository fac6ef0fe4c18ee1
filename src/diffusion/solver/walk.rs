//! What every solver family shares: the walk along the grid (step, stage, churn), the history
//! of earlier predictions (which buffer holds which, at which node), and how a model output
//! becomes the data and noise predictions over the buffers. The families (one file each) own
//! only their own state and formulas; [`Plan`](super::Plan) drives them over a `Walk`.

use super::{Churn, Eval, Expr, Param, PlanOptions, Slot, HISTORY};
use crate::diffusion::grid::Grid;
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// An earlier prediction kept in a history buffer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub slot: Slot,
    pub node: Node,
}

/// e^{−h} = (σ_t·α_s)/(α_t·σ_s), h = λ_t − λ_s (exactly 0 for a noise-free target).
pub(super) fn e_minus_h(s: &Node, t: &Node) -> f64 {
    (t.sigma * s.alpha) / (t.alpha * s.sigma)
}

/// Up to three (prediction, node) points of a multistep or singlestep formula (orders ≤ 3),
/// on the stack: planning a step allocates nothing.
#[derive(Clone, Copy, Debug)]
pub(super) struct Points {
    items: [(Expr, Node); 3],
    len: usize,
}

impl Points {
    /// No points yet; `filler` only fills the unused places.
    pub(super) fn new(filler: Node) -> Self {
        Points {
            items: [(Expr::ZERO, filler); 3],
            len: 0,
        }
    }

    /// Appends a point (orders never exceed three: a fourth is dropped, as no formula reads it).
    pub(super) fn push(&mut self, e: Expr, n: Node) {
        debug_assert!(self.len < self.items.len(), "a fourth point");
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (e, n);
            self.len += 1;
        }
    }

    /// The points so far, in the order pushed.
    pub(super) fn as_slice(&self) -> &[(Expr, Node)] {
        &self.items[..self.len]
    }
}

/// The shared state of a run (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct Walk {
    pub param: Param,
    pub grid: Grid,
    pub opts: PlanOptions,
    /// EDM's churn (Euler and Heun; [`Churn::NONE`] for every other family).
    pub churn: Churn,
    pub step: usize,
    pub stage: usize,
    /// Earlier predictions, newest first.
    pub hist: Vec<Entry>,
    /// Steps taken so far (the warm-up of multistep methods).
    pub lower_order_nums: usize,
    /// Where the thresholded data prediction of the current evaluation is, if thresholding.
    pub thr_slot: Option<Slot>,
}

impl Walk {
    pub fn new(param: Param, grid: Grid, opts: PlanOptions, churn: Churn) -> Self {
        Walk {
            param,
            grid,
            opts,
            churn,
            step: 0,
            stage: 0,
            hist: Vec::with_capacity(HISTORY),
            lower_order_nums: 0,
            thr_slot: None,
        }
    }

    pub fn node(&self, i: usize) -> Node {
        self.grid.nodes()[i]
    }

    /// Churn before step `k`: (noise scale on the state, raised noise level σ̂/α), or None.
    pub fn churn_noise(&self, k: usize) -> Option<(f64, f64)> {
        let churn = &self.churn;
        if k >= self.grid.steps() || churn.s_churn == 0.0 {
            return None;
        }
        let n = self.node(k);
        let s = n.sigma_ve();
        if !(s >= churn.s_tmin && s <= churn.s_tmax) {
            return None;
        }
        let gamma = (churn.s_churn / self.grid.steps() as f64).min(std::f64::consts::SQRT_2 - 1.0);
        let s_hat = s * (1.0 + gamma);
        Some((
            n.alpha * (s_hat * s_hat - s * s).sqrt() * churn.s_noise,
            s_hat,
        ))
    }

    /// The node of the start of step k as the model sees it (churn raises σ).
    pub fn start_node(&self, k: usize) -> Node {
        let n = self.node(k);
        match self.churn_noise(k) {
            Some((_, s_hat)) => Node {
                sigma: n.alpha * s_hat,
                ..n
            },
            None => n,
        }
    }

    /// The model output's data prediction x̃₀ and noise prediction ε̂ at `at` (node `n`), over
    /// the buffers; x̃ = at − μ.
    pub fn predictions(&self, at: Slot, n: &Node) -> (Expr, Expr) {
        let x = self.shifted(at);
        if let Some(slot) = self.thr_slot {
            let x0 = Expr::of(slot);
            return (x0, (1.0 / n.sigma) * (x - n.alpha * x0));
        }
        let m = Expr::of(Slot::Model);
        let (a, s) = (n.alpha, n.sigma);
        match self.param {
            Param::Eps => ((1.0 / a) * (x - s * m), m),
            Param::Data => {
                let x0 = self.shifted(Slot::Model);
                (x0, (1.0 / s) * (x - a * x0))
            }
            Param::V => {
                let k = 1.0 / (a * a + s * s);
                ((a * k) * x - (s * k) * m, (s * k) * x + (a * k) * m)
            }
            Param::Velocity => {
                let (da, ds) = (n.d_alpha, n.d_sigma);
                let det = a * ds - s * da;
                (
                    (ds / det) * x - (s / det) * m,
                    (a / det) * m - (da / det) * x,
                )
            }
        }
    }

    /// `slot − μ` when a mean is given, else `slot`.
    pub fn shifted(&self, slot: Slot) -> Expr {
        if self.opts.has_mean {
            Expr::of(slot) - Expr::of(Slot::Mean)
        } else {
            Expr::of(slot)
        }
    }

    /// Back from x̃ to x.
    pub fn unshift(&self, e: Expr) -> Expr {
        if self.opts.has_mean {
            e + Expr::of(Slot::Mean)
        } else {
            e
        }
    }

    /// A history buffer that neither the live history nor `value` (nor `also`) uses.
    pub fn free_slot(&self, value: &Expr, also: Option<&Expr>) -> Result<Slot, Error> {
        (0..HISTORY)
            .map(Slot::History)
            .find(|s| {
                value.coef(*s) == 0.0
                    && Some(*s) != self.thr_slot
                    && also.is_none_or(|e| e.coef(*s) == 0.0)
                    && !self.hist.iter().any(|e| e.slot == *s)
            })
            .ok_or_else(|| {
                Error::config(
                    "plan",
                    "a free history buffer (internal limit reached)",
                    HISTORY,
                )
            })
    }

    pub fn push_history(&mut self, slot: Slot, node: Node, keep: usize) {
        self.hist.insert(0, Entry { slot, node });
        self.hist.truncate(keep);
    }

    /// History entries `from .. to` (at most two) as (buffer, node) pairs.
    pub fn hist_points(&self, from: usize, to: usize) -> ([(Expr, Node); 2], usize) {
        let mut pts = [(Expr::ZERO, Node::new(0.0, 1.0, 1.0)); 2];
        let mut n = 0;
        for (p, e) in pts.iter_mut().zip(&self.hist[from.min(to)..to]) {
            *p = (Expr::of(e.slot), e.node);
            n += 1;
        }
        (pts, n)
    }

    /// The order a multistep method uses at step k (diffusers' warm-up and final-step rules;
    /// a step into a noise-free node is always first order).
    pub fn multistep_order(&self, order: usize) -> usize {
        let k = self.step;
        let steps = self.grid.steps();
        let clean_end = self.node(k + 1).sigma == 0.0;
        let short = self.opts.lower_order_final && steps < 15;
        let last = k + 1 == steps;
        if clean_end || (last && (self.opts.euler_at_final || short)) {
            return 1;
        }
        let mut o = order.min(self.lower_order_nums + 1);
        if k + 2 == steps && short {
            o = o.min(2);
        }
        o
    }

    /// Ends the current step: next step, stage 0, and the churn of the next step folded into
    /// `call`'s noise.
    pub fn finish_step(&mut self, mut call: super::Call) -> super::Call {
        self.step += 1;
        self.stage = 0;
        if let Some((noise, _)) = self.churn_noise(self.step) {
            debug_assert!(call.noise == 0.0 && call.out == Slot::State);
            call.noise = noise;
            call.noise_step = self.step as u32;
        }
        call
    }

    /// Where the model must be evaluated next, `stage_node` giving the node of a stage > 0.
    pub fn eval(&self, stage_node: impl FnOnce(&Walk) -> Node) -> Option<Eval> {
        if self.step >= self.grid.steps() {
            return None;
        }
        let (at, node) = match self.stage {
            0 => (Slot::State, self.start_node(self.step)),
            _ => (Slot::Stage, stage_node(self)),
        };
        Some(Eval {
            at,
            node,
            step: self.step,
            stage: self.stage,
        })
    }
}
