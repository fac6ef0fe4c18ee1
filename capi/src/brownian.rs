//! [`ito_brownian_tree`]: ito's virtual Brownian tree (`ito::BrownianTree`) for C — W(s, t)
//! for any s ≤ t of its span as a pure function of (seed, stream, offset, s, t), one fused
//! pass on host memory or a device handle's stream; and the tree a sampler may draw its step
//! noise from (`ito_sampler_config::noise_tree`).

use std::ffi::c_int;

use ito::{BrownianTree, NoiseSource};

use crate::memory::{ito_tensor, CallerMemory};
use crate::Failure;

/// A virtual Brownian tree over [t0, t1]: a value (no handle to destroy). Fill it with
/// `ito_brownian_tree_init`, which checks the span and turns a tolerance into `depth`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ito_brownian_tree {
    /// The seed of the tree's normals (drawn under `ITO_NOISE_TREE`: no other use of the
    /// same seed and stream draws them).
    pub seed: u64,
    /// The caller's stream.
    pub stream: u32,
    /// Levels, 1 … 31; 0 marks "no tree" where a tree is optional (`noise_tree`).
    pub depth: u32,
    /// Global index of element 0 of the tensors it writes (a shard passes its own).
    pub offset: u64,
    /// The span's start.
    pub t0: f64,
    /// The span's end (> t0).
    pub t1: f64,
}

impl ito_brownian_tree {
    /// The tree as ito's type, its fields checked (the message names `arg`'s fields).
    pub(crate) fn tree(&self, arg: &str) -> Result<BrownianTree, Failure> {
        let noise = NoiseSource {
            seed: self.seed,
            stream: self.stream,
            offset: self.offset,
        };
        // ito names the field (`t1`, `depth`): put the struct's name in front.
        let named = |e: ito::Error| crate::config::prefix(arg, e.into());
        BrownianTree::new(noise, self.t0, self.t1)
            .map_err(named)?
            .with_depth(self.depth)
            .map_err(named)
    }
}

/// Fills `*tree` with a tree over [t0, t1] whose leaves are no wider than `tol` (0: ito's
/// default depth, 20 levels), drawing from (`seed`, `stream`) at offset 0. Thread-safe.
///
/// # Safety
/// `tree` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ito_brownian_tree_init(
    tree: *mut ito_brownian_tree,
    seed: u64,
    stream: u32,
    t0: f64,
    t1: f64,
    tol: f64,
) -> c_int {
    crate::entry(|| {
        let noise = NoiseSource::new(seed).with_stream(stream);
        let mut t = BrownianTree::new(noise, t0, t1)?;
        if tol != 0.0 {
            t = t.with_tolerance(tol)?;
        }
        let v = ito_brownian_tree {
            seed,
            stream,
            depth: t.depth(),
            offset: 0,
            t0,
            t1,
        };
        // SAFETY: the caller's contract.
        unsafe { crate::write_out("tree", tree, v) }
    })
}

/// y ← scale·W(s, t) = scale·(W(t) − W(s)), s ≤ t in the tree's span, y\[i\] being the path
/// of global element `tree->offset + i`; one pass on host memory (`device` NULL) or on the
/// device handle's stream. The weights are formed in f64 and rounded once, so
/// `scale = 1/√(t − s)` gives the exact standard normals a sampler with this `noise_tree`
/// adds at a step from t to s. W(t) itself is the increment from t0. Thread-safe on host
/// memory.
///
/// # Safety
/// `tree` readable; `device` NULL or a live device handle; `y` describes memory of that kind,
/// valid for writes during the call.
#[no_mangle]
pub unsafe extern "C" fn ito_brownian_increment(
    device: *mut crate::ito_device,
    tree: *const ito_brownian_tree,
    s: f64,
    t: f64,
    scale: f64,
    y: ito_tensor,
) -> c_int {
    crate::kernels::on_memory!(device, |st| {
        let mem = st.memory();
        if tree.is_null() {
            return Err(Failure::null("tree"));
        }
        // SAFETY: non-NULL, readable (the contract).
        let tree = unsafe { tree.read() }.tree("tree")?;
        let terms = tree.scaled_terms(s, t, scale)?;
        mem.check_apart(&[("y", &y, true)])?;
        // SAFETY: the contract.
        let yv = unsafe { mem.output("y", &y) }?;
        Ok(tree.combine_in(mem, &terms, yv)?)
    })
}
