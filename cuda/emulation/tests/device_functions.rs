//! The CUDA device functions (Philox, the normal transform, the storage conversions), run on
//! the CPU, equal their Rust definitions bit for bit.

use ito_cuda_emulation as emu;
use ito_kernels::noise::NoiseKey;
use ito_kernels::normal;
use proptest::prelude::*;

#[test]
fn philox_words_equal_the_definition() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let key = NoiseKey {
            seed: x,
            stream: (x >> 7) as u32,
            step: (x >> 19) as u32,
        };
        let block = x.rotate_left(17) >> (x & 31);
        assert_eq!(
            emu::block_words(key.seed, key.stream, key.step, block),
            key.block_words(block),
            "{key:?} block {block}"
        );
    }
}

/// Radius words at both ends of the range (the tails and u = 1), powers of two, and a sweep
/// of angle words across all quadrant boundaries.
#[test]
fn box_muller_equals_the_definition_on_edge_words() {
    let mut radius: Vec<u32> = (0..1 << 16)
        .chain(u32::MAX - (1 << 16)..=u32::MAX)
        .collect();
    radius.extend((0..32).map(|k| 1u32 << k));
    for (n, &r) in radius.iter().enumerate() {
        let a = (n as u32).wrapping_mul(0x9e37_79b9) ^ (n as u32 >> 3);
        let got = emu::box_muller(r, a);
        let want = normal::box_muller(r, a);
        assert_eq!(
            (got.0.to_bits(), got.1.to_bits()),
            (want.0.to_bits(), want.1.to_bits()),
            "words ({r:#x}, {a:#x})"
        );
    }
    for a in (0..1u32 << 24).step_by(97).map(|k| k << 8) {
        let got = emu::box_muller(0x8000_0000, a);
        let want = normal::box_muller(0x8000_0000, a);
        assert_eq!(got.0.to_bits(), want.0.to_bits(), "angle word {a:#x}");
        assert_eq!(got.1.to_bits(), want.1.to_bits(), "angle word {a:#x}");
    }
}

#[test]
fn every_f16_and_bf16_widens_like_half() {
    for h in 0..=u16::MAX {
        let f = half::f16::from_bits(h).to_f32();
        assert_eq!(emu::f16_to_f32(h).to_bits(), f.to_bits(), "f16 {h:#06x}");
        // bf16 widening is the plain shift (a NaN keeps its payload bits as they are).
        assert_eq!(
            emu::bf16_to_f32(h).to_bits(),
            u32::from(h) << 16,
            "bf16 {h:#06x}"
        );
    }
}

/// Every f16 value, the midpoints and their neighbours (the rounding ties), subnormals,
/// overflow thresholds and NaNs.
#[test]
fn narrowing_equals_half_on_ties_and_edges() {
    let mut words: Vec<u32> = Vec::new();
    for h in 0..=u16::MAX {
        let f = half::f16::from_bits(h).to_f32().to_bits();
        for d in [0u32, 1, 0x1000, 0x0fff, 0x1001, 0x2000] {
            words.push(f.wrapping_add(d));
            words.push(f.wrapping_sub(d));
        }
        let b = u32::from(h) << 16;
        for d in [0u32, 1, 0x7fff, 0x8000, 0x8001, 0xffff] {
            words.push(b | d);
        }
    }
    for w in words {
        let v = f32::from_bits(w);
        assert_eq!(
            emu::f16_from_f32(v),
            half::f16::from_f32(v).to_bits(),
            "f16 of {w:#010x}"
        );
        assert_eq!(
            emu::bf16_from_f32(v),
            ito_kernels::storage::bf16_from_f32(v).to_bits(),
            "bf16 of {w:#010x}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn box_muller_equals_the_definition(r in any::<u32>(), a in any::<u32>()) {
        let got = emu::box_muller(r, a);
        let want = normal::box_muller(r, a);
        prop_assert_eq!((got.0.to_bits(), got.1.to_bits()), (want.0.to_bits(), want.1.to_bits()));
    }

    #[test]
    fn narrowing_equals_half(w in any::<u32>()) {
        let v = f32::from_bits(w);
        prop_assert_eq!(emu::f16_from_f32(v), half::f16::from_f32(v).to_bits());
        prop_assert_eq!(emu::bf16_from_f32(v), ito_kernels::storage::bf16_from_f32(v).to_bits());
    }
}
