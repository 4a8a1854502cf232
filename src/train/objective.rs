//! The training objective: mean data loss (weighted by the samples' weights, if any) + L2
//! penalty over the regularized weights.
//!
//! Inputs carry a constant-1 last column (see [`crate::preprocess`]), so W is C×(D+1) and its
//! last column is the bias. With [`Bias::Intercept`] that column is left out of the penalty (as
//! scikit-learn leaves out `intercept_`); with [`Bias::Trick`] it is penalized like the rest;
//! with [`Bias::None`] its gradient is 0, so that weights that start at 0 there (as
//! [`train`](super::train) starts them) stay 0 under every optimizer.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::Inputs;
use crate::loss::mapped::loss_and_grad_mapped;
use crate::loss::sparse::SparseRows;
use crate::loss::{
    loss_and_grad_picked_with, loss_and_grad_sparse_picked_with, loss_and_grad_sparse_with,
    loss_and_grad_with,
};
use crate::preprocess::Bias;
use crate::{Float, Kernel, Loss, LossAndGrad, LossOptions, RegConvention, Result, SampleWeights};

/// With the `auto` kernel, full-batch training runs on compressed sparse rows when at most this
/// fraction of the inputs is nonzero. On a 2-core AMD EPYC (60,000 × 785, C = 10, float64, 2
/// threads; `softmax bench --shape mnist --density P`, minimum times of two runs) the sparse
/// kernel is 2.0–2.3× faster than the fused one at 10%, 1.1–1.25× at 20%, 1.03× at 25% and
/// 0.7× at 35%; on the real MNIST training set (19% nonzero) it is 1.3× faster.
pub const SPARSE_DENSITY: f64 = 0.25;

/// What is minimized, on which samples.
#[derive(Clone, Debug)]
pub struct Objective<'a, F> {
    /// N×(D+1), last column all ones: dense or sparse rows.
    pub inputs: Inputs<'a, F>,
    pub labels: &'a [usize],
    /// One weight per row of the inputs, or `None`: every sample counts once. With weights the
    /// data loss is the weighted mean Σ s_i L_i / Σ s_i, and a minibatch B's is
    /// Σ_{i∈B} s_i L_i / (|B|·s̄) (s̄ the mean weight), whose expectation is the weighted mean.
    pub sample_weights: Option<SampleWeights<'a, F>>,
    pub loss: Loss,
    pub reg: f64,
    pub reg_convention: RegConvention,
    pub bias: Bias,
    pub kernel: Kernel,
    /// Label smoothing ε in [0, 1) of the softmax loss ([`LossOptions::label_smoothing`]).
    pub label_smoothing: f64,
}

impl<F: Float> Objective<'_, F> {
    /// The objective and its gradient at `weights` (C×(D+1)) over all samples.
    pub fn evaluate(&self, weights: ArrayView2<F>) -> Result<LossAndGrad<F>> {
        self.evaluate_precise(weights).map(LossAndGrad::rounded)
    }

    /// [`Self::evaluate`] with the loss in f64, as the kernels sum it (what L-BFGS compares).
    pub(crate) fn evaluate_precise(&self, weights: ArrayView2<F>) -> Result<LossAndGrad<F, f64>> {
        let options = self.data_loss_options();
        let (labels, sample_weights) = (self.labels, self.sample_weights);
        // On a share of the training split (`crate::distributed`), every process's sums.
        let (rows, weighted) = (self.inputs.nrows(), sample_weights.is_some());
        let data =
            crate::distributed::whole_pass(weights.dim(), rows, weighted, || match self.inputs {
                Inputs::Dense(x) => {
                    loss_and_grad_with(weights, x, labels, sample_weights, &options)
                }
                Inputs::Sparse(rows) => {
                    loss_and_grad_sparse_with(weights, rows, labels, sample_weights, &options)
                }
                Inputs::Mapped(rows) => {
                    loss_and_grad_mapped(weights, rows, None, labels, sample_weights, &options)
                }
            })?;
        Ok(self.with_penalty(weights, data))
    }

    /// The objective and its gradient on the rows `indices` of the inputs (a minibatch, whose
    /// labels are `labels`): dense and mapped rows read where they lie, sparse ones copied out.
    pub fn evaluate_picked(
        &self,
        weights: ArrayView2<F>,
        indices: &[usize],
        labels: &[usize],
    ) -> Result<LossAndGrad<F>> {
        let options = self.data_loss_options();
        let sample_weights = self.sample_weights;
        // On a share of the training split, a share of the batch: every process's sums.
        let (rows, weighted) = (indices.len(), sample_weights.is_some());
        let data =
            crate::distributed::batch_pass(weights.dim(), rows, weighted, || match self.inputs {
                Inputs::Dense(x) => {
                    loss_and_grad_picked_with(weights, x, indices, labels, sample_weights, &options)
                }
                Inputs::Sparse(rows) => loss_and_grad_sparse_picked_with(
                    weights,
                    rows,
                    indices,
                    labels,
                    sample_weights,
                    &options,
                ),
                Inputs::Mapped(rows) => loss_and_grad_mapped(
                    weights,
                    rows,
                    Some(indices),
                    labels,
                    sample_weights,
                    &options,
                ),
            })?;
        Ok(self.with_penalty(weights, data).rounded())
    }

    /// Dense training inputs converted to compressed sparse rows, if full passes should use
    /// the sparse kernel: the kernel is `sparse`, or `auto` and at most [`SPARSE_DENSITY`] of
    /// the inputs are nonzero. `None` for inputs that are sparse already ([`Self::evaluate`]
    /// runs the sparse kernel on them).
    pub fn sparse_inputs(&self) -> Result<Option<SparseRows<F>>> {
        let Inputs::Dense(x) = self.inputs else {
            return Ok(None);
        };
        let wanted = match self.kernel {
            Kernel::Sparse => true,
            Kernel::Auto => nonzero_fraction(x) <= SPARSE_DENSITY,
            _ => false,
        };
        wanted.then(|| SparseRows::from_dense(x)).transpose()
    }

    /// [`Self::evaluate`] with the training inputs given as sparse rows (from
    /// [`Self::sparse_inputs`]).
    pub fn evaluate_sparse(
        &self,
        weights: ArrayView2<F>,
        inputs: &SparseRows<F>,
    ) -> Result<LossAndGrad<F>> {
        self.evaluate_sparse_precise(weights, inputs).map(LossAndGrad::rounded)
    }

    /// [`Self::evaluate_sparse`] with the loss in f64 (see [`Self::evaluate_precise`]).
    pub(crate) fn evaluate_sparse_precise(
        &self,
        weights: ArrayView2<F>,
        inputs: &SparseRows<F>,
    ) -> Result<LossAndGrad<F, f64>> {
        let options = self.data_loss_options();
        let (labels, sample_weights) = (self.labels, self.sample_weights);
        let data = crate::distributed::whole_pass(
            weights.dim(),
            inputs.nrows(),
            sample_weights.is_some(),
            || loss_and_grad_sparse_with(weights, inputs, labels, sample_weights, &options),
        )?;
        Ok(self.with_penalty(weights, data))
    }

    /// Options for the mean data loss alone: the penalty is added by [`Self::with_penalty`].
    fn data_loss_options(&self) -> LossOptions {
        LossOptions {
            loss: self.loss,
            kernel: self.kernel,
            label_smoothing: self.label_smoothing,
            ..Default::default()
        }
    }

    /// Adds the L2 penalty over the regularized columns of `weights` to a data loss, and with
    /// [`Bias::None`] zeroes the bias column's gradient.
    fn with_penalty(
        &self,
        weights: ArrayView2<F>,
        mut out: LossAndGrad<F, f64>,
    ) -> LossAndGrad<F, f64> {
        if self.bias == Bias::None {
            out.grad.column_mut(weights.ncols() - 1).fill(F::zero());
        }
        let penalized = self.penalized_columns(weights.ncols());
        let penalized_weights = weights.slice(s![.., ..penalized]);
        out.loss += self.reg_convention.penalty_f64(self.reg, penalized_weights);
        let (_, grad_factor) = self.reg_convention.factors(self.reg);
        out.grad.slice_mut(s![.., ..penalized]).scaled_add(F::of(grad_factor), &penalized_weights);
        out
    }

    /// How many leading columns of W are regularized: all, or all but the bias.
    fn penalized_columns(&self, n_columns: usize) -> usize {
        match self.bias {
            Bias::Intercept | Bias::None => n_columns - 1,
            Bias::Trick => n_columns,
        }
    }
}

