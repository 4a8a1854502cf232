//! `softmax train`: fit a classifier on a data set and report its accuracies as JSON.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use softmax::data::{Dataset, SplitName, Splits};
use softmax::fit::{Fitted, fit};

use crate::options::{TrainArgs, start_threads};
use crate::output::print_line;
use crate::progress::Bar;
use crate::report::write_training_report;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// Learning rate of the minibatch optimizers (default: sgd 0.1, momentum/nesterov 0.01, adam 0.001).
    #[arg(long)]
    lr: Option<f64>,
    /// L2 regularization strength (≥ 0), in the --reg-convention.
    #[arg(long, default_value_t = 1e-4, allow_hyphen_values = true)]
    reg: f64,
    /// Write the model here (safetensors; atomic: a failed run leaves an existing file alone).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write the loss per step and the accuracies per epoch here: .json, or CSV otherwise.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write the pictures of the run and report.html, one page about it, into this folder.
    #[arg(long)]
    report: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let options = args.train.fit_options(args.lr, args.reg);
    options.train.check()?;
    softmax::loss::check_reg(options.reg)?;
    if let Some(dir) = &args.report {
        anyhow::ensure!(
            !dir.exists() || dir.is_dir(),
            "--report {}: not a folder (the report is a folder of pictures and report.html)",
            dir.display()
        );
    }
    start_threads(args.train.threads)?;
    let splits = args.train.data.load(args.train.seed)?;
    let about = AboutData::of(&splits);
    // `fit` takes the training and validation splits (it preprocesses them in place). A report
    // evaluates the held-out split as loaded: the test split if the source has one, else a copy
    // of validation or train taken now.
    let (held_out, _) = splits.held_out();
    let report_copy = match (&args.report, held_out) {
        (Some(_), SplitName::Train | SplitName::Validation) => splits.get(held_out).cloned(),
        _ => None,
    };
    let Splits { train, validation, test, .. } = splits;
    let bar = Bar::new(args.train.quiet, "training");
    let fitted = fit(train, validation, &options, &mut |p| bar.update(p));
    bar.finish();
    let fitted = fitted.with_context(|| format!("training on {}", about.description))?;
    if let Some(path) = &args.model {
        fitted.model.save(path)?;
    }
    if let Some(path) = &args.history {
        fitted.history.write(path)?;
    }
    let summary = summary(&fitted, &about, test.as_ref(), args.model.as_ref())?;
    if let Some(dir) = &args.report {
        let data = report_copy.as_ref().or(test.as_ref()).expect("the test split or a copy");
        let source = args.train.data.data.to_string();
        let model_path = args.model.as_deref();
        write_training_report(
            &fitted,
            &about.description,
            (held_out, data),
            &source,
            &summary,
            model_path,
            dir,
        )?;
    }
    print_line(&summary.to_string())?;
    Ok(())
}

/// What a run's summary says about its data: where it came from and how many samples each
/// split has. Taken before [`fit`] consumes the training and validation splits.
pub struct AboutData {
    pub description: String,
    n_train: usize,
    n_validation: Option<usize>,
}

impl AboutData {
    /// The facts of `splits`.
    pub fn of(splits: &Splits) -> AboutData {
        AboutData {
            description: splits.description.clone(),
            n_train: splits.train.n_samples(),
            n_validation: splits.validation.as_ref().map(Dataset::n_samples),
        }
    }
}

/// The JSON summary of a run: accuracies on every split (the model is scored on `test` here),
/// the objective, the cost.
pub fn summary(
    fitted: &Fitted,
    about: &AboutData,
    test: Option<&Dataset>,
    model_path: Option<&PathBuf>,
) -> Result<serde_json::Value> {
    let test_accuracy = match test {
        Some(test) => {
            let predicted = fitted.model.predict(test.inputs.view())?;
            Some(softmax::metrics::accuracy(&predicted, &test.labels))
        }
        None => None,
    };
    Ok(json!({
        "train_accuracy": fitted.train_accuracy,
        "val_accuracy": fitted.val_accuracy,
        "test_accuracy": test_accuracy,
        "objective": fitted.objective,
        "iterations": fitted.iterations,
        "seconds": fitted.seconds,
        "model": model_path,
        "passes": fitted.passes,
        "stop_reason": fitted.stop_reason,
        "data": about.description,
        "n_train": about.n_train,
        "n_validation": about.n_validation,
        "n_test": test.map(Dataset::n_samples),
        "options": fitted.model.training,
    }))
}
