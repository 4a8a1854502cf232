//! Grid search over learning rate × regularization strength, as CS231n tunes its classifiers,
//! and its results.
//!
//! A [`Grid`] checks the options of every (lr, reg) pair before any work. [`Grid::prepare`]
//! preprocesses the training and validation sets once ([`Prepared`]); [`Grid::search`] trains
//! every pair on them, each borrowing the prepared data read-only, and gathers
//! [`TuningResults`]: the type `softmax tune --results` writes and `softmax plot tune` reads.
//! The pair with the best validation accuracy is [`TuningResults::best`].
//!
//! How the pairs are trained:
//! - minibatch optimizers: every pair independently, in parallel;
//! - L-BFGS (which ignores the learning rate): a regularization path. For each learning rate the
//!   regularization strengths are fitted one after the other, from the strongest to the
//!   weakest, each starting from the previous solution ([`Prepared::fit_from`]): a weaker
//!   penalty moves the optimum a little, so a fit from the last one needs fewer passes than one
//!   from scratch, and the strongest penalty, the best-conditioned problem, comes first. Each
//!   fit converges to its own optimum as an independent one does (to the tolerance).
//!   [`Grid::with_warm_start`]`(false)` fits them independently, in parallel, for comparison.

use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

use ndarray::{Array2, ArrayView2};
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
    /// How many regularization strengths each learning rate is paired with.
    n_regs: usize,
    /// Whether L-BFGS fits warm-start along the regularization path (the default).
    warm_start: bool,
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
        Ok(Grid { pairs, n_regs: regs.len(), warm_start: true })
    }

    /// The same grid, with L-BFGS fits warm-started along the regularization path (`true`, the
    /// default) or fitted independently (`false`). Minibatch optimizers always fit each pair
    /// independently.
    pub fn with_warm_start(self, warm_start: bool) -> Grid {
        Grid { warm_start, ..self }
    }

    /// Whether [`Grid::search`] warm-starts: L-BFGS, and warm starts not turned off.
    pub fn warm_starts(&self) -> bool {
        self.warm_start && self.shared().train.optimizer == Optimizer::Lbfgs
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
        let dtype = shared.resolved_dtype(crate::fit::training_values(train_set.inputs.len()));
        Prepared::new(train_set, Some(validation), shared.preprocess, dtype)
    }

    /// Trains every pair on `prepared` (along the regularization path when
    /// [`Grid::warm_starts`], otherwise independently and in parallel, as cores allow) and
    /// gathers the results; `data` describes the data for the results file. Returns the fits
    /// too, in the pairs' order, to save the best model.
    ///
    /// # Errors
    /// The first error of a pair's training, naming the pair.
    pub fn search(&self, prepared: &Prepared, data: &str) -> Result<(TuningResults, Vec<Fitted>)> {
        let runs = match self.warm_starts() {
            true => fit_paths(prepared, &self.pairs, self.n_regs)?,
            false => fit_each(prepared, &self.pairs)?,
        };
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
                passes: run.passes,
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
            warm_started: self.warm_starts(),
        };
        Ok((results, runs))
    }
}

/// Fits every pair on `prepared` independently, in parallel.
///
/// # Errors
/// The first error of a pair's training, naming the pair.
fn fit_each(prepared: &Prepared, pairs: &[CheckedFitOptions]) -> Result<Vec<Fitted>> {
    pairs.par_iter().map(|options| fit_pair(prepared, options, None)).collect()
}

/// Fits the pairs (lr-major, `n_regs` per learning rate) along each learning rate's
/// regularization path: from the strongest reg to the weakest, each fit starting from the
/// previous one's weights. The learning rates' paths run in parallel; the fits come back in the
/// pairs' order.
///
/// # Errors
/// The first error of a pair's training, naming the pair.
fn fit_paths(
    prepared: &Prepared,
    pairs: &[CheckedFitOptions],
    n_regs: usize,
) -> Result<Vec<Fitted>> {
    let paths: Vec<Vec<Fitted>> = pairs
        .par_chunks(n_regs)
        .map(|path| {
            let mut order: Vec<usize> = (0..path.len()).collect();
            order.sort_by(|&a, &b| path[b].reg.total_cmp(&path[a].reg));
            let mut fits: Vec<Option<Fitted>> = vec![None; path.len()];
            let mut previous: Option<Array2<f64>> = None;
            for index in order {
                let fitted = fit_pair(
                    prepared,
                    &path[index],
                    previous.as_ref().map(|weights| weights.view()),
                )?;
                previous = Some(fitted.weights());
                fits[index] = Some(fitted);
            }
            Ok(fits.into_iter().map(|fit| fit.expect("every reg is fitted")).collect())
        })
        .collect::<Result<_>>()?;
    Ok(paths.into_iter().flatten().collect())
}

/// One pair's fit on `prepared`, from `initial` weights if any; an error names the pair.
fn fit_pair(
    prepared: &Prepared,
    options: &CheckedFitOptions,
    initial: Option<ArrayView2<f64>>,
) -> Result<Fitted> {
    prepared.fit_from(options, initial, &mut |_| ControlFlow::Continue(())).map_err(|err| {
        let (lr, reg) = (options.train.learning_rate(), options.reg);
        Error::Training(format!("training with lr {lr}, reg {reg}: {err}"))
    })
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
    /// Loss+gradient passes over the training set (0 in results written before they were
    /// recorded).
    #[serde(default)]
    pub passes: f64,
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
    /// Whether the L-BFGS fits were warm-started along the regularization path (see the module
    /// doc); `false` in results written before it was recorded.
    #[serde(default)]
    pub warm_started: bool,
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
                passes: 4.5,
                seconds: 0.25,
            })
            .collect();
        TuningResults {
            results,
            winner: None,
            reg_convention: RegConvention::Full,
            optimizer: Optimizer::Sgd,
            data: "four pairs".into(),
            warm_started: false,
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
        assert_eq!(
            keys,
            ["results", "best", "reg_convention", "optimizer", "data", "warm_started"]
        );
        assert!(text.contains("\"reg_convention\": \"full\""), "{text}");
    }

    /// Results written before `passes` and `warm_started` were recorded still read.
    #[test]
    fn older_results_without_passes_read() {
        let text = r#"{"results": [{"lr": 0.1, "reg": 1e-4, "train_accuracy": 0.5,
            "val_accuracy": 0.4, "objective": 1.0, "iterations": 3, "seconds": 0.25}],
            "best": null, "reg_convention": "half", "optimizer": "sgd", "data": "old"}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, text).unwrap();
        let read = TuningResults::read(&path).unwrap();
        assert_eq!((read.results[0].passes, read.warm_started), (0.0, false));
        assert_eq!(read.results[0].iterations, 3);
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
