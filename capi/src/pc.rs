//! [`ito_pc`]: score-SDE's predictor–corrector sampler (VP or VE SDE) on host or device
//! memory, its state in a buffer it owns ([`ito_pc_state`]); the caller evaluates the score.

use std::ffi::{c_char, c_int, c_void};

use ito::diffusion::langevin::{Corrector, NormMode, PcConfig, PcSampler, Predictor};
use ito::runtime::memory::Host;
use ito::{bf16, f16, Dtype, NoiseSource, Schedule};

use crate::config::{ITO_SCHEDULE_VE, ITO_SCHEDULE_VP_LINEAR};
use crate::memory::{dtype_of, ito_tensor, CallerMemory};
use crate::{
    destroy, last_error_of, opaque, publish, read_config, with_handle, write_out, Failure, Kind,
    Outcome, ITO_DTYPE_F32,
};

/// Predictor: score-SDE's reverse diffusion.
pub const ITO_PREDICTOR_REVERSE_DIFFUSION: u32 = 0;
/// Predictor: Euler–Maruyama on the reverse SDE.
pub const ITO_PREDICTOR_EULER_MARUYAMA: u32 = 1;
/// Predictor: none (correction only: annealed Langevin at each level).
pub const ITO_PREDICTOR_NONE: u32 = 2;

/// A PC sampler's settings; fill with `ito_pc_config_init`, then change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ito_pc_config {
    /// `sizeof(ito_pc_config)`, set by `ito_pc_config_init`.
    pub struct_size: usize,
    /// `ITO_SCHEDULE_VP_LINEAR` (params β_min, β_max) or `ITO_SCHEDULE_VE` (σ_min, σ_max).
    /// Default VP (0.1, 20).
    pub schedule: u32,
    /// The schedule's parameters.
    pub schedule_params: [f64; 2],
    /// Time points from T = 1 down to `t_end` (at least 2). Default 1000.
    pub steps: usize,
    /// The last time, in (0, 1). Default 1e-3.
    pub t_end: f64,
    /// `ITO_PREDICTOR_*`. Default reverse diffusion.
    pub predictor: u32,
    /// Langevin corrector steps per time point (0: no corrector). Default 1.
    pub corrector_steps: usize,
    /// The corrector's target signal-to-noise ratio. Default 0.16.
    pub snr: f64,
    /// Non-zero: the corrector's norms are batch means (score-SDE's code); 0: per sample.
    pub batch_mean_norms: u32,
    /// `ITO_DTYPE_*` of the state and the score. Default f32.
    pub dtype: u32,
    /// Elements in all. Default 0: must be set.
    pub len: usize,
    /// Elements per sample (the corrector's norms are per sample); divides `len`.
    pub sample_len: usize,
    /// The noise identity.
    pub seed: u64,
    /// The noise identity's stream.
    pub stream: u32,
    /// The noise identity's offset.
    pub offset: u64,
}

/// Fills `*config` with the defaults and `struct_size`. Thread-safe.
///
/// # Safety
/// `config` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_config_init(config: *mut ito_pc_config) -> c_int {
    crate::entry(|| {
        let d = ito_pc_config {
            struct_size: std::mem::size_of::<ito_pc_config>(),
            schedule: ITO_SCHEDULE_VP_LINEAR,
            schedule_params: [0.1, 20.0],
            steps: 1000,
            t_end: 1e-3,
            predictor: ITO_PREDICTOR_REVERSE_DIFFUSION,
            corrector_steps: 1,
            snr: 0.16,
            batch_mean_norms: 0,
            dtype: ITO_DTYPE_F32,
            len: 0,
            sample_len: 0,
            seed: 0,
            stream: 0,
            offset: 0,
        };
        // SAFETY: the caller's contract.
        unsafe { write_out("config", config, d) }
    })
}

/// Where the PC sampler wants the score next.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_pc_eval {
    /// The time.
    pub t: f64,
    /// The time point (0 = the noisiest).
    pub index: usize,
    /// Corrector step (< corrector_steps) or the predictor (= corrector_steps).
    pub stage: usize,
}

