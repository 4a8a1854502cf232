//! The library's errors as Python exceptions, and the one way this package calls the library:
//! without the GIL, with any panic caught before it reaches Python.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// A library error as the exception NumPy or scikit-learn would raise, with the library's
/// message (the text the command line prints after `error:`): `OSError` for a file that cannot
/// be read or written, `MemoryError` for arrays larger than the system grants, `ValueError` for
/// every bad value (shapes, NaN, labels, options).
pub fn to_py(error: softmax::Error) -> PyErr {
    match error {
        softmax::Error::Io { .. } => PyOSError::new_err(error.to_string()),
        softmax::Error::OutOfMemory(_) => PyMemoryError::new_err(error.to_string()),
        _ => PyValueError::new_err(error.to_string()),
    }
}

/// Runs `compute` with the GIL released, so other Python threads run meanwhile. Its error
/// becomes a Python exception ([`to_py`]); a panic (a bug: the library validates its input)
/// becomes a `RuntimeError` instead of unwinding into the interpreter.
pub fn without_gil<T, F>(py: Python<'_>, compute: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> softmax::Result<T> + Send,
{
    py.detach(|| catch_panic(compute))
}

/// Runs `compute` (on any thread, with or without the GIL): its error becomes a Python
/// exception ([`to_py`]) and a panic a `RuntimeError`.
pub fn catch_panic<T, F>(compute: F) -> PyResult<T>
where
    F: FnOnce() -> softmax::Result<T>,
{
    // AssertUnwindSafe: after a panic nothing `compute` touched is used again; its inputs are
    // read-only views and its outputs are dropped.
    match catch_unwind(AssertUnwindSafe(compute)) {
        Ok(result) => result.map_err(to_py),
        Err(payload) => Err(PyRuntimeError::new_err(format!(
            "internal error in the softmax library (please report it): {}",
            panic_message(payload.as_ref())
        ))),
    }
}

/// The text a panic was raised with, when it was a string.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text,
        (None, Some(text)) => text,
        (None, None) => "a panic without a message",
    }
}
