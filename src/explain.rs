//! The worked example behind `softmax explain`: the answer to the seed's question, *how is the
//! gradient of the softmax loss computed?*, with every intermediate number of a tiny problem.
//!
//! # The math it shows
//! For weights `W` (C×D) and a sample `x_i` (D) with label `y_i`, the scores are `f_j = w_j·x_i`
//! (`w_j` is row `j` of `W`).
//!
//! - **softmax**: `p_j = e^{f_j − max} / Σ_k e^{f_k − max}` (the shift by `max_k f_k` leaves `p`
//!   unchanged), `L_i = −(f_{y_i} − max) + log Σ_k e^{f_k − max} = −log p_{y_i}`, and row `j` of
//!   `∂L_i/∂W` is `(p_j − 1{j = y_i}) · x_i`.
//! - **svm**: `L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1)`; row `j ≠ y_i` of `∂L_i/∂W` is `x_i` when
//!   its margin is positive (else 0), and row `y_i` is `−(number of positive margins) · x_i`.
//!
//! Then `L = (1/N) Σ_i L_i + R(W)` and `dW = (1/N) Σ_i ∂L_i/∂W + ∂R/∂W`, with
//! `R = ½·reg·ΣW²`, `∂R/∂W = reg·W` (`half`) or `R = reg·ΣW²`, `∂R/∂W = 2·reg·W` (`full`).
//!
//! The example computes all of this with its own plain loops (an independent check), then
//! compares the result with [`loss_and_grad`] under every kernel and with a numerical gradient
//! by centered differences, and says whether they agree.
//!
//! [`explain`] writes it all as text for a seeded problem ([`example_problem`]); [`work`] gives
//! the same numbers as values for any problem (the web demo's page recomputes them as its
//! inputs are edited).

use std::fmt::{self, Write};

use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::gradcheck::centered_difference;
use crate::loss::check_reg;
use crate::synthetic::Problem;
use crate::{Error, Kernel, Loss, LossOptions, RegConvention, Result, loss_and_grad};

/// The step `h` of the centered differences `(f(W + h·e) − f(W − h·e)) / 2h`.
const STEP: f64 = 1e-5;
/// Largest absolute difference allowed between the example's numbers and a kernel's.
const KERNEL_TOLERANCE: f64 = 1e-9;
/// Largest relative error allowed between the example's gradient and the numerical one.
const RELATIVE_TOLERANCE: f64 = 1e-6;
/// Gradient entries with `|a| + |n|` below this are zero up to rounding: centered differences
/// carry an absolute error of about ε·|L|/h ≈ 1e-11, so their relative error is noise. With
/// the example's rounded data an entry can be exactly 0 (e.g. `reg·W` cancelling an svm
/// gradient), and such an entry counts as agreeing.
const ZERO_SCALE: f64 = 1e-8;
/// The kernels the example is checked against.
const KERNELS: [Kernel; 5] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse];
/// Decimals of the computed numbers in the tables.
const DECIMALS: usize = 4;
/// Decimals of the total loss, printed precisely enough to compare with the library's.
const LOSS_DECIMALS: usize = 10;

/// Options of the worked example.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// Seed of the weights, inputs and labels (ChaCha8).
    pub seed: u64,
    /// Which loss to explain.
    pub loss: Loss,
    /// Regularization strength, finite and ≥ 0.
    pub reg: f64,
    /// How the L2 penalty is scaled.
    pub reg_convention: RegConvention,
    /// C, at least 1.
    pub n_classes: usize,
    /// D, at least 1.
    pub n_features: usize,
    /// N, at least 1.
    pub n_samples: usize,
}

impl Default for ExplainOptions {
    /// Seed 0, the softmax loss, reg 0.1 in the `half` convention, C = 3, D = 4, N = 2.
    fn default() -> Self {
        ExplainOptions {
            seed: 0,
            loss: Loss::Softmax,
            reg: 0.1,
            reg_convention: RegConvention::Half,
            n_classes: 3,
            n_features: 4,
            n_samples: 2,
        }
    }
}

/// The worked example as text (aligned columns, for a terminal), ending with the checks.
///
/// # Errors
/// [`Error::InvalidOption`] when C, D or N is 0 or `reg` is negative or not finite; any error
/// of [`loss_and_grad`] while checking (none is expected for valid options).
pub fn explain(options: &ExplainOptions) -> Result<String> {
    validate(options)?;
    let problem = example_problem(options);
    let WorkedExample { worked, checks } =
        work(&problem, options.loss, options.reg, options.reg_convention)?;
    let mut out = String::new();
    write_example(&mut out, options, &problem, &worked, &checks)
        .expect("writing to a String cannot fail");
    Ok(out)
}

/// The example's own numbers for a problem, and the checks of them against the library.
#[derive(Clone, Debug)]
pub struct WorkedExample {
    pub worked: Worked,
    pub checks: Checks,
}

/// Every intermediate number of the `loss` of `problem` (W: C×D, X: N×D, y: N labels in
/// `0..C`) with the L2 penalty `reg` in `reg_convention`, computed with the example's plain
/// loops, then checked against [`loss_and_grad`] under every kernel and a numerical gradient.
///
/// # Errors
/// What [`loss_and_grad`] refuses: shapes that disagree, labels out of range, an empty
/// dimension, a NaN or infinity, scores that overflow, a negative or non-finite `reg`.
pub fn work(
    problem: &Problem<f64>,
    loss: Loss,
    reg: f64,
    reg_convention: RegConvention,
) -> Result<WorkedExample> {
    let terms = Terms { loss, reg, reg_convention };
    // The library checks the problem before the example's loops index into it.
    library_loss_and_grad(problem, problem.weights.view(), terms, Kernel::Naive)?;
    let worked = Worked::compute(problem, terms);
    let checks = Checks::run(problem, &worked, terms)?;
    Ok(WorkedExample { worked, checks })
}

