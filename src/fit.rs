//! From a data set to a [`Model`]: fit the preprocessing on the training split, append the bias
//! column, train in the chosen dtype, and package the weights with everything needed to predict.
//!
//! Options are checked once, by [`FitOptions::check`], into the [`CheckedFitOptions`] that
//! [`fit`] takes. [`fit`] is [`Prepared::new`] (preprocess the data once) then [`Prepared::fit`]
//! (train on it); a grid search ([`crate::tune`]) prepares once and fits many times.

use std::ops::ControlFlow;
use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis, concatenate};
use serde::Serialize;

use crate::class_weight::ClassWeight;
use crate::data::{Dataset, ImageShape, MappedDataset};
use crate::loss::mapped::MappedRows;
use crate::loss::sparse::SparseRows;
use crate::model::{Model, ModelParts, Precision};
use crate::names::named_enum;
use crate::preprocess::{Bias, Preprocess, Preprocessor, split_bias};
use crate::train::{
    CheckedTrainOptions, History, Inputs, Labeled, Objective, Optimizer, Progress, TrainOptions,
    accuracy, top_k_accuracy, train_from,
};
use crate::{Error, Float, Kernel, Loss, RegConvention, Result, SampleWeights};

named_enum! {
    "dtype",
    /// The floating-point type training computes in.
    pub enum Dtype {
        /// L-BFGS: float64 for a training split of at most [`AUTO_F64_VALUES`] values (its
        /// float64 copy is small), float32 above (no copy; the loss, penalty and state are
        /// still summed and kept in float64). The minibatch optimizers: float32.
        #[default]
        Auto = "auto",
        F32 = "f32",
        F64 = "f64",
    }
}

/// The most values (N·D of the whole training split; nonzeros for sparse rows) that `auto`
/// trains L-BFGS on in float64: 2^24, a float64 copy of 128 MiB. Below it, float64 passes
/// cost little and reach the optimum to 1e-10 (scikit-learn's coefficients to 1e-4 on
/// ill-conditioned data, which float32's gradients do not resolve); above it, float32 passes
/// halve the time and need no copy of X, and stop within 1e-7 of float64's objective
/// (docs/probes.md). The digits (1,797 × 64) train in float64, MNIST and CIFAR-10 in float32.
pub const AUTO_F64_VALUES: usize = 1 << 24;

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
    /// How the classes are weighed: the effective weight of a training sample is its class's
    /// weight times its own sample weight ([`Dataset::sample_weights`]); see
    /// [`crate::class_weight`].
    pub class_weight: ClassWeight,
    /// Label smoothing ε in [0, 1) (softmax only): the targets are (1 − ε)·onehot(y) + ε/C.
    pub label_smoothing: f64,
    /// Also measure the top-k accuracy (k ≥ 1) of the trained model on the training and
    /// validation splits ([`Fitted::top_k`]). What is reported, not how the model is trained:
    /// not recorded in the model file.
    #[serde(skip)]
    pub top_k: Option<usize>,
    #[serde(flatten)]
    pub train: TrainOptions,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            loss: Loss::Softmax,
            reg: 1e-4,
            reg_convention: RegConvention::Half,
            preprocess: Preprocess::Auto,
            bias: Bias::Intercept,
            kernel: Kernel::Auto,
            dtype: Dtype::Auto,
            class_weight: ClassWeight::None,
            label_smoothing: 0.0,
            top_k: None,
            train: TrainOptions::default(),
        }
    }
}

impl FitOptions {
    /// The concrete dtype for a training split of `values` values (N·D over every process;
    /// nonzeros for sparse rows): `auto` is f64 for L-BFGS on at most [`AUTO_F64_VALUES`]
    /// values and f32 otherwise. In f32, L-BFGS still gets its loss, penalty and state in f64
    /// (`Objective::evaluate_precise`).
    pub fn resolved_dtype(&self, values: usize) -> Precision {
        match (self.dtype, self.train.optimizer) {
            (Dtype::Auto, Optimizer::Lbfgs) if values <= AUTO_F64_VALUES => Precision::F64,
            (Dtype::Auto | Dtype::F32, _) => Precision::F32,
            (Dtype::F64, _) => Precision::F64,
        }
    }

