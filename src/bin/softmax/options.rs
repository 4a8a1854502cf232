//! Options shared by the subcommands that compute a loss.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use clap::Args;
use softmax::class_weight::ClassWeight;
use softmax::fit::{Dtype, FitOptions};
use softmax::model::Model;
use softmax::npy::{self, Matrix};
use softmax::preprocess::{Bias, Preprocess};
use softmax::train::{Duration, Optimizer, Precondition, TrainOptions};
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
    /// Kernel: naive | vectorized | fused | gemm | sparse | auto.
    #[arg(long, default_value = "auto")]
    pub kernel: Kernel,
    /// Layout of W and X: canonical (W: C×D, X: N×D) | seed (W: C×D, X: D×N) | cs231n (W: D×C, X: N×D).
    #[arg(long, default_value = "canonical")]
    pub layout: Layout,
    /// Worker threads for the fused kernel, 1 to 1024 (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Label smoothing ε in [0, 1), softmax only: targets (1−ε)·onehot(y) + ε/C.
    #[arg(long, default_value_t = 0.0, value_name = "ε", allow_hyphen_values = true)]
    pub label_smoothing: f64,
}

impl LossArgs {
    /// The library's options, after setting up the thread pool.
    pub fn loss_options(&self) -> Result<LossOptions> {
        start_threads(self.threads)?;
        softmax::loss::check_reg(self.reg)?;
        Ok(LossOptions {
            loss: self.loss,
            reg: self.reg,
            reg_convention: self.reg_convention,
            kernel: self.kernel,
            layout: self.layout,
            isa: None,
            label_smoothing: self.label_smoothing,
        })
    }
}

/// Starts the global thread pool with `threads` workers, 1 to [`softmax::MAX_THREADS`]
/// (default: one per core).
pub fn start_threads(threads: Option<usize>) -> Result<()> {
    if let Some(threads) = threads {
        anyhow::ensure!(threads >= 1, "--threads must be at least 1");
        anyhow::ensure!(
            threads <= softmax::MAX_THREADS,
            "--threads must be at most {} (results are the same on any number of \
             threads; more than the cores only slows them), got {threads}",
            softmax::MAX_THREADS
        );
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("cannot start the thread pool")?;
    }
    Ok(())
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

/// Where the data comes from and how it is split.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Data: digits (embedded) | mnist:DIR | cifar10:DIR | csv:PATH | libsvm:PATH | npy:X.npy,y.npy | npz:PATH.
    #[arg(long, default_value = "digits")]
    pub data: softmax::data::DataSpec,
    /// Fraction of the training samples held out for validation (stratified, seeded) when the
    /// source has no validation split of its own; 0 trains on every training sample.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// CSV label column: a header name or a 0-based index (default: the last column).
    #[arg(long)]
    pub label_column: Option<String>,
    /// CIFAR-10: how many of the last training records form the validation set.
    #[arg(long, default_value_t = 1000)]
    pub cifar_validation: usize,
    /// CIFAR-10: use only the first N test records (default: all 10,000; CS231n uses 1,000).
    #[arg(long)]
    pub cifar_test: Option<usize>,
    /// CSV: a column of sample weights (header name or 0-based index), which is then not a
    /// feature; training weighs each row by it.
    #[arg(long, value_name = "NAME|INDEX")]
    pub weight_column: Option<String>,
}

impl DataArgs {
    /// Loads the data, with `seed` for the validation split.
    pub fn load(&self, seed: u64) -> Result<softmax::data::Splits> {
        self.load_weighted(seed, None)
    }

    /// Loads the data, with `seed` for the validation split and the sample weights of the file
    /// `sample_weights`, if any (one per training row of the source as read).
    pub fn load_weighted(
        &self,
        seed: u64,
        sample_weights: Option<&Path>,
    ) -> Result<softmax::data::Splits> {
        let options = self.load_options(seed, sample_weights)?;
        softmax::data::load(&self.data, &options).with_context(|| format!("loading {}", self.data))
    }

    /// [`Self::load_weighted`] for a source whose inputs are memory-mapped (`npy:`, see
    /// [`softmax::data::can_map`]).
    pub fn load_mapped(
        &self,
        seed: u64,
        sample_weights: Option<&Path>,
    ) -> Result<softmax::data::MappedSplits> {
        let options = self.load_options(seed, sample_weights)?;
        softmax::data::load_mapped(&self.data, &options)
            .with_context(|| format!("loading {}", self.data))
    }

    /// How to load and split the source.
    fn load_options(
        &self,
        seed: u64,
        sample_weights: Option<&Path>,
    ) -> Result<softmax::data::LoadOptions> {
        anyhow::ensure!(
            (0.0..1.0).contains(&self.val_fraction),
            "--val-fraction must be in [0, 1), got {}",
            self.val_fraction
        );
        Ok(softmax::data::LoadOptions {
            val_fraction: self.val_fraction,
            seed,
            csv_label: self.label_column.clone(),
            cifar_validation: self.cifar_validation,
            cifar_test: self.cifar_test,
            sample_weights: sample_weights.map(Path::to_path_buf),
            csv_weight: self.weight_column.clone(),
        })
    }
}

