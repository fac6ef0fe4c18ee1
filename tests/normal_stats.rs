//! Statistics of 2²⁴ ≈ 1.7·10⁷ normals from `fill_normal`: mean, variance, the
//! Kolmogorov–Smirnov distance to Φ, tail frequencies beyond 4σ, the largest |z|, and the
//! independence of the two outputs of a Box–Muller pair.

use ito::runtime::rng::MAX_ABS_NORMAL;
use ito::{fill_normal, Noise, NoiseKey};

const N: usize = 1 << 24;

fn normals(seed: u64) -> Vec<f32> {
    let mut z = vec![0.0f32; N];
    let noise = Noise {
        key: NoiseKey {
            seed,
            stream: 3,
            step: 11,
        },
        offset: 0,
    };
    fill_normal(z.as_mut_slice().into(), 0.0, 1.0, noise).unwrap();
    z
}

/// Standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[test]
fn moments_ks_and_tails() {
    let z = normals(0x5eed);
    let n = N as f64;
    let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    // 5σ bands: sd(mean) = 1/√n, sd(var) = √(2/n).
    assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {var}");

    let mut sorted: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut d = 0.0f64;
    for (i, &x) in sorted.iter().enumerate() {
        let f = phi(x);
        d = d
            .max((f - i as f64 / n).abs())
            .max(((i + 1) as f64 / n - f).abs());
    }
    // Critical value at α = 0.001: 1.95/√n.
    assert!(
        d < 1.95 / n.sqrt(),
        "KS distance {d} (critical {})",
        1.95 / n.sqrt()
    );

    // Tails: P(|z| > 4) = 2Φ(−4); binomial count within 5 standard deviations.
    let p = 2.0 * phi(-4.0);
    let count = z.iter().filter(|v| v.abs() > 4.0).count() as f64;
    let expected = n * p;
    assert!(
        (count - expected).abs() < 5.0 * expected.sqrt(),
        "beyond 4σ: {count} vs expected {expected:.0}"
    );
    let p5 = 2.0 * phi(-5.0);
    let count5 = z.iter().filter(|v| v.abs() > 5.0).count() as f64;
    assert!(
        (count5 - n * p5).abs() < 5.0 * (n * p5).sqrt() + 1.0,
        "beyond 5σ: {count5} vs {:.1}",
        n * p5
    );
    let largest = z.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(largest as f64 <= MAX_ABS_NORMAL, "largest |z| {largest}");
    eprintln!("mean {mean:.2e} var {var:.6} KS {d:.2e} >4σ {count} (exp {expected:.0}) >5σ {count5} largest {largest}");
}

#[test]
fn pair_outputs_are_uncorrelated_and_words_share_moments() {
    let z = normals(77);
    let n4 = (N / 4) as f64;
    // Elements 4b+0/4b+1 come from one Box–Muller pair, 4b+2/4b+3 from the other.
    let mut corr = [0.0f64; 2];
    let mut mean_by_word = [0.0f64; 4];
    for b in z.chunks_exact(4) {
        corr[0] += (b[0] * b[1]) as f64;
        corr[1] += (b[2] * b[3]) as f64;
        for k in 0..4 {
            mean_by_word[k] += b[k] as f64;
        }
    }
    for c in corr {
        assert!(
            (c / n4).abs() < 5.0 / n4.sqrt(),
            "pair correlation {}",
            c / n4
        );
    }
    for m in mean_by_word {
        assert!((m / n4).abs() < 5.0 / n4.sqrt(), "per-word mean {}", m / n4);
    }
}
