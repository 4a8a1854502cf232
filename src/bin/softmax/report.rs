//! `softmax report` (and `softmax train --report`): a folder with the pictures of a model and
//! `report.html`, one page that puts them, the settings and the numbers together.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use softmax::data::{MappedSplits, SplitName, Splits, can_map};
use softmax::fit::Fitted;
use softmax::metrics::{evaluate_mapped_scored, evaluate_scored};
use softmax::model::Model;
use softmax::plot::TrainingCurves;
use softmax::report::{Evaluated, Report, SplitData, format_accuracy};
use softmax::train::History;

use crate::options::ModelAndData;
use crate::output::{check_folder_writable, print_line};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    source: ModelAndData,
    /// The folder to write the pictures and report.html into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also draw the training curves of this history (`softmax train --history`).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Also draw the tuning map of these results (`softmax tune --results`).
    #[arg(long)]
    results: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    check_folder_writable("--out", &args.out)?;
    let history = args.history.as_deref().map(read_history).transpose()?;
    let tuning = args.results.as_deref().map(crate::plot::tuning_map).transpose()?;
    let Loaded { model, description, splits } = load(&args.source)?;
    let source = args.source.data.data.to_string();
    let mut summary = Vec::new();
    let mut evaluated = None;
    for (split, data) in splits {
        let split = evaluate_split(&model, &args.source.model, split.name(), data, &source)?;
        let evaluation = &split.evaluation;
        summary.push((format!("{} accuracy", split.split), format_accuracy(evaluation.accuracy)));
        summary
            .push((format!("{} mean loss", split.split), format!("{:.4}", evaluation.mean_loss)));
        summary.push((format!("{} samples", split.split), evaluation.n_samples.to_string()));
        evaluated = Some(split); // the last split the source has: test, else validation, else train
    }
    let evaluated = evaluated.expect("every source has a training split");
    let report = Report {
        title: "Model report".to_string(),
        model: &model,
        model_path: Some(&args.source.model),
        data_description: &description,
        summary,
        evaluated: &evaluated,
        history: history.as_ref(),
        tuning: tuning.as_ref(),
    };
    let files = report.write(&args.out)?;
    print_line(&json!({ "out": args.out, "files": files }).to_string())?;
    Ok(())
}

/// The history in `path`, checked to be drawable before any work, so that an error names the
/// file (the report draws it from the history alone).
fn read_history(path: &Path) -> Result<History> {
    let history = History::read(path)?;
    TrainingCurves::new(&history).with_context(|| format!("plotting {}", path.display()))?;
    Ok(history)
}

/// The report of a training run: the numbers of its JSON `summary`, the pictures of its model
/// and history, the confusion matrix and samples of its held-out split. Returns the files
/// written, the page last. `held_out` is the split the page evaluates ([`Splits::held_out`]), as
/// loaded or mapped, and `description` says where the data came from.
pub fn write_training_report(
    fitted: &Fitted,
    description: &str,
    held_out: (SplitName, SplitData),
    source: &str,
    summary: &serde_json::Value,
    model_path: Option<&Path>,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut numbers = Vec::new();
    let accuracies = [
        ("train_accuracy", "train accuracy"),
        ("val_accuracy", "validation accuracy"),
        ("test_accuracy", "test accuracy"),
    ];
    for (key, name) in accuracies {
        if let Some(accuracy) = summary[key].as_f64() {
            numbers.push((name.to_string(), format_accuracy(accuracy)));
        }
    }
    numbers.push(("objective".to_string(), format!("{:.6}", fitted.objective)));
    numbers.push(("iterations".to_string(), fitted.iterations.to_string()));
    numbers.push(("passes over the data".to_string(), format!("{:.2}", fitted.passes)));
    numbers.push(("seconds".to_string(), format!("{:.2}", fitted.seconds)));
    numbers.push(("stop reason".to_string(), fitted.stop_reason.clone()));
    let (split, data) = held_out;
    let model = &fitted.model;
    let evaluated =
        evaluate_split(model, Path::new("the trained model"), split.name(), data, source)?;
    let report = Report {
        title: "Training run".to_string(),
        model,
        model_path,
        data_description: description,
        summary: numbers,
        evaluated: &evaluated,
        history: Some(&fitted.history),
        tuning: None,
    };
    report.write(dir).with_context(|| format!("writing the report into {}", dir.display()))
}

/// A model and the splits of its data source, loaded or mapped.
struct Loaded {
    model: Model,
    /// Where the data came from and how they were split.
    description: String,
    /// The splits the source has, in order: train, validation, test.
    splits: Vec<(SplitName, SplitData)>,
}

/// Loads the model and its data source; an `npy:` source is mapped, not read.
fn load(source: &ModelAndData) -> Result<Loaded> {
    if can_map(&source.data.data) {
        let (model, splits) = source.load_mapped()?;
        let MappedSplits { train, validation, description } = splits;
        let validation = validation.map(|data| (SplitName::Validation, SplitData::Mapped(data)));
        let splits = [(SplitName::Train, SplitData::Mapped(train))].into_iter().chain(validation);
        return Ok(Loaded { model, description, splits: splits.collect() });
    }
    let (model, splits) = source.load()?;
    let Splits { train, validation, test, description } = splits;
    let splits = [
        (SplitName::Train, Some(train)),
        (SplitName::Validation, validation),
        (SplitName::Test, test),
    ];
    let splits =
        splits.into_iter().filter_map(|(split, data)| Some((split, SplitData::Loaded(data?))));
    Ok(Loaded { model, description, splits: splits.collect() })
}

/// `model` evaluated on `data` (the `split` of `source`), its features (where both have names)
/// and classes matched by name.
fn evaluate_split(
    model: &Model,
    model_path: &Path,
    split: &str,
    data: SplitData,
    source: &str,
) -> Result<Evaluated> {
    let context = || {
        format!(
            "evaluating {} ({} classes, {} features) on the {split} split of {source}",
            model_path.display(),
            model.n_classes(),
            model.n_features()
        )
    };
    let (data, (evaluation, scored)) = match data {
        SplitData::Loaded(data) => {
            let data = data.align_features(model.feature_names()).with_context(context)?;
            let data = data.align_classes(model.class_names()).with_context(context)?;
            let evaluated = evaluate_scored(model, &data, None).with_context(context)?;
            (SplitData::Loaded(data), evaluated)
        }
        SplitData::Mapped(data) => {
            let data = data.align_classes(model.class_names()).with_context(context)?;
            let evaluated = evaluate_mapped_scored(model, &data, None).with_context(context)?;
            (SplitData::Mapped(data), evaluated)
        }
    };
    let (split, source) = (split.to_string(), source.to_string());
    Ok(Evaluated { split, source, data, evaluation, scored })
}

/// The model evaluated on the held-out split of its data (the last of [`load`]'s): what
/// `softmax plot confusion` draws.
pub fn evaluate_held_out(source: &ModelAndData) -> Result<Evaluated> {
    let Loaded { model, mut splits, .. } = load(source)?;
    let (split, data) = splits.pop().expect("every source has a training split");
    evaluate_split(&model, &source.model, split.name(), data, &source.data.data.to_string())
}
