//! From the labels a file holds to class indices `0..C` and class names.
//!
//! Text labels (CSV, libsvm) may be numbers or names. The classes are their sorted distinct
//! values — in numeric order when every label is a number (so `10` comes after `9`, and
//! `-1`/`+1`, `0..9` or `1..10` all map to `0..C`), in byte order otherwise — and the labels
//! become indices into them. Integer labels (NumPy) are already indices: their classes are
//! named `"0"` to the largest label.

use std::cmp::Ordering;
use std::path::Path;

use crate::{Error, Result};

/// The most classes an integer-labelled file may declare (through its largest label): one
/// name is allocated per class, so a corrupt label must not ask for billions.
pub(super) const MAX_CLASSES: usize = 1 << 16;

/// Why a label's text cannot name a class, if it cannot: an empty field, or a number that is
/// not finite (`nan`, `inf`: almost surely a missing value, not a class).
pub(super) fn check_text(text: &str) -> std::result::Result<(), String> {
    if text.is_empty() {
        return Err("the label is empty".to_string());
    }
    match text.parse::<f64>() {
        Ok(value) if !value.is_finite() => {
            Err(format!("label '{text}' is not a class: labels must be finite numbers or names"))
        }
        _ => Ok(()),
    }
}

/// The sorted distinct classes of `texts` (see the module doc) and each text's index among
/// them. Numeric classes are named by their value, whole numbers without a decimal point
/// (`1.0` and `+1` are both class `1`).
pub(super) fn index_classes(texts: &[String]) -> (Vec<String>, Vec<usize>) {
    let numbers: Option<Vec<f64>> =
        texts.iter().map(|text| text.parse::<f64>().ok().map(|value| value + 0.0)).collect();
    match numbers {
        // `+ 0.0` above turns -0 into 0, so that the two are one class.
        Some(values) => {
            let classes = distinct(&values, f64::total_cmp);
            let names = classes.iter().map(|&value| number_name(value)).collect();
            (names, indices(&values, &classes, f64::total_cmp))
        }
        None => {
            let classes = distinct(texts, Ord::cmp);
            (classes.clone(), indices(texts, &classes, Ord::cmp))
        }
    }
}

/// Class names `"0"` to the largest label (`"0"` to `"9"` for labels `0..=9`), at least
/// `min_classes` of them.
///
/// # Errors
/// A label of [`MAX_CLASSES`] or more (the error gives it and its index).
pub(super) fn numbered_classes(
    path: &Path,
    labels: &[usize],
    min_classes: usize,
) -> Result<Vec<String>> {
    if let Some(index) = labels.iter().position(|&label| label >= MAX_CLASSES) {
        let message = format!(
            "label {} at index {index} is too large: at most {MAX_CLASSES} classes are supported",
            labels[index]
        );
        return Err(Error::file(path, message));
    }
    let n_classes = labels.iter().map(|&label| label + 1).max().unwrap_or(0).max(min_classes);
    Ok((0..n_classes).map(|class| class.to_string()).collect())
}

fn distinct<T: Clone>(values: &[T], order: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut sorted = values.to_vec();
    sorted.sort_by(&order);
    sorted.dedup_by(|a, b| order(a, b) == Ordering::Equal);
    sorted
}

fn indices<T>(values: &[T], classes: &[T], order: impl Fn(&T, &T) -> Ordering) -> Vec<usize> {
    values
        .iter()
        .map(|value| {
            // Every value is one of the classes, which are sorted and distinct.
            classes.binary_search_by(|class| order(class, value)).unwrap_or_else(|at| at)
        })
        .collect()
}

/// `3` for 3.0, `-1` for -1.0, `0.5` for 0.5.
fn number_name(value: f64) -> String {
    // 2^53: every whole number below it is exact, and prints as an integer.
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGERS {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn numeric_labels_sort_by_value_and_print_as_integers() {
        let (names, labels) = index_classes(&strings(&["10", "9", "+1", "1.0", "-0", "0", "2.5"]));
        assert_eq!(names, ["0", "1", "2.5", "9", "10"]);
        assert_eq!(labels, [4, 3, 1, 1, 0, 0, 2]);
    }

    #[test]
    fn text_labels_sort_by_bytes() {
        let (names, labels) = index_classes(&strings(&["cat", "dog", "10", "cat", "9"]));
        assert_eq!(names, ["10", "9", "cat", "dog"]);
        assert_eq!(labels, [2, 3, 0, 2, 1]);
    }

    #[test]
    fn non_finite_and_empty_labels_are_rejected() {
        assert!(check_text("nan").is_err());
        assert!(check_text("-inf").is_err());
        assert!(check_text("").is_err());
        assert!(check_text("zero").is_ok());
        assert!(check_text("-1").is_ok());
    }

    #[test]
    fn numbered_classes_cover_the_largest_label() {
        let path = Path::new("y.npy");
        assert_eq!(numbered_classes(path, &[2, 0], 0).unwrap(), ["0", "1", "2"]);
        assert_eq!(numbered_classes(path, &[2, 0], 10).unwrap().len(), 10);
        let error = numbered_classes(path, &[1, MAX_CLASSES], 0).unwrap_err().to_string();
        assert!(error.contains("label 65536 at index 1"), "{error}");
    }
}
