//! Raw kernels on the caller's tensors — `lincomb`, `fill_normal`, `reduce` — and the SDE
//! steppers, on host memory (`device` NULL) or on a CUDA device handle's stream. Each is one
//! fused pass with its noise drawn inline from the counter, the same bits as the Rust calls.

use std::ffi::c_int;

use ito::runtime::memory::{Host, Memory};
use ito::{LincombCoefs, Noise, NoiseKey, NoiseSource, SegmentStats, MAX_INPUTS};

use crate::memory::{ito_tensor, CallerMemory};
use crate::{Failure, Outcome};

/// Runs `$body` with `$st` a `&Stepper` over host memory (`$device` NULL) or over the device
/// handle's memory; its value is the entry point's status.
macro_rules! on_memory {
    ($device:expr, |$st:ident| $body:expr) => {{
        let device: *mut crate::ito_device = $device;
        if device.is_null() {
            crate::entry(|| {
                let $st =
                    &::ito::sde::steppers::Stepper::new(::ito::runtime::memory::Host::<f32>::new());
                $body
            })
        } else {
            let on_device = |_d: &crate::device::DeviceState| -> crate::Outcome {
                crate::device::on_device!(_d, |$st| $body)
            };
            // SAFETY: `device` is a handle pointer (the entry point's contract).
            unsafe { crate::with_shared(device, on_device) }
        }
    }};
}
pub(crate) use on_memory;

/// `lincomb`'s coefficients (see `ito::LincombCoefs`): y ← c_y·y + Σⱼ cⱼ·inputⱼ +
/// (c_z + Σⱼ eⱼ·inputⱼ)·z and, when y2 is given, y2 ← d_y·y + Σⱼ dⱼ·inputⱼ (from the old y).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_lincomb_coefs {
    /// c_y.
    pub y: f32,
    /// cⱼ.
    pub inputs: [f32; ITO_MAX_INPUTS],
    /// c_z.
    pub noise: f32,
    /// eⱼ.
    pub noise_inputs: [f32; ITO_MAX_INPUTS],
    /// d_y.
    pub y2_y: f32,
    /// dⱼ.
    pub y2_inputs: [f32; ITO_MAX_INPUTS],
}

/// The maximum number of inputs of one `ito_lincomb` (`ito::MAX_INPUTS`).
pub const ITO_MAX_INPUTS: usize = 6;
const _: () = assert!(ITO_MAX_INPUTS == MAX_INPUTS);

/// A counter address of standard normals: element i of the call draws N(seed, stream, step,
/// offset + i) (`ito::Noise`; the layout is in `ito::runtime::rng`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ito_noise {
    /// Philox's 64-bit key.
    pub seed: u64,
    /// The stream tag.
    pub stream: u32,
    /// The step number.
    pub step: u32,
    /// Global index of the call's element 0.
    pub offset: u64,
}

impl From<ito_noise> for Noise {
    fn from(n: ito_noise) -> Noise {
        Noise {
            key: NoiseKey {
                seed: n.seed,
                stream: n.stream,
                step: n.step,
            },
            offset: n.offset,
        }
    }
}

impl From<Noise> for ito_noise {
    fn from(n: Noise) -> ito_noise {
        ito_noise {
            seed: n.key.seed,
            stream: n.key.stream,
            step: n.key.step,
            offset: n.offset,
        }
    }
}

/// A noise identity (`ito::NoiseSource`): what the SDE steppers and samplers draw from; their
/// own uses of it never draw the same normals.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ito_noise_source {
    /// The seed.
    pub seed: u64,
    /// The caller's stream (batch index, rank, …).
    pub stream: u32,
    /// Global index of element 0.
    pub offset: u64,
}

impl From<ito_noise_source> for NoiseSource {
    fn from(n: ito_noise_source) -> NoiseSource {
        NoiseSource {
            seed: n.seed,
            stream: n.stream,
            offset: n.offset,
        }
    }
}