/// The fraction of entries that are not zero.
fn nonzero_fraction<F: Float>(inputs: ArrayView2<F>) -> f64 {
    let nonzero: usize = inputs
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|row| row.iter().filter(|&&x| x != F::zero()).count())
        .sum();
    // Of the whole training split when it is spread over processes: all of them decide alike.
    let [nonzero, entries] = crate::distributed::whole_split_counts([nonzero, inputs.len()]);
    nonzero as f64 / entries.max(1) as f64
}

/// Predicted classes (argmax of the scores X Wᵀ, lowest index on ties) for augmented inputs,
/// scored a chunk of rows at a time ([`for_score_chunks`]): the N×C scores of a probe (1.28 million rows and a
/// thousand classes: 5 GB in float32) are never held at once.
///
/// # Errors
/// A mapped file cut short since it was mapped.
pub fn predict<F: Float>(weights: ArrayView2<F>, inputs: Inputs<F>) -> Result<Vec<usize>> {
    let mut predicted = Vec::with_capacity(inputs.nrows());
    for_score_chunks(weights, inputs, |_, scores| predicted.extend(argmax_rows(scores)))?;
    Ok(predicted)
}

/// Rows scored at a time by [`for_score_chunks`].
const PREDICT_ROWS: usize = 8192;

/// Calls `each` with the rows (a range of positions) and the scores X Wᵀ of each chunk of
/// [`PREDICT_ROWS`] inputs in turn, so that the N×C scores are never held at once.
///
/// # Errors
/// A mapped file cut short since it was mapped.
pub(crate) fn for_score_chunks<F: Float>(
    weights: ArrayView2<F>,
    inputs: Inputs<F>,
    mut each: impl FnMut(std::ops::Range<usize>, Array2<F>),
) -> Result<()> {
    let rows: Vec<usize> = (0..inputs.nrows()).collect();
    for chunk in rows.chunks(PREDICT_ROWS) {
        let scores = inputs.scores_picked(weights, chunk)?;
        each(chunk[0]..chunk[0] + chunk.len(), scores);
    }
    Ok(())
}

/// [`predict`] for the rows `indices` of the inputs.
pub fn predict_picked<F: Float>(
    weights: ArrayView2<F>,
    inputs: Inputs<F>,
    indices: &[usize],
) -> Result<Vec<usize>> {
    Ok(argmax_rows(inputs.scores_picked(weights, indices)?))
}

/// Each row's index of its largest score, the lowest on ties.
fn argmax_rows<F: Float>(scores: Array2<F>) -> Vec<usize> {
    scores
        .outer_iter()
        .map(|row| {
            row.iter().enumerate().fold((0, F::neg_infinity()), |best, (j, &s)| {
                if s > best.1 { (j, s) } else { best }
            })
        })
        .map(|(j, _)| j)
        .collect()
}
