//! The C ABI of ito (`include/ito.h`, generated from this crate by cbindgen and checked in).
//!
//! Two tiers, both on host memory or on CUDA device memory (a [`ito_device`] on the caller's
//! `CUstream`):
//! - **sampler handles** ([`ito_sampler`], [`ito_pc`]): a solver plan (or score-SDE's
//!   predictor–corrector sampler) that runs its fused passes on the caller's tensor, step by step
//!   (`next_eval` / `eval_input` / `advance`) or as a whole loop around a model callback
//!   ([`sampler::ito_sampler_run`], the shape of a k-diffusion loop in stable-diffusion.cpp);
//! - **a plan and raw kernels** ([`ito_plan`], [`kernels::ito_lincomb`],
//!   [`kernels::ito_fill_normal`], [`kernels::ito_reduce`], the SDE steppers): for engines that
//!   keep their own loop and buffers.
//!
//! Conventions (`capi/README.md` has the user's view):
//! - every function returns an `int` status ([`ITO_OK`] or an `ITO_ERR_*` code) except the
//!   destroy functions (which accept NULL) and the queries that cannot fail;
//! - a failing call leaves a message naming the argument and what was expected: per handle
//!   (`ito_*_last_error`) and per thread ([`ito_last_error`]);
//! - configuration structs carry their own size in `struct_size` (set by their `_init`
//!   function) so that later versions can grow them;
//! - no panic crosses the boundary: each entry point catches it, reports [`ITO_ERR_PANIC`], and
//!   the handle it hit refuses further calls;
//! - a destroyed handle is detected while its address has not been reused: live handles are
//!   kept in a registry that every call consults;
//! - threads: any function may be called from any thread; a handle serves one call at a time
//!   (a second, concurrent call on it returns [`ITO_ERR_BUSY`] rather than waiting, so that a
//!   model callback calling back into its own sampler cannot deadlock).

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

pub mod brownian;
pub mod config;
pub mod device;
pub mod fbm;
pub mod kernels;
pub mod memory;
pub mod pc;
pub mod plan;
pub mod sampler;

pub use brownian::ito_brownian_tree;
pub use device::ito_device;
pub use pc::ito_pc;
pub use plan::ito_plan;
pub use sampler::ito_sampler;

/// Success.
pub const ITO_OK: c_int = 0;
/// A pointer argument was NULL where a value is required.
pub const ITO_ERR_NULL: c_int = 1;
/// An argument is invalid: a length, a storage type, an alignment, overlapping buffers.
pub const ITO_ERR_ARGUMENT: c_int = 2;
/// A configuration value outside its domain: schedule, grid, solver name, options.
pub const ITO_ERR_CONFIG: c_int = 3;
/// A pass stored a value that is not finite (the call's outputs have been written).
pub const ITO_ERR_NONFINITE: c_int = 4;
/// A backend this build or machine lacks (CUDA without a driver or device, or a build
/// without the `cuda` feature).
pub const ITO_ERR_UNAVAILABLE: c_int = 5;
/// The CUDA driver refused a call.
pub const ITO_ERR_CUDA: c_int = 6;
/// A configuration struct whose `struct_size` this version does not know.
pub const ITO_ERR_STRUCT_SIZE: c_int = 7;
/// A handle that is not a live handle of the expected kind (destroyed, or never created).
pub const ITO_ERR_HANDLE: c_int = 8;
/// The handle is serving another call (from another thread, or from its own callback).
pub const ITO_ERR_BUSY: c_int = 9;
/// The model callback returned non-zero; the run stopped before the step it was asked for.
pub const ITO_ERR_CALLBACK: c_int = 10;
/// An internal error (a panic, caught): please report it. The handle is unusable afterwards.
pub const ITO_ERR_PANIC: c_int = 11;

/// Storage type: IEEE binary32.
pub const ITO_DTYPE_F32: u32 = 0;
/// Storage type: IEEE binary16.
pub const ITO_DTYPE_F16: u32 = 1;
/// Storage type: bfloat16.
pub const ITO_DTYPE_BF16: u32 = 2;

/// The version of this interface: major·10000 + minor·100 + patch (the crate's version).
pub const ITO_VERSION: u32 = 100;

