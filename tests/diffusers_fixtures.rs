//! Agreement with diffusers: the trajectories in `tests/data/diffusers/` were written by
//! `scripts/make_fixtures.py` (diffusers 0.42.1 and torch in float64, an analytic Gaussian
//! model, ito's own noise for the stochastic samplers). ito's plans, run in f64, must follow
//! every step to 1e-6 relative, and the f32 kernels to float32 rounding; ito's discrete
//! grids must reproduce diffusers' timesteps and sigmas.

use std::collections::HashMap;
use std::path::Path;

use ito::diffusion::problems::Gaussian;
use ito::diffusion::schedule::lambda_of;
use ito::{
    DiscreteVp, FinalNode, Grid, Node, NoiseSource, Param, Plan, PlanOptions, ReferenceSampler,
    Sampler, Solver, SolverType, Spacing, Thresholding, UniPcVariant,
};

/// One fixture file: records by name, per-call records by (name, call).
struct Fixture {
    name: String,
    records: HashMap<String, Vec<String>>,
    calls: HashMap<(String, usize), Vec<f64>>,
    n_calls: usize,
}

impl Fixture {
    fn load(path: &Path) -> Fixture {
        let text = std::fs::read_to_string(path).unwrap();
        let mut records = HashMap::new();
        let mut calls = HashMap::new();
        let mut n_calls = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut it = line.split_whitespace();
            let key = it.next().unwrap().to_string();
            let rest: Vec<String> = it.map(String::from).collect();
            if matches!(
                key.as_str(),
                "model_alpha" | "model_sigma" | "model_out" | "noise" | "x"
            ) {
                let c: usize = rest[0].parse().unwrap();
                n_calls = n_calls.max(c + 1);
                let v = rest[1..].iter().map(|s| s.parse().unwrap()).collect();
                calls.insert((key, c), v);
            } else {
                records.insert(key, rest);
            }
        }
        Fixture {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            records,
            calls,
            n_calls,
        }
    }

    fn floats(&self, key: &str) -> Vec<f64> {
        self.records[key]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect()
    }

    fn config(&self, key: &str) -> Option<&str> {
        self.records["config"]
            .iter()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }

    fn scheduler(&self) -> &str {
        &self.records["scheduler"][0]
    }

    fn call(&self, key: &str, c: usize) -> Option<&Vec<f64>> {
        self.calls.get(&(key.to_string(), c))
    }
}

fn vp_node(t: f64, sigma_ve: f64) -> Node {
    if sigma_ve == 0.0 {
        return Node::new(t, 1.0, 0.0);
    }
    let a = 1.0 / (1.0 + sigma_ve * sigma_ve).sqrt();
    Node::new(t, a, sigma_ve * a)
}

/// The solver, model parameterisation and grid a fixture describes.
fn setup(f: &Fixture) -> (Solver, Param, Grid) {
    let order = |def: usize| f.config("solver_order").map_or(def, |v| v.parse().unwrap());
    let solver_type = match f.config("solver_type") {
        Some("heun") => SolverType::Heun,
        _ => SolverType::Midpoint,
    };
    let param = match f.config("prediction_type") {
        Some("sample") => Param::Data,
        Some("v_prediction") => Param::V,
        _ => Param::Eps,
    };
    let sigmas = f.records.get("sigmas").map(|_| f.floats("sigmas"));
    let ts = f.floats("timesteps");
    let algo = f.config("algorithm_type").unwrap_or("dpmsolver++");
    let solver = match f.scheduler() {
        "DPMSolverMultistepScheduler" => match algo {
            "dpmsolver" => Solver::DpmMultistep {
                order: order(2),
                solver_type,
            },
            "sde-dpmsolver++" => Solver::SdeDpmppMultistep {
                order: order(2),
                solver_type,
            },
            _ => Solver::DpmppMultistep {
                order: order(2),
                solver_type,
            },
        },
        "DPMSolverSinglestepScheduler" => match algo {
            "dpmsolver" => Solver::DpmSinglestep {
                order: order(2),
                solver_type,
            },
            _ => Solver::DpmppSinglestep {
                order: order(2),
                solver_type,
            },
        },
        "DEISMultistepScheduler" => Solver::Deis { order: order(2) },
        "UniPCMultistepScheduler" => Solver::UniPc {
            order: order(2),
            variant: if f.config("solver_type") == Some("bh1") {
                UniPcVariant::Bh1
            } else {
                UniPcVariant::Bh2
            },
            corrector: true,
        },
        "DDIMScheduler" => Solver::Ddim {
            eta: if f.call("noise", 0).is_some() {
                1.0
            } else {
                0.0
            },
        },
        "EulerDiscreteScheduler" => Solver::Euler {
            churn: ito::Churn::NONE,
        },
        "EulerAncestralDiscreteScheduler" => Solver::EulerAncestral { eta: 1.0 },
        "HeunDiscreteScheduler" => Solver::Heun {
            churn: ito::Churn::NONE,
        },
        other => panic!("unknown scheduler {other}"),
    };
    let nodes: Vec<Node> = match f.scheduler() {
        "DDIMScheduler" => {
            let abar = f.floats("alphas_cumprod");
            let mut v: Vec<Node> = ts
                .iter()
                .map(|&t| {
                    let a = abar[t as usize];
                    Node::new(t, a.sqrt(), (1.0 - a).sqrt())
                })
                .collect();
            // set_alpha_to_one: the step after the last lands on ᾱ = 1.
            v.push(Node::new(-1.0, 1.0, 0.0));
            v
        }
        "EulerDiscreteScheduler" | "EulerAncestralDiscreteScheduler" => sigmas
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, &s)| Node::new(ts.get(i).copied().unwrap_or(-1.0), 1.0, s))
            .collect(),
        "HeunDiscreteScheduler" => {
            // Interleaved [s0, s1, s1, …, s_{N−1}, s_{N−1}, 0]: every other entry after the first.
            let s = sigmas.unwrap();
            std::iter::once(s[0])
                .chain(s[1..].iter().step_by(2).copied())
                .map(|v| Node::new(0.0, 1.0, v))
                .collect()
        }
        _ => sigmas
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, &s)| vp_node(ts.get(i).copied().unwrap_or(-1.0), s))
            .collect(),
    };
    (solver, param, Grid::from_nodes(nodes).unwrap())
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diffusers");
    let mut v: Vec<Fixture> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| Fixture::load(&e.unwrap().path()))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(v.len(), 36, "fixture files in {dir:?}");
    v
}

