//! The sparse kernel: the fused kernel's one pass over the rows, for inputs stored as compressed
//! sparse rows ([`SparseRows`]), so that a pass costs 4·nnz·C flops instead of 4·N·D·C.
//!
//! For a row x_i with nonzeros {(k, x_ik)}: the scores f = Σ_k x_ik · Wᵀ[k, :], then L_i and
//! g = ∂L_i/∂f (`row::row_loss_and_dscores`), then
//! Gᵀ[k, :] += x_ik · g for every nonzero. The loops, and the padded Wᵀ and Gᵀ they need, are
//! `sparse_loops`. Rows are split into blocks exactly as in the fused
//! kernel (`blocks`: boundaries depending only on N); each block sums into its
//! own padded D×width partial Gᵀ and the partials are added by the blocks' fixed tree, so the
//! result is the same for any number of threads, and of processes
//! ([`crate::distributed`]: a process sums its blocks and returns sums, not means).

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::blocks::sum_blocks;
use super::isa::{Isa, dispatch};
use super::sparse_loops::{LineAligned, PaddedTranspose, SparseRowLoop};
pub use super::sparse_rows::SparseRows;
use super::targets::Targets;
use super::types::{KernelResult, Loss, LossAndGrad};
use crate::Float;
use crate::distributed::partition::summing;

/// Mean data loss and its gradient (C×D) for `weights` C×D, sparse `inputs` N×D and N targets
/// (labels and optional weights: the weighted mean), with the inner loops compiled for `isa`:
/// the fused kernel's contract (no regularization).
///
/// As for the other kernels, the caller checks the problem first ([`super::loss_and_grad`] and
/// [`super::loss_and_grad_sparse`] do): W and X agree on D ≥ 1, N ≥ 1, and one label in `0..C`
/// (and one weight, if any) per row. Runs on the current rayon thread pool; the result does not depend on the number of
/// threads.
pub(crate) fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: &SparseRows<F>,
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let weights_t = PaddedTranspose::new(isa, weights, inputs);
    let n_samples = inputs.nrows();
    let (loss_sum, grad_t) = sum_blocks(
        n_samples,
        inputs.nnz() * weights.nrows(),
        |rows| {
            let mut grad_t = weights_t.zeros_like();
            let block = SparseRowLoop {
                weights_t: &weights_t,
                inputs,
                rows,
                step: |i, scores: &mut [F]| targets.step(loss, scores, i),
                grad_t: grad_t.as_mut_slice(),
            };
            Ok((dispatch(isa, block)?, grad_t))
        },
        |total: &mut LineAligned<F>, partial| {
            for (total, partial) in total.as_mut_slice().iter_mut().zip(partial.as_slice()) {
                *total += *partial;
            }
        },
    )?;
    // Inside `summed` (a share of a pass spread over processes) the sums, undivided.
    let n = if summing() { F::one() } else { targets.normalizer() };
    let (grad_t, width) = (grad_t.as_slice(), weights_t.width());
    let grad = Array2::from_shape_fn(weights.dim(), |(j, k)| grad_t[k * width + j] / n);
    Ok(LossAndGrad { loss: loss_sum / n.as_f64(), grad })
}

/// The scores X Wᵀ (N×C) of sparse `inputs` (N×D) for `weights` C×D: row i is Σ_k x_ik·W[:, k]
/// over its stored entries, in parallel over rows. W and X agree on D (the caller checks).
pub(crate) fn scores<F: Float>(weights: ArrayView2<F>, inputs: &SparseRows<F>) -> Array2<F> {
    let weights_t = weights.t().as_standard_layout().into_owned(); // D×C: W[:, k] contiguous
    let mut scores = Array2::zeros((inputs.nrows(), weights.nrows()));
    scores.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row_scores)| {
        let (columns, values) = inputs.row(i);
        for (&k, &x) in columns.iter().zip(values) {
            row_scores.scaled_add(x, &weights_t.row(k as usize));
        }
    });
    scores
}

#[cfg(test)]
mod tests {
    use super::{SparseRows, scores};
    use crate::synthetic::random_problem;

    /// The sparse scores equal the dense product X Wᵀ to 1e-12 relative.
    #[test]
    fn scores_equal_the_matrix_product() {
        for &(n, d, c, density) in &[(1, 1, 2, 1.0), (50, 30, 4, 0.2), (700, 65, 12, 0.05)] {
            let p = random_problem::<f64>(n, d, c, density, 5);
            let rows = SparseRows::from_dense(p.inputs.view()).unwrap();
            let expected = p.inputs.dot(&p.weights.t());
            let largest = expected.fold(1e-300f64, |m, v| m.max(v.abs()));
            let error =
                (&scores(p.weights.view(), &rows) - &expected).fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(error <= 1e-12 * largest, "N={n} D={d} C={c}: {error:e}");
        }
    }
}
