//! Features of unlabeled samples, for prediction, and the matching of a file's named columns to
//! a model's named features.
//!
//! A model trained on a CSV file with a header keeps the header's feature names. Columns are
//! then matched to features by name, as a user who names columns expects: a file whose header
//! lists the same names in another order is read in the model's order, and one whose names
//! are not the model's is refused, rather than read by position into the wrong features
//! (scikit-learn refuses names other than those it was fitted with too). A file without a
//! header, or a model without feature names, is read by position.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use ndarray::{Array2, Axis};

use super::csv::{self, LabelColumn};
use super::{Dataset, files, libsvm, name_list, numpy};
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
/// The columns are taken by position: [`load_named_features`] also matches a CSV header's
/// names to a model's features.
///
/// # Errors
/// [`Error::File`] or [`Error::Io`]: an unreadable or malformed file, another number of
/// features, non-finite values, or an unrecognized format.
pub fn load_features(path: &Path, n_features: usize) -> Result<Array2<f32>> {
    load_named_features(path, n_features, None)
}

/// [`load_features`] for a model whose features have `names` (it was trained on a CSV file with
/// a header; `None` otherwise): when `path` is a CSV file with a header, its columns are
/// matched to the features by name: in any order, with at most one more column, which holds
/// labels (wherever it is) and is dropped. Several columns of one name are matched in their
/// order to the features of that name, if there are as many. A first row that names every
/// feature is a header, even when the names are numbers.
///
/// # Errors
/// Those of [`load_features`]; for a header that is matched, [`Error::File`] naming the file,
/// the features without a column, the names the header gives to more columns than there are
/// features of that name, or the columns besides the features when there is more than one,
/// with the header's names and the features'.
pub fn load_named_features(
    path: &Path,
    n_features: usize,
    names: Option<&[String]>,
) -> Result<Array2<f32>> {
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
        let column = LabelColumn::IfExtra { n_features, names };
        Ok(csv::read_table(path, &text, column, None)?.inputs)
    } else if SVMLIGHT_EXTENSIONS.contains(&extension) || libsvm::looks_like_svmlight(&text) {
        libsvm::read_features(path, &text, n_features)
    } else {
        let message = "unrecognized features file: expected .npy, .csv, .csv.gz or svmlight \
                       (.svm, .libsvm, .svmlight, .txt, or a first line 'label index:value …')";
        Err(Error::file(path, message))
    }
}

impl Dataset {
    /// This data set with its feature columns in the order of `names`, a model's feature
    /// names, matched by name as [`load_named_features`] matches them (but with no column
    /// besides the features): a CSV file whose header lists the model's features in another
    /// order is evaluated on the right columns. Unchanged when the data
    /// set or the model has no feature names (a file without a header is taken by position).
    ///
    /// # Errors
    /// [`Error::InconsistentData`] naming the model's features that no column holds, the
    /// names more columns have than the model has features of that name, and the columns
    /// that are none of the model's features (a label column taken for a feature, say),
    /// with the data's names and the model's.
    pub fn align_features(mut self, names: Option<&[String]>) -> Result<Dataset> {
        let (Some(columns), Some(names)) = (&self.feature_names, names) else {
            return Ok(self);
        };
        let mismatch = |why: String| {
            Error::InconsistentData(format!(
                "the data's features do not match the model's: {why} (the data's features are \
                 {}; the model's are {})",
                name_list(columns),
                name_list(names)
            ))
        };
        let matched = match_names(columns, names).map_err(mismatch)?;
        if !matched.others.is_empty() {
            let others: Vec<String> =
                matched.others.iter().map(|&index| columns[index].clone()).collect();
            return Err(mismatch(format!(
                "{} {} {} none of the model's features",
                plural(others.len(), "column", "columns"),
                name_list(&others),
                plural(others.len(), "is", "are")
            )));
        }
        if matched.features.iter().enumerate().any(|(position, &index)| position != index) {
            self.inputs = self.inputs.select(Axis(1), &matched.features);
        }
        self.feature_names = Some(names.to_vec());
        Ok(self)
    }
}

/// Where a model's named features are among named columns.
pub(super) struct Matched {
    /// For each of the model's features, in its order, the column that holds it.
    pub features: Vec<usize>,
    /// The columns whose names are none of the model's features, in their order.
    pub others: Vec<usize>,
}

/// Matches `columns`, named, to a model's feature `names`: each feature to the column of its
/// name; when the model has several features of one name (a header that repeated it), to the
/// columns of that name in their order.
///
/// # Errors
/// A message naming the features that no column holds, and the names that more columns have
/// than the model has features of that name: which of them a feature is would be a guess.
pub(super) fn match_names(
    columns: &[String],
    names: &[String],
) -> std::result::Result<Matched, String> {
    let mut by_name: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (index, column) in columns.iter().enumerate() {
        by_name.entry(column.as_str()).or_default().push_back(index);
    }
    let mut missing = Vec::new();
    let mut features = Vec::with_capacity(names.len());
    for name in names {
        match by_name.get_mut(name.as_str()).and_then(VecDeque::pop_front) {
            Some(index) => features.push(index),
            None => missing.push(name.clone()),
        }
    }
    let known: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut ambiguous: Vec<&str> = Vec::new();
    for column in columns {
        let left_over = by_name.get(column.as_str()).is_some_and(|left| !left.is_empty());
        if known.contains(column.as_str()) && left_over && !ambiguous.contains(&column.as_str()) {
            ambiguous.push(column);
        }
    }
    if missing.is_empty() && ambiguous.is_empty() {
        let others = (0..columns.len()).filter(|&i| !known.contains(columns[i].as_str()));
        return Ok(Matched { features, others: others.collect() });
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        let what = plural(missing.len(), "feature", "features");
        problems.push(format!("no column holds the model's {what} {}", name_list(&missing)));
    }
    for name in ambiguous {
        let count = |list: &[String]| list.iter().filter(|n| *n == name).count();
        let wanted = count(names);
        problems.push(format!(
            "{} columns are named '{name}' but the model has {wanted} {} of that name, so which \
             is which is ambiguous",
            count(columns),
            plural(wanted, "feature", "features"),
        ));
    }
    Err(problems.join("; "))
}

/// `singular` for one, else `plural`.
fn plural<'a>(count: usize, singular: &'a str, plural: &'a str) -> &'a str {
    if count == 1 { singular } else { plural }
}
