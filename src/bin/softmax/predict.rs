//! `softmax predict`: a saved model's predictions for new inputs, as CSV on stdout or as .npy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ndarray::{Array2, CowArray};
use npyz::WriterBuilder;
use serde_json::json;
use softmax::atomic::write_atomically;
use softmax::mapped::MappedMatrix;
use softmax::model::{Model, argmax_rows, softmax_rows};
use softmax::npy;

use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model: a safetensors file written by `softmax train --model`.
    #[arg(long)]
    model: PathBuf,
    /// The inputs to classify, one sample per row with the model's D features in the units it
    /// was trained on: .npy (float32 or float64, N×D), .csv or .csv.gz (D numbers per row,
    /// header optional; a last label column is dropped) or svmlight/libsvm (labels ignored).
    /// A CSV header is matched by name to the features of a model trained on a CSV header:
    /// columns in any order, one more column for labels anywhere, other names refused.
    #[arg(long)]
    inputs: PathBuf,
    /// Also give each class's softmax probability: CSV columns `label,p_<class>,...`. For an
    /// svm model these rank the classes like its scores but are not calibrated probabilities.
    #[arg(long)]
    probabilities: bool,
    /// Write .npy here instead of CSV on stdout: the predicted class indices (int64, N) or,
    /// with --probabilities, the probabilities (float64, N×C, columns in class order). Stdout
    /// then gets a JSON summary with the class names that the indices and columns refer to.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let model = Model::load(&args.model)?;
    let context = || {
        format!(
            "predicting with {} ({} classes, {} features) on {}",
            args.model.display(),
            model.n_classes(),
            model.n_features(),
            args.inputs.display()
        )
    };
    // The N×C probabilities are held only when they are asked for (they are the output).
    let (labels, probabilities) = if args.probabilities {
        let inputs = model.load_inputs(&args.inputs).with_context(context)?;
        let scores = model.scores(inputs.view()).with_context(context)?;
        (argmax_rows(scores.view()), Some(softmax_rows(scores)))
    } else {
        (predict_file(&model, &args.inputs).with_context(context)?, None)
    };
    match &args.out {
        None => print_line(&csv_text(model.class_names(), &labels, probabilities.as_ref())?)?,
        Some(out) => {
            match &probabilities {
                Some(probabilities) => npy::write_matrix(out, probabilities.view())?,
                None => write_labels(out, &labels)?,
            }
            let summary = json!({
                "model": args.model,
                "inputs": args.inputs,
                "n_samples": labels.len(),
                "out": out,
                "contents": if args.probabilities { "probabilities" } else { "labels" },
                "class_names": model.class_names(),
            });
            print_line(&summary.to_string())?;
        }
    }
    Ok(())
}

/// The predicted classes of the samples in `path`: a float `.npy` matrix (C order) is mapped
/// and scored a chunk of rows at a time, as `train` and `eval` read one, so that X is never
/// copied; any other file is read into memory first.
fn predict_file(model: &Model, path: &Path) -> softmax::Result<Vec<usize>> {
    let is_npy = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("npy"));
    let Some(matrix) = is_npy.then(|| MappedMatrix::open(path).ok()).flatten() else {
        return model.predict(model.load_inputs(path)?.view());
    };
    let (n_rows, n_features) = matrix.dim();
    if n_features != model.n_features() {
        let expected = model.n_features();
        let message = format!("{n_features} columns: the model expects {expected} features");
        return Err(softmax::Error::file(path, message));
    }
    matrix.check_unchanged()?;
    let read = |rows| Ok(CowArray::from(matrix.read_rows(None, rows)));
    let chunks =
        model.map_score_chunks_read((n_rows, n_features), read, |_, scores| argmax_rows(scores))?;
    Ok(chunks.concat())
}

/// The CSV table (without its final newline): a header `label[,p_<class>...]`, then per sample
/// the predicted class's name and, if given, its row of probabilities (each in the shortest form
/// that reads back exactly, with an exponent when tiny: `0.98`, `3.6e-18`).
fn csv_text(
    class_names: &[String],
    labels: &[usize],
    probabilities: Option<&Array2<f64>>,
) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["label".to_string()];
    if probabilities.is_some() {
        header.extend(class_names.iter().map(|name| format!("p_{name}")));
    }
    writer.write_record(&header)?;
    for (sample, &label) in labels.iter().enumerate() {
        let mut record = vec![class_names[label].clone()];
        if let Some(probabilities) = probabilities {
            record.extend(
                probabilities.row(sample).iter().map(|&p| serde_json::Value::from(p).to_string()),
            );
        }
        writer.write_record(&record)?;
    }
    let text = String::from_utf8(writer.into_inner()?)?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Writes class indices as a 1-D int64 `.npy` file, atomically.
fn write_labels(path: &Path, labels: &[usize]) -> softmax::Result<()> {
    write_atomically(path, |out| {
        let mut writer = npyz::WriteOptions::<i64>::new()
            .default_dtype()
            .shape(&[labels.len() as u64])
            .writer(out)
            .begin_nd()?;
        writer.extend(labels.iter().map(|&label| label as i64))?;
        writer.finish()
    })
}
