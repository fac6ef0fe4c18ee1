//! [`ito_sampler_config`]: a solver plan described in C (solver name, prediction type,
//! schedule, grid, options, noise identity), and its translation into an [`ito::Plan`].

use std::ffi::{c_char, c_int};

use ito::{
    DiscreteVp, FinalNode, Grid, NoiseSource, Param, Plan, PlanOptions, Schedule, Solver, Spacing,
    Thresholding,
};

use crate::memory::dtype_of;
use crate::{c_str, entry, read_config, Failure, ITO_DTYPE_F32};

/// Model output: the noise ε (diffusers' "epsilon").
pub const ITO_PREDICTION_EPS: u32 = 0;
/// Model output: the data x₀ (diffusers' "sample"; a k-diffusion denoiser's output).
pub const ITO_PREDICTION_DATA: u32 = 1;
/// Model output: v = α·ε − σ·x₀.
pub const ITO_PREDICTION_V: u32 = 2;
/// Model output: the interpolant's velocity u = α̇·x₀ + σ̇·ε (flow matching).
pub const ITO_PREDICTION_VELOCITY: u32 = 3;

/// Schedule: VP, β linear in t ∈ (0, 1]; params: β_min, β_max.
pub const ITO_SCHEDULE_VP_LINEAR: u32 = 0;
/// Schedule: VP cosine; params: s.
pub const ITO_SCHEDULE_VP_COSINE: u32 = 1;
/// Schedule: score-SDE's VE, σ = σ_min·(σ_max/σ_min)^t for t in (0, 1]; params: σ_min, σ_max.
/// (For k-diffusion's σ-parameterised form, where t = σ, use `ITO_SCHEDULE_EDM`.)
pub const ITO_SCHEDULE_VE: u32 = 2;
/// Schedule: EDM (α = 1, σ = t, k-diffusion's form); params: σ_min, σ_max.
pub const ITO_SCHEDULE_EDM: u32 = 3;
/// Schedule: flow (α = 1 − t, σ = t); no params.
pub const ITO_SCHEDULE_FLOW: u32 = 4;
/// Schedule: a discrete DDPM schedule, β linear; params: β_start, β_end, training steps.
/// Grids on it are the `ITO_GRID_DISCRETE_*` ones.
pub const ITO_SCHEDULE_DISCRETE_LINEAR: u32 = 5;
/// Schedule: a discrete DDPM schedule, √β linear (Stable Diffusion's "scaled_linear");
/// params as `ITO_SCHEDULE_DISCRETE_LINEAR`.
pub const ITO_SCHEDULE_DISCRETE_SCALED_LINEAR: u32 = 6;

/// Grid: `steps` equal steps in t from `t_start` to `t_end`.
pub const ITO_GRID_UNIFORM_T: u32 = 0;
/// Grid: `steps` equal steps in λ = ln(α/σ) from `t_start` to `t_end`.
pub const ITO_GRID_UNIFORM_LAMBDA: u32 = 1;
/// Grid: uniform in √t from `t_start` to `t_end` (DPM-Solver's "time_quadratic").
pub const ITO_GRID_QUADRATIC: u32 = 2;
/// Grid: Karras et al.'s σ/α spacing from `sigma_max` to `sigma_min` with `rho`.
pub const ITO_GRID_KARRAS: u32 = 3;
/// Grid: the caller's times `times[0 .. n_times]`, noisiest first (for EDM, the sigmas).
pub const ITO_GRID_TIMES: u32 = 4;
/// Grid: the caller's nodes: `times[i]`, `alphas[i]`, `sigmas[i]` for i < `n_times`, noisiest
/// first (σ/α strictly decreasing; only the last may have σ = 0): any schedule's exact
/// coefficients, e.g. a diffusers scheduler's own after its `set_timesteps`. The schedule
/// fields are not used; neither is `clean_end` (the nodes say where the grid ends).
pub const ITO_GRID_NODES: u32 = 8;
/// Grid: diffusers' "linspace" timesteps on a discrete schedule.
pub const ITO_GRID_DISCRETE_LINSPACE: u32 = 5;
/// Grid: diffusers' "leading" timesteps (plus `steps_offset`) on a discrete schedule.
pub const ITO_GRID_DISCRETE_LEADING: u32 = 6;
/// Grid: diffusers' "trailing" timesteps on a discrete schedule.
pub const ITO_GRID_DISCRETE_TRAILING: u32 = 7;

