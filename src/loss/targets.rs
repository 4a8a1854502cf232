//! What the samples are scored against: their labels, optionally their weights, and the
//! number the summed loss is divided by.
//!
//! With sample weights s_i the data loss is the weighted mean L = Σ_i s_i L_i / Σ_i s_i, and its
//! gradient Σ_i s_i g_i x_iᵀ / Σ_i s_i (g_i = ∂L_i/∂f): a weight of k counts as k copies of the
//! sample. Without weights every s_i is 1 and the normalizer is N. Each kernel's row step
//! ([`Targets::step`]) multiplies L_i and g_i by s_i; the kernel divides its sums by
//! [`Targets::normalizer`].
//!
//! With label smoothing ε (softmax only) the targets are q = (1 − ε)·onehot(y_i) + ε/C instead
//! of onehot(y_i): L_i = −Σ_j q_j log p_j and g_i = p − q ([`Targets::smoothed`]).

use super::row::{checked_row_step, checked_smoothed_softmax_step};
use super::types::{Loss, NonFiniteScores};
use crate::{Error, Float, Result};

/// Per-sample weights that a weighted loss can use: finite, ≥ 0, with a positive finite sum.
/// Built by [`SampleWeights::new`], which checks them once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleWeights<'a, F> {
    values: &'a [F],
    /// Σ_i s_i, summed in f64 in sample order.
    sum: f64,
}

impl<'a, F: Float> SampleWeights<'a, F> {
    /// Checks the weights, one per sample (their count is checked against the samples where
    /// they are used).
    ///
    /// # Errors
    /// [`Error::SampleWeights`] for no weights, a NaN or infinite weight, a negative weight, or
    /// weights whose sum is 0 (or overflows).
    pub fn new(values: &'a [F]) -> Result<SampleWeights<'a, F>> {
        check_weight_values(values)?;
        let invalid = |message: String| Err(Error::SampleWeights(message));
        if values.is_empty() {
            return invalid("there are none (N = 0)".into());
        }
        let sum: f64 = values.iter().map(|v| v.as_f64()).sum();
        if !(sum > 0.0 && sum.is_finite()) {
            return invalid(format!(
                "they sum to {sum}: at least one sample needs a positive weight, and the sum \
                 must be finite"
            ));
        }
        Ok(SampleWeights { values, sum })
    }

    /// One weight per sample.
    pub fn values(&self) -> &'a [F] {
        self.values
    }

    /// Σ_i s_i.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// s̄ = Σ_i s_i / N.
    pub fn mean(&self) -> f64 {
        self.sum / self.values.len() as f64
    }
}

/// [`Error::SampleWeights`] naming the first weight that is NaN, infinite or negative.
pub(crate) fn check_weight_values<F: Float>(values: &[F]) -> Result<()> {
    let invalid = |message: String| Err(Error::SampleWeights(message));
    if let Some((sample, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return invalid(format!("{value} at sample {sample}: every weight must be finite"));
    }
    if let Some((sample, value)) = values.iter().enumerate().find(|(_, v)| **v < F::zero()) {
        return invalid(format!("{value} at sample {sample}: every weight must be >= 0"));
    }
    Ok(())
}

/// [`Error::SampleWeights`] unless there is one weight per sample.
pub(crate) fn check_weight_count(n_weights: usize, n_samples: usize) -> Result<()> {
    match n_weights == n_samples {
        true => Ok(()),
        false => Err(Error::SampleWeights(format!(
            "{n_weights} weights for {n_samples} samples: every sample needs exactly one weight"
        ))),
    }
}

/// The labels of the samples a kernel reads (in the order it reads them), their weights if
/// any (as many as labels), and the normalizer of the summed loss: N without weights, Σ s_i
/// over a data set, or |B|·s̄ over a minibatch B (see [`super::loss_and_grad_picked`]), and
/// the label smoothing ε, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Targets<'a, F> {
    labels: &'a [usize],
    weights: Option<&'a [F]>,
    normalizer: F,
    /// ε in (0, 1) of smoothed targets; `None`: one-hot targets (ε = 0).
    smoothing: Option<F>,
}

