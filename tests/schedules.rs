//! Noise schedules and grids against independent formulas: t(λ(t)) = t for every schedule,
//! the derivatives against finite differences, VP schedules variance-preserving, the linear
//! VP schedule against its integral form, the discrete schedule on its table, and grids
//! spaced as their names say.

use std::sync::Arc;

use ito::diffusion::schedule::Coeffs;
use ito::{DiscreteVp, Grid, Schedule};
use proptest::prelude::*;

fn schedules() -> Vec<Schedule> {
    let betas: Vec<f64> = ito::diffusion::schedule::linspace(1e-4, 0.02, 1000).unwrap();
    vec![
        Schedule::vp_linear(0.1, 20.0).unwrap(),
        Schedule::vp_cosine(0.008).unwrap(),
        Schedule::VpDiscrete(DiscreteVp::from_betas(&betas).unwrap()),
        Schedule::ve(0.01, 50.0).unwrap(),
        Schedule::edm(0.002, 80.0).unwrap(),
        Schedule::Flow,
        Schedule::mean_reverting(2.0, 1.0, 3.0).unwrap(),
        Schedule::interpolant(
            // A trigonometric interpolant: α = cos(πt/2), σ = sin(πt/2).
            Arc::new(|t: f64| {
                let k = std::f64::consts::FRAC_PI_2;
                Coeffs {
                    alpha: (k * t).cos(),
                    sigma: (k * t).sin(),
                    d_alpha: -k * (k * t).sin(),
                    d_sigma: k * (k * t).cos(),
                }
            }),
            0.01,
            0.99,
        )
        .unwrap(),
    ]
}

/// A time at fraction `u` of the schedule's domain, kept off the degenerate ends.
fn time_at(s: &Schedule, u: f64) -> f64 {
    let (lo, hi) = s.domain();
    let (lo, hi) = (lo.max(1e-3), hi.min(1.0 - 1e-3).max(lo.max(1e-3)));
    let hi = match s {
        Schedule::Edm { sigma_max, .. } => *sigma_max,
        Schedule::MeanReverting { t_max, .. } => *t_max,
        _ => hi,
    };
    lo + u * (hi - lo)
}

proptest! {
    #[test]
    fn lambda_inverts_and_derivatives_match_finite_differences(u in 0.01f64..0.99) {
        for s in schedules() {
            let t = time_at(&s, u);
            let l = s.lambda(t).unwrap();
            let back = s.t_of_lambda(l).unwrap();
            prop_assert!((back - t).abs() <= 1e-9 * t.abs().max(1.0), "{s:?}: t {t} → λ {l} → {back}");
            // Central differences (skip the discrete schedule's kinks by staying inside a cell).
            let c = s.coeffs(t).unwrap();
            let h = 1e-6 * t.abs().max(1e-3);
            let (a, b) = (s.coeffs(t - h).unwrap(), s.coeffs(t + h).unwrap());
            let (da, ds) = ((b.alpha - a.alpha) / (2.0 * h), (b.sigma - a.sigma) / (2.0 * h));
            if !matches!(s, Schedule::VpDiscrete(_)) {
                prop_assert!((da - c.d_alpha).abs() <= 1e-5 * (1.0 + c.d_alpha.abs()), "{s:?} dα at {t}: {da} vs {}", c.d_alpha);
                prop_assert!((ds - c.d_sigma).abs() <= 1e-5 * (1.0 + c.d_sigma.abs()), "{s:?} dσ at {t}: {ds} vs {}", c.d_sigma);
            }
            if matches!(s, Schedule::VpLinear { .. } | Schedule::VpCosine { .. } | Schedule::VpDiscrete(_)) {
                prop_assert!((c.alpha * c.alpha + c.sigma * c.sigma - 1.0).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn vp_linear_equals_its_integral_form() {
    // ᾱ(t) = exp(−∫₀ᵗ β) with β linear from 0.1 to 20.
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    for i in 1..=100 {
        let t = i as f64 / 100.0;
        let integral = 0.1 * t + 0.5 * (20.0 - 0.1) * t * t;
        let alpha = (-0.5 * integral).exp();
        let c = s.coeffs(t).unwrap();
        assert!((c.alpha - alpha).abs() < 1e-14, "t {t}");
    }
}

#[test]
fn discrete_schedule_sits_on_its_table() {
    let betas: Vec<f64> = ito::diffusion::schedule::linspace(1e-4, 0.02, 1000).unwrap();
    let d = DiscreteVp::from_betas(&betas).unwrap();
    let mut abar = 1.0;
    for (k, b) in betas.iter().enumerate() {
        abar *= 1.0 - b;
        assert!((d.alpha_cumprod(k).unwrap() - abar).abs() < 1e-15);
        let s = Schedule::VpDiscrete(d.clone());
        let c = s.coeffs(d.time_of_step(k as f64)).unwrap();
        assert!((c.alpha - abar.sqrt()).abs() < 1e-12, "step {k}");
    }
}

#[test]
fn grids_are_spaced_as_named() {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let g = Grid::uniform_lambda(&s, 1.0, 1e-3, 17).unwrap();
    let l: Vec<f64> = g.nodes().iter().map(|n| n.lambda()).collect();
    let step = (l[17] - l[0]) / 17.0;
    for w in l.windows(2) {
        assert!((w[1] - w[0] - step).abs() < 1e-9);
    }
    let g = Grid::uniform_t(&s, 1.0, 1e-3, 9).unwrap();
    for w in g.nodes().windows(2) {
        assert!((w[0].t - w[1].t - (1.0 - 1e-3) / 9.0).abs() < 1e-12);
    }
    let g = Grid::quadratic(&s, 1.0, 1e-3, 9).unwrap();
    for w in g.nodes().windows(2) {
        assert!((w[0].t.sqrt() - w[1].t.sqrt() - (1.0 - 1e-3f64.sqrt()) / 9.0).abs() < 1e-12);
    }
    let edm = Schedule::edm(0.002, 80.0).unwrap();
    let g = Grid::karras(&edm, 0.002, 80.0, 7.0, 18).unwrap();
    let k = ito::diffusion::grid::karras_sigmas(0.002, 80.0, 7.0, 19).unwrap();
    for (n, s) in g.nodes().iter().zip(&k) {
        assert!((n.sigma - s).abs() < 1e-9 * s);
    }
    // The ends are the requested levels (EDM's 18 steps from 80 to 0.002).
    assert_eq!(k[0], 80.0);
    assert!((k[18] - 0.002).abs() < 1e-15);
}
