//! What the kernels compute, against independent f64 references: a DPM-Solver++(2M) step
//! with an ε-model done as separate passes in f64 equals one fused `lincomb`; zero
//! coefficients leave their tensors unread; `reduce` matches f64 sums to its error bound.

use ito::{lincomb, reduce, LincombCoefs, Noise, NoiseKey, SegmentStats};

#[test]
fn dpmpp_2m_step_is_one_fused_call() {
    let n = 10_007;
    let (a_s, s_s, a_t, s_t) = (0.6f64, 0.8f64, 0.8f64, 0.6f64);
    let h = (a_t / s_t).ln() - (a_s / s_s).ln();
    let h_prev = 0.7 * h;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let eps: Vec<f32> = (0..n)
        .map(|i| ((i * 53) % 97) as f32 / 48.0 - 1.0)
        .collect();
    let x0_prev: Vec<f32> = (0..n)
        .map(|i| ((i * 11) % 89) as f32 / 44.0 - 1.0)
        .collect();

    // Reference, pass by pass in f64: x0 = (x − σ_s ε)/α_s; D = (1 + 1/2r) x0 − (1/2r) x0_prev;
    // x_t = (σ_t/σ_s) x − α_t (e^{−h} − 1) D.
    let r = h_prev / h;
    let x0_ref: Vec<f64> = x
        .iter()
        .zip(&eps)
        .map(|(&x, &e)| (x as f64 - s_s * e as f64) / a_s)
        .collect();
    let x_ref: Vec<f64> = (0..n)
        .map(|i| {
            let d = (1.0 + 0.5 / r) * x0_ref[i] - (0.5 / r) * x0_prev[i] as f64;
            (s_t / s_s) * x[i] as f64 - a_t * ((-h).exp() - 1.0) * d
        })
        .collect();

    let phi = -a_t * ((-h).exp() - 1.0);
    let mut c = LincombCoefs {
        y: (s_t / s_s + phi * (1.0 + 0.5 / r) / a_s) as f32,
        y2_y: (1.0 / a_s) as f32,
        ..Default::default()
    };
    c.inputs[0] = (-phi * (1.0 + 0.5 / r) * s_s / a_s) as f32;
    c.inputs[1] = (-phi * 0.5 / r) as f32;
    c.y2_inputs[0] = (-s_s / a_s) as f32;
    let mut xs = x.clone();
    let mut x0 = vec![0.0f32; n];
    lincomb(
        xs.as_mut_slice().into(),
        Some(x0.as_mut_slice().into()),
        &[eps.as_slice().into(), x0_prev.as_slice().into()],
        &c,
        None,
    )
    .unwrap();
    for i in 0..n {
        // f32 coefficients and four roundings: a few ulp of the largest term.
        assert!(
            (xs[i] as f64 - x_ref[i]).abs() < 2e-6 * (1.0 + x_ref[i].abs()),
            "x[{i}] {} vs {}",
            xs[i],
            x_ref[i]
        );
        assert!(
            (x0[i] as f64 - x0_ref[i]).abs() < 2e-6 * (1.0 + x0_ref[i].abs()),
            "x0[{i}] {} vs {}",
            x0[i],
            x0_ref[i]
        );
    }
}

#[test]
fn noise_term_matches_its_definition() {
    let n = 1000;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
    let key = NoiseKey {
        seed: 3,
        stream: 1,
        step: 4,
    };
    let mut c = LincombCoefs {
        y: 0.5,
        noise: 0.2,
        ..Default::default()
    };
    c.inputs[0] = 1.5;
    c.noise_inputs[0] = 0.3;
    let mut y = vec![2.0f32; n];
    lincomb(
        y.as_mut_slice().into(),
        None,
        &[a.as_slice().into()],
        &c,
        Some(Noise { key, offset: 77 }),
    )
    .unwrap();
    for i in 0..n {
        let z = ito::runtime::rng::normal(key, 77 + i as u64) as f64;
        let expect = 0.5 * 2.0 + 1.5 * a[i] as f64 + (0.2 + 0.3 * a[i] as f64) * z;
        assert!(
            (y[i] as f64 - expect).abs() < 1e-5 * (1.0 + expect.abs()),
            "{i}: {} vs {expect}",
            y[i]
        );
    }
}

#[test]
fn zero_coefficients_leave_tensors_unread() {
    let n = 77;
    let poison = vec![f32::NAN; n];
    let one = vec![1.0f32; n];
    let mut c = LincombCoefs::default(); // c_y = 0: y is write-only
    c.inputs[1] = 2.0; // input 0 has coefficient 0 everywhere
    let mut y = vec![f32::INFINITY; n];
    let mut y2 = vec![0.0f32; n];
    c.y2_inputs[1] = -1.0;
    lincomb(
        y.as_mut_slice().into(),
        Some(y2.as_mut_slice().into()),
        &[poison.as_slice().into(), one.as_slice().into()],
        &c,
        None,
    )
    .unwrap();
    assert!(y.iter().all(|&v| v == 2.0), "{y:?}");
    assert!(y2.iter().all(|&v| v == -1.0));
}

#[test]
fn reduce_matches_f64_sums() {
    for &(segments, len) in &[(3usize, 1usize), (2, 17), (4, 256), (2, 1000), (1, 100_003)] {
        let n = segments * len;
        let x: Vec<f32> = (0..n)
            .map(|i| (((i * 7919) % 2003) as f32 - 1001.0) / 37.0)
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| (((i * 104_729) % 1009) as f32 - 504.0) / 91.0)
            .collect();
        let mut out = vec![SegmentStats::default(); segments];
        reduce(
            x.as_slice().into(),
            Some(y.as_slice().into()),
            len,
            &mut out,
        )
        .unwrap();
        for (s, o) in out.iter().enumerate() {
            let seg = s * len..(s + 1) * len;
            let sq: f64 = x[seg.clone()].iter().map(|&v| (v as f64).powi(2)).sum();
            let xy: f64 = x[seg.clone()]
                .iter()
                .zip(&y[seg.clone()])
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum();
            let abs_xy: f64 = x[seg.clone()]
                .iter()
                .zip(&y[seg.clone()])
                .map(|(&a, &b)| (a as f64 * b as f64).abs())
                .sum();
            let mx = x[seg].iter().fold(0.0f32, |m, v| m.max(v.abs()));
            // Error bound of the order: (16 + log₂ leaves + 1)·u·Σ|terms|.
            let depth = 16.0 + (len as f64 / 256.0).log2().max(0.0) + 2.0;
            let u = f32::EPSILON as f64 / 2.0;
            assert!(
                (o.sum_sq as f64 - sq).abs() <= depth * u * sq,
                "Σx² {} vs {sq}",
                o.sum_sq
            );
            assert!(
                (o.sum_xy as f64 - xy).abs() <= depth * u * abs_xy,
                "Σxy {} vs {xy}",
                o.sum_xy
            );
            assert_eq!(o.max_abs, mx);
        }
    }
    let x = [1.0f32, f32::NAN, 3.0];
    let mut out = [SegmentStats::default()];
    reduce(x.as_slice().into(), None, 3, &mut out).unwrap();
    assert!(out[0].max_abs.is_nan() && out[0].sum_sq.is_nan() && out[0].sum_xy == 0.0);
}
