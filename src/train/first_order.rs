//! The minibatch optimizers: SGD, momentum, Nesterov and Adam.
//!
//! Each iteration samples `batch_size` rows with replacement (CS231n's `LinearClassifier`),
//! computes the objective's gradient g on them and updates W. After every epoch (N / batch_size
//! iterations) a checkpoint measures the training accuracy (on at most
//! [`CHECKPOINT_TRAIN_ROWS`] rows) and the validation accuracy; the weights with the
//! best validation accuracy are kept, and `patience` checkpoints without improvement stop the run.

use std::ops::ControlFlow;

use ndarray::{Array2, Zip};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::objective::predict_picked;
use super::{
    Checkpoint, Duration, History, Labeled, Objective, Optimizer, Progress, Step, TrainOptions,
    Trained, accuracy,
};
use crate::{Error, Float, Result};

/// Momentum of the momentum and Nesterov updates.
const MOMENTUM: f64 = 0.9;
const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPSILON: f64 = 1e-8;
/// Epochs when no duration is given.
const DEFAULT_EPOCHS: usize = 20;
/// A checkpoint's training accuracy is measured on at most this many training rows, evenly
/// spaced (CS231n's `Solver` samples 1,000): on CIFAR-10 a full pass would cost as much as
/// 70 minibatch steps. The final training accuracy of `fit` uses every row.
const CHECKPOINT_TRAIN_ROWS: usize = 10_000;

pub(super) fn train<F: Float>(
    objective: &Objective<F>,
    mut weights: Array2<F>,
    validation: Option<Labeled<F>>,
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Trained<F>> {
    // N and this process's rows of it: all of them alone; a share of the training split
    // when it is one of several processes (`crate::distributed`), which all draw the same
    // batches and evaluate their rows of them.
    let n_samples = crate::distributed::training_split_rows(objective.inputs.nrows());
    let mine = crate::distributed::own_training_rows(objective.inputs.nrows());
    let local = |row: &usize| mine.contains(row).then(|| row - mine.start);
    // A batch larger than the training set is clipped to it, as scikit-learn does.
    let batch_size = options.batch_size.min(n_samples);
    let iterations_per_epoch = (n_samples / batch_size).max(1);
    let total_iterations = match options.duration.unwrap_or(Duration::Epochs(DEFAULT_EPOCHS)) {
        Duration::Iterations(iterations) => iterations,
        Duration::Epochs(epochs) => epochs.saturating_mul(iterations_per_epoch),
    };
    let checkpoint_rows: Vec<usize> = {
        let count = n_samples.min(CHECKPOINT_TRAIN_ROWS);
        (0..count).map(|i| i * n_samples / count).filter_map(|row| local(&row)).collect()
    };
    let checkpoint_labels: Vec<usize> =
        checkpoint_rows.iter().map(|&row| objective.labels[row]).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(1));
    let mut update = Update::new(options, weights.raw_dim());
    let mut batch_rows = vec![0usize; batch_size];
    let (mut own_rows, mut own_labels) = (Vec::new(), Vec::new());
    let mut history = History::default();
    let mut best: Option<(f64, Array2<F>)> = None;
    let mut since_best = 0;
    let mut stop_reason = format!("{total_iterations} iterations done");
    let mut val_accuracy = None;

    for iteration in 1..=total_iterations {
        for row in &mut batch_rows {
            *row = rng.random_range(0..n_samples);
        }
        own_rows.clear();
        own_rows.extend(batch_rows.iter().filter_map(local));
        own_labels.clear();
        own_labels.extend(own_rows.iter().map(|&row| objective.labels[row]));
        let out = objective.evaluate_picked(weights.view(), &own_rows, &own_labels)?;
        update.apply(&mut weights, &out.grad);
        let epoch = iteration as f64 / iterations_per_epoch as f64;
        history.steps.push(Step { iteration, epoch, loss: out.loss.as_f64() });

        let end_of_epoch = iteration % iterations_per_epoch == 0;
        if end_of_epoch {
            update.decay(options.lr_decay);
        }
        let is_checkpoint = end_of_epoch || iteration == total_iterations;
        if is_checkpoint {
            let checkpoint = Checkpoint {
                iteration,
                epoch,
                train_accuracy: crate::distributed::accuracy(
                    &predict_picked(weights.view(), objective.inputs, &checkpoint_rows)?,
                    &checkpoint_labels,
                ),
                val_accuracy: validation.map(|v| accuracy(weights.view(), v)).transpose()?,
            };
            val_accuracy = checkpoint.val_accuracy;
            history.checkpoints.push(checkpoint);
            if let Some(accuracy) = val_accuracy {
                if best.as_ref().is_none_or(|(best_accuracy, _)| accuracy > *best_accuracy) {
                    best = Some((accuracy, weights.clone()));
                    since_best = 0;
                } else {
                    since_best += 1;
                }
            }
        }
        let report =
            Progress { iteration, total_iterations, loss: out.loss.as_f64(), val_accuracy };
        if progress(&report).is_break() {
            return Err(Error::Interrupted);
        }
        if is_checkpoint && options.patience.is_some_and(|patience| since_best >= patience) {
            stop_reason = format!(
                "early stop at iteration {iteration}: no better validation accuracy in {since_best} checkpoints"
            );
            break;
        }
    }
    let iterations = history.steps.len();
    let passes = (iterations * batch_size) as f64 / n_samples as f64;
    if let Some((best_accuracy, best_weights)) = best {
        stop_reason.push_str(&format!("; kept the best validation accuracy, {best_accuracy:.4}"));
        weights = best_weights;
    }
    Ok(Trained { weights, iterations, passes, history, stop_reason, objective: None })
}

