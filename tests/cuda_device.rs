//! The CUDA runtime. Without a driver or device (every CI machine): the backend reports itself
//! absent with a reason, forcing it is a typed error, and nothing panics. With a device (run
//! by `scripts/gpu-kit.sh` on a GPU machine): every kernel × storage type equals the scalar
//! definition over the cross-backend property inputs, on device buffers including unaligned
//! views, a batch split across devices (or across two streams of one device) with global
//! offsets gives the bits of one call, a captured CUDA graph replays the same bits, buffers
//! of another device are typed errors, the twins of brownian_tree, milstein, ou_bank and the
//! Langevin corrector equal scalar, and cuRAND's device API (compiled by the machine's NVRTC, when it has one) gives
//! the raw Philox words of ito's documented mapping.
#![cfg(feature = "cuda")]

#[path = "common/cases.rs"]
mod cases;
mod common;

use cases::{dtype, length, lincomb_case, noise, tensor, value, LincombCase};
use common::{first_difference, same_bits, Buf, DTYPES};
use ito::runtime::cuda::{device::probe, CudaDevice};
use ito::runtime::Written;
use ito::{Backend, Dtype, Error, LincombCoefs, Noise, NoiseKey, SegmentStats};
use proptest::prelude::*;

/// `ITO_REQUIRE_CUDA=1` (the GPU kit sets it): a missing device fails the test instead of
/// skipping it, so a GPU run cannot pass by doing nothing.
fn cuda_required() -> bool {
    std::env::var("ITO_REQUIRE_CUDA").is_ok_and(|v| v == "1")
}

/// The device tests run only where a device is; elsewhere they say why they did nothing, or
/// fail when [`cuda_required`].
fn device_or_skip(test: &str) -> Option<CudaDevice> {
    match probe() {
        Ok(_) => Some(CudaDevice::new(0).expect("device 0 of a machine whose driver reports it")),
        Err(reason) if cuda_required() => {
            panic!("{test}: ITO_REQUIRE_CUDA=1 but there is no CUDA device ({reason})")
        }
        Err(reason) => {
            eprintln!("{test}: skipped, no CUDA device ({reason})");
            None
        }
    }
}

/// The switch itself: with `ITO_REQUIRE_CUDA=1` on a machine without a device, a device test
/// fails (checked in a child process, so this test passes on every machine).
#[test]
fn require_cuda_turns_a_skip_into_a_failure() {
    if std::env::var("ITO_TEST_CHILD").is_ok() {
        device_or_skip("child");
        return;
    }
    if probe().is_ok() {
        eprintln!("require_cuda_turns_a_skip_into_a_failure: skipped, this machine has a device");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // Under cross-testing (CI runs the aarch64 tests in qemu-user) the child starts through
    // the same runner cargo used.
    let runner = std::env::var("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER")
        .ok()
        .filter(|_| cfg!(target_arch = "aarch64"));
    let run = |require: &str| {
        let mut cmd = match &runner {
            Some(r) => {
                let mut parts = r.split_whitespace();
                let mut c = std::process::Command::new(parts.next().unwrap_or("qemu-aarch64"));
                c.args(parts).arg(&exe);
                c
            }
            None => std::process::Command::new(&exe),
        };
        cmd.args([
            "--exact",
            "require_cuda_turns_a_skip_into_a_failure",
            "--nocapture",
        ])
        .env("ITO_TEST_CHILD", "1")
        .env("ITO_REQUIRE_CUDA", require)
        .output()
    };
    let (Ok(required), Ok(optional)) = (run("1"), run("0")) else {
        eprintln!(
            "require_cuda_turns_a_skip_into_a_failure: skipped, cannot re-run the test binary"
        );
        return;
    };
    assert!(
        !required.status.success(),
        "ITO_REQUIRE_CUDA=1 without a device must fail"
    );
    assert!(String::from_utf8_lossy(&required.stderr).contains("ITO_REQUIRE_CUDA=1"));
    assert!(
        optional.status.success(),
        "without ITO_REQUIRE_CUDA the test skips"
    );
}

#[test]
fn an_absent_backend_is_a_typed_error() {
    let Err(reason) = probe() else {
        eprintln!("an_absent_backend_is_a_typed_error: skipped, this machine has a CUDA device");
        return;
    };
    assert!(!reason.is_empty());
    assert!(!ito::available_backends().contains(&Backend::Cuda));
    assert_eq!(ito::runtime::cuda::device_count(), 0);
    assert_ne!(ito::runtime::backend::best_backend(), Backend::Cuda);
    let unavailable = |e: Error| {
        matches!(
            e,
            Error::BackendUnavailable {
                backend: Backend::Cuda,
                ..
            }
        )
    };
    assert!(unavailable(Backend::Cuda.check_available().unwrap_err()));
    assert!(unavailable(ito::set_backend(Backend::Cuda).unwrap_err()));
    assert!(unavailable(CudaDevice::new(0).unwrap_err()));
    let mut y = [0.0f32; 5];
    let noise = Noise {
        key: NoiseKey {
            seed: 1,
            stream: 0,
            step: 0,
        },
        offset: 0,
    };
    assert!(unavailable(
        Backend::Cuda
            .fill_normal((&mut y[..]).into(), 0.0, 1.0, noise)
            .unwrap_err()
    ));
    let mut out = [SegmentStats::default()];
    assert!(unavailable(
        Backend::Cuda
            .reduce((&y[..]).into(), None, 5, &mut out)
            .unwrap_err()
    ));
}

/// Bad arguments are rejected before the device is touched, with the CPU's typed errors.
#[test]
fn bad_arguments_are_typed_errors_on_cuda_too() {
    let mut y = [0.0f32; 8];
    let a = [1.0f32; 7];
    let mut c = LincombCoefs::default();
    c.inputs[0] = 1.0;
    let err = Backend::Cuda
        .lincomb((&mut y[..]).into(), None, &[(&a[..]).into()], &c, None)
        .unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err}");
    let mut out = [SegmentStats::default(); 2];
    let err = Backend::Cuda
        .reduce((&a[..]).into(), None, 7, &mut out)
        .unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err}");
}

