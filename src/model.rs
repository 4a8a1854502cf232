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
//! [`Model::load`] checks the format, its version and every tensor's dtype ([`Error::File`]),
//! then builds the model with [`Model::new`], which checks every shape against C and D and that
//! every value is finite ([`Error::InconsistentModel`]); every error names the file.
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
use std::ops::Range;
use std::path::Path;

use ndarray::linalg::general_mat_mul;
use ndarray::{
    Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, CowArray, Dimension, Ix2, s,
};
use rayon::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::write_atomically;
use crate::data::ImageShape;
use crate::names::named_enum;
use crate::preprocess::{Bias, Preprocessor};
use crate::{Error, Float, Loss, RegConvention, Result};

/// Rows of inputs preprocessed (into float64) and scored at a time by [`Model::map_score_chunks`].
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

named_enum! {
    "dtype",
    /// The floating-point type a model was trained in and is stored in (the file's `dtype`).
    pub enum Precision {
        F32 = "float32",
        #[default]
        F64 = "float64",
    }
}

impl Precision {
    /// The precision of the float type `F`.
    pub fn of<F: Float>() -> Precision {
        F::DTYPE_NAME.parse().expect("f32 and f64 are named float32 and float64")
    }

    /// The safetensors dtype its tensors are stored in.
    fn tensor_dtype(self) -> Dtype {
        match self {
            Precision::F32 => Dtype::F32,
            Precision::F64 => Dtype::F64,
        }
    }
}

/// What a [`Model`] is made of, unchecked: [`Model::new`] checks that the parts agree.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParts {
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
    /// The dtype the model was trained in and is stored in.
    pub precision: Precision,
    /// The training options, as the trainer reports them (free-form JSON object).
    pub training: serde_json::Value,
}

/// A trained linear classifier: scores = W·x' + b with x' the preprocessed input.
///
/// Made only by [`Model::new`] (or [`Model::load`], which calls it), so its parts always agree:
/// W is C×D with C, D ≥ 1, b has C entries, the preprocessing D offsets and D scales > 0, the C
/// class names are distinct, the feature names (if any) are D, an image shape (if any) has D
/// pixels, and every number is finite. Read it through its accessors; to change it, take it
/// apart with [`Model::into_parts`] and build it again.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Private: checked by [`Model::new`], then only read.
    parts: ModelParts,
}

impl Model {
    /// The model of `parts`, once they agree (see [`Model`]).
    ///
    /// # Errors
    /// [`Error::InconsistentModel`] naming the first disagreement: a count that is not C or D,
    /// a value that is not finite, a scale that is not > 0, a class name given twice, a
    /// negative regularization.
    pub fn new(parts: ModelParts) -> Result<Model> {
        check(&parts).map_err(Error::InconsistentModel)?;
        Ok(Model { parts })
    }

    /// The parts, to change and build a model of again.
    pub fn into_parts(self) -> ModelParts {
        self.parts
    }

    /// W, C×D.
    pub fn weight(&self) -> &Array2<f64> {
        &self.parts.weight
    }

    /// b, C entries.
    pub fn bias(&self) -> &Array1<f64> {
        &self.parts.bias
    }

