//! The GEMM kernel: the fused kernel's parallel row blocks, each computed with two matrix
//! products (`matrixmultiply`, through `ndarray::linalg::general_mat_mul`) on slabs of
//! `SLAB_ROWS` (256) rows: S = X_slab Wᵀ, then each row's loss and ∂L/∂S (as in the fused kernel),
//! then dW += (∂L/∂S)ᵀ X_slab. The per-row steps run under the instruction-set dispatch
//! ([`RowSteps`]), so their maximum, exponentials and sums use the CPU's vectors (compiled for
//! the baseline, SSE2 on x86-64, they took a fifth of a 1000-class pass).
//!
//! With many classes the fused kernel's row-at-a-time loops stream W and dW (C×D) through the
//! cache once per group of rows; a matrix-multiply library blocks all three dimensions for the
//! cache instead, and wins once C is large (see [`super::Kernel::resolve_for`]). The slab's
//! scores are the only extra memory: SLAB_ROWS×C per block, not N×C.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::blocks::dense_mean;
use super::dense_loops::{Rows, grad_row_stride};
use super::isa::{Arch, Isa, Simd, dispatch};
use super::targets::Targets;
use super::types::{KernelResult, Loss};
use crate::Float;

/// Rows per matrix product: enough to amortize packing, few enough that the slab's scores
/// (SLAB_ROWS×C) stay in cache.
pub(super) const SLAB_ROWS: usize = 256;

/// Mean data loss and its gradient (C×D) for `weights` C×D, `inputs` N×D and N targets (labels
/// and optional weights: the weighted mean).
///
/// The caller checks the problem first ([`super::loss_and_grad`] does): W and X agree on
/// D ≥ 1, N ≥ 1, and one label in `0..C` (and one weight, if any) per row. Runs on the current rayon thread pool, with the fused kernel's blocks and fixed-order
/// reduction (`blocks`): the result does not depend on the number of threads.
/// The row steps run with the loops compiled for `isa`; the matrix products choose their own
/// instruction set (`matrixmultiply` detects it).
pub(crate) fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
    loss: Loss,
) -> KernelResult<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    let n_features = inputs.ncols();
    let n_classes = weights.nrows();
    // The partials' rows padded as the fused kernel's are: with 769 values a row (a probe's
    // 768 features and the bias) the gradient's product ran 10% slower than with 768.
    let stride = grad_row_stride::<F>(n_features);
    let shape = (n_classes, n_features).strides((stride, 1));
    dense_mean(
        (matrix, n_features),
        None,
        targets,
        (n_classes, stride),
        |rows, block_targets, grad| {
            let Rows::Contiguous(rows) = rows else { unreachable!("no rows are picked") };
            let rows = ArrayView2::from_shape((block_targets.labels().len(), n_features), rows)
                .expect("a block is whole rows");
            let grad =
                ArrayViewMut2::from_shape(shape, grad).expect("a partial is C rows of stride");
            block_loss_and_grad(isa, weights, rows, block_targets, loss, grad)
        },
    )
}

/// The summed loss of one block of rows, with their gradient added to `grad` (C×D), or the
/// index (within the block) of the first row whose scores are not finite.
fn block_loss_and_grad<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    rows: ArrayView2<F>,
    targets: Targets<F>,
    loss: Loss,
    mut grad: ArrayViewMut2<F>,
) -> Result<f64, usize> {
    let n_classes = weights.nrows();
    let mut scores = Array2::zeros((SLAB_ROWS.min(rows.nrows()), n_classes));
    let mut loss_sum = 0.0;
    for (slab, first) in
        rows.axis_chunks_iter(ndarray::Axis(0), SLAB_ROWS).zip((0..).step_by(SLAB_ROWS))
    {
        let mut slab_scores = scores.slice_mut(ndarray::s![..slab.nrows(), ..]);
        general_mat_mul(F::one(), &slab, &weights.t(), F::zero(), &mut slab_scores);
        let steps = RowSteps {
            scores: slab_scores.as_slice_mut().expect("the slab's scores are contiguous"),
            n_classes,
            targets: targets.slice(first..first + slab.nrows()),
            loss,
        };
        loss_sum += dispatch(isa, steps).map_err(|i| first + i)?;
        general_mat_mul(F::one(), &slab_scores.t(), &slab, F::one(), &mut grad);
    }
    Ok(loss_sum)
}

/// The row steps of one slab: [`Targets::step`] on each row of `scores` (row-major,
/// `n_classes` wide, one row per target), which adds up the losses and leaves each ∂L_i/∂f_i in
/// place. Running it ([`Simd::run`]) returns the sum of the losses in row order, or the index of
/// the first row whose scores are not finite.
pub(super) struct RowSteps<'a, F> {
    pub(super) scores: &'a mut [F],
    pub(super) n_classes: usize,
    pub(super) targets: Targets<'a, F>,
    pub(super) loss: Loss,
}

impl<F: Float> Simd for RowSteps<'_, F> {
    type Output = Result<f64, usize>;

    #[inline(always)]
    fn run<A: Arch>(self) -> Result<f64, usize> {
        let mut loss_sum = 0.0; // in f64, as the fused kernel sums its losses
        for (i, row_scores) in self.scores.chunks_exact_mut(self.n_classes).enumerate() {
            loss_sum += self.targets.step(self.loss, row_scores, i).map_err(|_| i)?.as_f64();
        }
        Ok(loss_sum)
    }
}