/// The outputs and the non-finite report (on CUDA: the kernel's report word).
fn run(b: Backend, case: &LincombCase) -> (Buf, Option<Buf>, Written) {
    let mut written = Written::default();
    let (y, y2) = case.run(|y, y2, inputs, coefs, noise| {
        written = b.lincomb(y, y2, inputs, coefs, noise).expect("valid case");
    });
    (y, y2, written)
}

/// Property cases for the device tests: `PROPTEST_CASES` or 300 with a device, none without
/// (they would only be skipped).
fn device_cases() -> u32 {
    if probe().is_err() {
        return 0;
    }
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: device_cases(), ..ProptestConfig::default() })]

    #[test]
    fn lincomb_on_the_device_equals_scalar(case in lincomb_case()) {
        let (y_ref, y2_ref, written_ref) = run(Backend::Scalar, &case);
        let (y, y2, written) = run(Backend::Cuda, &case);
        prop_assert_eq!(first_difference(&y, &y_ref), None, "y");
        if let (Some(a), Some(r)) = (&y2, &y2_ref) {
            prop_assert_eq!(first_difference(a, r), None, "y2");
        }
        prop_assert_eq!(written, written_ref, "non-finite report");
    }

    #[test]
    fn fill_normal_on_the_device_equals_scalar(
        (y, mean, std, nz) in length().prop_flat_map(tensor).prop_flat_map(|t| (Just(t), -5.0f32..5.0, prop_oneof![Just(0.0f32), 0.0f32..4.0, Just(1e30f32)], noise()))
    ) {
        let n = y.values.len() - y.start;
        let mut reference = y.buf();
        let written_ref = Backend::Scalar.fill_normal(reference.slice_mut(y.start, n), mean, std, nz).unwrap();
        let mut out = y.buf();
        let written = Backend::Cuda.fill_normal(out.slice_mut(y.start, n), mean, std, nz).unwrap();
        prop_assert_eq!(first_difference(&out, &reference), None);
        prop_assert_eq!(written, written_ref, "non-finite report");
    }

    #[test]
    fn reduce_on_the_device_equals_scalar(
        (segments, seg_len) in (0usize..5, prop_oneof![1usize..40, 200usize..700, Just(256usize * 9 + 3)]),
        xd in dtype(), yd in dtype(), with_y in any::<bool>(), xs in 0usize..9, ys in 0usize..9,
        values in prop::collection::vec(value(), 2 * 5 * 2307 + 18),
    ) {
        let n = segments * seg_len;
        let x = Buf::from_f32s(xd, &values[..xs + n]);
        let y = Buf::from_f32s(yd, &values[values.len() - ys - n..]);
        let yref = if with_y { Some(y.slice(ys, n)) } else { None };
        let mut reference = vec![SegmentStats::default(); segments];
        Backend::Scalar.reduce(x.slice(xs, n), yref, seg_len, &mut reference).unwrap();
        let mut out = vec![SegmentStats::default(); segments];
        Backend::Cuda.reduce(x.slice(xs, n), yref, seg_len, &mut out).unwrap();
        for (o, r) in out.iter().zip(&reference) {
            prop_assert!(same_bits(o.sum_sq, r.sum_sq) && same_bits(o.sum_xy, r.sum_xy) && same_bits(o.max_abs, r.max_abs),
                "CUDA {:?} vs scalar {:?}", o, r);
        }
    }
}

fn dpm_coefs() -> LincombCoefs {
    let mut c = LincombCoefs {
        y: 0.9,
        noise: 0.3,
        y2_y: 0.5,
        ..Default::default()
    };
    c.inputs[0] = 0.25;
    c.noise_inputs[0] = 0.125;
    c.y2_inputs[0] = -1.5;
    c
}

