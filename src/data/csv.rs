//! CSV files (`.csv`, or gzipped `.csv.gz`): one sample per row, comma-separated numbers and a
//! label column.
//!
//! The header is optional: the first row is a header when one of its (non-empty) feature
//! fields is not a number, or when only its label field is not a number and the second row's
//! is. The label column is given by header name or 0-based index, the last one by default;
//! labels may be numbers or names (see [`super::labels`]). Feature values must parse as finite
//! `f32` (`nan` and `inf` are errors). Optionally a column of sample weights (by header name or
//! index, [`LoadOptions::csv_weight`]) is read as finite numbers ≥ 0 and is not a feature.
//! A label or weight column given by a name that the header gives to several columns is an
//! error: which of them was meant would be a guess. Fields are trimmed; blank lines are
//! skipped. In messages, lines are counted from 1 and columns from 0 (as the label index is).

use std::collections::HashSet;
use std::path::Path;

use ::csv::{Reader, ReaderBuilder, StringRecord, Trim};
use ndarray::Array2;

use super::{Dataset, LoadOptions, Splits, features, files, labels, weights};
use crate::{Error, Result};

/// Which column holds the labels.
#[derive(Clone, Copy, Debug)]
pub(super) enum LabelColumn<'a> {
    /// The last column.
    Last,
    /// A header name, or else a 0-based index.
    Named(&'a str),
    /// Features for prediction, for a model of `n_features` features: the last column is a
    /// label (and ignored) when the rows have `n_features + 1` fields; there is none when they
    /// have `n_features`. When the model knows its feature `names` and the file has a header,
    /// the columns are matched by name instead ([`features::match_names`]): the one column
    /// that is none of the model's features, if there is one, is the label. A first row that
    /// names every feature is a header even when its names are numbers.
    IfExtra { n_features: usize, names: Option<&'a [String]> },
}

/// A CSV file's features, label texts (empty without a label column), sample weights (with a
/// weight column) and header.
pub(super) struct Table {
    pub inputs: Array2<f32>,
    pub labels: Vec<String>,
    pub weights: Option<Vec<f64>>,
    pub feature_names: Option<Vec<String>>,
}

/// Train and validation from a CSV file; the label column is `options.csv_label`, the weight
/// column (if any) `options.csv_weight`.
pub(super) fn load(path: &Path, options: &LoadOptions) -> Result<Splits> {
    let bytes = files::read(path)?;
    let column = options.csv_label.as_deref().map_or(LabelColumn::Last, LabelColumn::Named);
    let data = read_dataset(path, &bytes, column, options.csv_weight.as_deref())?;
    let source = format!("CSV {}", path.display());
    let data = weights::attach(data, options, &source)?;
    Ok(Splits::holding_out(&source, data, None, "", options))
}

/// A labelled data set from CSV text (`bytes`, already decompressed; `path` names it), weighted
/// by the column `weight_column` (a header name or a 0-based index) when there is one.
pub(super) fn read_dataset(
    path: &Path,
    bytes: &[u8],
    column: LabelColumn,
    weight_column: Option<&str>,
) -> Result<Dataset> {
    let table = read_table(path, bytes, column, weight_column)?;
    let (class_names, labels) = labels::index_classes(&table.labels);
    Ok(Dataset {
        inputs: table.inputs,
        labels,
        sample_weights: table.weights,
        class_names,
        feature_names: table.feature_names,
        image_shape: None,
    })
}

/// Parses CSV text into features, label texts and, with a `weight_column` (a header name or a
/// 0-based index), sample weights (see the module doc).
pub(super) fn read_table(
    path: &Path,
    bytes: &[u8],
    column: LabelColumn,
    weight_column: Option<&str>,
) -> Result<Table> {
    let mut reader =
        ReaderBuilder::new().has_headers(false).flexible(true).trim(Trim::All).from_reader(bytes);
    let mut first = StringRecord::new();
    if !read_record(path, &mut reader, &mut first)? {
        return Err(Error::file(path, "no rows: the file holds only blank lines"));
    }
    let mut second = StringRecord::new();
    let has_second = read_record(path, &mut reader, &mut second)?;
    let width = first.len();
    let is_name = |column: &str| column.parse::<usize>().is_err();
    let has_header = match column {
        LabelColumn::Named(name) if is_name(name) => true,
        _ if weight_column.is_some_and(is_name) => true,
        LabelColumn::IfExtra { names: Some(names), .. } if names_every_feature(&first, names) => {
            true
        }
        _ => looks_like_header(&first, has_second.then_some(&second), column.guess(width)),
    };
    let header = has_header.then_some(&first);
    // The feature columns in the order of the table's columns: the model's order when they
    // are matched by name, else the file's.
    let (label, matched) = match (column, header) {
        (LabelColumn::IfExtra { names: Some(names), .. }, Some(header)) => {
            let (label, features) = match_header(path, header, names)?;
            (label, Some(features))
        }
        _ => (column.resolve(path, header, width)?, None),
    };
    let weight = weight_column.map(|name| named_column(path, header, width, name, "weight"));
    let weight = weight.transpose()?;
    if let Some(index) = weight.filter(|&index| Some(index) == label) {
        let message = format!("column {index} cannot hold both the labels and the weights");
        return Err(Error::file(path, message));
    }
    let features = matched.unwrap_or_else(|| {
        (0..width).filter(|&index| Some(index) != label && Some(index) != weight).collect()
    });
    let n_features = features.len();
    if n_features == 0 {
        let message =
            "no feature columns: the rows have a single field (is the file comma-separated?)";
        return Err(Error::file(path, message));
    }
    let mut rows = Rows {
        path,
        header,
        first_line: line(&first),
        width,
        label,
        weight,
        features: &features,
        inputs: Vec::new(),
        labels: Vec::new(),
        weights: Vec::new(),
    };
    if !has_header {
        rows.push(&first)?;
    }
    if has_second {
        rows.push(&second)?;
        let mut record = StringRecord::new();
        while read_record(path, &mut reader, &mut record)? {
            rows.push(&record)?;
        }
    }
    let n_samples = rows.inputs.len() / n_features;
    if n_samples == 0 {
        return Err(Error::file(path, "no data rows: the file holds only a header"));
    }
    let feature_names =
        header.map(|header| features.iter().map(|&index| header[index].to_string()).collect());
    let inputs = Array2::from_shape_vec((n_samples, n_features), rows.inputs)
        .map_err(|e| Error::file(path, format!("rows do not fit: {e}")))?;
    let weights = weight.map(|_| rows.weights);
    Ok(Table { inputs, labels: rows.labels, weights, feature_names })
}

impl LabelColumn<'_> {
    /// The label column to assume while deciding whether the first row (of `width` fields)
    /// is a header.
    fn guess(self, width: usize) -> Option<usize> {
        match self {
            LabelColumn::Last => width.checked_sub(1),
            LabelColumn::Named(name) => name.parse().ok().filter(|&index| index < width),
            LabelColumn::IfExtra { n_features, .. } => {
                (n_features.checked_add(1) == Some(width)).then(|| width - 1)
            }
        }
    }

    /// The label column's index (`None`: no label column), given the header, if any, by
    /// position (by name for `Named`; [`match_header`] matches a model's named features).
    fn resolve(
        self,
        path: &Path,
        header: Option<&StringRecord>,
        width: usize,
    ) -> Result<Option<usize>> {
        match self {
            LabelColumn::Last => Ok(width.checked_sub(1)),
            LabelColumn::IfExtra { n_features, .. } if width == n_features => Ok(None),
            LabelColumn::IfExtra { n_features, .. } if n_features.checked_add(1) == Some(width) => {
                Ok(Some(width - 1))
            }
            LabelColumn::IfExtra { n_features, .. } => Err(Error::file(
                path,
                format!(
                    "the rows have {width} fields: expected {n_features} features \
                     (or {} with a label column last)",
                    n_features.saturating_add(1)
                ),
            )),
            LabelColumn::Named(name) => named_column(path, header, width, name, "label").map(Some),
        }
    }
}

