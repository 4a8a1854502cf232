//! The kernel over memory-mapped rows (a linear probe's embeddings, see [`crate::mapped`]): the
//! gemm kernel's slabs (S = X Ṽᵀ + b̃ by a matrix product, the row steps, then dW += ∂L/∂Sᵀ X)
//! on rows read where they lie in the file or converted a slab at a time, with the
//! preprocessing folded into the weights instead of applied to a copy of X.
//!
//! The trainer's inputs are x' = (x − μ) ⊘ σ (per feature) with a constant 1 appended, and its
//! weights W = [V | b] (C×(D+1)). The scores are
//!
//!   V x' + b = (V ⊘ σ) x + (b − (V ⊘ σ) μ) = Ṽ x + b̃,
//!
//! so a pass computes on the raw rows with Ṽ and b̃. With g_i = ∂L_i/∂f_i the pass sums
//! R = Σ s_i g_i x_iᵀ and r = Σ s_i g_i, and the gradient follows from them:
//!
//!   ∂L/∂V = Σ s_i g_i x'_iᵀ = (R − r μᵀ) ⊘ σ (column j divided by σ_j),   ∂L/∂b = r,
//!
//! each divided by the targets' normalizer. The preprocessed matrix is never written: memory
//! beyond the mapping is one slab of converted rows and one of scores per block.

use std::sync::Arc;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder, s};
use rayon::prelude::*;

use super::blocks::{Partial, sum_blocks};
use super::dense_loops::grad_row_stride;
use super::gemm::{RowSteps, SLAB_ROWS};
use super::isa::{Isa, dispatch};
use super::targets::Targets;
use super::types::NonFiniteScores;
use super::types::{Loss, LossAndGrad, Precise};
use super::{
    Layout, LossOptions, batch_weights, check_problem, checked_targets, non_finite_scores_error,
};
use crate::mapped::MappedMatrix;
use crate::{Error, Float, Result, SampleWeights};

/// Rows of a mapped matrix as the trainer's inputs: x' = (x − offset) ⊘ scale with a constant-1
/// column, N×(D+1), computed on the fly (see the module doc).
#[derive(Clone, Debug)]
pub struct MappedRows {
    matrix: Arc<MappedMatrix>,
    /// The matrix rows these inputs are, in order; `None`: all of them.
    rows: Option<Vec<usize>>,
    offset: Vec<f64>,
    inverse_scale: Vec<f64>,
}

