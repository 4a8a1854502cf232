//! The sparse kernel's inner loops: for compressed sparse rows, the scores
//! f = Σ_k x_ik · Wᵀ[k, :] over a row's nonzeros (k, x_ik), a per-row step that turns them into
//! g = ∂L_i/∂f (the loops know nothing of labels or losses), and the update
//! Gᵀ[k, :] += x_ik · g for every nonzero (∂L_i/∂W_jk = g_j x_ik).
//!
//! Both run over the classes, so Wᵀ and Gᵀ are stored with their C columns padded with zeros to
//! a multiple of the lane count ([`PaddedTranspose`]) and start on a cache line
//! ([`LineAligned`]): every access is whole lane arrays (`[F; L]`) that LLVM turns into vector
//! registers and that never straddle two lines, compiled once per instruction set through
//! [`dispatch`](super::isa::dispatch) ([`SparseRowLoop`] implements [`Simd`]). The padded score
//! lanes are Σ x·0 = 0, and the kernel drops their gradient columns at the end.

use std::ops::Range;

use ndarray::ArrayView2;

use super::isa::{Arch, Isa, Simd, fmadd};
use super::sparse_rows::SparseRows;
use crate::Float;

/// Wᵀ (D×C) with its columns padded with zeros to `width`, a multiple of the lane count.
pub struct PaddedTranspose<F> {
    /// D×width, row-major: row k holds feature k's class weights, then zeros.
    values: LineAligned<F>,
    n_classes: usize,
    width: usize,
}

impl<F: Float> PaddedTranspose<F> {
    /// Wᵀ of `weights` (C×D), padded for the loops compiled for `isa`.
    ///
    /// # Panics
    /// If `weights` and `inputs` disagree on D.
    pub fn new(isa: Isa, weights: ArrayView2<F>, inputs: &SparseRows<F>) -> Self {
        let (n_classes, n_features) = weights.dim();
        assert_eq!(n_features, inputs.ncols(), "weights and inputs disagree on D");
        let width = n_classes.next_multiple_of(lanes(isa.vector_bytes()));
        let mut values = LineAligned::zeros(n_features * width);
        for (row, column) in values.as_mut_slice().chunks_exact_mut(width).zip(weights.columns()) {
            for (w, &weight) in row.iter_mut().zip(column) {
                *w = weight;
            }
        }
        PaddedTranspose { values, n_classes, width }
    }

    /// The padded row length: C rounded up to whole lane arrays.
    pub fn width(&self) -> usize {
        self.width
    }

    /// A zero Gᵀ of the same padded shape (D×width), for [`SparseRowLoop::grad_t`].
    pub fn zeros_like(&self) -> LineAligned<F> {
        LineAligned::zeros(self.values.len)
    }
}

/// `len` values starting on a 64-byte boundary (a cache line), so that with rows of whole lane
/// arrays no lane array of Wᵀ or Gᵀ straddles two lines.
pub struct LineAligned<F> {
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

    pub fn as_slice(&self) -> &[F] {
        &self.buffer[self.start..self.start + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [F] {
        &mut self.buffer[self.start..self.start + self.len]
    }
}

/// The lanes per accumulator for registers of `vector_bytes`: 16 with AVX2 or AVX-512, so that
/// C ≤ 16 classes take one pass over a row's nonzeros (measured on MNIST: 8 lanes on AVX2 cost
/// 1.4× the time); 8 on the baseline, whose 16 SSE registers cannot hold four 16-lane
/// accumulators (16 lanes spill there: 1.3–1.8× slower).
const fn lanes(vector_bytes: usize) -> usize {
    if vector_bytes >= 32 { 16 } else { 8 }
}

/// The rows `rows` of `inputs` through the loops, with Wᵀ padded for the same instruction set.
///
/// For every row, in order, in panels of [`PANEL_ROWS`] rows, the loops compute its scores f (C)
/// and call `step(i, f)` with its row `i` of `inputs`; the step returns the row's loss and leaves
/// g = ∂L_i/∂f in `f`, or an error that ends the block. Then Gᵀ += x_i gᵀ, in `grad_t` (D×width,
/// like the padded Wᵀ). Running the loop ([`Simd::run`]) returns the sum of the steps'
/// losses.
pub struct SparseRowLoop<'a, F, S> {
    pub weights_t: &'a PaddedTranspose<F>,
    pub inputs: &'a SparseRows<F>,
    pub rows: Range<usize>,
    pub step: S,
    pub grad_t: &'a mut [F],
}

impl<F: Float, E, S: FnMut(usize, &mut [F]) -> Result<F, E>> Simd for SparseRowLoop<'_, F, S> {
    type Output = Result<f64, E>;

