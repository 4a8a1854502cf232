//! The softmax (cross-entropy) and multiclass SVM (hinge) losses with their gradients.
//!
//! # The math
//! For weights `W` (C×D) and a sample `x_i` (D) with label `y_i`, the scores are
//! `f = W x_i` (C). With `p_j = e^{f_j} / Σ_k e^{f_k}`:
//!
//! - **softmax**: `L_i = -f_{y_i} + log Σ_j e^{f_j} = -log p_{y_i}`, and
//!   `∂L_i/∂f_j = p_j − 1{j = y_i}`, so row `j` of `∂L_i/∂W` is `(p_j − 1{j = y_i}) x_i`.
//!   Every kernel first subtracts `max_j f_j` from the scores: `p` does not change (the factor
//!   `e^{-max}` cancels) but `e^{f_j}` can no longer overflow.
//! - **svm** (multiclass hinge, margin Δ = 1): `L_i = Σ_{j≠y_i} max(0, f_j − f_{y_i} + 1)`.
//!   Its subgradient: row `j ≠ y_i` gains `x_i` when its margin is positive, and row `y_i`
//!   loses `x_i` once for every such `j`.
//!
//! The data loss is the mean over the N samples, `L = (1/N) Σ_i L_i`, plus an L2 penalty in one of
//! two [`RegConvention`]s: `half` = ½·reg·ΣW² (gradient reg·W) or `full` = reg·ΣW² (gradient 2·reg·W).
//! `docs/softmax-gradient.md` derives all of this step by step.
//!
//! With label smoothing ε ∈ [0, 1) ([`LossOptions::label_smoothing`], softmax only) the targets
//! are q = (1 − ε)·onehot(y_i) + ε/C instead of onehot(y_i): `L_i = −Σ_j q_j log p_j` and
//! `∂L_i/∂f_j = p_j − q_j`. ε = 0 is the plain loss, computed exactly as without the option.
//!
//! With sample weights s_i ≥ 0 ([`loss_and_grad_weighted`]) the data loss is the weighted mean
//! `L = Σ_i s_i L_i / Σ_i s_i`, with gradient `Σ_i s_i ∂L_i/∂W / Σ_i s_i`: a weight of k counts
//! as k copies of the sample, and weights all 1 give the unweighted loss.
//!
//! # Kernels
//! Five implementations give the same numbers through one signature, [`loss_and_grad`]:
//! [`naive`] (loops that mirror the CS231n code line by line: the specification),
//! [`vectorized`] (whole-matrix operations), [`fused`] (one parallel pass over the rows),
//! [`gemm`] (the fused kernel's row blocks through matrix products, for many classes) and
//! [`sparse`] (the same pass over compressed sparse rows, touching only the nonzeros).
//! Their modules document the math; their functions are the crate's own, because they trust
//! the problem to be checked (shapes, labels, N, C, D ≥ 1, finite weights). Call them through
//! [`loss_and_grad`], [`loss_and_grad_weighted`], [`loss_and_grad_picked`] or
//! [`loss_and_grad_sparse`], which check first and take the kernel and the instruction set from
//! the `kernel` and `isa` fields of [`LossOptions`].
//!
//! # Modules
//! Each job has its module, and imports point one way (down this list, never back up):
//!
//! ```text
//! mod.rs (options, checks, loss_and_grad*) ──► naive, vectorized, fused, gemm, sparse, isa
//! fused  ──► blocks, dense_loops, isa, row      gemm ──► blocks, dense_loops (Rows), row
//! sparse ──► blocks, sparse_loops, sparse_rows, isa, row
//! naive, vectorized ──► row (check_scores)      blocks ──► dense_loops (GROUP, Rows)
//! dense_loops ──► isa                           sparse_loops ──► isa, sparse_rows
//! all of them ──► targets ──► row; all ──► types; isa, types, sparse_rows ──► nothing in loss/
//! ```
//!
//! - [`row`]: one sample's math, L_i and ∂L_i/∂f from its scores;
//! - `targets`: the samples' labels, optional weights ([`SampleWeights`]), the normalizer of
//!   the mean and the label smoothing, and the row step every fast kernel applies;
//! - `blocks`: the row-block partition and the fixed-order parallel reduction;
//! - [`isa`]: the instruction sets ([`Isa`], only ever detected) and the one dispatch to loops
//!   compiled for each;
//! - `dense_loops`, `sparse_loops`: the fused and sparse kernels' inner loops, which take a
//!   per-row step and know nothing of labels or losses; `sparse_rows`: [`sparse::SparseRows`].

