//! Sampling grids: the nodes (t, α, σ) a sampler steps through, from the most noise to the
//! least. Uniform in t, uniform in λ (logSNR), quadratic in t, Karras et al.'s ρ-spacing,
//! diffusers' discrete "linspace" / "leading" / "trailing" spacings, or given by the user.
//! Every grid is validated: finite, at least one step, and λ strictly increasing (the
//! noise-to-signal ratio σ/α strictly decreasing); only the last node may be noise-free.

use crate::diffusion::schedule::{self, DiscreteVp, Node, Schedule};
use crate::runtime::{try_collect, Error};

/// A validated sampling grid.
///
/// ```
/// use ito::{Grid, Schedule};
/// let vp = Schedule::vp_linear(0.1, 20.0)?;
/// let grid = Grid::uniform_lambda(&vp, 1.0, 1e-3, 10)?.with_clean_end()?;
/// assert_eq!(grid.steps(), 11);
/// let nodes = grid.nodes();
/// assert!(nodes.windows(2).all(|w| w[1].lambda() > w[0].lambda())); // less noise each step
/// assert_eq!(nodes.last().unwrap().sigma, 0.0);
/// // Karras et al.'s ρ = 7 spacing of σ/α, and a grid of your own times:
/// let karras = Grid::karras(&Schedule::edm(0.002, 80.0)?, 0.002, 80.0, 7.0, 18)?;
/// assert_eq!(karras.steps(), 18);
/// let mine = Grid::from_times(&vp, &[1.0, 0.5, 0.1, 0.01])?;
/// assert_eq!(mine.steps(), 3);
/// assert!(Grid::from_times(&vp, &[0.1, 0.5]).is_err()); // noise must decrease
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    nodes: Vec<Node>,
}

/// How diffusers spreads `steps` inference steps over a discrete model's training steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// `linspace(0, N−1, steps+1)`, rounded, reversed, the last dropped (DPM-Solver's default).
    Linspace,
    /// Multiples of ⌊N/(steps + 1)⌋ from the bottom, plus `steps_offset`: diffusers' multistep
    /// schedulers (DPM-Solver, DEIS, UniPC), which place steps + 1 nodes and drop the last.
    /// (DDIM's own leading spacing uses ⌊N/steps⌋; build it with `Grid::from_nodes`.)
    Leading,
    /// `round(arange(N, 0, −N/steps)) − 1`: always starts from the last training step.
    Trailing,
}

/// Where a discrete grid ends after its last training-step node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalNode {
    /// A noise-free node (σ = 0, α = 1): the last step returns the data prediction.
    Zero,
    /// The first training step's noise level (diffusers' "sigma_min").
    SigmaMin,
}

/// The most steps a grid may have: a plan numbers its steps in the noise key's u32 step word.
pub const MAX_STEPS: u64 = u32::MAX as u64;

impl Grid {
    /// Validates user-given nodes (see the module docs).
    pub fn from_nodes(nodes: Vec<Node>) -> Result<Self, Error> {
        if nodes.len() < 2 || (nodes.len() - 1) as u64 > MAX_STEPS {
            return Err(Error::config(
                "grid",
                "2 … 2^32 nodes (1 … 2^32 − 1 steps)",
                nodes.len(),
            ));
        }
        let last = nodes.len() - 1;
        let mut prev_lambda = f64::NEG_INFINITY;
        for (i, n) in nodes.iter().enumerate() {
            if !(n.t.is_finite() && n.alpha.is_finite() && n.sigma.is_finite()) {
                return Err(Error::config("grid", "finite t, α and σ at every node", i));
            }
            if !(n.alpha > 0.0 && (n.sigma > 0.0 || (i == last && n.sigma == 0.0))) {
                return Err(Error::config(
                    "grid",
                    "α > 0 and σ > 0 (σ = 0 only at the last node)",
                    i,
                ));
            }
            let l = n.lambda();
            if l.is_nan() || l <= prev_lambda {
                return Err(Error::config(
                    "grid",
                    "strictly decreasing noise (σ/α) along the grid",
                    i,
                ));
            }
            prev_lambda = l;
        }
        Ok(Grid { nodes })
    }

    /// The schedule's nodes at the given times (from the noisiest).
    pub fn from_times(schedule: &Schedule, times: &[f64]) -> Result<Self, Error> {
        let nodes = try_collect("times", times.len(), |i| schedule.node(times[i]))?;
        Self::from_nodes(nodes)
    }

