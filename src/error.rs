//! Every bad-input case, as a value. No public function of this crate panics.

use core::fmt;

/// Why a loss could not be computed.
///
/// Each variant names one case of SPEC.md "Numerics and bad input". NaN in
/// the *data* is not an error: it propagates into the loss as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The prediction and target slices have different lengths.
    LengthMismatch {
        /// Length of the prediction slice.
        pred: usize,
        /// Length of the target slice.
        target: usize,
    },
    /// The input holds no element at all.
    Empty,
    /// A parameter is NaN or outside its domain (for example `eps <= 0`,
    /// `smooth < 0`, `gamma < 0`, `alpha` outside `[0, 1]`).
    InvalidParameter {
        /// The parameter's name, as in SPEC.md.
        name: &'static str,
        /// The rejected value.
        value: f32,
    },
    /// A `u8` mask holds a value that is neither 0, 1 nor the ignore value.
    InvalidMask {
        /// The largest offending byte.
        value: u8,
    },
    /// Statistics were accumulated with settings that differ from the loss
    /// configuration they are finalised with (for example `from_logits`,
    /// `ignore_index`, focal `gamma` or the hard threshold).
    ConfigMismatch {
        /// The setting that differs.
        field: &'static str,
    },
    /// A backward pass was given a gradient buffer whose length is not the
    /// prediction's.
    GradientLength {
        /// The prediction's length.
        expected: usize,
        /// The gradient buffer's length.
        got: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LengthMismatch { pred, target } => {
                write!(f, "prediction has {pred} elements but target has {target}")
            }
            Error::Empty => f.write_str("empty input: a loss needs at least one element"),
            Error::InvalidParameter { name, value } => {
                write!(f, "invalid parameter `{name}` = {value}")
            }
            Error::InvalidMask { value } => {
                write!(f, "mask value {value} is neither 0, 1 nor the ignore value")
            }
            Error::ConfigMismatch { field } => write!(
                f,
                "statistics were accumulated with a different `{field}` than the loss configuration"
            ),
            Error::GradientLength { expected, got } => write!(
                f,
                "gradient buffer has {got} elements but the prediction has {expected}"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// Returns `Err(InvalidParameter)` unless `ok` holds for a non-NaN `value`.
pub(crate) fn check(name: &'static str, value: f32, ok: bool) -> Result<(), Error> {
    if ok && !value.is_nan() {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, value })
    }
}
