//! `softmax explain`: a worked example with every intermediate number.

use anyhow::Result;
use softmax::explain::{ExplainOptions, explain};
use softmax::{Loss, RegConvention};

use crate::output::print_line;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed of the example's weights, inputs and labels.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Loss: softmax | svm.
    #[arg(long, default_value = "softmax")]
    loss: Loss,
    /// L2 regularization strength (≥ 0).
    #[arg(long, default_value_t = ExplainOptions::default().reg, allow_hyphen_values = true)]
    reg: f64,
    /// Regularization convention: half | full.
    #[arg(long, default_value = "half")]
    reg_convention: RegConvention,
}

pub fn run(args: Args) -> Result<()> {
    let options = ExplainOptions {
        seed: args.seed,
        loss: args.loss,
        reg: args.reg,
        reg_convention: args.reg_convention,
        ..ExplainOptions::default()
    };
    print_line(explain(&options)?.trim_end())?;
    Ok(())
}