mod blocks;
mod dense_loops;
pub mod fused;
pub mod gemm;
pub mod isa;
pub mod mapped;
pub mod naive;
pub mod row;
pub mod sparse;
mod sparse_loops;
mod sparse_rows;
mod targets;
mod types;
pub mod vectorized;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

pub use isa::Isa;
pub use targets::SampleWeights;
use types::Precise;
pub use types::{KernelResult, Loss, LossAndGrad, NonFiniteScores};

use targets::Targets;
pub(crate) use targets::{check_weight_count, check_weight_values};

use crate::names::named_enum;
use crate::{Error, Float, LossPart, Result};

named_enum! {
    "regularization convention",
    /// How the L2 penalty is scaled. Both are in use, so every `reg` is named with one.
    pub enum RegConvention {
        /// ½·reg·ΣW², gradient reg·W: the seed's convention (CS231n until 2017), our default.
        #[default]
        Half = "half",
        /// reg·ΣW², gradient 2·reg·W: CS231n since 2018.
        Full = "full",
    }
}

named_enum! {
    "kernel",
    /// Which implementation computes the loss and gradient. All give the same numbers.
    pub enum Kernel {
        /// Explicit loops that mirror the CS231n code: the specification, never optimized.
        Naive = "naive",
        /// Whole-matrix operations: scores = X Wᵀ, softmax, dW = (P − Y)ᵀ X / N.
        Vectorized = "vectorized",
        /// One parallel pass over the rows of X, each row used while it is in cache.
        Fused = "fused",
        /// The fused kernel's parallel row blocks, each through two matrix products: for many
        /// classes.
        Gemm = "gemm",
        /// The fused pass over X in compressed sparse rows: work ∝ the nonzeros of X. Dense
        /// inputs are converted on every call ([`sparse::SparseRows::from_dense`]).
        Sparse = "sparse",
        /// The fastest kernel for the shape (`fused`, or `gemm` for many classes).
        #[default]
        Auto = "auto",
    }
}

named_enum! {
    "layout",
    /// How the weight and input matrices are laid out. Kernels always see `canonical`; the
    /// others are converted at the edge, and the gradient comes back in the layout `W` came in.
    pub enum Layout {
        /// W: C×D (class-major), X: N×D (samples as rows).
        #[default]
        Canonical = "canonical",
        /// The seed's (CS231n 2015–2017): W: C×D, X: D×N (samples as columns).
        Seed = "seed",
        /// CS231n since 2018: W: D×C, X: N×D.
        Cs231n = "cs231n",
    }
}

impl RegConvention {
    /// The factors `(a, b)` of the penalty `a·ΣW²` and of its gradient `b·W` for strength `reg`:
    /// `(reg/2, reg)` for `half`, `(reg, 2·reg)` for `full`.
    pub fn factors(self, reg: f64) -> (f64, f64) {
        match self {
            RegConvention::Half => (0.5 * reg, reg),
            RegConvention::Full => (reg, 2.0 * reg),
        }
    }

    /// The penalty `a·ΣW²` (see [`RegConvention::factors`]).
    pub fn penalty<F: Float>(self, reg: f64, weights: ArrayView2<F>) -> F {
        F::of(self.penalty_f64(reg, weights))
    }

    /// [`Self::penalty`] in f64. float64 weights are summed in their own type, float32 ones
    /// in f64: summed in float32, a probe's 10^5–10^6 squares came out 6e-5 low, an error (and a
    /// noise) larger than all the rest of the objective's.
    pub(crate) fn penalty_f64<F: Float>(self, reg: f64, weights: ArrayView2<F>) -> f64 {
        let (penalty_factor, _) = self.factors(reg);
        let squares = match weights.as_slice_memory_order() {
            _ if std::mem::size_of::<F>() < 8 => weights.iter().map(|&w| w.as_f64().powi(2)).sum(),
            // Contiguous weights (any order) go through ndarray's unrolled dot product: a plain
            // running sum waits on each addition in turn (5% of a minibatch pass).
            Some(values) => ArrayView1::from(values).dot(&ArrayView1::from(values)).as_f64(),
            None => weights.iter().map(|&w| w * w).sum::<F>().as_f64(),
        };
        (F::of(penalty_factor) * F::of(squares)).as_f64()
    }

