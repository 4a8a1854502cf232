//! svmlight / libsvm text files (plain or gzipped): one sample per line,
//!
//! ```text
//! <label> <index>:<value> <index>:<value> ... # comment
//! ```
//!
//! Features not listed are 0. Indices are 1-based, or 0-based when an index 0 appears
//! anywhere in the file, and strictly increasing along a line; D is the largest index (plus
//! one if 0-based). Labels may be any numbers (`-1`/`+1`, `0..C-1`, `1..C`) or names: the
//! classes are their sorted distinct values (see [`super::labels`]). Text after `#` and blank
//! lines are ignored, and so are svmlight's `qid:` tokens. Values must be finite.

use std::path::Path;

use ndarray::Array2;

use super::files::{self, grouped, plural};
use super::{Dataset, LoadOptions, Splits, labels, weights};
use crate::{Error, Result};

/// The most values the dense matrix of a training file may hold per byte of its text. Its
/// width is a number in the file (the largest index), so a few bytes could otherwise ask for
/// terabytes. An `index:value` takes at least 4 bytes with its space, so a file whose lines
/// list at least one feature in 4,096 stays within the limit.
const DENSE_VALUES_PER_BYTE: usize = 1024;
/// The limit for small files, whatever their size: 2^20 values (4 MiB).
const MIN_DENSE_LIMIT: usize = 1 << 20;

/// Train and validation from an svmlight / libsvm file.
pub(super) fn load(path: &Path, options: &LoadOptions) -> Result<Splits> {
    let text = files::read(path)?;
    let sparse = parse(path, &text, true)?;
    let n_features =
        sparse.max_index.map_or(0, |(index, _)| (index - sparse.base).saturating_add(1));
    let n_samples = sparse.row_ends.len();
    let limit = text.len().saturating_mul(DENSE_VALUES_PER_BYTE).max(MIN_DENSE_LIMIT);
    if n_samples.checked_mul(n_features).is_none_or(|size| size > limit)
        && let Some((index, line)) = sparse.max_index
    {
        let message = format!(
            "line {line}: feature index {index} makes the dense matrix {} samples × {} \
             features, more than the {} values allowed for {} of text ({DENSE_VALUES_PER_BYTE} \
             per byte): is the index right?",
            grouped(n_samples),
            grouped(n_features),
            grouped(limit),
            plural(text.len(), "byte")
        );
        return Err(Error::file(path, message));
    }
    let inputs = sparse.to_dense(path, n_features)?;
    let (class_names, labels) = labels::index_classes(&sparse.labels);
    let data = Dataset::new(inputs, labels, class_names);
    let source = format!("libsvm {}", path.display());
    let data = weights::attach(data, options, &source)?;
    Ok(Splits::holding_out(&source, data, None, "", options))
}

/// The features of an svmlight file (`text`, already decompressed) for a model of
/// `n_features` features; labels, if present, are ignored.
pub(super) fn read_features(path: &Path, text: &[u8], n_features: usize) -> Result<Array2<f32>> {
    let sparse = parse(path, text, false)?;
    if let Some((index, line)) = sparse.max_index
        && index - sparse.base >= n_features
    {
        let message = format!(
            "line {line}: feature index {index} is beyond the model's {n_features} features \
             (indices are {}-based)",
            sparse.base
        );
        return Err(Error::file(path, message));
    }
    sparse.to_dense(path, n_features)
}

/// Whether `text` looks like svmlight: its first line (past blank and comment lines) has an
/// `index:value` token.
pub(super) fn looks_like_svmlight(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&text[..text.len().min(64 * 1024)]);
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| {
            !line.contains(',') && line.split_whitespace().any(|token| parse_pair(token).is_some())
        })
}

