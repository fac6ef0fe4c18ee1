//! Brownian paths: a virtual Brownian tree, W(s, t) for any s < t in [t0, t1] as a pure
//! function of its noise source (seed, stream, offset) and (s, t) — the same bits for the same query, on every backend,
//! thread count and shard — after diffrax's `VirtualBrownianTree`, with Philox counters in
//! place of key splitting.
//!
//! # The tree
//!
//! Time is rescaled to r = (t − t0)/(t1 − t0) ∈ [0, 1] and W to √(t1 − t0) units.
//! - W(0) = 0 and W(1) = Z(node 0).
//! - Tree node k covers a dyadic interval [a, b] (heap numbering: node 1 is [0, 1], node k's
//!   halves are nodes 2k and 2k + 1; level ℓ holds nodes 2^ℓ … 2^(ℓ+1) − 1). Its midpoint
//!   m = (a + b)/2 takes the Brownian-bridge value
//!   W(m) = (W(a) + W(b))/2 + (√(b − a)/2)·Z(node k).
//! - A query r descends `depth` levels into the interval that contains it; at dyadic points
//!   (midpoints met on the way) it stops with that exact value. Inside the final interval
//!   [a, b] (node k) it takes one more bridge to r itself:
//!   W(r) = W(a) + (r − a)/(b − a)·(W(b) − W(a)) + √((r − a)(b − r)/(b − a))·Z(node c),
//!   where c ∈ [2^depth, 2^(depth+1)) is the child of k that contains r: the in-leaf normals
//!   take ids no bridge node has (bridges are < 2^depth), so the marginal of every W(r) is
//!   exact (N(0, r)), not only at dyadic points. (Refining a tree by one level turns leaf c's
//!   normal into node c's bridge normal, with the same weight at the leaf's midpoint: trees
//!   of different depths over one source agree there.)
//!
//! Z(node) for element i is the normal of the tree's source under [`NoiseUse::Tree`], with the
//! node id as the key's step word (see [`crate::runtime::rng`]), so a tree of depth ≤ 31
//! numbers its nodes in a u32. Every W(r) is
//! therefore a fixed linear combination of at most depth + 2 normal streams, and W(s, t) of at
//! most 2·(depth + 2): the host computes the weights in f64 and the `brownian_tree` kernel forms
//! the combination in one pass. Two query times inside one leaf share that leaf's Z, so their
//! joint law is approximate below the leaf width (t1 − t0)·2^(−depth): choose the depth so that
//! the leaves are narrower than the solver's steps (diffrax advises half a step).

pub use ito_kernels::brownian_tree::{Term, MAX_TERMS};

use ito_kernels::lincomb::LincombCoefs;
use ito_kernels::storage::TensorMut;

use crate::runtime::memory::{Host, Memory};

use crate::runtime::rng::{NoiseSource, NoiseUse};
use crate::runtime::{try_vec, Backend, Error};

/// A virtual Brownian tree (see the module docs).
///
/// ```
/// use ito::runtime::rng::NoiseSource;
/// use ito::BrownianTree;
/// let tree = BrownianTree::new(NoiseSource::new(7), 0.0, 1.0)?.with_depth(12)?;
/// let (mut a, mut b, mut whole) = (vec![0f32; 64], vec![0f32; 64], vec![0f32; 64]);
/// tree.increment(0.0, 0.3, a.as_mut_slice().into())?;
/// tree.increment(0.3, 1.0, b.as_mut_slice().into())?;
/// tree.increment(0.0, 1.0, whole.as_mut_slice().into())?;
/// for i in 0..64 {
///     assert!((a[i] + b[i] - whole[i]).abs() < 1e-5); // one path: increments add up
/// }
/// # Ok::<(), ito::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrownianTree {
    noise: NoiseSource,
    t0: f64,
    t1: f64,
    depth: u32,
}

/// The depth a new tree gets: leaves of 2⁻²⁰ of the span (torchsde's default tolerance 1e-6
/// on a unit span needs the same).
pub const DEFAULT_DEPTH: u32 = 20;

/// A sparse combination of normal streams: (stream word, node id, weight), kept sorted by
/// (stream, node) so that the kernel's term order is a function of the query alone.
#[derive(Clone, Debug, Default, PartialEq)]
struct Combination(Vec<(u32, u32, f64)>);

impl Combination {
    fn single(tag: u32, node: u32, w: f64) -> Self {
        Combination(vec![(tag, node, w)])
    }