    /// Adds the penalty to the data loss `loss` and its gradient `b·W` to `grad`.
    ///
    /// # Errors
    /// [`Error::LossOverflow`] when the data loss, the penalty or the gradient is not finite
    /// in `F` (the scores were finite: the kernels check them).
    fn add_to<F: Float>(
        self,
        reg: f64,
        weights: ArrayView2<F>,
        loss: &mut f64,
        grad: &mut Array2<F>,
    ) -> Result<()> {
        let overflow = |part| Error::LossOverflow { part, dtype: F::DTYPE_NAME };
        if !F::of(*loss).is_finite() {
            return Err(overflow(LossPart::DataLoss));
        }
        if reg == 0.0 {
            return Ok(());
        }
        let (penalty_factor, grad_factor) = self.factors(reg);
        let penalty = self.penalty_f64(reg, weights);
        *loss += penalty;
        grad.scaled_add(F::of(grad_factor), &weights);
        // |b·w| ≤ b·√ΣW² for every weight: only when that bound overflows can the gradient.
        let bound = grad_factor * (penalty / penalty_factor).sqrt();
        if !F::of(*loss).is_finite()
            || !F::of(bound).is_finite() && grad.iter().any(|g| !g.is_finite())
        {
            return Err(overflow(LossPart::Penalty));
        }
        Ok(())
    }
}

impl Kernel {
    /// The concrete kernel that `auto` stands for with C classes and D features (the others
    /// stand for themselves): `gemm` once W (C×D) is too big for the fused kernel's row-at-a-time
    /// loops to keep in cache (C ≥ 96, or C ≥ 20 with C·D ≥ 60,000; measured on a 2-core AMD
    /// EPYC, where gemm is 1.2–1.9× faster there and fused 1.5–2× faster at C = 10), `fused`
    /// otherwise.
    pub fn resolve_for(self, n_classes: usize, n_features: usize) -> Kernel {
        match self {
            Kernel::Auto
                if n_classes >= 96 || (n_classes >= 20 && n_classes * n_features >= 60_000) =>
            {
                Kernel::Gemm
            }
            Kernel::Auto => Kernel::Fused,
            concrete => concrete,
        }
    }
}

impl Layout {
    /// The shapes of W and X in this layout, for messages.
    pub fn shapes(self) -> &'static str {
        match self {
            Layout::Canonical => "W: C×D, X: N×D",
            Layout::Seed => "W: C×D, X: D×N",
            Layout::Cs231n => "W: D×C, X: N×D",
        }
    }

    /// Views of `(W, X)` in the canonical layout (W: C×D, X: N×D). No data is copied.
    pub fn to_canonical<'a, F>(
        self,
        weights: ArrayView2<'a, F>,
        inputs: ArrayView2<'a, F>,
    ) -> (ArrayView2<'a, F>, ArrayView2<'a, F>) {
        match self {
            Layout::Canonical => (weights, inputs),
            Layout::Seed => (weights, inputs.reversed_axes()),
            Layout::Cs231n => (weights.reversed_axes(), inputs),
        }
    }

    /// A canonical C×D gradient in this layout's shape for W, in standard (row-major) order.
    pub fn grad_from_canonical<F: Float>(self, grad: Array2<F>) -> Array2<F> {
        match self {
            Layout::Canonical | Layout::Seed => grad,
            Layout::Cs231n => grad.reversed_axes().as_standard_layout().into_owned(),
        }
    }
}

/// Options of [`loss_and_grad`]. `LossOptions::default()` is the softmax loss, no
/// regularization (`half` convention), the `auto` kernel, the canonical layout and the best
/// instruction set of this CPU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossOptions {
    pub loss: Loss,
    /// Regularization strength, finite and ≥ 0.
    pub reg: f64,
    pub reg_convention: RegConvention,
    pub kernel: Kernel,
    pub layout: Layout,
    /// The instruction set of the fused and sparse kernels' loops and of the gemm kernel's row
    /// steps (the naive and vectorized kernels do not depend on one); `None`: the best this CPU
    /// has ([`Isa::detect`]). Results are the same bit for bit
    /// from run to run on one instruction set, and agree across them to rounding.
    pub isa: Option<Isa>,
    /// Label smoothing ε in [0, 1), softmax only: the targets are (1 − ε)·onehot(y) + ε/C.
    /// 0 (the default) is the plain cross-entropy, bit for bit.
    pub label_smoothing: f64,
}

