//! (d) Bad input is an error, never a panic: wrong timesteps, dtypes, shapes, a step past the
//! end, a non-finite model output, and configurations ito (or candle) cannot run.

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use candle_transformers::models::stable_diffusion::schedulers::{
    BetaSchedule, Scheduler, SchedulerConfig, TimestepSpacing,
};
use candle_transformers::models::stable_diffusion::uni_pc::{
    CorrectorConfiguration, KarrasSigmaSchedule, SigmaSchedule, UniPCSchedulerConfig,
};
use ito_candle::{ito_error, ItoSchedulerConfig, SigmaCurve, SigmaTraining, Training};

use crate::common::*;

fn scheduler() -> Box<dyn Scheduler> {
    ItoSchedulerConfig::default().build(10).unwrap()
}

/// The error of a build that must fail.
fn build_err(r: candle_core::Result<Box<dyn Scheduler>>) -> candle_core::Error {
    match r {
        Ok(_) => panic!("the configuration was accepted"),
        Err(e) => e,
    }
}

fn inputs() -> (Tensor, Tensor) {
    let x = tensor(normals(1, N));
    let m = (&x * 0.5).unwrap();
    (x, m)
}

#[test]
fn wrong_timesteps_are_errors_and_change_nothing() {
    let (x, m) = inputs();
    let mut s = scheduler();
    let ts = s.timesteps().to_vec();
    for bad in [ts[1], ts[0] + 1, 0, 1000, usize::MAX] {
        let e = s.step(&m, bad, &x).unwrap_err();
        assert!(e.to_string().contains("expects timestep"), "{e}");
    }
    // The scheduler is untouched: the right timesteps still run, and give the bits of a fresh one.
    let mut fresh = scheduler();
    let a = s.step(&m, ts[0], &x).unwrap();
    let b = fresh.step(&m, ts[0], &x).unwrap();
    assert_eq!(values(&a), values(&b));
    // Repeating a timestep, going back, or skipping one.
    for bad in [ts[0], ts[2]] {
        assert!(s.step(&m, bad, &a).is_err());
    }
    let mut x = a;
    for &t in &ts[1..] {
        x = s.step(&(&x * 0.5).unwrap(), t, &x).unwrap();
    }
    // Past the end.
    let e = s.step(&m, ts[ts.len() - 1], &x).unwrap_err();
    assert!(e.to_string().contains("all 10 steps"), "{e}");
}

#[test]
fn wrong_dtypes_and_shapes_are_errors() {
    let (x, m) = inputs();
    let mut s = scheduler();
    let t = s.timesteps()[0];
    for dt in [DType::F64, DType::F16, DType::BF16, DType::U32] {
        let e = s.step(&m, t, &x.to_dtype(dt).unwrap()).unwrap_err();
        assert!(
            matches!(e, candle_core::Error::UnexpectedDType { .. }),
            "{e}"
        );
        let e = s.step(&m.to_dtype(dt).unwrap(), t, &x).unwrap_err();
        assert!(
            matches!(e, candle_core::Error::UnexpectedDType { .. }),
            "{e}"
        );
    }
    // Model output and sample of different shapes (same or different element counts).
    let e = s.step(&m.reshape((N,)).unwrap(), t, &x).unwrap_err();
    assert!(
        matches!(e, candle_core::Error::ShapeMismatchBinaryOp { .. }),
        "{e}"
    );
    let short = m.flatten_all().unwrap().narrow(0, 0, N - 1).unwrap();
    assert!(s.step(&short, t, &x).is_err());
    // A first step fixes the shape; a later step with another one is refused.
    let y = s.step(&m, t, &x).unwrap();
    let t1 = s.timesteps()[1];
    let other = Tensor::zeros((3, 7), DType::F32, &Device::Cpu).unwrap();
    let e = s.step(&other, t1, &other).unwrap_err();
    assert!(
        matches!(e, candle_core::Error::ShapeMismatchBinaryOp { .. }),
        "{e}"
    );
    // Still usable after the refusals.
    s.step(&(&y * 0.5).unwrap(), t1, &y).unwrap();
}

#[test]
fn non_contiguous_tensors_are_read_in_order() {
    let (x, m) = inputs();
    // The same values, stored transposed.
    let xt = x
        .reshape((N / 6, 6))
        .unwrap()
        .t()
        .unwrap()
        .contiguous()
        .unwrap()
        .t()
        .unwrap();
    let mt = m
        .reshape((N / 6, 6))
        .unwrap()
        .t()
        .unwrap()
        .contiguous()
        .unwrap()
        .t()
        .unwrap();
    assert!(!xt.is_contiguous());
    let t = scheduler().timesteps()[0];
    let a = scheduler().step(&mt, t, &xt).unwrap();
    let b = scheduler()
        .step(
            &m.reshape((N / 6, 6)).unwrap(),
            t,
            &x.reshape((N / 6, 6)).unwrap(),
        )
        .unwrap();
    assert_eq!(values(&a), values(&b));
    assert_eq!(a.dims(), &[N / 6, 6]);
}

