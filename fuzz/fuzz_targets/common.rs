//! Shared by the fuzz targets: a byte reader that turns fuzzer input into kernel arguments,
//! owned buffers of each storage type, and NaN-tolerant bit comparison.

#![allow(dead_code)]

use ito::{bf16, f16, Backend, Dtype, TensorMut, TensorRef};

/// Reads little-endian values from the fuzzer's bytes; zeros once they run out.
pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }
    /// Any f32 bit pattern (NaN, Inf, subnormals included).
    pub fn f32(&mut self) -> f32 {
        f32::from_bits(self.u32())
    }
    /// Mostly small finite values, sometimes any bit pattern.
    pub fn value(&mut self) -> f32 {
        let tag = self.u8();
        if tag < 32 {
            self.f32()
        } else {
            (self.u8() as i8) as f32 / (tag as f32 / 16.0)
        }
    }
    pub fn dtype(&mut self) -> Dtype {
        [Dtype::F32, Dtype::F16, Dtype::Bf16][(self.u8() % 3) as usize]
    }
}

pub enum Buf {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Buf {
    pub fn new(d: Dtype, values: &[f32]) -> Buf {
        match d {
            Dtype::F32 => Buf::F32(values.to_vec()),
            Dtype::F16 => Buf::F16(values.iter().map(|&v| f16::from_f32(v)).collect()),
            Dtype::Bf16 => Buf::Bf16(values.iter().map(|&v| bf16::from_f32(v)).collect()),
        }
    }
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
    pub fn bits(&self) -> Vec<u32> {
        let canon = |x: f32| if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() };
        match self {
            Buf::F32(v) => v.iter().map(|&x| canon(x)).collect(),
            Buf::F16(v) => v.iter().map(|x| canon(x.to_f32())).collect(),
            Buf::Bf16(v) => v.iter().map(|x| canon(x.to_f32())).collect(),
        }
    }
}

/// The CPU backends to compare against scalar.
pub fn simd_backends() -> Vec<Backend> {
    ito::available_backends()
        .into_iter()
        .filter(|b| !matches!(b, Backend::Scalar | Backend::Cuda))
        .collect()
}

pub fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
