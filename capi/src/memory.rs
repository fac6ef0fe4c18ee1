//! The caller's memory as ito tensors: host pointers become checked slices (not NULL unless
//! empty, aligned, within `isize::MAX` bytes, written buffers disjoint from every other buffer
//! of the call), device pointers become checked device views (`ito::runtime::cuda`).

use std::ffi::c_void;

use ito::runtime::memory::{Host, Memory};
use ito::{bf16, f16, Dtype, Storage, TensorMut, TensorRef};

use crate::{Failure, Outcome, ITO_DTYPE_BF16, ITO_DTYPE_F16, ITO_DTYPE_F32};

/// A tensor the caller owns: `len` elements of storage type `dtype` (`ITO_DTYPE_*`) at `data`
/// (host memory, or a device address when the call names a CUDA device).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ito_tensor {
    /// Address of element 0 (NULL only when `len` is 0).
    pub data: *mut c_void,
    /// Number of elements.
    pub len: usize,
    /// `ITO_DTYPE_F32`, `ITO_DTYPE_F16` or `ITO_DTYPE_BF16`.
    pub dtype: u32,
}

// SAFETY: an ito_tensor only describes memory (an address, a length, a type); reading or
// writing through it is unsafe and governed by each function's contract, so moving or sharing
// the description between threads is harmless (bindings run calls without holding a lock).
unsafe impl Send for ito_tensor {}
// SAFETY: as above.
unsafe impl Sync for ito_tensor {}

/// The storage type of an `ITO_DTYPE_*` code.
pub fn dtype_of(arg: &str, code: u32) -> Result<Dtype, Failure> {
    match code {
        ITO_DTYPE_F32 => Ok(Dtype::F32),
        ITO_DTYPE_F16 => Ok(Dtype::F16),
        ITO_DTYPE_BF16 => Ok(Dtype::Bf16),
        _ => Err(Failure::argument(
            arg,
            "ITO_DTYPE_F32 (0), ITO_DTYPE_F16 (1) or ITO_DTYPE_BF16 (2)",
            code,
        )),
    }
}

/// The storage type of tensor argument `arg` (an error names `arg.dtype`; the name is only
/// formatted then: a call allocates nothing).
pub fn tensor_dtype(arg: &str, code: u32) -> Result<Dtype, Failure> {
    dtype_of("", code).map_err(|_| {
        Failure::argument(
            &format!("{arg}.dtype"),
            "ITO_DTYPE_F32 (0), ITO_DTYPE_F16 (1) or ITO_DTYPE_BF16 (2)",
            code,
        )
    })
}

/// The `ITO_DTYPE_*` code of a storage type.
pub fn dtype_code(d: Dtype) -> u32 {
    match d {
        Dtype::F32 => ITO_DTYPE_F32,
        Dtype::F16 => ITO_DTYPE_F16,
        Dtype::Bf16 => ITO_DTYPE_BF16,
    }
}

/// Bytes per element.
pub fn size_of(d: Dtype) -> usize {
    match d {
        Dtype::F32 => 4,
        _ => 2,
    }
}

/// The most buffers one call takes (`ito_lincomb`: y, y2 and six inputs).
pub(crate) const MAX_BUFFERS: usize = 12;

/// A host buffer of a call: name, address, byte length, whether the call writes it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    arg: &'static str,
    start: usize,
    bytes: usize,
    written: bool,
}

/// Checks a host pointer argument: not NULL unless `len` is 0, aligned for `dtype`, and
/// `len` elements within `isize::MAX` bytes. Returns its span.
pub fn check_host(
    arg: &'static str,
    ptr: *const c_void,
    len: usize,
    dtype: Dtype,
    written: bool,
) -> Result<Span, Failure> {
    let size = size_of(dtype);
    if ptr.is_null() && len > 0 {
        return Err(Failure::null(arg));
    }
    if (ptr as usize) % size != 0 {
        return Err(Failure::argument(
            arg,
            &format!("an address aligned to {size} bytes (the storage type's size)"),
            format!("{ptr:p}"),
        ));
    }
    let bytes = len
        .checked_mul(size)
        .filter(|&b| b <= isize::MAX as usize && (ptr as usize).checked_add(b).is_some())
        .ok_or_else(|| Failure::argument(arg, "a length whose bytes fit the address space", len))?;
    Ok(Span {
        arg,
        start: ptr as usize,
        bytes,
        written,
    })
}

