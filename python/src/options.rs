//! Python's keyword arguments as the library's options: names parsed by the library itself (so
//! an unknown name gets its message, listing the valid ones), integers checked for sign.

use std::str::FromStr;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use softmax::{Layout, LossOptions};

use crate::errors::to_py;

/// The names of the loss options, as Python passes them (`"softmax"`, `"half"`, ...).
pub struct LossNames<'a> {
    pub reg_convention: &'a str,
    pub loss: &'a str,
    pub layout: &'a str,
    pub kernel: &'a str,
}

impl LossNames<'_> {
    /// The library's options with strength `reg` and label smoothing `label_smoothing` (both
    /// checked by the library when it runs).
    pub fn options(&self, reg: f64, label_smoothing: f64) -> PyResult<LossOptions> {
        Ok(LossOptions {
            loss: parse(self.loss)?,
            reg,
            reg_convention: parse(self.reg_convention)?,
            kernel: parse(self.kernel)?,
            layout: parse(self.layout)?,
            isa: None,
            label_smoothing,
        })
    }
}

/// A named choice (`Loss`, `RegConvention`, `Layout`, `Kernel`) from its name.
pub fn parse<T: FromStr<Err = softmax::Error>>(name: &str) -> PyResult<T> {
    name.parse().map_err(to_py)
}

/// The number of classes C of weights shaped `shape` in `layout` (W is D×C in `cs231n`).
pub fn n_classes(shape: [usize; 2], layout: Layout) -> usize {
    match layout {
        Layout::Canonical | Layout::Seed => shape[0],
        Layout::Cs231n => shape[1],
    }
}

/// A seed or a count given as a Python int: a `ValueError` naming `name` when it is negative or
/// too large for `T`.
pub fn non_negative<T: TryFrom<i128>>(value: i128, name: &str) -> PyResult<T> {
    T::try_from(value).map_err(|_| {
        PyValueError::new_err(format!(
            "{name} must be a non-negative integer that fits {} bits, got {value}",
            8 * std::mem::size_of::<T>()
        ))
    })
}