    /// Whether data prepared in `precision` is what these options train in: for `auto`, a
    /// dtype it can resolve to (either, for L-BFGS; f32 for the minibatch optimizers).
    fn trains_in(&self, precision: Precision) -> bool {
        match self.dtype {
            Dtype::Auto => self.train.optimizer == Optimizer::Lbfgs || precision == Precision::F32,
            Dtype::F32 => precision == Precision::F32,
            Dtype::F64 => precision == Precision::F64,
        }
    }

    /// Refuses options out of range before any work: a negative or non-finite regularization, a
    /// label smoothing outside [0, 1) or with the svm loss, a top-k of 0,
    /// per-class weights that are not finite and ≥ 0 (their count is checked against the data
    /// by [`Prepared::fit`]) and what [`TrainOptions::check`] refuses. What passes is the only
    /// way to the [`CheckedFitOptions`] that [`fit`] takes.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the first option out of range.
    pub fn check(self) -> Result<CheckedFitOptions> {
        crate::loss::check_reg(self.reg)?;
        crate::loss::check_label_smoothing(self.label_smoothing, self.loss)?;
        if self.top_k == Some(0) {
            return Err(Error::InvalidOption("top-k accuracy needs k >= 1, got 0".into()));
        }
        self.class_weight.check()?;
        let train = self.train.clone().check()?;
        Ok(CheckedFitOptions { options: self, train })
    }
}

/// [`FitOptions`] that [`FitOptions::check`] accepted. Read them through `Deref`; they cannot be
/// changed, only taken apart with [`into_inner`](Self::into_inner) and checked again.
/// Serializes as the options it holds (the model file's `training` entry).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CheckedFitOptions {
    options: FitOptions,
    /// `options.train`, checked: what [`train`] takes.
    #[serde(skip)]
    train: CheckedTrainOptions,
}

impl CheckedFitOptions {
    /// The training options, checked.
    pub fn train_options(&self) -> &CheckedTrainOptions {
        &self.train
    }

    /// The options, to change and check again.
    pub fn into_inner(self) -> FitOptions {
        self.options
    }
}

impl std::ops::Deref for CheckedFitOptions {
    type Target = FitOptions;

    fn deref(&self) -> &FitOptions {
        &self.options
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
    /// Mean data loss (weighted, with class or sample weights) + regularization on the
    /// training split (intercept unregularized).
    pub objective: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
    /// The top-k accuracies, when [`FitOptions::top_k`] asked for them.
    pub top_k: Option<TopKAccuracy>,
    pub stop_reason: String,
    /// Seconds spent preprocessing and training (not loading); from [`Prepared::fit`], training
    /// only.
    pub seconds: f64,
}

impl Fitted {
    /// The trained weights C×(D+1) in the prepared coordinates, the bias last (the model's
    /// weight and bias side by side): what [`Prepared::fit_from`] starts a warm start from.
    pub fn weights(&self) -> Array2<f64> {
        let bias = self.model.bias().view().insert_axis(Axis(1));
        concatenate(Axis(1), &[self.model.weight().view(), bias]).expect("one bias per class")
    }
}

/// The fraction of samples whose true class is among the model's `k` highest scores
/// ([`crate::metrics::top_k_accuracy`]: ties count against), on the training and validation
/// splits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopKAccuracy {
    pub k: usize,
    pub train: f64,
    pub validation: Option<f64>,
}

/// Trains a model on `train`, checking accuracy on `validation` as it goes: [`Prepared::new`]
/// with the options' preprocessing and dtype, then [`Prepared::fit`].
///
/// Both data sets are taken, not borrowed, so that their raw inputs do not outlive their use
/// (see [`Prepared::new`]). Pass clones to keep the raw data.
///
/// `progress` is called as [`train`] calls it; when it returns [`ControlFlow::Break`] training
/// stops at once with [`Error::Interrupted`].
///
/// # Errors
/// Data that [`check_data`] refuses, and what training reports ([`Error::Interrupted`]
/// included).
pub fn fit(
    train_set: Dataset,
    validation: Option<Dataset>,
    options: &CheckedFitOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Fitted> {
    // On a share of the training split when this process is one of several
    // (`crate::distributed`): the statistics and the passes are then the whole split's.
    crate::distributed::sharded(train_set.n_samples(), options.kernel, || {
        let values = train_set.inputs.len();
        prepare_and_fit(options, values, progress, |preprocess, dtype| {
            Prepared::new(train_set, validation, preprocess, dtype)
        })
    })
}

/// A training set whose inputs are compressed sparse rows (N×D, raw units), as SciPy's CSR
/// matrices hold them: what [`fit_sparse`] takes.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseDataset {
    pub inputs: SparseRows<f64>,
    pub labels: Vec<usize>,
    /// One weight per row, when samples weigh differently (see [`Dataset::sample_weights`]).
    pub sample_weights: Option<Vec<f64>>,
    /// One name per class, in label order; C = `class_names.len()`.
    pub class_names: Vec<String>,
    /// One name per feature, when the source has them.
    pub feature_names: Option<Vec<String>>,
}

