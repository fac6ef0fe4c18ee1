//! `ito._ito`, the native module of the `ito` Python package: ito's C API in-process (the
//! same checked entry points C and C++ engines call), over numpy arrays and torch tensors
//! taken zero-copy through DLPack, the GIL released during every pass. The Python package
//! (`python/ito/`) gives it its Pythonic surface.

use std::ffi::{c_int, c_void, CStr, CString};

use ito_capi::config::*;
use ito_capi::device::*;
use ito_capi::kernels::*;
use ito_capi::memory::ito_tensor;
use ito_capi::sampler::*;
use ito_capi::*;
use pyo3::create_exception;
use pyo3::exceptions::{PyArithmeticError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

mod dlpack;

use dlpack::{take, Device, Exported, Taken};

create_exception!(
    ito,
    NonFiniteError,
    PyArithmeticError,
    "A pass stored a value that is not finite (NaN or an infinity; the outputs were written)."
);

/// A C API status as a Python exception carrying ito's message.
fn check(status: c_int) -> PyResult<()> {
    if status == ITO_OK {
        return Ok(());
    }
    // SAFETY: ito_last_error returns a NUL-terminated string valid until this thread's next
    // failing call; it is copied at once.
    let msg = unsafe { CStr::from_ptr(ito_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(match status {
        ITO_ERR_NONFINITE => NonFiniteError::new_err(msg),
        ITO_ERR_ARGUMENT if msg.contains("dtype") || msg.contains("storage type") => {
            PyTypeError::new_err(msg)
        }
        ITO_ERR_NULL | ITO_ERR_ARGUMENT | ITO_ERR_CONFIG | ITO_ERR_STRUCT_SIZE => {
            PyValueError::new_err(msg)
        }
        _ => PyRuntimeError::new_err(msg),
    })
}

/// A raw pointer that may cross into the GIL-free closure (the C API is thread-safe).
struct SendPtr<T>(*mut T);
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: the pointee is a C API handle (thread-safe by the API's contract) or caller memory
// kept alive by a `Taken` for the whole call.
unsafe impl<T> Send for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// Runs a C API call without the GIL.
fn detached(py: Python<'_>, f: impl FnOnce() -> c_int + Send) -> PyResult<()> {
    // ito_last_error is per thread, and detach runs `f` on this thread: read it after.
    check(py.detach(f))
}

/// A CUDA device launching on a stream (the Python package passes torch's current stream).
#[pyclass(frozen, module = "ito")]
pub struct CudaDevice {
    h: SendPtr<ito_device>,
    ordinal: i32,
    stream: usize,
}

// SAFETY: a device handle serves calls from any thread at once (the C API's contract).
unsafe impl Sync for CudaDevice {}
// SAFETY: as above.
unsafe impl Send for CudaDevice {}

#[pymethods]
impl CudaDevice {
    /// Device `ordinal` launching on the CUDA stream whose handle is `stream` (0 = the
    /// default stream). The stream must outlive the device and every sampler made on it.
    #[new]
    #[pyo3(signature = (ordinal=0, stream=0))]
    fn new(ordinal: i32, stream: usize) -> PyResult<Self> {
        let mut h = std::ptr::null_mut();
        // SAFETY: `stream` is the caller's CUDA stream handle (documented contract).
        check(unsafe { ito_device_create_cuda(ordinal, stream as *mut c_void, &mut h) })?;
        Ok(CudaDevice {
            h: SendPtr(h),
            ordinal,
            stream,
        })
    }

    /// Waits for the work queued on the device's stream.
    fn synchronize(&self, py: Python<'_>) -> PyResult<()> {
        let h = self.h;
        // SAFETY: a live handle.
        detached(py, move || unsafe { ito_device_synchronize(h.get()) })
    }

    #[getter]
    fn ordinal(&self) -> i32 {
        self.ordinal
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: a live handle, destroyed once (samplers keep their device object alive).
        unsafe { ito_device_destroy(self.h.get()) };
    }
}

/// The stream a call's CUDA tensors are taken for (DLPack's ordering), if it runs on a device.
fn stream_of(device: Option<&CudaDevice>) -> Option<usize> {
    device.map(|d| d.stream)
}

/// The device handle a call runs on (NULL: host memory), after checking each tensor lives
/// there.
fn device_of(device: Option<&CudaDevice>, tensors: &[(&str, &Taken)]) -> PyResult<*mut ito_device> {
    let want = match device {
        None => Device::Cpu,
        Some(d) => Device::Cuda(d.ordinal),
    };
    for (arg, t) in tensors {
        if t.device != want {
            return Err(PyValueError::new_err(format!(
                "{arg}: a tensor on {want} expected (where this call runs), found one on {}",
                t.device
            )));
        }
    }
    Ok(device.map_or(std::ptr::null_mut(), |d| d.h.get()))
}

/// Coefficients from Python lists (at most six).
fn coefs_from(arg: &str, v: Option<Vec<f32>>, n_inputs: usize) -> PyResult<[f32; ITO_MAX_INPUTS]> {
    let v = v.unwrap_or_default();
    if v.len() > n_inputs {
        return Err(PyValueError::new_err(format!(
            "{arg}: at most one coefficient per input ({n_inputs}), found {}",
            v.len()
        )));
    }
    let mut out = [0f32; ITO_MAX_INPUTS];
    out[..v.len()].copy_from_slice(&v);
    Ok(out)
}

/// y ← c_y·y + Σⱼ c[j]·inputs[j] + (noise + Σⱼ noise_c[j]·inputs[j])·z, and y2 from the old y
/// (y2 ← d_y·y + Σⱼ d[j]·inputs[j]), in one pass; z = N(seed, stream, step, offset + i).
#[pyfunction]
#[pyo3(signature = (y, inputs, *, c_y=1.0, c=None, noise=0.0, noise_c=None, y2=None, d_y=0.0, d=None, seed=0, stream=0, step=0, offset=0, device=None))]
#[allow(clippy::too_many_arguments)]
fn lincomb(
    py: Python<'_>,
    y: &Bound<'_, PyAny>,
    inputs: Vec<Bound<'_, PyAny>>,
    c_y: f32,
    c: Option<Vec<f32>>,
    noise: f32,
    noise_c: Option<Vec<f32>>,
    y2: Option<&Bound<'_, PyAny>>,
    d_y: f32,
    d: Option<Vec<f32>>,
    seed: u64,
    stream: u32,
    step: u32,
    offset: u64,
    device: Option<&CudaDevice>,
) -> PyResult<()> {
    const NAMES: [&str; 6] = [
        "inputs[0]",
        "inputs[1]",
        "inputs[2]",
        "inputs[3]",
        "inputs[4]",
        "inputs[5]",
    ];
    if inputs.len() > ITO_MAX_INPUTS {
        return Err(PyValueError::new_err(format!(
            "inputs: at most 6 tensors, found {}",
            inputs.len()
        )));
    }
    let s = stream_of(device);
    let ty = take(y, "y", s)?;
    let t2 = y2.map(|t| take(t, "y2", s)).transpose()?;
    let ins = inputs
        .iter()
        .zip(NAMES)
        .map(|(t, n)| take(t, n, s))
        .collect::<PyResult<Vec<_>>>()?;
    let mut all = vec![("y", &ty)];
    all.extend(t2.iter().map(|t| ("y2", t)));
    all.extend(NAMES.iter().copied().zip(ins.iter()));
    let dev = SendPtr(device_of(device, &all)?);
    let k = ito_lincomb_coefs {
        y: c_y,
        inputs: coefs_from("c", c, ins.len())?,
        noise,
        noise_inputs: coefs_from("noise_c", noise_c, ins.len())?,
        y2_y: d_y,
        y2_inputs: coefs_from("d", d, ins.len())?,
    };
    let z = ito_noise {
        seed,
        stream,
        step,
        offset,
    };
    let views: Vec<ito_tensor> = ins.iter().map(Taken::tensor).collect();
    let (yt, y2t) = (ty.tensor(), t2.as_ref().map(Taken::tensor));
    let views = SendPtr(views.as_ptr().cast_mut());
    let n = ins.len();
    detached(py, move || {
        let y2p = y2t
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const ito_tensor);
        // SAFETY: every tensor is taken (alive) for the call; `views` holds n tensors.
        unsafe { ito_lincomb(dev.get(), yt, y2p, views.get(), n, &k, &z) }
    })
}

/// y = mean + std·N(seed, stream, step, offset + i): ito's normals, the same bits on every
/// backend.
#[pyfunction]
#[pyo3(signature = (y, *, seed, stream=0, step=0, offset=0, mean=0.0, std=1.0, device=None))]
#[allow(clippy::too_many_arguments)]
fn fill_normal(
    py: Python<'_>,
    y: &Bound<'_, PyAny>,
    seed: u64,
    stream: u32,
    step: u32,
    offset: u64,
    mean: f32,
    std: f32,
    device: Option<&CudaDevice>,
) -> PyResult<()> {
    let ty = take(y, "y", stream_of(device))?;
    let dev = SendPtr(device_of(device, &[("y", &ty)])?);
    let z = ito_noise {
        seed,
        stream,
        step,
        offset,
    };
    let yt = ty.tensor();
    // SAFETY: `y` is taken for the call.
    detached(py, move || unsafe {
        ito_fill_normal(dev.get(), yt, mean, std, &z)
    })
}

/// The counter address (seed, stream, step, offset) of the normals a noise identity draws for a
/// use ("step", "initial", "corrector", "predictor", "level", "tree", "ou_bank", "increment",
/// "scalar_increment") at `step`, for `len` elements; `fill_normal` with it gives them.
#[pyfunction]
#[pyo3(signature = (use_, *, seed, stream=0, offset=0, step=0, len=1))]
fn noise_address(
    use_: &str,
    seed: u64,
    stream: u32,
    offset: u64,
    step: u32,
    len: usize,
) -> PyResult<(u64, u32, u32, u64)> {
    const USES: [&str; 9] = [
        "step",
        "initial",
        "corrector",
        "predictor",
        "level",
        "tree",
        "ou_bank",
        "increment",
        "scalar_increment",
    ];
    let code = USES.iter().position(|u| *u == use_).ok_or_else(|| {
        PyValueError::new_err(format!("use_: one of {USES:?} expected, found {use_:?}"))
    })?;
    let src = ito_noise_source {
        seed,
        stream,
        offset,
    };
    let mut out = ito_noise::default();
    // SAFETY: local structs.
    check(unsafe { ito_noise_address(&src, code as u32, step, len, &mut out) })?;
    Ok((out.seed, out.stream, out.step, out.offset))
}

/// Per-segment (Σx², Σx·y, max|x|) of host tensor `x` (and `y`) cut into segments of
/// `segment_len`, in ito's fixed reduction order.
#[pyfunction]
#[pyo3(signature = (x, y=None, *, segment_len))]
fn reduce(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: Option<&Bound<'_, PyAny>>,
    segment_len: usize,
) -> PyResult<Vec<(f32, f32, f32)>> {
    let tx = take(x, "x", None)?;
    let ty = y.map(|t| take(t, "y", None)).transpose()?;
    let mut all = vec![("x", &tx)];
    all.extend(ty.iter().map(|t| ("y", t)));
    device_of(None, &all)?;
    if segment_len == 0 || tx.len % segment_len != 0 {
        return Err(PyValueError::new_err(format!(
            "segment_len: a positive divisor of the element count {} expected, found {segment_len}",
            tx.len
        )));
    }
    let mut out = vec![ito_segment_stats::default(); tx.len / segment_len];
    let (xt, yt) = (tx.tensor(), ty.as_ref().map(Taken::tensor));
    let o = SendPtr(out.as_mut_ptr());
    let n = out.len();
    detached(py, move || {
        let yp = yt
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const ito_tensor);
        // SAFETY: tensors taken for the call; `o` holds n entries.
        unsafe { ito_reduce(xt, yp, segment_len, o.get(), n) }
    })?;
    Ok(out
        .iter()
        .map(|s| (s.sum_sq, s.sum_xy, s.max_abs))
        .collect())
}

/// The SDE steppers: `method` names the C API function; tensors in its order (the written one
/// first).
#[allow(clippy::too_many_arguments)]
fn step_sde(
    py: Python<'_>,
    method: &str,
    tensors: &[(&str, &Bound<'_, PyAny>)],
    dt: f64,
    src: ito_noise_source,
    step: u32,
    sample_len: usize,
    device: Option<&CudaDevice>,
) -> PyResult<()> {
    const METHODS: [(&str, usize); 8] = [
        ("euler_maruyama", 3),
        ("euler_maruyama_scalar_noise", 3),
        ("milstein", 4),
        ("stochastic_heun_predict", 4),
        ("stochastic_heun_correct", 5),
        ("reversible_heun_forward", 4),
        ("reversible_heun_correct", 5),
        ("reversible_heun_reverse", 4),
    ];
    match METHODS.iter().find(|(m, _)| *m == method) {
        None => {
            return Err(PyValueError::new_err(format!(
                "method: one of {:?} expected, found {method:?}",
                METHODS.map(|(m, _)| m)
            )))
        }
        Some((_, n)) if *n != tensors.len() => {
            return Err(PyValueError::new_err(format!(
                "tensors: {n} tensors for {method}, found {}",
                tensors.len()
            )))
        }
        Some(_) => {}
    }
    let taken = tensors
        .iter()
        .map(|(n, t)| take(t, n, stream_of(device)).map(|t| (*n, t)))
        .collect::<PyResult<Vec<_>>>()?;
    let refs: Vec<(&str, &Taken)> = taken.iter().map(|(n, t)| (*n, t)).collect();
    let dev = SendPtr(device_of(device, &refs)?);
    let t: Vec<ito_tensor> = taken.iter().map(|(_, t)| t.tensor()).collect();
    let method = method.to_string();
    detached(py, move || {
        let d = dev.get();
        // SAFETY: every tensor is taken (alive) for the call, in the function's order.
        unsafe {
            match (method.as_str(), t.as_slice()) {
                ("euler_maruyama", &[x, f, g]) => ito_euler_maruyama(d, x, f, g, dt, &src, step),
                ("euler_maruyama_scalar_noise", &[x, f, g]) => {
                    ito_euler_maruyama_scalar_noise(d, x, f, g, dt, &src, step, sample_len)
                }
                ("milstein", &[x, f, g, h]) => ito_milstein(d, x, f, g, h, dt, &src, step),
                ("stochastic_heun_predict", &[xp, x, f, g]) => {
                    ito_stochastic_heun_predict(d, xp, x, f, g, dt, &src, step)
                }
                ("stochastic_heun_correct", &[x, f, g, fp, gp]) => {
                    ito_stochastic_heun_correct(d, x, f, g, fp, gp, dt, &src, step)
                }
                ("reversible_heun_forward", &[yh, y, f0, g0]) => {
                    ito_reversible_heun_forward(d, yh, y, f0, g0, dt, &src, step)
                }
                ("reversible_heun_correct", &[y, f0, g0, f1, g1]) => {
                    ito_reversible_heun_correct(d, y, f0, g0, f1, g1, dt, &src, step)
                }
                ("reversible_heun_reverse", &[yh, y, f1, g1]) => {
                    ito_reversible_heun_reverse(d, yh, y, f1, g1, dt, &src, step)
                }
                _ => ITO_ERR_ARGUMENT,
            }
        }
    })
}

/// One SDE step on tensors (see `ito.sde` in the Python package for each method's formula).
#[pyfunction]
#[pyo3(signature = (method, tensors, *, dt, seed, step, stream=0, offset=0, sample_len=0, device=None))]
#[allow(clippy::too_many_arguments)]
fn sde_step(
    py: Python<'_>,
    method: &str,
    tensors: Vec<(String, Bound<'_, PyAny>)>,
    dt: f64,
    seed: u64,
    step: u32,
    stream: u32,
    offset: u64,
    sample_len: usize,
    device: Option<&CudaDevice>,
) -> PyResult<()> {
    let named: Vec<(&str, &Bound<'_, PyAny>)> =
        tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let src = ito_noise_source {
        seed,
        stream,
        offset,
    };
    step_sde(py, method, &named, dt, src, step, sample_len, device)
}

/// A sampler: a solver plan walked over the caller's tensor (`ito.Sampler` in the package).
#[pyclass(frozen, module = "ito")]
pub struct Sampler {
    h: SendPtr<ito_sampler>,
    dtype: u32,
    len: usize,
    device: Option<Py<CudaDevice>>,
}

// SAFETY: a sampler handle may be used from any thread, one call at a time (the C API
// returns ITO_ERR_BUSY otherwise).
unsafe impl Sync for Sampler {}
// SAFETY: as above.
unsafe impl Send for Sampler {}

impl Drop for Sampler {
    fn drop(&mut self) {
        // SAFETY: a live handle, destroyed once.
        unsafe { ito_sampler_destroy(self.h.get()) };
    }
}

fn code_of(table: &[&str], arg: &str, v: &str) -> PyResult<u32> {
    table
        .iter()
        .position(|t| *t == v)
        .map(|i| i as u32)
        .ok_or_else(|| {
            PyValueError::new_err(format!("{arg}: one of {table:?} expected, found {v:?}"))
        })
}

fn dtype_code(v: &str) -> PyResult<u32> {
    match v {
        "float32" => Ok(ITO_DTYPE_F32),
        "float16" => Ok(ITO_DTYPE_F16),
        "bfloat16" => Ok(ITO_DTYPE_BF16),
        _ => Err(PyTypeError::new_err(format!(
            "dtype: \"float32\", \"float16\" or \"bfloat16\" expected, found {v:?}"
        ))),
    }
}

impl Sampler {
    fn stream(&self) -> Option<usize> {
        self.device.as_ref().map(|d| d.get().stream)
    }

    fn take_state(&self, x: &Bound<'_, PyAny>) -> PyResult<Taken> {
        let t = take(x, "x", self.stream())?;
        self.check_tensor("x", &t)?;
        Ok(t)
    }

    fn check_tensor(&self, arg: &str, t: &Taken) -> PyResult<()> {
        if t.dtype != self.dtype {
            return Err(PyTypeError::new_err(format!(
                "{arg}: the sampler's dtype {} expected, found {}",
                dtype_name(self.dtype),
                dtype_name(t.dtype)
            )));
        }
        if t.len != self.len {
            return Err(PyValueError::new_err(format!(
                "{arg}: {} elements expected (the sampler's length), found {}",
                self.len, t.len
            )));
        }
        let py_dev = self.device.as_ref().map(|d| d.get().ordinal);
        let want = py_dev.map_or(Device::Cpu, Device::Cuda);
        if t.device != want {
            return Err(PyValueError::new_err(format!(
                "{arg}: a tensor on {want} expected (the sampler's device), found one on {}",
                t.device
            )));
        }
        Ok(())
    }
}

fn dtype_name(code: u32) -> &'static str {
    match code {
        ITO_DTYPE_F16 => "float16",
        ITO_DTYPE_BF16 => "bfloat16",
        _ => "float32",
    }
}

const PREDICTIONS: [&str; 4] = ["eps", "data", "v", "velocity"];
const SCHEDULES: [&str; 7] = [
    "vp_linear",
    "vp_cosine",
    "ve",
    "edm",
    "flow",
    "discrete_linear",
    "discrete_scaled_linear",
];
const GRIDS: [&str; 9] = [
    "uniform_t",
    "uniform_lambda",
    "quadratic",
    "karras",
    "times",
    "discrete_linspace",
    "discrete_leading",
    "discrete_trailing",
    "nodes",
];

#[pymethods]
impl Sampler {
    /// See `ito.Sampler`.
    #[new]
    #[pyo3(signature = (solver, len, *, prediction="eps", dtype="float32", schedule="vp_linear", schedule_params=None, grid="uniform_lambda", steps=20, t_start=1.0, t_end=1e-3, sigma_min=0.002, sigma_max=80.0, rho=7.0, times=None, alphas=None, sigmas=None, steps_offset=0, clean_end=true, lower_order_final=true, euler_at_final=false, thresholding=None, seed=0, stream=0, offset=0, noise_tree=None, device=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        solver: &str,
        len: usize,
        prediction: &str,
        dtype: &str,
        schedule: &str,
        schedule_params: Option<Vec<f64>>,
        grid: &str,
        steps: usize,
        t_start: f64,
        t_end: f64,
        sigma_min: f64,
        sigma_max: f64,
        rho: f64,
        times: Option<Vec<f64>>,
        alphas: Option<Vec<f64>>,
        sigmas: Option<Vec<f64>>,
        steps_offset: usize,
        clean_end: bool,
        lower_order_final: bool,
        euler_at_final: bool,
        thresholding: Option<(f64, f64, usize)>,
        seed: u64,
        stream: u32,
        offset: u64,
        noise_tree: Option<PyRef<'_, BrownianTree>>,
        device: Option<Py<CudaDevice>>,
    ) -> PyResult<Self> {
        let mut c = std::mem::MaybeUninit::<ito_sampler_config>::uninit();
        // SAFETY: a valid out pointer; the function writes the whole struct.
        check(unsafe { ito_sampler_config_init(c.as_mut_ptr()) })?;
        // SAFETY: initialised by the call above (it returned OK).
        let mut c = unsafe { c.assume_init() };
        let name = CString::new(solver)
            .map_err(|_| PyValueError::new_err("solver: a name without NUL characters"))?;
        c.solver = name.as_ptr();
        c.prediction = code_of(&PREDICTIONS, "prediction", prediction)?;
        c.dtype = dtype_code(dtype)?;
        c.len = len;
        c.schedule = code_of(&SCHEDULES, "schedule", schedule)?;
        if let Some(p) = schedule_params {
            if p.len() > 3 {
                return Err(PyValueError::new_err(format!(
                    "schedule_params: at most 3 values, found {}",
                    p.len()
                )));
            }
            c.schedule_params = [0.0; 3];
            c.schedule_params[..p.len()].copy_from_slice(&p);
        } else if matches!(schedule, "ve" | "edm") {
            c.schedule_params = [sigma_min, sigma_max, 0.0];
        }
        c.grid = code_of(&GRIDS, "grid", grid)?;
        c.steps = steps;
        (c.t_start, c.t_end, c.sigma_min, c.sigma_max, c.rho) =
            (t_start, t_end, sigma_min, sigma_max, rho);
        if let Some(ts) = &times {
            c.times = ts.as_ptr();
            c.n_times = ts.len();
        }
        for (arg, v) in [("alphas", &alphas), ("sigmas", &sigmas)] {
            if v.as_ref()
                .is_some_and(|v| Some(v.len()) != times.as_ref().map(Vec::len))
            {
                return Err(PyValueError::new_err(format!(
                    "{arg}: one value per entry of times expected"
                )));
            }
        }
        c.alphas = alphas.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        c.sigmas = sigmas.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        c.steps_offset = steps_offset;
        c.clean_end = u32::from(clean_end);
        c.lower_order_final = u32::from(lower_order_final);
        c.euler_at_final = u32::from(euler_at_final);
        if let Some((ratio, max, sample_len)) = thresholding {
            (c.threshold_ratio, c.threshold_max, c.threshold_sample_len) = (ratio, max, sample_len);
        }
        (c.seed, c.stream, c.offset) = (seed, stream, offset);
        if let Some(t) = noise_tree {
            c.noise_tree = t.tree;
        }
        let dev = device
            .as_ref()
            .map_or(std::ptr::null_mut(), |d| d.get().h.get());
        let mut h = std::ptr::null_mut();
        // SAFETY: `c` and the strings and times it points to live through the call.
        check(unsafe { ito_sampler_create(&c, dev, &mut h) })?;
        Ok(Sampler {
            h: SendPtr(h),
            dtype: c.dtype,
            len,
            device,
        })
    }

    /// Every scratch buffer now: no later step allocates.
    fn reserve(&self, py: Python<'_>) -> PyResult<()> {
        let h = self.h;
        // SAFETY: a live handle.
        detached(py, move || unsafe { ito_sampler_reserve(h.get()) })
    }

    /// x = σ₀·z from the noise identity (before the first step).
    fn init_noise(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = self.take_state(x)?;
        let (h, xt) = (self.h, SendPtr(t.data));
        let n = t.len;
        // SAFETY: a live handle; `x` taken for the call.
        detached(py, move || unsafe {
            ito_sampler_init_noise(h.get(), xt.get(), n)
        })
    }

    /// Where the model is wanted next: (step, stage, t, alpha, sigma, timestep, on_stage), or
    /// None when done.
    #[allow(clippy::type_complexity)]
    fn next_eval(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
    ) -> PyResult<Option<(usize, usize, f64, f64, f64, i64, bool)>> {
        let t = self.take_state(x)?;
        let (h, xt) = (self.h, SendPtr(t.data));
        let n = t.len;
        let mut ev = ito_eval::default();
        let mut more: c_int = 0;
        let (e, m) = (
            SendPtr(&mut ev as *mut ito_eval),
            SendPtr(&mut more as *mut c_int),
        );
        // SAFETY: a live handle; `x` taken; `ev` and `more` live locals.
        detached(py, move || unsafe {
            ito_sampler_next_eval(h.get(), xt.get(), n, e.get(), m.get())
        })?;
        Ok((more != 0).then_some((
            ev.step,
            ev.stage,
            ev.t,
            ev.alpha,
            ev.sigma,
            ev.timestep,
            ev.on_stage != 0,
        )))
    }

    /// None when the model's input is `x` itself; else the sampler's stage buffer, exported.
    fn eval_input(slf: &Bound<'_, Self>, x: &Bound<'_, PyAny>) -> PyResult<Option<Exported>> {
        let me = slf.get();
        let t = me.take_state(x)?;
        let mut input: *const c_void = std::ptr::null();
        // SAFETY: a live handle; `x` taken for the call.
        check(unsafe { ito_sampler_eval_input(me.h.get(), t.data, t.len, &mut input) })?;
        if input == t.data.cast_const() {
            return Ok(None);
        }
        let device = me
            .device
            .as_ref()
            .map_or(Device::Cpu, |d| Device::Cuda(d.get().ordinal));
        Ok(Some(Exported::new(
            input,
            me.len,
            me.dtype,
            device,
            slf.clone().into_any().unbind(),
        )))
    }

    /// Submits the model output and takes the step: one fused pass (the step's normals from
    /// `noise` when given).
    #[pyo3(signature = (x, model_out, noise=None))]
    fn advance(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        model_out: &Bound<'_, PyAny>,
        noise: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let t = self.take_state(x)?;
        let m = take(model_out, "model_out", self.stream())?;
        self.check_tensor("model_out", &m)?;
        let (h, xt, mt) = (self.h, SendPtr(t.data), SendPtr(m.data));
        let n = t.len;
        let Some(noise) = noise else {
            // SAFETY: a live handle; both tensors taken for the call.
            return detached(py, move || unsafe {
                ito_sampler_advance(h.get(), xt.get(), n, mt.get(), n)
            });
        };
        let z = take(noise, "noise", self.stream())?;
        self.check_tensor("noise", &z)?;
        let zt = SendPtr(z.data);
        // SAFETY: a live handle; the three tensors taken for the call.
        detached(py, move || unsafe {
            ito_sampler_advance_noise(h.get(), xt.get(), n, mt.get(), n, zt.get(), n)
        })
    }

    /// Starts the plan again (the next image).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let h = self.h;
        // SAFETY: a live handle.
        detached(py, move || unsafe { ito_sampler_reset(h.get()) })
    }

    /// The grid: [(t, alpha, sigma, timestep)], noisiest first (timestep −1 off discrete grids).
    fn nodes(&self) -> PyResult<Vec<(f64, f64, f64, i64)>> {
        let mut count = 0usize;
        // SAFETY: a live handle; capacity 0 with a NULL array.
        check(unsafe { ito_sampler_nodes(self.h.get(), std::ptr::null_mut(), 0, &mut count) })?;
        let mut nodes = vec![ito_node::default(); count];
        // SAFETY: `nodes` holds `count` entries.
        check(unsafe { ito_sampler_nodes(self.h.get(), nodes.as_mut_ptr(), count, &mut count) })?;
        Ok(nodes
            .iter()
            .map(|n| (n.t, n.alpha, n.sigma, n.timestep))
            .collect())
    }

    /// Whether a device pass stored a non-finite value since the last call (a synchronisation).
    fn take_nonfinite(&self, py: Python<'_>) -> PyResult<bool> {
        let mut v: c_int = 0;
        let (h, out) = (self.h, SendPtr(&mut v as *mut c_int));
        // SAFETY: a live handle; `v` lives through the call. Without the GIL: on a device this
        // synchronises.
        detached(py, move || unsafe {
            ito_sampler_take_nonfinite(h.get(), out.get())
        })?;
        Ok(v != 0)
    }

    #[getter]
    fn len(&self) -> usize {
        self.len
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        dtype_name(self.dtype)
    }
}

/// score-SDE's predictor–corrector sampler (`ito.PcSampler` in the package); its state is
/// its own buffer, exported through DLPack.
#[pyclass(frozen, module = "ito")]
pub struct PcSampler {
    h: SendPtr<ito_capi::ito_pc>,
    dtype: u32,
    len: usize,
    device: Option<Py<CudaDevice>>,
}

// SAFETY: a PC handle may be used from any thread, one call at a time (the C API returns
// ITO_ERR_BUSY otherwise).
unsafe impl Sync for PcSampler {}
// SAFETY: as above.
unsafe impl Send for PcSampler {}

impl Drop for PcSampler {
    fn drop(&mut self) {
        // SAFETY: a live handle, destroyed once.
        unsafe { ito_capi::pc::ito_pc_destroy(self.h.get()) };
    }
}

#[pymethods]
impl PcSampler {
    /// See `ito.PcSampler`.
    #[new]
    #[pyo3(signature = (len, sample_len, *, schedule="vp_linear", schedule_params=None, steps=1000, t_end=1e-3, predictor="reverse_diffusion", corrector_steps=1, snr=0.16, batch_mean_norms=false, dtype="float32", seed=0, stream=0, offset=0, device=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        len: usize,
        sample_len: usize,
        schedule: &str,
        schedule_params: Option<(f64, f64)>,
        steps: usize,
        t_end: f64,
        predictor: &str,
        corrector_steps: usize,
        snr: f64,
        batch_mean_norms: bool,
        dtype: &str,
        seed: u64,
        stream: u32,
        offset: u64,
        device: Option<Py<CudaDevice>>,
    ) -> PyResult<Self> {
        use ito_capi::pc::*;
        let mut c = std::mem::MaybeUninit::<ito_pc_config>::uninit();
        // SAFETY: a valid out pointer; the function writes the whole struct.
        check(unsafe { ito_pc_config_init(c.as_mut_ptr()) })?;
        // SAFETY: initialised by the call above (it returned OK).
        let mut c = unsafe { c.assume_init() };
        c.schedule = match schedule {
            "vp_linear" => ITO_SCHEDULE_VP_LINEAR,
            "ve" => ITO_SCHEDULE_VE,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "schedule: \"vp_linear\" or \"ve\" expected, found {schedule:?}"
                )))
            }
        };
        if let Some((a, b)) = schedule_params {
            c.schedule_params = [a, b];
        }
        c.predictor = code_of(
            &["reverse_diffusion", "euler_maruyama", "none"],
            "predictor",
            predictor,
        )?;
        (c.steps, c.t_end, c.corrector_steps, c.snr) = (steps, t_end, corrector_steps, snr);
        c.batch_mean_norms = u32::from(batch_mean_norms);
        c.dtype = dtype_code(dtype)?;
        (c.len, c.sample_len) = (len, sample_len);
        (c.seed, c.stream, c.offset) = (seed, stream, offset);
        let dev = device
            .as_ref()
            .map_or(std::ptr::null_mut(), |d| d.get().h.get());
        let mut h = std::ptr::null_mut();
        // SAFETY: `c` lives through the call.
        check(unsafe { ito_pc_create(&c, dev, &mut h) })?;
        Ok(PcSampler {
            h: SendPtr(h),
            dtype: c.dtype,
            len,
            device,
        })
    }

    /// The state, exported (read it; ito writes it in `advance`).
    fn state(slf: &Bound<'_, Self>) -> PyResult<Exported> {
        let me = slf.get();
        let mut p: *const c_void = std::ptr::null();
        // SAFETY: a live handle.
        check(unsafe { ito_capi::pc::ito_pc_state(me.h.get(), &mut p) })?;
        let device = me
            .device
            .as_ref()
            .map_or(Device::Cpu, |d| Device::Cuda(d.get().ordinal));
        Ok(Exported::new(
            p,
            me.len,
            me.dtype,
            device,
            slf.clone().into_any().unbind(),
        ))
    }

    /// Where the score is wanted next: (t, index, stage), or None when done.
    fn next_eval(&self) -> PyResult<Option<(f64, usize, usize)>> {
        let mut ev = ito_capi::pc::ito_pc_eval::default();
        let mut more: c_int = 0;
        // SAFETY: a live handle; local out-values.
        check(unsafe { ito_capi::pc::ito_pc_next_eval(self.h.get(), &mut ev, &mut more) })?;
        Ok((more != 0).then_some((ev.t, ev.index, ev.stage)))
    }

    /// Submits the score at the state and takes that stage.
    fn advance(&self, py: Python<'_>, score: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = take(score, "score", self.device.as_ref().map(|d| d.get().stream))?;
        if t.dtype != self.dtype || t.len != self.len {
            return Err(PyValueError::new_err(format!(
                "score: {} elements of {} expected, found {} of {}",
                self.len,
                dtype_name(self.dtype),
                t.len,
                dtype_name(t.dtype)
            )));
        }
        let (h, s) = (self.h, SendPtr(t.data));
        let n = t.len;
        // SAFETY: a live handle; `score` taken for the call.
        detached(py, move || unsafe {
            ito_capi::pc::ito_pc_advance(h.get(), s.get(), n)
        })
    }
}

