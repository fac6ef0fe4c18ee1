//! Markov-approximate fractional Brownian motion (Daems, Opper, Crevecoeur, Birdal, ICLR 2024;
//! after Carmona & Coutin 1998): K Ornstein–Uhlenbeck processes driven by one Brownian
//! motion, dY_k = −γ_k·Y_k dt + dW, weighted as B̂(t) = Σ ω_k·Y_k(t), approximate the
//! Riemann–Liouville ("type II") fractional Brownian motion
//! B_H(t) = (1/Γ(H + ½))·∫₀ᵗ (t − s)^(H − ½) dW_s — not the stationary-increment fBM.
//!
//! The host side (f64): speeds on a geometric grid from 1/γ_max to γ_max, the closed-form
//! optimal weights ω = A⁻¹b that minimise E∫₀ᵀ (B_H − B̂)² dt, and the exact OU transition over
//! a step h in its rank-2 form: Y_k ← e^(−γ_k h)·Y_k + a_k·ΔW + b_k·ξ with ΔW = √h·z₁, ξ = z₂
//! (two normals per element per step, from two stream words). The `ou_bank` kernel applies it.
//!
//! Conditioning: A's condition number grows fast with K (8·10⁶ at K = 5, γ_max = 20; 4·10¹⁵
//! at K = 8, γ_max = 50), and the weights grow in size with alternating signs, so the f32 sum
//! Σ ω_k·Y_k loses about |ω|·2⁻²⁴ relative accuracy. K ≈ 5 is the useful f32 range; beyond
//! it [`MarkovFbm::new`] refuses a system whose solution would not be accurate (typed error),
//! and [`MarkovFbm::with_ridge`] trades a little approximation error for stability.

use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::Error;
pub use ito_kernels::ou_bank::OuBankCoefs;

/// The most OU processes per element the kernel takes.
pub const MAX_K: usize = ito_kernels::ou_bank::MAX_K;

/// A Markov approximation of Riemann–Liouville fBM (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct MarkovFbm {
    /// The Hurst index H ∈ (0, 1).
    pub hurst: f64,
    /// The speeds γ_k.
    pub gammas: Vec<f64>,
    /// The weights ω_k.
    pub omega: Vec<f64>,
    /// The relative L² error 1 − bᵀω/c over [0, T] (the approximation's own figure of merit).
    pub relative_error: f64,
}

/// Regularised lower incomplete gamma P(a, x), x ≥ 0 (series below a + 1, Lentz's continued
/// fraction for Q = 1 − P above).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefactor = a * x.ln() - x - libm::lgamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        (sum.ln() + ln_prefactor).exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-17 {
                break;
            }
        }
        1.0 - (ln_prefactor.exp() * h)
    }
}

