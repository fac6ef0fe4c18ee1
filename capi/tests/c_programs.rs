//! The C API from C and C++: builds `tests/c/sampler_loop.c` (C99) and
//! `tests/cpp/sampler_loop.cpp` (C++17) against this crate's static library with `-Wall
//! -Wextra -Werror` under AddressSanitizer and UndefinedBehaviorSanitizer, runs them, and
//! compares the bits they write with the Rust API's on the same inputs. The programs check
//! themselves what needs no Rust (k-diffusion's trajectory, the plan tier against the sampler,
//! bad input). Needs a C and a C++ compiler with the sanitizers (`CC`/`CXX`, default `cc`/`c++`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
use ito::runtime::memory::Host;
use ito::{
    fill_normal, BrownianTree, Grid, Noise, NoiseKey, NoiseSource, Param, Plan, PlanOptions,
    PlanRunner, Schedule, Storage,
};

const N: usize = 1003;
/// The grid both programs pass (`ITO_GRID_TIMES` on the EDM schedule, then a clean end),
/// digit for digit as their sources spell it.
#[allow(clippy::excessive_precision)]
const SIGMAS: [f64; 10] = [
    80.0,
    42.415189318512671,
    21.108676736193759,
    9.7223686980000926,
    4.0953640337455012,
    1.5460052093219393,
    0.51155813744062883,
    0.14308327578598758,
    0.020435334553438746,
    0.002,
];

/// The programs' analytic denoiser, in the same f64 operations.
fn denoise(i: usize, x: f64, sigma: f64) -> f64 {
    let mu = -1.5 + 0.2 * (i % 16) as f64;
    let s = 0.3 + 0.05 * (i % 16) as f64;
    (s * s * x + sigma * sigma * mu) / (s * s + sigma * sigma)
}

/// The Brownian tree of the `tree:*` cases: [0.002, 80] (k-diffusion's σ range), leaves of
/// at most 1e-6 (torchsde's tolerance), seed 9, stream 2.
fn case_tree() -> BrownianTree {
    BrownianTree::new(NoiseSource::new(9).with_stream(2), 0.002, 80.0)
        .unwrap()
        .with_tolerance(1e-6)
        .unwrap()
}

/// 0.5·W(0.3, 7.0) of [`case_tree`] for elements 1000 … 1000 + N.
fn rust_tree_increment() -> Vec<f32> {
    let mut y = vec![0f32; N];
    let tree = case_tree().with_offset(1000);
    let terms = tree.scaled_terms(0.3, 7.0, 0.5).unwrap();
    tree.combine_on(ito::backend().unwrap(), &terms, y.as_mut_slice().into())
        .unwrap();
    y
}

/// Fractional noise: H = 0.3 by K = 4 OU processes (γ up to 20 over [0, 1]), 50 steps of
/// 0.01 from seed 13, stream 1; B̂ summed from the steps' ΔB̂ in f32.
fn rust_fbm() -> Vec<f32> {
    let m = ito::sde::fbm::MarkovFbm::new(0.3, 4, 20.0, 1.0).unwrap();
    let t = m.transition(0.01).unwrap();
    let (mut state, mut out, mut acc) = (vec![0f32; 4 * N], vec![0f32; N], vec![0f32; N]);
    for k in 0..50 {
        t.step(
            state.as_mut_slice().into(),
            Some(out.as_mut_slice().into()),
            NoiseSource::new(13).with_stream(1),
            k,
        )
        .unwrap();
        for (a, o) in acc.iter_mut().zip(&out) {
            *a += *o;
        }
    }
    acc
}

