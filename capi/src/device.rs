//! [`ito_device`]: a CUDA device launching on the caller's stream (a `CUstream` from the CUDA
//! driver or runtime API, PyTorch, ggml, ONNX Runtime…). Samplers, PC samplers, plans' raw
//! kernels and the SDE steppers take one to run on device memory; NULL means host memory.

use std::ffi::{c_char, c_int, c_void};

use crate::{destroy, last_error_of, opaque, write_out, Failure, Kind};

/// What an `ito_device` holds.
pub struct DeviceState {
    pub(crate) kind: DeviceKind,
}

/// The device, as the SDE steppers' memory (which the raw kernels and samplers use too).
pub(crate) enum DeviceKind {
    /// A CUDA device on the caller's stream.
    #[cfg(feature = "cuda")]
    Cuda(ito::sde::steppers::Stepper<ito::runtime::cuda::CudaDevice>),
    /// The host emulation of the CUDA kernels (test builds only).
    #[cfg(feature = "emulation")]
    Emulated(ito::sde::steppers::Stepper<ito_cuda_emulation::EmulatedDevice>),
}

/// Runs `$body` with `$st` the device's `&Stepper<M>`: one expansion per kind of device.
macro_rules! on_device {
    ($d:expr, |$st:ident| $body:expr) => {
        match &$d.kind {
            #[cfg(feature = "cuda")]
            crate::device::DeviceKind::Cuda($st) => $body,
            #[cfg(feature = "emulation")]
            crate::device::DeviceKind::Emulated($st) => $body,
            #[allow(unreachable_patterns)]
            _ => Err(crate::device::unavailable()),
        }
    };
}
pub(crate) use on_device;

/// A CUDA device on the caller's stream.
pub struct ito_device(crate::Handle<DeviceState>);
opaque!(ito_device, DeviceState, Kind::Device);

/// The error of a build without CUDA.
pub(crate) fn unavailable() -> Failure {
    Failure::new(
        crate::ITO_ERR_UNAVAILABLE,
        "device: this build of ito has no CUDA support (the `cuda` feature)",
    )
}

/// A device handle for CUDA device `ordinal` launching on `stream` (a `CUstream`; NULL = the
/// context's default stream). ito uses the device's primary context (the one the CUDA
/// runtime, and so PyTorch, uses); a stream of another context is `ITO_ERR_CONFIG`. No
/// driver, or no such device: `ITO_ERR_UNAVAILABLE`. Thread-safe.
///
/// # Safety
/// `stream` is NULL or a valid stream handle that outlives the device handle and every
/// sampler created on it; the caller orders its own work on other streams with the work ito
/// queues on `stream`. `out` is valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ito_device_create_cuda(
    ordinal: c_int,
    stream: *mut c_void,
    out: *mut *mut ito_device,
) -> c_int {
    crate::entry(|| {
        let ordinal = usize::try_from(ordinal)
            .map_err(|_| Failure::argument("ordinal", "a device index ≥ 0", ordinal))?;
        #[cfg(feature = "cuda")]
        {
            // No driver or device: ito probes before cudarc loads it (BackendUnavailable).
            // SAFETY: the stream's validity and lifetime are the caller's contract.
            let device =
                unsafe { ito::runtime::cuda::CudaDevice::from_raw_stream(ordinal, stream.cast()) }?;
            // SAFETY: the caller's contract.
            unsafe {
                crate::publish::<ito_device>(
                    DeviceState {
                        kind: DeviceKind::Cuda(ito::sde::steppers::Stepper::new(device)),
                    },
                    out,
                )
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (ordinal, stream, out);
            Err(unavailable())
        }
    })
}

/// Destroys a device handle (NULL: nothing). Destroy its samplers first. Thread-safe.
///
/// # Safety
/// `d` is NULL or a pointer `ito_device_create_cuda` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_device_destroy(d: *mut ito_device) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { destroy(d) }
}

/// The device handle's last error message ("" if none).
///
/// # Safety
/// `d` is NULL or a pointer `ito_device_create_cuda` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_device_last_error(d: *const ito_device) -> *const c_char {
    // SAFETY: the caller's contract.
    unsafe { last_error_of(d) }
}

/// Waits for the work queued on the device's stream.
///
/// # Safety
/// `d` is NULL or a pointer `ito_device_create_cuda` wrote.
#[no_mangle]
pub unsafe extern "C" fn ito_device_synchronize(d: *mut ito_device) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        crate::with_shared(d, |_s| {
            match &_s.kind {
                #[cfg(feature = "cuda")]
                DeviceKind::Cuda(st) => Ok(st.memory().synchronize()?),
                // The emulation runs each pass to its end.
                #[allow(unreachable_patterns)]
                _ => Ok(()),
            }
        })
    }
}

/// Whether a raw kernel launched through this handle since the last call stored a value that
/// is not finite (`*out` = 1 or 0), and clears the report (a synchronisation).
///
/// # Safety
/// `d` as above; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_device_take_nonfinite(d: *mut ito_device, out: *mut c_int) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        crate::with_shared(d, |_s| {
            let v: Result<bool, Failure> = on_device!(_s, |st| Ok(
                ito::runtime::Memory::take_nonfinite(st.memory())?
            ));
            write_out("out", out, c_int::from(v?))
        })
    }
}

/// A device handle whose passes run the CUDA kernels' sources on the CPU (the host
/// emulation): device pointers are host pointers. For ito's own C tests of the device paths;
/// only in builds with the `emulation` feature, and not in the header.
///
/// # Safety
/// `out` is valid for a pointer write.
#[cfg(feature = "emulation")]
#[no_mangle]
pub unsafe extern "C" fn ito_device_create_emulated(out: *mut *mut ito_device) -> c_int {
    crate::entry(|| {
        let st = ito::sde::steppers::Stepper::new(ito_cuda_emulation::EmulatedDevice::new());
        // SAFETY: the caller's contract.
        unsafe {
            crate::publish::<ito_device>(
                DeviceState {
                    kind: DeviceKind::Emulated(st),
                },
                out,
            )
        }
    })
}
