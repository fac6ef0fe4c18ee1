//! [`ito_device`]: a CUDA device launching on the caller's stream (a `CUstream` from the CUDA
//! driver or runtime API, PyTorch, ggml, ONNX Runtime…). Samplers, PC samplers, plans' raw
//! kernels and the SDE steppers take one to run on device memory; NULL means host memory.

use std::ffi::{c_char, c_int, c_void};

use crate::{destroy, last_error_of, opaque, write_out, Failure, Kind};

/// What an `ito_device` holds.
pub struct DeviceState {
    /// The device (as the SDE steppers' memory, which the raw kernels use too).
    #[cfg(feature = "cuda")]
    pub(crate) stepper: ito::sde::steppers::Stepper<ito::runtime::cuda::CudaDevice>,
}

/// A CUDA device on the caller's stream.
pub struct ito_device(crate::Handle<DeviceState>);
opaque!(ito_device, DeviceState, Kind::Device);

/// The error of a build without CUDA.
#[cfg(not(feature = "cuda"))]
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
                        stepper: ito::sde::steppers::Stepper::new(device),
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
            #[cfg(feature = "cuda")]
            _s.stepper.memory().synchronize()?;
            Ok(())
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
            #[cfg(feature = "cuda")]
            let v = _s.stepper.memory().take_nonfinite()?;
            #[cfg(not(feature = "cuda"))]
            let v = false;
            write_out("out", out, c_int::from(v))
        })
    }
}
