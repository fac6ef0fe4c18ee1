//! [`ito_sampler`]: a solver plan walked over the caller's tensor (host or CUDA), one fused
//! pass per model evaluation — step by step, or as a whole loop around a model callback.
//!
//! The state `x` is the caller's (or ito's, from [`ito_sampler_state`]) and is passed to every
//! call; the sampler keeps only the solver's scratch (stage, history), allocated at first use or
//! all at once by [`ito_sampler_reserve`], after which no call allocates.

use std::ffi::{c_int, c_void};

use ito::diffusion::solver::Slot;
use ito::runtime::memory::Host;
use ito::{bf16, f16, BrownianTree, Dtype, PlanRunner};

use crate::config::{ito_sampler_config, Built};
use crate::memory::{ito_tensor, CallerMemory};
use crate::{
    destroy, last_error_of, opaque, publish, with_handle, write_out, Failure, Kind, Outcome,
    ITO_ERR_CALLBACK,
};

/// Where the model must be evaluated next.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_eval {
    /// The grid step (0-based).
    pub step: usize,
    /// The stage within the step (0 = at the step's start).
    pub stage: usize,
    /// The time (for the EDM schedule: σ).
    pub t: f64,
    /// α at that time (1 for EDM and VE).
    pub alpha: f64,
    /// σ at that time (the noise level of the model input x = α·x₀ + σ·ε).
    pub sigma: f64,
    /// On a discrete grid at a grid node: the training timestep (what diffusers passes to the
    /// model); otherwise −1.
    pub timestep: i64,
    /// Non-zero when the input is the sampler's stage buffer rather than the state
    /// (singlestep and Heun-type solvers between grid nodes).
    pub on_stage: u32,
}

/// The model, called by `ito_sampler_run`: writes into `output` (`len` elements of the
/// sampler's storage type, on the sampler's memory) the prediction the configuration names at
/// `input` (`len` elements), evaluated where `at` says. Returns 0 to go on, anything else to
/// stop the run (which then returns `ITO_ERR_CALLBACK`). It must return normally: a C++
/// exception or a `longjmp` through ito is undefined behaviour (catch inside the callback).
pub type ito_model_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        input: *const c_void,
        output: *mut c_void,
        len: usize,
        at: *const ito_eval,
    ) -> c_int,
>;

/// A sampler's work on one kind of memory, behind one interface for the C entry points.
trait Drive: Send + Sync {
    /// # Safety (all `x`/`model` arguments): the caller's pointers, valid for the call.
    unsafe fn init_noise(&mut self, x: ito_tensor) -> Outcome;
    unsafe fn next_eval(
        &mut self,
        x: ito_tensor,
    ) -> Result<Option<ito::diffusion::solver::Eval>, Failure>;
    unsafe fn eval_input(&mut self, x: ito_tensor) -> Result<*const c_void, Failure>;
    unsafe fn advance(&mut self, x: ito_tensor, model: ito_tensor) -> Outcome;
    /// `advance` with the step's normals from `noise`.
    unsafe fn advance_with_noise(
        &mut self,
        x: ito_tensor,
        model: ito_tensor,
        noise: ito_tensor,
    ) -> Outcome;
    /// Every scratch buffer, and the run's model-output buffer, now.
    fn reserve(&mut self) -> Outcome;
    /// ito's own state buffer (allocated at the first call).
    fn state(&mut self) -> Result<*mut c_void, Failure>;
    /// The model-output buffer `ito_sampler_run` hands to the callback.
    fn model_buffer(&mut self) -> Result<*mut c_void, Failure>;
    fn take_nonfinite(&self) -> Result<bool, Failure>;
    /// Starts the plan again from its first step (a new runner on the same memory; the state
    /// and model buffers stay).
    fn reset(
        &mut self,
        plan: ito::Plan,
        noise: ito::NoiseSource,
        tree: Option<BrownianTree>,
    ) -> Outcome;
}

struct Driven<M: CallerMemory> {
    runner: PlanRunner<M>,
    dtype: Dtype,
    len: usize,
    state: Option<M::Buffer>,
    model: Option<M::Buffer>,
}