    /// 1 ≤ steps ≤ [`MAX_STEPS`]; returns the node count, steps + 1.
    fn check_steps(steps: usize) -> Result<usize, Error> {
        if steps == 0 || steps as u64 > MAX_STEPS {
            Err(Error::config("steps", "1 … 2^32 − 1 steps", steps))
        } else {
            Ok(steps + 1)
        }
    }

    /// `steps` equal steps in t from `t_start` (noisy) to `t_end`.
    pub fn uniform_t(
        schedule: &Schedule,
        t_start: f64,
        t_end: f64,
        steps: usize,
    ) -> Result<Self, Error> {
        let nodes = Self::check_steps(steps)?;
        let ts = try_collect("steps", nodes, |i| {
            Ok(match i {
                _ if i == steps => t_end,
                _ => t_start + (t_end - t_start) * i as f64 / steps as f64,
            })
        })?;
        Self::from_times(schedule, &ts)
    }

    /// `steps` equal steps in λ between λ(t_start) and λ(t_end).
    pub fn uniform_lambda(
        schedule: &Schedule,
        t_start: f64,
        t_end: f64,
        steps: usize,
    ) -> Result<Self, Error> {
        let nodes = Self::check_steps(steps)?;
        let (l0, l1) = (schedule.lambda(t_start)?, schedule.lambda(t_end)?);
        let ts = try_collect("steps", nodes, |i| match i {
            0 => Ok(t_start),
            _ if i == steps => Ok(t_end),
            _ => schedule.t_of_lambda(l0 + (l1 - l0) * i as f64 / steps as f64),
        })?;
        Self::from_times(schedule, &ts)
    }

    /// DPM-Solver's "time_quadratic": uniform in √t.
    pub fn quadratic(
        schedule: &Schedule,
        t_start: f64,
        t_end: f64,
        steps: usize,
    ) -> Result<Self, Error> {
        let nodes = Self::check_steps(steps)?;
        if !(t_start >= 0.0 && t_end >= 0.0) {
            return Err(Error::config("t_end", "t ≥ 0 for a quadratic grid", t_end));
        }
        let (a, b) = (t_start.sqrt(), t_end.sqrt());
        let ts = try_collect("steps", nodes, |i| {
            Ok(match i {
                0 => t_start,
                _ if i == steps => t_end,
                _ => {
                    let r = a + (b - a) * i as f64 / steps as f64;
                    r * r
                }
            })
        })?;
        Self::from_times(schedule, &ts)
    }

    /// Karras et al.'s spacing of the noise level σ/α: (σ_max^{1/ρ} + i/steps·(σ_min^{1/ρ} −
    /// σ_max^{1/ρ}))^ρ, mapped to times through λ = −ln(σ/α).
    pub fn karras(
        schedule: &Schedule,
        sigma_min: f64,
        sigma_max: f64,
        rho: f64,
        steps: usize,
    ) -> Result<Self, Error> {
        let nodes = Self::check_steps(steps)?;
        let sigmas = karras_sigmas(sigma_min, sigma_max, rho, nodes)?;
        let ts = try_collect("steps", nodes, |i| schedule.t_of_lambda(-sigmas[i].ln()))?;
        Self::from_times(schedule, &ts)
    }

    /// diffusers' discrete timesteps for `steps` inference steps of a model trained on
    /// `schedule.len()` steps, with `steps_offset` (added by `Leading`), then `last`.
    /// Each node sits exactly on its training step (α = √ᾱ_k); `t` is (k+1)/N.
    /// Returns the grid and the integer timesteps (as diffusers passes them to the model).
    pub fn discrete(
        schedule: &DiscreteVp,
        spacing: Spacing,
        steps: usize,
        steps_offset: usize,
        last: FinalNode,
    ) -> Result<(Self, Vec<usize>), Error> {
        let ks = discrete_timesteps(schedule.len(), spacing, steps, steps_offset)?;
        let mut nodes: Vec<Node> = ks.iter().map(|&k| discrete_node(schedule, k)).collect();
        nodes.push(match last {
            FinalNode::Zero => Node {
                t: 0.0,
                alpha: 1.0,
                sigma: 0.0,
                d_alpha: 0.0,
                d_sigma: 0.0,
            },
            FinalNode::SigmaMin => discrete_node(schedule, 0),
        });
        Ok((Self::from_nodes(nodes)?, ks))
    }

