//! Features of unlabeled samples, for prediction.

use std::path::Path;

use ndarray::Array2;

use super::csv::{self, LabelColumn};
use super::{files, libsvm, numpy};
use crate::{Error, Result};

/// File name extensions (before any `.gz`) read as svmlight / libsvm.
const SVMLIGHT_EXTENSIONS: [&str; 4] = ["svm", "libsvm", "svmlight", "txt"];

/// The features of the samples in `path`, for a model of `n_features` features, as `f32` in
/// the file's raw units. The format follows the name:
///
/// - `.npy`: a float32 or float64 N×`n_features` matrix;
/// - `.csv`, `.csv.gz`: rows of `n_features` numbers (header optional, as for
///   [`DataSpec::Csv`](super::DataSpec::Csv)), or `n_features` + 1 with a label column last,
///   which is dropped;
/// - `.svm`, `.libsvm`, `.svmlight`, `.txt` (or `.gz` of them), and any other file whose first
///   line looks like svmlight (`label index:value …`): svmlight, labels ignored, every index
///   within `n_features`.
///
/// # Errors
/// [`Error::File`] or [`Error::Io`]: an unreadable or malformed file, another number of
/// features, non-finite values, or an unrecognized format.
pub fn load_features(path: &Path, n_features: usize) -> Result<Array2<f32>> {
    let name = path.file_name().unwrap_or_default().to_string_lossy().to_lowercase();
    let (name, compressed) = match name.strip_suffix(".gz") {
        Some(inner) => (inner, true),
        None => (name.as_str(), false),
    };
    let extension = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default();
    if extension == "npy" && !compressed {
        let inputs = numpy::read_features(path)?;
        if inputs.ncols() != n_features {
            let message =
                format!("{} columns: the model expects {n_features} features", inputs.ncols());
            return Err(Error::file(path, message));
        }
        return Ok(inputs);
    }
    let text = files::read(path)?;
    if extension == "csv" {
        Ok(csv::read_table(path, &text, LabelColumn::IfExtra { n_features }, None)?.inputs)
    } else if SVMLIGHT_EXTENSIONS.contains(&extension) || libsvm::looks_like_svmlight(&text) {
        libsvm::read_features(path, &text, n_features)
    } else {
        let message = "unrecognized features file: expected .npy, .csv, .csv.gz or svmlight \
                       (.svm, .libsvm, .svmlight, .txt, or a first line 'label index:value …')";
        Err(Error::file(path, message))
    }
}
