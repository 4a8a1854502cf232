//! NumPy arrays in: weights and inputs as float32 or float64 matrices, labels as indices.
//!
//! An array that already has the dtype the computation runs in, in native byte order, C order
//! and aligned, is read where it lies (a read-only view, no copy). Any other array (Fortran
//! order, a strided slice, another dtype, a list) is converted once with
//! `numpy.ascontiguousarray`. W and X run in the wider of their float types: float16 and float32
//! in float32; float64, longdouble (rounded), integers and booleans in float64.

use ndarray::{Array2, ArrayView1, Dimension, Ix2};
use numpy::{
    Element, PyArray, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray, PyUntypedArray,
    PyUntypedArrayMethods, dtype,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::to_py;

/// The float type a computation runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    F32,
    F64,
}

/// W and X as 2-D NumPy arrays of real numbers, and the float type they compute in.
pub struct Matrices<'py> {
    pub weights: Bound<'py, PyUntypedArray>,
    pub inputs: Bound<'py, PyUntypedArray>,
    pub precision: Precision,
}

impl<'py> Matrices<'py> {
    /// Checks `w` and `x` (any array-like): `TypeError` for a dtype that is not a real number,
    /// `ValueError` for an array that is not 2-D.
    pub fn new(w: &Bound<'py, PyAny>, x: &Bound<'py, PyAny>) -> PyResult<Self> {
        let (weights, weights_precision) = checked(w, "W", 2, precision)?;
        let (inputs, inputs_precision) = checked(x, "X", 2, precision)?;
        Ok(Matrices { weights, inputs, precision: weights_precision.max(inputs_precision) })
    }

    /// W's shape.
    pub fn weights_shape(&self) -> [usize; 2] {
        [self.weights.shape()[0], self.weights.shape()[1]]
    }
}

/// X (any array-like of real numbers, 2-D) as the library's data sets hold it: float32, N x D,
/// in a new array. It is read in its own precision (in place when it can be) and converted
/// once, rather than converted to float32 by NumPy and then copied.
pub fn inputs_f32(x: &Bound<'_, PyAny>) -> PyResult<Array2<f32>> {
    let (array, precision) = checked(x, "X", 2, precision)?;
    Ok(match precision {
        Precision::F32 => read_as::<f32, Ix2>(&array)?.as_array().to_owned(),
        Precision::F64 => read_as::<f64, Ix2>(&array)?.as_array().mapv(|value| value as f32),
    })
}

/// `array` as element type `F`: read in place when it already fits, converted once otherwise.
pub fn read_as<'py, F: Element, D: Dimension>(
    array: &Bound<'py, PyUntypedArray>,
) -> PyResult<PyReadonlyArray<'py, F, D>> {
    let py = array.py();
    let target = dtype::<F>(py);
    let fits = array.dtype().is_equiv_to(&target) && array.is_c_contiguous() && array.is_aligned();
    let array = match fits {
        true => array.clone().into_any(),
        false => py.import("numpy")?.call_method1("ascontiguousarray", (array, target))?,
    };
    Ok(array.cast_into::<PyArray<F, D>>()?.try_readonly()?)
}

/// The labels `y` (any array-like of integers, N of them) as indices. A negative label gets the
/// library's out-of-range error, for weights with `n_classes` classes; the library checks the
/// rest (count, upper bound) when it runs.
pub fn labels(y: &Bound<'_, PyAny>, n_classes: usize) -> PyResult<Vec<usize>> {
    let (y, unsigned) = checked(y, "y", 1, |array, name| match array.dtype().kind() {
        b'i' => Ok(false),
        b'u' => Ok(true),
        _ => Err(not_a(array, name, "an array of integer labels")),
    })?;
    match unsigned {
        true => indices(read_as::<u64, _>(&y)?.as_array(), n_classes),
        false => indices(read_as::<i64, _>(&y)?.as_array(), n_classes),
    }
}

/// `labels` as `usize`, refusing a negative one.
fn indices<L: Copy + Into<i128>>(labels: ArrayView1<L>, n_classes: usize) -> PyResult<Vec<usize>> {
    labels
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            let label: i128 = label.into();
            usize::try_from(label)
                .map_err(|_| to_py(softmax::Error::LabelOutOfRange { index, label, n_classes }))
        })
        .collect()
}

/// `value` as a NumPy array (as `numpy.asarray` makes one, unless it is one) with `ndim`
/// dimensions, and what `check_dtype` says of its dtype.
fn checked<'py, T>(
    value: &Bound<'py, PyAny>,
    name: &str,
    ndim: usize,
    check_dtype: impl Fn(&Bound<'py, PyUntypedArray>, &str) -> PyResult<T>,
) -> PyResult<(Bound<'py, PyUntypedArray>, T)> {
    let array = match value.cast::<PyUntypedArray>() {
        Ok(array) => array.clone(),
        Err(_) => value.py().import("numpy")?.call_method1("asarray", (value,))?.cast_into()?,
    };
    let verdict = check_dtype(&array, name)?;
    if array.ndim() != ndim {
        return Err(PyValueError::new_err(format!(
            "{name} must be a {ndim}-D array, got shape {}",
            shape_text(array.shape())
        )));
    }
    Ok((array, verdict))
}

/// The float type an array of real numbers computes in; `TypeError` for any other dtype.
fn precision(array: &Bound<'_, PyUntypedArray>, name: &str) -> PyResult<Precision> {
    let dtype = array.dtype();
    match (dtype.kind(), dtype.itemsize()) {
        (b'f', 2 | 4) => Ok(Precision::F32),
        (b'f' | b'i' | b'u' | b'b', _) => Ok(Precision::F64),
        _ => Err(not_a(array, name, "an array of real numbers")),
    }
}

/// The `TypeError` for an array whose dtype is not `expected`.
fn not_a(array: &Bound<'_, PyUntypedArray>, name: &str, expected: &str) -> PyErr {
    PyTypeError::new_err(format!("{name} must be {expected}, got dtype {}", array.dtype()))
}

/// A shape as Python writes it: `(3,)`, `(2, 3)`, `()`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [single] => format!("({single},)"),
        _ => {
            let sizes: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", sizes.join(", "))
        }
    }
}
