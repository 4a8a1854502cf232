//! `softmax.explain`: the worked example of `softmax explain`, as text.

use pyo3::prelude::*;
use softmax::explain::ExplainOptions;

use crate::errors::without_gil;
use crate::options::{non_negative, parse};

/// The worked example of `softmax explain`: a tiny problem (C = 3, D = 4, N = 2) with every
/// number of the loss and gradient computation, checked against every kernel and centered
/// differences.
///
/// Parameters
/// ----------
/// seed : int, default 0
///     Seed of the example's weights, inputs and labels.
/// loss : {"softmax", "svm"}, default "softmax"
/// reg : float, default 0.1
///     L2 regularization strength, finite and >= 0 (the command's default; a test checks that
///     explain() prints what `softmax explain` prints).
/// reg_convention : {"half", "full"}, default "half"
///
/// Returns
/// -------
/// str
///     The text the command prints with the same options (print() writes it identically).
///
/// Raises
/// ------
/// ValueError
///     A negative seed or reg, an unknown option name.
#[pyfunction]
#[pyo3(signature = (
    *, seed = 0, loss = "softmax", reg = 0.1, reg_convention = "half"
))]
pub fn explain(
    py: Python<'_>,
    seed: i128,
    loss: &str,
    reg: f64,
    reg_convention: &str,
) -> PyResult<String> {
    let options = ExplainOptions {
        seed: non_negative(seed, "seed")?,
        loss: parse(loss)?,
        reg,
        reg_convention: parse(reg_convention)?,
        ..ExplainOptions::default()
    };
    let text = without_gil(py, || softmax::explain::explain(&options))?;
    Ok(text.trim_end().to_owned())
}