/// The loss and its penalty: what the computation depends on besides the data.
#[derive(Clone, Copy, Debug)]
struct Terms {
    loss: Loss,
    reg: f64,
    reg_convention: RegConvention,
}

/// Refuses empty shapes and a negative or non-finite `reg`.
fn validate(options: &ExplainOptions) -> Result<()> {
    for (count, name) in [
        (options.n_classes, "n_classes"),
        (options.n_features, "n_features"),
        (options.n_samples, "n_samples"),
    ] {
        if count == 0 {
            return Err(Error::InvalidOption(format!("{name} must be at least 1, got 0")));
        }
    }
    check_reg(options.reg)
}

// ---------------------------------------------------------------------------------------------
// The problem and the example's own computation
// ---------------------------------------------------------------------------------------------

/// The example's data, W (C×D), X (N×D) and y (N labels in `0..C`), as readable numbers from
/// the options' seed and shapes: `W = 0.5·randn` rounded to 0.01, `X = randn` rounded to 0.1,
/// labels uniform in `0..C` (drawn in that order from one ChaCha8 stream). With a shape of 0,
/// the matrices are empty (and [`work`] refuses them).
pub fn example_problem(options: &ExplainOptions) -> Problem<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let (c, d, n) = (options.n_classes, options.n_features, options.n_samples);
    let weights = Array2::from_shape_fn((c, d), |_| round_to(0.5 * normal(&mut rng), 2));
    let inputs = Array2::from_shape_fn((n, d), |_| round_to(normal(&mut rng), 1));
    let labels = (0..n).map(|_| rng.random_range(0..c.max(1))).collect();
    Problem { weights, inputs, labels }
}

/// One draw of the standard normal distribution.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// `value` rounded to `decimals` decimals, with −0 made +0.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale + 0.0
}

/// The scores `f_j = w_j·x = Σ_d W[j, d]·x[d]` of every class `j`, as explicit sums.
fn scores(weights: ArrayView2<f64>, x: ArrayView1<f64>) -> Vec<f64> {
    weights.rows().into_iter().map(|w_j| w_j.iter().zip(x).map(|(w, x)| w * x).sum()).collect()
}

/// The C×D matrix whose row `j` is `coefficients[j]·x`: one sample's `∂L_i/∂W`.
fn outer(coefficients: &[f64], x: ArrayView1<f64>) -> Array2<f64> {
    Array2::from_shape_fn((coefficients.len(), x.len()), |(j, d)| coefficients[j] * x[d])
}