impl LossOptions {
    /// The instruction set the fused and sparse kernels run on.
    fn isa(&self) -> Isa {
        self.isa.unwrap_or_else(Isa::detect)
    }
}

/// Computes the loss (mean data loss + L2 penalty) and its gradient with respect to `weights`.
///
/// Shapes follow `options.layout` (canonical: `weights` C×D, `inputs` N×D); `labels` has N
/// entries in `0..C`. The gradient has the shape and layout of `weights`. The `fused` and
/// `sparse` kernels run on the current rayon thread pool (use `ThreadPool::install` to choose
/// the thread count); their results do not depend on the number of threads.
///
/// ```
/// use ndarray::array;
/// use softmax::{loss_and_grad, LossOptions};
///
/// let weights = array![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]; // C = 3, D = 2
/// let inputs = array![[1.0, 2.0]]; // N = 1
/// let out = loss_and_grad(weights.view(), inputs.view(), &[2], &LossOptions::default())?;
/// assert!((out.loss - 3f64.ln()).abs() < 1e-12); // all scores equal: p = 1/3
/// assert!((out.grad[[2, 1]] - (1.0 / 3.0 - 1.0) * 2.0).abs() < 1e-12);
/// # Ok::<(), softmax::Error>(())
/// ```
///
/// # Errors
/// Shapes that disagree, a label count other than N, labels out of range, N, C or D equal to
/// zero, NaN or infinity in the weights or inputs, scores that overflow, a loss or penalty that
/// overflows ([`Error::LossOverflow`]), a negative or
/// non-finite `reg`, (`sparse` kernel) more than 2³² features, and (`vectorized` kernel, which
/// holds N×C scores) more memory than the system grants ([`Error::OutOfMemory`]).
pub fn loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    labels: &[usize],
    options: &LossOptions,
) -> Result<LossAndGrad<F>> {
    dense_loss_and_grad(weights, inputs, Targets::unweighted(labels), options).map(Precise::rounded)
}

/// [`loss_and_grad`] with one weight s_i ≥ 0 per sample: the data loss is the weighted mean
/// Σ_i s_i L_i / Σ_i s_i (a weight of k counts as k copies of the sample), its gradient
/// Σ_i s_i ∂L_i/∂W / Σ_i s_i, plus the penalty as always. Any layout and kernel.
///
/// ```
/// use ndarray::array;
/// use softmax::{LossOptions, loss_and_grad, loss_and_grad_weighted};
///
/// let weights = array![[0.5f64, -1.0], [0.0, 2.0]]; // C = 2, D = 2
/// let inputs = array![[1.0, 2.0], [3.0, -1.0]]; // N = 2
/// let options = LossOptions::default();
/// let weighted =
///     loss_and_grad_weighted(weights.view(), inputs.view(), &[0, 1], &[2.0, 1.0], &options)?;
/// // A weight of 2 is two copies of the sample.
/// let copies = array![[1.0, 2.0], [1.0, 2.0], [3.0, -1.0]];
/// let copied = loss_and_grad(weights.view(), copies.view(), &[0, 0, 1], &options)?;
/// assert!((weighted.loss - copied.loss).abs() < 1e-12);
/// # Ok::<(), softmax::Error>(())
/// ```
///
/// # Errors
/// Those of [`loss_and_grad`], and [`Error::SampleWeights`] for a weight count other than N,
/// a NaN, infinite or negative weight, or weights that sum to 0.
pub fn loss_and_grad_weighted<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    labels: &[usize],
    sample_weights: &[F],
    options: &LossOptions,
) -> Result<LossAndGrad<F>> {
    let sample_weights = SampleWeights::new(sample_weights)?;
    loss_and_grad_with(weights, inputs, labels, Some(sample_weights), options).map(Precise::rounded)
}

/// [`loss_and_grad`], weighted by checked `sample_weights` when there are any (as
/// [`loss_and_grad_weighted`]).
pub(crate) fn loss_and_grad_with<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    labels: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    dense_loss_and_grad(weights, inputs, Targets::of(labels, sample_weights), options)
}

