//! Philox4x32 against the published Random123 known-answer vectors, and the
//! (seed, stream, step, element) → (key, counter) layout against the derived examples.
//! Both files are copies of `shared/data/` with their provenance headers.

use ito::runtime::rng::{philox4x32, philox4x32_10, NoiseKey};

fn hex32(s: &str) -> u32 {
    u32::from_str_radix(s, 16).unwrap()
}

#[test]
fn every_published_philox4x32_vector_matches() {
    let text = include_str!("data/philox_kat.txt");
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = f.first() else { continue };
        let rounds = match *name {
            "philox4x32_10" => 10,
            "philox4x32_7" => 7,
            _ => continue,
        };
        let w: Vec<u32> = f[1..].iter().map(|s| hex32(s)).collect();
        assert_eq!(w.len(), 10, "{line}");
        let ctr = [w[0], w[1], w[2], w[3]];
        let key = [w[4], w[5]];
        let expected = [w[6], w[7], w[8], w[9]];
        let got = if rounds == 10 {
            philox4x32_10(ctr, key)
        } else {
            philox4x32::<7>(ctr, key)
        };
        assert_eq!(got, expected, "{line}");
        checked += 1;
    }
    assert_eq!(
        checked, 6,
        "the file holds three 4x32-10 and three 4x32-7 vectors"
    );
}

#[test]
fn layout_matches_the_curand_compatible_examples() {
    let text = include_str!("data/philox_layout_examples.txt");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split('|').collect();
        let a: Vec<&str> = parts[0].split_whitespace().collect();
        let key = NoiseKey {
            seed: u64::from_str_radix(a[0], 16).unwrap(),
            stream: hex32(a[1]),
            step: hex32(a[2]),
        };
        let block = u64::from_str_radix(a[3], 16).unwrap();
        let b: Vec<u32> = parts[1].split_whitespace().map(hex32).collect();
        let c: Vec<u32> = parts[2].split_whitespace().map(hex32).collect();
        assert_eq!(key.counter(block), [b[0], b[1], b[2], b[3]], "{line}");
        assert_eq!(key.key(), [b[4], b[5]], "{line}");
        assert_eq!(key.block_words(block), [c[0], c[1], c[2], c[3]], "{line}");
        checked += 1;
    }
    assert_eq!(checked, 10);
}