/// Large device-resident calls (many grid-stride turns), through unaligned views, and a batch
/// split across devices — or across two streams when there is one — with global offsets.
#[test]
fn device_buffers_views_and_shards_equal_scalar() {
    let Some(dev) = device_or_skip("device_buffers_views_and_shards_equal_scalar") else {
        return;
    };
    let n = (1 << 22) + 13;
    let vals: Vec<f32> = (0..n + 3)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let key = NoiseKey {
        seed: 0xfeed_beef,
        stream: 7,
        step: 3,
    };
    let c = dpm_coefs();
    for d in DTYPES {
        let a = Buf::from_f32s(d, &vals);
        let mut y_ref = Buf::from_f32s(d, &vals);
        let mut y2_ref = Buf::filled(d, n + 3, 0.0);
        let noise = Noise {
            key,
            offset: 1_000_001,
        };
        Backend::Scalar
            .lincomb(
                y_ref.slice_mut(3, n),
                Some(y2_ref.slice_mut(1, n)),
                &[a.slice(2, n)],
                &c,
                Some(noise),
            )
            .unwrap();

        // Unaligned views of device buffers (starts 3, 1, 2: no 16-byte vector path).
        let da = dev.upload(a.as_ref()).unwrap();
        let mut dy = dev.upload(Buf::from_f32s(d, &vals).as_ref()).unwrap();
        let mut dy2 = dev.alloc(d, n + 3).unwrap();
        dev.lincomb(
            dy.slice_mut(3, n).unwrap(),
            Some(dy2.slice_mut(1, n).unwrap()),
            &[da.slice(2, n).unwrap()],
            &c,
            Some(noise),
        )
        .unwrap();
        let mut y = Buf::filled(d, n + 3, 0.0);
        let mut y2 = Buf::filled(d, n + 3, 0.0);
        dev.download(&dy, y.as_mut()).unwrap();
        dev.download(&dy2, y2.as_mut()).unwrap();
        assert_eq!(first_difference(&y, &y_ref), None, "{d:?} views");
        assert_eq!(first_difference(&y2, &y2_ref), None, "{d:?} views y2");

        // Shards with global offsets, on devices 0 and 1 when there are two.
        let second = CudaDevice::new(1.min(ito::runtime::cuda::device_count() - 1)).unwrap();
        let devices = [&dev, &second];
        let cut = 1_234_567;
        let mut parts = Vec::new();
        for (k, (lo, hi)) in [(0usize, cut), (cut, n)].into_iter().enumerate() {
            let dv = devices[k];
            let da = dv.upload(a.slice(2 + lo, hi - lo)).unwrap();
            let mut dy = dv
                .upload(Buf::from_f32s(d, &vals[3 + lo..3 + hi]).as_ref())
                .unwrap();
            let mut dy2 = dv.alloc(d, hi - lo).unwrap();
            let shard_noise = Noise {
                key,
                offset: noise.offset + lo as u64,
            };
            dv.lincomb(
                dy.as_mut(),
                Some(dy2.as_mut()),
                &[da.as_ref()],
                &c,
                Some(shard_noise),
            )
            .unwrap();
            let mut hy = Buf::filled(d, hi - lo, 0.0);
            let mut hy2 = Buf::filled(d, hi - lo, 0.0);
            dv.download(&dy, hy.as_mut()).unwrap();
            dv.download(&dy2, hy2.as_mut()).unwrap();
            parts.push((lo, hy, hy2));
        }
        let y_all = y_ref.to_f32s();
        let y2_all = y2_ref.to_f32s();
        for (lo, hy, hy2) in parts {
            let m = hy.len();
            let want = Buf::from_f32s(d, &y_all[3 + lo..3 + lo + m]);
            let want2 = Buf::from_f32s(d, &y2_all[1 + lo..1 + lo + m]);
            assert_eq!(first_difference(&hy, &want), None, "{d:?} shard at {lo}");
            assert_eq!(
                first_difference(&hy2, &want2),
                None,
                "{d:?} shard y2 at {lo}"
            );
        }
    }
}

