//! The Python package `softmax`: the library's loss and gradient, its gradient check and its
//! worked example on NumPy arrays, through PyO3 and the `numpy` crate. No math lives here: each
//! function converts its arguments, calls the library without the GIL and converts the result.
//!
//! - [`arrays`]: NumPy arrays in, read in place when they already fit, converted once otherwise;
//! - [`options`]: option names (`"softmax"`, `"half"`, ...) and counts to the library's types;
//! - [`errors`]: the library's errors as Python exceptions, and the GIL-free, panic-proof call;
//! - [`loss`], [`gradcheck`], [`explain`]: the learners' three functions;
//! - [`fit`], [`model`]: training and the trained model, for `softmax.SoftmaxClassifier`.

mod arrays;
mod errors;
mod explain;
mod fit;
mod gradcheck;
mod loss;
mod model;
mod options;

use pyo3::prelude::*;

/// The compiled part of the `softmax` package (import `softmax`, not this module).
#[pymodule]
mod _softmax {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::explain::explain;
    #[pymodule_export]
    use crate::fit::{FitResult, fit};
    #[pymodule_export]
    use crate::gradcheck::{Check, GradCheckReport, grad_check};
    #[pymodule_export]
    use crate::loss::loss_and_grad;
    #[pymodule_export]
    use crate::model::Model;

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