/// A sampler's settings. Fill it with `ito_sampler_config_init` (which sets `struct_size`
/// and the defaults), then change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ito_sampler_config {
    /// `sizeof(ito_sampler_config)`, set by `ito_sampler_config_init`.
    pub struct_size: usize,
    /// The solver's name, e.g. "dpmpp-2m", "sde-dpmpp-2m", "euler-a", "unipc-3"
    /// (`cargo run --example quickstart -- list` lists them all). Default "dpmpp-2m".
    pub solver: *const c_char,
    /// `ITO_PREDICTION_*`: what the model returns. Default ε.
    pub prediction: u32,
    /// `ITO_DTYPE_*`: the storage type of the state and the model output. Default f32.
    pub dtype: u32,
    /// Elements in the state (the whole batch). Default 0: must be set.
    pub len: usize,
    /// `ITO_SCHEDULE_*`. Default VP linear (0.1, 20).
    pub schedule: u32,
    /// The schedule's parameters (see each `ITO_SCHEDULE_*`).
    pub schedule_params: [f64; 3],
    /// `ITO_GRID_*`. Default uniform in λ.
    pub grid: u32,
    /// Grid steps (not used by `ITO_GRID_TIMES`). Default 20.
    pub steps: usize,
    /// First (noisiest) time, for the uniform and quadratic grids. Default 1.
    pub t_start: f64,
    /// Last time, for the uniform and quadratic grids. Default 1e-3.
    pub t_end: f64,
    /// Karras grid: the smallest σ/α. Default 0.002.
    pub sigma_min: f64,
    /// Karras grid: the largest σ/α. Default 80.
    pub sigma_max: f64,
    /// Karras grid: ρ. Default 7.
    pub rho: f64,
    /// `ITO_GRID_TIMES`: the times, noisiest first (NULL otherwise). A final 0 (a
    /// k-diffusion or stable-diffusion.cpp sigma array) means a noise-free end, as `clean_end`.
    pub times: *const f64,
    /// `ITO_GRID_TIMES` and `ITO_GRID_NODES`: how many.
    pub n_times: usize,
    /// `ITO_GRID_NODES`: α at each node (NULL otherwise).
    pub alphas: *const f64,
    /// `ITO_GRID_NODES`: σ at each node (NULL otherwise).
    pub sigmas: *const f64,
    /// Discrete grids: diffusers' `steps_offset`. Default 0.
    pub steps_offset: usize,
    /// Non-zero: end at a noise-free node (α = 1, σ = 0), as k-diffusion's samplers and
    /// diffusers' `final_sigmas_type = "zero"` do. Default 1.
    pub clean_end: u32,
    /// Non-zero: lower the order over the last steps of short grids, as diffusers does by
    /// default. Default 1.
    pub lower_order_final: u32,
    /// Non-zero: always take a first-order last step. Default 0.
    pub euler_at_final: u32,
    /// Dynamic thresholding's quantile in (0, 1]; 0 turns thresholding off (the default).
    pub threshold_ratio: f64,
    /// Dynamic thresholding's largest threshold (diffusers' `sample_max_value`). Default 1.
    pub threshold_max: f64,
    /// Dynamic thresholding: elements per sample (the quantile is per sample).
    pub threshold_sample_len: usize,
    /// The noise identity: seed.
    pub seed: u64,
    /// The noise identity: the caller's stream (batch index, rank, …).
    pub stream: u32,
    /// The noise identity: global index of element 0 (a shard of a batch passes its own).
    pub offset: u64,
    /// Step noise from a Brownian tree over the grid's time axis instead of the per-step
    /// counter (`depth` 0, the default: no tree). Step k then adds the standard normal
    /// W(t_{k+1}, t_k)/√(t_k − t_{k+1}) of this tree (k-diffusion's Brownian-tree noise
    /// sampler; `ito_brownian_increment` with that scale gives the same bits), so grids that
    /// refine one another follow one path. Its span must cover every noisy node (a clean end
    /// at t = 0 may lie outside); its `offset` is replaced by the sampler's own.
    pub noise_tree: crate::ito_brownian_tree,
}