/// A loop of launches captured into a CUDA graph replays to the same bits as direct launches
/// (no host synchronisation or allocation inside a call).
#[test]
fn a_captured_graph_replays_the_same_bits() {
    let Some(dev) = device_or_skip("a_captured_graph_replays_the_same_bits") else {
        return;
    };
    let n = 1 << 20;
    let vals: Vec<f32> = (0..n).map(|i| (i % 97) as f32 / 50.0 - 1.0).collect();
    let c = dpm_coefs();
    let steps = 8u32;
    let key = |step| NoiseKey {
        seed: 5,
        stream: 0,
        step,
    };
    // Direct launches.
    let a = dev.upload((&vals[..]).into()).unwrap();
    let mut y = dev.upload((&vals[..]).into()).unwrap();
    let mut y2 = dev.alloc(Dtype::F32, n).unwrap();
    for s in 0..steps {
        let noise = Noise {
            key: key(s),
            offset: 0,
        };
        dev.lincomb(
            y.as_mut(),
            Some(y2.as_mut()),
            &[a.as_ref()],
            &c,
            Some(noise),
        )
        .unwrap();
    }
    let mut direct = vec![0.0f32; n];
    dev.download(&y, (&mut direct[..]).into()).unwrap();

    // The same loop captured on a fresh stream, then replayed once.
    let ctx = dev.context().clone();
    // SAFETY: no other work uses this context's event tracking while the test runs.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.new_stream().unwrap();
    let captured = dev.with_stream(stream.clone()).unwrap();
    let mut gy = captured.upload((&vals[..]).into()).unwrap();
    let mut gy2 = captured.alloc(Dtype::F32, n).unwrap();
    let ga = captured.upload((&vals[..]).into()).unwrap();
    captured.synchronize().unwrap();
    stream
        .begin_capture(
            ito::runtime::cuda::cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
        )
        .unwrap();
    for s in 0..steps {
        let noise = Noise {
            key: key(s),
            offset: 0,
        };
        captured
            .lincomb(
                gy.as_mut(),
                Some(gy2.as_mut()),
                &[ga.as_ref()],
                &c,
                Some(noise),
            )
            .unwrap();
    }
    let graph = stream
        .end_capture(ito::runtime::cuda::cudarc::driver::sys::CUgraphInstantiate_flags(0))
        .unwrap()
        .expect("a graph with launches in it");
    graph.launch().unwrap();
    let mut replayed = vec![0.0f32; n];
    captured.download(&gy, (&mut replayed[..]).into()).unwrap();
    // SAFETY: restores the default for the rest of the process.
    unsafe { ctx.enable_event_tracking() };
    assert_eq!(
        direct.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        replayed.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

/// A buffer that belongs to another device is a typed error, not a launch on foreign memory.
#[test]
fn a_buffer_of_another_device_is_a_typed_error() {
    if ito::runtime::cuda::device_count() < 2 {
        eprintln!("a_buffer_of_another_device_is_a_typed_error: skipped, fewer than two devices");
        return;
    }
    let d0 = CudaDevice::new(0).unwrap();
    let d1 = CudaDevice::new(1).unwrap();
    let mut y = d1.alloc(Dtype::F32, 16).unwrap();
    let noise = Noise {
        key: NoiseKey {
            seed: 1,
            stream: 0,
            step: 0,
        },
        offset: 0,
    };
    let err = d0.fill_normal(y.as_mut(), 0.0, 1.0, noise).unwrap_err();
    assert!(matches!(err, Error::Config { arg: "y", .. }), "{err}");
}

/// cuRAND's device API gives, for (seed, subsequence = (stream << 32) | step, offset =
/// 4·block), the raw words of ito's documented mapping: a live check of the layout that the
/// CPU tests pin with derived examples. Needs the machine's NVRTC and `curand_kernel.h`
/// (`CUDA_HOME`, `CUDA_PATH` or /usr/local/cuda); skipped without them.
#[test]
fn curand_device_api_gives_itos_philox_words() {
    use ito::runtime::cuda::cudarc::driver::{LaunchConfig, PushKernelArg};
    use ito::runtime::cuda::cudarc::nvrtc;
    let Some(dev) = device_or_skip("curand_device_api_gives_itos_philox_words") else {
        return;
    };
    let include = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .chain(["/usr/local/cuda".to_string()])
        .map(|root| format!("{root}/include"))
        .find(|dir| std::path::Path::new(dir).join("curand_kernel.h").exists());
    // SAFETY: only looks for the NVRTC library (dlopen); calls nothing in it.
    let nvrtc_present = unsafe { nvrtc::sys::is_culib_present() };
    let (Some(include), true) = (include, nvrtc_present) else {
        eprintln!(
            "curand_device_api_gives_itos_philox_words: skipped, no NVRTC or curand_kernel.h"
        );
        return;
    };
    let src = r#"
#include <curand_kernel.h>
extern "C" __global__ void curand_words(const unsigned long long* seed, const unsigned long long* subsequence,
                                        const unsigned long long* offset, unsigned int* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    curandStatePhilox4_32_10_t s;
    curand_init(seed[i], subsequence[i], offset[i], &s);
    uint4 w = curand4(&s);
    out[4 * i] = w.x; out[4 * i + 1] = w.y; out[4 * i + 2] = w.z; out[4 * i + 3] = w.w;
}
"#;
    let ptx = nvrtc::compile_ptx_with_opts(
        src,
        nvrtc::CompileOptions {
            include_paths: vec![include],
            ..Default::default()
        },
    )
    .expect("curand_kernel.h compiles with this NVRTC");
    let module = dev.context().load_module(ptx).unwrap();
    let f = module.load_function("curand_words").unwrap();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut keys = Vec::new();
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = NoiseKey {
            seed: x,
            stream: (x >> 11) as u32,
            step: (x >> 23) as u32 ^ 0x9e37_79b9,
        };
        keys.push((key, x.rotate_left(29) >> 3));
    }
    let s = dev.stream();
    let seeds: Vec<u64> = keys.iter().map(|(k, _)| k.seed).collect();
    let subsequences: Vec<u64> = keys
        .iter()
        .map(|(k, _)| (u64::from(k.stream) << 32) | u64::from(k.step))
        .collect();
    let offsets: Vec<u64> = keys.iter().map(|(_, b)| 4 * b).collect();
    let (ds, dq, doff) = (
        s.clone_htod(&seeds).unwrap(),
        s.clone_htod(&subsequences).unwrap(),
        s.clone_htod(&offsets).unwrap(),
    );
    let mut out = s.alloc_zeros::<u32>(4 * keys.len()).unwrap();
    let n = keys.len() as i32;
    let mut launch = s.launch_builder(&f);
    launch.arg(&ds).arg(&dq).arg(&doff).arg(&mut out).arg(&n);
    // SAFETY: the kernel reads n entries of each input and writes 4n words of `out`.
    unsafe { launch.launch(LaunchConfig::for_num_elems(n as u32)) }.unwrap();
    let words = s.clone_dtoh(&out).unwrap();
    for (i, (key, block)) in keys.iter().enumerate() {
        assert_eq!(
            &words[4 * i..4 * i + 4],
            &key.block_words(*block)[..],
            "{key:?} block {block}"
        );
    }
}

/// The twins of brownian_tree, milstein and ou_bank on the device equal scalar, for every
/// storage type, with an unaligned offset and a length that is not a multiple of four.
#[test]
fn sde_kernels_on_the_device_equal_scalar() {
    if device_or_skip("sde_kernels_on_the_device_equal_scalar").is_none() {
        return;
    }
    let n = 100_003;
    let vals = |k: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 31 + k * 17) % 1000) as f32 - 500.0) / 300.0)
            .collect()
    };
    let key = NoiseKey {
        seed: 0xabc,
        stream: 5,
        step: 9,
    };
    let offset = 1_000_003u64;
    let terms: Vec<ito::sde::brownian::Term> = (0..40)
        .map(|j| ito::sde::brownian::Term {
            stream: 100 + j,
            step: 3 * j,
            coef: if j % 7 == 0 {
                0.0
            } else {
                0.1 * j as f32 - 1.5
            },
        })
        .collect();
    let mut coefs = ito::sde::fbm::OuBankCoefs {
        sqrt_h: 0.1,
        ..Default::default()
    };
    for k in 0..5 {
        coefs.decay[k] = 0.9 - 0.1 * k as f32;
        coefs.a[k] = 0.3 + 0.05 * k as f32;
        coefs.b[k] = 0.01 * k as f32;
        coefs.omega[k] = 1.0 / (k + 1) as f32;
    }
    for d in DTYPES {
        let run = |b: Backend| {
            let mut y = Buf::filled(d, n, 0.0);
            b.brownian_tree(y.as_mut(), 77, &terms, offset).unwrap();
            let mut x = Buf::from_f32s(d, &vals(0));
            let (f, g, h) = (
                Buf::from_f32s(d, &vals(1)),
                Buf::from_f32s(d, &vals(2)),
                Buf::from_f32s(d, &vals(3)),
            );
            let noise = Noise { key, offset };
            b.milstein(x.as_mut(), f.as_ref(), g.as_ref(), h.as_ref(), 0.01, noise)
                .unwrap();
            let mut state = Buf::from_f32s(d, &vals(4).repeat(5));
            let mut out = Buf::filled(Dtype::F32, n, 0.0);
            b.ou_bank(state.as_mut(), 5, Some(out.as_mut()), &coefs, key, offset)
                .unwrap();
            (y, x, state, out)
        };
        let (y_ref, x_ref, s_ref, o_ref) = run(Backend::Scalar);
        let (y, x, s, o) = run(Backend::Cuda);
        assert_eq!(first_difference(&y, &y_ref), None, "brownian_tree {d:?}");
        assert_eq!(first_difference(&x, &x_ref), None, "milstein {d:?}");
        assert_eq!(first_difference(&s, &s_ref), None, "ou_bank state {d:?}");
        assert_eq!(first_difference(&o, &o_ref), None, "ou_bank out {d:?}");
    }
}

