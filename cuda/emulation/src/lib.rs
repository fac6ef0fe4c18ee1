//! The CUDA kernels of `cuda/*.cu`, compiled with the host C++ compiler against
//! `cuda/host_emulation.h` and run on the CPU: every block and thread of a launch, with real
//! barriers where a kernel synchronises. Tests call these with host slices (a host address
//! stands in for a device address) and chosen launch shapes, and compare with the scalar
//! definition. The argument blocks and default shapes are `ito::runtime::cuda`'s, the ones the GPU
//! runtime passes. Every storing kernel's non-finite report word is a local here: each entry
//! point returns the kernel's report ([`Written`]) for comparison with the CPU backends'.

use ito::diffusion::langevin::{Corrector, NormMode};
use ito::runtime::cuda::abi::{
    BrownianTreeArgs, FillNormalArgs, LangevinArgs, LincombArgs, MilsteinArgs, OuBankArgs,
    ReduceArgs, TensorArg, ThresholdArgs,
};
use ito::runtime::cuda::launch::{self, Shape};
use ito::runtime::threshold::check_threshold;
use ito::runtime::Written;
use ito::{Error, LincombCoefs, Noise, SegmentStats, TensorMut, TensorRef};
use ito_kernels::brownian_tree::{check_brownian_tree, Term};
use ito_kernels::check_len;
use ito_kernels::fill_normal::FillNormal;
use ito_kernels::langevin::{LangevinNorms, Norms};
use ito_kernels::lincomb::{LincombParams, MAX_INPUTS};
use ito_kernels::milstein::check_milstein;
use ito_kernels::noise::NoiseKey;
use ito_kernels::ou_bank::{check_ou_bank, OuBankCoefs};
use ito_kernels::reduce::Reduce;

mod device;
pub use device::{EmulatedBuffer, EmulatedDevice};

mod ffi {
    use ito::runtime::cuda::abi::{
        BrownianTreeArgs, FillNormalArgs, LangevinArgs, LincombArgs, MilsteinArgs, OuBankArgs,
        ReduceArgs, ThresholdArgs,
    };
    extern "C" {
        pub fn ito_emulate_lincomb(p: *const LincombArgs, grid: u32, block: u32);
        pub fn ito_emulate_fill_normal(p: *const FillNormalArgs, grid: u32, block: u32);
        pub fn ito_emulate_reduce_leaves(p: *const ReduceArgs, grid: u32, block: u32);
        pub fn ito_emulate_reduce_combine(p: *const ReduceArgs, grid: u32, block: u32);
        pub fn ito_emulate_langevin_norms_leaves(p: *const LangevinArgs, grid: u32, block: u32);
        pub fn ito_emulate_langevin_step_size(p: *const LangevinArgs, grid: u32, block: u32);
        pub fn ito_emulate_langevin_update(p: *const LangevinArgs, grid: u32, block: u32);
        pub fn ito_emulate_brownian_tree(p: *const BrownianTreeArgs, grid: u32, block: u32);
        pub fn ito_emulate_milstein(p: *const MilsteinArgs, grid: u32, block: u32);
        pub fn ito_emulate_ou_bank(p: *const OuBankArgs, grid: u32, block: u32);
        pub fn ito_emulate_threshold(p: *const ThresholdArgs, grid: u32, block: u32);
        pub fn ito_emulate_block_words(
            seed: u64,
            stream: u32,
            step: u32,
            block: u64,
            out: *mut u32,
        );
        pub fn ito_emulate_box_muller(radius_word: u32, angle_word: u32, out: *mut f32);
        pub fn ito_emulate_f16_from_f32(v: f32) -> u16;
        pub fn ito_emulate_f16_to_f32(h: u16) -> f32;
        pub fn ito_emulate_bf16_from_f32(v: f32) -> u16;
        pub fn ito_emulate_bf16_to_f32(h: u16) -> f32;
        pub fn ito_emulate_abi_layout(out: *mut u64, capacity: u64) -> u64;
    }
}

/// The resident-block cap of the emulated "device" for default shapes (a small GPU).
pub const EMULATED_MULTIPROCESSORS: u32 = 4;

