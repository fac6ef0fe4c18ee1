//! The device-resident sampler, run on the CPU: a `PlanRunner` on the emulated CUDA device
//! (every pass launched through the host emulation of `cuda/*.cu`, thresholding included)
//! equals the same runner on host memory bit for bit — every solver name, with and without
//! dynamic thresholding, f32/f16/bf16 states, Brownian-tree noise, and a batch sharded over two
//! emulated devices with global offsets; and the SDE steppers (`Stepper`) on it equal the host's.

#[path = "../../../tests/common/plans.rs"]
mod plans;

use ito::diffusion::solver::SOLVER_NAMES;
use ito::runtime::memory::Host;
use ito::runtime::{Memory, OnNonFinite};
use ito::sde::brownian::BrownianTree;
use ito::{bf16, f16, Dtype, NoiseSource, PlanRunner, TensorMut, TensorRef};
use ito_cuda_emulation::{EmulatedBuffer, EmulatedDevice};

/// The values of a tensor, widened to f32.
fn values(t: TensorRef<'_>) -> Vec<f32> {
    match t {
        TensorRef::F32(s) => s.to_vec(),
        TensorRef::F16(s) => s.iter().map(|v| v.to_f32()).collect(),
        TensorRef::Bf16(s) => s.iter().map(|v| v.to_f32()).collect(),
    }
}

/// The bits of a tensor's elements (NaN payloads aside: every NaN reads the same).
fn bits(t: TensorRef<'_>) -> Vec<u32> {
    values(t)
        .iter()
        .map(|v| if v.is_nan() { u32::MAX } else { v.to_bits() })
        .collect()
}

fn state(dtype: Dtype, n: usize) -> EmulatedBuffer {
    EmulatedBuffer::zeros(dtype, n)
}

fn view(b: &EmulatedBuffer) -> TensorRef<'_> {
    EmulatedDevice::view(b)
}

fn view_mut(b: &mut EmulatedBuffer) -> TensorMut<'_> {
    EmulatedDevice::view_mut(b)
}

/// Runs a whole sampling loop: initial noise, then the toy model at every evaluation point.
/// A macro, since the runner's views differ in type by memory (both are kernel tensors here).
macro_rules! sample {
    ($runner:expr, $x:expr) => {{
        let runner = &mut $runner;
        let x = &mut $x;
        runner.init_noise(view_mut(x)).unwrap();
        let n = runner.len();
        let mut out = vec![0.0f32; n];
        while let Some(ev) = runner.next_eval(view_mut(x)).unwrap() {
            let input = values(runner.eval_input(view(x)));
            plans::toy_model(&input, ev.node.sigma, &mut out);
            runner.advance(view_mut(x), out.as_slice().into()).unwrap();
        }
    }};
}

/// Host and emulated-device runs of `name` over `n` elements of `dtype`; the final states' bits.
fn both(
    name: &str,
    dtype: Dtype,
    n: usize,
    threshold: Option<usize>,
    tree: bool,
) -> (Vec<u32>, Vec<u32>) {
    let plan = plans::plan_for(name, 6, threshold);
    let noise = NoiseSource::new(11).with_stream(3);
    let tree_for = || BrownianTree::new(NoiseSource::new(5).with_stream(2), 0.0, 1.0).unwrap();
    let mut host = PlanRunner::new(plan.clone(), n, noise, Host::<f32>::new())
        .unwrap()
        .with_nonfinite(OnNonFinite::Propagate);
    let mut device = PlanRunner::new(plan, n, noise, EmulatedDevice::new())
        .unwrap()
        .with_nonfinite(OnNonFinite::Propagate);
    if tree {
        host = host.with_tree_noise(tree_for()).unwrap();
        device = device.with_tree_noise(tree_for()).unwrap();
    }
    // The host runner's scratch is f32 (Host<f32>); the device's is stored like the state. For
    // f16/bf16 states compare with a host runner whose scratch has the state's type.
    let host_bits = match dtype {
        Dtype::F32 => {
            let mut x = state(dtype, n);
            sample!(host, x);
            bits(view(&x))
        }
        Dtype::F16 => {
            let plan = host.plan().clone();
            let mut h = PlanRunner::new(plan, n, noise, Host::<f16>::new()).unwrap();
            if tree {
                h = h.with_tree_noise(tree_for()).unwrap();
            }
            let mut x = state(dtype, n);
            sample!(h, x);
            bits(view(&x))
        }
        Dtype::Bf16 => {
            let plan = host.plan().clone();
            let mut h = PlanRunner::new(plan, n, noise, Host::<bf16>::new()).unwrap();
            if tree {
                h = h.with_tree_noise(tree_for()).unwrap();
            }
            let mut x = state(dtype, n);
            sample!(h, x);
            bits(view(&x))
        }
    };
    let mut x = state(dtype, n);
    sample!(device, x);
    (host_bits, bits(view(&x)))
}