/// A virtual Brownian tree over [t0, t1] (see `ito.BrownianTree`): a value, W(s, t) for any
/// s ≤ t in its span as a pure function of (seed, stream, offset, s, t).
#[pyclass(frozen, module = "ito")]
#[derive(Clone, Copy)]
struct BrownianTree {
    tree: ito_brownian_tree,
}

#[pymethods]
impl BrownianTree {
    /// See `ito.BrownianTree`.
    #[new]
    #[pyo3(signature = (t0, t1, *, seed, stream=0, tol=0.0, depth=None))]
    fn new(
        t0: f64,
        t1: f64,
        seed: u64,
        stream: u32,
        tol: f64,
        depth: Option<u32>,
    ) -> PyResult<Self> {
        if depth.is_some() && tol != 0.0 {
            return Err(PyValueError::new_err("depth: give depth or tol, not both"));
        }
        let mut tree = ito_brownian_tree::default();
        // SAFETY: a valid out pointer.
        check(unsafe {
            ito_capi::brownian::ito_brownian_tree_init(&mut tree, seed, stream, t0, t1, tol)
        })?;
        if let Some(d) = depth {
            if !(1..=31).contains(&d) {
                return Err(PyValueError::new_err(format!(
                    "depth: 1 … 31 levels expected, found {d}"
                )));
            }
            tree.depth = d;
        }
        Ok(BrownianTree { tree })
    }