/// Fills `*config` with the defaults and `struct_size`. Returns `ITO_ERR_NULL` for NULL.
/// Thread-safe.
///
/// # Safety
/// `config` is NULL or valid for a write of an `ito_sampler_config`.
#[no_mangle]
pub unsafe extern "C" fn ito_sampler_config_init(config: *mut ito_sampler_config) -> c_int {
    entry(|| {
        let d = ito_sampler_config {
            struct_size: std::mem::size_of::<ito_sampler_config>(),
            solver: c"dpmpp-2m".as_ptr(),
            prediction: ITO_PREDICTION_EPS,
            dtype: ITO_DTYPE_F32,
            len: 0,
            schedule: ITO_SCHEDULE_VP_LINEAR,
            schedule_params: [0.1, 20.0, 0.0],
            grid: ITO_GRID_UNIFORM_LAMBDA,
            steps: 20,
            t_start: 1.0,
            t_end: 1e-3,
            sigma_min: 0.002,
            sigma_max: 80.0,
            rho: 7.0,
            times: std::ptr::null(),
            n_times: 0,
            alphas: std::ptr::null(),
            sigmas: std::ptr::null(),
            steps_offset: 0,
            clean_end: 1,
            lower_order_final: 1,
            euler_at_final: 0,
            threshold_ratio: 0.0,
            threshold_max: 1.0,
            threshold_sample_len: 0,
            seed: 0,
            stream: 0,
            offset: 0,
            noise_tree: crate::ito_brownian_tree::default(),
        };
        // SAFETY: the caller's contract.
        unsafe { crate::write_out("config", config, d) }
    })
}

/// What a configuration builds: the plan, and what the sampler needs beside it.
pub struct Built {
    /// The plan.
    pub plan: Plan,
    /// The storage type.
    pub dtype: ito::Dtype,
    /// Elements.
    pub len: usize,
    /// The noise identity.
    pub noise: NoiseSource,
    /// The Brownian tree of the step noise, if any.
    pub tree: Option<ito::BrownianTree>,
    /// The training timestep of each grid node on a discrete grid (what diffusers passes to
    /// the model), else empty.
    pub timesteps: Vec<usize>,
}

/// An error from ito about a configuration field, with the C field's name in front (ito
/// names its own argument, e.g. `t`).
pub(crate) fn prefix(field: &str, f: Failure) -> Failure {
    Failure::new(f.code, format!("{field}: {}", f.message))
}

fn param(code: u32) -> Result<Param, Failure> {
    Ok(match code {
        ITO_PREDICTION_EPS => Param::Eps,
        ITO_PREDICTION_DATA => Param::Data,
        ITO_PREDICTION_V => Param::V,
        ITO_PREDICTION_VELOCITY => Param::Velocity,
        _ => {
            return Err(Failure::config(
                "config->prediction",
                "one of ITO_PREDICTION_EPS/DATA/V/VELOCITY (0…3)",
                code,
            ))
        }
    })
}

/// The continuous schedule of a code, or the discrete one.
enum AnySchedule {
    Continuous(Schedule),
    Discrete(DiscreteVp),
}