/// The solver names a configuration's `solver` accepts (for bindings that list them).
pub fn solver_names() -> Vec<&'static str> {
    ito::diffusion::solver::SOLVER_NAMES.to_vec()
}

/// The library's version, `ITO_VERSION` of the build that is linked (compare it with the
/// header's macro to detect a mismatched library). Thread-safe.
#[no_mangle]
pub extern "C" fn ito_version() -> u32 {
    ITO_VERSION
}

/// The last error message of the calling thread (every failing call sets it), or "" if none.
/// The string is valid until the thread's next failing call. Thread-safe.
#[no_mangle]
pub extern "C" fn ito_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// A status code's name ("ITO_ERR_NULL", …; "unknown status" otherwise). Thread-safe.
#[no_mangle]
pub extern "C" fn ito_status_name(status: c_int) -> *const c_char {
    let s: &'static CStr = match status {
        ITO_OK => c"ITO_OK",
        ITO_ERR_NULL => c"ITO_ERR_NULL",
        ITO_ERR_ARGUMENT => c"ITO_ERR_ARGUMENT",
        ITO_ERR_CONFIG => c"ITO_ERR_CONFIG",
        ITO_ERR_NONFINITE => c"ITO_ERR_NONFINITE",
        ITO_ERR_UNAVAILABLE => c"ITO_ERR_UNAVAILABLE",
        ITO_ERR_CUDA => c"ITO_ERR_CUDA",
        ITO_ERR_STRUCT_SIZE => c"ITO_ERR_STRUCT_SIZE",
        ITO_ERR_HANDLE => c"ITO_ERR_HANDLE",
        ITO_ERR_BUSY => c"ITO_ERR_BUSY",
        ITO_ERR_CALLBACK => c"ITO_ERR_CALLBACK",
        ITO_ERR_PANIC => c"ITO_ERR_PANIC",
        _ => c"unknown status",
    };
    s.as_ptr()
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failed call: its status code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The `ITO_ERR_*` code.
    pub code: c_int,
    /// What went wrong, naming the argument.
    pub message: String,
}

impl Failure {
    /// A failure with `code` and `message`.
    pub fn new(code: c_int, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// `arg` was NULL.
    pub fn null(arg: &str) -> Self {
        Failure::new(ITO_ERR_NULL, format!("{arg}: a non-NULL pointer expected"))
    }

    /// `arg` is invalid: `expected`, `found`.
    pub fn argument(arg: &str, expected: &str, found: impl std::fmt::Display) -> Self {
        Failure::new(
            ITO_ERR_ARGUMENT,
            format!("{arg}: expected {expected}, found {found}"),
        )
    }

    /// A configuration value outside its domain.
    pub fn config(arg: &str, expected: &str, found: impl std::fmt::Display) -> Self {
        Failure::new(
            ITO_ERR_CONFIG,
            format!("{arg}: expected {expected}, found {found}"),
        )
    }
}

impl From<ito::Error> for Failure {
    fn from(e: ito::Error) -> Self {
        let code = match &e {
            ito::Error::Argument(_) => ITO_ERR_ARGUMENT,
            ito::Error::BackendUnavailable { .. } | ito::Error::UnknownBackend { .. } => {
                ITO_ERR_UNAVAILABLE
            }
            ito::Error::Cuda { .. } => ITO_ERR_CUDA,
            ito::Error::NonFinite { .. } => ITO_ERR_NONFINITE,
            ito::Error::Config { .. } => ITO_ERR_CONFIG,
            // A later ito error kind: the message says what it is.
            _ => ITO_ERR_ARGUMENT,
        };
        Failure::new(code, e.to_string())
    }
}

/// The result of an entry point's body.
pub type Outcome = Result<(), Failure>;

/// Records `f` as the calling thread's last error.
fn set_thread_error(f: &Failure) {
    let msg = CString::new(f.message.replace('\0', " ")).unwrap_or_default();
    // try_with: during thread teardown the slot may be gone; the status code still returns.
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = msg);
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    format!("internal error (please report it): {what}")
}