    /// y ← scale·(W(t) − W(s)) for s ≤ t in the span, y[i] being global element offset + i.
    #[pyo3(signature = (y, s, t, *, scale=1.0, offset=0, device=None))]
    #[allow(clippy::too_many_arguments)]
    fn increment(
        &self,
        py: Python<'_>,
        y: &Bound<'_, PyAny>,
        s: f64,
        t: f64,
        scale: f64,
        offset: u64,
        device: Option<&CudaDevice>,
    ) -> PyResult<()> {
        let ty = take(y, "y", stream_of(device))?;
        let dev = SendPtr(device_of(device, &[("y", &ty)])?);
        let tree = ito_brownian_tree {
            offset,
            ..self.tree
        };
        let yt = ty.tensor();
        // SAFETY: `y` is taken for the call; `tree` is a local moved into the closure.
        detached(py, move || unsafe {
            ito_capi::brownian::ito_brownian_increment(dev.get(), &tree, s, t, scale, yt)
        })
    }

    #[getter]
    fn t0(&self) -> f64 {
        self.tree.t0
    }

    #[getter]
    fn t1(&self) -> f64 {
        self.tree.t1
    }

    #[getter]
    fn depth(&self) -> u32 {
        self.tree.depth
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.tree.seed
    }

    #[getter]
    fn stream(&self) -> u32 {
        self.tree.stream
    }

