//! A trained linear classifier ([`Model`]) and its file.
//!
//! # The model
//! For a raw input x (D features, in the units the data set was loaded in), the model computes
//! the preprocessed input x' = (x − offset) / scale (the fitted [`Preprocessor`]), the scores
//! f = W x' + b (W: C×D, b: C), the predicted class argmax_j f_j and the softmax
//! p_j = e^{f_j} / Σ_k e^{f_k}. Scores are computed in f64 whatever dtype the model was
//! trained in.
//!
//! # The file
//! A [safetensors](https://huggingface.co/docs/safetensors) file: 8 bytes holding the header's
//! length n (unsigned, little-endian), n bytes of JSON header, then the raw tensor data
//! (little-endian, C order). Four tensors, all in the model's dtype (`F32` or `F64`):
//!
//! | tensor | shape | holds |
//! |---|---|---|
//! | `weight` | C×D | W, class-major |
//! | `bias` | C | b |
//! | `preprocess_offset` | D | the preprocessing's offset |
//! | `preprocess_scale` | D | the preprocessing's scale (every entry > 0) |
//!
//! The header's `__metadata__` maps names to strings; structured values are JSON-encoded:
//!
//! | key | value |
//! |---|---|
//! | `format` | `softmax-linear-classifier` ([`FORMAT`]) |
//! | `format_version` | `1` ([`FORMAT_VERSION`]) |
//! | `class_names` | JSON list of C strings, in label order |
//! | `feature_names` | JSON list of D strings; absent when the data had none |
//! | `image_shape` | JSON `{"channels", "height", "width"}`; absent for non-image data |
//! | `preprocess` | `none`, `scale`, `center` or `standardize` |
//! | `bias` | `intercept` or `trick` |
//! | `loss` | `softmax` or `svm` |
//! | `reg` | the regularization strength, a JSON number |
//! | `reg_convention` | `half` or `full` |
//! | `dtype` | `float32` or `float64`: the tensors' dtype |
//! | `training` | JSON object: the training options, as the trainer reports them |
//!
//! The metadata's keys are in sorted order, so the same model always gives the same bytes.
//! [`Model::save`] writes atomically;
//! [`Model::load`] checks the format, its version, every tensor's dtype and shape against C
//! and D, and that every value is finite, and names the file in every error.
//!
//! # Reading it from Python
//! With the `safetensors` package (`pip install numpy safetensors`):
//! ```python
//! import json
//! import numpy as np
//! from safetensors import safe_open
//! from safetensors.numpy import load_file
//!
//! tensors = load_file("model.safetensors")          # name -> numpy array
//! with safe_open("model.safetensors", framework="np") as f:
//!     metadata = f.metadata()                       # name -> string
//! ```
//! With NumPy alone:
//! ```python
//! import json, struct
//! import numpy as np
//!
//! data = open("model.safetensors", "rb").read()
//! (n,) = struct.unpack("<Q", data[:8])
//! header = json.loads(data[8 : 8 + n])
//! metadata = header.pop("__metadata__")
//! dtypes = {"F32": "<f4", "F64": "<f8"}
//! tensors = {
//!     name: np.frombuffer(data[8 + n + info["data_offsets"][0] : 8 + n + info["data_offsets"][1]],
//!                         dtype=dtypes[info["dtype"]]).reshape(info["shape"])
//!     for name, info in header.items()
//! }
//! ```
//! Either way, predicting is two lines:
//! ```python
//! x = (np.load("inputs.npy") - tensors["preprocess_offset"]) / tensors["preprocess_scale"]
//! scores = x @ tensors["weight"].T + tensors["bias"]
//! print([json.loads(metadata["class_names"])[i] for i in scores.argmax(axis=1)])
//! ```
//! `tests/fixtures/model/read_model.py` does both and checks that they agree.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Dimension, s};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::write_atomically;
use crate::data::ImageShape;
use crate::preprocess::{Bias, Preprocessor};
use crate::{Error, Loss, RegConvention, Result};

/// Rows of inputs preprocessed (into float64) at a time by [`Model::scores`].
const SCORE_CHUNK_ROWS: usize = 1024;

