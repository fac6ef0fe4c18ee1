//! The public kernel entry points: validate, pick the lanes, run in chunks.

use ito_kernels::brownian_tree::{BrownianTree, Term};
use ito_kernels::check_len;
use ito_kernels::fill_normal::FillNormal;
use ito_kernels::lanes::{Lanes, LanesFn};
use ito_kernels::langevin::{combine_norms, Corrector, LangevinNorms, NormMode, Norms};
use ito_kernels::lincomb::{Lincomb, LincombCoefs, Noise};
use ito_kernels::milstein::Milstein;
use ito_kernels::noise::NoiseKey;
use ito_kernels::ou_bank::{OuBank, OuBankCoefs};
use ito_kernels::reduce::{Reduce, SegmentStats};
use ito_kernels::storage::{TensorMut, TensorRef};
use rayon::prelude::*;

use crate::runtime::backend::{backend, Backend};
use crate::runtime::exec::{run_chunked, CpuLanes, Splittable, CHUNK};
use crate::runtime::Error;

impl Splittable for Lincomb<'_> {
    fn len(&self) -> usize {
        Lincomb::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        Lincomb::split_at(self, mid)
    }
    #[inline(always)]
    fn run<L: Lanes>(&mut self, l: L) -> bool {
        Lincomb::run(self, l)
    }
}

impl Splittable for FillNormal<'_> {
    fn len(&self) -> usize {
        FillNormal::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        FillNormal::split_at(self, mid)
    }
    #[inline(always)]
    fn run<L: Lanes>(&mut self, l: L) -> bool {
        FillNormal::run(self, l)
    }
}

impl Splittable for BrownianTree<'_> {
    fn len(&self) -> usize {
        BrownianTree::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        BrownianTree::split_at(self, mid)
    }
    #[inline(always)]
    fn run<L: Lanes>(&mut self, l: L) -> bool {
        BrownianTree::run(self, l)
    }
}

impl Splittable for OuBank<'_> {
    fn len(&self) -> usize {
        OuBank::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        OuBank::split_at(self, mid)
    }
    #[inline(always)]
    fn run<L: Lanes>(&mut self, l: L) -> bool {
        OuBank::run(self, l)
    }
}

impl Splittable for Milstein<'_> {
    fn len(&self) -> usize {
        Milstein::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        Milstein::split_at(self, mid)
    }
    #[inline(always)]
    fn run<L: Lanes>(&mut self, l: L) -> bool {
        Milstein::run(self, l)
    }
}

/// What a driver does when one of its passes stores a value that is not finite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnNonFinite {
    /// Return [`Error::NonFinite`] naming the step, the buffer and the first bad element (the
    /// pass has written its outputs).
    #[default]
    Error,
    /// Keep going with IEEE propagation (NaN and ∞ flow on, as in plain arithmetic).
    Propagate,
}

impl OnNonFinite {
    /// A driver's step result under this policy (a driver applies it after moving on, since a
    /// [`Error::NonFinite`] comes after the write): an [`Error::NonFinite`] gets the driver's
    /// `step` (when the pass did not know it) and is kept ([`OnNonFinite::Error`]) or dropped
    /// ([`OnNonFinite::Propagate`]); every other result passes through.
    pub fn filter(self, r: Result<(), Error>, step: u64) -> Result<(), Error> {
        match r {
            Err(Error::NonFinite { .. }) if self == OnNonFinite::Propagate => Ok(()),
            Err(Error::NonFinite {
                step: None,
                buffer,
                index,
                value,
            }) => Err(Error::NonFinite {
                step: Some(step),
                buffer,
                index,
                value,
            }),
            other => other,
        }
    }
}

/// What a pass reports about the values it stored, from the pass itself (no extra pass: one
/// fused multiply-add per stored f32 vector, a compare and an or for f16 and bf16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Some stored value is not finite: NaN, ±∞, or past the storage type's range (an f16
    /// from 65520 on rounds to ∞). [`Error::nonfinite_in`] finds the first.
    pub nonfinite: bool,
}