/// 1 when `condition` holds, else 0: the indicator `1{·}`.
fn indicator(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

/// Every intermediate number of one sample's softmax loss and gradient.
#[derive(Clone, Debug)]
pub struct SoftmaxStep {
    /// `f_j = w_j·x_i`.
    pub scores: Vec<f64>,
    /// `max_j f_j`.
    pub max: f64,
    /// `f_j − max`.
    pub shifted: Vec<f64>,
    /// `e^{f_j − max}`.
    pub exps: Vec<f64>,
    /// `Σ_j e^{f_j − max}`.
    pub sum: f64,
    /// `p_j = e^{f_j − max} / Σ`.
    pub probs: Vec<f64>,
    /// `p_j − 1{j = y_i}`: row `j` of `∂L_i/∂W` is this times `x_i`.
    pub coefficients: Vec<f64>,
    /// `L_i = −(f_{y_i} − max) + log Σ`.
    pub loss: f64,
}

impl SoftmaxStep {
    /// Computes sample `x` with label `label` step by step.
    fn compute(weights: ArrayView2<f64>, x: ArrayView1<f64>, label: usize) -> Self {
        let scores = scores(weights, x);
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let shifted: Vec<f64> = scores.iter().map(|f| f - max).collect();
        let exps: Vec<f64> = shifted.iter().map(|s| s.exp()).collect();
        let sum: f64 = exps.iter().sum();
        let probs: Vec<f64> = exps.iter().map(|e| e / sum).collect();
        let coefficients: Vec<f64> =
            probs.iter().enumerate().map(|(j, p)| p - indicator(j == label)).collect();
        let loss = -shifted[label] + sum.ln();
        SoftmaxStep { scores, max, shifted, exps, sum, probs, coefficients, loss }
    }
}

/// Every intermediate number of one sample's svm loss and subgradient.
#[derive(Clone, Debug)]
pub struct SvmStep {
    /// `f_j = w_j·x_i`.
    pub scores: Vec<f64>,
    /// `f_j − f_{y_i} + 1` for `j ≠ y_i`, `None` for `y_i`.
    pub margins: Vec<Option<f64>>,
    /// Row `j` of `∂L_i/∂W` is this times `x_i`: 1 for a positive margin, 0 for another
    /// `j ≠ y_i`, −(number of positive margins) for `y_i`.
    pub coefficients: Vec<f64>,
    /// `L_i = Σ_{j≠y_i} max(0, margin_j)`.
    pub loss: f64,
}

impl SvmStep {
    /// Computes sample `x` with label `label` step by step.
    fn compute(weights: ArrayView2<f64>, x: ArrayView1<f64>, label: usize) -> Self {
        let scores = scores(weights, x);
        let margins: Vec<Option<f64>> = (0..scores.len())
            .map(|j| (j != label).then(|| scores[j] - scores[label] + 1.0))
            .collect();
        let positive = margins.iter().flatten().filter(|&&m| m > 0.0).count();
        let coefficients = margins
            .iter()
            .map(|m| match m {
                Some(m) => indicator(*m > 0.0),
                None => -(positive as f64),
            })
            .collect();
        let loss = margins.iter().flatten().map(|m| m.max(0.0)).sum();
        SvmStep { scores, margins, coefficients, loss }
    }
}

/// One sample's part of the example.
#[derive(Clone, Debug)]
pub enum Step {
    Softmax(SoftmaxStep),
    Svm(SvmStep),
}

impl Step {
    /// `L_i`.
    pub fn loss(&self) -> f64 {
        match self {
            Step::Softmax(step) => step.loss,
            Step::Svm(step) => step.loss,
        }
    }

    /// The coefficients `c_j` with row `j` of `∂L_i/∂W` = `c_j · x_i`.
    pub fn coefficients(&self) -> &[f64] {
        match self {
            Step::Softmax(step) => &step.coefficients,
            Step::Svm(step) => &step.coefficients,
        }
    }

    /// `∂L_i/∂W` of the sample `x` (= `x_i`): row `j` is `c_j · x_i`.
    pub fn grad(&self, x: ArrayView1<f64>) -> Array2<f64> {
        outer(self.coefficients(), x)
    }
}

/// The L2 penalty `R = factor·ΣW²` and its gradient `grad_factor·W`, with their formulas.
struct Penalty {
    factor: f64,
    grad_factor: f64,
    formula: &'static str,
    grad_formula: &'static str,
}

impl Penalty {
    /// `half`: ½·reg·ΣW² and reg·W; `full`: reg·ΣW² and 2·reg·W.
    fn new(convention: RegConvention, reg: f64) -> Self {
        match convention {
            RegConvention::Half => Penalty {
                factor: 0.5 * reg,
                grad_factor: reg,
                formula: "0.5·reg·ΣW²",
                grad_formula: "reg·W",
            },
            RegConvention::Full => Penalty {
                factor: reg,
                grad_factor: 2.0 * reg,
                formula: "reg·ΣW²",
                grad_formula: "2·reg·W",
            },
        }
    }
}

/// The example's own numbers: every sample's step, then the averages and the penalty.
#[derive(Clone, Debug)]
pub struct Worked {
    pub steps: Vec<Step>,
    /// `(1/N) Σ_i L_i`.
    pub data_loss: f64,
    /// `ΣW²`.
    pub sum_squares: f64,
    /// `R(W)`.
    pub reg_loss: f64,
    /// `(1/N) Σ_i L_i + R(W)`.
    pub loss: f64,
    /// `(1/N) Σ_i ∂L_i/∂W`.
    pub data_grad: Array2<f64>,
    /// `∂R/∂W`.
    pub reg_grad: Array2<f64>,
    /// `dW = (1/N) Σ_i ∂L_i/∂W + ∂R/∂W`.
    pub grad: Array2<f64>,
}

impl Worked {
    /// Runs every sample's step and averages, with plain arithmetic (no library kernel).
    fn compute(problem: &Problem<f64>, terms: Terms) -> Self {
        let w = problem.weights.view();
        let steps: Vec<Step> = problem
            .inputs
            .rows()
            .into_iter()
            .zip(&problem.labels)
            .map(|(x, &label)| match terms.loss {
                Loss::Softmax => Step::Softmax(SoftmaxStep::compute(w, x, label)),
                Loss::Svm => Step::Svm(SvmStep::compute(w, x, label)),
            })
            .collect();
        let n = steps.len() as f64;
        let data_loss = steps.iter().map(Step::loss).sum::<f64>() / n;
        let mut data_grad = Array2::zeros(w.raw_dim());
        for (step, x) in steps.iter().zip(problem.inputs.rows()) {
            data_grad += &step.grad(x);
        }
        data_grad /= n;
        let penalty = Penalty::new(terms.reg_convention, terms.reg);
        let sum_squares: f64 = w.iter().map(|v| v * v).sum();
        let reg_loss = penalty.factor * sum_squares;
        let reg_grad = w.mapv(|v| penalty.grad_factor * v);
        let grad = &data_grad + &reg_grad;
        let loss = data_loss + reg_loss;
        Worked { steps, data_loss, sum_squares, reg_loss, loss, data_grad, reg_grad, grad }
    }
}

// ---------------------------------------------------------------------------------------------
// The checks against the library
// ---------------------------------------------------------------------------------------------

/// The library's answer under one kernel, compared with the example's.
#[derive(Clone, Debug)]
pub struct KernelCheck {
    pub kernel: Kernel,
    /// The library's loss.
    pub loss: f64,
    /// `|L − L_library|`.
    pub loss_diff: f64,
    /// `max |dW − dW_library|`.
    pub grad_diff: f64,
}

/// A margin `f_j − f_{y_i} + 1` of the svm loss close enough to its kink at 0 that the
/// centered differences step over it.
#[derive(Clone, Debug)]
pub struct Kink {
    pub sample: usize,
    pub class: usize,
    pub margin: f64,
}

/// All the closing checks.
#[derive(Clone, Debug)]
pub struct Checks {
    pub kernels: Vec<KernelCheck>,
    /// `max |a − n| / (|a| + |n|)` over every entry of W (0 where both are zero up to
    /// rounding, see [`ZERO_SCALE`]), with `a` the example's gradient and `n` the numerical one.
    pub max_relative_error: f64,
    /// How many entries had `0 < |a| + |n| < ZERO_SCALE` and counted as 0.
    pub rounding_zeros: usize,
    /// The svm margins within `h·max_d |x_id|` of 0 (none for softmax).
    pub kinks: Vec<Kink>,
}

impl Checks {
    /// Runs [`loss_and_grad`] under every kernel and the numerical gradient.
    fn run(problem: &Problem<f64>, worked: &Worked, terms: Terms) -> Result<Self> {
        let mut kernels = Vec::with_capacity(KERNELS.len());
        for kernel in KERNELS {
            let library = library_loss_and_grad(problem, problem.weights.view(), terms, kernel)?;
            kernels.push(KernelCheck {
                kernel,
                loss: library.loss,
                loss_diff: (worked.loss - library.loss).abs(),
                grad_diff: max_abs_diff(&worked.grad, &library.grad),
            });
        }
        let numerical = numerical_gradient(problem, terms)?;
        let pairs = || worked.grad.iter().zip(&numerical);
        let max_relative_error = worst(pairs().map(|(&a, &n)| relative_error(a, n)));
        let rounding_zeros = pairs()
            .map(|(a, n)| a.abs() + n.abs())
            .filter(|&scale| scale > 0.0 && scale < ZERO_SCALE)
            .count();
        Ok(Checks {
            kernels,
            max_relative_error,
            rounding_zeros,
            kinks: near_kinks(problem, worked),
        })
    }

    /// What disagrees, one phrase each; empty when everything agrees.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for check in &self.kernels {
            let worst = check.loss_diff.max(check.grad_diff);
            if worst.is_nan() || worst > KERNEL_TOLERANCE {
                failures.push(format!(
                    "{} differs by {worst:.1e} (> {KERNEL_TOLERANCE:.0e})",
                    check.kernel
                ));
            }
        }
        let error = self.max_relative_error;
        if error.is_nan() || error > RELATIVE_TOLERANCE {
            failures.push(format!(
                "numerical gradient: relative error {error:.1e} (> {RELATIVE_TOLERANCE:.0e})"
            ));
        }
        failures
    }
}

