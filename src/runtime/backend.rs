//! Backend detection, selection and override.
//!
//! Detection runs once per process and is cached. The chosen backend is, in order: the one set
//! by [`set_backend`]; else the one named by the environment variable `ITO_BACKEND`
//! (`scalar`, `avx2`, `neon`, `cuda`); else the best CPU backend available (AVX2+FMA+F16C, then
//! NEON, then scalar). Asking for a backend this machine lacks is an [`Error`], never a silent
//! fallback.
//!
//! CUDA is available when a driver (12.0 or later) and a device are present
//! ([`crate::runtime::cuda::device::probe`]); without the cargo feature `cuda` it never is. The free
//! functions take host slices, which on CUDA would travel to the device and back each call,
//! so CUDA is used for them only when named; engines keep tensors on the device and call
//! [`crate::runtime::cuda::CudaDevice`] directly.

use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::runtime::Error;

/// A place kernels can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// One lane at a time: the definition of every kernel; always available.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C, 8 lanes.
    Avx2,
    /// aarch64 NEON, 4 lanes.
    Neon,
    /// NVIDIA GPUs through the committed PTX (cargo feature `cuda`, a 12.0+ driver). Host-slice
    /// calls stage through the device; engines call [`crate::runtime::cuda::CudaDevice`].
    Cuda,
}

impl Backend {
    /// Every backend ito knows, available or not.
    pub const ALL: [Backend; 4] = [Backend::Scalar, Backend::Avx2, Backend::Neon, Backend::Cuda];

    /// The name `ITO_BACKEND` uses.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2 => "avx2",
            Backend::Neon => "neon",
            Backend::Cuda => "cuda",
        }
    }

    /// `Ok` when this machine and build can run the backend; otherwise why not.
    pub fn check_available(self) -> Result<(), Error> {
        let reason = match self {
            Backend::Scalar => return Ok(()),
            Backend::Avx2 => {
                if detect().avx2 {
                    return Ok(());
                }
                if cfg!(target_arch = "x86_64") {
                    "this CPU lacks AVX2, FMA or F16C"
                } else {
                    "AVX2 exists only on x86-64"
                }
            }
            Backend::Neon => {
                if detect().neon {
                    return Ok(());
                }
                "NEON is used only on aarch64"
            }
            #[cfg(feature = "cuda")]
            Backend::Cuda => match crate::runtime::cuda::device::probe() {
                Ok(_) => return Ok(()),
                Err(reason) => reason,
            },
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => "this build has no CUDA backend (cargo feature `cuda` is off)",
        };
        Err(Error::BackendUnavailable {
            backend: self,
            reason,
        })
    }

    /// True when [`Backend::check_available`] is `Ok`.
    pub fn is_available(self) -> bool {
        self.check_available().is_ok()
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::UnknownBackend {
                name: s.to_string(),
            })
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug)]
struct Features {
    avx2: bool,
    neon: bool,
}

fn detect() -> Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    *FEATURES.get_or_init(|| {
        // Miri cannot execute `cpuid` (nor AVX2): under it only the scalar backend exists.
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c");
        #[cfg(any(not(target_arch = "x86_64"), miri))]
        let avx2 = false;
        Features {
            avx2,
            neon: cfg!(target_arch = "aarch64"),
        }
    })
}

/// The backends this machine and build can run, best first.
pub fn available_backends() -> Vec<Backend> {
    let mut v: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect();
    v.sort_by_key(|b| std::cmp::Reverse(rank(*b)));
    v
}

fn rank(b: Backend) -> u8 {
    match b {
        Backend::Scalar => 0,
        Backend::Neon | Backend::Avx2 => 1,
        Backend::Cuda => 2,
    }
}

/// The best available CPU backend, ignoring overrides: the default for host slices (see the
/// module docs for why CUDA is not chosen unasked).
pub fn best_backend() -> Backend {
    available_backends()
        .into_iter()
        .find(|b| *b != Backend::Cuda)
        .unwrap_or(Backend::Scalar)
}

/// 0 = no override; otherwise 1 + index into `Backend::ALL`.
static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// Forces every later call of the free kernel functions onto `b` (process-wide).
/// Fails, changing nothing, when `b` is not available.
pub fn set_backend(b: Backend) -> Result<(), Error> {
    b.check_available()?;
    let idx = Backend::ALL.iter().position(|x| *x == b).unwrap_or(0) as u8;
    OVERRIDE.store(idx + 1, Ordering::Relaxed);
    Ok(())
}

/// The backend the free kernel functions use (see the module docs for the order).
pub fn backend() -> Result<Backend, Error> {
    let o = OVERRIDE.load(Ordering::Relaxed);
    if o > 0 {
        return Ok(Backend::ALL[(o - 1) as usize]);
    }
    static FROM_ENV: OnceLock<Result<Backend, Error>> = OnceLock::new();
    FROM_ENV
        .get_or_init(|| match std::env::var("ITO_BACKEND") {
            Ok(name) if !name.trim().is_empty() => {
                let b: Backend = name.parse()?;
                b.check_available()?;
                Ok(b)
            }
            _ => Ok(best_backend()),
        })
        .clone()
}

/// The AVX2 token, when the CPU supports it.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_token() -> Option<ito_kernels::lanes::Avx2> {
    if detect().avx2 {
        // SAFETY: detection just confirmed AVX2, FMA and F16C on this CPU.
        Some(unsafe { ito_kernels::lanes::Avx2::new_unchecked() })
    } else {
        None
    }
}
