//! `softmax plot`: pictures of a model, a training run, a grid search and an evaluation, as
//! PNG or SVG files (by the extension of --out).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use softmax::model::Model;
use softmax::plot::{ConfusionMatrix, Format, Picture, TrainingCurves, TuningMap, WeightsPicture};
use softmax::train::History;
use softmax::tune::TuningResults;

use crate::options::ModelAndData;
use crate::output::print_line;
use crate::report::evaluate_held_out;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    picture: PictureArgs,
}

#[derive(clap::Subcommand, Debug)]
enum PictureArgs {
    /// The learned weights: one image per class ("templates") for image data, a class × feature
    /// heat map otherwise.
    Weights {
        /// The model: a safetensors file written by `softmax train --model`.
        #[arg(long)]
        model: PathBuf,
        /// The picture to write: .png or .svg.
        #[arg(long)]
        out: PathBuf,
    },
    /// The training curves: the loss of every step (raw and smoothed) and the training and
    /// validation accuracy at every checkpoint.
    History {
        /// The history written by `softmax train --history` (.csv or .json).
        #[arg(long)]
        history: PathBuf,
        /// The picture to write: .png or .svg.
        #[arg(long)]
        out: PathBuf,
    },
    /// CS231n's tuning map: validation and training accuracy over log10 lr × log10 reg, the
    /// best pair ringed.
    Tune {
        /// The results written by `softmax tune --results`.
        #[arg(long)]
        results: PathBuf,
        /// The picture to write: .png or .svg.
        #[arg(long)]
        out: PathBuf,
    },
    /// The confusion matrix of a model on a data set's test split (else its validation split,
    /// else its training split), with counts.
    Confusion {
        #[command(flatten)]
        source: ModelAndData,
        /// The picture to write: .png or .svg.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.picture {
        PictureArgs::Weights { model, out } => {
            Format::of_path(&out)?;
            let model = Model::load(&model)?;
            write(&WeightsPicture::new(&model), &out)
        }
        PictureArgs::History { history, out } => {
            Format::of_path(&out)?;
            let curves = TrainingCurves::new(&History::read(&history)?)
                .with_context(|| format!("plotting {}", history.display()))?;
            write(&curves, &out)
        }
        PictureArgs::Tune { results, out } => {
            Format::of_path(&out)?;
            write(&tuning_map(&results)?, &out)
        }
        PictureArgs::Confusion { source, out } => {
            Format::of_path(&out)?;
            let held_out = evaluate_held_out(&source)?;
            write(&ConfusionMatrix::new(&held_out.evaluation, &held_out.what()), &out)
        }
    }
}

/// The tuning map of the results file `path` (errors name it).
pub fn tuning_map(path: &Path) -> Result<TuningMap> {
    let results = TuningResults::read(path)?;
    TuningMap::new(&results).with_context(|| format!("plotting {}", path.display()))
}

/// Saves `picture` to `out` and prints what was written as one JSON line.
fn write(picture: &impl Picture, out: &Path) -> Result<()> {
    picture.save(out)?;
    let (width, height) = picture.size();
    print_line(&json!({ "out": out, "width": width, "height": height }).to_string())?;
    Ok(())
}
