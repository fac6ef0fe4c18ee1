//! `Backend::Cuda` on host slices: each entry point checks its arguments as every backend
//! does, copies the inputs to the device the process uses for host calls (`ITO_CUDA_DEVICE`, or
//! 0), runs the kernel on that device's stream and copies the outputs back. For tests and
//! one-off calls; an engine keeps its tensors on the device and calls [`CudaDevice`] directly.

use std::sync::{Mutex, MutexGuard, OnceLock};

use ito_kernels::brownian_tree::{check_brownian_tree, Term};
use ito_kernels::check_len;
use ito_kernels::fill_normal::check_fill_normal;
use ito_kernels::langevin::{check_langevin, Norms};
use ito_kernels::lincomb::{LincombCoefs, LincombParams, Noise};
use ito_kernels::milstein::check_milstein;
use ito_kernels::noise::NoiseKey;
use ito_kernels::ou_bank::{check_ou_bank, OuBankCoefs};
use ito_kernels::reduce::{check_reduce_lengths, SegmentStats};
use ito_kernels::storage::{TensorMut, TensorRef};

use super::device::{driver, CudaDevice, DeviceRef};
use crate::runtime::{Error, Written};

/// The non-finite report of the kernel this call launched: the device's report word, read
/// after the outputs came back (the host device is locked for the whole call, so no other
/// call's launch is in it).
fn reported(dev: &CudaDevice) -> Result<Written, Error> {
    Ok(Written {
        nonfinite: dev.take_nonfinite()?,
    })
}

/// `Backend::Cuda.langevin_norms` on a host tensor (see [`host_lincomb`]).
pub(crate) fn host_langevin_norms(
    score: TensorRef<'_>,
    sample_len: usize,
    noise: Noise,
    out: &mut [Norms],
) -> Result<(), Error> {
    let samples = check_langevin(score.len(), sample_len, noise)?;
    check_len("out", None, samples, out.len())?;
    if samples == 0 {
        return Ok(());
    }
    let dev = host_device()?;
    let ds = dev.upload(score)?;
    let mut dout = dev
        .stream()
        .alloc_zeros::<f32>(3 * samples)
        .map_err(driver("allocating Langevin norms"))?;
    dev.langevin_norms(ds.as_ref(), sample_len, noise, dout.as_view_mut())?;
    let mut host = vec![0.0f32; 3 * samples];
    dev.stream()
        .memcpy_dtoh(&dout, &mut host[..])
        .map_err(driver("copying from the device"))?;
    dev.synchronize()?;
    for (o, n) in out.iter_mut().zip(host.chunks_exact(3)) {
        *o = Norms {
            score_sq: n[0],
            noise_sq: n[1],
        };
    }
    Ok(())
}

/// `Backend::Cuda.brownian_tree` on a host tensor (see [`host_lincomb`]).
pub(crate) fn host_brownian_tree(
    mut y: TensorMut<'_>,
    seed: u64,
    terms: &[Term],
    offset: u64,
) -> Result<Written, Error> {
    check_brownian_tree(y.len(), terms, offset)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let dev = reporting_device()?;
    let mut d = dev.alloc(y.dtype(), y.len())?;
    dev.brownian_tree(d.as_mut(), seed, terms, offset)?;
    dev.download(&d, y.reborrow())?;
    reported(&dev)
}

/// `Backend::Cuda.milstein` on host tensors (see [`host_lincomb`]).
pub(crate) fn host_milstein(
    mut x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    h: TensorRef<'_>,
    dt: f32,
    noise: Noise,
) -> Result<Written, Error> {
    check_milstein(x.len(), f.len(), g.len(), h.len(), dt, noise)?;
    if x.is_empty() {
        return Ok(Written::default());
    }
    let dev = reporting_device()?;
    let mut dx = dev.upload(x.as_ref())?;
    let (df, dg, dh) = (dev.upload(f)?, dev.upload(g)?, dev.upload(h)?);
    dev.milstein(
        dx.as_mut(),
        df.as_ref(),
        dg.as_ref(),
        dh.as_ref(),
        dt,
        noise,
    )?;
    dev.download(&dx, x.reborrow())?;
    reported(&dev)
}

/// `Backend::Cuda.ou_bank` on host tensors (see [`host_lincomb`]).
pub(crate) fn host_ou_bank(
    mut state: TensorMut<'_>,
    k: usize,
    out: Option<TensorMut<'_>>,
    coefs: &OuBankCoefs,
    key: NoiseKey,
    offset: u64,
) -> Result<Written, Error> {
    let len = check_ou_bank(
        state.len(),
        k,
        out.as_ref().map(|o| o.len()),
        coefs,
        key,
        offset,
    )?;
    if len == 0 {
        return Ok(Written::default());
    }
    let dev = reporting_device()?;
    let mut ds = dev.upload(state.as_ref())?;
    let mut dout = match &out {
        Some(o) => Some(dev.alloc(o.dtype(), o.len())?),
        None => None,
    };
    dev.ou_bank(
        ds.as_mut(),
        k,
        dout.as_mut().map(|b| b.as_mut()),
        coefs,
        key,
        offset,
    )?;
    dev.download(&ds, state.reborrow())?;
    if let (Some(d), Some(mut o)) = (&dout, out) {
        dev.download(d, o.reborrow())?;
    }
    reported(&dev)
}

