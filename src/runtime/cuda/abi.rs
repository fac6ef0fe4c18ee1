//! `#[repr(C)]` twins of the argument blocks in `cuda/kernel_args.cuh`, one per kernel launch,
//! passed by value. Addresses are device addresses (host addresses under the emulation).
//! `cuda/emulation/tests/abi.rs` compares every size and field offset with the C side.

use ito_kernels::brownian_tree::{present_terms, Term, MAX_TERMS};
use ito_kernels::lincomb::{LincombParams, Noise, MAX_INPUTS};
use ito_kernels::noise::NoiseKey;
use ito_kernels::ou_bank::OuBankCoefs;
use ito_kernels::storage::Dtype;

/// A tensor argument: the address of element 0 and the storage type code.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TensorArg {
    /// Address of element 0 (0: no tensor).
    pub ptr: u64,
    /// [`dtype_code`] of the storage type.
    pub dtype: u32,
    /// Zero.
    pub reserved: u32,
}

impl TensorArg {
    /// A tensor at `ptr` stored as `dtype`.
    pub fn new(ptr: u64, dtype: Dtype) -> Self {
        TensorArg {
            ptr,
            dtype: dtype_code(dtype),
            reserved: 0,
        }
    }
}

/// The storage type codes of `cuda/storage.cuh` (`ITO_DTYPE_*`).
pub fn dtype_code(d: Dtype) -> u32 {
    match d {
        Dtype::F32 => 0,
        Dtype::F16 => 1,
        Dtype::Bf16 => 2,
    }
}

/// `ito_noise_key`: (seed, stream, step).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoiseKeyArg {
    /// The seed.
    pub seed: u64,
    /// The stream tag.
    pub stream: u32,
    /// The step.
    pub step: u32,
}

impl From<NoiseKey> for NoiseKeyArg {
    fn from(k: NoiseKey) -> Self {
        NoiseKeyArg {
            seed: k.seed,
            stream: k.stream,
            step: k.step,
        }
    }
}

/// `ito_lincomb_args.flags`: the noise term is present.
pub const LINCOMB_NOISE: u32 = 1;
/// `ito_lincomb_args.flags`: y2 is written.
pub const LINCOMB_Y2: u32 = 2;
/// `ito_lincomb_args.flags`: y is read.
pub const LINCOMB_READS_Y: u32 = 4;

/// `ito_lincomb_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LincombArgs {
    /// y (read and written).
    pub y: TensorArg,
    /// y2 (written), or a null tensor.
    pub y2: TensorArg,
    /// The inputs; null beyond `n_inputs`.
    pub inputs: [TensorArg; MAX_INPUTS],
    /// The noise key (zero without noise).
    pub key: NoiseKeyArg,
    /// Global index of element 0.
    pub offset: u64,
    /// Number of elements.
    pub len: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when it stored a value that is not finite.
    pub nonfinite: u64,
    /// Number of inputs.
    pub n_inputs: u32,
    /// `LINCOMB_*` bits.
    pub flags: u32,
    /// Bit j: input j is read.
    pub used: u32,
    /// c_y.
    pub c_y: f32,
    /// cⱼ.
    pub c: [f32; MAX_INPUTS],
    /// c_z.
    pub c_z: f32,
    /// eⱼ.
    pub e: [f32; MAX_INPUTS],
    /// d_y.
    pub d_y: f32,
    /// dⱼ.
    pub d: [f32; MAX_INPUTS],
}

impl LincombArgs {
    /// The block for a validated call over `len` elements. `inputs` holds the `p.n_inputs`
    /// input tensors; `y2` is used only when `p.writes_y2`.
    pub fn new(
        p: &LincombParams,
        len: usize,
        y: TensorArg,
        y2: Option<TensorArg>,
        inputs: &[TensorArg],
    ) -> Self {
        let mut args = LincombArgs {
            y,
            len: len as u64,
            n_inputs: p.n_inputs as u32,
            c_y: p.c_y,
            c: p.c,
            c_z: p.c_z,
            e: p.e,
            d_y: p.d_y,
            d: p.d,
            ..Default::default()
        };
        for (slot, t) in args.inputs.iter_mut().zip(inputs.iter().take(p.n_inputs)) {
            *slot = *t;
        }
        for (j, &u) in p.used.iter().enumerate() {
            args.used |= u32::from(u) << j;
        }
        if let Some(nz) = p.noise {
            args.flags |= LINCOMB_NOISE;
            args.key = nz.key.into();
            args.offset = nz.offset;
        }
        if p.writes_y2 {
            if let Some(t) = y2 {
                args.flags |= LINCOMB_Y2;
                args.y2 = t;
            }
        }
        if p.reads_y {
            args.flags |= LINCOMB_READS_Y;
        }
        args
    }
}