/// Refuses a call whose written buffer overlaps another of its buffers (Rust's aliasing rules,
/// and a fused pass's reads, need them apart).
pub fn check_disjoint(spans: &[Span]) -> Outcome {
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let overlap = a.bytes > 0
                && b.bytes > 0
                && a.start < b.start + b.bytes
                && b.start < a.start + a.bytes;
            if overlap && (a.written || b.written) {
                return Err(Failure::argument(
                    b.arg,
                    &format!("a buffer apart from {}", a.arg),
                    "overlapping memory",
                ));
            }
        }
    }
    Ok(())
}

/// A host tensor over a checked span.
///
/// # Safety
/// `span` came from `check_host` on `ptr` with `dtype`; the memory holds initialised elements
/// of `dtype` and stays valid, and unwritten by anyone else, for `'a`.
pub unsafe fn host_ref<'a>(ptr: *const c_void, span: Span, dtype: Dtype) -> TensorRef<'a> {
    let len = span.bytes / size_of(dtype);
    // SAFETY: in each arm, aligned and in bounds (checked by check_host), initialised and
    // valid for 'a (the caller's contract); NULL only when empty, which `slice` handles.
    unsafe {
        match dtype {
            Dtype::F32 => f32::tensor(slice(ptr.cast::<f32>(), len)),
            Dtype::F16 => f16::tensor(slice(ptr.cast::<f16>(), len)),
            Dtype::Bf16 => bf16::tensor(slice(ptr.cast::<bf16>(), len)),
        }
    }
}

/// A writable host tensor over a checked span.
///
/// # Safety
/// As `host_ref`, and nothing else reads or writes the memory for `'a`.
pub unsafe fn host_mut<'a>(ptr: *mut c_void, span: Span, dtype: Dtype) -> TensorMut<'a> {
    let len = span.bytes / size_of(dtype);
    // SAFETY: in each arm, as host_ref, plus exclusive access for 'a (the caller's contract;
    // the call's other buffers are checked apart).
    unsafe {
        match dtype {
            Dtype::F32 => f32::tensor_mut(slice_mut(ptr.cast::<f32>(), len)),
            Dtype::F16 => f16::tensor_mut(slice_mut(ptr.cast::<f16>(), len)),
            Dtype::Bf16 => bf16::tensor_mut(slice_mut(ptr.cast::<bf16>(), len)),
        }
    }
}

/// A checked read-only view of a host tensor (the host's and the emulated device's).
///
/// # Safety
/// As `CallerMemory::input`.
unsafe fn host_input<'a>(arg: &'static str, t: &ito_tensor) -> Result<TensorRef<'a>, Failure> {
    let dtype = tensor_dtype(arg, t.dtype)?;
    let span = check_host(arg, t.data, t.len, dtype, false)?;
    // SAFETY: checked span; validity for 'a is the caller's contract.
    Ok(unsafe { host_ref(t.data, span, dtype) })
}

/// A checked writable view of a host tensor.
///
/// # Safety
/// As `CallerMemory::output`.
unsafe fn host_output<'a>(arg: &'static str, t: &ito_tensor) -> Result<TensorMut<'a>, Failure> {
    let dtype = tensor_dtype(arg, t.dtype)?;
    let span = check_host(arg, t.data, t.len, dtype, true)?;
    // SAFETY: checked span; exclusive validity for 'a is the caller's contract.
    Ok(unsafe { host_mut(t.data, span, dtype) })
}

/// The address of a host view's element 0.
fn tensor_ptr(r: TensorRef<'_>) -> *const c_void {
    match r {
        TensorRef::F32(s) => s.as_ptr().cast(),
        TensorRef::F16(s) => s.as_ptr().cast(),
        TensorRef::Bf16(s) => s.as_ptr().cast(),
    }
}

