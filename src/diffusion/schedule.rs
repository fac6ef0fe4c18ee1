//! Noise schedules: the forward process x_t = α(t)·x₀ + σ(t)·ε of every diffusion family ito
//! samples, with λ(t) = ln(α/σ) (the log signal-to-noise ratio, halved) and its inverse t(λ).
//! All host maths is f64; the kernels only ever see the per-step coefficients derived from it.
//!
//! Time runs from data (small t) to noise (large t); samplers walk it backwards, so λ grows
//! along a sampling grid. A mean-reverting schedule describes x − μ (the mean μ is a tensor
//! given to the sampler), everything else describes x itself.

use std::fmt;
use std::sync::Arc;

use crate::runtime::{try_collect, Error};

/// α(t), σ(t) and their time derivatives, for a user-defined interpolant.
pub type InterpolantFn = Arc<dyn Fn(f64) -> Coeffs + Send + Sync>;

/// α, σ and their time derivatives at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coeffs {
    /// Signal scale α(t).
    pub alpha: f64,
    /// Noise scale σ(t).
    pub sigma: f64,
    /// dα/dt.
    pub d_alpha: f64,
    /// dσ/dt.
    pub d_sigma: f64,
}

/// A β (or ᾱ) table of a discrete-time model, read the way DPM-Solver reads it: step k
/// (0-based) sits at t = (k+1)/N, ln α is linear in t between steps.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscreteVp {
    /// ln α at steps 0 … N−1 (α = √ᾱ).
    log_alpha: Vec<f64>,
}

impl DiscreteVp {
    /// From the cumulative products ᾱ₀ … ᾱ_{N−1} (each in (0, 1], non-increasing).
    pub fn from_alphas_cumprod(alphas_cumprod: &[f64]) -> Result<Self, Error> {
        if alphas_cumprod.len() < 2 {
            return Err(Error::config(
                "alphas_cumprod",
                "at least 2 entries",
                alphas_cumprod.len(),
            ));
        }
        let mut prev = 1.0;
        for &a in alphas_cumprod {
            if !(a > 0.0 && a <= prev) {
                return Err(Error::config(
                    "alphas_cumprod",
                    "values in (0, 1], non-increasing",
                    a,
                ));
            }
            prev = a;
        }
        Ok(DiscreteVp {
            log_alpha: try_collect("alphas_cumprod", alphas_cumprod.len(), |k| {
                Ok(0.5 * alphas_cumprod[k].ln())
            })?,
        })
    }

    /// From β₀ … β_{N−1} (each in (0, 1)): ᾱ_k = Π_{j≤k} (1 − β_j).
    pub fn from_betas(betas: &[f64]) -> Result<Self, Error> {
        let mut acc = 1.0;
        let abar = try_collect("betas", betas.len(), |k| {
            let b = betas[k];
            if !(b > 0.0 && b < 1.0) {
                return Err(Error::config("betas", "values in (0, 1)", b));
            }
            acc *= 1.0 - b;
            Ok(acc)
        })?;
        Self::from_alphas_cumprod(&abar)
    }

    /// β linear from `beta_start` to `beta_end` over `n` training steps (diffusers' "linear";
    /// the default 1000 steps from 1e-4 to 0.02 is DDPM's).
    pub fn linear(beta_start: f64, beta_end: f64, n: usize) -> Result<Self, Error> {
        Self::from_betas(&linspace(beta_start, beta_end, n)?)
    }

    /// √β linear (Stable Diffusion's "scaled_linear").
    pub fn scaled_linear(beta_start: f64, beta_end: f64, n: usize) -> Result<Self, Error> {
        let mut b = linspace(beta_start.sqrt(), beta_end.sqrt(), n)?;
        for v in b.iter_mut() {
            *v *= *v;
        }
        Self::from_betas(&b)
    }

    /// Number of training steps N.
    pub fn len(&self) -> usize {
        self.log_alpha.len()
    }

    /// Never true (construction needs two steps); present for clippy's `len` convention.
    pub fn is_empty(&self) -> bool {
        self.log_alpha.is_empty()
    }

    /// ᾱ at integer training step `k`.
    pub fn alpha_cumprod(&self, k: usize) -> Option<f64> {
        self.log_alpha.get(k).map(|l| (2.0 * l).exp())
    }

    /// The continuous time of integer step k: (k+1)/N.
    pub fn time_of_step(&self, k: f64) -> f64 {
        (k + 1.0) / self.len() as f64
    }

