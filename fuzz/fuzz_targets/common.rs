//! Shared by the fuzz targets: a byte reader that turns fuzzer input into kernel arguments.
//! Buffers and bit comparison come from the test helpers (`tests/common/mod.rs`).

#![allow(dead_code)]

use ito::{Backend, Dtype};

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
    /// Mostly moderate finite values, sometimes any f64 bit pattern.
    pub fn f64(&mut self) -> f64 {
        let tag = self.u8();
        if tag < 24 {
            f64::from_bits(self.u64())
        } else {
            (self.u32() as i32) as f64 / (1u64 << (tag % 40)) as f64
        }
    }
    pub fn dtype(&mut self) -> Dtype {
        [Dtype::F32, Dtype::F16, Dtype::Bf16][(self.u8() % 3) as usize]
    }
}

/// The CPU backends to compare against scalar.
pub fn simd_backends() -> Vec<Backend> {
    ito::available_backends()
        .into_iter()
        .filter(|b| !matches!(b, Backend::Scalar | Backend::Cuda))
        .collect()
}