fn schedule(code: u32, p: [f64; 3]) -> Result<AnySchedule, Failure> {
    let train_steps = || -> Result<usize, Failure> {
        let n = p[2];
        if n.fract() == 0.0 && (2.0..=1e7).contains(&n) {
            Ok(n as usize)
        } else {
            Err(Failure::config(
                "config->schedule_params[2]",
                "a whole number of training steps in 2 … 10^7",
                n,
            ))
        }
    };
    Ok(match code {
        ITO_SCHEDULE_VP_LINEAR => AnySchedule::Continuous(Schedule::vp_linear(p[0], p[1])?),
        ITO_SCHEDULE_VP_COSINE => AnySchedule::Continuous(Schedule::vp_cosine(p[0])?),
        ITO_SCHEDULE_VE => AnySchedule::Continuous(Schedule::ve(p[0], p[1])?),
        ITO_SCHEDULE_EDM => AnySchedule::Continuous(Schedule::edm(p[0], p[1])?),
        ITO_SCHEDULE_FLOW => AnySchedule::Continuous(Schedule::Flow),
        ITO_SCHEDULE_DISCRETE_LINEAR => {
            AnySchedule::Discrete(DiscreteVp::linear(p[0], p[1], train_steps()?)?)
        }
        ITO_SCHEDULE_DISCRETE_SCALED_LINEAR => {
            AnySchedule::Discrete(DiscreteVp::scaled_linear(p[0], p[1], train_steps()?)?)
        }
        _ => {
            return Err(Failure::config(
                "config->schedule",
                "one of the ITO_SCHEDULE_* codes (0…6)",
                code,
            ))
        }
    })
}

impl ito_sampler_config {
    /// Reads and checks a configuration.
    ///
    /// # Safety
    /// `config` is NULL or points to a readable `ito_sampler_config` whose `solver` is NULL
    /// or a NUL-terminated string, and whose `times` (for `ITO_GRID_TIMES`) holds `n_times`
    /// doubles.
    pub unsafe fn build(config: *const ito_sampler_config) -> Result<Built, Failure> {
        // SAFETY: the caller's contract.
        let c = unsafe { read_config("config", config) }?;
        // SAFETY: the caller's contract.
        let name = unsafe { c_str("config->solver", c.solver) }?;
        let solver: Solver = name.parse().map_err(|_| {
            Failure::config(
                "config->solver",
                "a solver name such as \"dpmpp-2m\" (quickstart -- list)",
                format!("\"{name}\""),
            )
        })?;
        let dtype = dtype_of("config->dtype", c.dtype)
            .map_err(|f| Failure::new(crate::ITO_ERR_CONFIG, f.message))?;
        if c.len == 0 {
            return Err(Failure::config("config->len", "at least one element", 0));
        }
        let steps = c.steps;
        if c.grid == ITO_GRID_NODES {
            // SAFETY: the caller's contract (three arrays of n_times doubles).
            let grid = unsafe { nodes_grid(&c) }?;
            return finish(&c, solver, dtype, grid, Vec::new());
        }
        let sched = schedule(c.schedule, c.schedule_params)
            .map_err(|f| prefix("config->schedule_params", f))?;
        let (grid, timesteps) = match (sched, c.grid) {
            (
                AnySchedule::Discrete(s),
                g @ ITO_GRID_DISCRETE_LINSPACE..=ITO_GRID_DISCRETE_TRAILING,
            ) => {
                let spacing = match g {
                    ITO_GRID_DISCRETE_LINSPACE => Spacing::Linspace,
                    ITO_GRID_DISCRETE_LEADING => Spacing::Leading,
                    _ => Spacing::Trailing,
                };
                let last = match c.clean_end {
                    0 => FinalNode::SigmaMin,
                    _ => FinalNode::Zero,
                };
                Grid::discrete(&s, spacing, steps, c.steps_offset, last)
                    .map_err(|e| prefix("config->grid", e.into()))?
            }
            (AnySchedule::Discrete(_), g) => {
                return Err(Failure::config(
                    "config->grid",
                    "an ITO_GRID_DISCRETE_* grid on a discrete schedule",
                    g,
                ))
            }
            (AnySchedule::Continuous(s), g) => {
                let mut clean_end = c.clean_end != 0;
                let grid = match g {
                    ITO_GRID_UNIFORM_T => Grid::uniform_t(&s, c.t_start, c.t_end, steps)
                        .map_err(|e| prefix("config->grid", e.into()))?,
                    ITO_GRID_UNIFORM_LAMBDA => {
                        Grid::uniform_lambda(&s, c.t_start, c.t_end, steps)
                        .map_err(|e| prefix("config->grid", e.into()))?
                    }
                    ITO_GRID_QUADRATIC => Grid::quadratic(&s, c.t_start, c.t_end, steps)
                        .map_err(|e| prefix("config->grid", e.into()))?,
                    ITO_GRID_KARRAS => Grid::karras(&s, c.sigma_min, c.sigma_max, c.rho, steps)
                        .map_err(|e| prefix("config->grid", e.into()))?,
                    ITO_GRID_TIMES => {
                        if c.times.is_null() {
                            return Err(Failure::null("config->times"));
                        }
                        if c.n_times < 2 || c.n_times > (1 << 24) {
                            return Err(Failure::config(
                                "config->n_times",
                                "2 … 2^24 times",
                                c.n_times,
                            ));
                        }
                        // SAFETY: non-NULL (checked); n_times doubles (the caller's contract).
                        let mut ts = unsafe { std::slice::from_raw_parts(c.times, c.n_times) };
                        if let [rest @ .., last] = ts {
                            if *last == 0.0 && rest.len() >= 2 {
                                ts = rest;
                                clean_end = true;
                            }
                        }
                        Grid::from_times(&s, ts).map_err(|e| prefix("config->times", e.into()))?
                    }
                    _ => {
                        return Err(Failure::config(
                            "config->grid",
                            "ITO_GRID_UNIFORM_T/UNIFORM_LAMBDA/QUADRATIC/KARRAS/TIMES on a continuous schedule",
                            g,
                        ))
                    }
                };
                let grid = match clean_end {
                    false => grid,
                    true => grid.with_clean_end()?,
                };
                (grid, Vec::new())
            }
        };
        finish(&c, solver, dtype, grid, timesteps)
    }
}