/// The Langevin corrector on the device (four launches, ε computed there) equals
/// `langevin_step` on the scalar backend: ε and the updated state, for both norm modes.
#[test]
fn langevin_step_on_the_device_equals_scalar() {
    let Some(dev) = device_or_skip("langevin_step_on_the_device_equals_scalar") else {
        return;
    };
    use ito::diffusion::langevin::{langevin_step, Corrector, NormMode};
    let (samples, sample_len) = (7usize, 3001usize);
    let n = samples * sample_len;
    let x0: Vec<f32> = (0..n)
        .map(|i| ((i * 13) % 97) as f32 / 40.0 - 1.2)
        .collect();
    let score: Vec<f32> = (0..n)
        .map(|i| ((i * 29) % 89) as f32 / 30.0 - 1.4)
        .collect();
    let noise = Noise {
        key: NoiseKey {
            seed: 21,
            stream: 10,
            step: 4,
        },
        offset: 12_345,
    };
    for norms in [NormMode::PerSample, NormMode::BatchMean] {
        let c = Corrector {
            snr: 0.16,
            alpha: 0.98,
            norms,
        };
        let mut x_ref = x0.clone();
        let eps_ref = langevin_step(
            Backend::Scalar,
            x_ref.as_mut_slice().into(),
            score.as_slice().into(),
            sample_len,
            &c,
            noise,
        )
        .unwrap();
        let mut dx = dev.upload(x0.as_slice().into()).unwrap();
        let ds = dev.upload(score.as_slice().into()).unwrap();
        let mut deps = dev.stream().alloc_zeros::<f64>(samples).unwrap();
        dev.langevin_step(
            dx.as_mut(),
            ds.as_ref(),
            sample_len,
            &c,
            noise,
            deps.as_view_mut(),
        )
        .unwrap();
        let mut x = vec![0.0f32; n];
        dev.download(&dx, x.as_mut_slice().into()).unwrap();
        let eps = dev.stream().clone_dtoh(&deps).unwrap();
        assert_eq!(
            eps.iter().map(|e| e.to_bits()).collect::<Vec<_>>(),
            eps_ref.iter().map(|e| e.to_bits()).collect::<Vec<_>>(),
            "{norms:?} ε"
        );
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            x_ref.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{norms:?} x"
        );
    }
}