#[test]
fn every_solver_on_the_emulated_device_equals_host_memory() {
    let n = 1030; // not a multiple of 4: the kernels' partial Philox blocks at both ends
    for name in SOLVER_NAMES {
        for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
            let (host, device) = both(name, dtype, n, None, false);
            assert_eq!(host, device, "{name} {dtype:?}");
        }
    }
}

#[test]
fn launch_shapes_do_not_change_the_device_sampler() {
    use ito::runtime::cuda::launch::Shape;
    // One block of 32 threads (many grid-stride turns), thresholded so that the quantile
    // kernel runs under it too; and more 1024-thread blocks than the data needs (thresholding,
    // whose blocks are capped at 256 threads, for one solver only: each emulated block is that
    // many OS threads).
    let n = 1030;
    for shape in [
        Shape { grid: 1, block: 32 },
        Shape {
            grid: 9,
            block: 1024,
        },
    ] {
        for name in SOLVER_NAMES {
            let threshold = (shape.block == 32 || *name == "dpmpp-2m").then_some(515);
            let plan = plans::plan_for(name, 5, threshold);
            let noise = NoiseSource::new(3);
            let mut host = PlanRunner::new(plan.clone(), n, noise, Host::<f32>::new()).unwrap();
            let mut x = state(Dtype::F32, n);
            sample!(host, x);
            let mut dev =
                PlanRunner::new(plan, n, noise, EmulatedDevice::with_shape(shape)).unwrap();
            let mut xd = state(Dtype::F32, n);
            sample!(dev, xd);
            assert_eq!(bits(view(&x)), bits(view(&xd)), "{name} {shape:?}");
        }
    }
}