/// The `format` metadata entry of every model file.
pub const FORMAT: &str = "softmax-linear-classifier";

/// The version of the file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The tensor names, in the order of the file format's table.
const WEIGHT: &str = "weight";
const BIAS: &str = "bias";
const OFFSET: &str = "preprocess_offset";
const SCALE: &str = "preprocess_scale";

/// A trained linear classifier: scores = W·x' + b with x' the preprocessed input.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// W, C×D.
    pub weight: Array2<f64>,
    /// b, C entries.
    pub bias: Array1<f64>,
    /// x' = (x − offset) / scale, fitted on the training split.
    pub preprocessor: Preprocessor,
    /// One name per class, in label order.
    pub class_names: Vec<String>,
    /// One name per feature, when the training data had them.
    pub feature_names: Option<Vec<String>>,
    /// The shape of an image sample, for image data.
    pub image_shape: Option<ImageShape>,
    /// The loss the model was trained with (and [`crate::metrics::evaluate`] reports).
    pub loss: Loss,
    pub reg: f64,
    pub reg_convention: RegConvention,
    pub bias_mode: Bias,
    /// The dtype the model was trained in and is stored in: "float32" or "float64".
    pub dtype: String,
    /// The training options, as the trainer reports them (free-form JSON object).
    pub training: serde_json::Value,
}

impl Model {
    /// C, the number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// D, the number of (raw) input features.
    pub fn n_features(&self) -> usize {
        self.weight.ncols()
    }

    /// The scores f = W·x' + b (N×C, f64) of raw inputs (N×D, as loaded).
    ///
    /// # Errors
    /// Inputs whose D is not the model's ([`Error::FeatureMismatch`]), a NaN or infinity in the
    /// inputs ([`Error::NonFinite`], with its location), scores that overflow f64, and an
    /// inconsistent model (fields whose shapes disagree: [`Error::InvalidOption`]).
    pub fn scores(&self, inputs: ArrayView2<f32>) -> Result<Array2<f64>> {
        self.check()
            .map_err(|message| Error::InvalidOption(format!("inconsistent model: {message}")))?;
        self.check_inputs(inputs)?;
        // Rows go in chunks, so the preprocessed float64 copy of the inputs is SCORE_CHUNK_ROWS
        // rows, not N. x' has a constant-1 column after its D features; b is added directly.
        let mut scores = Array2::zeros((inputs.nrows(), self.weight.nrows()));
        let chunks = inputs.axis_chunks_iter(Axis(0), SCORE_CHUNK_ROWS);
        for (rows, mut out) in chunks.zip(scores.axis_chunks_iter_mut(Axis(0), SCORE_CHUNK_ROWS)) {
            let transformed = self.preprocessor.transform_with_bias::<f64>(rows);
            let features = transformed.slice(s![.., ..self.n_features()]);
            general_mat_mul(1.0, &features, &self.weight.t(), 0.0, &mut out);
            out += &self.bias;
        }
        match scores.rows().into_iter().position(|row| row.iter().any(|f| !f.is_finite())) {
            Some(sample) => Err(Error::ScoreOverflow { sample, dtype: "float64" }),
            None => Ok(scores),
        }
    }

    /// The predicted class of each sample: argmax_j f_j, the lowest index on ties.
    ///
    /// # Errors
    /// As [`Model::scores`].
    pub fn predict(&self, inputs: ArrayView2<f32>) -> Result<Vec<usize>> {
        Ok(argmax_rows(self.scores(inputs)?.view()))
    }

    /// The softmax of the scores ([`softmax_rows`]): N×C, each row sums to 1.
    ///
    /// For a softmax model these are the model's class probabilities. An svm model was not
    /// trained to make them calibrated: they rank the classes as the scores do, no more.
    ///
    /// # Errors
    /// As [`Model::scores`].
    pub fn predict_probabilities(&self, inputs: ArrayView2<f32>) -> Result<Array2<f64>> {
        Ok(softmax_rows(self.scores(inputs)?))
    }