/// Each storing kernel on device buffers sets the handle's report word in its own pass: a
/// finite result leaves it clear, an f16 overflow (or a NaN input) sets it, and
/// `take_nonfinite` reads and clears it.
#[test]
fn device_kernels_report_nonfinite_values() {
    let Some(dev) = device_or_skip("device_kernels_report_nonfinite_values") else {
        return;
    };
    let n = 70_001;
    let ones: Vec<ito::f16> = vec![ito::f16::ONE; n];
    let key = NoiseKey {
        seed: 3,
        stream: 1,
        step: 2,
    };
    let noise = Noise { key, offset: 5 };
    let mut y = dev.upload(ones.as_slice().into()).unwrap();
    let a = dev.upload(ones.as_slice().into()).unwrap();
    assert!(
        !dev.take_nonfinite().unwrap(),
        "a new handle reports nothing"
    );
    for (scale, expect) in [(2.0f32, false), (7e4, true)] {
        let mut c = LincombCoefs::default();
        c.inputs[0] = scale;
        dev.lincomb(y.as_mut(), None, &[a.as_ref()], &c, None)
            .unwrap();
        assert_eq!(dev.take_nonfinite().unwrap(), expect, "lincomb ×{scale}");
        dev.fill_normal(y.as_mut(), 0.0, scale, noise).unwrap();
        // σ = 7e4: some normal beyond 65520/7e4 ≈ 0.94 in 70 001 draws, surely.
        assert_eq!(
            dev.take_nonfinite().unwrap(),
            expect,
            "fill_normal σ={scale}"
        );
        let terms = [ito::sde::brownian::Term {
            stream: 9,
            step: 1,
            coef: scale,
        }];
        dev.brownian_tree(y.as_mut(), 11, &terms, 0).unwrap();
        assert_eq!(
            dev.take_nonfinite().unwrap(),
            expect,
            "brownian_tree ×{scale}"
        );
        let mut x = dev.upload(ones.as_slice().into()).unwrap();
        dev.milstein(x.as_mut(), a.as_ref(), a.as_ref(), a.as_ref(), scale, noise)
            .unwrap();
        // Δt = 7e4: x + Δt·f alone overflows f16.
        assert_eq!(dev.take_nonfinite().unwrap(), expect, "milstein Δt={scale}");
        let mut coefs = ito::sde::fbm::OuBankCoefs {
            sqrt_h: 1.0,
            ..Default::default()
        };
        coefs.decay[0] = scale;
        let mut state = dev.upload(ones.as_slice().into()).unwrap();
        dev.ou_bank(state.as_mut(), 1, None, &coefs, key, 0)
            .unwrap();
        assert_eq!(
            dev.take_nonfinite().unwrap(),
            expect,
            "ou_bank decay={scale}"
        );
    }
    assert!(!dev.take_nonfinite().unwrap(), "taking clears the word");
}

#[path = "common/plans.rs"]
mod plans;

/// A whole sampling loop on the device (the toy model evaluated on the host from the
/// downloaded evaluation point) and the same loop on host memory, for `plan`: the final
/// states' bits.
fn device_and_host(dev: &CudaDevice, plan: ito::Plan, n: usize) -> (Vec<u32>, Vec<u32>) {
    use ito::runtime::memory::Host;
    use ito::{NoiseSource, PlanRunner, Storage};
    let noise = NoiseSource::new(11).with_stream(3);
    let mut host = PlanRunner::new(plan.clone(), n, noise, Host::<f32>::new()).unwrap();
    let mut hx = vec![0.0f32; n];
    let mut out = vec![0.0f32; n];
    host.init_noise(hx.as_mut_slice().into()).unwrap();
    while let Some(ev) = host.next_eval(hx.as_mut_slice().into()).unwrap() {
        let input = f32::slice(host.eval_input(hx.as_slice().into()))
            .unwrap()
            .to_vec();
        plans::toy_model(&input, ev.node.sigma, &mut out);
        host.advance(hx.as_mut_slice().into(), out.as_slice().into())
            .unwrap();
    }
    let mem = dev.with_stream(dev.stream().clone()).unwrap();
    let mut runner = PlanRunner::new(plan, n, noise, mem).unwrap();
    let mut x = dev.alloc(Dtype::F32, n).unwrap();
    runner.reserve(x.as_ref()).unwrap();
    runner.init_noise(x.as_mut()).unwrap();
    let mut input = vec![0.0f32; n];
    while let Some(ev) = runner.next_eval(x.as_mut()).unwrap() {
        dev.copy_to_host(runner.eval_input(x.as_ref()), input.as_mut_slice().into())
            .unwrap();
        plans::toy_model(&input, ev.node.sigma, &mut out);
        let model = dev.upload(out.as_slice().into()).unwrap();
        runner.advance(x.as_mut(), model.as_ref()).unwrap();
    }
    assert!(
        !runner.take_nonfinite().unwrap(),
        "a finite run reports nothing"
    );
    let mut dx = vec![0.0f32; n];
    dev.download(&x, dx.as_mut_slice().into()).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    (bits(&dx), bits(&hx))
}