/// [`loss_and_grad`] on the example's inputs and labels with `weights`, under `kernel`.
fn library_loss_and_grad(
    problem: &Problem<f64>,
    weights: ArrayView2<f64>,
    terms: Terms,
    kernel: Kernel,
) -> Result<crate::LossAndGrad<f64>> {
    let library_options = library_options(terms, kernel);
    loss_and_grad(weights, problem.inputs.view(), &problem.labels, &library_options)
}

/// The library's options for the example's loss and regularization, under `kernel`.
fn library_options(terms: Terms, kernel: Kernel) -> LossOptions {
    LossOptions {
        loss: terms.loss,
        reg: terms.reg,
        reg_convention: terms.reg_convention,
        kernel,
        ..LossOptions::default()
    }
}

/// `(f(W + h·e_jd) − f(W − h·e_jd)) / 2h` at every entry `(j, d)` of W, with
/// `f` = the library's (naive) loss.
fn numerical_gradient(problem: &Problem<f64>, terms: Terms) -> Result<Array2<f64>> {
    let library_options = library_options(terms, Kernel::Naive);
    let mut weights = problem.weights.clone();
    let mut numerical = Array2::zeros(weights.raw_dim());
    for ((j, d), slot) in numerical.indexed_iter_mut() {
        *slot = centered_difference(
            &mut weights,
            problem.inputs.view(),
            &problem.labels,
            &library_options,
            [j, d],
            STEP,
        )?;
    }
    Ok(numerical)
}

/// The svm margins within `h·max_d |x_id|` of 0: moving one weight by ±h moves a margin by
/// at most that much, so the centered differences there may straddle the kink of `max(0, ·)`.
fn near_kinks(problem: &Problem<f64>, worked: &Worked) -> Vec<Kink> {
    let mut kinks = Vec::new();
    for (sample, step) in worked.steps.iter().enumerate() {
        let Step::Svm(step) = step else { continue };
        let reach = STEP * worst(problem.inputs.row(sample).iter().map(|x| x.abs()));
        let margins = step.margins.iter().enumerate();
        let margins = margins.filter_map(|(class, margin)| Some((class, (*margin)?)));
        for (class, margin) in margins.filter(|(_, margin)| margin.abs() <= reach) {
            kinks.push(Kink { sample, class, margin });
        }
    }
    kinks
}

/// `|a − n| / (|a| + |n|)`, defined as 0 when both are 0 up to rounding
/// (`|a| + |n| <` [`ZERO_SCALE`]).
fn relative_error(a: f64, n: f64) -> f64 {
    let scale = a.abs() + n.abs();
    if scale < ZERO_SCALE { 0.0 } else { (a - n).abs() / scale }
}

/// `max |a − b|` over all entries (NaN if any difference is NaN).
fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    worst(a.iter().zip(b).map(|(x, y)| (x - y).abs()))
}

/// The largest of `values` (0 if there are none), NaN as soon as one is NaN.
fn worst(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |max, v| if v > max || v.is_nan() { v } else { max })
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes every section in order.
fn write_example(
    out: &mut String,
    options: &ExplainOptions,
    problem: &Problem<f64>,
    worked: &Worked,
    checks: &Checks,
) -> fmt::Result {
    write_header(out, options)?;
    write_data(out, problem)?;
    for (i, step) in worked.steps.iter().enumerate() {
        let (x, label) = (problem.inputs.row(i), problem.labels[i]);
        match step {
            Step::Softmax(step) => write_softmax_step(out, i, x, label, step)?,
            Step::Svm(step) => write_svm_step(out, i, x, label, step)?,
        }
    }
    write_totals(out, options, worked)?;
    write_checks(out, options, worked, checks)
}

