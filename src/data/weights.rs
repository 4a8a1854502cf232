//! Sample weights from a file ([`LoadOptions::sample_weights`]): one per row of a source's
//! training data as read, attached to those rows before any split so that each weight travels
//! with its row.

use std::path::Path;

use super::files::{self, grouped};
use super::{Dataset, LoadOptions};
use crate::{Error, Result};

/// The bytes every `.npy` file starts with.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads sample weights: a 1-D `.npy` array (float32, float64 or integers; recognized by its
/// magic bytes, whatever the file's name), or text (gzip or not) with one number per line
/// (blank lines only at the end). Every weight must be finite and ≥ 0.
///
/// # Errors
/// [`Error::Io`] for a file that cannot be read; [`Error::File`] naming the line (counted from
/// one) or the index (from zero) of a weight that is not a number, not finite or negative, and
/// for a file that is neither.
pub fn read_sample_weights(path: &Path) -> Result<Vec<f64>> {
    let bytes = files::read(path)?;
    if bytes.starts_with(NPY_MAGIC) {
        let weights = crate::npy::read_vector(path)?;
        if let Some((index, value)) = weights.iter().enumerate().find(|(_, w)| !usable(**w)) {
            return Err(Error::file(path, format!("weight {value} at index {index}: {RULE}")));
        }
        return Ok(weights);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::file(path, "neither a .npy array nor text (one weight per line): not UTF-8")
    })?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let n_lines = lines.iter().rposition(|line| !line.is_empty()).map_or(0, |last| last + 1);
    lines[..n_lines]
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let line = index + 1;
            match field.parse::<f64>() {
                Ok(weight) if usable(weight) => Ok(weight),
                Ok(weight) => {
                    Err(Error::file(path, format!("line {line}: weight {weight}: {RULE}")))
                }
                Err(_) if field.is_empty() => {
                    Err(Error::file(path, format!("line {line} is blank: one weight per line")))
                }
                Err(_) => Err(Error::file(path, format!("line {line}: '{field}' is not a number"))),
            }
        })
        .collect()
}

/// What a weight must be.
const RULE: &str = "every weight must be finite and >= 0";

/// Whether `weight` can weigh a sample.
fn usable(weight: f64) -> bool {
    weight.is_finite() && weight >= 0.0
}

/// The weights of [`LoadOptions::sample_weights`], if any, for the `n_rows` training rows of
/// `source` (a description, for the message).
///
/// # Errors
/// Those of [`read_sample_weights`], and a count other than `n_rows` ([`Error::File`] naming
/// the file and both counts).
pub(super) fn for_rows(
    options: &LoadOptions,
    n_rows: usize,
    source: &str,
) -> Result<Option<Vec<f64>>> {
    let Some(path) = &options.sample_weights else {
        return Ok(None);
    };
    let weights = read_sample_weights(path)?;
    if weights.len() != n_rows {
        let message = format!(
            "{} sample weights for the {} training rows of {source}: one weight per row, in \
             the order read, before the validation split",
            grouped(weights.len()),
            grouped(n_rows)
        );
        return Err(Error::file(path, message));
    }
    Ok(Some(weights))
}

/// `data` (the training rows of `source` as read) with the weights of
/// [`LoadOptions::sample_weights`], if any.
///
/// # Errors
/// Those of [`for_rows`].
pub(super) fn attach(mut data: Dataset, options: &LoadOptions, source: &str) -> Result<Dataset> {
    if let Some(weights) = for_rows(options, data.n_samples(), source)? {
        data.sample_weights = Some(weights);
    }
    Ok(data)
}