    fn __repr__(&self) -> String {
        let t = &self.tree;
        format!(
            "BrownianTree({}, {}, seed={}, stream={}, depth={})",
            t.t0, t.t1, t.seed, t.stream, t.depth
        )
    }
}

/// A Markov approximation of Riemann–Liouville fBM (see `ito.sde.MarkovFbm`).
#[pyclass(frozen, module = "ito")]
struct MarkovFbm {
    fbm: ito_capi::fbm::ito_fbm,
}

#[pymethods]
impl MarkovFbm {
    #[new]
    #[pyo3(signature = (hurst, k, *, gamma_max, horizon, ridge=0.0))]
    fn new(hurst: f64, k: usize, gamma_max: f64, horizon: f64, ridge: f64) -> PyResult<Self> {
        let mut fbm = ito_capi::fbm::ito_fbm::default();
        // SAFETY: a valid out pointer.
        check(unsafe {
            ito_capi::fbm::ito_fbm_init(&mut fbm, hurst, k, gamma_max, horizon, ridge)
        })?;
        Ok(MarkovFbm { fbm })
    }

    #[getter]
    fn hurst(&self) -> f64 {
        self.fbm.hurst
    }

    #[getter]
    fn gammas(&self) -> Vec<f64> {
        self.fbm.gammas[..self.fbm.k].to_vec()
    }

