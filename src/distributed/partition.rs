//! The row-block partition of N rows (a function of N alone) and the fixed pairwise tree its
//! block sums are added by: shared by the loss kernels ([`crate::loss`]'s blocks), the
//! preprocessing statistics ([`crate::preprocess::Statistics`]) and the processes of a
//! distributed run, so that all of them add the same numbers in the same order.
//!
//! The tree over P slots (a power of two) adds [0, P/2) and [P/2, P), each half the same way
//! down to single slots; an empty slot adds nothing. A process that holds an aligned run of
//! 2^k slots (process r of K, K a power of two dividing P) sums exactly one subtree, and
//! processes that combine their subtrees pairwise by rank (recursive doubling:
//! [`super::Cluster::combine`]) complete the same tree: one process and K give the same bits.

use std::cell::RefCell;
use std::ops::Range;

/// Rows per group of the dense kernels' loops: blocks are whole groups (the kernels' blocks
/// module checks that this is their group).
pub(crate) const ROW_GROUP: usize = 8;

/// The most block slots a pass uses: enough to keep 16 threads busy, and for a large data set
/// ([`MIN_WIDE_BLOCK_ROWS`]) up to 64, so that as many processes get rows of their own.
pub const MAX_BLOCKS: usize = 64;
/// The most slots a data set of fewer than 16 × [`MIN_WIDE_BLOCK_ROWS`] rows is split into.
pub(crate) const THREAD_BLOCKS: usize = 16;
/// The fewest rows worth a block of their own: each block zeroes and adds a C×D partial and
/// starts without its rows in cache (a minibatch of 200 rows took 13% longer in 56-row blocks).
const MIN_BLOCK_ROWS: usize = 100;
/// The fewest rows of each block beyond [`THREAD_BLOCKS`]: 17+ blocks are only worth it for
/// sets large enough to be spread over many processes (1.28 M rows make 64 blocks, MNIST 16).
const MIN_WIDE_BLOCK_ROWS: usize = 16_384;

/// The row-block partition of `n_rows` rows: `slots` slots (a power of two) of `block_rows`
/// rows each, slot `i` holding rows `i·block_rows .. min((i+1)·block_rows, n_rows)` (empty
/// past the last row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub n_rows: usize,
    pub block_rows: usize,
    pub slots: usize,
}

impl Partition {
    /// The partition of N = `n_rows` rows: a power of two of slots (so that 2, 4, 8 or 16
    /// threads or processes get equal shares), at most [`THREAD_BLOCKS`] of at least
    /// [`MIN_BLOCK_ROWS`] rows when N allows, or up to [`MAX_BLOCKS`] of at least
    /// [`MIN_WIDE_BLOCK_ROWS`]; of whole row groups of the dense loops (only the last block
    /// has rows left over for their one-row path); and a function of N alone, so results do
    /// not depend on the thread or process count.
    pub fn of(n_rows: usize) -> Partition {
        let most = (n_rows / MIN_BLOCK_ROWS)
            .clamp(1, THREAD_BLOCKS)
            .max((n_rows / MIN_WIDE_BLOCK_ROWS).min(MAX_BLOCKS));
        let slots = 1 << most.ilog2();
        let block_rows = n_rows.div_ceil(slots).next_multiple_of(ROW_GROUP).max(ROW_GROUP);
        Partition { n_rows, block_rows, slots }
    }

    /// The rows of slot `slot` (empty past the last row).
    pub fn rows(&self, slot: usize) -> Range<usize> {
        self.boundary(slot)..self.boundary(slot + 1)
    }

    /// The slots of process `rank` of `size`: slots ⌈rank·P/size⌉ .. ⌈(rank+1)·P/size⌉ of
    /// the P slots, so that processes take contiguous runs in rank order. When size is a
    /// power of two dividing P each run is an aligned subtree of the kernels'' tree; with
    /// more processes than slots, every (size/P)-th process (rank 0 first) takes one slot and
    /// the others none.
    pub fn slots_of(&self, rank: usize, size: usize) -> Range<usize> {
        let boundary = |rank: usize| (rank * self.slots).div_ceil(size);
        boundary(rank)..boundary(rank + 1)
    }