/// A slice from a pointer that may be NULL when `len` is 0.
///
/// # Safety
/// As `std::slice::from_raw_parts` when `len > 0`.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// A mutable slice from a pointer that may be NULL when `len` is 0.
///
/// # Safety
/// As `std::slice::from_raw_parts_mut` when `len > 0`.
unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(ptr, len) }
}

/// A memory ito runs on, seen from C: views of the caller's `ito_tensor`s, buffers ito
/// allocates for the caller, and their addresses. Host memory (`Host`) and, with the `cuda`
/// feature, CUDA device memory (`CudaDevice`(ito::runtime::cuda::CudaDevice)).
pub trait CallerMemory: Memory {
    /// Checks a call's host buffers apart (no-op on device memory, where views are addresses:
    /// an overlap there gives wrong values, not undefined behaviour in ito).
    fn check_apart(&self, tensors: &[(&'static str, &ito_tensor, bool)]) -> Outcome;

    /// A read-only view of `t`.
    ///
    /// # Safety
    /// `t` describes memory of this kind holding `t.len` initialised elements of `t.dtype`,
    /// valid and not written by anyone else for `'a` (the view holds the caller's memory, not
    /// `self`: the memory object only checks it).
    unsafe fn input<'a>(&self, arg: &'static str, t: &ito_tensor)
        -> Result<Self::Ref<'a>, Failure>;

    /// A writable view of `t`.
    ///
    /// # Safety
    /// As `CallerMemory::input`, and nothing else reads or writes it for `'a`.
    unsafe fn output<'a>(
        &self,
        arg: &'static str,
        t: &ito_tensor,
    ) -> Result<Self::Mut<'a>, Failure>;

    /// A new buffer of `n` elements of `dtype`.
    fn alloc(&self, dtype: Dtype, n: usize) -> Result<Self::Buffer, Failure>;

    /// The address of a buffer's element 0, for the caller.
    fn buffer_ptr(&self, b: &mut Self::Buffer) -> *mut c_void;

    /// The address of a view's element 0, for the caller.
    fn ref_ptr(&self, r: Self::Ref<'_>) -> *const c_void;

    /// Another memory object like this one (the same backend, or device and stream), for a
    /// new runner.
    fn fresh(&self) -> Result<Self, Failure>
    where
        Self: Sized;
}

impl<S: Storage> CallerMemory for Host<S> {
    fn check_apart(&self, tensors: &[(&'static str, &ito_tensor, bool)]) -> Outcome {
        // On the stack: a step allocates nothing.
        let mut spans = [Span::default(); MAX_BUFFERS];
        if tensors.len() > MAX_BUFFERS {
            return Err(Failure::argument(
                "tensors",
                "at most 8 buffers",
                tensors.len(),
            ));
        }
        for (s, &(arg, t, written)) in spans.iter_mut().zip(tensors) {
            let dtype = tensor_dtype(arg, t.dtype)?;
            *s = check_host(arg, t.data, t.len, dtype, written)?;
        }
        check_disjoint(&spans[..tensors.len()])
    }

    unsafe fn input<'a>(
        &self,
        arg: &'static str,
        t: &ito_tensor,
    ) -> Result<TensorRef<'a>, Failure> {
        // SAFETY: the caller's contract.
        unsafe { host_input(arg, t) }
    }

    unsafe fn output<'a>(
        &self,
        arg: &'static str,
        t: &ito_tensor,
    ) -> Result<TensorMut<'a>, Failure> {
        // SAFETY: the caller's contract.
        unsafe { host_output(arg, t) }
    }

    fn alloc(&self, dtype: Dtype, n: usize) -> Result<Vec<S>, Failure> {
        if S::tensor(&[]).dtype() != dtype {
            return Err(Failure::argument(
                "dtype",
                "the handle's storage type",
                format!("{dtype:?}"),
            ));
        }
        Ok(ito::runtime::try_vec("len", n, S::default())?)
    }

    fn buffer_ptr(&self, b: &mut Vec<S>) -> *mut c_void {
        b.as_mut_ptr().cast()
    }

    fn fresh(&self) -> Result<Self, Failure> {
        Ok(Host::with_backend(self.backend()?)?)
    }

    fn ref_ptr(&self, r: TensorRef<'_>) -> *const c_void {
        tensor_ptr(r)
    }
}