impl<M: CallerMemory> Driven<M> {
    /// Checks the caller's tensors apart from each other and from the runner's own buffers
    /// (its stage pointer handed back as `x` or `model_out` would alias what the pass writes).
    fn check_apart(&self, caller: &[(&'static str, &ito_tensor, bool)]) -> Outcome {
        let mem = self.runner.memory();
        let code = crate::memory::dtype_code(self.dtype);
        let none = ito_tensor {
            data: std::ptr::null_mut(),
            len: 0,
            dtype: code,
        };
        let mut own = [none; crate::memory::MAX_BUFFERS];
        let mut count = 0;
        for (slot, r) in own.iter_mut().zip(self.runner.buffers()) {
            *slot = ito_tensor {
                data: mem.ref_ptr(r).cast_mut(),
                len: M::len(r),
                dtype: code,
            };
            count += 1;
        }
        let mut all =
            [("the sampler's stage or history buffer", &none, true); crate::memory::MAX_BUFFERS];
        for (a, t) in all.iter_mut().zip(&own[..count]) {
            a.1 = t;
        }
        let mut n = count;
        for &c in caller {
            if n == all.len() {
                return Err(Failure::argument("tensors", "fewer buffers (internal)", n));
            }
            all[n] = c;
            n += 1;
        }
        mem.check_apart(&all[..n])
    }
}

impl<M: CallerMemory + Send + Sync> Drive for Driven<M>
where
    M::Buffer: Send + Sync,
{
    unsafe fn init_noise(&mut self, x: ito_tensor) -> Outcome {
        self.check_apart(&[("x", &x, true)])?;
        let mem = self.runner.memory();
        // SAFETY: the caller's pointer (this function's contract).
        let xv = unsafe { mem.output("x", &x) }?;
        Ok(self.runner.init_noise(xv)?)
    }

    unsafe fn next_eval(
        &mut self,
        x: ito_tensor,
    ) -> Result<Option<ito::diffusion::solver::Eval>, Failure> {
        self.check_apart(&[("x", &x, true)])?;
        let mem = self.runner.memory();
        // SAFETY: the caller's pointer.
        let xv = unsafe { mem.output("x", &x) }?;
        Ok(self.runner.next_eval(xv)?)
    }

    unsafe fn eval_input(&mut self, x: ito_tensor) -> Result<*const c_void, Failure> {
        self.check_apart(&[("x", &x, false)])?;
        let mem = self.runner.memory();
        // SAFETY: the caller's pointer.
        let xv = unsafe { mem.input("x", &x) }?;
        Ok(self.runner.memory().ref_ptr(self.runner.eval_input(xv)))
    }

    unsafe fn advance(&mut self, x: ito_tensor, model: ito_tensor) -> Outcome {
        self.check_apart(&[("x", &x, true), ("model_out", &model, false)])?;
        let mem = self.runner.memory();
        // SAFETY: the caller's pointers, checked apart.
        let xv = unsafe { mem.output("x", &x) }?;
        // SAFETY: as above.
        let mv = unsafe { mem.input("model_out", &model) }?;
        Ok(self.runner.advance(xv, mv)?)
    }

    unsafe fn advance_with_noise(
        &mut self,
        x: ito_tensor,
        model: ito_tensor,
        noise: ito_tensor,
    ) -> Outcome {
        self.check_apart(&[
            ("x", &x, true),
            ("model_out", &model, false),
            ("noise", &noise, false),
        ])?;
        let mem = self.runner.memory();
        // SAFETY: the caller's pointers, checked apart.
        let xv = unsafe { mem.output("x", &x) }?;
        // SAFETY: as above.
        let mv = unsafe { mem.input("model_out", &model) }?;
        // SAFETY: as above.
        let nv = unsafe { mem.input("noise", &noise) }?;
        Ok(self.runner.advance_with_noise(xv, mv, nv)?)
    }

    fn reserve(&mut self) -> Outcome {
        self.model_buffer()?;
        if let Some(m) = self.model.as_ref() {
            self.runner.reserve(M::view(m))?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<*mut c_void, Failure> {
        if self.state.is_none() {
            self.state = Some(self.runner.memory().alloc(self.dtype, self.len)?);
        }
        let mem = self.runner.memory();
        Ok(self
            .state
            .as_mut()
            .map_or(std::ptr::null_mut(), |b| mem.buffer_ptr(b)))
    }

    fn model_buffer(&mut self) -> Result<*mut c_void, Failure> {
        if self.model.is_none() {
            self.model = Some(self.runner.memory().alloc(self.dtype, self.len)?);
        }
        let mem = self.runner.memory();
        Ok(self
            .model
            .as_mut()
            .map_or(std::ptr::null_mut(), |b| mem.buffer_ptr(b)))
    }

    fn take_nonfinite(&self) -> Result<bool, Failure> {
        Ok(self.runner.take_nonfinite()?)
    }

    fn reset(
        &mut self,
        plan: ito::Plan,
        noise: ito::NoiseSource,
        tree: Option<BrownianTree>,
    ) -> Outcome {
        let mem = self.runner.memory().fresh()?;
        self.runner = runner(plan, self.len, noise, tree, mem)?;
        Ok(())
    }
}

/// A plan runner on `mem`, drawing its step noise from `tree` when there is one.
fn runner<M: CallerMemory>(
    plan: ito::Plan,
    len: usize,
    noise: ito::NoiseSource,
    tree: Option<BrownianTree>,
    mem: M,
) -> Result<PlanRunner<M>, Failure> {
    let r = PlanRunner::new(plan, len, noise, mem)?;
    Ok(match tree {
        None => r,
        Some(t) => r
            .with_tree_noise(t)
            .map_err(|e| crate::config::prefix("config->noise_tree", e.into()))?,
    })
}

/// What an `ito_sampler` holds.
pub struct SamplerState {
    drive: Box<dyn Drive>,
    dtype: Dtype,
    len: usize,
    timesteps: Vec<usize>,
    nodes: Vec<ito::Node>,
    /// The plan as built, the noise identity and the step noise's Brownian tree, if any: what
    /// `ito_sampler_reset` starts again from.
    plan: ito::Plan,
    noise: ito::NoiseSource,
    tree: Option<BrownianTree>,
    /// The run has taken its last step.
    finished: bool,
}

/// A sampler: a solver plan walked over the caller's tensor (see capi/README.md).
pub struct ito_sampler(crate::Handle<SamplerState>);
opaque!(ito_sampler, SamplerState, Kind::Sampler);

fn host<S: ito::Storage>(b: Built) -> Result<Box<dyn Drive>, Failure> {
    let runner = runner(b.plan, b.len, b.noise, b.tree, Host::<S>::new())?;
    Ok(Box::new(Driven {
        runner,
        dtype: b.dtype,
        len: b.len,
        state: None,
        model: None,
    }))
}

/// Creates a sampler from `*config` on host memory (`device` NULL) or on a CUDA device
/// handle's stream. Writes the handle to `*out`. Thread-safe.
///
/// # Safety
/// `config` as `ito_sampler_config`'s contract; `device` NULL or a handle from
/// `ito_device_create_cuda`; `out` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_create(
    config: *const ito_sampler_config,
    device: *mut crate::ito_device,
    out: *mut *mut ito_sampler,
) -> c_int {
    let make = |dev: Option<&crate::device::DeviceState>| -> Result<SamplerState, Failure> {
        // SAFETY: the caller's contract.
        let b = unsafe { ito_sampler_config::build(config) }?;
        let (dtype, len) = (b.dtype, b.len);
        let timesteps = b.timesteps.clone();
        let nodes = b.plan.grid().nodes().to_vec();
        let (plan, noise, tree) = (b.plan.clone(), b.noise, b.tree);
        let drive = match dev {
            None => match dtype {
                Dtype::F32 => host::<f32>(b)?,
                Dtype::F16 => host::<f16>(b)?,
                Dtype::Bf16 => host::<bf16>(b)?,
            },
            Some(d) => d.sampler_drive(b)?,
        };
        Ok(SamplerState {
            drive,
            dtype,
            len,
            timesteps,
            nodes,
            plan,
            noise,
            tree,
            finished: false,
        })
    };
    if device.is_null() {
        crate::entry(|| {
            let s = make(None)?;
            // SAFETY: the caller's contract.
            unsafe { publish::<ito_sampler>(s, out) }
        })
    } else {
        // SAFETY: the caller's contract.
        unsafe {
            crate::with_shared(device, |d| {
                let s = make(Some(d))?;
                publish::<ito_sampler>(s, out)
            })
        }
    }
}

impl crate::device::DeviceState {
    /// A sampler's drive on this device (its own report word, on the device's stream).
    #[cfg_attr(
        not(any(feature = "cuda", feature = "emulation")),
        allow(unused_variables)
    )]
    fn sampler_drive(&self, b: Built) -> Result<Box<dyn Drive>, Failure> {
        crate::device::on_device!(self, |st| {
            let dev = st.memory().fresh()?;
            let runner = runner(b.plan, b.len, b.noise, b.tree, dev)?;
            Ok(Box::new(Driven {
                runner,
                dtype: b.dtype,
                len: b.len,
                state: None,
                model: None,
            }) as Box<dyn Drive>)
        })
    }
}

/// Destroys a sampler (NULL: nothing). Returns `ITO_ERR_HANDLE` for a handle that is not
/// live, `ITO_ERR_BUSY` while it serves a call. Thread-safe.
///
/// # Safety
/// `s` is NULL or a pointer `ito_sampler_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_destroy(s: *mut ito_sampler) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { destroy(s) }
}