impl MappedRows {
    /// The rows `rows` of `matrix` (all with `None`), preprocessed by `offset` and `scale` (one
    /// per feature; `scale` nonzero).
    ///
    /// # Errors
    /// [`Error::InconsistentData`] for an offset or scale of another length than D, a zero
    /// scale, or a row beyond the matrix.
    pub fn new(
        matrix: Arc<MappedMatrix>,
        rows: Option<Vec<usize>>,
        offset: &[f64],
        scale: &[f64],
    ) -> Result<MappedRows> {
        let (n_rows, n_features) = matrix.dim();
        if offset.len() != n_features || scale.len() != n_features {
            return Err(Error::InconsistentData(format!(
                "a preprocessing of {} features for {} of {n_features}",
                offset.len(),
                matrix.path().display()
            )));
        }
        if scale.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err(Error::InconsistentData("a preprocessing scale of 0".into()));
        }
        if let Some(&row) = rows.iter().flatten().find(|&&row| row >= n_rows) {
            return Err(Error::InconsistentData(format!(
                "row {row} of {}, which has {n_rows}",
                matrix.path().display()
            )));
        }
        let inverse_scale = scale.iter().map(|s| 1.0 / s).collect();
        Ok(MappedRows { matrix, rows, offset: offset.to_vec(), inverse_scale })
    }

    /// The mapped matrix.
    pub fn matrix(&self) -> &MappedMatrix {
        &self.matrix
    }

    /// N, the rows these inputs are.
    pub fn nrows(&self) -> usize {
        self.rows.as_ref().map_or(self.matrix.dim().0, Vec::len)
    }

    /// D + 1: the features and the bias column.
    pub fn ncols(&self) -> usize {
        self.matrix.dim().1 + 1
    }

    /// The matrix row of input `position`.
    fn matrix_row(&self, position: usize) -> usize {
        self.rows.as_ref().map_or(position, |rows| rows[position])
    }

    /// (Ṽ, b̃) = (V ⊘ σ, b − (V ⊘ σ) μ) for W = [V | b], computed in f64.
    fn folded<F: Float>(&self, weights: ArrayView2<F>) -> (Array2<F>, Array1<F>) {
        let n_features = self.offset.len();
        let mut folded = Array2::zeros((weights.nrows(), n_features));
        let mut bias = Array1::zeros(weights.nrows());
        for ((w, mut v), b) in weights.outer_iter().zip(folded.outer_iter_mut()).zip(&mut bias) {
            let mut shift = 0.0;
            for j in 0..n_features {
                let value = w[j].as_f64() * self.inverse_scale[j];
                v[j] = F::of(value);
                shift += value * self.offset[j];
            }
            *b = F::of(w[n_features].as_f64() - shift);
        }
        (folded, bias)
    }

    /// The rows `positions` (of these inputs) of the raw matrix, as `F`, into `buffer`
    /// (or read where they lie) with their matrix rows in `rows`.
    fn slab<'a, F: Float>(
        &'a self,
        positions: impl Iterator<Item = usize>,
        rows: &mut Vec<usize>,
        buffer: &'a mut Vec<F>,
    ) -> ArrayView2<'a, F> {
        rows.clear();
        rows.extend(positions.map(|p| self.matrix_row(p)));
        let values = self.matrix.gather(rows, buffer);
        ArrayView2::from_shape((rows.len(), self.offset.len()), values).expect("whole rows")
    }

    /// The error for a sample whose scores are not finite: a NaN or infinity in its row (of
    /// the file), or an overflow.
    fn non_finite_error<F: Float>(&self, position: usize) -> Error {
        let row = self.matrix_row(position);
        let mut buffer = Vec::new();
        let values: &[F] = self.matrix.rows(row..row + 1, &mut buffer);
        let error = non_finite_scores_error(ndarray::aview1(values), row);
        match error {
            Error::NonFinite { what, location, value } => Error::NonFinite {
                what,
                location: format!("{location} of {}", self.matrix.path().display()),
                value,
            },
            other => other,
        }
    }

    /// Summed loss and gradient (C×(D+1) in the trainer's coordinates, before the division by
    /// the normalizer) over the inputs `positions` (all with `None`), whose targets are
    /// `targets`; see the module doc.
    pub(crate) fn loss_and_grad<F: Float>(
        &self,
        isa: Isa,
        weights: ArrayView2<F>,
        positions: Option<&[usize]>,
        targets: Targets<F>,
        loss: Loss,
    ) -> Result<Precise<F>> {
        self.matrix.check_unchanged()?;
        let (folded, bias) = self.folded(weights);
        let (n_classes, n_features) = folded.dim();
        // A partial's rows: D values of R, then r's entry, padded to whole cache lines that do
        // not alias modulo 4 KiB (with 769 values a row, the gradient's product ran 10% slower).
        let stride = grad_row_stride::<F>(n_features + 1);
        let n_samples = targets.labels().len();
        let position = |k: usize| positions.map_or(k, |picked| picked[k]);
        let block = |block: std::ops::Range<usize>| {
            let mut partial = Partial::zeroed(n_classes, stride);
            // r = Σ s_i g_i, row after row: in its own contiguous C values, not in the
            // partial's column D, whose entries lie a row of the partial apart.
            let mut bias_sums = vec![F::zero(); n_classes];
            let (mut buffer, mut rows) = (Vec::new(), Vec::new());
            let mut scores = Array2::<F>::zeros((SLAB_ROWS.min(block.len()), n_classes));
            let mut loss_sum = 0.0;
            for start in block.clone().step_by(SLAB_ROWS) {
                let end = (start + SLAB_ROWS).min(block.end);
                let slab = self.slab((start..end).map(position), &mut rows, &mut buffer);
                let mut slab_scores = scores.slice_mut(s![..end - start, ..]);
                slab_scores.assign(&bias.broadcast((end - start, n_classes)).expect("C scores"));
                general_mat_mul(F::one(), &slab, &folded.t(), F::one(), &mut slab_scores);
                let steps = RowSteps {
                    scores: slab_scores.as_slice_mut().expect("the slab's scores are contiguous"),
                    n_classes,
                    targets: targets.slice(start..end),
                    loss,
                };
                loss_sum +=
                    dispatch(isa, steps).map_err(|i| NonFiniteScores { sample: start + i })?;
                let values = partial.values_mut();
                let mut grad = ArrayViewMut2::from_shape(
                    (n_classes, n_features).strides((stride, 1)),
                    &mut values[..],
                )
                .expect("a partial is C rows of D + 1");
                general_mat_mul(F::one(), &slab_scores.t(), &slab, F::one(), &mut grad);
                for row in slab_scores.outer_iter() {
                    for (sum, &g) in bias_sums.iter_mut().zip(row) {
                        *sum += g;
                    }
                }
            }
            let values = partial.values_mut();
            for (class, sum) in bias_sums.into_iter().enumerate() {
                values[class * stride + n_features] = sum;
            }
            Ok((loss_sum, partial))
        };
        let (loss_sum, total) =
            sum_blocks(n_samples, n_samples * n_features * n_classes, block, Partial::add)
                .map_err(|bad: NonFiniteScores| self.non_finite_error::<F>(position(bad.sample)))?;
        let n = targets.normalizer().as_f64();
        let mut total = total;
        let raw = total.values_mut();
        let mut grad = Array2::zeros((n_classes, n_features + 1));
        for (class, mut out) in grad.outer_iter_mut().enumerate() {
            let raw = &raw[class * stride..(class + 1) * stride];
            let bias_sum = raw[n_features].as_f64();
            for j in 0..n_features {
                let value = (raw[j].as_f64() - bias_sum * self.offset[j]) * self.inverse_scale[j];
                out[j] = F::of(value / n);
            }
            out[n_features] = F::of(bias_sum / n);
        }
        Ok(LossAndGrad { loss: loss_sum / n, grad })
    }

    /// The scores X' Wᵀ (one row per input `positions`, all with `None`) for W (C×(D+1)).
    ///
    /// # Errors
    /// A file cut short since it was mapped.
    pub fn scores<F: Float>(
        &self,
        weights: ArrayView2<F>,
        positions: Option<&[usize]>,
    ) -> Result<Array2<F>> {
        self.matrix.check_unchanged()?;
        let (folded, bias) = self.folded(weights);
        let n = positions.map_or(self.nrows(), <[usize]>::len);
        let mut scores = Array2::zeros((n, folded.nrows()));
        scores.axis_chunks_iter_mut(Axis(0), SLAB_ROWS).into_par_iter().enumerate().for_each(
            |(index, mut out)| {
                let start = index * SLAB_ROWS;
                let (mut buffer, mut rows) = (Vec::new(), Vec::new());
                let positions = (start..start + out.nrows()).map(|k| positions.map_or(k, |p| p[k]));
                let slab = self.slab(positions, &mut rows, &mut buffer);
                let dim = out.dim();
                out.assign(&bias.broadcast(dim).expect("C scores"));
                general_mat_mul(F::one(), &slab, &folded.t(), F::one(), &mut out);
            },
        );
        Ok(scores)
    }
}

