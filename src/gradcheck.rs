//! Gradient check: the analytic gradient against centered differences at random coordinates,
//! as CS231n's `grad_check_sparse`.
//!
//! For a coordinate k of W: n = (L(W + h·e_k) − L(W − h·e_k)) / (2h), whose error is O(h²),
//! compared with the analytic a = ∂L/∂W_k by the relative error |a − n| / (|a| + |n|).
//! In `f64` a correct softmax gradient checks below 1e-7; `f32` is too coarse for h = 1e-5,
//! so checks run in `f64`. The hinge loss has kinks: a margin within h of 0 can spoil one check.

use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::{Error, Kernel, LossOptions, Result, loss_and_grad};

/// The most coordinates one gradient check takes. Each check costs two full loss passes and
/// keeps one [`Check`] in the report, so a million are already far more than finding a wrong
/// gradient needs; a larger count is a mistake that would otherwise ask for a report of
/// terabytes (and abort when it cannot be allocated) or run for days.
pub const MAX_CHECKS: usize = 1_000_000;

/// How many coordinates to check, the step h, and the seed that picks the coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckOptions {
    /// 1 to [`MAX_CHECKS`] coordinates, drawn with replacement (as CS231n's): more than the
    /// C·D weights checks some twice.
    pub checks: usize,
    pub step: f64,
    pub seed: u64,
}

impl Default for GradCheckOptions {
    /// CS231n's defaults: 10 checks, h = 1e-5.
    fn default() -> Self {
        GradCheckOptions { checks: 10, step: 1e-5, seed: 0 }
    }
}

impl GradCheckOptions {
    /// Checks the options before any work: what [`gradient_check`] does first, for a caller
    /// that must build the problem before it can call it.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for a count of checks outside 1..=[`MAX_CHECKS`] and a step that
    /// is not finite and positive.
    pub fn check(&self) -> Result<()> {
        if self.checks == 0 {
            return Err(Error::InvalidOption("checks must be at least 1".into()));
        }
        if self.checks > MAX_CHECKS {
            return Err(Error::InvalidOption(format!(
                "checks must be at most {MAX_CHECKS} (each costs two loss passes), got {}",
                self.checks
            )));
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(Error::InvalidOption(format!(
                "step must be finite and > 0, got {}",
                self.step
            )));
        }
        Ok(())
    }
}

/// One checked coordinate of W (an index in W's own layout).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub index: [usize; 2],
    pub numerical: f64,
    pub analytic: f64,
    pub relative_error: f64,
}

/// The result of [`gradient_check`]: the loss at W, every check, and the largest error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GradCheckReport {
    /// The kernel that computed the analytic gradient (`auto` resolved for the shape).
    pub kernel: Kernel,
    pub loss: f64,
    /// The largest of the checks' relative errors; NaN if one of them is NaN.
    pub max_relative_error: f64,
    pub checks: Vec<Check>,
}

/// |a − n| / (|a| + |n|), and 0 when both are 0.
pub fn relative_error(analytic: f64, numerical: f64) -> f64 {
    let scale = analytic.abs() + numerical.abs();
    if scale == 0.0 { 0.0 } else { (analytic - numerical).abs() / scale }
}

/// The largest of `errors`, 0 for none, and NaN if one is NaN: a check that could not be
/// computed must not read as a perfect one (`f64::max` skips NaN).
fn largest(errors: impl Iterator<Item = f64>) -> f64 {
    errors.fold(0.0, |max, error| if error > max || error.is_nan() { error } else { max })
}

/// (L(W + h·e_k) − L(W − h·e_k)) / 2h for the coordinate k = `index` of `weights` (in its own
/// layout), with L = [`loss_and_grad`]'s loss. `weights` is restored before returning.
pub fn centered_difference(
    weights: &mut Array2<f64>,
    inputs: ArrayView2<f64>,
    labels: &[usize],
    loss_options: &LossOptions,
    index: [usize; 2],
    step: f64,
) -> Result<f64> {
    let original = weights[index];
    let mut loss_with = |value: f64| -> Result<f64> {
        weights[index] = value;
        Ok(loss_and_grad(weights.view(), inputs, labels, loss_options)?.loss)
    };
    let loss_plus = loss_with(original + step);
    let loss_minus = loss_with(original - step);
    weights[index] = original;
    Ok((loss_plus? - loss_minus?) / (2.0 * step))
}

/// Checks the gradient of [`loss_and_grad`] (with `loss_options`) at `checks.checks` random
/// coordinates of `weights`, in `f64`.
///
/// # Errors
/// Those of [`loss_and_grad`] and of [`GradCheckOptions::check`].
pub fn gradient_check(
    weights: ArrayView2<f64>,
    inputs: ArrayView2<f64>,
    labels: &[usize],
    loss_options: &LossOptions,
    checks: &GradCheckOptions,
) -> Result<GradCheckReport> {
    checks.check()?;
    let at_weights = loss_and_grad(weights, inputs, labels, loss_options)?;
    let mut perturbed: Array2<f64> = weights.to_owned();
    let mut rng = ChaCha8Rng::seed_from_u64(checks.seed);
    let (rows, columns) = weights.dim();
    let mut report = Vec::with_capacity(checks.checks);
    for _ in 0..checks.checks {
        let index = [rng.random_range(0..rows), rng.random_range(0..columns)];
        let numerical =
            centered_difference(&mut perturbed, inputs, labels, loss_options, index, checks.step)?;
        let analytic = at_weights.grad[index];
        let relative_error = relative_error(analytic, numerical);
        report.push(Check { index, numerical, analytic, relative_error });
    }
    let max_relative_error = largest(report.iter().map(|c| c.relative_error));
    let (w, _) = loss_options.layout.to_canonical(weights, inputs);
    let kernel = loss_options.kernel.resolve_for(w.nrows(), w.ncols());
    Ok(GradCheckReport { kernel, loss: at_weights.loss, max_relative_error, checks: report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_error_is_nan_if_any_is() {
        assert_eq!(largest([1e-9, 3e-7, 2e-8].into_iter()), 3e-7);
        assert_eq!(largest(std::iter::empty()), 0.0);
        assert!(largest([1e-9, f64::NAN, 1e-3].into_iter()).is_nan());
        assert!(largest([f64::NAN, 1e-3].into_iter()).is_nan());
    }
}
