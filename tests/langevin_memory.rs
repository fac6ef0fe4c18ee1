//! The Langevin corrector never stores its noise: a counting allocator (this test binary's
//! global allocator) records the peak heap growth during a corrector step on 2^20 f32
//! elements, and it stays a small fraction of the 4 MiB one noise tensor would take — on
//! every CPU backend, with per-sample and batch-mean norms; per-sample calls keep no
//! per-sample bookkeeping beyond one normal per sample either. Its own binary, so that no
//! other test's allocations are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ito::diffusion::langevin::{langevin_step, Corrector, NormMode};
use ito::{Backend, Noise, NoiseKey};

/// The system allocator, with the live heap bytes and their peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's layout and pointer unchanged; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this binary run one at a time: the counters are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak heap growth (bytes above the live heap at the start) while `f` runs.
fn peak_growth(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

#[test]
fn a_corrector_step_allocates_far_less_than_one_noise_tensor() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 1usize << 20;
    let sample_len = 1 << 16;
    let noise_tensor_bytes = n * std::mem::size_of::<f32>();
    let mut x = vec![0.5f32; n];
    let score: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 50.0).collect();
    let noise = Noise {
        key: NoiseKey {
            seed: 5,
            stream: 1,
            step: 0,
        },
        offset: 0,
    };
    let backends: Vec<Backend> = ito::available_backends()
        .into_iter()
        .filter(|b| *b != Backend::Cuda)
        .collect();
    for backend in backends {
        for norms in [NormMode::PerSample, NormMode::BatchMean] {
            let corrector = Corrector {
                snr: 0.16,
                alpha: 1.0,
                norms,
            };
            let mut step = || {
                langevin_step(
                    backend,
                    x.as_mut_slice().into(),
                    score.as_slice().into(),
                    sample_len,
                    &corrector,
                    noise,
                )
                .unwrap()
            };
            // The first call starts rayon's pool (its registry is heap data); measure after.
            step();
            let growth = peak_growth(|| {
                step();
            });
            // Per-leaf norms (8 bytes per 256 elements) and per-sample bookkeeping only.
            assert!(
                growth < noise_tensor_bytes / 16,
                "{backend} {norms:?}: the step's heap grew by {growth} bytes at its peak \
                 (one noise tensor: {noise_tensor_bytes})"
            );
        }
    }
}

/// Per-sample calls keep no per-sample bookkeeping beyond the samples' normals (4 bytes each):
/// scalar-noise Euler–Maruyama over 2^14 samples of 64 elements stays far below one tensor.
#[test]
fn one_sample_per_element_allocates_far_less_than_one_tensor() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 1usize << 20;
    let mut x = vec![0.5f32; n];
    let (f, g) = (vec![-0.5f32; n], vec![0.3f32; n]);
    let inc = ito::NoiseSource {
        seed: 5,
        stream: 2,
        offset: 0,
    };
    let mut step = || {
        ito::sde::euler_maruyama_scalar_noise(
            x.as_mut_slice().into(),
            f.as_slice().into(),
            g.as_slice().into(),
            1e-3,
            inc,
            0,
            64,
        )
        .unwrap()
    };
    step();
    let growth = peak_growth(step);
    let tensor_bytes = n * std::mem::size_of::<f32>();
    assert!(
        growth < tensor_bytes / 16,
        "the step's heap grew by {growth} bytes at its peak (one tensor: {tensor_bytes})"
    );
}

/// The counter itself can fail: storing the noise, as a two-kernel implementation would,
/// shows up as at least one tensor's bytes.
#[test]
fn the_counter_sees_a_materialised_noise_tensor() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = 1usize << 20;
    let growth = peak_growth(|| {
        let mut z = vec![0.0f32; n];
        ito::fill_normal(
            z.as_mut_slice().into(),
            0.0,
            1.0,
            Noise {
                key: NoiseKey {
                    seed: 5,
                    stream: 1,
                    step: 0,
                },
                offset: 0,
            },
        )
        .unwrap();
        std::hint::black_box(&z);
    });
    // Not exact: another test thread's exit may free its thread-locals meanwhile.
    let tensor_bytes = n * std::mem::size_of::<f32>();
    assert!(growth >= tensor_bytes * 3 / 4, "growth {growth}");
}