/// `ito_fill_normal_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillNormalArgs {
    /// y (written).
    pub y: TensorArg,
    /// The noise key.
    pub key: NoiseKeyArg,
    /// Global index of element 0.
    pub offset: u64,
    /// Number of elements.
    pub len: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when it stored a value that is not finite.
    pub nonfinite: u64,
    /// μ.
    pub mean: f32,
    /// σ.
    pub std: f32,
}

/// `ito_reduce_args` (both reduce launches take the same block).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReduceArgs {
    /// x.
    pub x: TensorArg,
    /// y, or a null tensor.
    pub y: TensorArg,
    /// Elements per segment.
    pub segment_len: u64,
    /// Number of segments.
    pub segments: u64,
    /// Leaves (256 elements) per segment.
    pub leaves_per_segment: u64,
    /// 3 floats per leaf: written by the leaf launch, reused by the combine launch.
    pub leaf_stats: u64,
    /// 3 floats per leaf of scratch for the combine launch.
    pub scratch: u64,
    /// 3 floats per segment: (Σx², Σxy, max|x|).
    pub out: u64,
}

/// `ito_tree_term`: one normal stream of a `brownian_tree` combination.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeTermArg {
    /// Stream tag.
    pub stream: u32,
    /// Step word (the tree node id).
    pub step: u32,
    /// Weight.
    pub coef: f32,
}

/// `ito_brownian_tree_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrownianTreeArgs {
    /// y (written).
    pub y: TensorArg,
    /// The seed.
    pub seed: u64,
    /// Global index of element 0.
    pub offset: u64,
    /// Number of elements.
    pub len: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when it stored a value that is not finite.
    pub nonfinite: u64,
    /// Number of terms (non-zero coefficients only).
    pub n_terms: u32,
    /// Zero.
    pub reserved: u32,
    /// The terms.
    pub terms: [TreeTermArg; MAX_TERMS],
}

/// `ito_milstein_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MilsteinArgs {
    /// x (read and written).
    pub x: TensorArg,
    /// Drift f.
    pub f: TensorArg,
    /// Diffusion g.
    pub g: TensorArg,
    /// g·∂g/∂x.
    pub h: TensorArg,
    /// The noise key.
    pub key: NoiseKeyArg,
    /// Global index of element 0.
    pub offset: u64,
    /// Number of elements.
    pub len: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when it stored a value that is not finite.
    pub nonfinite: u64,
    /// Δt.
    pub dt: f32,
    /// √Δt.
    pub sqrt_dt: f32,
    /// Δt/2.
    pub half_dt: f32,
    /// Zero.
    pub reserved: u32,
}

/// `ito_ou_bank_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OuBankArgs {
    /// The K state planes, one after another.
    pub state: TensorArg,
    /// Σ ω_k·ΔY_k, or a null tensor.
    pub out: TensorArg,
    /// The key of z₁ (z₂ uses stream + 1).
    pub key: NoiseKeyArg,
    /// Global index of element 0.
    pub offset: u64,
    /// Elements per plane.
    pub len: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when it stored a value that is not finite.
    pub nonfinite: u64,
    /// K.
    pub k: u32,
    /// √h.
    pub sqrt_h: f32,
    /// d_k.
    pub decay: [f32; ito_kernels::ou_bank::MAX_K],
    /// a_k.
    pub a: [f32; ito_kernels::ou_bank::MAX_K],
    /// b_k.
    pub b: [f32; ito_kernels::ou_bank::MAX_K],
    /// ω_k.
    pub omega: [f32; ito_kernels::ou_bank::MAX_K],
}

impl BrownianTreeArgs {
    /// The block for a validated call (`check_brownian_tree`): the present terms only.
    pub fn new(y: TensorArg, len: usize, seed: u64, terms: &[Term], offset: u64) -> Self {
        let mut args = BrownianTreeArgs {
            y,
            seed,
            offset,
            len: len as u64,
            nonfinite: 0,
            n_terms: 0,
            reserved: 0,
            terms: [TreeTermArg::default(); MAX_TERMS],
        };
        for (slot, t) in args.terms.iter_mut().zip(present_terms(terms)) {
            *slot = TreeTermArg {
                stream: t.stream,
                step: t.step,
                coef: t.coef,
            };
            args.n_terms += 1;
        }
        args
    }
}

