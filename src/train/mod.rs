//! Training: minibatch SGD (plain, momentum, Nesterov), Adam, and full-batch L-BFGS.
//!
//! [`train`] minimizes the [`Objective`] over weights W (C×(D+1), the last column the bias) on
//! preprocessed, bias-augmented inputs; [`fit`](crate::fit::fit) wraps it with loading,
//! preprocessing and the model. Runs are deterministic: the same seed and data give the same
//! weights bit for bit, on any number of threads (the fused kernel's reduction order is fixed).

mod first_order;
mod history;
mod inputs;
mod lbfgs;
pub mod objective;
mod precondition;

pub use history::{Checkpoint, History, Step};
pub use inputs::Inputs;
pub use objective::Objective;

use std::ops::ControlFlow;

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::names::named_enum;
use crate::preprocess::Bias;
use crate::{Error, Float, Result};

named_enum! {
    "optimizer",
    /// How the weights are updated.
    pub enum Optimizer {
        /// Minibatch SGD as CS231n's: a batch sampled with replacement each iteration, w −= lr·g.
        Sgd = "sgd",
        /// SGD with momentum 0.9: v = 0.9·v − lr·g, w += v.
        Momentum = "momentum",
        /// Nesterov momentum 0.9 (CS231n's form): w += −0.9·v_prev + 1.9·v.
        Nesterov = "nesterov",
        /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) with bias correction.
        Adam = "adam",
        /// Full-batch L-BFGS (argmin, More–Thuente line search, up to 200 correction pairs).
        #[default]
        Lbfgs = "lbfgs",
    }
}

impl Optimizer {
    /// Whether it works on minibatches (everything but L-BFGS).
    pub fn is_minibatch(self) -> bool {
        self != Optimizer::Lbfgs
    }

    /// The learning rate used when none is given, for standardized features.
    pub fn default_learning_rate(self) -> f64 {
        match self {
            Optimizer::Sgd => 0.1,
            Optimizer::Momentum | Optimizer::Nesterov => 0.01,
            Optimizer::Adam => 1e-3,
            Optimizer::Lbfgs => 1.0, // unused: the line search picks the step
        }
    }
}

named_enum! {
    "preconditioner",
    /// How L-BFGS is preconditioned (the minibatch optimizers are not).
    pub enum Precondition {
        /// `inputs` for inputs far from centered (their means at least a tenth of their
        /// second moment: pixels scaled to [0, 1], raw embeddings) of at most
        /// [`AUTO_PRECONDITION_COLUMNS`] columns (D + 1); `none` otherwise.
        #[default]
        Auto = "auto",
        /// Plain L-BFGS.
        None = "none",
        /// By the inputs' second moments E[x xᵀ] (`train::precondition`): W = V L⁻¹ with
        /// L Lᵀ = E[x xᵀ] + μI, L-BFGS running on V. Two (D+1)×(D+1) float64 matrices.
        Inputs = "inputs",
    }
}

/// The most columns (features and bias) that `auto` preconditions: L⁻¹ then takes 134 MB
/// (float64), and its product with the weights C·(D+1)² multiply-adds per pass.
pub const AUTO_PRECONDITION_COLUMNS: usize = 4097;

impl Precondition {
    /// Whether L-BFGS on `n_columns` columns (D + 1) may be preconditioned by the inputs (for
    /// `auto`, if they are not centered).
    fn by_inputs(self, n_columns: usize) -> bool {
        match self {
            Precondition::None => false,
            Precondition::Auto => n_columns <= AUTO_PRECONDITION_COLUMNS,
            Precondition::Inputs => true,
        }
    }
}

/// scipy's default `ftol` for L-BFGS-B (factr = 1e7 times the float64 epsilon).
pub const DEFAULT_FTOL: f64 = 1e7 * f64::EPSILON;

/// How long to train: minibatch iterations, epochs (passes over the training set), or for
/// L-BFGS its iterations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Duration {
    Iterations(usize),
    Epochs(usize),
}

