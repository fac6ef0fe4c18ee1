//! Property-test inputs shared by the cross-backend tests and the CUDA emulation tests:
//! values with NaN, ±Inf, subnormals and huge magnitudes, awkward lengths, unaligned
//! sub-slice starts, every storage type, random coefficients, noise keys and offsets.
//! A separate module from `common` (which the fuzz targets include too, without proptest):
//! a test crate declares `mod common;` and `#[path = "common/cases.rs"] mod cases;` at its root.
#![allow(dead_code)] // each test crate uses some of the strategies

use crate::common::Buf;
use ito::{Dtype, LincombCoefs, Noise, NoiseKey, TensorMut, TensorRef, MAX_INPUTS};
use proptest::prelude::*;

use crate::common::DTYPES;

/// Mostly moderate finite values (so that sums stay finite and rounding differences show),
/// with arbitrary bit patterns and the special values mixed in.
pub fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        40 => -10.0f32..10.0,
        1 => any::<u32>().prop_map(f32::from_bits),
        1 => prop_oneof![
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(f32::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f32::MIN_POSITIVE / 3.0),
            Just(-1.0e-40),
            Just(3.0e38),
            Just(-6.5e4),
            Just(7.0e4),
        ],
    ]
}

pub fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..80,
        2 => prop::sample::select(vec![0usize, 1, 2, 3, 5, 7, 13, 31, 33, 63, 65, 97, 127, 129, 257, 521, 1021]),
        1 => 80usize..1200,
    ]
}

pub fn dtype() -> impl Strategy<Value = Dtype> {
    prop::sample::select(DTYPES.to_vec())
}

/// A tensor: storage type, start offset within its buffer, and the buffer's values.
#[derive(Clone, Debug)]
pub struct TensorSpec {
    pub dtype: Dtype,
    pub start: usize,
    pub values: Vec<f32>,
}

impl TensorSpec {
    pub fn buf(&self) -> Buf {
        Buf::from_f32s(self.dtype, &self.values)
    }
}

pub fn tensor(len: usize) -> impl Strategy<Value = TensorSpec> {
    (dtype(), 0usize..9).prop_flat_map(move |(dtype, start)| {
        prop::collection::vec(value(), start + len).prop_map(move |values| TensorSpec {
            dtype,
            start,
            values,
        })
    })
}

pub fn coef() -> impl Strategy<Value = f32> {
    prop_oneof![2 => Just(0.0f32), 5 => -3.0f32..3.0, 1 => prop::sample::select(vec![1.0f32, -1.0, 1e-30, 1e30, -0.0])]
}

pub fn noise() -> impl Strategy<Value = Noise> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        prop_oneof![
            0u64..100,
            any::<u64>().prop_map(|o| o >> 1),
            Just(u64::MAX - 5000)
        ],
    )
        .prop_map(|(seed, stream, step, offset)| Noise {
            key: NoiseKey { seed, stream, step },
            offset,
        })
}

#[derive(Clone, Debug)]
pub struct LincombCase {
    pub y: TensorSpec,
    pub y2: Option<TensorSpec>,
    pub inputs: Vec<TensorSpec>,
    pub coefs: LincombCoefs,
    pub noise: Option<Noise>,
}

pub fn lincomb_case() -> impl Strategy<Value = LincombCase> {
    (
        length(),
        0usize..=MAX_INPUTS,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(n, k, has_y2, has_noise, uniform)| {
            let coefs = (
                coef(),
                [coef(), coef(), coef(), coef(), coef(), coef()],
                coef(),
                [coef(), coef(), coef(), coef(), coef(), coef()],
                coef(),
                [coef(), coef(), coef(), coef(), coef(), coef()],
            );
            (
                tensor(n),
                if has_y2 {
                    tensor(n).prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                },
                prop::collection::vec(tensor(n), k),
                coefs,
                if has_noise {
                    noise().prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                },
            )
                .prop_map(
                    move |(y, mut y2, mut inputs, (cy, ci, cz, ce, dy, di), noise)| {
                        // Half the cases store every tensor in y's type: the kernels' typed fast path.
                        if uniform {
                            for t in inputs.iter_mut().chain(y2.iter_mut()) {
                                t.dtype = y.dtype;
                            }
                        }
                        let mut coefs = LincombCoefs {
                            y: cy,
                            inputs: ci,
                            noise: cz,
                            noise_inputs: ce,
                            y2_y: dy,
                            y2_inputs: di,
                        };
                        // Coefficients must name only given inputs, noise and y2 (else: a typed error,
                        // tested in tests/errors.rs).
                        for j in inputs.len()..MAX_INPUTS {
                            coefs.inputs[j] = 0.0;
                            coefs.noise_inputs[j] = 0.0;
                            coefs.y2_inputs[j] = 0.0;
                        }
                        if noise.is_none() {
                            coefs.noise = 0.0;
                            coefs.noise_inputs = [0.0; MAX_INPUTS];
                        }
                        if y2.is_none() {
                            coefs.y2_y = 0.0;
                            coefs.y2_inputs = [0.0; MAX_INPUTS];
                        }
                        LincombCase {
                            y,
                            y2,
                            inputs,
                            coefs,
                            noise,
                        }
                    },
                )
        })
}

impl LincombCase {
    /// Runs the case through `f` (a backend's lincomb) on fresh buffers; returns (y, y2).
    pub fn run(
        &self,
        f: impl FnOnce(
            TensorMut<'_>,
            Option<TensorMut<'_>>,
            &[TensorRef<'_>],
            &LincombCoefs,
            Option<Noise>,
        ),
    ) -> (Buf, Option<Buf>) {
        let n = self.y.values.len() - self.y.start;
        let mut y = self.y.buf();
        let mut y2 = self.y2.as_ref().map(|t| t.buf());
        let bufs: Vec<Buf> = self.inputs.iter().map(|t| t.buf()).collect();
        let inputs: Vec<_> = bufs
            .iter()
            .zip(&self.inputs)
            .map(|(buf, t)| buf.slice(t.start, n))
            .collect();
        let y2_start = self.y2.as_ref().map(|t| t.start).unwrap_or(0);
        f(
            y.slice_mut(self.y.start, n),
            y2.as_mut().map(|t| t.slice_mut(y2_start, n)),
            &inputs,
            &self.coefs,
            self.noise,
        );
        (y, y2)
    }
}