/// The Rust sampler on the same configuration as the programs' `run:<solver>` (with
/// `tree`: its step noise from that Brownian tree, `tree:<solver>`).
fn rust_run(solver: &str, tree: Option<BrownianTree>) -> Vec<f32> {
    let schedule = Schedule::edm(0.002, 80.0).unwrap();
    let grid = Grid::from_times(&schedule, &SIGMAS)
        .unwrap()
        .with_clean_end()
        .unwrap();
    let plan = Plan::new(
        solver.parse().unwrap(),
        grid,
        Param::Data,
        PlanOptions::default(),
    )
    .unwrap();
    let mut x = vec![0f32; N];
    let mut r = PlanRunner::new(plan, N, NoiseSource::new(7), Host::<f32>::new()).unwrap();
    if let Some(t) = tree {
        r = r.with_tree_noise(t).unwrap();
    }
    r.init_noise(x.as_mut_slice().into()).unwrap();
    let mut out = vec![0f32; N];
    while let Some(ev) = r.next_eval(x.as_mut_slice().into()).unwrap() {
        let input = f32::slice(r.eval_input(x.as_slice().into())).unwrap();
        for (i, (o, &v)) in out.iter_mut().zip(input).enumerate() {
            *o = denoise(i, f64::from(v), ev.node.sigma / ev.node.alpha) as f32;
        }
        r.advance(x.as_mut_slice().into(), out.as_slice().into())
            .unwrap();
    }
    x
}

/// `run:dpmpp-2m` in f16, the model returning its input.
fn rust_f16() -> Vec<u32> {
    let schedule = Schedule::edm(0.002, 80.0).unwrap();
    let grid = Grid::from_times(&schedule, &SIGMAS)
        .unwrap()
        .with_clean_end()
        .unwrap();
    let plan = Plan::new(
        "dpmpp-2m".parse().unwrap(),
        grid,
        Param::Data,
        PlanOptions::default(),
    )
    .unwrap();
    let mut x = vec![ito::f16::ZERO; N];
    let mut r = PlanRunner::new(plan, N, NoiseSource::new(7), Host::<ito::f16>::new()).unwrap();
    r.init_noise(x.as_mut_slice().into()).unwrap();
    while r.next_eval(x.as_mut_slice().into()).unwrap().is_some() {
        let out = x.clone();
        r.advance(x.as_mut_slice().into(), out.as_slice().into())
            .unwrap();
    }
    x.iter().map(|v| u32::from(v.to_bits())).collect()
}

fn rust_sde() -> Vec<f32> {
    let noise = NoiseSource {
        seed: 11,
        stream: 3,
        offset: 0,
    };
    let (mut x, mut f, g) = (vec![1f32; N], vec![0f32; N], vec![0.5f32; N]);
    for k in 0..100 {
        for (fi, xi) in f.iter_mut().zip(&x) {
            *fi = -xi;
        }
        ito::sde::euler_maruyama(
            x.as_mut_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            0.01,
            noise,
            k,
        )
        .unwrap();
    }
    x
}

fn rust_sde_scalar() -> Vec<f32> {
    let noise = NoiseSource {
        seed: 12,
        stream: 0,
        offset: 59 * 4,
    };
    let mut x: Vec<f32> = (0..N).map(|i| (i % 7) as f32 * 0.25).collect();
    let (mut f, g) = (vec![0f32; N], vec![0.5f32; N]);
    for k in 0..20 {
        for (fi, xi) in f.iter_mut().zip(&x) {
            *fi = -xi;
        }
        ito::sde::euler_maruyama_scalar_noise(
            x.as_mut_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            0.05,
            noise,
            k,
            59,
        )
        .unwrap();
    }
    x
}

fn rust_pc() -> Vec<f32> {
    let mut pc = PcSampler::new(PcConfig {
        schedule: Schedule::ve(0.01, 50.0).unwrap(),
        steps: 50,
        t_end: 1e-3,
        predictor: Predictor::EulerMaruyama,
        corrector: Some(Corrector {
            snr: 0.16,
            alpha: 1.0,
            norms: NormMode::PerSample,
        }),
        corrector_steps: 1,
        len: 1024,
        sample_len: 256,
        noise: NoiseSource::new(5),
    })
    .unwrap();
    let mut score = vec![0f32; 1024];
    while let Some(ev) = pc.next_eval() {
        let sigma = 0.01 * (50.0f64 / 0.01).powf(ev.t);
        for (s, &x) in score.iter_mut().zip(pc.state()) {
            *s = (-f64::from(x) / (1.0 + sigma * sigma)) as f32;
        }
        pc.advance(score.as_slice().into()).unwrap();
    }
    pc.state().to_vec()
}