impl Written {
    /// `Ok` when every stored value is finite; else the [`Error::NonFinite`] naming `buffer`
    /// (just written, as `t`) at `step` and its first bad element (a scan on the error path
    /// only).
    pub fn check(
        self,
        step: Option<u64>,
        buffer: &'static str,
        t: TensorRef<'_>,
    ) -> Result<(), Error> {
        match self.nonfinite.then(|| Error::nonfinite_in(step, buffer, t)) {
            Some(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Both reports together (a value that is not finite in either).
    pub fn and(self, other: Written) -> Written {
        Written {
            nonfinite: self.nonfinite | other.nonfinite,
        }
    }
}

impl Backend {
    /// `ou_bank` on this backend: one exact step of the K OU planes in `state` (exact
    /// definition: [`ito_kernels::ou_bank`]; its constants are those of the OU bank's exact transition,
    /// `ito::sde::fbm::Transition`).
    pub fn ou_bank(
        self,
        state: TensorMut<'_>,
        k: usize,
        out: Option<TensorMut<'_>>,
        coefs: &OuBankCoefs,
        key: NoiseKey,
        offset: u64,
    ) -> Result<Written, Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_ou_bank(state, k, out, coefs, key, offset);
        }
        let lanes = CpuLanes::for_backend(self)?;
        Ok(Written {
            nonfinite: run_chunked(OuBank::new(state, k, out, coefs, key, offset)?, lanes),
        })
    }

    /// `milstein` on this backend (exact definition: [`ito_kernels::milstein`]; the SDE-level
    /// entry point is `ito::sde::milstein`).
    #[allow(clippy::too_many_arguments)]
    pub fn milstein(
        self,
        x: TensorMut<'_>,
        f: TensorRef<'_>,
        g: TensorRef<'_>,
        h: TensorRef<'_>,
        dt: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_milstein(x, f, g, h, dt, noise);
        }
        let lanes = CpuLanes::for_backend(self)?;
        Ok(Written {
            nonfinite: run_chunked(Milstein::new(x, f, g, h, dt, noise)?, lanes),
        })
    }