impl MilsteinArgs {
    /// The block for a validated call; `constants` = (Δt, √Δt, Δt/2) from `check_milstein`.
    pub fn new(
        tensors: [TensorArg; 4],
        len: usize,
        constants: (f32, f32, f32),
        noise: Noise,
    ) -> Self {
        let [x, f, g, h] = tensors;
        let (dt, sqrt_dt, half_dt) = constants;
        MilsteinArgs {
            x,
            f,
            g,
            h,
            key: noise.key.into(),
            offset: noise.offset,
            len: len as u64,
            nonfinite: 0,
            dt,
            sqrt_dt,
            half_dt,
            reserved: 0,
        }
    }
}

impl OuBankArgs {
    /// The block for a validated call (`check_ou_bank`) over planes of `len` elements.
    pub fn new(
        state: TensorArg,
        out: Option<TensorArg>,
        len: usize,
        k: usize,
        c: &OuBankCoefs,
        key: NoiseKey,
        offset: u64,
    ) -> Self {
        OuBankArgs {
            state,
            out: out.unwrap_or_default(),
            key: key.into(),
            offset,
            len: len as u64,
            nonfinite: 0,
            k: k as u32,
            sqrt_h: c.sqrt_h,
            decay: c.decay,
            a: c.a,
            b: c.b,
            omega: c.omega,
        }
    }
}

/// `ito_threshold_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThresholdArgs {
    /// x (read and written in place).
    pub x: TensorArg,
    /// Elements per sample (< 2³²).
    pub sample_len: u64,
    /// Number of samples.
    pub samples: u64,
    /// The lower order statistic of the quantile.
    pub lo: u64,
    /// The upper one (lo or lo + 1).
    pub hi: u64,
    /// The interpolation weight rank − lo.
    pub w: f64,
    /// The largest threshold.
    pub max_value: f64,
}

impl ThresholdArgs {
    /// The block for a validated call (`check_threshold`).
    pub fn new(
        x: TensorArg,
        sample_len: usize,
        samples: usize,
        ratio: f64,
        max_value: f64,
    ) -> Self {
        let (lo, hi, w) = crate::runtime::threshold::ranks(sample_len, ratio);
        ThresholdArgs {
            x,
            sample_len: sample_len as u64,
            samples: samples as u64,
            lo: lo as u64,
            hi: hi as u64,
            w,
            max_value,
        }
    }
}

/// `ito_langevin_args` (all four Langevin launches take the same block).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LangevinArgs {
    /// x (pass 2 updates it).
    pub x: TensorArg,
    /// The score.
    pub score: TensorArg,
    /// The noise key.
    pub key: NoiseKeyArg,
    /// Global index of element 0.
    pub offset: u64,
    /// Elements per sample.
    pub sample_len: u64,
    /// Number of samples.
    pub samples: u64,
    /// Leaves (256 elements) per sample.
    pub leaves_per_sample: u64,
    /// Device address of the non-finite report word (0: no report): the kernel ORs 1 into it
    /// when `ito_langevin_update` stored a value that is not finite.
    pub nonfinite: u64,
    /// 3 f32 per leaf.
    pub leaf_stats: u64,
    /// 3 f32 per sample: (Σscore², Σz², 0).
    pub norms: u64,
    /// 1 f64 per sample: ε.
    pub eps: u64,
    /// 2 f32 per sample: ε and √(2ε) rounded to f32.
    pub coefs: u64,
    /// Target signal-to-noise ratio r.
    pub snr: f64,
    /// α.
    pub alpha: f64,
    /// 1: ε from the batch means of the norms.
    pub batch_mean: u32,
    /// Zero.
    pub reserved: u32,
}

// SAFETY: plain #[repr(C)] data (integers and floats, no references or padding-sensitive
// invariants): the kernels read them as the structs of cuda/kernel_args.cuh.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for LincombArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for FillNormalArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for ReduceArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for BrownianTreeArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for MilsteinArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for OuBankArgs {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for LangevinArgs {}
// SAFETY: as above: #[repr(C)], plain integers, floats and one address.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for ThresholdArgs {}
