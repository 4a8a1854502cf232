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
//! The bias is handled after it ([`Bias`]): the transformed inputs get a constant-1 column, whose
//! weights are the intercept (unregularized) or, with the CS231n bias trick, one more weight
//! regularized like the rest.

use ndarray::{Array1, Array2, ArrayView2, Zip, s};

use crate::Float;
use crate::names::named_enum;

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
        #[default]
        Standardize = "standardize",
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
    /// Fits `kind` on training inputs (N×D), in f64.
    pub fn fit(kind: Preprocess, inputs: ArrayView2<f32>) -> Preprocessor {
        let n_features = inputs.ncols();
        let mean = || {
            let mut sum = Array1::<f64>::zeros(n_features);
            for row in inputs.outer_iter() {
                Zip::from(&mut sum).and(&row).for_each(|s, &x| *s += f64::from(x));
            }
            sum / inputs.nrows().max(1) as f64
        };
        let (offset, scale) = match kind {
            Preprocess::None => (Array1::zeros(n_features), Array1::ones(n_features)),
            Preprocess::Scale => {
                let max = inputs.iter().fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
                let max = if max > 0.0 { max } else { 1.0 };
                (Array1::zeros(n_features), Array1::from_elem(n_features, max))
            }
            Preprocess::Center => (mean(), Array1::ones(n_features)),
            Preprocess::Standardize => {
                let mean = mean();
                let mut variance = Array1::<f64>::zeros(n_features);
                for row in inputs.outer_iter() {
                    Zip::from(&mut variance).and(&row).and(&mean).for_each(|v, &x, &m| {
                        let d = f64::from(x) - m;
                        *v += d * d;
                    });
                }
                let n = inputs.nrows().max(1) as f64;
                let deviation =
                    variance.mapv(|v| (v / n).sqrt()).mapv(|d| if d > 0.0 { d } else { 1.0 });
                (mean, deviation)
            }
        };
        Preprocessor { kind, offset, scale }
    }

    /// The number of features it expects.
    pub fn n_features(&self) -> usize {
        self.offset.len()
    }

    /// Transforms inputs (N×D) and appends the constant-1 bias column: N×(D+1) in `F`.
    pub fn transform_with_bias<F: Float>(&self, inputs: ArrayView2<f32>) -> Array2<F> {
        let (n_samples, n_features) = inputs.dim();
        let mut out = Array2::<F>::zeros((n_samples, n_features + 1));
        let inverse_scale = self.scale.mapv(|s| 1.0 / s);
        Zip::from(out.slice_mut(s![.., ..n_features]).rows_mut()).and(inputs.rows()).par_for_each(
            |mut out_row, row| {
                Zip::from(&mut out_row).and(&row).and(&self.offset).and(&inverse_scale).for_each(
                    |o, &x, &offset, &inverse| *o = F::of((f64::from(x) - offset) * inverse),
                );
            },
        );
        out.column_mut(n_features).fill(F::one());
        out
    }
}

/// Column `n_features` of an augmented matrix is the bias column; this splits W (C×(D+1)) into
/// the weights (C×D) and the bias (C).
pub fn split_bias<F: Float>(augmented: ArrayView2<F>) -> (Array2<F>, Array1<F>) {
    let n_features = augmented.ncols() - 1;
    (augmented.slice(s![.., ..n_features]).to_owned(), augmented.column(n_features).to_owned())
}
