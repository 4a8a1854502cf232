//! Preprocessing, fitted on the training split only and saved in the model.
//!
//! Every kind is a per-feature affine map `x' = (x − offset) / scale`:
//!
//! | kind | offset | scale |
//! |---|---|---|
//! | `none` | 0 | 1 |
//! | `scale` | 0 | max |x| over the training data (255 for 8-bit images) |
//! | `center` | the mean image (CS231n) | 1 |
//! | `standardize` | per-feature mean | per-feature standard deviation (1 where it is 0) |
//!
//! The default, `auto`, is `scale` for image data and `standardize` otherwise
//! ([`Preprocess::resolve`]).
//!
//! The bias is handled after it ([`Bias`]): the transformed inputs get a constant-1 column, whose
//! weights are the intercept (unregularized) or, with the CS231n bias trick, one more weight
//! regularized like the rest; with no bias they are held at 0.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Zip, s};

use crate::distributed::partition::{Partition, Placement, tree_sum};
use crate::loss::sparse::SparseRows;
use crate::names::named_enum;
use crate::{Error, Float, Result};

named_enum! {
    "preprocessing",
    /// How features are shifted and scaled before training.
    pub enum Preprocess {
        /// Raw values.
        None = "none",
        /// Divide by the training data's largest absolute value (e.g. 255).
        Scale = "scale",
        /// Subtract the mean image (CS231n).
        Center = "center",
        /// Subtract each feature's mean and divide by its standard deviation.
        Standardize = "standardize",
        /// `scale` for images, whose pixels share one known range, `standardize` otherwise
        /// ([`Preprocess::resolve`]).
        #[default]
        Auto = "auto",
    }
}

impl Preprocess {
    /// The concrete kind: `auto` is `scale` for image data and `standardize` for any other; the
    /// others stand for themselves.
    ///
    /// Why: standardizing divides every pixel by its own deviation, and pixels near an image's
    /// border, dark in almost every sample, have tiny ones, so the rare sample that lights them
    /// is inflated and overfitted. With the default L-BFGS, `scale` reached a higher test accuracy
    /// than `standardize` on the 8×8 digits (0.972 against 0.964), MNIST (0.925 against 0.923,
    /// in 139 iterations against 321) and CIFAR-10 (0.397 against 0.375; standardize ran out of
    /// iterations). Tabular features come in unrelated units, where one global scale fails:
    /// on scikit-learn's wine data `scale` reached 0.70 validation accuracy, `standardize` 0.96.
    pub fn resolve(self, image_data: bool) -> Preprocess {
        match self {
            Preprocess::Auto if image_data => Preprocess::Scale,
            Preprocess::Auto => Preprocess::Standardize,
            concrete => concrete,
        }
    }
}

named_enum! {
    "bias",
    /// How the model gets its bias b in scores = W x + b.
    pub enum Bias {
        /// An intercept per class, not regularized (as scikit-learn's `fit_intercept`).
        #[default]
        Intercept = "intercept",
        /// CS231n's bias trick: a constant-1 feature whose weights are regularized like the rest.
        Trick = "trick",
        /// No bias: scores = W x' (scikit-learn's `fit_intercept=False` when the preprocessing
        /// has no offset). Training holds the bias column's weights at 0.
        None = "none",
    }
}

/// A fitted preprocessing: `x' = (x − offset) / scale`, per feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessor {
    pub kind: Preprocess,
    pub offset: Array1<f64>,
    pub scale: Array1<f64>,
}

impl Preprocessor {
    /// Fits `kind` on training inputs (N×D), in f64. Here `auto`, knowing nothing of the source,
    /// is `standardize`: [`Prepared`](crate::fit::Prepared) resolves it for the data set first.
    ///
    /// The sums behind the means and deviations are [`Statistics`] of the row blocks of the
    /// partition of N, added by its tree (and over processes, on a share of the training split:
    /// [`crate::distributed`]), so that they do not depend on the number of processes. The
    /// deviation is √(Σ (x − mean)² / N), from a second pass over the rows.
    pub fn fit(kind: Preprocess, inputs: ArrayView2<f32>) -> Preprocessor {
        let kind = kind.resolve(false);
        let (n_rows, sums) = Statistics::of_split(inputs, None);
        let n = n_rows.max(1) as f64;
        let mean: Vec<f64> = sums.sums.iter().map(|&sum| sum / n).collect();
        let variance = match kind {
            Preprocess::Standardize | Preprocess::Auto => {
                let (_, squares) = Statistics::of_split(inputs, Some(&mean));
                squares.sums.iter().map(|&v| v / n).collect()
            }
            _ => vec![0.0; mean.len()],
        };
        Preprocessor::from_moments(kind, &mean, &variance, sums.max_abs)
    }

