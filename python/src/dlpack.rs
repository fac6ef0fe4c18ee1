//! DLPack both ways, written from the DLPack specification (dlpack.h v0.8/v1.x legacy,
//! unversioned capsules): taking a numpy array's or torch tensor's memory for one call
//! (`Taken`, zero-copy, refusing what ito cannot use without a copy), and exporting a buffer
//! ito owns (a sampler's stage) to numpy or torch (`Exported`).

use std::ffi::c_void;
use std::ptr::NonNull;

use ito_capi::memory::ito_tensor;
use ito_capi::{ITO_DTYPE_BF16, ITO_DTYPE_F16, ITO_DTYPE_F32};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};

/// DLPack's device types used here.
const KDL_CPU: i32 = 1;
const KDL_CUDA: i32 = 2;
const KDL_CUDA_HOST: i32 = 3;
/// DLPack's type codes used here.
const KDL_FLOAT: u8 = 2;
const KDL_BFLOAT: u8 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

const _: () = assert!(std::mem::size_of::<DLTensor>() == 48);
const _: () = assert!(std::mem::size_of::<DLManagedTensor>() == 64);

/// Where a tensor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Host memory (numpy, torch CPU, pinned host memory).
    Cpu,
    /// CUDA device memory on this device ordinal.
    Cuda(i32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// A producer's tensor, taken for one call: its memory stays valid until this is dropped,
/// which calls the producer's deleter (once).
pub struct Taken {
    managed: NonNull<DLManagedTensor>,
    /// Address of element 0.
    pub data: *mut c_void,
    /// Elements.
    pub len: usize,
    /// `ITO_DTYPE_*`.
    pub dtype: u32,
    /// Where it lives.
    pub device: Device,
}

impl Drop for Taken {
    fn drop(&mut self) {
        // SAFETY: `managed` came from a consumed capsule (renamed, so its destructor will not
        // call the deleter too); the deleter runs exactly once, here.
        unsafe {
            if let Some(d) = self.managed.as_ref().deleter {
                d(self.managed.as_ptr());
            }
        }
    }
}

impl Taken {
    /// This tensor as the C API's view.
    pub fn tensor(&self) -> ito_tensor {
        ito_tensor {
            data: self.data,
            len: self.len,
            dtype: self.dtype,
        }
    }
}

/// The DLPack device of `obj` (`__dlpack_device__`), or a TypeError naming `arg`.
fn dlpack_device(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Device> {
    let not_a_tensor =
        || {
            PyTypeError::new_err(format!(
            "{arg}: a numpy array or torch tensor expected (an object with __dlpack__), found {}",
            obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
        };
    let dev = obj
        .call_method0("__dlpack_device__")
        .map_err(|_| not_a_tensor())?;
    let (kind, id): (i32, i32) = dev.extract().map_err(|_| not_a_tensor())?;
    match kind {
        KDL_CPU | KDL_CUDA_HOST => Ok(Device::Cpu),
        KDL_CUDA => Ok(Device::Cuda(id)),
        other => Err(PyValueError::new_err(format!(
            "{arg}: a CPU or CUDA tensor expected, found DLPack device type {other}"
        ))),
    }
}

/// Takes `obj`'s memory for one call, zero-copy: a contiguous float32, float16 or bfloat16
/// tensor on the CPU or a CUDA device. Anything else raises, naming `arg` (ito does not copy
/// behind the caller's back).
pub fn take(obj: &Bound<'_, PyAny>, arg: &str, stream: Option<usize>) -> PyResult<Taken> {
    let py = obj.py();
    let device = dlpack_device(obj, arg)?;
    let kw = PyDict::new(py);
    // CUDA: the stream ito launches on (the device handle's), so that the producer orders its
    // pending work before ours (DLPack: 1 = the legacy default stream, never 0); -1 (no
    // ordering) only without a device handle, where the call is refused anyway. numpy accepts
    // only None.
    match (device, stream) {
        (Device::Cuda(_), Some(0)) => kw.set_item("stream", 1)?,
        (Device::Cuda(_), Some(s)) => kw.set_item("stream", s)?,
        (Device::Cuda(_), None) => kw.set_item("stream", -1)?,
        (Device::Cpu, _) => kw.set_item("stream", py.None())?,
    }
    let cap = obj
        .call_method("__dlpack__", (), Some(&kw))
        .map_err(|e| {
            PyValueError::new_err(format!(
                "{arg}: its memory cannot be shared ({e}); ito needs a writable tensor without \
                 autograd history (numpy: writeable; torch: .detach())"
            ))
        })?
        .cast_into::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err(format!("{arg}: __dlpack__ did not return a capsule")))?;
    let ptr = cap.pointer_checked(Some(c"dltensor"))?;
    // SAFETY: `cap` is a live capsule; the name is a 'static C string. Renaming marks it
    // consumed: from here on the deleter is ours to call (Taken's drop).
    if unsafe { ffi::PyCapsule_SetName(cap.as_ptr(), c"used_dltensor".as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let managed: NonNull<DLManagedTensor> = ptr.cast();
    // The tensor is ours now; every early return below drops it (and calls the deleter).
    let mut taken = Taken {
        managed,
        data: std::ptr::null_mut(),
        len: 0,
        dtype: ITO_DTYPE_F32,
        device,
    };
    // SAFETY: a DLManagedTensor the producer keeps valid until its deleter runs.
    let t = unsafe { &managed.as_ref().dl_tensor };
    taken.dtype = match (t.dtype.code, t.dtype.bits, t.dtype.lanes) {
        (KDL_FLOAT, 32, 1) => ITO_DTYPE_F32,
        (KDL_FLOAT, 16, 1) => ITO_DTYPE_F16,
        (KDL_BFLOAT, 16, 1) => ITO_DTYPE_BF16,
        (code, bits, lanes) => {
            return Err(PyTypeError::new_err(format!(
                "{arg}: float32, float16 or bfloat16 expected, found DLPack type code {code} with {bits} bits x {lanes}"
            )))
        }
    };
    let nd = usize::try_from(t.ndim).unwrap_or(usize::MAX);
    if nd > 64 {
        return Err(PyValueError::new_err(format!(
            "{arg}: {} dimensions",
            t.ndim
        )));
    }
    let shape: &[i64] = match nd {
        0 => &[],
        // SAFETY: DLPack: `shape` holds ndim entries for ndim > 0.
        _ => unsafe { std::slice::from_raw_parts(t.shape, nd) },
    };
    let mut len: usize = 1;
    for &s in shape {
        len = usize::try_from(s)
            .ok()
            .and_then(|s| len.checked_mul(s))
            .ok_or_else(|| PyValueError::new_err(format!("{arg}: shape {shape:?}")))?;
    }
    if !t.strides.is_null() && len > 0 {
        // SAFETY: DLPack: non-NULL `strides` holds ndim entries.
        let strides = unsafe { std::slice::from_raw_parts(t.strides, nd) };
        let mut expect: i64 = 1;
        for (&n, &s) in shape.iter().zip(strides).rev() {
            if n != 1 && s != expect {
                return Err(PyValueError::new_err(format!(
                    "{arg}: a contiguous tensor expected (strides {strides:?} for shape {shape:?}); \
                     ito does not copy: pass x.contiguous() or numpy.ascontiguousarray(x)"
                )));
            }
            expect = expect.saturating_mul(n);
        }
    }
    let offset = usize::try_from(t.byte_offset)
        .map_err(|_| PyValueError::new_err(format!("{arg}: byte offset {}", t.byte_offset)))?;
    taken.data = if len == 0 || t.data.is_null() {
        std::ptr::null_mut()
    } else {
        t.data.cast::<u8>().wrapping_add(offset).cast()
    };
    taken.len = len;
    Ok(taken)
}

/// What an exported capsule keeps alive: its shape, and the Python object owning the memory.
struct ExportCtx {
    shape: [i64; 1],
    /// Held, never read: the memory's owner stays alive while a consumer holds the tensor.
    #[allow(dead_code)]
    owner: Py<PyAny>,
}

unsafe extern "C" fn export_deleter(mt: *mut DLManagedTensor) {
    // SAFETY: `mt` and its context came from Box::into_raw in `export`; DLPack calls the
    // deleter once.
    let mt = unsafe { Box::from_raw(mt) };
    // SAFETY: as above.
    let ctx = unsafe { Box::from_raw(mt.manager_ctx.cast::<ExportCtx>()) };
    // The owner's reference is released under the GIL (the consumer may call from any thread);
    // during interpreter shutdown there is none to take: the reference is left, as numpy's
    // own deleter does.
    // SAFETY: Py_IsInitialized may be called at any time.
    if unsafe { ffi::Py_IsInitialized() } == 0 {
        std::mem::forget(ctx);
        return;
    }
    Python::attach(|_py| drop(ctx));
}

unsafe extern "C" fn capsule_destructor(cap: *mut ffi::PyObject) {
    // A capsule nobody consumed still owns its tensor.
    // SAFETY: called by Python with a capsule and the GIL held.
    unsafe {
        if ffi::PyCapsule_IsValid(cap, c"dltensor".as_ptr()) == 1 {
            let p = ffi::PyCapsule_GetPointer(cap, c"dltensor".as_ptr()).cast::<DLManagedTensor>();
            if let Some(d) = (*p).deleter {
                d(p);
            }
        }
    }
}

/// A buffer ito owns (a sampler's stage), offered to numpy or torch through DLPack
/// (`numpy.from_dlpack(e)`, `torch.from_dlpack(e)`): a one-dimensional view that keeps its
/// owner alive. Read it; ito writes it during the owner's calls.
#[pyclass(frozen, module = "ito")]
pub struct Exported {
    ptr: usize,
    len: usize,
    dtype: u32,
    device: Device,
    owner: Py<PyAny>,
}

impl Exported {
    /// A view of `len` elements of `dtype` at `ptr` on `device`, owned by `owner`.
    pub fn new(
        ptr: *const c_void,
        len: usize,
        dtype: u32,
        device: Device,
        owner: Py<PyAny>,
    ) -> Self {
        Exported {
            ptr: ptr as usize,
            len,
            dtype,
            device,
            owner,
        }
    }
}

#[pymethods]
impl Exported {
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<Py<PyAny>>,
        max_version: Option<Py<PyAny>>,
        dl_device: Option<Py<PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // The stage is written on the owner's stream, which is the caller's: no ordering to add.
        let _ = (stream, max_version, dl_device);
        if copy == Some(true) {
            return Err(PyValueError::new_err(
                "copy=True: ito exports its buffers without copying",
            ));
        }
        let (device_type, device_id) = match self.device {
            Device::Cpu => (KDL_CPU, 0),
            Device::Cuda(i) => (KDL_CUDA, i),
        };
        let (code, bits) = match self.dtype {
            ITO_DTYPE_F16 => (KDL_FLOAT, 16),
            ITO_DTYPE_BF16 => (KDL_BFLOAT, 16),
            _ => (KDL_FLOAT, 32),
        };
        let ctx = Box::into_raw(Box::new(ExportCtx {
            shape: [self.len as i64],
            owner: self.owner.clone_ref(py),
        }));
        let mt = Box::into_raw(Box::new(DLManagedTensor {
            dl_tensor: DLTensor {
                data: self.ptr as *mut c_void,
                device: DLDevice {
                    device_type,
                    device_id,
                },
                ndim: 1,
                dtype: DLDataType {
                    code,
                    bits,
                    lanes: 1,
                },
                // SAFETY: `ctx` is a live Box's pointer; the shape lives as long as it.
                shape: unsafe { (*ctx).shape.as_mut_ptr() },
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            },
            manager_ctx: ctx.cast(),
            deleter: Some(export_deleter),
        }));
        // SAFETY: a valid pointer and a 'static name; on failure we still own `mt`.
        let cap = unsafe {
            ffi::PyCapsule_New(mt.cast(), c"dltensor".as_ptr(), Some(capsule_destructor))
        };
        if cap.is_null() {
            // SAFETY: not handed out: release it ourselves.
            unsafe { export_deleter(mt) };
            return Err(PyErr::fetch(py));
        }
        // SAFETY: a new reference we own.
        Ok(unsafe { Bound::from_owned_ptr(py, cap) })
    }

    fn __dlpack_device__(&self) -> (i32, i32) {
        match self.device {
            Device::Cpu => (KDL_CPU, 0),
            Device::Cuda(i) => (KDL_CUDA, i),
        }
    }

    /// Elements.
    fn __len__(&self) -> usize {
        self.len
    }
}
