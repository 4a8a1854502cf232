//! Data sets: where samples come from, and how they are split.
//!
//! A [`DataSpec`] names a source (`digits`, `mnist:DIR`, `cifar10:DIR`, `csv:PATH`,
//! `libsvm:PATH`, `npy:X.npy,y.npy`, `npz:PATH`); [`load`] reads it into [`Splits`]: a training
//! set and, where the source has them or the options ask, a validation and a test set.
//! Features are `f32` with samples as rows, in the file's raw units (image pixels 0–255):
//! scaling is the preprocessing's job. Labels are `0..C-1` indices into `class_names`.
//!
//! | source | format | splits |
//! |---|---|---|
//! | `digits` | scikit-learn's 1,797 8×8 digits (pixels 0–16), compiled into the library | test: a fixed stratified 20%; validation from the rest |
//! | `mnist:DIR` | IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-…` (each plain or `.gz`); Fashion-MNIST too | test: t10k; validation from train |
//! | `cifar10:DIR` | binary batches `data_batch_1..5.bin`, `test_batch.bin` (plain or `.gz`), class names from `batches.meta.txt` | CS231n's: validation = the last training records; test: `test_batch` |
//! | `csv:PATH` | `.csv` or `.csv.gz`, header optional, label column chosen by name or index | validation from the file |
//! | `libsvm:PATH` | svmlight text `label index:value …` (or `.gz`) | validation from the file |
//! | `npy:X.npy,y.npy` | a float32/float64 N×D matrix and integer labels | validation from the file |
//! | `npz:PATH` | arrays `x`/`X`/`inputs` and `y`/`labels`, or Keras' `x_train`, `y_train`, `x_test`, `y_test`; images N×H×W or N×H×W×C | test: `x_test`, `y_test` if present; validation from train |
//!
//! Validation sets are held out with [`stratified_split`], seeded by [`LoadOptions::seed`].
//! Nothing here panics on a file's content: every problem is an [`Error::File`] (or
//! [`Error::Io`]) naming the file and, where it applies, the record (counted from 0) or line
//! (counted from 1).

mod cifar10;
mod csv;
mod digits;
mod features;
mod files;
mod labels;
mod libsvm;
mod mapped;
mod mnist;
mod numpy;
mod records;
mod rows;
mod spec;
mod split;
mod weights;

pub(crate) use files::grouped;

use std::path::PathBuf;

use ndarray::Array2;

pub use features::{load_features, load_named_features};
pub use mapped::{MappedDataset, MappedSplits, can_map, load_mapped};
pub use spec::DataSpec;
pub use split::stratified_split;
pub use weights::read_sample_weights;

use crate::{Error, Result, distributed};
use rows::Rows;
use split::split_indices;

/// The shape of an image sample, whose features are stored channel-major (C×H×W, as CIFAR-10's
/// binary records: all red, then green, then blue, each row by row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// Samples (N×D, raw units), their labels (`0..C-1`), optionally their weights, and what the
/// classes and features are.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub inputs: Array2<f32>,
    pub labels: Vec<usize>,
    /// One weight per sample (≥ 0; training minimizes the weighted mean loss, where a weight of
    /// k counts as k copies of the sample), or `None`: every sample counts once. Splits carry
    /// each weight with its sample.
    pub sample_weights: Option<Vec<f64>>,
    /// One name per class, in label order; C = `class_names.len()`.
    pub class_names: Vec<String>,
    /// One name per feature (a CSV header), when the source has them.
    pub feature_names: Option<Vec<String>>,
    /// Set for image sources; `channels·height·width` = D.
    pub image_shape: Option<ImageShape>,
}

/// A source's samples split for training.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    pub test: Option<Dataset>,
    /// One line saying where the data came from and how it was split, for reports.
    pub description: String,
}

crate::names::named_enum! {
    "split",
    /// One of a source's splits.
    pub enum SplitName {
        Train = "train",
        Validation = "validation",
        #[default]
        Test = "test",
    }
}

impl Splits {
    /// The split named, if the source has it.
    pub fn get(&self, split: SplitName) -> Option<&Dataset> {
        match split {
            SplitName::Train => Some(&self.train),
            SplitName::Validation => self.validation.as_ref(),
            SplitName::Test => self.test.as_ref(),
        }
    }

    /// The split a model is judged on by default: test, else validation, else train.
    pub fn held_out(&self) -> (SplitName, &Dataset) {
        let split = self.held_out_name();
        (split, self.get(split).expect("the source has the split"))
    }

    /// [`Splits::get`], taking the split out of the splits (no copy of its samples).
    pub fn take(self, split: SplitName) -> Option<Dataset> {
        match split {
            SplitName::Train => Some(self.train),
            SplitName::Validation => self.validation,
            SplitName::Test => self.test,
        }
    }

    /// [`Splits::held_out`], taking the split out of the splits (no copy of its samples).
    pub fn take_held_out(self) -> (SplitName, Dataset) {
        let split = self.held_out_name();
        (split, self.take(split).expect("the source has the split"))
    }