/// Training options shared by `train` and `tune` (which differ in how they take --lr and --reg).
#[derive(Args, Clone, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Optimizer: sgd | momentum | nesterov | adam | lbfgs (full batch).
    #[arg(long, default_value = "lbfgs")]
    pub optimizer: Optimizer,
    /// Multiply the learning rate by this after every epoch (minibatch optimizers).
    #[arg(long, default_value_t = 1.0)]
    pub lr_decay: f64,
    /// Regularization convention: half (0.5·reg·ΣW², gradient reg·W) | full (reg·ΣW², gradient 2·reg·W).
    #[arg(long, default_value = "half")]
    pub reg_convention: RegConvention,
    /// Loss: softmax | svm.
    #[arg(long, default_value = "softmax")]
    pub loss: Loss,
    /// Kernel: naive | vectorized | fused | gemm | sparse | auto.
    #[arg(long, default_value = "auto")]
    pub kernel: Kernel,
    /// Iterations (minibatch steps, or L-BFGS iterations; default: 20 epochs, or up to 1,000 for L-BFGS).
    #[arg(long, conflicts_with = "epochs")]
    pub iters: Option<usize>,
    /// Epochs: passes over the training set (minibatch optimizers).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Minibatch size (sampled with replacement, as CS231n).
    #[arg(long, default_value_t = 200)]
    pub batch_size: usize,
    /// Stop after this many epochs without a better validation accuracy (minibatch optimizers).
    #[arg(long)]
    pub patience: Option<usize>,
    /// L-BFGS stops when the gradient's 2-norm is below this.
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
    /// L-BFGS also stops when one iteration lowers the objective by less than this, relative
    /// (scipy's ftol; 0 turns it off).
    #[arg(long, default_value_t = softmax::train::DEFAULT_FTOL)]
    pub ftol: f64,
    /// L-BFGS preconditioner: inputs (by the inputs' second moments E[xxᵀ]: CIFAR-10 in 35
    /// passes instead of 636) | none | auto (inputs for inputs that are not centered, with
    /// D ≤ 4,096; else none).
    #[arg(long, default_value = "auto")]
    pub precondition: Precondition,
    /// Preprocessing, fitted on the training split: none | scale | center | standardize | auto
    /// (scale for images, standardize for other data).
    #[arg(long, default_value = "auto")]
    pub preprocess: Preprocess,
    /// Bias: intercept (unregularized) | trick (CS231n: a constant-1 feature, regularized) | none.
    #[arg(long, default_value = "intercept")]
    pub bias: Bias,
    /// Floating-point type of the passes: auto (lbfgs: f64 up to 2^24 training values N·D, f32
    /// above; f32 otherwise) | f32 | f64 (a float64 copy of X).
    #[arg(long, default_value = "auto")]
    pub dtype: Dtype,
    /// Class weights: balanced (N / (C·n_c), n_c the training samples of class c, each counted
    /// by its sample weight) or NAME=W,NAME=W (class names as in the data; classes not named
    /// weigh 1).
    #[arg(long, value_name = "balanced|NAME=W,...")]
    pub class_weight: Option<ClassWeightArg>,
    /// Sample weights: a .npy 1-D array or a text file of one number per line, one weight per
    /// training row of the source as read (before the validation split).
    #[arg(long, value_name = "PATH")]
    pub sample_weight: Option<PathBuf>,
    /// Label smoothing ε in [0, 1), softmax only: targets (1−ε)·onehot(y) + ε/C.
    #[arg(long, default_value_t = 0.0, value_name = "ε", allow_hyphen_values = true)]
    pub label_smoothing: f64,
    /// Initial weights: this times randn (seeded).
    #[arg(long, default_value_t = 1e-3)]
    pub init_scale: f64,
    /// Seed of the initial weights, the minibatches and the validation split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads, 1 to 1024 (default: all cores). The same seed gives the same model on
    /// any number of threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// Loads the data with its sample weights (--sample-weight, --weight-column), the
    /// validation split seeded by --seed.
    pub fn load_data(&self) -> Result<softmax::data::Splits> {
        self.data.load_weighted(self.seed, self.sample_weight.as_deref())
    }

    /// `description` (of the data), followed by the file of --sample-weight if there is one:
    /// what an error about the training data names.
    pub fn weighted(&self, description: &str) -> String {
        match &self.sample_weight {
            Some(path) => format!("{description}, with the sample weights of {}", path.display()),
            None => description.to_string(),
        }
    }

    /// The data set of --data mapped rather than read (an `npy:` source).
    pub fn load_mapped_data(&self) -> Result<softmax::data::MappedSplits> {
        self.data.load_mapped(self.seed, self.sample_weight.as_deref())
    }

    /// The class weights of --class-weight for the data set's classes.
    pub fn class_weight(&self, class_names: &[String]) -> Result<ClassWeight> {
        match &self.class_weight {
            None => Ok(ClassWeight::None),
            Some(ClassWeightArg::Balanced) => Ok(ClassWeight::Balanced),
            Some(ClassWeightArg::Named(pairs)) => {
                let mut weights = vec![1.0; class_names.len()];
                for (name, weight) in pairs {
                    let Some(class) = class_names.iter().position(|known| known == name) else {
                        let mut known: Vec<&str> =
                            class_names.iter().take(20).map(String::as_str).collect();
                        if class_names.len() > known.len() {
                            known.push("…");
                        }
                        anyhow::bail!(
                            "--class-weight: no class named '{name}': the classes are {}",
                            known.join(", ")
                        );
                    };
                    weights[class] = *weight;
                }
                Ok(ClassWeight::PerClass(weights))
            }
        }
    }

    /// The library's options for one learning rate and regularization strength. Named class
    /// weights need the data's classes: they are `None` here until [`Self::class_weight`]
    /// resolves them; the other options can be checked before any work.
    pub fn fit_options(&self, learning_rate: Option<f64>, reg: f64) -> FitOptions {
        let duration = match (self.iters, self.epochs) {
            (Some(iterations), _) => Some(Duration::Iterations(iterations)),
            (None, Some(epochs)) => Some(Duration::Epochs(epochs)),
            (None, None) => None,
        };
        FitOptions {
            loss: self.loss,
            reg,
            reg_convention: self.reg_convention,
            preprocess: self.preprocess,
            bias: self.bias,
            kernel: self.kernel,
            dtype: self.dtype,
            class_weight: match self.class_weight {
                Some(ClassWeightArg::Balanced) => ClassWeight::Balanced,
                _ => ClassWeight::None,
            },
            label_smoothing: self.label_smoothing,
            top_k: None,
            train: TrainOptions {
                optimizer: self.optimizer,
                learning_rate,
                lr_decay: self.lr_decay,
                duration,
                batch_size: self.batch_size,
                patience: self.patience,
                tolerance: self.tolerance,
                ftol: self.ftol,
                precondition: self.precondition,
                init_scale: self.init_scale,
                seed: self.seed,
            },
        }
    }
}