/// The dense entry points' checks, the kernel, and the penalty.
fn dense_loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    targets: Targets<F>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let targets = checked_targets(targets, options)?;
    let (w, x) = options.layout.to_canonical(weights, inputs);
    check_problem(w, x.dim(), x.nrows(), targets, options.layout)?;
    let kernel_output = match (options.kernel.resolve_for(w.nrows(), w.ncols()), options.loss) {
        (Kernel::Naive, Loss::Softmax) => naive::softmax(w, x, targets),
        (Kernel::Naive, Loss::Svm) => naive::svm(w, x, targets),
        (Kernel::Vectorized, loss) => {
            crate::memory::check_grants::<F>(
                vectorized::HELD_SCORES * x.nrows() as f64 * w.nrows() as f64,
                "the vectorized kernel's N×C score matrices (the fused and gemm kernels hold a \
                 block of rows' scores instead)",
            )?;
            vectorized::loss_and_grad(w, x, targets, loss)
        }
        (Kernel::Fused | Kernel::Auto, loss) => {
            fused::loss_and_grad_on(options.isa(), w, x, targets, loss)
        }
        (Kernel::Gemm, loss) => gemm::loss_and_grad_on(options.isa(), w, x, targets, loss),
        (Kernel::Sparse, loss) => {
            let rows = sparse::SparseRows::from_dense(x)?;
            sparse::loss_and_grad_on(options.isa(), w, &rows, targets, loss)
        }
    };
    let LossAndGrad { mut loss, mut grad } =
        kernel_output.map_err(|bad| non_finite_scores_error(x.row(bad.sample), bad.sample))?;
    options.reg_convention.add_to(options.reg, w, &mut loss, &mut grad)?;
    Ok(LossAndGrad { loss, grad: options.layout.grad_from_canonical(grad) })
}

/// [`loss_and_grad`] on a minibatch: the rows `indices` of `inputs` (in `options.layout`), with
/// their `labels`. The fused kernel reads the rows where they lie instead of copying them out;
/// the other kernels (and other layouts) work on a copy.
///
/// # Errors
/// Those of [`loss_and_grad`], and an index that is not a row of `inputs`.
pub fn loss_and_grad_picked<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    indices: &[usize],
    labels: &[usize],
    options: &LossOptions,
) -> Result<LossAndGrad<F>> {
    loss_and_grad_picked_with(weights, inputs, indices, labels, None, options).map(Precise::rounded)
}

/// [`loss_and_grad_picked`], weighted by `sample_weights` (one per row of `inputs`, not per
/// index) when there are any. A minibatch B's data loss is then Σ_{i∈B} s_i L_i / (|B|·s̄),
/// with s̄ the mean weight of all the rows: its expectation over batches drawn uniformly (with
/// replacement) is the weighted mean loss of all the rows, and a batch whose weights sum to 0
/// has loss 0 rather than no loss.
///
/// # Errors
/// Those of [`loss_and_grad_picked`], and a weight count other than the rows of `inputs`.
pub(crate) fn loss_and_grad_picked_with<F: Float>(
    weights: ArrayView2<F>,
    inputs: ArrayView2<F>,
    indices: &[usize],
    labels: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let (w, x) = options.layout.to_canonical(weights, inputs);
    let batch_weights = batch_weights(indices, sample_weights, x.nrows())?;
    let targets = match &batch_weights {
        Some((batch, normalizer)) => Targets::weighted(labels, batch, *normalizer),
        None => Targets::unweighted(labels),
    };
    let kernel = options.kernel.resolve_for(w.nrows(), w.ncols());
    if kernel != Kernel::Fused || options.layout != Layout::Canonical {
        let batch = x.select(Axis(0), indices);
        let canonical = LossOptions { layout: Layout::Canonical, ..options.clone() };
        let out = dense_loss_and_grad(w, batch.view(), targets, &canonical)?;
        return Ok(LossAndGrad {
            loss: out.loss,
            grad: options.layout.grad_from_canonical(out.grad),
        });
    }
    let targets = checked_targets(targets, options)?;
    check_problem(w, x.dim(), indices.len(), targets, options.layout)?;
    let LossAndGrad { mut loss, mut grad } =
        fused::loss_and_grad_picked(options.isa(), w, x, indices, targets, options.loss)
            .map_err(|bad| non_finite_scores_error(x.row(bad.sample), bad.sample))?;
    options.reg_convention.add_to(options.reg, w, &mut loss, &mut grad)?;
    Ok(LossAndGrad { loss, grad })
}

/// [`loss_and_grad`] on inputs held as compressed sparse rows (W: C×D, X: N×D), with the
/// sparse kernel: convert once ([`sparse::SparseRows::from_dense`]) and call this every pass.
///
/// # Errors
/// Those of [`loss_and_grad`].
pub fn loss_and_grad_sparse<F: Float>(
    weights: ArrayView2<F>,
    inputs: &sparse::SparseRows<F>,
    labels: &[usize],
    options: &LossOptions,
) -> Result<LossAndGrad<F>> {
    loss_and_grad_sparse_with(weights, inputs, labels, None, options).map(Precise::rounded)
}

