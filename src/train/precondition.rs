//! A preconditioner for L-BFGS from the inputs' second moments.
//!
//! The Hessian of the mean softmax loss, (1/N) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x_i x_iᵀ, is close to
//! B ⊗ A, with A = E[x xᵀ] the second moment of the augmented inputs (the bias column included)
//! and B the classes' mean curvature. Its conditioning is then A's: on pixels A's eigenvalues
//! span eight orders of magnitude (CIFAR-10 scaled to [0, 1]: 1.3e-6 to 746) and L-BFGS needs
//! hundreds of passes, where on whitened inputs it needs tens.
//!
//! L-BFGS therefore runs on V with W = V L⁻¹, where L Lᵀ = A + μI (Cholesky). The objective is
//! evaluated at W as it is (the penalty included); its gradient in V is G_V = G_W L⁻ᵀ, so a step
//! −G_V in V is the step −G_W (A + μI)⁻¹ in W. L-BFGS only takes inner products of gradients
//! and steps, so it goes the same way for any factor R with R Rᵀ = (A + μI)⁻¹: the Cholesky
//! factor does what the symmetric root (A + μI)^(−1/2) would, without an eigendecomposition.
//! The minimum is the same; only the path to it changes.
//!
//! μ = max(g·C, 0.05·ā), g the penalty's gradient factor (`reg` with the `half` convention) and
//! ā A's mean diagonal. Along a direction where A's eigenvalue a is small the Hessian is about
//! b·a + g, B's scale b being 1/C at the start (every p = 1/C): g·C makes A + μI the Hessian
//! over b there. But b falls as the fit grows confident, so μ has a floor; the best floor
//! differed between data sets and 0.05 is a compromise (passes with μ/ā = 0.02, 0.05, 0.2, 1:
//! CIFAR-10 25, 33, 54, –; MNIST –, 114, 103, 94; the digits 71, 62, 64, 70;
//! docs/benchmarks.md). A + μI is then divided by
//! its mean diagonal, so that inputs already whitened (A = aI) give L = I.
//!
//! A is estimated from an evenly spaced sample of [`sample_rows`] rows.

use std::cmp::Ordering;

use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::{Mat, MatRef, Par, Side};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::{Inputs, Objective, Precondition};
use crate::distributed::partition::{Partition, Placement, tree_sum};
use crate::preprocess::Bias;
use crate::{Error, Float, Result, SampleWeights};

/// The fewest rows A is estimated from (all of them when the training set has fewer).
const MIN_SAMPLE_ROWS: usize = 4096;
/// Sample rows read at a time.
const CHUNK_ROWS: usize = 1024;
/// Columns of A each parallel task sums.
const BLOCK_COLUMNS: usize = 128;
/// Rows of the weights multiplied by L⁻¹ at a time, in parallel.
const PRODUCT_ROWS: usize = 32;
/// `auto` preconditions inputs whose means carry at least this share of their second moment
/// (‖E[x]‖² / E[‖x‖²]): pixels scaled to [0, 1] or raw embeddings, where the passes fell (see
/// the module doc), and not standardized or centered ones (share 0), where they rose: MNIST
/// standardized took 623 passes against 312, the digits 153 against 122, and isotropic
/// Gaussian inputs (share 3e-5) gained nothing. Shares measured: CIFAR-10 scaled 0.78, the
/// digits 0.69, MNIST 0.40. (The share is read off A, so `auto` on centered inputs still
/// computes A, at most a pass's work, before it declines.)
const AUTO_MEAN_SHARE: f64 = 0.1;
/// The least μ, relative to A's mean diagonal.
const SHIFT: f64 = 0.05;

/// The rows A is estimated from, for `n_rows` inputs of `n_columns` columns and `n_classes`
/// classes: as many as its products cost no more than a pass over all rows (n·(D+1)² against
/// 4·N·(D+1)·C multiply-adds), and at least [`MIN_SAMPLE_ROWS`] and twice the columns; all of
/// them at most. A is the Hessian's factor only on all rows: a sample of n rows of isotropic
/// inputs in D dimensions has eigenvalues spread over (1 ± √(D/n))², an anisotropy the data do
/// not have. On CIFAR-10 (3,073 columns, where a pass buys 637 rows and the floor 6,146) a
/// sample of 4,000 of 20,000 rows took L-BFGS to within 1e-6 of the optimum in 21 passes, all
/// of them in 18 (NumPy experiment, docs/benchmarks.md).
fn sample_rows(n_rows: usize, n_columns: usize, n_classes: usize) -> usize {
    let one_pass = 4usize.saturating_mul(n_rows).saturating_mul(n_classes) / n_columns.max(1);
    one_pass.max(MIN_SAMPLE_ROWS).max(2 * n_columns).min(n_rows)
}