/// The device-resident sampler: a `PlanRunner` on `CudaDevice` memory equals the same runner
/// on host memory, every solver, with and without thresholding (on the device).
#[test]
fn plan_runner_on_the_device_equals_host_memory() {
    let Some(dev) = device_or_skip("plan_runner_on_the_device_equals_host_memory") else {
        return;
    };
    for name in ito::diffusion::solver::SOLVER_NAMES {
        for threshold in [None, Some(515)] {
            let plan = plans::plan_for(name, 6, threshold);
            let (device, host) = device_and_host(&dev, plan, 1030);
            assert_eq!(device, host, "{name}, thresholding {threshold:?}");
        }
    }
}

/// Foreign memory: views from raw device addresses (as PyTorch's `data_ptr()` gives) sample
/// the same bits; null, misaligned and host addresses are typed errors, never a launch.
#[test]
fn raw_pointers_sample_the_same_bits_and_bad_ones_are_refused() {
    use ito::runtime::cuda::cudarc::driver::DevicePtr;
    use ito::runtime::cuda::{DeviceMut, DeviceRef};
    let Some(dev) = device_or_skip("raw_pointers_sample_the_same_bits_and_bad_ones_are_refused")
    else {
        return;
    };
    let n = 4096;
    let vals: Vec<f32> = (0..n).map(|i| (i % 101) as f32 / 40.0 - 1.2).collect();
    let a = dev.stream().clone_htod(&vals).unwrap();
    let y = dev.stream().clone_htod(&vals).unwrap();
    let (a_ptr, g) = a.device_ptr(dev.stream());
    drop(g);
    let (y_ptr, g) = y.device_ptr(dev.stream());
    drop(g);
    let c = dpm_coefs();
    // SAFETY: both addresses are live cudarc allocations of n f32 on this device, kept alive
    // (a and y) until after the download, and only this stream touches them.
    let (ra, ry) = unsafe {
        (
            DeviceRef::from_raw(a_ptr, n, Dtype::F32, &dev).unwrap(),
            DeviceMut::from_raw(y_ptr, n, Dtype::F32, &dev).unwrap(),
        )
    };
    dev.lincomb(ry, None, &[ra], &c, None).unwrap();
    // Through a device-to-device copy into an ito buffer, then to the host.
    let mut copied = dev.alloc(Dtype::F32, n).unwrap();
    dev.copy((&y).into(), copied.as_mut()).unwrap();
    let mut got = vec![0.0f32; n];
    dev.copy_to_host(copied.as_ref(), got.as_mut_slice().into())
        .unwrap();
    let mut want = vals.clone();
    Backend::Scalar
        .lincomb(
            want.as_mut_slice().into(),
            None,
            &[vals.as_slice().into()],
            &c,
            None,
        )
        .unwrap();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let host_memory = vals.as_ptr() as u64;
    // SAFETY: each call is refused before any launch (the checks under test).
    unsafe {
        assert!(DeviceRef::from_raw(0, n, Dtype::F32, &dev).is_err(), "null");
        assert!(
            DeviceRef::from_raw(a_ptr + 2, n, Dtype::F32, &dev).is_err(),
            "misaligned"
        );
        assert!(
            DeviceRef::from_raw(host_memory, n, Dtype::F32, &dev).is_err(),
            "host memory"
        );
        assert!(
            DeviceRef::from_raw(a_ptr, usize::MAX, Dtype::F32, &dev).is_err(),
            "too long"
        );
    }
    drop((a, y));
}