/// --class-weight as written: `balanced`, or class names with their weights.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeightArg {
    Balanced,
    Named(Vec<(String, f64)>),
}

impl FromStr for ClassWeightArg {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text == "balanced" {
            return Ok(ClassWeightArg::Balanced);
        }
        let mut pairs: Vec<(String, f64)> = Vec::new();
        for pair in text.split(',') {
            let Some((name, weight)) = pair.rsplit_once('=') else {
                return Err(format!("'{pair}' is not NAME=W (or give: balanced)"));
            };
            let weight: f64 = match weight.trim().parse() {
                Ok(weight) if f64::is_finite(weight) && weight >= 0.0 => weight,
                _ => return Err(format!("'{pair}': the weight must be a number, finite and >= 0")),
            };
            let name = name.trim();
            if pairs.iter().any(|(known, _)| known == name) {
                return Err(format!("class '{name}' is given twice"));
            }
            pairs.push((name.to_string(), weight));
        }
        Ok(ClassWeightArg::Named(pairs))
    }
}

/// A saved model and the data source to judge it on (`eval`, `report`, `plot confusion`).
#[derive(Args, Clone, Debug)]
pub struct ModelAndData {
    /// The model: a safetensors file written by `softmax train --model`.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Seed of a held-out validation split (default: the seed recorded in the model's training
    /// options, which `softmax train` also split with).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl ModelAndData {
    /// Loads the model, then the data, split with --seed or else the model's training seed.
    pub fn load(&self) -> Result<(Model, softmax::data::Splits)> {
        let (model, seed) = self.load_model()?;
        let splits = self.data.load(seed)?;
        Ok((model, splits))
    }

    /// [`Self::load`] with the data memory-mapped (an `npy:` source, see
    /// [`softmax::data::can_map`]).
    pub fn load_mapped(&self) -> Result<(Model, softmax::data::MappedSplits)> {
        let (model, seed) = self.load_model()?;
        let splits = self.data.load_mapped(seed, None)?;
        Ok((model, splits))
    }

    /// The model, and the seed of the validation split: --seed, else the model's.
    fn load_model(&self) -> Result<(Model, u64)> {
        let model = Model::load(&self.model)?;
        let seed = self.seed.or_else(|| model.training()["seed"].as_u64()).unwrap_or_default();
        Ok((model, seed))
    }
}