/// Solves the symmetric positive definite system m·x = r by Cholesky; None if not positive
/// definite to working precision.
fn cholesky_solve(m: &[Vec<f64>], r: &[f64]) -> Option<Vec<f64>> {
    let n = r.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - s;
                if d.is_nan() || d <= 0.0 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - s) / l[j][j];
            }
        }
    }
    let diag = (0..n).map(|i| l[i][i]);
    let (lo, hi) = diag.fold((f64::INFINITY, 0.0f64), |(lo, hi), d| {
        (lo.min(d), hi.max(d))
    });
    if (hi / lo).powi(2) > 1e12 {
        return None;
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (r[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

impl MarkovFbm {
    /// K speeds γ_k = γ_max^((2k − K − 1)/(K − 1)) (k = 1 … K) and the optimal weights for
    /// Hurst index `hurst` over [0, `horizon`].
    pub fn new(hurst: f64, k: usize, gamma_max: f64, horizon: f64) -> Result<Self, Error> {
        Self::with_ridge(hurst, k, gamma_max, horizon, 0.0)
    }

    /// As [`MarkovFbm::new`], solving (A + ridge·trace(A)/K·I)ω = b.
    pub fn with_ridge(
        hurst: f64,
        k: usize,
        gamma_max: f64,
        horizon: f64,
        ridge: f64,
    ) -> Result<Self, Error> {
        if !(hurst > 0.0 && hurst < 1.0) {
            return Err(Error::config("hurst", "H in (0, 1)", hurst));
        }
        if !(2..=MAX_K).contains(&k) {
            return Err(Error::config("k", "2 … 8 OU processes", k));
        }
        if !(gamma_max.is_finite() && gamma_max > 1.0) {
            return Err(Error::config("gamma_max", "a finite value > 1", gamma_max));
        }
        if !(horizon.is_finite() && horizon > 0.0) {
            return Err(Error::config("horizon", "a finite value > 0", horizon));
        }
        if !(ridge.is_finite() && ridge >= 0.0) {
            return Err(Error::config("ridge", "a finite value ≥ 0", ridge));
        }
        let r = gamma_max.powf(2.0 / (k as f64 - 1.0));
        let gammas: Vec<f64> = (1..=k)
            .map(|i| r.powf(i as f64 - (k as f64 + 1.0) / 2.0))
            .collect();
        let t = horizon;
        let mut a: Vec<Vec<f64>> = gammas
            .iter()
            .map(|gi| {
                gammas
                    .iter()
                    .map(|gj| {
                        let s = gi + gj;
                        (t + (-s * t).exp_m1() / s) / s
                    })
                    .collect()
            })
            .collect();
        let h = hurst + 0.5;
        let b: Vec<f64> = gammas
            .iter()
            .map(|g| {
                t * g.powf(-h) * gamma_p(h, g * t)
                    - h * g.powf(-(h + 1.0)) * gamma_p(h + 1.0, g * t)
            })
            .collect();
        let lg = libm::lgamma(h);
        let c = t.powf(2.0 * hurst + 1.0) / (2.0 * hurst * (2.0 * hurst + 1.0)) / (2.0 * lg).exp();
        if ridge > 0.0 {
            let tr: f64 = (0..k).map(|i| a[i][i]).sum::<f64>() / k as f64;
            for (i, row) in a.iter_mut().enumerate() {
                row[i] += ridge * tr;
            }
        }
        // cond(A) = λ_max/λ_min by power iteration on A and on A⁻¹ (through the solve): above
        // 10¹² the f64 weights have fewer than four correct digits, so refuse.
        let power = |apply: &dyn Fn(&[f64]) -> Option<Vec<f64>>| -> Option<f64> {
            let mut v = vec![1.0f64; k];
            let mut lambda = 0.0;
            for _ in 0..500 {
                let w = apply(&v)?;
                let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                v = w.iter().map(|x| x / norm).collect();
                lambda = norm;
            }
            Some(lambda)
        };
        let mul = |v: &[f64]| {
            Some(
                (0..k)
                    .map(|i| (0..k).map(|j| a[i][j] * v[j]).sum())
                    .collect(),
            )
        };
        let cond = power(&mul)
            .zip(power(&|v: &[f64]| cholesky_solve(&a, v)))
            .map(|(max, inv_min)| max * inv_min);
        if !cond.is_some_and(|c| c <= 1e12) {
            return Err(Error::config(
                "k",
                "a Gram matrix well conditioned in f64 (fewer processes, a smaller γ_max, or a ridge)",
                k,
            ));
        }
        let omega = cholesky_solve(&a, &b).ok_or_else(|| {
            Error::config(
            "k",
            "a Gram matrix well conditioned in f64 (fewer processes, a smaller γ_max, or a ridge)",
            k,
        )
        })?;
        // A solution that does not reproduce b to 1e-6 is noise: refuse it.
        let resid = (0..k)
            .map(|i| ((0..k).map(|j| a[i][j] * omega[j]).sum::<f64>() - b[i]).abs())
            .fold(0.0, f64::max);
        let bmax = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if resid.is_nan() || resid > 1e-6 * bmax {
            return Err(Error::config(
                "k",
                "a well-conditioned system (fewer processes, or a ridge)",
                k,
            ));
        }
        let relative_error = 1.0 - b.iter().zip(&omega).map(|(x, y)| x * y).sum::<f64>() / c;
        Ok(MarkovFbm {
            hurst,
            gammas,
            omega,
            relative_error,
        })
    }

    /// Var B_H(t) of the Riemann–Liouville process: t^(2H)/(2H·Γ(H + ½)²).
    pub fn exact_variance(&self, t: f64) -> f64 {
        let h = self.hurst;
        t.powf(2.0 * h) / (2.0 * h) / (2.0 * libm::lgamma(h + 0.5)).exp()
    }

    /// Cov(B̂(s), B̂(t)) of the approximation (Y_k from 0 at time 0), exactly.
    pub fn approx_covariance(&self, s: f64, t: f64) -> f64 {
        let (s, t) = (s.min(t), s.max(t));
        let mut c = 0.0;
        for (i, gi) in self.gammas.iter().enumerate() {
            for (j, gj) in self.gammas.iter().enumerate() {
                // E[Y_i(s)Y_j(t)] = e^{−γ_j(t−s)}·(1 − e^{−(γi+γj)s})/(γi+γj).
                let g = gi + gj;
                c += self.omega[i] * self.omega[j] * (-gj * (t - s)).exp() * -(-g * s).exp_m1() / g;
            }
        }
        c
    }

    /// The per-step constants of the exact transition over a step h (see the module docs).
    pub fn transition(&self, h: f64) -> Result<Transition, Error> {
        if !(h.is_finite() && h > 0.0) {
            return Err(Error::config("h", "a finite step > 0", h));
        }
        let k = self.gammas.len();
        let decay: Vec<f64> = self.gammas.iter().map(|g| (-g * h).exp()).collect();
        let a: Vec<f64> = self
            .gammas
            .iter()
            .map(|g| -(-g * h).exp_m1() / (g * h))
            .collect();
        // R = Cov(I) − h·a·aᵀ, its leading eigenpair by power iteration.
        let r: Vec<Vec<f64>> = (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| {
                        let g = self.gammas[i] + self.gammas[j];
                        -(-g * h).exp_m1() / g - h * a[i] * a[j]
                    })
                    .collect()
            })
            .collect();
        let mut v = vec![1.0f64; k];
        let mut lambda = 0.0;
        for _ in 0..200 {
            let w: Vec<f64> = (0..k)
                .map(|i| (0..k).map(|j| r[i][j] * v[j]).sum())
                .collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            let next: Vec<f64> = w.iter().map(|x| x / norm).collect();
            let done = next.iter().zip(&v).all(|(p, q)| (p - q).abs() < 1e-15);
            v = next;
            lambda = norm;
            if done {
                break;
            }
        }
        let sign = if v.iter().sum::<f64>() < 0.0 {
            -1.0
        } else {
            1.0
        };
        let b: Vec<f64> = v.iter().map(|x| sign * lambda.sqrt() * x).collect();
        Ok(Transition {
            h,
            decay,
            a,
            b,
            omega: self.omega.clone(),
        })
    }
}

/// The per-step constants of [`MarkovFbm::transition`].
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The step h.
    pub h: f64,
    /// e^(−γ_k h).
    pub decay: Vec<f64>,
    /// a_k = (1 − e^(−γ_k h))/(γ_k h): the regression of the OU increment on ΔW.
    pub a: Vec<f64>,
    /// b_k: the leading direction of what ΔW leaves unexplained (times ξ).
    pub b: Vec<f64>,
    /// The weights ω_k.
    pub omega: Vec<f64>,
}