/// W = V L⁻¹, for L-BFGS's variables V (see the module doc).
#[derive(Clone, Debug)]
pub(super) struct Preconditioner {
    /// L⁻¹, (D+1)×(D+1), lower triangular.
    inverse_factor: Array2<f64>,
}

impl Preconditioner {
    /// The preconditioner of `objective`'s inputs, and the variables V₀ = W₀ L of the starting
    /// weights `initial` (C×(D+1)); with `auto`, `None` for centered inputs
    /// ([`AUTO_MEAN_SHARE`]).
    ///
    /// # Errors
    /// A mapped file cut short since it was mapped; [`Error::OutOfMemory`] for more columns
    /// than four (D+1)² float64 matrices fit in memory; [`Error::Training`] when A + μI is not
    /// positive definite (an input that is not finite would make it so, but the passes refuse
    /// those first).
    pub(super) fn of_inputs<F: Float>(
        objective: &Objective<F>,
        initial: ArrayView2<f64>,
        precondition: Precondition,
    ) -> Result<Option<(Preconditioner, Array2<f64>)>> {
        let columns = objective.inputs.ncols() as f64;
        // A, its shifted copy, L and L⁻¹ at the peak (each (D+1)² f64).
        crate::memory::check_grants::<f64>(4.0 * columns * columns, "--precondition inputs")?;
        let moment = second_moment(objective.inputs, objective.sample_weights, initial.nrows())?;
        let n_columns = moment.size;
        let bias = n_columns - 1;
        if precondition == Precondition::Auto && moment.mean_share() < AUTO_MEAN_SHARE {
            return Ok(None);
        }
        let entry = |i: usize, j: usize| match objective.bias {
            // The bias stays 0: its column must not mix with the others either way.
            Bias::None if i == bias || j == bias => f64::from(u8::from(i == j)),
            _ => moment.get(i, j),
        };
        let (_, grad_factor) = objective.reg_convention.factors(objective.reg);
        let mean_diagonal = (0..n_columns).map(|j| entry(j, j)).sum::<f64>() / n_columns as f64;
        let shift = (grad_factor * initial.nrows() as f64).max(SHIFT * mean_diagonal);
        // The lower triangle, which is all the Cholesky factorization reads, over its mean
        // diagonal, so that inputs already whitened (A = aI) give L = I and L-BFGS its plain
        // path, first step included.
        let scale = 1.0 / (mean_diagonal + shift);
        let shifted = Mat::from_fn(n_columns, n_columns, |i, j| match i.cmp(&j) {
            Ordering::Less => 0.0,
            Ordering::Equal => (entry(i, j) + shift) * scale,
            Ordering::Greater => entry(i, j) * scale,
        });
        drop(moment);
        let cholesky = shifted.llt(Side::Lower).map_err(|err| {
            Error::Training(format!(
                "the inputs' second moments are not positive definite ({err:?}): train with \
                 --precondition none"
            ))
        })?;
        drop(shifted);
        let factor = cholesky.L();
        let start = times(initial, to_array(factor).view());
        let mut inverse = Mat::<f64>::zeros(n_columns, n_columns);
        invert_lower_triangular(inverse.as_mut(), factor, Par::Seq);
        drop(cholesky);
        let inverse_factor = to_array(inverse.as_ref());
        Ok(Some((Preconditioner { inverse_factor }, start)))
    }

    /// The weights W = V L⁻¹ of L-BFGS's variables V (C×(D+1)).
    pub(super) fn weights(&self, variables: ArrayView2<f64>) -> Array2<f64> {
        times(variables, self.inverse_factor.view())
    }

    /// The gradient in V, G_W L⁻ᵀ, of the gradient G_W in W.
    pub(super) fn gradient(&self, weights_gradient: ArrayView2<f64>) -> Array2<f64> {
        times(weights_gradient, self.inverse_factor.t())
    }
}

/// Rows of `left` at a time, times `right`, in parallel: C·(D+1)² multiply-adds, a tenth of a
/// pass over 32,000 rows on one thread.
fn times(left: ArrayView2<f64>, right: ArrayView2<f64>) -> Array2<f64> {
    let mut product = Array2::zeros((left.nrows(), right.ncols()));
    product.axis_chunks_iter_mut(Axis(0), PRODUCT_ROWS).into_par_iter().enumerate().for_each(
        |(chunk, mut out)| {
            let rows = left.slice(s![chunk * PRODUCT_ROWS..chunk * PRODUCT_ROWS + out.nrows(), ..]);
            general_mat_mul(1.0, &rows, &right, 0.0, &mut out);
        },
    );
    product
}