    /// x' = (x − offset) / scale, fitted on the training split.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.parts.preprocessor
    }

    /// One name per class, in label order.
    pub fn class_names(&self) -> &[String] {
        &self.parts.class_names
    }

    /// One name per feature, when the training data had them.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.parts.feature_names.as_deref()
    }

    /// The features of the samples in `path` to predict with this model: its D features, a CSV
    /// header's columns matched to its feature names when it has them
    /// ([`crate::data::load_named_features`]).
    ///
    /// # Errors
    /// Those of [`crate::data::load_named_features`].
    pub fn load_inputs(&self, path: &Path) -> Result<Array2<f32>> {
        crate::data::load_named_features(path, self.n_features(), self.feature_names())
    }

    /// The shape of an image sample, for image data.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.parts.image_shape
    }

    /// The loss the model was trained with (and [`crate::metrics::evaluate`] reports).
    pub fn loss(&self) -> Loss {
        self.parts.loss
    }

    /// The regularization strength it was trained with, in [`Model::reg_convention`].
    pub fn reg(&self) -> f64 {
        self.parts.reg
    }

    pub fn reg_convention(&self) -> RegConvention {
        self.parts.reg_convention
    }

    /// How the bias was trained.
    pub fn bias_mode(&self) -> Bias {
        self.parts.bias_mode
    }

    /// The dtype the model was trained in and is stored in.
    pub fn precision(&self) -> Precision {
        self.parts.precision
    }

    /// The training options, as the trainer reports them (free-form JSON object).
    pub fn training(&self) -> &serde_json::Value {
        &self.parts.training
    }

    /// C, the number of classes.
    pub fn n_classes(&self) -> usize {
        self.parts.class_names.len()
    }

    /// D, the number of (raw) input features.
    pub fn n_features(&self) -> usize {
        self.parts.weight.ncols()
    }

    /// The scores f = W·x' + b (N×C, f64) of raw inputs (N×D, as loaded).
    ///
    /// To predict or evaluate, [`Model::predict`] and [`Model::map_score_chunks`] hold a chunk
    /// of rows' scores at a time instead of N×C.
    ///
    /// # Errors
    /// Inputs whose D is not the model's ([`Error::FeatureMismatch`]), a NaN or infinity in the
    /// inputs ([`Error::NonFinite`], with its location), scores that overflow f64, and N×C
    /// scores that need more memory than the system grants ([`Error::OutOfMemory`]).
    pub fn scores(&self, inputs: ArrayView2<f32>) -> Result<Array2<f64>> {
        self.check_feature_count(inputs.dim())?;
        let shape = (inputs.nrows(), self.n_classes());
        let mut scores = crate::memory::zeros(shape, "the scores of every sample (N×C)")?;
        let chunks: Vec<_> = inputs
            .axis_chunks_iter(Axis(0), SCORE_CHUNK_ROWS)
            .zip(scores.axis_chunks_iter_mut(Axis(0), SCORE_CHUNK_ROWS))
            .enumerate()
            .collect();
        let results: Vec<Result<()>> = chunks
            .into_par_iter()
            .map(|(chunk, (rows, out))| self.score_chunk(rows, chunk * SCORE_CHUNK_ROWS, out))
            .collect();
        results.into_iter().collect::<Result<()>>()?; // the first error in row order
        Ok(scores)
    }

    /// `map(rows, scores)` of each chunk of [`SCORE_CHUNK_ROWS`] inputs (N×D, raw), in row
    /// order: the rows are a range of sample indices, the scores rows × C (f64), what
    /// [`Model::scores`] computes, with only the chunks in progress in memory. The chunks are
    /// scored in parallel on the current rayon pool; the results come in order, so what is
    /// made of them does not depend on the number of threads.
    ///
    /// # Errors
    /// As [`Model::scores`] (without its N×C allocation): the first in row order.
    pub fn map_score_chunks<R: Send>(
        &self,
        inputs: ArrayView2<f32>,
        map: impl Fn(Range<usize>, ArrayView2<f64>) -> R + Sync,
    ) -> Result<Vec<R>> {
        let read = |rows: Range<usize>| Ok(CowArray::from(inputs.slice(s![rows, ..])));
        self.map_score_chunks_read(inputs.dim(), read, map)
    }

    /// [`Model::map_score_chunks`] on N×D raw inputs (`dim`) that `read` gives a chunk at a
    /// time: `read(rows)` returns the rows `rows`, float32, rows.len() × D (a chunk of a
    /// memory-mapped file, converted: the inputs are never all in memory).
    ///
    /// # Errors
    /// Those of [`Model::map_score_chunks`] and of `read`, and [`Error::InconsistentData`] for a
    /// chunk of another shape than asked for; the first in row order.
    pub fn map_score_chunks_read<'a, R: Send>(
        &self,
        (n_rows, n_features): (usize, usize),
        read: impl Fn(Range<usize>) -> Result<CowArray<'a, f32, Ix2>> + Sync,
        map: impl Fn(Range<usize>, ArrayView2<f64>) -> R + Sync,
    ) -> Result<Vec<R>> {
        self.check_feature_count((n_rows, n_features))?;
        let chunk = |first: usize| {
            let rows = first..(first + SCORE_CHUNK_ROWS).min(n_rows);
            let inputs = read(rows.clone())?;
            if inputs.dim() != (rows.len(), n_features) {
                let (got_rows, got_features) = inputs.dim();
                return Err(Error::InconsistentData(format!(
                    "asked for rows {rows:?} of {n_features} features, the reader gave \
                     {got_rows} rows of {got_features}"
                )));
            }
            let mut scores = Array2::zeros((rows.len(), self.n_classes()));
            self.score_chunk(inputs.view(), first, scores.view_mut())?;
            Ok(map(rows, scores.view()))
        };
        let starts: Vec<usize> = (0..n_rows).step_by(SCORE_CHUNK_ROWS).collect();
        let results: Vec<Result<R>> = starts.into_par_iter().map(chunk).collect();
        results.into_iter().collect() // the first error in row order
    }

    /// The scores (rows × C) of raw `inputs` (rows × D), samples `first`, `first` + 1, …, into
    /// `out`; x' has a constant-1 column after its D features, and b is added directly.
    fn score_chunk(
        &self,
        inputs: ArrayView2<f32>,
        first: usize,
        mut out: ArrayViewMut2<f64>,
    ) -> Result<()> {
        self.check_finite(inputs, first)?;
        let transformed = self.parts.preprocessor.transform_with_bias::<f64>(inputs);
        let features = transformed.slice(s![.., ..self.n_features()]);
        general_mat_mul(1.0, &features, &self.parts.weight.t(), 0.0, &mut out);
        out += &self.parts.bias;
        match out.rows().into_iter().position(|row| row.iter().any(|f| !f.is_finite())) {
            Some(row) => Err(Error::ScoreOverflow { sample: first + row, dtype: "float64" }),
            None => Ok(()),
        }
    }

    /// The predicted class of each sample: argmax_j f_j, the lowest index on ties. The scores
    /// are computed a chunk of rows at a time ([`Model::map_score_chunks`]), never N×C at once.
    ///
    /// # Errors
    /// As [`Model::map_score_chunks`].
    pub fn predict(&self, inputs: ArrayView2<f32>) -> Result<Vec<usize>> {
        Ok(self.map_score_chunks(inputs, |_, scores| argmax_rows(scores))?.concat())
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
    /// A value too large for float32 in a float32 model ([`Error::File`]) and any I/O error.
    /// On error, an existing file at `path` is left untouched.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self
            .encoded()
            .map_err(|message| Error::file(path, format!("cannot save the model: {message}")))?;
        write_atomically(path, |out| out.write_all(&bytes))
    }

    /// The bytes [`Model::save`] writes: a model file in memory (for pickling, or a database).
    ///
    /// # Errors
    /// [`Error::InconsistentModel`] for a value too large for float32 in a float32 model.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.encoded()
            .map_err(|message| Error::InconsistentModel(format!("cannot encode it: {message}")))
    }

    /// Reads a model written by [`Model::save`].
    ///
    /// # Errors
    /// A missing or unreadable file ([`Error::Io`]); a file that is not safetensors, not a
    /// model (another `format`), a newer `format_version`, a missing or mistyped tensor or
    /// metadata entry ([`Error::File`]); parts that disagree, as [`Model::new`] finds them
    /// ([`Error::InconsistentModel`]). Every error names the file.
    pub fn load(path: &Path) -> Result<Model> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        Model::from_bytes(&bytes, path)
    }

    /// The model in `bytes`, a model file's content ([`Model::to_bytes`]); errors name
    /// `source` as the file they came from.
    ///
    /// # Errors
    /// Those of [`Model::load`] but I/O.
    pub fn from_bytes(bytes: &[u8], source: &Path) -> Result<Model> {
        let parts = Model::parts_of(bytes).map_err(|message| Error::file(source, message))?;
        Model::new(parts).map_err(|err| match err {
            Error::InconsistentModel(message) => {
                Error::InconsistentModel(format!("{}: {message}", source.display()))
            }
            other => other,
        })
    }

    /// The file's bytes: the four tensors in the model's dtype and the metadata.
    fn encoded(&self) -> std::result::Result<Vec<u8>, String> {
        let dtype = self.parts.precision.tensor_dtype();
        let (n_classes, n_features) = self.parts.weight.dim();
        let tensors = [
            (WEIGHT, vec![n_classes, n_features], encode(WEIGHT, self.parts.weight.iter(), dtype)?),
            (BIAS, vec![n_classes], encode(BIAS, self.parts.bias.iter(), dtype)?),
            (
                OFFSET,
                vec![n_features],
                encode(OFFSET, self.parts.preprocessor.offset.iter(), dtype)?,
            ),
            (SCALE, vec![n_features], encode(SCALE, self.parts.preprocessor.scale.iter(), dtype)?),
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
            ("class_names".to_string(), to_json(&self.parts.class_names)?),
            ("preprocess".to_string(), self.parts.preprocessor.kind.name().to_string()),
            ("bias".to_string(), self.parts.bias_mode.name().to_string()),
            ("loss".to_string(), self.parts.loss.name().to_string()),
            ("reg".to_string(), to_json(&self.parts.reg)?),
            ("reg_convention".to_string(), self.parts.reg_convention.name().to_string()),
            ("dtype".to_string(), self.parts.precision.name().to_string()),
            ("training".to_string(), to_json(&self.parts.training)?),
        ]);
        if let Some(names) = &self.parts.feature_names {
            metadata.insert("feature_names".to_string(), to_json(names)?);
        }
        if let Some(shape) = &self.parts.image_shape {
            metadata.insert("image_shape".to_string(), to_json(shape)?);
        }
        Ok(metadata)
    }

    /// Parses a model file's bytes into its parts, unchecked; the error is a message without
    /// the file name.
    fn parts_of(bytes: &[u8]) -> std::result::Result<ModelParts, String> {
        let not_safetensors = |e: SafeTensorError| format!("not a safetensors model file ({e})");
        // The header is parsed twice (`SafeTensors` keeps its metadata private): it is small.
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
        let file = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
        let empty = HashMap::new();
        let metadata = Metadata(header.metadata().as_ref().unwrap_or(&empty));
        metadata.check_format()?;
        let precision: Precision = metadata.named("dtype")?;
        let read = |name| read_tensor(&file, name, precision.tensor_dtype());
        let weight = match read(WEIGHT)? {
            (values, shape) if shape.len() == 2 => {
                Array2::from_shape_vec((shape[0], shape[1]), values)
                    .map_err(|e| format!("tensor 'weight': {e}"))?
            }
            (_, shape) => {
                return Err(format!("tensor 'weight' has shape {shape:?}, expected [C, D]"));
            }
        };
        let vector = |name| match read(name)? {
            (values, shape) if shape.len() == 1 => Ok(Array1::from(values)),
            (_, shape) => Err(format!("tensor '{name}' has shape {shape:?}, expected 1 dimension")),
        };
        Ok(ModelParts {
            weight,
            bias: vector(BIAS)?,
            preprocessor: Preprocessor {
                kind: metadata.named("preprocess")?,
                offset: vector(OFFSET)?,
                scale: vector(SCALE)?,
            },
            class_names: metadata.json("class_names")?,
            feature_names: metadata.optional_json("feature_names")?,
            image_shape: metadata.optional_json("image_shape")?,
            loss: metadata.named("loss")?,
            reg: metadata.json("reg")?,
            reg_convention: metadata.named("reg_convention")?,
            bias_mode: metadata.named("bias")?,
            precision,
            training: metadata.json("training")?,
        })
    }

    /// Refuses N×D inputs (`dim`) whose D is not the model's.
    fn check_feature_count(&self, (n_rows, n_features): (usize, usize)) -> Result<()> {
        if n_features == self.n_features() {
            return Ok(());
        }
        let (n_classes, model_features) = self.parts.weight.dim();
        Err(Error::FeatureMismatch {
            weights: [n_classes, model_features],
            inputs: [n_rows, n_features],
            weights_features: model_features,
            inputs_features: n_features,
            layout: crate::Layout::Canonical.name(),
            layout_shapes: crate::Layout::Canonical.shapes(),
        })
    }

    /// Refuses a NaN or infinity in `inputs`, rows `first`, `first` + 1, … of the samples.
    fn check_finite(&self, inputs: ArrayView2<f32>, first: usize) -> Result<()> {
        match inputs.indexed_iter().find(|(_, v)| !v.is_finite()) {
            Some(((row, feature), &value)) => Err(Error::NonFinite {
                what: "inputs",
                location: format!("sample {}, feature {feature}", first + row),
                value: f64::from(value),
            }),
            None => Ok(()),
        }
    }
}

