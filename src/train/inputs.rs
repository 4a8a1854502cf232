//! The trainer's inputs: N×(D+1) rows whose last column is all ones (see
//! [`crate::preprocess`]), held dense, as compressed sparse rows, or as raw rows of a
//! memory-mapped file that are preprocessed on the fly.

use ndarray::{Array2, ArrayView2, Axis};

use crate::loss::mapped::MappedRows;
use crate::loss::sparse::SparseRows;
use crate::{Float, Result};

/// The trainer's inputs, read where they lie: dense rows (any source), compressed sparse
/// rows (SciPy's CSR matrices, trained on without ever being made dense), or rows of a
/// memory-mapped `.npy` file (a linear probe's embeddings, never copied whole).
#[derive(Clone, Copy, Debug)]
pub enum Inputs<'a, F> {
    Dense(ArrayView2<'a, F>),
    Sparse(&'a SparseRows<F>),
    Mapped(&'a MappedRows),
}

impl<'a, F> From<ArrayView2<'a, F>> for Inputs<'a, F> {
    fn from(dense: ArrayView2<'a, F>) -> Inputs<'a, F> {
        Inputs::Dense(dense)
    }
}

impl<'a, F: Float> Inputs<'a, F> {
    /// The same inputs, borrowed for as long as `self` is (ndarray's views are invariant in
    /// their lifetime, so a shorter one takes a new view).
    pub fn view(&self) -> Inputs<'_, F> {
        match self {
            Inputs::Dense(x) => Inputs::Dense(x.view()),
            Inputs::Sparse(rows) => Inputs::Sparse(rows),
            Inputs::Mapped(rows) => Inputs::Mapped(rows),
        }
    }

    /// N, the number of samples.
    pub fn nrows(&self) -> usize {
        match self {
            Inputs::Dense(x) => x.nrows(),
            Inputs::Sparse(rows) => rows.nrows(),
            Inputs::Mapped(rows) => rows.nrows(),
        }
    }

    /// D + 1, the number of columns with the bias column.
    pub fn ncols(&self) -> usize {
        match self {
            Inputs::Dense(x) => x.ncols(),
            Inputs::Sparse(rows) => rows.ncols(),
            Inputs::Mapped(rows) => rows.ncols(),
        }
    }

    /// The scores X Wᵀ (N×C) for W (C×(D+1)).
    ///
    /// # Errors
    /// A mapped file cut short since it was mapped.
    pub fn scores(&self, weights: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(match self {
            Inputs::Dense(x) => crate::loss::fused::scores(weights, *x),
            Inputs::Sparse(rows) => crate::loss::sparse::scores(weights, rows),
            Inputs::Mapped(rows) => rows.scores(weights, None)?,
        })
    }

    /// The scores of the rows `indices` (one row of scores per index, in that order); the
    /// indices are rows of X (the caller checks).
    ///
    /// # Errors
    /// A mapped file cut short since it was mapped.
    pub fn scores_picked(&self, weights: ArrayView2<F>, indices: &[usize]) -> Result<Array2<F>> {
        Ok(match self {
            Inputs::Dense(x) => crate::loss::fused::scores_picked(weights, *x, indices),
            Inputs::Sparse(rows) => {
                crate::loss::sparse::scores(weights, &rows.select_rows(indices))
            }
            Inputs::Mapped(rows) => rows.scores(weights, Some(indices))?,
        })
    }

    /// The rows `indices` (N×(D+1) inputs as the passes see them: preprocessed, with the bias
    /// column), dense; the indices are rows of X (the caller checks).
    ///
    /// # Errors
    /// A mapped file cut short since it was mapped.
    pub fn rows_picked(&self, indices: &[usize]) -> Result<Array2<F>> {
        Ok(match self {
            Inputs::Dense(x) => x.select(Axis(0), indices),
            Inputs::Sparse(rows) => rows.select_rows(indices).to_dense(),
            // The scores of the identity: each row's preprocessed values, bias included.
            Inputs::Mapped(rows) => rows.scores(Array2::eye(rows.ncols()).view(), Some(indices))?,
        })
    }
}