/// The sampler's last error message ("" if none). Valid until its next failing call.
///
/// # Safety
/// `s` is NULL or a pointer `ito_sampler_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_last_error(s: *const ito_sampler) -> *const std::ffi::c_char {
    // SAFETY: the caller's contract.
    unsafe { last_error_of(s) }
}

impl SamplerState {
    fn tensor(&self, data: *mut c_void, len: usize) -> ito_tensor {
        ito_tensor {
            data,
            len,
            dtype: match self.dtype {
                Dtype::F32 => crate::ITO_DTYPE_F32,
                Dtype::F16 => crate::ITO_DTYPE_F16,
                Dtype::Bf16 => crate::ITO_DTYPE_BF16,
            },
        }
    }

    fn eval(&self, e: ito::diffusion::solver::Eval) -> ito_eval {
        ito_eval::of(e, &self.timesteps)
    }
}

impl ito_eval {
    /// A plan's evaluation point for C, with the training timestep of its grid node when the
    /// grid is discrete (`timesteps`, else empty).
    pub(crate) fn of(e: ito::diffusion::solver::Eval, timesteps: &[usize]) -> ito_eval {
        let timestep = match (e.stage, timesteps.get(e.step)) {
            (0, Some(&k)) if e.at == Slot::State => k as i64,
            _ => -1,
        };
        ito_eval {
            step: e.step,
            stage: e.stage,
            t: e.node.t,
            alpha: e.node.alpha,
            sigma: e.node.sigma,
            timestep,
            on_stage: u32::from(e.at == Slot::Stage),
        }
    }
}

