//! The Rust argument blocks (`ito::cuda::abi`) have the C layout of `cuda/kernel_args.cuh`:
//! every size and field offset, as the host C++ compiler lays them out (the device's layout
//! rules for these plain structs are the host's on 64-bit Linux).

use core::mem::{offset_of, size_of};
use ito::cuda::abi::{
    BrownianTreeArgs, FillNormalArgs, LincombArgs, MilsteinArgs, NoiseKeyArg, OuBankArgs,
    ReduceArgs, TensorArg, TreeTermArg,
};

#[test]
fn argument_blocks_match_the_c_layout() {
    let rust: Vec<u64> = [
        size_of::<TensorArg>(),
        offset_of!(TensorArg, dtype),
        size_of::<NoiseKeyArg>(),
        offset_of!(NoiseKeyArg, stream),
        offset_of!(NoiseKeyArg, step),
        size_of::<LincombArgs>(),
        offset_of!(LincombArgs, y2),
        offset_of!(LincombArgs, inputs),
        offset_of!(LincombArgs, key),
        offset_of!(LincombArgs, offset),
        offset_of!(LincombArgs, len),
        offset_of!(LincombArgs, n_inputs),
        offset_of!(LincombArgs, flags),
        offset_of!(LincombArgs, used),
        offset_of!(LincombArgs, c_y),
        offset_of!(LincombArgs, c),
        offset_of!(LincombArgs, c_z),
        offset_of!(LincombArgs, e),
        offset_of!(LincombArgs, d_y),
        offset_of!(LincombArgs, d),
        size_of::<FillNormalArgs>(),
        offset_of!(FillNormalArgs, key),
        offset_of!(FillNormalArgs, offset),
        offset_of!(FillNormalArgs, len),
        offset_of!(FillNormalArgs, mean),
        offset_of!(FillNormalArgs, std),
        size_of::<ReduceArgs>(),
        offset_of!(ReduceArgs, y),
        offset_of!(ReduceArgs, segment_len),
        offset_of!(ReduceArgs, segments),
        offset_of!(ReduceArgs, leaves_per_segment),
        offset_of!(ReduceArgs, leaf_stats),
        offset_of!(ReduceArgs, scratch),
        offset_of!(ReduceArgs, out),
        size_of::<TreeTermArg>(),
        offset_of!(TreeTermArg, coef),
        size_of::<BrownianTreeArgs>(),
        offset_of!(BrownianTreeArgs, seed),
        offset_of!(BrownianTreeArgs, offset),
        offset_of!(BrownianTreeArgs, len),
        offset_of!(BrownianTreeArgs, n_terms),
        offset_of!(BrownianTreeArgs, terms),
        size_of::<MilsteinArgs>(),
        offset_of!(MilsteinArgs, h),
        offset_of!(MilsteinArgs, key),
        offset_of!(MilsteinArgs, offset),
        offset_of!(MilsteinArgs, len),
        offset_of!(MilsteinArgs, dt),
        offset_of!(MilsteinArgs, half_dt),
        size_of::<OuBankArgs>(),
        offset_of!(OuBankArgs, out),
        offset_of!(OuBankArgs, key),
        offset_of!(OuBankArgs, offset),
        offset_of!(OuBankArgs, len),
        offset_of!(OuBankArgs, k),
        offset_of!(OuBankArgs, sqrt_h),
        offset_of!(OuBankArgs, decay),
        offset_of!(OuBankArgs, a),
        offset_of!(OuBankArgs, b),
        offset_of!(OuBankArgs, omega),
    ]
    .iter()
    .map(|&v| v as u64)
    .collect();
    assert_eq!(rust, ito_cuda_emulation::abi_layout());
}
