//! `softmax report` (and `softmax train --report`): a folder with the pictures of a model and
//! `report.html`, one page that puts them, the settings and the numbers together.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use softmax::data::{Dataset, SplitName, Splits};
use softmax::fit::Fitted;
use softmax::metrics::evaluate;
use softmax::model::Model;
use softmax::plot::TrainingCurves;
use softmax::report::{Evaluated, Report, format_accuracy};
use softmax::train::History;

use crate::options::ModelAndData;
use crate::output::print_line;

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
    let history = args.history.as_deref().map(read_history).transpose()?;
    let tuning = args.results.as_deref().map(crate::plot::tuning_map).transpose()?;
    let (model, splits) = args.source.load()?;
    let description = splits.description.clone();
    let source = args.source.data.data.to_string();
    let Splits { train, validation, test, .. } = splits;
    let mut summary = Vec::new();
    let mut evaluated = None;
    for (split, data) in [("train", Some(train)), ("validation", validation), ("test", test)] {
        let Some(data) = data else { continue };
        let split = evaluate_split(&model, &args.source.model, split, data, &source)?;
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
/// loaded, and `description` says where the data came from.
pub fn write_training_report(
    fitted: &Fitted,
    description: &str,
    held_out: (SplitName, &Dataset),
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
        evaluate_split(model, Path::new("the trained model"), split.name(), data.clone(), source)?;
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

/// `model` evaluated on `data` (the `split` of `source`), its features (where both have names)
/// and classes matched by name.
fn evaluate_split(
    model: &Model,
    model_path: &Path,
    split: &str,
    data: Dataset,
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
    let data = data.align_features(model.feature_names()).with_context(context)?;
    let data = data.align_classes(model.class_names()).with_context(context)?;
    let evaluation = evaluate(model, &data).with_context(context)?;
    Ok(Evaluated { split: split.to_string(), source: source.to_string(), data, evaluation })
}

/// The model evaluated on the held-out split of its data: what `softmax plot confusion` draws.
pub fn evaluate_held_out(source: &ModelAndData) -> Result<Evaluated> {
    let (model, splits) = source.load()?;
    let (split, dataset) = splits.take_held_out();
    evaluate_split(&model, &source.model, split.name(), dataset, &source.data.data.to_string())
}