    /// a·self + b·other.
    fn axpby(&self, a: f64, other: &Combination, b: f64) -> Combination {
        let mut out: Vec<(u32, u32, f64)> = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() || j < other.0.len() {
            let x = self.0.get(i);
            let y = other.0.get(j);
            match (x, y) {
                (Some(&(t, n, w)), Some(&(u, m, v))) if (t, n) == (u, m) => {
                    out.push((t, n, a * w + b * v));
                    i += 1;
                    j += 1;
                }
                (Some(&(t, n, w)), Some(&(u, m, _))) if (t, n) < (u, m) => {
                    out.push((t, n, a * w));
                    i += 1;
                }
                (Some(&(t, n, w)), None) => {
                    out.push((t, n, a * w));
                    i += 1;
                }
                (_, Some(&(u, m, v))) => {
                    out.push((u, m, b * v));
                    j += 1;
                }
                (None, None) => break,
            }
        }
        Combination(out)
    }

    fn plus_single(&self, tag: u32, node: u32, w: f64) -> Combination {
        self.axpby(1.0, &Combination::single(tag, node, w), 1.0)
    }
}

impl BrownianTree {
    /// A tree over [t0, t1] drawing from `noise` ([`NoiseUse::Tree`]; the source's offset is the
    /// global index of element 0 of every tensor it writes), [`DEFAULT_DEPTH`] levels deep.
    /// The span must be finite and positive: t1 − t0 must not overflow.
    pub fn new(noise: NoiseSource, t0: f64, t1: f64) -> Result<Self, Error> {
        if !(t0.is_finite() && t1.is_finite() && t0 < t1) {
            return Err(Error::config(
                "t1",
                "finite t0 < t1",
                format!("[{t0}, {t1}]"),
            ));
        }
        if !(t1 - t0).is_finite() {
            return Err(Error::config(
                "t1",
                "a span t1 − t0 that is finite in f64",
                format!("[{t0}, {t1}]"),
            ));
        }
        Ok(BrownianTree {
            noise,
            t0,
            t1,
            depth: DEFAULT_DEPTH,
        })
    }

    /// The same tree with `depth` levels (1 … 31).
    pub fn with_depth(self, depth: u32) -> Result<Self, Error> {
        if !(1..=31).contains(&depth) {
            return Err(Error::config("depth", "1 … 31 levels", depth));
        }
        Ok(BrownianTree { depth, ..self })
    }

    /// The same tree with leaves no wider than `tol` (depth = ⌈log₂((t1 − t0)/tol)⌉, at least 1).
    pub fn with_tolerance(self, tol: f64) -> Result<Self, Error> {
        if !(tol.is_finite() && tol > 0.0) {
            return Err(Error::config("tol", "a finite value > 0", tol));
        }
        let levels = ((self.t1 - self.t0) / tol).log2().ceil().max(1.0);
        if levels.is_nan() || levels > 31.0 {
            return Err(Error::config("tol", "(t1 − t0)/tol ≤ 2^31", tol));
        }
        self.with_depth(levels as u32)
    }

    /// The same tree writing tensors whose element 0 has global index `offset` (another shard).
    pub fn with_offset(self, offset: u64) -> Self {
        BrownianTree {
            noise: self.noise.with_offset(offset),
            ..self
        }
    }

    /// The noise source.
    pub fn noise(&self) -> NoiseSource {
        self.noise
    }

    /// The time span [t0, t1].
    pub fn span(&self) -> (f64, f64) {
        (self.t0, self.t1)
    }

    /// The number of levels.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The width of a leaf interval.
    pub fn leaf_width(&self) -> f64 {
        (self.t1 - self.t0) / f64::from(2u32).powi(self.depth as i32)
    }

    /// W(r) − W(0) on the unit interval, as a combination of node normals.
    fn point(&self, r: f64) -> Combination {
        // Bridge nodes and in-leaf normals share the stream word; their ids never meet.
        let stream = self.noise.stream;
        let mut wa = Combination::default();
        let mut wb = Combination::single(stream, 0, 1.0);
        if r == 0.0 {
            return wa;
        }
        if r == 1.0 {
            return wb;
        }
        let (mut a, mut b, mut k) = (0.0f64, 1.0f64, 1u32);
        for _ in 0..self.depth {
            let m = 0.5 * (a + b);
            let wm = wa
                .axpby(0.5, &wb, 0.5)
                .plus_single(stream, k, 0.5 * (b - a).sqrt());
            if r == m {
                return wm;
            }
            if r < m {
                (b, wb, k) = (m, wm, 2 * k);
            } else {
                (a, wa, k) = (m, wm, 2 * k + 1);
            }
        }
        let f = (r - a) / (b - a);
        wa.axpby(1.0 - f, &wb, f)
            .plus_single(stream, k, ((r - a) * (b - r) / (b - a)).sqrt())
    }