/// A parsed file: the label texts and, row by row, the listed features.
struct Sparse {
    labels: Vec<String>,
    /// Row i's features are `features[row_ends[i - 1]..row_ends[i]]` (from 0 for row 0).
    row_ends: Vec<usize>,
    features: Vec<(usize, f32)>,
    /// 0 if an index 0 appears, else 1.
    base: usize,
    /// The largest index and its line.
    max_index: Option<(usize, usize)>,
}

/// Parses svmlight text; with `with_labels` every line must start with a label, without it a
/// leading label is skipped.
fn parse(path: &Path, text: &[u8], with_labels: bool) -> Result<Sparse> {
    let text = std::str::from_utf8(text).map_err(|e| {
        let line = text[..e.valid_up_to()].iter().filter(|&&byte| byte == b'\n').count() + 1;
        Error::file(path, format!("line {line}: not UTF-8 text"))
    })?;
    let mut sparse = Sparse {
        labels: Vec::new(),
        row_ends: Vec::new(),
        features: Vec::new(),
        base: 1,
        max_index: None,
    };
    for (line, content) in (1..).zip(text.lines()) {
        let fail = |why: String| Error::file(path, format!("line {line}: {why}"));
        let content = content.split('#').next().unwrap_or_default();
        let mut tokens = content.split_whitespace().peekable();
        let Some(&first) = tokens.peek() else { continue };
        if first.contains(':') {
            if with_labels {
                return Err(fail(format!("no label: the line starts with '{first}'")));
            }
        } else {
            if with_labels {
                labels::check_text(first).map_err(fail)?;
                sparse.labels.push(first.to_string());
            }
            tokens.next();
        }
        let mut previous: Option<usize> = None;
        for token in tokens.filter(|token| !token.starts_with("qid:")) {
            let (index, value) = parse_pair(token)
                .ok_or_else(|| fail(format!("token '{token}' is not index:value")))?;
            if !value.is_finite() {
                return Err(fail(format!("feature {index} is '{token}', not a finite number")));
            }
            if let Some(previous) = previous.filter(|&previous| index <= previous) {
                return Err(fail(format!(
                    "index {index} follows index {previous}: indices must increase along a line"
                )));
            }
            previous = Some(index);
            if index == 0 {
                sparse.base = 0;
            }
            if sparse.max_index.is_none_or(|(max, _)| index > max) {
                sparse.max_index = Some((index, line));
            }
            sparse.features.push((index, value));
        }
        sparse.row_ends.push(sparse.features.len());
    }
    if sparse.row_ends.is_empty() {
        return Err(Error::file(path, "no samples: the file holds only blank or comment lines"));
    }
    Ok(sparse)
}

/// `index:value`, if `token` is one.
fn parse_pair(token: &str) -> Option<(usize, f32)> {
    let (index, value) = token.split_once(':')?;
    Some((index.parse().ok()?, value.parse().ok()?))
}

impl Sparse {
    /// The N×`n_features` matrix, zero where no feature is listed. Every index must be below
    /// `n_features + base`.
    fn to_dense(&self, path: &Path, n_features: usize) -> Result<Array2<f32>> {
        if n_features == 0 {
            return Err(Error::file(path, "no features: no line lists an index:value pair"));
        }
        let n_samples = self.row_ends.len();
        let size =
            n_samples.checked_mul(n_features).filter(|&size| size <= isize::MAX as usize / 4);
        let mut dense = Vec::new();
        if size.is_none_or(|size| dense.try_reserve_exact(size).is_err()) {
            let message = format!(
                "{} samples × {} features is too large a dense matrix for memory",
                grouped(n_samples),
                grouped(n_features)
            );
            return Err(Error::file(path, message));
        }
        dense.resize(n_samples * n_features, 0.0);
        let mut start = 0;
        for (row, &end) in self.row_ends.iter().enumerate() {
            for &(index, value) in &self.features[start..end] {
                dense[row * n_features + index - self.base] = value;
            }
            start = end;
        }
        Array2::from_shape_vec((n_samples, n_features), dense)
            .map_err(|e| Error::file(path, format!("features do not fit: {e}")))
    }
}
