//! `softmax`: the command line of the softmax library. Each subcommand lives in its own file;
//! this one parses arguments, runs the subcommand and turns errors into a message and exit 1.

mod bench;
mod demo;
mod eval;
mod explain;
mod gradcheck;
mod loss;
mod options;
mod output;
mod plot;
mod predict;
mod progress;
mod report;
mod train;
mod tune;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Linear softmax classifiers and the multiclass SVM: loss, gradient, gradient check.
#[derive(Parser)]
#[command(name = "softmax", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `command` and all its subcommands taking `-1` as an option's value (`--lr -1`, then refused
/// by the option's own check), not as an unknown option.
fn with_negative_numbers(command: clap::Command) -> clap::Command {
    command.allow_negative_numbers(true).mut_subcommands(with_negative_numbers)
}

#[derive(Subcommand)]
enum Command {
    /// Loss and gradient of weights W on inputs X and labels y (.npy files), as JSON.
    Loss(loss::Args),
    /// Check the analytic gradient against centered differences at random coordinates.
    Gradcheck(gradcheck::Args),
    /// A worked example that prints every number of the loss and gradient computation.
    Explain(explain::Args),
    /// Train a classifier on a data set (default: the embedded digits) and print its accuracies.
    Train(train::Args),
    /// Grid-search learning rate × regularization, as CS231n; keep the best model.
    Tune(tune::Args),
    /// Evaluate a model on a data set: accuracy, loss, per-class precision/recall, confusion.
    Eval(eval::Args),
    /// Predict the classes (and probabilities) of new samples.
    Predict(predict::Args),
    /// Time loss+gradient passes of each kernel on seeded synthetic data.
    Bench(bench::Args),
    /// Draw a picture as PNG or SVG: class templates, training curves, tuning map, confusion.
    Plot(plot::Args),
    /// Write the pictures of a model and report.html, one page about it, into a folder.
    Report(report::Args),
    /// Start a local web server: a 2-D classifier trained step by step, a digit to draw, the
    /// gradient worked step by step; every number computed by the library.
    Demo(demo::Args),
}

fn main() -> ExitCode {
    let matches = with_negative_numbers(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    let result = match cli.command {
        Command::Loss(args) => loss::run(args),
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Train(args) => train::run(args),
        Command::Tune(args) => tune::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Report(args) => report::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