    fn unit_time(&self, arg: &'static str, t: f64) -> Result<f64, Error> {
        if !(t >= self.t0 && t <= self.t1) {
            return Err(Error::config(arg, "a time in [t0, t1]", t));
        }
        Ok(((t - self.t0) / (self.t1 - self.t0)).clamp(0.0, 1.0))
    }

    /// The kernel terms of W(s, t) = W(t) − W(s) (s ≤ t, both in [t0, t1]), weights rounded
    /// once from f64 to f32.
    pub fn terms(&self, s: f64, t: f64) -> Result<Vec<Term>, Error> {
        self.scaled_terms(s, t, 1.0)
    }

    /// The terms of `scale`·W(s, t), the scale applied in f64 before the one rounding.
    pub fn scaled_terms(&self, s: f64, t: f64, scale: f64) -> Result<Vec<Term>, Error> {
        let (rs, rt) = (self.unit_time("s", s)?, self.unit_time("t", t)?);
        if rs > rt {
            return Err(Error::config("s", "s ≤ t", s));
        }
        if !scale.is_finite() {
            return Err(Error::config("scale", "a finite scale", scale));
        }
        let scale = scale * (self.t1 - self.t0).sqrt();
        let c = self.point(rt).axpby(scale, &self.point(rs), -scale);
        let terms: Vec<Term> =
            c.0.into_iter()
                .filter(|&(_, _, w)| w != 0.0)
                .map(|(stream, step, w)| Term {
                    stream,
                    step,
                    coef: w as f32,
                })
                .collect();
        // At most 2·(31 + 2) = MAX_TERMS streams: the kernel's limit is never hit.
        debug_assert!(terms.len() <= MAX_TERMS);
        Ok(terms)
    }

    /// y ← W(s, t) (one fused pass on `backend`), y\[i\] being global element offset + i.
    pub fn increment_on(
        &self,
        backend: Backend,
        s: f64,
        t: f64,
        y: TensorMut<'_>,
    ) -> Result<(), Error> {
        let terms = self.terms(s, t)?;
        self.combine_on(backend, &terms, y)
    }

    /// y ← W(s, t) on the selected backend.
    pub fn increment(&self, s: f64, t: f64, y: TensorMut<'_>) -> Result<(), Error> {
        self.increment_on(crate::runtime::backend()?, s, t, y)
    }

    /// y ← W(t) − W(t0) on the selected backend.
    pub fn value(&self, t: f64, y: TensorMut<'_>) -> Result<(), Error> {
        self.increment(self.t0, t, y)
    }

    /// y ← Σⱼ cⱼ·Z(nodeⱼ) for `terms` of this tree's queries ([`BrownianTree::terms`],
    /// [`BrownianTree::scaled_terms`]), one pass on `backend`, under the tree's source.
    /// A combination that is not finite (weights scaled past f32) is [`Error::NonFinite`].
    pub fn combine_on(
        &self,
        backend: Backend,
        terms: &[Term],
        y: TensorMut<'_>,
    ) -> Result<(), Error> {
        self.combine_in(&Host::<f32>::with_backend(backend)?, terms, y)
    }

    /// [`BrownianTree::combine_on`] on any [`Memory`] (a CUDA device: one launch, the report
    /// deferred to its report word).
    pub fn combine_in<M: Memory>(
        &self,
        mem: &M,
        terms: &[Term],
        mut y: M::Mut<'_>,
    ) -> Result<(), Error> {
        let at = self.noise.noise(NoiseUse::Tree, 0, M::len(M::as_ref(&y)))?;
        let written = mem.brownian_tree(M::reborrow(&mut y), self.noise.seed, terms, at.offset)?;
        mem.check_written(written, None, "y", M::as_ref(&y))
    }

    /// y ← W(s, t) on any [`Memory`] (see [`BrownianTree::increment_on`]).
    pub fn increment_in<M: Memory>(
        &self,
        mem: &M,
        s: f64,
        t: f64,
        y: M::Mut<'_>,
    ) -> Result<(), Error> {
        let terms = self.terms(s, t)?;
        self.combine_in(mem, &terms, y)
    }
}

