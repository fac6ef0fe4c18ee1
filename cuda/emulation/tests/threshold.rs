//! `cuda/threshold.cu`, run on the CPU through the host emulation, equals the host definition
//! (`ito::runtime::threshold`, itself proven equal to torch.quantile's sort-based definition
//! in tests/threshold.rs) bit for bit: random samples with ties, signed zeros, subnormals,
//! infinities and NaN, every storage type, block sizes from one thread to 256 and grids
//! smaller than the sample count (blocks loop over samples).

#[path = "../../../tests/common/mod.rs"]
mod common;

use common::{first_difference, Buf};
use ito::runtime::cuda::launch::Shape;
use ito::runtime::threshold::threshold;
use ito::{Dtype, TensorMut};
use ito_cuda_emulation as emu;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -4.0f32..4.0,
        2 => prop::sample::select(vec![0.0f32, -0.0, 1.0, -1.0, 2.5, 2.5, 1e-40, -1e-45, 7e4]),
        1 => prop::sample::select(vec![f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
        1 => any::<f32>(),
    ]
}

fn host(t: TensorMut<'_>, sample_len: usize, ratio: f64, max_value: f64) {
    match t {
        TensorMut::F32(s) => threshold(s, sample_len, ratio, max_value),
        TensorMut::F16(s) => threshold(s, sample_len, ratio, max_value),
        TensorMut::Bf16(s) => threshold(s, sample_len, ratio, max_value),
    }
    .unwrap()
}

proptest! {
    // Each case starts real threads for every emulated block: fewer cases.
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn threshold_on_cuda_equals_the_host(
        (sample_len, samples) in (1usize..700, 1usize..5),
        dtype in prop::sample::select(vec![Dtype::F32, Dtype::F16, Dtype::Bf16]),
        values in prop::collection::vec(value(), 2800),
        ratio in prop_oneof![Just(0.0f64), Just(1.0), Just(0.995), 0.0f64..=1.0],
        max_value in prop_oneof![Just(1.0f64), 1.0f64..10.0],
        shape in prop_oneof![
            1 => Just(None),
            2 => (1u32..4, prop::sample::select(vec![1u32, 32, 96, 256]))
                .prop_map(|(grid, block)| Some(Shape { grid, block })),
        ],
    ) {
        let v = &values[..sample_len * samples];
        let mut want = Buf::from_f32s(dtype, v);
        host(want.as_mut(), sample_len, ratio, max_value);
        let mut got = Buf::from_f32s(dtype, v);
        emu::threshold(got.as_mut(), sample_len, ratio, max_value, shape).unwrap();
        prop_assert_eq!(first_difference(&got, &want), None, "shape {:?}", shape);
    }
}

#[test]
fn bad_arguments_are_the_hosts_typed_errors() {
    let mut x = Buf::filled(Dtype::F32, 12, 1.0);
    assert!(emu::threshold(x.as_mut(), 5, 0.9, 1.0, None).is_err());
    assert!(emu::threshold(x.as_mut(), 4, 1.1, 1.0, None).is_err());
    assert!(emu::threshold(x.as_mut(), 4, 0.9, 0.0, None).is_err());
    let too_wide = ito::runtime::cuda::launch::Shape {
        grid: 1,
        block: 512,
    };
    assert!(emu::threshold(x.as_mut(), 4, 0.9, 1.0, Some(too_wide)).is_err());
}
