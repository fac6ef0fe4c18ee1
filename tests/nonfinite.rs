//! Non-finite results are caught in the same pass: every kernel that stores a tensor reports
//! whether it stored a value that is not finite (NaN, ±∞, or past the storage type's range),
//! the report equals a scan of what it wrote on every backend, and the samplers, SDE steppers
//! and Langevin drivers turn it into a typed error naming the step, the buffer and the first
//! bad element — or, when asked, keep IEEE propagation.

#[path = "common/cases.rs"]
mod cases;
mod common;

use std::sync::Arc;

use cases::{dtype, length, lincomb_case, noise, value};
use common::Buf;
use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
use ito::runtime::{first_nonfinite, NonFiniteValue, OnNonFinite};
use ito::{
    available_backends, sde, Backend, Dtype, Error, Grid, NoiseSource, Param, Plan, PlanOptions,
    Sampler, Schedule, Solver, TensorRef,
};
use proptest::prelude::*;

fn cpu_backends() -> Vec<Backend> {
    available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
        .collect()
}

/// Whether `t` holds a value that is not finite (the definition the report must equal).
fn scanned(t: TensorRef<'_>) -> bool {
    first_nonfinite(t).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// lincomb's report is exactly "y, or y2 where written, holds a non-finite value" (the
    /// values include NaN, ±∞, 3e38 and ±7e4, which overflow f16), on every backend. (y2 is
    /// written only when some of its coefficients are non-zero.)
    #[test]
    fn lincomb_reports_exactly_what_it_stored(case in lincomb_case()) {
        let n = case.y.values.len() - case.y.start;
        let lens = vec![n; case.inputs.len()];
        let writes_y2 = ito_kernels::lincomb::LincombParams::new(
            n,
            &lens,
            case.y2.as_ref().map(|_| n),
            &case.coefs,
            case.noise,
        )
        .unwrap()
        .writes_y2;
        for b in cpu_backends() {
            let mut report = None;
            let (y, y2) = case.run(|y, y2, inputs, coefs, noise| {
                report = Some(b.lincomb(y, y2, inputs, coefs, noise).expect("valid case"));
            });
            let y2_start = case.y2.as_ref().map_or(0, |t| t.start);
            let expect = scanned(y.slice(case.y.start, n))
                || (writes_y2 && y2.as_ref().is_some_and(|t| scanned(t.slice(y2_start, n))));
            prop_assert_eq!(report.unwrap().nonfinite, expect, "{}", b);
        }
    }

    #[test]
    fn fill_normal_and_milstein_report_what_they_stored(
        n in length(), d in dtype(), nz in noise(),
        scale in prop_oneof![Just(1.0f32), Just(2.0e4), Just(1.0e38), Just(3.0e38)],
        xs in prop::collection::vec(value(), 1200), dt in prop_oneof![Just(0.01f32), Just(1.0e30)],
    ) {
        for b in cpu_backends() {
            let mut y = Buf::filled(d, n, 0.0);
            let w = b.fill_normal(y.as_mut(), 0.0, scale, nz).unwrap();
            prop_assert_eq!(w.nonfinite, scanned(y.as_ref()), "fill_normal on {}", b);
            let mut x = Buf::from_f32s(d, &xs[..n]);
            let f = Buf::from_f32s(Dtype::F32, &xs[xs.len() - n..]);
            let w = b.milstein(x.as_mut(), f.as_ref(), f.as_ref(), f.as_ref(), dt, nz).unwrap();
            prop_assert_eq!(w.nonfinite, scanned(x.as_ref()), "milstein on {}", b);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// brownian_tree and ou_bank report exactly what they stored, on every backend (weights
    /// and states that overflow, NaN and ±∞ among the values).
    #[test]
    fn brownian_tree_and_ou_bank_report_what_they_stored(
        n in length(), d in dtype(), nz in noise(), k in 1usize..4,
        coefs in prop::collection::vec(prop_oneof![Just(1.0f32), Just(3.0e37), Just(2.0e4), -2.0f32..2.0], 3),
        xs in prop::collection::vec(value(), 4 * 1200),
    ) {
        let terms: Vec<ito::sde::brownian::Term> = coefs
            .iter()
            .enumerate()
            .map(|(j, &coef)| ito::sde::brownian::Term { stream: j as u32, step: 7, coef })
            .collect();
        let mut c = ito_kernels::ou_bank::OuBankCoefs { sqrt_h: 0.5, ..Default::default() };
        for j in 0..k {
            (c.decay[j], c.a[j], c.b[j], c.omega[j]) = (0.9, 1.0, coefs[j % 3], 1.0);
        }
        for b in cpu_backends() {
            let mut y = Buf::filled(d, n, 0.0);
            // A key the kernel refuses (a stream or offset past its range) reports nothing.
            let Ok(w) = b.brownian_tree(y.as_mut(), nz.key.seed, &terms, nz.offset) else {
                continue;
            };
            prop_assert_eq!(w.nonfinite, scanned(y.as_ref()), "brownian_tree on {}", b);
            let mut state = Buf::from_f32s(d, &xs[..k * n]);
            let mut out = Buf::filled(Dtype::F32, n, 0.0);
            let Ok(w) = b.ou_bank(state.as_mut(), k, Some(out.as_mut()), &c, nz.key, nz.offset) else {
                continue;
            };
            prop_assert_eq!(
                w.nonfinite,
                scanned(state.as_ref()) || scanned(out.as_ref()),
                "ou_bank on {}", b
            );
        }
    }
}

/// The f16 boundary: 65504 is the largest finite f16 and 65520 the first value that rounds to
/// ∞ (a tie, to even); the report follows the stored element, not the f32 value.
#[test]
fn the_report_follows_the_storage_type() {
    for b in cpu_backends() {
        for (v, bad_f16, bad_bf16) in [
            (65504.0f32, false, false),
            (65519.99, false, false),
            (65520.0, true, false),
            (3.38e38, true, false),
            (3.4e38, true, true),
            (f32::MAX, true, true),
        ] {
            let mut c = ito::LincombCoefs::default();
            c.inputs[0] = 1.0;
            let input = vec![v; 37];
            for (d, bad) in [
                (Dtype::F32, false),
                (Dtype::F16, bad_f16),
                (Dtype::Bf16, bad_bf16),
            ] {
                let mut y = Buf::filled(d, 37, 0.0);
                let w = b
                    .lincomb(y.as_mut(), None, &[input.as_slice().into()], &c, None)
                    .unwrap();
                assert_eq!(w.nonfinite, bad, "{b}: {v} stored as {d:?}");
                assert_eq!(scanned(y.as_ref()), bad, "{b}: {v} stored as {d:?}");
            }
        }
    }
}

fn vp_plan(solver: &str) -> Plan {
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&s, 1.0, 1e-3, 6).unwrap();
    Plan::new(
        solver.parse().unwrap(),
        grid,
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap()
}

/// A NaN from the model passed through the sampler as Ok: now the step that wrote it is an
/// error naming the grid step, the buffer and the element — the same on every backend.
#[test]
fn a_nan_model_output_is_an_error_naming_step_buffer_and_element() {
    for solver in ["dpmpp-2m", "euler-a", "unipc-2", "heun"] {
        let mut errors = Vec::new();
        for b in cpu_backends() {
            let mut s = Sampler::<f32>::new(vp_plan(solver), 64, NoiseSource::new(4))
                .unwrap()
                .with_backend(b)
                .unwrap();
            s.init_noise().unwrap();
            let mut out = vec![0.1f32; 64];
            let mut calls = 0;
            let err = loop {
                let Some(_) = s.next_eval().unwrap() else {
                    panic!("{solver}: the run ended without an error");
                };
                if calls == 2 {
                    out[37] = f32::NAN;
                }
                calls += 1;
                if let Err(e) = s.advance(out.as_slice().into()) {
                    break e;
                }
            };
            match &err {
                Error::NonFinite {
                    step: Some(_),
                    index: 37,
                    value: NonFiniteValue::Nan,
                    buffer,
                } => assert!(
                    ["x", "stage", "history"].contains(buffer),
                    "{solver}: {err}"
                ),
                other => panic!("{solver} on {b}: {other:?}"),
            }
            assert!(err.to_string().contains("element 37"), "{err}");
            errors.push(err);
        }
        assert!(
            errors.windows(2).all(|w| w[0] == w[1]),
            "{solver}: {errors:?}"
        );
    }
    // With IEEE propagation the run goes on and the NaN reaches the state.
    let mut s = Sampler::<f32>::new(vp_plan("dpmpp-2m"), 64, NoiseSource::new(4))
        .unwrap()
        .with_nonfinite(OnNonFinite::Propagate);
    s.init_noise().unwrap();
    let mut out = vec![0.1f32; 64];
    out[5] = f32::NAN;
    while s.next_eval().unwrap().is_some() {
        s.advance(out.as_slice().into()).unwrap();
    }
    assert!(s.state()[5].is_nan() && s.state()[6].is_finite());
}

/// The interpolant SDE with a diffusion of 1e8 returned NaN as Ok.
#[test]
fn an_overflowing_diffusion_is_an_error() {
    let flow = Schedule::Flow;
    let grid = Grid::uniform_t(&flow, 0.999, 1e-3, 8).unwrap();
    let solver = Solver::InterpolantSde {
        diffusion: Arc::new(|_| 1e8),
    };
    let plan = Plan::new(solver, grid, Param::Velocity, PlanOptions::default()).unwrap();
    let mut s = Sampler::<f32>::new(plan, 16, NoiseSource::new(2)).unwrap();
    s.init_noise().unwrap();
    let out = vec![0.5f32; 16];
    let mut err = None;
    while s.next_eval().unwrap().is_some() {
        if let Err(e) = s.advance(out.as_slice().into()) {
            err = Some(e);
            break;
        }
    }
    assert!(
        matches!(err, Some(Error::NonFinite { step: Some(_), .. })),
        "{err:?}"
    );
}

/// A NaN drift passed through the SDE steppers as Ok.
#[test]
fn a_nan_drift_is_an_error_from_every_stepper() {
    let noise = NoiseSource::new(8);
    let (mut f, g) = (vec![0.5f32; 40], vec![1.0f32; 40]);
    f[21] = f32::NAN;
    let mut x = vec![0.0f32; 40];
    let e = sde::euler_maruyama(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        0.1,
        noise,
        7,
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::NonFinite {
            step: Some(7),
            buffer: "x",
            index: 21,
            value: NonFiniteValue::Nan
        }
    );
    assert!(x[21].is_nan(), "the pass has written its output");
    let mut x = vec![0.0f32; 40];
    let e = sde::milstein(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        g.as_slice().into(),
        0.1,
        noise,
        3,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                step: Some(3),
                index: 21,
                ..
            }
        ),
        "{e:?}"
    );
    let mut y_hat = vec![0.0f32; 40];
    let e = sde::reversible_heun_forward(
        y_hat.as_mut_slice().into(),
        g.as_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        0.1,
        noise,
        2,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                buffer: "y_hat",
                index: 21,
                ..
            }
        ),
        "{e:?}"
    );
    let mut x = vec![0.0f32; 40];
    let e = sde::euler_maruyama_scalar_noise(
        x.as_mut_slice().into(),
        f.as_slice().into(),
        g.as_slice().into(),
        0.1,
        noise,
        1,
        8,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                step: Some(1),
                index: 21,
                ..
            }
        ),
        "{e:?}"
    );
}

