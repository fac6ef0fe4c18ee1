//! The SDE solve driver (`ito::sde::solve`): a solve equals the hand-written loop over the
//! steppers to the bit; strong orders on geometric Brownian motion against its exact solution
//! on the same Brownian path (the drift given in Itô form and converted for the Stratonovich
//! methods); weak moments of an Ornstein–Uhlenbeck process with additive noise for every
//! method; bad configurations are typed errors.

mod common;

use ito::runtime::memory::Host;
use ito::sde::solve::{Calculus, Diffusion, Method, Sde, SdeSolver, SolveConfig};
use ito::sde::Stepper;
use ito::{Error, NoiseSource, TensorMut, TensorRef};

const PATHS: usize = 1 << 14;
const INC: NoiseSource = NoiseSource {
    seed: 5,
    stream: 2,
    offset: 0,
};

fn f32s<'a>(t: TensorRef<'a>) -> &'a [f32] {
    match t {
        TensorRef::F32(s) => s,
        _ => panic!("f32 state expected"),
    }
}

fn f32s_mut<'a>(t: TensorMut<'a>) -> &'a mut [f32] {
    match t {
        TensorMut::F32(s) => s,
        _ => panic!("f32 state expected"),
    }
}

/// dX = μX dt + σX dW (Itô), g·∂g/∂x = σ²X; or in Stratonovich form (drift μ − σ²/2).
struct Gbm {
    mu: f64,
    sigma: f64,
    calculus: Calculus,
    evals: usize,
}

impl Gbm {
    fn new(calculus: Calculus) -> Self {
        Gbm {
            mu: 0.4,
            sigma: 0.9,
            calculus,
            evals: 0,
        }
    }
}

impl Sde<Host<f32>> for Gbm {
    fn calculus(&self) -> Calculus {
        self.calculus
    }
    fn drift(&mut self, _t: f64, x: TensorRef<'_>, f: TensorMut<'_>) -> Result<(), Error> {
        self.evals += 1;
        let drift = match self.calculus {
            Calculus::Ito => self.mu,
            Calculus::Stratonovich => self.mu - 0.5 * self.sigma * self.sigma,
        };
        for (f, &x) in f32s_mut(f).iter_mut().zip(f32s(x)) {
            *f = (drift * x as f64) as f32;
        }
        Ok(())
    }
    fn diffusion(&mut self, _t: f64, x: TensorRef<'_>, g: TensorMut<'_>) -> Result<(), Error> {
        for (g, &x) in f32s_mut(g).iter_mut().zip(f32s(x)) {
            *g = (self.sigma * x as f64) as f32;
        }
        Ok(())
    }
    fn diffusion_derivative(
        &mut self,
        _t: f64,
        x: TensorRef<'_>,
        h: TensorMut<'_>,
    ) -> Result<(), Error> {
        for (h, &x) in f32s_mut(h).iter_mut().zip(f32s(x)) {
            *h = (self.sigma * self.sigma * x as f64) as f32;
        }
        Ok(())
    }
}

fn uniform(steps: usize) -> Vec<f64> {
    (0..=steps).map(|k| k as f64 / steps as f64).collect()
}

fn solve_gbm(method: Method, calculus: Calculus, steps: usize) -> Vec<f32> {
    solve_gbm_counted(method, calculus, steps).0
}

