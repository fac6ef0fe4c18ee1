//! UniPC (Zhao et al. 2023), data prediction, B(h) = h (bh1) or e^h − 1 (bh2): the corrector
//! UniC refines the current state with the new model output, then the predictor UniP steps on
//! — in one pass. The corrected state is never stored: it is recovered from the predictor's
//! output as (x_next − Σ wⱼDⱼ)/(σ_t/σ_s). UniP-p with UniC is of order p + 1.

use super::walk::Walk;
use super::{Call, Expr, Slot, UniPcVariant};
use crate::diffusion::schedule::Node;
use crate::runtime::Error;

/// UniPC of order 1–3 and its state between steps.
#[derive(Clone, Copy, Debug)]
pub(super) struct UniPc {
    /// The predictor's highest order p.
    pub order: usize,
    /// B(h).
    pub variant: UniPcVariant,
    /// Whether UniC corrects each state (UniPC) or not (UniP).
    pub corrector: bool,
    /// The corrected state of the previous step, over the current buffers.
    pub last_sample: Option<Expr>,
    /// The order of the previous predictor (the corrector's order).
    pub prev_order: usize,
}

impl UniPc {
    /// UniPC-`order` before its first step.
    pub fn new(order: usize, variant: UniPcVariant, corrector: bool) -> Self {
        UniPc {
            order,
            variant,
            corrector,
            last_sample: None,
            prev_order: 0,
        }
    }

    /// The UniPC update from x (at s0, data prediction m0 there) to t with the earlier
    /// points `others` (m_k at node s_k, newest first) and, for the corrector, the new point
    /// `m_t` (r = 1). Returns (the coefficient of x, the rest).
    fn update(
        variant: UniPcVariant,
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
            UniPcVariant::Bh1 => hh,
            UniPcVariant::Bh2 => h_phi_1,
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
                    let rho = unipc_solve(&rks[..p - 1], &b[..p - 1]).ok_or_else(|| {
                        Error::config("grid", "distinct nodes (UniPC's system is singular)", s0.t)
                    })?;
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
                    let rho = unipc_solve(rks, &b[..p]).ok_or_else(|| {
                        Error::config("grid", "distinct nodes (UniPC's system is singular)", s0.t)
                    })?;
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

    /// UniPC (data prediction): the corrector UniC refines the current state with the new
    /// model output, then the predictor UniP steps on — one pass. The corrected state is never
    /// stored: it is recovered from the predictor's output as (x_next − Σ wⱼDⱼ)/(σ_t/σ_s).
    pub fn call(&mut self, w: &mut Walk) -> Result<Call, Error> {
        let (order, variant, corrector) = (self.order, self.variant, self.corrector);
        let k = w.step;
        let (s, t) = (w.node(k), w.node(k + 1));
        let (m_new, _) = w.predictions(Slot::State, &s);
        let mut x_c = w.shifted(Slot::State);
        if let (true, Some(last)) = (corrector, self.last_sample) {
            let p = self.prev_order;
            let (m0, s0) = (Expr::of(w.hist[0].slot), w.hist[0].node);
            let (others, n) = w.hist_points(1, p);
            let (a, rest) = Self::update(variant, &s0, &s, m0, &others[..n], Some(m_new))?;
            x_c = a * last + rest;
        }
        let steps = w.grid.steps();
        let mut p = order;
        if w.opts.lower_order_final {
            p = p.min(steps - k);
        }
        p = p.min(w.lower_order_nums + 1);
        if t.sigma == 0.0 {
            p = 1;
        }
        let (others, n) = w.hist_points(0, p - 1);
        // The history buffer that receives m_new: none that this call or the corrected state
        // reads (the value only reads State, Model, history and the corrected state's buffers).
        let slot = w.free_slot(&Expr::ZERO, self.last_sample.as_ref())?;
        // The predictor over the buffers as they are after this call (m_new in `slot`); the
        // value of this call is the same with m_new's expression in place of `slot`.
        let (a, rest_post) = Self::update(variant, &s, &t, Expr::of(slot), &others[..n], None)?;
        let rest_pre = rest_post + rest_post.coef(slot) * (m_new - Expr::of(slot));
        let value = w.unshift(a * x_c + rest_pre);
        self.last_sample = (a != 0.0).then(|| (1.0 / a) * (w.shifted(Slot::State) - rest_post));
        w.push_history(slot, s, 3);
        self.prev_order = p;
        w.lower_order_nums += 1;
        Ok(w.finish_step(Call {
            out: Slot::State,
            value,
            store: Some((slot, m_new)),
            noise: 0.0,
            noise_step: k as u32,
        }))
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
