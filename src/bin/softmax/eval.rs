//! `softmax eval`: how a saved model does on a data set (accuracy, mean loss, per-class
//! precision and recall, confusion matrix, and with --top-k the top-K accuracy), as one JSON
//! object. The data's features are matched to the model's by name where both have names (a
//! CSV header), and its classes by name.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use softmax::data::{DataSpec, MappedSplits, SplitName, can_map};
use softmax::metrics::{Evaluation, evaluate_mapped_with_top_k, evaluate_with_top_k};
use softmax::model::Model;

use crate::options::ModelAndData;
use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    source: ModelAndData,
    /// The split to evaluate on: test | validation | train (default: test if the source has one,
    /// else validation, else train). A held-out validation split is re-created from
    /// --val-fraction and --seed: give the values the model was trained with. To evaluate on
    /// every sample of a source without a test split (a CSV file of new samples), pass
    /// --val-fraction 0: the whole source is then the train split.
    #[arg(long)]
    split: Option<SplitName>,
    /// Also report the top-K accuracy (K ≥ 1; ties count against the sample): keys "top_k" and
    /// "top_k_accuracy".
    #[arg(long, value_name = "K")]
    top_k: Option<usize>,
}

/// The JSON report: where the numbers come from, then the evaluation's fields.
#[derive(serde::Serialize)]
struct Report<'a> {
    model: &'a Path,
    data: &'a str,
    split: &'static str,
    #[serde(flatten)]
    evaluation: &'a Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k_accuracy: Option<f64>,
}

pub fn run(args: Args) -> Result<()> {
    let evaluated = match can_map(&args.source.data.data) {
        true => evaluate_mapped(&args)?,
        false => evaluate_loaded(&args)?,
    };
    let Evaluated { description, split, evaluation, top_k_accuracy } = evaluated;
    let report = Report {
        model: &args.source.model,
        data: &description,
        split: split.name(),
        evaluation: &evaluation,
        top_k: args.top_k,
        top_k_accuracy,
    };
    print_line(&serde_json::to_string(&report)?)?;
    Ok(())
}

/// What `eval` reports: where the data came from, the split, and the evaluation.
struct Evaluated {
    description: String,
    split: SplitName,
    evaluation: Evaluation,
    top_k_accuracy: Option<f64>,
}

/// The model evaluated on a split read into memory.
fn evaluate_loaded(args: &Args) -> Result<Evaluated> {
    let (model, splits) = args.source.load()?;
    let description = splits.description.clone();
    let (split, data) = match args.split {
        Some(split) => (split, splits.take(split).ok_or_else(|| missing(split, &description))?),
        None => splits.take_held_out(),
    };
    let context = || context(args, &model, split, &description);
    // A CSV file's features are matched to the model's by name; when they do not match, the
    // label column is often the culprit: say which one was taken.
    let features_context = || match (&args.source.data.data, &args.source.data.label_column) {
        (DataSpec::Csv(_), None) => format!(
            "{} (the labels were read from the last column: --label-column names another)",
            context()
        ),
        _ => context(),
    };
    let data = data.align_features(model.feature_names()).with_context(features_context)?;
    let data = data.align_classes(model.class_names()).with_context(context)?;
    let (evaluation, top_k_accuracy) =
        evaluate_with_top_k(&model, &data, args.top_k).with_context(context)?;
    Ok(Evaluated { description, split, evaluation, top_k_accuracy })
}

/// The model evaluated on a split of a memory-mapped `npy:` source, read a chunk of rows at a
/// time: X is not copied (such a source has a train and a validation split).
fn evaluate_mapped(args: &Args) -> Result<Evaluated> {
    let (model, splits) = args.source.load_mapped()?;
    let MappedSplits { train, validation, description } = splits;
    let (split, data) = match (args.split, validation) {
        (Some(SplitName::Train), _) | (None, None) => (SplitName::Train, train),
        (Some(SplitName::Validation) | None, Some(validation)) => {
            (SplitName::Validation, validation)
        }
        (Some(split), _) => return Err(missing(split, &description)),
    };
    let context = || context(args, &model, split, &description);
    let data = data.align_classes(model.class_names()).with_context(context)?;
    let (evaluation, top_k_accuracy) =
        evaluate_mapped_with_top_k(&model, &data, args.top_k).with_context(context)?;
    Ok(Evaluated { description, split, evaluation, top_k_accuracy })
}

/// The error for a --split that the source lacks.
fn missing(split: SplitName, description: &str) -> anyhow::Error {
    anyhow!("the data has no {split} split ({description}): choose another --split")
}

/// What an error happened in: the model, its shape, the split and the data.
fn context(args: &Args, model: &Model, split: SplitName, description: &str) -> String {
    format!(
        "evaluating {} ({} classes, {} features) on the {} split of {description}",
        args.source.model.display(),
        model.n_classes(),
        model.n_features(),
        split.name()
    )
}