/// [`fit`] on sparse inputs, which are never made dense: the sparse kernel runs every pass
/// (minibatches are copied out of the rows), and the preprocessing is `none` or `scale` (with
/// `auto` as `scale`: the kinds that subtract a mean would fill in the zeros).
///
/// # Errors
/// Data that [`check_sparse_data`] refuses, a preprocessing with an offset, and what training
/// reports.
pub fn fit_sparse(
    train_set: SparseDataset,
    options: &CheckedFitOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Fitted> {
    let values = train_set.inputs.nnz();
    prepare_and_fit(options, values, progress, |preprocess, dtype| {
        Prepared::from_sparse(train_set, preprocess, dtype)
    })
}

/// [`fit`] on rows of a memory-mapped matrix (see [`crate::mapped`]), which is never copied:
/// the preprocessing's statistics take one pass over the training rows, and every pass of
/// training reads the rows where they lie (converting float16 and other dtypes a slab at a
/// time) with the preprocessing folded into the weights ([`crate::loss::mapped`]). The model is
/// the one [`fit`] trains on the same rows read into memory, to rounding.
///
/// # Errors
/// Data that [`check_mapped_data`] refuses, and what training reports (a file cut short while
/// training included).
pub fn fit_mapped(
    train_set: MappedDataset,
    validation: Option<MappedDataset>,
    options: &CheckedFitOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<Fitted> {
    let values = train_set.n_samples() * train_set.inputs.dim().1;
    prepare_and_fit(options, values, progress, |preprocess, dtype| {
        Prepared::from_mapped(train_set, validation, preprocess, dtype)
    })
}

/// `prepare` with the options' preprocessing and dtype (resolved for a training split of
/// `values` values on this process, [`training_values`]), then [`Prepared::fit`]; `seconds`
/// counts both.
fn prepare_and_fit(
    options: &CheckedFitOptions,
    values: usize,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    prepare: impl FnOnce(Preprocess, Precision) -> Result<Prepared>,
) -> Result<Fitted> {
    let started = Instant::now();
    let dtype = options.resolved_dtype(training_values(values));
    let prepared = prepare(options.preprocess, dtype)?;
    let mut fitted = prepared.fit(options, progress)?;
    fitted.seconds = started.elapsed().as_secs_f64();
    Ok(fitted)
}

/// `mine`, this process's count of training values, summed over every process when this one
/// trains a share of the split: the dtype `auto` picks from it is then the same everywhere.
/// Collective in a shard ([`crate::distributed::whole_split_counts`]).
pub(crate) fn training_values(mine: usize) -> usize {
    crate::distributed::whole_split_counts([mine])[0]
}

/// A training set (and validation set) preprocessed once, with the bias column, in the dtype
/// training computes in: what any number of fits that share the preprocessing and the dtype
/// train on (the pairs of a grid search, a path of regularization strengths), each borrowing
/// it read-only.
#[derive(Debug)]
pub struct Prepared {
    inputs: PreparedInputs,
    train_labels: Vec<usize>,
    /// The training samples' own weights, if any (class weights are an option of each fit).
    train_sample_weights: Option<Vec<f64>>,
    validation_labels: Option<Vec<usize>>,
    /// The preprocessing the options asked for (`auto` is resolved in `preprocessor`).
    preprocess: Preprocess,
    preprocessor: Preprocessor,
    class_names: Vec<String>,
    feature_names: Option<Vec<String>>,
    image_shape: Option<ImageShape>,
}

/// The trainer's inputs (N×(D+1)) of the training and validation sets, in one of the dtypes:
/// dense, or (a training set without validation set) compressed sparse rows.
#[derive(Debug)]
enum PreparedInputs {
    F32(Array2<f32>, Option<Array2<f32>>),
    F64(Array2<f64>, Option<Array2<f64>>),
    SparseF32(SparseRows<f32>),
    SparseF64(SparseRows<f64>),
    /// Rows of a mapped matrix, preprocessed on the fly, computed on in `Precision`.
    Mapped(MappedRows, Option<MappedRows>, Precision),
}

impl Prepared {
    /// Fits `preprocess` on the training set and transforms both sets with it, into `precision`.
    ///
    /// In f32 the inputs are preprocessed and given the bias column in their own buffers
    /// ([`Preprocessor::transform_with_bias_in_place`]): training needs no second copy of the
    /// data. In f64 each set is converted into a new matrix and its f32 inputs are freed as soon
    /// as it is.
    ///
    /// # Errors
    /// Those of [`check_data`]: bad data is refused before any work.
    pub fn new(
        train_set: Dataset,
        validation: Option<Dataset>,
        preprocess: Preprocess,
        precision: Precision,
    ) -> Result<Prepared> {
        // A share of a split may lack a class: its loader checked the whole split.
        if !crate::distributed::is_sharded() {
            check_data(&train_set, validation.as_ref())?;
        }
        let Dataset { inputs, labels, sample_weights, class_names, feature_names, image_shape } =
            train_set;
        let preprocessor =
            Preprocessor::fit(preprocess.resolve(image_shape.is_some()), inputs.view());
        let (validation_inputs, validation_labels) =
            validation.map(|v| (v.inputs, v.labels)).unzip();
        let inputs = match precision {
            Precision::F64 => {
                let convert = |inputs: Array2<f32>| preprocessor.transform_with_bias(inputs.view());
                PreparedInputs::F64(convert(inputs), validation_inputs.map(convert))
            }
            Precision::F32 => {
                let transform = |inputs| preprocessor.transform_with_bias_in_place(inputs);
                PreparedInputs::F32(transform(inputs), validation_inputs.map(transform))
            }
        };
        Ok(Prepared {
            inputs,
            train_labels: labels,
            train_sample_weights: sample_weights,
            validation_labels,
            preprocess,
            preprocessor,
            class_names,
            feature_names,
            image_shape,
        })
    }

    /// Fits `preprocess` on a sparse training set ([`Preprocessor::fit_sparse`]: `none` or
    /// `scale`, with `auto` as `scale`) and makes the trainer's sparse rows in `precision`,
    /// without ever making them dense.
    ///
    /// # Errors
    /// Those of [`check_sparse_data`], and a preprocessing that would make the rows dense.
    pub fn from_sparse(
        train_set: SparseDataset,
        preprocess: Preprocess,
        precision: Precision,
    ) -> Result<Prepared> {
        check_sparse_data(&train_set)?;
        let SparseDataset { inputs, labels, sample_weights, class_names, feature_names } =
            train_set;
        let preprocessor = Preprocessor::fit_sparse(preprocess, &inputs)?;
        let scale = preprocessor.scale.as_slice().expect("a new vector is contiguous");
        let inputs = match precision {
            Precision::F32 => PreparedInputs::SparseF32(inputs.scaled_with_bias(scale)?),
            Precision::F64 => PreparedInputs::SparseF64(inputs.scaled_with_bias(scale)?),
        };
        Ok(Prepared {
            inputs,
            train_labels: labels,
            train_sample_weights: sample_weights,
            validation_labels: None,
            preprocess,
            preprocessor,
            class_names,
            feature_names,
            image_shape: None,
        })
    }

    /// Fits `preprocess` on the training rows of a mapped matrix in one streaming pass
    /// ([`crate::mapped::MappedMatrix::moments`]; `auto` is `standardize`, as for any source
    /// that is not images) and keeps both sets as rows of the mapping, to be computed on in
    /// `precision`.
    ///
    /// # Errors
    /// Those of [`check_mapped_data`].
    pub fn from_mapped(
        train_set: MappedDataset,
        validation: Option<MappedDataset>,
        preprocess: Preprocess,
        precision: Precision,
    ) -> Result<Prepared> {
        check_mapped_data(&train_set, validation.as_ref())?;
        let moments = train_set.inputs.moments(train_set.rows.as_deref())?;
        let preprocessor = Preprocessor::from_moments(
            preprocess,
            &moments.mean,
            &moments.variance,
            moments.max_abs,
        );
        let (offset, scale) = (preprocessor.offset.to_vec(), preprocessor.scale.to_vec());
        let rows_of = |set: MappedDataset| MappedRows::new(set.inputs, set.rows, &offset, &scale);
        let validation_labels = validation.as_ref().map(|set| set.labels.clone());
        let validation = validation.map(rows_of).transpose()?;
        let MappedDataset { labels, sample_weights, class_names, .. } = train_set.clone();
        let train = rows_of(train_set)?;
        Ok(Prepared {
            inputs: PreparedInputs::Mapped(train, validation, precision),
            train_labels: labels,
            train_sample_weights: sample_weights,
            validation_labels,
            preprocess,
            preprocessor,
            class_names,
            feature_names: None,
            image_shape: None,
        })
    }

    /// The preprocessing fitted on the training set.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.preprocessor
    }

    /// The dtype the inputs are in.
    pub fn precision(&self) -> Precision {
        match self.inputs {
            PreparedInputs::F32(..) | PreparedInputs::SparseF32(..) => Precision::F32,
            PreparedInputs::F64(..) | PreparedInputs::SparseF64(..) => Precision::F64,
            PreparedInputs::Mapped(_, _, precision) => precision,
        }
    }

    /// Trains a model on the prepared training set, checking accuracy on the validation set as
    /// it goes. `seconds` counts the training, not the preparation. `progress` as for [`fit`].
    ///
    /// # Errors
    /// [`Error::PreparationMismatch`] when the options ask for another preprocessing or dtype
    /// than the data were prepared with; [`Error::InvalidOption`] for per-class weights of
    /// another count than the classes; [`Error::SampleWeights`] when the effective weights
    /// (class weight × sample weight) sum to 0 or overflow the dtype; what training reports
    /// ([`Error::Interrupted`] when `progress` breaks); [`Error::Training`] for weights that
    /// are no longer finite.
    pub fn fit(
        &self,
        options: &CheckedFitOptions,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Fitted> {
        self.fit_from(options, None, progress)
    }

    /// [`Prepared::fit`] starting from the weights `initial` when given (a warm start): C×(D+1)
    /// in the prepared coordinates, the bias last, as [`Fitted::weights`] gives them for a fit
    /// on the same prepared data (at another regularization strength, say). Converted to the
    /// dtype of training, in which f32 weights from a f32 fit round-trip exactly.
    ///
    /// # Errors
    /// Those of [`Prepared::fit`], and [`Error::InvalidOption`] for initial weights of another
    /// shape or not finite.
    pub fn fit_from(
        &self,
        options: &CheckedFitOptions,
        initial: Option<ArrayView2<f64>>,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Fitted> {
        let prepared = self.precision();
        if options.preprocess != self.preprocess || !options.trains_in(prepared) {
            return Err(Error::PreparationMismatch(format!(
                "the options ask for {} preprocessing in dtype {} ({}), the data were prepared \
                 with {} in {prepared}",
                options.preprocess, options.dtype, options.train.optimizer, self.preprocess
            )));
        }
        let started = Instant::now();
        let mut fitted = match &self.inputs {
            PreparedInputs::F32(train, validation) => {
                let validation = validation.as_ref().map(|v| v.view().into());
                self.fit_in(train.view().into(), validation, options, initial, progress)
            }
            PreparedInputs::F64(train, validation) => {
                let validation = validation.as_ref().map(|v| v.view().into());
                self.fit_in(train.view().into(), validation, options, initial, progress)
            }
            PreparedInputs::SparseF32(train) => {
                self.fit_in(Inputs::Sparse(train), None, options, initial, progress)
            }
            PreparedInputs::SparseF64(train) => {
                self.fit_in(Inputs::Sparse(train), None, options, initial, progress)
            }
            PreparedInputs::Mapped(train, validation, precision) => {
                let validation = validation.as_ref();
                match precision {
                    Precision::F32 => {
                        let validation = validation.map(Inputs::<f32>::Mapped);
                        self.fit_in(Inputs::Mapped(train), validation, options, initial, progress)
                    }
                    Precision::F64 => {
                        let validation = validation.map(Inputs::<f64>::Mapped);
                        self.fit_in(Inputs::Mapped(train), validation, options, initial, progress)
                    }
                }
            }
        }?;
        fitted.seconds = started.elapsed().as_secs_f64();
        Ok(fitted)
    }

    /// [`Prepared::fit_from`] in `F`, on the trainer's inputs of both sets.
    fn fit_in<'a, F: Float>(
        &'a self,
        inputs: Inputs<'a, F>,
        validation: Option<Inputs<'a, F>>,
        options: &CheckedFitOptions,
        initial: Option<ArrayView2<f64>>,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Fitted> {
        let labels = &self.train_labels;
        let n_classes = self.class_names.len();
        let sample_weights = self.train_sample_weights.as_deref();
        // On a share of the training split, `balanced` counts the whole split's classes.
        let class_weight = crate::distributed::whole_split_class_weight(
            &options.class_weight,
            labels,
            n_classes,
            sample_weights,
        )?;
        let weights = class_weight.effective_weights(labels, n_classes, sample_weights)?;
        // In the dtype of training, converted once for every pass.
        let weights: Option<Vec<F>> = weights.map(|w| w.into_iter().map(F::of).collect());
        let whose =
            format!("the training split's class weight × sample weight, in {}", F::DTYPE_NAME);
        let sample_weights =
            weights.as_deref().map(SampleWeights::new).transpose().map_err(weights_of(&whose))?;
        crate::distributed::weigh(weights.as_deref());
        let objective = Objective {
            inputs: inputs.view(),
            labels,
            sample_weights,
            loss: options.loss,
            reg: options.reg,
            reg_convention: options.reg_convention,
            bias: options.bias,
            kernel: options.kernel,
            label_smoothing: options.label_smoothing,
        };
        let val = validation
            .zip(self.validation_labels.as_ref())
            .map(|(inputs, labels)| Labeled { inputs, labels });
        let initial = initial.map(|weights| weights.mapv(F::of));
        let initial = initial.as_ref().map(|weights| weights.view());
        let checked = options.train_options();
        let trained = train_from(&objective, n_classes, initial, val, checked, progress)?;

        let objective_value = match trained.objective {
            Some(value) => value,
            None => objective.evaluate(trained.weights.view())?.loss.as_f64(),
        };
        let accuracy_of = |data: Labeled<F>| accuracy(trained.weights.view(), data);
        let train_accuracy = accuracy_of(Labeled { inputs: inputs.view(), labels })?;
        let val_accuracy = val.map(accuracy_of).transpose()?;
        let top_k = match options.top_k {
            Some(k) => {
                let top_k_of = |data: Labeled<F>| top_k_accuracy(trained.weights.view(), data, k);
                let train = top_k_of(Labeled { inputs: inputs.view(), labels })?;
                Some(TopKAccuracy { k, train, validation: val.map(top_k_of).transpose()? })
            }
            None => None,
        };
        let (weight, bias) = split_bias(trained.weights.view());
        let model = Model::new(ModelParts {
            weight: weight.mapv(F::as_f64),
            bias: bias.mapv(F::as_f64),
            preprocessor: self.preprocessor.clone(),
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
            image_shape: self.image_shape,
            loss: options.loss,
            reg: options.reg,
            reg_convention: options.reg_convention,
            bias_mode: options.bias,
            precision: Precision::of::<F>(),
            training: serde_json::to_value(options).expect("options serialize"),
        })
        // The data and options were checked (`check_data`, `FitOptions::check`): what can
        // still be wrong is the trained weights, no longer finite.
        .map_err(|err| Error::Training(format!("{err} (the optimizer diverged)")))?;
        Ok(Fitted {
            model,
            history: trained.history,
            iterations: trained.iterations,
            passes: trained.passes,
            objective: objective_value,
            train_accuracy,
            val_accuracy,
            top_k,
            stop_reason: trained.stop_reason,
            seconds: 0.0,
        })
    }
}

/// Refuses training and validation sets that training could not use, before any work: no
/// samples or no features, a label count other than N, a label outside `0..C`, a training split
/// of one class, NaN or infinity in the inputs, duplicate class names, feature names or an image
/// shape that do not fit D, a validation set whose features or classes are not the training
/// set's, and sample weights that are not one per sample, finite and ≥ 0 (and, for the training
/// split, of positive sum).
///
/// On a process of a group ([`crate::distributed`]: `softmax train` under `mpirun`) the sets
/// are its shares of the splits: each process checks its rows, and the splits' samples,
/// classes and weight sum are every process's (collective: every process calls this).
///
/// # Errors
/// [`Error::Empty`], [`Error::LabelCount`], [`Error::LabelOutOfRange`], [`Error::NonFinite`],
/// [`Error::SampleWeights`] or [`Error::InconsistentData`], naming the split.
pub fn check_data(train: &Dataset, validation: Option<&Dataset>) -> Result<()> {
    let rows = check_rows(train, validation);
    let whole = check_whole_splits(train, validation);
    rows.and(whole)
}

/// What [`check_data`] checks of whole splits: samples in each, two classes or more in the
/// training split, and a positive (finite) sum of its sample weights. The counts, classes and
/// sums are every process's in a group.
fn check_whole_splits(train: &Dataset, validation: Option<&Dataset>) -> Result<()> {
    let labels = &train.labels;
    let mine = [
        train.n_samples() as f64,
        validation.map_or(1, Dataset::n_samples) as f64,
        labels.iter().min().map_or(f64::INFINITY, |&label| label as f64),
        labels.iter().max().map_or(f64::NEG_INFINITY, |&label| label as f64),
        train.sample_weights.as_ref().map_or(0.0, |weights| weights.iter().sum()),
    ];
    let all = match crate::distributed::cluster() {
        Some(cluster) => cluster.gather(&mine),
        None => vec![mine.to_vec()],
    };
    let total = |k: usize| all.iter().map(|facts| facts[k]).sum::<f64>();
    let (least, greatest) = (all.iter().map(|facts| facts[2]), all.iter().map(|facts| facts[3]));
    let (least, greatest) = (least.fold(f64::INFINITY, f64::min), greatest.fold(0.0, f64::max));
    for (split, k) in [("training", 0), ("validation", 1)] {
        if total(k) == 0.0 {
            return Err(Error::Empty(format!("the {split} split has no samples")));
        }
    }
    // (A label out of range is another process's error, from its rows.)
    if (greatest as usize) < train.class_names.len() {
        check_classes(&[least as usize, greatest as usize], &train.class_names)?;
    }
    if train.sample_weights.is_some() {
        SampleWeights::new(&[total(4)]).map_err(weights_of("the training split"))?;
    }
    Ok(())
}

/// What [`check_data`] checks row by row (any share of the splits may be checked alone).
fn check_rows(train: &Dataset, validation: Option<&Dataset>) -> Result<()> {
    let (n_features, class_names) = (train.inputs.ncols(), &train.class_names);
    check_names(n_features, class_names, train.feature_names.as_deref())?;
    if let Some(shape) = train.image_shape {
        let pixels = shape.channels * shape.height * shape.width;
        if pixels != n_features {
            return Err(Error::InconsistentData(format!(
                "an image shape of {pixels} values for {n_features} features"
            )));
        }
    }
    let splits = std::iter::once(("training", train)).chain(validation.map(|v| ("validation", v)));
    for (split, data) in splits {
        let n_samples = data.inputs.nrows();
        if data.inputs.ncols() != n_features || data.class_names != *class_names {
            return Err(Error::InconsistentData(format!(
                "the {split} split has {} features and classes {:?}; the training split has \
                 {n_features} and {:?}",
                data.inputs.ncols(),
                data.class_names,
                class_names
            )));
        }
        check_labels(&data.labels, n_samples, class_names)?;
        if let Some(weights) = &data.sample_weights {
            check_sample_weights(weights, n_samples, false)
                .map_err(weights_of(&format!("the {split} split")))?;
        }
        // A fold, which vectorizes; the place is looked up only when there is one.
        if !data.inputs.fold(true, |finite, x| finite & x.is_finite()) {
            let ((sample, feature), &value) =
                data.inputs.indexed_iter().find(|(_, x)| !x.is_finite()).expect("a non-finite");
            return Err(Error::NonFinite {
                what: "inputs",
                location: format!("{split} sample {sample}, feature {feature}"),
                value: f64::from(value),
            });
        }
    }
    Ok(())
}

/// [`check_data`] for a sparse training set: at least one feature, class names distinct, as
/// many feature names as features, one label in `0..C` per row, more than one class, sample
/// weights as [`check_data`] wants them, and every stored value finite.
///
/// # Errors
/// As [`check_data`].
pub fn check_sparse_data(train: &SparseDataset) -> Result<()> {
    let inputs = &train.inputs;
    check_names(inputs.ncols(), &train.class_names, train.feature_names.as_deref())?;
    if inputs.nrows() == 0 {
        return Err(Error::Empty("the training split has no samples".into()));
    }
    check_labels(&train.labels, inputs.nrows(), &train.class_names)?;
    check_classes(&train.labels, &train.class_names)?;
    if let Some(weights) = &train.sample_weights {
        check_sample_weights(weights, inputs.nrows(), true)
            .map_err(weights_of("the training split"))?;
    }
    if let Some((sample, feature, value)) = inputs.first_non_finite() {
        return Err(Error::NonFinite {
            what: "inputs",
            location: format!("training sample {sample}, feature {feature}"),
            value,
        });
    }
    Ok(())
}

/// [`check_data`] for rows of a mapped matrix: at least one feature, one label in `0..C` per
/// row, more than one class in training, sample weights as [`check_data`] wants them, and a
/// validation split of the same matrix. The values are checked by the preprocessing's pass
/// over the rows ([`crate::mapped::MappedMatrix::moments`]).
///
/// # Errors
/// As [`check_data`].
pub fn check_mapped_data(train: &MappedDataset, validation: Option<&MappedDataset>) -> Result<()> {
    let (_, n_features) = train.inputs.dim();
    check_names(n_features, &train.class_names, None)?;
    if train.n_samples() == 0 {
        return Err(Error::Empty("the training split has no samples".into()));
    }
    for (split, data) in
        std::iter::once(("training", train)).chain(validation.map(|v| ("validation", v)))
    {
        let n_rows = data.rows.as_ref().map_or(data.inputs.dim().0, Vec::len);
        check_labels(&data.labels, n_rows, &train.class_names)?;
        if split == "training" {
            check_classes(&data.labels, &train.class_names)?;
        }
        if let Some(weights) = &data.sample_weights {
            check_sample_weights(weights, n_rows, split == "training")
                .map_err(weights_of(&format!("the {split} split")))?;
        }
    }
    if let Some(validation) = validation
        && (validation.inputs.dim().1 != n_features || validation.class_names != train.class_names)
    {
        return Err(Error::InconsistentData(
            "the validation split's features or classes are not the training split's".into(),
        ));
    }
    Ok(())
}

/// At least one feature and one class, distinct class names, and as many feature names (if
/// any) as features.
fn check_names(
    n_features: usize,
    class_names: &[String],
    feature_names: Option<&[String]>,
) -> Result<()> {
    if n_features == 0 {
        return Err(Error::InconsistentData("the training split has no features (D = 0)".into()));
    }
    if class_names.is_empty() {
        return Err(Error::InconsistentData("the data set has no class names (C = 0)".into()));
    }
    if let Some((index, name)) =
        class_names.iter().enumerate().find(|(i, name)| class_names[..*i].contains(name))
    {
        return Err(Error::InconsistentData(format!(
            "class name '{name}' is given twice (class {index} and an earlier one)"
        )));
    }
    if let Some(names) = feature_names.filter(|names| names.len() != n_features) {
        return Err(Error::InconsistentData(format!(
            "{} feature names for {n_features} features",
            names.len()
        )));
    }
    Ok(())
}

/// Labels of the training split (at least one) of more than one class.
fn check_classes(labels: &[usize], class_names: &[String]) -> Result<()> {
    if labels.iter().all(|&label| label == labels[0]) {
        return Err(Error::InconsistentData(format!(
            "the training split has only one class ('{}'): a classifier needs samples of at \
             least 2 classes",
            class_names[labels[0]]
        )));
    }
    Ok(())
}

/// One label in `0..C` per sample of `n_samples`.
fn check_labels(labels: &[usize], n_samples: usize, class_names: &[String]) -> Result<()> {
    if labels.len() != n_samples {
        return Err(Error::LabelCount { labels: labels.len(), samples: n_samples });
    }
    let n_classes = class_names.len();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= n_classes) {
        return Err(Error::LabelOutOfRange { index, label: label as i128, n_classes });
    }
    Ok(())
}

/// One weight per sample of `n_samples`, finite and ≥ 0; `for_training`: with a positive sum
/// (the weights of the validation split are not used, so a sum of 0 is no error there).
fn check_sample_weights(weights: &[f64], n_samples: usize, for_training: bool) -> Result<()> {
    crate::loss::check_weight_count(weights.len(), n_samples)?;
    match for_training {
        true => SampleWeights::new(weights).map(|_| ()),
        false => crate::loss::check_weight_values(weights),
    }
}

/// Adds whose weights they are to an [`Error::SampleWeights`]; other errors pass unchanged.
fn weights_of(whose: &str) -> impl Fn(Error) -> Error + '_ {
    move |err| match err {
        Error::SampleWeights(message) => Error::SampleWeights(format!("{message} ({whose})")),
        other => other,
    }
}
