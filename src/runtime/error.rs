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
