//! Prints ito's normals N(seed, stream, step, element) for elements 0 … n−1, one per line,
//! as f32 values written with 9 significant digits (enough to round-trip an f32). Used by
//! `scripts/make_fixtures.py` to hand ito's noise stream to the reference implementation.
//!
//! `cargo run --release --example print_normals -- SEED STREAM STEP N`

use ito::{fill_normal, Noise, NoiseKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        return Err("usage: print_normals SEED STREAM STEP N".into());
    }
    let key = NoiseKey {
        seed: args[0].parse()?,
        stream: args[1].parse()?,
        step: args[2].parse()?,
    };
    let n: usize = args[3].parse()?;
    let mut z = vec![0.0f32; n];
    fill_normal(z.as_mut_slice().into(), 0.0, 1.0, Noise { key, offset: 0 })?;
    for v in z {
        println!("{v:.9e}");
    }
    Ok(())
}