/// Runs an entry point without a handle: its status, with the thread's last error set on
/// failure; a panic becomes `ITO_ERR_PANIC`.
pub fn entry(body: impl FnOnce() -> Outcome) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|p| Err(Failure::new(ITO_ERR_PANIC, panic_message(&*p))));
    match result {
        Ok(()) => ITO_OK,
        Err(f) => {
            set_thread_error(&f);
            f.code
        }
    }
}

/// The boxed object behind every handle type: the value behind a reader–writer lock that a
/// call takes without waiting, the last error message, and whether a panic left the value
/// unusable.
pub struct Handle<T> {
    value: RwLock<T>,
    last_error: Mutex<CString>,
    broken: AtomicBool,
}

/// A C handle type: an opaque struct around a `Handle` of its value.
pub trait Opaque: Sized {
    /// What the handle holds (shared between threads through the C caller's pointer).
    type Value: Send + Sync;
    /// Its kind in the registry.
    const KIND: Kind;
    /// Wraps a new handle.
    fn wrap(h: Handle<Self::Value>) -> Self;
    /// The handle inside.
    fn handle(&self) -> &Handle<Self::Value>;
}

/// Makes `$name` (a struct around a `Handle<$value>`, declared by hand so that cbindgen sees
/// it) an opaque C handle type of kind `$kind`.
macro_rules! opaque {
    ($name:ident, $value:ty, $kind:expr) => {
        impl crate::Opaque for $name {
            type Value = $value;
            const KIND: crate::Kind = $kind;
            fn wrap(h: crate::Handle<$value>) -> Self {
                $name(h)
            }
            fn handle(&self) -> &crate::Handle<$value> {
                &self.0
            }
        }
    };
}
pub(crate) use opaque;

/// Which handle type an address was created as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ito_sampler`.
    Sampler,
    /// `ito_plan`.
    Plan,
    /// `ito_pc`.
    Pc,
    /// `ito_device`.
    Device,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sampler => "ito_sampler",
            Kind::Plan => "ito_plan",
            Kind::Pc => "ito_pc",
            Kind::Device => "ito_device",
        }
    }
}

/// The live handles: address → kind. A call looks its handle up here and takes the handle's
/// lock while holding the registry's, and destruction takes the handle's lock exclusively and
/// unlists it under the registry's: so no call can reach a handle being freed.
static LIVE: Mutex<BTreeMap<usize, Kind>> = Mutex::new(BTreeMap::new());

fn live() -> std::sync::MutexGuard<'static, BTreeMap<usize, Kind>> {
    // The registry's map is never left half-updated (insert and remove are single
    // operations), so a poisoned lock's data is sound.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Boxes `value` as a new live handle, written to `*out`.
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
pub unsafe fn publish<H: Opaque>(value: H::Value, out: *mut *mut H) -> Outcome {
    if out.is_null() {
        return Err(Failure::null("out"));
    }
    let handle = Box::into_raw(Box::new(H::wrap(Handle {
        value: RwLock::new(value),
        last_error: Mutex::new(CString::default()),
        broken: AtomicBool::new(false),
    })));
    live().insert(handle as usize, H::KIND);
    // SAFETY: `out` is non-NULL (checked) and valid for writes (the caller's contract).
    unsafe { out.write(handle) };
    Ok(())
}