/// A section title, underlined.
fn write_title(out: &mut String, title: &str) -> fmt::Result {
    writeln!(out)?;
    writeln!(out, "{title}")?;
    writeln!(out, "{}", "─".repeat(title.chars().count()))
}

/// Section 1: the formulas, the shapes and the regularization.
fn write_header(out: &mut String, options: &ExplainOptions) -> fmt::Result {
    let title = format!("Worked example: the {} loss and its gradient", options.loss);
    writeln!(out, "{title}")?;
    writeln!(out, "{}", "═".repeat(title.chars().count()))?;
    let penalty = Penalty::new(options.reg_convention, options.reg);
    writeln!(out, "  scores      f_j = w_j·x_i   (w_j = row j of W, x_i = row i of X)")?;
    match options.loss {
        Loss::Softmax => {
            writeln!(
                out,
                "  probability p_j = e^(f_j − max) / Σ_k e^(f_k − max),  max = max_k f_k"
            )?;
            writeln!(
                out,
                "  loss        L_i = −(f_{{y_i}} − max) + log Σ_k e^(f_k − max) = −log p_{{y_i}}"
            )?;
            writeln!(out, "  gradient    row j of ∂L_i/∂W = (p_j − 1{{j = y_i}}) · x_i")?;
        }
        Loss::Svm => {
            writeln!(out, "  loss        L_i = Σ_{{j≠y_i}} max(0, f_j − f_{{y_i}} + 1)")?;
            writeln!(
                out,
                "  gradient    row j ≠ y_i of ∂L_i/∂W = 1{{f_j − f_{{y_i}} + 1 > 0}} · x_i"
            )?;
            writeln!(
                out,
                "              row y_i of ∂L_i/∂W = −(number of positive margins) · x_i"
            )?;
        }
    }
    writeln!(
        out,
        "  total       L = (1/N) Σ_i L_i + {},  dW = (1/N) Σ_i ∂L_i/∂W + {}",
        penalty.formula, penalty.grad_formula
    )?;
    let (c, d, n) = (options.n_classes, options.n_features, options.n_samples);
    writeln!(
        out,
        "  shapes      W: C×D = {c}×{d},  X: N×D = {n}×{d},  y: N = {n} labels in 0..{c}"
    )?;
    writeln!(
        out,
        "  reg         {} ({} convention: penalty {}, gradient {})",
        options.reg, options.reg_convention, penalty.formula, penalty.grad_formula
    )?;
    writeln!(
        out,
        "  data        seed {}: W = 0.5·randn to 0.01, X = randn to 0.1, y uniform in 0..C",
        options.seed
    )
}

/// Section 2: W, X and y.
fn write_data(out: &mut String, problem: &Problem<f64>) -> fmt::Result {
    write_title(out, "The data")?;
    writeln!(out, "  W (C×D), row j = w_j:")?;
    matrix_table("j", problem.weights.view(), 2).write(out)?;
    writeln!(out, "  X (N×D), row i = x_i, with its label y_i:")?;
    let mut table = matrix_table("i", problem.inputs.view(), 1);
    table.header.push("y_i".to_string());
    for (row, label) in table.rows.iter_mut().zip(&problem.labels) {
        row.push(label.to_string());
    }
    table.write(out)
}

/// The first line of a sample's section: `x_i` and `y_i`.
fn write_sample_title(out: &mut String, i: usize, x: ArrayView1<f64>, label: usize) -> fmt::Result {
    let entries: Vec<String> = x.iter().map(|v| format!("{v:.1}")).collect();
    let title =
        format!("Sample i = {i}:  x{s} = [{}],  y{s} = {label}", entries.join(", "), s = sub(i));
    write_title(out, &title)
}

/// Section 3 for one softmax sample: the table of classes, `Σ`, `L_i` and `∂L_i/∂W`.
fn write_softmax_step(
    out: &mut String,
    i: usize,
    x: ArrayView1<f64>,
    label: usize,
    step: &SoftmaxStep,
) -> fmt::Result {
    write_sample_title(out, i, x, label)?;
    let header = [
        "",
        "f_j = w_j·x_i",
        "f_j − max",
        "e^(f_j − max)",
        "p_j",
        "1{j = y_i}",
        "p_j − 1{j = y_i}",
    ];
    let rows = (0..step.scores.len())
        .map(|j| {
            vec![
                class_name(j, label, i),
                fixed(step.scores[j], DECIMALS),
                fixed(step.shifted[j], DECIMALS),
                fixed(step.exps[j], DECIMALS),
                fixed(step.probs[j], DECIMALS),
                fixed(indicator(j == label), 0),
                fixed(step.coefficients[j], DECIMALS),
            ]
        })
        .collect();
    Table::new(&header, rows).write(out)?;
    let s = sub(i);
    writeln!(
        out,
        "  max = max_j f_j = {}  (subtracted so that e^(·) ≤ 1: p is unchanged)",
        fixed(step.max, DECIMALS)
    )?;
    writeln!(out, "  Σ = Σ_j e^(f_j − max) = {}", fixed(step.sum, DECIMALS))?;
    writeln!(
        out,
        "  L{s} = −(f_{{y{s}}} − max) + log Σ = −({}) + log {} = {}",
        fixed(step.shifted[label], DECIMALS),
        fixed(step.sum, DECIMALS),
        fixed(step.loss, DECIMALS),
    )?;
    let indent = " ".repeat(2 + format!("L{s}").chars().count());
    writeln!(
        out,
        "{indent} = −log p_{{y{s}}} = −log {}  (the same, without the shift)",
        fixed(step.probs[label], DECIMALS)
    )?;
    writeln!(out, "  ∂L{s}/∂W, row j = (p_j − 1{{j = y{s}}}) · x{s}:")?;
    matrix_table("j", outer(&step.coefficients, x).view(), DECIMALS).write(out)
}