/// The label column and the feature columns (in the order of `names`, a model's feature
/// names) of a file whose `header` names its columns: [`features::match_names`], the one
/// column that is none of the features being the label.
///
/// # Errors
/// [`Error::File`] for a feature without a column, an ambiguous name, or more than one column
/// besides the features.
fn match_header(
    path: &Path,
    header: &StringRecord,
    names: &[String],
) -> Result<(Option<usize>, Vec<usize>)> {
    let columns: Vec<String> = header.iter().map(String::from).collect();
    let mismatch = |why: String| {
        let message = format!(
            "the header does not name the model's features: {why} (the header names {}; the \
             model's features are {})",
            super::name_list(&columns),
            super::name_list(names)
        );
        Error::file(path, message)
    };
    let matched = features::match_names(&columns, names).map_err(mismatch)?;
    match matched.others[..] {
        [] => Ok((None, matched.features)),
        [label] => Ok((Some(label), matched.features)),
        _ => {
            let others: Vec<String> =
                matched.others.iter().map(|&index| columns[index].clone()).collect();
            Err(mismatch(format!(
                "columns {} are none of the model's features, and only one column, the labels, \
                 may be added to them",
                super::name_list(&others)
            )))
        }
    }
}

/// Whether the row `first` names every one of a model's feature `names`.
fn names_every_feature(first: &StringRecord, names: &[String]) -> bool {
    let fields: HashSet<&str> = first.iter().collect();
    names.iter().all(|name| fields.contains(name.as_str()))
}

