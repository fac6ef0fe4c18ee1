//! The Langevin corrector on CUDA (pass 1, the device-side step size, pass 2), run on the CPU
//! through the host emulation, equals the scalar backend bit for bit: the per-sample norms,
//! ε for per-sample and batch-mean norms, and the updated state, over random sample counts
//! and lengths, storage types, values, noise keys and offsets.

#[path = "../../../tests/common/cases.rs"]
mod cases;
#[path = "../../../tests/common/mod.rs"]
mod common;

use cases::{dtype, noise, value};
use common::{first_difference, Buf};
use ito::diffusion::langevin::{langevin_step, Corrector, NormMode};
use ito::Backend;
use ito_cuda_emulation as emu;
use ito_kernels::langevin::Norms;
use proptest::prelude::*;

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

proptest! {
    // Pass 1 starts real threads per emulated block: fewer cases.
    #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

    #[test]
    fn langevin_on_cuda_equals_scalar(
        (samples, sample_len) in (0usize..5, prop_oneof![1usize..40, 200usize..700, Just(256usize * 3 + 5)]),
        xd in dtype(), sd in dtype(),
        values in prop::collection::vec(value(), 2 * 5 * 773 + 2),
        nz in noise(),
        snr in 0.0f64..0.5, alpha in 0.1f64..2.0, batch_mean in any::<bool>(),
    ) {
        let n = samples * sample_len;
        let score = Buf::from_f32s(sd, &values[..n]);
        let x0 = Buf::from_f32s(xd, &values[values.len() - n..]);
        // Pass 1.
        let mut want = vec![Norms::default(); samples];
        Backend::Scalar.langevin_norms(score.as_ref(), sample_len.max(1), nz, &mut want).unwrap();
        let mut got = vec![Norms::default(); samples];
        emu::langevin_norms(score.as_ref(), sample_len.max(1), nz, &mut got).unwrap();
        for (g, w) in got.iter().zip(&want) {
            prop_assert!(same(g.score_sq, w.score_sq) && same(g.noise_sq, w.noise_sq), "{:?} vs {:?}", g, w);
        }
        // The whole step.
        let c = Corrector { snr, alpha, norms: if batch_mean { NormMode::BatchMean } else { NormMode::PerSample } };
        let mut x_ref = x0.clone();
        let cpu = langevin_step(Backend::Scalar, x_ref.as_mut(), score.as_ref(), sample_len.max(1), &c, nz);
        let mut x = x0.clone();
        let (eps, written) = emu::langevin_step(x.as_mut(), score.as_ref(), sample_len.max(1), &c, nz).unwrap();
        // The host API refuses a non-finite ε (a zero or non-finite score norm) as an error
        // before writing; only finite steps are compared. A step whose result is not finite (an
        // f16 state past 65504) is written and then reported: its bits are compared too.
        match cpu {
            Ok(eps_ref) => {
                prop_assert_eq!(eps.len(), eps_ref.len());
                for (e, r) in eps.iter().zip(&eps_ref) {
                    prop_assert!(e.to_bits() == r.to_bits(), "ε {} vs {}", e, r);
                }
                prop_assert_eq!(first_difference(&x, &x_ref), None);
                prop_assert!(!written.nonfinite, "the CPU step was finite, the kernel reported otherwise");
            }
            Err(ito::Error::NonFinite { .. }) => {
                prop_assert_eq!(first_difference(&x, &x_ref), None);
                prop_assert!(written.nonfinite, "the CPU step reported a non-finite x, the kernel did not");
            }
            Err(_) => {
                prop_assert!(eps.iter().any(|e| !e.is_finite() || !(*e as f32).is_finite()), "{:?}", eps);
                prop_assert!(written.nonfinite, "a step size that is not finite is reported");
            }
        }
    }
}