trait PcDrive: Send + Sync {
    fn next_eval(&self) -> Option<ito::diffusion::langevin::PcEval>;
    /// # Safety: `score` is the caller's tensor, valid for the call.
    unsafe fn advance(&mut self, score: ito_tensor) -> Outcome;
    fn state(&mut self) -> *mut c_void;
}

struct PcDriven<M: CallerMemory> {
    pc: PcSampler<M>,
    state_ptr: *mut c_void,
    len: usize,
}

// SAFETY: `state_ptr` is the address of the sampler's own state buffer, which moves with it
// (a heap or device allocation) and is only handed to the caller, never dereferenced here; the
// sampler itself is Send/Sync when its memory and buffer are.
unsafe impl<M: CallerMemory + Send> Send for PcDriven<M> where M::Buffer: Send {}
// SAFETY: as above.
unsafe impl<M: CallerMemory + Sync> Sync for PcDriven<M> where M::Buffer: Sync {}

impl<M: CallerMemory + Send + Sync> PcDrive for PcDriven<M>
where
    M::Buffer: Send + Sync,
{
    fn next_eval(&self) -> Option<ito::diffusion::langevin::PcEval> {
        self.pc.next_eval()
    }

    unsafe fn advance(&mut self, score: ito_tensor) -> Outcome {
        let mem = self.pc.memory();
        let state = ito_tensor {
            data: self.state_ptr,
            len: self.len,
            dtype: score.dtype,
        };
        mem.check_apart(&[("score", &score, false), ("state", &state, true)])?;
        // SAFETY: the caller's tensor (the contract), apart from the state.
        let s = unsafe { mem.input("score", &score) }?;
        Ok(self.pc.advance(s)?)
    }

    fn state(&mut self) -> *mut c_void {
        self.state_ptr
    }
}

fn driven<M: CallerMemory + Send + Sync + 'static>(
    config: PcConfig,
    mem: M,
    dtype: Dtype,
) -> Result<Box<dyn PcDrive>, Failure>
where
    M::Buffer: Send + Sync,
{
    let len = config.len;
    let mut x = mem.alloc(dtype, len)?;
    let state_ptr = mem.buffer_ptr(&mut x);
    // The buffer moves into the sampler; its heap (or device) allocation does not move.
    let pc = PcSampler::on(config, mem, x)?;
    Ok(Box::new(PcDriven { pc, state_ptr, len }))
}

/// What an `ito_pc` holds.
pub struct PcState {
    drive: Box<dyn PcDrive>,
    dtype: u32,
}

/// score-SDE's predictor–corrector sampler (see capi/README.md).
pub struct ito_pc(crate::Handle<PcState>);
opaque!(ito_pc, PcState, Kind::Pc);

