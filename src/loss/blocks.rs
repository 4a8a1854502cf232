//! The row-block partition every parallel kernel shares, and its fixed-order reduction.
//!
//! The N rows are split into at most [`MAX_BLOCKS`] contiguous blocks whose boundaries depend
//! only on N ([`block_rows`]). Each block sums its rows' losses and gradients into its own
//! partial (a C×D gradient for the fused and gemm kernels, the sparse kernel's padded D×width
//! Gᵀ), the blocks run in parallel on the current rayon pool (a small pass runs them one after
//! another on the calling thread), and the partials are then added in block order
//! ([`sum_blocks`]). So a result is the same from run to run *and* for any
//! number of threads.

use std::any::Any;
use std::ops::Range;
use std::sync::Mutex;

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

/// Below this many multiply-adds (N·D·C for a dense pass, nonzeros·C for a sparse one) a pass
/// runs its blocks one after another on the calling thread: handing a block to another thread
/// (waking it, and the rows it reads then missing that core's cache) costs more than the block.
/// A CS231n minibatch (200 × 3,073, C = 10: 6.1 million) runs on the caller, the dev set (500
/// rows: 15.4 million) in parallel; on a 2-core AMD EPYC the minibatch's second thread saved
/// nothing while the dev set's saved up to a third.
const SEQUENTIAL_WORK: usize = 8_000_000;

/// Σ over the blocks of `n_samples` rows of `block(rows)` = (summed loss, partial), where the
/// whole pass does about `work` multiply-adds: the blocks in parallel (on the calling thread
/// alone below [`SEQUENTIAL_WORK`], or when there is one block), then their sums in block order
/// (`add(total, partial)` adds a partial). The first block's error (in block order) if any fails.
///
/// The first partial becomes the total instead of being added to a zero one: x + 0 = x bit for
/// bit except for x = −0, and a partial summed from +0 never holds −0 (in round-to-nearest an
/// exact zero sum is +0, and −0 + +0 = +0), so the result is the same and a C×D zeroing and
/// addition are saved.
pub(super) fn sum_blocks<F: Float, P: Send, E: Send>(
    n_samples: usize,
    work: usize,
    block: impl Fn(Range<usize>) -> Result<(F, P), E> + Sync,
    add: impl Fn(&mut P, &P),
) -> Result<(F, P), E> {
    let block_rows = block_rows(n_samples);
    let n_blocks = n_samples.div_ceil(block_rows).max(1);
    let rows = |index: usize| index * block_rows..((index + 1) * block_rows).min(n_samples);
    let partials: Vec<_> = match n_blocks == 1 || work < SEQUENTIAL_WORK {
        true => (0..n_blocks).map(|index| block(rows(index))).collect(),
        false => (0..n_blocks).into_par_iter().map(|index| block(rows(index))).collect(),
    };
    let mut partials = partials.into_iter();
    let (mut loss, mut total) = partials.next().expect("at least one block")?;
    for partial in partials {
        let (partial_loss, partial) = partial?;
        loss += partial_loss;
        add(&mut total, &partial);
    }
    Ok((loss, total))
}

/// A block's partial gradient: C rows of `stride` ≥ D values (the kernel may pad its rows),
/// zeroed, from [`PARTIALS`] and given back to it when dropped.
pub(super) struct Partial<F: Float> {
    values: Vec<F>,
}

/// Partial gradients of earlier passes, kept for the next: allocating and freeing one per block
/// and pass made the allocator hand 120 KiB back to the system after every pass and fault it in
/// again on the next (54 page faults and 20% of a minibatch pass on its calling thread), and a
/// pass's speed then depended on where the heap happened to end. At most [`MAX_BLOCKS`]
/// partials of at most [`KEPT_BYTES`] each are kept.
static PARTIALS: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());
/// The largest partial kept for the next pass (a C×D gradient of 1,000 × 1,024 float32 values).
const KEPT_BYTES: usize = 4 << 20;

impl<F: Float> Partial<F> {
    /// A zeroed partial of `n_classes` rows of `stride` values.
    pub(super) fn zeroed(n_classes: usize, stride: usize) -> Partial<F> {
        let reused = PARTIALS.lock().ok().and_then(|mut kept| {
            let index = kept.iter().position(|values| values.is::<Vec<F>>())?;
            kept.swap_remove(index).downcast::<Vec<F>>().ok()
        });
        let mut values = reused.map(|values| *values).unwrap_or_default();
        values.clear();
        values.resize(n_classes * stride, F::zero());
        Partial { values }
    }
}

impl<F: Float> Partial<F> {
    /// The C rows of `stride` values.
    pub(super) fn values_mut(&mut self) -> &mut [F] {
        &mut self.values
    }

    /// Adds another partial of the same shape, value by value.
    pub(super) fn add(&mut self, other: &Partial<F>) {
        for (total, partial) in self.values.iter_mut().zip(&other.values) {
            *total += *partial;
        }
    }
}

impl<F: Float> Drop for Partial<F> {
    fn drop(&mut self) {
        let values = std::mem::take(&mut self.values);
        if values.capacity() * std::mem::size_of::<F>() <= KEPT_BYTES
            && let Ok(mut kept) = PARTIALS.lock()
            && kept.len() < MAX_BLOCKS
        {
            kept.push(Box::new(values));
        }
    }
}

/// Mean loss and gradient (C×D, for `n_classes` C) over the rows of `matrix` (row-major,
/// `n_features` D wide), or over its rows `picked`, with their `targets`, by [`sum_blocks`]:
/// `block` sums one block's (weighted) loss, which it returns, and gradient, which it adds to
/// a zeroed partial of C rows of `stride` ≥ D values (the first D are the gradient's), from its
/// rows and their targets; or it returns the index (within the block) of a row whose scores are
/// not finite, reported as its sample (its row in `matrix`). The sums are divided by the
/// targets' normalizer.
pub(super) fn dense_mean<F: Float>(
    (matrix, n_features): (&[F], usize),
    picked: Option<&[usize]>,
    targets: Targets<F>,
    (n_classes, stride): (usize, usize),
    block: impl Fn(Rows<F>, Targets<F>, &mut [F]) -> Result<F, usize> + Sync,
) -> KernelResult<F> {
    let n_samples = targets.labels().len();
    let (loss, total) = sum_blocks(
        n_samples,
        n_samples * n_features * n_classes,
        |rows| {
            let inputs = Rows::of((matrix, n_features), picked, rows.clone());
            let mut partial = Partial::zeroed(n_classes, stride);
            let loss =
                block(inputs, targets.slice(rows.clone()), &mut partial.values).map_err(|row| {
                    let position = rows.start + row;
                    NonFiniteScores { sample: picked.map_or(position, |indices| indices[position]) }
                })?;
            Ok((loss, partial))
        },
        Partial::add,
    )?;
    let n = targets.normalizer();
    let mut grad = Vec::with_capacity(n_classes * n_features);
    for row in total.values.chunks_exact(stride) {
        grad.extend(row[..n_features].iter().map(|&g| g / n));
    }
    let grad = Array2::from_shape_vec((n_classes, n_features), grad).expect("C rows of D values");
    Ok(LossAndGrad { loss: loss / n, grad })
}
