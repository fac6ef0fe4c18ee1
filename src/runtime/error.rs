//! The crate's error type.

use core::fmt;

use crate::runtime::Backend;
use ito_kernels::ArgError;

/// Everything that can go wrong in an ito call. No call panics on bad input.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A kernel argument is invalid (which one, and what was expected).
    Argument(ArgError),
    /// A backend was asked for that this machine or build does not have.
    BackendUnavailable {
        /// The backend asked for.
        backend: Backend,
        /// Why it is not available.
        reason: &'static str,
    },
    /// `ITO_BACKEND` (or a parsed name) is not one of `scalar`, `avx2`, `neon`, `cuda`.
    UnknownBackend {
        /// The name given.
        name: String,
    },
    /// The CUDA driver refused a call (what ito was doing, and the driver's error).
    Cuda {
        /// What ito was doing (e.g. `"launching ito_lincomb"`).
        during: &'static str,
        /// The driver's error.
        message: String,
    },
    /// A schedule, grid or solver setting outside its domain.
    Config {
        /// The setting's name (e.g. `"beta_max"`, `"grid"`, `"order"`).
        arg: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was given (for a grid: the index of the offending node).
        found: String,
    },
}

impl Error {
    /// A [`Error::Config`]: setting `arg` expected `expected` and was given `found`.
    pub fn config(arg: &'static str, expected: &'static str, found: impl fmt::Display) -> Self {
        Error::Config {
            arg,
            expected,
            found: found.to_string(),
        }
    }
}

/// A vector of `len` copies of `value`, or an [`Error::Config`] naming `arg` when the memory
/// cannot be had (a user-sized allocation must not abort the process or panic with "capacity
/// overflow").
pub fn try_vec<T: Clone>(arg: &'static str, len: usize, value: T) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        let bytes = (len as u128) * (core::mem::size_of::<T>() as u128);
        return Err(Error::config(
            arg,
            "a size whose memory can be allocated",
            format!("{len} elements ({bytes} bytes)"),
        ));
    }
    v.resize(len, value);
    Ok(v)
}

/// `len` values `f(0) … f(len − 1)` in a vector allocated fallibly (see [`try_vec`]); the first
/// error `f` returns stops it.
pub fn try_collect<T>(
    arg: &'static str,
    len: usize,
    mut f: impl FnMut(usize) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        let bytes = (len as u128) * (core::mem::size_of::<T>() as u128);
        return Err(Error::config(
            arg,
            "a size whose memory can be allocated",
            format!("{len} elements ({bytes} bytes)"),
        ));
    }
    for i in 0..len {
        v.push(f(i)?);
    }
    Ok(v)
}

impl From<ArgError> for Error {
    fn from(e: ArgError) -> Self {
        Error::Argument(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Argument(e) => e.fmt(f),
            Error::BackendUnavailable { backend, reason } => {
                write!(f, "backend `{}` is not available: {reason}", backend.name())
            }
            Error::UnknownBackend { name } => {
                write!(
                    f,
                    "unknown backend `{name}`: expected one of scalar, avx2, neon, cuda"
                )
            }
            Error::Config {
                arg,
                expected,
                found,
            } => write!(f, "invalid `{arg}`: expected {expected}, found {found}"),
            Error::Cuda { during, message } => write!(f, "CUDA error while {during}: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Argument(e) => Some(e),
            _ => None,
        }
    }
}
