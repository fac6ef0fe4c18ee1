//! SDE steppers: the `milstein` kernel equals its definition on every backend; strong order ½
//! (Euler–Maruyama) and 1 (Milstein, stochastic Heun) on geometric Brownian motion against
//! its exact solution driven by the same Brownian path; weak moments of an OU process;
//! reversible Heun's reverse step recovers the forward state to rounding; scalar noise is
//! shared within a sample; bad arguments are typed errors.

mod common;

use common::{first_difference, Buf, DTYPES};
use ito::sde;
use ito::{Backend, Error, Noise, NoiseKey, NoiseSource, NoiseUse};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn milstein_is_its_definition_on_every_backend(
        len in prop_oneof![0usize..70, Just(1021usize), 2000usize..2100],
        offset in prop_oneof![0u64..1000, (u64::MAX - 5000)..(u64::MAX - 3000)],
        seed in any::<u64>(),
        dt in 0.0f32..2.0,
        dtypes in (0usize..3, 0usize..3, 0usize..3, 0usize..3),
        vals in prop::collection::vec(-5.0f32..5.0, 4),
    ) {
        let (dx, df, dg, dh) = (DTYPES[dtypes.0], DTYPES[dtypes.1], DTYPES[dtypes.2], DTYPES[dtypes.3]);
        let mk = |d, k: usize| -> Buf {
            let v: Vec<f32> = (0..len).map(|i| vals[k] * (1.0 + (i % 7) as f32 / 3.0)).collect();
            Buf::from_f32s(d, &v)
        };
        let (x0, f, g, h) = (mk(dx, 0), mk(df, 1), mk(dg, 2), mk(dh, 3));
        let key = NoiseKey { seed, stream: 3, step: 9 };
        let (xs, fs, gs, hs) = (x0.to_f32s(), f.to_f32s(), g.to_f32s(), h.to_f32s());
        let (sq, half) = (dt.sqrt(), 0.5 * dt);
        let expected: Vec<f32> = (0..len)
            .map(|i| {
                let z = key.normal(offset + i as u64);
                let s = z.mul_add(z, -1.0);
                let acc = dt.mul_add(fs[i], xs[i]);
                let acc = (sq * z).mul_add(gs[i], acc);
                (half * s).mul_add(hs[i], acc)
            })
            .collect();
        let expected = Buf::from_f32s(dx, &expected);
        for b in ito::available_backends().into_iter().filter(|b| *b != Backend::Cuda) {
            let mut x = x0.clone();
            b.milstein(x.as_mut(), f.as_ref(), g.as_ref(), h.as_ref(), dt, Noise { key, offset }).unwrap();
            prop_assert_eq!(first_difference(&x, &expected), None, "{}", b);
        }
    }
}

const PATHS: usize = 1 << 14;
const INC: NoiseSource = NoiseSource {
    seed: 5,
    stream: 2,
    offset: 0,
};

#[derive(Clone, Copy, Debug)]
enum Method {
    EulerMaruyama,
    Milstein,
    StochasticHeun,
}

/// Mean |X_T − exact| for GBM dX = μX dt + σX dW (X₀ = 1, T = 1) with `steps` steps.
fn gbm_strong_error(method: Method, steps: usize) -> f64 {
    let (mu, sigma) = (0.4f64, 0.9f64);
    let dt = 1.0 / steps as f64;
    let mut x = vec![1.0f32; PATHS];
    let mut xp = vec![0.0f32; PATHS];
    let (mut f, mut g, mut h) = (
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
        vec![0.0f32; PATHS],
    );
    let (mut fp, mut gp) = (vec![0.0f32; PATHS], vec![0.0f32; PATHS]);
    // Stratonovich drift for Heun: μ − σ²/2.
    let drift = match method {
        Method::StochasticHeun => mu - 0.5 * sigma * sigma,
        _ => mu,
    };
    for k in 0..steps {
        for i in 0..PATHS {
            f[i] = (drift * x[i] as f64) as f32;
            g[i] = (sigma * x[i] as f64) as f32;
            h[i] = (sigma * sigma * x[i] as f64) as f32;
        }
        let step = k as u32;
        match method {
            Method::EulerMaruyama => sde::euler_maruyama(
                x.as_mut_slice().into(),
                f.as_slice().into(),
                g.as_slice().into(),
                dt,
                INC,
                step,
            )
            .unwrap(),
            Method::Milstein => sde::milstein(
                x.as_mut_slice().into(),
                f.as_slice().into(),
                g.as_slice().into(),
                h.as_slice().into(),
                dt,
                INC,
                step,
            )
            .unwrap(),
            Method::StochasticHeun => {
                sde::stochastic_heun_predict(
                    xp.as_mut_slice().into(),
                    x.as_slice().into(),
                    f.as_slice().into(),
                    g.as_slice().into(),
                    dt,
                    INC,
                    step,
                )
                .unwrap();
                for i in 0..PATHS {
                    fp[i] = (drift * xp[i] as f64) as f32;
                    gp[i] = (sigma * xp[i] as f64) as f32;
                }
                sde::stochastic_heun_correct(
                    x.as_mut_slice().into(),
                    f.as_slice().into(),
                    g.as_slice().into(),
                    fp.as_slice().into(),
                    gp.as_slice().into(),
                    dt,
                    INC,
                    step,
                )
                .unwrap();
            }
        }
    }
    let w = common::brownian_endpoint(INC, PATHS, steps);
    x.iter()
        .zip(&w)
        .map(|(&xv, &wt)| (xv as f64 - ((mu - 0.5 * sigma * sigma) + sigma * wt).exp()).abs())
        .sum::<f64>()
        / PATHS as f64
}

