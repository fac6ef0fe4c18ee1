//! Exact reference problems: data distributions whose denoisers are closed-form, so a
//! sampler can be run with the exact "network" and its error measured against the truth.
//!
//! - [`Gaussian`]: independent N(mᵢ, sᵢ²) per element. Its probability-flow ODE has a
//!   closed-form solution for every schedule, which the order-of-convergence tests use.
//! - [`GaussianMixture`]: a mixture of isotropic Gaussians in D dimensions (closed-form score,
//!   exact marginal moments at every noise level), the quickstart's target.
//!
//! With x = α·x₀ + σ·ε and x₀ ~ N(m, s²): x ~ N(α·m, α²s² + σ²), and the posterior means are
//! E[x₀|x] = m + α·s²·(x − α·m)/(α²s² + σ²), E[ε|x] = σ·(x − α·m)/(α²s² + σ²).

use rayon::prelude::*;

use crate::diffusion::schedule::Node;
use crate::diffusion::solver::Param;

/// The model output for `param` from the posterior means x̂₀ and ε̂ at node `n`.
fn output(param: Param, n: &Node, x0: f64, eps: f64) -> f64 {
    match param {
        Param::Eps => eps,
        Param::Data => x0,
        Param::V => n.alpha * eps - n.sigma * x0,
        Param::Velocity => n.d_alpha * x0 + n.d_sigma * eps,
    }
}

/// Independent Gaussians, one per element (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    /// Means mᵢ.
    pub mean: Vec<f64>,
    /// Standard deviations sᵢ.
    pub std: Vec<f64>,
}

impl Gaussian {
    /// The exact model output at node `n` for state `x` (element i uses mᵢ, sᵢ cyclically,
    /// so one small Gaussian can describe a long tensor).
    pub fn predict(&self, param: Param, n: &Node, x: &[f64], out: &mut [f64]) {
        for (i, (o, &xv)) in out.iter_mut().zip(x).enumerate() {
            let (x0, eps) = self.posterior(i, n, xv);
            *o = output(param, n, x0, eps);
        }
    }

    /// As [`Gaussian::predict`], for f32 tensors (in parallel; maths in f64).
    pub fn predict_f32(&self, param: Param, n: &Node, x: &[f32], out: &mut [f32]) {
        out.par_iter_mut()
            .zip(x.par_iter())
            .enumerate()
            .for_each(|(i, (o, &xv))| {
                let (x0, eps) = self.posterior(i, n, xv as f64);
                *o = output(param, n, x0, eps) as f32;
            });
    }

    fn posterior(&self, i: usize, n: &Node, x: f64) -> (f64, f64) {
        let k = i % self.mean.len();
        let (m, s) = (self.mean[k], self.std[k]);
        let var = n.alpha * n.alpha * s * s + n.sigma * n.sigma;
        let r = (x - n.alpha * m) / var;
        (m + n.alpha * s * s * r, n.sigma * r)
    }

    /// The marginal at node `n`: (mean, standard deviation) of element i.
    pub fn marginal(&self, i: usize, n: &Node) -> (f64, f64) {
        let k = i % self.mean.len();
        let (m, s) = (self.mean[k], self.std[k]);
        (
            n.alpha * m,
            (n.alpha * n.alpha * s * s + n.sigma * n.sigma).sqrt(),
        )
    }

    /// The exact probability-flow ODE solution: the state at node `to` reached from `x` at
    /// node `from` (the flow keeps each element's standardised value).
    pub fn ode_solution(&self, from: &Node, to: &Node, x: &[f64]) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, &xv)| {
                let (m0, s0) = self.marginal(i, from);
                let (m1, s1) = self.marginal(i, to);
                m1 + s1 * (xv - m0) / s0
            })
            .collect()
    }
}

/// A mixture of isotropic Gaussians in `dim` dimensions; a state of n samples is a flat
/// tensor of n·dim elements, sample-major.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    /// Dimension D.
    pub dim: usize,
    /// Mixture weights (sum 1).
    pub weights: Vec<f64>,
    /// Component means, D values each.
    pub means: Vec<Vec<f64>>,
    /// Component standard deviations (isotropic).
    pub stds: Vec<f64>,
}