    /// The name of the [`Splits::held_out`] split.
    fn held_out_name(&self) -> SplitName {
        [SplitName::Test, SplitName::Validation]
            .into_iter()
            .find(|&split| self.get(split).is_some())
            .unwrap_or(SplitName::Train)
    }
}

/// How [`load`] reads and splits a source.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Fraction of the training samples held out for validation, stratified and seeded, when
    /// the source has no validation split of its own (all but CIFAR-10). 0 = no validation
    /// set. Must be in [0, 1).
    pub val_fraction: f64,
    /// Seeds the validation split.
    pub seed: u64,
    /// CSV label column: a header name or a 0-based index; `None` = the last column.
    pub csv_label: Option<String>,
    /// CIFAR-10: how many of the last training records form the validation set (CS231n:
    /// 1,000 of 50,000, so train = the first 49,000). 0 = no validation set.
    pub cifar_validation: usize,
    /// CIFAR-10: how many `test_batch` records form the test set: `None` = all 10,000 (CS231n's
    /// notebook uses the first 1,000); `Some(0)` = no test set.
    pub cifar_test: Option<usize>,
    /// A file of sample weights: one per row of the source's training data as read (before the
    /// validation split, which carries each weight with its row; for `digits`, all 1,797
    /// rows, before its test split too), as a 1-D `.npy` array or text with one number per
    /// line (see [`read_sample_weights`]).
    pub sample_weights: Option<PathBuf>,
    /// CSV: the column of sample weights, a header name or a 0-based index; it is then not a
    /// feature. Not with `sample_weights`.
    pub csv_weight: Option<String>,
}

impl LoadOptions {
    /// Refuses a `val_fraction` outside [0, 1), and options that `spec`'s source would ignore:
    /// a label or weight column for a source other than CSV (or a weight column beside a weight
    /// file), a test-record count for a source other than CIFAR-10.
    fn check_for(&self, spec: &DataSpec) -> Result<()> {
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(Error::InvalidOption(format!(
                "the validation fraction must be in [0, 1), got {}",
                self.val_fraction
            )));
        }
        let not_for = |what: String, sources: &str| {
            Err(Error::InvalidOption(format!("{what} is for {sources}, not {spec}")))
        };
        let csv = matches!(spec, DataSpec::Csv(_));
        if let (Some(column), false) = (&self.csv_label, csv) {
            return not_for(format!("a label column ('{column}')"), "CSV sources");
        }
        if let Some(column) = &self.csv_weight {
            if !csv {
                return not_for(format!("a weight column ('{column}')"), "CSV sources");
            }
            if self.sample_weights.is_some() {
                return Err(Error::InvalidOption(
                    "sample weights come from a file or from a CSV column, not both".into(),
                ));
            }
        }
        if let (Some(records), false) = (self.cifar_test, matches!(spec, DataSpec::Cifar10(_))) {
            return not_for(format!("a count of test records ({records})"), "CIFAR-10");
        }
        Ok(())
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            val_fraction: 0.1,
            seed: 0,
            csv_label: None,
            cifar_validation: 1000,
            cifar_test: None,
            sample_weights: None,
            csv_weight: None,
        }
    }
}

/// Reads the source `spec` names and splits it as `options` say (see the module doc).
///
/// On a process of a group ([`crate::distributed`]: `softmax train` under `mpirun`), each
/// split is this process's share of it ([`crate::distributed::training_rows`] of the training
/// split, [`crate::distributed::held_out_rows`] of the others; the description counts them
/// all), and `npy:` inputs, MNIST IDX images and CIFAR-10 records are read only there (by
/// offset, from plain files); other sources are read whole, and their shares kept.
///
/// # Errors
/// [`Error::InvalidOption`] for a `val_fraction` outside [0, 1), a label or weight column
/// with another source than CSV, a weight column with a weight file, or a count of CIFAR-10
/// test records with another source; [`Error::File`] or [`Error::Io`] for a
/// missing, unreadable or malformed file (a weight file with a count other than the training
/// rows included), naming the file and the record or line.
pub fn load(spec: &DataSpec, options: &LoadOptions) -> Result<Splits> {
    options.check_for(spec)?;
    match spec {
        DataSpec::Digits => digits::load(options),
        DataSpec::Mnist(dir) => mnist::load(dir, options),
        DataSpec::Cifar10(dir) => cifar10::load(dir, options),
        DataSpec::Csv(path) => csv::load(path, options),
        DataSpec::Libsvm(path) => libsvm::load(path, options),
        DataSpec::Npy { inputs, labels } => numpy::load_npy(inputs, labels, options),
        DataSpec::Npz(path) => numpy::load_npz(path, options),
    }
}