/// The optimizer's state and its update rule.
struct Update<F> {
    optimizer: Optimizer,
    learning_rate: F,
    /// Momentum's velocity, or Adam's first moment.
    velocity: Array2<F>,
    /// Adam's second moment.
    second_moment: Array2<F>,
    steps: i32,
}

impl<F: Float> Update<F> {
    fn new(options: &TrainOptions, shape: ndarray::Ix2) -> Self {
        let with_state =
            |used: bool| if used { Array2::zeros(shape) } else { Array2::zeros((0, 0)) };
        let optimizer = options.optimizer;
        Update {
            optimizer,
            learning_rate: F::of(options.learning_rate()),
            velocity: with_state(optimizer != Optimizer::Sgd),
            second_moment: with_state(optimizer == Optimizer::Adam),
            steps: 0,
        }
    }

    fn decay(&mut self, factor: f64) {
        self.learning_rate *= F::of(factor);
    }

    /// One step on W with gradient g.
    fn apply(&mut self, weights: &mut Array2<F>, grad: &Array2<F>) {
        let lr = self.learning_rate;
        let mu = F::of(MOMENTUM);
        match self.optimizer {
            // w −= lr·g
            Optimizer::Sgd | Optimizer::Lbfgs => weights.scaled_add(-lr, grad),
            // v = μ·v − lr·g; w += v
            Optimizer::Momentum => {
                Zip::from(weights).and(&mut self.velocity).and(grad).for_each(|w, v, &g| {
                    *v = mu * *v - lr * g;
                    *w += *v;
                })
            }
            // v_prev = v; v = μ·v − lr·g; w += −μ·v_prev + (1 + μ)·v
            Optimizer::Nesterov => {
                Zip::from(weights).and(&mut self.velocity).and(grad).for_each(|w, v, &g| {
                    let previous = *v;
                    *v = mu * *v - lr * g;
                    *w += -mu * previous + (F::one() + mu) * *v;
                })
            }
            // m = β₁m + (1−β₁)g; s = β₂s + (1−β₂)g²; w −= lr·m̂ / (√ŝ + ε) with bias-corrected m̂, ŝ
            Optimizer::Adam => {
                self.steps += 1;
                let (beta1, beta2) = (F::of(ADAM_BETA1), F::of(ADAM_BETA2));
                let m_correction = F::one() - beta1.powi(self.steps);
                let s_correction = F::one() - beta2.powi(self.steps);
                let epsilon = F::of(ADAM_EPSILON);
                Zip::from(weights)
                    .and(&mut self.velocity)
                    .and(&mut self.second_moment)
                    .and(grad)
                    .for_each(|w, m, s, &g| {
                        *m = beta1 * *m + (F::one() - beta1) * g;
                        *s = beta2 * *s + (F::one() - beta2) * g * g;
                        *w -= lr * (*m / m_correction) / ((*s / s_correction).sqrt() + epsilon);
                    });
            }
        }
    }
}
