//! From a data set to a [`Model`]: fit the preprocessing on the training split, append the bias
//! column, train in the chosen dtype, and package the weights with everything needed to predict.

use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;

use crate::data::Dataset;
use crate::model::Model;
use crate::names::named_enum;
use crate::preprocess::{Bias, Preprocess, Preprocessor, split_bias};
use crate::train::{
    History, Labeled, Objective, Optimizer, Progress, TrainOptions, accuracy, train,
};
use crate::{Error, Float, Kernel, Loss, RegConvention, Result};

named_enum! {
    "dtype",
    /// The floating-point type training computes in.
    pub enum Dtype {
        /// float64 for L-BFGS (whose tolerance float32 cannot reach), float32 otherwise.
        #[default]
        Auto = "auto",
        F32 = "f32",
        F64 = "f64",
    }
}

/// Everything [`fit`] needs to know besides the data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitOptions {
    pub loss: Loss,
    /// Regularization strength; the default 1e-4 (`half`) is scikit-learn's C = 1 for N = 10,000.
    pub reg: f64,
    pub reg_convention: RegConvention,
    pub preprocess: Preprocess,
    pub bias: Bias,
    pub kernel: Kernel,
    pub dtype: Dtype,
    #[serde(flatten)]
    pub train: TrainOptions,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            loss: Loss::Softmax,
            reg: 1e-4,
            reg_convention: RegConvention::Half,
            preprocess: Preprocess::Standardize,
            bias: Bias::Intercept,
            kernel: Kernel::Auto,
            dtype: Dtype::Auto,
            train: TrainOptions::default(),
        }
    }
}

impl FitOptions {
    /// The concrete dtype: `auto` is f64 for L-BFGS and f32 otherwise.
    pub fn resolved_dtype(&self) -> Dtype {
        match (self.dtype, self.train.optimizer) {
            (Dtype::Auto, Optimizer::Lbfgs) => Dtype::F64,
            (Dtype::Auto, _) => Dtype::F32,
            (dtype, _) => dtype,
        }
    }
}

/// A trained model and how training went.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub model: Model,
    pub history: History,
    pub iterations: usize,
    /// Full passes over the training set (loss+gradient evaluations).
    pub passes: f64,
    /// Mean data loss + regularization on the training split (intercept unregularized).
    pub objective: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
    pub stop_reason: String,
    /// Seconds spent preprocessing and training (not loading).
    pub seconds: f64,
}

/// Trains a model on `train`, checking accuracy on `validation` as it goes.
///
/// Both data sets are taken, not borrowed, so that their raw inputs do not outlive their use. In
/// f32 the inputs are preprocessed and given the bias column in their own buffers
/// ([`Preprocessor::transform_with_bias_in_place`]): training needs no second copy of the data.
/// In f64 each set is converted into a new matrix and its f32 inputs are freed as soon as it is.
/// Pass clones to keep the raw data.
///
/// # Errors
/// Options out of range, an empty training set, and what training reports.
pub fn fit(
    train_set: Dataset,
    validation: Option<Dataset>,
    options: &FitOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Fitted> {
    options.train.check()?;
    crate::loss::check_reg(options.reg)?;
    if train_set.inputs.nrows() == 0 {
        return Err(Error::Empty("the training split has no samples".into()));
    }
    let started = Instant::now();
    let preprocessor = Preprocessor::fit(options.preprocess, train_set.inputs.view());
    let mut fitted = match options.resolved_dtype() {
        Dtype::F64 => {
            let convert =
                |p: &Preprocessor, inputs: Array2<f32>| p.transform_with_bias(inputs.view());
            fit_in::<f64>(train_set, validation, preprocessor, convert, options, progress)
        }
        _ => {
            let transform = Preprocessor::transform_with_bias_in_place;
            fit_in::<f32>(train_set, validation, preprocessor, transform, options, progress)
        }
    }?;
    fitted.seconds = started.elapsed().as_secs_f64();
    Ok(fitted)
}

/// [`fit`] in `F`, once the preprocessing is fitted: `prepare` turns each set's raw inputs (N×D)
/// into the trainer's (N×(D+1) in `F`), consuming them.
fn fit_in<F: Float>(
    train_set: Dataset,
    validation: Option<Dataset>,
    preprocessor: Preprocessor,
    prepare: impl Fn(&Preprocessor, Array2<f32>) -> Array2<F>,
    options: &FitOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Fitted> {
    let Dataset { inputs, labels, class_names, feature_names, image_shape } = train_set;
    let inputs = prepare(&preprocessor, inputs);
    let validation = validation.map(|v| (prepare(&preprocessor, v.inputs), v.labels));
    let objective = Objective {
        inputs: inputs.view(),
        labels: &labels,
        loss: options.loss,
        reg: options.reg,
        reg_convention: options.reg_convention,
        bias: options.bias,
        kernel: options.kernel,
    };
    let val = validation.as_ref().map(|(inputs, labels)| Labeled { inputs: inputs.view(), labels });
    let trained = train(&objective, class_names.len(), val, &options.train, progress)?;

    let objective_value = match trained.objective {
        Some(value) => value,
        None => objective.evaluate(trained.weights.view())?.loss.as_f64(),
    };
    let accuracy_of = |data: Labeled<F>| accuracy(trained.weights.view(), data);
    let train_accuracy = accuracy_of(Labeled { inputs: inputs.view(), labels: &labels });
    let val_accuracy = val.map(accuracy_of);
    let (weight, bias) = split_bias(trained.weights.view());
    let model = Model {
        weight: weight.mapv(F::as_f64),
        bias: bias.mapv(F::as_f64),
        preprocessor,
        class_names,
        feature_names,
        image_shape,
        loss: options.loss,
        reg: options.reg,
        reg_convention: options.reg_convention,
        bias_mode: options.bias,
        dtype: F::DTYPE_NAME.to_string(),
        training: serde_json::to_value(options).expect("options serialize"),
    };
    Ok(Fitted {
        model,
        history: trained.history,
        iterations: trained.iterations,
        passes: trained.passes,
        objective: objective_value,
        train_accuracy,
        val_accuracy,
        stop_reason: trained.stop_reason,
        seconds: 0.0,
    })
}