    /// Writes the model to `path` as a safetensors file (see the module doc), atomically.
    ///
    /// # Errors
    /// An inconsistent model (shapes that disagree, non-finite values, a scale that is not > 0,
    /// an unknown dtype, a value too large for float32 in a float32 model) and any I/O error.
    /// On error, an existing file at `path` is left untouched.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self
            .to_bytes()
            .map_err(|message| Error::file(path, format!("cannot save the model: {message}")))?;
        write_atomically(path, |out| out.write_all(&bytes))
    }

    /// Reads a model written by [`Model::save`].
    ///
    /// # Errors
    /// A missing or unreadable file, a file that is not safetensors, not a model (another
    /// `format`), a newer `format_version`, and a missing, mistyped, misshapen or non-finite
    /// tensor or metadata entry. Every error names the file.
    pub fn load(path: &Path) -> Result<Model> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Model::from_bytes(&bytes).map_err(|message| Error::file(path, message))
    }

    /// The file's bytes: the four tensors in the model's dtype and the metadata.
    fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        self.check()?;
        let dtype = tensor_dtype(&self.dtype)?;
        let (n_classes, n_features) = self.weight.dim();
        let tensors = [
            (WEIGHT, vec![n_classes, n_features], encode(WEIGHT, self.weight.iter(), dtype)?),
            (BIAS, vec![n_classes], encode(BIAS, self.bias.iter(), dtype)?),
            (OFFSET, vec![n_features], encode(OFFSET, self.preprocessor.offset.iter(), dtype)?),
            (SCALE, vec![n_features], encode(SCALE, self.preprocessor.scale.iter(), dtype)?),
        ];
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                TensorView::new(dtype, shape.clone(), bytes).map(|view| (*name, view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let bytes =
            safetensors::serialize(views, Some(self.metadata()?)).map_err(|e| e.to_string())?;
        with_sorted_metadata(bytes)
    }

    /// The `__metadata__` entries (see the module doc).
    fn metadata(&self) -> std::result::Result<HashMap<String, String>, String> {
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("class_names".to_string(), to_json(&self.class_names)?),
            ("preprocess".to_string(), self.preprocessor.kind.name().to_string()),
            ("bias".to_string(), self.bias_mode.name().to_string()),
            ("loss".to_string(), self.loss.name().to_string()),
            ("reg".to_string(), to_json(&self.reg)?),
            ("reg_convention".to_string(), self.reg_convention.name().to_string()),
            ("dtype".to_string(), self.dtype.clone()),
            ("training".to_string(), to_json(&self.training)?),
        ]);
        if let Some(names) = &self.feature_names {
            metadata.insert("feature_names".to_string(), to_json(names)?);
        }
        if let Some(shape) = &self.image_shape {
            metadata.insert("image_shape".to_string(), to_json(shape)?);
        }
        Ok(metadata)
    }

    /// Parses and checks a model file's bytes; the error is a message without the file name.
    fn from_bytes(bytes: &[u8]) -> std::result::Result<Model, String> {
        let not_safetensors = |e: SafeTensorError| format!("not a safetensors model file ({e})");
        // The header is parsed twice (`SafeTensors` keeps its metadata private): it is small.
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
        let file = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
        let empty = HashMap::new();
        let metadata = Metadata(header.metadata().as_ref().unwrap_or(&empty));
        metadata.check_format()?;
        let dtype = metadata.text("dtype")?.to_string();
        let tensor_dtype = tensor_dtype(&dtype).map_err(|e| format!("metadata 'dtype': {e}"))?;
        let class_names: Vec<String> = metadata.json("class_names")?;
        let n_classes = class_names.len();
        let n_features = match tensor(&file, WEIGHT)?.shape()[..] {
            [rows, columns] if rows == n_classes => columns,
            ref shape => {
                return Err(format!(
                    "tensor 'weight' has shape {shape:?}, expected [C, D] with C = {n_classes} \
                     (the number of class names)"
                ));
            }
        };
        let read = |name, shape: &[usize]| read_tensor(&file, name, tensor_dtype, shape);
        let weight = read(WEIGHT, &[n_classes, n_features])?;
        let model = Model {
            weight: Array2::from_shape_vec((n_classes, n_features), weight)
                .map_err(|e| e.to_string())?,
            bias: Array1::from(read(BIAS, &[n_classes])?),
            preprocessor: Preprocessor {
                kind: metadata.named("preprocess")?,
                offset: Array1::from(read(OFFSET, &[n_features])?),
                scale: Array1::from(read(SCALE, &[n_features])?),
            },
            class_names,
            feature_names: metadata.optional_json("feature_names")?,
            image_shape: metadata.optional_json("image_shape")?,
            loss: metadata.named("loss")?,
            reg: metadata.json("reg")?,
            reg_convention: metadata.named("reg_convention")?,
            bias_mode: metadata.named("bias")?,
            dtype,
            training: metadata.json("training")?,
        };
        model.check()?;
        Ok(model)
    }

    /// Checks that the fields agree with each other (C and D), that every number is finite,
    /// every scale > 0, the class names distinct and the dtype known.
    fn check(&self) -> std::result::Result<(), String> {
        let (n_classes, n_features) = (self.n_classes(), self.n_features());
        if n_classes == 0 || n_features == 0 {
            return Err(format!(
                "a model needs classes and features, got C = {n_classes}, D = {n_features}"
            ));
        }
        let counts = [
            ("rows of the weights", self.weight.nrows(), n_classes, "C"),
            ("bias entries", self.bias.len(), n_classes, "C"),
            ("preprocessing offsets", self.preprocessor.offset.len(), n_features, "D"),
            ("preprocessing scales", self.preprocessor.scale.len(), n_features, "D"),
            (
                "feature names",
                self.feature_names.as_ref().map_or(n_features, Vec::len),
                n_features,
                "D",
            ),
            (
                "image pixels (channels·height·width)",
                self.image_shape.map_or(n_features, image_size),
                n_features,
                "D",
            ),
        ];
        if let Some((what, count, expected, letter)) =
            counts.iter().find(|(_, count, expected, _)| count != expected)
        {
            return Err(format!("{count} {what} for {letter} = {expected}"));
        }
        let mut seen = HashSet::new();
        if let Some(name) = self.class_names.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(format!("class name '{name}' appears twice"));
        }
        let arrays = [
            (WEIGHT, self.weight.view().into_dyn()),
            (BIAS, self.bias.view().into_dyn()),
            (OFFSET, self.preprocessor.offset.view().into_dyn()),
            (SCALE, self.preprocessor.scale.view().into_dyn()),
        ];
        for (name, values) in arrays {
            if let Some((index, value)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(format!(
                    "{name} holds {value} at {:?}: every value must be finite",
                    index.slice()
                ));
            }
        }
        if let Some((feature, scale)) =
            self.preprocessor.scale.iter().enumerate().find(|(_, s)| **s <= 0.0)
        {
            return Err(format!(
                "preprocess_scale of feature {feature} is {scale}: scales must be > 0"
            ));
        }
        crate::loss::check_reg(self.reg).map_err(|e| e.to_string())?;
        tensor_dtype(&self.dtype).map(|_| ())
    }

    /// Refuses inputs with another number of features, or holding a NaN or infinity.
    fn check_inputs(&self, inputs: ArrayView2<f32>) -> Result<()> {
        if inputs.ncols() != self.n_features() {
            let (n_classes, n_features) = self.weight.dim();
            return Err(Error::FeatureMismatch {
                weights: [n_classes, n_features],
                inputs: [inputs.nrows(), inputs.ncols()],
                weights_features: n_features,
                inputs_features: inputs.ncols(),
                layout: crate::Layout::Canonical.name(),
                layout_shapes: crate::Layout::Canonical.shapes(),
            });
        }
        match inputs.indexed_iter().find(|(_, v)| !v.is_finite()) {
            Some(((sample, feature), &value)) => Err(Error::NonFinite {
                what: "inputs",
                location: format!("sample {sample}, feature {feature}"),
                value: f64::from(value),
            }),
            None => Ok(()),
        }
    }
}

