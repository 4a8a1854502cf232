//! Options shared by the subcommands that compute a loss.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use softmax::npy::{self, Matrix};
use softmax::{Kernel, Layout, Loss, LossOptions, RegConvention};

/// The loss, its regularization, the kernel, the layout and the thread count.
#[derive(Args, Clone, Debug)]
pub struct LossArgs {
    /// Loss: softmax | svm.
    #[arg(long, default_value = "softmax")]
    pub loss: Loss,
    /// L2 regularization strength (≥ 0).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub reg: f64,
    /// Regularization convention: half (0.5·reg·ΣW², gradient reg·W) | full (reg·ΣW², gradient 2·reg·W).
    #[arg(long, default_value = "half")]
    pub reg_convention: RegConvention,
    /// Kernel: naive | vectorized | fused | auto.
    #[arg(long, default_value = "auto")]
    pub kernel: Kernel,
    /// Layout of W and X: canonical (W: C×D, X: N×D) | seed (W: C×D, X: D×N) | cs231n (W: D×C, X: N×D).
    #[arg(long, default_value = "canonical")]
    pub layout: Layout,
    /// Worker threads for the fused kernel (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl LossArgs {
    /// The library's options, after setting up the thread pool.
    pub fn loss_options(&self) -> Result<LossOptions> {
        if let Some(threads) = self.threads {
            anyhow::ensure!(threads >= 1, "--threads must be at least 1");
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build_global()
                .context("cannot start the thread pool")?;
        }
        softmax::loss::check_reg(self.reg)?;
        Ok(LossOptions {
            loss: self.loss,
            reg: self.reg,
            reg_convention: self.reg_convention,
            kernel: self.kernel,
            layout: self.layout,
        })
    }
}

/// The three input files of a loss computation.
#[derive(Args, Clone, Debug)]
pub struct ProblemFiles {
    /// Weights W as .npy (float32 or float64; C×D in the canonical layout).
    #[arg(long)]
    pub weights: PathBuf,
    /// Inputs X as .npy (same dtype as W; N×D in the canonical layout).
    #[arg(long)]
    pub inputs: PathBuf,
    /// Labels y as .npy (any integer dtype; N entries in 0..C-1).
    #[arg(long)]
    pub labels: PathBuf,
}

/// The problem read from its files.
pub struct LoadedProblem {
    pub weights: Matrix,
    pub inputs: Matrix,
    pub labels: Vec<usize>,
}

impl ProblemFiles {
    pub fn load(&self) -> Result<LoadedProblem> {
        Ok(LoadedProblem {
            weights: npy::read_matrix(&self.weights)?,
            inputs: npy::read_matrix(&self.inputs)?,
            labels: npy::read_labels(&self.labels)?,
        })
    }

    /// What the files hold, for the context of an error: names, shapes and dtypes.
    pub fn describe(&self, problem: &LoadedProblem) -> String {
        let matrix = |path: &Path, m: &Matrix| {
            let (rows, columns) = m.dim();
            format!("{} ({rows}×{columns} {})", path.display(), m.dtype_name())
        };
        format!(
            "weights {}, inputs {}, labels {} ({} labels)",
            matrix(&self.weights, &problem.weights),
            matrix(&self.inputs, &problem.inputs),
            self.labels.display(),
            problem.labels.len()
        )
    }
}