#[cfg(feature = "cuda")]
mod device_memory {
    use super::*;
    use ito::runtime::cuda::{CudaDevice, DeviceBuffer, DeviceMut, DeviceRef};

    impl CallerMemory for CudaDevice {
        fn check_apart(&self, _tensors: &[(&'static str, &ito_tensor, bool)]) -> Outcome {
            Ok(())
        }

        unsafe fn input<'a>(
            &self,
            arg: &'static str,
            t: &ito_tensor,
        ) -> Result<DeviceRef<'a>, Failure> {
            let dtype = tensor_dtype(arg, t.dtype)?;
            // SAFETY: the caller's contract (one allocation of this device, valid for 'a);
            // from_raw checks the address with the driver.
            unsafe { DeviceRef::from_raw(t.data as u64, t.len, dtype, self) }
                .map_err(|e| named(arg, e))
        }

        unsafe fn output<'a>(
            &self,
            arg: &'static str,
            t: &ito_tensor,
        ) -> Result<DeviceMut<'a>, Failure> {
            let dtype = tensor_dtype(arg, t.dtype)?;
            // SAFETY: as input, plus exclusive use for 'a (the caller's contract).
            unsafe { DeviceMut::from_raw(t.data as u64, t.len, dtype, self) }
                .map_err(|e| named(arg, e))
        }

        fn alloc(&self, dtype: Dtype, n: usize) -> Result<DeviceBuffer, Failure> {
            Ok(CudaDevice::alloc(self, dtype, n)?)
        }

        fn buffer_ptr(&self, b: &mut DeviceBuffer) -> *mut c_void {
            b.as_ref().device_ptr(self) as *mut c_void
        }

        fn ref_ptr(&self, r: DeviceRef<'_>) -> *const c_void {
            r.device_ptr(self) as *const c_void
        }

        fn fresh(&self) -> Result<Self, Failure> {
            Ok(self.with_stream(self.stream().clone())?)
        }
    }

    /// A device-view error, with the C argument's name in front (ito names its own `ptr`
    /// and `len`).
    fn named(arg: &str, e: ito::Error) -> Failure {
        let f = Failure::from(e);
        Failure::new(f.code, format!("{arg}: {}", f.message))
    }
}

/// The host emulation of the CUDA kernels as a device (test builds): its "device pointers" are
/// host pointers, viewed and allocated as a CUDA device's would be (no overlap check, as on a
/// device).
#[cfg(feature = "emulation")]
mod emulated_memory {
    use super::*;
    use ito_cuda_emulation::{EmulatedBuffer, EmulatedDevice};

    impl CallerMemory for EmulatedDevice {
        fn check_apart(&self, _tensors: &[(&'static str, &ito_tensor, bool)]) -> Outcome {
            Ok(())
        }

        unsafe fn input<'a>(
            &self,
            arg: &'static str,
            t: &ito_tensor,
        ) -> Result<TensorRef<'a>, Failure> {
            // SAFETY: the caller's contract.
            unsafe { host_input(arg, t) }
        }

        unsafe fn output<'a>(
            &self,
            arg: &'static str,
            t: &ito_tensor,
        ) -> Result<TensorMut<'a>, Failure> {
            // SAFETY: the caller's contract.
            unsafe { host_output(arg, t) }
        }

        fn alloc(&self, dtype: Dtype, n: usize) -> Result<EmulatedBuffer, Failure> {
            Ok(EmulatedBuffer::zeros(dtype, n))
        }

        fn buffer_ptr(&self, b: &mut EmulatedBuffer) -> *mut c_void {
            match b {
                EmulatedBuffer::F32(v) => v.as_mut_ptr().cast(),
                EmulatedBuffer::F16(v) => v.as_mut_ptr().cast(),
                EmulatedBuffer::Bf16(v) => v.as_mut_ptr().cast(),
            }
        }

        fn ref_ptr(&self, r: TensorRef<'_>) -> *const c_void {
            tensor_ptr(r)
        }

        fn fresh(&self) -> Result<Self, Failure> {
            Ok(EmulatedDevice::new())
        }
    }
}
