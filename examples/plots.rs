//! Draws two measured figures as SVG with `plotters`:
//!
//! - `convergence.svg`: the final error of each solver against the exact probability-flow ODE
//!   solution of a Gaussian target (f64 reference runs, VP-linear, λ-uniform grids), against
//!   the number of steps, log-log, one line per solver;
//! - `samples.svg`: 2-D samples of the built-in Gaussian mixture drawn with ito's f32 kernels
//!   (DPM-Solver++(2M), 20 steps) over the mixture's exact density.
//!
//! `cargo run --release --example plots [-- OUT_DIR]` (default `target/plots`)

use std::error::Error;
use std::path::PathBuf;

use ito::diffusion::problems::{Gaussian, GaussianMixture};
use ito::{
    Grid, NoiseSource, Param, Plan, PlanOptions, ReferenceSampler, Sampler, Schedule, Solver,
};
use plotters::prelude::*;

const SOLVERS: [&str; 9] = [
    "dpmpp-1",
    "euler",
    "dpmpp-2m",
    "heun",
    "dpmpp-2s",
    "deis-3",
    "dpmpp-3m-taylor",
    "unipc-2",
    "unipc-3",
];
const STEPS: [usize; 6] = [6, 12, 24, 48, 96, 192];

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/plots".into()),
    );
    std::fs::create_dir_all(&out)?;
    let conv = out.join("convergence.svg");
    convergence(&conv)?;
    let samples = out.join("samples.svg");
    scatter(&samples)?;
    println!("wrote {} and {}", conv.display(), samples.display());
    Ok(())
}

/// Max error at the last node of an f64 run of `name` with `steps` steps.
fn error(name: &str, steps: usize) -> Result<f64, Box<dyn Error>> {
    let g = Gaussian {
        mean: vec![0.5, -1.0, 2.0, 0.0],
        std: vec![0.3, 1.0, 0.5, 0.1],
    };
    let schedule = Schedule::vp_linear(0.1, 20.0)?;
    let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, steps)?;
    let (first, last) = (grid.nodes()[0], grid.nodes()[steps]);
    let x: Vec<f64> = [0.3, -1.2, 2.5, -0.7]
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let (m, s) = g.marginal(i, &first);
            m + s * z
        })
        .collect();
    let opts = PlanOptions {
        lower_order_final: false,
        ..PlanOptions::default()
    };
    let plan = Plan::new(name.parse::<Solver>()?, grid, Param::Eps, opts)?;
    let noise = NoiseSource {
        seed: 0,
        stream: 0,
        offset: 0,
    };
    let mut s = ReferenceSampler::new(plan, x.clone(), noise)?;
    let mut m = vec![0.0; x.len()];
    while let Some(ev) = s.next_eval()? {
        g.predict(Param::Eps, &ev.node, s.eval_input(), &mut m);
        s.advance(&m)?;
    }
    let exact = g.ode_solution(&first, &last, &x);
    Ok(s.state()
        .iter()
        .zip(&exact)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max))
}

fn convergence(path: &PathBuf) -> Result<(), Box<dyn Error>> {
    let mut lines = Vec::new();
    for name in SOLVERS {
        let pts: Vec<(f64, f64)> = STEPS
            .iter()
            .map(|&n| Ok((n as f64, error(name, n)?.max(1e-8))))
            .collect::<Result<_, Box<dyn Error>>>()?;
        lines.push((name, pts));
    }
    let root = SVGBackend::new(path, (900, 650)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "final error vs steps: Gaussian target, VP-linear, λ-uniform grid (f64 runs)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((5f64..220f64).log_scale(), (1e-8f64..1f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("steps")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("max |x - x_exact|")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    for (i, (name, pts)) in lines.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn scatter(path: &PathBuf) -> Result<(), Box<dyn Error>> {
    let target = GaussianMixture::ring();
    let n = 4000;
    let schedule = Schedule::vp_linear(0.1, 20.0)?;
    let grid = Grid::uniform_lambda(&schedule, 1.0, 1e-3, 20)?.with_clean_end()?;
    let plan = Plan::new(
        "dpmpp-2m".parse::<Solver>()?,
        grid,
        Param::Eps,
        PlanOptions::default(),
    )?;
    let mut s = Sampler::<f32>::new(plan, 2 * n, ito::NoiseSource::new(11))?;
    s.init_noise()?;
    let mut m = vec![0.0f32; 2 * n];
    while let Some(ev) = s.next_eval()? {
        target.predict_f32(Param::Eps, &ev.node, s.eval_input(), &mut m);
        s.advance(m.as_slice().into())?;
    }

    let root = SVGBackend::new(path, (700, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let lim = 3.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "DPM-Solver++(2M), 20 steps, f32 kernels: 4000 samples over the exact density",
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(40)
        .build_cartesian_2d(-lim..lim, -lim..lim)?;
    chart.configure_mesh().disable_mesh().draw()?;
    // The density as a shaded grid (log scale, so the light components show).
    let cells = 120;
    let h = 2.0 * lim / cells as f64;
    let dens = |x: f64, y: f64| -> f64 {
        (0..target.weights.len())
            .map(|k| {
                let s2 = target.stds[k] * target.stds[k];
                let d2 = (x - target.means[k][0]).powi(2) + (y - target.means[k][1]).powi(2);
                target.weights[k] * (-0.5 * d2 / s2).exp() / (std::f64::consts::TAU * s2)
            })
            .sum()
    };
    let mut rects = Vec::with_capacity(cells * cells);
    let peak = (0..cells * cells)
        .map(|c| dens(-lim + (c % cells) as f64 * h, -lim + (c / cells) as f64 * h))
        .fold(0.0, f64::max);
    for i in 0..cells {
        for j in 0..cells {
            let (x, y) = (-lim + (i as f64 + 0.5) * h, -lim + (j as f64 + 0.5) * h);
            let v = ((dens(x, y) / peak).max(1e-6).ln() / 1e-6f64.ln()).clamp(0.0, 1.0);
            let shade = (255.0 * (0.35 + 0.65 * v)) as u8;
            let fill = RGBColor(shade, shade, 255);
            rects.push(Rectangle::new(
                [(x - 0.5 * h, y - 0.5 * h), (x + 0.5 * h, y + 0.5 * h)],
                fill.filled(),
            ));
        }
    }
    chart.draw_series(rects)?;
    chart.draw_series(
        s.state()
            .chunks(2)
            .map(|p| Circle::new((p[0] as f64, p[1] as f64), 1, RED.filled())),
    )?;
    root.present()?;
    Ok(())
}