impl Transition {
    /// The kernel's f32 constants.
    pub fn coefs(&self) -> OuBankCoefs {
        let mut c = OuBankCoefs {
            sqrt_h: self.h.sqrt() as f32,
            ..Default::default()
        };
        for k in 0..self.decay.len().min(MAX_K) {
            c.decay[k] = self.decay[k] as f32;
            c.a[k] = self.a[k] as f32;
            c.b[k] = self.b[k] as f32;
            c.omega[k] = self.omega[k] as f32;
        }
        c
    }

    /// One step of the OU bank on the selected backend: `state` holds the K planes (each of
    /// the element count) one after another; `out` (optional) receives ΔB̂. The normals are the
    /// source's under [`NoiseUse::OuBank`] at step `step`: the kernel draws its two normals from
    /// stream words 2s and 2s + 1 of the source's stream s (so two sources' streams never
    /// share one), which needs s < 2³¹.
    pub fn step(
        &self,
        state: ito_kernels::storage::TensorMut<'_>,
        out: Option<ito_kernels::storage::TensorMut<'_>>,
        noise: NoiseSource,
        step: u32,
    ) -> Result<(), Error> {
        let k = self.decay.len();
        let Some(stream) = noise.stream.checked_mul(2) else {
            return Err(Error::config(
                "noise.stream",
                "a stream below 2^31 (the OU bank takes stream words 2s and 2s + 1)",
                noise.stream,
            ));
        };
        let at = noise
            .with_stream(stream)
            .noise(NoiseUse::OuBank, step, state.len() / k.max(1))?;
        let mut out = out;
        let mut state = state;
        let written = crate::runtime::backend()?.ou_bank(
            state.reborrow(),
            k,
            out.as_mut().map(|o| o.reborrow()),
            &self.coefs(),
            at.key,
            at.offset,
        )?;
        written.check(Some(step.into()), "state", state.as_ref())?;
        match out {
            Some(o) => written.check(Some(step.into()), "out", o.as_ref()),
            None => Ok(()),
        }
    }
}