/// `ITO_GRID_NODES`: the caller's nodes.
///
/// # Safety
/// `times`, `alphas` and `sigmas` are NULL or hold `n_times` doubles.
unsafe fn nodes_grid(c: &ito_sampler_config) -> Result<Grid, Failure> {
    for (arg, p) in [
        ("config->times", c.times),
        ("config->alphas", c.alphas),
        ("config->sigmas", c.sigmas),
    ] {
        if p.is_null() {
            return Err(Failure::null(arg));
        }
    }
    if c.n_times < 2 || c.n_times > (1 << 24) {
        return Err(Failure::config(
            "config->n_times",
            "2 … 2^24 nodes",
            c.n_times,
        ));
    }
    // SAFETY: non-NULL (checked), n_times doubles each (the caller's contract).
    let (t, a, s) = unsafe {
        (
            std::slice::from_raw_parts(c.times, c.n_times),
            std::slice::from_raw_parts(c.alphas, c.n_times),
            std::slice::from_raw_parts(c.sigmas, c.n_times),
        )
    };
    let nodes = (0..c.n_times)
        .map(|i| ito::Node::new(t[i], a[i], s[i]))
        .collect();
    Grid::from_nodes(nodes).map_err(|e| prefix("config->sigmas", e.into()))
}

/// The options, the plan and the noise identity of a configuration whose grid is built.
fn finish(
    c: &ito_sampler_config,
    solver: Solver,
    dtype: ito::Dtype,
    grid: Grid,
    timesteps: Vec<usize>,
) -> Result<Built, Failure> {
    let thresholding = match c.threshold_ratio {
        0.0 => None,
        r if r > 0.0 && r <= 1.0 => Some(Thresholding {
            ratio: r,
            max_value: c.threshold_max,
            sample_len: c.threshold_sample_len,
        }),
        r => {
            return Err(Failure::config(
                "config->threshold_ratio",
                "0 (off) or a quantile in (0, 1]",
                r,
            ))
        }
    };
    let options = PlanOptions {
        lower_order_final: c.lower_order_final != 0,
        euler_at_final: c.euler_at_final != 0,
        thresholding,
        has_mean: false,
    };
    let plan = Plan::new(solver, grid, param(c.prediction)?, options)
        .map_err(|e| prefix("config", e.into()))?;
    let noise = NoiseSource {
        seed: c.seed,
        stream: c.stream,
        offset: c.offset,
    };
    noise.check(c.len)?;
    let tree = match c.noise_tree.depth {
        0 => None,
        _ => Some(c.noise_tree.tree("config->noise_tree")?),
    };
    Ok(Built {
        plan,
        dtype,
        len: c.len,
        noise,
        tree,
        timesteps,
    })
}