/// Options of [`train`], with the defaults of the command line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainOptions {
    pub optimizer: Optimizer,
    /// Step size of the minibatch optimizers (`None`: [`Optimizer::default_learning_rate`]).
    pub learning_rate: Option<f64>,
    /// The learning rate is multiplied by this after every epoch.
    pub lr_decay: f64,
    /// `None`: 20 epochs for minibatch optimizers, at most 1,000 iterations for L-BFGS.
    pub duration: Option<Duration>,
    /// Samples per minibatch, drawn with replacement; clipped to the training set's size.
    pub batch_size: usize,
    /// Stop after this many checkpoints (epochs) without a better validation accuracy.
    pub patience: Option<usize>,
    /// L-BFGS stops when the gradient's 2-norm falls below this.
    pub tolerance: f64,
    /// L-BFGS also stops when an iteration lowers the objective f by at most
    /// `ftol`·max(|f_prev|, |f|) (scipy's L-BFGS-B rule and default, 2.2e-9; 0 turns it off).
    pub ftol: f64,
    /// How L-BFGS is preconditioned.
    pub precondition: Precondition,
    /// W starts as `init_scale`·randn (seeded); 0 starts from zeros.
    pub init_scale: f64,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            optimizer: Optimizer::Lbfgs,
            learning_rate: None,
            lr_decay: 1.0,
            duration: None,
            batch_size: 200,
            patience: None,
            tolerance: 1e-6,
            ftol: DEFAULT_FTOL,
            precondition: Precondition::Auto,
            init_scale: 1e-3,
            seed: 0,
        }
    }
}

impl TrainOptions {
    /// Refuses options out of range before any work (non-finite or non-positive rates, a zero
    /// batch size or duration, a decay outside (0, 1], ...); what passes is the only way to
    /// [`CheckedTrainOptions`], which [`train`] takes.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the first option out of range.
    pub fn check(self) -> Result<CheckedTrainOptions> {
        let invalid = |message: String| Err(Error::InvalidOption(message));
        let rate = self.learning_rate();
        if !(rate.is_finite() && rate > 0.0) {
            return invalid(format!("the learning rate must be finite and > 0, got {rate}"));
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return invalid(format!("lr decay must be in (0, 1], got {}", self.lr_decay));
        }
        if self.batch_size == 0 {
            return invalid("the batch size must be at least 1".into());
        }
        if matches!(self.duration, Some(Duration::Iterations(0) | Duration::Epochs(0))) {
            return invalid("train for at least one iteration or epoch".into());
        }
        if self.patience == Some(0) {
            return invalid("patience must be at least 1 checkpoint".into());
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return invalid(format!("tolerance must be finite and >= 0, got {}", self.tolerance));
        }
        if !(self.ftol.is_finite() && self.ftol >= 0.0) {
            return invalid(format!("ftol must be finite and >= 0, got {}", self.ftol));
        }
        if !(self.init_scale.is_finite() && self.init_scale >= 0.0) {
            return invalid(format!("init scale must be finite and >= 0, got {}", self.init_scale));
        }
        Ok(CheckedTrainOptions(self))
    }

    /// The learning rate in effect.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or_else(|| self.optimizer.default_learning_rate())
    }
}

/// [`TrainOptions`] that [`TrainOptions::check`] accepted: every value in range. Read its
/// options through `Deref`; it cannot be changed, only taken apart with
/// [`into_inner`](Self::into_inner) and checked again. Serializes as the options it holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CheckedTrainOptions(TrainOptions);

impl CheckedTrainOptions {
    /// The options, to change and check again.
    pub fn into_inner(self) -> TrainOptions {
        self.0
    }
}

impl std::ops::Deref for CheckedTrainOptions {
    type Target = TrainOptions;

    fn deref(&self) -> &TrainOptions {
        &self.0
    }
}

/// Where training is, for a progress display.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub iteration: usize,
    /// The planned number of iterations (an upper bound for L-BFGS and early stopping).
    pub total_iterations: usize,
    /// The latest minibatch loss (or full objective, for L-BFGS).
    pub loss: f64,
    /// The latest validation accuracy, once a checkpoint has measured it.
    pub val_accuracy: Option<f64>,
}

/// Samples for a checkpoint's accuracy: augmented inputs and labels.
#[derive(Clone, Copy, Debug)]
pub struct Labeled<'a, F> {
    pub inputs: Inputs<'a, F>,
    pub labels: &'a [usize],
}

/// The result of [`train`].
#[derive(Clone, Debug)]
pub struct Trained<F> {
    /// C×(D+1): the last column is the bias.
    pub weights: Array2<F>,
    pub iterations: usize,
    /// Loss+gradient passes over the full training set (minibatch passes count as fractions).
    pub passes: f64,
    pub history: History,
    /// Why training stopped, in words.
    pub stop_reason: String,
    /// The objective at `weights`, when training computed it there (L-BFGS does).
    pub objective: Option<f64>,
}

