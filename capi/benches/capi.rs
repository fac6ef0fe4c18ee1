//! The C API's cost per step: one sampler step (`next_eval` + `advance`, DPM-Solver++(2M),
//! SDE-DPM-Solver++(2M), UniPC-2, f32, N = 2^16, borrowed host buffers, scratch reserved)
//! through the exported `extern "C"` functions — what a C caller runs — against the same step
//! through the Rust API (`PlanRunner`), in the same run. The difference is the boundary:
//! handle lookup in the registry, the handle's lock, the pointer checks, `catch_unwind`.
//!
//! `cargo bench -p ito-capi --bench capi` (`capi_overhead/NAME/{rust,c}/N`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::ffi::{c_int, c_void, CString};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ito::runtime::memory::Host;
use ito::{Grid, NoiseSource, Param, Plan, PlanOptions, PlanRunner, Schedule};
use ito_capi::config::{ito_sampler_config, ito_sampler_config_init, ITO_GRID_UNIFORM_LAMBDA};
use ito_capi::sampler::{
    ito_eval, ito_sampler_advance, ito_sampler_create, ito_sampler_destroy, ito_sampler_init_noise,
    ito_sampler_next_eval, ito_sampler_reserve,
};
use ito_capi::{ito_sampler, ITO_OK};

/// Long plans: a measurement rarely meets the end (then a fresh one is made, in both arms).
const STEPS: usize = 100_000;

fn plan(name: &str) -> Plan {
    let schedule = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, STEPS).unwrap();
    Plan::new(
        name.parse().unwrap(),
        grid,
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap()
}

/// The same plan as a C caller configures it.
fn c_sampler(name: &CString, n: usize, x: &mut [f32]) -> *mut ito_sampler {
    let mut c = std::mem::MaybeUninit::<ito_sampler_config>::uninit();
    // SAFETY: a valid out pointer; the function writes the whole struct.
    let mut c = unsafe {
        assert_eq!(ito_sampler_config_init(c.as_mut_ptr()), ITO_OK);
        c.assume_init()
    };
    c.solver = name.as_ptr();
    c.grid = ITO_GRID_UNIFORM_LAMBDA;
    c.steps = STEPS;
    c.clean_end = 0;
    c.len = n;
    c.seed = 1;
    let mut s = std::ptr::null_mut();
    // SAFETY: a valid config (its strings outlive the call) and out pointer; `x` holds n f32.
    unsafe {
        assert_eq!(ito_sampler_create(&c, std::ptr::null_mut(), &mut s), ITO_OK);
        assert_eq!(ito_sampler_reserve(s), ITO_OK);
        assert_eq!(ito_sampler_init_noise(s, x.as_mut_ptr().cast(), n), ITO_OK);
    }
    s
}

fn bench(c: &mut Criterion) {
    let n = 1usize << 16;
    let mut g = c.benchmark_group("capi_overhead");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for name in ["dpmpp-2m", "sde-dpmpp-2m", "unipc-2"] {
        let model_out = vec![0.1f32; n];
        let mut x = vec![0.0f32; n];
        let fresh = |x: &mut Vec<f32>| {
            let mut r =
                PlanRunner::new(plan(name), n, NoiseSource::new(1), Host::<f32>::new()).unwrap();
            r.reserve(x.as_slice().into()).unwrap();
            r.init_noise(x.as_mut_slice().into()).unwrap();
            r
        };
        let mut r = fresh(&mut x);
        g.bench_function(BenchmarkId::new(format!("{name}/rust"), n), |b| {
            b.iter(|| {
                if r.next_eval(x.as_mut_slice().into()).unwrap().is_none() {
                    r = fresh(&mut x);
                }
                r.advance(x.as_mut_slice().into(), model_out.as_slice().into())
                    .unwrap();
            })
        });

        let cname = CString::new(name).unwrap();
        let mut s = c_sampler(&cname, n, &mut x);
        let mut ev = ito_eval::default();
        let mut more: c_int = 0;
        g.bench_function(BenchmarkId::new(format!("{name}/c"), n), |b| {
            b.iter(|| {
                let xp: *mut c_void = x.as_mut_ptr().cast();
                // SAFETY: a live handle, `x` and `model_out` hold n f32 each, apart.
                unsafe {
                    assert_eq!(ito_sampler_next_eval(s, xp, n, &mut ev, &mut more), ITO_OK);
                    if more == 0 {
                        assert_eq!(ito_sampler_destroy(s), ITO_OK);
                        s = c_sampler(&cname, n, &mut x);
                    }
                    let m = model_out.as_ptr().cast();
                    assert_eq!(
                        ito_sampler_advance(s, x.as_mut_ptr().cast(), n, m, n),
                        ITO_OK
                    );
                }
            })
        });
        // SAFETY: a live handle, destroyed once.
        unsafe { assert_eq!(ito_sampler_destroy(s), ITO_OK) };
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