/// A foreign stream handle (here a cudarc stream's raw handle, as torch.cuda.current_stream()
/// gives one): launches go there, with the same bits; modules load lazily per family.
#[test]
fn a_raw_stream_runs_the_same_bits_and_modules_load_lazily() {
    let Some(dev) = device_or_skip("a_raw_stream_runs_the_same_bits_and_modules_load_lazily")
    else {
        return;
    };
    let stream = dev.context().new_stream().unwrap();
    // SAFETY: `stream` is a live stream of device 0's primary context, kept alive (held here)
    // until after the last launch and the download.
    let foreign = unsafe { CudaDevice::from_raw_stream(0, stream.cu_stream()) }.unwrap();
    let n = 10_000;
    let mut x = foreign.alloc(Dtype::F32, n).unwrap();
    let noise = Noise {
        key: NoiseKey {
            seed: 1,
            stream: 2,
            step: 3,
        },
        offset: 0,
    };
    foreign.fill_normal(x.as_mut(), 0.0, 1.0, noise).unwrap();
    assert!(foreign.loaded_modules().contains(&"fill_normal"));
    let mut got = vec![0.0f32; n];
    foreign.download(&x, got.as_mut_slice().into()).unwrap();
    let mut want = vec![0.0f32; n];
    Backend::Scalar
        .fill_normal(want.as_mut_slice().into(), 0.0, 1.0, noise)
        .unwrap();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    drop(stream);
}

/// A 20-step DPM-Solver++(2M) loop on the device, captured into one CUDA graph (the model
/// output a fixed device tensor, so that every launch is ito's) and replayed: the bits of the
/// loop run directly.
#[test]
fn a_whole_sampling_loop_replays_from_a_cuda_graph() {
    use ito::{NoiseSource, PlanRunner};
    let Some(dev) = device_or_skip("a_whole_sampling_loop_replays_from_a_cuda_graph") else {
        return;
    };
    let n = 1 << 16;
    let plan = plans::plan_for("dpmpp-2m", 20, None);
    let model_vals: Vec<f32> = (0..n).map(|i| (i % 89) as f32 / 60.0 - 0.7).collect();
    let run = |mem: CudaDevice, capture: bool| -> Vec<u32> {
        let stream = mem.stream().clone();
        let model = mem.upload(model_vals.as_slice().into()).unwrap();
        let mut x = mem.alloc(Dtype::F32, n).unwrap();
        let mut runner = PlanRunner::new(plan.clone(), n, NoiseSource::new(4), mem).unwrap();
        runner.reserve(x.as_ref()).unwrap();
        runner.memory().preload().unwrap();
        runner.memory().synchronize().unwrap();
        if capture {
            stream
                .begin_capture(
                    ito::runtime::cuda::cudarc::driver::sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
                )
                .unwrap();
        }
        runner.init_noise(x.as_mut()).unwrap();
        while runner.next_eval(x.as_mut()).unwrap().is_some() {
            runner.advance(x.as_mut(), model.as_ref()).unwrap();
        }
        if capture {
            let graph = stream
                .end_capture(ito::runtime::cuda::cudarc::driver::sys::CUgraphInstantiate_flags(0))
                .unwrap()
                .expect("a graph with launches in it");
            graph.launch().unwrap();
        }
        let mut out = vec![0.0f32; n];
        runner
            .memory()
            .download(&x, out.as_mut_slice().into())
            .unwrap();
        out.iter().map(|v| v.to_bits()).collect()
    };
    let direct = run(dev.with_stream(dev.stream().clone()).unwrap(), false);
    let ctx = dev.context().clone();
    // SAFETY: no other work uses this context's event tracking while the capture runs (the
    // capture must not record events on other streams).
    unsafe { ctx.disable_event_tracking() };
    let captured = dev.with_stream(ctx.new_stream().unwrap()).unwrap();
    let replayed = run(captured, true);
    // SAFETY: restores the default for the rest of the process.
    unsafe { ctx.enable_event_tracking() };
    assert_eq!(direct, replayed);
}

/// score-SDE's PC sampler with its state in device memory (the corrector's ε computed on the
/// device) equals the host sampler.
#[test]
fn the_pc_sampler_on_the_device_equals_the_host() {
    use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
    let Some(dev) = device_or_skip("the_pc_sampler_on_the_device_equals_the_host") else {
        return;
    };
    let n = 4 * 1031;
    let config = PcConfig {
        schedule: ito::Schedule::vp_linear(0.1, 20.0).unwrap(),
        steps: 30,
        t_end: 1e-3,
        predictor: Predictor::ReverseDiffusion,
        corrector: Some(Corrector {
            snr: 0.16,
            alpha: 1.0,
            norms: NormMode::PerSample,
        }),
        corrector_steps: 1,
        len: n,
        sample_len: 1031,
        noise: ito::NoiseSource::new(6),
    };
    let mut host = PcSampler::new(config.clone()).unwrap();
    let mem = dev.with_stream(dev.stream().clone()).unwrap();
    let x = dev.alloc(Dtype::F32, n).unwrap();
    let mut device = PcSampler::on(config, mem, x).unwrap();
    let mut state = vec![0.0f32; n];
    while host.next_eval().is_some() {
        let score: Vec<f32> = host.state().iter().map(|v| -v).collect();
        host.advance(score.as_slice().into()).unwrap();
        dev.copy_to_host(device.state_view(), state.as_mut_slice().into())
            .unwrap();
        let score: Vec<f32> = state.iter().map(|v| -v).collect();
        let d_score = dev.upload(score.as_slice().into()).unwrap();
        device.advance(d_score.as_ref()).unwrap();
    }
    dev.copy_to_host(device.state_view(), state.as_mut_slice().into())
        .unwrap();
    assert_eq!(
        host.state().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        state.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}
