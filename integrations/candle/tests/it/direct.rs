//! (c) The adapter's `dpmpp-2m` and `sde-dpmpp-2m` (and `unipc-2`, `ddpm`) give the bits of
//! ito's own `Sampler` run directly on the same grid, model and seed: the adapter adds no
//! arithmetic. The grid is built here from candle's DDIM defaults (Stable Diffusion's
//! schedule, leading spacing with offset 1, the last step to ᾱ₀, or to σ = 0).

use candle_core::Tensor;
use candle_transformers::models::stable_diffusion::ddim::DDIMSchedulerConfig;
use ito::{Grid, Node, NoiseSource, Param, Plan, PlanOptions, Sampler};
use ito_candle::{FinalStep, ItoSchedulerConfig};

use crate::common::*;

const STEPS: usize = 20;

/// The grid of candle's default DDIM config for 20 steps: timesteps 951, 901, …, 1, then
/// training step 0 (or a noise-free node).
fn grid(final_zero: bool) -> (Vec<usize>, Vec<Node>, Vec<f64>) {
    let abar = alphas_cumprod(0.00085, 0.012, true, 1000);
    let ts: Vec<usize> = (0..STEPS).rev().map(|s| s * 50 + 1).collect();
    let node = |k: usize| {
        Node::new(
            (k as f64 + 1.0) / 1000.0,
            abar[k].sqrt(),
            (1.0 - abar[k]).sqrt(),
        )
    };
    let mut nodes: Vec<Node> = ts.iter().map(|&k| node(k)).collect();
    nodes.push(if final_zero {
        Node::new(0.0, 1.0, 0.0)
    } else {
        node(0)
    });
    (ts, nodes, abar)
}

fn model_at(abar: &[f64], x: &Tensor, t: usize) -> Tensor {
    let a = abar[t];
    model(x, a.sqrt(), (1.0 - a).sqrt(), Pred::Eps)
}

/// Every state of ito's own sampler, started from `x_t`.
fn direct(solver: &str, final_zero: bool, seed: u64, x_t: &[f32]) -> Vec<Vec<f32>> {
    let (ts, nodes, abar) = grid(final_zero);
    let plan = Plan::new(
        solver.parse().unwrap(),
        Grid::from_nodes(nodes).unwrap(),
        Param::Eps,
        PlanOptions::default(),
    )
    .unwrap();
    let mut s = Sampler::<f32>::new(plan, x_t.len(), NoiseSource::new(seed)).unwrap();
    s.state_mut().copy_from_slice(x_t);
    let mut out = Vec::new();
    while let Some(ev) = s.next_eval().unwrap() {
        let x = tensor(s.eval_input().to_vec());
        let m = values(&model_at(&abar, &x, ts[ev.step]));
        s.advance(m.as_slice().into()).unwrap();
        out.push(s.state().to_vec());
    }
    out
}

fn adapter(solver: &str, final_zero: bool, seed: u64, x_t: &[f32]) -> Vec<Vec<f32>> {
    let (ts, _, abar) = grid(final_zero);
    let config = ItoSchedulerConfig::from_ddim(solver, &DDIMSchedulerConfig::default())
        .with_seed(seed)
        .with_final_step(if final_zero {
            FinalStep::Zero
        } else {
            FinalStep::Candle
        });
    let mut s = candle_transformers::models::stable_diffusion::schedulers::SchedulerConfig::build(
        &config, STEPS,
    )
    .unwrap();
    assert_eq!(s.timesteps(), ts.as_slice());
    run(s.as_mut(), &tensor(x_t.to_vec()), |x, t| {
        model_at(&abar, x, t)
    })
    .unwrap()
    .iter()
    .map(values)
    .collect()
}

fn bits(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
    v.iter()
        .map(|s| s.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn adapter_equals_ito_sampler_bit_for_bit() {
    let x_t = normals(21, N);
    for solver in ["dpmpp-2m", "sde-dpmpp-2m", "unipc-2", "ddpm", "ddim"] {
        for final_zero in [false, true] {
            for seed in [0, 42] {
                let a = adapter(solver, final_zero, seed, &x_t);
                let d = direct(solver, final_zero, seed, &x_t);
                assert_eq!(a.len(), STEPS);
                assert_eq!(
                    bits(&a),
                    bits(&d),
                    "{solver} zero end {final_zero} seed {seed}"
                );
            }
        }
    }
}

/// The seed reaches the noise: two seeds give different stochastic runs, one seed the same
/// bits twice (candle's own CPU RNG cannot be seeded).
#[test]
fn stochastic_runs_depend_on_the_seed_only() {
    let x_t = normals(22, N);
    for solver in ["sde-dpmpp-2m", "ddpm"] {
        let a = adapter(solver, false, 1, &x_t);
        assert_eq!(bits(&a), bits(&adapter(solver, false, 1, &x_t)));
        assert_ne!(bits(&a), bits(&adapter(solver, false, 2, &x_t)));
    }
    let ode = adapter("dpmpp-2m", false, 1, &x_t);
    assert_eq!(bits(&ode), bits(&adapter("dpmpp-2m", false, 2, &x_t)));
}