/// diffusers' defaults: `lower_order_final` is off in the singlestep scheduler (a noise-free
/// end or a step count that is not a multiple of the order turns it on there too); dynamic
/// thresholding as the fixture's config says.
fn options(f: &Fixture) -> PlanOptions {
    PlanOptions {
        lower_order_final: f.scheduler() != "DPMSolverSinglestepScheduler",
        thresholding: (f.config("thresholding") == Some("True")).then(|| Thresholding {
            ratio: f
                .config("dynamic_thresholding_ratio")
                .unwrap()
                .parse()
                .unwrap(),
            max_value: f.config("sample_max_value").unwrap().parse().unwrap(),
            sample_len: 8,
        }),
        ..PlanOptions::default()
    }
}

fn noise_source() -> NoiseSource {
    NoiseSource {
        seed: 2024,
        stream: 0,
        offset: 0,
    }
}

/// diffusers' SDE-DPM-Solver++(3M) weights D₂ by +(…(1 − e^{−2h} − 2h)/(2h)² − ½), which
/// differs from the exact integral (and from k-diffusion's 3M SDE sampler) by −α_t·D₂; ito
/// keeps the integral. These fixture steps are therefore compared with diffusers' formula
/// reconstructed on top of ito's result (see `sde_dpmpp_3m_differs_by_one_d2_term`).
fn is_known_deviation(f: &Fixture) -> bool {
    f.name == "sde_dpmpp_3m"
}

