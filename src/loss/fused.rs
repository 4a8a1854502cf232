//! The fused kernel: one pass over the rows of X, in parallel blocks of rows.
//!
//! For each row x_i, while it is in cache: the scores f = W x_i (C dot products), the loss
//! L_i and its derivative g = ∂L_i/∂f (softmax: p − 1{j = y_i}; svm: the hinge indicators),
//! then the rank-one update dW += g x_iᵀ. X is read from memory once, and nothing of size N×C
//! is ever stored.
//!
//! Rows are split into at most [`MAX_BLOCKS`] contiguous blocks whose boundaries depend only on
//! N. Each block sums into its own C×D partial gradient (its rows padded, see
//! [`grad_row_stride`]); the partials are then added in block order. So the result is the same from run to run *and* for any number of threads.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::simd::{Block, GROUP, Isa, Pass, Rows, grad_row_stride, run_block};
use super::{KernelResult, Loss, LossAndGrad, NonFiniteScores};
use crate::Float;

/// The most blocks (partial gradients) a pass uses: enough to keep 16 threads busy.
pub const MAX_BLOCKS: usize = 16;
/// The fewest rows worth a block of their own: each block zeroes and adds a C×D partial and
/// starts without its rows in cache (a minibatch of 200 rows took 13% longer in 56-row blocks).
const MIN_BLOCK_ROWS: usize = 100;

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
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    pass(isa, weights, (matrix, inputs.ncols()), None, labels, loss)
}

/// [`loss_and_grad`] over the rows `indices` of `inputs` (a minibatch, with its `labels`), read
/// where they lie instead of copied out first. A non-finite score is reported by its row in
/// `inputs`.
pub fn loss_and_grad_picked<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    indices: &[usize],
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    pass(Isa::detect(), weights, (matrix, inputs.ncols()), Some(indices), labels, loss)
}

/// One pass over the rows of `matrix` (row-major, `n_features` wide), or over its rows `picked`,
/// with the fused inner loops.
fn pass<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: (&[F], usize),
    picked: Option<&[usize]>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    let weights = weights.as_standard_layout();
    in_blocks(inputs, picked, labels, weights.dim(), |rows, block_labels| {
        block_loss_and_grad(isa, weights.view(), rows, block_labels, loss)
    })
}

/// Mean loss and gradient (of shape `grad_shape`) over the rows of `matrix` (row-major,
/// `n_features` wide), or over its rows `picked`, with `labels`: the rows are split into at
/// most [`MAX_BLOCKS`] blocks whose boundaries depend only on their number, `block` returns
/// each one's summed loss and gradient (or the index, within the block, of a row whose scores
/// are not finite), in parallel, and the sums are added in block order.
pub(super) fn in_blocks<F: Float>(
    (matrix, n_features): (&[F], usize),
    picked: Option<&[usize]>,
    labels: &[usize],
    grad_shape: (usize, usize),
    block: impl Fn(Rows<F>, &[usize]) -> Result<LossAndGrad<F>, usize> + Sync,
) -> KernelResult<F> {
    let n_samples = labels.len();
    let block_rows = block_rows(n_samples);

    let partials: Vec<_> = (0..n_samples.div_ceil(block_rows))
        .into_par_iter()
        .map(|index| {
            let rows = index * block_rows..((index + 1) * block_rows).min(n_samples);
            let inputs = rows_in((matrix, n_features), picked, rows.clone());
            block(inputs, &labels[rows.clone()]).map_err(|row| {
                let position = rows.start + row;
                NonFiniteScores { sample: picked.map_or(position, |indices| indices[position]) }
            })
        })
        .collect();

    let mut total = LossAndGrad { loss: F::zero(), grad: Array2::zeros(grad_shape) };
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

/// Rows per block for N = `n_samples` (the last block may have fewer): a power of two of
/// blocks (so that 2, 4, 8 or 16 threads get equal shares), at most [`MAX_BLOCKS`], of at least
/// [`MIN_BLOCK_ROWS`] rows when N allows, of whole row groups (only the last block has rows left
/// over for the one-row path), and a function of N alone, so results do not depend on the
/// thread count.
pub(super) fn block_rows(n_samples: usize) -> usize {
    let most = (n_samples / MIN_BLOCK_ROWS).clamp(1, MAX_BLOCKS);
    let n_blocks = 1 << most.ilog2();
    n_samples.div_ceil(n_blocks).next_multiple_of(GROUP).max(GROUP)
}

/// Rows `range` of `matrix` (row-major, `n_features` wide), or of the rows `picked` from it.
fn rows_in<'a, F>(
    (matrix, n_features): (&'a [F], usize),
    picked: Option<&'a [usize]>,
    range: std::ops::Range<usize>,
) -> Rows<'a, F> {
    match picked {
        None => Rows::Contiguous(&matrix[range.start * n_features..range.end * n_features]),
        Some(indices) => Rows::Picked { matrix, indices: &indices[range] },
    }
}