    /// Fits `kind` on sparse training inputs without densifying them: `none`, or `scale` (and
    /// `auto`, which is `scale` here) by the largest absolute stored value. The kinds with an
    /// offset (`center`, `standardize`) would turn every zero into a nonzero, so they are
    /// refused.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for `center` and `standardize`.
    pub fn fit_sparse(kind: Preprocess, inputs: &SparseRows<f64>) -> Result<Preprocessor> {
        let n_features = inputs.ncols();
        let scale = match kind {
            Preprocess::None => 1.0,
            Preprocess::Scale | Preprocess::Auto => {
                let max = inputs.values().iter().fold(0.0f64, |m, &x| m.max(x.abs()));
                if max > 0.0 { max } else { 1.0 }
            }
            Preprocess::Center | Preprocess::Standardize => {
                return Err(Error::InvalidOption(format!(
                    "preprocess '{kind}' subtracts a mean, which would make sparse inputs dense: \
                     use 'none' or 'scale' (or pass dense inputs)"
                )));
            }
        };
        let kind = if kind == Preprocess::Auto { Preprocess::Scale } else { kind };
        Ok(Preprocessor {
            kind,
            offset: Array1::zeros(n_features),
            scale: Array1::from_elem(n_features, scale),
        })
    }

    /// Fits `kind` from the training inputs' per-feature `mean` and (population) `variance`
    /// and their largest |x| (`max_abs`): `scale` divides by `max_abs` (1 if it is 0), `center`
    /// subtracts the mean, `standardize` (and `auto`) also divides by the deviation √variance
    /// (1 where it is 0). [`Self::fit`] and the pass over mapped rows
    /// ([`crate::mapped::MappedMatrix::moments`]) both end here.
    pub fn from_moments(
        kind: Preprocess,
        mean: &[f64],
        variance: &[f64],
        max_abs: f64,
    ) -> Preprocessor {
        let n_features = mean.len();
        let kind = kind.resolve(false);
        let mean = Array1::from(mean.to_vec());
        let (offset, scale) = match kind {
            Preprocess::None => (Array1::zeros(n_features), Array1::ones(n_features)),
            Preprocess::Scale => {
                let max = if max_abs > 0.0 { max_abs } else { 1.0 };
                (Array1::zeros(n_features), Array1::from_elem(n_features, max))
            }
            Preprocess::Center => (mean, Array1::ones(n_features)),
            Preprocess::Standardize | Preprocess::Auto => {
                let deviation =
                    variance.iter().map(|v| v.sqrt()).map(|d| if d > 0.0 { d } else { 1.0 });
                (mean, deviation.collect())
            }
        };
        Preprocessor { kind, offset, scale }
    }

    /// The number of features it expects.
    pub fn n_features(&self) -> usize {
        self.offset.len()
    }

    /// Transforms inputs (N×D) and appends the constant-1 bias column: a new N×(D+1) matrix in `F`.
    pub fn transform_with_bias<F: Float>(&self, inputs: ArrayView2<f32>) -> Array2<F> {
        let (n_samples, n_features) = inputs.dim();
        let mut out = Array2::<F>::zeros((n_samples, n_features + 1));
        Zip::from(out.slice_mut(s![.., ..n_features]))
            .and(inputs)
            .par_for_each(|o, &x| *o = F::of(f64::from(x)));
        self.transform_augmented(out.view_mut());
        out
    }

    /// The same N×(D+1) f32 matrix as [`transform_with_bias`](Self::transform_with_bias), made
    /// in the buffer of `inputs` (N×D) instead of a second one: the buffer grows by N values
    /// (`append_column`), then the features are transformed where they are. Where `realloc`
    /// grows a large buffer without copying it (Linux), peak memory is the inputs plus one value
    /// per row; the copying transform needs the inputs twice.
    pub fn transform_with_bias_in_place(&self, inputs: Array2<f32>) -> Array2<f32> {
        let mut augmented = append_column(inputs);
        self.transform_augmented(augmented.view_mut());
        augmented
    }