/// [`loss_and_grad_sparse`], weighted by `sample_weights` when there are any (as
/// [`loss_and_grad_weighted`]).
pub(crate) fn loss_and_grad_sparse_with<F: Float>(
    weights: ArrayView2<F>,
    inputs: &sparse::SparseRows<F>,
    labels: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let targets = Targets::of(labels, sample_weights);
    sparse_loss_and_grad(weights, inputs, targets, options)
}

/// The checked sparse kernel for `targets`, with the penalty.
fn sparse_loss_and_grad<F: Float>(
    weights: ArrayView2<F>,
    inputs: &sparse::SparseRows<F>,
    targets: Targets<F>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let targets = checked_targets(targets, options)?;
    let shape = (inputs.nrows(), inputs.ncols());
    check_problem(weights, shape, inputs.nrows(), targets, Layout::Canonical)?;
    let LossAndGrad { mut loss, mut grad } =
        sparse::loss_and_grad_on(options.isa(), weights, inputs, targets, options.loss).map_err(
            |bad| non_finite_scores_error(inputs.dense_row(bad.sample).view(), bad.sample),
        )?;
    options.reg_convention.add_to(options.reg, weights, &mut loss, &mut grad)?;
    Ok(LossAndGrad { loss, grad })
}

/// [`loss_and_grad_picked_with`] on sparse rows: the rows `indices` of `inputs` (copied out,
/// as a minibatch is small), with their `labels`, weighted as there.
///
/// # Errors
/// Those of [`loss_and_grad_sparse`], an index that is not a row of `inputs` and a weight count
/// other than its rows.
pub(crate) fn loss_and_grad_sparse_picked_with<F: Float>(
    weights: ArrayView2<F>,
    inputs: &sparse::SparseRows<F>,
    indices: &[usize],
    labels: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    options: &LossOptions,
) -> Result<Precise<F>> {
    let batch_weights = batch_weights(indices, sample_weights, inputs.nrows())?;
    let targets = match &batch_weights {
        Some((batch, normalizer)) => Targets::weighted(labels, batch, *normalizer),
        None => Targets::unweighted(labels),
    };
    let batch = inputs.select_rows(indices);
    sparse_loss_and_grad(weights, &batch, targets, options)
}

/// Checks that `indices` are rows of inputs with `n_rows` rows and returns, with weights, the
/// batch's weights and its normalizer |B|·s̄ (s̄ the mean weight of all the rows).
fn batch_weights<F: Float>(
    indices: &[usize],
    sample_weights: Option<SampleWeights<F>>,
    n_rows: usize,
) -> Result<Option<(Vec<F>, f64)>> {
    if let Some((position, &index)) = indices.iter().enumerate().find(|(_, i)| **i >= n_rows) {
        return Err(Error::IndexOutOfRange { index, position, n_rows });
    }
    let Some(all) = sample_weights else {
        return Ok(None);
    };
    check_weight_count(all.values().len(), n_rows)?;
    let batch = indices.iter().map(|&row| all.values()[row]).collect();
    Ok(Some((batch, indices.len() as f64 * all.mean())))
}

/// Refuses a negative or non-finite regularization strength.
pub fn check_reg(reg: f64) -> Result<()> {
    match reg.is_finite() && reg >= 0.0 {
        true => Ok(()),
        false => Err(Error::InvalidOption(format!("reg must be finite and >= 0, got {reg}"))),
    }
}

/// Refuses a label smoothing ε outside [0, 1), and ε > 0 with a loss other than softmax (the
/// hinge loss has no target distribution to smooth).
pub fn check_label_smoothing(epsilon: f64, loss: Loss) -> Result<()> {
    if !(0.0..1.0).contains(&epsilon) {
        return Err(Error::InvalidOption(format!(
            "label smoothing must be in [0, 1), got {epsilon}"
        )));
    }
    if epsilon > 0.0 && loss != Loss::Softmax {
        return Err(Error::InvalidOption(format!(
            "label smoothing ({epsilon}) is for the softmax loss only, not {loss}: the {loss} loss \
             has no target probabilities to smooth"
        )));
    }
    Ok(())
}