/// The predicted class of each row of scores (N×C): argmax_j f_j, the lowest index on ties.
pub fn argmax_rows(scores: ArrayView2<f64>) -> Vec<usize> {
    scores.rows().into_iter().map(argmax).collect()
}

/// The softmax of each row of scores (N×C): p_j = e^{f_j − m} / Σ_k e^{f_k − m} with
/// m = max_k f_k. Subtracting m changes nothing (the factor e^{−m} cancels) but keeps e^{…}
/// from overflowing: scores in the thousands give finite probabilities.
pub fn softmax_rows(mut scores: Array2<f64>) -> Array2<f64> {
    for mut row in scores.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &f| m.max(f));
        row.mapv_inplace(|f| (f - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    scores
}

/// The index of the largest entry, the first one on ties.
fn argmax(row: ArrayView1<f64>) -> usize {
    let mut best = 0;
    for (j, &value) in row.iter().enumerate() {
        if value > row[best] {
            best = j;
        }
    }
    best
}

/// The safetensors dtype of a model dtype name.
fn tensor_dtype(name: &str) -> std::result::Result<Dtype, String> {
    match name {
        "float32" => Ok(Dtype::F32),
        "float64" => Ok(Dtype::F64),
        other => Err(format!("unknown dtype '{other}': expected float32 or float64")),
    }
}

/// channels·height·width, saturating (a huge shape never equals D).
fn image_size(shape: ImageShape) -> usize {
    shape.channels.saturating_mul(shape.height).saturating_mul(shape.width)
}

/// Little-endian bytes of `values` in `dtype` (F32 or F64); a value that float32 cannot hold is
/// an error, not an infinity in the file.
fn encode<'a>(
    name: &str,
    values: impl Iterator<Item = &'a f64>,
    dtype: Dtype,
) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for &value in values {
        match dtype {
            Dtype::F32 if !(value as f32).is_finite() => {
                return Err(format!("{name} holds {value:e}, too large for a float32 model"));
            }
            Dtype::F32 => bytes.extend((value as f32).to_le_bytes()),
            _ => bytes.extend(value.to_le_bytes()),
        }
    }
    Ok(bytes)
}

