//! The exact uniform and the Box–Muller normal transform, built only from `+ − ×`, fused
//! multiply-add, correctly rounded `/` and `√`, and bit operations, so that every backend
//! (scalar, AVX2, NEON, CUDA) reproduces it to the bit.
//!
//! One Philox block (w0, w1, w2, w3) gives four normals: (w0, w1) → (z0, z1) and
//! (w2, w3) → (z2, z3), where for a pair (wr, wa):
//!
//! - **radius** from all 32 bits of `wr`: u = (wr + ½)·2⁻³², formed as
//!   `(wr ≫ 8)·256 + ((wr & 255) + ½)` (one rounding, to nearest even) times 2⁻³² (exact).
//!   So u ∈ [2⁻³³, 1] (values within ½ ulp of 1 round to exactly 1, giving radius 0), and
//!   r = √(−2 ln u) ≤ √(66 ln 2) ≈ 6.7644, the largest |z| the transform can return;
//! - **angle** as a fixed-point fraction of a turn: a = (wa ≫ 8) | 1 (24-bit odd), θ = 2π·a/2²⁴.
//!   The quadrant q = round(4a/2²⁴) and the remainder d = a − q·2²² ∈ (−2²¹, 2²¹) are integers,
//!   so the range reduction is exact and the polynomials see x = d·2⁻²⁴ ∈ (−⅛, ⅛) turn exactly;
//! - z_even = r·cos θ, z_odd = r·sin θ.
//!
//! `ln` reduces u = 2ᵏ·m with m ∈ [√½, √2) by integer operations on the bits, then evaluates
//! ln m = f − ½f² + s(½f² + R(s²)), f = m − 1, s = f/(2 + f), with R the first four terms of the
//! atanh series (truncation error below 2·10⁻⁹ relative on |s| ≤ 0.1716), keeping the result
//! as an unevaluated sum hi + lo. The radius r = √(−2 ln u) gets one Newton correction r_lo
//! from that sum. sin and cos of 2πx use their Taylor series to x⁹ and x¹⁰ (truncation below
//! 3·10⁻⁹ relative on |x| ≤ ⅛), with 2π split in two; r·cos and r·sin are formed with fused
//! operations around the leading terms so that the output rounds about once.
//!
//! Accuracy, measured against an f64 evaluation on the same exact inputs
//! (tests/normal_accuracy.rs, ≈4.2·10⁶ pairs: every radius word below 2²⁰ and above
//! 2³² − 2²⁰, the powers of two, 2·10⁶ random): worst 1.58 ulp of the output (the test
//! requires ≤ 2); cos and sin alone ≤ 1.02 ulp over all 2²³ angles; ln as hi + lo within
//! 1.6·10⁻⁸ relative.

use crate::lanes::{Lanes, Scalar};

const LN2: f64 = core::f64::consts::LN_2;
/// ln 2 rounded to 17 significant bits, so k·LN2_HI is exact for |k| < 2⁷.
const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
/// ln 2 − LN2_HI.
const LN2_LO: f32 = (LN2 - LN2_HI as f64) as f32;
/// atanh series: ln m = 2s + (2/3)s³ + (2/5)s⁵ + …; R(z) = z·(2/3 + z·(2/5 + z·(2/7 + z·2/9))).
const LG1: f32 = (2.0 / 3.0) as f32;
const LG2: f32 = (2.0 / 5.0) as f32;
const LG3: f32 = (2.0 / 7.0) as f32;
const LG4: f32 = (2.0 / 9.0) as f32;

const TAU: f64 = core::f64::consts::TAU;
const TAU2: f64 = TAU * TAU;
const TAU3: f64 = TAU2 * TAU;
const TAU4: f64 = TAU2 * TAU2;
const TAU5: f64 = TAU4 * TAU;
const TAU6: f64 = TAU4 * TAU2;
const TAU7: f64 = TAU6 * TAU;
const TAU8: f64 = TAU4 * TAU4;
const TAU9: f64 = TAU8 * TAU;
const TAU10: f64 = TAU8 * TAU2;
/// sin(2πx) = S1·x + S3·x³ + … + S9·x⁹, S1 = S1_HI + S1_LO.
const S1_HI: f32 = TAU as f32;
const S1_LO: f32 = (TAU - S1_HI as f64) as f32;
const S3: f32 = (-TAU3 / 6.0) as f32;
const S5: f32 = (TAU5 / 120.0) as f32;
const S7: f32 = (-TAU7 / 5040.0) as f32;
const S9: f32 = (TAU9 / 362_880.0) as f32;
/// cos(2πx) = 1 + C2·x² + … + C10·x¹⁰.
const C2: f32 = (-TAU2 / 2.0) as f32;
const C4: f32 = (TAU4 / 24.0) as f32;
const C6: f32 = (-TAU6 / 720.0) as f32;
const C8: f32 = (TAU8 / 40_320.0) as f32;
const C10: f32 = (-TAU10 / 3_628_800.0) as f32;

