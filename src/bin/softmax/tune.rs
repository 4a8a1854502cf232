//! `softmax tune`: CS231n's grid search over learning rate × regularization strength.
//!
//! Every pair is trained with the same data, seed and options (in parallel, as cores allow);
//! the pair with the best validation accuracy wins and its model is saved.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde_json::json;
use softmax::fit::{Fitted, fit};

use crate::options::{TrainArgs, start_threads};
use crate::output::print_line;
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
}

pub fn run(args: Args) -> Result<()> {
    let pairs: Vec<(f64, f64)> =
        args.lr.iter().flat_map(|&lr| args.reg.iter().map(move |&reg| (lr, reg))).collect();
    for &(lr, reg) in &pairs {
        let options = args.train.fit_options(Some(lr), reg);
        options.train.check().with_context(|| format!("lr {lr}"))?;
        softmax::loss::check_reg(reg)?;
    }
    start_threads(args.train.threads)?;
    let splits = args.train.data.load(args.train.seed)?;
    let Some(validation) = splits.validation.as_ref() else {
        bail!(
            "tuning needs a validation set: {} has none (use --val-fraction > 0)",
            splits.description
        );
    };
    eprintln!("tuning {} pairs on {}", pairs.len(), splits.description);
    let runs: Vec<Fitted> = pairs
        .par_iter()
        .map(|&(lr, reg)| {
            fit(
                splits.train.clone(),
                Some(validation.clone()),
                &args.train.fit_options(Some(lr), reg),
                &mut |_| {},
            )
            .with_context(|| format!("training with lr {lr}, reg {reg}"))
        })
        .collect::<Result<_>>()?;

    eprintln!("{:>12} {:>12} {:>10} {:>10}", "lr", "reg", "train acc", "val acc");
    let mut results = Vec::with_capacity(runs.len());
    for (&(lr, reg), run) in pairs.iter().zip(&runs) {
        let val = run.val_accuracy.unwrap_or(f64::NAN);
        eprintln!("{lr:>12.3e} {reg:>12.3e} {:>10.4} {val:>10.4}", run.train_accuracy);
        results.push(json!({
            "lr": lr,
            "reg": reg,
            "train_accuracy": run.train_accuracy,
            "val_accuracy": run.val_accuracy,
            "objective": run.objective,
            "iterations": run.iterations,
            "seconds": run.seconds,
        }));
    }
    let best = (0..runs.len())
        .max_by(|&a, &b| {
            let (va, vb) =
                (runs[a].val_accuracy.unwrap_or(0.0), runs[b].val_accuracy.unwrap_or(0.0));
            va.total_cmp(&vb).then(b.cmp(&a)) // on ties, the earlier pair
        })
        .expect("at least one pair");
    let (best_lr, best_reg) = pairs[best];
    eprintln!(
        "best: lr {best_lr:e}, reg {best_reg:e}, validation accuracy {:.4}",
        runs[best].val_accuracy.unwrap_or(0.0)
    );
    if let Some(path) = &args.model {
        runs[best].model.save(path)?;
    }
    let best_summary = crate::train::summary(
        &runs[best],
        &AboutData::of(&splits),
        splits.test.as_ref(),
        args.model.as_ref(),
    )?;
    let report = json!({
        "results": results,
        "best": { "lr": best_lr, "reg": best_reg, "summary": best_summary },
        "reg_convention": args.train.reg_convention.name(),
        "optimizer": args.train.optimizer.name(),
        "data": splits.description,
    });
    if let Some(path) = &args.results {
        let text = serde_json::to_string_pretty(&report)?;
        softmax::atomic::write_atomically(path, |out| {
            std::io::Write::write_all(out, text.as_bytes())
        })?;
    }
    print_line(&report.to_string())?;
    Ok(())
}