/// Langevin checked only its step size. An infinite score now stops the PC sampler at the
/// predictor that wrote it (point 1's predictor: stage 1·2 + 1; at the corrector the batch
/// mean makes ε = 0 and the zero term is skipped), and a corrector step whose finite ε
/// overflows an f16 state is an error after the write.
#[test]
fn langevin_results_that_are_not_finite_are_errors() {
    let mut pc = PcSampler::new(PcConfig {
        schedule: Schedule::vp_linear(0.1, 20.0).unwrap(),
        steps: 30,
        t_end: 1e-3,
        predictor: Predictor::ReverseDiffusion,
        corrector: Some(Corrector {
            snr: 0.16,
            alpha: 1.0,
            norms: NormMode::BatchMean,
        }),
        corrector_steps: 1,
        len: 64,
        sample_len: 16,
        noise: NoiseSource::new(3),
    })
    .unwrap();
    let mut score = vec![0f32; 64];
    let mut stage = 0;
    let err = loop {
        assert!(pc.next_eval().is_some(), "the run ended without an error");
        for (s, &x) in score.iter_mut().zip(pc.state()) {
            *s = -x;
        }
        if stage == 3 {
            score[50] = f32::INFINITY;
        }
        stage += 1;
        if let Err(e) = pc.advance(score.as_slice().into()) {
            break e;
        }
    };
    assert!(
        matches!(
            err,
            Error::NonFinite {
                step: Some(3),
                buffer: "x",
                ..
            }
        ),
        "{err:?}"
    );
    // The stage counts as taken: the next call is point 2's corrector.
    assert_eq!(pc.next_eval().map(|e| (e.index, e.stage)), Some((2, 0)));

    // The corrector: x = 65000 in f16 and a large signal-to-noise ratio, ε ≈ 2·10⁶.
    let corrector = Corrector {
        snr: 1000.0,
        alpha: 1.0,
        norms: NormMode::PerSample,
    };
    for b in cpu_backends() {
        let mut x = Buf::filled(Dtype::F16, 32, 65000.0);
        let s = vec![1.0f32; 32];
        let at = NoiseSource::new(1).address(ito::NoiseUse::Corrector, 0);
        let err = ito::diffusion::langevin::langevin_step(
            b,
            x.as_mut(),
            s.as_slice().into(),
            32,
            &corrector,
            at,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFinite {
                    step: None,
                    buffer: "x",
                    index: 0,
                    value: NonFiniteValue::PlusInfinity
                }
            ),
            "{b}: {err:?}"
        );
    }
}