/// Noise use: a solver step's noise (ancestral, SDE, churn).
pub const ITO_NOISE_STEP: u32 = 0;
/// Noise use: a sampler's initial noise (`ito_sampler_init_noise`, the PC prior).
pub const ITO_NOISE_INITIAL: u32 = 1;
/// Noise use: a Langevin corrector step.
pub const ITO_NOISE_CORRECTOR: u32 = 2;
/// Noise use: a PC predictor step.
pub const ITO_NOISE_PREDICTOR: u32 = 3;
/// Noise use: annealed Langevin levels.
pub const ITO_NOISE_LEVEL: u32 = 4;
/// Noise use: the Brownian tree.
pub const ITO_NOISE_TREE: u32 = 5;
/// Noise use: fractional noise's OU bank.
pub const ITO_NOISE_OU_BANK: u32 = 6;
/// Noise use: an SDE stepper's diagonal increments.
pub const ITO_NOISE_INCREMENT: u32 = 7;
/// Noise use: an SDE stepper's scalar (per-sample) increments.
pub const ITO_NOISE_SCALAR_INCREMENT: u32 = 8;

/// The counter address of the normals a noise identity draws for `use_` (`ITO_NOISE_*`) at
/// `step`, for `len` elements: `ito_fill_normal` with it gives the exact normals a sampler or
/// stepper adds (e.g. to hand a reference implementation the same noise). Thread-safe.
///
/// # Safety
/// `source` readable; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_noise_address(
    source: *const ito_noise_source,
    use_: u32,
    step: u32,
    len: usize,
    out: *mut ito_noise,
) -> c_int {
    crate::entry(|| {
        // SAFETY: the contract.
        let s = NoiseSource::from(unsafe { req("source", source) }?);
        let use_ = *ito::NoiseUse::ALL
            .iter()
            .find(|u| **u as u32 == use_)
            .ok_or_else(|| Failure::argument("use_", "one of the ITO_NOISE_* codes (0…8)", use_))?;
        let n = s.noise(use_, step, len)?;
        // SAFETY: the contract.
        unsafe { crate::write_out("out", out, ito_noise::from(n)) }
    })
}

/// Reads an optional pointer argument.
///
/// # Safety
/// `p` is NULL or valid for a read.
unsafe fn opt<T: Copy>(p: *const T) -> Option<T> {
    // SAFETY: the caller's contract.
    (!p.is_null()).then(|| unsafe { p.read() })
}

/// Reads a required pointer argument.
///
/// # Safety
/// `p` is NULL or valid for a read.
unsafe fn req<T: Copy>(arg: &str, p: *const T) -> Result<T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { opt(p) }.ok_or_else(|| Failure::null(arg))
}

/// `written` checked: `ITO_ERR_NONFINITE` naming `buffer` when the pass stored a value that
/// is not finite (on a device, reports accumulate instead: `ito_device_take_nonfinite`).
fn checked<M: Memory>(
    mem: &M,
    written: ito::runtime::Written,
    step: Option<u64>,
    buffer: &'static str,
    t: M::Ref<'_>,
) -> Outcome {
    Ok(mem.check_written(written, step, buffer, t)?)
}

