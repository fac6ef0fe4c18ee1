//! The normal transform against an f64 evaluation on the same exact inputs: the f32 uniform
//! u the transform forms, and the exact angle 2π·a/2²⁴. Bound: 2 ulp of the output.

use ito::runtime::rng::{
    angle_numerator, box_muller, cos_sin_turn, ln, radius_uniform, MAX_ABS_NORMAL,
};

/// Distance from `got` to the real number `exact`, in units of the f32 spacing at `exact`.
fn ulps(got: f32, exact: f64) -> f64 {
    let a = exact.abs();
    if a == 0.0 {
        return if got == 0.0 { 0.0 } else { f64::INFINITY };
    }
    let e = a.log2().floor().max(-126.0);
    let ulp = 2f64.powf(e - 23.0);
    (got as f64 - exact).abs() / ulp
}

/// SplitMix64, for reproducible test inputs independent of the code under test.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn radius_words() -> impl Iterator<Item = u32> {
    let mut rng = SplitMix(1);
    (0u32..1 << 20)
        .chain((u32::MAX - (1 << 20))..=u32::MAX)
        .chain((0..32).flat_map(|k| [1u32 << k, (1u32 << k).wrapping_sub(1), (1u32 << k) | 1]))
        .chain((0..2_000_000).map(move |_| rng.next() as u32))
}

#[test]
fn uniform_is_in_range_and_exact_for_small_words() {
    assert_eq!(radius_uniform(0) as f64, 2f64.powi(-33));
    for w in radius_words() {
        let u = radius_uniform(w);
        assert!(u > 0.0 && u <= 1.0, "w={w} u={u}");
        if w < 1 << 23 {
            assert_eq!(u as f64, (w as f64 + 0.5) * 2f64.powi(-32), "w={w}");
        }
    }
}

#[test]
fn ln_hi_plus_lo_is_accurate_to_2_pow_minus_25() {
    let mut worst = (0.0f64, 0u32);
    for w in radius_words() {
        let u = radius_uniform(w);
        let (hi, lo) = ln(u);
        let exact = (u as f64).ln();
        let rel = if exact == 0.0 {
            (hi as f64 + lo as f64).abs()
        } else {
            ((hi as f64 + lo as f64) - exact).abs() / exact.abs()
        };
        if rel > worst.0 {
            worst = (rel, w);
        }
    }
    eprintln!(
        "ln: worst relative error of hi + lo {:.3e} at w={:#x}",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 2f64.powi(-25),
        "ln error {:.3e} at w={:#x}",
        worst.0,
        worst.1
    );
}

#[test]
fn cos_sin_within_1_05_ulp_for_every_angle() {
    let mut worst = 0.0f64;
    for a in (1u32..1 << 24).step_by(2) {
        let (c, s) = cos_sin_turn(a);
        let theta = std::f64::consts::TAU * a as f64 / (1u64 << 24) as f64;
        worst = worst.max(ulps(c, theta.cos())).max(ulps(s, theta.sin()));
    }
    eprintln!("cos/sin: worst {worst:.3} ulp over all 2^23 angles");
    assert!(worst <= 1.05, "cos/sin error {worst:.3} ulp");
}

#[test]
fn box_muller_within_two_ulp() {
    let mut rng = SplitMix(2);
    let mut worst = 0.0f64;
    let mut largest = 0.0f32;
    let angle_words = |r: &mut SplitMix| r.next() as u32;
    let words: Vec<u32> = radius_words().collect();
    for &wr in &words {
        let wa = angle_words(&mut rng);
        let (z0, z1) = box_muller(wr, wa);
        let u = radius_uniform(wr) as f64;
        let r = (-2.0 * u.ln()).sqrt();
        let theta = std::f64::consts::TAU * angle_numerator(wa) as f64 / (1u64 << 24) as f64;
        let e = ulps(z0, r * theta.cos()).max(ulps(z1, r * theta.sin()));
        assert!(
            e <= 2.0,
            "wr={wr:#x} wa={wa:#x}: z=({z0}, {z1}), error {e:.3} ulp"
        );
        worst = worst.max(e);
        largest = largest.max(z0.abs()).max(z1.abs());
    }
    eprintln!("box-muller: worst {worst:.3} ulp; largest |z| seen {largest}");
    assert!(worst <= 2.0, "transform error {worst:.3} ulp");
    assert!((largest as f64) <= MAX_ABS_NORMAL * (1.0 + 1e-6));
    // w = 0 gives the largest radius; the angle word decides how much of it one output gets.
    let (z0, _) = box_muller(0, 0);
    assert!((z0 as f64 - MAX_ABS_NORMAL).abs() < 1e-5, "z0 = {z0}");
}