fn rust_randn() -> Vec<f32> {
    let mut z = vec![0f32; N];
    let key = NoiseKey {
        seed: 42,
        stream: 1,
        step: 0,
    };
    fill_normal(
        z.as_mut_slice().into(),
        0.0,
        1.0,
        Noise { key, offset: 1000 },
    )
    .unwrap();
    z
}

/// Every case's bits from the Rust API: what the C and C++ programs, and the Python package's
/// tests (through `python/tests/data/rust_bits.txt`), must reproduce.
fn expected() -> BTreeMap<String, Vec<u32>> {
    let mut expected = BTreeMap::new();
    for solver in ["dpmpp-2m", "sde-dpmpp-2m", "euler-a", "heun", "dpmpp-2s"] {
        let x = bits(&rust_run(solver, None));
        expected.insert(format!("run:{solver}"), x.clone());
        expected.insert(format!("plan:{solver}"), x);
    }
    expected.insert("state:dpmpp-2m".into(), expected["run:dpmpp-2m"].clone());
    expected.insert("f16:dpmpp-2m".into(), rust_f16());
    expected.insert("sde:euler_maruyama".into(), bits(&rust_sde()));
    expected.insert(
        "sde:euler_maruyama_scalar_noise".into(),
        bits(&rust_sde_scalar()),
    );
    expected.insert("pc:ve".into(), bits(&rust_pc()));
    expected.insert("randn:42:1:1000".into(), bits(&rust_randn()));
    expected.insert(
        "tree:sde-dpmpp-2m".into(),
        bits(&rust_run("sde-dpmpp-2m", Some(case_tree()))),
    );
    expected.insert("tree:increment".into(), bits(&rust_tree_increment()));
    expected.insert("fbm:0.3".into(), bits(&rust_fbm()));

    expected
}

/// Cases only the Python package reproduces (its drivers written over the raw kernels).
fn python_only() -> BTreeMap<String, Vec<u32>> {
    use ito::diffusion::langevin::{AnnealedConfig, AnnealedLangevin, NoiseLevels};
    // NCSN's annealed Langevin: 5 geometric levels 10 → 0.1, 3 updates each, ε = 1e-3, the
    // final denoising step; the score of data N(0, 1) at level σ: −x/(1 + σ²).
    let mut al = AnnealedLangevin::new(AnnealedConfig {
        levels: NoiseLevels::Geometric {
            sigma_max: 10.0,
            sigma_min: 0.1,
            levels: 5,
        },
        steps_per_level: 3,
        epsilon: 1e-3,
        denoise: true,
        len: N,
        noise: NoiseSource::new(17).with_stream(2),
    })
    .unwrap();
    let mut score = vec![0f32; N];
    while let Some(ev) = al.next_eval() {
        for (s, &x) in score.iter_mut().zip(al.state()) {
            *s = (-f64::from(x) / (1.0 + ev.sigma * ev.sigma)) as f32;
        }
        al.advance(score.as_slice().into()).unwrap();
    }
    BTreeMap::from([("annealed:ncsn".to_string(), bits(al.state()))])
}