    fn log_alpha_and_slope(&self, t: f64) -> (f64, f64) {
        let n = self.len();
        let pos = (t * n as f64 - 1.0).clamp(0.0, (n - 1) as f64);
        let k = (pos.floor() as usize).min(n - 2);
        let frac = pos - k as f64;
        let (a, b) = (self.log_alpha[k], self.log_alpha[k + 1]);
        (a + (b - a) * frac, (b - a) * n as f64)
    }
}

/// numpy's `linspace(a, b, n)`: a + i·(b − a)/(n − 1), the last point exactly b. The vector
/// is allocated fallibly: a size whose memory cannot be had is an error naming `n`.
pub fn linspace(a: f64, b: f64, n: usize) -> Result<Vec<f64>, Error> {
    let step = (b - a) / (n.max(2) - 1) as f64;
    try_collect("n", n, |i| {
        Ok(if i + 1 == n && n > 1 {
            b
        } else {
            a + i as f64 * step
        })
    })
}

/// A noise schedule (see the module docs).
///
/// ```
/// use ito::Schedule;
/// let vp = Schedule::vp_linear(0.1, 20.0)?;
/// let c = vp.coeffs(0.5)?;
/// assert!((c.alpha * c.alpha + c.sigma * c.sigma - 1.0).abs() < 1e-12); // variance preserving
/// let lambda = vp.lambda(0.5)?; // ln(α/σ)
/// assert!((vp.t_of_lambda(lambda)? - 0.5).abs() < 1e-9);
/// let flow = Schedule::Flow; // α = 1 − t, σ = t
/// assert_eq!(flow.coeffs(0.25)?.sigma, 0.25);
/// assert!(Schedule::vp_linear(20.0, 0.1).is_err()); // β_max < β_min: a typed error
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Schedule {
    /// VP with β(t) linear from β_min to β_max on t ∈ (0, 1] (score-SDE's VP-SDE, DDPM's
    /// continuous limit): ln α = −¼t²(β_max − β_min) − ½tβ_min, σ = √(1 − α²).
    VpLinear {
        /// β(0).
        beta_min: f64,
        /// β(1).
        beta_max: f64,
    },
    /// VP cosine (Nichol & Dhariwal): α = cos(π/2·(t+s)/(1+s)) / cos(π/2·s/(1+s)), t ∈ (0, T]
    /// with T = 0.9946 as in DPM-Solver (beyond it α underflows usefulness).
    VpCosine {
        /// The offset s (0.008 in the paper).
        s: f64,
    },
    /// VP from a discrete β/ᾱ table (ln α piecewise linear in t).
    VpDiscrete(DiscreteVp),
    /// VE: α = 1, σ = σ_min·(σ_max/σ_min)^t on t ∈ [0, 1].
    Ve {
        /// σ(0).
        sigma_min: f64,
        /// σ(1).
        sigma_max: f64,
    },
    /// EDM (Karras et al.): α = 1, σ = t on t ∈ [σ_min, σ_max].
    Edm {
        /// Smallest σ.
        sigma_min: f64,
        /// Largest σ.
        sigma_max: f64,
    },
    /// Rectified flow / linear interpolant: α = 1 − t, σ = t on t ∈ (0, 1).
    Flow,
    /// A general interpolant α(t), σ(t) on [t_min, t_max] with λ strictly decreasing.
    Interpolant {
        /// α, σ and derivatives at t.
        f: InterpolantFn,
        /// Start of the domain.
        t_min: f64,
        /// End of the domain.
        t_max: f64,
    },
    /// Mean-reverting (IR-SDE / MRS) with constant θ: dx = θ(μ − x)dt + σ_d dW, so x − μ has
    /// α = e^{−θt}, σ = σ_∞·√(1 − e^{−2θt}) with σ_∞² = σ_d²/(2θ); t ∈ (0, t_max].
    MeanReverting {
        /// Reversion rate θ.
        theta: f64,
        /// Diffusion coefficient σ_d.
        sigma: f64,
        /// End of the time domain.
        t_max: f64,
    },
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::VpLinear { beta_min, beta_max } => {
                write!(
                    f,
                    "VpLinear {{ beta_min: {beta_min}, beta_max: {beta_max} }}"
                )
            }
            Schedule::VpCosine { s } => write!(f, "VpCosine {{ s: {s} }}"),
            Schedule::VpDiscrete(d) => write!(f, "VpDiscrete({} steps)", d.len()),
            Schedule::Ve {
                sigma_min,
                sigma_max,
            } => write!(f, "Ve {{ sigma_min: {sigma_min}, sigma_max: {sigma_max} }}"),
            Schedule::Edm {
                sigma_min,
                sigma_max,
            } => write!(
                f,
                "Edm {{ sigma_min: {sigma_min}, sigma_max: {sigma_max} }}"
            ),
            Schedule::Flow => write!(f, "Flow"),
            Schedule::Interpolant { t_min, t_max, .. } => {
                write!(f, "Interpolant {{ t_min: {t_min}, t_max: {t_max} }}")
            }
            Schedule::MeanReverting {
                theta,
                sigma,
                t_max,
            } => write!(
                f,
                "MeanReverting {{ theta: {theta}, sigma: {sigma}, t_max: {t_max} }}"
            ),
        }
    }
}

