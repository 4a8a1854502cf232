//! The trainer's inputs: N×(D+1) rows whose last column is all ones (see
//! [`crate::preprocess`]), held dense or as compressed sparse rows.

use ndarray::{Array2, ArrayView2};

use crate::Float;
use crate::loss::sparse::SparseRows;

/// The trainer's inputs, read where they lie: dense rows (any source), or compressed sparse
/// rows (SciPy's CSR matrices, trained on without ever being made dense).
#[derive(Clone, Copy, Debug)]
pub enum Inputs<'a, F> {
    Dense(ArrayView2<'a, F>),
    Sparse(&'a SparseRows<F>),
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
        }
    }

    /// N, the number of samples.
    pub fn nrows(&self) -> usize {
        match self {
            Inputs::Dense(x) => x.nrows(),
            Inputs::Sparse(rows) => rows.nrows(),
        }
    }

    /// D + 1, the number of columns with the bias column.
    pub fn ncols(&self) -> usize {
        match self {
            Inputs::Dense(x) => x.ncols(),
            Inputs::Sparse(rows) => rows.ncols(),
        }
    }

    /// The scores X Wᵀ (N×C) for W (C×(D+1)).
    pub fn scores(&self, weights: ArrayView2<F>) -> Array2<F> {
        match self {
            Inputs::Dense(x) => crate::loss::fused::scores(weights, *x),
            Inputs::Sparse(rows) => crate::loss::sparse::scores(weights, rows),
        }
    }

    /// The scores of the rows `indices` (one row of scores per index, in that order); the
    /// indices are rows of X (the caller checks).
    pub fn scores_picked(&self, weights: ArrayView2<F>, indices: &[usize]) -> Array2<F> {
        match self {
            Inputs::Dense(x) => crate::loss::fused::scores_picked(weights, *x, indices),
            Inputs::Sparse(rows) => {
                crate::loss::sparse::scores(weights, &rows.select_rows(indices))
            }
        }
    }
}