/// The bits file the Python tests read equals what the Rust API gives now (so it cannot go
/// stale). Regenerate: `ITO_BLESS=1 cargo test -p ito-capi --test c_programs`.
#[test]
fn the_python_fixture_equals_the_rust_api() {
    let mut text = String::from(
        "# ito's bits from the Rust API (capi/tests/c_programs.rs, `expected()`); the Python\n\
         # tests compare the package's results with them. Regenerate:\n\
         # ITO_BLESS=1 cargo test -p ito-capi --test c_programs\n",
    );
    for (name, bits) in expected().into_iter().chain(python_only()) {
        text.push_str(&name);
        for b in bits {
            text.push_str(&format!(" {b:08x}"));
        }
        text.push('\n');
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/tests/data/rust_bits.txt");
    if std::env::var_os("ITO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "python/tests/data/rust_bits.txt is stale: ITO_BLESS=1 cargo test -p ito-capi --test c_programs"
    );
}

/// The bits of each line of a program's output file.
fn read_bits(path: &Path) -> BTreeMap<String, Vec<u32>> {
    let text = std::fs::read_to_string(path).expect("the program's output");
    text.lines()
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().expect("a case name").to_string();
            let bits = words
                .map(|w| u32::from_str_radix(w, 16).expect("hex bits"))
                .collect();
            (name, bits)
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// This crate's static library as cargo built it for this test run, and the folder for the
/// programs.
fn paths() -> (PathBuf, PathBuf) {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let lib = deps.join("libito_capi.a");
    assert!(
        lib.exists(),
        "{} (cargo builds it with the tests)",
        lib.display()
    );
    let out = deps.parent().unwrap().join("capi-programs");
    std::fs::create_dir_all(&out).unwrap();
    (lib, out)
}

/// Compiles `source` with `compiler` and `std`, strict warnings and the sanitizers.
fn build(compiler: &str, std: &str, source: &str, exe: &Path, lib: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(compiler)
        .args([
            std,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O1",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ])
        // Built with the `emulation` feature, the library has a device handle the C test uses
        // to run every device path on the CPU.
        .args(cfg!(feature = "emulation").then_some("-DITO_TEST_EMULATION"))
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join(source))
        .arg(lib)
        // The emulation's kernels are C++ compiled into the library.
        .args(cfg!(feature = "emulation").then_some("-lstdc++"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(exe)
        .status()
        .unwrap_or_else(|e| panic!("running {compiler}: {e} (set CC/CXX)"));
    assert!(status.success(), "{compiler} {source} failed");
}

/// Runs a program; its stdout and stderr are shown on failure.
fn run(exe: &Path, args: &[&Path]) {
    let out = Command::new(exe)
        .args(args)
        // Leaks are checked too: every handle the programs create is destroyed.
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "print_stacktrace=1")
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{text}");
    assert!(out.status.success(), "{} failed:\n{text}", exe.display());
}

#[test]
fn c_and_cpp_programs_equal_the_rust_api_bit_for_bit() {
    let (lib, dir) = paths();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let (c_exe, cpp_exe) = (dir.join("sampler_loop_c"), dir.join("sampler_loop_cpp"));
    build(&cc, "-std=c99", "tests/c/sampler_loop.c", &c_exe, &lib);
    build(
        &cxx,
        "-std=c++17",
        "tests/cpp/sampler_loop.cpp",
        &cpp_exe,
        &lib,
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kdiffusion_dpmpp_2m.txt");
    let (c_out, cpp_out) = (dir.join("c_bits.txt"), dir.join("cpp_bits.txt"));
    run(&c_exe, &[&fixture, &c_out]);
    run(&cpp_exe, &[&cpp_out]);
    let (c, cpp) = (read_bits(&c_out), read_bits(&cpp_out));

    let expected = expected();

    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the C program's cases"
    );
    for (name, want) in &expected {
        assert_eq!(&c[name], want, "C {name}: bits differ from the Rust API");
        if let Some(got) = cpp.get(name) {
            assert_eq!(got, want, "C++ {name}: bits differ from the Rust API");
        }
    }
    assert_eq!(cpp.len(), 3, "the C++ program's cases");
    // The stochastic solvers drew noise: their results differ from the deterministic one.
    assert_ne!(expected["run:dpmpp-2m"], expected["run:sde-dpmpp-2m"]);
}