/// y ← c_y·y + Σⱼ cⱼ·inputⱼ + (c_z + Σⱼ eⱼ·inputⱼ)·z, and y2 from the old y, in one pass
/// (`ito::lincomb`). `y2` and `noise` may be NULL; `inputs` may be NULL when `n_inputs` is 0.
/// Thread-safe on host memory; on a device handle, one call at a time.
///
/// # Safety
/// `device` is NULL or a live device handle; every tensor describes memory of that kind
/// (host, or the device's) valid for the call; written tensors (y, y2) apart from the others;
/// `inputs` holds `n_inputs` tensors; `coefs` and `noise` readable.
#[no_mangle]
pub unsafe extern "C" fn ito_lincomb(
    device: *mut crate::ito_device,
    y: ito_tensor,
    y2: *const ito_tensor,
    inputs: *const ito_tensor,
    n_inputs: usize,
    coefs: *const ito_lincomb_coefs,
    noise: *const ito_noise,
) -> c_int {
    on_memory!(device, |st| {
        let mem = st.memory();
        // SAFETY: `coefs`, `y2` and `noise` are NULL or readable (the entry point's contract).
        let (c, y2, noise) = unsafe { (req("coefs", coefs), opt(y2), opt(noise)) };
        let (c, noise) = (c?, noise.map(Noise::from));
        if n_inputs > MAX_INPUTS {
            return Err(Failure::argument(
                "n_inputs",
                "at most ITO_MAX_INPUTS (6)",
                n_inputs,
            ));
        }
        if n_inputs > 0 && inputs.is_null() {
            return Err(Failure::null("inputs"));
        }
        let ins: &[ito_tensor] = match n_inputs {
            0 => &[],
            // SAFETY: non-NULL, n_inputs tensors (the contract).
            n => unsafe { std::slice::from_raw_parts(inputs, n) },
        };
        const NAMES: [&str; MAX_INPUTS] = [
            "inputs[0]",
            "inputs[1]",
            "inputs[2]",
            "inputs[3]",
            "inputs[4]",
            "inputs[5]",
        ];
        // The buffers on the stack: a call allocates nothing.
        let mut all = [("y", &y, true); crate::memory::MAX_BUFFERS];
        let mut count = 1;
        if let Some(t) = &y2 {
            all[1] = ("y2", t, true);
            count = 2;
        }
        for (t, name) in ins.iter().zip(NAMES) {
            all[count] = (name, t, false);
            count += 1;
        }
        mem.check_apart(&all[..count])?;
        let first = match ins.first() {
            // SAFETY: the contract; checked apart from the outputs.
            Some(t) => Some(unsafe { mem.input(NAMES[0], t) }?),
            None => None,
        };
        let mut views = [first; MAX_INPUTS];
        for ((v, t), name) in views.iter_mut().zip(ins).zip(NAMES).skip(1) {
            // SAFETY: as above.
            *v = Some(unsafe { mem.input(name, t) }?);
        }
        let views = match first {
            Some(f) => views.map(|v| v.unwrap_or(f)),
            None => return lincomb_no_inputs(mem, y, y2, c, noise),
        };
        let views = &views[..ins.len()];
        // SAFETY: as above.
        let mut yv = unsafe { mem.output("y", &y) }?;
        let y2v = match &y2 {
            // SAFETY: as above.
            Some(t) => Some(unsafe { mem.output("y2", t) }?),
            None => None,
        };
        let k = coefs_of(&c);
        let written = Memory::lincomb(mem, reborrow(mem, &mut yv), y2v, views, &k, noise)?;
        checked(mem, written, None, "y", as_ref(mem, &yv))
    })
}

fn coefs_of(c: &ito_lincomb_coefs) -> LincombCoefs {
    LincombCoefs {
        y: c.y,
        inputs: c.inputs,
        noise: c.noise,
        noise_inputs: c.noise_inputs,
        y2_y: c.y2_y,
        y2_inputs: c.y2_inputs,
    }
}

/// `ito_lincomb` without inputs (a scaled state plus noise).
fn lincomb_no_inputs<M: CallerMemory>(
    mem: &M,
    y: ito_tensor,
    y2: Option<ito_tensor>,
    c: ito_lincomb_coefs,
    noise: Option<Noise>,
) -> Outcome {
    // SAFETY: the entry point's contract; checked apart by the caller.
    let mut yv = unsafe { mem.output("y", &y) }?;
    let y2v = match &y2 {
        // SAFETY: as above.
        Some(t) => Some(unsafe { mem.output("y2", t) }?),
        None => None,
    };
    let written = Memory::lincomb(mem, reborrow(mem, &mut yv), y2v, &[], &coefs_of(&c), noise)?;
    checked(mem, written, None, "y", as_ref(mem, &yv))
}

fn reborrow<'a, M: Memory>(_m: &M, t: &'a mut M::Mut<'_>) -> M::Mut<'a> {
    M::reborrow(t)
}

fn as_ref<'a, M: Memory>(_m: &M, t: &'a M::Mut<'_>) -> M::Ref<'a> {
    M::as_ref(t)
}

/// `y[i]` = mean + std·N(noise, i): ito's normals (Philox4x32-10 and its exact transform),
/// identical on every backend. `ito_randn` is `mean` 0, `std` 1.
///
/// # Safety
/// As `ito_lincomb`; `noise` readable.
#[no_mangle]
pub unsafe extern "C" fn ito_fill_normal(
    device: *mut crate::ito_device,
    y: ito_tensor,
    mean: f32,
    std: f32,
    noise: *const ito_noise,
) -> c_int {
    on_memory!(device, |st| {
        let mem = st.memory();
        // SAFETY: the contract.
        let noise = Noise::from(unsafe { req("noise", noise) }?);
        mem.check_apart(&[("y", &y, true)])?;
        // SAFETY: the contract.
        let mut yv = unsafe { mem.output("y", &y) }?;
        let written = Memory::fill_normal(mem, reborrow(mem, &mut yv), mean, std, noise)?;
        checked(mem, written, None, "y", as_ref(mem, &yv))
    })
}

