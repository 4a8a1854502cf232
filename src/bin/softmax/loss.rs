//! `softmax loss`: the loss and gradient of W on X and y, read from .npy files.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ndarray::Array2;
use serde_json::json;
use softmax::npy::{self, Matrix};
use softmax::{Float, LossOptions, loss_and_grad};

use crate::options::{LossArgs, ProblemFiles};
use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    files: ProblemFiles,
    #[command(flatten)]
    loss: LossArgs,
    /// Write the gradient dW here as .npy, in W's dtype and layout.
    #[arg(long)]
    grad_out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let options = args.loss.loss_options()?;
    let problem = args.files.load()?;
    let context = || format!("computing the loss of {}", args.files.describe(&problem));
    let grad_out = args.grad_out.as_deref();
    let report = match (&problem.weights, &problem.inputs) {
        (Matrix::F32(w), Matrix::F32(x)) => compute(w, x, &problem.labels, &options, grad_out),
        (Matrix::F64(w), Matrix::F64(x)) => compute(w, x, &problem.labels, &options, grad_out),
        (w, x) => bail!(
            "dtype mismatch: weights {} are {} but inputs {} are {}; both must be float32 or both float64",
            args.files.weights.display(),
            w.dtype_name(),
            args.files.inputs.display(),
            x.dtype_name()
        ),
    }
    .with_context(context)?;
    print_line(&report.to_string())?;
    Ok(())
}

/// Computes the loss (and writes the gradient) in `F`; returns the JSON report.
fn compute<F: Float + npyz::AutoSerialize>(
    weights: &Array2<F>,
    inputs: &Array2<F>,
    labels: &[usize],
    options: &LossOptions,
    grad_out: Option<&std::path::Path>,
) -> Result<serde_json::Value> {
    let out = loss_and_grad(weights.view(), inputs.view(), labels, options)?;
    if let Some(path) = grad_out {
        npy::write_matrix(path, out.grad.view())?;
    }
    let (w, x) = options.layout.to_canonical(weights.view(), inputs.view());
    Ok(json!({
        "loss": out.loss.as_f64(),
        "kernel": options.kernel.resolve_for(w.nrows(), w.ncols()).name(),
        "n_samples": x.nrows(),
        "n_features": x.ncols(),
        "n_classes": w.nrows(),
        "reg": options.reg,
        "reg_convention": options.reg_convention.name(),
        "loss_function": options.loss.name(),
        "layout": options.layout.name(),
        "dtype": F::DTYPE_NAME,
    }))
}