/// DPM-Solver's end time for the cosine schedule.
pub const COSINE_T_MAX: f64 = 0.9946;

fn positive_finite(arg: &'static str, v: f64) -> Result<(), Error> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(arg, "a finite value > 0", v))
    }
}

impl Schedule {
    /// VP linear, validated (0 < β_min < β_max, finite).
    pub fn vp_linear(beta_min: f64, beta_max: f64) -> Result<Self, Error> {
        positive_finite("beta_min", beta_min)?;
        positive_finite("beta_max", beta_max)?;
        if beta_max <= beta_min {
            return Err(Error::config("beta_max", "a value > beta_min", beta_max));
        }
        Ok(Schedule::VpLinear { beta_min, beta_max })
    }

    /// VP cosine, validated (0 ≤ s, finite).
    pub fn vp_cosine(s: f64) -> Result<Self, Error> {
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::config("s", "a finite value ≥ 0", s));
        }
        Ok(Schedule::VpCosine { s })
    }

    /// VE, validated (0 < σ_min < σ_max, finite).
    pub fn ve(sigma_min: f64, sigma_max: f64) -> Result<Self, Error> {
        positive_finite("sigma_min", sigma_min)?;
        positive_finite("sigma_max", sigma_max)?;
        if sigma_max <= sigma_min {
            return Err(Error::config("sigma_max", "a value > sigma_min", sigma_max));
        }
        Ok(Schedule::Ve {
            sigma_min,
            sigma_max,
        })
    }

    /// EDM, validated (0 < σ_min < σ_max, finite).
    pub fn edm(sigma_min: f64, sigma_max: f64) -> Result<Self, Error> {
        Self::ve(sigma_min, sigma_max)?;
        Ok(Schedule::Edm {
            sigma_min,
            sigma_max,
        })
    }

    /// A general interpolant, validated at its end points (finite, α > 0, σ > 0).
    pub fn interpolant(f: InterpolantFn, t_min: f64, t_max: f64) -> Result<Self, Error> {
        if !(t_min.is_finite() && t_max.is_finite() && t_min < t_max) {
            return Err(Error::config("t_max", "finite, and > t_min", t_max));
        }
        for t in [t_min, t_max] {
            let c = f(t);
            if !(c.alpha > 0.0 && c.sigma > 0.0 && c.alpha.is_finite() && c.sigma.is_finite()) {
                return Err(Error::config(
                    "interpolant",
                    "α > 0 and σ > 0, finite, at both ends",
                    t,
                ));
            }
        }
        Ok(Schedule::Interpolant { f, t_min, t_max })
    }

    /// Mean-reverting, validated (θ, σ_d, t_max finite and > 0).
    pub fn mean_reverting(theta: f64, sigma: f64, t_max: f64) -> Result<Self, Error> {
        positive_finite("theta", theta)?;
        positive_finite("sigma", sigma)?;
        positive_finite("t_max", t_max)?;
        Ok(Schedule::MeanReverting {
            theta,
            sigma,
            t_max,
        })
    }

    /// The time domain (both ends usable; an open end is reported as its nearest usable
    /// value where the schedule degenerates exactly at the end, e.g. σ(0) = 0).
    pub fn domain(&self) -> (f64, f64) {
        match self {
            Schedule::VpLinear { .. } | Schedule::MeanReverting { .. } => {
                (f64::MIN_POSITIVE, self.t_max())
            }
            Schedule::VpCosine { .. } => (f64::MIN_POSITIVE, COSINE_T_MAX),
            Schedule::VpDiscrete(d) => (1.0 / d.len() as f64, 1.0),
            Schedule::Ve { .. } => (0.0, 1.0),
            Schedule::Edm {
                sigma_min,
                sigma_max,
            } => (*sigma_min, *sigma_max),
            Schedule::Flow => (f64::MIN_POSITIVE, 1.0 - f64::EPSILON),
            Schedule::Interpolant { t_min, t_max, .. } => (*t_min, *t_max),
        }
    }

    fn t_max(&self) -> f64 {
        match self {
            Schedule::MeanReverting { t_max, .. } => *t_max,
            _ => 1.0,
        }
    }

    fn check_t(&self, t: f64) -> Result<(), Error> {
        let (lo, hi) = self.domain();
        if t.is_finite() && t >= lo && t <= hi {
            Ok(())
        } else {
            Err(Error::config("t", "a time inside the schedule's domain", t))
        }
    }

    /// α, σ and their derivatives at `t` (typed error outside the domain).
    pub fn coeffs(&self, t: f64) -> Result<Coeffs, Error> {
        self.check_t(t)?;
        Ok(self.coeffs_unchecked(t))
    }

    fn coeffs_unchecked(&self, t: f64) -> Coeffs {
        match self {
            Schedule::VpLinear { beta_min, beta_max } => {
                let log_a = -0.25 * t * t * (beta_max - beta_min) - 0.5 * t * beta_min;
                let dlog_a = -0.5 * t * (beta_max - beta_min) - 0.5 * beta_min;
                vp_from_log_alpha(log_a, dlog_a)
            }
            Schedule::VpCosine { s } => {
                let k = std::f64::consts::FRAC_PI_2 / (1.0 + s);
                let log_a = ((t + s) * k).cos().ln() - (s * k).cos().ln();
                let dlog_a = -k * ((t + s) * k).tan();
                vp_from_log_alpha(log_a, dlog_a)
            }
            Schedule::VpDiscrete(d) => {
                let (log_a, dlog_a) = d.log_alpha_and_slope(t);
                vp_from_log_alpha(log_a, dlog_a)
            }
            Schedule::Ve {
                sigma_min,
                sigma_max,
            } => {
                let r = (sigma_max / sigma_min).ln();
                let sigma = sigma_min * (t * r).exp();
                Coeffs {
                    alpha: 1.0,
                    sigma,
                    d_alpha: 0.0,
                    d_sigma: sigma * r,
                }
            }
            Schedule::Edm { .. } => Coeffs {
                alpha: 1.0,
                sigma: t,
                d_alpha: 0.0,
                d_sigma: 1.0,
            },
            Schedule::Flow => Coeffs {
                alpha: 1.0 - t,
                sigma: t,
                d_alpha: -1.0,
                d_sigma: 1.0,
            },
            Schedule::Interpolant { f, .. } => f(t),
            Schedule::MeanReverting { theta, sigma, .. } => {
                let var_inf = sigma * sigma / (2.0 * theta);
                let alpha = (-theta * t).exp();
                // 1 − α² without cancellation.
                let one_minus = -(-2.0 * theta * t).exp_m1();
                let s = (var_inf * one_minus).sqrt();
                let d_alpha = -theta * alpha;
                Coeffs {
                    alpha,
                    sigma: s,
                    d_alpha,
                    d_sigma: -var_inf * alpha * d_alpha / s,
                }
            }
        }
    }

    /// λ(t) = ln(α/σ).
    pub fn lambda(&self, t: f64) -> Result<f64, Error> {
        let c = self.coeffs(t)?;
        Ok(lambda_of(c.alpha, c.sigma))
    }

    /// The time with λ(t) = `lambda` (typed error if no such time lies in the domain).
    pub fn t_of_lambda(&self, lambda: f64) -> Result<f64, Error> {
        if lambda.is_nan() {
            return Err(Error::config("lambda", "a number", lambda));
        }
        let (lo, hi) = self.domain();
        let (l_hi, l_lo) = (
            lambda_of_coeffs(self.coeffs_unchecked(lo)),
            lambda_of_coeffs(self.coeffs_unchecked(hi)),
        );
        // A little slack for the closed forms' own rounding at the ends.
        let slack = 1e-12 * (1.0 + lambda.abs());
        if !(lambda <= l_hi + slack && lambda >= l_lo - slack) {
            return Err(Error::config(
                "lambda",
                "a log-SNR reached inside the schedule's time domain",
                lambda,
            ));
        }
        // ln(1 + e^{−2λ}) without overflow for very negative λ.
        let log1p_e = |l: f64| {
            if l > -20.0 {
                (-2.0 * l).exp().ln_1p()
            } else {
                -2.0 * l + (2.0 * l).exp().ln_1p()
            }
        };
        let t = match self {
            Schedule::VpLinear { beta_min, beta_max } => {
                // −ln α = L = ½ln(1 + e^{−2λ}) = a t² + b t.
                let (a, b) = (0.25 * (beta_max - beta_min), 0.5 * beta_min);
                let l = 0.5 * log1p_e(lambda);
                2.0 * l / (b + (b * b + 4.0 * a * l).sqrt())
            }
            Schedule::VpCosine { s } => {
                let k = std::f64::consts::FRAC_PI_2 / (1.0 + s);
                let alpha = (-0.5 * log1p_e(lambda)).exp();
                (alpha * (s * k).cos()).acos() / k - s
            }
            Schedule::Ve {
                sigma_min,
                sigma_max,
            } => (-lambda - sigma_min.ln()) / (sigma_max / sigma_min).ln(),
            Schedule::Edm { .. } => (-lambda).exp(),
            Schedule::Flow => 1.0 / (1.0 + lambda.exp()),
            Schedule::MeanReverting { theta, sigma, .. } => {
                let var_inf = sigma * sigma / (2.0 * theta);
                // α⁻² = 1 + e^{−2λ}/σ_∞².
                0.5 * ((-2.0 * lambda).exp() / var_inf).ln_1p() / theta
            }
            Schedule::VpDiscrete(_) | Schedule::Interpolant { .. } => {
                // λ is monotone: bisection to the last bit.
                let (mut a, mut b) = (lo, hi);
                for _ in 0..200 {
                    let m = 0.5 * (a + b);
                    if m <= a || m >= b {
                        break;
                    }
                    if lambda_of_coeffs(self.coeffs_unchecked(m)) > lambda {
                        a = m;
                    } else {
                        b = m;
                    }
                }
                0.5 * (a + b)
            }
        };
        Ok(t.clamp(lo, hi))
    }

    /// The node (t, α, σ and derivatives) at `t`.
    pub fn node(&self, t: f64) -> Result<Node, Error> {
        let c = self.coeffs(t)?;
        Ok(Node {
            t,
            alpha: c.alpha,
            sigma: c.sigma,
            d_alpha: c.d_alpha,
            d_sigma: c.d_sigma,
        })
    }
}