fn arg_ref(t: &TensorRef<'_>) -> TensorArg {
    let ptr = match t {
        TensorRef::F32(s) => s.as_ptr() as u64,
        TensorRef::F16(s) => s.as_ptr() as u64,
        TensorRef::Bf16(s) => s.as_ptr() as u64,
    };
    TensorArg::new(ptr, t.dtype())
}

fn arg_mut(t: &mut TensorMut<'_>) -> TensorArg {
    let dtype = t.dtype();
    let ptr = match t {
        TensorMut::F32(s) => s.as_mut_ptr() as u64,
        TensorMut::F16(s) => s.as_mut_ptr() as u64,
        TensorMut::Bf16(s) => s.as_mut_ptr() as u64,
    };
    TensorArg::new(ptr, dtype)
}

/// The report word a launch ORs into, as a host address in the argument block.
struct ReportWord(Box<u32>);

impl ReportWord {
    fn new() -> Self {
        ReportWord(Box::new(0))
    }
    fn address(&mut self) -> u64 {
        &mut *self.0 as *mut u32 as u64
    }
    fn written(&self) -> Written {
        Written {
            nonfinite: *self.0 != 0,
        }
    }
}

fn check_shape(s: Shape) -> Result<(), Error> {
    if s.grid == 0 || s.block == 0 || s.block > 1024 {
        return Err(Error::Config {
            arg: "shape",
            expected: "grid ≥ 1 and 1 ≤ block ≤ 1024",
            found: format!("{s:?}"),
        });
    }
    Ok(())
}

