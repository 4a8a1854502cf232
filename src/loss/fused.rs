//! The fused kernel: one pass over the rows of X, in parallel blocks of rows.
//!
//! For each row x_i, while it is in cache: the scores f = W x_i (C dot products), the loss
//! L_i and its derivative g = ∂L_i/∂f (`row::row_loss_and_dscores`: softmax p − 1{j = y_i},
//! svm the hinge indicators; both times s_i with sample weights, `targets::Targets::step`), then
//! the rank-one update dW += g x_iᵀ.
//! X is read from memory once, and nothing of size N×C is ever stored. The loops are
//! `dense_loops`; the blocks and their fixed-order reduction,
//! `blocks`, so the result does not depend on the number of threads.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::blocks::dense_mean;
use super::dense_loops::{RowLoop, Rows, grad_row_stride};
use super::isa::{Isa, dispatch};
use super::targets::Targets;
use super::types::{KernelResult, Loss};
use crate::Float;

/// Mean data loss and its gradient (C×D) for `weights` C×D, `inputs` N×D and N targets (labels
/// and optional weights: the weighted mean), with the inner loops compiled for `isa`.
///
/// The caller checks the problem first ([`super::loss_and_grad`] does): W and X agree on
/// D ≥ 1, N ≥ 1, and one label in `0..C` (and one weight, if any) per row. Runs on the current rayon thread pool.
/// Non-contiguous views (another layout's transpose) are copied to row-major order first.
pub(crate) fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    pass(isa, weights, (matrix, inputs.ncols()), None, targets, loss)
}

/// [`loss_and_grad_on`] over the rows `indices` of `inputs` (a minibatch, with its `targets`),
/// read where they lie instead of copied out first. A non-finite score is reported by its row
/// in `inputs`. The caller checks the problem, as for [`loss_and_grad_on`], and the indices.
pub(crate) fn loss_and_grad_picked<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    indices: &[usize],
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    pass(isa, weights, (matrix, inputs.ncols()), Some(indices), targets, loss)
}

/// One pass over the rows of `matrix` (row-major, `n_features` wide), or over its rows `picked`,
/// with the fused inner loops.
fn pass<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: (&[F], usize),
    picked: Option<&[usize]>,
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let weights = weights.as_standard_layout();
    let (n_classes, n_features) = weights.dim();
    let stride = grad_row_stride::<F>(n_features);
    let weights = weights.as_slice().expect("weights are in standard layout");
    dense_mean(inputs, picked, targets, (n_classes, stride), |rows, block_targets, grad| {
        let block = RowLoop {
            weights,
            inputs: rows,
            n_features,
            step: |i, scores: &mut [F]| block_targets.step(loss, scores, i),
            grad: Some(grad),
        };
        dispatch(isa, block).map_err(|bad| bad.sample)
    })
}

/// The scores X Wᵀ (N×C) for `weights` C×D and `inputs` N×D, with the fused kernel's inner
/// loops, in parallel chunks of rows (X is read once, nothing is packed or copied). W and X
/// agree on D ≥ 1 (the caller checks).
pub(crate) fn scores<F: Float>(weights: ArrayView2<F>, inputs: ArrayView2<F>) -> Array2<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    scores_of(weights, (matrix, inputs.ncols()), None, inputs.nrows())
}

/// The scores of the rows `indices` of `inputs` (one row of scores per index), read in place.
/// W and X agree on D ≥ 1 and the indices are rows of X (the caller checks).
pub(crate) fn scores_picked<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    indices: &[usize],
) -> Array2<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    scores_of(weights, (matrix, inputs.ncols()), Some(indices), indices.len())
}

/// The scores of `n_rows` rows of `matrix` (row-major, `n_features` wide): all of them, or
/// those `picked`.
fn scores_of<F: Float>(
    weights: ArrayView2<F>,
    (matrix, n_features): (&[F], usize),
    picked: Option<&[usize]>,
    n_rows: usize,
) -> Array2<F> {
    const CHUNK_ROWS: usize = 512;
    let weights = weights.as_standard_layout();
    let weights = weights.as_slice().expect("weights are in standard layout");
    let n_classes = weights.len() / n_features;
    let mut scores = Array2::zeros((n_rows, n_classes));
    let isa = Isa::detect();
    scores.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS).into_par_iter().enumerate().for_each(
        |(chunk, mut out)| {
            let rows = chunk * CHUNK_ROWS..chunk * CHUNK_ROWS + out.nrows();
            let inputs = Rows::of((matrix, n_features), picked, rows);
            let out = out.as_slice_mut().expect("a new array is in standard layout");
            let copy_out = |i: usize, scores: &mut [F]| {
                out[i * n_classes..(i + 1) * n_classes].copy_from_slice(scores);
                Ok::<F, std::convert::Infallible>(F::zero())
            };
            let block = RowLoop { weights, inputs, n_features, step: copy_out, grad: None };
            let Ok(_) = dispatch(isa, block);
        },
    );
    scores
}

#[cfg(test)]
mod tests {
    use ndarray::Axis;

    use super::{scores, scores_picked};
    use crate::synthetic::random_problem;

    /// The fused kernel's scores (used for predictions while training) equal X Wᵀ, to 1e-12
    /// relative to the largest score; picked rows are exactly the rows of the full scores.
    #[test]
    fn scores_equal_the_matrix_product() {
        for &(n, d, c) in &[(1, 1, 2), (13, 17, 3), (1100, 65, 10), (9, 1030, 65), (1100, 513, 4)] {
            let p = random_problem::<f64>(n, d, c, 0.5, 8);
            let scores = scores(p.weights.view(), p.inputs.view());
            let expected = p.inputs.dot(&p.weights.t());
            let largest = expected.fold(0.0f64, |m, v| m.max(v.abs()));
            let error = (&scores - &expected).fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(error < 1e-12 * largest, "N={n} D={d} C={c}: {error:e} of {largest:e}");
            // Picked rows, repeated and out of order, across more than one chunk of rows.
            let indices: Vec<usize> = (0..1500).map(|i| (i * 7919) % n).collect();
            let picked = scores_picked(p.weights.view(), p.inputs.view(), &indices);
            assert_eq!(picked, scores.select(Axis(0), &indices), "N={n} D={d} C={c}");
        }
    }
}
