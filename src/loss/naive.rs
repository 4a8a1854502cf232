//! The naive kernels: explicit loops over samples and classes that mirror CS231n's
//! `softmax_loss_naive` (the seed) and `svm_loss_naive` line for line.
//!
//! They are the specification every faster kernel is tested against: keep them simple and
//! never optimize them. The seed's X is D×N (samples as columns, `X[:, i]`); ours is N×D, so
//! its `X[:, i]` is our `inputs.row(i)`. The regularization (the seed's last two lines) is added
//! by [`loss_and_grad`](super::loss_and_grad) for every kernel, in either convention.
//!
//! Sample weights (not in the seed) are spelled out too: sample i's loss and gradient are
//! multiplied by its weight s_i (1 without weights), and the sums are divided by the targets'
//! normalizer (N, or Σ s_i) instead of N. So is label smoothing (softmax only): the target
//! distribution q = (1 − ε)·onehot(y_i) + ε/C, the loss −Σ_j q_j log p_j and the gradient
//! (p_j − q_j) x_i.

use ndarray::{Array2, ArrayView2};

use super::row::check_scores;
use super::targets::Targets;
use super::types::{KernelResult, LossAndGrad};
use crate::Float;

/// Mean softmax cross-entropy over the samples and its gradient (C×D), with loops.
///
/// `weights` is C×D, `inputs` N×D, `targets` N labels in `0..C` (and N weights, if any), N ≥ 1
/// (checked by the caller, [`super::loss_and_grad`]).
pub(crate) fn softmax<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
) -> KernelResult<F> {
    let labels = targets.labels();
    // Get shapes
    let num_classes = weights.nrows(); // C
    let num_train = inputs.nrows(); // N
    let smoothing = targets.smoothing(); // ε of smoothed targets, None for one-hot ones
    let c = F::of(num_classes as f64);

    // Initialize the loss and gradient (the seed's dW) to zero.
    let mut loss = F::zero();
    let mut dw = Array2::<F>::zeros(weights.raw_dim()); // C×D, like W

    for i in 0..num_train {
        let x_i = inputs.row(i); // the seed's X[:, i], in R^D
        let s_i = targets.weight(i); // the sample's weight, 1 without weights

        // Compute vector of scores: f_i = W x_i, in R^C.
        let mut f_i = weights.dot(&x_i);
        check_scores(&f_i, i)?;

        // Normalization trick: subtracting log_c = max_j f_i[j] from every score leaves the
        // probabilities e^{f_j} / Σ_k e^{f_k} unchanged (e^{-log_c} cancels) but keeps e^{f_j}
        // at most 1, so it cannot overflow even for scores in the thousands.
        let log_c = f_i.fold(F::neg_infinity(), |max, &f| max.max(f));
        f_i.mapv_inplace(|f| f - log_c);

        // Compute loss (and add s_i times it, divided later):
        // L_i = -f(x_i)_{y_i} + log Σ_j e^{f(x_i)_j}
        let mut sum_i = F::zero();
        for &f_i_j in f_i.iter() {
            sum_i += f_i_j.exp();
        }
        let mut loss_i = -f_i[labels[i]] + sum_i.ln();
        if let Some(epsilon) = smoothing {
            // Smoothed targets q = (1 − ε)·onehot(y_i) + ε/C: L_i = −Σ_j q_j log p_j =
            // (1 − ε)·(−log p_{y_i}) + (ε/C)·Σ_j (−log p_j), with −log p_j = log Σ_k e^{f_k} − f_j.
            let mut minus_log_p_sum = F::zero();
            for &f_i_j in f_i.iter() {
                minus_log_p_sum += sum_i.ln() - f_i_j;
            }
            loss_i = (F::one() - epsilon) * loss_i + epsilon / c * minus_log_p_sum;
        }
        loss += s_i * loss_i;

        // Compute gradient: dW_j = 1/N Σ_i s_i (p(y_i = j | x_i) − q_j) x_i, with the targets
        // q_j = 1{y_i = j} (smoothed: (1 − ε)·1{y_i = j} + ε/C).
        // Here we add the contribution of sample i to the inner sum, for every class j.
        for j in 0..num_classes {
            let p = f_i[j].exp() / sum_i; // the softmax probability of class j
            let indicator = if j == labels[i] { F::one() } else { F::zero() }; // (j == y[i])
            let target = match smoothing {
                None => indicator,
                Some(epsilon) => (F::one() - epsilon) * indicator + epsilon / c,
            };
            // dW[j, :] += s_i * (p - q_j) * X[:, i]
            dw.row_mut(j).scaled_add(s_i * (p - target), &x_i);
        }
    }

    // Compute average: divide by N (Σ_i s_i with weights)
    let n = targets.normalizer();
    Ok(LossAndGrad { loss: (loss / n).as_f64(), grad: dw / n })
}

/// Mean multiclass SVM (hinge, margin 1) loss over the samples and its subgradient (C×D),
/// with loops, as CS231n's `svm_loss_naive`.
///
/// `weights` is C×D, `inputs` N×D, `targets` N labels in `0..C` (and N weights, if any), N ≥ 1
/// (checked by the caller, [`super::loss_and_grad`]).
pub(crate) fn svm<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
) -> KernelResult<F> {
    let labels = targets.labels();
    let num_classes = weights.nrows(); // C
    let num_train = inputs.nrows(); // N
    let delta = F::one(); // the margin the correct class must win by

    let mut loss = F::zero();
    let mut dw = Array2::<F>::zeros(weights.raw_dim()); // C×D, like W

    for i in 0..num_train {
        let x_i = inputs.row(i);
        let s_i = targets.weight(i); // the sample's weight, 1 without weights
        let scores = weights.dot(&x_i); // f = W x_i, in R^C
        check_scores(&scores, i)?;
        let correct_class_score = scores[labels[i]];
        for j in 0..num_classes {
            if j == labels[i] {
                continue; // the correct class is not compared with itself
            }
            // L_i gains max(0, f_j - f_{y_i} + Δ): class j scores within Δ of the correct one.
            let margin = scores[j] - correct_class_score + delta;
            if margin > F::zero() {
                loss += s_i * margin;
                dw.row_mut(j).scaled_add(s_i, &x_i); // ∂margin/∂W_j = x_i (times s_i)
                dw.row_mut(labels[i]).scaled_add(-s_i, &x_i); // ∂margin/∂W_{y_i} = -x_i
            }
        }
    }

    let n = targets.normalizer(); // N, or Σ_i s_i
    Ok(LossAndGrad { loss: (loss / n).as_f64(), grad: dw / n })
}
