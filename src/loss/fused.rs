//! The fused kernel: one pass over the rows of X, in parallel blocks of rows.
//!
//! For each row x_i, while it is in cache: the scores f = W x_i (C dot products), the loss
//! L_i and its derivative g = ∂L_i/∂f (softmax: p − 1{j = y_i}; svm: the hinge indicators),
//! then the rank-one update dW += g x_iᵀ. X is read from memory once, and nothing of size N×C
//! is ever stored.
//!
//! Rows are split into at most [`MAX_BLOCKS`] contiguous blocks whose boundaries depend only on
//! N. Each block sums into its own C×D partial gradient; the partials are then added in block
//! order. So the result is the same from run to run *and* for any number of threads.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::simd::{Block, GROUP, Isa, Pass, run_block};
use super::{KernelResult, Loss, LossAndGrad, NonFiniteScores};
use crate::Float;

/// The most blocks (partial gradients) a pass uses: enough to keep 16 threads busy.
pub const MAX_BLOCKS: usize = 16;
/// The fewest rows worth a block of their own.
const MIN_BLOCK_ROWS: usize = 64;

/// Mean data loss and its gradient (C×D) for `weights` C×D, `inputs` N×D and N labels.
///
/// Runs on the current rayon thread pool. Non-contiguous views (another layout's transpose)
/// are copied to row-major order first.
pub fn loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    loss_and_grad_on(Isa::detect(), weights, inputs, labels, loss)
}

/// [`loss_and_grad`] with the inner loops compiled for `isa` (one of [`Isa::available`]).
pub fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    let weights = weights.as_standard_layout();
    let inputs = inputs.as_standard_layout();
    let n_samples = inputs.nrows();
    let n_blocks = n_samples.div_ceil(MIN_BLOCK_ROWS).clamp(1, MAX_BLOCKS);
    // Whole row groups per block: only the last block has rows left over for the one-row path.
    let block_rows = n_samples.div_ceil(n_blocks).next_multiple_of(GROUP);

    let partials: Vec<_> = inputs
        .axis_chunks_iter(Axis(0), block_rows)
        .into_par_iter()
        .zip(labels.par_chunks(block_rows))
        .enumerate()
        .map(|(block, (rows, block_labels))| {
            block_loss_and_grad(isa, weights.view(), rows, block_labels, block * block_rows, loss)
        })
        .collect();

    let mut total = LossAndGrad { loss: F::zero(), grad: Array2::zeros(weights.raw_dim()) };
    for partial in partials {
        let partial = partial?;
        total.loss += partial.loss;
        total.grad += &partial.grad;
    }
    let n = F::of(n_samples as f64);
    total.loss /= n;
    total.grad /= n;
    Ok(total)
}

/// The summed loss and gradient of one block of rows; `first_row` is the index of its first
/// row in X, for error messages.
fn block_loss_and_grad<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    rows: ArrayView2<F>,
    labels: &[usize],
    first_row: usize,
    loss: Loss,
) -> KernelResult<F> {
    let (n_classes, n_features) = weights.dim();
    let mut grad = Array2::zeros((n_classes, n_features));
    let block = Block {
        weights: weights.as_slice().expect("weights are in standard layout"),
        inputs: rows.as_slice().expect("inputs are in standard layout"),
        n_features,
        pass: Pass::LossAndGrad {
            labels,
            loss,
            grad: grad.as_slice_mut().expect("a new array is in standard layout"),
        },
    };
    match run_block(isa, block) {
        Ok(loss) => Ok(LossAndGrad { loss, grad }),
        Err(row) => Err(NonFiniteScores { sample: first_row + row }),
    }
}

/// The scores X Wᵀ (N×C) for `weights` C×D and `inputs` N×D, with the fused kernel's inner
/// loops, in parallel chunks of rows (X is read once, nothing is packed or copied).
pub fn scores<F: Float>(weights: ArrayView2<F>, inputs: ArrayView2<F>) -> Array2<F> {
    const CHUNK_ROWS: usize = 512;
    let weights = weights.as_standard_layout();
    let inputs = inputs.as_standard_layout();
    let (n_classes, n_features) = weights.dim();
    let mut scores = Array2::zeros((inputs.nrows(), n_classes));
    let isa = Isa::detect();
    inputs
        .axis_chunks_iter(Axis(0), CHUNK_ROWS)
        .into_par_iter()
        .zip(scores.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS))
        .for_each(|(rows, mut out)| {
            let block = Block {
                weights: weights.as_slice().expect("weights are in standard layout"),
                inputs: rows.as_slice().expect("inputs are in standard layout"),
                n_features,
                pass: Pass::Scores(out.as_slice_mut().expect("a new array is in standard layout")),
            };
            run_block(isa, block).expect("computing scores cannot fail");
        });
    scores
}

/// For one sample: returns L_i and overwrites its scores f with g = ∂L_i/∂f.
///
/// softmax: L_i = log Σ_j e^{f_j − m} − (f_{y_i} − m) with m = max_j f_j, g_j = p_j − 1{j = y_i}.
/// svm: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1), g_j = 1{margin_j > 0}, g_{y_i} = −Σ_j g_j.
pub fn row_loss_and_dscores<F: Float>(loss: Loss, scores: &mut [F], label: usize) -> F {
    match loss {
        Loss::Softmax => {
            let max = scores.iter().fold(F::neg_infinity(), |m, &s| m.max(s));
            let correct_shifted = scores[label] - max;
            let mut sum = F::zero();
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            for s in scores.iter_mut() {
                *s /= sum;
            }
            scores[label] -= F::one();
            sum.ln() - correct_shifted
        }
        Loss::Svm => {
            let correct = scores[label];
            let mut row_loss = F::zero();
            let mut positive = F::zero();
            for (j, s) in scores.iter_mut().enumerate() {
                let margin = *s - correct + F::one();
                *s = if j != label && margin > F::zero() {
                    row_loss += margin;
                    positive += F::one();
                    F::one()
                } else {
                    F::zero()
                };
            }
            scores[label] = -positive;
            row_loss
        }
    }
}