/// The mean data loss (plus the penalty of `options`) and its gradient for W (C×(D+1)) on
/// mapped rows: all of them with `indices` = `None`, whose `labels` are one per row, or the
/// minibatch `indices` with their `labels`, weighted as [`super::loss_and_grad_picked_with`]
/// weighs one. Always this module's kernel: `options.kernel` and `options.layout` do not apply.
///
/// # Errors
/// Those of [`super::loss_and_grad`], an index beyond the rows, and a file cut short since it
/// was mapped.
pub(crate) fn loss_and_grad_mapped<F: Float>(
    weights: ArrayView2<F>,
    inputs: &MappedRows,
    indices: Option<&[usize]>,
    labels: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let batch_weights = match indices {
        Some(indices) => batch_weights(indices, sample_weights, inputs.nrows())?,
        None => None,
    };
    let targets = match (indices, &batch_weights) {
        (Some(_), Some((batch, normalizer))) => Targets::weighted(labels, batch, *normalizer),
        (Some(_), None) => Targets::unweighted(labels),
        (None, _) => Targets::of(labels, sample_weights),
    };
    let targets = checked_targets(targets, options)?;
    let n_samples = indices.map_or(inputs.nrows(), <[usize]>::len);
    let shape = (inputs.nrows(), inputs.ncols());
    check_problem(weights, shape, n_samples, targets, Layout::Canonical)?;
    let LossAndGrad { mut loss, mut grad } =
        inputs.loss_and_grad(options.isa(), weights, indices, targets, options.loss)?;
    options.reg_convention.add_to(options.reg, weights, &mut loss, &mut grad)?;
    Ok(LossAndGrad { loss, grad })
}