/// `matrix` as an ndarray.
fn to_array(matrix: MatRef<f64>) -> Array2<f64> {
    Array2::from_shape_fn((matrix.nrows(), matrix.ncols()), |(i, j)| matrix[(i, j)])
}

/// The lower triangle of a symmetric matrix, by column blocks of [`BLOCK_COLUMNS`]: block b
/// holds rows b·w.. of its columns, row after row.
struct LowerTriangle {
    size: usize,
    values: Vec<f64>,
}

impl LowerTriangle {
    /// Where block `block` of a matrix of `size` columns starts (every block before it is
    /// [`BLOCK_COLUMNS`] wide: only the last can be narrower).
    fn offset(size: usize, block: usize) -> usize {
        BLOCK_COLUMNS * (block * size - BLOCK_COLUMNS * block * block.saturating_sub(1) / 2)
    }

    /// The values of a matrix of `size` columns.
    fn len(size: usize) -> usize {
        let last = size.div_ceil(BLOCK_COLUMNS).saturating_sub(1);
        let rest = size - last * BLOCK_COLUMNS;
        Self::offset(size, last) + rest * rest
    }

    /// ‖E[x]‖² / E[‖x‖²] over the features, for the second moment A of inputs whose last
    /// column is the constant 1 (its last row holds the means).
    fn mean_share(&self) -> f64 {
        let features = 0..self.size - 1;
        let means: f64 = features.clone().map(|j| self.get(self.size - 1, j).powi(2)).sum();
        let squares: f64 = features.map(|j| self.get(j, j)).sum();
        if squares > 0.0 { means / squares } else { 0.0 }
    }

    /// Entry (i, j), i ≥ j.
    fn get(&self, i: usize, j: usize) -> f64 {
        let (block, column) = (j / BLOCK_COLUMNS, j % BLOCK_COLUMNS);
        let start = block * BLOCK_COLUMNS;
        let width = BLOCK_COLUMNS.min(self.size - start);
        self.values[Self::offset(self.size, block) + (i - start) * width + column]
    }
}

/// A = Σ s_i x_i x_iᵀ / Σ s_i over an evenly spaced sample of the training split's rows
/// ([`sample_rows`]), s_i the samples' `weights` (1 without; unweighted when the sample's
/// weights are all 0), its lower triangle: as the data loss weighs them, so that a weight of k
/// gives the A of k copies of the row. Summed as the preprocessing statistics are: per block
/// of the partition of N rows, the blocks added by its tree and over the processes of a
/// distributed fit, so that one process and many get the same bits.
fn second_moment<F: Float>(
    inputs: Inputs<F>,
    weights: Option<SampleWeights<F>>,
    n_classes: usize,
) -> Result<LowerTriangle> {
    let n_columns = inputs.ncols();
    let shared = crate::distributed::training_placement();
    let placement = match &shared {
        Some((_, placement)) => placement.clone(),
        None => Placement::whole(inputs.nrows()),
    };
    let (n_rows, partition) = (placement.n_rows, Partition::of(placement.n_rows));
    let n_sample = sample_rows(n_rows, n_columns, n_classes);
    let first = partition.rows(placement.slots.start).start;
    let leaf = |slot: usize| {
        // The sample's rows k·N/n in this block, as rows of this process's inputs.
        let rows = partition.rows(slot);
        let [from, to] = [rows.start, rows.end].map(|row| (row * n_sample).div_ceil(n_rows));
        let picked: Vec<usize> = (from..to).map(|k| k * n_rows / n_sample - first).collect();
        (!picked.is_empty()).then(|| block_moment(inputs, weights, &picked))
    };
    let add = |total: &mut Vec<f64>, other: Vec<f64>| {
        total.iter_mut().zip(other).for_each(|(sum, other)| *sum += other);
    };
    let mine = tree_sum(placement.slots, false, &leaf, &add).transpose()?;
    let length = LowerTriangle::len(n_columns) + 1;
    let sums = match shared {
        None => mine,
        Some((cluster, _)) => cluster.combine(mine, length),
    };
    let mut values = sums.unwrap_or_else(|| vec![0.0; length]);
    let total = values.pop().expect("the weights' sum");
    if weights.is_some() && total <= 0.0 {
        return second_moment(inputs, None, n_classes);
    }
    values.iter_mut().for_each(|value| *value /= total.max(f64::MIN_POSITIVE));
    Ok(LowerTriangle { size: n_columns, values })
}