fn vp_from_log_alpha(log_a: f64, dlog_a: f64) -> Coeffs {
    let alpha = log_a.exp();
    // σ = √(1 − α²) = √(−expm1(2 ln α)), accurate for α near 1.
    let sigma = (-(2.0 * log_a).exp_m1()).sqrt();
    let d_alpha = alpha * dlog_a;
    Coeffs {
        alpha,
        sigma,
        d_alpha,
        d_sigma: -alpha * d_alpha / sigma,
    }
}

/// λ = ln(α/σ) (+∞ at σ = 0).
pub fn lambda_of(alpha: f64, sigma: f64) -> f64 {
    alpha.ln() - sigma.ln()
}

fn lambda_of_coeffs(c: Coeffs) -> f64 {
    lambda_of(c.alpha, c.sigma)
}

/// One point of a sampling grid: the time and the schedule's values there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    /// Time.
    pub t: f64,
    /// α(t).
    pub alpha: f64,
    /// σ(t); 0 only at a grid's final, noise-free node.
    pub sigma: f64,
    /// dα/dt (NaN where unknown, e.g. a user-built node; only velocity models need it).
    pub d_alpha: f64,
    /// dσ/dt (NaN where unknown).
    pub d_sigma: f64,
}

impl Node {
    /// A node from α and σ alone (derivatives unknown).
    pub fn new(t: f64, alpha: f64, sigma: f64) -> Self {
        Node {
            t,
            alpha,
            sigma,
            d_alpha: f64::NAN,
            d_sigma: f64::NAN,
        }
    }

    /// λ = ln(α/σ).
    pub fn lambda(&self) -> f64 {
        lambda_of(self.alpha, self.sigma)
    }

    /// The noise level in EDM's (variance-exploding) form, σ/α.
    pub fn sigma_ve(&self) -> f64 {
        self.sigma / self.alpha
    }

    /// The same noise level with the state divided by α (EDM's form: α = 1, σ → σ/α).
    pub fn to_ve(&self) -> Node {
        Node {
            t: self.t,
            alpha: 1.0,
            sigma: self.sigma / self.alpha,
            d_alpha: 0.0,
            d_sigma: if self.d_alpha.is_nan() {
                f64::NAN
            } else {
                (self.d_sigma * self.alpha - self.sigma * self.d_alpha) / (self.alpha * self.alpha)
            },
        }
    }
}
