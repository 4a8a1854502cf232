//! The one error type of the library. Every variant carries the numbers a user needs to fix
//! the input: shapes, indices, values, and the file where one is involved.

use std::io;
use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong, from bad shapes to unreadable files. Nothing in the library panics on
/// user input: it returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An array that must hold something is empty (no samples, classes or features).
    #[error("{0}")]
    Empty(String),

    /// Weights and inputs disagree on the number of features D.
    #[error(
        "weights and inputs disagree on the number of features: weights are {weights:?} \
         (D = {weights_features}), inputs are {inputs:?} (D = {inputs_features}) \
         in the {layout} layout ({layout_shapes})"
    )]
    FeatureMismatch {
        weights: [usize; 2],
        inputs: [usize; 2],
        weights_features: usize,
        inputs_features: usize,
        layout: &'static str,
        layout_shapes: &'static str,
    },

    /// The number of labels is not the number of samples N.
    #[error("{labels} labels for {samples} samples: every sample needs exactly one label")]
    LabelCount { labels: usize, samples: usize },

    /// A label outside `0..n_classes`.
    #[error(
        "label {label} at index {index} is out of range: with {n_classes} classes \
         labels must be 0..={max}",
        max = *n_classes as i128 - 1
    )]
    LabelOutOfRange { index: usize, label: i128, n_classes: usize },

    /// Sample weights that a weighted loss cannot use: not one per sample, NaN, infinite or
    /// negative, or summing to 0.
    #[error("invalid sample weights: {0}")]
    SampleWeights(String),

    /// NaN or infinity in weights or inputs.
    #[error("{what} contain {value} at {location}: every value must be finite")]
    NonFinite { what: &'static str, location: String, value: f64 },

    /// Finite inputs whose scores W·x overflow the floating-point type.
    #[error(
        "the scores of sample {sample} overflow {dtype}: the weights or inputs are too large \
         ({})",
        overflow_remedy(dtype)
    )]
    ScoreOverflow { sample: usize, dtype: &'static str },

    /// A loss that overflows the floating-point type although every score is finite: the data
    /// loss (scores near the type's limit, of opposite signs), or the L2 penalty reg·ΣW² or its
    /// gradient.
    #[error("the {part} overflows {dtype}: {}", part.cause(dtype))]
    LossOverflow { part: LossPart, dtype: &'static str },

    /// A row index (of a minibatch, or of rows picked for scoring) that is not a row of the
    /// inputs.
    #[error(
        "row index {index} (minibatch position {position}) is out of range: the inputs have \
         {n_rows} samples"
    )]
    IndexOutOfRange { index: usize, position: usize, n_rows: usize },

    /// A model whose parts disagree (shapes of W, b and the preprocessing, class names, ...).
    #[error("inconsistent model: {0}")]
    InconsistentModel(String),

    /// Classes that do not match: a sample of a class the model does not know, or a data set
    /// whose classes are not the model's.
    #[error("{0}")]
    ClassMismatch(String),

    /// A data set whose parts disagree (features of the training and validation sets, class
    /// or feature names, the image shape), or that has no features.
    #[error("inconsistent data: {0}")]
    InconsistentData(String),

    /// Data prepared (preprocessed, converted) otherwise than the options ask.
    #[error("{0}")]
    PreparationMismatch(String),

    /// An instruction set asked for by name that this CPU (or this build's target) lacks.
    #[error("instruction set {requested} is not available on this CPU: it has {available}")]
    UnsupportedIsa { requested: String, available: String },

    /// More features than a kernel can index (the sparse kernel's column indices are `u32`).
    #[error("the {kernel} kernel takes at most {max} features, got {n_features}")]
    TooManyFeatures { kernel: &'static str, n_features: usize, max: u64 },

    /// An option out of its range (a negative regularization, zero checks, ...).
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// An allocation larger than the system grants (N×C scores of a huge problem): refused
    /// before it is made, instead of aborting the process.
    #[error("{0}")]
    OutOfMemory(String),

    /// Training could not go on (the optimizer failed).
    #[error("training failed: {0}")]
    Training(String),

    /// The progress callback asked training to stop ([`std::ops::ControlFlow::Break`]).
    #[error("training was interrupted")]
    Interrupted,

    /// A file that exists but cannot be used: not the format it claims, truncated, wrong
    /// dtype or dimensionality.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },

    /// A file that cannot be opened, read or written.
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: io::Error },
}

impl Error {
    /// An [`Error::File`] for `path` with the given message.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File { path: path.into(), message: message.into() }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), cause: source }
    }
}

/// What to try when a value overflows `dtype`: float64 first, from float32.
fn overflow_remedy(dtype: &str) -> &'static str {
    match dtype {
        "float32" => "try float64 or scaled inputs",
        _ => "try scaled inputs or smaller weights",
    }
}

/// The part of a loss that overflowed ([`Error::LossOverflow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossPart {
    /// The mean of the samples' losses L_i.
    DataLoss,
    /// The L2 penalty reg·ΣW² (times ½ or 1), or its gradient.
    Penalty,
}

impl LossPart {
    /// What made it overflow, and what to try.
    fn cause(self, dtype: &str) -> String {
        match self {
            LossPart::DataLoss => {
                format!("the weights or inputs are too large ({})", overflow_remedy(dtype))
            }
            LossPart::Penalty => "reg or the weights are too large".to_string(),
        }
    }
}

impl std::fmt::Display for LossPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LossPart::DataLoss => "data loss",
            LossPart::Penalty => "L2 penalty (reg·ΣW²) or its gradient",
        })
    }
}