    /// `brownian_tree` on this backend: y\[i\] = Σⱼ cⱼ·N(seed, streamⱼ, stepⱼ, offset + i)
    /// (exact definition: [`ito_kernels::brownian_tree`]; the weights of a tree query come
    /// from a virtual Brownian tree's query, `ito::sde::BrownianTree::terms`).
    pub fn brownian_tree(
        self,
        y: TensorMut<'_>,
        seed: u64,
        terms: &[Term],
        offset: u64,
    ) -> Result<Written, Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_brownian_tree(y, seed, terms, offset);
        }
        let lanes = CpuLanes::for_backend(self)?;
        Ok(Written {
            nonfinite: run_chunked(BrownianTree::new(y, seed, terms, offset)?, lanes),
        })
    }

    /// `lincomb` on this backend (see [`lincomb`]).
    pub fn lincomb(
        self,
        y: TensorMut<'_>,
        y2: Option<TensorMut<'_>>,
        inputs: &[TensorRef<'_>],
        coefs: &LincombCoefs,
        noise: Option<Noise>,
    ) -> Result<Written, Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_lincomb(y, y2, inputs, coefs, noise);
        }
        let lanes = CpuLanes::for_backend(self)?;
        Ok(Written {
            nonfinite: run_chunked(Lincomb::new(y, y2, inputs, coefs, noise)?, lanes),
        })
    }

    /// One `lincomb` per sample of `sample_len` elements (of `y` and of every input), sample b
    /// with the coefficients and noise `per_sample(b)` gives: the per-sample coefficients of a
    /// corrector step or of scalar noise. On the CPU, runs of samples go to rayon's pool by
    /// halving, as `run_chunked` splits elements (a run of at most [`CHUNK`] elements, or one
    /// sample, is one work item), so a batch of small samples is one parallel pass with no
    /// per-sample bookkeeping; no bit depends on the split (an element's value is a function
    /// of its inputs and global index alone). `sample_len` must be positive and divide
    /// `y.len()`. Check every sample's coefficients first where a partial write matters: a bad
    /// one is still a typed error (the lowest-index one, whatever the thread count), but other
    /// samples may have been written by then.
    pub fn lincomb_per_sample<F>(
        self,
        y: TensorMut<'_>,
        inputs: &[TensorRef<'_>],
        sample_len: usize,
        per_sample: F,
    ) -> Result<Written, Error>
    where
        F: Fn(usize) -> (LincombCoefs, Option<Noise>) + Sync,
    {
        if sample_len == 0 || y.len() % sample_len != 0 {
            return Err(Error::config(
                "sample_len",
                "a positive divisor of y's length",
                sample_len,
            ));
        }
        for (j, t) in inputs.iter().enumerate() {
            check_len("inputs", Some(j), y.len(), t.len())?;
        }
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            // One stream: the staged calls queue in order anyway.
            return self.lincomb_samples_in_order(y, inputs, 0, sample_len, &per_sample);
        }
        self.lincomb_samples(y, inputs, 0, sample_len, &per_sample)
    }

    /// [`Backend::lincomb_per_sample`]'s split: halves of the samples on `rayon::join`.
    fn lincomb_samples<F>(
        self,
        y: TensorMut<'_>,
        inputs: &[TensorRef<'_>],
        first: usize,
        sample_len: usize,
        per_sample: &F,
    ) -> Result<Written, Error>
    where
        F: Fn(usize) -> (LincombCoefs, Option<Noise>) + Sync,
    {
        let samples = y.len().checked_div(sample_len).unwrap_or(0);
        if samples <= 1 || y.len() <= CHUNK {
            return self.lincomb_samples_in_order(y, inputs, first, sample_len, per_sample);
        }
        let mid = samples / 2;
        let (y_left, y_right) = y.split_at(mid * sample_len);
        let (left, right): (Vec<_>, Vec<_>) =
            inputs.iter().map(|t| t.split_at(mid * sample_len)).unzip();
        let (a, b) = rayon::join(
            || self.lincomb_samples(y_left, &left, first, sample_len, per_sample),
            || self.lincomb_samples(y_right, &right, first + mid, sample_len, per_sample),
        );
        // The lowest-index error whatever the split; else both reports.
        Ok(a?.and(b?))
    }

    /// Samples `first …` of [`Backend::lincomb_per_sample`], one call after another.
    fn lincomb_samples_in_order<F>(
        self,
        y: TensorMut<'_>,
        inputs: &[TensorRef<'_>],
        first: usize,
        sample_len: usize,
        per_sample: &F,
    ) -> Result<Written, Error>
    where
        F: Fn(usize) -> (LincombCoefs, Option<Noise>),
    {
        let samples = y.len().checked_div(sample_len).unwrap_or(0);
        let (mut y, mut rest) = (y, inputs.to_vec());
        let mut sample_inputs = Vec::with_capacity(rest.len());
        let mut written = Written::default();
        for b in first..first + samples {
            let (y_sample, y_rest) = y.split_at(sample_len);
            sample_inputs.clear();
            for t in rest.iter_mut() {
                let (t_sample, t_rest) = t.split_at(sample_len);
                sample_inputs.push(t_sample);
                *t = t_rest;
            }
            let (coefs, noise) = per_sample(b);
            written = written.and(self.lincomb(y_sample, None, &sample_inputs, &coefs, noise)?);
            y = y_rest;
        }
        Ok(written)
    }

    /// `fill_normal` on this backend (see [`fill_normal`]).
    pub fn fill_normal(
        self,
        y: TensorMut<'_>,
        mean: f32,
        std: f32,
        noise: Noise,
    ) -> Result<Written, Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_fill_normal(y, mean, std, noise);
        }
        let lanes = CpuLanes::for_backend(self)?;
        Ok(Written {
            nonfinite: run_chunked(FillNormal::new(y, mean, std, noise)?, lanes),
        })
    }

    /// `reduce` on this backend (see [`reduce`]).
    pub fn reduce(
        self,
        x: TensorRef<'_>,
        y: Option<TensorRef<'_>>,
        segment_len: usize,
        out: &mut [SegmentStats],
    ) -> Result<(), Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_reduce(x, y, segment_len, out);
        }
        let lanes = CpuLanes::for_backend(self)?;
        let r = Reduce::new(x, y, segment_len)?;
        check_len("out", None, r.segments(), out.len())?;
        let per_seg = r.leaves_per_segment();
        if per_seg == 1 {
            // Short segments: one work item holds many whole segments.
            let segs_per_item = (CHUNK / segment_len).max(1);
            out.par_chunks_mut(segs_per_item)
                .enumerate()
                .for_each(|(c, o)| {
                    lanes.with(Leaves {
                        r: &r,
                        first: c * segs_per_item,
                        out: o,
                        per_seg,
                    });
                });
        } else {
            // Long segments: leaves in parallel, then each segment's leaves combined.
            let mut leaves = vec![SegmentStats::default(); r.segments() * per_seg];
            let leaves_per_item = (CHUNK / ito_kernels::reduce::LEAF).max(1);
            leaves
                .par_chunks_mut(leaves_per_item)
                .enumerate()
                .for_each(|(c, o)| {
                    lanes.with(Leaves {
                        r: &r,
                        first: c * leaves_per_item,
                        out: o,
                        per_seg,
                    });
                });
            out.par_iter_mut()
                .zip(leaves.par_chunks_mut(per_seg))
                .for_each(|(o, seg)| {
                    *o = ito_kernels::reduce::combine_leaves(seg);
                });
        }
        Ok(())
    }
}

