//! `softmax.loss_and_grad`: the library's [`softmax::loss_and_grad`] on NumPy arrays.

use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray2, PyUntypedArray};
use pyo3::prelude::*;
use softmax::{Float, LossOptions};

use crate::arrays::{Matrices, Precision, labels, read_as};
use crate::errors::without_gil;
use crate::options::{LossNames, n_classes};

/// The loss (mean data loss + L2 penalty) and its gradient with respect to W.
///
/// For a sample x_i with label y_i and scores f = W x_i: softmax L_i = -log p_{y_i} with
/// p = softmax(f); svm L_i = sum_{j != y_i} max(0, f_j - f_{y_i} + 1). The loss is the mean
/// of L_i plus 0.5*reg*sum(W**2) ("half") or reg*sum(W**2) ("full").
///
/// Parameters
/// ----------
/// W : array_like, float32 or float64
///     Weights: C x D (canonical, seed) or D x C (cs231n).
/// X : array_like, float32 or float64
///     Inputs: N x D (canonical, cs231n) or D x N (seed).
/// y : array_like of int, shape (N,)
///     Labels in 0..C-1, any integer dtype.
/// reg : float
///     L2 regularization strength, finite and >= 0.
/// reg_convention : {"half", "full"}, default "half"
///     "half": 0.5*reg*sum(W**2), gradient reg*W; "full": reg*sum(W**2), gradient 2*reg*W
///     (CS231n since 2018).
/// loss : {"softmax", "svm"}, default "softmax"
/// layout : {"canonical", "seed", "cs231n"}, default "canonical"
///     canonical: W C x D, X N x D; seed: W C x D, X D x N; cs231n: W D x C, X N x D.
/// kernel : {"auto", "naive", "vectorized", "fused", "gemm", "sparse"}, default "auto"
///     Which implementation computes it; all give the same numbers to rounding.
/// label_smoothing : float, default 0.0
///     Label smoothing eps in [0, 1), softmax only: the targets are (1 - eps)*onehot(y) + eps/C,
///     L_i = -sum_j q_j log p_j and the gradient of the scores is p - q.
///
/// Returns
/// -------
/// loss : float
/// grad : numpy.ndarray
///     dL/dW, shaped as W, in the dtype the computation ran in.
///
/// Notes
/// -----
/// W and X run in the wider of their float types: float32 (and float16) in float32; float64,
/// integers, booleans and longdouble (rounded) in float64. An array that already has that
/// dtype, in C order, is read in place without a copy; any other (Fortran order, a strided
/// slice, another dtype, a list) is converted once. The GIL is released while it computes: do
/// not write to W or X from another thread until it returns.
///
/// Raises
/// ------
/// TypeError
///     W or X not real numbers, y not integers.
/// ValueError
///     Shapes that disagree, labels out of range, NaN or infinity, negative reg, an unknown
///     option name: with the message the command line prints.
///
/// Examples
/// --------
/// CS231n's check of a student's loss (W: D x C, reg*sum(W**2)):
///
/// >>> loss, grad = softmax.loss_and_grad(W, X, y, reg, layout="cs231n", reg_convention="full")
#[pyfunction]
#[pyo3(signature = (
    W, X, y, reg, *, reg_convention = "half", loss = "softmax", layout = "canonical",
    kernel = "auto", label_smoothing = 0.0
))]
#[allow(non_snake_case, clippy::too_many_arguments)] // Python's names and keyword arguments
pub fn loss_and_grad<'py>(
    py: Python<'py>,
    W: &Bound<'py, PyAny>,
    X: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    reg: f64,
    reg_convention: &str,
    loss: &str,
    layout: &str,
    kernel: &str,
    label_smoothing: f64,
) -> PyResult<(f64, Bound<'py, PyUntypedArray>)> {
    let options =
        LossNames { reg_convention, loss, layout, kernel }.options(reg, label_smoothing)?;
    let matrices = Matrices::new(W, X)?;
    let labels = labels(y, n_classes(matrices.weights_shape(), options.layout))?;
    match matrices.precision {
        Precision::F32 => compute::<f32>(py, &matrices, &labels, &options),
        Precision::F64 => compute::<f64>(py, &matrices, &labels, &options),
    }
}

/// The loss and gradient in `F`, W and X read as `F`.
fn compute<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    matrices: &Matrices<'py>,
    labels: &[usize],
    options: &LossOptions,
) -> PyResult<(f64, Bound<'py, PyUntypedArray>)> {
    let weights: PyReadonlyArray2<F> = read_as(&matrices.weights)?;
    let inputs: PyReadonlyArray2<F> = read_as(&matrices.inputs)?;
    let (weights, inputs) = (weights.as_array(), inputs.as_array());
    let out = without_gil(py, || softmax::loss_and_grad(weights, inputs, labels, options))?;
    Ok((out.loss.as_f64(), out.grad.into_pyarray(py).as_untyped().clone()))
}
