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
    /// A shape with `C = 0`, or whose element count `N·C·S` overflows `usize`.
    InvalidShape,
    /// A slice's length does not match the shape (`N·C·S` predictions,
    /// `N·S` class ids or `N·C·S` multilabel targets).
    ShapeMismatch {
        /// The length the shape implies.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A multiclass target holds an id that is negative or `>= C` and is not
    /// the ignore index.
    ClassIdOutOfRange {
        /// The first offending id.
        id: i64,
        /// The number of classes C.
        classes: usize,
    },
    /// The `classes` list is empty or names a class `>= C`.
    InvalidClasses,
    /// `class_weights` has a length other than C, a negative or NaN weight,
    /// or weights that sum to 0 over the kept classes.
    InvalidClassWeights,
    /// More classes than the runtime-C entry points support.
    TooManyClasses {
        /// The number of classes C.
        classes: usize,
        /// The largest supported C.
        max: usize,
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
            Error::InvalidShape => f.write_str("invalid shape: C = 0 or N·C·S overflows"),
            Error::ShapeMismatch { expected, found } => {
                write!(
                    f,
                    "the shape implies {expected} elements but the slice has {found}"
                )
            }
            Error::ClassIdOutOfRange { id, classes } => {
                write!(
                    f,
                    "class id {id} is outside 0..{classes} and not the ignore index"
                )
            }
            Error::InvalidClasses => f.write_str("`classes` is empty or names a class >= C"),
            Error::InvalidClassWeights => {
                f.write_str("`class_weights` must have length C, be >= 0 and sum to more than 0")
            }
            Error::TooManyClasses { classes, max } => {
                write!(
                    f,
                    "{classes} classes: the runtime-C entry points support at most {max}"
                )
            }
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
