//! Grid search over learning rate × regularization strength, as CS231n tunes its classifiers,
//! and its results.
//!
//! A [`Grid`] checks the options of every (lr, reg) pair before any work. [`Grid::prepare`]
//! preprocesses the training and validation sets once ([`Prepared`]); [`Grid::search`] trains
//! every pair on them, in parallel, each borrowing the prepared data read-only, and gathers
//! [`TuningResults`]: the type `softmax tune --results` writes and `softmax plot tune` reads.
//! The pair with the best validation accuracy is [`TuningResults::best`].

use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

use crate::data::Dataset;
use crate::fit::{CheckedFitOptions, FitOptions, Fitted, Prepared};
use crate::train::{Optimizer, TrainOptions};
use crate::{Error, RegConvention, Result};

/// The pairs of a grid search, each with its options checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pairs: Vec<CheckedFitOptions>,
}

impl Grid {
    /// The pairs (lr, reg) for every lr of `learning_rates` and reg of `regs`, lr-major: the
    /// options are `base` with its learning rate and regularization replaced.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an empty list, or naming the first pair whose options
    /// [`FitOptions::check`] refuses.
    pub fn new(base: &FitOptions, learning_rates: &[f64], regs: &[f64]) -> Result<Grid> {
        if learning_rates.is_empty() || regs.is_empty() {
            return Err(Error::InvalidOption(
                "a grid needs at least one learning rate and one regularization strength".into(),
            ));
        }
        let mut pairs = Vec::with_capacity(learning_rates.len() * regs.len());
        for &lr in learning_rates {
            for &reg in regs {
                let train = TrainOptions { learning_rate: Some(lr), ..base.train.clone() };
                let options = FitOptions { reg, train, ..base.clone() };
                pairs.push(options.check().map_err(|err| match err {
                    Error::InvalidOption(message) => {
                        Error::InvalidOption(format!("lr {lr}, reg {reg}: {message}"))
                    }
                    other => other,
                })?);
            }
        }
        Ok(Grid { pairs })
    }

    /// The pairs' options, lr-major.
    pub fn pairs(&self) -> &[CheckedFitOptions] {
        &self.pairs
    }

    /// The options every pair shares but lr and reg.
    fn shared(&self) -> &FitOptions {
        &self.pairs[0]
    }

    /// The training and validation sets preprocessed as the pairs ask (they share the
    /// preprocessing and the dtype), once for all of them.
    ///
    /// # Errors
    /// As [`Prepared::new`].
    pub fn prepare(&self, train_set: Dataset, validation: Dataset) -> Result<Prepared> {
        let shared = self.shared();
        Prepared::new(train_set, Some(validation), shared.preprocess, shared.resolved_dtype())
    }

    /// Trains every pair on `prepared` (in parallel, as cores allow) and gathers the results;
    /// `data` describes the data for the results file. Returns the fits too, in the pairs'
    /// order, to save the best model.
    ///
    /// # Errors
    /// The first error of a pair's training, naming the pair.
    pub fn search(&self, prepared: &Prepared, data: &str) -> Result<(TuningResults, Vec<Fitted>)> {
        let runs = fit_each(prepared, &self.pairs)?;
        let results = self
            .pairs
            .iter()
            .zip(&runs)
            .map(|(options, run)| TuningResult {
                lr: options.train.learning_rate(),
                reg: options.reg,
                train_accuracy: run.train_accuracy,
                val_accuracy: run.val_accuracy,
                objective: run.objective,
                iterations: run.iterations,
                seconds: run.seconds,
            })
            .collect();
        let shared = self.shared();
        let results = TuningResults {
            results,
            winner: None,
            reg_convention: shared.reg_convention,
            optimizer: shared.train.optimizer,
            data: data.to_string(),
        };
        Ok((results, runs))
    }
}

/// Fits every pair on `prepared` independently, in parallel.
///
/// # Errors
/// The first error of a pair's training, naming the pair.
fn fit_each(prepared: &Prepared, pairs: &[CheckedFitOptions]) -> Result<Vec<Fitted>> {
    pairs
        .par_iter()
        .map(|options| {
            prepared.fit(options, &mut |_| ControlFlow::Continue(())).map_err(|err| {
                let (lr, reg) = (options.train.learning_rate(), options.reg);
                Error::Training(format!("training with lr {lr}, reg {reg}: {err}"))
            })
        })
        .collect()
}

/// One trained pair of a grid search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuningResult {
    pub lr: f64,
    pub reg: f64,
    pub train_accuracy: f64,
    /// `None` (JSON `null`) when there was none, or it was NaN.
    pub val_accuracy: Option<f64>,
    /// The objective at the end; NaN when it was not finite (JSON `null`).
    #[serde(deserialize_with = "nan_if_null")]
    pub objective: f64,
    pub iterations: usize,
    pub seconds: f64,
}

/// The pair a search chose and the summary of its run, as the command line reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Winner {
    pub lr: f64,
    pub reg: f64,
    pub summary: serde_json::Value,
}