    /// Appends a noise-free node (α = 1, σ = 0): the last step then lands on the data
    /// prediction (what diffusers' `final_sigmas_type = "zero"` does).
    pub fn with_clean_end(mut self) -> Result<Self, Error> {
        self.nodes.push(Node {
            t: 0.0,
            alpha: 1.0,
            sigma: 0.0,
            d_alpha: 0.0,
            d_sigma: 0.0,
        });
        Self::from_nodes(self.nodes)
    }

    /// The same grid for the state divided by α (EDM's form: α = 1, σ → σ/α); Euler and Heun
    /// samplers in diffusers work on that state.
    pub fn to_ve(&self) -> Grid {
        Grid {
            nodes: self.nodes.iter().map(Node::to_ve).collect(),
        }
    }

    /// The nodes, noisiest first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of steps (nodes − 1).
    pub fn steps(&self) -> usize {
        self.nodes.len() - 1
    }
}

fn discrete_node(schedule: &DiscreteVp, k: usize) -> Node {
    // In range: callers pass training steps below schedule.len().
    let abar = schedule.alpha_cumprod(k).unwrap_or(f64::NAN);
    let t = schedule.time_of_step(k as f64);
    Node {
        t,
        alpha: abar.sqrt(),
        sigma: (1.0 - abar).sqrt(),
        d_alpha: f64::NAN,
        d_sigma: f64::NAN,
    }
}

/// Karras et al.'s n noise levels from σ_max down to σ_min.
pub fn karras_sigmas(
    sigma_min: f64,
    sigma_max: f64,
    rho: f64,
    n: usize,
) -> Result<Vec<f64>, Error> {
    if !(sigma_min.is_finite() && sigma_min > 0.0) {
        return Err(Error::config("sigma_min", "a finite value > 0", sigma_min));
    }
    if !(sigma_max.is_finite() && sigma_max > sigma_min) {
        return Err(Error::config(
            "sigma_max",
            "finite and > sigma_min",
            sigma_max,
        ));
    }
    if !(rho.is_finite() && rho > 0.0) {
        return Err(Error::config("rho", "a finite value > 0", rho));
    }
    let (a, b) = (sigma_max.powf(1.0 / rho), sigma_min.powf(1.0 / rho));
    let last = (n.max(2) - 1) as f64;
    try_collect("n", n, |i| Ok((a + i as f64 / last * (b - a)).powf(rho)))
}

/// diffusers' integer timesteps, noisiest first (see [`Spacing`]).
pub fn discrete_timesteps(
    train_steps: usize,
    spacing: Spacing,
    steps: usize,
    steps_offset: usize,
) -> Result<Vec<usize>, Error> {
    if steps == 0 || steps > train_steps || steps as u64 > MAX_STEPS {
        return Err(Error::config(
            "steps",
            "between 1 and the number of training steps",
            steps,
        ));
    }
    let n = train_steps;
    let mut ks: Vec<usize> = match spacing {
        Spacing::Linspace => {
            let mut v: Vec<usize> = schedule::linspace(0.0, (n - 1) as f64, steps + 1)?
                .into_iter()
                .map(|x| round_half_even(x) as usize)
                .collect();
            v.reverse();
            v.truncate(steps);
            v
        }
        Spacing::Leading => {
            let ratio = n / (steps + 1);
            // i·ratio ≤ n; only a huge offset can overflow, and it is out of range anyway.
            let mut v: Vec<usize> = (0..=steps)
                .map(|i| (i * ratio).saturating_add(steps_offset))
                .collect();
            v.reverse();
            v.truncate(steps);
            v
        }
        Spacing::Trailing => {
            let step = n as f64 / steps as f64;
            (0..steps)
                .map(|i| (round_half_even(n as f64 - i as f64 * step) as usize).saturating_sub(1))
                .collect()
        }
    };
    ks.dedup();
    if ks.iter().any(|&k| k >= n) || ks.len() != steps {
        return Err(Error::config(
            "steps_offset",
            "timesteps inside the training range and distinct",
            steps_offset,
        ));
    }
    Ok(ks)
}

/// numpy's `round` (half to even).
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}
