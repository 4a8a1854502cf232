//! `softmax gradcheck`: the analytic gradient against centered differences, on .npy files or
//! a seeded random problem.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::json;
use softmax::gradcheck::{GradCheckOptions, GradCheckReport, gradient_check};
use softmax::synthetic::{check_problem_size, random_problem};
use softmax::{Layout, LossOptions};

use crate::options::{LossArgs, ProblemFiles};
use crate::output::print_line;

/// The scale of W in a random problem: small, as a freshly initialized classifier.
const RANDOM_WEIGHT_SCALE: f64 = 0.01;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("data").required(true).args(["weights", "random"])))]
pub struct Args {
    /// Weights W as .npy (float32 or float64; checked in float64).
    #[arg(long, requires_all = ["inputs", "labels"])]
    weights: Option<PathBuf>,
    /// Inputs X as .npy.
    #[arg(long, requires = "weights")]
    inputs: Option<PathBuf>,
    /// Labels y as .npy (any integer dtype).
    #[arg(long, requires = "weights")]
    labels: Option<PathBuf>,
    /// Check on a seeded random problem of N samples, D features and C classes: "N,D,C" (a
    /// shape whose X, W and N×C scores do not fit in memory is refused).
    #[arg(long, value_name = "N,D,C", value_parser = parse_shape, conflicts_with = "weights")]
    random: Option<[usize; 3]>,
    #[command(flatten)]
    loss: LossArgs,
    /// Number of random coordinates of W to check, 1 to 1,000,000 (each costs two loss
    /// passes). They are drawn with replacement, as CS231n's: more than W's C·D weights check
    /// some twice.
    #[arg(long, default_value_t = 10)]
    checks: usize,
    /// Step h of the centered differences.
    #[arg(long, default_value_t = 1e-5)]
    step: f64,
    /// Seed of the coordinates (and of the random problem).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of a line per check.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let options = args.loss.loss_options()?;
    let checks = GradCheckOptions { checks: args.checks, step: args.step, seed: args.seed };
    checks.check()?;
    let files = match (&args.weights, &args.inputs, &args.labels) {
        (Some(weights), Some(inputs), Some(labels)) => Some(ProblemFiles {
            weights: weights.clone(),
            inputs: inputs.clone(),
            labels: labels.clone(),
        }),
        _ => None,
    };
    let (report, source) = match (&files, args.random) {
        (_, Some([n, d, c])) => {
            if args.loss.layout != Layout::Canonical {
                bail!("--random makes a problem in the canonical layout; drop --layout");
            }
            check_problem_size::<f64>((n, d, c))?;
            let problem = random_problem::<f64>(n, d, c, RANDOM_WEIGHT_SCALE, args.seed);
            let report = gradient_check(
                problem.weights.view(),
                problem.inputs.view(),
                &problem.labels,
                &options,
                &checks,
            )
            .with_context(|| {
                format!("checking the gradient on a random {n}×{d} problem with {c} classes")
            })?;
            (report, format!("random N={n}, D={d}, C={c}, seed {}", args.seed))
        }
        (Some(files), None) => {
            let problem = files.load()?;
            let report = gradient_check(
                problem.weights.to_f64().view(),
                problem.inputs.to_f64().view(),
                &problem.labels,
                &options,
                &checks,
            )
            .with_context(|| format!("checking the gradient of {}", files.describe(&problem)))?;
            (report, files.describe(&problem))
        }
        (None, None) => bail!("give --weights, --inputs and --labels, or --random N,D,C"),
    };
    print_report(&report, &options, &source, args.json)
}

fn print_report(
    report: &GradCheckReport,
    options: &LossOptions,
    source: &str,
    as_json: bool,
) -> Result<()> {
    if as_json {
        let value = json!({
            "max_relative_error": report.max_relative_error,
            "checks": report.checks,
            "loss": report.loss,
            "loss_function": options.loss.name(),
            "reg": options.reg,
            "reg_convention": options.reg_convention.name(),
            "kernel": report.kernel.name(),
            "dtype": "float64",
            "data": source,
        });
        return Ok(print_line(&value.to_string())?);
    }
    print_line(&format!(
        "gradient check of the {} loss ({} kernel, reg {} {}, float64) on {source}",
        options.loss, report.kernel, options.reg, options.reg_convention
    ))?;
    for check in &report.checks {
        print_line(&format!(
            "numerical: {:>12.6} analytic: {:>12.6}, relative error: {:.6e}   (W{:?})",
            check.numerical, check.analytic, check.relative_error, check.index
        ))?;
    }
    print_line(&format!("max relative error: {:.3e}", report.max_relative_error))?;
    Ok(())
}

/// Parses "N,D,C" into three positive integers.
fn parse_shape(text: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let numbers: Vec<usize> = parts
        .iter()
        .map(|p| p.parse::<usize>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("expected three positive integers N,D,C, got '{text}'"))?;
    <[usize; 3]>::try_from(numbers)
        .map_err(|_| format!("expected three positive integers N,D,C, got '{text}'"))
}