/// The summed loss and gradient of one block of rows, or the index (within the block) of the
/// first row whose scores are not finite.
fn block_loss_and_grad<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    rows: Rows<F>,
    labels: &[usize],
    loss: Loss,
) -> Result<LossAndGrad<F>, usize> {
    let (n_classes, n_features) = weights.dim();
    let mut grad = Array2::zeros((n_classes, grad_row_stride::<F>(n_features)));
    let block = Block {
        weights: weights.as_slice().expect("weights are in standard layout"),
        inputs: rows,
        n_features,
        pass: Pass::LossAndGrad {
            labels,
            loss,
            grad: grad.as_slice_mut().expect("a new array is in standard layout"),
        },
    };
    let loss = run_block(isa, block)?;
    Ok(LossAndGrad { loss, grad: grad.slice_move(s![.., ..n_features]) })
}

/// The scores X Wᵀ (N×C) for `weights` C×D and `inputs` N×D, with the fused kernel's inner
/// loops, in parallel chunks of rows (X is read once, nothing is packed or copied).
pub fn scores<F: Float>(weights: ArrayView2<F>, inputs: ArrayView2<F>) -> Array2<F> {
    let inputs = inputs.as_standard_layout();
    let matrix = inputs.as_slice().expect("inputs are in standard layout");
    scores_of(weights, (matrix, inputs.ncols()), None, inputs.nrows())
}

/// The scores of the rows `indices` of `inputs` (one row of scores per index), read in place.
pub fn scores_picked<F: Float>(
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
            let inputs = rows_in((matrix, n_features), picked, rows);
            let out = out.as_slice_mut().expect("a new array is in standard layout");
            let block = Block { weights, inputs, n_features, pass: Pass::Scores(out) };
            run_block(isa, block).expect("computing scores cannot fail");
        },
    );
    scores
}

/// For one sample: returns L_i and overwrites its scores f with g = ∂L_i/∂f.
///
/// softmax: L_i = log Σ_j e^{f_j − m} − (f_{y_i} − m) with m = max_j f_j, g_j = p_j − 1{j = y_i}.
/// svm: L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1), g_j = 1{margin_j > 0}, g_{y_i} = −Σ_j g_j.
pub fn row_loss_and_dscores<F: Float>(loss: Loss, scores: &mut [F], label: usize) -> F {
    match loss {
        Loss::Softmax => {
            // In loops that vectorize: lane-wise max and sum, `exp_fast` instead of a libm call
            // per class, and one division.
            let max = lane_fold(scores, F::neg_infinity(), |m, s| if s > m { s } else { m });
            let correct_shifted = scores[label] - max;
            for s in scores.iter_mut() {
                *s = (*s - max).exp_fast();
            }
            let sum = lane_fold(scores, F::zero(), |total, s| total + s);
            let inverse = sum.recip();
            for s in scores.iter_mut() {
                *s *= inverse;
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

/// Folds `values` with `combine` (associative and commutative: max or +) in 8 independent
/// lanes, so that the loop vectorizes, then folds the lanes pairwise and the remainder in order.
#[inline(always)]
fn lane_fold<F: Float>(values: &[F], identity: F, combine: impl Fn(F, F) -> F) -> F {
    let (chunks, rest) = values.as_chunks::<8>();
    let mut lanes = [identity; 8];
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = combine(*lane, value);
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    let folded =
        combine(combine(combine(a, b), combine(c, d)), combine(combine(e, f), combine(g, h)));
    rest.iter().fold(folded, |acc, &value| combine(acc, value))
}