    #[inline(always)]
    fn run<A: Arch>(self) -> Result<f64, E> {
        match lanes(A::VECTOR_BYTES) {
            16 => block_loop::<F, E, S, 16, A>(self),
            8 => block_loop::<F, E, S, 8, A>(self),
            _ => unreachable!("8 or 16 lanes"),
        }
    }
}

/// Rows per panel: [`block_loop`] computes a panel's scores, then its steps, then its updates.
const PANEL_ROWS: usize = 32;

/// The row loop, in panels of [`PANEL_ROWS`] rows:
/// 1. every row's scores f = Σ_k x_ik · Wᵀ[k, :] ([`row_scores`]);
/// 2. every row's step (its loss and g = ∂L_i/∂f), in row order, so that a step's error is the
///    first row's;
/// 3. every row's update Gᵀ[k, :] += x_ik · g ([`row_update`]).
///
/// Wᵀ and Gᵀ rarely fit in L1 together (MNIST in float64: 100 KB each). Reading Wᵀ for a whole
/// panel, then updating Gᵀ for it, each phase finds more of its lines still cached from the
/// previous row (neighbouring rows share most of their features): on MNIST this made the pass
/// 1.2× faster than computing each row's scores and update in turn (float64, one and two
/// threads; on one thread 32, 128 and 512 rows per panel measured the same).
///
/// `L` is the lane count ([`lanes`] of the instruction set that padded Wᵀ), `A` the
/// instruction set.
#[inline(always)]
fn block_loop<F, E, S, const L: usize, A: Arch>(block: SparseRowLoop<F, S>) -> Result<f64, E>
where
    F: Float,
    S: FnMut(usize, &mut [F]) -> Result<F, E>,
{
    let SparseRowLoop { weights_t, inputs, rows, mut step, grad_t } = block;
    let (weights_t, n_classes, width) =
        (weights_t.values.as_slice(), weights_t.n_classes, weights_t.width);
    assert_eq!(width % L, 0, "Wᵀ is padded to whole lane arrays");
    let mut scores = vec![F::zero(); PANEL_ROWS * width];
    let mut loss_sum = 0.0; // in f64, as the dense loops sum theirs
    for panel_start in rows.clone().step_by(PANEL_ROWS) {
        let panel = panel_start..(panel_start + PANEL_ROWS).min(rows.end);
        let scores = &mut scores[..panel.len() * width];
        for (i, out) in panel.clone().zip(scores.chunks_exact_mut(width)) {
            let (columns, values) = inputs.row(i);
            row_scores::<F, L, A>(weights_t, width, columns, values, out);
        }
        for (i, row_scores) in panel.clone().zip(scores.chunks_exact_mut(width)) {
            loss_sum += step(i, &mut row_scores[..n_classes])?.as_f64();
        }
        for (i, dscores) in panel.clone().zip(scores.chunks_exact(width)) {
            let (columns, values) = inputs.row(i);
            row_update::<F, L, A>(grad_t, width, columns, values, dscores);
        }
    }
    Ok(loss_sum)
}

/// scores[0..width] = Σ_k x_k · Wᵀ[k, :] over the row's nonzeros (k, x_k), `L` classes at a
/// time. Four accumulators take the nonzeros in turn, so that consecutive multiply-adds do not
/// wait on each other; they are added pairwise at the end.
#[inline(always)]
fn row_scores<F: Float, const L: usize, A: Arch>(
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
                    acc[s][l] = fmadd::<F, A>(x[s], w[l], acc[s][l]);
                }
            }
        }
        for (&k, &x) in last_columns.iter().zip(last_values) {
            // Up to three: in one accumulator (indexing `acc` by a variable would spill it).
            let w = weights_of(k);
            for l in 0..L {
                acc[0][l] = fmadd::<F, A>(x, w[l], acc[0][l]);
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
fn row_update<F: Float, const L: usize, A: Arch>(
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
                acc[l] = fmadd::<F, A>(x, g[l], acc[l]);
            }
            *chunk = acc;
        }
    }
}
