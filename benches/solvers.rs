//! Solver plans end to end: one sampler step (the plan's coefficients plus its one fused
//! kernel pass) at N = 2^20 and 2^24 f32 elements on the best backend, reported in bytes/s
//! of the pass's own traffic beside the bandwidth ceiling; and the planning cost alone (the
//! host-side f64 coefficients of one step) of every solver, which must stay under a
//! microsecond.
//!
//! The per-step overhead of the sampler on memory the caller owns: a `PlanRunner` step on
//! borrowed slices at N = 2^16 (in cache, where overhead shows most) beside the bare fused
//! `lincomb` call that step makes (same coefficients, same buffers).
//!
//! `cargo bench --bench solvers` (ids `solver_step/NAME/N`, `planning/NAME`,
//! `runner_overhead/NAME/{runner,bare}/N`)
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{ceiling, configure};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ito::diffusion::solver::{Slot, SOLVER_NAMES};
use ito::runtime::memory::Host;
use ito::{
    backend, Grid, NoiseSource, Param, Plan, PlanOptions, PlanRunner, Sampler, Schedule, Solver,
};

/// The solvers measured: diffusers' most used, and one of each family.
const SOLVERS: [&str; 9] = [
    "dpmpp-2m",
    "unipc-2",
    "sde-dpmpp-2m",
    "dpmpp-3m",
    "deis-3",
    "dpmpp-2s",
    "ddim",
    "euler-a",
    "heun",
];

fn plan(name: &str, steps: usize) -> Plan {
    let schedule = Schedule::vp_linear(0.1, 20.0).unwrap();
    let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, steps).unwrap();
    let solver: Solver = name.parse().unwrap();
    Plan::new(solver, grid, Param::Eps, PlanOptions::default()).unwrap()
}

/// Bytes one steady-state call moves: every tensor read once, every output written once.
fn traffic(name: &str, n: usize) -> u64 {
    let mut p = plan(name, 1000);
    // Past the warm-up: step 10's calls are representative.
    while p.step() < 10 {
        p.advance().unwrap();
    }
    let call = p.advance().unwrap().call;
    let mut slots: Vec<Slot> = call.value.terms().map(|(s, _)| s).collect();
    if let Some((_, e)) = &call.store {
        slots.extend(e.terms().map(|(s, _)| s));
    }
    slots.sort_by_key(|s| format!("{s:?}"));
    slots.dedup();
    let writes = 1 + call.store.is_some() as usize;
    (4 * n * (slots.len() + writes)) as u64
}

fn bench(c: &mut Criterion) {
    configure(c);
    ceiling(c);
    let mut g = c.benchmark_group("solver_step");
    for n in [1usize << 20, 1 << 24] {
        for name in SOLVERS {
            g.throughput(Throughput::Bytes(traffic(name, n)));
            let model_out = vec![0.1f32; n];
            let fresh = || {
                let mut s =
                    Sampler::<f32>::new(plan(name, 100_000), n, ito::NoiseSource::new(1)).unwrap();
                s.init_noise().unwrap();
                s
            };
            let mut s = fresh();
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        if s.next_eval().unwrap().is_none() {
                            s = fresh();
                            s.next_eval().unwrap();
                        }
                        let start = Instant::now();
                        s.advance(model_out.as_slice().into()).unwrap();
                        t += start.elapsed();
                    }
                    t
                })
            });
        }
    }
    g.finish();

    let n = 1usize << 16;
    let mut g = c.benchmark_group("runner_overhead");
    for name in ["dpmpp-2m", "sde-dpmpp-2m", "unipc-2"] {
        let model_out = vec![0.1f32; n];
        let fresh = |x: &mut Vec<f32>| {
            let mem = Host::<f32>::new();
            let mut r = PlanRunner::new(plan(name, 100_000), n, NoiseSource::new(1), mem).unwrap();
            r.reserve(x.as_slice().into()).unwrap();
            r.init_noise(x.as_mut_slice().into()).unwrap();
            r
        };
        let mut x = vec![0.0f32; n];
        let mut r = fresh(&mut x);
        g.bench_function(BenchmarkId::new(format!("{name}/runner"), n), |b| {
            b.iter(|| {
                if r.next_eval(x.as_mut_slice().into()).unwrap().is_none() {
                    r = fresh(&mut x);
                }
                r.advance(x.as_mut_slice().into(), model_out.as_slice().into())
                    .unwrap();
            })
        });
        // The bare call of a steady-state step: its lowered coefficients on buffers of n.
        let mut p = plan(name, 1000);
        while p.step() < 10 {
            p.advance().unwrap();
        }
        let call = p.advance().unwrap().call;
        let lowered = call.lower().unwrap();
        let inputs: Vec<Vec<f32>> = lowered.inputs().iter().map(|_| vec![0.1f32; n]).collect();
        let mut y = vec![0.0f32; n];
        let mut y2 = call.store.map(|_| vec![0.0f32; n]);
        let noise = lowered.noise(&NoiseSource::new(1), n).unwrap();
        let be = backend().unwrap();
        let views: Vec<ito::TensorRef<'_>> = inputs.iter().map(|v| v.as_slice().into()).collect();
        g.bench_function(BenchmarkId::new(format!("{name}/bare"), n), |b| {
            b.iter(|| {
                be.lincomb(
                    y.as_mut_slice().into(),
                    y2.as_mut().map(|v| v.as_mut_slice().into()),
                    &views,
                    &lowered.coefs,
                    noise,
                )
                .unwrap();
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("planning");
    for &name in SOLVER_NAMES {
        let fresh = plan(name, 100_000);
        let mut p = fresh.clone();
        g.bench_function(name, |b| {
            b.iter(|| {
                if p.is_done() {
                    p = fresh.clone();
                }
                black_box(p.advance().unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
