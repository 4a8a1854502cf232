//! The floating-point types the kernels are generic over: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float as NumFloat, FromPrimitive, NumAssign};

/// A floating-point element type for weights, inputs and gradients (`f32` or `f64`).
///
/// The bounds collect what the kernels need: IEEE arithmetic and `exp`/`ln`
/// (`num_traits::Float`), matrix products (`ndarray::LinalgScalar`), scalar
/// broadcasting (`ScalarOperand`), and `Send + Sync` for the parallel kernel.
pub trait Float:
    NumFloat
    + NumAssign
    + FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Sum
    + Send
    + Sync
    + Debug
    + Display
    + 'static
{
    /// The NumPy name of the type, as `.npy` headers and our JSON output spell it.
    const DTYPE_NAME: &'static str;

    /// Converts an `f64` (a regularization strength, a step size) to this type.
    fn of(value: f64) -> Self {
        <Self as FromPrimitive>::from_f64(value).expect("every f64 converts to f32 or f64")
    }

    /// This value as an `f64`, for reports.
    fn as_f64(self) -> f64 {
        self.to_f64().expect("f32 and f64 convert to f64")
    }
}

impl Float for f32 {
    const DTYPE_NAME: &'static str = "float32";
}

impl Float for f64 {
    const DTYPE_NAME: &'static str = "float64";
}