/// The result, and how many drift evaluations the driver made.
fn solve_gbm_counted(method: Method, calculus: Calculus, steps: usize) -> (Vec<f32>, usize) {
    let config = SolveConfig::new(method, Diffusion::Diagonal, INC);
    let mut solver = SdeSolver::new(Host::<f32>::new(), PATHS, config).unwrap();
    let mut x = vec![1.0f32; PATHS];
    let mut nodes = Vec::new();
    let mut sde = Gbm::new(calculus);
    solver
        .solve(
            &mut sde,
            x.as_mut_slice().into(),
            &uniform(steps),
            |k, t, _| {
                nodes.push((k, t));
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(nodes.len(), steps + 1);
    assert!(nodes.iter().enumerate().all(|(i, &(k, _))| i == k));
    (x, sde.evals)
}

fn strong_error(method: Method, steps: usize) -> f64 {
    let x = solve_gbm(method, Calculus::Ito, steps);
    let w = common::brownian_endpoint(INC, PATHS, steps);
    x.iter()
        .zip(&w)
        .map(|(&xv, &wt)| (xv as f64 - ((0.4 - 0.5 * 0.81) + 0.9 * wt).exp()).abs())
        .sum::<f64>()
        / PATHS as f64
}

#[test]
fn strong_orders_on_geometric_brownian_motion() {
    // The SDE is given in Itô form throughout: the Heun methods get its Stratonovich drift
    // by the driver's conversion.
    let steps = [16, 32, 64, 128, 256];
    for (method, order, tol) in [
        (Method::EulerMaruyama, 0.5, 0.1),
        (Method::Milstein, 1.0, 0.1),
        (Method::StochasticHeun, 1.0, 0.1),
        (Method::ReversibleHeun, 1.0, 0.1),
    ] {
        let errs: Vec<f64> = steps.iter().map(|&n| strong_error(method, n)).collect();
        let p = common::order_slope(&steps, &errs);
        eprintln!("{method:?}: strong order {p:.3}, errors {errs:?}");
        assert!(
            (p - order).abs() < tol,
            "{method:?}: strong order {p:.2} (errors {errs:?})"
        );
    }
}

#[test]
fn a_solve_is_the_hand_written_stepper_loop() {
    let steps = 20;
    let dt = 1.0 / steps as f64;
    let st = Stepper::new(Host::<f32>::new());
    let mut m = Gbm::new(Calculus::Ito);
    for method in [Method::EulerMaruyama, Method::Milstein] {
        let mut x = vec![1.0f32; PATHS];
        let (mut f, mut g, mut h) = (
            vec![0.0f32; PATHS],
            vec![0.0f32; PATHS],
            vec![0.0f32; PATHS],
        );
        for k in 0..steps {
            let t = k as f64 * dt;
            m.drift(t, x.as_slice().into(), f.as_mut_slice().into())
                .unwrap();
            m.diffusion(t, x.as_slice().into(), g.as_mut_slice().into())
                .unwrap();
            m.diffusion_derivative(t, x.as_slice().into(), h.as_mut_slice().into())
                .unwrap();
            let (xm, fr, gr) = (
                x.as_mut_slice().into(),
                f.as_slice().into(),
                g.as_slice().into(),
            );
            match method {
                Method::Milstein => st
                    .milstein(xm, fr, gr, h.as_slice().into(), dt, INC, k as u32)
                    .unwrap(),
                _ => st.euler_maruyama(xm, fr, gr, dt, INC, k as u32).unwrap(),
            }
        }
        let got = solve_gbm(method, Calculus::Ito, steps);
        assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{method:?}"
        );
    }
    // Stochastic Heun by hand on the Stratonovich form: two evaluations, one increment.
    let mut s = Gbm::new(Calculus::Stratonovich);
    let mut x = vec![1.0f32; PATHS];
    let (mut f, mut g, mut fp, mut gp, mut xp) = (
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
    );
    for k in 0..steps {
        let (t0, t1) = (k as f64 * dt, (k + 1) as f64 * dt);
        s.drift(t0, x.as_slice().into(), f.as_mut_slice().into())
            .unwrap();
        s.diffusion(t0, x.as_slice().into(), g.as_mut_slice().into())
            .unwrap();
        st.stochastic_heun_predict(
            xp.as_mut_slice().into(),
            x.as_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            dt,
            INC,
            k as u32,
        )
        .unwrap();
        s.drift(t1, xp.as_slice().into(), fp.as_mut_slice().into())
            .unwrap();
        s.diffusion(t1, xp.as_slice().into(), gp.as_mut_slice().into())
            .unwrap();
        st.stochastic_heun_correct(
            x.as_mut_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            fp.as_slice().into(),
            gp.as_slice().into(),
            dt,
            INC,
            k as u32,
        )
        .unwrap();
    }
    let (got, evals) = solve_gbm_counted(Method::StochasticHeun, Calculus::Stratonovich, steps);
    assert_eq!(evals, 2 * steps, "two evaluations per step");
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "StochasticHeun"
    );
    // Reversible Heun by hand on the Stratonovich form: ŷ₀ = y₀, one evaluation per step.
    let mut s = Gbm::new(Calculus::Stratonovich);
    let (mut y, mut yh) = (vec![1.0f32; PATHS], vec![1.0f32; PATHS]);
    let (mut f0, mut g0, mut f1, mut g1) = (
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
    );
    s.drift(0.0, yh.as_slice().into(), f0.as_mut_slice().into())
        .unwrap();
    s.diffusion(0.0, yh.as_slice().into(), g0.as_mut_slice().into())
        .unwrap();
    for k in 0..steps {
        let t1 = (k + 1) as f64 * dt;
        st.reversible_heun_forward(
            yh.as_mut_slice().into(),
            y.as_slice().into(),
            f0.as_slice().into(),
            g0.as_slice().into(),
            dt,
            INC,
            k as u32,
        )
        .unwrap();
        s.drift(t1, yh.as_slice().into(), f1.as_mut_slice().into())
            .unwrap();
        s.diffusion(t1, yh.as_slice().into(), g1.as_mut_slice().into())
            .unwrap();
        st.reversible_heun_correct(
            y.as_mut_slice().into(),
            f0.as_slice().into(),
            g0.as_slice().into(),
            f1.as_slice().into(),
            g1.as_slice().into(),
            dt,
            INC,
            k as u32,
        )
        .unwrap();
        std::mem::swap(&mut f0, &mut f1);
        std::mem::swap(&mut g0, &mut g1);
    }
    let evals_before = s.evals;
    let got = solve_gbm(Method::ReversibleHeun, Calculus::Stratonovich, steps);
    assert_eq!(
        evals_before,
        steps + 1,
        "one evaluation per step, plus the start"
    );
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

/// dX = −θX dt + s dW with a constant s: additive noise.
struct Ou {
    theta: f64,
}

impl Sde<Host<f32>> for Ou {
    fn calculus(&self) -> Calculus {
        Calculus::Ito
    }
    fn drift(&mut self, _t: f64, x: TensorRef<'_>, f: TensorMut<'_>) -> Result<(), Error> {
        for (f, &x) in f32s_mut(f).iter_mut().zip(f32s(x)) {
            *f = (-self.theta * x as f64) as f32;
        }
        Ok(())
    }
}

#[test]
fn every_method_has_the_ou_moments_with_additive_noise() {
    // X₀ = 1, θ = 1, s = 0.5, T = 1: mean e⁻¹, variance s²(1 − e⁻²)/2.
    let n = 1 << 16;
    let (mean_t, var_t) = ((-1.0f64).exp(), 0.25 * (1.0 - (-2.0f64).exp()) / 2.0);
    for method in [
        Method::EulerMaruyama,
        Method::Milstein,
        Method::StochasticHeun,
        Method::ReversibleHeun,
    ] {
        let config = SolveConfig::new(method, Diffusion::Additive(0.5), NoiseSource::new(8));
        let mut solver = SdeSolver::new(Host::<f32>::new(), n, config).unwrap();
        let mut x = vec![1.0f32; n];
        solver
            .solve(
                &mut Ou { theta: 1.0 },
                x.as_mut_slice().into(),
                &uniform(100),
                |_, _, _| Ok(()),
            )
            .unwrap();
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // 2^16 paths: 5 standard errors ≈ 0.0075 (mean), 0.004 (variance); the schemes'
        // O(Δt) bias at Δt = 0.01 is below 0.004.
        assert!(
            (mean - mean_t).abs() < 0.012 && (var - var_t).abs() < 0.008,
            "{method:?}: mean {mean} (want {mean_t}), var {var} (want {var_t})"
        );
    }
}

#[test]
fn bad_configurations_are_typed_errors() {
    let arg = |e: Error| match e {
        Error::Config { arg, .. } => arg,
        Error::Argument(a) => a.arg,
        other => panic!("{other:?}"),
    };
    let mem = Host::<f32>::new;
    let e = SdeSolver::new(
        mem(),
        8,
        SolveConfig::new(Method::EulerMaruyama, Diffusion::Additive(f64::NAN), INC),
    )
    .err()
    .unwrap();
    assert_eq!(arg(e), "diffusion");
    let mut x = vec![1.0f32; 8];
    let mut s = SdeSolver::new(
        mem(),
        8,
        SolveConfig::new(Method::Milstein, Diffusion::Diagonal, INC),
    )
    .unwrap();
    for times in [vec![0.0], vec![0.0, 1.0, 1.0], vec![0.0, f64::NAN]] {
        let e = s
            .solve(
                &mut Ou { theta: 1.0 },
                x.as_mut_slice().into(),
                &times,
                |_, _, _| Ok(()),
            )
            .unwrap_err();
        assert_eq!(arg(e), "times");
    }
    // Diagonal noise needs Sde::diffusion; Milstein needs g·∂g.
    let e = s
        .solve(
            &mut Ou { theta: 1.0 },
            x.as_mut_slice().into(),
            &[0.0, 1.0],
            |_, _, _| Ok(()),
        )
        .unwrap_err();
    assert_eq!(arg(e), "Sde::diffusion");
    let mut short = vec![1.0f32; 7];
    let e = s
        .solve(
            &mut Gbm::new(Calculus::Ito),
            short.as_mut_slice().into(),
            &[0.0, 1.0],
            |_, _, _| Ok(()),
        )
        .unwrap_err();
    assert_eq!(arg(e), "x");
    // A save callback's error ends the solve with it.
    let e = s
        .solve(
            &mut Gbm::new(Calculus::Ito),
            x.as_mut_slice().into(),
            &[0.0, 0.5, 1.0],
            |k, _, _| {
                if k == 1 {
                    Err(Error::config("save", "no", k))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
    assert_eq!(arg(e), "save");
}

/// dX = −θ(1 + t)·tanh X dt + σ(1 + t/2)(1 + ½ sin X) ∘ dW (Stratonovich), nonlinear and
/// time-dependent, with its vector–Jacobian products and parameter gradients (a VJP taken at
/// the wrong point or time would show).
struct Nonlinear {
    theta: f64,
    sigma: f64,
    grad: [f64; 2],
}

impl Sde<Host<f32>> for Nonlinear {
    fn calculus(&self) -> Calculus {
        Calculus::Stratonovich
    }
    fn drift(&mut self, t: f64, x: TensorRef<'_>, f: TensorMut<'_>) -> Result<(), Error> {
        for (f, &x) in f32s_mut(f).iter_mut().zip(f32s(x)) {
            *f = (-self.theta * (1.0 + t) * (x as f64).tanh()) as f32;
        }
        Ok(())
    }
    fn diffusion(&mut self, t: f64, x: TensorRef<'_>, g: TensorMut<'_>) -> Result<(), Error> {
        for (g, &x) in f32s_mut(g).iter_mut().zip(f32s(x)) {
            *g = (self.sigma * (1.0 + 0.5 * t) * (1.0 + 0.5 * (x as f64).sin())) as f32;
        }
        Ok(())
    }
}

impl ito::sde::solve::SdeVjp<Host<f32>> for Nonlinear {
    fn vjp(
        &mut self,
        t: f64,
        x: TensorRef<'_>,
        v_f: TensorRef<'_>,
        v_g: TensorRef<'_>,
        a: TensorMut<'_>,
    ) -> Result<(), Error> {
        let (x, vf, vg) = (f32s(x), f32s(v_f), f32s(v_g));
        for (i, a) in f32s_mut(a).iter_mut().enumerate() {
            let (xi, vfi, vgi) = (x[i] as f64, vf[i] as f64, vg[i] as f64);
            let th = xi.tanh();
            let df = -self.theta * (1.0 + t) * (1.0 - th * th);
            let dg = self.sigma * (1.0 + 0.5 * t) * 0.5 * xi.cos();
            *a = (df * vfi + dg * vgi) as f32;
            self.grad[0] += -(1.0 + t) * th * vfi;
            self.grad[1] += (1.0 + 0.5 * t) * (1.0 + 0.5 * xi.sin()) * vgi;
        }
        Ok(())
    }
}

#[test]
fn reversible_heun_backward_gives_the_gradients_of_the_discrete_solve() {
    let n = 64;
    let times = uniform(50);
    let x0: Vec<f32> = (0..n).map(|i| 1.0 + 0.01 * i as f32).collect();
    let config = SolveConfig::new(Method::ReversibleHeun, Diffusion::Diagonal, INC);
    // L = Σ y_N², by a forward solve.
    let loss = |theta: f64, sigma: f64, x0: &[f32]| -> f64 {
        let mut s = SdeSolver::new(Host::<f32>::new(), n, config).unwrap();
        let mut y = x0.to_vec();
        let mut sde = Nonlinear {
            theta,
            sigma,
            grad: [0.0; 2],
        };
        s.solve(&mut sde, y.as_mut_slice().into(), &times, |_, _, _| Ok(()))
            .unwrap();
        y.iter().map(|&v| (v as f64).powi(2)).sum()
    };
    let (theta, sigma) = (0.7, 0.4);
    let mut s = SdeSolver::new(Host::<f32>::new(), n, config).unwrap();
    let mut sde = Nonlinear {
        theta,
        sigma,
        grad: [0.0; 2],
    };
    let mut y = x0.clone();
    s.solve(&mut sde, y.as_mut_slice().into(), &times, |_, _, _| Ok(()))
        .unwrap();
    let mut a: Vec<f32> = y.iter().map(|&v| 2.0 * v).collect();
    s.reversible_heun_backward(&mut sde, y.as_mut_slice().into(), a.as_mut_slice().into())
        .unwrap();
    // The reverse pass reconstructs y₀ to rounding.
    let back = y
        .iter()
        .zip(&x0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(back < 1e-4, "reconstructed y0 off by {back}");
    // Central differences of the forward solve (the same increments).
    let eps = 1e-2;
    let fd_theta = (loss(theta + eps, sigma, &x0) - loss(theta - eps, sigma, &x0)) / (2.0 * eps);
    let fd_sigma = (loss(theta, sigma + eps, &x0) - loss(theta, sigma - eps, &x0)) / (2.0 * eps);
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-3);
    eprintln!(
        "∂L/∂θ {} (differences {fd_theta}), ∂L/∂σ {} ({fd_sigma})",
        sde.grad[0], sde.grad[1]
    );
    assert!(
        rel(sde.grad[0], fd_theta) < 2e-3 && rel(sde.grad[1], fd_sigma) < 2e-3,
        "∂L/∂θ {} vs {fd_theta}, ∂L/∂σ {} vs {fd_sigma}",
        sde.grad[0],
        sde.grad[1]
    );
    for j in [0usize, 17, 63] {
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[j] += 0.01;
        down[j] -= 0.01;
        let fd = (loss(theta, sigma, &up) - loss(theta, sigma, &down)) / 0.02;
        assert!(rel(a[j] as f64, fd) < 2e-3, "∂L/∂y0[{j}] {} vs {fd}", a[j]);
    }
    // Only right after a reversible-Heun solve.
    let e = s
        .reversible_heun_backward(&mut sde, y.as_mut_slice().into(), a.as_mut_slice().into())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config {
                arg: "reversible_heun_backward",
                ..
            }
        ),
        "{e:?}"
    );
}