impl GaussianMixture {
    /// The built-in 2-D target of the examples: eight components on a ring plus one at the
    /// centre, unequal weights and widths.
    pub fn ring() -> Self {
        let mut means = Vec::new();
        let mut weights = Vec::new();
        let mut stds = Vec::new();
        for k in 0..8 {
            let a = k as f64 * std::f64::consts::TAU / 8.0;
            means.push(vec![2.0 * a.cos(), 2.0 * a.sin()]);
            weights.push(if k % 2 == 0 { 0.14 } else { 0.08 });
            stds.push(if k % 2 == 0 { 0.15 } else { 0.25 });
        }
        means.push(vec![0.0, 0.0]);
        weights.push(1.0 - weights.iter().sum::<f64>());
        stds.push(0.3);
        GaussianMixture {
            dim: 2,
            weights,
            means,
            stds,
        }
    }

    /// E[x₀|x] and E[ε|x] of one sample x (D values) at node n.
    pub fn posterior(&self, n: &Node, x: &[f64], x0: &mut [f64], eps: &mut [f64]) {
        let (a, s) = (n.alpha, n.sigma);
        // Log responsibilities, stabilised by their maximum.
        let mut logw = Vec::with_capacity(self.weights.len());
        for k in 0..self.weights.len() {
            let v = a * a * self.stds[k] * self.stds[k] + s * s;
            let d2: f64 = x
                .iter()
                .zip(&self.means[k])
                .map(|(xi, mi)| (xi - a * mi).powi(2))
                .sum();
            logw.push(self.weights[k].ln() - 0.5 * self.dim as f64 * v.ln() - 0.5 * d2 / v);
        }
        let mx = logw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = logw.iter().map(|l| (l - mx).exp()).sum();
        x0.iter_mut().for_each(|v| *v = 0.0);
        for (k, l) in logw.iter().enumerate() {
            let g = (l - mx).exp() / z;
            let sk2 = self.stds[k] * self.stds[k];
            let v = a * a * sk2 + s * s;
            for (d, o) in x0.iter_mut().enumerate() {
                let m = self.means[k][d];
                *o += g * (m + a * sk2 * (x[d] - a * m) / v);
            }
        }
        for d in 0..self.dim {
            eps[d] = (x[d] - a * x0[d]) / s;
        }
    }

    /// The exact model output for every sample of `x` (f32, in parallel, maths in f64).
    pub fn predict_f32(&self, param: Param, n: &Node, x: &[f32], out: &mut [f32]) {
        let dim = self.dim;
        out.par_chunks_mut(dim)
            .zip(x.par_chunks(dim))
            .for_each(|(o, xs)| {
                let xv: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
                let mut x0 = vec![0.0; dim];
                let mut eps = vec![0.0; dim];
                self.posterior(n, &xv, &mut x0, &mut eps);
                for d in 0..dim {
                    o[d] = output(param, n, x0[d], eps[d]) as f32;
                }
            });
    }

    /// The exact mean and covariance (row-major D×D) of the marginal at node n.
    pub fn moments(&self, n: &Node) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim;
        let (a, s) = (n.alpha, n.sigma);
        let mut mean = vec![0.0; d];
        let mut second = vec![0.0; d * d];
        for k in 0..self.weights.len() {
            let w = self.weights[k];
            let v = a * a * self.stds[k] * self.stds[k] + s * s;
            for i in 0..d {
                mean[i] += w * a * self.means[k][i];
                for j in 0..d {
                    let diag = if i == j { v } else { 0.0 };
                    second[i * d + j] += w * (diag + a * a * self.means[k][i] * self.means[k][j]);
                }
            }
        }
        let cov = (0..d * d)
            .map(|ij| second[ij] - mean[ij / d] * mean[ij % d])
            .collect();
        (mean, cov)
    }
}

/// Sample mean and covariance (row-major) of n samples of dimension `dim`, in f64.
pub fn sample_moments(x: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / dim).max(1);
    let mut mean = vec![0.0; dim];
    for s in x.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(s) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0.0; dim * dim];
    for s in x.chunks(dim) {
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] += (s[i] as f64 - mean[i]) * (s[j] as f64 - mean[j]);
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= n as f64);
    (mean, cov)
}
