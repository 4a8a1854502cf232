//! The training progress bar on stderr: iteration, loss, validation accuracy, rate and ETA.
//! Hidden with --quiet or when stderr is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use softmax::train::Progress;

pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(quiet: bool, prefix: &str) -> Bar {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}, {per_sec}]",
        )
        .expect("valid template");
        bar.set_style(style);
        bar.set_prefix(prefix.to_string());
        Bar(bar)
    }

    /// Shows one progress report.
    pub fn update(&self, progress: &Progress) {
        self.0.set_length(progress.total_iterations as u64);
        self.0.set_position(progress.iteration as u64);
        let val = progress.val_accuracy.map(|a| format!(" val {a:.4}")).unwrap_or_default();
        self.0.set_message(format!("loss {:.5}{val}", progress.loss));
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
