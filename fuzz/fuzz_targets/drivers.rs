//! The host drivers over the kernels, robust and differential: score-SDE's predictor–corrector
//! sampler, NCSN's annealed Langevin dynamics, the Langevin–Gibbs sweep, a Brownian sweep and
//! the SDE steppers, with arbitrary settings, lengths and inputs, either run or return a typed
//! error — never a panic — and every SIMD backend (chosen with `ito::set_backend`) gives the
//! scalar backend's bits and errors.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{simd_backends, Bytes};
use ito::diffusion::langevin::{
    AnnealedLangevin, Corrector, LangevinGibbs, NormMode, PcSampler, Predictor,
};
use ito::sde;
use ito::NoiseSource;
use ito::{Backend, BrownianSweep, BrownianTree, Error, Schedule};
use libfuzzer_sys::fuzz_target;

/// Most driver calls a case makes (the loops stop there, finished or not).
const MAX_CALLS: usize = 64;

/// f32 results as f64 (exact), so that they sit beside the f64 ones (the Gibbs levels).
fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// The same bits, or both NaN (payloads aside, as the contract says).
fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn values(b: &mut Bytes, n: usize) -> Vec<f32> {
    (0..n).map(|_| b.value()).collect()
}

fn corrector(b: &mut Bytes) -> Option<Corrector> {
    (b.u8() % 3 != 0).then(|| Corrector {
        snr: b.f64(),
        alpha: b.f64(),
        norms: if b.u8() & 1 == 0 {
            NormMode::PerSample
        } else {
            NormMode::BatchMean
        },
    })
}

fn pc_sampler(b: &mut Bytes) -> Result<Vec<f64>, Error> {
    let schedule = if b.u8() & 1 == 0 {
        Schedule::vp_linear(b.f64(), b.f64())?
    } else {
        Schedule::ve(b.f64(), b.f64())?
    };
    let steps = (b.u8() % 40) as usize;
    let t_end = b.f64();
    let predictor = [
        Predictor::ReverseDiffusion,
        Predictor::EulerMaruyama,
        Predictor::None,
    ][(b.u8() % 3) as usize];
    let corrector = corrector(b);
    let corrector_steps = (b.u8() % 3) as usize;
    let sample_len = (b.u8() % 9) as usize;
    let n = sample_len * (b.u8() % 4) as usize + (b.u8() % 2) as usize;
    let mut s = PcSampler::new(ito::diffusion::langevin::PcConfig {
        schedule,
        steps,
        t_end,
        predictor,
        corrector,
        corrector_steps,
        len: n,
        sample_len,
        noise: ito::NoiseSource::new(b.u64()),
    })?;
    for _ in 0..MAX_CALLS {
        if s.next_eval().is_none() {
            break;
        }
        let score = values(b, n);
        s.advance(score.as_slice().into())?;
    }
    Ok(widen(s.state()))
}

fn annealed(b: &mut Bytes) -> Result<Vec<f64>, Error> {
    let n = (b.u8() % 48) as usize;
    let (levels, steps, epsilon, denoise) = (
        (b.u8() % 6) as usize,
        (b.u8() % 4) as usize,
        b.f64(),
        b.u8() & 1 == 1,
    );
    let mut s = if b.u8() & 1 == 0 {
        AnnealedLangevin::new(ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Geometric {
                sigma_max: b.f64(),
                sigma_min: b.f64(),
                levels,
            },
            steps_per_level: steps,
            epsilon,
            denoise,
            len: n,
            noise: ito::NoiseSource::new(b.u64()),
        })?
    } else {
        let sigmas = (0..levels).map(|_| b.f64()).collect();
        AnnealedLangevin::new(ito::diffusion::langevin::AnnealedConfig {
            levels: ito::diffusion::langevin::NoiseLevels::Given(sigmas),
            steps_per_level: steps,
            epsilon,
            denoise,
            len: n,
            noise: ito::NoiseSource::new(b.u64()),
        })?
    };
    for _ in 0..MAX_CALLS {
        if s.next_eval().is_none() {
            break;
        }
        let score = values(b, n);
        s.advance(score.as_slice().into())?;
    }
    Ok(widen(s.state()))
}

fn gibbs(b: &mut Bytes) -> Result<Vec<f64>, Error> {
    let sample_len = (b.u8() % 9) as usize;
    let samples = (b.u8() % 5) as usize;
    // Sometimes one element or one level too many (typed errors).
    let x_len = sample_len * samples + (b.u8() % 2) as usize;
    let x = values(b, x_len);
    let t_len = samples + (b.u8() % 2) as usize;
    let t = (0..t_len).map(|_| b.f64()).collect();
    let t_range = (b.f64(), b.f64());
    let mut s = LangevinGibbs::new(ito::diffusion::langevin::GibbsConfig {
        x,
        sample_len,
        t,
        t_range,
        step_x: b.f64(),
        step_t: b.f64(),
        noise: ito::NoiseSource::new(b.u64()),
    })?;
    for _ in 0..(b.u8() % 8) {
        let score_x = values(b, s.state().len());
        s.step_x(score_x.as_slice().into())?;
        let score_t: Vec<f64> = (0..s.levels().len()).map(|_| b.f64()).collect();
        s.step_t(&score_t)?;
    }
    let mut out = widen(s.state());
    out.extend_from_slice(s.levels());
    Ok(out)
}

