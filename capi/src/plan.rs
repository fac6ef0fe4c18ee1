//! [`ito_plan`]: a solver plan for engines that keep their own loop and buffers. The plan
//! says where to evaluate the model and, after each evaluation, which `ito_lincomb` to run:
//! the buffers it reads and writes (as slots the engine maps to its tensors), the
//! coefficients, and the noise address. Performing each call with `ito_lincomb` gives the
//! same bits as [`crate::ito_sampler`].

use std::ffi::{c_char, c_int};

use ito::diffusion::solver::{Call, Slot, HISTORY};
use ito::{NoiseSource, Plan};

use crate::config::ito_sampler_config;
use crate::kernels::{ito_lincomb_coefs, ito_noise};
use crate::sampler::{ito_eval, ito_node, write_nodes};
use crate::{
    destroy, last_error_of, opaque, publish, with_handle, write_out, Failure, Kind, Outcome,
};

/// Slot: the state x.
pub const ITO_SLOT_STATE: u32 = 0;
/// Slot: the model output just computed.
pub const ITO_SLOT_MODEL: u32 = 1;
/// Slot: the mean tensor of a mean-reverting process (not used by plans from this API).
pub const ITO_SLOT_MEAN: u32 = 2;
/// Slot: the stage buffer (where singlestep and Heun-type solvers evaluate between nodes).
pub const ITO_SLOT_STAGE: u32 = 3;
/// Slot: history buffer j is `ITO_SLOT_HISTORY_0 + j`, j < `ITO_HISTORY`.
pub const ITO_SLOT_HISTORY_0: u32 = 4;
/// Number of history buffers a plan may use (`ito::diffusion::solver::HISTORY`).
pub const ITO_HISTORY: usize = 5;
const _: () = assert!(ITO_HISTORY == HISTORY);
/// No slot (a call without a second output; unused input entries).
pub const ITO_SLOT_NONE: u32 = 0xFFFF_FFFF;

/// One fused pass: `ito_lincomb(y = out, y2 = store, inputs = the slots' tensors in order,
/// coefs, noise if has_noise)`. Every buffer has the state's length and storage type.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_plan_call {
    /// The slot written in place (y): state, stage or a history buffer.
    pub out: u32,
    /// The slot of the second output (y2), or `ITO_SLOT_NONE`.
    pub store: u32,
    /// How many inputs.
    pub n_inputs: u32,
    /// The input slots, in the order of `coefs.inputs`.
    pub inputs: [u32; crate::kernels::ITO_MAX_INPUTS],
    /// The coefficients.
    pub coefs: ito_lincomb_coefs,
    /// Non-zero when the call draws noise (then pass `&noise` to `ito_lincomb`).
    pub has_noise: u32,
    /// The noise address.
    pub noise: ito_noise,
}

fn slot_code(s: Slot) -> u32 {
    match s {
        Slot::State => ITO_SLOT_STATE,
        Slot::Model => ITO_SLOT_MODEL,
        Slot::Mean => ITO_SLOT_MEAN,
        Slot::Stage => ITO_SLOT_STAGE,
        Slot::History(j) => ITO_SLOT_HISTORY_0 + j as u32,
    }
}

/// What an `ito_plan` holds.
pub struct PlanState {
    plan: Plan,
    noise: NoiseSource,
    len: usize,
    timesteps: Vec<usize>,
}

/// A solver plan for the caller's own loop (see capi/README.md).
pub struct ito_plan(crate::Handle<PlanState>);
opaque!(ito_plan, PlanState, Kind::Plan);

impl PlanState {
    fn lower(&self, call: &Call) -> Result<ito_plan_call, Failure> {
        let l = call.lower()?;
        let mut inputs = [ITO_SLOT_NONE; crate::kernels::ITO_MAX_INPUTS];
        for (d, s) in inputs.iter_mut().zip(l.inputs()) {
            *d = slot_code(*s);
        }
        let c = l.coefs;
        let noise = l.noise(&self.noise, self.len)?;
        Ok(ito_plan_call {
            out: slot_code(call.out),
            store: call.store.map_or(ITO_SLOT_NONE, |(s, _)| slot_code(s)),
            n_inputs: l.inputs().len() as u32,
            inputs,
            coefs: ito_lincomb_coefs {
                y: c.y,
                inputs: c.inputs,
                noise: c.noise,
                noise_inputs: c.noise_inputs,
                y2_y: c.y2_y,
                y2_inputs: c.y2_inputs,
            },
            has_noise: u32::from(noise.is_some()),
            noise: noise.map(ito_noise::from).unwrap_or_default(),
        })
    }
}

