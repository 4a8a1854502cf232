//! The sparse kernel: the fused kernel's one pass over the rows, for inputs stored as compressed
//! sparse rows ([`SparseRows`]), so that a pass costs 4·nnz·C flops instead of 4·N·D·C.
//!
//! For a row x_i with nonzeros {(k, x_ik)}:
//! - the scores are f = Σ_k x_ik · Wᵀ[k, :] (row k of Wᵀ, D×C, holds feature k's C class
//!   weights, contiguous);
//! - [`row_loss_and_dscores`] gives L_i and overwrites f with g = ∂L_i/∂f;
//! - the gradient gains Gᵀ[k, :] += x_ik · g for every nonzero (∂L_i/∂W_jk = g_j x_ik).
//!
//! Both updates run over the classes, so Wᵀ and Gᵀ are stored with their C columns padded with
//! zeros to a multiple of the lane count and start on a cache line: every access is whole lane
//! arrays (`[F; L]`) that LLVM turns into vector registers and that never straddle two lines,
//! compiled for AVX-512, AVX2 + FMA or the baseline through the fused kernel's [`Isa`] dispatch.
//! The padded score lanes are Σ x·0 = 0 and their gradient columns are dropped at the end.
//!
//! Within a block, rows go in panels of [`PANEL_ROWS`]: all of a panel's scores, then its losses,
//! then its updates ([`block_impl`]).
//!
//! Rows are split into blocks exactly as in [`fused`](super::fused) (by
//! `fused::block_rows`: boundaries depending only on N); each block sums
//! into its own D×C partial Gᵀ and the partials are added in block order, so the result is the
//! same for any number of threads.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::fused::row_loss_and_dscores;
use super::simd::{Isa, fmadd};
use super::{KernelResult, Loss, LossAndGrad, NonFiniteScores, check_scores};
use crate::{Error, Float, Result};

/// The rows of an N×D matrix in compressed sparse row (CSR) form: each row's nonzero values
/// with their column indices, in increasing column order.
///
/// Built with [`SparseRows::from_dense`]; the fields are private so the indices are always in
/// range. A NaN counts as nonzero (it is kept, so the kernels report it); −0.0 is a zero.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseRows<F> {
    n_columns: usize,
    /// N + 1 offsets: row i's entries are `columns[row_starts[i]..row_starts[i + 1]]` and the
    /// same range of `values`.
    row_starts: Vec<usize>,
    /// The column of each stored value. `u32` rather than `usize` halves the index bytes read
    /// per pass; [`SparseRows::from_dense`] refuses more than `u32::MAX + 1` columns.
    columns: Vec<u32>,
    values: Vec<F>,
}

impl<F: Float> SparseRows<F> {
    /// The nonzeros (`value != 0`) of `dense` (N×D, any memory layout), exactly.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if D exceeds `u32::MAX + 1` (column indices are `u32`).
    pub fn from_dense(dense: ArrayView2<F>) -> Result<Self> {
        let (n_rows, n_columns) = dense.dim();
        if n_columns > u32::MAX as usize + 1 {
            return Err(Error::InvalidOption(format!(
                "sparse inputs have at most {} features, got {n_columns}",
                u32::MAX as u64 + 1
            )));
        }
        let dense = dense.as_standard_layout(); // a copy only for another layout's transpose
        let entries = dense.as_slice().expect("standard layout");
        let row = |i: usize| &entries[i * n_columns..(i + 1) * n_columns];
        // Two passes: count, then copy without a branch per entry (a random pattern of zeros
        // mispredicts). Every entry is written at `next`, which moves on only past a nonzero, so
        // one spare slot takes the zeros after the last nonzero.
        let nonzero = |value: &F| *value != F::zero();
        let nnz = entries.iter().filter(|v| nonzero(v)).count();
        let mut columns = vec![0; nnz + 1];
        let mut values = vec![F::zero(); nnz + 1];
        let mut row_starts = Vec::with_capacity(n_rows + 1);
        row_starts.push(0);
        let mut next = 0;
        for i in 0..n_rows {
            for (column, value) in row(i).iter().enumerate() {
                columns[next] = column as u32; // < n_columns ≤ u32::MAX + 1: checked above
                values[next] = *value;
                next += usize::from(nonzero(value));
            }
            row_starts.push(next);
        }
        columns.truncate(nnz);
        values.truncate(nnz);
        Ok(SparseRows { n_columns, row_starts, columns, values })
    }

