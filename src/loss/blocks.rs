//! The row-block partition every parallel kernel shares, and its fixed-order reduction.
//!
//! The N rows are split into contiguous blocks whose boundaries depend only on N
//! ([`Partition::of`], in [`crate::distributed::partition`]): a power of two of block *slots* (at most [`MAX_BLOCKS`]), each of
//! [`block_rows`] rows, the last slots possibly short or empty. Each block sums its rows' losses
//! and gradients into its own partial (a C×D gradient for the fused and gemm kernels, the sparse
//! kernel's padded D×width Gᵀ), and the partials are added by a fixed pairwise tree over the
//! slots ([`sum_blocks`]): slots [0, P) sum as [0, P/2) + [P/2, P), each half the same way
//! down to single slots, an empty slot adding nothing. The halves run in parallel on the
//! current rayon pool (a small pass runs them one after another on the calling thread). So a
//! result is the same from run to run *and* for any number of threads.
//!
//! The tree is also what makes a pass spread over processes ([`crate::distributed`]) give the
//! same bits: a process holding an aligned run of slots sums its subtree, and the processes
//! combine their subtrees in the same tree order. A pass inside
//! [`crate::distributed::partition::summed`] sums only the slots it is told are this process's,
//! and returns sums instead of means.

use std::any::Any;
use std::ops::Range;
use std::sync::Mutex;

use ndarray::Array2;

use super::dense_loops::{GROUP, Rows};
use super::targets::Targets;
use super::types::{KernelResult, LossAndGrad, NonFiniteScores};
use crate::Float;
use crate::distributed::partition::{
    Partition, ROW_GROUP, THREAD_BLOCKS, placement, summing, tree_sum,
};

// Blocks are whole row groups of the dense loops.
const _: () = assert!(ROW_GROUP == GROUP);

/// Below this many multiply-adds (N·D·C for a dense pass, nonzeros·C for a sparse one) a pass
/// runs its blocks one after another on the calling thread: handing a block to another thread
/// (waking it, and the rows it reads then missing that core's cache) costs more than the block.
/// On a quiet 2-core AMD EPYC (Zen 4) a CS231n minibatch (200 × 3,073, C = 10: 6.1 million, two
/// blocks) took 0.21–0.29 ms on two threads against 0.33–0.35 ms on the caller alone, and
/// passes of about 2 million (400 × 500 or 256 × 785, C = 10) the same time either way. (An
/// earlier bound of 8 million was set on a machine whose second core a build kept busy.)
const SEQUENTIAL_WORK: usize = 2_000_000;

/// Σ over the blocks of `n_samples` rows of `block(rows)` = (summed loss, partial), where the
/// whole pass does about `work` multiply-adds, added by the fixed pairwise tree over the
/// partition's slots (see the module doc; `add(total, partial)` adds a partial), the halves in
/// parallel (on the calling thread alone below [`SEQUENTIAL_WORK`], or when there is one
/// block). The first block's error (in block order) if any fails. Inside
/// [`summed`](crate::distributed::partition::summed) with a placement, the rows are those of its slots and only their subtree is summed.
///
/// The left partial becomes the total instead of being added to a zero one: x + 0 = x bit for
/// bit except for x = −0, and a partial summed from +0 never holds −0 (in round-to-nearest an
/// exact zero sum is +0, and −0 + +0 = +0), so the result is the same and a C×D zeroing and
/// addition are saved. An empty slot adds nothing, and so gives the same bits as none.
pub(super) fn sum_blocks<F: Float, P: Send, E: Send>(
    n_samples: usize,
    work: usize,
    block: impl Fn(Range<usize>) -> Result<(F, P), E> + Sync,
    add: impl Fn(&mut P, &P) + Sync,
) -> Result<(F, P), E> {
    let (partition, slots) = match placement() {
        Some(placement) => (Partition::of(placement.n_rows), placement.slots),
        None => {
            let partition = Partition::of(n_samples);
            (partition, 0..partition.slots)
        }
    };
    let first_row = partition.rows(slots.start).start;
    debug_assert_eq!(partition.rows_of(slots.clone()).len(), n_samples, "the placement's rows");
    let leaf = |slot: usize| {
        let rows = partition.rows(slot);
        (!rows.is_empty()).then(|| block(rows.start - first_row..rows.end - first_row))
    };
    let add = |total: &mut (F, P), partial: (F, P)| {
        total.0 += partial.0;
        add(&mut total.1, &partial.1);
    };
    let parallel = partition.n_rows > partition.block_rows && work >= SEQUENTIAL_WORK;
    tree_sum(slots, parallel, &leaf, &add).expect("at least one block of rows")
}

/// A block's partial gradient: C rows of `stride` ≥ D values (the kernel may pad its rows),
/// zeroed, from [`PARTIALS`] and given back to it when dropped.
pub(super) struct Partial<F: Float> {
    values: Vec<F>,
}

/// Partial gradients of earlier passes, kept for the next: allocating and freeing one per block
/// and pass made the allocator hand 120 KiB back to the system after every pass and fault it in
/// again on the next (54 page faults and 20% of a minibatch pass on its calling thread), and a
/// pass's speed then depended on where the heap happened to end. At most [`THREAD_BLOCKS`]
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
            && kept.len() < THREAD_BLOCKS
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
/// targets' normalizer (inside [`summed`](crate::distributed::partition::summed), not: the
/// pass returns the sums).
pub(super) fn dense_mean<F: Float>(
    (matrix, n_features): (&[F], usize),
    picked: Option<&[usize]>,
    targets: Targets<F>,
    (n_classes, stride): (usize, usize),
    block: impl Fn(Rows<F>, Targets<F>, &mut [F]) -> Result<f64, usize> + Sync,
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
    let n = if summing() { F::one() } else { targets.normalizer() };
    let mut grad = Vec::with_capacity(n_classes * n_features);
    for row in total.values.chunks_exact(stride) {
        grad.extend(row[..n_features].iter().map(|&g| g / n));
    }
    let grad = Array2::from_shape_vec((n_classes, n_features), grad).expect("C rows of D values");
    Ok(LossAndGrad { loss: loss / n.as_f64(), grad })
}