/// Creates a plan from `*config` (as for a sampler; dynamic thresholding, which needs a
/// per-sample selection between passes, is refused here: use `ito_sampler`). Thread-safe.
///
/// # Safety
/// As `crate::sampler::ito_sampler_create`, without a device.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_create(
    config: *const ito_sampler_config,
    out: *mut *mut ito_plan,
) -> c_int {
    crate::entry(|| {
        // SAFETY: the caller's contract.
        let b = unsafe { ito_sampler_config::build(config) }?;
        if b.plan.options().thresholding.is_some() {
            return Err(Failure::config(
                "config->threshold_ratio",
                "0 for a plan (thresholding runs in ito_sampler)",
                "a thresholding ratio",
            ));
        }
        let st = PlanState {
            plan: b.plan,
            noise: b.noise,
            len: b.len,
            timesteps: b.timesteps,
        };
        // SAFETY: the caller's contract.
        unsafe { publish::<ito_plan>(st, out) }
    })
}

/// Destroys a plan (NULL: nothing). Thread-safe.
///
/// # Safety
/// `p` is NULL or a pointer `ito_plan_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_destroy(p: *mut ito_plan) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { destroy(p) }
}

/// The plan's last error message ("" if none).
///
/// # Safety
/// `p` is NULL or a pointer `ito_plan_create` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_last_error(p: *const ito_plan) -> *const c_char {
    // SAFETY: the caller's contract.
    unsafe { last_error_of(p) }
}

/// Sets `x` to the first node's noise, x = σ₀·z, on host memory (`device` NULL) or the device
/// handle's: the same bits as `ito_sampler_init_noise` with this configuration.
///
/// # Safety
/// `p` as above; `device` NULL or a device handle; `x` describes memory of that kind valid
/// for the call.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_init_noise(
    p: *mut ito_plan,
    device: *mut crate::ito_device,
    x: crate::memory::ito_tensor,
) -> c_int {
    let mut call = None;
    // SAFETY: the caller's contract.
    let status = unsafe {
        with_handle(p, |st| {
            if x.len != st.len {
                return Err(Failure::argument(
                    "x",
                    &format!("{} elements", st.len),
                    x.len,
                ));
            }
            let sigma0 = st.plan.grid().nodes()[0].sigma;
            let noise = st.noise.noise(ito::NoiseUse::Initial, 0, st.len)?;
            call = Some((sigma0 as f32, ito_noise::from(noise)));
            Ok(())
        })
    };
    match call {
        // The pass ito_sampler_init_noise runs (without a mean): x ← 0·x + σ₀·z.
        Some((sigma0, noise)) => {
            let coefs = ito_lincomb_coefs {
                noise: sigma0,
                ..Default::default()
            };
            // SAFETY: the caller's contract; `coefs` and `noise` are locals.
            unsafe {
                crate::kernels::ito_lincomb(
                    device,
                    x,
                    std::ptr::null(),
                    std::ptr::null(),
                    0,
                    &coefs,
                    &noise,
                )
            }
        }
        None => status,
    }
}

/// The pass to run on the state before the first evaluation (EDM churn), if any: writes
/// `*call` and sets `*has` to 1, or sets `*has` to 0.
///
/// # Safety
/// `p` as above; `call` and `has` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_init_call(
    p: *mut ito_plan,
    call: *mut ito_plan_call,
    has: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            if call.is_null() {
                return Err(Failure::null("call"));
            }
            let init = st.plan.init().map(|c| st.lower(&c)).transpose()?;
            if let Some(c) = init {
                call.write(c);
            }
            write_out("has", has, c_int::from(init.is_some()))
        })
    }
}

/// Where the model must be evaluated next (`*more` = 1 and `*eval` written), or `*more` = 0
/// when the plan is done. `eval->on_stage` says whether the input is the stage buffer.
///
/// # Safety
/// `p` as above; `eval` and `more` valid for writes.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_next_eval(
    p: *mut ito_plan,
    eval: *mut ito_eval,
    more: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            if eval.is_null() {
                return Err(Failure::null("eval"));
            }
            let e = st.plan.eval();
            if let Some(e) = e {
                eval.write(ito_eval::of(e, &st.timesteps));
            }
            write_out("more", more, c_int::from(e.is_some()))
        })
    }
}

/// After the model was evaluated where `ito_plan_next_eval` said: the pass to run now (its
/// model input is `ITO_SLOT_MODEL`). Moves the plan on.
///
/// # Safety
/// `p` as above; `call` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_advance(p: *mut ito_plan, call: *mut ito_plan_call) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| -> Outcome {
            if call.is_null() {
                return Err(Failure::null("call"));
            }
            if st.plan.is_done() {
                return Err(Failure::config(
                    "plan",
                    "a step left to take",
                    "a finished plan",
                ));
            }
            let up = st.plan.advance()?;
            let c = st.lower(&up.call)?;
            call.write(c);
            Ok(())
        })
    }
}

/// The grid's nodes (as `ito_sampler_nodes`).
///
/// # Safety
/// `p` as above; `nodes` valid for `capacity` writes; `count` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_plan_nodes(
    p: *mut ito_plan,
    nodes: *mut ito_node,
    capacity: usize,
    count: *mut usize,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(p, |st| {
            let all = st.plan.grid().nodes();
            write_nodes(all, &st.timesteps, nodes, capacity)?;
            write_out("count", count, all.len())
        })
    }
}
