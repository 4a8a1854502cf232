//! What happened during training: the loss at every step and the accuracies at checkpoints,
//! written as CSV or JSON for plots.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::Result;

/// One optimizer step: its minibatch loss (L-BFGS: the full objective).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub iteration: usize,
    pub epoch: f64,
    pub loss: f64,
}

/// Accuracies measured after an epoch (or at the end).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checkpoint {
    pub iteration: usize,
    pub epoch: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
}

/// The steps and checkpoints of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct History {
    pub steps: Vec<Step>,
    pub checkpoints: Vec<Checkpoint>,
}

impl History {
    /// Writes JSON (`{"steps": [..], "checkpoints": [..]}`) if `path` ends in `.json`, else CSV
    /// with one row per step — `iteration,epoch,loss,train_accuracy,val_accuracy`, the
    /// accuracies filled on checkpoint rows — atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let text = if is_json {
            serde_json::to_string_pretty(self).expect("history serializes")
        } else {
            self.to_csv()
        };
        crate::atomic::write_atomically(path, |out| out.write_all(text.as_bytes()))
    }

    fn to_csv(&self) -> String {
        let mut csv = String::from("iteration,epoch,loss,train_accuracy,val_accuracy\n");
        let mut checkpoints = self.checkpoints.iter().peekable();
        let format_optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for step in &self.steps {
            let checkpoint = checkpoints.next_if(|c| c.iteration == step.iteration);
            let (train, val) = match checkpoint {
                Some(c) => (Some(c.train_accuracy), c.val_accuracy),
                None => (None, None),
            };
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                step.iteration,
                step.epoch,
                step.loss,
                format_optional(train),
                format_optional(val)
            ));
        }
        csv
    }
}