/// Standard normals from (seed, stream, offset): `y[i] = N(seed, stream, step 0, offset + i)`.
///
/// # Safety
/// As `ito_lincomb`.
#[no_mangle]
pub unsafe extern "C" fn ito_randn(
    device: *mut crate::ito_device,
    y: ito_tensor,
    seed: u64,
    stream: u32,
    offset: u64,
) -> c_int {
    let noise = ito_noise {
        seed,
        stream,
        step: 0,
        offset,
    };
    // SAFETY: the contract; `noise` is a local.
    unsafe { ito_fill_normal(device, y, 0.0, 1.0, &noise) }
}

/// Per-segment Σx², Σx·y (+0 without y) and max|x| of `x` cut into segments of `segment_len`
/// (the fixed reduction order of `ito::reduce`), into `out[0 .. n_out]`, n_out = segments.
/// Host memory only. Thread-safe.
///
/// # Safety
/// `x` (and `y` if not NULL) describe host memory valid for the call; `out` holds `n_out`
/// writable entries.
#[no_mangle]
pub unsafe extern "C" fn ito_reduce(
    x: ito_tensor,
    y: *const ito_tensor,
    segment_len: usize,
    out: *mut ito_segment_stats,
    n_out: usize,
) -> c_int {
    crate::entry(|| {
        let host = Host::<f32>::new();
        // SAFETY: the contract.
        let y = unsafe { opt(y) };
        let mut all = vec![("x", &x, false)];
        if let Some(t) = &y {
            all.push(("y", t, false));
        }
        host.check_apart(&all)?;
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: the contract.
        let xv = unsafe { host.input("x", &x) }?;
        let yv = match &y {
            // SAFETY: the contract.
            Some(t) => Some(unsafe { host.input("y", t) }?),
            None => None,
        };
        let mut stats = ito::runtime::try_vec("n_out", n_out, SegmentStats::default())?;
        ito::reduce(xv, yv, segment_len, &mut stats)?;
        for (i, s) in stats.iter().enumerate() {
            let v = ito_segment_stats {
                sum_sq: s.sum_sq,
                sum_xy: s.sum_xy,
                max_abs: s.max_abs,
            };
            // SAFETY: i < n_out entries (the contract).
            unsafe { out.add(i).write(v) };
        }
        Ok(())
    })
}

/// One segment's statistics (`ito::SegmentStats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_segment_stats {
    /// Σ x².
    pub sum_sq: f32,
    /// Σ x·y.
    pub sum_xy: f32,
    /// max |x| (NaN if any x is NaN).
    pub max_abs: f32,
}

/// The body of an SDE stepper entry point: `$out` the written tensor, `$ins` the read ones,
/// calling `Stepper::$method(out, ins…, dt, noise, step)` on the memory `device` names.
macro_rules! stepper {
    ($device:ident, $method:ident, $dt:ident, $noise:ident, $step:ident, $out:ident $(, $in:ident)*) => {
        on_memory!($device, |st| {
            let mem = st.memory();
            // SAFETY: the entry point's contract.
            let noise = NoiseSource::from(unsafe { req("noise", $noise) }?);
            mem.check_apart(&[(stringify!($out), &$out, true) $(, (stringify!($in), &$in, false))*])?;
            // SAFETY: the contract (valid for the call), checked apart.
            let outv = unsafe { mem.output(stringify!($out), &$out) }?;
            // SAFETY: as above.
            $(let $in = unsafe { mem.input(stringify!($in), &$in) }?;)*
            Ok(st.$method(outv $(, $in)*, $dt, noise, $step)?)
        })
    };
}

/// Euler–Maruyama, diagonal noise: x ← x + Δt·f + g·ΔW, ΔW = √Δt·z from `noise` at `step`
/// (step k of a run passes k).
///
/// # Safety
/// `device` is NULL or a live device handle; every tensor describes memory of that kind valid
/// for the call, the written one apart from the others; `noise` readable.
#[no_mangle]
pub unsafe extern "C" fn ito_euler_maruyama(
    device: *mut crate::ito_device,
    x: ito_tensor,
    f: ito_tensor,
    g: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(device, euler_maruyama, dt, noise, step, x, f, g)
}

