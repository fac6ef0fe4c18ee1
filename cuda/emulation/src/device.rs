//! An emulated CUDA device as sampler memory: [`EmulatedDevice`] implements
//! [`ito::runtime::Memory`] with every pass launched through the host emulation of
//! `cuda/*.cu` (host memory standing in for device memory), the argument blocks and launch
//! shapes of `ito::runtime::cuda`, and the device's deferred non-finite report (ORed per
//! launch, read by `take_nonfinite`). A `PlanRunner` on it is the device-resident sampler,
//! run on the CPU: the tests compare it with the same runner on host memory.

use std::sync::atomic::{AtomicBool, Ordering};

use ito::runtime::cuda::launch::{self, Shape};
use ito::runtime::{Error, Memory, Written};
use ito::{bf16, f16, Dtype, LincombCoefs, Noise, TensorMut, TensorRef};
use ito_kernels::brownian_tree::Term;
use ito_kernels::langevin::Corrector;

/// A buffer of the emulated device (host memory).
#[derive(Clone, Debug)]
pub enum EmulatedBuffer {
    /// f32 elements.
    F32(Vec<f32>),
    /// f16 elements.
    F16(Vec<f16>),
    /// bf16 elements.
    Bf16(Vec<bf16>),
}

impl EmulatedBuffer {
    /// `n` zeros of `dtype`.
    pub fn zeros(dtype: Dtype, n: usize) -> Self {
        match dtype {
            Dtype::F32 => EmulatedBuffer::F32(vec![0.0; n]),
            Dtype::F16 => EmulatedBuffer::F16(vec![f16::ZERO; n]),
            Dtype::Bf16 => EmulatedBuffer::Bf16(vec![bf16::ZERO; n]),
        }
    }
}

/// The emulated device (see the module docs).
#[derive(Debug, Default)]
pub struct EmulatedDevice {
    nonfinite: AtomicBool,
    shape: Option<Shape>,
}

impl EmulatedDevice {
    /// A device with a clear report, launching with the runtime's default shapes.
    pub fn new() -> Self {
        EmulatedDevice::default()
    }

    /// The same, launching every elementwise kernel with `shape` (grid-stride loops cover
    /// any data size), and thresholding over `shape.grid` blocks of `shape.block` threads
    /// (at most 256, its launch bounds) looping over samples: the results must not depend on
    /// it. The Langevin corrector keeps its default shapes.
    pub fn with_shape(shape: Shape) -> Self {
        EmulatedDevice {
            shape: Some(shape),
            ..EmulatedDevice::default()
        }
    }

    fn report(&self, w: Written) -> Written {
        if w.nonfinite {
            self.nonfinite.store(true, Ordering::Relaxed);
        }
        // As on a device: the pass returns no report; it waits in the report word.
        Written::default()
    }
}

impl Memory for EmulatedDevice {
    type Ref<'a> = TensorRef<'a>;
    type Mut<'a> = TensorMut<'a>;
    type Buffer = EmulatedBuffer;

    fn len(t: TensorRef<'_>) -> usize {
        t.len()
    }
    fn view(b: &EmulatedBuffer) -> TensorRef<'_> {
        match b {
            EmulatedBuffer::F32(v) => v.as_slice().into(),
            EmulatedBuffer::F16(v) => v.as_slice().into(),
            EmulatedBuffer::Bf16(v) => v.as_slice().into(),
        }
    }
    fn view_mut(b: &mut EmulatedBuffer) -> TensorMut<'_> {
        match b {
            EmulatedBuffer::F32(v) => v.as_mut_slice().into(),
            EmulatedBuffer::F16(v) => v.as_mut_slice().into(),
            EmulatedBuffer::Bf16(v) => v.as_mut_slice().into(),
        }
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
        ito::runtime::memory::sub_tensor(t, start, len)
    }
    fn sub_mut<'a, 'b: 'a>(
        t: TensorMut<'b>,
        start: usize,
        len: usize,
    ) -> Result<TensorMut<'a>, Error> {
        ito::runtime::memory::sub_tensor_mut(t, start, len)
    }

    fn check_available(&self) -> Result<(), Error> {
        Ok(())
    }

    fn alloc_like(&self, like: TensorRef<'_>, n: usize) -> Result<EmulatedBuffer, Error> {
        Ok(EmulatedBuffer::zeros(like.dtype(), n))
    }

    fn lincomb(
        &self,
        y: TensorMut<'_>,
        y2: Option<TensorMut<'_>>,
        inputs: &[TensorRef<'_>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Written, Error> {
        crate::lincomb(y, y2, inputs, coefs, noise, self.shape).map(|w| self.report(w))
    }

    fn fill_normal(
        &self,
        y: TensorMut<'_>,
        mean: f32,
        std: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        crate::fill_normal(y, mean, std, noise, self.shape).map(|w| self.report(w))
    }

    fn langevin_step(
        &self,
        x: TensorMut<'_>,
        score: TensorRef<'_>,
        sample_len: usize,
        c: &Corrector,
        noise: Noise,
    ) -> Result<Written, Error> {
        crate::langevin_step(x, score, sample_len, c, noise).map(|(_, w)| self.report(w))
    }

    fn brownian_tree(
        &self,
        y: TensorMut<'_>,
        seed: u64,
        terms: &[Term],
        offset: u64,
    ) -> Result<Written, Error> {
        crate::brownian_tree(y, seed, terms, offset, self.shape).map(|w| self.report(w))
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
        crate::milstein(x, f, g, h, dt, noise, self.shape).map(|w| self.report(w))
    }

    fn threshold(
        &self,
        x: TensorMut<'_>,
        sample_len: usize,
        ratio: f64,
        max_value: f64,
    ) -> Result<(), Error> {
        let shape = self.shape.map(|s| Shape {
            block: s.block.min(launch::THRESHOLD_MAX_BLOCK),
            ..s
        });
        crate::threshold(x, sample_len, ratio, max_value, shape)
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
        Ok(self.nonfinite.swap(false, Ordering::Relaxed))
    }
}