/// The options' checks that do not depend on the data (reg, label smoothing), then `targets`
/// smoothed as the options ask.
fn checked_targets<'a, F: Float>(
    targets: Targets<'a, F>,
    options: &LossOptions,
) -> Result<Targets<'a, F>> {
    check_reg(options.reg)?;
    check_label_smoothing(options.label_smoothing, options.loss)?;
    Ok(targets.smoothed(options.label_smoothing))
}

/// Checks canonical `w` (C×D), `x` (its rows have D features) and the `targets` (labels and
/// weights) of the `n_samples` rows a kernel will read, before it runs.
fn check_problem<F: Float>(
    w: ArrayView2<F>,
    x_shape: (usize, usize),
    n_samples: usize,
    targets: Targets<F>,
    layout: Layout,
) -> Result<()> {
    let labels = targets.labels();
    let (n_classes, n_features) = w.dim();
    let input_features = x_shape.1;
    if n_features != input_features {
        let (weights, inputs) = match layout {
            Layout::Canonical => (w.dim(), x_shape),
            Layout::Seed => (w.dim(), (x_shape.1, x_shape.0)),
            Layout::Cs231n => ((n_features, n_classes), x_shape),
        };
        return Err(Error::FeatureMismatch {
            weights: [weights.0, weights.1],
            inputs: [inputs.0, inputs.1],
            weights_features: n_features,
            inputs_features: input_features,
            layout: layout.name(),
            layout_shapes: layout.shapes(),
        });
    }
    for (count, what) in [
        (n_samples, "inputs have no samples (N = 0)"),
        (n_classes, "weights have no classes (C = 0)"),
        (n_features, "weights and inputs have no features (D = 0)"),
    ] {
        if count == 0 {
            return Err(Error::Empty(what.to_string()));
        }
    }
    if labels.len() != n_samples {
        return Err(Error::LabelCount { labels: labels.len(), samples: n_samples });
    }
    if let Some(weights) = targets.weights() {
        check_weight_count(weights.len(), n_samples)?;
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= n_classes) {
        return Err(Error::LabelOutOfRange { index, label: label as i128, n_classes });
    }
    // A fold rather than a search, so that it vectorizes (a search took 10% of a minibatch
    // pass); the place is looked up only when there is one.
    if !w.fold(true, |finite, v| finite & v.is_finite()) {
        let ((row, column), &value) =
            w.indexed_iter().find(|(_, v)| !v.is_finite()).expect("a non-finite weight");
        let location = format!("class {row}, feature {column}");
        return Err(Error::NonFinite { what: "weights", location, value: value.as_f64() });
    }
    Ok(())
}

