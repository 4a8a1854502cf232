//! `softmax.grad_check`: the library's [`softmax::gradcheck::gradient_check`] (CS231n's
//! `grad_check_sparse` on our loss) on NumPy arrays, and the two small classes it returns.

use numpy::PyReadonlyArray2;
use pyo3::prelude::*;
use softmax::gradcheck::{self, GradCheckOptions};

use crate::arrays::{Matrices, labels, read_as};
use crate::errors::without_gil;
use crate::options::{LossNames, n_classes, non_negative};

/// One checked coordinate of W.
///
/// Attributes
/// ----------
/// index : tuple[int, int]
///     The coordinate, in W's own layout.
/// analytic : float
///     The gradient loss_and_grad computes there.
/// numerical : float
///     (L(W + h e) - L(W - h e)) / 2h there.
/// relative_error : float
///     |analytic - numerical| / (|analytic| + |numerical|), 0 when both are 0.
#[pyclass(module = "softmax", frozen, get_all)]
#[derive(Clone)]
pub struct Check {
    index: (usize, usize),
    analytic: f64,
    numerical: f64,
    relative_error: f64,
}

#[pymethods]
impl Check {
    fn __repr__(&self) -> String {
        format!(
            "Check(index={:?}, analytic={:?}, numerical={:?}, relative_error={:?})",
            self.index, self.analytic, self.numerical, self.relative_error
        )
    }

    /// The line CS231n's `grad_check_sparse` prints.
    fn __str__(&self) -> String {
        format!(
            "numerical: {:.6} analytic: {:.6}, relative error: {:.6e}",
            self.numerical, self.analytic, self.relative_error
        )
    }
}

/// What grad_check found.
///
/// Attributes
/// ----------
/// kernel : str
///     The kernel that computed the analytic gradient ("auto" resolved for the shape).
/// loss : float
///     The loss at W.
/// max_relative_error : float
///     The largest relative error of the checks.
/// checks : list[Check]
///     One per checked coordinate, in the order they were drawn.
#[pyclass(module = "softmax", frozen, get_all)]
pub struct GradCheckReport {
    kernel: &'static str,
    loss: f64,
    max_relative_error: f64,
    checks: Vec<Check>,
}

#[pymethods]
impl GradCheckReport {
    fn __repr__(&self) -> String {
        format!(
            "GradCheckReport(kernel='{}', loss={:?}, max_relative_error={:?}, checks=<{} checks>)",
            self.kernel,
            self.loss,
            self.max_relative_error,
            self.checks.len()
        )
    }
}

impl From<gradcheck::GradCheckReport> for GradCheckReport {
    fn from(report: gradcheck::GradCheckReport) -> Self {
        let checks = report.checks.into_iter().map(|check| Check {
            index: (check.index[0], check.index[1]),
            analytic: check.analytic,
            numerical: check.numerical,
            relative_error: check.relative_error,
        });
        GradCheckReport {
            kernel: report.kernel.name(),
            loss: report.loss,
            max_relative_error: report.max_relative_error,
            checks: checks.collect(),
        }
    }
}

/// Checks the gradient of loss_and_grad against centered differences at random coordinates
/// of W, as CS231n's grad_check_sparse, in float64.
///
/// Parameters
/// ----------
/// W, X, y, reg
///     As loss_and_grad (W and X are converted to float64: float32 is too coarse for h = 1e-5).
/// num_checks : int, default 10
///     How many random coordinates of W to check, 1 to 1,000,000 (each costs two loss passes).
///     They are drawn with replacement, as grad_check_sparse's: more than W.size check some
///     twice.
/// h : float, default 1e-5
///     The step of the centered differences (L(W + h e) - L(W - h e)) / 2h.
/// seed : int, default 0
///     Seed of the coordinates (the same seed checks the same coordinates).
/// reg_convention, loss, layout, kernel, label_smoothing
///     As loss_and_grad.
///
/// Returns
/// -------
/// GradCheckReport
///     .checks holds one Check per coordinate (index, analytic, numerical, relative_error);
///     print(check) writes the line grad_check_sparse prints. A correct softmax gradient checks
///     below 1e-7; the svm's kinks can spoil a check whose margin is within h of 0.
///
/// Raises
/// ------
/// TypeError, ValueError
///     As loss_and_grad; ValueError also for num_checks outside 1..1,000,000 and h not finite
///     and > 0.
#[pyfunction]
#[pyo3(signature = (
    W, X, y, reg, *, num_checks = 10, h = 1e-5, seed = 0, reg_convention = "half",
    loss = "softmax", layout = "canonical", kernel = "auto", label_smoothing = 0.0
))]
#[allow(non_snake_case, clippy::too_many_arguments)] // Python's names and keyword arguments
pub fn grad_check(
    py: Python<'_>,
    W: &Bound<'_, PyAny>,
    X: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    reg: f64,
    num_checks: i128,
    h: f64,
    seed: i128,
    reg_convention: &str,
    loss: &str,
    layout: &str,
    kernel: &str,
    label_smoothing: f64,
) -> PyResult<GradCheckReport> {
    let options =
        LossNames { reg_convention, loss, layout, kernel }.options(reg, label_smoothing)?;
    let checks = GradCheckOptions {
        checks: non_negative(num_checks, "num_checks")?,
        step: h,
        seed: non_negative(seed, "seed")?,
    };
    let matrices = Matrices::new(W, X)?;
    let labels = labels(y, n_classes(matrices.weights_shape(), options.layout))?;
    let weights: PyReadonlyArray2<f64> = read_as(&matrices.weights)?;
    let inputs: PyReadonlyArray2<f64> = read_as(&matrices.inputs)?;
    let (weights, inputs) = (weights.as_array(), inputs.as_array());
    let report =
        without_gil(py, || gradcheck::gradient_check(weights, inputs, &labels, &options, &checks))?;
    Ok(report.into())
}
