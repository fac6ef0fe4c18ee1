//! Markov-approximate fractional Brownian motion for C (`ito::sde::fbm`): the approximation
//! ([`ito_fbm`]: K Ornstein–Uhlenbeck speeds and their optimal weights for a Hurst index), the
//! exact per-step transition ([`ito_fbm_transition`]), and one fused step of the OU bank on
//! host memory ([`ito_fbm_step`]). All three are values: nothing to destroy.

use std::ffi::c_int;

use ito::sde::fbm::{MarkovFbm, Transition, MAX_K};
use ito::NoiseSource;

use ito::runtime::memory::Host;

use crate::kernels::ito_noise_source;
use crate::memory::{ito_tensor, CallerMemory};
use crate::{Failure, Outcome};

/// The most OU processes of one approximation (`ito::sde::fbm::MAX_K`).
pub const ITO_FBM_MAX_K: usize = 8;
const _: () = assert!(ITO_FBM_MAX_K == MAX_K);

/// A Markov approximation of Riemann–Liouville fBM: B̂(t) = Σ ω_k·Y_k(t) with
/// dY_k = −γ_k·Y_k dt + dW. Filled by `ito_fbm_init`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_fbm {
    /// The Hurst index H ∈ (0, 1).
    pub hurst: f64,
    /// K, the number of OU processes (1 … `ITO_FBM_MAX_K`).
    pub k: usize,
    /// The speeds γ_k (the first K entries).
    pub gammas: [f64; ITO_FBM_MAX_K],
    /// The weights ω_k (the first K entries).
    pub omega: [f64; ITO_FBM_MAX_K],
    /// The relative L² error of the approximation over [0, horizon].
    pub relative_error: f64,
}

/// The constants of one step of size h (filled by `ito_fbm_transition_init`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_fbm_transition {
    /// The step h.
    pub h: f64,
    /// K.
    pub k: usize,
    /// e^(−γ_k h).
    pub decay: [f64; ITO_FBM_MAX_K],
    /// The regression of the OU increment on ΔW.
    pub a: [f64; ITO_FBM_MAX_K],
    /// The coefficient of the second normal.
    pub b: [f64; ITO_FBM_MAX_K],
    /// The weights ω_k.
    pub omega: [f64; ITO_FBM_MAX_K],
}

fn check_k(arg: &str, k: usize) -> Result<(), Failure> {
    if (1..=MAX_K).contains(&k) {
        Ok(())
    } else {
        Err(Failure::argument(arg, "1 … ITO_FBM_MAX_K (8) processes", k))
    }
}

impl ito_fbm_transition {
    fn transition(&self) -> Result<Transition, Failure> {
        check_k("transition->k", self.k)?;
        let k = self.k;
        Ok(Transition {
            h: self.h,
            decay: self.decay[..k].to_vec(),
            a: self.a[..k].to_vec(),
            b: self.b[..k].to_vec(),
            omega: self.omega[..k].to_vec(),
        })
    }
}

/// Fills `*out` with the K-process approximation of Hurst index `hurst` over [0, `horizon`],
/// speeds on a geometric grid up to `gamma_max`; `ridge` > 0 regularises the weights' system
/// (0: none; a system whose f32 use would be inaccurate is refused, naming `k`). Thread-safe.
///
/// # Safety
/// `out` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_fbm_init(
    out: *mut ito_fbm,
    hurst: f64,
    k: usize,
    gamma_max: f64,
    horizon: f64,
    ridge: f64,
) -> c_int {
    crate::entry(|| {
        check_k("k", k)?;
        let m = MarkovFbm::with_ridge(hurst, k, gamma_max, horizon, ridge)?;
        let mut v = ito_fbm {
            hurst: m.hurst,
            k,
            relative_error: m.relative_error,
            ..Default::default()
        };
        v.gammas[..k].copy_from_slice(&m.gammas);
        v.omega[..k].copy_from_slice(&m.omega);
        // SAFETY: the caller's contract.
        unsafe { crate::write_out("out", out, v) }
    })
}

/// Fills `*out` with the exact transition of `*fbm`'s OU bank over a step `h` > 0.
/// Thread-safe.
///
/// # Safety
/// `fbm` readable; `out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_fbm_transition_init(
    fbm: *const ito_fbm,
    h: f64,
    out: *mut ito_fbm_transition,
) -> c_int {
    crate::entry(|| {
        if fbm.is_null() {
            return Err(Failure::null("fbm"));
        }
        // SAFETY: non-NULL, readable (the contract).
        let f = unsafe { fbm.read() };
        check_k("fbm->k", f.k)?;
        // A hand-filled struct bypasses ito_fbm_init's checks: positive finite speeds and
        // finite weights, or the transition would be NaN.
        if let Some(g) = f.gammas[..f.k]
            .iter()
            .find(|g| !(g.is_finite() && **g > 0.0))
        {
            return Err(Failure::argument("fbm->gammas", "finite speeds > 0", g));
        }
        if let Some(w) = f.omega[..f.k].iter().find(|w| !w.is_finite()) {
            return Err(Failure::argument("fbm->omega", "finite weights", w));
        }
        let m = MarkovFbm {
            hurst: f.hurst,
            gammas: f.gammas[..f.k].to_vec(),
            omega: f.omega[..f.k].to_vec(),
            relative_error: f.relative_error,
        };
        let t = m.transition(h)?;
        let mut v = ito_fbm_transition {
            h,
            k: f.k,
            ..Default::default()
        };
        v.decay[..f.k].copy_from_slice(&t.decay);
        v.a[..f.k].copy_from_slice(&t.a);
        v.b[..f.k].copy_from_slice(&t.b);
        v.omega[..f.k].copy_from_slice(&t.omega);
        // SAFETY: the caller's contract.
        unsafe { crate::write_out("out", out, v) }
    })
}

/// One step of the OU bank on host memory: `state` holds the K planes of n elements one after
/// another (K·n elements), updated in place; `out` (`data` NULL: not wanted) receives ΔB̂, n
/// elements. The two normals per element are `source`'s under `ITO_NOISE_OU_BANK` at `step`
/// (stream words 2s and 2s + 1 of its stream s, which must be below 2³¹). Thread-safe.
///
/// # Safety
/// `transition` and `source` readable; the tensors describe host memory valid for the call.
#[no_mangle]
pub unsafe extern "C" fn ito_fbm_step(
    transition: *const ito_fbm_transition,
    state: ito_tensor,
    out: ito_tensor,
    source: *const ito_noise_source,
    step: u32,
) -> c_int {
    crate::entry(|| {
        if transition.is_null() {
            return Err(Failure::null("transition"));
        }
        if source.is_null() {
            return Err(Failure::null("source"));
        }
        // SAFETY: non-NULL, readable (the contract).
        let (t, s) = unsafe { (transition.read(), source.read()) };
        let t = t.transition()?;
        let noise = NoiseSource::from(s);
        let mem = Host::<f32>::new();
        let wanted = !out.data.is_null();
        let tensors = [("state", &state, true), ("out", &out, true)];
        mem.check_apart(&tensors[..1 + usize::from(wanted)])?;
        // SAFETY: checked apart; the caller's memory for the call (the contract).
        let sv = unsafe { mem.output("state", &state) }?;
        let ov = match wanted {
            // SAFETY: as above.
            true => Some(unsafe { mem.output("out", &out) }?),
            false => None,
        };
        let done: Outcome = Ok(t.step(sv, ov, noise, step)?);
        done
    })
}