fn sweep(b: &mut Bytes) -> Result<Vec<f64>, Error> {
    let (seed, stream, t0, t1) = (b.u64(), b.u32(), b.f64(), b.f64());
    let tree = if b.u8() & 1 == 0 {
        BrownianTree::new(ito::NoiseSource::new(seed).with_stream(stream), t0, t1)
            .and_then(|t| t.with_depth(b.u8() as u32 % 34))?
    } else {
        BrownianTree::new(ito::NoiseSource::new(seed).with_stream(stream), t0, t1)
            .and_then(|t| t.with_tolerance(b.f64()))?
    };
    let times: Vec<f64> = (0..b.u8() % 12).map(|_| b.f64()).collect();
    let n = (b.u8() % 40) as usize;
    let mut s = BrownianSweep::new(tree.with_offset(b.u64()), &times, n)?;
    let mut out = Vec::new();
    let mut dw = vec![0.0f32; n];
    for _ in 0..MAX_CALLS {
        if !s.next_increment(dw.as_mut_slice().into())? {
            break;
        }
        out.extend(widen(&dw));
    }
    Ok(out)
}

fn steppers(b: &mut Bytes) -> Result<Vec<f64>, Error> {
    let n = (b.u8() % 40) as usize;
    let inc = NoiseSource {
        seed: b.u64(),
        stream: b.u32(),
        offset: b.u64() >> (b.u8() % 64),
    };
    let (dt, step) = (b.f64(), b.u32());
    let mut x = values(b, n);
    // Inputs are sometimes a different length (a typed error).
    let m = if b.u8() % 8 == 0 {
        (b.u8() % 40) as usize
    } else {
        n
    };
    let (f, g, h) = (values(b, m), values(b, m), values(b, m));
    let (xs, fs, gs, hs) = (x.as_slice(), f.as_slice(), g.as_slice(), h.as_slice());
    let mut y = x.clone();
    match b.u8() % 6 {
        0 => sde::euler_maruyama(y.as_mut_slice().into(), fs.into(), gs.into(), dt, inc, step)?,
        1 => sde::euler_maruyama_scalar_noise(
            y.as_mut_slice().into(),
            fs.into(),
            gs.into(),
            dt,
            inc,
            step,
            (b.u8() % 9) as usize,
        )?,
        2 => sde::milstein(
            y.as_mut_slice().into(),
            fs.into(),
            gs.into(),
            hs.into(),
            dt,
            inc,
            step,
        )?,
        3 => {
            sde::stochastic_heun_predict(
                y.as_mut_slice().into(),
                xs.into(),
                fs.into(),
                gs.into(),
                dt,
                inc,
                step,
            )?;
            sde::stochastic_heun_correct(
                x.as_mut_slice().into(),
                fs.into(),
                gs.into(),
                hs.into(),
                gs.into(),
                dt,
                inc,
                step,
            )?;
            y.extend_from_slice(&x);
        }
        4 => {
            sde::reversible_heun_forward(
                y.as_mut_slice().into(),
                xs.into(),
                fs.into(),
                gs.into(),
                dt,
                inc,
                step,
            )?;
            sde::reversible_heun_correct(
                x.as_mut_slice().into(),
                fs.into(),
                gs.into(),
                hs.into(),
                gs.into(),
                dt,
                inc,
                step,
            )?;
            y.extend_from_slice(&x);
        }
        _ => sde::reversible_heun_reverse(
            y.as_mut_slice().into(),
            xs.into(),
            hs.into(),
            gs.into(),
            dt,
            inc,
            step,
        )?,
    }
    Ok(widen(&y))
}

fuzz_target!(|data: &[u8]| {
    let case = data.first().copied().unwrap_or(0) % 5;
    let run = |backend: Backend| -> Result<Vec<f64>, Error> {
        // A backend this machine lacks is a typed error; the callers only pass available ones.
        ito::set_backend(backend).unwrap();
        let mut b = Bytes(data.get(1..).unwrap_or(&[]));
        match case {
            0 => pc_sampler(&mut b),
            1 => annealed(&mut b),
            2 => gibbs(&mut b),
            3 => sweep(&mut b),
            _ => steppers(&mut b),
        }
    };
    let reference = run(Backend::Scalar);
    for backend in simd_backends() {
        match (&reference, run(backend)) {
            (Ok(a), Ok(x)) => {
                assert_eq!(a.len(), x.len(), "case {case} on {backend}: lengths");
                for (i, (p, q)) in a.iter().zip(&x).enumerate() {
                    assert!(
                        same_bits(*p, *q),
                        "case {case} on {backend}: element {i}: {p} vs {q}"
                    );
                }
            }
            (Err(e), Err(f)) => assert_eq!(e, &f, "case {case}: different errors"),
            (r, x) => panic!("case {case}: scalar gave {r:?}, {backend} gave {x:?}"),
        }
    }
});