/// A mean-reverting plan (MRS: the mean μ one more input of every fused pass) with the mean
/// in device memory equals the host run.
#[test]
fn a_mean_on_the_emulated_device_equals_host_memory() {
    use ito::{Grid, Param, Plan, PlanOptions, Schedule};
    let n = 1030;
    let mr = Schedule::mean_reverting(2.0, 1.0, 3.0).unwrap();
    let mean: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
    for name in ["dpmpp-2m", "sde-dpmpp-2m", "dpm-2m"] {
        let plan = Plan::new(
            name.parse().unwrap(),
            Grid::uniform_lambda(&mr, 3.0, 1e-3, 8).unwrap(),
            Param::Eps,
            PlanOptions {
                has_mean: true,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        let noise = NoiseSource::new(4);
        let mut host = PlanRunner::new(plan.clone(), n, noise, Host::<f32>::new())
            .unwrap()
            .with_mean(mean.clone())
            .unwrap();
        let mut x = state(Dtype::F32, n);
        sample!(host, x);
        let mut dev = PlanRunner::new(plan, n, noise, EmulatedDevice::new())
            .unwrap()
            .with_mean(EmulatedBuffer::F32(mean.clone()))
            .unwrap();
        let mut xd = state(Dtype::F32, n);
        sample!(dev, xd);
        assert_eq!(bits(view(&x)), bits(view(&xd)), "{name}");
    }
}

#[test]
fn thresholded_solvers_on_the_emulated_device_equal_host_memory() {
    // Two samples of 515: the device thresholds them in one block each.
    let n = 1030;
    for name in SOLVER_NAMES {
        let dtypes: &[Dtype] = if name.starts_with("dpmpp-2m") || *name == "unipc-2" {
            &[Dtype::F32, Dtype::F16, Dtype::Bf16]
        } else {
            &[Dtype::F32]
        };
        for &dtype in dtypes {
            let (host, device) = both(name, dtype, n, Some(515), false);
            assert_eq!(host, device, "{name} {dtype:?} thresholded");
        }
    }
}

#[test]
fn tree_noise_on_the_emulated_device_equals_host_memory() {
    for name in [
        "sde-dpmpp-2m",
        "sde-dpmpp-3m",
        "euler-a",
        "ddpm",
        "edm-churn",
        "interpolant-sde",
    ] {
        let (host, device) = both(name, Dtype::F32, 1030, None, true);
        assert_eq!(host, device, "{name} with tree noise");
    }
}

#[test]
fn a_batch_sharded_over_two_emulated_devices_equals_one_host_run() {
    let n = 2 * 516;
    for name in ["sde-dpmpp-2m", "dpmpp-3s", "unipc-3", "euler-a"] {
        let plan = plans::plan_for(name, 6, Some(516));
        let noise = NoiseSource::new(21);
        let mut host = PlanRunner::new(plan.clone(), n, noise, Host::<f32>::new()).unwrap();
        let mut x = state(Dtype::F32, n);
        sample!(host, x);
        let mut sharded = Vec::new();
        for shard in 0..2u64 {
            let half = n / 2;
            let noise = noise.with_offset(shard * half as u64);
            let mut dev =
                PlanRunner::new(plan.clone(), half, noise, EmulatedDevice::new()).unwrap();
            let mut xs = state(Dtype::F32, half);
            sample!(dev, xs);
            sharded.extend(bits(view(&xs)));
        }
        assert_eq!(bits(view(&x)), sharded, "{name}");
    }
}

#[test]
fn the_device_report_waits_for_take_nonfinite() {
    // A model output of 1e38 overflows the f16 state: the host pass reports at once; the
    // device's report waits in its word (no step waits for the device).
    let n = 64;
    let plan = plans::plan_for("dpmpp-2m", 3, None);
    let mut dev = PlanRunner::new(plan, n, NoiseSource::new(1), EmulatedDevice::new()).unwrap();
    let mut x = state(Dtype::F16, n);
    dev.init_noise(view_mut(&mut x)).unwrap();
    assert!(!dev.take_nonfinite().unwrap());
    let huge = vec![1e38f32; n];
    dev.next_eval(view_mut(&mut x)).unwrap();
    dev.advance(view_mut(&mut x), huge.as_slice().into())
        .unwrap();
    assert!(dev.take_nonfinite().unwrap(), "the overflow is reported");
    assert!(!dev.take_nonfinite().unwrap(), "taking clears it");
}

/// The SDE steppers on the emulated device equal the host's (scalar noise included): ten steps
/// of each method on a nonlinear SDE (drift and diffusion evaluated on the host from the current state), every
/// storage type.
#[test]
fn sde_steppers_on_the_emulated_device_equal_host_memory() {
    use ito::sde::Stepper;
    let n = 1030;
    let noise = NoiseSource::new(8).with_stream(4).with_offset(12);
    let fg = |x: &[f32]| -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let f: Vec<f32> = x.iter().map(|v| -v.sin()).collect();
        let g: Vec<f32> = x.iter().map(|v| 0.3 + 0.1 * v.cos()).collect();
        let h: Vec<f32> = x
            .iter()
            .map(|v| -(0.3 + 0.1 * v.cos()) * 0.1 * v.sin())
            .collect();
        (f, g, h)
    };
    for dtype in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
        for method in [
            "euler_maruyama",
            "scalar_noise",
            "milstein",
            "heun",
            "reversible_heun",
        ] {
            let mut runs = Vec::new();
            for device in [false, true] {
                let start: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect();
                let mut x = to_dtype(&start, dtype);
                let mut x2 = to_dtype(&start, dtype);
                let host = Stepper::new(Host::<f32>::new());
                let dev = Stepper::new(EmulatedDevice::new());
                for k in 0..10u32 {
                    let (f, g, h) = fg(&values(view(&x)));
                    let (f, g, h) = (
                        f.as_slice().into(),
                        g.as_slice().into(),
                        h.as_slice().into(),
                    );
                    let dt = 0.05;
                    macro_rules! on {
                        ($s:expr) => {
                            match method {
                                "euler_maruyama" => {
                                    $s.euler_maruyama(view_mut(&mut x), f, g, dt, noise, k)
                                }
                                // Ten samples of 103 elements, one Brownian motion each; the
                                // device takes one launch per sample.
                                "scalar_noise" => $s.euler_maruyama_scalar_noise(
                                    view_mut(&mut x),
                                    f,
                                    g,
                                    dt,
                                    noise.with_offset(2 * 103),
                                    k,
                                    103,
                                ),
                                "milstein" => $s.milstein(view_mut(&mut x), f, g, h, dt, noise, k),
                                "heun" => {
                                    $s.stochastic_heun_predict(
                                        view_mut(&mut x2),
                                        view(&x),
                                        f,
                                        g,
                                        dt,
                                        noise,
                                        k,
                                    )
                                    .unwrap();
                                    let (f1, g1, _) = fg(&values(view(&x2)));
                                    $s.stochastic_heun_correct(
                                        view_mut(&mut x),
                                        f,
                                        g,
                                        f1.as_slice().into(),
                                        g1.as_slice().into(),
                                        dt,
                                        noise,
                                        k,
                                    )
                                }
                                _ => {
                                    $s.reversible_heun_forward(
                                        view_mut(&mut x2),
                                        view(&x),
                                        f,
                                        g,
                                        dt,
                                        noise,
                                        k,
                                    )
                                    .unwrap();
                                    let (f1, g1, _) = fg(&values(view(&x2)));
                                    $s.reversible_heun_correct(
                                        view_mut(&mut x),
                                        f,
                                        g,
                                        f1.as_slice().into(),
                                        g1.as_slice().into(),
                                        dt,
                                        noise,
                                        k,
                                    )
                                }
                            }
                        };
                    }
                    if device { on!(dev) } else { on!(host) }.unwrap();
                }
                runs.push((bits(view(&x)), bits(view(&x2))));
            }
            assert_eq!(runs[0], runs[1], "{method} {dtype:?}");
        }
    }
}