/// Section 3 for one svm sample: the table of classes, `L_i` and `∂L_i/∂W`.
fn write_svm_step(
    out: &mut String,
    i: usize,
    x: ArrayView1<f64>,
    label: usize,
    step: &SvmStep,
) -> fmt::Result {
    write_sample_title(out, i, x, label)?;
    let header = ["", "f_j = w_j·x_i", "margin f_j − f_{y_i} + 1", "max(0, ·)", "1{· > 0}", "c_j"];
    let rows = (0..step.scores.len())
        .map(|j| {
            let (margin, hinge, positive) = match step.margins[j] {
                Some(m) => {
                    (fixed(m, DECIMALS), fixed(m.max(0.0), DECIMALS), fixed(indicator(m > 0.0), 0))
                }
                None => ("—".to_string(), "—".to_string(), "—".to_string()),
            };
            let coefficient = fixed(step.coefficients[j], 0);
            vec![
                class_name(j, label, i),
                fixed(step.scores[j], DECIMALS),
                margin,
                hinge,
                positive,
                coefficient,
            ]
        })
        .collect();
    Table::new(&header, rows).write(out)?;
    let s = sub(i);
    let hinges: Vec<String> =
        step.margins.iter().flatten().map(|m| fixed(m.max(0.0), DECIMALS)).collect();
    let terms = if hinges.is_empty() { "(no other class)".to_string() } else { hinges.join(" + ") };
    writeln!(
        out,
        "  L{s} = Σ_{{j≠y{s}}} max(0, margin) = {terms} = {}",
        fixed(step.loss, DECIMALS)
    )?;
    writeln!(
        out,
        "  ∂L{s}/∂W, row j = c_j · x{s} (x{s} per positive margin; y{s} gets −count · x{s}):"
    )?;
    matrix_table("j", outer(&step.coefficients, x).view(), DECIMALS).write(out)
}

/// The row name of class `j` in a sample's table, marking the correct class.
fn class_name(j: usize, label: usize, i: usize) -> String {
    if j == label { format!("j={j} = y{}", sub(i)) } else { format!("j={j}") }
}

/// Section 4: the averages, the penalty, the total loss and dW.
fn write_totals(out: &mut String, options: &ExplainOptions, worked: &Worked) -> fmt::Result {
    let n = worked.steps.len();
    write_title(out, &format!("Average over the N = {n} samples, plus regularization"))?;
    let penalty = Penalty::new(options.reg_convention, options.reg);
    let sum: f64 = worked.steps.iter().map(Step::loss).sum();
    let (data, reg) = (fixed(worked.data_loss, DECIMALS), fixed(worked.reg_loss, DECIMALS));
    writeln!(out, "  data loss   (1/N) Σ_i L_i = {} / {n} = {data}", fixed(sum, DECIMALS))?;
    writeln!(out, "  ΣW²         {}", fixed(worked.sum_squares, DECIMALS))?;
    writeln!(
        out,
        "  penalty     {} = {} · {} = {reg}",
        penalty.formula,
        penalty.factor,
        fixed(worked.sum_squares, DECIMALS)
    )?;
    writeln!(out, "  total loss  L = {data} + {reg} = {}", fixed(worked.loss, LOSS_DECIMALS))?;
    writeln!(out, "  (1/N) Σ_i ∂L_i/∂W:")?;
    matrix_table("j", worked.data_grad.view(), DECIMALS).write(out)?;
    writeln!(out, "  penalty gradient {} = {} · W:", penalty.grad_formula, penalty.grad_factor)?;
    matrix_table("j", worked.reg_grad.view(), DECIMALS).write(out)?;
    writeln!(out, "  dW = (1/N) Σ_i ∂L_i/∂W + {}:", penalty.grad_formula)?;
    matrix_table("j", worked.grad.view(), DECIMALS).write(out)
}

/// Section 5: the library's loss and gradient under every kernel, the numerical gradient and
/// the verdict.
fn write_checks(
    out: &mut String,
    options: &ExplainOptions,
    worked: &Worked,
    checks: &Checks,
) -> fmt::Result {
    write_title(out, "Checks")?;
    writeln!(out, "  softmax::loss_and_grad on the same W, X, y, reg and convention:")?;
    let header = ["kernel", "loss", "|L − L_library|", "max |dW − dW_library|"];
    let rows = checks
        .kernels
        .iter()
        .map(|c| {
            vec![
                c.kernel.to_string(),
                fixed(c.loss, LOSS_DECIMALS),
                format!("{:.1e}", c.loss_diff),
                format!("{:.1e}", c.grad_diff),
            ]
        })
        .collect();
    Table::new(&header, rows).write(out)?;
    writeln!(
        out,
        "  numerical gradient: (f(W + h·e) − f(W − h·e)) / 2h, h = {STEP:.0e}, at all {} entries of W",
        worked.grad.len()
    )?;
    writeln!(
        out,
        "  with f = loss_and_grad: max |a − n| / (|a| + |n|) = {:.1e}",
        checks.max_relative_error
    )?;
    if checks.rounding_zeros > 0 {
        writeln!(
            out,
            "  ({} with |a| + |n| < {ZERO_SCALE:.0e} {} 0 up to rounding and counted as 0)",
            count(checks.rounding_zeros, "entry", "entries"),
            if checks.rounding_zeros == 1 { "is" } else { "are" }
        )?;
    }
    if options.loss == Loss::Svm {
        writeln!(
            out,
            "  (the svm loss has kinks where a margin is 0: a margin within h·|x| of 0 would spoil this)"
        )?;
    }
    write_verdict(out, options, checks)
}