/// The largest relative error of `ours` against `theirs` (relative to max(|theirs|, 1)).
fn rel_err(ours: &[f64], theirs: &[f64]) -> f64 {
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn f64_plans_follow_every_diffusers_trajectory() {
    let mut worst = 0.0f64;
    for f in fixtures() {
        if is_known_deviation(&f) {
            continue;
        }
        let (solver, param, grid) = setup(&f);
        let g = Gaussian {
            mean: f.floats("mu"),
            std: f.floats("s"),
        };
        let plan = Plan::new(solver, grid, param, options(&f)).unwrap();
        let mut s = ReferenceSampler::new(plan, f.floats("x_init"), noise_source()).unwrap();
        let mut out = vec![0.0; 8];
        let mut c = 0;
        while let Some(ev) = s.next_eval().unwrap() {
            // The model sees the same point diffusers evaluated.
            let (a, sg) = (
                f.call("model_alpha", c).unwrap()[0],
                f.call("model_sigma", c).unwrap()[0],
            );
            let scale = a / ev.node.alpha;
            assert!(
                (lambda_of(a, sg) - ev.node.lambda()).abs() < 1e-9,
                "{}: call {c} at λ {} but diffusers at {}",
                f.name,
                ev.node.lambda(),
                lambda_of(a, sg)
            );
            let x_vp: Vec<f64> = s.eval_input().iter().map(|v| v * scale).collect();
            let e = rel_err(&x_vp, &model_input(&f, c));
            assert!(e < 1e-6, "{}: model input of call {c} off by {e:e}", f.name);
            g.predict(param, &ev.node, s.eval_input(), &mut out);
            if let Some(z) = f.call("noise", c) {
                check_noise(&f, c, z);
            }
            s.advance(&out).unwrap();
            let ours = match s.next_eval().unwrap() {
                Some(_) => s.eval_input().to_vec(),
                None => s.state().to_vec(),
            };
            let e = rel_err(&ours, f.call("x", c).unwrap());
            assert!(e < 1e-6, "{}: step {c} off by {e:e}", f.name);
            worst = worst.max(e);
            c += 1;
        }
        assert_eq!(c, f.n_calls, "{}: number of model calls", f.name);
    }
    eprintln!("largest relative difference from diffusers (f64): {worst:e}");
}

/// The model input diffusers used at call c: the previous call's output (scaled to VP form
/// for the σ-form schedulers) or the initial sample.
fn model_input(f: &Fixture, c: usize) -> Vec<f64> {
    let x = if c == 0 {
        f.floats("x_init")
    } else {
        f.call("x", c - 1).unwrap().clone()
    };
    let a = f.call("model_alpha", c).unwrap()[0];
    match f.scheduler() {
        "EulerDiscreteScheduler" | "EulerAncestralDiscreteScheduler" | "HeunDiscreteScheduler" => {
            x.iter().map(|v| v * a).collect()
        }
        _ => x,
    }
}

fn check_noise(f: &Fixture, step: usize, z: &[f64]) {
    let mut ours = vec![0.0f32; z.len()];
    ito::fill_normal(
        ours.as_mut_slice().into(),
        0.0,
        1.0,
        ito::Noise {
            key: ito::NoiseKey {
                seed: 2024,
                stream: 0,
                step: step as u32,
            },
            offset: 0,
        },
    )
    .unwrap();
    for (a, b) in ours.iter().zip(z) {
        assert_eq!(*a as f64, *b, "{}: noise of step {step}", f.name);
    }
}

#[test]
fn f32_kernels_follow_every_diffusers_trajectory() {
    let mut worst = 0.0f64;
    for f in fixtures() {
        if is_known_deviation(&f) {
            continue;
        }
        let (solver, param, grid) = setup(&f);
        let steps = grid.steps();
        let g = Gaussian {
            mean: f.floats("mu"),
            std: f.floats("s"),
        };
        let plan = Plan::new(solver, grid, param, options(&f)).unwrap();
        let mut s = Sampler::<f32>::new(plan, 8, ito::NoiseSource::new(2024)).unwrap();
        for (d, v) in s.state_mut().iter_mut().zip(f.floats("x_init")) {
            *d = v as f32;
        }
        let mut out = vec![0.0f32; 8];
        while let Some(ev) = s.next_eval().unwrap() {
            g.predict_f32(param, &ev.node, s.eval_input(), &mut out);
            s.advance(out.as_slice().into()).unwrap();
        }
        let ours: Vec<f64> = s.state().iter().map(|&v| v as f64).collect();
        let e = rel_err(&ours, f.call("x", f.n_calls - 1).unwrap());
        // A few f32 roundings per step (coefficients, model output, state), amplified by no
        // more than the step count.
        let bound = 8.0 * f32::EPSILON as f64 * steps as f64;
        assert!(
            e < bound,
            "{}: f32 result off by {e:e} (bound {bound:e})",
            f.name
        );
        worst = worst.max(e);
    }
    eprintln!("largest relative difference from diffusers (f32 kernels): {worst:e}");
}

#[test]
fn discrete_grids_match_diffusers_timesteps_and_sigmas() {
    for f in fixtures() {
        if f.scheduler() != "DPMSolverMultistepScheduler" {
            continue;
        }
        let vp = DiscreteVp::from_alphas_cumprod(&f.floats("alphas_cumprod")).unwrap();
        let steps: usize = f.records["num_inference_steps"][0].parse().unwrap();
        let sigmas = f.floats("sigmas");
        let ts = f.floats("timesteps");
        let last = match f.config("final_sigmas_type") {
            Some("sigma_min") => FinalNode::SigmaMin,
            _ => FinalNode::Zero,
        };
        if f.config("use_karras_sigmas") == Some("True") {
            let table: Vec<f64> = (0..vp.len())
                .map(|k| {
                    let a = vp.alpha_cumprod(k).unwrap();
                    ((1.0 - a) / a).sqrt()
                })
                .collect();
            let k = ito::diffusion::grid::karras_sigmas(table[0], table[vp.len() - 1], 7.0, steps)
                .unwrap();
            assert!(rel_err(&k, &sigmas[..steps]) < 1e-12, "{}", f.name);
            continue;
        }
        let spacing = match f.config("timestep_spacing") {
            Some("leading") => Spacing::Leading,
            Some("trailing") => Spacing::Trailing,
            _ => Spacing::Linspace,
        };
        let offset = f.config("steps_offset").map_or(0, |v| v.parse().unwrap());
        let (grid, ks) = Grid::discrete(&vp, spacing, steps, offset, last).unwrap();
        let ks: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
        assert_eq!(ks, ts, "{}: timesteps", f.name);
        let ours: Vec<f64> = grid.nodes().iter().map(|n| n.sigma_ve()).collect();
        assert!(
            rel_err(&ours, &sigmas) < 1e-12,
            "{}: sigmas {ours:?}",
            f.name
        );
    }
}

#[test]
fn sde_dpmpp_3m_differs_by_one_d2_term() {
    // Steps 0, 1 and the last (orders 1, 2, 1) agree; at third-order steps diffusers' update
    // equals ito's minus α_t·D₂ (see `is_known_deviation`). Checked by replaying diffusers'
    // own states: from diffusers' x at each step, ito's update minus diffusers' result must
    // be α_t·D₂ with D₂ from the recorded model outputs.
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "sde_dpmpp_3m")
        .unwrap();
    let (solver, param, grid) = setup(&f);
    let nodes = grid.nodes().to_vec();
    let x0 = |c: usize| -> Vec<f64> {
        let (a, s) = (nodes[c].alpha, nodes[c].sigma);
        let x = if c == 0 {
            f.floats("x_init")
        } else {
            f.call("x", c - 1).unwrap().clone()
        };
        x.iter()
            .zip(f.call("model_out", c).unwrap())
            .map(|(x, e)| (x - s * e) / a)
            .collect()
    };
    let plan = Plan::new(solver, grid, param, options(&f)).unwrap();
    let mut s = ReferenceSampler::new(plan, f.floats("x_init"), noise_source()).unwrap();
    let g = Gaussian {
        mean: f.floats("mu"),
        std: f.floats("s"),
    };
    let mut out = vec![0.0; 8];
    let mut c = 0;
    let mut third_order_steps = 0;
    while let Some(ev) = s.next_eval().unwrap() {
        // Restart each step from diffusers' state, so that each update is compared alone.
        let x_prev = if c == 0 {
            f.floats("x_init")
        } else {
            f.call("x", c - 1).unwrap().clone()
        };
        s.state_mut().copy_from_slice(&x_prev);
        g.predict(param, &ev.node, s.eval_input(), &mut out);
        s.advance(&out).unwrap();
        let theirs = f.call("x", c).unwrap();
        // Third order from step 2 on, but the last two steps (lower_order_final, < 15 steps).
        if c >= 2 && c + 2 < f.n_calls {
            // α_t·D₂, D₂ = (D1_0 − D1_1)/(r0 + r1) from diffusers' own data predictions.
            let l = |i: usize| nodes[i].lambda();
            let h = l(c + 1) - l(c);
            let (r0, r1) = ((l(c) - l(c - 1)) / h, (l(c - 1) - l(c - 2)) / h);
            let (m0, m1, m2) = (x0(c), x0(c - 1), x0(c - 2));
            let diff: Vec<f64> = s.state().iter().zip(theirs).map(|(a, b)| a - b).collect();
            let expected: Vec<f64> = (0..8)
                .map(|i| {
                    let d1_0 = (m0[i] - m1[i]) / r0;
                    let d1_1 = (m1[i] - m2[i]) / r1;
                    nodes[c + 1].alpha * (d1_0 - d1_1) / (r0 + r1)
                })
                .collect();
            let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let off = diff
                .iter()
                .zip(&expected)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                off < 1e-6 * scale.max(1e-12) + 1e-12,
                "step {c}: {diff:?} vs {expected:?}"
            );
            assert!(scale > 1e-9, "step {c}: the D₂ term must be visible");
            third_order_steps += 1;
        } else {
            assert!(rel_err(s.state(), theirs) < 1e-9, "step {c}");
        }
        c += 1;
    }
    assert_eq!(third_order_steps, 6);
}

#[test]
fn thresholding_fixtures_do_clamp() {
    // The thresholded trajectories must differ visibly from the plain ones, or the
    // agreement above would not test the clamp.
    let all = fixtures();
    let last = |name: &str| {
        let f = all.iter().find(|f| f.name == name).unwrap();
        f.call("x", f.n_calls - 1).unwrap().clone()
    };
    for (plain, thr) in [
        ("dpmpp_2m", "dpmpp_2m_threshold"),
        ("dpm_2m", "dpm_2m_threshold"),
        ("deis_2", "deis_2_threshold"),
        ("unipc_bh2_2", "unipc_bh2_2_threshold"),
    ] {
        let e = rel_err(&last(thr), &last(plain));
        assert!(e > 0.1, "{thr} vs {plain}: {e}");
    }
}