/// Creates a PC sampler from `*config` on host memory (`device` NULL) or a device handle's;
/// its state is set to the prior. Thread-safe.
///
/// # Safety
/// `config` readable (with `struct_size` first); `device` NULL or a device handle; `out`
/// valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_create(
    config: *const ito_pc_config,
    device: *mut crate::ito_device,
    out: *mut *mut ito_pc,
) -> c_int {
    let make = |dev: Option<&crate::device::DeviceState>| -> Result<PcState, Failure> {
        // SAFETY: the caller's contract.
        let c = unsafe { read_config("config", config) }?;
        let dtype = dtype_of("config->dtype", c.dtype)
            .map_err(|f| Failure::new(crate::ITO_ERR_CONFIG, f.message))?;
        let [p0, p1] = c.schedule_params;
        let schedule = match c.schedule {
            ITO_SCHEDULE_VP_LINEAR => Schedule::vp_linear(p0, p1)?,
            ITO_SCHEDULE_VE => Schedule::ve(p0, p1)?,
            s => {
                return Err(Failure::config(
                    "config->schedule",
                    "ITO_SCHEDULE_VP_LINEAR or ITO_SCHEDULE_VE",
                    s,
                ))
            }
        };
        let predictor = match c.predictor {
            ITO_PREDICTOR_REVERSE_DIFFUSION => Predictor::ReverseDiffusion,
            ITO_PREDICTOR_EULER_MARUYAMA => Predictor::EulerMaruyama,
            ITO_PREDICTOR_NONE => Predictor::None,
            p => {
                return Err(Failure::config(
                    "config->predictor",
                    "one of ITO_PREDICTOR_* (0…2)",
                    p,
                ))
            }
        };
        let corrector = (c.corrector_steps > 0).then_some(Corrector {
            snr: c.snr,
            alpha: 1.0,
            norms: match c.batch_mean_norms {
                0 => NormMode::PerSample,
                _ => NormMode::BatchMean,
            },
        });
        let config = PcConfig {
            schedule,
            steps: c.steps,
            t_end: c.t_end,
            predictor,
            corrector,
            corrector_steps: c.corrector_steps,
            len: c.len,
            sample_len: c.sample_len,
            noise: NoiseSource {
                seed: c.seed,
                stream: c.stream,
                offset: c.offset,
            },
        };
        let drive = match dev {
            None => match dtype {
                Dtype::F32 => driven(config, Host::<f32>::new(), dtype)?,
                Dtype::F16 => driven(config, Host::<f16>::new(), dtype)?,
                Dtype::Bf16 => driven(config, Host::<bf16>::new(), dtype)?,
            },
            Some(d) => {
                crate::device::on_device!(d, |st| driven(config, st.memory().fresh()?, dtype))?
            }
        };
        Ok(PcState {
            drive,
            dtype: c.dtype,
        })
    };
    if device.is_null() {
        crate::entry(|| {
            let s = make(None)?;
            // SAFETY: the caller's contract.
            unsafe { publish::<ito_pc>(s, out) }
        })
    } else {
        // SAFETY: the caller's contract.
        unsafe {
            crate::with_shared(device, |d| {
                let s = make(Some(d))?;
                publish::<ito_pc>(s, out)
            })
        }
    }
}

/// Destroys a PC sampler (NULL: nothing). Thread-safe.
///
/// # Safety
/// `p` is NULL or a pointer `ito_pc_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_destroy(p: *mut ito_pc) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { destroy(p) }
}

/// The PC sampler's last error message ("" if none).
///
/// # Safety
/// `p` is NULL or a pointer `ito_pc_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_last_error(p: *const ito_pc) -> *const c_char {
    // SAFETY: the caller's contract.
    unsafe { last_error_of(p) }
}

/// The sampler's state (`len` elements of its storage type on its memory): read it to
/// evaluate the score, read the samples at the end. Valid until the sampler is destroyed;
/// do not write it.
///
/// # Safety
/// `p` as above; `out` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_state(p: *mut ito_pc, out: *mut *const c_void) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            let ptr = st.drive.state();
            write_out("out", out, ptr.cast_const())
        })
    }
}

/// Where the score is wanted next (`*more` = 1, `*eval` written), or `*more` = 0 when done.
///
/// # Safety
/// `p` as above; `eval` and `more` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_next_eval(
    p: *mut ito_pc,
    eval: *mut ito_pc_eval,
    more: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            if eval.is_null() {
                return Err(Failure::null("eval"));
            }
            let e = st.drive.next_eval();
            if let Some(e) = e {
                eval.write(ito_pc_eval {
                    t: e.t,
                    index: e.index,
                    stage: e.stage,
                });
            }
            write_out("more", more, c_int::from(e.is_some()))
        })
    }
}

/// Submits the score at the state for the point `ito_pc_next_eval` named and takes that
/// stage (a corrector step or the predictor), in fused passes.
///
/// # Safety
/// `p` as above; `score` holds `score_len` elements of the sampler's storage type on its
/// memory, apart from its state.
#[no_mangle]
pub unsafe extern "C" fn ito_pc_advance(
    p: *mut ito_pc,
    score: *const c_void,
    score_len: usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            let t = ito_tensor {
                data: score.cast_mut(),
                len: score_len,
                dtype: st.dtype,
            };
            st.drive.advance(t)
        })
    }
}