/// A thresholded step whose data prediction overflows reports `Error::NonFinite` after the
/// whole step: the thresholding and the update ran, and the plan moved on with its buffers.
#[test]
fn a_thresholded_step_finishes_before_it_reports() {
    let n = 64;
    let s = Schedule::vp_linear(0.1, 20.0).unwrap();
    let opts = PlanOptions {
        thresholding: Some(ito::Thresholding {
            ratio: 0.9,
            max_value: 1.5,
            sample_len: n,
        }),
        ..PlanOptions::default()
    };
    let plan = Plan::new(
        "dpmpp-2m".parse().unwrap(),
        Grid::uniform_lambda(&s, 1.0, 1e-3, 4).unwrap(),
        Param::Eps,
        opts,
    )
    .unwrap();
    let mut sampler = Sampler::<f32>::new(plan, n, NoiseSource::new(2)).unwrap();
    sampler.init_noise().unwrap();
    let before: Vec<u32> = sampler.state().iter().map(|v| v.to_bits()).collect();
    sampler.next_eval().unwrap();
    let huge = vec![f32::MAX; n];
    let err = sampler.advance(huge.as_slice().into()).unwrap_err();
    assert!(err.is_nonfinite(), "{err}");
    // The update was applied (the state changed) and the plan stands at the next step.
    let after: Vec<u32> = sampler.state().iter().map(|v| v.to_bits()).collect();
    assert_ne!(before, after);
    assert_eq!(sampler.plan().step(), 1);
    // The run goes on from there.
    let finite = vec![0.0f32; n];
    assert!(sampler.next_eval().unwrap().is_some());
    let _ = sampler.advance(finite.as_slice().into());
    assert_eq!(sampler.plan().step(), 2);
}
