//! What happened during training: the loss at every step and the accuracies at checkpoints,
//! written as CSV or JSON for plots, and read back.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The header of the CSV form.
const CSV_HEADER: &str = "iteration,epoch,loss,train_accuracy,val_accuracy";

/// One optimizer step: its minibatch loss (L-BFGS: the full objective).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub iteration: usize,
    pub epoch: f64,
    pub loss: f64,
}

/// Accuracies measured after an epoch (or at the end).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub iteration: usize,
    pub epoch: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
}

/// The steps and checkpoints of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub steps: Vec<Step>,
    pub checkpoints: Vec<Checkpoint>,
}

impl History {
    /// Writes JSON (`{"steps": [..], "checkpoints": [..]}`) if `path` ends in `.json`, else CSV
    /// with one row per step — `iteration,epoch,loss,train_accuracy,val_accuracy`, the
    /// accuracies filled on checkpoint rows, and a row with an empty loss for a checkpoint at
    /// an iteration without a step — atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = if is_json(path) {
            serde_json::to_string_pretty(self).expect("history serializes")
        } else {
            self.to_csv()
        };
        crate::atomic::write_atomically(path, |out| out.write_all(text.as_bytes()))
    }

    /// Reads a history [`History::write`] wrote: JSON if `path` ends in `.json`, else CSV. A CSV
    /// row with a loss is a step, one with a training accuracy a checkpoint (or both).
    ///
    /// # Errors
    /// A missing or unreadable file ([`Error::Io`]); JSON that is not a history, or CSV with
    /// another header, a row of another length or a field that is not a number
    /// ([`Error::File`], naming the line).
    pub fn read(path: &Path) -> Result<History> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::file(path, "not a training history: the file is not text (CSV or JSON)")
        })?;
        let history = if is_json(path) {
            serde_json::from_str(&text).map_err(|e| format!("not a training history: {e}"))
        } else {
            History::from_csv(&text)
        };
        history.map_err(|message| Error::file(path, message))
    }

    /// Parses the CSV form; the error names the line (counted from 1).
    fn from_csv(text: &str) -> std::result::Result<History, String> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim() == CSV_HEADER => {}
            Some((_, header)) => {
                return Err(format!(
                    "line 1 is '{header}', expected the header '{CSV_HEADER}' of a training history"
                ));
            }
            None => return Err(format!("empty file: expected the header '{CSV_HEADER}'")),
        }
        let mut history = History::default();
        for (index, line) in lines.filter(|(_, line)| !line.trim().is_empty()) {
            let line_number = index + 1;
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [iteration, epoch, loss, train, val] = fields[..] else {
                return Err(format!(
                    "line {line_number} has {} fields, expected 5 ({CSV_HEADER})",
                    fields.len()
                ));
            };
            let number = |column: &str, text: &str| {
                text.parse::<f64>()
                    .map_err(|_| format!("line {line_number}: {column} '{text}' is not a number"))
            };
            let optional = |column: &str, text: &str| match text {
                "" => Ok(None),
                text => number(column, text).map(Some),
            };
            let iteration = iteration.parse::<usize>().map_err(|_| {
                format!("line {line_number}: iteration '{iteration}' is not a whole number")
            })?;
            let epoch = number("epoch", epoch)?;
            let loss = optional("loss", loss)?;
            if let Some(loss) = loss {
                history.steps.push(Step { iteration, epoch, loss });
            }
            match optional("train_accuracy", train)? {
                Some(train_accuracy) => {
                    let val_accuracy = optional("val_accuracy", val)?;
                    let checkpoint = Checkpoint { iteration, epoch, train_accuracy, val_accuracy };
                    history.checkpoints.push(checkpoint);
                }
                None if loss.is_none() => {
                    return Err(format!(
                        "line {line_number} has neither a loss nor a training accuracy"
                    ));
                }
                None => {}
            }
        }
        Ok(history)
    }

    /// The CSV form: one row per step, in order, a checkpoint's accuracies on the row of the
    /// step at its iteration; a checkpoint at an iteration without a step (L-BFGS's, after its
    /// last step) gets a row of its own with an empty loss.
    fn to_csv(&self) -> String {
        let mut csv = format!("{CSV_HEADER}\n");
        let mut checkpoints = self.checkpoints.iter().peekable();
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut row = |iteration: usize, epoch: f64, loss: Option<f64>, c: Option<&Checkpoint>| {
            let (train, val) = c.map_or((None, None), |c| (Some(c.train_accuracy), c.val_accuracy));
            let fields = [optional(loss), optional(train), optional(val)].join(",");
            csv.push_str(&format!("{iteration},{epoch},{fields}\n"));
        };
        for step in &self.steps {
            while let Some(c) = checkpoints.next_if(|c| c.iteration < step.iteration) {
                row(c.iteration, c.epoch, None, Some(c));
            }
            let checkpoint = checkpoints.next_if(|c| c.iteration == step.iteration);
            row(step.iteration, step.epoch, Some(step.loss), checkpoint);
        }
        for c in checkpoints {
            row(c.iteration, c.epoch, None, Some(c));
        }
        csv
    }
}

