//! The crate's error type.

use core::fmt;

use crate::runtime::Backend;
use ito_kernels::storage::TensorRef;
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
    /// A pass stored a value that is not finite — NaN, ±∞, or a value past the storage type's
    /// range (an f16 from 65520 on, which rounds to ∞) — reported from the pass itself (no
    /// extra pass): typically a
    /// model output that was already NaN, or a coefficient that overflowed. The pass has
    /// written its outputs; drivers that allow IEEE propagation do not return this.
    NonFinite {
        /// The driver's step (grid step, SDE step, corrector step, …), where there is one.
        step: Option<u64>,
        /// The buffer that holds the value (e.g. `"x"`, `"history"`, `"y_hat"`).
        buffer: &'static str,
        /// The first such element (index within the buffer).
        index: usize,
        /// What it holds.
        value: NonFiniteValue,
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

/// The value a [`Error::NonFinite`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NonFiniteValue {
    /// Not a number.
    Nan,
    /// +∞ (in f16 or bf16: also a value that overflowed the type).
    PlusInfinity,
    /// −∞.
    MinusInfinity,
}

impl NonFiniteValue {
    /// What `v` is, when it is not finite.
    pub fn of(v: f32) -> Option<Self> {
        if v.is_nan() {
            Some(NonFiniteValue::Nan)
        } else if v == f32::INFINITY {
            Some(NonFiniteValue::PlusInfinity)
        } else if v == f32::NEG_INFINITY {
            Some(NonFiniteValue::MinusInfinity)
        } else {
            None
        }
    }
}

impl fmt::Display for NonFiniteValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonFiniteValue::Nan => "NaN",
            NonFiniteValue::PlusInfinity => "+∞",
            NonFiniteValue::MinusInfinity => "−∞",
        })
    }
}

/// The first element of `t` that is not finite, with what it holds.
pub fn first_nonfinite(t: TensorRef<'_>) -> Option<(usize, NonFiniteValue)> {
    (0..t.len()).find_map(|i| {
        let v = t.get_f32(i)?;
        NonFiniteValue::of(v).map(|bad| (i, bad))
    })
}

impl Error {
    /// Whether this is an [`Error::NonFinite`]: the pass has written its outputs (drivers move
    /// on before they report it), unlike every other error, which comes before any write.
    pub fn is_nonfinite(&self) -> bool {
        matches!(self, Error::NonFinite { .. })
    }

    /// The [`Error::NonFinite`] for `buffer` at `step`, when `t` holds a value that is not
    /// finite (the caller's pass reported one; this finds the first, on the error path only).
    pub fn nonfinite_in(step: Option<u64>, buffer: &'static str, t: TensorRef<'_>) -> Option<Self> {
        first_nonfinite(t).map(|(index, value)| Error::NonFinite {
            step,
            buffer,
            index,
            value,
        })
    }

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
    try_collect(arg, len, |_| Ok(value.clone()))
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
            Error::NonFinite {
                step,
                buffer,
                index,
                value,
            } => {
                if let Some(s) = step {
                    write!(f, "step {s}: ")?;
                }
                write!(
                    f,
                    "`{buffer}` holds {value} at element {index} after the pass (a NaN or \
                     overflow in the inputs or coefficients; allow IEEE propagation to keep going)"
                )
            }
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