    /// The rows of the `slots` (a run of them).
    pub fn rows_of(&self, slots: Range<usize>) -> Range<usize> {
        self.boundary(slots.start)..self.boundary(slots.end)
    }

    /// The first row of `slot`, or N past the last row.
    fn boundary(&self, slot: usize) -> usize {
        (slot * self.block_rows).min(self.n_rows)
    }
}

/// Rows per block for N = `n_samples` (the last block may have fewer): see [`Partition::of`].
pub fn block_rows(n_samples: usize) -> usize {
    Partition::of(n_samples).block_rows
}

/// Which slots of which partition a pass inside [`summed`] sums: the rows the kernel is
/// given are those of `slots` of the partition of `n_rows` rows. `None`: the kernel's rows are
/// the whole pass (a minibatch share), partitioned as usual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub n_rows: usize,
    pub slots: Range<usize>,
}

impl Placement {
    /// All the slots of the partition of `n_rows` rows: a pass over every row.
    pub(crate) fn whole(n_rows: usize) -> Placement {
        Placement { n_rows, slots: 0..Partition::of(n_rows).slots }
    }
}

thread_local! {
    /// Set by [`summed`] on the thread that runs the pass.
    static SUMMING: RefCell<Option<Option<Placement>>> = const { RefCell::new(None) };
}

/// The placement of the pass [`summed`] runs on this thread, if any.
pub(crate) fn placement() -> Option<Placement> {
    SUMMING.with(|summing| summing.borrow().clone().flatten())
}

/// Whether a pass on this thread runs inside [`summed`] (and so returns sums).
pub(crate) fn summing() -> bool {
    SUMMING.with(|summing| summing.borrow().is_some())
}

/// Runs `pass` (one kernel call on this thread) so that the dense kernels return the *sums*
/// Σ_i s_i L_i and Σ_i s_i ∂L_i/∂W over their rows, not means, reduced over the slots of
/// `placement` (when given) by the same tree as a one-process pass over all N rows reduces
/// them: what a process contributes to a pass spread over processes.
pub(crate) fn summed<R>(placement: Option<Placement>, pass: impl FnOnce() -> R) -> R {
    let previous = SUMMING.with(|summing| summing.replace(Some(placement)));
    let result = pass();
    SUMMING.with(|summing| summing.replace(previous));
    result
}

/// The pairwise tree sum over `slots` of `leaf(slot)` (`None`: an empty slot): the left half
/// then the right one added to it, the halves split at the middle, in parallel if `parallel`.
/// The left error comes first.
pub(crate) fn tree_sum<T: Send, E: Send>(
    slots: Range<usize>,
    parallel: bool,
    leaf: &(impl Fn(usize) -> Option<Result<T, E>> + Sync),
    add: &(impl Fn(&mut T, T) + Sync),
) -> Option<Result<T, E>> {
    if slots.len() <= 1 {
        return slots.clone().next().and_then(leaf);
    }
    let middle = slots.start + slots.len() / 2;
    let (left, right) = (slots.start..middle, middle..slots.end);
    let (left, right) = match parallel {
        true => rayon::join(
            || tree_sum(left, parallel, leaf, add),
            || tree_sum(right, parallel, leaf, add),
        ),
        false => (tree_sum(left, parallel, leaf, add), tree_sum(right, parallel, leaf, add)),
    };
    match (left, right) {
        (Some(Ok(mut total)), Some(Ok(partial))) => {
            add(&mut total, partial);
            Some(Ok(total))
        }
        (Some(Err(err)), _) | (Some(Ok(_)) | None, Some(Err(err))) => Some(Err(err)),
        (one, None) | (None, one) => one,
    }
}