impl Dataset {
    /// Samples with their labels and class names, unweighted, without feature names or an
    /// image shape.
    pub fn new(inputs: Array2<f32>, labels: Vec<usize>, class_names: Vec<String>) -> Dataset {
        Dataset {
            inputs,
            labels,
            sample_weights: None,
            class_names,
            feature_names: None,
            image_shape: None,
        }
    }

    /// N, the number of samples (rows of `inputs`).
    pub fn n_samples(&self) -> usize {
        self.inputs.nrows()
    }

    /// D, the number of features (columns of `inputs`).
    pub fn n_features(&self) -> usize {
        self.inputs.ncols()
    }

    /// C, the number of classes (`class_names.len()`), whether or not every class has samples.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Relabels this data set so that its labels index `class_names` (a trained model's),
    /// matching classes by name; `class_names` becomes the data set's. Classes of this data
    /// set that no sample has need not be among them.
    ///
    /// # Errors
    /// [`Error::ClassMismatch`] naming the first sample whose class is not in `class_names`;
    /// [`Error::LabelOutOfRange`] for a label beyond this data set's own class names.
    pub fn align_classes(mut self, class_names: &[String]) -> Result<Dataset> {
        let positions: Vec<Option<usize>> = self
            .class_names
            .iter()
            .map(|name| class_names.iter().position(|known| known == name))
            .collect();
        for (sample, label) in self.labels.iter_mut().enumerate() {
            match positions.get(*label) {
                Some(&Some(position)) => *label = position,
                Some(None) => {
                    return Err(Error::ClassMismatch(format!(
                        "sample {sample} is of class '{}', which is not one of the model's {} \
                         classes ({})",
                        self.class_names[*label],
                        class_names.len(),
                        name_list(class_names)
                    )));
                }
                None => {
                    return Err(Error::LabelOutOfRange {
                        index: sample,
                        label: *label as i128,
                        n_classes: self.class_names.len(),
                    });
                }
            }
        }
        self.class_names = class_names.to_vec();
        Ok(self)
    }
}

impl Splits {
    /// `train` and `test` with a validation set held out of `train` by
    /// `options.val_fraction` (none when that is 0 or leaves no sample): [`Self::holding_out_rows`]
    /// of rows read already.
    fn holding_out(
        source: &str,
        train: Dataset,
        test: Option<Dataset>,
        test_origin: &str,
        options: &LoadOptions,
    ) -> Splits {
        let (train, test) = (Rows::in_memory(train), test.map(Rows::in_memory));
        Splits::holding_out_rows(source, train, test, test_origin, options)
            .expect("rows in memory are read without error")
    }

    /// The `train` rows with a validation set held out of them by `options.val_fraction`
    /// ([`stratified_split`]: of every row's label), and the `test` rows, of which only this
    /// process's share is read: all of them alone, and in a group ([`crate::distributed`]) its
    /// rows of the training split ([`crate::distributed::training_rows`]) and an even share of
    /// the validation and test splits ([`crate::distributed::held_out_rows`]), a split that
    /// has rows being there (maybe empty) on every process. The description counts every
    /// process's rows. `source` says where the data came from and `test_origin` how the test
    /// set was chosen.
    ///
    /// # Errors
    /// The readers' errors.
    fn holding_out_rows(
        source: &str,
        mut train: Rows,
        test: Option<Rows>,
        test_origin: &str,
        options: &LoadOptions,
    ) -> Result<Splits> {
        let (first, second) = split_indices(train.labels(), options.val_fraction, options.seed);
        let train_share = train.read(&first[distributed::training_rows(first.len())])?;
        let validation = match second.is_empty() {
            true => None,
            false => Some(train.read(&second[distributed::held_out_rows(second.len())])?),
        };
        let n_test = test.as_ref().map(Rows::len);
        let test = test
            .map(|mut test| {
                let rows: Vec<usize> = distributed::held_out_rows(test.len()).collect();
                test.read(&rows)
            })
            .transpose()?;
        let validation_origin = format!(
            "stratified {} of the training samples, seed {}",
            options.val_fraction, options.seed
        );
        let description = describe(
            source,
            first.len(),
            (!second.is_empty()).then_some((second.len(), validation_origin.as_str())),
            n_test.map(|n| (n, test_origin)),
        );
        Ok(Splits { train: train_share, validation, test, description })
    }
}

/// One line saying where the data came from (`source`) and how it was split: the size of the
/// training split, then the size and origin of the validation and test splits it has.
fn describe(
    source: &str,
    n_train: usize,
    validation: Option<(usize, &str)>,
    test: Option<(usize, &str)>,
) -> String {
    let mut description = format!("{source}: {} train", files::grouped(n_train));
    for (name, set) in [("validation", validation), ("test", test)] {
        if let Some((count, origin)) = set {
            let count = files::grouped(count);
            description.push_str(&format!(", {count} {name} ({origin})"));
        }
    }
    description
}

/// Up to 20 names, comma-separated, for messages.
fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut list = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        list.push_str(", …");
    }
    list
}