#[test]
fn strong_orders_on_geometric_brownian_motion() {
    let steps = [16, 32, 64, 128, 256];
    for (method, order) in [
        (Method::EulerMaruyama, 0.5),
        (Method::Milstein, 1.0),
        (Method::StochasticHeun, 1.0),
    ] {
        let errs: Vec<f64> = steps.iter().map(|&n| gbm_strong_error(method, n)).collect();
        let p = common::order_slope(&steps, &errs);
        eprintln!("{method:?}: strong order {p:.3}, errors {errs:?}");
        assert!(
            (p - order).abs() < 0.15,
            "{method:?}: strong order {p:.2} (errors {errs:?})"
        );
    }
}

#[test]
fn euler_maruyama_weak_moments_of_an_ou_process() {
    // dX = −θX dt + s dW, X₀ = 1: E X_T = e^{−θT}, Var X_T = s²(1 − e^{−2θT})/(2θ).
    let (theta, s, steps) = (1.5f64, 0.7f64, 200usize);
    let n = 1 << 16;
    let dt = 1.0 / steps as f64;
    let mut x = vec![1.0f32; n];
    let mut f = vec![0.0f32; n];
    let g = vec![s as f32; n];
    for k in 0..steps {
        for (fv, &xv) in f.iter_mut().zip(&x) {
            *fv = (-theta * xv as f64) as f32;
        }
        let inc = NoiseSource { offset: 0, ..INC };
        sde::euler_maruyama(
            x.as_mut_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            dt,
            inc,
            k as u32,
        )
        .unwrap();
    }
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    let (em, ev) = (
        (-theta).exp(),
        s * s * (1.0 - (-2.0 * theta).exp()) / (2.0 * theta),
    );
    // 5 standard errors plus EM's O(Δt) weak bias.
    assert!(
        (mean - em).abs() < 5.0 * (ev / n as f64).sqrt() + 2.0 * dt,
        "mean {mean} vs {em}"
    );
    assert!(
        (var - ev).abs() < 5.0 * ev * (2.0 / n as f64).sqrt() + 2.0 * dt,
        "var {var} vs {ev}"
    );
}