    /// Turns an N×(D+1) matrix whose first D columns hold raw inputs into the trainer's inputs,
    /// in place and in parallel over rows: `x' = (x − offset) / scale` (computed in f64) in the
    /// first D columns, 1 in the last.
    ///
    /// # Panics
    /// If D is not the number of features the preprocessing was fitted on.
    fn transform_augmented<F: Float>(&self, mut augmented: ArrayViewMut2<F>) {
        let n_features = self.n_features();
        assert_eq!(
            augmented.ncols(),
            n_features + 1,
            "inputs with {} features for a preprocessing of {n_features}",
            augmented.ncols().saturating_sub(1)
        );
        let inverse_scale = self.scale.mapv(|s| 1.0 / s);
        Zip::from(augmented.rows_mut()).par_for_each(|mut row| {
            Zip::from(row.slice_mut(s![..n_features]))
                .and(&self.offset)
                .and(&inverse_scale)
                .for_each(|x, &offset, &inverse| *x = F::of((x.as_f64() - offset) * inverse));
            row[n_features] = F::one();
        });
    }
}

/// Per-feature sums over rows, Σ_i x_ij (or Σ_i (x_ij − shift_j)², for a deviation), and the
/// largest |x_ij|: what the preprocessing statistics are made of. Statistics of row blocks
/// merge ([`Statistics::merge`]) into those of their union; [`Preprocessor::fit`] merges those
/// of the row-block partition's blocks by its tree, so that one process and many give the same
/// bits.
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// One sum per feature.
    pub sums: Vec<f64>,
    /// max |x_ij| (0 for no rows).
    pub max_abs: f64,
}

impl Statistics {
    /// The statistics of `rows` (n×D), summed in row order in f64: of x, or with a `shift`
    /// (one per feature) of (x − shift)².
    pub fn of_rows(rows: ArrayView2<f32>, shift: Option<&[f64]>) -> Statistics {
        let mut sums = vec![0.0f64; rows.ncols()];
        let mut max_abs = 0.0f64;
        for row in rows.outer_iter() {
            for (j, (sum, &x)) in sums.iter_mut().zip(&row).enumerate() {
                let x = f64::from(x);
                max_abs = max_abs.max(x.abs());
                *sum += match shift {
                    None => x,
                    Some(shift) => (x - shift[j]) * (x - shift[j]),
                };
            }
        }
        Statistics { sums, max_abs }
    }

    /// The statistics of the union of two sets of rows: sums added, the larger maximum.
    pub fn merge(&mut self, other: Statistics) {
        for (sum, other) in self.sums.iter_mut().zip(other.sums) {
            *sum += other;
        }
        self.max_abs = self.max_abs.max(other.max_abs);
    }

    /// N and the statistics of the training split whose rows (or this process's share of
    /// them) are `inputs`: those of the blocks of the partition of N, merged by its tree and
    /// over processes ([`crate::distributed`]).
    fn of_split(inputs: ArrayView2<f32>, shift: Option<&[f64]>) -> (usize, Statistics) {
        let n_features = inputs.ncols();
        let shared = crate::distributed::training_placement();
        let placement = match &shared {
            Some((_, placement)) => placement.clone(),
            None => Placement::whole(inputs.nrows()),
        };
        let partition = Partition::of(placement.n_rows);
        let first = partition.rows(placement.slots.start).start;
        let leaf = |slot: usize| {
            let rows = partition.rows(slot);
            let rows = inputs.slice(s![rows.start - first..rows.end - first, ..]);
            (rows.nrows() > 0).then(|| Ok::<_, ()>(Statistics::of_rows(rows, shift)))
        };
        let merge = |total: &mut Statistics, other| total.merge(other);
        let mine = tree_sum(placement.slots, true, &leaf, &merge).map(|s| s.expect("no errors"));
        let statistics = match shared {
            None => mine,
            Some((cluster, _)) => {
                // The maximum travels as the first value, merged as a maximum.
                let mine = mine.map(|s| [&[s.max_abs][..], &s.sums].concat());
                let merge = |total: &mut Vec<f64>, other: Vec<f64>| {
                    total[0] = total[0].max(other[0]);
                    for (sum, other) in total[1..].iter_mut().zip(&other[1..]) {
                        *sum += other;
                    }
                };
                let all = cluster.combine_by(mine, n_features + 1, &merge);
                all.map(|all| Statistics { sums: all[1..].to_vec(), max_abs: all[0] })
            }
        };
        let empty = || Statistics { sums: vec![0.0; n_features], max_abs: 0.0 };
        (placement.n_rows, statistics.unwrap_or_else(empty))
    }
}