/// The index of the `role` column (label, weight) given by `name`: a header name, or else a
/// 0-based index below `width`.
///
/// # Errors
/// [`Error::File`] for a name the header gives to several columns (taking the first would
/// silently read, say, a feature as the labels), and for no such column.
fn named_column(
    path: &Path,
    header: Option<&StringRecord>,
    width: usize,
    name: &str,
    role: &str,
) -> Result<usize> {
    let matches: Vec<usize> = header.map_or_else(Vec::new, |header| {
        header.iter().enumerate().filter(|&(_, field)| field == name).map(|(i, _)| i).collect()
    });
    match matches[..] {
        [] => {}
        [index] => return Ok(index),
        _ => {
            let indices: Vec<String> = matches.iter().map(usize::to_string).collect();
            let message = format!(
                "the {role} column '{name}' is ambiguous: the header gives that name to columns \
                 {}; rename all but one",
                indices.join(", ")
            );
            return Err(Error::file(path, message));
        }
    }
    let message = match (name.parse::<usize>(), header) {
        (Ok(index), _) if index < width => return Ok(index),
        (Ok(index), _) => {
            format!("no {role} column {index}: the rows have {width} columns (0..{})", width - 1)
        }
        (Err(_), Some(header)) => format!(
            "no {role} column named '{name}': the header names {}",
            super::name_list(&header.iter().map(String::from).collect::<Vec<_>>())
        ),
        (Err(_), None) => format!("no {role} column named '{name}': the file has no header row"),
    };
    Err(Error::file(path, message))
}

/// Whether `first` is a header: a non-empty field other than the label's is not a number, or
/// only the label field is not a number and the second row's label is.
fn looks_like_header(
    first: &StringRecord,
    second: Option<&StringRecord>,
    label: Option<usize>,
) -> bool {
    let is_number = |field: &str| field.parse::<f64>().is_ok();
    let text_feature = first
        .iter()
        .enumerate()
        .any(|(index, field)| Some(index) != label && !field.is_empty() && !is_number(field));
    let text_label = label.is_some_and(|label| {
        !is_number(&first[label])
            && second.and_then(|second| second.get(label)).is_some_and(is_number)
    });
    text_feature || text_label
}

/// The accumulated data rows.
struct Rows<'a> {
    path: &'a Path,
    header: Option<&'a StringRecord>,
    first_line: u64,
    width: usize,
    label: Option<usize>,
    weight: Option<usize>,
    /// The feature columns, in the order of the table's columns.
    features: &'a [usize],
    inputs: Vec<f32>,
    labels: Vec<String>,
    weights: Vec<f64>,
}

impl Rows<'_> {
    /// Appends one data row's features, label text and weight.
    fn push(&mut self, record: &StringRecord) -> Result<()> {
        let line = line(record);
        if record.len() != self.width {
            let message = format!(
                "line {line} has {} fields, line {} has {}",
                record.len(),
                self.first_line,
                self.width
            );
            return Err(Error::file(self.path, message));
        }
        if let Some(index) = self.label {
            labels::check_text(&record[index])
                .map_err(|why| Error::file(self.path, format!("line {line}: {why}")))?;
            self.labels.push(record[index].to_string());
        }
        let invalid = |index: usize, why: &str| {
            let column = match self.header {
                Some(header) => format!("column '{}'", &header[index]),
                None => format!("column {index}"),
            };
            let message = format!("line {line}, {column}: '{}' {why}", &record[index]);
            Err(Error::file(self.path, message))
        };
        if let Some(index) = self.weight {
            match record[index].parse::<f64>() {
                Ok(weight) if weight.is_finite() && weight >= 0.0 => self.weights.push(weight),
                Ok(_) => return invalid(index, "is not a weight: weights are finite and >= 0"),
                Err(_) => return invalid(index, "is not a number"),
            }
        }
        for &index in self.features {
            match record[index].parse::<f32>() {
                Ok(value) if value.is_finite() => self.inputs.push(value),
                Ok(_) => return invalid(index, "is not a finite number"),
                Err(_) => return invalid(index, "is not a number"),
            }
        }
        Ok(())
    }
}

/// Reads the next record of `path` into `record`; false at the end. A field that holds a line
/// break is refused: in a table of numbers and class names it is a quote left open, which
/// would take every line up to the next quote (or the end of the file) into one field.
fn read_record(path: &Path, reader: &mut Reader<&[u8]>, record: &mut StringRecord) -> Result<bool> {
    if !reader.read_record(record).map_err(|e| Error::file(path, e.to_string()))? {
        return Ok(false);
    }
    if let Some(index) = record.iter().position(|field| field.contains(['\n', '\r'])) {
        let message = format!(
            "line {}, field {index}: a quoted field runs over more than one line (is a quote \
             left open?); fields cannot hold line breaks",
            line(record)
        );
        return Err(Error::file(path, message));
    }
    Ok(true)
}

/// The line a record starts on, counted from 1.
fn line(record: &StringRecord) -> u64 {
    record.position().map_or(0, |position| position.line())
}