#[test]
fn non_finite_model_output_is_an_ito_error_and_stops_the_run() {
    let (x, m) = inputs();
    let mut v = values(&m);
    v[17] = f32::NAN;
    let bad = tensor(v);
    let mut s = scheduler();
    let ts = s.timesteps().to_vec();
    let e = s.step(&bad, ts[0], &x).unwrap_err();
    let ito = ito_error(&e).expect("an ito error inside");
    assert!(ito.is_nonfinite(), "{ito}");
    // The plan moved on without a valid state: later steps are refused.
    let e = s.step(&m, ts[1], &x).unwrap_err();
    assert!(e.to_string().contains("earlier step failed"), "{e}");
}

#[test]
fn bad_configurations_are_errors() {
    let ddim = DDIMSchedulerConfig::default();
    let cfg = |solver: &str| ItoSchedulerConfig::from_ddim(solver, &ddim);
    // Unknown solvers, and solvers with several model evaluations per step.
    for solver in ["dpmpp-9m", "", "heun", "dpmpp-2s", "dpm-3s", "edm-churn"] {
        let e = build_err(cfg(solver).build(10));
        assert!(ito_error(&e).is_some(), "{solver}: {e}");
    }
    // Step counts candle divides by zero on, loops forever on, or indexes out of range with.
    for steps in [0, 1001, usize::MAX] {
        assert!(cfg("ddim").build(steps).is_err(), "{steps}");
    }
    let trailing = DDIMSchedulerConfig {
        timestep_spacing: TimestepSpacing::Trailing,
        ..ddim
    };
    assert!(ItoSchedulerConfig::from_ddim("ddim", &trailing)
        .build(2000)
        .is_err());
    // steps = N with offset 1: timesteps N, N − 1 both read ᾱ_{N−1} (no distinct nodes).
    assert!(cfg("ddim").build(1000).is_err());
    // β outside (0, 1), NaN, too few training steps, an offset that overflows.
    for (start, end) in [(0.0, 0.012), (0.00085, 1.0), (f64::NAN, 0.012), (0.5, 2.0)] {
        let c = DDIMSchedulerConfig {
            beta_start: start,
            beta_end: end,
            beta_schedule: BetaSchedule::Linear,
            ..ddim
        };
        assert!(
            ItoSchedulerConfig::from_ddim("ddim", &c).build(10).is_err(),
            "{start} {end}"
        );
    }
    for n in [0, 1] {
        let c = DDIMSchedulerConfig {
            train_timesteps: n,
            ..ddim
        };
        assert!(
            ItoSchedulerConfig::from_ddim("ddim", &c).build(1).is_err(),
            "{n}"
        );
    }
    let c = DDIMSchedulerConfig {
        steps_offset: usize::MAX,
        ..ddim
    };
    assert!(ItoSchedulerConfig::from_ddim("ddim", &c).build(10).is_err());
    // candle's UniPC defaults skip the corrector at steps 1 and 2: ito cannot.
    let e = ItoSchedulerConfig::from_unipc(&UniPCSchedulerConfig::default()).unwrap_err();
    assert!(e.to_string().contains("corrector"), "{e}");
    let thresholding = UniPCSchedulerConfig {
        corrector: CorrectorConfiguration::new([]),
        thresholding: true,
        ..Default::default()
    };
    assert!(ItoSchedulerConfig::from_unipc(&thresholding).is_err());
    let order4 = UniPCSchedulerConfig {
        corrector: CorrectorConfiguration::new([0]),
        solver_order: 4,
        ..Default::default()
    };
    assert!(ItoSchedulerConfig::from_unipc(&order4)
        .unwrap()
        .build(10)
        .is_err());
    let bad_sigmas = UniPCSchedulerConfig {
        corrector: CorrectorConfiguration::Disabled,
        sigma_schedule: SigmaSchedule::Karras(KarrasSigmaSchedule {
            sigma_min: 10.0,
            sigma_max: 0.1,
            rho: 4.0,
        }),
        ..Default::default()
    };
    assert!(ItoSchedulerConfig::from_unipc(&bad_sigmas)
        .unwrap()
        .build(10)
        .is_err());
    for curve in [
        SigmaCurve::Karras {
            sigma_min: 0.1,
            sigma_max: 10.0,
            rho: 0.0,
        },
        SigmaCurve::Exponential {
            sigma_min: 0.0,
            sigma_max: 80.0,
        },
        SigmaCurve::Exponential {
            sigma_min: 0.1,
            sigma_max: f64::INFINITY,
        },
    ] {
        let c = ItoSchedulerConfig {
            train: Training::Sigmas(SigmaTraining {
                sigmas: curve,
                timestep_schedule:
                    candle_transformers::models::stable_diffusion::uni_pc::TimestepSchedule::FromSigmas,
                train_timesteps: 1000,
            }),
            ..cfg("unipc-2")
        };
        assert!(c.build(10).is_err(), "{curve:?}");
    }
}