/// Σ s_i x_i x_iᵀ ([`LowerTriangle`]'s values) over the rows `picked` of `inputs`, then Σ s_i,
/// as one vector: read [`CHUNK_ROWS`] rows at a time, each chunk's products summed in `F` by
/// column blocks in parallel and added in f64, in the same order on any number of threads. (A
/// float32 chunk's sums are good to about 1e-6 relative, far below μ.)
fn block_moment<F: Float>(
    inputs: Inputs<F>,
    weights: Option<SampleWeights<F>>,
    picked: &[usize],
) -> Result<Vec<f64>> {
    let n_columns = inputs.ncols();
    let mut sums = vec![0.0; LowerTriangle::len(n_columns) + 1];
    for chunk in picked.chunks(CHUNK_ROWS) {
        let rows = inputs.rows_picked(chunk)?;
        let mut weighted = rows.clone();
        for (mut row, &i) in weighted.outer_iter_mut().zip(chunk) {
            let weight = weights.map_or(F::one(), |weights| weights.values()[i]);
            row *= weight;
            sums[LowerTriangle::len(n_columns)] += weight.as_f64();
        }
        let blocks: Vec<Array2<F>> = (0..n_columns.div_ceil(BLOCK_COLUMNS))
            .into_par_iter()
            .map(|block| {
                // Rows from the block's first column down: the lower triangle and the diagonal.
                let start = block * BLOCK_COLUMNS;
                let end = (start + BLOCK_COLUMNS).min(n_columns);
                let (below, columns) =
                    (weighted.slice(s![.., start..]), rows.slice(s![.., start..end]));
                let mut products = Array2::<F>::zeros((n_columns - start, end - start));
                general_mat_mul(F::one(), &below.t(), &columns, F::zero(), &mut products);
                products
            })
            .collect();
        let mut sums = &mut sums[..];
        for block in &blocks {
            let products = block.as_slice().expect("a new array is contiguous");
            let (these, rest) = std::mem::take(&mut sums).split_at_mut(products.len());
            these.iter_mut().zip(products).for_each(|(sum, &product)| *sum += product.as_f64());
            sums = rest;
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_sample_costs_at_most_a_pass_but_has_at_least_twice_the_columns() {
        assert_eq!(sample_rows(100, 10, 2), 100);
        assert_eq!(sample_rows(60_000, 785, 10), MIN_SAMPLE_ROWS);
        assert_eq!(sample_rows(100_000, 3073, 10), 6146);
        // A pass over 128,000 rows of 769 columns and 1,000 classes buys every row.
        assert_eq!(sample_rows(128_000, 769, 1000), 128_000);
        assert_eq!(sample_rows(1_281_167, 769, 1000), 1_281_167);
    }

    #[test]
    fn the_second_moment_of_a_few_rows_is_worked_by_hand() {
        let x = array![[1.0, 2.0, 1.0], [3.0, -1.0, 1.0]];
        let moment = second_moment(Inputs::Dense(x.view()), None, 2).unwrap();
        // (1/2)·([1 2 1]ᵀ[1 2 1] + [3 −1 1]ᵀ[3 −1 1])
        let expected = array![[5.0, -0.5, 2.0], [-0.5, 2.5, 0.5], [2.0, 0.5, 1.0]];
        for i in 0..3 {
            for j in 0..=i {
                assert_eq!(moment.get(i, j), expected[[i, j]], "({i}, {j})");
            }
        }
    }

    #[test]
    fn weights_count_as_copies_of_their_rows() {
        let x = array![[1.0, 2.0, 1.0], [3.0, -1.0, 1.0]];
        let weights = [2.0, 1.0];
        let weights = SampleWeights::new(&weights).unwrap();
        let moment = second_moment(Inputs::Dense(x.view()), Some(weights), 2).unwrap();
        let copies = array![[1.0, 2.0, 1.0], [1.0, 2.0, 1.0], [3.0, -1.0, 1.0]];
        let expected = second_moment(Inputs::Dense(copies.view()), None, 2).unwrap();
        assert_eq!(moment.values, expected.values);
    }

    #[test]
    fn the_lower_triangle_of_many_columns_is_laid_out_by_blocks() {
        // 300 columns: blocks of 128, 128 and 44 columns, from rows 0, 128 and 256 down.
        let size = 300;
        assert_eq!(LowerTriangle::len(size), 300 * 128 + 172 * 128 + 44 * 44);
        let values = (0..LowerTriangle::len(size)).map(|v| v as f64).collect();
        let triangle = LowerTriangle { size, values };
        assert_eq!(triangle.get(0, 0), 0.0);
        assert_eq!(triangle.get(299, 127), (299 * 128 + 127) as f64);
        assert_eq!(triangle.get(128, 128), (300 * 128) as f64);
        assert_eq!(triangle.get(299, 299), (LowerTriangle::len(size) - 1) as f64);
    }
}
