//! Inputs shared by the tests: deterministic tensors, the test's own noise tables (written
//! from the published formulas, independently of the crate), and a Gaussian-data model.

use candle_core::{Device, Result, Tensor};
use candle_transformers::models::stable_diffusion::schedulers::Scheduler;

/// The shape the tests use: candle's UniPC needs 4-D tensors.
pub const SHAPE: (usize, usize, usize, usize) = (2, 4, 6, 5);
pub const N: usize = 2 * 4 * 6 * 5;

/// splitmix64, then Box–Muller: deterministic standard normals (candle's CPU RNG cannot be
/// seeded).
pub fn normals(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (next(), next());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        })
        .collect()
}

pub fn tensor(v: Vec<f32>) -> Tensor {
    Tensor::from_vec(v, SHAPE, &Device::Cpu).unwrap()
}

pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// The data the toy model knows: element i ~ N(m_i, s²), m_i = 0.5·sin(0.37 i + 0.1), s = 0.6.
pub fn data_mean(i: usize) -> f64 {
    0.5 * (0.37 * i as f64 + 0.1).sin()
}
pub const DATA_STD: f64 = 0.6;

/// What the model predicts.
#[derive(Clone, Copy, Debug)]
pub enum Pred {
    Eps,
    V,
    Sample,
}

/// The exact prediction for the Gaussian data above at x = α·x₀ + σ·ε:
/// x̂₀ = m + α s²(x − α m)/(α² s² + σ²), ε̂ = σ(x − α m)/(α² s² + σ²), v = α ε̂ − σ x̂₀.
pub fn model(x: &Tensor, alpha: f64, sigma: f64, pred: Pred) -> Tensor {
    let xs = values(x);
    let s2 = DATA_STD * DATA_STD;
    let d = alpha * alpha * s2 + sigma * sigma;
    let out: Vec<f32> = xs
        .iter()
        .enumerate()
        .map(|(i, &xi)| {
            let m = data_mean(i);
            let r = xi as f64 - alpha * m;
            let eps = sigma * r / d;
            let x0 = m + alpha * s2 * r / d;
            (match pred {
                Pred::Eps => eps,
                Pred::Sample => x0,
                Pred::V => alpha * eps - sigma * x0,
            }) as f32
        })
        .collect();
    Tensor::from_vec(out, x.shape(), x.device()).unwrap()
}

/// ᾱ of candle's β tables, written from the formulas (β linear or √β linear, start + i·Δ).
pub fn alphas_cumprod(beta_start: f64, beta_end: f64, scaled: bool, n: usize) -> Vec<f64> {
    let (a, b) = if scaled {
        (beta_start.sqrt(), beta_end.sqrt())
    } else {
        (beta_start, beta_end)
    };
    let d = (b - a) / (n - 1) as f64;
    let mut acc = 1.0;
    (0..n)
        .map(|i| {
            let v = a + i as f64 * d;
            acc *= 1.0 - if scaled { v * v } else { v };
            acc
        })
        .collect()
}

/// Largest |a − b| and largest |b|.
pub fn max_diff(a: &Tensor, b: &Tensor) -> (f64, f64) {
    let (a, b) = (values(a), values(b));
    assert_eq!(a.len(), b.len());
    let mut d = 0f64;
    let mut m = 0f64;
    for (x, y) in a.iter().zip(&b) {
        if x.is_nan() || y.is_nan() {
            return (f64::INFINITY, f64::NAN);
        }
        d = d.max((*x as f64 - *y as f64).abs());
        m = m.max((*y as f64).abs());
    }
    (d, m)
}

/// Runs `s` from `x` with the model, returning every step's output.
pub fn run(
    s: &mut dyn Scheduler,
    x: &Tensor,
    mut model_at: impl FnMut(&Tensor, usize) -> Tensor,
) -> Result<Vec<Tensor>> {
    let mut x = x.clone();
    let mut out = Vec::new();
    for t in s.timesteps().to_vec() {
        let m = model_at(&x, t);
        x = s.step(&m, t, &x)?;
        out.push(x.clone());
    }
    Ok(out)
}