/// [`host_device`] for a call that reports non-finite values, its report word cleared of
/// anything a call that failed after its launch left there.
fn reporting_device() -> Result<MutexGuard<'static, CudaDevice>, Error> {
    let dev = host_device()?;
    dev.take_nonfinite()?;
    Ok(dev)
}

/// The device the host-slice entry points use for `Backend::Cuda`: `ITO_CUDA_DEVICE` (an
/// index) or 0, locked for one call so that its non-finite report is that call's alone.
fn host_device() -> Result<MutexGuard<'static, CudaDevice>, Error> {
    static DEVICE: OnceLock<Result<Mutex<CudaDevice>, Error>> = OnceLock::new();
    let device = DEVICE
        .get_or_init(|| {
            let ordinal = match std::env::var("ITO_CUDA_DEVICE") {
                Ok(v) => v.trim().parse::<usize>().map_err(|_| Error::Config {
                    arg: "ITO_CUDA_DEVICE",
                    expected: "a device index",
                    found: v.clone(),
                })?,
                Err(_) => 0,
            };
            CudaDevice::new(ordinal).map(Mutex::new)
        })
        .as_ref()
        .map_err(Clone::clone)?;
    Ok(device.lock().unwrap_or_else(|p| p.into_inner()))
}

/// `Backend::Cuda.lincomb` on host tensors: copies in, runs, copies y (and y2) back. For
/// tests and one-off calls; an engine keeps its tensors on the device and calls
/// [`CudaDevice::lincomb`].
pub(crate) fn host_lincomb(
    mut y: TensorMut<'_>,
    y2: Option<TensorMut<'_>>,
    inputs: &[TensorRef<'_>],
    coefs: &LincombCoefs,
    noise: Option<Noise>,
) -> Result<Written, Error> {
    let lens: Vec<usize> = inputs.iter().map(|t| t.len()).collect();
    let p = LincombParams::new(y.len(), &lens, y2.as_ref().map(|t| t.len()), coefs, noise)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let dev = reporting_device()?;
    let mut dy = dev.upload(y.as_ref())?;
    let mut dy2 = match (&y2, p.writes_y2) {
        (Some(t), true) => Some(dev.upload(t.as_ref())?),
        _ => None,
    };
    let dinputs = inputs
        .iter()
        .map(|t| dev.upload(*t))
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<DeviceRef<'_>> = dinputs.iter().map(|b| b.as_ref()).collect();
    dev.lincomb(
        dy.as_mut(),
        dy2.as_mut().map(|b| b.as_mut()),
        &views,
        coefs,
        noise,
    )?;
    dev.download(&dy, y.reborrow())?;
    if let (Some(d), Some(mut h)) = (&dy2, y2) {
        dev.download(d, h.reborrow())?;
    }
    reported(&dev)
}

/// `Backend::Cuda.fill_normal` on a host tensor (see [`host_lincomb`]).
pub(crate) fn host_fill_normal(
    mut y: TensorMut<'_>,
    mean: f32,
    std: f32,
    noise: Noise,
) -> Result<Written, Error> {
    check_fill_normal(y.len(), mean, std, noise)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let dev = reporting_device()?;
    let mut d = dev.alloc(y.dtype(), y.len())?;
    dev.fill_normal(d.as_mut(), mean, std, noise)?;
    dev.download(&d, y.reborrow())?;
    reported(&dev)
}

/// `Backend::Cuda.reduce` on host tensors (see [`host_lincomb`]).
pub(crate) fn host_reduce(
    x: TensorRef<'_>,
    y: Option<TensorRef<'_>>,
    segment_len: usize,
    out: &mut [SegmentStats],
) -> Result<(), Error> {
    let segments = check_reduce_lengths(x.len(), y.as_ref().map(|t| t.len()), segment_len)?;
    check_len("out", None, segments, out.len())?;
    if segments == 0 {
        return Ok(());
    }
    let dev = host_device()?;
    let dx = dev.upload(x)?;
    let dy = y.map(|t| dev.upload(t)).transpose()?;
    let mut dout = dev
        .stream()
        .alloc_zeros::<f32>(3 * segments)
        .map_err(driver("allocating reduce output"))?;
    dev.reduce(
        dx.as_ref(),
        dy.as_ref().map(|b| b.as_ref()),
        segment_len,
        dout.as_view_mut(),
    )?;
    let mut host = vec![0.0f32; 3 * segments];
    dev.stream()
        .memcpy_dtoh(&dout, &mut host[..])
        .map_err(driver("copying from the device"))?;
    dev.synchronize()?;
    for (o, t) in out.iter_mut().zip(host.chunks_exact(3)) {
        *o = SegmentStats {
            sum_sq: t[0],
            sum_xy: t[1],
            max_abs: t[2],
        };
    }
    Ok(())
}
