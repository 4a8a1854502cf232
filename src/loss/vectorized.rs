//! The vectorized kernels: whole-matrix operations, as CS231n's `softmax_loss_vectorized` and
//! `svm_loss_vectorized`, on `ndarray` (its matrix products run on `matrixmultiply`).
//!
//! With S = X Wᵀ (N×C): softmax → P = softmax(S) row by row, dW = (P − Y)ᵀ X / N with Y the
//! one-hot labels; svm → M = max(0, S − s_y + 1) with M_{i,y_i} = 0, dW = Gᵀ X / N with
//! G_{ij} = 1{M_ij > 0} and G_{i,y_i} = −Σ_j 1{M_ij > 0}. With sample weights s (N), the
//! summed loss is s · (L_1..L_N), row i of ∂L/∂S is multiplied by s_i, and the sums are divided
//! by Σ_i s_i instead of N. With label smoothing ε (softmax only) Y is replaced by the smoothed
//! targets Q = (1 − ε)·Y + ε/C, and L_i = −Σ_j Q_ij log P_ij.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::row::check_scores;
use super::targets::Targets;
use super::types::{KernelResult, Loss, LossAndGrad};
use crate::Float;

/// How many N×C matrices the kernel holds at once, at most: the scores (shifted in place),
/// the probabilities and, with label smoothing, −log P.
pub(crate) const HELD_SCORES: f64 = 3.0;

/// Mean data loss and its gradient (C×D) for `weights` C×D, `inputs` N×D and N targets (labels
/// in `0..C`, one per row, and one weight per row if any, N ≥ 1: checked by the caller,
/// [`super::loss_and_grad`]).
pub(crate) fn loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let scores = inputs.dot(&weights.t()); // S: N×C
    for (i, row) in scores.outer_iter().enumerate() {
        check_scores(row, i)?;
    }
    let (labels, sample_weights) = (targets.labels(), targets.weights().map(ArrayView1::from));
    let (data_loss, dscores) = match loss {
        Loss::Softmax => softmax_dscores(scores, labels, sample_weights, targets.smoothing()),
        Loss::Svm => svm_dscores(scores, labels, sample_weights),
    };
    let n = targets.normalizer(); // N, or Σ_i s_i
    let grad = dscores.t().dot(&inputs) / n; // dW = (∂L/∂S)ᵀ X / N: C×D
    Ok(LossAndGrad { loss: (data_loss / n).as_f64(), grad })
}

/// Multiplies row i of ∂L/∂S by s_i, when there are sample weights.
fn weigh_rows<F: Float>(dscores: &mut Array2<F>, sample_weights: Option<ArrayView1<F>>) {
    if let Some(weights) = sample_weights {
        *dscores *= &weights.insert_axis(Axis(1));
    }
}

/// The summed (weighted) softmax loss and ∂(Σ s_i L_i)/∂S = diag(s) (P − Y) (N×C), or with
/// label smoothing `smoothing` = ε, diag(s) (P − Q) with Q = (1 − ε)·Y + ε/C.
fn softmax_dscores<F: Float>(
    scores: Array2<F>,
    labels: &[usize],
    sample_weights: Option<ArrayView1<F>>,
    smoothing: Option<F>,
) -> (F, Array2<F>) {
    let row_max = scores.map_axis(Axis(1), |row| row.fold(F::neg_infinity(), |m, &s| m.max(s)));
    let shifted = scores - &row_max.insert_axis(Axis(1)); // every row's max is now 0
    let mut probabilities = shifted.mapv(F::exp);
    let row_sums = probabilities.sum_axis(Axis(1));
    let correct = Array1::from_iter(labels.iter().enumerate().map(|(i, &y)| shifted[[i, y]]));
    let log_sums = row_sums.mapv(F::ln);
    let mut losses = &log_sums - &correct; // L_i = −f_{y_i} + log Σ_j e^{f_j}
    let n_classes = F::of(shifted.ncols() as f64);
    if let Some(epsilon) = smoothing {
        // −log P = log Σ_j e^{f_j} − f (N×C); L_i = (1 − ε)·(−log P_{i,y_i}) + (ε/C)·Σ_j −log P_ij.
        let minus_log_p = &log_sums.view().insert_axis(Axis(1)) - &shifted;
        let smoothed = minus_log_p.sum_axis(Axis(1)) * (epsilon / n_classes);
        losses = losses * (F::one() - epsilon) + smoothed;
    }
    let loss = match sample_weights {
        None => losses.sum(),
        Some(weights) => losses.dot(&weights), // Σ_i s_i L_i
    };
    probabilities /= &row_sums.insert_axis(Axis(1)); // P
    let (hit, spread) = match smoothing {
        None => (F::one(), None),
        Some(epsilon) => (F::one() - epsilon, Some(epsilon / n_classes)),
    };
    for (i, &y) in labels.iter().enumerate() {
        probabilities[[i, y]] -= hit; // P − Y, or P − (1 − ε)·Y
    }
    if let Some(spread) = spread {
        probabilities -= spread; // P − Q = P − (1 − ε)·Y − ε/C
    }
    weigh_rows(&mut probabilities, sample_weights);
    (loss, probabilities)
}

/// The summed (weighted) hinge loss and its subgradient with respect to S (N×C).
fn svm_dscores<F: Float>(
    scores: Array2<F>,
    labels: &[usize],
    sample_weights: Option<ArrayView1<F>>,
) -> (F, Array2<F>) {
    let correct = Array1::from_iter(labels.iter().enumerate().map(|(i, &y)| scores[[i, y]]));
    let mut margins =
        (scores - &correct.insert_axis(Axis(1))).mapv(|m| (m + F::one()).max(F::zero()));
    for (i, &y) in labels.iter().enumerate() {
        margins[[i, y]] = F::zero(); // the correct class is not compared with itself
    }
    let loss = match sample_weights {
        None => margins.sum(),
        Some(weights) => margins.sum_axis(Axis(1)).dot(&weights), // Σ_i s_i L_i
    };
    let mut dscores = margins.mapv(|m| if m > F::zero() { F::one() } else { F::zero() });
    let positive_counts = dscores.sum_axis(Axis(1));
    for (i, &y) in labels.iter().enumerate() {
        dscores[[i, y]] = -positive_counts[i];
    }
    weigh_rows(&mut dscores, sample_weights);
    (loss, dscores)
}