/// Euler–Maruyama, scalar noise: one Brownian motion per sample of `sample_len` elements
/// (which divides `x.len` and `noise->offset`): x ← x + Δt·f + ΔW_b·g on sample b. On a
/// device, one launch per sample.
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_euler_maruyama_scalar_noise(
    device: *mut crate::ito_device,
    x: ito_tensor,
    f: ito_tensor,
    g: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
    sample_len: usize,
) -> c_int {
    on_memory!(device, |st| {
        let mem = st.memory();
        // SAFETY: the entry point's contract.
        let noise = NoiseSource::from(unsafe { req("noise", noise) }?);
        mem.check_apart(&[("x", &x, true), ("f", &f, false), ("g", &g, false)])?;
        // SAFETY: the contract (valid for the call), checked apart.
        let (xv, fv, gv) = unsafe { (mem.output("x", &x), mem.input("f", &f), mem.input("g", &g)) };
        Ok(st.euler_maruyama_scalar_noise(xv?, fv?, gv?, dt, noise, step, sample_len)?)
    })
}

/// Milstein, diagonal noise: x ← x + Δt·f + g·ΔW + ½·h·(ΔW² − Δt), h = g·∂g/∂x.
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_milstein(
    device: *mut crate::ito_device,
    x: ito_tensor,
    f: ito_tensor,
    g: ito_tensor,
    h: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(device, milstein, dt, noise, step, x, f, g, h)
}

/// Stochastic Heun (Stratonovich), stage 1: x_pred ← x + Δt·f + g·ΔW; then evaluate f, g at
/// x_pred and call `ito_stochastic_heun_correct` with the same `step`.
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_stochastic_heun_predict(
    device: *mut crate::ito_device,
    x_pred: ito_tensor,
    x: ito_tensor,
    f: ito_tensor,
    g: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(
        device,
        stochastic_heun_predict,
        dt,
        noise,
        step,
        x_pred,
        x,
        f,
        g
    )
}

/// Stochastic Heun, stage 2: x ← x + ½Δt·(f + f_pred) + ½(g + g_pred)·ΔW (same `step`).
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_stochastic_heun_correct(
    device: *mut crate::ito_device,
    x: ito_tensor,
    f: ito_tensor,
    g: ito_tensor,
    f_pred: ito_tensor,
    g_pred: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(
        device,
        stochastic_heun_correct,
        dt,
        noise,
        step,
        x,
        f,
        g,
        f_pred,
        g_pred
    )
}

/// Reversible Heun (Kidger et al. 2021), first half of forward step n (f0 = f(ŷ_n),
/// g0 = g(ŷ_n)): ŷ_{n+1} = 2y_n − ŷ_n + Δt·f0 + g0·ΔW into `y_hat`; then evaluate f1, g1 at
/// ŷ_{n+1} and call `ito_reversible_heun_correct` with the same `step`.
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_reversible_heun_forward(
    device: *mut crate::ito_device,
    y_hat: ito_tensor,
    y: ito_tensor,
    f0: ito_tensor,
    g0: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(
        device,
        reversible_heun_forward,
        dt,
        noise,
        step,
        y_hat,
        y,
        f0,
        g0
    )
}

/// Reversible Heun's y update (same `step` as its forward or reverse half):
/// y ← y + ½Δt·(f0 + f1) + ½(g0 + g1)·ΔW (Δt < 0 in reverse).
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_reversible_heun_correct(
    device: *mut crate::ito_device,
    y: ito_tensor,
    f0: ito_tensor,
    g0: ito_tensor,
    f1: ito_tensor,
    g1: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(
        device,
        reversible_heun_correct,
        dt,
        noise,
        step,
        y,
        f0,
        g0,
        f1,
        g1
    )
}

/// Reversible Heun, the reverse of step n (f1 = f(ŷ_{n+1}), g1 = g(ŷ_{n+1})):
/// ŷ_n = 2y_{n+1} − ŷ_{n+1} − Δt·f1 − g1·ΔW into `y_hat`; then evaluate f0, g0 at ŷ_n and call
/// `ito_reversible_heun_correct` with −Δt for y_n.
///
/// # Safety
/// As `ito_euler_maruyama`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ito_reversible_heun_reverse(
    device: *mut crate::ito_device,
    y_hat: ito_tensor,
    y: ito_tensor,
    f1: ito_tensor,
    g1: ito_tensor,
    dt: f64,
    noise: *const ito_noise_source,
    step: u32,
) -> c_int {
    stepper!(
        device,
        reversible_heun_reverse,
        dt,
        noise,
        step,
        y_hat,
        y,
        f1,
        g1
    )
}