fn to_dtype(v: &[f32], dtype: Dtype) -> EmulatedBuffer {
    match dtype {
        Dtype::F32 => EmulatedBuffer::F32(v.to_vec()),
        Dtype::F16 => EmulatedBuffer::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
        Dtype::Bf16 => EmulatedBuffer::Bf16(v.iter().map(|&x| bf16::from_f32(x)).collect()),
    }
}

/// score-SDE's predictor–corrector sampler on the emulated device (the corrector's four
/// launches with ε computed on the device) equals the host's: VP with the reverse-diffusion
/// predictor and per-sample norms, VE with Euler–Maruyama and batch-mean norms, correction only.
#[test]
fn the_pc_sampler_on_the_emulated_device_equals_host_memory() {
    use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
    use ito::Schedule;
    let n = 1030;
    let cases = [
        (
            Schedule::vp_linear(0.1, 20.0).unwrap(),
            Predictor::ReverseDiffusion,
            NormMode::PerSample,
            1,
        ),
        (
            Schedule::ve(0.01, 50.0).unwrap(),
            Predictor::EulerMaruyama,
            NormMode::BatchMean,
            2,
        ),
        (
            Schedule::vp_linear(0.1, 20.0).unwrap(),
            Predictor::None,
            NormMode::PerSample,
            1,
        ),
    ];
    for (schedule, predictor, norms, corrector_steps) in cases {
        let config = PcConfig {
            schedule,
            steps: 30,
            t_end: 1e-3,
            predictor,
            corrector: Some(Corrector {
                snr: 0.16,
                alpha: 1.0,
                norms,
            }),
            corrector_steps,
            len: n,
            sample_len: 515,
            noise: NoiseSource::new(6).with_offset(3),
        };
        let mut host = PcSampler::new(config.clone()).unwrap();
        let mut device = PcSampler::on(
            config,
            EmulatedDevice::new(),
            EmulatedBuffer::zeros(Dtype::F32, n),
        )
        .unwrap();
        let mut steps = 0;
        while host.next_eval().is_some() {
            assert_eq!(host.next_eval(), device.next_eval());
            // The score of N(0, 1) data, from each sampler's own state.
            let score_h: Vec<f32> = host.state().iter().map(|v| -v).collect();
            let score_d: Vec<f32> = values(device.state_view()).iter().map(|v| -v).collect();
            host.advance(score_h.as_slice().into()).unwrap();
            device.advance(score_d.as_slice().into()).unwrap();
            steps += 1;
        }
        assert!(device.next_eval().is_none());
        assert!(steps >= 30, "{predictor:?}: {steps} stages");
        assert_eq!(
            bits(host.state().into()),
            bits(device.state_view()),
            "{predictor:?} {norms:?}"
        );
    }
}