/// The radius uniform u = (w + ½)·2⁻³² of the module docs, rounded once to f32.
#[inline(always)]
pub fn radius_uniform_lanes<L: Lanes>(l: L, w: L::U) -> L::F {
    let hi = l.i32_to_f32(l.shr::<8>(w));
    let lo = l.i32_to_f32(l.and_u(w, l.splat_u(0xff)));
    let sum = l.add(l.mul(hi, l.splat(256.0)), l.add(lo, l.splat(0.5)));
    l.mul(sum, l.splat(f32::from_bits(0x2f80_0000))) // 2⁻³²
}

/// Natural logarithm of u ∈ [2⁻³³, 1] (positive, normal, finite) as an unevaluated sum
/// hi + lo with |lo| ≤ ½ulp(hi), within 2⁻²⁵ relative of ln u (error-free transformations
/// around the leading terms; only the small correction terms round).
#[inline(always)]
pub fn ln_lanes<L: Lanes>(l: L, u: L::F) -> (L::F, L::F) {
    // Shift the bits so that the exponent field rounds m into [√½, √2).
    let ix = l.add_u(l.f32_to_bits(u), l.splat_u(0x3f80_0000 - 0x3f35_04f3));
    let k = l.i32_to_f32(l.sub_u(l.shr::<23>(ix), l.splat_u(127)));
    let m = l.bits_to_f32(l.add_u(l.and_u(ix, l.splat_u(0x007f_ffff)), l.splat_u(0x3f35_04f3)));
    let f = l.sub(m, l.splat(1.0)); // exact: m ∈ [½, 2]
    let s = l.div(f, l.add(l.splat(2.0), f));
    let z = l.mul(s, s);
    let p = l.fma(z, l.splat(LG4), l.splat(LG3));
    let p = l.fma(z, p, l.splat(LG2));
    let p = l.fma(z, p, l.splat(LG1));
    let r = l.mul(z, p);
    // ½f² = h + h_lo exactly.
    let hf = l.mul(l.splat(0.5), f);
    let h = l.mul(hf, f);
    let h_lo = l.fma(hf, f, l.sub(l.splat(0.0), h));
    // f − h = a + b exactly (Fast2Sum: |f| ≥ |h|).
    let a = l.sub(f, h);
    let b = l.sub(l.sub(f, a), h);
    let small = l.add(
        l.fma(s, l.add(h, r), l.mul(k, l.splat(LN2_LO))),
        l.sub(b, h_lo),
    );
    // k·ln2_hi + a = hi + e exactly (Fast2Sum: k = 0, or |k·ln2_hi| ≥ ln 2 > |a|).
    let kh = l.mul(k, l.splat(LN2_HI)); // exact: LN2_HI has 17 bits, |k| ≤ 34
    let hi = l.add(kh, a);
    let e = l.add(l.sub(kh, hi), a);
    let lo = l.add(e, small);
    // Renormalise so that |lo| ≤ ½ulp(hi): the square root's one-step correction needs it.
    let sum = l.add(hi, lo);
    (sum, l.add(l.sub(hi, sum), lo))
}

/// The 24-bit odd angle numerator a = (w ≫ 8) | 1 of the module docs (θ = 2π·a/2²⁴).
#[inline(always)]
pub fn angle_numerator_lanes<L: Lanes>(l: L, w: L::U) -> L::U {
    l.or_u(l.shr::<8>(w), l.splat_u(1))
}

/// The pieces of sin and cos of 2π·a/2²⁴ after the exact quadrant reduction:
/// θ = 2π(q/4 + x), sin(2πx) = S1_HI·x + x·p, cos(2πx) = 1 + x²·c.
struct Turn<L: Lanes> {
    q: L::U,
    x: L::F,
    x2: L::F,
    p: L::F,
    c: L::F,
}

#[inline(always)]
fn turn_lanes<L: Lanes>(l: L, a: L::U) -> Turn<L> {
    let q = l.shr::<22>(l.add_u(a, l.splat_u(1 << 21)));
    let d = l.sub_u(a, l.shl::<22>(q));
    let x = l.mul(l.i32_to_f32(d), l.splat(f32::from_bits(0x3380_0000))); // 2⁻²⁴, exact
    let x2 = l.mul(x, x);
    let p = l.fma(x2, l.splat(S9), l.splat(S7));
    let p = l.fma(x2, p, l.splat(S5));
    let p = l.fma(x2, p, l.splat(S3));
    let p = l.fma(x2, p, l.splat(S1_LO));
    let c = l.fma(x2, l.splat(C10), l.splat(C8));
    let c = l.fma(x2, c, l.splat(C6));
    let c = l.fma(x2, c, l.splat(C4));
    let c = l.fma(x2, c, l.splat(C2));
    Turn { q, x, x2, p, c }
}