    /// The dense N×D matrix (zeros where nothing is stored).
    pub fn to_dense(&self) -> Array2<F> {
        let mut dense = Array2::zeros((self.nrows(), self.ncols()));
        for (i, mut dense_row) in dense.rows_mut().into_iter().enumerate() {
            let (columns, values) = self.row(i);
            for (&k, &x) in columns.iter().zip(values) {
                dense_row[k as usize] = x;
            }
        }
        dense
    }

    /// N, the number of rows.
    pub fn nrows(&self) -> usize {
        self.row_starts.len() - 1
    }

    /// D, the number of columns.
    pub fn ncols(&self) -> usize {
        self.n_columns
    }

    /// The number of stored (nonzero) values.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The fraction of entries that are stored: nnz / (N·D) (0 for an empty matrix).
    pub fn density(&self) -> f64 {
        let entries = self.nrows() * self.ncols();
        if entries == 0 { 0.0 } else { self.nnz() as f64 / entries as f64 }
    }

    /// Row i's column indices and values.
    /// Row `i` as a dense vector (for messages about it).
    pub fn dense_row(&self, i: usize) -> Array1<F> {
        let mut row = Array1::zeros(self.n_columns);
        let (columns, values) = self.row(i);
        for (&column, &value) in columns.iter().zip(values) {
            row[column as usize] = value;
        }
        row
    }

    fn row(&self, i: usize) -> (&[u32], &[F]) {
        let entries = self.row_starts[i]..self.row_starts[i + 1];
        (&self.columns[entries.clone()], &self.values[entries])
    }
}

/// Mean data loss and its gradient (C×D) for `weights` C×D, sparse `inputs` N×D and N labels:
/// the contract of [`fused::loss_and_grad`](super::fused::loss_and_grad) (no regularization).
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

/// [`loss_and_grad`] with the inner loops compiled for `isa` (one of [`Isa::available`]).
pub fn loss_and_grad_on<F: Float>(
    isa: Isa,
    weights: ArrayView2<F>,
    inputs: &SparseRows<F>,
    labels: &[usize],
    loss: Loss,
) -> KernelResult<F> {
    let weights_t = PaddedTranspose::new(isa, weights, inputs);
    let n_samples = inputs.nrows();
    let block_rows = super::fused::block_rows(n_samples);

    let partials: Vec<_> = (0..n_samples.div_ceil(block_rows))
        .into_par_iter()
        .map(|block| {
            let rows = block * block_rows..((block + 1) * block_rows).min(n_samples);
            let mut grad_t = LineAligned::zeros(weights_t.values.len);
            let pass = Pass::LossAndGrad { labels, loss, grad_t: grad_t.as_mut_slice() };
            let loss = run_block(isa, Block { weights_t: &weights_t, inputs, rows, pass })?;
            Ok((loss, grad_t))
        })
        .collect();

    let mut loss_sum = F::zero();
    let mut grad_t = vec![F::zero(); weights_t.values.len];
    for partial in partials {
        let (partial_loss, partial_grad_t) = partial?;
        loss_sum += partial_loss;
        for (total, partial) in grad_t.iter_mut().zip(partial_grad_t.as_slice()) {
            *total += *partial;
        }
    }
    let n = F::of(n_samples as f64);
    let width = weights_t.width;
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
    let mut scores = Array2::zeros((inputs.nrows(), weights.nrows()));
    scores.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS).into_par_iter().enumerate().for_each(
        |(chunk, mut out)| {
            let rows = chunk * CHUNK_ROWS..chunk * CHUNK_ROWS + out.nrows();
            let out = out.as_slice_mut().expect("a new array is in standard layout");
            let block = Block { weights_t: &weights_t, inputs, rows, pass: Pass::Scores(out) };
            run_block(isa, block).expect("computing scores cannot fail");
        },
    );
    scores
}

/// Wᵀ (D×C) with its columns padded with zeros to `width`, a multiple of the lane count.
struct PaddedTranspose<F> {
    /// D×width, row-major: row k holds feature k's class weights, then zeros.
    values: LineAligned<F>,
    n_classes: usize,
    width: usize,
}

impl<F: Float> PaddedTranspose<F> {
    fn new(isa: Isa, weights: ArrayView2<F>, inputs: &SparseRows<F>) -> Self {
        let (n_classes, n_features) = weights.dim();
        assert_eq!(n_features, inputs.ncols(), "weights and inputs disagree on D");
        let width = n_classes.next_multiple_of(lanes(isa));
        let mut values = LineAligned::zeros(n_features * width);
        for (row, column) in values.as_mut_slice().chunks_exact_mut(width).zip(weights.columns()) {
            for (w, &weight) in row.iter_mut().zip(column) {
                *w = weight;
            }
        }
        PaddedTranspose { values, n_classes, width }
    }
}

