//! The typed argument error every kernel constructor returns instead of panicking.

use core::fmt;

/// What was wrong with an argument. Equality is reflexive: two `NonFinite` problems that both
/// found a NaN are equal (whatever its payload), so an error always equals itself (a `Hash`,
/// if one is ever added, must hash every NaN alike).
#[derive(Clone, Copy, Debug)]
pub enum Problem {
    /// A tensor's length differs from the length it must have.
    Length {
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A scalar parameter is NaN or infinite.
    NonFinite {
        /// The value given.
        value: f32,
    },
    /// More tensors than the kernel takes.
    TooMany {
        /// The most allowed.
        max: usize,
        /// The number given.
        found: usize,
    },
    /// Coefficients ask for a tensor or noise key that was not given.
    Missing {
        /// What had to be given.
        needed: &'static str,
    },
    /// A value outside the range the kernel accepts.
    OutOfRange {
        /// The range or condition required.
        expected: &'static str,
    },
}

impl PartialEq for Problem {
    fn eq(&self, other: &Self) -> bool {
        use Problem::*;
        // Matched on `self` exhaustively, so a new variant must say how it compares.
        match *self {
            Length { expected, found } => {
                matches!(*other, Length { expected: e, found: f } if e == expected && f == found)
            }
            NonFinite { value } => matches!(
                *other,
                NonFinite { value: v } if v == value || (v.is_nan() && value.is_nan())
            ),
            TooMany { max, found } => {
                matches!(*other, TooMany { max: m, found: f } if m == max && f == found)
            }
            Missing { needed } => matches!(*other, Missing { needed: n } if n == needed),
            OutOfRange { expected } => {
                matches!(*other, OutOfRange { expected: e } if e == expected)
            }
        }
    }
}

impl Eq for Problem {}

/// An invalid kernel argument: which one (`arg`, with an element `index` for arrays) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgError {
    /// The argument's name as the API spells it (e.g. `"inputs"`, `"coefs.y2_inputs"`).
    pub arg: &'static str,
    /// The position within `arg` when it is an array.
    pub index: Option<usize>,
    /// What was wrong.
    pub problem: Problem,
}

impl ArgError {
    pub(crate) fn new(arg: &'static str, problem: Problem) -> Self {
        ArgError {
            arg,
            index: None,
            problem,
        }
    }
    pub(crate) fn at(arg: &'static str, index: usize, problem: Problem) -> Self {
        ArgError {
            arg,
            index: Some(index),
            problem,
        }
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "argument `{}[{}]`: ", self.arg, i)?,
            None => write!(f, "argument `{}`: ", self.arg)?,
        }
        match self.problem {
            Problem::Length { expected, found } => {
                write!(f, "expected length {expected}, found {found}")
            }
            Problem::NonFinite { value } => write!(f, "expected a finite number, found {value}"),
            Problem::TooMany { max, found } => write!(f, "expected at most {max}, found {found}"),
            Problem::Missing { needed } => write!(f, "needs {needed}, which was not given"),
            Problem::OutOfRange { expected } => write!(f, "expected {expected}"),
        }
    }
}

impl core::error::Error for ArgError {}

/// `Ok` when `value` is finite.
pub(crate) fn check_finite(
    arg: &'static str,
    index: Option<usize>,
    value: f32,
) -> Result<(), ArgError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ArgError {
            arg,
            index,
            problem: Problem::NonFinite { value },
        })
    }
}

/// `Ok` when `found == expected`; otherwise the length error for `arg` (every backend's check).
pub fn check_len(
    arg: &'static str,
    index: Option<usize>,
    expected: usize,
    found: usize,
) -> Result<(), ArgError> {
    if found == expected {
        Ok(())
    } else {
        Err(ArgError {
            arg,
            index,
            problem: Problem::Length { expected, found },
        })
    }
}