/// NCSN's annealed Langevin dynamics (with the final denoising step) on the emulated device
/// equals the host's.
#[test]
fn annealed_langevin_on_the_emulated_device_equals_host_memory() {
    use ito::diffusion::langevin::{AnnealedConfig, AnnealedLangevin, NoiseLevels};
    let n = 1030;
    let config = AnnealedConfig {
        levels: NoiseLevels::Geometric {
            sigma_max: 10.0,
            sigma_min: 0.01,
            levels: 8,
        },
        steps_per_level: 3,
        epsilon: 2e-5,
        denoise: true,
        len: n,
        noise: NoiseSource::new(17).with_stream(1),
    };
    let mut host = AnnealedLangevin::new(config.clone()).unwrap();
    let mut device = AnnealedLangevin::on(
        config,
        EmulatedDevice::new(),
        EmulatedBuffer::zeros(Dtype::F32, n),
    )
    .unwrap();
    let mut steps = 0;
    while let Some(at) = host.next_eval() {
        assert_eq!(Some(at), device.next_eval());
        // The score of N(0, 1 + σ²) (data N(0, 1) blurred by the level).
        let s = 1.0 / (1.0 + at.sigma * at.sigma) as f32;
        let score_h: Vec<f32> = host.state().iter().map(|v| -v * s).collect();
        let score_d: Vec<f32> = values(device.state_view()).iter().map(|v| -v * s).collect();
        host.advance(score_h.as_slice().into()).unwrap();
        device.advance(score_d.as_slice().into()).unwrap();
        steps += 1;
    }
    assert_eq!(steps, 8 * 3 + 1);
    assert_eq!(bits(host.state().into()), bits(device.state_view()));
}

/// Denoising MCMC's Langevin–Gibbs chain with its data part on the emulated device equals the
/// host chain (the x-steps on the device, the t-steps on the host in both).
#[test]
fn langevin_gibbs_on_the_emulated_device_equals_host_memory() {
    use ito::diffusion::langevin::{GibbsConfig, LangevinGibbs};
    let n = 1030;
    let x0: Vec<f32> = (0..n).map(|i| (i % 23) as f32 / 11.0 - 1.0).collect();
    fn config<B>(x: B) -> GibbsConfig<B> {
        GibbsConfig {
            x,
            sample_len: 515,
            t: vec![0.4, 0.7],
            t_range: (0.05, 1.0),
            step_x: 1e-3,
            step_t: 1e-4,
            noise: NoiseSource::new(9).with_offset(515),
        }
    }
    let mut host = LangevinGibbs::new(config(x0.clone())).unwrap();
    let mut device =
        LangevinGibbs::on(config(EmulatedBuffer::F32(x0)), EmulatedDevice::new()).unwrap();
    for _ in 0..10 {
        let score_h: Vec<f32> = host.state().iter().map(|v| -v).collect();
        let score_d: Vec<f32> = values(device.state_view()).iter().map(|v| -v).collect();
        host.step_x(score_h.as_slice().into()).unwrap();
        device.step_x(score_d.as_slice().into()).unwrap();
        let score_t: Vec<f64> = host.levels().iter().map(|t| -t).collect();
        host.step_t(&score_t).unwrap();
        device.step_t(&score_t).unwrap();
    }
    assert_eq!(bits(host.state().into()), bits(device.state_view()));
    assert_eq!(host.levels(), device.levels());
}

/// A Brownian sweep with its scratch on the emulated device gives the host sweep's
/// increments.
#[test]
fn a_brownian_sweep_on_the_emulated_device_equals_host_memory() {
    use ito::sde::BrownianSweep;
    let n = 1030;
    let tree = || {
        BrownianTree::new(NoiseSource::new(13).with_stream(5), 0.0, 2.0)
            .unwrap()
            .with_depth(12)
            .unwrap()
    };
    let times = [0.0, 0.1, 0.35, 0.9, 1.7, 2.0];
    let mut host = BrownianSweep::new(tree(), &times, n).unwrap();
    let buffers = [
        EmulatedBuffer::zeros(Dtype::F32, n),
        EmulatedBuffer::zeros(Dtype::F32, n),
    ];
    let mut device = BrownianSweep::on(tree(), &times, EmulatedDevice::new(), buffers).unwrap();
    let (mut dw_h, mut dw_d) = (vec![0.0f32; n], EmulatedBuffer::zeros(Dtype::F32, n));
    let mut steps = 0;
    while host.next_increment(dw_h.as_mut_slice().into()).unwrap() {
        assert!(device.next_increment(view_mut(&mut dw_d)).unwrap());
        assert_eq!(
            bits(dw_h.as_slice().into()),
            bits(view(&dw_d)),
            "step {steps}"
        );
        steps += 1;
    }
    assert!(!device.next_increment(view_mut(&mut dw_d)).unwrap());
    assert_eq!(steps, times.len() - 1);
}