#[test]
fn reversible_heun_reverse_recovers_the_forward_state() {
    let n = 4099;
    let steps = 50;
    let dt = 0.02;
    let f_of = |y: &[f32]| -> Vec<f32> { y.iter().map(|v| -0.8 * v + (2.0 * v).sin()).collect() };
    let g_of = |y: &[f32]| -> Vec<f32> { y.iter().map(|v| 0.3 + 0.2 * v.cos()).collect() };
    let y0: Vec<f32> = (0..n).map(|i| (i % 13) as f32 / 6.0 - 1.0).collect();
    let (mut y, mut yh) = (y0.clone(), y0.clone());
    for k in 0..steps {
        let (f0, g0) = (f_of(&yh), g_of(&yh));
        sde::reversible_heun_forward(
            yh.as_mut_slice().into(),
            y.as_slice().into(),
            f0.as_slice().into(),
            g0.as_slice().into(),
            dt,
            INC,
            k,
        )
        .unwrap();
        let (f1, g1) = (f_of(&yh), g_of(&yh));
        sde::reversible_heun_correct(
            y.as_mut_slice().into(),
            f0.as_slice().into(),
            g0.as_slice().into(),
            f1.as_slice().into(),
            g1.as_slice().into(),
            dt,
            INC,
            k,
        )
        .unwrap();
    }
    let moved = y
        .iter()
        .zip(&y0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(moved > 0.1, "the forward run must go somewhere");
    for k in (0..steps).rev() {
        let (f1, g1) = (f_of(&yh), g_of(&yh));
        sde::reversible_heun_reverse(
            yh.as_mut_slice().into(),
            y.as_slice().into(),
            f1.as_slice().into(),
            g1.as_slice().into(),
            dt,
            INC,
            k,
        )
        .unwrap();
        let (f0, g0) = (f_of(&yh), g_of(&yh));
        sde::reversible_heun_correct(
            y.as_mut_slice().into(),
            f0.as_slice().into(),
            g0.as_slice().into(),
            f1.as_slice().into(),
            g1.as_slice().into(),
            -dt,
            INC,
            k,
        )
        .unwrap();
    }
    let err_y = y
        .iter()
        .zip(&y0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let err_h = yh
        .iter()
        .zip(&y0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // 100 steps of f32 rounding on O(1) values.
    assert!(
        err_y < 1e-4 && err_h < 1e-4,
        "reverse off by {err_y}, {err_h}"
    );
}

#[test]
fn scalar_noise_is_shared_within_a_sample() {
    let (samples, len) = (4096, 8);
    let n = samples * len;
    let mut x = vec![0.0f32; n];
    let f = vec![0.0f32; n];
    let g = vec![1.0f32; n];
    let dt = 0.25;
    let inc = NoiseSource {
        offset: len as u64 * 12_345,
        ..INC
    };
    sde::euler_maruyama_scalar_noise(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        dt,
        inc,
        0,
        len,
    )
    .unwrap();
    // Sample b's increment is √Δt·z with z the source's per-sample normal at element
    // offset/len + b, rounded once (a zero increment is an absent term: +0 whatever its sign).
    let at = inc
        .with_offset(inc.offset / len as u64)
        .address(NoiseUse::ScalarIncrement, 0);
    let (key, first) = (at.key, at.offset);
    for (b, s) in x.chunks(len).enumerate() {
        let dw = (dt.sqrt() * f64::from(key.normal(first + b as u64))) as f32;
        assert!(s.iter().all(|&v| v == dw), "sample {b}: {} vs {dw}", s[0]);
    }
    let firsts: Vec<f64> = x.chunks(len).map(|s| s[0] as f64).collect();
    let var = firsts.iter().map(|v| v * v).sum::<f64>() / samples as f64;
    assert!(
        (var / dt - 1.0).abs() < 5.0 * (2.0 / samples as f64).sqrt(),
        "{var}"
    );
}

#[test]
fn bad_arguments_are_typed_errors() {
    let mut x = vec![0.0f32; 8];
    let (f, g) = (vec![0.0f32; 8], vec![0.0f32; 8]);
    let short = vec![0.0f32; 7];
    let cfg = |e: Error| match e {
        Error::Config { arg, .. } => arg,
        other => panic!("{other:?}"),
    };
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        -1.0,
        INC,
        0,
    );
    assert_eq!(cfg(e.unwrap_err()), "dt");
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        short.as_slice().into(),
        0.1,
        INC,
        0,
    );
    assert!(matches!(e, Err(Error::Argument(_))));
    let e = sde::milstein(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        short.as_slice().into(),
        0.1,
        INC,
        0,
    );
    assert!(matches!(e, Err(Error::Argument(_))));
    let e = sde::milstein(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        g.as_slice().into(),
        f64::NAN,
        INC,
        0,
    );
    assert_eq!(cfg(e.unwrap_err()), "dt");
    let e = sde::euler_maruyama_scalar_noise(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        0.1,
        INC,
        0,
        3,
    );
    assert_eq!(cfg(e.unwrap_err()), "sample_len");
    // Global indices past 2^58 (the elements one noise use can address).
    let far = NoiseSource {
        offset: u64::MAX - 3,
        ..INC
    };
    let e = sde::euler_maruyama_scalar_noise(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        0.1,
        far,
        0,
        1,
    );
    assert_eq!(cfg(e.unwrap_err()), "noise.offset");
    let e = sde::reversible_heun_forward(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        f64::INFINITY,
        INC,
        0,
    );
    assert_eq!(cfg(e.unwrap_err()), "dt");
}