impl Backend {
    /// `langevin` pass 1 on this backend: per sample of `sample_len` elements, ‖score‖² and
    /// ‖z‖² with z regenerated from `noise` (exact definition: [`ito_kernels::langevin`]).
    pub fn langevin_norms(
        self,
        score: TensorRef<'_>,
        sample_len: usize,
        noise: Noise,
        out: &mut [Norms],
    ) -> Result<(), Error> {
        #[cfg(feature = "cuda")]
        if self == Backend::Cuda {
            return crate::runtime::cuda::staging::host_langevin_norms(
                score, sample_len, noise, out,
            );
        }
        let lanes = CpuLanes::for_backend(self)?;
        let k = LangevinNorms::new(score, sample_len, noise)?;
        check_len("out", None, k.samples(), out.len())?;
        let per = k.leaves_per_sample();
        let mut leaves = vec![Norms::default(); k.samples() * per];
        let leaves_per_item = (CHUNK / ito_kernels::reduce::LEAF).max(1);
        leaves
            .par_chunks_mut(leaves_per_item)
            .enumerate()
            .for_each(|(c, o)| {
                lanes.with(NormLeaves {
                    k: &k,
                    first: c * leaves_per_item,
                    out: o,
                    per,
                });
            });
        out.par_iter_mut()
            .zip(leaves.par_chunks_mut(per))
            .for_each(|(o, s)| *o = combine_norms(s));
        Ok(())
    }

    /// One Langevin corrector step on this backend over samples of `sample_len` elements
    /// (the corrector of Song et al.'s PC samplers), never storing its noise: pass 1
    /// ([`Backend::langevin_norms`]) gives each sample's ‖score‖ and ‖z‖, the step size
    /// ε = 2α·(r·‖z‖/‖score‖)² follows ([`Corrector::step_size`], per sample or from the batch
    /// means), and pass 2 applies x ← x + ε·score + √(2ε)·z with the same z, regenerated. The
    /// noise of element i is N(key, noise.offset + i). Returns the ε of each sample; a sample
    /// whose ε is not finite (a zero or non-finite score norm) is an error, reported before
    /// anything is written; an updated x that is not finite is an [`Error::NonFinite`] after
    /// the write (from pass 2's own report).
    pub fn langevin_step(
        self,
        mut x: TensorMut<'_>,
        score: TensorRef<'_>,
        sample_len: usize,
        c: &Corrector,
        noise: Noise,
    ) -> Result<Vec<f64>, Error> {
        c.check()?;
        if x.len() != score.len() {
            return Err(Error::config("score", "as long as x", score.len()));
        }
        let samples = x.len().checked_div(sample_len).unwrap_or(0);
        let mut norms = vec![Norms::default(); samples];
        self.langevin_norms(score, sample_len, noise, &mut norms)?;
        let (sn, zn): (Vec<f64>, Vec<f64>) = norms
            .iter()
            .map(|n| (f64::from(n.score_sq).sqrt(), f64::from(n.noise_sq).sqrt()))
            .unzip();
        let eps: Vec<f64> = match c.norms {
            NormMode::PerSample => sn
                .iter()
                .zip(&zn)
                .map(|(&s, &z)| c.step_size(s, z))
                .collect(),
            NormMode::BatchMean => {
                let m = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
                vec![c.step_size(m(&sn), m(&zn)); samples]
            }
        };
        // A zero or non-finite score norm gives a step size that is no step: report it before
        // anything is written (the CUDA kernel, which cannot report, leaves such a sample as it is).
        if let Some((b, e)) = eps
            .iter()
            .enumerate()
            .find(|(_, &e)| !((e as f32).is_finite() && ((2.0 * e).sqrt() as f32).is_finite()))
        {
            return Err(Error::config(
                "score",
                "score norms that give a finite step size ε (non-zero, finite)",
                format!("sample {b}: ε = {e}"),
            ));
        }
        let written = self.lincomb_per_sample(x.reborrow(), &[score], sample_len, |b| {
            let e = eps[b];
            let mut coefs = LincombCoefs {
                y: 1.0,
                noise: (2.0 * e).sqrt() as f32,
                ..Default::default()
            };
            coefs.inputs[0] = e as f32;
            let key = Noise {
                key: noise.key,
                offset: noise.offset + (b * sample_len) as u64,
            };
            (coefs, Some(key))
        })?;
        written.check(None, "x", x.as_ref())?;
        Ok(eps)
    }
}

