//! The row-block partition every parallel kernel shares, and its fixed-order reduction.
//!
//! The N rows are split into at most [`MAX_BLOCKS`] contiguous blocks whose boundaries depend
//! only on N ([`block_rows`]). Each block sums its rows' losses and gradients into its own
//! partial (a C×D gradient for the fused and gemm kernels, the sparse kernel's padded D×width
//! Gᵀ), the blocks run in parallel on the current rayon pool, and the partials are then added
//! in block order ([`sum_blocks`]). So a result is the same from run to run *and* for any
//! number of threads.

use std::ops::Range;

use ndarray::Array2;
use rayon::prelude::*;

use super::dense_loops::{GROUP, Rows};
use super::targets::Targets;
use super::types::{KernelResult, LossAndGrad, NonFiniteScores};
use crate::Float;

/// The most blocks (partial gradients) a pass uses: enough to keep 16 threads busy.
pub const MAX_BLOCKS: usize = 16;
/// The fewest rows worth a block of their own: each block zeroes and adds a C×D partial and
/// starts without its rows in cache (a minibatch of 200 rows took 13% longer in 56-row blocks).
const MIN_BLOCK_ROWS: usize = 100;

/// Rows per block for N = `n_samples` (the last block may have fewer): a power of two of
/// blocks (so that 2, 4, 8 or 16 threads get equal shares), at most [`MAX_BLOCKS`], of at least
/// [`MIN_BLOCK_ROWS`] rows when N allows, of whole row groups of the dense loops (only the last
/// block has rows left over for their one-row path), and a function of N alone, so results do
/// not depend on the thread count.
pub fn block_rows(n_samples: usize) -> usize {
    let most = (n_samples / MIN_BLOCK_ROWS).clamp(1, MAX_BLOCKS);
    let n_blocks = 1 << most.ilog2();
    n_samples.div_ceil(n_blocks).next_multiple_of(GROUP).max(GROUP)
}

/// Σ over the blocks of `n_samples` rows of `block(rows)` = (summed loss, partial): the blocks
/// in parallel, then, from `zero` and a zero loss, their sums in block order (`add(total,
/// partial)` adds a partial). The first block's error (in block order) if any fails.
pub(super) fn sum_blocks<F: Float, P: Send, E: Send>(
    n_samples: usize,
    zero: P,
    block: impl Fn(Range<usize>) -> Result<(F, P), E> + Sync,
    add: impl Fn(&mut P, &P),
) -> Result<(F, P), E> {
    let block_rows = block_rows(n_samples);
    let partials: Vec<_> = (0..n_samples.div_ceil(block_rows))
        .into_par_iter()
        .map(|index| block(index * block_rows..((index + 1) * block_rows).min(n_samples)))
        .collect();
    let (mut loss, mut total) = (F::zero(), zero);
    for partial in partials {
        let (partial_loss, partial) = partial?;
        loss += partial_loss;
        add(&mut total, &partial);
    }
    Ok((loss, total))
}

/// Mean loss and gradient (of shape `grad_shape`) over the rows of `matrix` (row-major,
/// `n_features` wide), or over its rows `picked`, with their `targets`, by [`sum_blocks`]:
/// `block` returns one block's summed (weighted) loss and gradient from its rows and their
/// targets, or the index (within the block) of a row whose scores are not finite, reported as
/// its sample (its row in `matrix`). The sums are divided by the targets' normalizer.
pub(super) fn dense_mean<F: Float>(
    (matrix, n_features): (&[F], usize),
    picked: Option<&[usize]>,
    targets: Targets<F>,
    grad_shape: (usize, usize),
    block: impl Fn(Rows<F>, Targets<F>) -> Result<LossAndGrad<F>, usize> + Sync,
) -> KernelResult<F> {
    let n_samples = targets.labels().len();
    let (loss, grad) = sum_blocks(
        n_samples,
        Array2::zeros(grad_shape),
        |rows| {
            let inputs = Rows::of((matrix, n_features), picked, rows.clone());
            let LossAndGrad { loss, grad } =
                block(inputs, targets.slice(rows.clone())).map_err(|row| {
                    let position = rows.start + row;
                    NonFiniteScores { sample: picked.map_or(position, |indices| indices[position]) }
                })?;
            Ok((loss, grad))
        },
        |total, partial| *total += partial,
    )?;
    let n = targets.normalizer();
    Ok(LossAndGrad { loss: loss / n, grad: grad / n })
}
