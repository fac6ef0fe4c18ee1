//! Solver plans, robust and differential: arbitrary schedules, grids (raw nodes included),
//! solvers, parameterisations, options, means and model outputs either run or return a
//! typed error — never a panic — and every SIMD backend gives the scalar backend's bits.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod buffers;
#[path = "common.rs"]
mod common;

use buffers::same_bits;
use common::{simd_backends, Bytes};
use ito::diffusion::solver::SOLVER_NAMES;
use ito::{Backend, Grid, Node, Param, Plan, PlanOptions, Sampler, Schedule, Solver, Thresholding};
use libfuzzer_sys::fuzz_target;

fn grid(b: &mut Bytes) -> Result<Grid, ito::Error> {
    let steps = (b.u8() % 24) as usize;
    match b.u8() % 5 {
        0 => {
            let s = Schedule::vp_linear(b.f64(), b.f64())?;
            Grid::uniform_lambda(&s, b.f64(), b.f64(), steps)
        }
        1 => {
            let s = Schedule::edm(b.f64(), b.f64())?;
            Grid::karras(&s, b.f64(), b.f64(), b.f64(), steps)
        }
        2 => {
            let s = Schedule::mean_reverting(b.f64(), b.f64(), b.f64())?;
            Grid::uniform_t(&s, b.f64(), b.f64(), steps)
        }
        3 => Grid::quadratic(&Schedule::Flow, b.f64(), b.f64(), steps),
        _ => {
            let nodes = (0..=steps)
                .map(|_| Node::new(b.f64(), b.f64(), b.f64()))
                .collect();
            Grid::from_nodes(nodes)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let name = SOLVER_NAMES[b.u8() as usize % SOLVER_NAMES.len()];
    // Every listed name parses; a failure here is a bug, not bad input.
    let solver: Solver = name.parse().unwrap();
    let Ok(grid) = grid(&mut b) else { return };
    let param = [Param::Eps, Param::Data, Param::V, Param::Velocity][(b.u8() % 4) as usize];
    let n = (b.u8() % 48) as usize;
    let opts = PlanOptions {
        lower_order_final: b.u8() & 1 == 1,
        euler_at_final: b.u8() & 1 == 1,
        thresholding: (b.u8() % 4 == 0).then(|| Thresholding {
            ratio: b.f64(),
            max_value: b.f64(),
            sample_len: (b.u8() % 9) as usize,
        }),
        has_mean: b.u8() % 4 == 0,
    };
    let has_mean = opts.has_mean;
    let Ok(plan) = Plan::new(solver, grid, param, opts) else {
        return;
    };
    let seed = b.u64();
    let mean: Vec<f32> = (0..n).map(|_| b.value()).collect();
    let outputs: Vec<Vec<f32>> = (0..8)
        .map(|_| (0..n).map(|_| b.value()).collect())
        .collect();
    let run = |backend: Backend| -> Result<Vec<f32>, ito::Error> {
        let mut s = Sampler::<f32>::new(plan.clone(), n, ito::NoiseSource::new(seed))?
            .with_backend(backend)?;
        if has_mean {
            s = s.with_mean(mean.clone())?;
        }
        s.init_noise()?;
        let mut k = 0;
        while s.next_eval()?.is_some() {
            s.advance(outputs[k % outputs.len()].as_slice().into())?;
            k += 1;
        }
        Ok(s.state().to_vec())
    };
    let reference = run(Backend::Scalar);
    for backend in simd_backends() {
        match (&reference, run(backend)) {
            (Ok(a), Ok(x)) => {
                for (i, (p, q)) in a.iter().zip(&x).enumerate() {
                    assert!(
                        same_bits(*p, *q),
                        "{name} on {backend}: element {i}: {p} vs {q}"
                    );
                }
            }
            (Err(e), Err(f)) => assert_eq!(e, &f, "{name}: different errors"),
            (r, x) => panic!("{name}: scalar gave {r:?}, {backend} gave {x:?}"),
        }
    }
});