/// Minimizes `objective` over W (`n_classes`×(D+1)), checking accuracy on `validation` (and on
/// the training set) at every checkpoint; `progress` is called after every iteration (for
/// L-BFGS, after every evaluation of the objective), and training stops at once when it returns
/// [`ControlFlow::Break`].
///
/// # Errors
/// A negative or non-finite `objective.reg` or a label smoothing out of range (the objective is
/// built by the caller, unchecked),
/// an empty training set, what the loss kernels and the optimizer report, and
/// [`Error::Interrupted`] when `progress` breaks.
pub fn train<F: Float>(
    objective: &Objective<F>,
    n_classes: usize,
    validation: Option<Labeled<F>>,
    options: &CheckedTrainOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Trained<F>> {
    train_from(objective, n_classes, None, validation, options, progress)
}

/// [`train`] starting from the weights `initial` (`n_classes`×(D+1)) when given, instead of
/// `init_scale`·randn: a warm start, as from the solution of a neighbouring problem (the
/// previous regularization strength of a sweep, [`crate::tune`]). With [`Bias::None`] the bias
/// column starts at 0 whatever `initial` holds there.
///
/// # Errors
/// Those of [`train`], and [`Error::InvalidOption`] for initial weights of another shape or
/// not finite.
pub fn train_from<F: Float>(
    objective: &Objective<F>,
    n_classes: usize,
    initial: Option<ArrayView2<F>>,
    validation: Option<Labeled<F>>,
    options: &CheckedTrainOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Trained<F>> {
    crate::loss::check_reg(objective.reg)?;
    crate::loss::check_label_smoothing(objective.label_smoothing, objective.loss)?;
    if crate::distributed::training_split_rows(objective.inputs.nrows()) == 0 {
        return Err(Error::Empty("the training set has no samples".into()));
    }
    let shape = (n_classes, objective.inputs.ncols());
    let mut initial = match initial {
        None => initial_weights(shape.0, shape.1, options),
        Some(weights) if weights.dim() != shape => {
            return Err(Error::InvalidOption(format!(
                "initial weights of {}×{} for a model of {}×{} (classes × features and bias)",
                weights.nrows(),
                weights.ncols(),
                shape.0,
                shape.1
            )));
        }
        Some(weights) if !weights.iter().all(|w| w.is_finite()) => {
            return Err(Error::InvalidOption("initial weights must be finite".into()));
        }
        Some(weights) => weights.to_owned(),
    };
    if objective.bias == Bias::None {
        // No bias: its column starts at 0 and, its gradient being 0, stays there.
        initial.column_mut(objective.inputs.ncols() - 1).fill(F::zero());
    }
    match options.optimizer {
        Optimizer::Lbfgs => lbfgs::train(objective, initial, validation, options, progress),
        _ => first_order::train(objective, initial, validation, options, progress),
    }
}

/// W₀ = `init_scale`·randn, seeded (CS231n starts from 0.001·randn).
fn initial_weights<F: Float>(
    n_classes: usize,
    n_columns: usize,
    options: &TrainOptions,
) -> Array2<F> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    Array2::from_shape_simple_fn((n_classes, n_columns), || {
        let z: f64 = StandardNormal.sample(&mut rng);
        F::of(options.init_scale * z)
    })
}

/// The fraction of `data` that W (C×(D+1)) classifies right, on augmented inputs.
///
/// # Errors
/// A mapped file cut short since it was mapped.
pub fn accuracy<F: Float>(weights: ArrayView2<F>, data: Labeled<F>) -> Result<f64> {
    // On a share of the data (`crate::distributed`), every process's counts.
    Ok(crate::distributed::accuracy(&objective::predict(weights, data.inputs)?, data.labels))
}

/// The fraction of `data` whose true class is among the `k` (≥ 1) highest scores of W
/// (C×(D+1)) ([`crate::metrics::top_k_accuracy`]), on augmented inputs: scored a chunk of rows at
/// a time, so that the N×C scores are never held at once.
///
/// # Errors
/// A mapped file cut short since it was mapped.
pub fn top_k_accuracy<F: Float>(weights: ArrayView2<F>, data: Labeled<F>, k: usize) -> Result<f64> {
    let mut hits = 0;
    objective::for_score_chunks(weights, data.inputs, |rows, scores| {
        hits += crate::metrics::top_k_hits(scores.view(), &data.labels[rows], k);
    })?;
    Ok(hits as f64 / data.labels.len() as f64)
}