/// Whether `path` names a JSON history (it ends in `.json`, any case).
fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        History {
            steps: vec![
                Step { iteration: 1, epoch: 0.5, loss: 2.25 },
                Step { iteration: 2, epoch: 1.0, loss: 1.5 },
                Step { iteration: 3, epoch: 1.5, loss: 1.125 },
            ],
            checkpoints: vec![
                Checkpoint {
                    iteration: 2,
                    epoch: 1.0,
                    train_accuracy: 0.75,
                    val_accuracy: Some(0.5),
                },
                Checkpoint { iteration: 3, epoch: 1.5, train_accuracy: 0.875, val_accuracy: None },
            ],
        }
    }

    #[test]
    fn read_gives_back_what_write_wrote_in_both_formats() {
        // As L-BFGS records it: a checkpoint after the last step, at an iteration of its own.
        let mut after_the_last_step = history();
        let checkpoint =
            Checkpoint { iteration: 4, epoch: 4.0, train_accuracy: 1.0, val_accuracy: Some(0.5) };
        after_the_last_step.checkpoints.push(checkpoint);
        let dir = tempfile::tempdir().unwrap();
        for history in [history(), after_the_last_step] {
            for name in ["h.csv", "h.json", "h.JSON", "h.txt"] {
                let path = dir.path().join(name);
                history.write(&path).unwrap();
                assert_eq!(History::read(&path).unwrap(), history, "{name}");
            }
        }
    }

    #[test]
    fn a_checkpoint_without_a_step_has_a_row_without_a_loss() {
        let mut history = history();
        history.checkpoints.insert(
            0,
            Checkpoint { iteration: 0, epoch: 0.0, train_accuracy: 0.25, val_accuracy: None },
        );
        let csv = history.to_csv();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[1..3], ["0,0,,0.25,", "1,0.5,2.25,,"]);
        assert_eq!(rows.len(), 1 + 3 + 1);
    }

    #[test]
    fn bad_csv_is_refused_with_its_line() {
        let cases = [
            ("", "empty file"),
            ("iteration,loss\n", "line 1 is 'iteration,loss'"),
            (
                &format!("{CSV_HEADER}\n1,0.5,2.0,,\n2,1.0,abc,,\n"),
                "line 3: loss 'abc' is not a number",
            ),
            (&format!("{CSV_HEADER}\n1,0.5,2.0\n"), "line 2 has 3 fields, expected 5"),
            (
                &format!("{CSV_HEADER}\n-1,0.5,2.0,,\n"),
                "line 2: iteration '-1' is not a whole number",
            ),
            (&format!("{CSV_HEADER}\n1,0.5,,,\n"), "line 2 has neither a loss nor a training"),
        ];
        for (text, expected) in cases {
            let err = History::from_csv(text).unwrap_err();
            assert!(err.contains(expected), "{err:?} should contain {expected:?}");
        }
    }

    #[test]
    fn read_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let err = History::read(&missing).unwrap_err().to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");
        let json = dir.path().join("h.json");
        std::fs::write(&json, "{\"steps\": 3}").unwrap();
        let err = History::read(&json).unwrap_err().to_string();
        assert!(err.contains("h.json: not a training history"), "{err}");
    }
}