/// `matrix` (N×D) with one more column (N×(D+1), the new column 0), in the same buffer.
///
/// The buffer's capacity grows by exactly N values (`Vec::reserve_exact`: one `realloc`,
/// which for a buffer this large remaps its pages rather than copying them on Linux), then the
/// rows move to their wider places from the last to the first: row i's new start i·(D+1) is at
/// or after its old start i·D, so no row is overwritten before it has moved. A matrix whose
/// rows are not laid out one after another in memory is first copied into one whose are.
fn append_column(matrix: Array2<f32>) -> Array2<f32> {
    let (n_rows, n_columns) = matrix.dim();
    let width = n_columns + 1;
    let mut values = if matrix.is_standard_layout() {
        let (mut values, first) = matrix.into_raw_vec_and_offset();
        values.drain(..first.unwrap_or(0));
        values.truncate(n_rows * n_columns);
        values
    } else {
        matrix.iter().copied().collect()
    };
    values.reserve_exact(n_rows);
    values.resize(n_rows * width, 0.0);
    for row in (0..n_rows).rev() {
        values.copy_within(row * n_columns..(row + 1) * n_columns, row * width);
        values[row * width + n_columns] = 0.0;
    }
    Array2::from_shape_vec((n_rows, width), values).expect("N·(D+1) values make N rows of D+1")
}

/// Column `n_features` of an augmented matrix is the bias column; this splits W (C×(D+1)) into
/// the weights (C×D) and the bias (C).
pub fn split_bias<F: Float>(augmented: ArrayView2<F>) -> (Array2<F>, Array1<F>) {
    let n_features = augmented.ncols() - 1;
    (augmented.slice(s![.., ..n_features]).to_owned(), augmented.column(n_features).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An N×D matrix of distinct, uneven values (pixels 0–255 and fractions, some negative).
    fn matrix(n_rows: usize, n_columns: usize) -> Array2<f32> {
        Array2::from_shape_fn((n_rows, n_columns), |(i, j)| {
            ((i * 37 + j * 101) % 256) as f32 - 0.37 * (i as f32) + 0.1 * (j as f32)
        })
    }

    /// The trainer's inputs as the map defines them, value by value: the reference.
    fn expected<F: Float>(preprocessor: &Preprocessor, inputs: ArrayView2<f32>) -> Array2<F> {
        let n_features = inputs.ncols();
        Array2::from_shape_fn((inputs.nrows(), n_features + 1), |(i, j)| {
            if j == n_features {
                return F::one();
            }
            let inverse = 1.0 / preprocessor.scale[j];
            F::of((f64::from(inputs[[i, j]]) - preprocessor.offset[j]) * inverse)
        })
    }

    #[test]
    fn in_place_and_copying_transforms_agree_bit_for_bit() {
        let shapes = [(0, 3), (1, 1), (1, 5), (4, 1), (3, 0), (7, 3), (64, 33)];
        for (n_rows, n_columns) in shapes {
            let inputs = matrix(n_rows, n_columns);
            for &kind in Preprocess::ALL {
                let preprocessor = Preprocessor::fit(kind, inputs.view());
                let copied = preprocessor.transform_with_bias::<f32>(inputs.view());
                assert_eq!(copied, expected::<f32>(&preprocessor, inputs.view()));
                let widened = preprocessor.transform_with_bias_in_place(inputs.clone());
                assert_eq!(widened, copied, "{kind} on {n_rows}×{n_columns}");
                let in_f64 = preprocessor.transform_with_bias::<f64>(inputs.view());
                assert_eq!(in_f64, expected::<f64>(&preprocessor, inputs.view()));
            }
        }
    }

    #[test]
    fn append_column_takes_any_layout() {
        let wide = matrix(5, 4);
        let expected = |inputs: ArrayView2<f32>| {
            let mut out = Array2::zeros((inputs.nrows(), inputs.ncols() + 1));
            out.slice_mut(s![.., ..inputs.ncols()]).assign(&inputs);
            out
        };
        let layouts = [
            // Rows after the first of a larger buffer: standard layout, not at the buffer's start.
            wide.clone().slice_move(s![2.., ..]),
            // Columns of a larger buffer: rows are not contiguous.
            wide.clone().slice_move(s![.., 1..3]),
            // Column-major.
            wide.reversed_axes(),
        ];
        for matrix in layouts {
            let expected = expected(matrix.view());
            assert_eq!(append_column(matrix), expected);
        }
    }
}