/// The last lines: ✓ when everything agrees, ✗ MISMATCH with the reasons otherwise.
fn write_verdict(out: &mut String, options: &ExplainOptions, checks: &Checks) -> fmt::Result {
    writeln!(out)?;
    let failures = checks.failures();
    if failures.is_empty() {
        writeln!(out, "✓ these numbers equal softmax::loss_and_grad (naive, vectorized, fused)")?;
        return writeln!(
            out,
            "  and a numerical gradient (max relative error {:.1e})",
            checks.max_relative_error
        );
    }
    writeln!(out, "✗ MISMATCH: {}", failures.join("; "))?;
    if options.loss == Loss::Svm && checks.max_relative_error <= RELATIVE_TOLERANCE {
        return Ok(());
    }
    if options.loss == Loss::Svm && checks.kinks.is_empty() {
        writeln!(
            out,
            "  (a margin within h of 0 is a kink of the svm loss and can spoil the numerical gradient)"
        )?;
    }
    for kink in &checks.kinks {
        writeln!(
            out,
            "  (sample {}, class {}: margin {:.1e} is within h·|x| of the kink of max(0, ·),",
            kink.sample, kink.class, kink.margin
        )?;
        writeln!(out, "   where the numerical gradient is not the subgradient)")?;
    }
    Ok(())
}

/// A table of text cells under a header: the first column (row names) left-aligned, the
/// others right-aligned, every column as wide as its widest cell (and at least `min_width`).
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The least width of the columns after the first, so that tables of one kind line up.
    min_width: usize,
}

impl Table {
    /// A table with this header and these rows (each as long as the header).
    fn new(header: &[&str], rows: Vec<Vec<String>>) -> Self {
        Table { header: header.iter().map(|h| h.to_string()).collect(), rows, min_width: 0 }
    }