/// `lincomb` through `cuda/lincomb.cu`, validated exactly as the CPU entry point. `shape`
/// overrides the default launch shape.
pub fn lincomb(
    mut y: TensorMut<'_>,
    mut y2: Option<TensorMut<'_>>,
    inputs: &[TensorRef<'_>],
    coefs: &LincombCoefs,
    noise: Option<Noise>,
    shape: Option<Shape>,
) -> Result<Written, Error> {
    let lens: Vec<usize> = inputs.iter().map(|t| t.len()).collect();
    let p = LincombParams::new(y.len(), &lens, y2.as_ref().map(|t| t.len()), coefs, noise)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let mut tensors = [TensorArg::default(); MAX_INPUTS];
    for (slot, t) in tensors.iter_mut().zip(inputs) {
        *slot = arg_ref(t);
    }
    let mut report = ReportWord::new();
    let mut args = LincombArgs::new(
        &p,
        y.len(),
        arg_mut(&mut y),
        y2.as_mut().map(arg_mut),
        &tensors[..inputs.len()],
    );
    args.nonfinite = report.address();
    let s = shape.unwrap_or_else(|| {
        launch::elementwise(
            args.offset,
            args.len,
            launch::resident_blocks(EMULATED_MULTIPROCESSORS),
        )
    });
    check_shape(s)?;
    // SAFETY: every address in `args` points into a live slice of `args.len` elements of the
    // stated type (y and y2 exclusively borrowed, the inputs shared), and the kernel touches
    // local indices below `args.len` only (and the report word, owned here); the launch
    // returns after every thread finished.
    unsafe { ffi::ito_emulate_lincomb(&args, s.grid, s.block) };
    Ok(report.written())
}

/// `fill_normal` through `cuda/fill_normal.cu`.
pub fn fill_normal(
    mut y: TensorMut<'_>,
    mean: f32,
    std: f32,
    noise: Noise,
    shape: Option<Shape>,
) -> Result<Written, Error> {
    FillNormal::new(y.reborrow(), mean, std, noise)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let mut report = ReportWord::new();
    let args = FillNormalArgs {
        len: y.len() as u64,
        nonfinite: report.address(),
        y: arg_mut(&mut y),
        key: noise.key.into(),
        offset: noise.offset,
        mean,
        std,
    };
    let s = shape.unwrap_or_else(|| {
        launch::elementwise(
            args.offset,
            args.len,
            launch::resident_blocks(EMULATED_MULTIPROCESSORS),
        )
    });
    check_shape(s)?;
    // SAFETY: y is exclusively borrowed for `args.len` elements; the kernel writes local
    // indices below that only.
    unsafe { ffi::ito_emulate_fill_normal(&args, s.grid, s.block) };
    Ok(report.written())
}

/// `reduce` through `cuda/reduce.cu` (both launches). `shapes` overrides the default
/// (leaves, combine) shapes; the leaf launch's block must be a multiple of 32.
pub fn reduce(
    x: TensorRef<'_>,
    y: Option<TensorRef<'_>>,
    segment_len: usize,
    out: &mut [SegmentStats],
    shapes: Option<(Shape, Shape)>,
) -> Result<(), Error> {
    let r = Reduce::new(x, y, segment_len)?;
    check_len("out", None, r.segments(), out.len())?;
    if out.is_empty() {
        return Ok(());
    }
    let per_segment = r.leaves_per_segment();
    let leaves = r.segments() * per_segment;
    let mut leaf_stats = vec![0.0f32; 3 * leaves];
    let mut scratch = vec![0.0f32; 3 * leaves];
    let mut totals = vec![0.0f32; 3 * out.len()];
    let args = ReduceArgs {
        x: arg_ref(&x),
        y: y.as_ref().map(arg_ref).unwrap_or_default(),
        segment_len: segment_len as u64,
        segments: r.segments() as u64,
        leaves_per_segment: per_segment as u64,
        leaf_stats: leaf_stats.as_mut_ptr() as u64,
        scratch: scratch.as_mut_ptr() as u64,
        out: totals.as_mut_ptr() as u64,
    };
    let max_grid = launch::resident_blocks(EMULATED_MULTIPROCESSORS);
    let (leaf_shape, combine_shape) = shapes.unwrap_or((
        launch::reduce_leaves(leaves as u64, max_grid),
        launch::reduce_combine(r.segments() as u64, per_segment as u64, max_grid),
    ));
    check_shape(leaf_shape)?;
    check_shape(combine_shape)?;
    if leaf_shape.block % 32 != 0 {
        return Err(Error::Config {
            arg: "shapes",
            expected: "a leaf block size that is a multiple of 32 (whole warps)",
            found: format!("{leaf_shape:?}"),
        });
    }
    // SAFETY: x (and y) hold segments·segment_len readable elements; leaf_stats, scratch and
    // totals hold 3 floats per leaf, per leaf and per segment, exclusively owned here; each
    // launch returns after all its threads finished.
    unsafe {
        ffi::ito_emulate_reduce_leaves(&args, leaf_shape.grid, leaf_shape.block);
        ffi::ito_emulate_reduce_combine(&args, combine_shape.grid, combine_shape.block);
    }
    for (o, t) in out.iter_mut().zip(totals.chunks_exact(3)) {
        *o = SegmentStats {
            sum_sq: t[0],
            sum_xy: t[1],
            max_abs: t[2],
        };
    }
    Ok(())
}

fn default_shape(offset: u64, len: u64) -> Shape {
    launch::elementwise(
        offset,
        len,
        launch::resident_blocks(EMULATED_MULTIPROCESSORS),
    )
}

/// `brownian_tree` through `cuda/brownian_tree.cu`, validated as on the CPU.
pub fn brownian_tree(
    mut y: TensorMut<'_>,
    seed: u64,
    terms: &[Term],
    offset: u64,
    shape: Option<Shape>,
) -> Result<Written, Error> {
    check_brownian_tree(y.len(), terms, offset)?;
    if y.is_empty() {
        return Ok(Written::default());
    }
    let mut report = ReportWord::new();
    let mut args = BrownianTreeArgs::new(arg_mut(&mut y), y.len(), seed, terms, offset);
    args.nonfinite = report.address();
    let s = shape.unwrap_or_else(|| default_shape(offset, args.len));
    check_shape(s)?;
    // SAFETY: y is exclusively borrowed for `args.len` elements; the kernel writes local
    // indices below that only and reads n_terms ≤ MAX_TERMS terms.
    unsafe { ffi::ito_emulate_brownian_tree(&args, s.grid, s.block) };
    Ok(report.written())
}

/// `milstein` through `cuda/milstein.cu`, validated as on the CPU.
pub fn milstein(
    mut x: TensorMut<'_>,
    f: TensorRef<'_>,
    g: TensorRef<'_>,
    h: TensorRef<'_>,
    dt: f32,
    noise: Noise,
    shape: Option<Shape>,
) -> Result<Written, Error> {
    let constants = check_milstein(x.len(), f.len(), g.len(), h.len(), dt, noise)?;
    if x.is_empty() {
        return Ok(Written::default());
    }
    let mut report = ReportWord::new();
    let tensors = [arg_mut(&mut x), arg_ref(&f), arg_ref(&g), arg_ref(&h)];
    let mut args = MilsteinArgs::new(tensors, x.len(), constants, noise);
    args.nonfinite = report.address();
    let s = shape.unwrap_or_else(|| default_shape(noise.offset, args.len));
    check_shape(s)?;
    // SAFETY: x is exclusively borrowed and f, g, h shared, each of `args.len` elements (checked
    // by the validation); the kernel touches local indices below that only.
    unsafe { ffi::ito_emulate_milstein(&args, s.grid, s.block) };
    Ok(report.written())
}

/// `ou_bank` through `cuda/ou_bank.cu`, validated as on the CPU (`state` holds the K planes one
/// after another). The kernel's launch bounds allow at most 512 threads per block.
pub fn ou_bank(
    mut state: TensorMut<'_>,
    k: usize,
    mut out: Option<TensorMut<'_>>,
    coefs: &OuBankCoefs,
    key: NoiseKey,
    offset: u64,
    shape: Option<Shape>,
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
    let mut report = ReportWord::new();
    let out_arg = out.as_mut().map(arg_mut);
    let mut args = OuBankArgs::new(arg_mut(&mut state), out_arg, len, k, coefs, key, offset);
    args.nonfinite = report.address();
    let s = shape.unwrap_or_else(|| default_shape(offset, args.len));
    check_shape(s)?;
    if s.block > launch::OU_BANK_MAX_BLOCK {
        return Err(Error::Config {
            arg: "shape",
            expected: "at most 512 threads per block (ou_bank's launch bounds)",
            found: format!("{s:?}"),
        });
    }
    // SAFETY: state holds k·len elements and out (if any) len, exclusively borrowed; the
    // kernel touches local indices below len of each plane only.
    unsafe { ffi::ito_emulate_ou_bank(&args, s.grid, s.block) };
    Ok(report.written())
}

/// Dynamic thresholding through `cuda/threshold.cu`, validated as on the CPU. `shape`
/// overrides the default (one 256-thread block per sample, up to the emulated device's
/// resident blocks); blocks of 1 to 256 threads (the kernel's launch bounds).
pub fn threshold(
    mut x: TensorMut<'_>,
    sample_len: usize,
    ratio: f64,
    max_value: f64,
    shape: Option<Shape>,
) -> Result<(), Error> {
    let samples = check_threshold(x.len(), sample_len, ratio, max_value)?;
    if samples == 0 {
        return Ok(());
    }
    let args = ThresholdArgs::new(arg_mut(&mut x), sample_len, samples, ratio, max_value);
    let s = shape.unwrap_or_else(|| {
        launch::threshold(
            args.samples,
            launch::resident_blocks(EMULATED_MULTIPROCESSORS),
        )
    });
    check_shape(s)?;
    if s.block > launch::THRESHOLD_MAX_BLOCK {
        return Err(Error::Config {
            arg: "shape",
            expected: "at most 256 threads per block (threshold's launch bounds)",
            found: format!("{s:?}"),
        });
    }
    // SAFETY: x is exclusively borrowed for samples·sample_len elements; each block touches
    // its samples' elements only; the launch returns after every thread finished.
    unsafe { ffi::ito_emulate_threshold(&args, s.grid, s.block) };
    Ok(())
}

/// Host buffers standing in for the device scratch of the Langevin launches.
struct LangevinScratch {
    leaf_stats: Vec<f32>,
    reduce_scratch: Vec<f32>,
    norms: Vec<f32>,
    eps: Vec<f64>,
    coefs: Vec<f32>,
}

/// Pass 1 (`ito_langevin_norms_leaves`, then reduce.cu's combine) into `scratch.norms`.
fn emulate_langevin_norms(args: &mut LangevinArgs, scratch: &mut LangevinScratch) {
    let samples = args.samples as usize;
    let leaves = samples * args.leaves_per_sample as usize;
    scratch.leaf_stats = vec![0.0; 3 * leaves];
    scratch.reduce_scratch = vec![0.0; 3 * leaves];
    scratch.norms = vec![0.0; 3 * samples];
    args.leaf_stats = scratch.leaf_stats.as_mut_ptr() as u64;
    args.norms = scratch.norms.as_mut_ptr() as u64;
    let combine = ReduceArgs {
        segments: args.samples,
        leaves_per_segment: args.leaves_per_sample,
        leaf_stats: args.leaf_stats,
        scratch: scratch.reduce_scratch.as_mut_ptr() as u64,
        out: args.norms,
        ..Default::default()
    };
    let max_grid = launch::resident_blocks(EMULATED_MULTIPROCESSORS);
    let leaf_shape = launch::reduce_leaves(leaves as u64, max_grid);
    let combine_shape = launch::reduce_combine(args.samples, args.leaves_per_sample, max_grid);
    // SAFETY: the score holds samples·sample_len readable elements; leaf_stats, the reduce
    // scratch and norms hold 3 floats per leaf, leaf and sample, owned by `scratch`; each
    // launch returns after all its threads finished.
    unsafe {
        ffi::ito_emulate_langevin_norms_leaves(args, leaf_shape.grid, leaf_shape.block);
        ffi::ito_emulate_reduce_combine(&combine, combine_shape.grid, combine_shape.block);
    }
}

fn langevin_args(
    score: &TensorRef<'_>,
    sample_len: usize,
    samples: usize,
    noise: Noise,
) -> LangevinArgs {
    LangevinArgs {
        score: arg_ref(score),
        key: noise.key.into(),
        offset: noise.offset,
        sample_len: sample_len as u64,
        samples: samples as u64,
        leaves_per_sample: sample_len.div_ceil(ito_kernels::reduce::LEAF) as u64,
        ..Default::default()
    }
}

/// The Langevin corrector's pass 1 through `cuda/langevin.cu` (and reduce.cu's combine):
/// per sample ‖score‖² and ‖z‖², validated as on the CPU.
pub fn langevin_norms(
    score: TensorRef<'_>,
    sample_len: usize,
    noise: Noise,
    out: &mut [Norms],
) -> Result<(), Error> {
    let samples = LangevinNorms::new(score, sample_len, noise)?.samples();
    check_len("out", None, samples, out.len())?;
    if samples == 0 {
        return Ok(());
    }
    let mut args = langevin_args(&score, sample_len, samples, noise);
    let mut scratch = LangevinScratch {
        leaf_stats: Vec::new(),
        reduce_scratch: Vec::new(),
        norms: Vec::new(),
        eps: Vec::new(),
        coefs: Vec::new(),
    };
    emulate_langevin_norms(&mut args, &mut scratch);
    for (o, n) in out.iter_mut().zip(scratch.norms.chunks_exact(3)) {
        *o = Norms {
            score_sq: n[0],
            noise_sq: n[1],
        };
    }
    Ok(())
}

/// One Langevin corrector step through `cuda/langevin.cu`: the four launches (norms, combine,
/// step size on the device, update), validated as `ito::diffusion::langevin::langevin_step`; returns ε
/// per sample as the device computed it and the update's non-finite report.
pub fn langevin_step(
    mut x: TensorMut<'_>,
    score: TensorRef<'_>,
    sample_len: usize,
    c: &Corrector,
    noise: Noise,
) -> Result<(Vec<f64>, Written), Error> {
    c.check()?;
    if x.len() != score.len() {
        return Err(Error::Config {
            arg: "score",
            expected: "as long as x",
            found: score.len().to_string(),
        });
    }
    let samples = LangevinNorms::new(score, sample_len, noise)?.samples();
    if samples == 0 {
        return Ok((Vec::new(), Written::default()));
    }
    let mut report = ReportWord::new();
    let mut args = langevin_args(&score, sample_len, samples, noise);
    args.x = arg_mut(&mut x);
    args.nonfinite = report.address();
    args.snr = c.snr;
    args.alpha = c.alpha;
    args.batch_mean = u32::from(c.norms == NormMode::BatchMean);
    let mut scratch = LangevinScratch {
        leaf_stats: Vec::new(),
        reduce_scratch: Vec::new(),
        norms: Vec::new(),
        eps: vec![0.0; samples],
        coefs: vec![0.0; 2 * samples],
    };
    args.eps = scratch.eps.as_mut_ptr() as u64;
    args.coefs = scratch.coefs.as_mut_ptr() as u64;
    emulate_langevin_norms(&mut args, &mut scratch);
    let step_shape = launch::langevin_step_size(args.samples, c.norms == NormMode::BatchMean);
    let update_shape = default_shape(noise.offset, args.samples * args.sample_len);
    // SAFETY: x (exclusively borrowed) and the score hold samples·sample_len elements; eps and
    // coefs hold 1 and 2 values per sample, norms 3, all owned by `scratch`; each launch
    // returns after all its threads finished.
    unsafe {
        ffi::ito_emulate_langevin_step_size(&args, step_shape.grid, step_shape.block);
        ffi::ito_emulate_langevin_update(&args, update_shape.grid, update_shape.block);
    }
    Ok((scratch.eps, report.written()))
}

/// The raw Philox words of `block` under (seed, stream, step), from `cuda/philox.cuh`.
pub fn block_words(seed: u64, stream: u32, step: u32, block: u64) -> [u32; 4] {
    let mut out = [0u32; 4];
    // SAFETY: the function writes exactly four words to `out`.
    unsafe { ffi::ito_emulate_block_words(seed, stream, step, block, out.as_mut_ptr()) };
    out
}

/// The two normals of one word pair, from `cuda/normal.cuh`.
pub fn box_muller(radius_word: u32, angle_word: u32) -> (f32, f32) {
    let mut out = [0.0f32; 2];
    // SAFETY: the function writes exactly two floats to `out`.
    unsafe { ffi::ito_emulate_box_muller(radius_word, angle_word, out.as_mut_ptr()) };
    (out[0], out[1])
}

/// `cuda/storage.cuh`'s f32 → binary16 bits.
pub fn f16_from_f32(v: f32) -> u16 {
    // SAFETY: a pure function of its argument.
    unsafe { ffi::ito_emulate_f16_from_f32(v) }
}

/// `cuda/storage.cuh`'s binary16 bits → f32.
pub fn f16_to_f32(h: u16) -> f32 {
    // SAFETY: a pure function of its argument.
    unsafe { ffi::ito_emulate_f16_to_f32(h) }
}

/// `cuda/storage.cuh`'s f32 → bfloat16 bits.
pub fn bf16_from_f32(v: f32) -> u16 {
    // SAFETY: a pure function of its argument.
    unsafe { ffi::ito_emulate_bf16_from_f32(v) }
}

/// `cuda/storage.cuh`'s bfloat16 bits → f32.
pub fn bf16_to_f32(h: u16) -> f32 {
    // SAFETY: a pure function of its argument.
    unsafe { ffi::ito_emulate_bf16_to_f32(h) }
}

/// The C side's sizes and field offsets of the argument blocks, in `launch.cpp`'s order.
pub fn abi_layout() -> Vec<u64> {
    let mut out = vec![0u64; 256];
    // SAFETY: the function writes at most `capacity` values (aborting rather than writing
    // more) and returns how many it wrote.
    let n = unsafe { ffi::ito_emulate_abi_layout(out.as_mut_ptr(), out.len() as u64) };
    out.truncate(n as usize);
    out
}
