//! `softmax tune`: CS231n's grid search over learning rate × regularization strength.
//!
//! Every pair is trained with the same data, seed and options: with a minibatch optimizer in
//! parallel, as cores allow; with L-BFGS along the regularization path, from the strongest reg
//! to the weakest, each fit warm-started from the previous one (--no-warm-start: independently,
//! in parallel). The pair with the best validation accuracy wins and its model is saved.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use softmax::fit::FitOptions;
use softmax::tune::{Grid, Winner};

use crate::options::{TrainArgs, start_threads};
use crate::output::{check_writable, print_line};
use crate::train::AboutData;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    train: TrainArgs,
    /// Learning rates to try, comma-separated (e.g. 1e-7,5e-7).
    #[arg(long, value_delimiter = ',', required = true)]
    lr: Vec<f64>,
    /// Regularization strengths to try, comma-separated, in the --reg-convention.
    #[arg(long, value_delimiter = ',', required = true)]
    reg: Vec<f64>,
    /// Save the best model here (safetensors).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Also write the JSON results here (for `softmax plot tune`).
    #[arg(long)]
    results: Option<PathBuf>,
    /// L-BFGS: fit every reg independently (in parallel) instead of along the regularization
    /// path, from the strongest reg to the weakest, each fit starting from the previous one.
    #[arg(long)]
    no_warm_start: bool,
}

pub fn run(args: Args) -> Result<()> {
    // Every option is checked before any work; named class weights once the classes are known.
    let base = args.train.fit_options(None, 0.0);
    Grid::new(&base, &args.lr, &args.reg)?;
    if let Some(path) = &args.model {
        check_writable("--model", path)?;
    }
    if let Some(path) = &args.results {
        check_writable("--results", path)?;
    }
    start_threads(args.train.threads)?;
    let splits = args.train.load_data()?;
    let class_weight = args.train.class_weight(&splits.train.class_names)?;
    let grid = Grid::new(&FitOptions { class_weight, ..base }, &args.lr, &args.reg)?
        .with_warm_start(!args.no_warm_start);
    let about = AboutData::of(&splits, &args.train);
    let Some(validation) = splits.validation else {
        bail!(
            "tuning needs a validation set: {} has none (use --val-fraction > 0)",
            splits.description
        );
    };
    let how = match grid.warm_starts() {
        true => ", warm-started from the strongest reg to the weakest",
        false => "",
    };
    eprintln!("tuning {} pairs on {}{how}", grid.pairs().len(), splits.description);
    // The raw training and validation sets go into the prepared data: one copy, shared by all
    // the pairs. The test split stays raw, for the best model's summary.
    let started = Instant::now();
    let prepared = grid.prepare(splits.train, validation)?;
    let (mut results, runs) = grid.search(&prepared, &splits.description)?;
    drop(prepared);

    eprintln!(
        "{:>12} {:>12} {:>10} {:>10} {:>6} {:>8}",
        "lr", "reg", "train acc", "val acc", "iters", "passes"
    );
    for result in &results.results {
        let val = result.val_accuracy.unwrap_or(f64::NAN);
        let (lr, reg, iterations, passes) =
            (result.lr, result.reg, result.iterations, result.passes);
        eprintln!(
            "{lr:>12.3e} {reg:>12.3e} {:>10.4} {val:>10.4} {iterations:>6} {passes:>8.1}",
            result.train_accuracy
        );
    }
    let total_passes: f64 = results.results.iter().map(|result| result.passes).sum();
    eprintln!("{total_passes:.1} passes in all, {:.2} s", started.elapsed().as_secs_f64());
    let best = results.best().expect("a grid has pairs");
    let (lr, reg) = (results.results[best].lr, results.results[best].reg);
    let best_run = &runs[best];
    eprintln!(
        "best: lr {lr:e}, reg {reg:e}, validation accuracy {:.4}",
        best_run.val_accuracy.unwrap_or(f64::NAN)
    );
    if let Some(path) = &args.model {
        best_run.model.save(path)?;
    }
    let summary =
        crate::train::summary(best_run, &about, splits.test.as_ref(), args.model.as_ref())?;
    results.winner = Some(Winner { lr, reg, summary });
    if let Some(path) = &args.results {
        let saved = match &args.model {
            Some(model) => format!(" (the best model was saved to {})", model.display()),
            None => String::new(),
        };
        results.write(path).with_context(|| format!("writing the results{saved}"))?;
    }
    print_line(&serde_json::to_string(&results)?)?;
    Ok(())
}
