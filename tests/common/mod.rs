//! Test (and bench) helpers: owned buffers of each storage type, and bit comparison that
//! treats every NaN as equal (the contract is bit identity, NaN payloads aside).

#![allow(dead_code)]

use ito::{bf16, f16, Dtype, TensorMut, TensorRef};

/// An owned tensor of one storage type.
#[derive(Clone, Debug)]
pub enum Buf {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Buf {
    /// `values` rounded to `dtype` (nearest even).
    pub fn from_f32s(dtype: Dtype, values: &[f32]) -> Buf {
        match dtype {
            Dtype::F32 => Buf::F32(values.to_vec()),
            Dtype::F16 => Buf::F16(values.iter().map(|&v| f16::from_f32(v)).collect()),
            Dtype::Bf16 => Buf::Bf16(values.iter().map(|&v| bf16::from_f32(v)).collect()),
        }
    }
    pub fn filled(dtype: Dtype, n: usize, value: f32) -> Buf {
        Buf::from_f32s(dtype, &vec![value; n])
    }
    pub fn len(&self) -> usize {
        match self {
            Buf::F32(v) => v.len(),
            Buf::F16(v) => v.len(),
            Buf::Bf16(v) => v.len(),
        }
    }
    pub fn as_ref(&self) -> TensorRef<'_> {
        self.slice(0, self.len())
    }
    pub fn as_mut(&mut self) -> TensorMut<'_> {
        let n = self.len();
        self.slice_mut(0, n)
    }
    /// Elements `start..start + len` (for unaligned sub-slices).
    pub fn slice(&self, start: usize, len: usize) -> TensorRef<'_> {
        match self {
            Buf::F32(v) => v[start..start + len].into(),
            Buf::F16(v) => v[start..start + len].into(),
            Buf::Bf16(v) => v[start..start + len].into(),
        }
    }
    pub fn slice_mut(&mut self, start: usize, len: usize) -> TensorMut<'_> {
        match self {
            Buf::F32(v) => (&mut v[start..start + len]).into(),
            Buf::F16(v) => (&mut v[start..start + len]).into(),
            Buf::Bf16(v) => (&mut v[start..start + len]).into(),
        }
    }
    /// Every element widened to f32.
    pub fn to_f32s(&self) -> Vec<f32> {
        match self {
            Buf::F32(v) => v.clone(),
            Buf::F16(v) => v.iter().map(|h| h.to_f32()).collect(),
            Buf::Bf16(v) => v.iter().map(|h| h.to_f32()).collect(),
        }
    }
}

/// The index of the first element whose bits differ (all NaNs count as equal).
pub fn first_difference(a: &Buf, b: &Buf) -> Option<usize> {
    let (x, y) = (a.to_f32s(), b.to_f32s());
    if x.len() != y.len() {
        return Some(x.len().min(y.len()));
    }
    x.iter()
        .zip(&y)
        .position(|(p, q)| !(p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())))
}

/// Equal bits, NaN payloads aside.
pub fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub const DTYPES: [Dtype; 3] = [Dtype::F32, Dtype::F16, Dtype::Bf16];

/// W_T of each of `paths` paths: the sum of the increments √Δt·z that an SDE stepper (or
/// the solve driver) draws from `source` at steps 0 … steps − 1 of a uniform grid on [0, 1].
pub fn brownian_endpoint(source: ito::NoiseSource, paths: usize, steps: usize) -> Vec<f64> {
    let dt = 1.0 / steps as f64;
    let (mut w, mut z) = (vec![0.0f64; paths], vec![0.0f32; paths]);
    for k in 0..steps {
        let at = source.address(ito::NoiseUse::Increment, k as u32);
        ito::fill_normal(z.as_mut_slice().into(), 0.0, 1.0, at).unwrap();
        for (a, b) in w.iter_mut().zip(&z) {
            *a += dt.sqrt() * f64::from(*b);
        }
    }
    w
}

/// The least-squares slope of log(error) against log(1/steps): the observed order.
pub fn order_slope(steps: &[usize], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = steps.iter().map(|&n| (1.0 / n as f64).ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    num / den
}