/// How a call holds its handle's value.
enum Access<'a, T> {
    /// Alone (samplers, plans: their calls change them).
    Exclusive(RwLockWriteGuard<'a, T>),
    /// Beside other calls (devices: their calls only launch work on the device's stream).
    Shared(RwLockReadGuard<'a, T>),
}

/// A handle and the lock a call holds on it.
type Acquired<'a, T> = (&'a Handle<T>, Access<'a, T>);

/// The failure of a call on `h` that is not a live handle of `kind`.
fn not_live(kind: Kind) -> Failure {
    Failure::new(
        ITO_ERR_HANDLE,
        format!(
            "{}: a live handle expected (destroyed, or not an {} this library created)",
            kind.name(),
            kind.name()
        ),
    )
}

/// Looks `h` up and takes its lock (exclusive or shared) without waiting.
///
/// # Safety
/// As `with_handle`.
unsafe fn acquire<'a, H: Opaque + 'a>(
    h: *const H,
    exclusive: bool,
) -> Result<Acquired<'a, H::Value>, Failure> {
    let kind = H::KIND;
    if h.is_null() {
        return Err(Failure::null(kind.name()));
    }
    let registry = live();
    if registry.get(&(h as usize)) != Some(&kind) {
        return Err(not_live(kind));
    }
    // SAFETY: the registry holds `h` with H's kind, so it is a live Box<H> (only `publish`
    // inserts addresses, with their kind; `destroy` unlists one under this lock after taking
    // its lock exclusively, so it cannot free it while we hold a guard taken under this lock).
    // 'a is bounded in practice by the guard, which every caller drops before returning to C.
    let handle: &'a Handle<H::Value> = unsafe { &*h }.handle();
    let busy = || {
        Failure::new(
            ITO_ERR_BUSY,
            format!("{}: serving another call", kind.name()),
        )
    };
    // A poisoned lock cannot occur (bodies run under catch_unwind); if it did, `broken`
    // decides.
    let access = if exclusive {
        match handle.value.try_write() {
            Ok(g) => Access::Exclusive(g),
            Err(TryLockError::Poisoned(p)) => Access::Exclusive(p.into_inner()),
            Err(TryLockError::WouldBlock) => return Err(busy()),
        }
    } else {
        match handle.value.try_read() {
            Ok(g) => Access::Shared(g),
            Err(TryLockError::Poisoned(p)) => Access::Shared(p.into_inner()),
            Err(TryLockError::WouldBlock) => return Err(busy()),
        }
    };
    drop(registry);
    if handle.broken.load(Ordering::Acquire) {
        return Err(Failure::new(
            ITO_ERR_PANIC,
            format!(
                "{}: unusable after an internal error; destroy it",
                kind.name()
            ),
        ));
    }
    Ok((handle, access))
}

/// Records a failure on the thread and the handle; its code.
fn fail<T>(handle: Option<&Handle<T>>, f: Failure) -> c_int {
    set_thread_error(&f);
    if let Some(h) = handle {
        let msg = CString::new(f.message.replace('\0', " ")).unwrap_or_default();
        *h.last_error.lock().unwrap_or_else(PoisonError::into_inner) = msg;
    }
    f.code
}

/// Runs `body` on the value of the live handle `h` alone: the status, with the handle's and the
/// thread's last error set on failure. A concurrent call on the same handle gets `ITO_ERR_BUSY`.
///
/// # Safety
/// `h` is NULL, or a pointer this library returned as a handle of H's kind (live or destroyed).
pub unsafe fn with_handle<H: Opaque>(
    h: *mut H,
    body: impl FnOnce(&mut H::Value) -> Outcome,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { acquire(h.cast_const(), true) } {
        Err(f) => fail::<H::Value>(None, f),
        Ok((handle, Access::Exclusive(mut g))) => run_body(handle, || body(&mut g)),
        Ok((_, Access::Shared(_))) => unreachable_access(),
    }
}

/// `with_handle` beside other shared calls on the same handle (device handles).
///
/// # Safety
/// As `with_handle`.
pub unsafe fn with_shared<H: Opaque>(
    h: *const H,
    body: impl FnOnce(&H::Value) -> Outcome,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { acquire(h, false) } {
        Err(f) => fail::<H::Value>(None, f),
        Ok((handle, Access::Shared(g))) => run_body(handle, || body(&g)),
        Ok((_, Access::Exclusive(_))) => unreachable_access(),
    }
}

fn unreachable_access() -> c_int {
    fail::<()>(
        None,
        Failure::new(ITO_ERR_PANIC, "internal error: lock mode"),
    )
}

/// Runs a handle's body under catch_unwind; a panic marks the handle broken.
fn run_body<T>(handle: &Handle<T>, body: impl FnOnce() -> Outcome) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| {
        handle.broken.store(true, Ordering::Release);
        Err(Failure::new(ITO_ERR_PANIC, panic_message(&*p)))
    });
    match result {
        Ok(()) => ITO_OK,
        Err(f) => fail(Some(handle), f),
    }
}