/// Allocates every scratch buffer now (and `ito_sampler_run`'s model-output buffer): no later
/// call allocates. Optional.
///
/// # Safety
/// `s` is NULL or a pointer `ito_sampler_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_reserve(s: *mut ito_sampler) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_handle(s, |st| st.drive.reserve()) }
}

/// ito's own state buffer (`len` elements of the sampler's storage type on its memory,
/// allocated at the first call, zeros), for callers that do not keep the state themselves:
/// pass it as `x` to the other calls. It lives until the sampler is destroyed.
///
/// # Safety
/// `s` as above; `out` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_state(s: *mut ito_sampler, out: *mut *mut c_void) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let p = st.drive.state()?;
            write_out("out", out, p)
        })
    }
}

/// Sets `x` (`x_len` elements) to the first node's noise: x = σ₀·z, z from the configured
/// noise identity. Only before the first step.
///
/// # Safety
/// `s` as above; `x` holds `x_len` elements of the sampler's storage type on its memory,
/// valid for reads and writes during the call.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_init_noise(
    s: *mut ito_sampler,
    x: *mut c_void,
    x_len: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let x = st.tensor(x, x_len);
            st.drive.init_noise(x)
        })
    }
}

/// Where the model must be evaluated next: writes `*eval` and sets `*more` to 1, or sets
/// `*more` to 0 when sampling is done. The first call applies the plan's initial churn to `x`,
/// if any.
///
/// # Safety
/// As `ito_sampler_init_noise`; `eval` and `more` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_next_eval(
    s: *mut ito_sampler,
    x: *mut c_void,
    x_len: usize,
    eval: *mut ito_eval,
    more: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            if eval.is_null() {
                return Err(Failure::null("eval"));
            }
            if more.is_null() {
                return Err(Failure::null("more"));
            }
            let x = st.tensor(x, x_len);
            let next = st.drive.next_eval(x)?;
            st.finished = next.is_none();
            if let Some(e) = next {
                eval.write(st.eval(e));
            }
            more.write(c_int::from(next.is_some()));
            Ok(())
        })
    }
}