/// Computes Langevin norm leaves `first … first + out.len() − 1`, numbered across samples.
struct NormLeaves<'r, 'a, 'o> {
    k: &'r LangevinNorms<'a>,
    first: usize,
    out: &'o mut [Norms],
    per: usize,
}

impl LanesFn for NormLeaves<'_, '_, '_> {
    type Output = ();
    #[inline(always)]
    fn call<L: Lanes>(self, l: L) {
        for (j, o) in self.out.iter_mut().enumerate() {
            let g = self.first + j;
            *o = self.k.leaf(l, g / self.per, g % self.per);
        }
    }
}

/// Computes leaves `first … first + out.len() − 1`, numbered across segments.
struct Leaves<'r, 'a, 'o> {
    r: &'r Reduce<'a>,
    first: usize,
    out: &'o mut [SegmentStats],
    per_seg: usize,
}

impl LanesFn for Leaves<'_, '_, '_> {
    type Output = ();
    #[inline(always)]
    fn call<L: Lanes>(self, l: L) {
        for (k, o) in self.out.iter_mut().enumerate() {
            let g = self.first + k;
            *o = self.r.leaf(l, g / self.per_seg, g % self.per_seg);
        }
    }
}

/// The fused linear combination, on the selected backend:
/// `y ← c_y·y + Σ cⱼ·aⱼ + (c_z + Σ eⱼ·aⱼ)·N` and optionally `y2 ← d_y·y + Σ dⱼ·aⱼ`,
/// in one pass (exact definition: [`ito_kernels::lincomb`]). The pass reports whether it stored
/// a value that is not finite ([`Written`]).
pub fn lincomb(
    y: TensorMut<'_>,
    y2: Option<TensorMut<'_>>,
    inputs: &[TensorRef<'_>],
    coefs: &LincombCoefs,
    noise: Option<Noise>,
) -> Result<Written, Error> {
    backend()?.lincomb(y, y2, inputs, coefs, noise)
}

/// `y[i] = mean + std·N(key, noise.offset + i)`, on the selected backend (with the pass's
/// non-finite report, [`Written`]).
pub fn fill_normal(y: TensorMut<'_>, mean: f32, std: f32, noise: Noise) -> Result<Written, Error> {
    backend()?.fill_normal(y, mean, std, noise)
}

/// Per-segment Σx², Σx·y and max|x| over `x` cut into segments of `segment_len`, in the
/// fixed order of [`ito_kernels::reduce`]; `out` has one entry per segment.
pub fn reduce(
    x: TensorRef<'_>,
    y: Option<TensorRef<'_>>,
    segment_len: usize,
    out: &mut [SegmentStats],
) -> Result<(), Error> {
    backend()?.reduce(x, y, segment_len, out)
}
