//! A C caller's step allocates nothing once the sampler's scratch is reserved: every solver
//! name through `ito_sampler_next_eval` / `_eval_input` / `_advance` (with dynamic
//! thresholding where the solver has it), and the raw `ito_lincomb`, `ito_fill_normal` and
//! `ito_euler_maruyama` — counted by a global allocator. N = 4096: below the size where CPU
//! passes fan out on rayon, whose queue allocates (the Rust API's exception, README), so the
//! calling thread is where all of a step's work happens and what is counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_int, c_void, CString};

use ito::diffusion::solver::SOLVER_NAMES;
use ito_capi::config::*;
use ito_capi::kernels::{
    ito_euler_maruyama, ito_fill_normal, ito_lincomb, ito_lincomb_coefs, ito_noise,
    ito_noise_source,
};
use ito_capi::memory::ito_tensor;
use ito_capi::sampler::*;
use ito_capi::{ITO_DTYPE_F32, ITO_OK};

struct Counting;

thread_local! {
    // Per thread: the test harness's own threads allocate while a test runs.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

const N: usize = 4096;

fn config(name: &CString, thresholded: bool) -> ito_sampler_config {
    let mut c = std::mem::MaybeUninit::<ito_sampler_config>::uninit();
    // SAFETY: a valid out pointer; the function writes the whole struct.
    let mut c = unsafe {
        assert_eq!(ito_sampler_config_init(c.as_mut_ptr()), ITO_OK);
        c.assume_init()
    };
    c.solver = name.as_ptr();
    c.len = N;
    c.steps = 8;
    c.seed = 3;
    if name.to_str().unwrap().starts_with("interpolant") {
        c.schedule = ITO_SCHEDULE_FLOW;
        c.prediction = ITO_PREDICTION_VELOCITY;
        c.grid = ITO_GRID_UNIFORM_T;
        c.t_start = 0.999;
    }
    if thresholded {
        c.threshold_ratio = 0.9;
        c.threshold_max = 1.5;
        c.threshold_sample_len = 1024;
    }
    c
}

#[test]
fn a_step_through_the_c_api_allocates_nothing() {
    let mut x = vec![0f32; N];
    let mut out = vec![0f32; N];
    let mut checked = 0;
    for name in SOLVER_NAMES {
        let cname = CString::new(*name).unwrap();
        for thresholded in [false, true] {
            let c = config(&cname, thresholded);
            let mut s = std::ptr::null_mut();
            // SAFETY: a valid config and out pointer.
            let st = unsafe { ito_sampler_create(&c, std::ptr::null_mut(), &mut s) };
            if thresholded && st != ITO_OK {
                continue; // this solver does not threshold
            }
            assert_eq!(st, ITO_OK, "{name}");
            let xp: *mut c_void = x.as_mut_ptr().cast();
            // SAFETY: a live handle; x holds N f32.
            unsafe {
                assert_eq!(ito_sampler_reserve(s), ITO_OK, "{name}");
                assert_eq!(ito_sampler_init_noise(s, xp, N), ITO_OK, "{name}");
            }
            let mut ev = ito_eval::default();
            let mut more: c_int = 1;
            let mut steps = 0;
            while more != 0 {
                let mut input: *const c_void = std::ptr::null();
                let n = allocations(|| {
                    // SAFETY: a live handle; x holds N f32.
                    unsafe {
                        assert_eq!(ito_sampler_next_eval(s, xp, N, &mut ev, &mut more), ITO_OK);
                        if more != 0 {
                            assert_eq!(ito_sampler_eval_input(s, xp, N, &mut input), ITO_OK);
                        }
                    }
                });
                assert_eq!(
                    n, 0,
                    "{name} (thresholded {thresholded}): next_eval allocated"
                );
                if more == 0 {
                    break;
                }
                // SAFETY: `input` is x or the sampler's stage buffer, N f32.
                let inp = unsafe { std::slice::from_raw_parts(input.cast::<f32>(), N) };
                for (o, &v) in out.iter_mut().zip(inp) {
                    *o = (0.8 * v + 0.1).tanh() * (1.0 + ev.sigma as f32).sqrt() - 0.05 * v;
                }
                let n = allocations(|| {
                    // SAFETY: a live handle; x and out hold N f32, apart.
                    let st = unsafe { ito_sampler_advance(s, xp, N, out.as_ptr().cast(), N) };
                    assert_eq!(st, ITO_OK, "{name}");
                });
                assert_eq!(
                    n, 0,
                    "{name} (thresholded {thresholded}): advance allocated"
                );
                steps += 1;
            }
            assert!(steps >= 8, "{name}: {steps} evaluations");
            // SAFETY: a live handle, destroyed once.
            unsafe { assert_eq!(ito_sampler_destroy(s), ITO_OK) };
            checked += 1;
        }
    }
    assert!(checked >= 35 + 10, "{checked} samplers checked");

    // The raw kernels and a stepper.
    let t = |v: &mut Vec<f32>| ito_tensor {
        data: v.as_mut_ptr().cast(),
        len: v.len(),
        dtype: ITO_DTYPE_F32,
    };
    let (mut a, mut b, mut g) = (vec![0.5f32; N], vec![0.25f32; N], vec![0.1f32; N]);
    let (ta, tb, tg) = (t(&mut a), t(&mut b), t(&mut g));
    let mut k = ito_lincomb_coefs {
        y: 0.9,
        noise: 0.1,
        ..Default::default()
    };
    k.inputs[0] = 0.2;
    k.inputs[1] = -0.1;
    let z = ito_noise {
        seed: 1,
        ..Default::default()
    };
    let src = ito_noise_source {
        seed: 2,
        ..Default::default()
    };
    let n = allocations(|| {
        // SAFETY: tensors of N f32, apart; readable coefficients and noise.
        unsafe {
            let ins = [tb, tg];
            assert_eq!(
                ito_lincomb(
                    std::ptr::null_mut(),
                    ta,
                    std::ptr::null(),
                    ins.as_ptr(),
                    2,
                    &k,
                    &z
                ),
                ITO_OK
            );
            let scale = ito_lincomb_coefs {
                y: 0.5,
                noise: 0.1,
                ..Default::default()
            };
            assert_eq!(
                ito_lincomb(
                    std::ptr::null_mut(),
                    ta,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                    &scale,
                    &z
                ),
                ITO_OK
            );
            assert_eq!(
                ito_fill_normal(std::ptr::null_mut(), tb, 0.0, 1.0, &z),
                ITO_OK
            );
            assert_eq!(
                ito_euler_maruyama(std::ptr::null_mut(), ta, tb, tg, 0.01, &src, 0),
                ITO_OK
            );
        }
    });
    assert_eq!(n, 0, "raw kernels allocated");
}
