//! The sparse kernel: the fused kernel's one pass over the rows, for inputs stored as compressed
//! sparse rows ([`SparseRows`]), so that a pass costs 4·nnz·C flops instead of 4·N·D·C.
//!
//! For a row x_i with nonzeros {(k, x_ik)}: the scores f = Σ_k x_ik · Wᵀ[k, :], then L_i and
//! g = ∂L_i/∂f ([`row_loss_and_dscores`](super::row::row_loss_and_dscores)), then
//! Gᵀ[k, :] += x_ik · g for every nonzero. The loops, and the padded Wᵀ and Gᵀ they need, are
//! `sparse_loops`. Rows are split into blocks exactly as in the fused
//! kernel (`blocks`: boundaries depending only on N); each block sums into its
//! own padded D×width partial Gᵀ and the partials are added in block order, so the result is
//! the same for any number of threads.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::blocks::sum_blocks;
use super::isa::{Isa, dispatch};
use super::row::checked_row_step;
use super::sparse_loops::{LineAligned, PaddedTranspose, SparseRowLoop};
pub use super::sparse_rows::SparseRows;
use super::types::{KernelResult, Loss, LossAndGrad};
use crate::Float;

/// Mean data loss and its gradient (C×D) for `weights` C×D, sparse `inputs` N×D and N labels,
/// on the best instruction set of this CPU: the contract of
/// [`fused::loss_and_grad`](super::fused::loss_and_grad) (no regularization).
///
/// As for the other kernels, the caller checks the problem ([`super::loss_and_grad`] does):
/// N ≥ 1 and labels in `0..C`. Runs on the current rayon thread pool; the result does not
/// depend on the number of threads.
///
/// # Panics
/// If `weights` and `inputs` disagree on D.
pub fn loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: &SparseRows<F>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    loss_and_grad_on(Isa::detect(), weights, inputs, labels, loss)
}

/// [`loss_and_grad`] with the inner loops compiled for `isa`.
///
/// # Panics
/// If `weights` and `inputs` disagree on D.
pub fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: &SparseRows<F>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    let weights_t = PaddedTranspose::new(isa, weights, inputs);
    let n_samples = inputs.nrows();
    let (loss_sum, grad_t) = sum_blocks(
        n_samples,
        weights_t.zeros_like(),
        |rows| {
            let mut grad_t = weights_t.zeros_like();
            let block = SparseRowLoop {
                weights_t: &weights_t,
                inputs,
                rows,
                step: |i, scores: &mut [F]| checked_row_step(loss, scores, labels[i], i),
                grad_t: Some(grad_t.as_mut_slice()),
            };
            Ok((dispatch(isa, block)?, grad_t))
        },
        |total: &mut LineAligned<F>, partial| {
            for (total, partial) in total.as_mut_slice().iter_mut().zip(partial.as_slice()) {
                *total += *partial;
            }
        },
    )?;
    let n = F::of(n_samples as f64);
    let (grad_t, width) = (grad_t.as_slice(), weights_t.width());
    let grad = Array2::from_shape_fn(weights.dim(), |(j, k)| grad_t[k * width + j] / n);
    Ok(LossAndGrad { loss: loss_sum / n, grad })
}

/// The scores X Wᵀ (N×C) for `weights` C×D and sparse `inputs` N×D, in parallel chunks of rows,
/// with the inner loops of [`loss_and_grad`].
///
/// # Panics
/// If `weights` and `inputs` disagree on D.
pub fn scores<F: Float>(weights: ArrayView2<F>, inputs: &SparseRows<F>) -> Array2<F> {
    const CHUNK_ROWS: usize = 512;
    let isa = Isa::detect();
    let weights_t = PaddedTranspose::new(isa, weights, inputs);
    let n_classes = weights.nrows();
    let mut scores = Array2::zeros((inputs.nrows(), n_classes));
    scores.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS).into_par_iter().enumerate().for_each(
        |(chunk, mut out)| {
            let rows = chunk * CHUNK_ROWS..chunk * CHUNK_ROWS + out.nrows();
            let first = rows.start;
            let out = out.as_slice_mut().expect("a new array is in standard layout");
            let copy_out = |i: usize, scores: &mut [F]| {
                out[(i - first) * n_classes..(i - first + 1) * n_classes].copy_from_slice(scores);
                Ok::<F, std::convert::Infallible>(F::zero())
            };
            let block =
                SparseRowLoop { weights_t: &weights_t, inputs, rows, step: copy_out, grad_t: None };
            let Ok(_) = dispatch(isa, block);
        },
    );
    scores
}
