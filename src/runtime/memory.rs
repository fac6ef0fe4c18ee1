//! The memory a sampler runs on. [`Memory`] names the tensor views of one kind of memory and
//! the fused passes a sampler makes over them; the samplers above this layer are written once
//! against it, so the same plan walk runs on
//!
//! - host slices, owned or borrowed from the caller with no copy ([`Host`], on a CPU backend or
//!   `Backend::Cuda`'s staging), and
//! - CUDA device memory, ito's or a foreign framework's, on the caller's stream
//!   ([`CudaDevice`](crate::runtime::cuda::CudaDevice), cargo feature `cuda`), where every pass
//!   is one launch with no host synchronisation.
//!
//! The non-finite report differs by memory: a host pass returns it ([`Written`]); a device
//! pass ORs it into the device's report word, read once at a point the caller chooses
//! ([`Memory::take_nonfinite`]), so that a step never waits for the device.

use std::marker::PhantomData;

use ito_kernels::brownian_tree::Term;
use ito_kernels::langevin::Corrector;
use ito_kernels::lincomb::{LincombCoefs, Noise, MAX_INPUTS};
use ito_kernels::storage::{bf16_from_f32, f16_from_f32, Element, TensorMut, TensorRef};
use ito_kernels::{bf16, f16};

use super::threshold::threshold;
use super::{backend, try_vec, Backend, Error, Written};

/// A storage type for host buffers: `f32`, `f16` or `bf16`.
pub trait Storage: Element + Default + Send + Sync + 'static {
    /// The slice as a kernel input.
    fn tensor(s: &[Self]) -> TensorRef<'_>;
    /// The slice as a kernel output.
    fn tensor_mut(s: &mut [Self]) -> TensorMut<'_>;
    /// The tensor as a slice of this type, when it is stored as this type.
    fn slice(t: TensorRef<'_>) -> Option<&[Self]>;
    /// Widened to f64 (exact).
    fn to_f64(self) -> f64;
    /// Rounded from f64 to f32, then to this type, to nearest even (as the kernels store).
    fn from_f64(v: f64) -> Self;
}

macro_rules! storage {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Storage for $t {
            fn tensor(s: &[Self]) -> TensorRef<'_> {
                s.into()
            }
            fn tensor_mut(s: &mut [Self]) -> TensorMut<'_> {
                s.into()
            }
            fn slice(t: TensorRef<'_>) -> Option<&[Self]> {
                match t {
                    TensorRef::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn from_f64(v: f64) -> Self {
                $from(v as f32)
            }
        }
    };
}
storage!(f32, F32, f64::from, |v: f32| v);
storage!(f16, F16, f16::to_f64, f16_from_f32);
storage!(bf16, Bf16, bf16::to_f64, bf16_from_f32);

/// One kind of memory: its views, its scratch buffers and the fused passes over them.
///
/// Every pass validates its arguments as the CPU entry points do (lengths, coefficients,
/// noise ranges) and returns a typed error before touching memory.
pub trait Memory {
    /// A read-only tensor view.
    type Ref<'a>: Copy;
    /// A writable tensor view.
    type Mut<'a>;
    /// A scratch buffer owned by the sampler (stage, history, tree noise).
    type Buffer;