/// Tensor `name` of the file.
fn tensor<'a>(file: &SafeTensors<'a>, name: &str) -> std::result::Result<TensorView<'a>, String> {
    file.tensor(name).map_err(|_| format!("tensor '{name}' is missing"))
}

/// Reads tensor `name`, which must have `dtype` (F32 or F64) and `shape`, as f64 values.
fn read_tensor(
    file: &SafeTensors,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> std::result::Result<Vec<f64>, String> {
    let tensor = tensor(file, name)?;
    if tensor.dtype() != dtype {
        return Err(format!(
            "tensor '{name}' is {:?}, but the metadata's dtype says {dtype:?}",
            tensor.dtype()
        ));
    }
    if tensor.shape() != shape {
        return Err(format!("tensor '{name}' has shape {:?}, expected {shape:?}", tensor.shape()));
    }
    // The safetensors crate has checked that the data holds exactly shape × dtype bytes.
    let values: Vec<f64> = match dtype {
        Dtype::F32 => tensor
            .data()
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        _ => tensor
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect(),
    };
    Ok(values)
}

/// A value as JSON text.
fn to_json(value: &impl Serialize) -> std::result::Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

/// The `__metadata__` of a model file, with typed accessors whose errors name the key.
struct Metadata<'a>(&'a HashMap<String, String>);

