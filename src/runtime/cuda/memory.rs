//! CUDA device memory as sampler [`Memory`]: a `PlanRunner<CudaDevice>` keeps its scratch in
//! device buffers and runs every pass as one launch on the device's stream — the caller's
//! stream when the device was made with [`CudaDevice::with_stream`] or
//! [`CudaDevice::from_raw_stream`] — with no host synchronisation and no allocation once the
//! runner's `reserve` has run, so a whole sampling loop can be captured in a CUDA graph. The state and model outputs may be ito's buffers,
//! cudarc buffers, or foreign pointers ([`DeviceRef::from_raw`], [`DeviceMut::from_raw`]).
//!
//! Non-finite values are reported through the device's report word, read by
//! [`Memory::take_nonfinite`] (= [`CudaDevice::take_nonfinite`]) where the caller chooses.

use ito_kernels::brownian_tree::Term;
use ito_kernels::langevin::Corrector;
use ito_kernels::lincomb::{LincombCoefs, Noise};

use super::device::{CudaDevice, DeviceBuffer, DeviceMut, DeviceRef};
use crate::runtime::{Error, Memory, Written};

impl Memory for CudaDevice {
    type Ref<'a> = DeviceRef<'a>;
    type Mut<'a> = DeviceMut<'a>;
    type Buffer = DeviceBuffer;

    fn len(t: DeviceRef<'_>) -> usize {
        t.len()
    }
    fn view(b: &DeviceBuffer) -> DeviceRef<'_> {
        b.as_ref()
    }
    fn view_mut(b: &mut DeviceBuffer) -> DeviceMut<'_> {
        b.as_mut()
    }
    fn reborrow<'a>(t: &'a mut DeviceMut<'_>) -> DeviceMut<'a> {
        t.reborrow()
    }
    fn as_ref<'a>(t: &'a DeviceMut<'_>) -> DeviceRef<'a> {
        t.as_ref()
    }
    fn shorten<'a, 'b: 'a>(t: DeviceRef<'b>) -> DeviceRef<'a> {
        t
    }
    fn sub<'a, 'b: 'a>(t: DeviceRef<'b>, start: usize, len: usize) -> Result<DeviceRef<'a>, Error> {
        t.slice(start, len)
    }
    fn sub_mut<'a, 'b: 'a>(
        t: DeviceMut<'b>,
        start: usize,
        len: usize,
    ) -> Result<DeviceMut<'a>, Error> {
        t.into_slice(start, len)
    }

    fn check_available(&self) -> Result<(), Error> {
        Ok(())
    }

    fn alloc_like(&self, like: DeviceRef<'_>, n: usize) -> Result<DeviceBuffer, Error> {
        self.alloc(like.dtype(), n)
    }

    fn lincomb(
        &self,
        y: DeviceMut<'_>,
        y2: Option<DeviceMut<'_>>,
        inputs: &[DeviceRef<'_>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Written, Error> {
        // The report waits in the device's word: no launch waits for the device.
        CudaDevice::lincomb(self, y, y2, inputs, coefs, noise).map(|()| Written::default())
    }

    fn fill_normal(
        &self,
        y: DeviceMut<'_>,
        mean: f32,
        std: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        CudaDevice::fill_normal(self, y, mean, std, noise).map(|()| Written::default())
    }

    fn langevin_step(
        &self,
        x: DeviceMut<'_>,
        score: DeviceRef<'_>,
        sample_len: usize,
        c: &Corrector,
        noise: Noise,
    ) -> Result<Written, Error> {
        self.langevin_step_in_scratch(x, score, sample_len, c, noise)
            .map(|()| Written::default())
    }

    fn brownian_tree(
        &self,
        y: DeviceMut<'_>,
        seed: u64,
        terms: &[Term],
        offset: u64,
    ) -> Result<Written, Error> {
        CudaDevice::brownian_tree(self, y, seed, terms, offset).map(|()| Written::default())
    }

    fn milstein(
        &self,
        x: DeviceMut<'_>,
        f: DeviceRef<'_>,
        g: DeviceRef<'_>,
        h: DeviceRef<'_>,
        dt: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        CudaDevice::milstein(self, x, f, g, h, dt, noise).map(|()| Written::default())
    }

    fn threshold(
        &self,
        x: DeviceMut<'_>,
        sample_len: usize,
        ratio: f64,
        max_value: f64,
    ) -> Result<(), Error> {
        CudaDevice::threshold(self, x, sample_len, ratio, max_value)
    }

    /// Device passes never report a value that is not finite by return (they report through
    /// the report word), so this is never asked for; it names no element.
    fn nonfinite_error(
        &self,
        _t: DeviceRef<'_>,
        _step: Option<u64>,
        _buffer: &'static str,
    ) -> Option<Error> {
        None
    }

    fn take_nonfinite(&self) -> Result<bool, Error> {
        CudaDevice::take_nonfinite(self)
    }
}