/// `len` values starting on a 64-byte boundary (a cache line), so that with rows of whole lane
/// arrays no lane array of Wᵀ or Gᵀ straddles two lines.
struct LineAligned<F> {
    buffer: Vec<F>,
    start: usize,
    len: usize,
}

impl<F: Float> LineAligned<F> {
    fn zeros(len: usize) -> Self {
        let spare = 64 / std::mem::size_of::<F>();
        let buffer = vec![F::zero(); len + spare];
        // `align_offset` may decline (usize::MAX): the values are then unaligned, still correct.
        let start = Some(buffer.as_ptr().align_offset(64)).filter(|&o| o <= spare).unwrap_or(0);
        LineAligned { buffer, start, len }
    }

    fn as_slice(&self) -> &[F] {
        &self.buffer[self.start..self.start + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [F] {
        &mut self.buffer[self.start..self.start + self.len]
    }
}

/// The lanes per accumulator on `isa`: 16 with AVX2 or AVX-512, so that C ≤ 16 classes take one
/// pass over a row's nonzeros (measured on MNIST: 8 lanes on AVX2 cost 1.4× the time); 8 on the
/// baseline, whose 16 SSE registers cannot hold four 16-lane accumulators (16 lanes spill
/// there: 1.3–1.8× slower).
fn lanes(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 | Isa::Avx2 => 16,
        Isa::Baseline => 8,
    }
}

/// A range of rows of X and what to compute on them.
struct Block<'a, F> {
    weights_t: &'a PaddedTranspose<F>,
    inputs: &'a SparseRows<F>,
    rows: Range<usize>,
    pass: Pass<'a, F>,
}

/// What a block computes.
enum Pass<'a, F> {
    /// Each row's loss and gradient: add Σ_i x_i g_iᵀ to `grad_t` (D×width, like the padded
    /// Wᵀ) and return the summed loss. `labels` are all N labels.
    LossAndGrad { labels: &'a [usize], loss: Loss, grad_t: &'a mut [F] },
    /// Only the scores, written to the block's rows × C.
    Scores(&'a mut [F]),
}