/// The error for a sample whose scores are not finite, given its input `row`: a NaN or
/// infinity in the row if there is one, otherwise an overflow of the scores.
fn non_finite_scores_error<F: Float>(row: ArrayView1<F>, sample: usize) -> Error {
    match row.iter().position(|v| !v.is_finite()) {
        Some(column) => Error::NonFinite {
            what: "inputs",
            location: format!("sample {sample}, feature {column}"),
            value: row[column].as_f64(),
        },
        None => Error::ScoreOverflow { sample, dtype: F::DTYPE_NAME },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::random_problem;

    /// `LossOptions::isa` reaches the fused and sparse kernels: with it the library's result is
    /// the kernel's on that instruction set, bit for bit, and `None` is the best one.
    #[test]
    fn loss_options_choose_the_instruction_set() {
        let p = random_problem::<f32>(300, 70, 6, 0.2, 21);
        let (w, x) = (p.weights.view(), p.inputs.view());
        let rows = sparse::SparseRows::from_dense(x).unwrap();
        for isa in Isa::available() {
            for kernel in [Kernel::Fused, Kernel::Sparse] {
                let options = LossOptions { kernel, isa: Some(isa), ..Default::default() };
                let out = loss_and_grad(w, x, &p.labels, &options).unwrap();
                let targets = Targets::unweighted(&p.labels);
                let expected = match kernel {
                    Kernel::Fused => fused::loss_and_grad_on(isa, w, x, targets, Loss::Softmax),
                    _ => sparse::loss_and_grad_on(isa, w, &rows, targets, Loss::Softmax),
                }
                .unwrap()
                .rounded();
                assert_eq!(out, expected, "{kernel} on {isa}");
            }
        }
        let best = LossOptions { isa: Some(Isa::detect()), ..Default::default() };
        assert_eq!(
            loss_and_grad(w, x, &p.labels, &LossOptions::default()).unwrap(),
            loss_and_grad(w, x, &p.labels, &best).unwrap()
        );
    }

    /// A minibatch of every row once (in any order) is the whole weighted data set: its loss,
    /// Σ_i s_i L_i / (N·s̄), is the weighted mean; so are compressed sparse rows. A batch with
    /// repeated rows gives Σ_{i∈B} s_i L_i / (|B|·s̄), from one-row losses. Every kernel and
    /// layout, f64, to 1e-12.
    #[test]
    fn weighted_minibatches_and_sparse_rows_are_the_weighted_mean() {
        let p = random_problem::<f64>(230, 12, 5, 0.4, 3);
        let sample_weights: Vec<f64> = (0..230).map(|i| ((i * 37) % 5) as f64 * 0.75).collect();
        let all = SampleWeights::new(&sample_weights).unwrap();
        let mean_weight = sample_weights.iter().sum::<f64>() / 230.0;
        let everyone: Vec<usize> = (0..230).rev().collect();
        let batch: Vec<usize> = (0..150).map(|i| (i * 7919) % 230).collect();
        let close = |a: &LossAndGrad<f64>, b: &LossAndGrad<f64>, what: &str| {
            assert!((a.loss - b.loss).abs() <= 1e-12 * b.loss.abs(), "{what}: loss");
            let scale = b.grad.fold(0f64, |m, g| m.max(g.abs()));
            let error = (&a.grad - &b.grad).fold(0f64, |m, g| m.max(g.abs()));
            assert!(error <= 1e-12 * scale, "{what}: gradient differs by {error:e}");
        };
        for kernel in
            [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse]
        {
            for loss in Loss::ALL.iter().copied() {
                let options = LossOptions { loss, kernel, ..Default::default() };
                let (w, x) = (p.weights.view(), p.inputs.view());
                let whole =
                    loss_and_grad_weighted(w, x, &p.labels, &sample_weights, &options).unwrap();
                let labels_of =
                    |rows: &[usize]| rows.iter().map(|&i| p.labels[i]).collect::<Vec<_>>();
                let picked = |rows: &[usize], layout: Layout| {
                    let (w, x) = match layout {
                        Layout::Seed => {
                            (p.weights.clone(), p.inputs.t().as_standard_layout().into_owned())
                        }
                        _ => (p.weights.clone(), p.inputs.clone()),
                    };
                    let options = LossOptions { layout, ..options.clone() };
                    let labels = labels_of(rows);
                    loss_and_grad_picked_with(
                        w.view(),
                        x.view(),
                        rows,
                        &labels,
                        Some(all),
                        &options,
                    )
                    .unwrap()
                };
                for layout in [Layout::Canonical, Layout::Seed] {
                    let what = format!("{kernel} {loss} {layout}");
                    close(&picked(&everyone, layout), &whole, &format!("{what}: every row"));
                    // Σ_{i∈B} s_i L_i / (|B|·s̄) from one-row losses (each its own mean).
                    let mut expected =
                        LossAndGrad { loss: 0.0, grad: Array2::zeros(p.weights.dim()) };
                    for &row in &batch {
                        let one = loss_and_grad(
                            w,
                            x.slice(ndarray::s![row..row + 1, ..]),
                            &p.labels[row..row + 1],
                            &options,
                        )
                        .unwrap();
                        expected.loss += sample_weights[row] * one.loss;
                        expected.grad.scaled_add(sample_weights[row], &one.grad);
                    }
                    let normalizer = batch.len() as f64 * mean_weight;
                    expected.loss /= normalizer;
                    expected.grad /= normalizer;
                    close(&picked(&batch, layout), &expected, &format!("{what}: a batch"));
                }
                let rows = sparse::SparseRows::from_dense(x).unwrap();
                let on_rows =
                    loss_and_grad_sparse_with(w, &rows, &p.labels, Some(all), &options).unwrap();
                close(&on_rows, &whole, &format!("{kernel} {loss}: sparse rows"));
            }
        }
        // The weights of another data set are refused, not read out of range.
        let (w, x) = (p.weights.view(), p.inputs.view());
        let short = SampleWeights::new(&sample_weights[..10]).unwrap();
        let err =
            loss_and_grad_picked_with(w, x, &[0, 20], &[0, 1], Some(short), &Default::default());
        assert!(matches!(err, Err(Error::SampleWeights(m)) if m.contains("10 weights for 230")));
    }
}