    #[getter]
    fn omega(&self) -> Vec<f64> {
        self.fbm.omega[..self.fbm.k].to_vec()
    }

    #[getter]
    fn relative_error(&self) -> f64 {
        self.fbm.relative_error
    }

    /// The exact transition over a step h.
    fn transition(&self, h: f64) -> PyResult<FbmTransition> {
        let mut t = ito_capi::fbm::ito_fbm_transition::default();
        // SAFETY: valid pointers for the call.
        check(unsafe { ito_capi::fbm::ito_fbm_transition_init(&self.fbm, h, &mut t) })?;
        Ok(FbmTransition { t })
    }
}

/// One step size's OU-bank constants (see `ito.sde.MarkovFbm.transition`).
#[pyclass(frozen, module = "ito")]
struct FbmTransition {
    t: ito_capi::fbm::ito_fbm_transition,
}

#[pymethods]
impl FbmTransition {
    /// One fused step of the OU bank on host memory (see `ito.sde.FbmTransition.step`).
    #[pyo3(signature = (state, out=None, *, seed, step, stream=0, offset=0))]
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        py: Python<'_>,
        state: &Bound<'_, PyAny>,
        out: Option<&Bound<'_, PyAny>>,
        seed: u64,
        step: u32,
        stream: u32,
        offset: u64,
    ) -> PyResult<()> {
        let st = take(state, "state", None)?;
        let ot = out.map(|o| take(o, "out", None)).transpose()?;
        for (arg, t) in std::iter::once(("state", &st)).chain(ot.as_ref().map(|t| ("out", t))) {
            if t.device != Device::Cpu {
                return Err(PyValueError::new_err(format!(
                    "{arg}: a CPU tensor expected (fractional noise runs on host memory), found one on {}",
                    t.device
                )));
            }
        }
        let (sv, ov) = (
            st.tensor(),
            ot.as_ref().map_or(
                ito_tensor {
                    data: std::ptr::null_mut(),
                    len: 0,
                    dtype: ITO_DTYPE_F32,
                },
                Taken::tensor,
            ),
        );
        let src = ito_noise_source {
            seed,
            stream,
            offset,
        };
        let t = self.t;
        // SAFETY: the tensors are taken for the call; `t` and `src` are locals.
        detached(py, move || unsafe {
            ito_capi::fbm::ito_fbm_step(&t, sv, ov, &src, step)
        })
    }

    #[getter]
    fn h(&self) -> f64 {
        self.t.h
    }
}

/// The solver names (`ito.SOLVERS`).
#[pyfunction]
#[pyo3(name = "solver_names")]
fn py_solver_names() -> Vec<&'static str> {
    ito_capi::solver_names()
}

#[pymodule]
fn _ito(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lincomb, m)?)?;
    m.add_function(wrap_pyfunction!(fill_normal, m)?)?;
    m.add_function(wrap_pyfunction!(noise_address, m)?)?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    m.add_function(wrap_pyfunction!(sde_step, m)?)?;
    m.add_function(wrap_pyfunction!(py_solver_names, m)?)?;
    m.add_class::<Sampler>()?;
    m.add_class::<PcSampler>()?;
    m.add_class::<BrownianTree>()?;
    m.add_class::<MarkovFbm>()?;
    m.add_class::<FbmTransition>()?;
    m.add_class::<CudaDevice>()?;
    m.add_class::<Exported>()?;
    m.add("NonFiniteError", m.py().get_type::<NonFiniteError>())?;
    m.add("VERSION", ito_version())?;
    Ok(())
}