/// Runs the block on `isa`. For [`Pass::LossAndGrad`], returns the summed loss or the first
/// sample whose scores are not finite; [`Pass::Scores`] returns 0.
fn run_block<F: Float>(isa: Isa, block: Block<F>) -> std::result::Result<F, NonFiniteScores> {
    match isa {
        // SAFETY: `Isa::Avx512` and `Isa::Avx2` come from `Isa::detect`/`Isa::available`, which
        // return them only when the CPU reports those features, so the target_feature functions
        // run on hardware that has them. `sparse_agrees_with_naive_on_every_instruction_set`
        // (tests/it/sparse_kernel.rs) runs every available `Isa`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { block_avx512(block) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { block_avx2(block) },
        _ => block_impl::<F, 8, { cfg!(target_arch = "aarch64") }>(block),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block_avx512<F: Float>(block: Block<F>) -> std::result::Result<F, NonFiniteScores> {
    block_impl::<F, 16, true>(block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2<F: Float>(block: Block<F>) -> std::result::Result<F, NonFiniteScores> {
    block_impl::<F, 16, true>(block)
}

/// Rows per panel: [`block_impl`] computes a panel's scores, then its losses, then its updates.
const PANEL_ROWS: usize = 32;

/// The row loop, in panels of [`PANEL_ROWS`] rows:
/// 1. every row's scores f = Σ_k x_ik · Wᵀ[k, :] ([`row_scores`]);
/// 2. every row's loss and g = ∂L_i/∂f ([`row_loss_and_dscores`]), in row order, so the first
///    row with non-finite scores is the one reported;
/// 3. every row's update Gᵀ[k, :] += x_ik · g ([`row_update`]).
///
/// Wᵀ and Gᵀ rarely fit in L1 together (MNIST in float64: 100 KB each). Reading Wᵀ for a whole
/// panel, then updating Gᵀ for it, each phase finds more of its lines still cached from the
/// previous row (neighbouring rows share most of their features): on MNIST this made the pass
/// 1.2× faster than computing each row's scores and update in turn (float64, one and two
/// threads; on one thread 32, 128 and 512 rows per panel measured the same).
///
/// `L` is the lane count ([`lanes`] of the `Isa` that padded Wᵀ); `FMA` whether `mul_add` is a
/// single instruction.
#[inline(always)]
fn block_impl<F: Float, const L: usize, const FMA: bool>(
    block: Block<F>,
) -> std::result::Result<F, NonFiniteScores> {
    let Block { weights_t, inputs, rows, mut pass } = block;
    let (weights_t, n_classes, width) =
        (weights_t.values.as_slice(), weights_t.n_classes, weights_t.width);
    assert_eq!(width % L, 0, "Wᵀ is padded to whole lane arrays");
    let mut scores = vec![F::zero(); PANEL_ROWS * width];
    let mut loss_sum = F::zero();
    for panel_start in rows.clone().step_by(PANEL_ROWS) {
        let panel = panel_start..(panel_start + PANEL_ROWS).min(rows.end);
        let scores = &mut scores[..panel.len() * width];
        for (i, out) in panel.clone().zip(scores.chunks_exact_mut(width)) {
            let (columns, values) = inputs.row(i);
            row_scores::<F, L, FMA>(weights_t, width, columns, values, out);
        }
        match &mut pass {
            Pass::Scores(out) => {
                let first = (panel.start - rows.start) * n_classes;
                let out = &mut out[first..first + panel.len() * n_classes];
                for (out_row, row_scores) in
                    out.chunks_exact_mut(n_classes).zip(scores.chunks_exact(width))
                {
                    out_row.copy_from_slice(&row_scores[..n_classes]);
                }
            }
            Pass::LossAndGrad { labels, loss, grad_t } => {
                for (i, row_scores) in panel.clone().zip(scores.chunks_exact_mut(width)) {
                    let row_scores = &mut row_scores[..n_classes];
                    check_scores(&*row_scores, i)?;
                    loss_sum += row_loss_and_dscores(*loss, row_scores, labels[i]);
                }
                for (i, dscores) in panel.clone().zip(scores.chunks_exact(width)) {
                    let (columns, values) = inputs.row(i);
                    row_update::<F, L, FMA>(grad_t, width, columns, values, dscores);
                }
            }
        }
    }
    Ok(loss_sum)
}

/// scores[0..width] = Σ_k x_k · Wᵀ[k, :] over the row's nonzeros (k, x_k), `L` classes at a
/// time. Four accumulators take the nonzeros in turn, so that consecutive multiply-adds do not
/// wait on each other; they are added pairwise at the end.
#[inline(always)]
fn row_scores<F: Float, const L: usize, const FMA: bool>(
    weights_t: &[F],
    width: usize,
    columns: &[u32],
    values: &[F],
    scores: &mut [F],
) {
    for (tile, out) in scores.chunks_exact_mut(L).enumerate() {
        let weights_of = |k: u32| -> &[F; L] {
            let start = k as usize * width + tile * L;
            weights_t[start..start + L].try_into().expect("L lanes")
        };
        let mut acc = [[F::zero(); L]; 4];
        let (column_runs, value_runs) = (columns.chunks_exact(4), values.chunks_exact(4));
        let (last_columns, last_values) = (column_runs.remainder(), value_runs.remainder());
        for (k, x) in column_runs.zip(value_runs) {
            for s in 0..4 {
                let w = weights_of(k[s]);
                for l in 0..L {
                    acc[s][l] = fmadd::<F, FMA>(x[s], w[l], acc[s][l]);
                }
            }
        }
        for (&k, &x) in last_columns.iter().zip(last_values) {
            // Up to three: in one accumulator (indexing `acc` by a variable would spill it).
            let w = weights_of(k);
            for l in 0..L {
                acc[0][l] = fmadd::<F, FMA>(x, w[l], acc[0][l]);
            }
        }
        for l in 0..L {
            out[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
        }
    }
}

/// Gᵀ[k, :] += x_k · g for the row's nonzeros (k, x_k), `L` classes of g = ∂L_i/∂f at a time
/// (held in registers while the nonzeros stream past).
#[inline(always)]
fn row_update<F: Float, const L: usize, const FMA: bool>(
    grad_t: &mut [F],
    width: usize,
    columns: &[u32],
    values: &[F],
    dscores: &[F],
) {
    for (tile, g) in dscores.chunks_exact(L).enumerate() {
        let g: [F; L] = g.try_into().expect("L lanes");
        for (&k, &x) in columns.iter().zip(values) {
            let start = k as usize * width + tile * L;
            let chunk: &mut [F; L] = (&mut grad_t[start..start + L]).try_into().expect("L lanes");
            // Through a local copy: updated in place, LLVM keeps the lanes scalar.
            let mut acc = *chunk;
            for l in 0..L {
                acc[l] = fmadd::<F, FMA>(x, g[l], acc[l]);
            }
            *chunk = acc;
        }
    }
}