    /// Number of elements of a view.
    fn len(t: Self::Ref<'_>) -> usize;
    /// A buffer as a read-only view.
    fn view(b: &Self::Buffer) -> Self::Ref<'_>;
    /// A buffer as a writable view.
    fn view_mut(b: &mut Self::Buffer) -> Self::Mut<'_>;
    /// A shorter-lived writable view of the same memory.
    fn reborrow<'a>(t: &'a mut Self::Mut<'_>) -> Self::Mut<'a>;
    /// A writable view read-only.
    fn as_ref<'a>(t: &'a Self::Mut<'_>) -> Self::Ref<'a>;
    /// A view used for a shorter time (views are covariant; generic code needs it said).
    fn shorten<'a, 'b: 'a>(t: Self::Ref<'b>) -> Self::Ref<'a>;
    /// Elements `start … start + len − 1` of a view (a typed error past its end).
    fn sub<'a, 'b: 'a>(t: Self::Ref<'b>, start: usize, len: usize) -> Result<Self::Ref<'a>, Error>;
    /// Elements `start … start + len − 1` of a writable view.
    fn sub_mut<'a, 'b: 'a>(
        t: Self::Mut<'b>,
        start: usize,
        len: usize,
    ) -> Result<Self::Mut<'a>, Error>;

    /// Whether this memory can run passes now (e.g. a forced backend is present).
    fn check_available(&self) -> Result<(), Error>;
    /// A zeroed buffer of `n` elements stored like `like` (its storage type and device).
    fn alloc_like(&self, like: Self::Ref<'_>, n: usize) -> Result<Self::Buffer, Error>;
    /// `lincomb` (definition: [`crate::runtime::lincomb`]).
    fn lincomb(
        &self,
        y: Self::Mut<'_>,
        y2: Option<Self::Mut<'_>>,
        inputs: &[Self::Ref<'_>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Written, Error>;
    /// `lincomb` without noise on each sample of `sample_len` elements of `y` and the inputs,
    /// sample b with `coefs(b)` (per-sample coefficients: scalar-noise SDE steps). One pass
    /// per sample here; host memory runs the samples in parallel in one call. The same bits
    /// either way (a pass's result does not depend on where its elements start).
    fn lincomb_per_sample(
        &self,
        mut y: Self::Mut<'_>,
        inputs: &[Self::Ref<'_>],
        sample_len: usize,
        coefs: &(dyn Fn(usize) -> LincombCoefs + Sync),
    ) -> Result<Written, Error> {
        let n = Self::len(Self::as_ref(&y));
        if sample_len == 0 || n % sample_len != 0 {
            return Err(Error::config(
                "sample_len",
                "a positive divisor of the element count",
                sample_len,
            ));
        }
        if inputs.len() > MAX_INPUTS {
            return Err(Error::config(
                "inputs",
                "at most MAX_INPUTS inputs",
                inputs.len(),
            ));
        }
        let mut written = Written::default();
        for b in 0..n / sample_len {
            let at = b * sample_len;
            let yb = Self::sub_mut(Self::reborrow(&mut y), at, sample_len)?;
            let w = match inputs.first() {
                None => self.lincomb(yb, None, &[], &coefs(b), None)?,
                Some(&first) => {
                    // On the stack: a sample's views of every input.
                    let mut views = [Self::sub(first, at, sample_len)?; MAX_INPUTS];
                    for (v, &t) in views.iter_mut().zip(inputs).skip(1) {
                        *v = Self::sub(t, at, sample_len)?;
                    }
                    self.lincomb(yb, None, &views[..inputs.len()], &coefs(b), None)?
                }
            };
            written.nonfinite |= w.nonfinite;
        }
        Ok(written)
    }
    /// `fill_normal`: y = μ + σ·z (definition: [`crate::runtime::fill_normal`]).
    fn fill_normal(
        &self,
        y: Self::Mut<'_>,
        mean: f32,
        std: f32,
        noise: Noise,
    ) -> Result<Written, Error>;
    /// One Langevin corrector step over samples of `sample_len` elements (definition and
    /// validation: `Backend::langevin_step`): x ← x + ε·score + √(2ε)·z with ε per sample from
    /// the norms. On the host a zero or non-finite score norm is an error before anything is
    /// written; a device computes ε itself and leaves such a sample unchanged.
    fn langevin_step(
        &self,
        x: Self::Mut<'_>,
        score: Self::Ref<'_>,
        sample_len: usize,
        c: &Corrector,
        noise: Noise,
    ) -> Result<Written, Error>;
    /// `brownian_tree`: y = Σⱼ cⱼ·N(seed, streamⱼ, stepⱼ, offset + i).
    fn brownian_tree(
        &self,
        y: Self::Mut<'_>,
        seed: u64,
        terms: &[Term],
        offset: u64,
    ) -> Result<Written, Error>;
    /// `milstein`: x ← x + Δt·f + √Δt·g·z + (Δt/2)·h·(z² − 1) (definition:
    /// `ito_kernels::milstein`).
    fn milstein(
        &self,
        x: Self::Mut<'_>,
        f: Self::Ref<'_>,
        g: Self::Ref<'_>,
        h: Self::Ref<'_>,
        dt: f32,
        noise: Noise,
    ) -> Result<Written, Error>;
    /// Dynamic thresholding of every sample of `sample_len` elements in place (definition:
    /// [`crate::runtime::threshold`]).
    fn threshold(
        &self,
        x: Self::Mut<'_>,
        sample_len: usize,
        ratio: f64,
        max_value: f64,
    ) -> Result<(), Error>;
    /// The [`Error::NonFinite`] for a buffer whose pass reported a value that is not finite,
    /// naming its first bad element where the memory can find it; None when every element is
    /// finite after all.
    fn nonfinite_error(
        &self,
        t: Self::Ref<'_>,
        step: Option<u64>,
        buffer: &'static str,
    ) -> Option<Error>;
    /// `Err(`[`Error::NonFinite`]`)` for `t` when a pass's report says it stored a value that
    /// is not finite (and this memory can name the element); `Ok` otherwise.
    fn check_written(
        &self,
        written: Written,
        step: Option<u64>,
        buffer: &'static str,
        t: Self::Ref<'_>,
    ) -> Result<(), Error> {
        match written
            .nonfinite
            .then(|| self.nonfinite_error(t, step, buffer))
        {
            Some(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
    /// The reports that accumulate instead of returning with each pass (device memory):
    /// whether any pass since the last call stored a value that is not finite, and clears
    /// them. Host memory reports each pass itself and returns false here.
    fn take_nonfinite(&self) -> Result<bool, Error>;
}

/// Host memory: tensors of any storage type (slices the caller owns or lends, with no copy),
/// scratch buffers of type `S`, passes on the process-wide backend or a chosen one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Host<S> {
    backend: Option<Backend>,
    _storage: PhantomData<S>,
}

impl<S: Storage> Host<S> {
    /// Host memory on the process-wide backend ([`crate::runtime::backend()`], read at each pass).
    pub fn new() -> Self {
        Host {
            backend: None,
            _storage: PhantomData,
        }
    }

    /// Host memory on `backend` (an error when it is not available here).
    pub fn with_backend(backend: Backend) -> Result<Self, Error> {
        backend.check_available()?;
        Ok(Host {
            backend: Some(backend),
            _storage: PhantomData,
        })
    }

    /// The backend the next pass runs on.
    pub fn backend(&self) -> Result<Backend, Error> {
        match self.backend {
            Some(b) => Ok(b),
            None => backend(),
        }
    }
}

/// The range check of a sub-view: `start + len` within `n` elements.
fn check_range(n: usize, start: usize, len: usize) -> Result<(), Error> {
    match start.checked_add(len) {
        Some(end) if end <= n => Ok(()),
        _ => Err(Error::config(
            "len",
            "a range inside the view",
            format!("{start} + {len} of {n} elements"),
        )),
    }
}

/// Elements `start … start + len − 1` of a host view (for memories whose views are host
/// tensors).
pub fn sub_tensor(t: TensorRef<'_>, start: usize, len: usize) -> Result<TensorRef<'_>, Error> {
    check_range(t.len(), start, len)?;
    Ok(t.split_at(start).1.split_at(len).0)
}

/// Elements `start … start + len − 1` of a writable host view.
pub fn sub_tensor_mut(t: TensorMut<'_>, start: usize, len: usize) -> Result<TensorMut<'_>, Error> {
    check_range(t.len(), start, len)?;
    Ok(t.split_at(start).1.split_at(len).0)
}

impl<S: Storage> Memory for Host<S> {
    type Ref<'a> = TensorRef<'a>;
    type Mut<'a> = TensorMut<'a>;
    type Buffer = Vec<S>;

    fn len(t: TensorRef<'_>) -> usize {
        t.len()
    }
    fn view(b: &Vec<S>) -> TensorRef<'_> {
        S::tensor(b)
    }
    fn view_mut(b: &mut Vec<S>) -> TensorMut<'_> {
        S::tensor_mut(b)
    }
    fn reborrow<'a>(t: &'a mut TensorMut<'_>) -> TensorMut<'a> {
        t.reborrow()
    }
    fn as_ref<'a>(t: &'a TensorMut<'_>) -> TensorRef<'a> {
        t.as_ref()
    }
    fn shorten<'a, 'b: 'a>(t: TensorRef<'b>) -> TensorRef<'a> {
        t
    }
    fn sub<'a, 'b: 'a>(t: TensorRef<'b>, start: usize, len: usize) -> Result<TensorRef<'a>, Error> {
        sub_tensor(t, start, len)
    }
    fn sub_mut<'a, 'b: 'a>(
        t: TensorMut<'b>,
        start: usize,
        len: usize,
    ) -> Result<TensorMut<'a>, Error> {
        sub_tensor_mut(t, start, len)
    }

    fn check_available(&self) -> Result<(), Error> {
        self.backend().map(drop)
    }

    fn lincomb_per_sample(
        &self,
        y: TensorMut<'_>,
        inputs: &[TensorRef<'_>],
        sample_len: usize,
        coefs: &(dyn Fn(usize) -> LincombCoefs + Sync),
    ) -> Result<Written, Error> {
        self.backend()?
            .lincomb_per_sample(y, inputs, sample_len, |b| (coefs(b), None))
    }

    fn alloc_like(&self, _like: TensorRef<'_>, n: usize) -> Result<Vec<S>, Error> {
        try_vec("n", n, S::default())
    }

    fn lincomb(
        &self,
        y: TensorMut<'_>,
        y2: Option<TensorMut<'_>>,
        inputs: &[TensorRef<'_>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Written, Error> {
        self.backend()?.lincomb(y, y2, inputs, coefs, noise)
    }

    fn fill_normal(
        &self,
        y: TensorMut<'_>,
        mean: f32,
        std: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        self.backend()?.fill_normal(y, mean, std, noise)
    }

    fn langevin_step(
        &self,
        x: TensorMut<'_>,
        score: TensorRef<'_>,
        sample_len: usize,
        c: &Corrector,
        noise: Noise,
    ) -> Result<Written, Error> {
        // The host step checks its own result (an Error::NonFinite naming the element).
        self.backend()?
            .langevin_step(x, score, sample_len, c, noise)
            .map(|_| Written::default())
    }

    fn brownian_tree(
        &self,
        y: TensorMut<'_>,
        seed: u64,
        terms: &[Term],
        offset: u64,
    ) -> Result<Written, Error> {
        self.backend()?.brownian_tree(y, seed, terms, offset)
    }

    fn milstein(
        &self,
        x: TensorMut<'_>,
        f: TensorRef<'_>,
        g: TensorRef<'_>,
        h: TensorRef<'_>,
        dt: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        self.backend()?.milstein(x, f, g, h, dt, noise)
    }

    fn threshold(
        &self,
        x: TensorMut<'_>,
        sample_len: usize,
        ratio: f64,
        max_value: f64,
    ) -> Result<(), Error> {
        match x {
            TensorMut::F32(s) => threshold(s, sample_len, ratio, max_value),
            TensorMut::F16(s) => threshold(s, sample_len, ratio, max_value),
            TensorMut::Bf16(s) => threshold(s, sample_len, ratio, max_value),
        }
    }

    fn nonfinite_error(
        &self,
        t: TensorRef<'_>,
        step: Option<u64>,
        buffer: &'static str,
    ) -> Option<Error> {
        Error::nonfinite_in(step, buffer, t)
    }

    fn take_nonfinite(&self) -> Result<bool, Error> {
        Ok(false)
    }
}
