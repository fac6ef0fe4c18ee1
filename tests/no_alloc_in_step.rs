//! Once a [`PlanRunner`]'s scratch is reserved, a step allocates nothing: every solver name
//! (`SOLVER_NAMES`), with thresholding where it applies, on borrowed host slices, counted by a global
//! allocator wrapper around the system allocator. (Its own binary: the count is process-wide.)
//! Tree noise is the exception: its terms are computed per step on the host (a short vector).

#[path = "common/plans.rs"]
mod plans;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ito::diffusion::solver::SOLVER_NAMES;
use ito::runtime::memory::Host;
use ito::{Backend, NoiseSource, PlanRunner, Storage};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `dealloc`; the new size is the caller's, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` (process-wide).
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Runs `name`'s plan on borrowed slices with its scratch reserved; returns the allocations
/// made inside `next_eval` and `advance` and the number of evaluations.
fn run_counted(name: &str, threshold: Option<usize>, n: usize, backend: Backend) -> (usize, usize) {
    let plan = plans::plan_for(name, 8, threshold);
    let mem = Host::<f32>::with_backend(backend).unwrap();
    let mut runner = PlanRunner::new(plan, n, NoiseSource::new(3), mem).unwrap();
    let mut x = vec![0.0f32; n];
    let mut out = vec![0.0f32; n];
    let mut input = vec![0.0f32; n];
    runner.reserve(x.as_slice().into()).unwrap();
    runner.init_noise(x.as_mut_slice().into()).unwrap();
    let (mut steps, mut counted) = (0usize, 0usize);
    loop {
        let mut next = None;
        counted += allocations(|| next = runner.next_eval(x.as_mut_slice().into()).unwrap());
        let Some(ev) = next else { break };
        input.copy_from_slice(f32::slice(runner.eval_input(x.as_slice().into())).unwrap());
        plans::toy_model(&input, ev.node.sigma, &mut out);
        counted += allocations(|| {
            runner
                .advance(x.as_mut_slice().into(), out.as_slice().into())
                .unwrap()
        });
        steps += 1;
    }
    (counted, steps)
}

#[test]
fn a_reserved_runner_allocates_nothing_in_a_step() {
    let n = 3 * 1024;
    // Within one CPU chunk (2^14 elements) every pass runs on the calling thread: the count
    // then covers everything ito does. (Larger passes fan out on rayon's pool, whose injector
    // queue allocates a block per 63 jobs: the pool's bookkeeping, not ito's.)
    let backend = Backend::Scalar;
    let mut failures = Vec::new();
    for name in SOLVER_NAMES {
        for threshold in [None, Some(1024)] {
            let (counted, steps) = run_counted(name, threshold, n, backend);
            assert!(steps > 0, "{name}: no step taken");
            if counted != 0 {
                failures.push(format!(
                    "{name} (thresholding {threshold:?}): {counted} allocations in {steps} evaluations"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