impl<'a, F: Float> Targets<'a, F> {
    /// Unweighted: every s_i = 1, and the normalizer is N = `labels.len()`.
    pub(crate) fn unweighted(labels: &'a [usize]) -> Targets<'a, F> {
        Targets { labels, weights: None, normalizer: F::of(labels.len() as f64), smoothing: None }
    }

    /// The targets of a whole data set: weighted by `sample_weights` (normalizer Σ s_i) if
    /// there are any, otherwise [`Targets::unweighted`].
    pub(crate) fn of(labels: &'a [usize], sample_weights: Option<SampleWeights<'a, F>>) -> Self {
        match sample_weights {
            None => Targets::unweighted(labels),
            Some(weights) => Targets::weighted(labels, weights.values(), weights.sum()),
        }
    }

    /// Weighted by `weights` (one per label), the summed loss divided by `normalizer`.
    pub(crate) fn weighted(labels: &'a [usize], weights: &'a [F], normalizer: f64) -> Self {
        Targets { labels, weights: Some(weights), normalizer: F::of(normalizer), smoothing: None }
    }

    /// The same samples scored against smoothed targets q = (1 − ε)·onehot(y_i) + ε/C, or
    /// one-hot ones for ε = 0 (then every step is the one-hot step itself, bit for bit). The
    /// caller checks that 0 ≤ ε < 1 and that the loss is softmax
    /// ([`super::check_label_smoothing`]).
    pub(crate) fn smoothed(self, epsilon: f64) -> Targets<'a, F> {
        Targets { smoothing: (epsilon > 0.0).then(|| F::of(epsilon)), ..self }
    }

    /// ε of smoothed targets; `None` for one-hot targets.
    pub(crate) fn smoothing(&self) -> Option<F> {
        self.smoothing
    }

    /// The labels.
    pub(crate) fn labels(&self) -> &'a [usize] {
        self.labels
    }

    /// The weights, if any.
    pub(crate) fn weights(&self) -> Option<&'a [F]> {
        self.weights
    }

    /// What the summed loss and gradient are divided by.
    pub(crate) fn normalizer(&self) -> F {
        self.normalizer
    }

    /// s_i: the weight of sample `i`, 1 without weights.
    pub(crate) fn weight(&self, i: usize) -> F {
        self.weights.map_or(F::one(), |weights| weights[i])
    }

    /// The targets of the samples `rows` (a block of them), with the same normalizer.
    pub(crate) fn slice(&self, rows: std::ops::Range<usize>) -> Targets<'a, F> {
        Targets {
            labels: &self.labels[rows.clone()],
            weights: self.weights.map(|weights| &weights[rows]),
            normalizer: self.normalizer,
            smoothing: self.smoothing,
        }
    }

    /// Sample `i`'s step of a kernel's row loop: checks its `scores` f, then returns s_i·L_i and
    /// overwrites f with s_i·g ([`checked_row_step`], or with smoothed targets
    /// [`checked_smoothed_softmax_step`]). Without weights and smoothing it is
    /// [`checked_row_step`] itself (no multiplication by 1).
    #[inline(always)]
    pub(crate) fn step(
        &self,
        loss: Loss,
        scores: &mut [F],
        i: usize,
    ) -> std::result::Result<F, NonFiniteScores> {
        let label = self.labels[i];
        let row_loss = match self.smoothing {
            None => checked_row_step(loss, scores, label, i)?,
            Some(epsilon) => {
                debug_assert_eq!(loss, Loss::Softmax, "smoothing is refused for other losses");
                checked_smoothed_softmax_step(scores, label, i, epsilon)?
            }
        };
        let Some(weights) = self.weights else {
            return Ok(row_loss);
        };
        let weight = weights[i];
        for g in scores.iter_mut() {
            *g *= weight;
        }
        Ok(weight * row_loss)
    }
}