    /// Writes the table, indented by 4 spaces, columns 2 spaces apart.
    fn write(&self, out: &mut String) -> fmt::Result {
        let all = || std::iter::once(&self.header).chain(&self.rows);
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                let widest = all().map(|row| row[c].chars().count()).max().unwrap_or(0);
                if c == 0 { widest } else { widest.max(self.min_width) }
            })
            .collect();
        for row in all() {
            let mut line = String::from("    ");
            for (c, (cell, &width)) in row.iter().zip(&widths).enumerate() {
                match c {
                    0 => write!(line, "{cell:<width$}")?,
                    _ => write!(line, "  {cell:>width$}")?,
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A matrix as a table: rows named `{row_name}=0, …`, columns `d=0, …`, every column wide
/// enough for `-0.` and the decimals.
fn matrix_table(row_name: &str, matrix: ArrayView2<f64>, decimals: usize) -> Table {
    let header =
        std::iter::once(String::new()).chain((0..matrix.ncols()).map(|d| format!("d={d}")));
    let rows = matrix
        .rows()
        .into_iter()
        .enumerate()
        .map(|(r, row)| {
            let cells = row.iter().map(|&v| fixed(v, decimals));
            std::iter::once(format!("{row_name}={r}")).chain(cells).collect()
        })
        .collect();
    Table { header: header.collect(), rows, min_width: decimals + 3 }
}

/// `value` with `decimals` decimals, without the sign of a value that rounds to zero.
fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// `n` followed by the singular or plural noun (`1 entry`, `2 entries`).
fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// `i` in subscript digits (`12` → `₁₂`).
fn sub(i: usize) -> String {
    i.to_string()
        .chars()
        .map(|c| {
            let digit = c.to_digit(10).expect("a usize prints as decimal digits");
            char::from_u32('₀' as u32 + digit).expect("₀..₉ are characters")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of `text` that starts (after spaces) with `prefix`.
    fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|line| line.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
    }

    #[test]
    fn default_output_agrees_with_the_library() {
        let text = explain(&ExplainOptions::default()).expect("valid options");
        assert!(text.contains("✓ these numbers equal softmax::loss_and_grad"), "{text}");
        assert!(!text.contains("MISMATCH"), "{text}");
        assert!(text.trim_end().lines().last().unwrap().contains("numerical gradient"));
    }

    #[test]
    fn softmax_output_shows_the_steps_and_the_library_loss() {
        let options = ExplainOptions { seed: 7, reg: 0.25, ..ExplainOptions::default() };
        let text = explain(&options).expect("valid options");
        for needle in ["p_j", "f_j − max", "e^(f_j − max)", "1{j = y_i}", "p_j − 1{j = y_i}"]
        {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(text.matches("Sample i = ").count(), options.n_samples);

        let problem = example_problem(&options);
        let library = loss_and_grad(
            problem.weights.view(),
            problem.inputs.view(),
            &problem.labels,
            &LossOptions { reg: 0.25, kernel: Kernel::Naive, ..LossOptions::default() },
        )
        .unwrap();
        let total = line_starting(&text, "total loss");
        assert!(total.ends_with(&format!("= {}", fixed(library.loss, LOSS_DECIMALS))), "{total}");
        // Every kernel's loss is printed with the same formatting in the checks.
        for kernel in KERNELS {
            let row = line_starting(&text, kernel.name());
            assert!(row.contains(&fixed(library.loss, LOSS_DECIMALS)), "{row}");
        }
        assert!(text.contains("✓"), "{text}");
    }

    #[test]
    fn the_example_matches_the_math_by_hand() {
        // Two classes, one feature, one sample x = 1, label 0, W = [[a], [b]]:
        // p_1 = 1 / (1 + e^(a − b)), L = log(1 + e^(b − a)), dW = [[p_0 − 1], [p_1]].
        let weights = ndarray::array![[0.5], [-0.25]];
        let x = ndarray::array![1.0];
        let step = SoftmaxStep::compute(weights.view(), x.view(), 0);
        let p1 = 1.0 / (1.0 + 0.75f64.exp());
        assert!((step.probs[1] - p1).abs() < 1e-15);
        assert!((step.loss - (1.0 + (-0.75f64).exp()).ln()).abs() < 1e-15);
        assert!((step.coefficients[0] - (-p1)).abs() < 1e-15);
        // svm: margin of class 1 = −0.25 − 0.5 + 1 = 0.25 > 0, so L = 0.25, c = [−1, 1].
        let step = SvmStep::compute(weights.view(), x.view(), 0);
        assert!((step.loss - 0.25).abs() < 1e-15);
        assert_eq!(step.coefficients, vec![-1.0, 1.0]);
    }

    #[test]
    fn svm_output_agrees_with_the_library() {
        for reg_convention in [RegConvention::Half, RegConvention::Full] {
            let options =
                ExplainOptions { loss: Loss::Svm, reg_convention, ..ExplainOptions::default() };
            let text = explain(&options).expect("valid options");
            assert!(text.contains("margin f_j − f_{y_i} + 1"), "{text}");
            assert!(text.contains('—'), "{text}");
            assert!(text.contains("kink"), "{text}");
            assert!(text.contains("✓ these numbers equal"), "{text}");
            assert!(!text.contains("MISMATCH"), "{text}");
        }
    }

    #[test]
    fn many_seeds_agree() {
        for seed in 0..20 {
            for loss in [Loss::Softmax, Loss::Svm] {
                let options =
                    ExplainOptions { seed, loss, n_classes: 4, n_samples: 3, ..Default::default() };
                let text = explain(&options).expect("valid options");
                assert!(!text.contains("MISMATCH"), "seed {seed}, {loss}:\n{text}");
            }
        }
    }

    #[test]
    fn the_data_depends_only_on_the_seed() {
        let a = explain(&ExplainOptions::default()).unwrap();
        let b = explain(&ExplainOptions::default()).unwrap();
        let c = explain(&ExplainOptions { seed: 1, ..Default::default() }).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_mismatch_is_reported() {
        let checks = Checks {
            kernels: vec![KernelCheck {
                kernel: Kernel::Fused,
                loss: 1.0,
                loss_diff: 0.0,
                grad_diff: 1e-3,
            }],
            max_relative_error: f64::NAN,
            rounding_zeros: 0,
            kinks: vec![Kink { sample: 1, class: 2, margin: 1e-17 }],
        };
        let options = ExplainOptions { loss: Loss::Svm, ..Default::default() };
        let mut text = String::new();
        write_verdict(&mut text, &options, &checks).unwrap();
        assert!(text.contains("✗ MISMATCH: fused differs by 1.0e-3"), "{text}");
        assert!(text.contains("numerical gradient: relative error NaN"), "{text}");
        assert!(text.contains("sample 1, class 2: margin 1.0e-17"), "{text}");
        assert!(!text.contains('✓'), "{text}");
    }

    #[test]
    fn work_computes_a_given_problem_and_refuses_a_bad_one() {
        // One sample x = [1, 2], label 1, W = 0 (C = 2): p = [½, ½], L = ln 2, and
        // dW = (p − e_1) ⊗ x + reg·W = [[½, 1], [−½, −1]].
        let problem = Problem {
            weights: ndarray::array![[0.0, 0.0], [0.0, 0.0]],
            inputs: ndarray::array![[1.0, 2.0]],
            labels: vec![1],
        };
        let example = work(&problem, Loss::Softmax, 0.5, RegConvention::Full).unwrap();
        assert!((example.worked.loss - 2f64.ln()).abs() < 1e-15);
        assert_eq!(example.worked.grad, ndarray::array![[0.5, 1.0], [-0.5, -1.0]]);
        assert!(example.checks.failures().is_empty(), "{:?}", example.checks.failures());
        assert_eq!(example.checks.kernels.len(), KERNELS.len());

        let bad_label = Problem { labels: vec![2], ..problem.clone() };
        assert!(work(&bad_label, Loss::Softmax, 0.0, RegConvention::Half).is_err());
        let bad_shape = Problem { inputs: ndarray::array![[1.0]], ..problem };
        assert!(work(&bad_shape, Loss::Svm, 0.0, RegConvention::Half).is_err());
    }

    #[test]
    fn invalid_options_are_errors() {
        let cases = [
            ExplainOptions { n_classes: 0, ..Default::default() },
            ExplainOptions { n_features: 0, ..Default::default() },
            ExplainOptions { n_samples: 0, ..Default::default() },
            ExplainOptions { reg: -1.0, ..Default::default() },
            ExplainOptions { reg: f64::NAN, ..Default::default() },
        ];
        for options in cases {
            assert!(matches!(explain(&options), Err(Error::InvalidOption(_))), "{options:?}");
        }
    }

    #[test]
    fn helpers_format_as_documented() {
        assert_eq!(sub(0), "₀");
        assert_eq!(sub(12), "₁₂");
        assert_eq!(fixed(-0.00001, 4), "0.0000");
        assert_eq!(fixed(-0.5, 2), "-0.50");
        assert_eq!(relative_error(0.0, 0.0), 0.0);
        assert_eq!(relative_error(1.0, -1.0), 1.0);
        assert_eq!(round_to(-0.004, 2).to_string(), "0");
    }
}