/// The handle's last error message ("" if none, or if `h` is not a live handle of H's kind).
/// The string lives in the handle until its next failing call or its destruction.
///
/// # Safety
/// As `with_handle`.
pub unsafe fn last_error_of<H: Opaque>(h: *const H) -> *const c_char {
    let registry = live();
    if h.is_null() || registry.get(&(h as usize)) != Some(&H::KIND) {
        return c"".as_ptr();
    }
    // SAFETY: live (see acquire).
    let handle = unsafe { &*h }.handle();
    // The CString's buffer stays where it is until the next failing call replaces it.
    let msg = handle
        .last_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    msg.as_ptr()
}

/// Destroys the live handle `h` (NULL: nothing). A handle serving a call is not destroyed
/// (`ITO_ERR_BUSY`).
///
/// # Safety
/// As `with_handle`.
pub unsafe fn destroy<H: Opaque>(h: *mut H) -> c_int {
    let kind = H::KIND;
    if h.is_null() {
        return ITO_OK;
    }
    let mut registry = live();
    if registry.get(&(h as usize)) != Some(&kind) {
        drop(registry);
        return fail::<()>(
            None,
            Failure::new(
                ITO_ERR_HANDLE,
                format!("{}: a live handle expected (destroyed twice?)", kind.name()),
            ),
        );
    }
    // SAFETY: live (see acquire).
    let free = match unsafe { &*h }.handle().value.try_write() {
        Ok(_) | Err(TryLockError::Poisoned(_)) => true,
        Err(TryLockError::WouldBlock) => false,
    };
    if !free {
        drop(registry);
        return fail::<()>(
            None,
            Failure::new(
                ITO_ERR_BUSY,
                format!("{}: serving another call; not destroyed", kind.name()),
            ),
        );
    }
    // Unlisted under the registry's lock, after its own lock was found free under it: no
    // call holds it and none can reach it any more, so it can be dropped after the registry
    // is released (a device sampler's drop frees device memory: other threads need not wait).
    registry.remove(&(h as usize));
    drop(registry);
    // SAFETY: `h` came from Box::into_raw in `publish`, was live (so not freed), and is now
    // unreachable through the registry with no call holding it.
    let dropped = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(h) })));
    match dropped {
        Ok(()) => ITO_OK,
        Err(p) => fail::<()>(None, Failure::new(ITO_ERR_PANIC, panic_message(&*p))),
    }
}

/// Reads a `const char*` argument as UTF-8.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub unsafe fn c_str<'a>(arg: &str, s: *const c_char) -> Result<&'a str, Failure> {
    if s.is_null() {
        return Err(Failure::null(arg));
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| Failure::argument(arg, "UTF-8 text", "invalid UTF-8"))
}

/// Writes `v` through an out-pointer argument.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub unsafe fn write_out<T>(arg: &str, out: *mut T, v: T) -> Outcome {
    if out.is_null() {
        return Err(Failure::null(arg));
    }
    // SAFETY: non-NULL (checked), valid for writes (the caller's contract).
    unsafe { out.write(v) };
    Ok(())
}

/// Reads a configuration struct whose first field is its `struct_size`, refusing a size this
/// version does not know.
///
/// # Safety
/// `p` is NULL or points to at least `size_of::<usize>()` readable bytes, and to a whole `T`
/// when those bytes equal `size_of::<T>()`.
pub unsafe fn read_config<T: Copy>(arg: &str, p: *const T) -> Result<T, Failure> {
    if p.is_null() {
        return Err(Failure::null(arg));
    }
    // SAFETY: the first field of every config struct is a usize `struct_size` (repr(C)).
    let size = unsafe { p.cast::<usize>().read() };
    if size != std::mem::size_of::<T>() {
        return Err(Failure::new(
            ITO_ERR_STRUCT_SIZE,
            format!(
                "{arg}->struct_size: expected {} (sizeof, as set by its _init function), found {size}",
                std::mem::size_of::<T>()
            ),
        ));
    }
    // SAFETY: the caller says a whole T is there when struct_size matches (checked).
    Ok(unsafe { p.read() })
}