/// Rotates (c, s) = (cos, sin) of the reduced angle by q quarter turns: odd q swaps them,
/// and the sign bits come from q's bits.
#[inline(always)]
fn rotate_lanes<L: Lanes>(l: L, q: L::U, c: L::F, s: L::F) -> (L::F, L::F) {
    let one = l.splat_u(1);
    let swap = l.eq_u(l.and_u(q, one), one);
    let (c0, s0) = (l.select(swap, s, c), l.select(swap, c, s));
    let two = l.splat_u(2);
    let cos_sign = l.shl::<30>(l.and_u(l.add_u(q, one), two));
    let sin_sign = l.shl::<30>(l.and_u(q, two));
    (
        l.bits_to_f32(l.xor_u(l.f32_to_bits(c0), cos_sign)),
        l.bits_to_f32(l.xor_u(l.f32_to_bits(s0), sin_sign)),
    )
}

/// (cos θ, sin θ) for θ = 2π·a/2²⁴, a a 24-bit angle numerator, each rounded to f32.
#[inline(always)]
pub fn cos_sin_turn_lanes<L: Lanes>(l: L, a: L::U) -> (L::F, L::F) {
    let tn = turn_lanes(l, a);
    let sin = l.fma(tn.x, l.splat(S1_HI), l.mul(tn.x, tn.p));
    let cos = l.fma(tn.x2, tn.c, l.splat(1.0));
    rotate_lanes(l, tn.q, cos, sin)
}

/// Two standard normals from the word pair (radius word, angle word).
///
/// The radius is carried as r + r_lo (from the double-f32 logarithm and one Newton
/// correction of the square root), and r·cos, r·sin are formed with fused operations around
/// the polynomials' leading terms, so that the output rounds essentially once.
#[inline(always)]
pub fn box_muller_lanes<L: Lanes>(l: L, radius_word: L::U, angle_word: L::U) -> (L::F, L::F) {
    let u = radius_uniform_lanes(l, radius_word);
    let (ln_hi, ln_lo) = ln_lanes(l, u);
    let t_hi = l.mul(ln_hi, l.splat(-2.0));
    let t_lo = l.mul(ln_lo, l.splat(-2.0));
    let r = l.sqrt(t_hi);
    // r_lo = (t − r²)/(2r); t − r² = fma(−r, r, t_hi) + t_lo, the fma exact for a square root.
    let residual = l.add(l.fma(l.sub(l.splat(0.0), r), r, t_hi), t_lo);
    // u = 1 gives t = −0 and r = −0: no correction there (and no 0/0).
    let r_is_zero = l.eq_u(
        l.and_u(l.f32_to_bits(r), l.splat_u(0x7fff_ffff)),
        l.splat_u(0),
    );
    let r_lo = l.select(r_is_zero, l.splat(0.0), l.div(residual, l.add(r, r)));

    let tn = turn_lanes(l, angle_numerator_lanes(l, angle_word));
    let sin = l.fma(tn.x, l.splat(S1_HI), l.mul(tn.x, tn.p));
    let cos = l.fma(tn.x2, tn.c, l.splat(1.0));
    // r·sin(2πx) = (rx + rx_lo)·(S1_HI + p/1) + r_lo·sin, rx + rx_lo = r·x exactly.
    let rx = l.mul(r, tn.x);
    let rx_lo = l.fma(r, tn.x, l.sub(l.splat(0.0), rx));
    let r_sin = l.fma(
        rx,
        l.splat(S1_HI),
        l.fma(rx, tn.p, l.fma(rx_lo, l.splat(S1_HI), l.mul(r_lo, sin))),
    );
    // r·cos(2πx) = r + (r·x²·c + r_lo·cos).
    let r_cos = l.add(r, l.fma(l.mul(r, tn.x2), tn.c, l.mul(r_lo, cos)));
    rotate_lanes(l, tn.q, r_cos, r_sin)
}

/// The four normals of one Philox block (w0, w1, w2, w3), in word order.
#[inline(always)]
pub fn normals_from_block_lanes<L: Lanes>(l: L, w: [L::U; 4]) -> [L::F; 4] {
    let (z0, z1) = box_muller_lanes(l, w[0], w[1]);
    let (z2, z3) = box_muller_lanes(l, w[2], w[3]);
    [z0, z1, z2, z3]
}

/// Scalar [`box_muller_lanes`]: (r·cos θ, r·sin θ).
pub fn box_muller(radius_word: u32, angle_word: u32) -> (f32, f32) {
    box_muller_lanes(Scalar, radius_word, angle_word)
}

/// Scalar [`radius_uniform_lanes`].
pub fn radius_uniform(w: u32) -> f32 {
    radius_uniform_lanes(Scalar, w)
}

/// Scalar [`ln_lanes`] (valid on [2⁻³³, 1]): ln u ≈ hi + lo.
pub fn ln(u: f32) -> (f32, f32) {
    ln_lanes(Scalar, u)
}

/// Scalar [`angle_numerator_lanes`].
pub fn angle_numerator(w: u32) -> u32 {
    angle_numerator_lanes(Scalar, w)
}

/// Scalar [`cos_sin_turn_lanes`].
pub fn cos_sin_turn(a: u32) -> (f32, f32) {
    cos_sin_turn_lanes(Scalar, a)
}