/// The tensor the model must be evaluated on: `x` itself, or the sampler's stage buffer
/// (`*input` is then valid until the sampler is destroyed; do not write it).
///
/// # Safety
/// As `ito_sampler_init_noise` (read only); `input` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_eval_input(
    s: *mut ito_sampler,
    x: *const c_void,
    x_len: usize,
    input: *mut *const c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let x = st.tensor(x.cast_mut(), x_len);
            let p = st.drive.eval_input(x)?;
            write_out("input", input, p)
        })
    }
}

/// Submits the model output for the point `ito_sampler_next_eval` named and performs the
/// update on `x`: one fused pass (after the thresholding pass, when configured).
/// `ITO_ERR_NONFINITE` comes after the whole step has been written.
///
/// # Safety
/// As `ito_sampler_init_noise`; `model_out` holds `model_out_len` elements, apart from `x`.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_advance(
    s: *mut ito_sampler,
    x: *mut c_void,
    x_len: usize,
    model_out: *const c_void,
    model_out_len: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let (x, m) = (
                st.tensor(x, x_len),
                st.tensor(model_out.cast_mut(), model_out_len),
            );
            st.drive.advance(x, m)
        })
    }
}

/// `ito_sampler_advance` with the step's standard normals read from `noise` (`noise_len`
/// elements of the sampler's storage type on its memory, e.g. what another implementation's
/// generator draws for this step) instead of the sampler's counter or tree: one fused pass,
/// the normals one more input. A step that adds no noise ignores them.
///
/// # Safety
/// As `ito_sampler_advance`; `noise` holds `noise_len` elements, apart from `x`.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_advance_noise(
    s: *mut ito_sampler,
    x: *mut c_void,
    x_len: usize,
    model_out: *const c_void,
    model_out_len: usize,
    noise: *const c_void,
    noise_len: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let (x, m, z) = (
                st.tensor(x, x_len),
                st.tensor(model_out.cast_mut(), model_out_len),
                st.tensor(noise.cast_mut(), noise_len),
            );
            st.drive.advance_with_noise(x, m, z)
        })
    }
}

/// The whole sampling loop on `x`: for each evaluation the plan asks for, calls `model` with
/// the input and a model-output buffer the sampler owns, then advances. Call
/// `ito_sampler_init_noise` first if the sampler should draw the starting noise. While it runs,
/// `model` must not call functions on this sampler (they return `ITO_ERR_BUSY`). A finished
/// sampler returns `ITO_ERR_CONFIG` (start again with `ito_sampler_reset`).
///
/// # Safety
/// As `ito_sampler_init_noise`; `model` is NULL or a function honouring `ito_model_fn`'s
/// contract; `user` is passed to it unchanged.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_run(
    s: *mut ito_sampler,
    x: *mut c_void,
    x_len: usize,
    model: ito_model_fn,
    user: *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let Some(model) = model else {
                return Err(Failure::null("model"));
            };
            if st.finished {
                return Err(finished());
            }
            let out = st.drive.model_buffer()?;
            let xt = st.tensor(x, x_len);
            while let Some(e) = st.drive.next_eval(xt)? {
                let at = st.eval(e);
                let input = st.drive.eval_input(xt)?;
                // SAFETY: the callback's contract: it reads `len` elements at `input` and
                // writes `len` at `out` (the sampler's buffer, not otherwise borrowed now).
                let r = model(user, input, out, st.len, &at);
                if r != 0 {
                    return Err(Failure::new(
                        ITO_ERR_CALLBACK,
                        format!(
                            "model: the callback returned {r} at step {} stage {}",
                            at.step, at.stage
                        ),
                    ));
                }
                st.drive.advance(xt, st.tensor(out, st.len))?;
            }
            st.finished = true;
            Ok(())
        })
    }
}