/// A sequential sweep over a time grid that reuses each endpoint: per step one descent
/// (W at the new time, ≤ depth + 2 normal streams) and one pass for the difference, instead
/// of two descents. The increment is the difference of two f32 values of W, so it carries
/// their rounding (≈ 2^-24·|W|) rather than 2^-24·|ΔW|. On host memory by default
/// ([`BrownianSweep::new`]); on any [`Memory`] with its two scratch buffers given
/// ([`BrownianSweep::on`]).
pub struct BrownianSweep<M: Memory = Host<f32>> {
    tree: BrownianTree,
    times: Vec<f64>,
    k: usize,
    w_prev: M::Buffer,
    w_next: M::Buffer,
    mem: M,
}

impl<M: Memory> std::fmt::Debug for BrownianSweep<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrownianSweep")
            .field("tree", &self.tree)
            .field("times", &self.times.len())
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

/// At least two strictly increasing times.
fn check_times(times: &[f64]) -> Result<(), Error> {
    let increasing = |w: &[f64]| w[0].partial_cmp(&w[1]) == Some(std::cmp::Ordering::Less);
    if times.len() < 2 || !times.windows(2).all(increasing) {
        return Err(Error::config(
            "times",
            "at least two strictly increasing times",
            times.len(),
        ));
    }
    Ok(())
}

impl BrownianSweep<Host<f32>> {
    /// A sweep over strictly increasing `times` in [t0, t1] for `n` elements (element 0 at the
    /// tree's offset), on host memory it owns (f32, on the process-wide backend as selected
    /// now).
    ///
    /// ```
    /// use ito::runtime::rng::NoiseSource;
    /// use ito::{BrownianSweep, BrownianTree};
    /// let tree = BrownianTree::new(NoiseSource::new(3), 0.0, 1.0)?.with_depth(10)?;
    /// let mut sweep = BrownianSweep::new(tree, &[0.0, 0.25, 0.5, 1.0], 128)?;
    /// let mut dw = vec![0f32; 128];
    /// let mut steps = 0;
    /// while sweep.next_increment(dw.as_mut_slice().into())? {
    ///     steps += 1; // dw = W(t_k, t_{k+1}), the tree's own increments
    /// }
    /// assert_eq!(steps, 3);
    /// # Ok::<(), ito::Error>(())
    /// ```
    pub fn new(tree: BrownianTree, times: &[f64], n: usize) -> Result<Self, Error> {
        check_times(times)?;
        tree.noise.check(n)?;
        let mem = Host::with_backend(crate::runtime::backend()?)?;
        let buffers = [try_vec("n", n, 0.0f32)?, try_vec("n", n, 0.0f32)?];
        BrownianSweep::on(tree, times, mem, buffers)
    }
}

impl<M: Memory> BrownianSweep<M> {
    /// A sweep over `times` on memory `mem`, with two scratch buffers of the increments'
    /// length (W at the previous and the next time; any storage type the memory has, f32 for
    /// the rounding stated above).
    pub fn on(
        tree: BrownianTree,
        times: &[f64],
        mem: M,
        buffers: [M::Buffer; 2],
    ) -> Result<Self, Error> {
        check_times(times)?;
        let [mut w_prev, w_next] = buffers;
        let n = M::len(M::view(&w_prev));
        ito_kernels::check_len("buffers", Some(1), n, M::len(M::view(&w_next)))?;
        tree.noise.check(n)?;
        tree.increment_in(&mem, tree.t0, times[0], M::view_mut(&mut w_prev))?;
        Ok(BrownianSweep {
            tree,
            times: times.to_vec(),
            k: 0,
            w_prev,
            w_next,
            mem,
        })
    }

    /// Writes the next increment W(t_k, t_{k+1}) into `dw` (as long as the scratch) and moves
    /// on; returns false (and writes nothing) once the grid is exhausted.
    pub fn next_increment(&mut self, mut dw: M::Mut<'_>) -> Result<bool, Error> {
        if self.k + 1 >= self.times.len() {
            return Ok(false);
        }
        let t = self.times[self.k + 1];
        self.tree
            .increment_in(&self.mem, self.tree.t0, t, M::view_mut(&mut self.w_next))?;
        let mut c = LincombCoefs::default();
        c.inputs[0] = 1.0;
        c.inputs[1] = -1.0;
        let inputs = [M::view(&self.w_next), M::view(&self.w_prev)];
        let written = self
            .mem
            .lincomb(M::reborrow(&mut dw), None, &inputs, &c, None)?;
        self.mem
            .check_written(written, Some(self.k as u64), "dw", M::as_ref(&dw))?;
        std::mem::swap(&mut self.w_prev, &mut self.w_next);
        self.k += 1;
        Ok(true)
    }
}
