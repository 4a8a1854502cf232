//! `softmax._softmax.Model`: a trained model of the library ([`softmax::model::Model`]) as a Python
//! object: its parts as NumPy arrays, its file (`save`, `load`), and pickling through the file's
//! bytes. The estimator (`softmax.SoftmaxClassifier`) wraps one.

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;

/// A trained linear classifier: scores = W (x - offset) / scale + b.
///
/// Made by ``softmax._softmax.fit`` or read from a model file of the command line
/// (``Model.load``); its parts are read-only.
#[pyclass(module = "softmax._softmax", frozen)]
pub struct Model {
    pub inner: softmax::model::Model,
}

#[pymethods]
impl Model {
    /// Reads a model file written by ``softmax train`` or ``Model.save``.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
        let inner = py.detach(|| softmax::model::Model::load(&path)).map_err(to_py)?;
        Ok(Model { inner })
    }

    /// The model from the bytes of a model file (``to_bytes``).
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Model> {
        let source = PathBuf::from("<model bytes>");
        Ok(Model { inner: softmax::model::Model::from_bytes(bytes, &source).map_err(to_py)? })
    }

    /// Writes the model file, atomically (the command line reads it).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py)
    }

    /// The bytes ``save`` writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.inner.to_bytes().map_err(to_py)?))
    }

    /// Pickled as the bytes of its file.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let rebuild = py.get_type::<Model>().getattr("from_bytes")?;
        Ok((rebuild, (self.to_bytes(py)?,)))
    }

    /// W, C x D (float64), on preprocessed inputs.
    #[getter]
    fn weight<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.inner.weight().clone().into_pyarray(py)
    }

    /// b, C entries (float64).
    #[getter]
    fn bias<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.bias().clone().into_pyarray(py)
    }

    /// The preprocessing's offset, D entries: x' = (x - offset) / scale.
    #[getter]
    fn offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.preprocessor().offset.clone().into_pyarray(py)
    }

    /// The preprocessing's scale, D entries, all > 0.
    #[getter]
    fn scale<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.preprocessor().scale.clone().into_pyarray(py)
    }

    /// The preprocessing: "none", "scale", "center" or "standardize".
    #[getter]
    fn preprocess(&self) -> &'static str {
        self.inner.preprocessor().kind.name()
    }

    /// One name per class, in label order.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.inner.class_names().to_vec()
    }

    /// One name per feature, or None.
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        self.inner.feature_names().map(<[String]>::to_vec)
    }

    /// "softmax" or "svm".
    #[getter]
    fn loss(&self) -> &'static str {
        self.inner.loss().name()
    }

    /// The regularization strength the weights were trained with.
    #[getter]
    fn reg(&self) -> f64 {
        self.inner.reg()
    }

    /// "half" or "full".
    #[getter]
    fn reg_convention(&self) -> &'static str {
        self.inner.reg_convention().name()
    }

    /// "intercept" or "trick".
    #[getter]
    fn bias_mode(&self) -> &'static str {
        self.inner.bias_mode().name()
    }

    /// "float32" or "float64": the dtype it was trained in.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.precision().name()
    }

    /// The training options, as a JSON text.
    #[getter]
    fn training(&self) -> String {
        self.inner.training().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(classes={}, features={}, loss={:?}, reg={:?})",
            self.inner.n_classes(),
            self.inner.n_features(),
            self.inner.loss().name(),
            self.inner.reg()
        )
    }
}