/// Checks that the parts agree with each other (C and D), that every number is finite, every
/// scale > 0, the class names distinct and the regularization ≥ 0; the error is a message.
fn check(parts: &ModelParts) -> std::result::Result<(), String> {
    let (n_classes, n_features) = (parts.class_names.len(), parts.weight.ncols());
    if n_classes == 0 || n_features == 0 {
        return Err(format!(
            "a model needs classes and features, got C = {n_classes} (class names), \
             D = {n_features} (columns of the weights)"
        ));
    }
    let matrix = [n_classes, n_features];
    let shapes = [
        (WEIGHT, parts.weight.shape(), matrix.as_slice(), "[C, D]"),
        (BIAS, parts.bias.shape(), &[n_classes], "[C]"),
        (OFFSET, parts.preprocessor.offset.shape(), &[n_features], "[D]"),
        (SCALE, parts.preprocessor.scale.shape(), &[n_features], "[D]"),
    ];
    if let Some((name, shape, expected, letters)) =
        shapes.iter().find(|(_, shape, expected, _)| shape != expected)
    {
        return Err(format!(
            "{name} has shape {shape:?}, expected {letters} = {expected:?} with C = {n_classes} \
             (the number of class names) and D = {n_features}"
        ));
    }
    let counts = [
        ("feature names", parts.feature_names.as_ref().map_or(n_features, Vec::len)),
        ("image pixels (channels·height·width)", parts.image_shape.map_or(n_features, image_size)),
    ];
    if let Some((what, count)) = counts.iter().find(|(_, count)| *count != n_features) {
        return Err(format!("{count} {what} for D = {n_features}"));
    }
    let mut seen = HashSet::new();
    if let Some(name) = parts.class_names.iter().find(|name| !seen.insert(name.as_str())) {
        return Err(format!("class name '{name}' appears twice"));
    }
    let arrays = [
        (WEIGHT, parts.weight.view().into_dyn()),
        (BIAS, parts.bias.view().into_dyn()),
        (OFFSET, parts.preprocessor.offset.view().into_dyn()),
        (SCALE, parts.preprocessor.scale.view().into_dyn()),
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
        parts.preprocessor.scale.iter().enumerate().find(|(_, s)| **s <= 0.0)
    {
        return Err(format!("{SCALE} of feature {feature} is {scale}: scales must be > 0"));
    }
    crate::loss::check_reg(parts.reg).map_err(|e| e.to_string())
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

/// Reads tensor `name`, which must have `dtype` (F32 or F64), as f64 values and its shape.
fn read_tensor(
    file: &SafeTensors,
    name: &str,
    dtype: Dtype,
) -> std::result::Result<(Vec<f64>, Vec<usize>), String> {
    let tensor = tensor(file, name)?;
    if tensor.dtype() != dtype {
        return Err(format!(
            "tensor '{name}' is {:?}, but the metadata's dtype says {dtype:?}",
            tensor.dtype()
        ));
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
    Ok((values, tensor.shape().to_vec()))
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