fn finished() -> Failure {
    Failure::config(
        "sampler",
        "a run with steps left (ito_sampler_reset starts it again)",
        "a finished run",
    )
}

/// Starts the sampler's plan again from its first step (with the same noise identity; the
/// scratch is allocated again at first use, or by `ito_sampler_reserve`). For the next image
/// of a batch loop: create once, reset per run.
///
/// # Safety
/// `s` is NULL or a pointer `ito_sampler_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_reset(s: *mut ito_sampler) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            st.drive.reset(st.plan.clone(), st.noise, st.tree)?;
            st.finished = false;
            Ok(())
        })
    }
}

/// The sampler's element count, storage type (`ITO_DTYPE_*`) and grid steps; any out-pointer
/// may be NULL.
///
/// # Safety
/// `s` as above; each non-NULL out-pointer valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_info(
    s: *mut ito_sampler,
    len: *mut usize,
    dtype: *mut u32,
    steps: *mut usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            if !len.is_null() {
                len.write(st.len);
            }
            if !dtype.is_null() {
                dtype.write(crate::memory::dtype_code(st.dtype));
            }
            if !steps.is_null() {
                steps.write(st.nodes.len().saturating_sub(1));
            }
            Ok(())
        })
    }
}

/// Whether a pass since the last call stored a value that is not finite, and clears the
/// report (`*out` = 1 or 0). On device memory the passes report here instead of per call (a
/// synchronisation); on host memory each call reports itself and this gives 0.
///
/// # Safety
/// `s` as above; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_take_nonfinite(s: *mut ito_sampler, out: *mut c_int) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            let v = st.drive.take_nonfinite()?;
            write_out("out", out, c_int::from(v))
        })
    }
}

/// A grid node: its time, α, σ, and (discrete grids) the training timestep, else −1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_node {
    /// The time (σ for the EDM schedule).
    pub t: f64,
    /// α.
    pub alpha: f64,
    /// σ.
    pub sigma: f64,
    /// The training timestep on a discrete grid (the last node: −1 when it is noise-free).
    pub timestep: i64,
}

/// The grid's nodes, noisiest first: writes min(`capacity`, count) nodes to `nodes` (which
/// may be NULL when `capacity` is 0) and the count to `*count`.
///
/// # Safety
/// `s` as above; `nodes` valid for `capacity` writes; `count` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_nodes(
    s: *mut ito_sampler,
    nodes: *mut ito_node,
    capacity: usize,
    count: *mut usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(s, |st| {
            write_nodes(&st.nodes, &st.timesteps, nodes, capacity)?;
            write_out("count", count, st.nodes.len())
        })
    }
}

/// Writes grid nodes to a caller array.
///
/// # Safety
/// `out` valid for `capacity` writes (NULL allowed when `capacity` is 0).
pub(crate) unsafe fn write_nodes(
    nodes: &[ito::Node],
    timesteps: &[usize],
    out: *mut ito_node,
    capacity: usize,
) -> Outcome {
    if capacity > 0 && out.is_null() {
        return Err(Failure::null("nodes"));
    }
    for (i, n) in nodes.iter().take(capacity).enumerate() {
        let node = ito_node {
            t: n.t,
            alpha: n.alpha,
            sigma: n.sigma,
            timestep: timesteps.get(i).map_or(-1, |&k| k as i64),
        };
        // SAFETY: i < capacity, within the caller's array.
        unsafe { out.add(i).write(node) };
    }
    Ok(())
}