/// The results of a grid search: what `softmax tune` prints and writes with `--results`, and
/// what `softmax plot tune` reads back (one type for both directions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuningResults {
    /// One per pair, lr-major.
    pub results: Vec<TuningResult>,
    /// The pair chosen ([`TuningResults::best`]) and its run's summary, once the caller has
    /// made one (JSON key `best`).
    #[serde(rename = "best")]
    pub winner: Option<Winner>,
    /// The convention the regularization strengths are in.
    #[serde(deserialize_with = "named")]
    pub reg_convention: RegConvention,
    #[serde(deserialize_with = "named")]
    pub optimizer: Optimizer,
    /// The data searched on, in words.
    pub data: String,
}

impl TuningResults {
    /// Reads the JSON file `softmax tune --results` writes.
    ///
    /// # Errors
    /// A missing or unreadable file ([`Error::Io`]); JSON that is not such results
    /// ([`Error::File`], naming the file).
    pub fn read(path: &Path) -> Result<TuningResults> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::file(path, format!("not the results of `softmax tune --results`: {e}"))
        })
    }

    /// Writes the results as pretty JSON, atomically.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("results serialize");
        crate::atomic::write_atomically(path, |out| std::io::Write::write_all(out, text.as_bytes()))
    }

    /// The index of the pair with the best validation accuracy; `None` only when there is no
    /// pair.
    ///
    /// The rule: a missing or NaN validation accuracy never wins over a real one, and of equal
    /// accuracies (or when none is real) the earlier pair wins.
    pub fn best(&self) -> Option<usize> {
        let accuracy = |index: usize| self.results[index].val_accuracy.filter(|a| !a.is_nan());
        (0..self.results.len()).reduce(|best, index| match (accuracy(index), accuracy(best)) {
            (Some(candidate), Some(current)) if candidate > current => index,
            (Some(_), None) => index,
            _ => best,
        })
    }
}

/// A `f64` that JSON holds as `null` when it was not finite (serde_json writes NaN and ±∞ so).
fn nan_if_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// One of the library's named options, from its name.
fn named<'de, D: Deserializer<'de>, T: FromStr<Err = Error>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(val_accuracies: &[Option<f64>]) -> TuningResults {
        let results = val_accuracies
            .iter()
            .enumerate()
            .map(|(i, &val_accuracy)| TuningResult {
                lr: 10f64.powi(-(i as i32)),
                reg: 1e-4,
                train_accuracy: 0.5,
                val_accuracy,
                objective: 1.0,
                iterations: 3,
                seconds: 0.25,
            })
            .collect();
        TuningResults {
            results,
            winner: None,
            reg_convention: RegConvention::Full,
            optimizer: Optimizer::Sgd,
            data: "four pairs".into(),
        }
    }

    #[test]
    fn best_prefers_a_real_accuracy_then_the_higher_then_the_earlier() {
        let nan = Some(f64::NAN);
        let cases: [(&[Option<f64>], Option<usize>); 8] = [
            (&[], None),
            (&[None], Some(0)),
            (&[nan, None, nan], Some(0)),
            (&[nan, Some(0.1)], Some(1)),
            (&[Some(0.1), nan], Some(0)),
            (&[None, Some(0.0), nan], Some(1)),
            (&[Some(0.3), Some(0.5), Some(0.5), Some(0.4)], Some(1)),
            (&[Some(0.5), None, Some(0.5)], Some(0)),
        ];
        for (accuracies, expected) in cases {
            assert_eq!(results(accuracies).best(), expected, "{accuracies:?}");
        }
    }

    #[test]
    fn results_read_back_what_they_wrote() {
        let mut written = results(&[Some(0.25), None, Some(0.5)]);
        written.results[1].objective = f64::INFINITY; // written as null, read as NaN
        written.winner = Some(Winner {
            lr: 0.01,
            reg: 1e-4,
            summary: serde_json::json!({"test_accuracy": 0.5}),
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        written.write(&path).unwrap();
        let read = TuningResults::read(&path).unwrap();
        assert!(read.results[1].objective.is_nan());
        let mut expected = written.clone();
        expected.results[1].objective = read.results[1].objective;
        assert_eq!(format!("{read:?}"), format!("{expected:?}"));
        let text = std::fs::read_to_string(&path).unwrap();
        let keys: Vec<String> = serde_json::from_str::<serde_json::Value>(&text)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["results", "best", "reg_convention", "optimizer", "data"]);
        assert!(text.contains("\"reg_convention\": \"full\""), "{text}");
    }

    #[test]
    fn a_bad_pair_is_named_before_any_work() {
        let base = FitOptions::default();
        let err = Grid::new(&base, &[0.1, -1.0], &[1e-4]).unwrap_err().to_string();
        assert!(err.contains("lr -1, reg 0.0001") && err.contains("learning rate"), "{err}");
        let err = Grid::new(&base, &[0.1], &[1e-4, -2.0]).unwrap_err().to_string();
        assert!(err.contains("lr 0.1, reg -2"), "{err}");
        assert!(Grid::new(&base, &[], &[1.0]).is_err());
        let grid = Grid::new(&base, &[0.1, 0.2], &[1.0, 2.0, 3.0]).unwrap();
        let pairs: Vec<(f64, f64)> =
            grid.pairs().iter().map(|o| (o.train.learning_rate(), o.reg)).collect();
        assert_eq!(pairs[..4], [(0.1, 1.0), (0.1, 2.0), (0.1, 3.0), (0.2, 1.0)]);
    }
}