impl Metadata<'_> {
    /// Checks `format` and `format_version`.
    fn check_format(&self) -> std::result::Result<(), String> {
        match self.0.get("format") {
            Some(format) if format == FORMAT => {}
            Some(format) => {
                return Err(format!(
                    "not a softmax model: its format is '{format}', expected '{FORMAT}'"
                ));
            }
            None => {
                return Err(format!(
                    "not a softmax model: a safetensors file without the metadata entry format = '{FORMAT}'"
                ));
            }
        }
        let version = self.text("format_version")?;
        match version.parse::<u32>() {
            Ok(FORMAT_VERSION) => Ok(()),
            Ok(newer) if newer > FORMAT_VERSION => Err(format!(
                "model format version {newer} is newer than this build of softmax reads \
                 (version {FORMAT_VERSION}): upgrade softmax to load it"
            )),
            _ => Err(format!(
                "unknown model format version '{version}': this build of softmax reads version {FORMAT_VERSION}"
            )),
        }
    }

    /// The entry `key`, which must be present.
    fn text(&self, key: &str) -> std::result::Result<&str, String> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("the metadata has no '{key}' entry"))
    }

    /// The entry `key`, JSON-decoded.
    fn json<T: DeserializeOwned>(&self, key: &str) -> std::result::Result<T, String> {
        let text = self.text(key)?;
        serde_json::from_str(text)
            .map_err(|e| format!("metadata '{key}' = {text:?} is not valid: {e}"))
    }

    /// The entry `key`, JSON-decoded, or `None` when absent.
    fn optional_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> std::result::Result<Option<T>, String> {
        match self.0.contains_key(key) {
            true => self.json(key).map(Some),
            false => Ok(None),
        }
    }

    /// The entry `key`, parsed as one of the library's named options.
    fn named<T: std::str::FromStr<Err = Error>>(
        &self,
        key: &str,
    ) -> std::result::Result<T, String> {
        self.text(key)?.parse().map_err(|e: Error| format!("metadata '{key}': {e}"))
    }
}

/// `bytes`, a safetensors file, with its `__metadata__` keys sorted: the safetensors crate
/// writes them in a hash map's order, which changes from save to save. The same entries in
/// another order take the same bytes, so the header keeps its length (and its padding) and the
/// tensors their offsets.
fn with_sorted_metadata(mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let header_len = bytes
        .first_chunk::<8>()
        .map(|len| u64::from_le_bytes(*len) as usize)
        .filter(|&len| 8 + len <= bytes.len())
        .ok_or("safetensors wrote a truncated header")?;
    let header = &mut bytes[8..8 + header_len];
    let mut parsed: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| e.to_string())?;
    if let Some(metadata) = parsed.get_mut("__metadata__").and_then(|m| m.as_object_mut()) {
        metadata.sort_keys();
    }
    let sorted = serde_json::to_vec(&parsed).map_err(|e| e.to_string())?;
    if sorted.len() > header_len {
        return Err("the sorted header is longer than safetensors' own".to_string());
    }
    header[..sorted.len()].copy_from_slice(&sorted);
    header[sorted.len()..].fill(b' ');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn argmax_takes_the_first_of_tied_maxima() {
        let scores = array![[1.0, 3.0, 3.0], [-2.0, -2.0, -5.0], [0.0, -1.0, 7.5]];
        assert_eq!(argmax_rows(scores.view()), vec![1, 0, 2]);
    }

    #[test]
    fn softmax_rows_subtracts_the_maximum() {
        // [1234, 0] would overflow e^{1234}; shifted it is [e^0, e^{−1234}] / … = [1, 0].
        let probabilities = softmax_rows(array![[1234.0, 0.0], [0.0, 2f64.ln()]]);
        assert_eq!(probabilities.row(0).to_vec(), vec![1.0, 0.0]);
        assert!((probabilities[[1, 0]] - 1.0 / 3.0).abs() < 1e-15);
        assert!((probabilities[[1, 1]] - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn encode_writes_little_endian_and_refuses_float32_overflow() {
        let values = [1.5, -0.25];
        assert_eq!(
            encode("w", values.iter(), Dtype::F64).unwrap(),
            [1.5f64.to_le_bytes(), (-0.25f64).to_le_bytes()].concat()
        );
        assert_eq!(
            encode("w", values.iter(), Dtype::F32).unwrap(),
            [1.5f32.to_le_bytes(), (-0.25f32).to_le_bytes()].concat()
        );
        let err = encode("w", [1e39].iter(), Dtype::F32).unwrap_err();
        assert_eq!(err, "w holds 1e39, too large for a float32 model");
    }
}
